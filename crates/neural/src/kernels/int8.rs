//! An integer matrix product for quantized convolutions: `u8` activations times `i8` weights summed
//! exactly into `i32`, on the instructions the [`KernelPath`] names: AMX-INT8 (`tdpbusd`,
//! [`super::amx`]) for large products, AVX-512 VNNI (`vpdpbusd`: 64 multiply-adds per instruction),
//! AVX-VNNI (its 256-bit form, 32), AVX2 (both operands widened to `i16`, `vpmaddwd`: 16 per
//! instruction and an add), or portable 128-bit vectors (`pmaddwd` on SSE2, NEON's widening
//! multiplies on ARM64). Integer sums are exact, so the result does not depend on
//! the order of the work or the instructions: every path returns the same `i32`s, bit for bit (the
//! tests compare each path this CPU runs with the naive sums).

use super::path::KernelPath;

/// Rows of one tile.
pub(crate) const MR: usize = 6;
/// Output channels of one packed panel, and panels per tile.
const LANES: usize = 16;
const NR: usize = 4;

/// `i8` weights `[k, n]` packed for the kernels: panels of 16 columns, each `k / 4` groups of
/// 16 × 4 bytes (4 consecutive rows of each column: what `vpdpbusd`, `tdpbusd` and the AVX2
/// kernel read); the portable kernel's copy of the same panels as `i16` pairs ([`Self::pairs`])
/// is made from them when that kernel first runs.
pub(crate) struct PackedI8 {
    data: Vec<i8>,
    pairs: std::sync::OnceLock<Vec<wide::i16x8>>,
    pub k: usize,
    pub n: usize,
}

