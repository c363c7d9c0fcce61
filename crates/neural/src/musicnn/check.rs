//! Checking a model: reading a file and the reference signal an override model is compared on.

use std::path::Path;

use crate::error::{NeuralError, NeuralResult};
use crate::patches::{MODEL_RATE, PATCH_LEN};

pub(super) fn read_model(path: &Path) -> NeuralResult<Vec<u8>> {
    if !path.exists() {
        return Err(NeuralError::ModelNotFound {
            path: path.to_path_buf(),
        });
    }
    std::fs::read(path).map_err(|source| NeuralError::ModelRead {
        path: path.to_path_buf(),
        source,
    })
}

/// The reference test signal of `expected.json` (3 patches, 144384 samples at 16 kHz).
///
/// ```
/// let s = songrec_neural::musicnn::reference_signal();
/// assert_eq!(s.len(), 3 * 48_128);
/// assert!((s[0] - 0.8411217).abs() < 1e-6);
/// ```
pub fn reference_signal() -> Vec<f32> {
    let n = 3 * PATCH_LEN;
    let sines = [
        (0.25, 220.0, 0.0),
        (0.15, 440.0, 1.0),
        (0.10, 1318.5, 2.0),
        (0.05, 3520.0, 0.5),
    ];
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(MODEL_RATE);
            let mut s: f64 = sines
                .iter()
                .map(|(a, f, p)| a * (2.0 * std::f64::consts::PI * f * t + p).sin())
                .sum();
            let k = i % 8000;
            if k < 200 {
                s += 0.6 * (-(k as f64) / 20.0).exp();
            }
            s as f32
        })
        .collect()
}

/// `penultimate` of patch 0 of the reference signal, from an `expected.json`.
pub(super) fn reference_penultimate_row0(expected: &str) -> Option<Vec<f32>> {
    let v: serde_json::Value = serde_json::from_str(expected).ok()?;
    crate::rows::json_floats(v.get("penultimate")?.get(0)?)
}

/// Largest difference tolerated when checking an override model on the reference signal.
pub const SELF_CHECK_TOLERANCE: f32 = 1e-3;
