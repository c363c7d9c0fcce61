//! The few dense kernels songrec's own network code needs: one matrix product over strided
//! views (the `gemm` crate: AVX-512, AVX2+FMA or NEON chosen at run time, one thread), and
//! folded batch normalisation.
//!
//! A strided view lets a convolution skip im2col where its input already is a Toeplitz matrix:
//! the frames of a signal (row stride = hop), or a `[time, channels]` map under a kernel that
//! spans all channels (row stride = channels, column stride 1).

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) mod amx;
pub(crate) mod conv;
pub(crate) mod int8;

/// What songrec's own kernels run on this CPU, in words (`songrec doctor`), e.g. "float32 on
/// AVX-512, int8 on AVX-512 VNNI".
pub fn describe() -> String {
    if !crate::own_kernels_from_env() {
        return format!(
            "off ({}=0): the runtime runs both networks",
            crate::ENV_OWN_KERNELS
        );
    }
    let float = {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                "AVX-512"
            } else if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                "AVX2 and FMA"
            } else {
                "SSE2"
            }
        }
        #[cfg(target_arch = "aarch64")]
        {
            "NEON"
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            "portable code"
        }
    };
    let int8 = match int8::width() {
        Some(w) if amx::available() => format!("AMX-INT8 and {w}"),
        Some(w) => w.to_string(),
        None => {
            "none here (the runtime runs aisfx; musicnn's int8 sums go through float32)".to_string()
        }
    };
    format!("float32 on {float}, int8 on {int8}")
}

/// A read-only matrix view: element `(r, c)` is `data[r * rs + c * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub data: &'a [f32],
    pub rs: usize,
    pub cs: usize,
}

impl<'a> View<'a> {
    /// A contiguous row-major matrix with `cols` columns.
    pub fn rows(data: &'a [f32], cols: usize) -> Self {
        View {
            data,
            rs: cols,
            cs: 1,
        }
    }

    /// Whether a `rows × cols` matrix fits in the data.
    fn fits(&self, rows: usize, cols: usize) -> bool {
        rows == 0 || cols == 0 || (rows - 1) * self.rs + (cols - 1) * self.cs < self.data.len()
    }
}

/// `c[m × n]` (row-major, contiguous) = `a[m × k] · b[k × n]`, or `+=` with `accumulate`.
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
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(0.0);
        }
        return;
    }
    let s = |x: usize| x as isize;
    // SAFETY: every element read or written is in bounds (checked above: the largest offsets
    // of `a`, `b` and `c` are inside their slices); `c` is borrowed mutably, so it aliases
    // neither input.
    unsafe {
        gemm_f32_rows(
            m,
            n,
            k,
            c.as_mut_ptr(),
            s(n),
            accumulate,
            (a.data.as_ptr(), s(a.cs), s(a.rs)),
            (b.data.as_ptr(), s(b.cs), s(b.rs)),
        );
    }
}

/// `dst (m × n, row-major, row stride dst_rs) := [dst +] lhs × rhs` on the f32 kernels of the
/// `gemm` crate, called as its `gemm::gemm` facade calls them (which would also build its f64
/// and complex kernels): a row-major destination is computed transposed, since the microkernel
/// prefers column-major ones. Same calls, same bits. Strides are positive here.
///
/// # Safety
/// Every element addressed by the sizes and strides must be inside its buffer, and `dst` must
/// alias neither input.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_f32_rows(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: isize,
    read_dst: bool,
    (lhs, lhs_cs, lhs_rs): (*const f32, isize, isize),
    (rhs, rhs_cs, rhs_rs): (*const f32, isize, isize),
) {
    let dst_cs = 1isize;
    // The facade's rule: transpose when the destination is row-oriented.
    let (m, n, dst_cs, dst_rs, lhs, lhs_cs, lhs_rs, rhs, rhs_cs, rhs_rs) =
        if dst_cs.abs() < dst_rs.abs() {
            (
                n, m, dst_rs, dst_cs, rhs, rhs_rs, rhs_cs, lhs, lhs_rs, lhs_cs,
            )
        } else {
            (
                m, n, dst_cs, dst_rs, lhs, lhs_cs, lhs_rs, rhs, rhs_cs, rhs_rs,
            )
        };
    // SAFETY: as the caller promised; the f32 kernel is what `gemm::gemm::<f32>` dispatches to.
    unsafe {
        gemm_f32::gemm::f32::get_gemm_fn()(
            m,
            n,
            k,
            dst,
            dst_cs,
            dst_rs,
            read_dst,
            lhs,
            lhs_cs,
            lhs_rs,
            rhs,
            rhs_cs,
            rhs_rs,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm_common::Parallelism::None,
        );
    }
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
