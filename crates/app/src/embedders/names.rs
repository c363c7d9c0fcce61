//! The name registry: the embedder names users type, the defaults, and the storage model of
//! each name (known without building the embedder).

use songrec_audio::Embedder;
use songrec_neural::{
    AISFX_DIM, AISFX_NAME, AISFX_VERSION, MIX_DIM, MIX_NAME, MIX_VERSION, MUSICNN_DIM,
    MUSICNN_NAME, MUSICNN_VERSION,
};
use songrec_storage::ModelInfo;

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
/// version's vectors ([`previous_mix`](super::upgrade::previous_mix)).
pub const PREVIOUS_DEFAULTS: &[&str] = &["mix@3", "mix@2", "mix@1"];

/// What `both`/`all` stand for (the default pair; aisfx is asked for by name).
const BOTH: &[&str] = &["dsp", "musicnn"];

/// The built-in models and their credits, for `--version`, `doctor` and the README.
pub const MODEL_CREDITS: &[&str] = &[songrec_neural::MUSICNN_CREDIT, songrec_neural::AISFX_CREDIT];

pub(super) fn canonical(name: &str) -> AppResult<&'static str> {
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

pub(super) fn split(spec: &str) -> Vec<&str> {
    match spec.trim().to_ascii_lowercase().as_str() {
        "both" | "all" => BOTH.to_vec(),
        _ => spec
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect(),
    }
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
