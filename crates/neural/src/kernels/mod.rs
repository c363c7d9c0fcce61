//! The few dense kernels songrec's own network code needs: one float32 matrix product over
//! strided views ([`matmul`]: the same bits on every CPU), the exact int8 product ([`int8`]),
//! and folded batch normalisation.
//!
//! A strided view lets a convolution skip im2col where its input already is a Toeplitz matrix:
//! the frames of a signal (row stride = hop), or a `[time, channels]` map under a kernel that
//! spans all channels (row stride = channels, column stride 1).

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) mod amx;
pub(crate) mod conv;
mod describe;
mod f32mm;
pub(crate) mod int8;
pub mod path;
mod view;

pub(crate) use view::View;

/// `c[m × n]` (row-major, contiguous) = `a[m × k] · b[k × n]`, or `+=` with `accumulate`.
///
/// Every output is one fused multiply-add chain over the depth in order, from zero (then added
/// to what `c` holds with `accumulate`), on every path: AVX-512, AVX2 and FMA, or portable
/// Rust ([`f32mm`]). So the result is the same to the bit on every CPU and every
/// [`path::KernelPath`] (the path in force on this thread, see [`on_path`]).
///
/// # Panics
/// When a view or `c` is too short for the shapes (a bug in the caller, never data-dependent).
pub(crate) fn matmul(
    m: usize,
    n: usize,
    k: usize,
    a: View,
    b: View,
    c: &mut [f32],
    accumulate: bool,
) {
    assert!(
        a.fits(m, k) && b.fits(k, n) && c.len() >= m * n,
        "matmul shapes out of bounds"
    );
    if m == 0 || n == 0 {
        return;
    }
    f32mm::matmul(FLOAT.get(), m, n, k, a, b, &mut c[..m * n], accumulate);
}

thread_local! {
    /// The float32 instructions of the kernel path in force on this thread.
    static FLOAT: std::cell::Cell<f32mm::Isa> = std::cell::Cell::new(f32mm::Isa::best());
}

/// Runs `f` with `path`'s float32 instructions for [`matmul`] on this thread (the networks'
/// `run` entries: a forced `SONGREC_KERNELS` path runs its float32 parts too).
pub(crate) fn on_path<T>(path: path::KernelPath, f: impl FnOnce() -> T) -> T {
    let before = FLOAT.replace(f32mm::Isa::of(path));
    let out = f();
    FLOAT.set(before);
    out
}

/// Batch normalisation folded into one multiply-add per channel.
#[derive(Debug, Clone)]
pub(crate) struct Affine {
    pub mul: Vec<f32>,
    pub add: Vec<f32>,
}

impl Affine {
    /// From ONNX BatchNormalization's scale, bias, mean, variance and epsilon.
    pub fn batch_norm(scale: &[f32], bias: &[f32], mean: &[f32], var: &[f32], eps: f32) -> Self {
        let mul: Vec<f32> = scale
            .iter()
            .zip(var)
            .map(|(s, v)| s / (v + eps).sqrt())
            .collect();
        let add = bias
            .iter()
            .zip(mean)
            .zip(&mul)
            .map(|((b, m), k)| b - m * k)
            .collect();
        Affine { mul, add }
    }

    /// Applies to one row of `len()` channels.
    pub fn apply(&self, row: &mut [f32]) {
        for ((x, m), a) in row.iter_mut().zip(&self.mul).zip(&self.add) {
            *x = *x * m + a;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_product_matches_the_naive_one() {
        // Frames of a signal (hop 2, width 3) times a 3 × 2 matrix given transposed.
        let x: Vec<f32> = (0..9).map(|i| i as f32).collect();
        let w = [1.0, 0.0, -1.0, 2.0, 1.0, 0.5]; // [2 out][3 taps]
        let frames = View {
            data: &x,
            rs: 2,
            cs: 1,
        };
        let wt = View {
            data: &w,
            rs: 1,
            cs: 3,
        };
        let mut c = vec![0.0; 4 * 2];
        matmul(4, 2, 3, frames, wt, &mut c, false);
        for r in 0..4 {
            for o in 0..2 {
                let want: f32 = (0..3).map(|j| x[r * 2 + j] * w[o * 3 + j]).sum();
                assert_eq!(c[r * 2 + o], want, "({r}, {o})");
            }
        }
        matmul(4, 2, 3, frames, wt, &mut c, true);
        assert_eq!(c[7], 2.0 * (2.0 * 6.0 + 7.0 + 0.5 * 8.0));
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn a_short_view_is_refused() {
        let x = [0.0f32; 5];
        let mut c = [0.0f32; 4];
        matmul(2, 2, 3, View::rows(&x, 3), View::rows(&x, 2), &mut c, false);
    }

    #[test]
    fn batch_norm_folds() {
        let a = Affine::batch_norm(&[2.0], &[1.0], &[3.0], &[3.0], 1.0);
        let mut row = [5.0];
        a.apply(&mut row);
        assert!((row[0] - 3.0).abs() < 1e-6);
    }
}
