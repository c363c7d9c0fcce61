//! The aisfx embedder: aisfx 0.1.2's embedding network (A. B. Ma and A. Lerch, "Representation
//! Learning for the Automatic Indexing of Sound Effects Libraries", ISMIR 2022; CC BY 4.0) on
//! 100-frame log-mel blocks at 44.1 kHz, mean and max over the song's blocks.
//!
//! `frontend` is the pure spectrogram part; `embedder` runs the network (`models/aisfx/`, see
//! `models/aisfx/PROVENANCE.md`) on tract or ONNX Runtime.

pub mod frontend;

mod analysis;
mod config;
mod embedder;
mod model;
mod native;

pub use analysis::{AisfxAnalysis, pool_blocks, pool_texture};
pub use config::AisfxConfig;
pub use embedder::AisfxEmbedder;
pub use model::{
    AISFX_CREDIT, AISFX_DECODE, AISFX_DIM, AISFX_NAME, AISFX_VERSION, AisfxNetwork, BLOCK_DIM,
    DEFAULT_BLOCKS, EXPECTED_INT8_JSON, EXPECTED_JSON, EXPECTED_TEXTURE_JSON, FLOAT32_ENV,
    FLOAT32_FILE, INT8_MODEL, TEXTURE_DIM, TEXTURE_MODEL, float32_model,
};
#[cfg(test)]
pub(crate) use model::{SIGNATURE, TEXTURE_SIGNATURE};
