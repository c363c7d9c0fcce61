//! [`MusicnnEmbedder`]: both networks loaded on the active runtime, run on a song's patches.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::TensorRef;
use songrec_audio::{Analysis, AudioError, Descriptors, Embedder, MonoAudio};

use super::check::{
    SELF_CHECK_TOLERANCE, load_tract, read_model, reference_penultimate_row0, reference_signal,
    verify_signature,
};
use super::pool::Pool;
use super::pooling::{pool_outputs, split_patches};
use super::{
    MUSICNN_DECODE, MUSICNN_DIM, MUSICNN_NAME, MUSICNN_VERSION, ModelOutput, MusicnnConfig, N_TAGS,
    Net, NeuralAnalysis, PENULTIMATE_DIM,
};
use crate::error::{NeuralError, NeuralResult};
use crate::patches::{Cut, MODEL_RATE, PATCH_LEN, ShortClip, cut};
use crate::runtime::{ActiveRuntime, Runtime, activate, catch_panic};
use crate::tract_plan::TractPlan;

/// One network, loaded on the active runtime.
struct Network {
    model: Cow<'static, [u8]>,
    label: String,
    /// ONNX Runtime sessions (empty with tract).
    pool: Pool,
    /// The tract plan (tract only).
    tract: Option<TractPlan>,
}

/// The musicnn embedder (name `musicnn`, version [`MUSICNN_VERSION`], dim 400).
///
/// Per song: resample to 16 kHz mono and cut up to `patches` evenly spaced 3.008 s patches
/// ([`crate::patches`]; shorter clips are zero-padded to one patch). **MSD_musicnn** runs on
/// the even-numbered patches and **MTT_musicnn** on the odd-numbered ones (both on the only
/// patch of a short clip), so the two networks together cost what one costs on all patches.
/// Each network's `penultimate` is averaged over its patches and L2-normalised; the vector is
/// the two halves concatenated and scaled by 1/√2 (unit length, cosine = mean of the two
/// cosines). The MSD `taggram` mean gives the 50 style tags. Deterministic for a given input.
///
/// Thread-safe: `embed`/`analyze` take `&self` and may be called from many rayon workers;
/// tract shares one immutable plan per network, ONNX Runtime gives each concurrent call its own
/// session from a small pool.
///
/// ```no_run
/// use songrec_neural::{MusicnnConfig, MusicnnEmbedder};
/// let e = MusicnnEmbedder::new(&MusicnnConfig::default())?;
/// let a = e.analyze(&songrec_audio::MonoAudio::from_samples(vec![0.0; 16_000], 16_000))?;
/// assert_eq!(a.embedding.len(), 400);
/// # Ok::<(), songrec_neural::NeuralError>(())
/// ```
pub struct MusicnnEmbedder {
    runtime: Arc<ActiveRuntime>,
    msd: Network,
    mtt: Network,
    patches: usize,
    short_clip: ShortClip,
    intra_threads: usize,
}

impl std::fmt::Debug for MusicnnEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MusicnnEmbedder")
            .field("runtime", &self.runtime.describe())
            .field("msd", &self.msd.label)
            .field("mtt", &self.mtt.label)
            .field("patches", &self.patches)
            .field("short_clip", &self.short_clip)
            .finish()
    }
}

