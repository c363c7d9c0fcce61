//! [`MusicnnEmbedder`]: both networks loaded on the active runtime, run on a song's patches.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;

use songrec_audio::{Analysis, AudioError, Embedder, MonoAudio};

use super::check::{
    SELF_CHECK_TOLERANCE, read_model, reference_penultimate_row0, reference_signal,
};
use super::config::MusicnnConfig;
use super::model::{
    MUSICNN_DECODE, MUSICNN_DIM, MUSICNN_NAME, MUSICNN_VERSION, N_TAGS, PENULTIMATE_DIM, SIGNATURE,
};
use super::native::NativeMusicnn;
use super::output::{ModelOutput, Net, NeuralAnalysis};
use super::pooling::{pool_outputs, split_patches};
use crate::error::{NeuralError, NeuralResult};
use crate::kernels::path::check_path;
use crate::network::{Network, whole_items};
use crate::patches::{Cut, MODEL_RATE, PATCH_LEN, ShortClip, cut};
use crate::runtime::{ActiveRuntime, activate};

/// The musicnn embedder (name `musicnn`, version [`MUSICNN_VERSION`], dim 400).
///
/// Per song: up to `patches` evenly spaced 3.008 s patches at 16 kHz ([`crate::patches`]);
/// **MSD_musicnn** runs on the even-numbered ones and **MTT_musicnn** on the odd-numbered ones
/// (both on a lone patch). Each network's `penultimate` is averaged over its patches and
/// L2-normalised; the vector is the two halves scaled by 1/√2 (see [`pool_outputs`]).
/// Deterministic; thread-safe (`&self`; ONNX Runtime gives each concurrent call its own session).
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
    msd: Engine,
    mtt: Engine,
    patches: usize,
    short_clip: ShortClip,
}

