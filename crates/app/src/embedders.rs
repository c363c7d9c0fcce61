//! The embedders songrec can run, by the names users type.

use std::sync::Arc;

use songrec_audio::{DspEmbedder, Embedder};
use songrec_config::EmbedderConfig;
use songrec_neural::{
    AISFX_DIM, AISFX_NAME, AISFX_VERSION, AisfxConfig, AisfxEmbedder, MIX_DIM, MIX_NAME,
    MIX_VERSION, MUSICNN_DIM, MUSICNN_NAME, MUSICNN_VERSION, MixConfig, MixEmbedder, MusicnnConfig,
    MusicnnEmbedder,
};
use songrec_storage::ModelInfo;
use songrec_storage::plural::count;

use crate::{AppError, AppResult};

/// Names accepted by `--embedder`.
pub const NAMES: &[&str] = &["mix", "dsp", "musicnn", "aisfx"];

/// The default embedder's name: `mix` (musicnn, aisfx and the DSP analysis in one vector,
/// [`songrec_neural::mix`]).
pub const DEFAULT: &str = "mix";

/// The default before `mix`: musicnn and the DSP analysis stored apart and blended at query
/// time. A library made with it keeps them complete until every song has mix vectors.
pub const OLD_DEFAULT: &[&str] = &["musicnn", "dsp"];

/// The default's previous versions, newest first (`songrec-mix@3` … `songrec-mix@1`): a library
/// made with one is answered with it, and keeps it complete, until every song has the current
/// version's vectors ([`previous_mix`]).
pub const PREVIOUS_DEFAULTS: &[&str] = &["mix@3", "mix@2", "mix@1"];

/// What `both`/`all` stand for (the default pair; aisfx is asked for by name).
const BOTH: &[&str] = &["dsp", "musicnn"];

/// The built-in models and their credits, for `--version`, `doctor` and the README.
pub const MODEL_CREDITS: &[&str] = &[songrec_neural::MUSICNN_CREDIT, songrec_neural::AISFX_CREDIT];

fn canonical(name: &str) -> AppResult<&'static str> {
    match name.trim().to_ascii_lowercase().as_str() {
        "mix" | "songrec-mix" | "default" => Ok("mix"),
        "mix@3" | "songrec-mix@3" => Ok("mix@3"),
        "mix@2" | "songrec-mix@2" => Ok("mix@2"),
        "mix@1" | "songrec-mix@1" => Ok("mix@1"),
        "dsp" | "songrec-dsp" => Ok("dsp"),
        "musicnn" | "neural" => Ok("musicnn"),
        "aisfx" => Ok("aisfx"),
        other => Err(AppError::Invalid(format!(
            "unknown embedder {other:?}; available: {}, both",
            NAMES.join(", ")
        ))),
    }
}

/// Where the neural runtime in use came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeSource {
    /// Named in the configuration (`[embedder]`, `SONGREC_ORT_LIBRARY`, `SONGREC_NEURAL_RUNTIME`).
    Configured,
    /// An installed ONNX Runtime found by [`songrec_neural::discover`].
    Found,
    /// tract, because no ONNX Runtime was configured or found.
    BuiltIn,
}

/// The neural runtime songrec's configuration asks for, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeChoice {
    pub runtime: songrec_neural::Runtime,
    /// ONNX Runtime's version when it was found installed.
    pub version: Option<String>,
    /// Where it came from.
    pub source: RuntimeSource,
}

