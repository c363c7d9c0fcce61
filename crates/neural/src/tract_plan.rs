//! A model on tract directly: one plan optimised for a concrete batch shape.
//!
//! tract optimises a graph much better when every shape is known (lazy im2col, batch norms
//! folded), and for musicnn one patch per run is also the fastest batch. Items are run one
//! batch after the other through the same plan, immutable and shared by all threads.

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;
use tract_onnx::tract_hir::internal::DimLike;

use crate::signature::Signature;

/// What went wrong while loading a model into tract.
pub(crate) enum LoadError {
    /// Not a model tract can read or optimise.
    Invalid(String),
    /// A readable model with other inputs or outputs than the signature's.
    Wrong(String),
}

/// The optimised plan and where its outputs are.
pub(crate) struct TractPlan {
    plan: Arc<TypedRunnableModel>,
    /// Per signature output: its index among the model's outputs.
    outputs: Vec<usize>,
    sig: &'static Signature,
    batch: usize,
}

fn dims(fact: &InferenceFact) -> Option<Vec<Option<i64>>> {
    let shape = fact.shape.concretize()?;
    Some(shape.iter().map(|d| d.to_i64().ok()).collect())
}

impl TractPlan {
    /// Parses `bytes`, checks them against `sig` (one float32 input `[batch, ..item]`, the
    /// named float32 outputs `[batch, width]`) and optimises for `batch` items per run.
    pub(crate) fn load(
        bytes: &[u8],
        sig: &'static Signature,
        batch: usize,
    ) -> Result<Self, LoadError> {
        let invalid = |e: tract_onnx::prelude::TractError| LoadError::Invalid(format!("{e:#}"));
        let batch = batch.max(1);
        let name = sig.input;
        let mut reader = bytes;
        let model = tract_onnx::onnx()
            .model_for_read(&mut reader)
            .map_err(invalid)?;
        let inputs = model.input_outlets().map_err(invalid)?.to_vec();
        let input_names: Vec<&str> = inputs
            .iter()
            .map(|o| model.node(o.node).name.as_str())
            .collect();
        if input_names != [name] {
            return Err(LoadError::Wrong(format!(
                "its inputs are {input_names:?}, expected one input \"{name}\""
            )));
        }
        let fact = model.outlet_fact(inputs[0]).map_err(invalid)?;
        if fact.datum_type.concretize() != Some(f32::datum_type()) {
            return Err(LoadError::Wrong(format!(
                "input \"{name}\" is not float32, expected float32"
            )));
        }
        let want: Vec<Option<i64>> = sig.item.iter().map(|d| Some(*d as i64)).collect();
        match dims(fact) {
            Some(d) if d.len() == want.len() + 1 && d[1..] == want[..] => {}
            other => {
                return Err(LoadError::Wrong(format!(
                    "input \"{name}\" has shape {other:?}, expected [batch, {:?}]",
                    sig.item
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
        let found = sig
            .outputs
            .iter()
            .map(|(out, _)| {
                names.iter().position(|n| n == out).ok_or_else(|| {
                    LoadError::Wrong(format!("it has no output \"{out}\" (outputs: {names:?})"))
                })
            })
            .collect::<Result<Vec<usize>, LoadError>>()?;
        let typed = model
            .with_input_fact(0, f32::fact(sig.shape(batch)).into())
            .map_err(invalid)?
            .into_optimized()
            .map_err(invalid)?;
        for (&ix, (out, width)) in found.iter().zip(sig.outputs) {
            let outlet = typed.output_outlets().map_err(invalid)?[ix];
            let fact = typed.outlet_fact(outlet).map_err(invalid)?;
            let shape: Vec<Option<usize>> = fact.shape.iter().map(|d| d.to_usize().ok()).collect();
            if fact.datum_type != f32::datum_type() || shape != [Some(batch), Some(*width)] {
                return Err(LoadError::Wrong(format!(
                    "output \"{out}\" is {:?} {shape:?}, expected float32 [batch, {width}]",
                    fact.datum_type
                )));
            }
        }
        let plan = typed.into_runnable().map_err(invalid)?;
        Ok(TractPlan {
            plan,
            outputs: found,
            sig,
            batch,
        })
    }

    /// Items per run.
    pub(crate) fn batch(&self) -> usize {
        self.batch
    }

    /// Runs exactly [`batch`](Self::batch) items (`items` holds `batch × item size` values);
    /// appends each output's rows to `dst` (one vector per signature output).
    pub(crate) fn run(&self, items: &[f32], dst: &mut [Vec<f32>]) -> Result<(), String> {
        let input =
            Tensor::from_shape(&self.sig.shape(self.batch), items).map_err(|e| format!("{e:#}"))?;
        let out = self
            .plan
            .run(tvec!(input.into_tvalue()))
            .map_err(|e| format!("{e:#}"))?;
        for ((&ix, (_, width)), dst) in self.outputs.iter().zip(self.sig.outputs).zip(dst) {
            let t: &Tensor = out.get(ix).ok_or_else(|| format!("output {ix} missing"))?;
            let rows = t
                .to_plain_array_view::<f32>()
                .map_err(|e| format!("{e:#}"))?;
            if rows.len() != width * self.batch {
                return Err(format!(
                    "an output has {} values, expected {}",
                    rows.len(),
                    width * self.batch
                ));
            }
            dst.extend(rows.iter().copied());
        }
        Ok(())
    }
}