impl MusicnnEmbedder {
    /// Starts the runtime (once per process), loads and verifies both networks and creates
    /// their first sessions. Every failure is one [`NeuralError`] variant; nothing panics.
    pub fn new(cfg: &MusicnnConfig) -> NeuralResult<Self> {
        let runtime = activate(&cfg.runtime)?;
        let max = if cfg.max_sessions == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            cfg.max_sessions
        };
        let load = |net: Net, path: &Option<PathBuf>| -> NeuralResult<Network> {
            let (model, label): (Cow<'static, [u8]>, String) = match path {
                None => (
                    Cow::Borrowed(net.bundled().0),
                    format!("the built-in {} musicnn model", net.name().to_uppercase()),
                ),
                Some(p) => (Cow::Owned(read_model(p)?), p.display().to_string()),
            };
            let tract = match &cfg.runtime {
                Runtime::Tract => Some(load_tract(&model, &label, &runtime)?),
                Runtime::OnnxRuntime { .. } => None,
            };
            Ok(Network {
                model,
                label,
                pool: Pool::new(max),
                tract,
            })
        };
        let msd = load(Net::Msd, &cfg.model)?;
        let mtt = load(Net::Mtt, &cfg.mtt_model)?;
        let e = MusicnnEmbedder {
            runtime,
            msd,
            mtt,
            patches: cfg.patches.max(1),
            short_clip: cfg.short_clip,
            intra_threads: cfg.intra_threads.max(1),
        };
        for (net, path) in [(Net::Msd, &cfg.model), (Net::Mtt, &cfg.mtt_model)] {
            let n = e.network(net);
            // First session now: the model is checked here, not on the first song.
            if n.tract.is_none() {
                let lease = n.pool.acquire(|| e.new_session(n))?;
                drop(lease);
            }
            if path.is_some() {
                e.self_check(net)?;
            }
        }
        Ok(e)
    }

    fn network(&self, net: Net) -> &Network {
        match net {
            Net::Msd => &self.msd,
            Net::Mtt => &self.mtt,
        }
    }

    fn runtime_name(&self) -> String {
        self.runtime.describe()
    }

    fn new_session(&self, n: &Network) -> NeuralResult<Session> {
        let rt = self.runtime.runtime().clone();
        let invalid = |reason: String| NeuralError::InvalidModel {
            model: n.label.clone(),
            runtime: self.runtime_name(),
            reason,
        };
        let init = |reason: String| NeuralError::RuntimeInit {
            runtime: self.runtime_name(),
            reason,
        };
        let env = self
            .runtime
            .env
            .as_ref()
            .ok_or_else(|| init("tract has no ONNX Runtime sessions".into()))?;
        let session = catch_panic("creating a session", || {
            let mut b = Session::builder(env)
                .map_err(|e| init(e.to_string()))?
                .with_optimization_level(GraphOptimizationLevel::All)
                .map_err(|e| init(e.to_string()))?;
            if let Runtime::OnnxRuntime { .. } = rt {
                b = b
                    .with_intra_threads(self.intra_threads)
                    .map_err(|e| init(e.to_string()))?
                    .with_inter_threads(1)
                    .map_err(|e| init(e.to_string()))?;
            }
            b.commit_from_memory(&n.model)
                .map_err(|e| invalid(e.to_string()))
        })
        .map_err(invalid)??;
        verify_signature(&session, &n.label)?;
        Ok(session)
    }

    /// Runs an override model on the reference signal and compares with the built-in one's
    /// expected output.
    fn self_check(&self, net: Net) -> NeuralResult<()> {
        let n = self.network(net);
        let reference = reference_penultimate_row0(net.bundled().1).ok_or_else(|| {
            NeuralError::RuntimeInit {
                runtime: self.runtime_name(),
                reason: "the built-in expected outputs are unreadable".into(),
            }
        })?;
        let signal = reference_signal();
        let out = self.run_net(net, &signal[..PATCH_LEN])?;
        let diff = out
            .penultimate
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        if diff.is_nan() || diff > SELF_CHECK_TOLERANCE {
            let which = match net {
                Net::Msd => "MSD_musicnn",
                Net::Mtt => "MTT_musicnn",
            };
            return Err(NeuralError::WrongModel {
                model: n.label.clone(),
                reason: format!(
                    "on the reference signal its penultimate output differs from {which}'s by {diff:.3e} (tolerance {SELF_CHECK_TOLERANCE:e})"
                ),
            });
        }
        Ok(())
    }

    /// The runtime this embedder runs on.
    pub fn runtime(&self) -> &ActiveRuntime {
        &self.runtime
    }

    /// Maximum patches per song.
    pub fn max_patches(&self) -> usize {
        self.patches
    }

    /// ONNX Runtime sessions created so far for the MSD network (grows up to the number of
    /// concurrent callers); 1 with tract, whose one immutable plan serves every thread.
    pub fn sessions(&self) -> usize {
        if self.msd.tract.is_some() {
            1
        } else {
            self.msd.pool.sessions()
        }
    }

    /// Runs MSD_musicnn on `wave` (see [`run_net`](Self::run_net)).
    pub fn run_batch(&self, wave: &[f32]) -> NeuralResult<ModelOutput> {
        self.run_net(Net::Msd, wave)
    }

    /// Runs one network on `wave` = whole patches of [`PATCH_LEN`] samples each: in one call
    /// on ONNX Runtime, one patch after the other on tract (its fastest way, see
    /// `tract_plan`).
    pub fn run_net(&self, net: Net, wave: &[f32]) -> NeuralResult<ModelOutput> {
        let n = wave.len() / PATCH_LEN;
        if n == 0 || !wave.len().is_multiple_of(PATCH_LEN) {
            return Err(NeuralError::Inference {
                runtime: self.runtime_name(),
                reason: format!(
                    "the batch has {} samples, not a whole number of {PATCH_LEN}-sample patches",
                    wave.len()
                ),
            });
        }
        let fail = |reason: String| NeuralError::Inference {
            runtime: self.runtime_name(),
            reason,
        };
        let network = self.network(net);
        if let Some(plan) = &network.tract {
            let mut penultimate = Vec::with_capacity(n * PENULTIMATE_DIM);
            let mut taggram = Vec::with_capacity(n * N_TAGS);
            for patch in wave.chunks_exact(PATCH_LEN) {
                catch_panic("running the model", || {
                    plan.run_patch(patch, &mut penultimate, &mut taggram)
                })
                .map_err(fail)?
                .map_err(fail)?;
            }
            return Ok(ModelOutput {
                patches: n,
                penultimate,
                taggram,
            });
        }
        let mut lease = network.pool.acquire(|| self.new_session(network))?;
        let result = catch_panic("running the model", || -> NeuralResult<ModelOutput> {
            let input = TensorRef::from_array_view(([n, PATCH_LEN], wave))
                .map_err(|e| fail(e.to_string()))?;
            let outputs = lease
                .session()
                .run(ort::inputs!["wave" => input])
                .map_err(|e| fail(e.to_string()))?;
            let get = |name: &str, width: usize| -> NeuralResult<Vec<f32>> {
                let v = outputs
                    .get(name)
                    .ok_or_else(|| fail(format!("no output {name:?}")))?;
                let (shape, data) = v
                    .try_extract_tensor::<f32>()
                    .map_err(|e| fail(e.to_string()))?;
                let dims: Vec<i64> = shape.iter().copied().collect();
                if dims != [n as i64, width as i64] {
                    return Err(fail(format!(
                        "output {name:?} has shape {dims:?}, expected [{n}, {width}]"
                    )));
                }
                Ok(data.to_vec())
            };
            let penultimate = get("penultimate", PENULTIMATE_DIM)?;
            let taggram = get("taggram", N_TAGS)?;
            Ok(ModelOutput {
                patches: n,
                penultimate,
                taggram,
            })
        });
        match result {
            Ok(r) => r,
            Err(panic) => {
                lease.discard();
                Err(fail(panic))
            }
        }
    }

    /// The 16 kHz patches this embedder feeds the model for `audio` (see [`cut`]).
    pub fn patches_for(&self, audio: &MonoAudio) -> NeuralResult<Cut> {
        cut(audio, self.patches, self.short_clip).ok_or(NeuralError::NoAudio)
    }

    /// The two networks' raw outputs on their patches of `c` ([`split_patches`]).
    pub fn run_both(&self, c: &Cut) -> NeuralResult<(ModelOutput, ModelOutput)> {
        let pick = |net: Net| -> Vec<f32> {
            let mut w = Vec::with_capacity(c.patches.div_ceil(2) * PATCH_LEN);
            for i in split_patches(c.patches, net) {
                w.extend_from_slice(&c.batch[i * PATCH_LEN..(i + 1) * PATCH_LEN]);
            }
            w
        };
        let msd = self.run_net(Net::Msd, &pick(Net::Msd))?;
        let mtt = self.run_net(Net::Mtt, &pick(Net::Mtt))?;
        Ok((msd, mtt))
    }

    /// Embedding and tags for one song.
    pub fn analyze(&self, audio: &MonoAudio) -> NeuralResult<NeuralAnalysis> {
        let c = self.patches_for(audio)?;
        let (msd, mtt) = self.run_both(&c)?;
        let mut a = pool_outputs(&msd, &mtt, c.real_samples as f32 / MODEL_RATE as f32);
        a.patches = c.patches;
        Ok(a)
    }
}

impl Embedder for MusicnnEmbedder {
    fn name(&self) -> &str {
        MUSICNN_NAME
    }

    fn version(&self) -> u32 {
        MUSICNN_VERSION
    }

    fn dim(&self) -> usize {
        MUSICNN_DIM
    }

    fn decode_options(&self) -> songrec_audio::DecodeOptions {
        MUSICNN_DECODE
    }

    fn embed(&self, audio: &MonoAudio) -> Result<Analysis, AudioError> {
        let a = self.analyze(audio).map_err(|e| AudioError::Embed {
            embedder: MUSICNN_NAME.into(),
            reason: e.to_string(),
        })?;
        Ok(Analysis {
            vector: a.embedding,
            bpm: None,
            key: None,
            // Spectral descriptors, tempo and key come from the DSP analysis.
            descriptors: Descriptors::default(),
            tags: a.tags,
            sound_tags: a.sound_tags,
        })
    }
}
