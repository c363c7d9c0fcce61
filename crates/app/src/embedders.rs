//! The embedders songrec can run, by the names users type.

use std::sync::Arc;

use songrec_audio::{DspEmbedder, Embedder};
use songrec_config::EmbedderConfig;
use songrec_neural::{MUSICNN_DIM, MUSICNN_NAME, MUSICNN_VERSION, MusicnnConfig, MusicnnEmbedder};
use songrec_storage::ModelInfo;

use crate::{AppError, AppResult};

/// Names accepted by `--embedder` (`both`/`all` = every one of them).
pub const NAMES: &[&str] = &["dsp", "musicnn"];

fn canonical(name: &str) -> AppResult<&'static str> {
    match name.trim().to_ascii_lowercase().as_str() {
        "dsp" | "songrec-dsp" => Ok("dsp"),
        "musicnn" | "neural" => Ok("musicnn"),
        other => Err(AppError::Invalid(format!(
            "unknown embedder {other:?}; available: {}, both",
            NAMES.join(", ")
        ))),
    }
}

/// The musicnn settings from songrec's configuration (`[embedder]`, `SONGREC_ORT_LIBRARY`,
/// `SONGREC_MUSICNN_MODEL`): ONNX Runtime when a library is configured, tract otherwise.
pub fn musicnn_config(cfg: &EmbedderConfig) -> MusicnnConfig {
    MusicnnConfig {
        runtime: songrec_neural::Runtime::from_library(cfg.onnxruntime_library.clone()),
        model: cfg.musicnn_model.clone(),
        ..MusicnnConfig::default()
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
        _ => Ok(Arc::new(MusicnnEmbedder::new(&musicnn_config(cfg))?)),
    }
}

/// [`by_name_with`] with the settings from the environment only (no config file).
///
/// ```
/// let e = songrec_app::embedders::by_name("dsp").unwrap();
/// assert_eq!(songrec_app::embedders::model_of(e.as_ref()).name, "songrec-dsp");
/// ```
pub fn by_name(name: &str) -> AppResult<Arc<dyn Embedder>> {
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    let cfg = songrec_config::Config::from_sources(None, &env)?;
    by_name_with(name, &cfg.embedder)
}

/// The storage model of an embedder name, without building the embedder (no model load).
///
/// ```
/// let m = songrec_app::embedders::model_by_name("musicnn").unwrap();
/// assert_eq!((m.name.as_str(), m.dim), ("musicnn", 200));
/// ```
pub fn model_by_name(name: &str) -> AppResult<ModelInfo> {
    Ok(match canonical(name)? {
        "dsp" => ModelInfo::new(
            songrec_audio::DSP_NAME,
            songrec_audio::DSP_VERSION.to_string(),
            songrec_audio::DSP_DIM,
        ),
        _ => ModelInfo::new(MUSICNN_NAME, MUSICNN_VERSION.to_string(), MUSICNN_DIM),
    })
}

fn split(spec: &str) -> Vec<&str> {
    match spec.trim().to_ascii_lowercase().as_str() {
        "both" | "all" => NAMES.to_vec(),
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
    fn names_and_models() {
        assert!(by_name_with("jazzhands", &EmbedderConfig::default()).is_err());
        assert_eq!(models_of_list("dsp,musicnn").unwrap()[1].dim, 200);
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
            musicnn_model: None,
        };
        let err = match by_name_with("musicnn", &cfg) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a missing library must fail"),
        };
        assert!(err.contains("/no/such/libonnxruntime.so"), "{err}");
        assert!(err.contains("SONGREC_ORT_LIBRARY"), "{err}");
    }
}
