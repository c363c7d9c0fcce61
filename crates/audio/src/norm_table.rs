//! Fixed normalisation constants of the DSP embedder (placeholder: not yet calibrated).

use crate::embed::DSP_DIM;

/// Per-dimension mean of the raw features on the reference corpus.
pub const RAW_MEAN: [f32; DSP_DIM] = [0.0; DSP_DIM];
/// Per-dimension standard deviation of the raw features on the reference corpus.
pub const RAW_STD: [f32; DSP_DIM] = [1.0; DSP_DIM];
