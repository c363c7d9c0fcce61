//! Embedders built by the names users type, with the settings and the neural runtime of
//! [`runtime`](super::runtime).

use std::sync::Arc;

use songrec_audio::{DspEmbedder, Embedder};
use songrec_config::EmbedderConfig;
use songrec_neural::{AisfxConfig, AisfxEmbedder, MixConfig, MixEmbedder, MusicnnEmbedder};

use super::names::{canonical, split};
use super::runtime::{musicnn_config, runtime_choice};
use crate::AppResult;

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
