//! The embedders songrec can run, by the names users type.

use std::sync::Arc;

use songrec_audio::{DspEmbedder, Embedder};
use songrec_storage::ModelInfo;

use crate::{AppError, AppResult};

/// Names accepted by `--embedder`.
pub const NAMES: &[&str] = &["dsp"];

/// Builds an embedder by name.
///
/// ```
/// let e = songrec_app::embedders::by_name("dsp").unwrap();
/// assert_eq!(songrec_app::embedders::model_of(e.as_ref()).name, "songrec-dsp");
/// ```
pub fn by_name(name: &str) -> AppResult<Arc<dyn Embedder>> {
    match name.trim().to_ascii_lowercase().as_str() {
        "dsp" | "songrec-dsp" => Ok(Arc::new(DspEmbedder::new())),
        other => Err(AppError::Invalid(format!(
            "unknown embedder {other:?}; available: {}",
            NAMES.join(", ")
        ))),
    }
}

/// Parses `dsp`, `musicnn`, `both` into embedders.
pub fn parse_list(spec: &str) -> AppResult<Vec<Arc<dyn Embedder>>> {
    match spec.trim().to_ascii_lowercase().as_str() {
        "both" | "all" => NAMES.iter().map(|n| by_name(n)).collect(),
        s => s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(by_name)
            .collect(),
    }
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
