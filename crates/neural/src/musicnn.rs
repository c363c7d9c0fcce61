//! The musicnn embedder: MSD_musicnn's 200-d penultimate layer, averaged over 3 s patches.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::{TensorRef, ValueType};
use songrec_audio::{Analysis, AudioError, Descriptors, Embedder, MonoAudio};

use crate::error::{NeuralError, NeuralResult};
use crate::norm_table::{POOLED_MEAN, POOLED_STD};
use crate::patches::{Cut, MODEL_RATE, PATCH_LEN, ShortClip, cut};
use crate::runtime::{ActiveRuntime, Runtime, activate, catch_panic};
use crate::tract_plan::{LoadError, TractPlan};

/// Name under which musicnn vectors are stored.
pub const MUSICNN_NAME: &str = "musicnn";
/// Version of the musicnn vectors (bump on any change of model, patching, pooling or
/// normalisation).
///
/// * 1: the mean `penultimate` over up to 8 patches, L2-normalised; patches spread over the
///   default decode (files up to 240 s whole, longer ones as 8 excerpts of 30 s).
/// * 2: the same model and pooling; patches are cut from the DSP embedder's excerpts
///   ([`MUSICNN_DECODE`]: files up to 90 s whole, longer ones as 6 excerpts of 15 s), so a
///   default ingest decodes each file once for both embedders.
///
/// Standardising the mean per dimension with the fixed table of [`crate::norm_table`] before
/// the L2 step ([`standardise`]) was measured and not adopted: on the real-music set it scored
/// lower (p@5 0.501 vs 0.525, paired bootstrap 90 % interval of the difference
/// [-0.045, -0.004]; `scripts/eval/RESULTS.md`). Vectors of different versions are different
/// models and are never compared with each other.
pub const MUSICNN_VERSION: u32 = 2;

/// What musicnn decodes of a file: the DSP embedder's excerpt rule, so `analyze_file` decodes
/// once for both (the patches need 8 × 3 s; the excerpts hold 90 s).
pub const MUSICNN_DECODE: songrec_audio::DecodeOptions = songrec_audio::embed::DSP_DECODE;
/// Width of each network's `penultimate` layer.
pub const PENULTIMATE_DIM: usize = 200;
/// Embedding dimension: the MSD and the MTT `penultimate` means, one after the other.
pub const MUSICNN_DIM: usize = 2 * PENULTIMATE_DIM;
/// Number of tags (`taggram`).
pub const N_TAGS: usize = 50;

/// Patches per song by default.
///
/// Measured on the real-music set (`scripts/eval/build_realmusic.sh`, 12 Debian game
/// soundtracks) and on 3-minute mp3s (see the crate README section for the table): precision
/// stops improving at about 8 patches while the time per song keeps growing linearly with the
/// number of patches (each patch is 3 s of audio through the whole network).
pub const DEFAULT_PATCHES: usize = 8;

/// The model built into songrec: `models/musicnn/msd_musicnn.onnx` (ISC licence, see
/// `models/musicnn/LICENSE` and `PROVENANCE.md`).
pub static BUNDLED_MODEL: &[u8] = include_bytes!("../../../models/musicnn/msd_musicnn.onnx");

/// `models/musicnn/expected.json`: the reference signal and the model's outputs on it.
pub static EXPECTED_JSON: &str = include_str!("../../../models/musicnn/expected.json");

/// The second network built into songrec: `models/musicnn/mtt_musicnn.onnx` (`MTT_musicnn`
/// from the same wheel and licence, trained on MagnaTagATune tags).
pub static BUNDLED_MTT_MODEL: &[u8] = include_bytes!("../../../models/musicnn/mtt_musicnn.onnx");

/// `models/musicnn/mtt_expected.json`: MTT_musicnn's outputs on the reference signal.
pub static MTT_EXPECTED_JSON: &str = include_str!("../../../models/musicnn/mtt_expected.json");