impl std::fmt::Display for RuntimeChoice {
    /// The one line songrec prints about it, e.g. "musicnn runs on ONNX Runtime 1.31.1, found at
    /// /home/me/.local/lib/python3.11/site-packages/onnxruntime/capi/libonnxruntime.so.1.31.1".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use songrec_neural::Runtime;
        match (&self.runtime, self.source) {
            (Runtime::OnnxRuntime { library }, RuntimeSource::Found) => write!(
                f,
                "musicnn runs on ONNX Runtime {}, found at {}",
                self.version.as_deref().unwrap_or("?"),
                library.display()
            ),
            (Runtime::OnnxRuntime { library }, _) => {
                write!(f, "musicnn runs on ONNX Runtime at {}", library.display())
            }
            (Runtime::Tract, RuntimeSource::BuiltIn) => write!(
                f,
                "musicnn runs on tract {} (built in), both networks on songrec's own kernels where the CPU allows; `pip install onnxruntime` runs the model about {} faster (about {} per song, with decoding)",
                songrec_neural::runtime::TRACT_VERSION,
                songrec_neural::runtime::ORT_MODEL_SPEEDUP,
                songrec_neural::runtime::ORT_SONG_SPEEDUP
            ),
            (Runtime::Tract, _) => write!(
                f,
                "musicnn runs on tract {} as configured",
                songrec_neural::runtime::TRACT_VERSION
            ),
        }
    }
}

/// Chooses the neural runtime: a configured library first, then (`runtime = "auto"` or
/// `"onnxruntime"`) an installed ONNX Runtime, else tract (an error with `"onnxruntime"`).
/// The search for an installed one runs once per process.
pub fn runtime_choice(cfg: &EmbedderConfig) -> AppResult<RuntimeChoice> {
    use songrec_config::NeuralRuntime;
    use songrec_neural::Runtime;
    static FOUND: std::sync::OnceLock<Option<songrec_neural::discover::Found>> =
        std::sync::OnceLock::new();
    let configured = |runtime| RuntimeChoice {
        runtime,
        version: None,
        source: RuntimeSource::Configured,
    };
    if cfg.runtime == NeuralRuntime::Tract {
        return Ok(configured(Runtime::Tract));
    }
    if let Some(library) = &cfg.onnxruntime_library {
        return Ok(configured(Runtime::OnnxRuntime {
            library: library.clone(),
        }));
    }
    let found = if cfg.onnxruntime_discovery {
        FOUND
            .get_or_init(songrec_neural::discover::discover)
            .as_ref()
    } else {
        None
    };
    match found {
        Some(found) => Ok(RuntimeChoice {
            runtime: Runtime::OnnxRuntime {
                library: found.library.clone(),
            },
            version: Some(found.version.clone()),
            source: RuntimeSource::Found,
        }),
        None if cfg.runtime == NeuralRuntime::Onnxruntime && !cfg.onnxruntime_discovery => {
            Err(AppError::Invalid(
                "the neural runtime is set to onnxruntime and the search for an installed one is \
                 off (onnxruntime_discovery = false): point SONGREC_ORT_LIBRARY (or [embedder] \
                 onnxruntime_library) at libonnxruntime.so.1.x"
                    .into(),
            ))
        }
        None if cfg.runtime == NeuralRuntime::Onnxruntime => Err(AppError::Invalid(format!(
            "the neural runtime is set to onnxruntime, but no ONNX Runtime 1.{} or newer is installed \
             where songrec looks (virtualenv, conda, ~/.local, pyenv, /usr/local, /usr); \
             run `pip install onnxruntime`, or point SONGREC_ORT_LIBRARY at libonnxruntime.so.1.x",
            songrec_neural::runtime::REQUIRED_API
        ))),
        None => Ok(RuntimeChoice {
            runtime: Runtime::Tract,
            version: None,
            source: RuntimeSource::BuiltIn,
        }),
    }
}

/// The line songrec prints about the neural runtime ([`RuntimeChoice`]'s) when `spec`
/// (`dsp`, `musicnn`, `both`, a comma list) includes the neural embedder.
pub fn runtime_line(spec: &str, cfg: &EmbedderConfig) -> AppResult<Option<String>> {
    let neural = split(spec)
        .into_iter()
        .any(|n| canonical(n).is_ok_and(|c| c != "dsp"));
    neural
        .then(|| Ok(runtime_choice(cfg)?.to_string()))
        .transpose()
}

