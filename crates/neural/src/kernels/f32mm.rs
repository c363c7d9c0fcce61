//! The float32 matrix product behind [`super::matmul`], the same to the bit on every CPU.
//!
//! Each output is, per block of [`KC`] depth values, one chain of fused multiply-adds in order
//! from zero (`acc = fma(a[r][kk], b[kk][c], acc)` for each `kk` of the block), the blocks'
//! chains added one after the other. The vector paths run many such chains side by side (one
//! per lane: columns of `b`), never splitting one, so AVX-512 (16 lanes), AVX2 with FMA (8) and
//! portable Rust (`f32::mul_add`, vectorised by the compiler: NEON's `fmla` on ARM64) give the
//! same bits. A BLAS-style GEMM chooses its depth block by the CPU's caches, which makes its
//! bits depend on the CPU; here the block is fixed. The weights are packed in panels of 16
//! columns, and a tile of rows walks one block of one panel.
//!
//! On x86-64 without FMA (before 2013) `mul_add` is the C library's exact `fmaf`: the same
//! bits, slowly.

use super::path::KernelPath;
use super::view::View;

/// Columns of one packed panel.
const NR: usize = 16;
/// Depth of one block: each output is the sum, block after block, of one chain per block of
/// at most 512 values: the depth block the `gemm` crate used for these products before, so the
/// order changed least (its AVX2 and AVX-512 kernels still differed in small products), and
/// musicnn's timbral convolutions (depth 266 and 469) are one chain (`conv.rs` relies on it).
const KC: usize = 512;
/// The most rows of one tile (AVX-512's; AVX2 takes 6, portable code 4).
const MAX_ROWS: usize = 12;

/// Which instructions run the product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    Avx512,
    Avx2Fma,
    Portable,
}

impl Isa {
    /// The fastest this CPU runs.
    pub fn best() -> Isa {
        Self::of(KernelPath::best())
    }

    /// A kernel path's float32 instructions.
    pub fn of(path: KernelPath) -> Isa {
        match path {
            KernelPath::Amx | KernelPath::Avx512Vnni => Isa::Avx512,
            KernelPath::AvxVnni | KernelPath::Avx2 => Isa::Avx2Fma,
            KernelPath::Portable | KernelPath::Tract => Isa::Portable,
        }
    }

    /// In words.
    pub fn describe(self) -> &'static str {
        match self {
            Isa::Avx512 => "AVX-512",
            Isa::Avx2Fma => "AVX2 and FMA",
            Isa::Portable if cfg!(target_arch = "aarch64") => "portable Rust (NEON)",
            Isa::Portable => "portable Rust",
        }
    }

    /// Whether this CPU runs it.
    fn runs_here(self) -> bool {
        match self {
            Isa::Avx512 => {
                #[cfg(target_arch = "x86_64")]
                {
                    std::arch::is_x86_feature_detected!("avx512f")
                }
                #[cfg(not(target_arch = "x86_64"))]
                {
                    false
                }
            }
            Isa::Avx2Fma => super::path::avx2(),
            Isa::Portable => true,
        }
    }

    /// Rows of one tile.
    fn rows(self) -> usize {
        match self {
            Isa::Avx512 => MAX_ROWS,
            Isa::Avx2Fma => 6,
            Isa::Portable => 4,
        }
    }
}

