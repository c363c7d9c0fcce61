//! Sums and dot products over fixed lanes, so the compiler can vectorise them.
//!
//! A plain `iter().sum()` over `f32` is one long dependency chain (each add waits for the
//! previous one), because the compiler must keep the order. These helpers add into
//! [`LANES`] independent accumulators and reduce them pairwise at the end: the order is fixed
//! by the code, not by the CPU, so the result is the same on every machine and with or without
//! AVX (no fused multiply-add is used).

/// Number of independent accumulators.
pub const LANES: usize = 16;

#[inline(always)]
fn reduce(mut acc: [f32; LANES], tail: f32) -> f32 {
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            acc[i] += acc[i + width];
        }
    }
    acc[0] + tail
}

/// Sum of `x`.
///
/// ```
/// assert_eq!(songrec_audio::dsp::lanes::sum(&[1.0; 37]), 37.0);
/// ```
#[inline(always)]
pub fn sum(x: &[f32]) -> f32 {
    sum_of(x, |v| v)
}

/// Sum of `f(v)` over `x`, in [`LANES`] accumulators, the tail added in order.
#[inline(always)]
fn sum_of(x: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; LANES];
    let c = x.chunks_exact(LANES);
    let r = c.remainder();
    for v in c {
        for i in 0..LANES {
            acc[i] += f(v[i]);
        }
    }
    reduce(acc, r.iter().map(|v| f(*v)).sum())
}

/// Sum of squares of `x`.
///
/// ```
/// assert_eq!(songrec_audio::dsp::lanes::sum_sq(&[2.0; 20]), 80.0);
/// ```
#[inline(always)]
pub fn sum_sq(x: &[f32]) -> f32 {
    sum_of(x, |v| v * v)
}

/// Inner product over the shorter of the two slices.
///
/// ```
/// assert_eq!(songrec_audio::dsp::lanes::dot(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0, 7.0]), 32.0);
/// ```
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; LANES];
    let ca = a.chunks_exact(LANES);
    let cb = b.chunks_exact(LANES);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    reduce(acc, ra.iter().zip(rb).map(|(x, y)| x * y).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_the_plain_sums() {
        let x: Vec<f32> = (0..1000).map(|i| ((i * 37) % 101) as f32 / 7.0).collect();
        let y: Vec<f32> = (0..1000).map(|i| ((i * 13) % 17) as f32 - 8.0).collect();
        for n in [0, 1, 15, 16, 17, 999, 1000] {
            let (x, y) = (&x[..n], &y[..n]);
            let s: f64 = x.iter().map(|&v| f64::from(v)).sum();
            let d: f64 = x.iter().zip(y).map(|(&a, &b)| f64::from(a * b)).sum();
            let q: f64 = x.iter().map(|&v| f64::from(v * v)).sum();
            assert!((f64::from(sum(x)) - s).abs() <= 1e-5 * s.abs().max(1.0));
            assert!((f64::from(dot(x, y)) - d).abs() <= 1e-5 * d.abs().max(1.0));
            assert!((f64::from(sum_sq(x)) - q).abs() <= 1e-5 * q.abs().max(1.0));
        }
    }
}