/// The 50 MSD tags in output order (`models/musicnn/tags.json`).
pub const TAGS: [&str; N_TAGS] = [
    "rock",
    "pop",
    "alternative",
    "indie",
    "electronic",
    "female vocalists",
    "dance",
    "00s",
    "alternative rock",
    "jazz",
    "beautiful",
    "metal",
    "chillout",
    "male vocalists",
    "classic rock",
    "soul",
    "indie rock",
    "Mellow",
    "electronica",
    "80s",
    "folk",
    "90s",
    "chill",
    "instrumental",
    "punk",
    "oldies",
    "blues",
    "hard rock",
    "ambient",
    "acoustic",
    "experimental",
    "female vocalist",
    "guitar",
    "Hip-Hop",
    "70s",
    "party",
    "country",
    "easy listening",
    "sexy",
    "catchy",
    "funk",
    "electro",
    "heavy metal",
    "Progressive rock",
    "60s",
    "rnb",
    "indie pop",
    "sad",
    "House",
    "happy",
];

/// The 50 MagnaTagATune tags of the MTT network in output order (`models/musicnn/mtt_tags.json`).
pub const MTT_TAGS: [&str; N_TAGS] = [
    "guitar",
    "classical",
    "slow",
    "techno",
    "strings",
    "drums",
    "electronic",
    "rock",
    "fast",
    "piano",
    "ambient",
    "beat",
    "violin",
    "vocal",
    "synth",
    "female",
    "indian",
    "opera",
    "male",
    "singing",
    "vocals",
    "no vocals",
    "harpsichord",
    "loud",
    "quiet",
    "flute",
    "woman",
    "male vocal",
    "no vocal",
    "pop",
    "soft",
    "sitar",
    "solo",
    "man",
    "classic",
    "choir",
    "voice",
    "new age",
    "dance",
    "male voice",
    "female vocal",
    "beats",
    "harp",
    "cello",
    "no voice",
    "weird",
    "country",
    "metal",
    "female voice",
    "choral",
];

/// Environment variable with a model file to use instead of the built-in MSD network.
pub const ENV_MODEL: &str = "SONGREC_MUSICNN_MODEL";
/// Environment variable with a model file to use instead of the built-in MTT network.
pub const ENV_MTT_MODEL: &str = "SONGREC_MUSICNN_MTT_MODEL";

/// How to build a [`MusicnnEmbedder`].
///
/// ```
/// let c = songrec_neural::MusicnnConfig::default();
/// assert_eq!(c.runtime, songrec_neural::Runtime::Tract);
/// assert!(c.model.is_none());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MusicnnConfig {
    /// tract (default) or ONNX Runtime.
    pub runtime: Runtime,
    /// A model file instead of the built-in MSD network. It must be MSD_musicnn with the same
    /// inputs/outputs and it is checked numerically on the reference signal at load.
    pub model: Option<PathBuf>,
    /// A model file instead of the built-in MTT network (MTT_musicnn, checked the same way).
    pub mtt_model: Option<PathBuf>,
    /// Maximum patches per song.
    pub patches: usize,
    /// How audio shorter than one patch is filled.
    pub short_clip: ShortClip,
    /// Sessions kept for parallel callers (0 = one per available core).
    pub max_sessions: usize,
    /// Threads inside one ONNX Runtime session (ignored by tract, which uses one).
    pub intra_threads: usize,
}

impl Default for MusicnnConfig {
    fn default() -> Self {
        MusicnnConfig {
            runtime: Runtime::Tract,
            model: None,
            mtt_model: None,
            patches: DEFAULT_PATCHES,
            short_clip: ShortClip::default(),
            max_sessions: 0,
            intra_threads: 1,
        }
    }
}

impl MusicnnConfig {
    /// Defaults, with the runtime from `SONGREC_ORT_LIBRARY` / `ORT_DYLIB_PATH` and the models
    /// from `SONGREC_MUSICNN_MODEL` and `SONGREC_MUSICNN_MTT_MODEL`.
    pub fn from_env() -> Self {
        let path = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        MusicnnConfig {
            runtime: Runtime::from_env(),
            model: path(ENV_MODEL),
            mtt_model: path(ENV_MTT_MODEL),
            ..Self::default()
        }
    }
}