/// The neural runtime songrec would use, started and timed: the musicnn embedder analyses
/// `seconds` of a generated song once (after a short warm-up). For `songrec doctor`.
pub struct RuntimeSpeed {
    /// Which runtime and why.
    pub choice: RuntimeChoice,
    /// The running runtime's own description, e.g. "onnxruntime 1.31.1".
    pub running: String,
    /// Seconds of audio analysed per second of wall time (one song at a time).
    pub times_real_time: f64,
}

/// Starts the configured neural runtime and measures it (see [`RuntimeSpeed`]).
pub fn measure_runtime(cfg: &EmbedderConfig, seconds: f32) -> AppResult<RuntimeSpeed> {
    use songrec_audio::synth::{SongSpec, render};
    let choice = runtime_choice(cfg)?;
    let e = MusicnnEmbedder::new(&musicnn_config(cfg)?)?;
    let song = |secs: f32| {
        songrec_audio::MonoAudio::from_samples(
            render(&SongSpec::for_style("rock", 7, secs)),
            songrec_audio::synth::SR,
        )
    };
    e.embed(&song(3.5))?;
    let audio = song(seconds.max(3.5));
    let t = std::time::Instant::now();
    e.embed(&audio)?;
    let secs = t.elapsed().as_secs_f64().max(1e-9);
    Ok(RuntimeSpeed {
        choice,
        running: e.runtime().describe(),
        times_real_time: f64::from(seconds.max(3.5)) / secs,
    })
}

/// The musicnn settings from songrec's configuration (`[embedder]`, `SONGREC_NEURAL_RUNTIME`,
/// `SONGREC_ORT_LIBRARY`, `SONGREC_MUSICNN_MODEL`), with the runtime of [`runtime_choice`].
pub fn musicnn_config(cfg: &EmbedderConfig) -> AppResult<MusicnnConfig> {
    Ok(MusicnnConfig {
        runtime: runtime_choice(cfg)?.runtime,
        model: cfg.musicnn_model.clone(),
        mtt_model: cfg.musicnn_mtt_model.clone(),
        own_kernels: songrec_neural::own_kernels_from_env(),
        ..MusicnnConfig::default()
    })
}

/// Builds an embedder by name with the given settings. Building musicnn starts its runtime and
/// checks the model, so configuration mistakes surface here, once, with a clear message.
///
/// ```
/// use songrec_config::EmbedderConfig;
/// let e = songrec_app::embedders::by_name_with("dsp", &EmbedderConfig::default()).unwrap();
/// assert_eq!(e.name(), "songrec-dsp");
/// ```
pub fn by_name_with(name: &str, cfg: &EmbedderConfig) -> AppResult<Arc<dyn Embedder>> {
    match canonical(name)? {
        "dsp" => Ok(Arc::new(DspEmbedder::new())),
        "mix" => {
            let mix = MixConfig::with_musicnn(musicnn_config(cfg)?);
            Ok(Arc::new(MixEmbedder::new(&mix)?))
        }
        "mix@3" => Ok(Arc::new(MixEmbedder::new(&MixConfig::v3(musicnn_config(
            cfg,
        )?))?)),
        "mix@2" => Ok(Arc::new(MixEmbedder::new(&MixConfig::v2(musicnn_config(
            cfg,
        )?))?)),
        "mix@1" => Ok(Arc::new(MixEmbedder::new(&MixConfig::v1(musicnn_config(
            cfg,
        )?))?)),
        "aisfx" => Ok(Arc::new(AisfxEmbedder::new(&AisfxConfig {
            runtime: runtime_choice(cfg)?.runtime,
            ..AisfxConfig::default()
        })?)),
        _ => Ok(Arc::new(MusicnnEmbedder::new(&musicnn_config(cfg)?)?)),
    }
}

/// [`by_name_with`] with the settings from the environment only (no config file).
///
/// ```
/// let e = songrec_app::embedders::by_name("dsp").unwrap();
/// assert_eq!(songrec_app::embedders::model_of(e.as_ref()).name, "songrec-dsp");
/// ```
pub fn by_name(name: &str) -> AppResult<Arc<dyn Embedder>> {
    let env = songrec_config::process_env();
    let cfg = songrec_config::Config::from_sources(None, &env)?;
    by_name_with(name, &cfg.embedder)
}

