//! Streaming polyphase windowed-sinc resampler (mono, f32).
//!
//! The rate ratio is reduced to `up / down` with a gcd. When `up` is small (every common
//! rate pair: 44.1k, 48k, 96k, 16k, 8k to 22.05k) the filter has exactly `up` phases and the
//! output is the exact band-limited interpolation. For odd rates whose reduced `up` would be
//! huge, the phase is quantised to [`MAX_PHASES`] steps (timing error below 1/8192 of an input
//! sample, irrelevant for analysis).
//!
//! The kernel is a Kaiser-windowed sinc (beta 8.6, about -85 dB stop band) with 10 zero
//! crossings per side (44 taps for 44.1 kHz -> 22.05 kHz), cut off at 0.91 of the lower Nyquist
//! frequency: flat (< 0.3 dB) to ~0.7 * Nyquist, -85 dB from ~1.2 * Nyquist; the transition band
//! only folds into the top ~1 kHz of the analysis band, which the features barely use.

/// Largest number of filter phases kept in the coefficient table.
pub const MAX_PHASES: usize = 4096;
/// Outputs computed side by side by the 2 : 1 path.
const GROUP: usize = 16;
/// Outputs per block of the 2 : 1 path (its even and odd inputs stay in the L1 cache).
const BLOCK: usize = 512;
const ZERO_CROSSINGS: f64 = 10.0;
const CUTOFF: f64 = 0.91;
const KAISER_BETA: f64 = 8.6;

use std::sync::{Arc, Mutex, OnceLock};

/// A streaming resampler: feed input with [`Resampler::process`], finish with
/// [`Resampler::flush`]. Total output length is `ceil(n_in * out_rate / in_rate)`.
///
/// ```
/// use songrec_audio::resample::Resampler;
/// let mut r = Resampler::new(44_100, 22_050);
/// let mut out = Vec::new();
/// r.process(&vec![0.5f32; 4410], &mut out);
/// r.flush(&mut out);
/// assert_eq!(out.len(), 2205);
/// ```
#[derive(Debug, Clone)]
pub struct Resampler {
    out_rate: u32,
    up: u64,
    down: u64,
    phases: usize,
    exact: bool,
    half: usize,
    taps: usize,
    /// `[phases, taps]`, shared by every resampler of the same rate pair ([`coefficients`]).
    coeffs: std::sync::Arc<[f32]>,
    /// Input history; `buf[0]` is absolute input index `buf_start`.
    buf: Vec<f32>,
    buf_start: i64,
    n_in: u64,
    n_out: u64,
    passthrough: bool,
}

/// The rate ratio `out_rate / in_rate` in lowest terms, as `(up, down)`.
pub fn ratio(in_rate: u32, out_rate: u32) -> (u64, u64) {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    let g = gcd(u64::from(in_rate), u64::from(out_rate));
    (u64::from(out_rate) / g, u64::from(in_rate) / g)
}

/// Zeroth-order modified Bessel function of the first kind (series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    for k in 1..64 {
        term *= q / (k as f64 * k as f64);
        sum += term;
        if term < 1e-12 * sum {
            break;
        }
    }
    sum
}

/// Rate pairs whose filters are kept ([`coefficients`]); a library meets a handful.
const KEPT_FILTERS: usize = 16;