/// Raw model outputs for a batch of patches (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOutput {
    /// Number of patches.
    pub patches: usize,
    /// `[patches, 200]` ([`PENULTIMATE_DIM`]).
    pub penultimate: Vec<f32>,
    /// `[patches, 50]`, sigmoid probabilities.
    pub taggram: Vec<f32>,
}

/// What musicnn says about one song.
///
/// ```
/// let a = songrec_neural::NeuralAnalysis { embedding: vec![1.0], pooled: vec![2.0],
///     tags: vec![("rock".into(), 0.9)], sound_tags: vec![("piano".into(), 0.8)], patches: 1,
///     analysed_secs: 3.0 };
/// assert_eq!(a.top_tags(1)[0].0, "rock");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NeuralAnalysis {
    /// The stored vector (400-d): the MSD and MTT halves of [`pooled`](Self::pooled), each
    /// L2-normalised, times 1/√2; compare by cosine.
    pub embedding: Vec<f32>,
    /// Mean `penultimate` over each network's patches, before any normalisation: MSD's 200
    /// values then MTT's ([`pooled_penultimate`]; the normalisation table was measured on
    /// MSD's).
    pub pooled: Vec<f32>,
    /// MSD's mean tag probability over its patches, all 50 tags, most probable first.
    pub tags: Vec<(String, f32)>,
    /// MTT's mean tag probability over its patches, all 50 [`MTT_TAGS`], most probable first.
    pub sound_tags: Vec<(String, f32)>,
    /// Patches cut from the audio (each through one network; a lone patch through both).
    pub patches: usize,
    /// Seconds of audio the patches cover (without padding).
    pub analysed_secs: f32,
}

impl NeuralAnalysis {
    /// The `k` most probable tags.
    pub fn top_tags(&self, k: usize) -> &[(String, f32)] {
        &self.tags[..k.min(self.tags.len())]
    }
}

/// A small pool of sessions: `Session::run` needs `&mut`, and tract serialises runs of one
/// session anyway, so parallel callers each get their own session (created on first need, at
/// most `max`), instead of queueing on one mutex.
struct Pool {
    state: Mutex<PoolState>,
    cv: Condvar,
    max: usize,
}

struct PoolState {
    free: Vec<Session>,
    created: usize,
}

struct Lease<'a> {
    pool: &'a Pool,
    session: Option<Session>,
}

impl Lease<'_> {
    fn session(&mut self) -> &mut Session {
        self.session
            .as_mut()
            .expect("a lease holds its session until dropped")
    }

    /// Throws the session away (after a panic inside the runtime).
    fn discard(mut self) {
        if self.session.take().is_some() {
            let mut st = self.pool.lock();
            st.created -= 1;
            self.pool.cv.notify_one();
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            self.pool.lock().free.push(s);
            self.pool.cv.notify_one();
        }
    }
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn acquire(&self, make: impl Fn() -> NeuralResult<Session>) -> NeuralResult<Lease<'_>> {
        let mut st = self.lock();
        loop {
            if let Some(s) = st.free.pop() {
                return Ok(Lease {
                    pool: self,
                    session: Some(s),
                });
            }
            if st.created < self.max {
                st.created += 1;
                drop(st);
                return match make() {
                    Ok(s) => Ok(Lease {
                        pool: self,
                        session: Some(s),
                    }),
                    Err(e) => {
                        self.lock().created -= 1;
                        self.cv.notify_one();
                        Err(e)
                    }
                };
            }
            st = self.cv.wait(st).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn sessions(&self) -> usize {
        self.lock().created
    }
}

/// Which of the two networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Net {
    /// `MSD_musicnn` (last.fm tags of the Million Song Dataset: genre, style, era).
    Msd,
    /// `MTT_musicnn` (MagnaTagATune tags: instruments, voice, tempo, mood).
    Mtt,
}

impl Net {
    /// "msd" or "mtt".
    pub fn name(self) -> &'static str {
        match self {
            Net::Msd => "msd",
            Net::Mtt => "mtt",
        }
    }

    fn bundled(self) -> (&'static [u8], &'static str) {
        match self {
            Net::Msd => (BUNDLED_MODEL, EXPECTED_JSON),
            Net::Mtt => (BUNDLED_MTT_MODEL, MTT_EXPECTED_JSON),
        }
    }
}

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

