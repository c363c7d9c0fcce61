//! What the musicnn models are: the stored vectors' name, version and width, the networks'
//! signature, the bundled models and the variables naming others.

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
