//! Sums and dot products over [`LANES`] fixed lanes ([`songrec_lanes`]), so the compiler can
//! vectorise them and every machine gets the same bits (no fused multiply-add is used).

/// Number of independent accumulators.
pub const LANES: usize = 16;

/// Sum of `x`.
#[inline(always)]
pub fn sum(x: &[f32]) -> f32 {
    songrec_lanes::sum_of::<LANES>(x, |v| v)
}

/// Sum of squares of `x`.
#[inline(always)]
pub fn sum_sq(x: &[f32]) -> f32 {
    songrec_lanes::sum_of::<LANES>(x, |v| v * v)
}

/// Inner product over the shorter of the two slices.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    songrec_lanes::dot::<LANES>(a, b)
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