impl std::fmt::Debug for MusicnnEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MusicnnEmbedder")
            .field("runtime", &self.runtime.describe())
            .field("msd", &self.msd.label())
            .field("mtt", &self.mtt.label())
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
        let load = |net: Net, path: &Option<PathBuf>| -> NeuralResult<Engine> {
            let (model, label): (Cow<'static, [u8]>, String) = match path {
                None => (
                    Cow::Borrowed(net.bundled().0),
                    format!("the built-in {} musicnn model", net.name().to_uppercase()),
                ),
                Some(p) => (Cow::Owned(read_model(p)?), p.display().to_string()),
            };
            if cfg.kernels.is_own() {
                // On either runtime (faster than both on one core); a graph of another
                // structure (an override) runs on the runtime itself.
                check_path(cfg.kernels)?;
                if let Ok(native) = NativeMusicnn::load(&model, cfg.int8.then_some(cfg.kernels)) {
                    return Ok(Engine::Native {
                        net: Box::new(native),
                        model,
                        label,
                    });
                }
            }
            Network::load(
                model,
                label,
                &SIGNATURE,
                &runtime,
                cfg.max_sessions,
                cfg.intra_threads,
                1,
            )
            .map(Engine::Graph)
        };
        let msd = load(Net::Msd, &cfg.model)?;
        let mtt = load(Net::Mtt, &cfg.mtt_model)?;
        let e = MusicnnEmbedder {
            runtime,
            msd,
            mtt,
            patches: cfg.patches.max(1),
            short_clip: cfg.short_clip,
        };
        for (net, path) in [(Net::Msd, &cfg.model), (Net::Mtt, &cfg.mtt_model)] {
            if path.is_some() {
                e.self_check(net)?;
            }
        }
        Ok(e)
    }

    fn network(&self, net: Net) -> &Engine {
        match net {
            Net::Msd => &self.msd,
            Net::Mtt => &self.mtt,
        }
    }

    /// Runs an override model on the reference signal and compares with the built-in one's
    /// expected output.
    fn self_check(&self, net: Net) -> NeuralResult<()> {
        let n = self.network(net);
        let reference = reference_penultimate_row0(net.bundled().1).ok_or_else(|| {
            NeuralError::RuntimeInit {
                runtime: self.runtime.describe(),
                reason: "the built-in expected outputs are unreadable".into(),
            }
        })?;
        let signal = reference_signal();
        let out = match n {
            // The reference is float32's: an int8 front end is checked by its float32 form.
            Engine::Native {
                net: native, model, ..
            } if native.is_int8() => {
                let f32_net =
                    NativeMusicnn::load(model, None).map_err(|reason| NeuralError::WrongModel {
                        model: n.label().to_string(),
                        reason,
                    })?;
                let mut out = ModelOutput {
                    patches: 1,
                    penultimate: Vec::new(),
                    taggram: Vec::new(),
                };
                f32_net.run(&signal[..PATCH_LEN], &mut out.penultimate, &mut out.taggram);
                out
            }
            _ => self.run_net(net, &signal[..PATCH_LEN])?,
        };
        let diff = out
            .penultimate
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        if diff.is_nan() || diff > SELF_CHECK_TOLERANCE {
            let which = format!("{}_musicnn", net.name().to_uppercase());
            return Err(NeuralError::WrongModel {
                model: n.label().to_string(),
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

    /// ONNX Runtime sessions created so far for the MSD network (grows up to the number of
    /// concurrent callers); 1 with tract, whose one immutable plan serves every thread.
    pub fn sessions(&self) -> usize {
        match &self.msd {
            Engine::Graph(n) => n.sessions(),
            Engine::Native { .. } => 1,
        }
    }

    /// What runs the networks: songrec's own kernels (the built-in graphs, on every kernel path
    /// but tract) or the runtime itself.
    pub fn engine(&self) -> String {
        match &self.msd {
            Engine::Native { net, .. } if net.is_int8() => {
                format!("songrec kernels, int8 ({})", net.path())
            }
            Engine::Native { .. } => "songrec kernels".into(),
            Engine::Graph(_) => self.runtime.describe(),
        }
    }

    /// Whether the networks' front ends run in int8 ([`MusicnnConfig::int8`] on songrec's
    /// own kernels).
    pub fn is_int8(&self) -> bool {
        matches!(&self.msd, Engine::Native { net, .. } if net.is_int8())
    }

    /// Runs MSD_musicnn on `wave` (see [`run_net`](Self::run_net)).
    pub fn run_batch(&self, wave: &[f32]) -> NeuralResult<ModelOutput> {
        self.run_net(Net::Msd, wave)
    }

    /// Runs one network on `wave` = whole patches of [`PATCH_LEN`] samples each: in one call
    /// on ONNX Runtime, one patch after the other on songrec's kernels or tract (its fastest
    /// way, see `tract_plan`).
    pub fn run_net(&self, net: Net, wave: &[f32]) -> NeuralResult<ModelOutput> {
        let network = match self.network(net) {
            Engine::Graph(n) => n,
            Engine::Native { net: native, .. } => {
                let patches = whole_items(wave, PATCH_LEN, "patches", || self.engine())?;
                let mut out = ModelOutput {
                    patches: patches.len(),
                    penultimate: Vec::with_capacity(patches.len() * PENULTIMATE_DIM),
                    taggram: Vec::with_capacity(patches.len() * N_TAGS),
                };
                for patch in patches {
                    native.run(patch, &mut out.penultimate, &mut out.taggram);
                }
                return Ok(out);
            }
        };
        let mut out = network.run(wave)?.into_iter();
        let (Some(penultimate), Some(taggram)) = (out.next(), out.next()) else {
            return Err(NeuralError::Inference {
                runtime: self.runtime.describe(),
                reason: "the network returned fewer outputs than asked for".into(),
            });
        };
        Ok(ModelOutput {
            patches: wave.len() / PATCH_LEN,
            penultimate,
            taggram,
        })
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
        Ok(self.pool(&c, &msd, &mtt))
    }

    /// The song's vector and tags from the two networks' outputs on the patches of `c`.
    pub fn pool(&self, c: &Cut, msd: &ModelOutput, mtt: &ModelOutput) -> NeuralAnalysis {
        let mut a = pool_outputs(msd, mtt, c.real_samples as f32 / MODEL_RATE as f32);
        a.patches = c.patches;
        a
    }

    /// FLOPs of one patch through MSD and through MTT (counted by tract on the graphs).
    pub fn flops_per_patch(&self) -> NeuralResult<[f64; 2]> {
        Ok([self.msd.flops_per_item()?, self.mtt.flops_per_item()?])
    }
}

/// How one network runs.
enum Engine {
    /// songrec's own kernels ([`NativeMusicnn`]), with the graph they were read from.
    Native {
        net: Box<NativeMusicnn>,
        model: Cow<'static, [u8]>,
        label: String,
    },
    /// The active runtime on the graph.
    Graph(Network),
}

impl Engine {
    fn label(&self) -> &str {
        match self {
            Engine::Native { label, .. } => label,
            Engine::Graph(n) => &n.label,
        }
    }

    fn flops_per_item(&self) -> NeuralResult<f64> {
        match self {
            Engine::Graph(n) => n.flops_per_item(),
            Engine::Native { model, label, .. } => {
                crate::network::count_flops(model, label, &SIGNATURE)
            }
        }
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
        let analysed = self
            .analyze(audio)
            .map(|a| (a.embedding, a.tags, a.sound_tags));
        crate::network::song_analysis(MUSICNN_NAME, analysed)
    }
}
