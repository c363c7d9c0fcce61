//! The musicnn embedder: MSD_musicnn's 200-d penultimate layer, averaged over 3 s patches.
//!
//! Split by concern: `embedder` (the [`MusicnnEmbedder`] and how it runs the two networks),
//! `pooling` (pure: from raw outputs to the song's vector and tags), `check` (loading and
//! verifying a model), `pool` (ONNX Runtime sessions) and `tags` (the tag names); `model` (what
//! the models are: name, version, widths, the bundled files), `config` (the
//! [`MusicnnConfig`]) and `output` (what the networks and the embedder give).

mod check;
mod config;
mod embedder;
mod model;
mod native;
mod output;
mod pooling;
mod tags;

pub use check::{SELF_CHECK_TOLERANCE, reference_signal};
pub use config::MusicnnConfig;
pub use embedder::MusicnnEmbedder;
#[cfg(test)]
pub(crate) use model::SIGNATURE;
pub use model::{
    BUNDLED_MODEL, BUNDLED_MTT_MODEL, DEFAULT_PATCHES, ENV_MODEL, ENV_MTT_MODEL, EXPECTED_JSON,
    MTT_EXPECTED_JSON, MUSICNN_DECODE, MUSICNN_DIM, MUSICNN_NAME, MUSICNN_VERSION, N_TAGS,
    PENULTIMATE_DIM,
};
pub use output::{ModelOutput, Net, NeuralAnalysis};
pub use pooling::{pool_outputs, pooled_penultimate, split_patches};
pub use tags::{MTT_TAGS, TAGS};
