//! One ONNX network on the active runtime, shared by the embedders: its signature, the tract
//! plan or the pool of ONNX Runtime sessions, and running a batch of items on either. tract is
//! there only with the `tract` feature; without it a graph asked of tract is
//! [`NeuralError::TractNotBuilt`].

use std::borrow::Cow;
use std::sync::Arc;

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::{TensorRef, ValueType};

use crate::error::{NeuralError, NeuralResult};
use crate::pool::Pool;
use crate::runtime::{ActiveRuntime, Runtime, catch_panic};
use crate::signature::Signature;
#[cfg(feature = "tract")]
use crate::tract_plan::{LoadError, TractPlan};

/// One network, loaded on the active runtime.
pub(crate) struct Network {
    model: Cow<'static, [u8]>,
    pub label: String,
    sig: &'static Signature,
    runtime: Arc<ActiveRuntime>,
    intra_threads: usize,
    /// ONNX Runtime sessions (empty with tract).
    pool: Pool,
    /// The tract plan (tract only).
    #[cfg(feature = "tract")]
    tract: Option<TractPlan>,
}

impl Network {
    /// Loads `model` for `runtime`: the tract plan (optimised for `tract_batch` items per run),
    /// or a first ONNX Runtime session (so the model is checked now, not on the first song).
    /// `max_sessions` 0: one per core.
    pub fn load(
        model: Cow<'static, [u8]>,
        label: String,
        sig: &'static Signature,
        runtime: &Arc<ActiveRuntime>,
        max_sessions: usize,
        intra_threads: usize,
        tract_batch: usize,
    ) -> NeuralResult<Self> {
        #[cfg(feature = "tract")]
        let tract = match runtime.runtime() {
            Runtime::Tract => Some(load_tract(&model, &label, runtime, sig, tract_batch)?),
            Runtime::OnnxRuntime { .. } => None,
        };
        #[cfg(not(feature = "tract"))]
        {
            let _ = tract_batch;
            if *runtime.runtime() == Runtime::Tract {
                return Err(no_tract(&model, label));
            }
        }
        let n = Network {
            model,
            label,
            sig,
            runtime: Arc::clone(runtime),
            intra_threads: intra_threads.max(1),
            pool: Pool::new(match max_sessions {
                0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
                n => n,
            }),
            #[cfg(feature = "tract")]
            tract,
        };
        if !n.on_tract() {
            drop(n.pool.acquire(|| n.new_session())?);
        }
        Ok(n)
    }

    /// Sessions created so far (1 with tract, whose one immutable plan serves every thread).
    pub fn sessions(&self) -> usize {
        if self.on_tract() {
            1
        } else {
            self.pool.sessions()
        }
    }

    /// Whether tract runs this network.
    #[cfg(feature = "tract")]
    fn on_tract(&self) -> bool {
        self.tract.is_some()
    }

    /// Whether tract runs this network: never without the `tract` feature.
    #[cfg(not(feature = "tract"))]
    fn on_tract(&self) -> bool {
        false
    }

    /// FLOPs of one item through this network ([`crate::profile`]).
    pub fn flops_per_item(&self) -> NeuralResult<f64> {
        count_flops(&self.model, &self.label, self.sig)
    }

    fn new_session(&self) -> NeuralResult<Session> {
        let invalid = |reason: String| NeuralError::InvalidModel {
            model: self.label.clone(),
            runtime: self.runtime.describe(),
            reason,
        };
        let init = |reason: String| NeuralError::RuntimeInit {
            runtime: self.runtime.describe(),
            reason,
        };
        let env = self
            .runtime
            .env
            .as_ref()
            .ok_or_else(|| init("tract has no ONNX Runtime sessions".into()))?;
        let session = catch_panic("creating a session", || {
            Session::builder(env)
                .map_err(|e| init(e.to_string()))?
                .with_optimization_level(GraphOptimizationLevel::All)
                .map_err(|e| init(e.to_string()))?
                .with_intra_threads(self.intra_threads)
                .map_err(|e| init(e.to_string()))?
                .with_inter_threads(1)
                .map_err(|e| init(e.to_string()))?
                .commit_from_memory(&self.model)
                .map_err(|e| invalid(e.to_string()))
        })
        .map_err(invalid)??;
        verify_signature(&session, &self.label, self.sig)?;
        Ok(session)
    }