/// `c = a · b` (or `c += a · b`), `c` exactly `m × n`; the caller checked the views' bounds.
#[allow(clippy::too_many_arguments)]
pub(super) fn matmul(
    isa: Isa,
    m: usize,
    n: usize,
    k: usize,
    a: View,
    b: View,
    c: &mut [f32],
    accumulate: bool,
) {
    assert!(isa.runs_here(), "float32 product on {isa:?} without it");
    if k == 0 {
        if !accumulate {
            c.fill(0.0);
        }
        return;
    }
    let panels = n.div_ceil(NR);
    // `b` in panels of 16 columns, row after row, zero past `n`.
    let mut packed = vec![0f32; panels * k * NR];
    for (p, panel) in packed.chunks_exact_mut(k * NR).enumerate() {
        let cols = NR.min(n - p * NR);
        for (kk, row) in panel.chunks_exact_mut(NR).enumerate() {
            for (l, v) in row[..cols].iter_mut().enumerate() {
                *v = b.data[kk * b.rs + (p * NR + l) * b.cs];
            }
        }
    }
    let step = isa.rows();
    let mut out = [[0f32; NR]; MAX_ROWS];
    for p in 0..panels {
        let cols = NR.min(n - p * NR);
        for r0 in (0..m).step_by(step) {
            let rows = step.min(m - r0);
            for k0 in (0..k).step_by(KC) {
                let depth = KC.min(k - k0);
                let a = View {
                    data: &a.data[k0 * a.cs..],
                    ..a
                };
                let w = &packed[(p * k + k0) * NR..][..depth * NR];
                tile(isa, rows, &a, r0, depth, w, &mut out);
                let first = k0 == 0 && !accumulate;
                for (r, o) in out[..rows].iter().enumerate() {
                    let dst = &mut c[(r0 + r) * n + p * NR..][..cols];
                    for (d, &v) in dst.iter_mut().zip(o) {
                        *d = if first { v } else { *d + v };
                    }
                }
            }
        }
    }
}

/// One tile: `out[r][l]` = the chain of row `r0 + r` of `a` and column `l` of the panel `w`.
fn tile(isa: Isa, rows: usize, a: &View, r0: usize, k: usize, w: &[f32], out: &mut Tile) {
    #[cfg(target_arch = "x86_64")]
    use x86::{avx2, avx512};
    macro_rules! by_rows {
        ($f:ident, $($r:literal)*) => {
            match rows {
                $($r => $f::<$r>(a, r0, k, w, out),)*
                _ => unreachable!("{rows} rows"),
            }
        };
    }
    match isa {
        // SAFETY: `matmul` checked that this CPU runs `isa`.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { by_rows!(avx512, 1 2 3 4 5 6 7 8 9 10 11 12) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => unsafe { by_rows!(avx2, 1 2 3 4 5 6) },
        _ => by_rows!(portable, 1 2 3 4),
    }
}

type Tile = [[f32; NR]; MAX_ROWS];

/// The chains in plain Rust.
#[inline(always)]
fn chains<const R: usize>(a: &View, r0: usize, k: usize, w: &[f32], out: &mut Tile) {
    let mut acc = [[0f32; NR]; R];
    for (kk, b) in w.chunks_exact(NR).take(k).enumerate() {
        for (r, row) in acc.iter_mut().enumerate() {
            let x = a.data[(r0 + r) * a.rs + kk * a.cs];
            for (s, &v) in row.iter_mut().zip(b) {
                *s = x.mul_add(v, *s);
            }
        }
    }
    out[..R].copy_from_slice(&acc);
}

