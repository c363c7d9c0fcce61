//! The embedders songrec can run, by the names users type: the name registry here; the neural
//! runtime's choice in [`runtime`], the started embedders of a long-running process in
//! [`pool`], what a library made by older versions needs in [`upgrade`].

use std::sync::Arc;

use songrec_audio::{DspEmbedder, Embedder};
use songrec_config::EmbedderConfig;
use songrec_neural::{
    AISFX_DIM, AISFX_NAME, AISFX_VERSION, AisfxConfig, AisfxEmbedder, MIX_DIM, MIX_NAME,
    MIX_VERSION, MUSICNN_DIM, MUSICNN_NAME, MUSICNN_VERSION, MixConfig, MixEmbedder,
    MusicnnEmbedder,
};
use songrec_storage::ModelInfo;

use crate::{AppError, AppResult};

mod pool;
mod runtime;
mod upgrade;

pub use pool::Pool;
pub use runtime::*;
pub use upgrade::*;

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
        mix @ ("mix" | "mix@3" | "mix@2" | "mix@1") => {
            let version = match mix {
                "mix@3" => MixConfig::v3,
                "mix@2" => MixConfig::v2,
                "mix@1" => MixConfig::v1,
                _ => MixConfig::with_musicnn,
            };
            Ok(Arc::new(MixEmbedder::new(&version(musicnn_config(cfg)?))?))
        }
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
        v @ ("mix@3" | "mix@2" | "mix@1") => ModelInfo::new(MIX_NAME, &v[4..], MIX_DIM),
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