fn read_model(path: &Path) -> NeuralResult<Vec<u8>> {
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
fn verify_signature(session: &Session, model: &str) -> NeuralResult<()> {
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
fn reference_penultimate_row0(expected: &str) -> Option<Vec<f32>> {
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

/// Which patches of `n` each network runs on: MSD the even-numbered, MTT the odd-numbered;
/// both the only patch when there is one (pure).
///
/// ```
/// use songrec_neural::musicnn::{split_patches, Net};
/// assert_eq!(split_patches(8, Net::Msd), vec![0, 2, 4, 6]);
/// assert_eq!(split_patches(8, Net::Mtt), vec![1, 3, 5, 7]);
/// assert_eq!(split_patches(3, Net::Mtt), vec![1]);
/// assert_eq!(split_patches(1, Net::Mtt), vec![0]);
/// ```
pub fn split_patches(n: usize, net: Net) -> Vec<usize> {
    if n <= 1 {
        return (0..n).collect();
    }
    let first = match net {
        Net::Msd => 0,
        Net::Mtt => 1,
    };
    (first..n).step_by(2).collect()
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
                pool: Pool {
                    state: Mutex::new(PoolState {
                        free: Vec::new(),
                        created: 0,
                    }),
                    cv: Condvar::new(),
                    max,
                },
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

fn load_tract(model: &[u8], label: &str, runtime: &ActiveRuntime) -> NeuralResult<TractPlan> {
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

/// Mean `penultimate` over the patches of `out`, before any normalisation (pure; summed in
/// f64, rounded once to f32). The normalisation table was measured on exactly these vectors.
///
/// ```
/// use songrec_neural::musicnn::{pooled_penultimate, ModelOutput};
/// let out = ModelOutput { patches: 2, penultimate: [vec![3.0; 200], vec![1.0; 200]].concat(),
///     taggram: vec![0.5; 100] };
/// assert_eq!(pooled_penultimate(&out), vec![2.0f32; 200]);
/// ```
pub fn pooled_penultimate(out: &ModelOutput) -> Vec<f32> {
    let (sum, rows) = column_sums(&out.penultimate, PENULTIMATE_DIM);
    let n = rows.max(1) as f64;
    sum.iter().map(|s| (s / n) as f32).collect()
}

/// Per-column f64 sums of row-major `values` with `width` columns, and the number of rows.
fn column_sums(values: &[f32], width: usize) -> (Vec<f64>, usize) {
    let mut sum = vec![0f64; width];
    let mut rows = 0usize;
    for row in values.chunks_exact(width) {
        for (m, x) in sum.iter_mut().zip(row) {
            *m += f64::from(*x);
        }
        rows += 1;
    }
    (sum, rows)
}

/// The measured, not adopted, standardisation (see [`MUSICNN_VERSION`]) of a pooled MSD
/// `penultimate` vector (pure), kept for `scripts/eval` and for a future version:
/// `z[i] = (pooled[i] - POOLED_MEAN[i]) / POOLED_STD[i]` with the committed table
/// ([`crate::norm_table`]), then `z / |z|`, all in f64 and rounded once to f32. A vector with
/// no length after standardising (it cannot happen with real model output) becomes the
/// uniform unit vector. Extra components beyond [`PENULTIMATE_DIM`] are ignored; missing ones
/// count as the table's mean.
///
/// ```
/// use songrec_neural::musicnn::standardise;
/// use songrec_neural::norm_table::{POOLED_MEAN, POOLED_STD};
/// // One standard deviation above the mean in dimension 0, at the mean elsewhere.
/// let mut x = POOLED_MEAN;
/// x[0] += POOLED_STD[0];
/// let v = standardise(&x);
/// assert!((v[0] - 1.0).abs() < 1e-6 && v[1..].iter().all(|c| c.abs() < 1e-3));
/// ```
pub fn standardise(pooled: &[f32]) -> Vec<f32> {
    let z: Vec<f64> = (0..PENULTIMATE_DIM)
        .map(|i| {
            let mean = f64::from(POOLED_MEAN[i]);
            let x = pooled.get(i).map_or(mean, |x| f64::from(*x));
            (x - mean) / f64::from(POOLED_STD[i])
        })
        .collect();
    let norm = z.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 1e-12 && norm.is_finite() {
        z.iter().map(|x| (x / norm) as f32).collect()
    } else {
        vec![(1.0 / (PENULTIMATE_DIM as f64).sqrt()) as f32; PENULTIMATE_DIM]
    }
}

/// The L2-normalised f64 sum of one network's `penultimate` rows, scaled by `scale` (pure; the
/// uniform vector when the sum has no length).
fn unit_mean(out: &ModelOutput, scale: f64) -> Vec<f32> {
    let (sum, _) = column_sums(&out.penultimate, PENULTIMATE_DIM);
    let norm = sum.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 1e-12 && norm.is_finite() {
        sum.iter().map(|x| (x / norm * scale) as f32).collect()
    } else {
        vec![(scale / (PENULTIMATE_DIM as f64).sqrt()) as f32; PENULTIMATE_DIM]
    }
}

/// Mean tag probabilities over the rows of `out`, named by `names`, most probable first (pure).
fn mean_tags(out: &ModelOutput, names: &[&str; N_TAGS]) -> Vec<(String, f32)> {
    let n = out.patches.max(1);
    let (tag_mean, _) = column_sums(&out.taggram, N_TAGS);
    let mut tags: Vec<(String, f32)> = names
        .iter()
        .zip(&tag_mean)
        .map(|(t, m)| ((*t).to_string(), (m / n as f64) as f32))
        .collect();
    tags.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    tags
}

/// The song's analysis from the two networks' raw outputs (pure): the embedding is
/// `[mean_msd / |mean_msd|, mean_mtt / |mean_mtt|] / √2` (each mean an f64 sum of the rows,
/// rounded once to f32), `pooled` the two raw means ([`pooled_penultimate`]) one after the
/// other, the tags MSD's mean tag probabilities and the sound tags MTT's, most probable first,
/// and `patches` the model
/// runs of both (`analyze` reports the patches cut instead).
///
/// ```
/// use songrec_neural::musicnn::{pool_outputs, ModelOutput};
/// let msd = ModelOutput { patches: 2, penultimate: [vec![3.0; 200], vec![1.0; 200]].concat(),
///     taggram: vec![0.5; 100] };
/// let mtt = ModelOutput { patches: 1, penultimate: vec![-1.0; 200], taggram: vec![0.1; 50] };
/// let a = pool_outputs(&msd, &mtt, 6.0);
/// let norm: f32 = a.embedding.iter().map(|x| x * x).sum();
/// assert!((norm - 1.0).abs() < 1e-5);
/// assert_eq!(a.embedding.len(), 400);
/// assert!(a.embedding[..200].iter().all(|x| *x > 0.0) && a.embedding[200..].iter().all(|x| *x < 0.0));
/// assert_eq!(a.pooled[..200], vec![2.0; 200][..]);
/// assert_eq!(a.pooled[200..], vec![-1.0; 200][..]);
/// assert_eq!(a.tags.len(), 50);
/// assert_eq!(a.sound_tags.len(), 50);
/// ```
pub fn pool_outputs(msd: &ModelOutput, mtt: &ModelOutput, analysed_secs: f32) -> NeuralAnalysis {
    let half = std::f64::consts::FRAC_1_SQRT_2;
    let mut embedding = unit_mean(msd, half);
    embedding.extend(unit_mean(mtt, half));
    let mut pooled = pooled_penultimate(msd);
    pooled.extend(pooled_penultimate(mtt));
    NeuralAnalysis {
        embedding,
        pooled,
        tags: mean_tags(msd, &TAGS),
        sound_tags: mean_tags(mtt, &MTT_TAGS),
        patches: msd.patches + mtt.patches,
        analysed_secs,
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
