//! What the aisfx networks are: the stored vectors' name, version and width, what is decoded
//! for them, the bundled networks and their signatures, and the float32 network read from the
//! package ([`float32_model`]).

use super::frontend;

/// Credit line for the model, shown wherever the musicnn credit is.
pub const AISFX_CREDIT: &str = "aisfx by Ma & Lerch (ISMIR 2022), CC BY 4.0";

/// The float32 network's file in songrec's package (`models/aisfx/aisfx.onnx`), not built into
/// the binary (only the `aisfx` embedder and `songrec-mix@1` need it).
pub const FLOAT32_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/aisfx/aisfx.onnx");

/// The variable naming another copy of the float32 network's file.
pub const FLOAT32_ENV: &str = "SONGREC_AISFX_MODEL";

/// The float32 network's bytes, read once per process from [`FLOAT32_ENV`]'s file, else
/// [`FLOAT32_FILE`]. A missing file is [`NeuralError::PackageModelMissing`], naming both.
pub fn float32_model() -> crate::error::NeuralResult<&'static [u8]> {
    static MODEL: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    if let Some(m) = MODEL.get() {
        return Ok(m);
    }
    let path = std::env::var_os(FLOAT32_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| std::path::PathBuf::from(FLOAT32_FILE), Into::into);
    let bytes = read_float32(&path)?;
    Ok(MODEL.get_or_init(|| bytes))
}

/// The float32 network's file at `path`.
fn read_float32(path: &std::path::Path) -> crate::error::NeuralResult<Vec<u8>> {
    std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            crate::error::NeuralError::PackageModelMissing {
                what: "the float32 aisfx network (the `aisfx` embedder, songrec-mix@1)",
                path: path.to_path_buf(),
                env: FLOAT32_ENV,
            }
        } else {
            crate::error::NeuralError::ModelRead {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

#[cfg(test)]
mod package_tests {
    use super::*;

    #[test]
    fn the_float32_network_is_read_from_the_package() {
        let m = float32_model().expect("the package's file");
        assert_eq!(
            m.len(),
            std::fs::metadata(FLOAT32_FILE).unwrap().len() as usize
        );
        let e = read_float32(std::path::Path::new("/nonexistent/aisfx.onnx")).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("/nonexistent/aisfx.onnx") && msg.contains(FLOAT32_ENV),
            "{msg}"
        );
    }
}

/// `models/aisfx/expected.json`: front-end and network outputs on three real recordings.
pub static EXPECTED_JSON: &str = include_str!("../../models/aisfx/expected.json");

/// The same network quantized to int8 (`models/aisfx/aisfx_int8.onnx`, built by
/// `scripts/models/quantize_aisfx.sh`): QLinearConv from the second conv block on, the first
/// block in float32; block outputs within cosine 0.9998 of the float32 network's.
pub static INT8_MODEL: &[u8] = include_bytes!("../../models/aisfx/aisfx_int8.onnx");

/// `models/aisfx/expected_int8.json`: the int8 network's outputs on a fixed probe, per runtime.
pub static EXPECTED_INT8_JSON: &str = include_str!("../../models/aisfx/expected_int8.json");

/// aisfx's *texture* network (`models/aisfx/aisfx_texture_int8.onnx`, built by
/// `scripts/models/texture_aisfx.py`): int8 but for the first convolution, cut after
/// `conv_block4.conv1`, ending in each block's per-channel mean and standard deviation
/// ([`TEXTURE_DIM`] values). What `songrec-mix@3` on hears with aisfx.
pub static TEXTURE_MODEL: &[u8] = include_bytes!("../../models/aisfx/aisfx_texture_int8.onnx");

/// `models/aisfx/expected_texture.json`: the texture network's outputs on the probe, per engine.
pub static EXPECTED_TEXTURE_JSON: &str = include_str!("../../models/aisfx/expected_texture.json");

/// Values of one block's texture: 512 means, then 512 standard deviations.
pub const TEXTURE_DIM: usize = 2 * BLOCK_DIM;

/// Name under which aisfx vectors are stored.
pub const AISFX_NAME: &str = "aisfx";
/// Version of the aisfx vectors (bump on any change of model, front end, blocks or pooling).
///
/// * 1: the mean and the max of the network's 512 outputs over at most 8 evenly spaced blocks
///   of 100 log-mel frames (2.3 s each) cut from [`AISFX_DECODE`]'s excerpts, L2-normalised.
pub const AISFX_VERSION: u32 = 1;
/// Width of the network's output per block.
pub const BLOCK_DIM: usize = 512;
/// Embedding dimension: mean then max over the blocks.
pub const AISFX_DIM: usize = 2 * BLOCK_DIM;
/// Blocks per song by default (`scripts/eval/RESULTS.md`, "aisfx, VGG and the new default").
pub const DEFAULT_BLOCKS: usize = 8;

/// What aisfx decodes of a file: the DSP embedder's excerpts (files up to 90 s whole, longer
/// ones as 6 × 15 s), at 44.1 kHz (the network hears up to 22 kHz).
pub const AISFX_DECODE: songrec_audio::DecodeOptions = songrec_audio::DecodeOptions {
    sample_rate: frontend::SAMPLE_RATE,
    ..songrec_audio::embed::DSP_DECODE
};

/// What the network must look like.
pub(crate) static SIGNATURE: crate::signature::Signature = crate::signature::Signature {
    input: "logmel",
    item: &[frontend::BLOCK, frontend::N_MELS],
    outputs: &[("embedding", BLOCK_DIM)],
};

/// What the texture network must look like.
pub(crate) static TEXTURE_SIGNATURE: crate::signature::Signature = crate::signature::Signature {
    input: "logmel",
    item: &[frontend::BLOCK, frontend::N_MELS],
    outputs: &[("texture", TEXTURE_DIM)],
};

/// Which of the bundled aisfx networks runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AisfxNetwork {
    /// [`float32_model`]: the float32 network (the `aisfx` embedder, `songrec-mix@1`).
    Float32,
    /// [`INT8_MODEL`]: the int8 network's embedding (`songrec-mix@2`).
    Int8,
    /// [`TEXTURE_MODEL`]: the int8 network's texture, [`TEXTURE_DIM`] values a block
    /// (`songrec-mix@3`); pooled by [`pool_texture`](super::analysis::pool_texture).
    Texture,
}

impl AisfxNetwork {
    /// The graph's bytes, the name errors give it, and what it must look like.
    pub(crate) fn graph(
        self,
    ) -> crate::error::NeuralResult<(
        &'static [u8],
        &'static str,
        &'static crate::signature::Signature,
    )> {
        Ok(match self {
            AisfxNetwork::Float32 => (float32_model()?, "the aisfx model", &SIGNATURE),
            AisfxNetwork::Int8 => (INT8_MODEL, "the built-in aisfx model (int8)", &SIGNATURE),
            AisfxNetwork::Texture => (
                TEXTURE_MODEL,
                "the built-in aisfx texture model (int8)",
                &TEXTURE_SIGNATURE,
            ),
        })
    }
}
