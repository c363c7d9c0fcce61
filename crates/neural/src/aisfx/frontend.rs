//! aisfx's front end (pure): 44.1 kHz mono → log-mel frames → blocks of 100 frames.
//!
//! What aisfx 0.1.2's librosa path computes (`models/aisfx/PROVENANCE.md`, "Front end"):
//! the audio divided by its peak; a power STFT (periodic Hann of [`N_FFT`], hop [`HOP`],
//! centred: frame `j` covers samples `HOP·j − HOP .. HOP·j + HOP − 1`, zeros outside the
//! signal); [`N_MELS`] HTK mel bands from 0 to 22 050 Hz, each filter summing to 1;
//! `log10(1 + 1e4·mel) / LOG_MAX`. Blocks of [`BLOCK`] frames are planned like musicnn's
//! patches ([`plan_units`]).

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

use crate::patches::{PatchSpec, plan_units};

/// Sample rate the network was trained at.
pub const SAMPLE_RATE: u32 = 44_100;
/// STFT window length.
pub const N_FFT: usize = 2048;
/// STFT hop.
pub const HOP: usize = 1024;
/// Mel bands.
pub const N_MELS: usize = 96;
/// Frames per network input block.
pub const BLOCK: usize = 100;
/// aisfx's `spectrogram_normalize('original')` maximum.
pub const LOG_MAX: f64 = 9.457_798_957_824_707;
const BINS: usize = N_FFT / 2 + 1;

/// Frames of a centred STFT of `n` samples: `1 + floor(n / HOP)` (none for no sample).
///
/// ```
/// assert_eq!(songrec_neural::aisfx::frontend::frame_count(48_022), 47);
/// assert_eq!(songrec_neural::aisfx::frontend::frame_count(0), 0);
/// ```
pub fn frame_count(n: usize) -> usize {
    if n == 0 { 0 } else { 1 + n / HOP }
}

fn hz_to_mel(f: f64) -> f64 {
    2595.0 * (1.0 + f / 700.0).log10()
}

fn mel_to_hz(m: f64) -> f64 {
    700.0 * (10f64.powf(m / 2595.0) - 1.0)
}

/// One mel filter: its weights over the FFT bins `start .. start + weights.len()`.
#[derive(Debug, Clone, PartialEq)]
pub struct MelFilter {
    /// First bin with a non-zero weight.
    pub start: usize,
    /// The weights (summing to 1).
    pub weights: Vec<f64>,
}

/// The [`N_MELS`] filters of `librosa.filters.mel(sr=44100, n_fft=2048, n_mels=96, fmin=0,
/// fmax=22050, htk=True, norm=None)`, each divided by its sum (= `norm=1.0`).
///
/// ```
/// let bank = songrec_neural::aisfx::frontend::mel_filters();
/// assert_eq!(bank.len(), 96);
/// assert_eq!(bank[0].start, 1);
/// assert!(bank.iter().all(|f| (f.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12));
/// ```
pub fn mel_filters() -> Vec<MelFilter> {
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(f64::from(SAMPLE_RATE) / 2.0));
    let edges: Vec<f64> = (0..N_MELS + 2)
        .map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (N_MELS + 1) as f64))
        .collect();
    let bin_hz = |k: usize| k as f64 * f64::from(SAMPLE_RATE) / N_FFT as f64;
    (0..N_MELS)
        .map(|m| {
            let (a, b, c) = (edges[m], edges[m + 1], edges[m + 2]);
            let w: Vec<f64> = (0..BINS)
                .map(|k| {
                    let f = bin_hz(k);
                    ((f - a) / (b - a)).min((c - f) / (c - b)).max(0.0)
                })
                .collect();
            let start = w.iter().position(|x| *x > 0.0).unwrap_or(0);
            let end = w.iter().rposition(|x| *x > 0.0).map_or(start, |e| e + 1);
            let sum: f64 = w[start..end].iter().sum();
            let weights = w[start..end]
                .iter()
                .map(|x| if sum > 0.0 { x / sum } else { 0.0 })
                .collect();
            MelFilter { start, weights }
        })
        .collect()
}

/// The largest finite `|x|` of `samples` (0 for none). The maximum of values that are all
/// `>= +0.0` does not depend on the order they are compared in, so the 16 running maxima
/// (which the compiler keeps in vector registers) give exactly the one-by-one fold's result.
fn peak_abs(samples: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut m = [0f32; LANES];
    let chunks = samples.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for (m, x) in m.iter_mut().zip(c) {
            let a = x.abs();
            // Not finite (inf or NaN): left out, as the fold's filter leaves it out.
            let a = if a < f32::INFINITY { a } else { 0.0 };
            *m = if a > *m { a } else { *m };
        }
    }
    tail.iter()
        .map(|x| x.abs())
        .filter(|x| x.is_finite())
        .chain(m)
        .fold(0f32, f32::max)
}