/// The storage model of an embedder name, without building the embedder (no model load).
///
/// ```
/// let m = songrec_app::embedders::model_by_name("musicnn").unwrap();
/// assert_eq!((m.name.as_str(), m.dim), ("musicnn", 400));
/// ```
pub fn model_by_name(name: &str) -> AppResult<ModelInfo> {
    Ok(match canonical(name)? {
        "dsp" => ModelInfo::new(
            songrec_audio::DSP_NAME,
            songrec_audio::DSP_VERSION.to_string(),
            songrec_audio::DSP_DIM,
        ),
        "aisfx" => ModelInfo::new(AISFX_NAME, AISFX_VERSION.to_string(), AISFX_DIM),
        "mix" => ModelInfo::new(MIX_NAME, MIX_VERSION.to_string(), MIX_DIM),
        "mix@3" => ModelInfo::new(MIX_NAME, "3", MIX_DIM),
        "mix@2" => ModelInfo::new(MIX_NAME, "2", MIX_DIM),
        "mix@1" => ModelInfo::new(MIX_NAME, "1", MIX_DIM),
        _ => ModelInfo::new(MUSICNN_NAME, MUSICNN_VERSION.to_string(), MUSICNN_DIM),
    })
}

fn split(spec: &str) -> Vec<&str> {
    match spec.trim().to_ascii_lowercase().as_str() {
        "both" | "all" => BOTH.to_vec(),
        _ => spec
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect(),
    }
}

/// Parses `dsp`, `musicnn`, `both` (or a comma list) into embedders, with the given settings.
pub fn parse_list_with(spec: &str, cfg: &EmbedderConfig) -> AppResult<Vec<Arc<dyn Embedder>>> {
    split(spec)
        .into_iter()
        .map(|n| by_name_with(n, cfg))
        .collect()
}

/// [`parse_list_with`] with the settings from the environment only.
pub fn parse_list(spec: &str) -> AppResult<Vec<Arc<dyn Embedder>>> {
    split(spec).into_iter().map(by_name).collect()
}

/// The storage models of `dsp`, `musicnn`, `both`, without building the embedders.
///
/// ```
/// assert_eq!(songrec_app::embedders::models_of_list("both").unwrap().len(), 2);
/// ```
pub fn models_of_list(spec: &str) -> AppResult<Vec<ModelInfo>> {
    split(spec).into_iter().map(model_by_name).collect()
}

/// The embedders a long-running process (the web server) has started, by model, started on
/// first use with one configuration: a query that needs musicnn to analyse a file starts it
/// once, and every later query reuses it. The CLI's one-shot commands use a fresh pool.
///
/// ```
/// use songrec_app::embedders::Pool;
/// let pool = Pool::new(songrec_config::EmbedderConfig::default());
/// let a = pool.get("dsp").unwrap();
/// let b = pool.get("songrec-dsp").unwrap();
/// assert!(std::sync::Arc::ptr_eq(&a, &b));
/// assert_eq!(pool.started().len(), 1);
/// ```
pub struct Pool {
    cfg: EmbedderConfig,
    started: std::sync::Mutex<Vec<Arc<dyn Embedder>>>,
}

impl Pool {
    /// An empty pool: embedders start on first use with `cfg`.
    pub fn new(cfg: EmbedderConfig) -> Self {
        Self::with(cfg, Vec::new())
    }

    /// A pool holding already started embedders (others start on first use with `cfg`).
    pub fn with(cfg: EmbedderConfig, started: Vec<Arc<dyn Embedder>>) -> Self {
        Self {
            cfg,
            started: std::sync::Mutex::new(started),
        }
    }