    /// Runs the network on `data` = whole items; returns each signature output's rows
    /// (row-major `[items, width]`). One call on ONNX Runtime; tract runs its plan's batch
    /// after batch (a last partial batch is padded with zeros and its extra rows dropped).
    pub fn run(&self, data: &[f32]) -> NeuralResult<Vec<Vec<f32>>> {
        let item = self.sig.item_len();
        let n = whole_items(data, item, "items", || self.runtime.describe())?.len();
        let fail = |reason: String| NeuralError::Inference {
            runtime: self.runtime.describe(),
            reason,
        };
        let outs = self.sig.outputs;
        #[cfg(feature = "tract")]
        if let Some(plan) = &self.tract {
            let b = plan.batch();
            let mut dst: Vec<Vec<f32>> = outs
                .iter()
                .map(|(_, w)| Vec::with_capacity(n.next_multiple_of(b) * w))
                .collect();
            let mut padded = Vec::new();
            for chunk in data.chunks(b * item) {
                let chunk = if chunk.len() == b * item {
                    chunk
                } else {
                    padded.clear();
                    padded.extend_from_slice(chunk);
                    padded.resize(b * item, 0.0);
                    &padded
                };
                catch_panic("running the model", || plan.run(chunk, &mut dst))
                    .map_err(fail)?
                    .map_err(fail)?;
            }
            for (d, (_, w)) in dst.iter_mut().zip(outs) {
                d.truncate(n * w);
            }
            return Ok(dst);
        }
        let mut lease = self.pool.acquire(|| self.new_session())?;
        let shape = self.sig.shape(n);
        let result = catch_panic("running the model", || -> NeuralResult<Vec<Vec<f32>>> {
            let input =
                TensorRef::from_array_view((shape, data)).map_err(|e| fail(e.to_string()))?;
            let outputs = lease
                .session()
                .run(ort::inputs![self.sig.input => input])
                .map_err(|e| fail(e.to_string()))?;
            outs.iter()
                .map(|(name, width)| {
                    let v = outputs
                        .get(name)
                        .ok_or_else(|| fail(format!("no output {name:?}")))?;
                    let (shape, data) = v
                        .try_extract_tensor::<f32>()
                        .map_err(|e| fail(e.to_string()))?;
                    let dims: Vec<i64> = shape.iter().copied().collect();
                    if dims != [n as i64, *width as i64] {
                        return Err(fail(format!(
                            "output {name:?} has shape {dims:?}, expected [{n}, {width}]"
                        )));
                    }
                    Ok(data.to_vec())
                })
                .collect()
        });
        match result {
            Ok(r) => r,
            Err(panic) => {
                lease.discard();
                Err(fail(panic))
            }
        }
    }
}

/// `data` cut into its `item`-value items (`what`, e.g. "patches"), or the error of a batch
/// that is empty or not a whole number of them, naming `runtime`.
pub(crate) fn whole_items<'a>(
    data: &'a [f32],
    item: usize,
    what: &str,
    runtime: impl FnOnce() -> String,
) -> NeuralResult<std::slice::ChunksExact<'a, f32>> {
    if data.is_empty() || !data.len().is_multiple_of(item) {
        return Err(NeuralError::Inference {
            runtime: runtime(),
            reason: format!(
                "the batch has {} values, not a whole number of {item}-value {what}",
                data.len()
            ),
        });
    }
    Ok(data.chunks_exact(item))
}

/// FLOPs of one item through `model` ([`crate::profile`]: counted by tract on the graph with
/// the `tract` feature, from the graph's shapes by songrec's reader without it).
pub(crate) fn count_flops(model: &[u8], label: &str, sig: &Signature) -> NeuralResult<f64> {
    catch_panic("counting the model's work", || {
        crate::profile::flops_per_item(model, sig)
    })
    .and_then(|r| r)
    .map_err(|reason| NeuralError::InvalidModel {
        model: label.into(),
        runtime: if cfg!(feature = "tract") {
            "tract"
        } else {
            "songrec's ONNX reader"
        }
        .into(),
        reason,
    })
}

/// Why `model` cannot run in a build without tract: not an ONNX model at all (songrec's reader
/// says why), or a graph songrec's kernels do not run ([`NeuralError::TractNotBuilt`]).
#[cfg(not(feature = "tract"))]
fn no_tract(model: &[u8], label: String) -> NeuralError {
    match crate::onnx::read(model) {
        Err(reason) => NeuralError::InvalidModel {
            model: label,
            runtime: "songrec's ONNX reader".into(),
            reason,
        },
        Ok(_) => NeuralError::TractNotBuilt { model: label },
    }
}

