//! Which neural runtime the embedders run on (tract built in, or an ONNX Runtime found or
//! configured), said in one line, and how fast it runs here.

use songrec_audio::Embedder as _;
use songrec_config::EmbedderConfig;
use songrec_neural::{KernelPath, MusicnnConfig, MusicnnEmbedder};

use super::names::{canonical, split};
use crate::{AppError, AppResult};

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
                "musicnn runs on ONNX Runtime {}, found at {}{}",
                self.version.as_deref().unwrap_or("?"),
                library.display(),
                own_kernels_note()
            ),
            (Runtime::OnnxRuntime { library }, _) => {
                write!(
                    f,
                    "musicnn runs on ONNX Runtime at {}{}",
                    library.display(),
                    own_kernels_note()
                )
            }
            (Runtime::Tract, RuntimeSource::BuiltIn) => match KernelPath::from_env_or_auto() {
                KernelPath::Tract => write!(
                    f,
                    "musicnn and aisfx run on tract {} ({}=tract); songrec's own kernels ({}) \
                     run them faster: unset {}",
                    songrec_neural::runtime::TRACT_VERSION,
                    songrec_neural::ENV_KERNELS,
                    KernelPath::best(),
                    songrec_neural::ENV_KERNELS
                ),
                path => write!(
                    f,
                    "musicnn and aisfx run on songrec's own kernels ({}), built in; nothing to \
                     install",
                    path.describe()
                ),
            },
            // `runtime = "tract"` names the built-in runtime: songrec's own kernels run the
            // networks unless SONGREC_KERNELS=tract asks for tract itself.
            (Runtime::Tract, _) => match KernelPath::from_env_or_auto() {
                KernelPath::Tract => write!(
                    f,
                    "musicnn runs on tract {} as configured",
                    songrec_neural::runtime::TRACT_VERSION
                ),
                path => write!(
                    f,
                    "musicnn and aisfx run on songrec's own kernels ({}), the built-in runtime, \
                     as configured",
                    path.describe()
                ),
            },
        }
    }
}

/// What the runtime line adds where ONNX Runtime is in use: the networks songrec's own kernels
/// run anyway (the default's; nothing where `SONGREC_KERNELS=tract`).
fn own_kernels_note() -> String {
    match KernelPath::from_env_or_auto() {
        KernelPath::Tract => String::new(),
        path => format!(
            "; the built-in networks run on songrec's own kernels ({})",
            path.describe()
        ),
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
    let choice = |runtime, version, source| RuntimeChoice {
        runtime,
        version,
        source,
    };
    if cfg.runtime == NeuralRuntime::Tract {
        return Ok(choice(Runtime::Tract, None, RuntimeSource::Configured));
    }
    if let Some(library) = cfg.onnxruntime_library.clone() {
        let runtime = Runtime::OnnxRuntime { library };
        return Ok(choice(runtime, None, RuntimeSource::Configured));
    }
    let discover = || {
        FOUND
            .get_or_init(songrec_neural::discover::discover)
            .as_ref()
    };
    match cfg.onnxruntime_discovery.then(discover).flatten() {
        Some(found) => {
            let runtime = Runtime::OnnxRuntime {
                library: found.library.clone(),
            };
            Ok(choice(
                runtime,
                Some(found.version.clone()),
                RuntimeSource::Found,
            ))
        }
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
        None => Ok(choice(Runtime::Tract, None, RuntimeSource::BuiltIn)),
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
        kernels: KernelPath::from_env().map_err(songrec_neural::NeuralError::from)?,
        ..MusicnnConfig::default()
    })
}
