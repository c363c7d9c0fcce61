//! A waveform signature: the second, independent check behind "same recording".
//!
//! Chromaprint hears the spectral envelope, which two different sounds can share; a copy of a
//! recording also keeps its waveform (the sign of the band-passed signal survives codecs, gain,
//! compression and gentle EQ). A signature keeps, for a few 46 ms excerpts, the **sign bits**
//! of the audio band-passed to 200–2500 Hz and partly whitened, at 5512.5 Hz. The excerpts sit
//! where the band is loudest (three places) and at the first three places after 4 s that are
//! the loudest within ±3 s, so a trimmed or compressed copy still shares some.
//!
//! [`similarity`] is the best correlation of any two excerpts over small lags: near 1 for
//! copies, low for distinct takes ([`MIN_SAME`]). Stored base64 (URL-safe, no padding), at
//! most [`MAX_EXCERPTS`] × (6 + 32) + 2 bytes.

use base64::Engine;
use realfft::RealFftPlanner;

use crate::{IdentityError, IdentityResult};

/// Sign bits per excerpt.
pub const EXCERPT: usize = 256;
/// Excerpts stored at most.
pub const MAX_EXCERPTS: usize = 6;
/// Lowest frequency kept, Hz.
pub const BAND_LO: f32 = 200.0;
/// Highest frequency kept, Hz.
pub const BAND_HI: f32 = 2500.0;
/// Rate of the stored signs, Hz.
pub const SIGN_RATE: f32 = 5512.5;
/// Correlations searched over ±this many sign samples (±46 ms).
pub const MAX_LAG: i64 = 256;
/// Least [`similarity`] for two songs whose fingerprints agree to be one recording (below it
/// they "sound alike"): the middle between distinct takes (up to 0.71) and copies (from 0.83)
/// of real recordings (`examples/waveform_pairs.rs`, `scripts/eval/dupes/README.md`).
pub const MIN_SAME: f32 = 0.77;

const FORMAT: u8 = 1;
const LOUDEST: usize = 3;
const DOMINANT: usize = 3;
const DOMINANT_RADIUS_SECS: f32 = 3.0;
const DOMINANT_FROM_SECS: f32 = 4.0;
/// Excerpt frames per hop of the loudness track.
const HOPS_PER_EXCERPT: usize = 8;
const WHITEN_POWER: f32 = 0.5;

/// One excerpt: where it starts (samples of the analysed audio) and its sign bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Excerpt {
    /// First sample, at the analysed rate.
    pub at: u32,
    /// Signs (`true`: positive), at most [`EXCERPT`].
    pub signs: Vec<bool>,
}

/// The excerpts of one recording.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Signature {
    /// In file order.
    pub excerpts: Vec<Excerpt>,
}

/// A second-order filter section (RBJ cookbook), direct form I.
struct Biquad {
    b: [f32; 3],
    a: [f32; 2],
}

impl Biquad {
    fn new(rate: f32, freq: f32, high: bool) -> Self {
        let w = std::f32::consts::TAU * (freq / rate).min(0.49);
        let (s, c) = w.sin_cos();
        let alpha = s / std::f32::consts::SQRT_2; // Q = 1/√2: Butterworth
        let a0 = 1.0 + alpha;
        let b = if high {
            [(1.0 + c) / 2.0, -(1.0 + c), (1.0 + c) / 2.0]
        } else {
            [(1.0 - c) / 2.0, 1.0 - c, (1.0 - c) / 2.0]
        };
        Self {
            b: [b[0] / a0, b[1] / a0, b[2] / a0],
            a: [-2.0 * c / a0, (1.0 - alpha) / a0],
        }
    }