/// The `[phases, 2 · half]` Kaiser-windowed sinc filter of a rate pair, each phase normalised
/// to unit DC gain: computed once per pair (thousands of Bessel series for the 16 or 22.05 kHz
/// pairs, about a millisecond) and shared while at most [`KEPT_FILTERS`] pairs are kept.
fn coefficients(in_rate: u32, out_rate: u32, phases: usize, half: usize, fc: f64) -> Arc<[f32]> {
    type Kept = Mutex<Vec<((u32, u32), Arc<[f32]>)>>;
    static KEPT: OnceLock<Kept> = OnceLock::new();
    let kept = KEPT.get_or_init(Mutex::default);
    let key = (in_rate, out_rate);
    // A poisoned lock only means another thread panicked while holding it: the list of
    // finished filters is still whole.
    if let Some((_, c)) = kept
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .find(|(k, _)| *k == key)
    {
        return c.clone();
    }
    let taps = 2 * half;
    let mut coeffs = vec![0f32; phases * taps];
    let i0b = bessel_i0(KAISER_BETA);
    for p in 0..phases {
        let frac = p as f64 / phases as f64;
        let row = &mut coeffs[p * taps..(p + 1) * taps];
        let mut sum = 0.0f64;
        let mut vals = vec![0f64; taps];
        for (k, v) in vals.iter_mut().enumerate() {
            // tau = t_out - j, with j = base - half + 1 + k.
            let tau = frac + half as f64 - 1.0 - k as f64;
            let x = 2.0 * fc * tau;
            let sinc = if x.abs() < 1e-12 {
                1.0
            } else {
                (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
            };
            let r = tau / half as f64;
            let w = if r.abs() >= 1.0 {
                0.0
            } else {
                bessel_i0(KAISER_BETA * (1.0 - r * r).sqrt()) / i0b
            };
            *v = 2.0 * fc * sinc * w;
            sum += *v;
        }
        // Normalise each phase to unit DC gain.
        for (c, v) in row.iter_mut().zip(vals) {
            *c = (v / sum) as f32;
        }
    }
    let coeffs: Arc<[f32]> = coeffs.into();
    let mut kept = kept.lock().unwrap_or_else(|p| p.into_inner());
    if kept.len() >= KEPT_FILTERS {
        kept.remove(0);
    }
    kept.push((key, coeffs.clone()));
    coeffs
}

impl Resampler {
    /// Create a resampler from `in_rate` to `out_rate` (both > 0; a 0 rate is treated as 1).
    pub fn new(in_rate: u32, out_rate: u32) -> Self {
        let in_rate = in_rate.max(1);
        let out_rate = out_rate.max(1);
        let (up, down) = ratio(in_rate, out_rate);
        let exact = up as usize <= MAX_PHASES;
        let phases = if exact { up as usize } else { MAX_PHASES };
        // Cut-off in cycles per input sample.
        let ratio = (f64::from(out_rate) / f64::from(in_rate)).min(1.0);
        let fc = 0.5 * ratio * CUTOFF;
        let half = (ZERO_CROSSINGS / (2.0 * fc)).ceil() as usize;
        let taps = 2 * half;
        let coeffs = coefficients(in_rate, out_rate, phases, half, fc);
        let passthrough = in_rate == out_rate;
        Resampler {
            out_rate,
            up,
            down,
            phases,
            exact,
            half,
            taps,
            coeffs,
            buf: vec![0.0; half],
            buf_start: -(half as i64),
            n_in: 0,
            n_out: 0,
            passthrough,
        }
    }

    /// Output rate in Hz.
    pub fn out_rate(&self) -> u32 {
        self.out_rate
    }

    #[inline]
    fn phase_of(&self, rem: u64) -> usize {
        if self.exact {
            rem as usize
        } else {
            // Nearest of MAX_PHASES phases (rounding down keeps base unchanged).
            ((u128::from(rem) * self.phases as u128 / u128::from(self.up)) as usize)
                .min(self.phases - 1)
        }
    }

    /// Computes every output sample the buffered input allows (up to `limit_out`). Uses AVX2
    /// or AVX-512 when the CPU has them (detected at run time); the arithmetic is the same
    /// either way.
    fn produce(&mut self, limit_out: Option<u64>, out: &mut Vec<f32>) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports the feature the function is compiled for.
                return unsafe { self.produce_avx512(limit_out, out) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports the feature the function is compiled for.
                return unsafe { self.produce_avx2(limit_out, out) };
            }
        }
        self.produce_halving(limit_out, out);
        self.produce_portable(limit_out, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn produce_avx2(&mut self, limit_out: Option<u64>, out: &mut Vec<f32>) {
        self.produce_halving(limit_out, out);
        self.produce_portable(limit_out, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn produce_avx512(&mut self, limit_out: Option<u64>, out: &mut Vec<f32>) {
        self.produce_halving(limit_out, out);
        self.produce_portable(limit_out, out)
    }

    /// The 2 : 1 case (44.1 → 22.05 kHz, one phase): whole groups of [`GROUP`] outputs at a
    /// time, each output computed with exactly the operations of
    /// [`produce_portable`](Self::produce_portable) in the same order (eight running sums over
    /// the taps `l, l + 8, …`, added up lane 0 first, then the leftover taps one by one), only
    /// side by side for [`GROUP`] outputs instead of one after the other. Leaves the last
    /// outputs (fewer than a group) and the history to `produce_portable`.
    #[inline(always)]
    fn produce_halving(&mut self, limit_out: Option<u64>, out: &mut Vec<f32>) {
        if !(self.exact && self.up == 1 && self.down == 2) {
            return;
        }
        let half = self.half as i64;
        let taps = self.taps;
        // Output n reads the inputs 2n - half + 1 ..= 2n + half, all buffered iff
        // 2n + half < avail_end.
        let avail_end = self.buf_start + self.buf.len() as i64;
        let ready = ((avail_end - half + 1).max(0) / 2) as u64;
        let end = ready.min(limit_out.unwrap_or(u64::MAX));
        if end <= self.n_out {
            return;
        }
        let groups = ((end - self.n_out) as usize) / GROUP;
        if groups == 0 {
            return;
        }
        let first = (2 * self.n_out as i64 - half + 1 - self.buf_start) as usize;
        halving_groups(&self.buf[first..], groups, &self.coeffs[..taps], out);
        self.n_out += (groups * GROUP) as u64;
    }

    #[inline(always)]
    fn produce_portable(&mut self, limit_out: Option<u64>, out: &mut Vec<f32>) {
        let avail_end = self.buf_start + self.buf.len() as i64; // exclusive
        let limit = limit_out.unwrap_or(u64::MAX);
        // Incremental position: n * down = base * up + rem.
        let t = u128::from(self.n_out) * u128::from(self.down);
        let mut base = (t / u128::from(self.up)) as i64;
        let mut rem = (t % u128::from(self.up)) as u64;
        let q = (self.down / self.up) as i64;
        let r = self.down % self.up;
        let half = self.half as i64;
        let taps = self.taps;
        while self.n_out < limit && base + half < avail_end {
            let phase = self.phase_of(rem);
            let first = (base - half + 1 - self.buf_start) as usize;
            let x = &self.buf[first..first + taps];
            let h = &self.coeffs[phase * taps..(phase + 1) * taps];
            let mut acc = [0f32; 8];
            let xc = x.chunks_exact(8);
            let hc = h.chunks_exact(8);
            let (xr, hr) = (xc.remainder(), hc.remainder());
            for (a, b) in xc.zip(hc) {
                for l in 0..8 {
                    acc[l] += a[l] * b[l];
                }
            }
            let mut s: f32 = acc.iter().sum();
            for (a, b) in xr.iter().zip(hr) {
                s += a * b;
            }
            out.push(s);
            self.n_out += 1;
            base += q;
            rem += r;
            if rem >= self.up {
                rem -= self.up;
                base += 1;
            }
        }
        // Drop history that no future output needs.
        let keep_from = base - half + 1;
        let drop = (keep_from - self.buf_start).clamp(0, self.buf.len() as i64) as usize;
        if drop > 4096 || drop == self.buf.len() {
            self.buf.drain(..drop);
            self.buf_start += drop as i64;
        }
    }

    /// Feed input samples; appends every output sample that can already be computed.
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        self.n_in += input.len() as u64;
        if self.passthrough {
            out.extend_from_slice(input);
            self.n_out += input.len() as u64;
            return;
        }
        self.buf.extend_from_slice(input);
        self.produce(None, out);
    }

    /// Finish the stream (zero-pads the tail) and reset for a new stream.
    pub fn flush(&mut self, out: &mut Vec<f32>) {
        if !self.passthrough {
            // The number of output samples the input seen so far maps to.
            let total = u128::from(self.n_in) * u128::from(self.up);
            let total = total.div_ceil(u128::from(self.down)) as u64;
            self.buf.extend(std::iter::repeat_n(0.0, self.taps + 1));
            self.produce(Some(total), out);
        }
        self.reset();
    }

    /// Forget all state (start a new, unrelated stream).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.buf.resize(self.half, 0.0);
        self.buf_start = -(self.half as i64);
        self.n_in = 0;
        self.n_out = 0;
    }
}

/// `groups` × [`GROUP`] outputs of the 2 : 1 filter `h`, output `k` reading `x[2k ..]`
/// (`x` holds at least `2 · (outputs − 1) + h.len()` values): see
/// [`Resampler::produce_halving`] for why each is bit for bit the scalar loop's.
#[inline(always)]
fn halving_groups(x: &[f32], groups: usize, h: &[f32], out: &mut Vec<f32>) {
    let taps = h.len();
    let wide = taps / 8 * 8;
    // Even and odd inputs of a block of outputs, from the block's first input on:
    // output k of the block, tap j reads even[k + j / 2] (j even) or odd[k + j / 2].
    let span = BLOCK + taps / 2;
    let mut even = vec![0f32; span];
    let mut odd = vec![0f32; span];
    out.reserve(groups * GROUP);
    let mut done = 0usize;
    while done < groups {
        let n_groups = (groups - done).min(BLOCK / GROUP);
        let n = n_groups * GROUP;
        let first = 2 * done * GROUP;
        let x = &x[first..first + 2 * (n - 1) + taps];
        let pairs = x.chunks_exact(2);
        if let [last] = pairs.remainder() {
            even[x.len() / 2] = *last;
        }
        for ((p, e), o) in pairs.zip(&mut even).zip(&mut odd) {
            *e = p[0];
            *o = p[1];
        }
        for g in 0..n_groups {
            let k0 = g * GROUP;
            let mut acc = [[0f32; GROUP]; 8];
            for c in (0..wide).step_by(8) {
                for (l, a) in acc.iter_mut().enumerate() {
                    let j = c + l;
                    let src = if j % 2 == 0 { &even } else { &odd };
                    let src = &src[k0 + j / 2..k0 + j / 2 + GROUP];
                    let hj = h[j];
                    for (a, s) in a.iter_mut().zip(src) {
                        *a += s * hj;
                    }
                }
            }
            let mut s = acc[0];
            for a in &acc[1..] {
                for (s, a) in s.iter_mut().zip(a) {
                    *s += a;
                }
            }
            for (j, hj) in h.iter().enumerate().skip(wide) {
                let src = if j % 2 == 0 { &even } else { &odd };
                let src = &src[k0 + j / 2..k0 + j / 2 + GROUP];
                for (s, x) in s.iter_mut().zip(src) {
                    *s += x * hj;
                }
            }
            out.extend_from_slice(&s);
        }
        done += n_groups;
    }
}

/// Output `n` of the 2 : 1 filter `h` (`half` taps each side) over `x`, zeros outside it,
/// one multiply-add at a time in the scalar loop's order (eight running sums over the taps,
/// added up lane 0 first, then the leftover taps).
fn halving_one(x: &[f32], n: usize, h: &[f32], half: usize) -> f32 {
    let first = 2 * n as i64 - half as i64 + 1;
    let at = |i: i64| {
        if i >= 0 && (i as usize) < x.len() {
            x[i as usize]
        } else {
            0.0
        }
    };
    let wide = h.len() / 8 * 8;
    let mut acc = [0f32; 8];
    for c in (0..wide).step_by(8) {
        for (l, a) in acc.iter_mut().enumerate() {
            *a += at(first + (c + l) as i64) * h[c + l];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (j, hj) in h.iter().enumerate().skip(wide) {
        s += at(first + j as i64) * hj;
    }
    s
}

/// [`resample`] for 2 : 1 (44.1 → 22.05 kHz), reading the input where it lies instead of
/// copying it into the streaming history: the outputs whose taps all fall inside the input
/// in groups ([`halving_groups`]), the few at either end one by one with zeros outside.
fn resample_halving(input: &[f32], r: &Resampler) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(input: &[f32], r: &Resampler) -> Vec<f32> {
            resample_halving_body(input, r)
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(input: &[f32], r: &Resampler) -> Vec<f32> {
            resample_halving_body(input, r)
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports the feature the function is compiled for.
            return unsafe { avx512(input, r) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports the feature the function is compiled for.
            return unsafe { avx2(input, r) };
        }
    }
    resample_halving_body(input, r)
}

#[inline(always)]
fn resample_halving_body(input: &[f32], r: &Resampler) -> Vec<f32> {
    let (half, taps) = (r.half, r.taps);
    let h = &r.coeffs[..taps];
    let total = input.len().div_ceil(2);
    // Output n reads inputs 2n - half + 1 ..= 2n + half.
    let lo = (half.saturating_sub(1)).div_ceil(2).min(total);
    let hi = if input.len() > half {
        ((input.len() - 1 - half) / 2 + 1).clamp(lo, total)
    } else {
        lo
    };
    let groups = (hi - lo) / GROUP;
    let mut out = Vec::with_capacity(total);
    out.extend((0..lo).map(|n| halving_one(input, n, h, half)));
    if groups > 0 {
        halving_groups(&input[2 * lo + 1 - half..], groups, h, &mut out);
    }
    let from = lo + groups * GROUP;
    out.extend((from..total).map(|n| halving_one(input, n, h, half)));
    out
}

/// Resample a whole buffer at once.
///
/// ```
/// let y = songrec_audio::resample::resample(&vec![0.0f32; 48_000], 48_000, 22_050);
/// assert_eq!(y.len(), 22_050);
/// ```
pub fn resample(input: &[f32], in_rate: u32, out_rate: u32) -> Vec<f32> {
    let mut r = Resampler::new(in_rate, out_rate);
    if r.exact && r.up == 1 && r.down == 2 {
        return resample_halving(input, &r);
    }
    let mut out = Vec::with_capacity(
        (input.len() as u64 * u64::from(out_rate.max(1)) / u64::from(in_rate.max(1)) + 8) as usize,
    );
    r.process(input, &mut out);
    r.flush(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resamplers_of_one_rate_pair_share_their_filter() {
        let (a, b) = (
            Resampler::new(22_050, 16_000),
            Resampler::new(22_050, 16_000),
        );
        assert!(Arc::ptr_eq(&a.coeffs, &b.coeffs));
        // More pairs than are kept: the first is computed again, to the same values.
        for rate in 0..KEPT_FILTERS as u32 {
            Resampler::new(8_000 + 1_000 * rate, 16_000);
        }
        let c = Resampler::new(22_050, 16_000);
        assert!(!Arc::ptr_eq(&a.coeffs, &c.coeffs));
        assert_eq!(a.coeffs, c.coeffs);
        assert_eq!(a.coeffs.len(), a.phases * a.taps);
    }

    fn sine(freq: f64, rate: u32, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin() as f32)
            .collect()
    }

    /// Amplitude of the component at `freq` (single-bin DFT over the middle of the signal).
    fn amp_at(x: &[f32], freq: f64, rate: u32) -> f64 {
        let start = x.len() / 4;
        let end = 3 * x.len() / 4;
        let (mut re, mut im) = (0.0, 0.0);
        for (i, &v) in x[start..end].iter().enumerate() {
            let ph = 2.0 * std::f64::consts::PI * freq * (start + i) as f64 / f64::from(rate);
            re += f64::from(v) * ph.cos();
            im += f64::from(v) * ph.sin();
        }
        2.0 * (re * re + im * im).sqrt() / (end - start) as f64
    }

    #[test]
    fn length_is_exact_for_common_rates() {
        for (a, b) in [
            (44_100, 22_050),
            (48_000, 22_050),
            (16_000, 22_050),
            (96_000, 22_050),
            (22_050, 22_050),
            (11_025, 22_050),
            (44_057, 22_050),
        ] {
            let y = resample(&vec![0.1; 12_345], a, b);
            let expect = (12_345u64 * b as u64).div_ceil(a as u64) as usize;
            assert_eq!(y.len(), expect, "{a}->{b}");
        }
    }

    #[test]
    fn passband_tone_keeps_frequency_and_amplitude() {
        for rate in [44_100u32, 48_000, 16_000, 44_057] {
            let x = sine(1000.0, rate, rate as usize);
            let y = resample(&x, rate, 22_050);
            let a = amp_at(&y, 1000.0, 22_050);
            assert!((a - 1.0).abs() < 0.01, "rate {rate}: amplitude {a}");
            // Over the 0.5 s DFT window a 1 Hz error would already cost 36 % of the amplitude
            // (sinc(0.5)), so amplitude within 1 % also pins the frequency to < 0.2 Hz.
            let off = amp_at(&y, 1001.0, 22_050);
            assert!(off < 0.7, "rate {rate}: off-frequency amplitude {off}");
            let a8 = amp_at(
                &resample(&sine(8000.0, rate, rate as usize), rate, 22_050),
                8000.0,
                22_050,
            );
            if rate > 22_050 {
                assert!((a8 - 1.0).abs() < 0.03, "rate {rate}: 8 kHz amplitude {a8}");
            }
        }
    }

    #[test]
    fn tones_above_output_nyquist_do_not_alias() {
        // 14 kHz at 44.1 kHz would alias to 22050-14000 = 8050 Hz.
        let x = sine(14_000.0, 44_100, 44_100);
        let y = resample(&x, 44_100, 22_050);
        let alias = amp_at(&y, 8050.0, 22_050);
        assert!(alias < 1e-3, "alias amplitude {alias} (> -60 dB)");
        // 14 kHz at 48 kHz -> alias at 8050 Hz.
        let y = resample(&sine(14_000.0, 48_000, 48_000), 48_000, 22_050);
        let alias = amp_at(&y, 8050.0, 22_050);
        assert!(alias < 1e-3, "alias amplitude {alias}");
    }

    #[test]
    fn streaming_equals_one_shot() {
        let x = sine(440.0, 44_100, 30_000);
        let whole = resample(&x, 44_100, 22_050);
        let mut r = Resampler::new(44_100, 22_050);
        let mut out = Vec::new();
        for chunk in x.chunks(1153) {
            r.process(chunk, &mut out);
        }
        r.flush(&mut out);
        assert_eq!(out.len(), whole.len());
        for (a, b) in out.iter().zip(&whole) {
            assert!((a - b).abs() < 1e-6);
        }
    }

    /// Output `n` of `resample(x, 44_100, 22_050)` computed on its own, one multiply-add at a
    /// time in the order the scalar loop takes (eight running sums, then the leftover taps).
    fn halving_reference(x: &[f32], n: usize) -> f32 {
        let r = Resampler::new(44_100, 22_050);
        let (half, taps) = (r.half as i64, r.taps);
        let at = |i: i64| {
            if i >= 0 && (i as usize) < x.len() {
                x[i as usize]
            } else {
                0.0
            }
        };
        let first = 2 * n as i64 - half + 1;
        let mut acc = [0f32; 8];
        let wide = taps / 8 * 8;
        for j in 0..wide {
            acc[j % 8] += at(first + j as i64) * r.coeffs[j];
        }
        let mut s: f32 = acc.iter().sum();
        for j in wide..taps {
            s += at(first + j as i64) * r.coeffs[j];
        }
        s
    }

    #[test]
    fn halving_is_bit_identical_to_the_scalar_order() {
        // Noise with exact zeros and signed zeros in it, odd lengths, streamed in odd chunks.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut noise = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|i| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    match i % 97 {
                        0 => 0.0,
                        1 => -0.0,
                        _ => (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0,
                    }
                })
                .collect()
        };
        for len in [0, 1, 7, 40, 63, 1_000, 1_057, 20_011, 44_100] {
            let x = noise(len);
            let y = resample(&x, 44_100, 22_050);
            assert_eq!(y.len(), len.div_ceil(2));
            for (n, v) in y.iter().enumerate() {
                assert_eq!(
                    v.to_bits(),
                    halving_reference(&x, n).to_bits(),
                    "len {len}, output {n}"
                );
            }
            let mut r = Resampler::new(44_100, 22_050);
            let mut streamed = Vec::new();
            for chunk in x.chunks(777) {
                r.process(chunk, &mut streamed);
            }
            r.flush(&mut streamed);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&streamed), bits(&y), "len {len}, streamed");
        }
    }

    #[test]
    fn history_buffer_stays_bounded() {
        let mut r = Resampler::new(48_000, 22_050);
        let mut out = Vec::new();
        let chunk = vec![0.25f32; 4096];
        for _ in 0..500 {
            r.process(&chunk, &mut out);
            out.clear();
            assert!(r.buf.len() < 4096 * 3, "history grew to {}", r.buf.len());
        }
    }
}