impl PackedI8 {
    /// Packs `w(row, col)` for `k` rows (a multiple of 4) and `n` columns (a multiple of 16;
    /// AMX takes only multiples of 32, other widths run on VNNI).
    pub fn new(k: usize, n: usize, w: impl Fn(usize, usize) -> i8) -> Self {
        assert!(
            k.is_multiple_of(4) && n.is_multiple_of(LANES),
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
        PackedI8 {
            data,
            pairs: std::sync::OnceLock::new(),
            k,
            n,
        }
    }

    /// The panels as pairs of `i16` for the portable kernel: per panel, `k / 2` pairs of rows,
    /// each 16 columns × (row `2j`, row `2j + 1`) in 4 vectors of 8; made from `data` on first
    /// use.
    fn pairs(&self) -> &[wide::i16x8] {
        self.pairs.get_or_init(|| {
            let mut out = Vec::with_capacity(self.k * self.n / 8);
            for group in self.data.chunks_exact(LANES * 4) {
                // One group: 4 rows of 16 columns, each column's 4 bytes together.
                for half in 0..2 {
                    for cols in group.chunks_exact(16) {
                        let lanes: [i16; 8] =
                            std::array::from_fn(|i| i16::from(cols[i / 2 * 4 + 2 * half + i % 2]));
                        out.push(wide::i16x8::new(lanes));
                    }
                }
            }
            out
        })
    }

    /// `c[m × n] = a · self`, row `r` of `a` being the concatenation of `taps.len()` runs of
    /// `k / taps.len()` bytes at `a[r · lda + tap ..]`, one per tap: with one tap at 0 and
    /// `lda = k`, a plain row-major matrix; with the 9 offsets of a 3 × 3 kernel over a padded
    /// channel-last map, a convolution without im2col. `m` is a multiple of [`MR`]; `c` is
    /// row-major `i32`. Runs on `path`'s instructions (AMX where the path is [`KernelPath::Amx`]
    /// and `m >= 16`): the same sums on every path, bit for bit.
    ///
    /// # Panics
    /// When this CPU cannot run `path` or a slice is too short (bugs in the caller).
    pub fn matmul(
        &self,
        path: KernelPath,
        m: usize,
        a: &[u8],
        lda: usize,
        taps: &[usize],
        c: &mut [i32],
    ) {
        let isa = if path == KernelPath::Amx && m >= 16 && self.n.is_multiple_of(2 * LANES) {
            Isa::Amx
        } else {
            Isa::of(path)
        };
        self.matmul_on(isa, m, a, lda, taps, c);
    }

    /// `c[i] = max(c[i], (a · self)[i])` for the first `m` rows: [`Self::matmul`] with each
    /// result folded into what `c` holds instead of written over it (a max-pooling over calls
    /// without a pass of its own). Never on AMX (VNNI on that path): the same sums as
    /// [`Self::matmul`].
    ///
    /// # Panics
    /// As [`Self::matmul`].
    pub fn matmul_max(
        &self,
        path: KernelPath,
        m: usize,
        a: &[u8],
        lda: usize,
        taps: &[usize],
        c: &mut [i32],
    ) {
        self.run::<true>(Isa::of(path), m, a, lda, taps, c);
    }

    /// One product's operands, for the kernels.
    fn call<'a>(&'a self, m: usize, a: &'a [u8], lda: usize, taps: &'a [usize]) -> Call<'a> {
        Call {
            b: self,
            m,
            a,
            lda,
            taps,
        }
    }

    /// The bounds every kernel relies on.
    fn check(&self, m: usize, a: &[u8], lda: usize, taps: &[usize], c: &[i32]) {
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
    }

    /// [`Self::matmul`] on the given instructions, bounds checked the same way.
    ///
    /// # Panics
    /// As [`Self::matmul`], and for [`Isa::Amx`] when `m < 16` or `n` is not a multiple of 32.
    pub(crate) fn matmul_on(
        &self,
        isa: Isa,
        m: usize,
        a: &[u8],
        lda: usize,
        taps: &[usize],
        c: &mut [i32],
    ) {
        if isa != Isa::Amx {
            return self.run::<false>(isa, m, a, lda, taps, c);
        }
        self.check(m, a, lda, taps, c);
        assert!(
            m >= 16 && self.n.is_multiple_of(2 * LANES) && KernelPath::Amx.runs_here(),
            "AMX int8 GEMM without AMX, with {m} < 16 rows or {} columns",
            self.n
        );
        #[cfg(target_arch = "x86_64")]
        // SAFETY: AMX is supported and granted (checked above); `taps` is not empty and every
        // run of `kt` bytes of a row below `m` ends by `last <= a.len()`; `data` is `k × n`
        // packed by `new` (`n` a multiple of 32); `c` holds `m · n` values; `m >= 16` (all
        // checked above).
        unsafe {
            super::amx::matmul(&self.data, self.k, self.n, m, a, lda, taps, c);
        }
    }

    /// The vector and portable kernels, storing (or with `MAX` folding by max) into `c`.
    fn run<const MAX: bool>(
        &self,
        isa: Isa,
        m: usize,
        a: &[u8],
        lda: usize,
        taps: &[usize],
        c: &mut [i32],
    ) {
        self.check(m, a, lda, taps, c);
        let call = self.call(m, a, lda, taps);
        let needs = match isa {
            Isa::Amx | Isa::Vnni => KernelPath::Avx512Vnni,
            Isa::Vnni256 => KernelPath::AvxVnni,
            Isa::Avx2 => KernelPath::Avx2,
            Isa::Portable => return portable::matmul::<MAX>(&call, c),
        };
        assert!(needs.runs_here(), "int8 GEMM on {isa:?} without it");
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has the instructions (checked above); every tile reads `MR` rows of
        // `a` below `m` (each run of `kt` bytes ends by `last`, checked by `check`) and panels
        // below `n / 16`, and writes inside `c` (checked by `check`).
        unsafe {
            match isa {
                Isa::Vnni256 => vnni256::matmul::<MAX>(&call, c),
                Isa::Avx2 => avx2::matmul::<MAX>(&call, c),
                _ => vnni::matmul::<MAX>(&call, c),
            }
        }
    }
}

/// The operands of one product, `a` read as [`PackedI8::matmul`] reads it (bounds checked by
/// [`PackedI8::check`] before a kernel sees them).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
struct Call<'a> {
    b: &'a PackedI8,
    m: usize,
    a: &'a [u8],
    lda: usize,
    taps: &'a [usize],
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
impl Call<'_> {
    /// Bytes of one packed panel of 16 columns.
    fn panel(&self) -> usize {
        self.b.k / 4 * LANES * 4
    }

    /// Groups of 4 bytes in each tap's run.
    fn tap_k4(&self) -> usize {
        self.b.k / self.taps.len() / 4
    }
}