    /// `second` run on `self`'s output, in one pass: the two recursions interleave (each
    /// waits on its own last outputs only), with the same operations in the same order as two
    /// passes, so the same bits. The state lives in locals, so it stays in registers.
    fn then(&self, second: &Biquad, x: &[f32]) -> Vec<f32> {
        let (b, a, d, c) = (self.b, self.a, second.b, second.a);
        let (mut x1, mut x2, mut y1, mut y2) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
        let (mut u1, mut u2, mut z1, mut z2) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
        let mut out = vec![0.0f32; x.len()];
        for (o, &x0) in out.iter_mut().zip(x) {
            let y0 = b[0] * x0 + b[1] * x1 + b[2] * x2 - a[0] * y1 - a[1] * y2;
            (x2, x1, y2, y1) = (x1, x0, y1, y0);
            let z0 = d[0] * y0 + d[1] * u1 + d[2] * u2 - c[0] * z1 - c[1] * z2;
            (u2, u1, z2, z1) = (u1, y0, z1, z0);
            *o = z0;
        }
        out
    }
}

/// The signature of mono audio at `rate` (songrec decodes at 22.05 kHz). Silence and empty
/// input give a signature without excerpts, which never confirms a copy.
pub fn signature(samples: &[f32], rate: u32) -> Signature {
    if rate == 0 || samples.is_empty() {
        return Signature::default();
    }
    let r = rate as f32;
    let step = ((r / SIGN_RATE).round() as usize).max(1);
    let span = EXCERPT * step;
    let hop = (span / HOPS_PER_EXCERPT).max(1);
    let band = Biquad::new(r, BAND_LO, true).then(&Biquad::new(r, BAND_HI, false), samples);
    // Loudness of the band over one excerpt's length, from each hop.
    let frames = band.len().div_ceil(hop);
    let energy: Vec<f64> = (0..frames)
        .map(|i| {
            band[i * hop..((i + 1) * hop).min(band.len())]
                .iter()
                .map(|&v| f64::from(v) * f64::from(v))
                .sum()
        })
        .collect();
    let loud: Vec<f64> = (0..frames)
        .map(|i| energy[i..(i + HOPS_PER_EXCERPT).min(frames)].iter().sum())
        .collect();
    let mut picks = loudest(&loud);
    picks.extend(dominant(&loud, r, hop));
    picks.sort_unstable();
    picks.dedup();
    let mut planner = RealFftPlanner::<f32>::new();
    let fft = planner.plan_fft_forward(span);
    let ifft = planner.plan_fft_inverse(span);
    let mut excerpts = Vec::new();
    for i in picks {
        let s0 = i * hop;
        let s1 = (s0 + span).min(band.len());
        if s1 <= s0 {
            continue;
        }
        // The loudest sample of the window fixes where, to the sample, the excerpt starts, so
        // two copies take their signs at the same instants.
        let peak = s0
            + band[s0..s1]
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                .map_or(0, |(k, _)| k);
        let back = (peak.min(span / 4) / step) * step;
        let start = peak - back;
        let end = (start + span).min(samples.len());
        if let Some(signs) = whitened_signs(&samples[start..end], r, step, &*fft, &*ifft) {
            excerpts.push(Excerpt {
                at: u32::try_from(start).unwrap_or(u32::MAX),
                signs,
            });
        }
    }
    excerpts.truncate(MAX_EXCERPTS);
    Signature { excerpts }
}

/// The [`LOUDEST`] loudest windows, at least an excerpt apart.
fn loudest(loud: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..loud.len()).filter(|&i| loud[i] > 0.0).collect();
    order.sort_by(|&a, &b| loud[b].total_cmp(&loud[a]).then(a.cmp(&b)));
    let mut picks: Vec<usize> = Vec::new();
    for i in order {
        if picks.iter().all(|&j| i.abs_diff(j) >= HOPS_PER_EXCERPT) {
            picks.push(i);
            if picks.len() == LOUDEST {
                break;
            }
        }
    }
    picks
}

