//! How to build the aisfx embedder ([`AisfxConfig`]).

use super::model::{AisfxNetwork, DEFAULT_BLOCKS};
use crate::kernels::path::KernelPath;
use crate::runtime::Runtime;

/// How to build an [`AisfxEmbedder`](super::embedder::AisfxEmbedder).
#[derive(Debug, Clone, PartialEq, smart_default::SmartDefault)]
pub struct AisfxConfig {
    /// tract (default) or ONNX Runtime.
    pub runtime: Runtime,
    /// Maximum blocks per song.
    #[default(DEFAULT_BLOCKS)]
    pub blocks: usize,
    /// Sessions kept for parallel callers (0 = one per available core).
    pub max_sessions: usize,
    /// Threads inside one ONNX Runtime session (tract uses one).
    #[default = 1]
    pub intra_threads: usize,
    /// Blocks per tract run (the plan is optimised for exactly this batch).
    #[default = 1]
    pub tract_batch: usize,
    /// The network (the `aisfx` embedder's own vector is always the float32 embedding's; the
    /// others serve [`AisfxEmbedder::run_blocks`](super::embedder::AisfxEmbedder::run_blocks) and [`AisfxEmbedder::pool`](super::embedder::AisfxEmbedder::pool) for the mix).
    #[default(AisfxNetwork::Float32)]
    pub network: AisfxNetwork,
    /// The kernels that run an int8 network: songrec's own on every path but
    /// [`KernelPath::Tract`], whichever the runtime (see [`crate::ENV_KERNELS`]); the float32
    /// network always runs on the runtime.
    #[default(KernelPath::from_env_or_auto())]
    pub kernels: KernelPath,
}