/// Which instructions [`PackedI8::matmul_on`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    /// AVX-512 VNNI (`vpdpbusd` on 512 bits).
    Vnni,
    /// AVX-VNNI (`vpdpbusd` on 256 bits): CPUs without AVX-512.
    Vnni256,
    /// AMX-INT8 (`tdpbusd`).
    Amx,
    /// AVX2: `vpmaddwd` on operands widened to `i16`.
    Avx2,
    /// Plain Rust.
    Portable,
}

impl Isa {
    /// The vector instructions of a path (AMX's small products, and tract's, on its fallbacks).
    fn of(path: KernelPath) -> Isa {
        match path {
            KernelPath::Amx | KernelPath::Avx512Vnni => Isa::Vnni,
            KernelPath::AvxVnni => Isa::Vnni256,
            KernelPath::Avx2 => Isa::Avx2,
            KernelPath::Portable | KernelPath::Tract => Isa::Portable,
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use std::arch::x86_64::*;

    use super::{Call, LANES, MR, NR};

    /// With `MAX`, each result is folded into `c` by max instead of stored.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn matmul<const MAX: bool>(call: &Call, c: &mut [i32]) {
        let Call { b, m, a, lda, taps } = *call;
        let (n, panel, tap_k4) = (b.n, call.panel(), call.tap_k4());
        // SAFETY: the caller's bounds (see `PackedI8::matmul`).
        unsafe {
            let panels = n / LANES;
            for p0 in (0..panels).step_by(NR) {
                let bp = b.data.as_ptr().add(p0 * panel);
                for r0 in (0..m).step_by(MR) {
                    let ap = a.as_ptr().add(r0 * lda);
                    let cp = c.as_mut_ptr().add(r0 * n + p0 * LANES);
                    // The last group of panels may hold fewer than `NR`.
                    match (panels - p0).min(NR) {
                        4 => tile::<MAX, 4>(ap, lda, taps, tap_k4, bp, panel, cp, n),
                        3 => tile::<MAX, 3>(ap, lda, taps, tap_k4, bp, panel, cp, n),
                        2 => tile::<MAX, 2>(ap, lda, taps, tap_k4, bp, panel, cp, n),
                        _ => tile::<MAX, 1>(ap, lda, taps, tap_k4, bp, panel, cp, n),
                    }
                }
            }
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile<const MAX: bool, const NP: usize>(
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
            let mut acc = [[_mm512_setzero_si512(); NP]; MR];
            let mut b = b;
            for &tap in taps {
                let a = a.add(tap);
                for k in 0..tap_k4 {
                    let mut bv = [_mm512_setzero_si512(); NP];
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
                    let at = c.add(r * ldc + j * LANES).cast();
                    let x = if MAX {
                        _mm512_max_epi32(_mm512_loadu_si512(at), *x)
                    } else {
                        *x
                    };
                    _mm512_storeu_si512(at, x);
                }
            }
        }
    }
}

/// [`vnni`]'s product on 256-bit registers (AVX-VNNI): tiles of [`MR`] rows × one panel of 16
/// columns (two registers), which keeps the 12 accumulators, the panel and the broadcast row in
/// the 16 registers AVX2 has. The same packed weights, the same exact sums.
#[cfg(target_arch = "x86_64")]
mod vnni256 {
    use std::arch::x86_64::*;

    use super::{Call, LANES, MR};

    /// With `MAX`, each result is folded into `c` by max instead of stored.
    #[target_feature(enable = "avx2,avxvnni")]
    pub(super) unsafe fn matmul<const MAX: bool>(call: &Call, c: &mut [i32]) {
        let Call { b, m, a, lda, taps } = *call;
        let (n, panel, tap_k4) = (b.n, call.panel(), call.tap_k4());
        // SAFETY: the caller's bounds (see `PackedI8::matmul`).
        unsafe {
            for p in 0..n / LANES {
                let bp = b.data.as_ptr().add(p * panel);
                for r0 in (0..m).step_by(MR) {
                    let ap = a.as_ptr().add(r0 * lda);
                    let cp = c.as_mut_ptr().add(r0 * n + p * LANES);
                    tile::<MAX>(ap, lda, taps, tap_k4, bp, cp, n);
                }
            }
        }
    }

    #[target_feature(enable = "avx2,avxvnni")]
    #[inline]
    unsafe fn tile<const MAX: bool>(
        a: *const u8,
        lda: usize,
        taps: &[usize],
        tap_k4: usize,
        b: *const i8,
        c: *mut i32,
        ldc: usize,
    ) {
        // SAFETY: the tile is inside `a`, `b` and `c` (see `matmul`).
        unsafe {
            let mut acc = [[_mm256_setzero_si256(); 2]; MR];
            let mut b = b;
            for &tap in taps {
                let a = a.add(tap);
                for k in 0..tap_k4 {
                    // Columns 0-7 and 8-15 of the panel, 4 bytes (rows 4k .. 4k + 3) each.
                    let lo = _mm256_loadu_si256(b.cast());
                    let hi = _mm256_loadu_si256(b.add(32).cast());
                    b = b.add(64);
                    for (r, row) in acc.iter_mut().enumerate() {
                        let av = _mm256_set1_epi32(
                            a.add(r * lda + 4 * k).cast::<i32>().read_unaligned(),
                        );
                        row[0] = _mm256_dpbusd_avx_epi32(row[0], av, lo);
                        row[1] = _mm256_dpbusd_avx_epi32(row[1], av, hi);
                    }
                }
            }
            for (r, row) in acc.iter().enumerate() {
                for (j, x) in row.iter().enumerate() {
                    let at = c.add(r * ldc + j * 8).cast();
                    let x = if MAX {
                        _mm256_max_epi32(_mm256_loadu_si256(at), *x)
                    } else {
                        *x
                    };
                    _mm256_storeu_si256(at, x);
                }
            }
        }
    }
}

/// The product on AVX2 without VNNI: both operands widened to `i16` (activations once per
/// call, each group of weights once per tile) and multiplied with `vpmaddwd`, whose `i32`
/// sums of two products are exact (at most 2 · 255 · 128), then added. Tiles of [`MR`] rows ×
/// 8 columns (half a panel): 12 accumulators, two widened weight registers and the broadcast
/// row fit the 16 registers. Each accumulator holds two partial sums per column (rows
/// `4k, 4k + 1` and `4k + 2, 4k + 3`), added once at the end.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Call, LANES, MR};

    /// With `MAX`, each result is folded into `c` by max instead of stored.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn matmul<const MAX: bool>(call: &Call, c: &mut [i32]) {
        let Call { b, m, a, lda, taps } = *call;
        let (n, panel, tap_k4) = (b.n, call.panel(), call.tap_k4());
        // Every activation widened once, so each broadcast below is one load.
        let wide: Vec<i16> = a.iter().map(|&x| i16::from(x)).collect();
        // SAFETY: the caller's bounds (see `PackedI8::run`); `wide` has `a`'s length.
        unsafe {
            for p in 0..n / LANES {
                for half in 0..2 {
                    // Columns 8 · half .. 8 · half + 8 are bytes 32 · half .. of each group.
                    let bp = b.data.as_ptr().add(p * panel + 32 * half);
                    for r0 in (0..m).step_by(MR) {
                        let ap = wide.as_ptr().add(r0 * lda);
                        let cp = c.as_mut_ptr().add(r0 * n + p * LANES + 8 * half);
                        tile::<MAX>(ap, lda, taps, tap_k4, bp, cp, n);
                    }
                }
            }
        }
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn tile<const MAX: bool>(
        a: *const i16,
        lda: usize,
        taps: &[usize],
        tap_k4: usize,
        b: *const i8,
        c: *mut i32,
        ldc: usize,
    ) {
        // SAFETY: the tile is inside `a`, `b` and `c` (see `matmul`).
        unsafe {
            let mut acc = [[_mm256_setzero_si256(); 2]; MR];
            let mut b = b;
            for &tap in taps {
                let a = a.add(tap);
                for k in 0..tap_k4 {
                    // Columns 0-3 and 4-7 of the half panel, rows 4k .. 4k + 3 each, as i16.
                    let lo = _mm256_cvtepi8_epi16(_mm_loadu_si128(b.cast()));
                    let hi = _mm256_cvtepi8_epi16(_mm_loadu_si128(b.add(16).cast()));
                    b = b.add(64);
                    for (r, row) in acc.iter_mut().enumerate() {
                        // The row's 4 values of this group, in every 64-bit lane.
                        let av = _mm256_set1_epi64x(
                            a.add(r * lda + 4 * k).cast::<i64>().read_unaligned(),
                        );
                        row[0] = _mm256_add_epi32(row[0], _mm256_madd_epi16(av, lo));
                        row[1] = _mm256_add_epi32(row[1], _mm256_madd_epi16(av, hi));
                    }
                }
            }
            for (r, row) in acc.iter().enumerate() {
                // hadd gives columns [0 1 4 5 | 2 3 6 7]; the permute puts them in order.
                let sums =
                    _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_hadd_epi32(row[0], row[1]));
                let at = c.add(r * ldc).cast();
                let x = if MAX {
                    _mm256_max_epi32(_mm256_loadu_si256(at), sums)
                } else {
                    sums
                };
                _mm256_storeu_si256(at, x);
            }
        }
    }
}

