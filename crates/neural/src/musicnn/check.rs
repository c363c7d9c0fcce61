//! Loading and checking a model: reading a file, the ONNX signature, the reference signal an
//! override model is compared on, and the tract plan.

use std::path::Path;

use ort::session::Session;
use ort::value::ValueType;

use super::{N_TAGS, PENULTIMATE_DIM};
use crate::error::{NeuralError, NeuralResult};
use crate::patches::{MODEL_RATE, PATCH_LEN};
use crate::runtime::{ActiveRuntime, catch_panic};
use crate::tract_plan::{LoadError, TractPlan};

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

fn check_tensor(model: &str, what: &str, ty: &ValueType, width: i64) -> Result<(), NeuralError> {
    let wrong = |reason: String| NeuralError::WrongModel {
        model: model.to_string(),
        reason,
    };
    match ty {
        ValueType::Tensor { ty, shape, .. } => {
            if *ty != ort::value::TensorElementType::Float32 {
                return Err(wrong(format!(
                    "{what} has element type {ty}, expected float32"
                )));
            }
            let dims: Vec<i64> = shape.iter().copied().collect();
            if dims.len() != 2 || dims[1] != width || dims[0] > 1 {
                return Err(wrong(format!(
                    "{what} has shape {dims:?}, expected [batch, {width}]"
                )));
            }
            Ok(())
        }
        other => Err(wrong(format!("{what} is a {other}, expected a tensor"))),
    }
}

/// Checks names, types and shapes of the model's inputs and outputs.
pub(super) fn verify_signature(session: &Session, model: &str) -> NeuralResult<()> {
    let wrong = |reason: String| NeuralError::WrongModel {
        model: model.to_string(),
        reason,
    };
    let inputs = session.inputs();
    if inputs.len() != 1 || inputs[0].name() != "wave" {
        let names: Vec<&str> = inputs.iter().map(|o| o.name()).collect();
        return Err(wrong(format!(
            "its inputs are {names:?}, expected one input \"wave\""
        )));
    }
    check_tensor(model, "input \"wave\"", inputs[0].dtype(), PATCH_LEN as i64)?;
    for (name, width) in [("penultimate", PENULTIMATE_DIM), ("taggram", N_TAGS)] {
        let Some(o) = session.outputs().iter().find(|o| o.name() == name) else {
            let names: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
            return Err(wrong(format!(
                "it has no output \"{name}\" (outputs: {names:?})"
            )));
        };
        check_tensor(
            model,
            &format!("output \"{name}\""),
            o.dtype(),
            width as i64,
        )?;
    }
    Ok(())
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
    v.get("penultimate")?
        .get(0)?
        .as_array()?
        .iter()
        .map(|x| x.as_f64().map(|f| f as f32))
        .collect()
}

/// Largest difference tolerated when checking an override model on the reference signal.
pub const SELF_CHECK_TOLERANCE: f32 = 1e-3;

pub(super) fn load_tract(
    model: &[u8],
    label: &str,
    runtime: &ActiveRuntime,
) -> NeuralResult<TractPlan> {
    let invalid = |reason: String| NeuralError::InvalidModel {
        model: label.to_string(),
        runtime: runtime.describe(),
        reason,
    };
    match catch_panic("loading the model", || TractPlan::load(model)).map_err(invalid)? {
        Ok(p) => Ok(p),
        Err(LoadError::Invalid(reason)) => Err(invalid(reason)),
        Err(LoadError::Wrong(reason)) => Err(NeuralError::WrongModel {
            model: label.to_string(),
            reason,
        }),
    }
}