/// The front end with its FFT plan, window and filter bank (build once, share between
/// threads; every method takes `&self`).
#[derive(Clone)]
pub struct FrontEnd {
    fft: Arc<dyn RealToComplex<f64>>,
    window: Vec<f64>,
    filters: Vec<MelFilter>,
}

impl std::fmt::Debug for FrontEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontEnd").finish_non_exhaustive()
    }
}

impl Default for FrontEnd {
    fn default() -> Self {
        Self::new()
    }
}

/// The blocks of a song, ready for the network.
#[derive(Debug, Clone, PartialEq)]
pub struct Blocks {
    /// Row-major `[blocks, BLOCK, N_MELS]` (frame-major).
    pub data: Vec<f32>,
    /// Where each block was cut from (`start`/`len` in frames).
    pub specs: Vec<PatchSpec>,
}

impl Blocks {
    /// Number of blocks.
    pub fn count(&self) -> usize {
        self.specs.len()
    }
}

impl FrontEnd {
    /// Plans the FFT and computes the window and filter bank.
    pub fn new() -> Self {
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(N_FFT);
        let window = (0..N_FFT)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / N_FFT as f64).cos())
            .collect();
        FrontEnd {
            fft,
            window,
            filters: mel_filters(),
        }
    }

    /// Log-mel frames `first .. first + count` of `samples` (44.1 kHz mono) multiplied by
    /// `gain`, row-major `[count, N_MELS]`; frames past the signal's last are zeros (pure).
    pub fn logmel(&self, samples: &[f32], gain: f32, first: usize, count: usize) -> Vec<f32> {
        let mut out = Vec::with_capacity(count * N_MELS);
        let mut buf = self.fft.make_input_vec();
        let mut spec = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0f64; BINS];
        let frames = frame_count(samples.len());
        let gain = f64::from(gain);
        for j in first..first + count {
            if j >= frames {
                out.extend(std::iter::repeat_n(0.0, N_MELS));
                continue;
            }
            let origin = (j * HOP) as isize - HOP as isize;
            for (i, (b, w)) in buf.iter_mut().zip(&self.window).enumerate() {
                let t = origin + i as isize;
                let x = if t >= 0 {
                    samples.get(t as usize).copied().unwrap_or(0.0)
                } else {
                    0.0
                };
                *b = f64::from(x) * gain * w;
            }
            // Lengths come from the plan itself, so this cannot fail.
            if self
                .fft
                .process_with_scratch(&mut buf, &mut spec, &mut scratch)
                .is_err()
            {
                out.extend(std::iter::repeat_n(0.0, N_MELS));
                continue;
            }
            for (p, c) in power.iter_mut().zip(&spec) {
                *p = c.norm_sqr();
            }
            for f in &self.filters {
                let mel: f64 = f
                    .weights
                    .iter()
                    .zip(&power[f.start..])
                    .map(|(w, p)| w * p)
                    .sum();
                out.push(((1.0 + 1e4 * mel).log10() / LOG_MAX) as f32);
            }
        }
        out
    }

    /// The network input for a song given as segments of 44.1 kHz mono: the peak over all
    /// segments is normalised to 1, at most `max_blocks` blocks are planned over the segments'
    /// frames ([`plan_units`] with unit [`BLOCK`]; a song without a segment of 100 frames gets
    /// one block, its longest segment's frames then zeros), and only the frames of those blocks
    /// are computed. `None` when there is no sample.
    ///
    /// ```
    /// use songrec_neural::aisfx::frontend::{FrontEnd, BLOCK, N_MELS};
    /// let fe = FrontEnd::new();
    /// let tone: Vec<f32> = (0..44_100 * 5).map(|i| (i as f32 * 0.05).sin()).collect();
    /// let b = fe.blocks(&[&tone], 8).unwrap();
    /// assert_eq!((b.count(), b.data.len()), (3, 3 * BLOCK * N_MELS));
    /// assert!(fe.blocks(&[&[]], 8).is_none());
    /// ```
    pub fn blocks(&self, segments: &[&[f32]], max_blocks: usize) -> Option<Blocks> {
        let peak = segments.iter().map(|s| peak_abs(s)).fold(0f32, f32::max);
        let gain = if peak > 0.0 { 1.0 / peak } else { 1.0 };
        let frames: Vec<usize> = segments.iter().map(|s| frame_count(s.len())).collect();
        let specs = plan_units(&frames, BLOCK, max_blocks);
        if specs.is_empty() {
            return None;
        }
        let mut data = Vec::with_capacity(specs.len() * BLOCK * N_MELS);
        for p in &specs {
            data.extend(self.logmel(segments[p.segment], gain, p.start, p.len));
            data.extend(std::iter::repeat_n(0.0, (BLOCK - p.len) * N_MELS));
        }
        Some(Blocks { data, specs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_triangles_summing_to_one() {
        let bank = mel_filters();
        for (m, f) in bank.iter().enumerate() {
            assert!(!f.weights.is_empty(), "band {m} is empty");
            let peak = f.weights.iter().cloned().fold(0.0, f64::max);
            let at = f.weights.iter().position(|w| *w == peak).unwrap();
            assert!(f.weights[..at].windows(2).all(|w| w[0] <= w[1]), "band {m}");
            assert!(f.weights[at..].windows(2).all(|w| w[0] >= w[1]), "band {m}");
        }
        // Later bands start later and the last one ends at Nyquist.
        assert!(bank.windows(2).all(|w| w[0].start <= w[1].start));
        let last = bank.last().unwrap();
        assert!(last.start + last.weights.len() <= BINS);
    }

    #[test]
    fn frames_are_centred_with_zero_padding() {
        let fe = FrontEnd::new();
        // A lone click at sample 0: frame 0 (centred on it) and frame 1 (it sits at that
        // window's zero) see different energy; frame 2 does not see it at all.
        let mut x = vec![0f32; 10 * HOP];
        x[0] = 1.0;
        let m = fe.logmel(&x, 1.0, 0, frame_count(x.len()));
        assert_eq!(m.len(), 11 * N_MELS);
        let sum = |j: usize| m[j * N_MELS..(j + 1) * N_MELS].iter().sum::<f32>();
        assert!(sum(0) > 0.1, "{}", sum(0));
        assert_eq!(sum(1), 0.0, "the periodic Hann is 0 at its first sample");
        assert_eq!(sum(2), 0.0);
        // Frames past the end are zeros; a window over the end reads zeros.
        assert_eq!(fe.logmel(&x, 1.0, 11, 2), vec![0.0; 2 * N_MELS]);
    }

    #[test]
    fn a_full_scale_tone_lands_in_its_band() {
        let fe = FrontEnd::new();
        let f = 1000.0f64;
        let x: Vec<f32> = (0..44_100)
            .map(|i| (2.0 * std::f64::consts::PI * f * i as f64 / 44_100.0).sin() as f32)
            .collect();
        let m = fe.logmel(&x, 1.0, 20, 1);
        let best = (0..N_MELS).max_by(|a, b| m[*a].total_cmp(&m[*b])).unwrap();
        let bank = mel_filters();
        let bin = (f * N_FFT as f64 / 44_100.0).round() as usize;
        let f = &bank[best];
        assert!(
            f.start <= bin && bin < f.start + f.weights.len(),
            "band {best}"
        );
        assert!(m.iter().all(|v| (0.0..1.5).contains(v)));
    }

    #[test]
    fn the_peak_is_the_folds() {
        let mut x: Vec<f32> = (0..1_003)
            .map(|i| ((i * 7919) % 2003) as f32 / -997.0)
            .collect();
        x[17] = f32::NAN;
        x[400] = f32::INFINITY;
        x[401] = f32::NEG_INFINITY;
        x[999] = -0.0;
        for n in [0, 1, 15, 16, 17, 500, 1_003] {
            let fold = x[..n]
                .iter()
                .map(|x| x.abs())
                .filter(|x| x.is_finite())
                .fold(0f32, f32::max);
            assert_eq!(peak_abs(&x[..n]).to_bits(), fold.to_bits(), "{n}");
        }
        assert_eq!(peak_abs(&[f32::NAN, -0.0]).to_bits(), 0f32.to_bits());
    }

    #[test]
    fn peak_normalisation_and_short_songs() {
        let fe = FrontEnd::new();
        let x: Vec<f32> = (0..30 * HOP)
            .map(|i| (i as f32 * 0.3).sin() * 0.25)
            .collect();
        let loud: Vec<f32> = x.iter().map(|v| v * 4.0).collect();
        let a = fe.blocks(&[&x], 8).unwrap();
        let b = fe.blocks(&[&loud], 8).unwrap();
        assert_eq!(a.count(), 1);
        let d = a
            .data
            .iter()
            .zip(&b.data)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0f32, f32::max);
        assert!(d < 1e-5, "{d}");
        // 31 frames then zeros.
        assert!(a.data[30 * N_MELS..31 * N_MELS].iter().any(|v| *v > 0.0));
        assert!(a.data[31 * N_MELS..].iter().all(|v| *v == 0.0));
        // Silence stays silence.
        let s = fe.blocks(&[&[0.0; 5000]], 8).unwrap();
        assert!(s.data.iter().all(|v| *v == 0.0));
        // The longest of several short segments.
        let c = fe.blocks(&[&x[..100], &x, &x[..2000]], 8).unwrap();
        assert_eq!(c.specs[0].segment, 1);
    }
}
