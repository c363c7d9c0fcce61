//! Embedders: the [`Embedder`] trait and the model-free [`DspEmbedder`].

use serde::{Deserialize, Serialize};

use crate::decode::{DecodeOptions, MonoAudio};
use crate::dsp::envelope::envelope;
use crate::dsp::key::{PITCH_NAMES, estimate_key, rotate_to};
use crate::dsp::tempo::{N_TEMPO_BINS, OnsetAcf, count_onsets};
use crate::dsp::{FrameAnalyzer, N_CONTRAST, N_DELTA, N_MFCC, SR, mean_std, percentile};
use crate::error::AudioError;
use crate::norm_table::{RAW_MEAN, RAW_STD};

/// Human-meaningful scalars describing a piece (for explanations such as
/// "same key, 122 vs 124 bpm, both bright").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Descriptors {
    /// Mean spectral centroid ("brightness"), Hz.
    pub centroid_hz: f32,
    /// Mean 85 % spectral roll-off, Hz.
    pub rolloff_hz: f32,
    /// Mean spectral flatness, dB (near 0 = noisy, very negative = tonal).
    pub flatness_db: f32,
    /// Mean frame RMS of the non-silent frames, dBFS.
    pub loudness_db: f32,
    /// 90th minus 10th percentile of frame RMS, dB.
    pub dynamic_range_db: f32,
    /// Tempo estimate, bpm.
    pub bpm: Option<f32>,
    /// Strength of the beat (0..1).
    pub pulse_clarity: f32,
    /// Key, e.g. "A minor".
    pub key: Option<String>,
    /// Key tonic, e.g. "A".
    pub key_tonic: Option<String>,
    /// "major" or "minor".
    pub key_mode: Option<String>,
    /// Correlation with the key profile (0..1).
    pub key_confidence: f32,
    /// Detected onsets per second.
    pub onset_rate: f32,
    /// Attack time of the loudest event, ms.
    pub attack_ms: f32,
    /// Seconds of audio analysed.
    pub analysed_secs: f32,
}

/// Output of one embedder on one piece of audio.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// L2-normalised embedding; compare with cosine.
    pub vector: Vec<f32>,
    /// Tempo, bpm.
    pub bpm: Option<f32>,
    /// Key, e.g. "A minor".
    pub key: Option<String>,
    /// Human-meaningful scalars.
    pub descriptors: Descriptors,
    /// Style tags with probabilities (0..1), for embedders that predict them (musicnn's 50
    /// tags); empty otherwise.
    #[serde(default)]
    pub tags: Vec<(String, f32)>,
    /// Sound tags with probabilities (instruments, voice, tempo, loudness: musicnn's
    /// MagnaTagATune network); empty otherwise.
    #[serde(default)]
    pub sound_tags: Vec<(String, f32)>,
}

/// Something that turns mono audio into a fixed-size vector (the DSP embedder here; a neural
/// one can be added later). Implementations must be deterministic for a given `version()`.
///
/// ```
/// use songrec_audio::{DspEmbedder, Embedder, MonoAudio};
/// let e = DspEmbedder::new();
/// let a = e.embed(&MonoAudio::from_samples(vec![0.1; 2205], 22_050))?;
/// assert_eq!(a.vector.len(), e.dim());
/// # Ok::<(), songrec_audio::AudioError>(())
/// ```
pub trait Embedder: Send + Sync {
    /// Stable name, e.g. "songrec-dsp".
    fn name(&self) -> &str;
    /// Bumped on any change of the output.
    fn version(&self) -> u32;
    /// Vector length.
    fn dim(&self) -> usize;
    /// Embed mono audio (any rate; resampled if needed).
    fn embed(&self, audio: &MonoAudio) -> Result<Analysis, AudioError>;
    /// How much of a file [`analyze_file`](crate::analyze_file) decodes for this embedder (the
    /// excerpt rule is part of the output, so a change needs a new [`Embedder::version`]).
    fn decode_options(&self) -> DecodeOptions {
        DecodeOptions::default()
    }
}

/// Cosine similarity of two vectors (0 for zero vectors).
///
/// ```
/// assert!((songrec_audio::cosine_similarity(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-6);
/// ```
pub fn cosine_similarity(a: &[f32], b: &[f32]) -> f32 {
    let (mut d, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        d += f64::from(*x) * f64::from(*y);
        na += f64::from(*x) * f64::from(*x);
        nb += f64::from(*y) * f64::from(*y);
    }
    if na <= 0.0 || nb <= 0.0 {
        0.0
    } else {
        (d / (na.sqrt() * nb.sqrt())) as f32
    }
}

/// A named block of the raw feature vector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureGroup {
    pub name: &'static str,
    pub len: usize,
    /// Weight of the whole group in the final vector (its squared share of the norm).
    pub weight: f32,
}

