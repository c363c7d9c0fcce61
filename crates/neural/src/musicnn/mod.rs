//! The musicnn embedder: MSD_musicnn's 200-d penultimate layer, averaged over 3 s patches.
//!
//! Split by concern: `embedder` (the [`MusicnnEmbedder`] and how it runs the two networks),
//! `pooling` (pure: from raw outputs to the song's vector and tags), `check` (loading and
//! verifying a model), `pool` (ONNX Runtime sessions) and `tags` (the tag names).

use std::path::PathBuf;

use crate::kernels::path::KernelPath;
use crate::patches::ShortClip;
use crate::runtime::Runtime;

mod check;
mod embedder;
mod native;
mod pooling;
mod tags;

pub use check::{SELF_CHECK_TOLERANCE, reference_signal};
pub use embedder::MusicnnEmbedder;
pub use pooling::{pool_outputs, pooled_penultimate, split_patches};
pub use tags::{MTT_TAGS, TAGS};

/// Name under which musicnn vectors are stored.
pub const MUSICNN_NAME: &str = "musicnn";
/// Version of the musicnn vectors (bump on any change of model, patching, pooling or
/// normalisation).
///
/// * 1: the mean `penultimate` over up to 8 patches, L2-normalised; patches spread over the
///   default decode (files up to 240 s whole, longer ones as 8 excerpts of 30 s).
/// * 2: the same model and pooling; patches are cut from the DSP embedder's excerpts
///   ([`MUSICNN_DECODE`]: files up to 90 s whole, longer ones as 6 excerpts of 15 s), so a
///   default ingest decodes each file once for both embedders.
///
/// Standardising the mean per dimension with a fixed table before the L2 step was measured and
/// not adopted (`scripts/eval/RESULTS.md`). Vectors of different versions are different
/// models and are never compared with each other.
pub const MUSICNN_VERSION: u32 = 2;

/// What musicnn decodes of a file: the DSP embedder's excerpt rule, so `analyze_file` decodes
/// once for both (the patches need 8 × 3 s; the excerpts hold 90 s).
pub const MUSICNN_DECODE: songrec_audio::DecodeOptions = songrec_audio::embed::DSP_DECODE;
/// Width of each network's `penultimate` layer.
pub const PENULTIMATE_DIM: usize = 200;
/// Embedding dimension: the MSD and the MTT `penultimate` means, one after the other.
pub const MUSICNN_DIM: usize = 2 * PENULTIMATE_DIM;
/// Number of tags (`taggram`).
pub const N_TAGS: usize = 50;

/// What a musicnn model must look like (MSD_musicnn and MTT_musicnn alike).
pub(crate) static SIGNATURE: crate::signature::Signature = crate::signature::Signature {
    input: "wave",
    item: &[crate::patches::PATCH_LEN],
    outputs: &[("penultimate", PENULTIMATE_DIM), ("taggram", N_TAGS)],
};

/// Patches per song by default: precision stops improving at about 8 patches while the time
/// per song grows linearly with them.
pub const DEFAULT_PATCHES: usize = 8;

/// The model built into songrec: `models/musicnn/msd_musicnn.onnx` (ISC licence, see
/// `models/musicnn/LICENSE` and `PROVENANCE.md`).
pub static BUNDLED_MODEL: &[u8] = include_bytes!("../../models/musicnn/msd_musicnn.onnx");

/// `models/musicnn/expected.json`: the reference signal and the model's outputs on it.
pub static EXPECTED_JSON: &str = include_str!("../../models/musicnn/expected.json");

/// The second network built into songrec: `models/musicnn/mtt_musicnn.onnx` (`MTT_musicnn`
/// from the same wheel and licence, trained on MagnaTagATune tags).
pub static BUNDLED_MTT_MODEL: &[u8] = include_bytes!("../../models/musicnn/mtt_musicnn.onnx");

/// `models/musicnn/mtt_expected.json`: MTT_musicnn's outputs on the reference signal.
pub static MTT_EXPECTED_JSON: &str = include_str!("../../models/musicnn/mtt_expected.json");

/// Environment variable with a model file to use instead of the built-in MSD network.
pub const ENV_MODEL: &str = "SONGREC_MUSICNN_MODEL";
/// Environment variable with a model file to use instead of the built-in MTT network.
pub const ENV_MTT_MODEL: &str = "SONGREC_MUSICNN_MTT_MODEL";

/// How to build a [`MusicnnEmbedder`].
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

/// Raw model outputs for a batch of patches (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOutput {
    pub patches: usize,
    /// `[patches, 200]` ([`PENULTIMATE_DIM`]).
    pub penultimate: Vec<f32>,
    /// `[patches, 50]`, sigmoid probabilities.
    pub taggram: Vec<f32>,
}

/// What musicnn says about one song.
///
/// ```
/// let a = songrec_neural::NeuralAnalysis { embedding: vec![1.0], pooled: vec![2.0],
///     tags: vec![("rock".into(), 0.9)], sound_tags: vec![("piano".into(), 0.8)], patches: 1,
///     analysed_secs: 3.0 };
/// assert_eq!(a.top_tags(1)[0].0, "rock");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NeuralAnalysis {
    /// The stored vector (400-d): the MSD and MTT halves of [`pooled`](Self::pooled), each
    /// L2-normalised, times 1/√2; compare by cosine.
    pub embedding: Vec<f32>,
    /// Mean `penultimate` over each network's patches, before any normalisation: MSD's 200
    /// values then MTT's ([`pooled_penultimate`]).
    pub pooled: Vec<f32>,
    /// MSD's mean tag probability over its patches, all 50 tags, most probable first.
    pub tags: Vec<(String, f32)>,
    /// MTT's mean tag probability over its patches, all 50 [`MTT_TAGS`], most probable first.
    pub sound_tags: Vec<(String, f32)>,
    /// Patches cut from the audio (each through one network; a lone patch through both).
    pub patches: usize,
    /// Seconds of audio the patches cover (without padding).
    pub analysed_secs: f32,
}

impl NeuralAnalysis {
    /// The `k` most probable tags.
    pub fn top_tags(&self, k: usize) -> &[(String, f32)] {
        &self.tags[..k.min(self.tags.len())]
    }
}

/// Which of the two networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum Net {
    /// `MSD_musicnn` (last.fm tags of the Million Song Dataset: genre, style, era).
    Msd,
    /// `MTT_musicnn` (MagnaTagATune tags: instruments, voice, tempo, mood).
    Mtt,
}

impl Net {
    /// "msd" or "mtt".
    pub fn name(self) -> &'static str {
        self.into()
    }

    fn bundled(self) -> (&'static [u8], &'static str) {
        match self {
            Net::Msd => (BUNDLED_MODEL, EXPECTED_JSON),
            Net::Mtt => (BUNDLED_MTT_MODEL, MTT_EXPECTED_JSON),
        }
    }
}