    /// The embedder of a name users type (`dsp`, `musicnn`), started now if it is not yet.
    pub fn get(&self, name: &str) -> AppResult<Arc<dyn Embedder>> {
        let want = model_by_name(name)?;
        let found = |list: &[Arc<dyn Embedder>]| {
            list.iter().find(|e| model_of(e.as_ref()) == want).cloned()
        };
        if let Some(e) = found(&self.lock()) {
            return Ok(e);
        }
        // Started outside the lock (a model load takes a while); the first one stored wins.
        let e = by_name_with(name, &self.cfg)?;
        let mut list = self.lock();
        if let Some(other) = found(&list) {
            return Ok(other);
        }
        list.push(e.clone());
        Ok(e)
    }

    /// The embedders started so far.
    pub fn started(&self) -> Vec<Arc<dyn Embedder>> {
        self.lock().clone()
    }

    /// The configuration embedders start with.
    pub fn config(&self) -> &EmbedderConfig {
        &self.cfg
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<dyn Embedder>>> {
        self.started.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn count_of(stats: &[songrec_storage::ModelStats], name: &str) -> u64 {
    model_by_name(name).map_or(0, |m| {
        stats.iter().filter(|s| s.model == m).map(|s| s.count).sum()
    })
}

/// Songs with an older default's vectors ([`PREVIOUS_DEFAULTS`] or [`OLD_DEFAULT`], the
/// largest count) and songs with the default's.
fn default_counts(stats: &[songrec_storage::ModelStats]) -> (u64, u64) {
    let old = OLD_DEFAULT
        .iter()
        .chain(PREVIOUS_DEFAULTS)
        .map(|n| count_of(stats, n))
        .max()
        .unwrap_or(0);
    (old, count_of(stats, DEFAULT))
}

/// The previous mix whose vectors a library is answered with until the default is complete:
/// of [`PREVIOUS_DEFAULTS`], the one most songs have (the newer on a tie), when it holds at
/// least as many as of the older pair; `None` when no previous mix answers.
///
/// ```
/// use songrec_storage::ModelStats;
/// use songrec_app::embedders::{model_by_name, previous_mix};
/// let s = |n: &str, count| ModelStats { model: model_by_name(n).unwrap(), count };
/// assert_eq!(previous_mix(&[s("mix", 1), s("mix@2", 3), s("mix@1", 1)]), Some("mix@2"));
/// assert_eq!(previous_mix(&[s("mix@2", 1), s("mix@1", 3)]), Some("mix@1"));
/// assert_eq!(previous_mix(&[s("mix@1", 2), s("musicnn", 3), s("dsp", 3)]), None);
/// assert_eq!(previous_mix(&[s("mix", 3)]), None);
/// ```
pub fn previous_mix(stats: &[songrec_storage::ModelStats]) -> Option<&'static str> {
    let (name, prev) = PREVIOUS_DEFAULTS
        .iter()
        .map(|n| (*n, count_of(stats, n)))
        .reduce(|best, x| if x.1 > best.1 { x } else { best })?;
    (prev > 0 && OLD_DEFAULT.iter().all(|n| count_of(stats, n) <= prev)).then_some(name)
}

/// Whether `auto` compares the default's vectors in a library with these models: it holds
/// some, and at least as many as of the older default's (a library being brought to the
/// default by `reembed` is answered with the older vectors, which every song has, until then).
///
/// ```
/// use songrec_storage::{ModelInfo, ModelStats};
/// use songrec_app::embedders::{default_is_complete, model_by_name};
/// let s = |n: &str, count| ModelStats { model: model_by_name(n).unwrap(), count };
/// assert!(default_is_complete(&[s("mix", 3)]));
/// assert!(!default_is_complete(&[s("mix", 2), s("musicnn", 3), s("dsp", 3)]));
/// assert!(default_is_complete(&[s("mix", 3), s("musicnn", 3), s("dsp", 3)]));
/// assert!(!default_is_complete(&[s("dsp", 3)]));
/// ```
pub fn default_is_complete(stats: &[songrec_storage::ModelStats]) -> bool {
    let (old, mix) = default_counts(stats);
    mix > 0 && mix >= old
}

/// One line for the user when some songs lack the default's vectors that the older default
/// gave them (a library made before `mix`, or a `reembed` under way); `None` otherwise.
pub fn upgrade_advice(stats: &[songrec_storage::ModelStats]) -> Option<String> {
    let (old, mix) = default_counts(stats);
    let answering = previous_mix(stats).map_or_else(|| OLD_DEFAULT.to_vec(), |p| vec![p]);
    (old > mix).then(|| {
        format!(
            "{mix} of {old} {} the default {} vectors; until `songrec reembed` \
             (resumable) computes the rest, `similar` and every ranking compare {} \
             (the vectors all songs have)",
            if old == 1 { "song has" } else { "songs have" },
            model_by_name(DEFAULT).map_or_else(|_| DEFAULT.into(), |m| m.key()),
            answering
                .iter()
                .filter_map(|n| model_by_name(n).ok())
                .map(|m| m.key())
                .collect::<Vec<_>>()
                .join(" and ")
        )
    })
}

/// The embedders `ingest` runs when none is named: the default, and while some songs lack its
/// vectors ([`default_is_complete`]), also the older default's for the models the library
/// holds, so the space `auto` answers with stays whole. A comma list for [`parse_list_with`].
pub fn default_ingest_spec(stats: &[songrec_storage::ModelStats]) -> String {
    let (old, mix) = default_counts(stats);
    let mut names = vec![DEFAULT];
    if old > mix {
        names.extend(
            OLD_DEFAULT
                .iter()
                .chain(PREVIOUS_DEFAULTS)
                .filter(|n| count_of(stats, n) > 0),
        );
    }
    names.join(",")
}

/// The storage model an embedder's vectors are filed under.
pub fn model_of(e: &dyn Embedder) -> ModelInfo {
    ModelInfo::new(e.name(), e.version().to_string(), e.dim())
}

/// The name users type for a model's embedder (`songrec-dsp` → `dsp`).
///
/// ```
/// assert_eq!(songrec_app::embedders::short_name("songrec-dsp"), "dsp");
/// assert_eq!(songrec_app::embedders::short_name("musicnn"), "musicnn");
/// ```
pub fn short_name(model_name: &str) -> &str {
    model_name.strip_prefix("songrec-").unwrap_or(model_name)
}

/// A stored model made by an older (or newer) version of an embedder this build runs: its
/// vectors are never compared with the live version's, so the songs that only have them drop
/// out of searches in the live space until `songrec reembed` recomputes them.
#[derive(Clone, Debug, PartialEq)]
pub struct OutdatedModel {
    /// The stored model and how many songs have its vectors.
    pub stored: songrec_storage::ModelStats,
    /// What this build's embedder of the same name makes.
    pub live: ModelInfo,
}

impl OutdatedModel {
    /// One line for the user: what is outdated and the command that fixes it.
    pub fn advice(&self) -> String {
        let one = self.stored.count == 1;
        let (has, they_are, them) = if one {
            ("has", "it is", "it")
        } else {
            ("have", "they are", "them")
        };
        format!(
            "{} {has} {} vectors, but this songrec makes {}: {they_are} left out of searches \
             in that space until `songrec reembed --embedder {}` recomputes {them}",
            count(self.stored.count, "song"),
            self.stored.model.key(),
            self.live.key(),
            short_name(&self.live.name),
        )
    }
}

/// The stored models of a live embedder's name but another version (see [`OutdatedModel`]);
/// not the default's previous versions, which answer until the default is complete
/// ([`upgrade_advice`] speaks of them).
pub fn outdated_models(stored: &[songrec_storage::ModelStats]) -> Vec<OutdatedModel> {
    let previous: Vec<ModelInfo> = PREVIOUS_DEFAULTS
        .iter()
        .filter_map(|n| model_by_name(n).ok())
        .collect();
    stored
        .iter()
        .filter(|s| s.count > 0 && !previous.contains(&s.model))
        .filter_map(|s| {
            let live = model_by_name(short_name(&s.model.name)).ok()?;
            (live.name == s.model.name && live.version != s.model.version).then(|| OutdatedModel {
                stored: s.clone(),
                live,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outdated_models_are_older_versions_of_live_embedders() {
        use songrec_storage::ModelStats;
        let live = model_by_name("dsp").unwrap();
        let older = ModelInfo::new(live.name.clone(), "0", live.dim);
        let stats = |model: ModelInfo, count| ModelStats { model, count };
        let found = outdated_models(&[
            stats(live.clone(), 5),
            stats(older.clone(), 3),
            stats(ModelInfo::new("legacy", "0", 8), 9),
            stats(ModelInfo::new(live.name.clone(), "7", live.dim), 0),
        ]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].stored.model.clone(), found[0].live.clone()),
            (older, live)
        );
        let advice = found[0].advice();
        assert!(
            advice.starts_with("3 songs have songrec-dsp@0 vectors")
                && advice.contains("songrec reembed --embedder dsp"),
            "{advice}"
        );
    }

    #[test]
    fn names_and_models() {
        assert!(by_name_with("jazzhands", &EmbedderConfig::default()).is_err());
        assert_eq!(models_of_list("dsp,musicnn").unwrap()[1].dim, 400);
        let a = model_by_name("aisfx").unwrap();
        assert_eq!(
            (a.name.as_str(), a.version.as_str(), a.dim),
            ("aisfx", "1", 1024)
        );
        assert_eq!(models_of_list("both").unwrap().len(), 2);
        assert_eq!(
            model_by_name("dsp").unwrap(),
            model_of(
                by_name_with("dsp", &EmbedderConfig::default())
                    .unwrap()
                    .as_ref()
            )
        );
    }

    #[test]
    fn a_bad_library_is_one_clear_error() {
        let cfg = EmbedderConfig {
            onnxruntime_library: Some("/no/such/libonnxruntime.so".into()),
            ..EmbedderConfig::default()
        };
        let err = match by_name_with("musicnn", &cfg) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a missing library must fail"),
        };
        assert!(err.contains("/no/such/libonnxruntime.so"), "{err}");
        assert!(err.contains("SONGREC_ORT_LIBRARY"), "{err}");
    }

    #[test]
    fn a_configured_runtime_wins_over_discovery() {
        use songrec_config::NeuralRuntime;
        let lib = std::path::PathBuf::from("/opt/ort/libonnxruntime.so.1.31.1");
        let mut cfg = EmbedderConfig {
            onnxruntime_library: Some(lib.clone()),
            ..EmbedderConfig::default()
        };
        let c = runtime_choice(&cfg).unwrap();
        assert_eq!(c.source, RuntimeSource::Configured);
        assert_eq!(
            c.runtime,
            songrec_neural::Runtime::OnnxRuntime { library: lib }
        );
        assert!(c.to_string().contains("/opt/ort/"), "{c}");
        cfg.runtime = NeuralRuntime::Tract;
        let c = runtime_choice(&cfg).unwrap();
        assert_eq!(c.runtime, songrec_neural::Runtime::Tract);
        assert!(c.to_string().contains("as configured"), "{c}");
    }

    #[test]
    fn discovery_off_loads_only_a_configured_library() {
        use songrec_config::NeuralRuntime;
        let mut cfg = EmbedderConfig {
            onnxruntime_discovery: false,
            ..EmbedderConfig::default()
        };
        let c = runtime_choice(&cfg).unwrap();
        assert_eq!(
            c.runtime,
            songrec_neural::Runtime::Tract,
            "auto without a search"
        );
        assert_eq!(c.source, RuntimeSource::BuiltIn);
        cfg.runtime = NeuralRuntime::Onnxruntime;
        let err = runtime_choice(&cfg)
            .expect_err("nothing configured")
            .to_string();
        assert!(err.contains("onnxruntime_discovery"), "{err}");
        let env: std::collections::HashMap<String, String> =
            [("SONGREC_ORT_DISCOVERY".to_string(), "0".to_string())].into();
        let parsed = songrec_config::Config::from_sources(None, &env).unwrap();
        assert!(!parsed.embedder.onnxruntime_discovery);
        assert!(EmbedderConfig::default().onnxruntime_discovery);
    }
}
