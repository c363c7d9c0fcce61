//! Tempo: autocorrelation of the onset-strength envelope.

use super::FRAME_RATE;

/// Number of tempogram summary bins (log-spaced 40..240 bpm).
pub const N_TEMPO_BINS: usize = 10;
const MIN_BPM: f32 = 40.0;
const MAX_BPM: f32 = 240.0;
/// Longest lag used: 4 beats at 40 bpm... capped to 6 s.
const MAX_LAG_SECS: f32 = 6.0;

/// Accumulates an onset autocorrelation over several segments.
#[derive(Debug, Clone)]
pub struct OnsetAcf {
    sums: Vec<f64>,
    counts: Vec<f64>,
    frames: usize,
}

impl Default for OnsetAcf {
    fn default() -> Self {
        let max_lag = (MAX_LAG_SECS * FRAME_RATE) as usize;
        OnsetAcf {
            sums: vec![0.0; max_lag + 1],
            counts: vec![0.0; max_lag + 1],
            frames: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TempoSummary {
    /// Estimated tempo (None when there is no usable pulse).
    pub bpm: Option<f32>,
    /// The most likely tempo even when weak (for the feature vector), bpm.
    pub raw_bpm: f32,
    /// Height of the normalised autocorrelation at the beat period (0..1).
    pub clarity: f32,
    /// Max normalised autocorrelation in each log-spaced tempo band.
    pub bins: [f32; N_TEMPO_BINS],
}

impl OnsetAcf {
    /// Add one segment's onset envelope (frames at [`FRAME_RATE`]).
    pub fn add(&mut self, onset: &[f32]) {
        if onset.len() < 4 {
            return;
        }
        // Remove a local mean (0.5 s) and half-wave rectify: keeps the pulse, drops slow swells.
        let w = (0.25 * FRAME_RATE) as usize;
        let n = onset.len();
        let mut prefix = vec![0f64; n + 1];
        for i in 0..n {
            prefix[i + 1] = prefix[i] + f64::from(onset[i]);
        }
        let x: Vec<f64> = (0..n)
            .map(|i| {
                let a = i.saturating_sub(w);
                let b = (i + w + 1).min(n);
                let m = (prefix[b] - prefix[a]) / (b - a) as f64;
                (f64::from(onset[i]) - m).max(0.0)
            })
            .collect();
        // Light smoothing ([1 2 1]/4 twice) so one-frame spikes still correlate at fractional periods.
        let mut x = x;
        for _ in 0..2 {
            let y: Vec<f64> = (0..n)
                .map(|i| {
                    let a = x[i.saturating_sub(1)];
                    let c = x[(i + 1).min(n - 1)];
                    0.25 * a + 0.5 * x[i] + 0.25 * c
                })
                .collect();
            x = y;
        }
        let mean = x.iter().sum::<f64>() / n as f64;
        let x: Vec<f64> = x.iter().map(|v| v - mean).collect();
        for lag in 0..self.sums.len().min(n) {
            let s: f64 = x[..n - lag].iter().zip(&x[lag..]).map(|(a, b)| a * b).sum();
            self.sums[lag] += s;
            self.counts[lag] += (n - lag) as f64;
        }
        self.frames += n;
    }

    /// Normalised autocorrelation (lag 0 = 1), unbiased by overlap length.
    fn normalised(&self) -> Vec<f32> {
        let r0 = if self.counts[0] > 0.0 {
            self.sums[0] / self.counts[0]
        } else {
            0.0
        };
        self.sums
            .iter()
            .zip(&self.counts)
            .map(|(s, c)| {
                if *c > 0.0 && r0 > 1e-12 {
                    (s / c / r0) as f32
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// Estimate tempo and the tempogram summary.
    pub fn summary(&self) -> TempoSummary {
        let ac = self.normalised();
        let fr = FRAME_RATE;
        let lag_of = |bpm: f32| 60.0 * fr / bpm;
        let min_lag = lag_of(MAX_BPM).floor().max(1.0) as usize;
        let max_lag = (lag_of(MIN_BPM).ceil() as usize).min(ac.len().saturating_sub(2));
        let mut bins = [0f32; N_TEMPO_BINS];
        let usable_secs = self.frames as f32 / fr;
        if max_lag <= min_lag + 2 || usable_secs < 2.0 {
            return TempoSummary {
                bpm: None,
                raw_bpm: 120.0,
                clarity: 0.0,
                bins,
            };
        }
        // Tempogram summary: max in each log-bpm band.
        for (b, slot) in bins.iter_mut().enumerate() {
            let lo_bpm = MIN_BPM * (MAX_BPM / MIN_BPM).powf(b as f32 / N_TEMPO_BINS as f32);
            let hi_bpm = MIN_BPM * (MAX_BPM / MIN_BPM).powf((b + 1) as f32 / N_TEMPO_BINS as f32);
            let l0 = (lag_of(hi_bpm).floor() as usize).max(1);
            let l1 = (lag_of(lo_bpm).ceil() as usize).min(ac.len() - 1);
            *slot = (l0..=l1).map(|l| ac[l]).fold(-1.0f32, f32::max).max(0.0);
        }
        // Beat period: local maxima weighted by a log-normal prior around 120 bpm (1 octave),
        // with the evidence of the double period added (a true beat repeats).
        let mut best = (f32::NEG_INFINITY, 0usize);
        for l in min_lag..=max_lag {
            if ac[l] >= ac[l - 1] && ac[l] >= ac[l + 1] && ac[l] > 0.0 {
                let bpm = 60.0 * fr / l as f32;
                let prior = (-0.5 * ((bpm / 120.0).log2() / 1.0).powi(2)).exp();
                let twice = ac.get(2 * l).copied().unwrap_or(0.0).max(0.0);
                let score = (ac[l] + 0.5 * twice) * prior;
                if score > best.0 {
                    best = (score, l);
                }
            }
        }
        if best.1 == 0 {
            return TempoSummary {
                bpm: None,
                raw_bpm: 120.0,
                clarity: 0.0,
                bins,
            };
        }
        let l0 = best.1;
        let clarity = ac[l0].clamp(0.0, 1.0);
        // Refine with parabolic interpolation at multiples of the period.
        let mut est = Vec::new();
        for k in 1..=4usize {
            let c = (l0 * k) as isize;
            let mut lb = None;
            let mut bv = f32::NEG_INFINITY;
            for l in (c - k as isize)..=(c + k as isize) {
                if l >= 1 && (l as usize) + 1 < ac.len() && ac[l as usize] > bv {
                    bv = ac[l as usize];
                    lb = Some(l as usize);
                }
            }
            let Some(l) = lb else { break };
            let (a, b, cc) = (ac[l - 1], ac[l], ac[l + 1]);
            let den = a - 2.0 * b + cc;
            let d = if den.abs() > 1e-9 {
                (0.5 * (a - cc) / den).clamp(-0.5, 0.5)
            } else {
                0.0
            };
            if b > 0.1 * clarity {
                est.push(((l as f32 + d) / k as f32, k as f32));
            }
        }
        let period = if est.is_empty() {
            l0 as f32
        } else {
            est.iter().map(|(p, w)| p * w).sum::<f32>() / est.iter().map(|(_, w)| w).sum::<f32>()
        };
        let raw_bpm = 60.0 * fr / period;
        let bpm = (clarity > 0.08 && usable_secs >= 4.0).then_some(raw_bpm);
        TempoSummary {
            bpm,
            raw_bpm,
            clarity,
            bins,
        }
    }
}

/// Count onsets: local maxima of the onset envelope above an adaptive threshold.
///
/// ```
/// let mut env = vec![0.0f32; 100];
/// env[20] = 5.0; env[60] = 4.0;
/// assert_eq!(songrec_audio::dsp::tempo::count_onsets(&env), 2);
/// ```
pub fn count_onsets(onset: &[f32]) -> usize {
    if onset.len() < 3 {
        return 0;
    }
    let (m, s) = super::mean_std(onset.iter().copied());
    let peak = onset.iter().cloned().fold(0.0f32, f32::max);
    let thr = (m + 0.5 * s).max(0.1 * peak).max(1e-3);
    let w = 3usize;
    (0..onset.len())
        .filter(|&i| {
            let a = i.saturating_sub(w);
            let b = (i + w + 1).min(onset.len());
            let v = onset[i];
            v >= thr && onset[a..b].iter().all(|&u| u <= v) && (i == 0 || onset[i - 1] < v)
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pulse_env(bpm: f32, secs: f32) -> Vec<f32> {
        let n = (secs * FRAME_RATE) as usize;
        let period = 60.0 * FRAME_RATE / bpm;
        (0..n)
            .map(|i| {
                let ph = (i as f32 / period).fract();
                if ph < 1.0 / period { 1.0 } else { 0.05 }
            })
            .collect()
    }

    #[test]
    fn recovers_tempo_of_a_pulse_train() {
        for bpm in [90.0f32, 120.0, 128.0, 140.0] {
            let mut acf = OnsetAcf::default();
            acf.add(&pulse_env(bpm, 30.0));
            let s = acf.summary();
            let got = s.bpm.unwrap_or(0.0);
            assert!((got - bpm).abs() < 2.0, "expected {bpm}, got {got}");
            assert!(s.clarity > 0.3);
        }
    }

    #[test]
    fn no_tempo_for_short_or_flat_input() {
        let mut acf = OnsetAcf::default();
        acf.add(&[0.0, 1.0, 0.0, 0.0, 0.0]);
        assert_eq!(acf.summary().bpm, None);
        let mut acf = OnsetAcf::default();
        acf.add(&vec![0.5; 2000]);
        assert_eq!(acf.summary().bpm, None);
    }
}
