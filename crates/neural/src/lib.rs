//! songrec's neural embedders: the pretrained **musicnn** (`MSD_musicnn`, `MTT_musicnn`, ISC)
//! and **aisfx** (CC BY 4.0) networks as ONNX, and the default [`mix`] of them with the DSP
//! analysis. The graphs run on **tract** (pure Rust, built in), on **ONNX Runtime** (a native
//! library configured or found by [`discover`]; see [`runtime`]), or where they can on
//! **songrec's own kernels** (`kernels`), within the tolerances the engines already differ by.
//! `SONGREC_OWN_KERNELS=0` ([`ENV_OWN_KERNELS`]) leaves both networks to the runtime;
//! `SONGREC_AMX=0` ([`ENV_AMX`]) keeps the int8 products off AMX-INT8 (the same sums).
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
pub mod runtime;
mod signature;
#[cfg(feature = "tract")]
mod tract_plan;

pub use aisfx::{
    AISFX_CREDIT, AISFX_DIM, AISFX_NAME, AISFX_VERSION, AisfxConfig, AisfxEmbedder, AisfxNetwork,
};
pub use error::{NeuralError, NeuralResult};
pub use mix::{MIX_DIM, MIX_NAME, MIX_VERSION, MixConfig, MixEmbedder};

/// Environment variable that turns songrec's own network kernels off (`0`): the runtime then
/// runs both networks' graphs itself.
pub const ENV_OWN_KERNELS: &str = "SONGREC_OWN_KERNELS";

/// Whether songrec's own kernels are wanted: yes unless [`ENV_OWN_KERNELS`] is `0`.
pub fn own_kernels_from_env() -> bool {
    std::env::var(ENV_OWN_KERNELS).map_or(true, |v| v.trim() != "0")
}

/// Environment variable that keeps the int8 products off AMX (`0`): they run on VNNI then, to
/// the same bits.
pub const ENV_AMX: &str = "SONGREC_AMX";

/// Environment variable that keeps the int8 products off AVX-512 (`0`): they run on AVX-VNNI's
/// 256-bit form then, where the CPU has it, to the same bits.
pub const ENV_AVX512: &str = "SONGREC_AVX512";

/// The numbers of a JSON array, or of an array of rows (arrays of numbers) flattened row after
/// row, as `f32`: how the `expected.json` files beside the models hold reference outputs.
/// `None` when `v` is anything else.
///
/// ```
/// use serde_json::json;
/// use songrec_neural::json_floats;
/// assert_eq!(json_floats(&json!([1, 2.5])), Some(vec![1.0, 2.5]));
/// assert_eq!(json_floats(&json!([[1, 2], [3]])), Some(vec![1.0, 2.0, 3.0]));
/// assert_eq!(json_floats(&json!([1, "x"])), None);
/// assert_eq!(json_floats(&json!(null)), None);
/// ```
pub fn json_floats(v: &serde_json::Value) -> Option<Vec<f32>> {
    v.as_array()?
        .iter()
        .flat_map(|x| x.as_array().map_or(std::slice::from_ref(x), Vec::as_slice))
        .map(|y| y.as_f64().map(|f| f as f32))
        .collect()
}

/// Per-column f64 sums of row-major `values` with `width` columns, and the number of rows.
pub(crate) fn column_sums(values: &[f32], width: usize) -> (Vec<f64>, usize) {
    let mut sum = vec![0f64; width];
    for row in values.chunks_exact(width) {
        for (m, x) in sum.iter_mut().zip(row) {
            *m += f64::from(*x);
        }
    }
    (sum, values.len() / width)
}

/// Credit line for the musicnn models.
pub const MUSICNN_CREDIT: &str = "musicnn by J. Pons and X. Serra, ISC licence";
pub use kernels::describe as own_kernels;
pub use musicnn::{
    DEFAULT_PATCHES, MTT_TAGS, MUSICNN_DECODE, MUSICNN_DIM, MUSICNN_NAME, MUSICNN_VERSION,
    ModelOutput, MusicnnConfig, MusicnnEmbedder, Net, NeuralAnalysis, PENULTIMATE_DIM, TAGS,
};
pub use patches::ShortClip;
pub use runtime::{ActiveRuntime, Runtime};