fn check_tensor(model: &str, what: &str, ty: &ValueType, want: &[usize]) -> NeuralResult<()> {
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
            let rest: Vec<i64> = want.iter().map(|d| *d as i64).collect();
            if dims.len() != want.len() + 1 || dims[1..] != rest[..] || dims[0] > 1 {
                return Err(wrong(format!(
                    "{what} has shape {dims:?}, expected [batch, {want:?}]"
                )));
            }
            Ok(())
        }
        other => Err(wrong(format!("{what} is a {other}, expected a tensor"))),
    }
}

/// Checks names, types and shapes of the model's inputs and outputs against `sig`.
fn verify_signature(session: &Session, model: &str, sig: &Signature) -> NeuralResult<()> {
    let inputs = session.inputs();
    if inputs.len() != 1 || inputs[0].name() != sig.input {
        let names: Vec<&str> = inputs.iter().map(|o| o.name()).collect();
        return Err(NeuralError::WrongModel {
            model: model.to_string(),
            reason: format!(
                "its inputs are {names:?}, expected one input \"{}\"",
                sig.input
            ),
        });
    }
    let what = format!("input \"{}\"", sig.input);
    check_tensor(model, &what, inputs[0].dtype(), sig.item)?;
    for (name, width) in sig.outputs {
        let Some(o) = session.outputs().iter().find(|o| o.name() == *name) else {
            let names: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
            return Err(NeuralError::WrongModel {
                model: model.to_string(),
                reason: format!("it has no output \"{name}\" (outputs: {names:?})"),
            });
        };
        check_tensor(model, &format!("output \"{name}\""), o.dtype(), &[*width])?;
    }
    Ok(())
}

#[cfg(feature = "tract")]
fn load_tract(
    model: &[u8],
    label: &str,
    runtime: &ActiveRuntime,
    sig: &'static Signature,
    batch: usize,
) -> NeuralResult<TractPlan> {
    let invalid = |reason: String| NeuralError::InvalidModel {
        model: label.to_string(),
        runtime: runtime.describe(),
        reason,
    };
    match catch_panic("loading the model", || TractPlan::load(model, sig, batch))
        .map_err(invalid)?
    {
        Ok(p) => Ok(p),
        Err(LoadError::Invalid(reason)) => Err(invalid(reason)),
        Err(LoadError::Wrong(reason)) => Err(NeuralError::WrongModel {
            model: label.to_string(),
            reason,
        }),
    }
}

/// Style and sound tags with their probabilities.
pub(crate) type Tags = Vec<(String, f32)>;

/// What neural embedder `name` gives the audio crate for one song: its vector and its style and
/// sound tags, or its error; tempo, key and spectral descriptors come from the DSP analysis.
pub(crate) fn song_analysis(
    name: &str,
    analysed: NeuralResult<(Vec<f32>, Tags, Tags)>,
) -> Result<songrec_audio::Analysis, songrec_audio::AudioError> {
    let (vector, tags, sound_tags) = analysed.map_err(|e| songrec_audio::AudioError::Embed {
        embedder: name.into(),
        reason: e.to_string(),
    })?;
    Ok(songrec_audio::Analysis {
        vector,
        bpm: None,
        key: None,
        descriptors: songrec_audio::Descriptors::default(),
        tags,
        sound_tags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without tract, a graph asked of it is a typed error naming the feature; bytes that are
    /// no model at all say so.
    #[cfg(not(feature = "tract"))]
    #[test]
    fn a_graph_asked_of_tract_is_a_typed_error_without_it() {
        let rt = crate::runtime::activate(&Runtime::Tract).unwrap();
        let load = |bytes: &'static [u8]| {
            Network::load(
                Cow::Borrowed(bytes),
                "the test model".into(),
                &crate::aisfx::SIGNATURE,
                &rt,
                1,
                1,
                1,
            )
            .err()
            .unwrap()
        };
        let e = load(crate::aisfx::INT8_MODEL);
        assert!(matches!(e, NeuralError::TractNotBuilt { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("--features tract") && msg.contains("SONGREC_ORT_LIBRARY"),
            "{msg}"
        );
        let e = load(b"\x3a\xff\xff\xff\x0f");
        assert!(matches!(e, NeuralError::InvalidModel { .. }), "{e}");
    }

    #[test]
    fn flops_are_counted_on_either_build() {
        let f = count_flops(
            crate::aisfx::TEXTURE_MODEL,
            "texture",
            &crate::aisfx::TEXTURE_SIGNATURE,
        )
        .unwrap();
        assert!((3.18e9..3.19e9).contains(&f), "{f}");
        let e = count_flops(b"no model", "junk", &crate::aisfx::SIGNATURE).unwrap_err();
        assert!(matches!(e, NeuralError::InvalidModel { .. }), "{e}");
    }
}