/// Windows louder than everything within ±3 s: the first [`DOMINANT`] after 4 s, completed by
/// the loudest earlier ones.
fn dominant(loud: &[f64], rate: f32, hop: usize) -> Vec<usize> {
    let radius = ((DOMINANT_RADIUS_SECS * rate / hop as f32) as usize).max(1);
    let from = (DOMINANT_FROM_SECS * rate / hop as f32) as usize;
    let n = loud.len();
    // Sliding maximum over [i - radius, i + radius] (monotonic deque).
    let mut max = vec![0.0f64; n];
    let mut dq: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    let mut next = 0;
    for (i, m) in max.iter_mut().enumerate() {
        while next < n && next <= i + radius {
            while dq.back().is_some_and(|&b| loud[b] <= loud[next]) {
                dq.pop_back();
            }
            dq.push_back(next);
            next += 1;
        }
        while dq.front().is_some_and(|&f| f + radius < i) {
            dq.pop_front();
        }
        *m = dq.front().map_or(0.0, |&f| loud[f]);
    }
    let peaks: Vec<usize> = (0..n)
        .filter(|&i| loud[i] > 0.0 && loud[i] >= max[i] && (i == 0 || loud[i - 1] < loud[i]))
        .collect();
    let mut late: Vec<usize> = peaks
        .iter()
        .copied()
        .filter(|&i| i >= from)
        .take(DOMINANT)
        .collect();
    if late.len() < DOMINANT {
        let mut early: Vec<usize> = peaks.iter().copied().filter(|&i| i < from).collect();
        early.sort_by(|&a, &b| loud[b].total_cmp(&loud[a]).then(a.cmp(&b)));
        late.extend(early.into_iter().take(DOMINANT - late.len()));
    }
    late
}

/// Band-limits and partly whitens one excerpt (zero-padded to the FFT length), then keeps the
/// sign of every `step`-th sample. `None` for silence.
fn whitened_signs(
    raw: &[f32],
    rate: f32,
    step: usize,
    fft: &dyn realfft::RealToComplex<f32>,
    ifft: &dyn realfft::ComplexToReal<f32>,
) -> Option<Vec<bool>> {
    let n = fft.len();
    let mut input = fft.make_input_vec();
    input[..raw.len().min(n)].copy_from_slice(&raw[..raw.len().min(n)]);
    let mut spec = fft.make_output_vec();
    fft.process(&mut input, &mut spec).ok()?;
    let bin_hz = rate / n as f32;
    let mut top = 0.0f32;
    for (k, c) in spec.iter_mut().enumerate() {
        let f = k as f32 * bin_hz;
        if !(BAND_LO..=BAND_HI).contains(&f) {
            *c = realfft::num_complex::Complex::new(0.0, 0.0);
        }
        top = top.max(c.norm());
    }
    if !top.is_finite() || top <= 0.0 {
        return None;
    }
    let floor = 1e-3 * top + 1e-12;
    for c in spec.iter_mut() {
        let m = c.norm();
        *c /= (m + floor).powf(WHITEN_POWER);
    }
    // realfft wants real DC and Nyquist bins.
    if let Some(c) = spec.first_mut() {
        c.im = 0.0;
    }
    if let Some(c) = spec.last_mut() {
        c.im = 0.0;
    }
    let mut out = ifft.make_output_vec();
    ifft.process(&mut spec, &mut out).ok()?;
    let kept = raw.len().min(n);
    Some(
        out[..kept]
            .iter()
            .step_by(step)
            .take(EXCERPT)
            .map(|&v| v > 0.0)
            .collect(),
    )
}

fn correlation(a: &[bool], b: &[bool]) -> Option<f32> {
    let want = a.len().min(b.len()) / 2;
    if want == 0 {
        return None;
    }
    let corr = |lag: i64| -> Option<f32> {
        // a[k] against b[k + lag].
        let i0 = (-lag).max(0) as usize;
        let i1 = (b.len() as i64 - lag).min(a.len() as i64);
        if i1 - (i0 as i64) < want as i64 {
            return None;
        }
        let i1 = i1 as usize;
        let same = (i0..i1)
            .filter(|&k| a[k] == b[(k as i64 + lag) as usize])
            .count();
        let n = i1 - i0;
        Some((2.0 * same as f32 - n as f32) / n as f32)
    };
    let vals: Vec<(i64, f32)> = (-MAX_LAG..=MAX_LAG)
        .filter_map(|l| corr(l).map(|c| (l, c)))
        .collect();
    let (k, &(_, y1)) = vals
        .iter()
        .enumerate()
        .max_by(|x, y| x.1.1.total_cmp(&y.1.1))?;
    // Between two sign samples: a parabola through the peak and its neighbours.
    let refined = match (k.checked_sub(1).and_then(|j| vals.get(j)), vals.get(k + 1)) {
        (Some(&(_, y0)), Some(&(_, y2))) if y0 - 2.0 * y1 + y2 < 0.0 => {
            y1 - (y2 - y0) * (y2 - y0) / (8.0 * (y0 - 2.0 * y1 + y2))
        }
        _ => y1,
    };
    Some(refined.min(1.0))
}

