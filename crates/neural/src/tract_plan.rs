//! musicnn on tract directly: one plan optimised for the concrete shape `[1, 48128]`.
//!
//! tract optimises a graph much better when every shape is known: the convolutions get lazy
//! im2col and the batch norms fold into the following element-wise chain. One patch per run
//! is also the fastest batch: on one core (release build, 2026-11-25) the model takes
//! 70 ms per patch at batch 1, 119 ms per patch at batch 8, and 94 ms per patch through
//! `ort-tract`'s symbolic batch (which songrec used before). Patches are therefore run one
//! after the other through the same plan; the plan is immutable and shared by all threads.

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;
use tract_onnx::tract_hir::internal::DimLike;

use crate::musicnn::{N_TAGS, PENULTIMATE_DIM};
use crate::patches::PATCH_LEN;

/// What went wrong while loading a model into tract.
pub(crate) enum LoadError {
    /// Not a model tract can read or optimise.
    Invalid(String),
    /// A readable model with other inputs or outputs than MSD_musicnn's.
    Wrong(String),
}

/// The optimised plan and where its two outputs are.
pub(crate) struct TractPlan {
    plan: Arc<TypedRunnableModel>,
    penultimate: usize,
    taggram: usize,
}

impl std::fmt::Debug for TractPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TractPlan").finish_non_exhaustive()
    }
}

fn dims(fact: &InferenceFact) -> Option<Vec<Option<i64>>> {
    let shape = fact.shape.concretize()?;
    Some(shape.iter().map(|d| d.to_i64().ok()).collect())
}

impl TractPlan {
    /// Parses `bytes`, checks the signature (one input `wave` `[batch, 48128]` float32,
    /// outputs `penultimate` `[batch, 200]` and `taggram` `[batch, 50]`) and optimises for
    /// one patch.
    pub(crate) fn load(bytes: &[u8]) -> Result<Self, LoadError> {
        let invalid = |e: tract_onnx::prelude::TractError| LoadError::Invalid(format!("{e:#}"));
        let mut reader = bytes;
        let model = tract_onnx::onnx()
            .model_for_read(&mut reader)
            .map_err(invalid)?;
        let inputs = model.input_outlets().map_err(invalid)?.to_vec();
        let input_names: Vec<&str> = inputs
            .iter()
            .map(|o| model.node(o.node).name.as_str())
            .collect();
        if input_names != ["wave"] {
            return Err(LoadError::Wrong(format!(
                "its inputs are {input_names:?}, expected one input \"wave\""
            )));
        }
        let fact = model.outlet_fact(inputs[0]).map_err(invalid)?;
        if fact.datum_type.concretize() != Some(f32::datum_type()) {
            return Err(LoadError::Wrong(
                "input \"wave\" is not float32, expected float32".into(),
            ));
        }
        match dims(fact).as_deref() {
            Some([_, Some(w)]) if *w == PATCH_LEN as i64 => {}
            other => {
                return Err(LoadError::Wrong(format!(
                    "input \"wave\" has shape {other:?}, expected [batch, {PATCH_LEN}]"
                )));
            }
        }
        let outputs = model.output_outlets().map_err(invalid)?.to_vec();
        let label = |o: &OutletId| {
            model
                .outlet_label(*o)
                .unwrap_or(model.node(o.node).name.as_str())
                .to_string()
        };
        let names: Vec<String> = outputs.iter().map(label).collect();
        let find = |name: &str| {
            names.iter().position(|n| n == name).ok_or_else(|| {
                LoadError::Wrong(format!("it has no output \"{name}\" (outputs: {names:?})"))
            })
        };
        let penultimate = find("penultimate")?;
        let taggram = find("taggram")?;
        let typed = model
            .with_input_fact(0, f32::fact([1, PATCH_LEN]).into())
            .map_err(invalid)?
            .into_optimized()
            .map_err(invalid)?;
        for (ix, name, width) in [
            (penultimate, "penultimate", PENULTIMATE_DIM),
            (taggram, "taggram", N_TAGS),
        ] {
            let outlet = typed.output_outlets().map_err(invalid)?[ix];
            let fact = typed.outlet_fact(outlet).map_err(invalid)?;
            let shape: Vec<Option<usize>> = fact.shape.iter().map(|d| d.to_usize().ok()).collect();
            if fact.datum_type != f32::datum_type() || shape != [Some(1), Some(width)] {
                return Err(LoadError::Wrong(format!(
                    "output \"{name}\" is {:?} {shape:?}, expected float32 [batch, {width}]",
                    fact.datum_type
                )));
            }
        }
        let plan = typed.into_runnable().map_err(invalid)?;
        Ok(TractPlan {
            plan,
            penultimate,
            taggram,
        })
    }

    /// Runs one patch of exactly [`PATCH_LEN`] samples; appends its `penultimate` and
    /// `taggram` rows.
    pub(crate) fn run_patch(
        &self,
        patch: &[f32],
        penultimate: &mut Vec<f32>,
        taggram: &mut Vec<f32>,
    ) -> Result<(), String> {
        let input = Tensor::from_shape(&[1, PATCH_LEN], patch).map_err(|e| format!("{e:#}"))?;
        let out = self
            .plan
            .run(tvec!(input.into_tvalue()))
            .map_err(|e| format!("{e:#}"))?;
        for (ix, width, dst) in [
            (self.penultimate, PENULTIMATE_DIM, penultimate),
            (self.taggram, N_TAGS, taggram),
        ] {
            let t: &Tensor = out.get(ix).ok_or_else(|| format!("output {ix} missing"))?;
            let rows = t
                .to_plain_array_view::<f32>()
                .map_err(|e| format!("{e:#}"))?;
            if rows.len() != width {
                return Err(format!(
                    "an output has {} values, expected {width}",
                    rows.len()
                ));
            }
            dst.extend(rows.iter().copied());
        }
        Ok(())
    }
}
