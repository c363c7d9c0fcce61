//! Pure DSP: frame-level spectral features, pooling, tempo, key and envelope descriptors.
//!
//! Everything here works on mono `f32` slices at [`SR`] and does no I/O.

pub mod envelope;
pub mod key;
pub mod lanes;
pub mod tempo;

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

/// Analysis sample rate (Hz).
pub const SR: u32 = 22_050;
/// FFT size (93 ms at 22.05 kHz).
pub const N_FFT: usize = 2048;
/// Hop between frames (23 ms).
pub const HOP: usize = 512;
/// Number of mel bands.
pub const N_MELS: usize = 64;
/// Number of MFCCs kept.
pub const N_MFCC: usize = 20;
/// Number of MFCCs whose deltas are summarised.
pub const N_DELTA: usize = 13;
/// Spectral-contrast bands (octaves from 200 Hz, plus the band below).
pub const N_CONTRAST: usize = 7;
const N_BINS: usize = N_FFT / 2 + 1;
/// Samples around each frame centre used for RMS and zero-crossing rate.
const RMS_LEN: usize = 1024;
/// Frames per second of the frame-level features.
pub const FRAME_RATE: f32 = SR as f32 / HOP as f32;

/// The Slaney mel scale: Hz per mel below 1 kHz, where its log part starts (Hz and mel).
const F_SP: f32 = 200.0 / 3.0;
const MIN_LOG_HZ: f32 = 1000.0;
const MIN_LOG_MEL: f32 = MIN_LOG_HZ / F_SP;

/// Hz to mel (Slaney / librosa default scale).
pub fn hz_to_mel(f: f32) -> f32 {
    let logstep = (6.4f32).ln() / 27.0;
    if f >= MIN_LOG_HZ {
        MIN_LOG_MEL + (f / MIN_LOG_HZ).ln() / logstep
    } else {
        f / F_SP
    }
}

/// Mel to Hz (inverse of [`hz_to_mel`]).
pub fn mel_to_hz(m: f32) -> f32 {
    let logstep = (6.4f32).ln() / 27.0;
    if m >= MIN_LOG_MEL {
        MIN_LOG_HZ * (logstep * (m - MIN_LOG_MEL)).exp()
    } else {
        m * F_SP
    }
}

/// Sparse triangular mel filter: first bin and weights.
#[derive(Debug, Clone)]
struct MelFilter {
    start: usize,
    weights: Vec<f32>,
}

fn mel_filterbank(n_mels: usize, fmin: f32, fmax: f32) -> Vec<MelFilter> {
    let mmin = hz_to_mel(fmin);
    let mmax = hz_to_mel(fmax);
    let pts: Vec<f32> = (0..n_mels + 2)
        .map(|i| mel_to_hz(mmin + (mmax - mmin) * i as f32 / (n_mels + 1) as f32))
        .collect();
    let bin_hz = SR as f32 / N_FFT as f32;
    (0..n_mels)
        .map(|m| {
            let (lo, c, hi) = (pts[m], pts[m + 1], pts[m + 2]);
            let norm = 2.0 / (hi - lo); // Slaney area normalisation
            let mut start = None;
            let mut weights = Vec::new();
            for k in 0..N_BINS {
                let f = k as f32 * bin_hz;
                let w = if f > lo && f < hi {
                    if f <= c {
                        (f - lo) / (c - lo)
                    } else {
                        (hi - f) / (hi - c)
                    }
                } else {
                    0.0
                };
                if w > 0.0 {
                    if start.is_none() {
                        start = Some(k);
                    }
                    weights.push(w * norm);
                } else if start.is_some() {
                    break;
                }
            }
            // Very narrow low filters can fall between bins: give them the nearest bin.
            let start = start.unwrap_or_else(|| ((c / bin_hz).round() as usize).min(N_BINS - 1));
            if weights.is_empty() {
                weights.push(norm * bin_hz);
            }
            MelFilter { start, weights }
        })
        .collect()
}

/// Per-frame features of one segment.
#[derive(Debug, Clone, Default)]
pub struct Frames {
    /// Log-mel power (dB), `n_frames * N_MELS`.
    pub logmel: Vec<f32>,
    /// MFCCs, `n_frames * N_MFCC`.
    pub mfcc: Vec<f32>,
    /// Spectral centroid (Hz).
    pub centroid: Vec<f32>,
    /// Spectral bandwidth (Hz).
    pub bandwidth: Vec<f32>,
    /// 85 % roll-off (Hz).
    pub rolloff: Vec<f32>,
    /// Spectral flatness over mel bands (dB, <= 0).
    pub flatness: Vec<f32>,
    /// Spectral contrast (dB), `n_frames * N_CONTRAST`.
    pub contrast: Vec<f32>,
    /// Zero-crossing rate (crossings per sample).
    pub zcr: Vec<f32>,
    /// Frame RMS (dBFS).
    pub rms_db: Vec<f32>,
    /// Chroma (energy per pitch class), `n_frames * 12`.
    pub chroma: Vec<f32>,
    /// Onset strength (positive log-mel flux).
    pub onset: Vec<f32>,
}