/// How alike two signatures' waveforms are: the best correlation of any two excerpts over
/// lags of ±[`MAX_LAG`] (1 = identical signs); `None` when either has no excerpt.
///
/// ```
/// use songrec_identity::waveform::{signature, similarity};
/// let noise = |seed: u64| -> Vec<f32> {
///     let mut x = seed;
///     (0..44_100).map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; (x % 2001) as f32 / 1000.0 - 1.0 }).collect()
/// };
/// let a = noise(1);
/// let louder: Vec<f32> = a.iter().map(|v| 0.5 * v).collect();
/// let same = similarity(&signature(&a, 22_050), &signature(&louder, 22_050)).unwrap();
/// let other = similarity(&signature(&a, 22_050), &signature(&noise(2), 22_050)).unwrap();
/// assert!(same > 0.95 && other < 0.4, "{same} {other}");
/// ```
pub fn similarity(a: &Signature, b: &Signature) -> Option<f32> {
    a.excerpts
        .iter()
        .flat_map(|x| b.excerpts.iter().map(move |y| (x, y)))
        .filter_map(|(x, y)| correlation(&x.signs, &y.signs))
        .max_by(f32::total_cmp)
}

/// The stored form: base64 (URL-safe, no padding) of a format byte, the excerpt count, then per
/// excerpt its start (u32 LE), its sign count (u8, 0 meaning 256) and the signs packed LSB first.
pub fn encode(s: &Signature) -> String {
    let mut out = vec![FORMAT, s.excerpts.len().min(MAX_EXCERPTS) as u8];
    for e in s.excerpts.iter().take(MAX_EXCERPTS) {
        let n = e.signs.len().min(EXCERPT);
        out.extend_from_slice(&e.at.to_le_bytes());
        out.push((n % 256) as u8);
        let mut bytes = vec![0u8; n.div_ceil(8)];
        for (k, &b) in e.signs.iter().take(n).enumerate() {
            if b {
                bytes[k / 8] |= 1 << (k % 8);
            }
        }
        out.extend_from_slice(&bytes);
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out)
}

/// Inverse of [`encode`]; any malformed input is an error, never a panic.
///
/// ```
/// use songrec_identity::waveform::{Excerpt, Signature, decode, encode};
/// let s = Signature { excerpts: vec![Excerpt { at: 7, signs: vec![true, false, true] }] };
/// assert_eq!(decode(&encode(&s)).unwrap(), s);
/// assert!(decode("AQ").is_err());
/// ```
pub fn decode(text: &str) -> IdentityResult<Signature> {
    let bad = |why: &str| IdentityError::Invalid(format!("unreadable waveform signature: {why}"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim())
        .map_err(|e| bad(&e.to_string()))?;
    let (&format, rest) = bytes.split_first().ok_or_else(|| bad("empty"))?;
    if format != FORMAT {
        return Err(bad("unknown format"));
    }
    let (&count, mut rest) = rest.split_first().ok_or_else(|| bad("truncated"))?;
    if usize::from(count) > MAX_EXCERPTS {
        return Err(bad("too many excerpts"));
    }
    let mut excerpts = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        if rest.len() < 5 {
            return Err(bad("truncated"));
        }
        let at = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let n = match rest[4] {
            0 => EXCERPT,
            n => usize::from(n),
        };
        let len = n.div_ceil(8);
        let packed = rest.get(5..5 + len).ok_or_else(|| bad("truncated"))?;
        let signs = (0..n)
            .map(|k| (packed[k / 8] >> (k % 8)) & 1 == 1)
            .collect();
        excerpts.push(Excerpt { at, signs });
        rest = &rest[5 + len..];
    }
    if !rest.is_empty() {
        return Err(bad("trailing bytes"));
    }
    Ok(Signature { excerpts })
}