/// The product in portable Rust on 128-bit vectors of [`wide`]: both operands widened to `i16`,
/// pairs of depth values multiplied and summed into `i32` lanes with [`i16x8::dot`] (SSE2's
/// `pmaddwd` on x86-64's baseline, NEON's `smull` + `smull2` + `addp` on ARM64, wasm's
/// `i32x4.dot_i16x8_s`, and plain integer sums elsewhere): 8 exact products per instruction, in
/// `i32` throughout, so every sum is the exact integer sum. A pair's two products are at most
/// 2 · 255 · 128 in magnitude, far from `pmaddwd`'s only overflow (both pairs −32768²).
///
/// Tiles of `ROWS` (2) rows × 16 columns: 8 accumulators, the 4 registers of one pair of weight
/// rows and the broadcast activation pair fit the 16 registers of SSE2. The weights are read
/// from their own copy as `i16` pairs ([`PackedI8::pairs`]), the activations as pairs of
/// neighbours (`a[i]` and `a[i + 1]` in one `i32`, once per call), broadcast to every lane.
///
/// Why not plain Rust for the compiler to vectorise: no formulation tried gave `pmaddwd` on the
/// x86-64 baseline (widening multiply-adds on fixed-size chunks came out as `pmullw` + `pmulhw` +
/// unpacks, or scalar), and `f32` chains of at most 128 products (exact below 2^24) reached
/// 10–15 GMAC/s on Zen 3 at SSE2 against this kernel's 20–31 (aisfx's six layers, one core).
/// The reference the vector paths are held to, besides the naive sums.
mod portable {
    use wide::{i16x8, i32x4};