/// [`chains`], compiled with FMA where the CPU has it (x86-64) so `mul_add` is one
/// instruction.
fn portable<const R: usize>(a: &View, r0: usize, k: usize, w: &[f32], out: &mut Tile) {
    #[cfg(target_arch = "x86_64")]
    if super::path::avx2() {
        // SAFETY: the CPU has FMA (and AVX2), checked just above.
        return unsafe { x86::portable_fma::<R>(a, r0, k, w, out) };
    }
    chains::<R>(a, r0, k, w, out)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{NR, Tile, View, chains};

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn portable_fma<const R: usize>(
        a: &View,
        r0: usize,
        k: usize,
        w: &[f32],
        out: &mut Tile,
    ) {
        chains::<R>(a, r0, k, w, out)
    }

    /// Two registers of 8 lanes per row.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2<const R: usize>(
        a: &View,
        r0: usize,
        k: usize,
        w: &[f32],
        out: &mut Tile,
    ) {
        debug_assert!(w.len() >= k * NR && a.fits(r0 + R, k));
        // SAFETY: `w` holds `k` rows of 16 (the packing); rows `r0 .. r0 + R` of `a` over the
        // depth are inside its data (the caller's bounds).
        unsafe {
            let (ap, wp) = (a.data.as_ptr().add(r0 * a.rs), w.as_ptr());
            let mut acc = [[_mm256_setzero_ps(); 2]; R];
            for kk in 0..k {
                let b0 = _mm256_loadu_ps(wp.add(kk * NR));
                let b1 = _mm256_loadu_ps(wp.add(kk * NR + 8));
                for (r, row) in acc.iter_mut().enumerate() {
                    let x = _mm256_set1_ps(*ap.add(r * a.rs + kk * a.cs));
                    row[0] = _mm256_fmadd_ps(x, b0, row[0]);
                    row[1] = _mm256_fmadd_ps(x, b1, row[1]);
                }
            }
            for (o, row) in out.iter_mut().zip(&acc) {
                _mm256_storeu_ps(o.as_mut_ptr(), row[0]);
                _mm256_storeu_ps(o.as_mut_ptr().add(8), row[1]);
            }
        }
    }

    /// One register of 16 lanes per row.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn avx512<const R: usize>(
        a: &View,
        r0: usize,
        k: usize,
        w: &[f32],
        out: &mut Tile,
    ) {
        debug_assert!(w.len() >= k * NR && a.fits(r0 + R, k));
        // SAFETY: as in `avx2`.
        unsafe {
            let (ap, wp) = (a.data.as_ptr().add(r0 * a.rs), w.as_ptr());
            let mut acc = [_mm512_setzero_ps(); R];
            for kk in 0..k {
                let b = _mm512_loadu_ps(wp.add(kk * NR));
                for (r, x) in acc.iter_mut().enumerate() {
                    *x = _mm512_fmadd_ps(_mm512_set1_ps(*ap.add(r * a.rs + kk * a.cs)), b, *x);
                }
            }
            for (o, x) in out.iter_mut().zip(&acc) {
                _mm512_storeu_ps(o.as_mut_ptr(), *x);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each path this CPU runs against the scalar chains (block by block), bit for bit, on
    /// shapes with partial panels and partial tiles, strided views, products deeper than a
    /// block and accumulation.
    #[test]
    fn every_path_is_the_scalar_chain_to_the_bit() {
        let mut isas = vec![Isa::Portable];
        for p in KernelPath::here() {
            if !isas.contains(&Isa::of(p)) {
                isas.push(Isa::of(p));
            }
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        };
        for (m, n, k) in [
            (1, 1, 1),
            (7, 17, 9),
            (13, 33, 100),
            (25, 64, 600),
            (6, 5, 3927),
        ] {
            // `a` as frames of a signal (row stride 3, column stride 1), `b` transposed.
            let a: Vec<f32> = (0..3 * m + k).map(|_| next()).collect();
            let b: Vec<f32> = (0..k * n).map(|_| next()).collect();
            let (av, bv) = (
                View {
                    data: &a,
                    rs: 3,
                    cs: 1,
                },
                View {
                    data: &b,
                    rs: 1,
                    cs: k,
                },
            );
            let start: Vec<f32> = (0..m * n).map(|_| next()).collect();
            let want = |acc: bool| -> Vec<f32> {
                (0..m * n)
                    .map(|i| {
                        let (r, c) = (i / n, i % n);
                        let chain = |lo: usize, hi: usize| {
                            (lo..hi).fold(0f32, |s, kk| a[r * 3 + kk].mul_add(b[kk + c * k], s))
                        };
                        let mut sum = if acc { start[i] } else { 0.0 };
                        for lo in (0..k).step_by(KC) {
                            let part = chain(lo, (lo + KC).min(k));
                            sum = if lo == 0 && !acc { part } else { sum + part };
                        }
                        sum
                    })
                    .collect()
            };
            for &isa in &isas {
                for acc in [false, true] {
                    let mut c = start.clone();
                    matmul(isa, m, n, k, av, bv, &mut c, acc);
                    let w = want(acc);
                    let same = c.iter().zip(&w).all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(same, "{isa:?} m {m} n {n} k {k} accumulate {acc}");
                }
            }
        }
    }
}