impl Frames {
    /// Number of frames.
    pub fn len(&self) -> usize {
        self.rms_db.len()
    }

    /// True when there are no frames.
    pub fn is_empty(&self) -> bool {
        self.rms_db.is_empty()
    }
}

/// Precomputed FFT plan, window, mel bank and DCT; cheap to share between threads.
#[derive(Clone)]
pub struct FrameAnalyzer {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    mel: Vec<MelFilter>,
    dct: Vec<f32>,
    freqs: Vec<f32>,
    freqs_sq: Vec<f32>,
    /// (bin range) per contrast band
    contrast_bands: Vec<(usize, usize)>,
}

impl std::fmt::Debug for FrameAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameAnalyzer")
            .field("n_fft", &N_FFT)
            .finish()
    }
}

impl Default for FrameAnalyzer {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameAnalyzer {
    /// Build the plan and tables.
    pub fn new() -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        let fft = planner.plan_fft_forward(N_FFT);
        let window: Vec<f32> = (0..N_FFT)
            .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / N_FFT as f32).cos())
            .collect();
        let mel = mel_filterbank(N_MELS, 20.0, SR as f32 / 2.0);
        // Orthonormal DCT-II, N_MFCC x N_MELS.
        let mut dct = vec![0f32; N_MFCC * N_MELS];
        for k in 0..N_MFCC {
            let scale = if k == 0 {
                (1.0 / N_MELS as f32).sqrt()
            } else {
                (2.0 / N_MELS as f32).sqrt()
            };
            for n in 0..N_MELS {
                dct[k * N_MELS + n] = scale
                    * (std::f32::consts::PI * k as f32 * (2 * n + 1) as f32 / (2 * N_MELS) as f32)
                        .cos();
            }
        }
        let bin_hz = SR as f32 / N_FFT as f32;
        let freqs: Vec<f32> = (0..N_BINS).map(|k| k as f32 * bin_hz).collect();
        let mut edges = vec![0.0f32];
        let mut f = 200.0;
        for _ in 0..N_CONTRAST - 1 {
            edges.push(f);
            f *= 2.0;
        }
        edges.push(SR as f32 / 2.0 + 1.0);
        let contrast_bands = edges
            .windows(2)
            .map(|w| {
                let a = ((w[0] / bin_hz).ceil() as usize).max(1);
                let b = ((w[1] / bin_hz).floor() as usize)
                    .min(N_BINS - 1)
                    .max(a + 1);
                (a, b)
            })
            .collect();
        let freqs_sq = freqs.iter().map(|f| f * f).collect();
        FrameAnalyzer {
            fft,
            window,
            mel,
            dct,
            freqs,
            freqs_sq,
            contrast_bands,
        }
    }

    /// Frame-level features of one mono segment at [`SR`] (centred, zero-padded frames, so a
    /// segment of n samples gives `1 + n / HOP` frames; even a few samples give one frame).
    ///
    /// Uses AVX2 when the CPU has it (detected at run time); the arithmetic is the same
    /// either way (fixed-lane sums, no fused multiply-add), so the features do not depend on it.
    pub fn frames(&self, x: &[f32]) -> Frames {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports the feature the function is compiled for.
                return unsafe { self.frames_avx2(x) };
            }
        }
        self.frames_portable(x)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn frames_avx2(&self, x: &[f32]) -> Frames {
        self.frames_portable(x)
    }

    #[inline(always)]
    fn frames_portable(&self, x: &[f32]) -> Frames {
        let n_frames = 1 + x.len() / HOP;
        let mut out = Frames {
            logmel: Vec::with_capacity(n_frames * N_MELS),
            mfcc: Vec::with_capacity(n_frames * N_MFCC),
            contrast: Vec::with_capacity(n_frames * N_CONTRAST),
            chroma: Vec::with_capacity(n_frames * 12),
            centroid: Vec::with_capacity(n_frames),
            bandwidth: Vec::with_capacity(n_frames),
            rolloff: Vec::with_capacity(n_frames),
            flatness: Vec::with_capacity(n_frames),
            zcr: Vec::with_capacity(n_frames),
            rms_db: Vec::with_capacity(n_frames),
            onset: Vec::with_capacity(n_frames),
        };
        let mut input = self.fft.make_input_vec();
        let mut spec = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0f32; N_BINS];
        let mut mag = vec![0f32; N_BINS];
        let mut keys: Vec<u32> = Vec::with_capacity(N_BINS);
        let mut peaks = vec![0u32; N_BINS];
        let mut logmel = [0f32; N_MELS];
        let mut mel_e = [0f32; N_MELS];
        let half = (N_FFT / 2) as isize;
        let bin_hz = SR as f32 / N_FFT as f32;
        let kmin = ((55.0 / bin_hz) as usize).max(1);
        let kmax = ((5000.0 / bin_hz) as usize).min(N_BINS - 1);
        for t in 0..n_frames {
            let start = (t * HOP) as isize - half;
            if start >= 0 && (start as usize) + N_FFT <= x.len() {
                let seg = &x[start as usize..start as usize + N_FFT];
                for ((v, s), w) in input.iter_mut().zip(seg).zip(&self.window) {
                    *v = s * w;
                }
            } else {
                for (i, v) in input.iter_mut().enumerate() {
                    let j = start + i as isize;
                    let s = if j >= 0 && (j as usize) < x.len() {
                        x[j as usize]
                    } else {
                        0.0
                    };
                    *v = s * self.window[i];
                }
            }
            // RMS and zero-crossing rate over the central 1024 samples of the frame.
            let c0 = (t * HOP).saturating_sub(RMS_LEN / 2).min(x.len());
            let c1 = (c0 + RMS_LEN).min(x.len());
            let core = &x[c0..c1];
            let sumsq = lanes::sum_sq(core);
            let crossings: u32 = core
                .iter()
                .zip(core.get(1..).unwrap_or_default())
                .map(|(a, b)| u32::from((*a >= 0.0) != (*b >= 0.0)))
                .sum();
            let count = core.len();
            // process_with_scratch only fails on wrong buffer lengths, which are fixed here.
            if self
                .fft
                .process_with_scratch(&mut input, &mut spec, &mut scratch)
                .is_err()
            {
                spec.iter_mut().for_each(|c| *c = Complex::new(0.0, 0.0));
            }
            for ((p, m), c) in power.iter_mut().zip(mag.iter_mut()).zip(&spec) {
                let q = c.re * c.re + c.im * c.im;
                *p = q;
                *m = q.sqrt();
            }
            let total = lanes::sum(&power);
            // RMS / ZCR of the (unwindowed) frame content.
            let rms = if count > 0 {
                (sumsq / count as f32).sqrt()
            } else {
                0.0
            };
            out.rms_db.push(20.0 * (rms + 1e-9).log10());
            out.zcr.push(if count > 1 {
                crossings as f32 / (count - 1) as f32
            } else {
                0.0
            });
            // Mel + MFCC.
            for ((f, e), l) in self.mel.iter().zip(mel_e.iter_mut()).zip(logmel.iter_mut()) {
                *e = lanes::dot(&f.weights, &power[f.start..]) + 1e-10;
                *l = 10.0 * e.log10();
            }
            out.logmel.extend_from_slice(&logmel);
            for row in self.dct.chunks_exact(N_MELS) {
                out.mfcc.push(lanes::dot(row, &logmel));
            }
            // Spectral shape (on magnitude, like librosa).
            let m0 = lanes::sum(&mag);
            let m1 = lanes::dot(&mag, &self.freqs);
            let m2 = lanes::dot(&mag, &self.freqs_sq);
            let msum = m0 + 1e-12;
            let centroid = m1 / msum;
            let bw = (m2 / msum - centroid * centroid).max(0.0).sqrt();
            // Roll-off: whole blocks while the running sum stays below the target.
            let target = 0.85 * msum;
            let mut acc = 0.0;
            let mut roll = self.freqs[N_BINS - 1];
            'roll: for (bi, block) in mag.chunks(lanes::LANES).enumerate() {
                let s = lanes::sum(block);
                if acc + s < target {
                    acc += s;
                    continue;
                }
                for (i, m) in block.iter().enumerate() {
                    acc += m;
                    if acc >= target {
                        roll = self.freqs[bi * lanes::LANES + i];
                        break 'roll;
                    }
                }
            }
            // Flatness over the mel bands (geometric / arithmetic mean of band energies):
            // cheap (64 logs, already computed) and robust to the linear-bin density at HF.
            let lmean = lanes::sum(&logmel) / N_MELS as f32; // dB
            let amean = lanes::sum(&mel_e) / N_MELS as f32;
            let flat_db = lmean - 10.0 * (amean + 1e-10).log10();
            out.centroid.push(centroid);
            out.bandwidth.push(bw);
            out.rolloff.push(roll);
            out.flatness.push(flat_db);
            // Spectral contrast: mean of top vs bottom 20 % magnitudes (dB) per band. Powers are
            // >= 0, so their bit patterns order like the values (cheaper to select than f32).
            for &(a, b) in &self.contrast_bands {
                keys.clear();
                keys.extend(power[a..b].iter().map(|p| p.to_bits()));
                let n = keys.len();
                let q = ((n as f32 * 0.2).round() as usize).clamp(1, n);
                let mean = |k: &[u32]| k.iter().map(|&b| f32::from_bits(b)).sum::<f32>() / q as f32;
                // Partial selection (O(n)) instead of a full sort: the q smallest first, then
                // the q largest among the rest (q <= n / 2).
                let (lo, hi) = if q < n {
                    keys.select_nth_unstable(q - 1);
                    let lo = mean(&keys[..q]);
                    let upper = &mut keys[q..];
                    let m = upper.len();
                    upper.select_nth_unstable(m - q);
                    (lo, mean(&upper[m - q..]))
                } else {
                    let l = mean(&keys);
                    (l, l)
                };
                out.contrast
                    .push(10.0 * ((hi + 1e-10).log10() - (lo + 1e-10).log10()));
            }
            // Chroma from interpolated spectral peaks between 55 Hz and 5 kHz.
            let mut chroma = [0f32; 12];
            let floor = total * 1e-6;
            // The peaks first, without a branch per bin (each bin's index is written, and
            // the count moves on only for a peak), then each peak in order. A peak's left
            // neighbour is often the right neighbour of the peak two bins before: its log is
            // kept. The same operations on the same values as testing bin by bin.
            let mut n_peaks = 0;
            for k in kmin..kmax {
                let p = power[k];
                peaks[n_peaks] = k as u32;
                n_peaks += usize::from((p > power[k - 1]) & (p >= power[k + 1]) & (p > floor));
            }
            let mut kept_ln = (usize::MAX, 0f32);
            for &k in &peaks[..n_peaks] {
                let k = k as usize;
                let a = if kept_ln.0 == k - 1 {
                    kept_ln.1
                } else {
                    mag[k - 1].ln()
                };
                let (b, c) = (mag[k].ln(), mag[k + 1].ln());
                kept_ln = (k + 1, c);
                let den = a - 2.0 * b + c;
                let delta = if den.abs() > 1e-12 {
                    0.5 * (a - c) / den
                } else {
                    0.0
                };
                let f = (k as f32 + delta.clamp(-0.5, 0.5)) * bin_hz;
                let midi = 69.0 + 12.0 * (f / 440.0).log2();
                let near = round_half_away(midi);
                let pc = (near as i64).rem_euclid(12) as usize;
                let dev = (midi - near).abs();
                // Peaks far from a semitone centre are less pitch-like.
                chroma[pc] += mag[k] * (1.0 - dev);
            }
            out.chroma.extend_from_slice(&chroma);
        }
        // Onset strength: mean positive change of log-mel (floored 80 dB below the peak).
        let peak = out.logmel.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let floor = peak - 80.0;
        for v in out.logmel.iter_mut() {
            *v = v.max(floor);
        }
        out.onset.push(0.0);
        let mut rise = [0f32; N_MELS];
        for w in out
            .logmel
            .chunks_exact(N_MELS)
            .collect::<Vec<_>>()
            .windows(2)
        {
            for ((r, p), q) in rise.iter_mut().zip(w[0]).zip(w[1]) {
                *r = (q - p).max(0.0);
            }
            out.onset.push(lanes::sum(&rise) / N_MELS as f32);
        }
        out
    }
}

