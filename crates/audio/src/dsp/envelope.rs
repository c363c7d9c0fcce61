//! Amplitude-envelope descriptors (attack, decay, temporal centroid...) that characterise
//! one-shots and hits, computed on a 128-sample (5.8 ms) RMS envelope.

/// Block size of the envelope, in samples.
pub const BLOCK: usize = 128;

/// Envelope descriptors of one segment.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Envelope {
    /// Duration of the segment, seconds.
    pub duration: f32,
    /// 10 % to 90 % of peak rise time (first rise to the peak), seconds.
    pub attack: f32,
    /// Time from the peak until the envelope stays 20 dB below it, seconds.
    pub decay: f32,
    /// Energy-weighted temporal centroid, seconds from the start.
    pub centroid: f32,
    /// Peak-to-RMS ratio, dB.
    pub crest_db: f32,
    /// Fraction of blocks within 20 dB of the peak.
    pub sustain: f32,
    /// Fraction of blocks more than 60 dB below the peak.
    pub silence: f32,
}

/// Compute envelope descriptors of mono audio at `rate` Hz.
///
/// ```
/// use songrec_audio::dsp::envelope::envelope;
/// let mut x = vec![0.0f32; 22_050];
/// for (i, v) in x.iter_mut().enumerate() { *v = (-(i as f32) / 1000.0).exp() * if i % 2 == 0 { 1.0 } else { -1.0 }; }
/// let e = envelope(&x, 22_050);
/// assert!(e.attack < 0.01 && e.decay > 0.05 && e.decay < 0.3);
/// ```
pub fn envelope(x: &[f32], rate: u32) -> Envelope {
    let rate = rate.max(1) as f32;
    let duration = x.len() as f32 / rate;
    if x.is_empty() {
        return Envelope::default();
    }
    let env: Vec<f32> = x
        .chunks(BLOCK)
        .map(|c| (c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32).sqrt())
        .collect();
    let bt = BLOCK as f32 / rate;
    let (pi, peak) =
        env.iter().copied().enumerate().fold(
            (0usize, 0f32),
            |acc, (i, v)| if v > acc.1 { (i, v) } else { acc },
        );
    if peak <= 1e-9 {
        return Envelope {
            duration,
            silence: 1.0,
            ..Default::default()
        };
    }
    // Attack: last time before the peak below 10 %, first time at/after it above 90 %.
    let start = (0..=pi)
        .rev()
        .find(|&i| env[i] < 0.1 * peak)
        .map(|i| i + 1)
        .unwrap_or(0);
    let top = (start..=pi).find(|&i| env[i] >= 0.9 * peak).unwrap_or(pi);
    let attack = ((top - start) as f32 + 0.5) * bt;
    let thr20 = peak * 0.1;
    let last_loud = (pi..env.len())
        .rev()
        .find(|&i| env[i] >= thr20)
        .unwrap_or(pi);
    let decay = ((last_loud - pi) as f32 + 0.5) * bt;
    let e2: Vec<f32> = env.iter().map(|v| v * v).collect();
    let tot: f32 = e2.iter().sum();
    let centroid = e2
        .iter()
        .enumerate()
        .map(|(i, e)| (i as f32 + 0.5) * bt * e)
        .sum::<f32>()
        / tot;
    let rms = (tot / env.len() as f32).sqrt();
    let sample_peak = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let crest_db = 20.0 * (sample_peak / rms.max(1e-9)).max(1.0).log10();
    let sustain = env.iter().filter(|&&v| v >= thr20).count() as f32 / env.len() as f32;
    let silence = env.iter().filter(|&&v| v < peak * 1e-3).count() as f32 / env.len() as f32;
    Envelope {
        duration,
        attack,
        decay,
        centroid,
        crest_db,
        sustain,
        silence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_swell_vs_hit() {
        let rate = 22_050;
        let n = rate as usize;
        // Linear 0.5 s fade-in then hold.
        let swell: Vec<f32> = (0..n)
            .map(|i| (i as f32 / (n as f32 / 2.0)).min(1.0) * if i % 2 == 0 { 0.5 } else { -0.5 })
            .collect();
        let e = envelope(&swell, rate);
        assert!(e.attack > 0.3 && e.attack < 0.5, "attack {}", e.attack);
        assert!(e.sustain > 0.8);
        // A 30 ms burst followed by silence.
        let mut hit = vec![0f32; n];
        for (i, v) in hit[..661].iter_mut().enumerate() {
            *v = if i % 3 == 0 { 0.9 } else { -0.4 };
        }
        let h = envelope(&hit, rate);
        assert!(h.attack < 0.01, "attack {}", h.attack);
        assert!(h.decay < 0.05, "decay {}", h.decay);
        assert!(h.silence > 0.9);
        assert!(h.centroid < 0.03);
        assert!((h.duration - 1.0).abs() < 1e-3);
    }
}