impl FeatureGroup {
    const fn new(name: &'static str, len: usize, weight: f32) -> Self {
        Self { name, len, weight }
    }
}

/// Layout and weights of the DSP embedding (order matters; part of the versioned format).
/// Weights were chosen with `scripts/eval/tune_weights.py` on the sonicpi/gm/styles/realmp3
/// sets (held-out: styles_b), preferring round values over the exact optimum.
pub const GROUPS: [FeatureGroup; 9] = [
    FeatureGroup::new("mfcc_mean", N_MFCC, 1.0),
    FeatureGroup::new("mfcc_std", N_MFCC, 0.75),
    FeatureGroup::new("mfcc_delta", N_DELTA, 1.0),
    FeatureGroup::new("spectral", 10, 0.5),
    FeatureGroup::new("contrast", 2 * N_CONTRAST, 1.5),
    FeatureGroup::new("harmony", 16, 0.5),
    FeatureGroup::new("rhythm", N_TEMPO_BINS + 5, 1.5),
    FeatureGroup::new("energy", 4, 0.5),
    FeatureGroup::new("envelope", 8, 1.0),
];

/// Total raw / embedding dimension.
pub const DSP_DIM: usize = {
    let mut s = 0;
    let mut i = 0;
    while i < GROUPS.len() {
        s += GROUPS[i].len;
        i += 1;
    }
    s
};

// The generated normalisation tables hold one value per raw dimension.
const _: () = assert!(RAW_MEAN.len() == DSP_DIM && RAW_STD.len() == DSP_DIM);

/// Un-normalised features plus the descriptors (tempo and key among them).
#[derive(Debug, Clone, PartialEq)]
pub struct RawFeatures {
    /// Raw values in [`GROUPS`] order, length [`DSP_DIM`].
    pub values: Vec<f32>,
    pub descriptors: Descriptors,
}

/// The model-free DSP embedder ("songrec-dsp").
///
/// Normalisation is fixed: per-dimension mean/std measured once on a reference corpus and
/// committed in `norm_table.rs`, then per-group weights ([`GROUPS`]); never derived from the
/// library being analysed, so vectors are comparable across machines and time.
#[derive(Debug, Clone, Default)]
pub struct DspEmbedder {
    fa: FrameAnalyzer,
}

pub const DSP_NAME: &str = "songrec-dsp";
/// Version of the DSP embedder output (bump on any change of the vector).
///
/// * 1: files analysed up to 240 s, longer ones as 8 excerpts of 30 s.
/// * 2: [`DSP_DECODE`]: up to 90 s, longer files as 6 excerpts of 15 s (same features and
///   normalisation; about 2.7x less CPU per 3–5-minute song, see `scripts/eval/RESULTS.md`).
pub const DSP_VERSION: u32 = 2;

/// The excerpt rule of the DSP embedder: files up to 90 s are analysed completely, longer ones
/// as 6 evenly spaced excerpts of 15 s.
///
/// ```
/// assert_eq!(songrec_audio::embed::DSP_DECODE.max_excerpts(), 6);
/// ```
pub const DSP_DECODE: DecodeOptions = DecodeOptions {
    max_analysed_secs: 90.0,
    excerpt_secs: 15.0,
    sample_rate: crate::decode::ANALYSIS_RATE,
};

/// Shortest audio (seconds) for which a key is reported.
pub const MIN_KEY_SECS: f32 = 3.0;

fn ln_clamped(v: f32, lo: f32, hi: f32) -> f32 {
    v.clamp(lo, hi).ln()
}

impl DspEmbedder {
    /// Create the embedder (builds FFT plans and filter tables once).
    pub fn new() -> Self {
        DspEmbedder {
            fa: FrameAnalyzer::new(),
        }
    }