#[cfg(test)]
mod tests {
    use super::*;
    use songrec_storage::rng::SplitMix;

    /// One filter over the whole input, as the signature ran it before `Biquad::then`.
    fn run(f: &Biquad, x: &[f32]) -> Vec<f32> {
        let (mut x1, mut x2, mut y1, mut y2) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
        x.iter()
            .map(|&x0| {
                let y0 = f.b[0] * x0 + f.b[1] * x1 + f.b[2] * x2 - f.a[0] * y1 - f.a[1] * y2;
                (x2, x1, y2, y1) = (x1, x0, y1, y0);
                y0
            })
            .collect()
    }

    #[test]
    fn the_cascade_in_one_pass_is_the_two_passes_bit_for_bit() {
        let mut r = SplitMix::new(3);
        let x: Vec<f32> = (0..50_000).map(|_| r.next_signed()).collect();
        for rate in [8_000.0, 22_050.0, 44_100.0, 48_000.0] {
            let (lo, hi) = (
                Biquad::new(rate, BAND_LO, true),
                Biquad::new(rate, BAND_HI, false),
            );
            let two = run(&hi, &run(&lo, &x));
            let one = lo.then(&hi, &x);
            assert!(
                one.iter()
                    .zip(&two)
                    .all(|(a, b)| a.to_bits() == b.to_bits())
            );
            assert_eq!(one.len(), x.len());
        }
    }

    #[test]
    fn codec_round_trips_and_refuses_garbage() {
        let mut r = SplitMix::new(3);
        for n in [0usize, 1, 3] {
            let s = Signature {
                excerpts: (0..n)
                    .map(|i| Excerpt {
                        at: (i * 1000) as u32,
                        signs: (0..(EXCERPT - i * 7))
                            .map(|_| r.next_u64() & 1 == 1)
                            .collect(),
                    })
                    .collect(),
            };
            assert_eq!(decode(&encode(&s)).unwrap(), s);
        }
        for bad in ["", "!", "AQ", "AgA", "AQcAAAAAAA", "AQEAAAAAAQ"] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
        // Every truncation and every single-byte change of a valid encoding: no panic.
        let s = signature(
            &(0..22_050)
                .map(|_| r.next_f64() as f32 - 0.5)
                .collect::<Vec<_>>(),
            22_050,
        );
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encode(&s))
            .unwrap();
        for cut in 0..raw.len() {
            let t = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw[..cut]);
            let _ = decode(&t);
        }
        for i in 0..raw.len() {
            let mut m = raw.clone();
            m[i] ^= 0xA5;
            let _ = decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&m));
        }
    }

    #[test]
    fn silence_and_empty_input_have_no_excerpt() {
        assert!(signature(&[], 22_050).excerpts.is_empty());
        assert!(signature(&[0.0; 30_000], 22_050).excerpts.is_empty());
        assert!(signature(&[0.1; 100], 0).excerpts.is_empty());
        assert_eq!(
            similarity(&Signature::default(), &Signature::default()),
            None
        );
    }

    #[test]
    fn a_shifted_quieter_copy_matches_and_other_noise_does_not() {
        let mut r = SplitMix::new(9);
        let a: Vec<f32> = (0..22_050 * 6)
            .map(|i| (r.next_f64() as f32 - 0.5) * (1.0 + (i as f32 / 9000.0).sin()))
            .collect();
        let b: Vec<f32> = a[3_001..].iter().map(|v| 0.3 * v).collect();
        let c: Vec<f32> = (0..a.len()).map(|_| r.next_f64() as f32 - 0.5).collect();
        let (sa, sb, sc) = (
            signature(&a, 22_050),
            signature(&b, 22_050),
            signature(&c, 22_050),
        );
        assert!(sa.excerpts.len() >= 3 && sa.excerpts.len() <= MAX_EXCERPTS);
        assert!(encode(&sa).len() <= 308, "{}", encode(&sa).len());
        let same = similarity(&sa, &sb).unwrap();
        let other = similarity(&sa, &sc).unwrap();
        assert!(same >= MIN_SAME, "{same}");
        assert!(other < 0.4, "{other}");
    }
}