    use super::{Call, LANES};

    /// Rows of one tile (a divisor of [`super::MR`]).
    pub(super) const ROWS: usize = 2;
    const _: () = assert!(super::MR.is_multiple_of(ROWS));
    /// Vectors of 4 `i32` lanes (or 4 column pairs of `i16`) in one row of a panel.
    const Q: usize = LANES / 4;

    /// `[x, y, x, y, …]`: the pair `(x, y)` (as [`pair`] made it) in every lane.
    #[inline(always)]
    fn broadcast(pair: i32) -> i16x8 {
        bytemuck::cast(i32x4::splat(pair))
    }

    /// `a[i]` and `a[i + 1]` (zero past the end) as the two `i16` halves of one `i32`, in the
    /// order [`broadcast`] lays them out.
    fn pair(a: &[u8], i: usize) -> i32 {
        let next = a.get(i + 1).copied().unwrap_or(0);
        bytemuck::cast([i16::from(a[i]), i16::from(next)])
    }

    /// With `MAX`, each result is folded into `c` by max instead of stored.
    pub(super) fn matmul<const MAX: bool>(call: &Call, c: &mut [i32]) {
        let Call { b, m, a, lda, taps } = *call;
        let (n, kt) = (b.n, b.k / taps.len());
        // The activations the rows below `m` read, as pairs of neighbours (once per call).
        let last = taps
            .iter()
            .max()
            .map_or(0, |t| (m.max(1) - 1) * lda + t + kt);
        let a = &a[..last.min(a.len())];
        let pairs: Vec<i32> = (0..a.len()).map(|i| pair(a, i)).collect();
        for (p, panel) in b.pairs().chunks_exact(b.k / 2 * Q).enumerate() {
            for r0 in (0..m).step_by(ROWS) {
                let mut acc = [[i32x4::splat(0); Q]; ROWS];
                for (t, &tap) in taps.iter().enumerate() {
                    let w = &panel[t * kt / 2 * Q..(t + 1) * kt / 2 * Q];
                    let rows: [&[i32]; ROWS] = std::array::from_fn(|r| {
                        let at = (r0 + r) * lda + tap;
                        &pairs[at..at + kt]
                    });
                    for (j, w) in w.chunks_exact(Q).enumerate() {
                        let Ok(w) = <&[i16x8; Q]>::try_from(w) else {
                            unreachable!("a pair of weight rows is {Q} vectors")
                        };
                        for (row, x) in acc.iter_mut().zip(&rows) {
                            let x = broadcast(x[2 * j]);
                            for (s, &v) in row.iter_mut().zip(w) {
                                *s += v.dot(x);
                            }
                        }
                    }
                }
                for (r, row) in acc.iter().enumerate() {
                    let out = &mut c[(r0 + r) * n + p * LANES..][..LANES];
                    for (o, s) in out.iter_mut().zip(row.iter().flat_map(|v| v.to_array())) {
                        *o = if MAX { (*o).max(s) } else { s };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_here_matches_the_naive_product() {
        for path in KernelPath::here() {
            matches_the_naive_product(path);
        }
    }

    fn matches_the_naive_product(path: KernelPath) {
        let (m, k, n) = (2 * MR, 12, 64);
        let a: Vec<u8> = (0..m * k).map(|i| (i * 37 % 256) as u8).collect();
        let w = |r: usize, c: usize| ((r * 31 + c * 17) % 255) as i32 as i8;
        let b = PackedI8::new(k, n, w);
        let mut c = vec![0; m * n];
        b.matmul(path, m, &a, k, &[0], &mut c);
        for r in 0..m {
            for o in 0..n {
                let want: i32 = (0..k)
                    .map(|i| i32::from(a[r * k + i]) * i32::from(w(i, o)))
                    .sum();
                assert_eq!(c[r * n + o], want, "{path}: ({r}, {o})");
            }
        }
        // The same product as 3 taps of 4 bytes over rows 12 bytes apart.
        let mut c2 = vec![0; m * n];
        b.matmul(path, m, &a, k, &[0, 4, 8], &mut c2);
        assert_eq!(c, c2);
        // Folded by max into what is there: the larger of the two, element by element.
        let mut folded: Vec<i32> = (0..m * n)
            .map(|i| (i as i32 * 7919) % 40_000 - 20_000)
            .collect();
        let before = folded.clone();
        b.matmul_max(path, m, &a, k, &[0], &mut folded);
        for i in 0..m * n {
            assert_eq!(folded[i], before[i].max(c[i]), "{i}");
        }
        assert!(folded != c && folded != before, "both sides win somewhere");
    }

    /// The instructions this CPU runs the product on, VNNI first, portable last.
    fn vector_isas() -> Vec<Isa> {
        let mut isas = Vec::new();
        for path in KernelPath::here() {
            let isa = Isa::of(path);
            if !isas.contains(&isa) {
                isas.push(isa);
            }
        }
        isas
    }

    #[test]
    fn every_path_folds_by_max_alike() {
        let (m, k, n) = (4 * MR, 40, 48);
        let a: Vec<u8> = (0..m * k).map(|i| (i * 53 % 256) as u8).collect();
        let b = PackedI8::new(k, n, |r, c| ((r * 29 + c * 13) % 255) as i32 as i8);
        let start: Vec<i32> = (0..m * n)
            .map(|i| (i as i32 * 613) % 9_000 - 4_500)
            .collect();
        let mut folded = Vec::new();
        for path in KernelPath::here() {
            let mut c = start.clone();
            b.matmul_max(path, m, &a, k, &[0], &mut c);
            assert!(c != start);
            folded.push((path, c));
        }
        for (path, c) in &folded[1..] {
            assert!(*c == folded[0].1, "{path} != {}", folded[0].0);
        }
    }

    /// A small deterministic generator (xorshift64*).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32
        }
    }

    /// Whether AMX runs here; with `SONGREC_TEST_EXPECT_AMX=1` (set it on a machine with
    /// AMX-INT8, e.g. `SONGREC_TEST_EXPECT_AMX=1 cargo test -p songrec-neural amx`) a missing AMX
    /// path fails the test instead of being skipped quietly.
    fn amx_here() -> bool {
        let ok = super::super::amx::supported();
        if std::env::var("SONGREC_TEST_EXPECT_AMX").is_ok_and(|v| v.trim() == "1") {
            assert!(
                ok,
                "SONGREC_TEST_EXPECT_AMX=1 but the AMX path is not available"
            );
        }
        if !ok {
            eprintln!(
                "AMX-INT8 is not available here: only VNNI is checked against the naive product"
            );
        }
        ok
    }

    /// `m × n` product over `taps` of `kt` bytes each at rows `lda` apart, on VNNI, on AMX
    /// where it runs and through the dispatching `matmul`, all compared bit for bit, and
    /// against the naive sums at `checks` sampled entries (every entry when `checks` is 0).
    #[allow(clippy::too_many_arguments)]
    fn check(
        rng: &mut Rng,
        m: usize,
        n: usize,
        kt: usize,
        lda: usize,
        taps: &[usize],
        a: &[u8],
        checks: usize,
    ) {
        let k = kt * taps.len();
        let w: Vec<i8> = (0..k * n).map(|_| rng.next() as u8 as i8).collect();
        let b = PackedI8::new(k, n, |r, c| w[r * n + c]);
        let isas = vector_isas();
        let mut vnni = vec![0; m * n];
        b.matmul_on(isas[0], m, a, lda, taps, &mut vnni);
        for &isa in &isas[1..] {
            let mut other = vec![-1; m * n];
            b.matmul_on(isa, m, a, lda, taps, &mut other);
            assert!(
                other == vnni,
                "{isa:?} != {:?}: m {m} n {n} kt {kt}",
                isas[0]
            );
        }
        let naive = |r: usize, o: usize| -> i32 {
            let mut sum = 0;
            for (t, &tap) in taps.iter().enumerate() {
                for i in 0..kt {
                    sum += i32::from(a[r * lda + tap + i]) * i32::from(w[(t * kt + i) * n + o]);
                }
            }
            sum
        };
        if checks == 0 {
            for r in 0..m {
                for o in 0..n {
                    assert_eq!(vnni[r * n + o], naive(r, o), "m {m} kt {kt} ({r}, {o})");
                }
            }
        } else {
            for _ in 0..checks {
                let (r, o) = (rng.next() as usize % m, rng.next() as usize % n);
                assert_eq!(vnni[r * n + o], naive(r, o), "m {m} kt {kt} ({r}, {o})");
            }
        }
        for path in KernelPath::here() {
            let mut any = vec![-1; m * n];
            b.matmul(path, m, a, lda, taps, &mut any);
            assert!(
                any == vnni,
                "matmul on {path} != {:?}: m {m} n {n} kt {kt}",
                isas[0]
            );
        }
        if m >= 16 && n.is_multiple_of(32) && super::super::amx::supported() {
            let mut amx = vec![-1; m * n];
            b.matmul_on(Isa::Amx, m, a, lda, taps, &mut amx);
            assert!(
                amx == vnni,
                "AMX != VNNI: m {m} n {n} kt {kt} taps {taps:?}"
            );
        }
    }

    #[test]
    fn every_path_matches_the_naive_product_on_random_shapes() {
        let amx = amx_here();
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        // Odd row tiles and partial ones (m = 18, 30, 42, 66, 102), k per tap below, at, and
        // past 64 and not a multiple of it, one tap or several at scattered offsets.
        let shapes = [
            (18, 64, 4, 1),
            (24, 64, 12, 3),
            (30, 128, 20, 9),
            (36, 64, 64, 1),
            (42, 64, 68, 2),
            (48, 192, 100, 9),
            (66, 64, 128, 9),
            (96, 128, 132, 4),
            (102, 64, 36, 5),
            (12, 64, 64, 9),
            (6, 64, 8, 2),
            // Widths that leave 1, 2 or 3 panels of 16 for the last tile (musicnn's 204
            // filters take 208), on VNNI only where not a multiple of 32.
            (18, 16, 12, 1),
            (24, 208, 40, 7),
            (30, 96, 20, 3),
            (12, 48, 68, 7),
            (36, 112, 128, 1),
        ];
        for (m, n, kt, ntaps) in shapes {
            let lda = kt + 4 * (rng.next() as usize % 5);
            let taps: Vec<usize> = (0..ntaps)
                .map(|_| rng.next() as usize % (3 * lda))
                .collect();
            let len = (m - 1) * lda + taps.iter().max().unwrap() + kt;
            let a: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            check(&mut rng, m, n, kt, lda, &taps, &a, 0);
        }
        // Extremes: every byte 255 times every weight -128 and 127 (the largest sums).
        let (m, n, kt) = (34 * 6, 64, 512);
        let a = vec![255u8; m * kt + 8 * kt];
        let taps: Vec<usize> = (0..9).map(|t| t * kt).collect();
        let b = PackedI8::new(9 * kt, n, |r, c| {
            if (r + c).is_multiple_of(2) { -128 } else { 127 }
        });
        let sum = |c: usize| -> i32 {
            (0..9 * kt)
                .map(|r| 255 * if (r + c).is_multiple_of(2) { -128 } else { 127 })
                .sum()
        };
        let mut vnni = Vec::new();
        for isa in vector_isas() {
            let mut out = vec![0; m * n];
            b.matmul_on(isa, m, &a, kt, &taps, &mut out);
            assert!(
                out.chunks(n).all(|row| (0..n).all(|c| row[c] == sum(c))),
                "{isa:?}"
            );
            vnni = out;
        }
        if amx {
            let mut amx = vec![0; m * n];
            b.matmul_on(Isa::Amx, m, &a, kt, &taps, &mut amx);
            assert!(amx == vnni);
        }
    }

    #[test]
    fn every_path_matches_on_the_aisfx_layers() {
        amx_here();
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        // (cin, out, h, w) of the six quantized convolutions in `aisfx::native` (blocks of
        // 100 × 96 log-mels, pooled 2 × 2 before the first and after the 2nd and 4th), as
        // `QConv::run` calls the product: rows of the padded map, the 9 tap offsets.
        let layers: [(usize, usize, usize, usize); 6] = [
            (64, 128, 50, 48),
            (128, 128, 50, 48),
            (128, 256, 25, 24),
            (256, 256, 25, 24),
            (256, 512, 12, 12),
            (512, 512, 12, 12),
        ];
        for (cin, out, h, w) in layers {
            let wp = w + 2;
            let m = (h * wp).next_multiple_of(MR);
            let mut a = vec![0u8; (h + 3) * wp * cin];
            for t in 0..h {
                for f in 0..w {
                    let at = ((t + 1) * wp + f + 1) * cin;
                    // Sparse and skewed, as ReLU outputs are.
                    for v in &mut a[at..at + cin] {
                        let x = rng.next();
                        *v = if x.is_multiple_of(3) {
                            0
                        } else {
                            (x >> 8) as u8
                        };
                    }
                }
            }
            let taps: [usize; 9] = std::array::from_fn(|i| ((i / 3) * wp + i % 3) * cin);
            check(&mut rng, m, out, cin, cin, &taps, &a, 300);
        }
    }
}