    /// Raw (un-normalised) features. `None` when the audio has no samples.
    pub fn raw_features(&self, audio: &MonoAudio) -> Option<RawFeatures> {
        let audio = audio.at_rate(SR);
        let segs: Vec<&[f32]> = audio
            .segments
            .iter()
            .map(|s| s.samples.as_slice())
            .filter(|s| !s.is_empty())
            .collect();
        if segs.is_empty() {
            return None;
        }
        let total_secs = audio.analysed_secs() as f32;
        let frames: Vec<_> = segs.iter().map(|s| self.fa.frames(s)).collect();

        // Active (non-silent) frames: within 50 dB of the loudest frame.
        let max_db = frames
            .iter()
            .flat_map(|f| f.rms_db.iter().copied())
            .fold(-200.0f32, f32::max);
        let thr = max_db - 50.0;
        let mut active: Vec<(usize, usize)> = Vec::new();
        for (si, f) in frames.iter().enumerate() {
            for (t, &db) in f.rms_db.iter().enumerate() {
                if db >= thr {
                    active.push((si, t));
                }
            }
        }
        let mut v: Vec<f32> = Vec::with_capacity(DSP_DIM);

        // MFCC mean / std.
        let mfcc = |(s, t): (usize, usize), k: usize| frames[s].mfcc[t * N_MFCC + k];
        let mut mstd = Vec::with_capacity(N_MFCC);
        for k in 0..N_MFCC {
            let (m, s) = mean_std(active.iter().map(|&a| mfcc(a, k)));
            v.push(m);
            mstd.push(s);
        }
        v.extend_from_slice(&mstd);
        // Delta MFCC: std of frame-to-frame differences within segments.
        for k in 0..N_DELTA {
            let it = active
                .windows(2)
                .filter(|w| w[0].0 == w[1].0 && w[1].1 == w[0].1 + 1)
                .map(|w| mfcc(w[1], k) - mfcc(w[0], k));
            let (m, s) = mean_std(it);
            v.push((m * m + s * s).sqrt());
        }
        // Spectral shape.
        let col = |get: &dyn Fn(&crate::dsp::Frames, usize) -> f32| -> (f32, f32) {
            mean_std(active.iter().map(|&(s, t)| get(&frames[s], t)))
        };
        let (cm, cs) = col(&|f, t| ln_clamped(f.centroid[t], 20.0, 11_025.0));
        let (bm, bs) = col(&|f, t| ln_clamped(f.bandwidth[t], 20.0, 11_025.0));
        let (rm, rs) = col(&|f, t| ln_clamped(f.rolloff[t], 20.0, 11_025.0));
        let (fm, fs) = col(&|f, t| f.flatness[t]);
        let (zm, zs) = col(&|f, t| f.zcr[t].max(1e-4).sqrt());
        v.extend_from_slice(&[cm, cs, bm, bs, rm, rs, fm, fs, zm, zs]);
        // Spectral contrast.
        let mut cstd = Vec::new();
        for b in 0..N_CONTRAST {
            let (m, s) = col(&|f, t| f.contrast[t * N_CONTRAST + b]);
            v.push(m);
            cstd.push(s);
        }
        v.extend_from_slice(&cstd);
        // Harmony.
        let mut prof = [0f32; 12];
        let mut change = Vec::new();
        let mut prev: Option<(usize, usize, [f32; 12])> = None;
        for &(s, t) in &active {
            let mut cc = [0f32; 12];
            cc.copy_from_slice(&frames[s].chroma[t * 12..t * 12 + 12]);
            prof.iter_mut().zip(cc).for_each(|(p, c)| *p += c);
            if let Some((ps, pt, pc)) = prev
                && ps == s
                && pt + 1 == t
            {
                change.push(1.0 - cosine_similarity(&pc, &cc));
            }
            prev = Some((s, t, cc));
        }
        let psum: f32 = prof.iter().sum();
        let key = if psum > 0.0 {
            for p in prof.iter_mut() {
                *p /= psum;
            }
            estimate_key(&prof)
        } else {
            None
        };
        let tonic = key.map(|k| k.tonic).unwrap_or(0);
        v.extend_from_slice(&rotate_to(&prof, tonic));
        let entropy = if psum > 0.0 {
            -prof
                .iter()
                .filter(|&&p| p > 0.0)
                .map(|p| p * p.ln())
                .sum::<f32>()
                / 12f32.ln()
        } else {
            1.0
        };
        let kc = key.map(|k| k.correlation.max(0.0)).unwrap_or(0.0);
        let mode = key.map(|k| if k.minor { -kc } else { kc }).unwrap_or(0.0);
        let (chg, _) = mean_std(change.iter().copied());
        v.extend_from_slice(&[kc, mode, entropy, chg]);
        // Rhythm.
        let mut acf = OnsetAcf::default();
        let mut n_onsets = 0usize;
        let mut onset_vals = Vec::new();
        for f in &frames {
            acf.add(&f.onset);
            n_onsets += count_onsets(&f.onset);
            onset_vals.extend_from_slice(&f.onset);
        }
        let tempo = acf.summary();
        v.extend_from_slice(&tempo.bins);
        let onset_rate = n_onsets as f32 / total_secs.max(0.05);
        let (om, os) = mean_std(onset_vals.iter().copied());
        v.extend_from_slice(&[
            tempo.raw_bpm.clamp(30.0, 300.0).log2(),
            tempo.clarity,
            (onset_rate + 0.1).ln(),
            (om + 0.01).ln(),
            (os + 0.01).ln(),
        ]);
        // Energy.
        let act_db: Vec<f32> = active
            .iter()
            .map(|&(s, t)| frames[s].rms_db[t].max(-100.0))
            .collect();
        let all_db: Vec<f32> = frames
            .iter()
            .flat_map(|f| f.rms_db.iter().map(|d| d.max(-100.0)))
            .collect();
        let (em, es) = mean_std(act_db.iter().copied());
        let p90 = percentile(&all_db, 0.9);
        let p10 = percentile(&all_db, 0.1);
        v.extend_from_slice(&[em, es, p90, p90 - p10]);
        // Envelope (length-weighted over segments).
        let mut envs = [0f32; 8];
        let mut wsum = 0.0;
        let mut attack_s = 0.0;
        for s in &segs {
            let e = envelope(s, SR);
            let w = s.len() as f32;
            let vals = [
                ln_clamped(total_secs, 0.02, 60.0),
                ln_clamped(e.attack, 0.002, 5.0),
                ln_clamped(e.decay, 0.003, 30.0),
                ln_clamped(e.centroid, 0.003, 30.0),
                e.centroid / e.duration.max(1e-3),
                e.crest_db,
                e.sustain,
                e.silence,
            ];
            for (a, b) in envs.iter_mut().zip(vals) {
                *a += w * b;
            }
            attack_s += w * e.attack;
            wsum += w;
        }
        for a in envs.iter_mut() {
            *a /= wsum;
        }
        v.extend_from_slice(&envs);
        debug_assert_eq!(v.len(), DSP_DIM);
        for x in v.iter_mut() {
            if !x.is_finite() {
                *x = 0.0;
            }
        }
        // A key is only reported for music-length audio with a clear tonal profile (a 100 ms kick
        // drum has a chroma vector, but no key).
        let key_name = key
            .filter(|k| k.correlation > 0.3 && total_secs >= MIN_KEY_SECS)
            .map(|k| k.name());
        let descriptors = Descriptors {
            centroid_hz: col(&|f, t| f.centroid[t]).0,
            rolloff_hz: col(&|f, t| f.rolloff[t]).0,
            flatness_db: fm,
            loudness_db: em,
            dynamic_range_db: p90 - p10,
            bpm: tempo.bpm,
            pulse_clarity: tempo.clarity,
            key_tonic: key_name
                .as_ref()
                .and(key)
                .map(|k| PITCH_NAMES[k.tonic].to_string()),
            key_mode: key_name
                .as_ref()
                .and(key)
                .map(|k| if k.minor { "minor" } else { "major" }.to_string()),
            key_confidence: kc,
            onset_rate,
            attack_ms: 1000.0 * attack_s / wsum,
            analysed_secs: total_secs,
            key: key_name,
        };
        Some(RawFeatures {
            values: v,
            descriptors,
        })
    }