/// `x.round()` (halves away from zero), without a call into libm: `x - trunc(x)` is exact,
/// and so is adding ±1 to an integer below 2²⁴; from 2²³ on every `f32` is an integer and
/// comes back as it is. Bit for bit the same as [`f32::round`] (NaN stays NaN).
#[inline(always)]
pub(crate) fn round_half_away(x: f32) -> f32 {
    let t = x.trunc();
    if (x - t).abs() >= 0.5 {
        t + 1f32.copysign(x)
    } else {
        t
    }
}

/// Mean and (population) standard deviation.
///
/// ```
/// let (m, s) = songrec_audio::dsp::mean_std([1.0f32, 3.0].into_iter());
/// assert_eq!((m, s), (2.0, 1.0));
/// ```
pub fn mean_std(it: impl Iterator<Item = f32>) -> (f32, f32) {
    let (mut n, mut s, mut s2) = (0f64, 0f64, 0f64);
    for v in it {
        let v = f64::from(v);
        n += 1.0;
        s += v;
        s2 += v * v;
    }
    if n == 0.0 {
        return (0.0, 0.0);
    }
    let m = s / n;
    (m as f32, (s2 / n - m * m).max(0.0).sqrt() as f32)
}

/// Linear-interpolated percentile (`q` in 0..=1) of unsorted values.
///
/// ```
/// assert_eq!(songrec_audio::dsp::percentile(&[3.0, 1.0, 2.0], 0.5), 2.0);
/// ```
pub fn percentile(v: &[f32], q: f32) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_unstable_by(f32::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (s.len() - 1) as f32;
    let i = pos.floor() as usize;
    let j = (i + 1).min(s.len() - 1);
    s[i] + (s[j] - s[i]) * (pos - i as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(f: f32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * std::f32::consts::PI * f * i as f32 / SR as f32).sin() * 0.5)
            .collect()
    }

    #[test]
    fn round_half_away_is_rounds() {
        let mut xs = vec![
            0.0f32,
            -0.0,
            0.5,
            -0.5,
            1.5,
            2.5,
            -2.5,
            0.49999997,
            -0.49999997,
            8_388_607.5,
            8_388_608.0,
            16_777_215.0,
            1e30,
            -1e30,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MIN_POSITIVE,
            f32::MAX,
        ];
        xs.extend((0..20_000).map(|i| (i as f32 - 10_000.0) * 0.013_7));
        xs.extend((0..2_000).map(|i| 69.0 + 12.0 * ((i as f32 * 2.7 + 55.0) / 440.0).log2()));
        for x in xs {
            assert_eq!(round_half_away(x).to_bits(), x.round().to_bits(), "{x}");
        }
        assert!(round_half_away(f32::NAN).is_nan());
    }

    #[test]
    fn mel_scale_roundtrip() {
        for f in [0.0, 100.0, 999.0, 1000.0, 4000.0, 11_025.0] {
            assert!((mel_to_hz(hz_to_mel(f)) - f).abs() < 0.05 * f.max(1.0));
        }
    }

    #[test]
    fn frame_count_and_short_input() {
        let fa = FrameAnalyzer::new();
        assert_eq!(fa.frames(&vec![0.1; 22_050]).len(), 1 + 22_050 / HOP);
        let f = fa.frames(&[0.3; 10]);
        assert_eq!(f.len(), 1);
        assert!(f.mfcc.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn centroid_and_chroma_of_a_tone() {
        let fa = FrameAnalyzer::new();
        let f = fa.frames(&sine(440.0, 22_050));
        let mid = f.len() / 2;
        assert!(
            (f.centroid[mid] - 440.0).abs() < 40.0,
            "centroid {}",
            f.centroid[mid]
        );
        let c = &f.chroma[mid * 12..mid * 12 + 12];
        let best = (0..12).max_by(|&a, &b| c[a].total_cmp(&c[b])).unwrap_or(0);
        assert_eq!(best, 9, "A = pitch class 9, chroma {c:?}");
        // -9 dBFS RMS for a 0.5 amplitude sine.
        assert!((f.rms_db[mid] + 9.03).abs() < 0.2, "rms {}", f.rms_db[mid]);
        // Pure tone: very low flatness; white-ish noise: much higher.
        let noise: Vec<f32> = (0..22_050u32)
            .map(|i| ((i.wrapping_mul(2_654_435_761) >> 8) as f32 / 16_777_216.0) - 0.5)
            .collect();
        let fnz = fa.frames(&noise);
        assert!(fnz.flatness[mid] > f.flatness[mid] + 20.0);
        // Noise has a high ZCR, 440 Hz has 2*440/22050.
        assert!((f.zcr[mid] - 880.0 / 22_050.0).abs() < 0.005);
        assert!(fnz.zcr[mid] > 0.3);
    }

    #[test]
    fn onset_strength_peaks_at_a_hit() {
        let fa = FrameAnalyzer::new();
        let mut x = vec![0f32; 22_050];
        for (i, v) in x[11_025..11_025 + 300].iter_mut().enumerate() {
            *v = ((i * 7919) % 13) as f32 / 13.0 - 0.5;
        }
        let f = fa.frames(&x);
        let best = (0..f.len())
            .max_by(|&a, &b| f.onset[a].total_cmp(&f.onset[b]))
            .unwrap_or(0);
        let expect = 11_025 / HOP;
        assert!(
            best.abs_diff(expect) <= 2,
            "onset peak at frame {best}, expected ~{expect}"
        );
    }
}
