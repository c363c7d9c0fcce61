//! An integer matrix product for quantized convolutions: `u8` activations times `i8` weights
//! into `i32`, on AVX-512 VNNI (`vpdpbusd`: 64 multiply-adds per instruction). Integer sums are
//! exact, so the result does not depend on the order of the work: the same on every CPU that
//! runs it. CPUs without VNNI (and other architectures) are told so by [`available`] and run
//! the graph on tract instead.

/// Rows of one tile.
pub(crate) const MR: usize = 6;
/// Output channels of one packed panel, and panels per tile.
const LANES: usize = 16;
const NR: usize = 4;

/// Whether this CPU runs [`PackedI8::matmul`].
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `i8` weights `[k, n]` packed for the kernel: panels of 16 columns, each `k / 4` groups of
/// 16 × 4 bytes (4 consecutive rows of each column).
pub(crate) struct PackedI8 {
    data: Vec<i8>,
    pub k: usize,
    pub n: usize,
}

impl PackedI8 {
    /// Packs `w(row, col)` for `k` rows (a multiple of 4) and `n` columns (a multiple of 64).
    pub fn new(k: usize, n: usize, w: impl Fn(usize, usize) -> i8) -> Self {
        assert!(
            k.is_multiple_of(4) && n.is_multiple_of(LANES * NR),
            "int8 GEMM shape {k} × {n}"
        );
        let mut data = Vec::with_capacity(k * n);
        for p in 0..n / LANES {
            for k4 in 0..k / 4 {
                for o in 0..LANES {
                    for kk in 0..4 {
                        data.push(w(4 * k4 + kk, p * LANES + o));
                    }
                }
            }
        }
        PackedI8 { data, k, n }
    }

    /// `c[m × n] = a · self`, row `r` of `a` being the concatenation of `taps.len()` runs of
    /// `k / taps.len()` bytes at `a[r · lda + tap ..]`, one per tap: with one tap at 0 and
    /// `lda = k`, a plain row-major matrix; with the 9 offsets of a 3 × 3 kernel over a padded
    /// channel-last map, a convolution without im2col. `m` is a multiple of [`MR`]; `c` is
    /// row-major `i32`.
    ///
    /// # Panics
    /// When [`available`] is false or a slice is too short (bugs in the caller).
    pub fn matmul(&self, m: usize, a: &[u8], lda: usize, taps: &[usize], c: &mut [i32]) {
        assert!(available(), "int8 GEMM without AVX-512 VNNI");
        let kt = self.k / taps.len().max(1);
        let last = taps.iter().max().map(|t| (m.max(1) - 1) * lda + t + kt);
        assert!(
            m.is_multiple_of(MR)
                && kt * taps.len() == self.k
                && kt.is_multiple_of(4)
                && last.is_some_and(|l| l <= a.len())
                && c.len() >= m * self.n,
            "int8 GEMM slices out of bounds"
        );
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has the features (checked above) and every tile reads `MR` rows of
        // `a` below `m` (each run of `kt` bytes ends by `last`) and `NR` panels below `n / 16`,
        // and writes inside `c` (checked above).
        unsafe {
            vnni::matmul(self, m, a, lda, taps, c);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use std::arch::x86_64::*;

    use super::{LANES, MR, NR, PackedI8};

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn matmul(
        b: &PackedI8,
        m: usize,
        a: &[u8],
        lda: usize,
        taps: &[usize],
        c: &mut [i32],
    ) {
        // SAFETY: the caller's bounds (see `PackedI8::matmul`).
        unsafe {
            let n = b.n;
            let panel = b.k / 4 * LANES * 4;
            let tap_k4 = b.k / taps.len() / 4;
            for p0 in (0..n / LANES).step_by(NR) {
                let bp = b.data.as_ptr().add(p0 * panel);
                for r0 in (0..m).step_by(MR) {
                    let ap = a.as_ptr().add(r0 * lda);
                    let cp = c.as_mut_ptr().add(r0 * n + p0 * LANES);
                    tile(ap, lda, taps, tap_k4, bp, panel, cp, n);
                }
            }
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile(
        a: *const u8,
        lda: usize,
        taps: &[usize],
        tap_k4: usize,
        b: *const i8,
        panel: usize,
        c: *mut i32,
        ldc: usize,
    ) {
        // SAFETY: the tile is inside `a`, `b` and `c` (see `matmul`).
        unsafe {
            let mut acc = [[_mm512_setzero_si512(); NR]; MR];
            let mut b = b;
            for &tap in taps {
                let a = a.add(tap);
                for k in 0..tap_k4 {
                    let mut bv = [_mm512_setzero_si512(); NR];
                    for (j, v) in bv.iter_mut().enumerate() {
                        *v = _mm512_loadu_si512(b.add(j * panel).cast());
                    }
                    b = b.add(64);
                    for (r, row) in acc.iter_mut().enumerate() {
                        let av = _mm512_set1_epi32(
                            a.add(r * lda + 4 * k).cast::<i32>().read_unaligned(),
                        );
                        for (x, w) in row.iter_mut().zip(&bv) {
                            *x = _mm512_dpbusd_epi32(*x, av, *w);
                        }
                    }
                }
            }
            for (r, row) in acc.iter().enumerate() {
                for (j, x) in row.iter().enumerate() {
                    _mm512_storeu_si512(c.add(r * ldc + j * LANES).cast(), *x);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_naive_product() {
        if !available() {
            return;
        }
        let (m, k, n) = (2 * MR, 12, 64);
        let a: Vec<u8> = (0..m * k).map(|i| (i * 37 % 256) as u8).collect();
        let w = |r: usize, c: usize| ((r * 31 + c * 17) % 255) as i32 as i8;
        let b = PackedI8::new(k, n, w);
        let mut c = vec![0; m * n];
        b.matmul(m, &a, k, &[0], &mut c);
        for r in 0..m {
            for o in 0..n {
                let want: i32 = (0..k)
                    .map(|i| i32::from(a[r * k + i]) * i32::from(w(i, o)))
                    .sum();
                assert_eq!(c[r * n + o], want, "({r}, {o})");
            }
        }
        // The same product as 3 taps of 4 bytes over rows 12 bytes apart.
        let mut c2 = vec![0; m * n];
        b.matmul(m, &a, k, &[0, 4, 8], &mut c2);
        assert_eq!(c, c2);
    }
}