    /// Normalise raw values with the committed constants and group weights, then L2-normalise.
    ///
    /// ```
    /// use songrec_audio::embed::{DspEmbedder, DSP_DIM};
    /// let v = DspEmbedder::new().normalise(&vec![0.0; DSP_DIM]);
    /// let n: f32 = v.iter().map(|x| x * x).sum();
    /// assert!((n - 1.0).abs() < 1e-4);
    /// ```
    pub fn normalise(&self, raw: &[f32]) -> Vec<f32> {
        let mut out = Vec::with_capacity(DSP_DIM);
        let mut i = 0;
        for g in GROUPS.iter() {
            let scale = g.weight.max(0.0).sqrt() / (g.len as f32).sqrt();
            for _ in 0..g.len {
                let r = raw.get(i).copied().unwrap_or(0.0);
                let z = ((r - RAW_MEAN[i]) / RAW_STD[i].max(1e-6)).clamp(-5.0, 5.0);
                out.push(z * scale);
                i += 1;
            }
        }
        let n = out.iter().map(|x| x * x).sum::<f32>().sqrt();
        if n > 1e-12 {
            out.iter_mut().for_each(|x| *x /= n);
        } else {
            let u = 1.0 / (DSP_DIM as f32).sqrt();
            out.iter_mut().for_each(|x| *x = u);
        }
        out
    }
}

impl Embedder for DspEmbedder {
    fn name(&self) -> &str {
        DSP_NAME
    }

    fn version(&self) -> u32 {
        DSP_VERSION
    }

    fn dim(&self) -> usize {
        DSP_DIM
    }

    fn decode_options(&self) -> DecodeOptions {
        DSP_DECODE
    }

    fn embed(&self, audio: &MonoAudio) -> Result<Analysis, AudioError> {
        let raw = self.raw_features(audio).ok_or_else(|| AudioError::Embed {
            embedder: DSP_NAME.into(),
            reason: "no samples to analyse".into(),
        })?;
        Ok(Analysis {
            vector: self.normalise(&raw.values),
            bpm: raw.descriptors.bpm,
            key: raw.descriptors.key.clone(),
            descriptors: raw.descriptors,
            tags: Vec::new(),
            sound_tags: Vec::new(),
        })
    }
}
