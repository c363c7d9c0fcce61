//! songrec's neural embedders: the pretrained **musicnn** (`MSD_musicnn`, `MTT_musicnn`, ISC)
//! and **aisfx** (CC BY 4.0) networks as ONNX, and the default [`mix`] of them with the DSP
//! analysis. The graphs run on **tract** (pure Rust, built in), on **ONNX Runtime** (a native
//! library configured or found by [`discover`]; see [`runtime`]), or where they can on
//! **songrec's own kernels** (`kernels`), within the tolerances the engines already differ by.
//! `SONGREC_KERNELS` ([`ENV_KERNELS`], [`KernelPath`]) chooses the kernels: `auto` (the fastest
//! this CPU runs), a named path (every one gives the same vectors to the bit), or `tract` (both
//! networks on the runtime's graph).
//!
//! ```no_run
//! use songrec_neural::{MusicnnConfig, MusicnnEmbedder, Runtime};
//! let cfg = MusicnnConfig { runtime: Runtime::from_env(), ..MusicnnConfig::default() };
//! let e = MusicnnEmbedder::new(&cfg)?;
//! let audio = songrec_audio::decode_file(std::path::Path::new("song.mp3"))
//!     .map_err(|e| songrec_neural::NeuralError::Inference { runtime: "decode".into(), reason: e.to_string() })?
//!     .audio;
//! let a = e.analyze(&audio)?;
//! println!("{:?}", a.top_tags(5));
//! # Ok::<(), songrec_neural::NeuralError>(())
//! ```

pub mod aisfx;
pub mod discover;
pub mod error;
mod graph;
pub(crate) mod kernels;
pub mod mix;
pub mod musicnn;
mod network;
mod onnx;
pub mod patches;
mod pool;
pub mod profile;
mod rows;
pub mod runtime;
mod signature;
#[cfg(feature = "tract")]
mod tract_plan;

pub use aisfx::{
    AISFX_CREDIT, AISFX_DIM, AISFX_NAME, AISFX_VERSION, AisfxConfig, AisfxEmbedder, AisfxNetwork,
};
pub use error::{NeuralError, NeuralResult};
pub use mix::{MIX_DIM, MIX_NAME, MIX_VERSION, MixConfig, MixEmbedder};

/// Credit line for the musicnn models.
pub const MUSICNN_CREDIT: &str = "musicnn by J. Pons and X. Serra, ISC licence";
pub use kernels::path::{
    ENV_AMX, ENV_AVX512, ENV_KERNELS, ENV_OWN_KERNELS, KernelPath, KernelsError,
};
pub use musicnn::{
    DEFAULT_PATCHES, MTT_TAGS, MUSICNN_DECODE, MUSICNN_DIM, MUSICNN_NAME, MUSICNN_VERSION,
    ModelOutput, MusicnnConfig, MusicnnEmbedder, Net, NeuralAnalysis, PENULTIMATE_DIM, TAGS,
};
pub use patches::ShortClip;
pub use rows::json_floats;
pub use runtime::{ActiveRuntime, Runtime};
