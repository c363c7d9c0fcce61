//! How to build the musicnn embedder ([`MusicnnConfig`]).

use std::path::PathBuf;

use super::model::{DEFAULT_PATCHES, ENV_MODEL, ENV_MTT_MODEL};
use crate::kernels::path::KernelPath;
use crate::patches::ShortClip;
use crate::runtime::Runtime;

/// How to build a [`MusicnnEmbedder`](super::embedder::MusicnnEmbedder).
///
/// ```
/// let c = songrec_neural::MusicnnConfig::default();
/// assert_eq!(c.runtime, songrec_neural::Runtime::Tract);
/// assert!(c.model.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, smart_default::SmartDefault)]
pub struct MusicnnConfig {
    /// tract (default) or ONNX Runtime.
    pub runtime: Runtime,
    /// A model file instead of the built-in MSD network. It must be MSD_musicnn with the same
    /// inputs/outputs and it is checked numerically on the reference signal at load.
    pub model: Option<PathBuf>,
    /// A model file instead of the built-in MTT network (MTT_musicnn, checked the same way).
    pub mtt_model: Option<PathBuf>,
    /// Maximum patches per song.
    #[default(DEFAULT_PATCHES)]
    pub patches: usize,
    /// How audio shorter than one patch is filled.
    pub short_clip: ShortClip,
    /// Sessions kept for parallel callers (0 = one per available core).
    pub max_sessions: usize,
    /// Threads inside one ONNX Runtime session (ignored by tract, which uses one).
    #[default = 1]
    pub intra_threads: usize,
    /// The kernels: songrec's own run the built-in graphs (or any of the same structure) on
    /// either runtime, within 1e-4 of both, on every path but [`KernelPath::Tract`] (see
    /// [`crate::ENV_KERNELS`]).
    #[default(KernelPath::from_env_or_auto())]
    pub kernels: KernelPath,
    /// Run the front-end convolutions in int8 on songrec's own kernels (`songrec-mix@4` on;
    /// see `native.rs`). Without own kernels the runtime runs the float32 graph.
    pub int8: bool,
}

impl MusicnnConfig {
    /// Defaults, with the runtime from `SONGREC_ORT_LIBRARY` / `ORT_DYLIB_PATH` and the models
    /// from `SONGREC_MUSICNN_MODEL` and `SONGREC_MUSICNN_MTT_MODEL`.
    pub fn from_env() -> Self {
        let path = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        MusicnnConfig {
            runtime: Runtime::from_env(),
            model: path(ENV_MODEL),
            mtt_model: path(ENV_MTT_MODEL),
            kernels: KernelPath::from_env_or_auto(),
            ..Self::default()
        }
    }
}
