//! The AMX-INT8 path of [`super::int8::PackedI8::matmul`]: `tdpbusd` (a 16 × 16 block of `i32`
//! sums += 16 × 64 `u8` times 64 × 16 `i8`, 16 384 multiply-adds per instruction), chosen at
//! run time where the CPU has AMX-TILE and AMX-INT8 and the OS grants the process the tile
//! data ([`supported`]). Integer sums are exact, so it returns the AVX-512 VNNI path's `i32`s
//! bit for bit; `SONGREC_KERNELS=avx512-vnni` keeps the VNNI path (to compare).
//!
//! Rust has no stable AMX intrinsics, so the six instructions are inline assembly, one per
//! `asm!` block (the compiler does not touch tile registers; every block is volatile, so their
//! order is kept). The packed weights already have the tile layout AMX wants for its second
//! source: a panel of 16 columns is `k / 4` rows of 16 × 4 bytes, so one B tile is 16 rows of
//! 64 bytes, 64 bytes apart. An A tile is 16 rows of `a` (output pixels), `lda` bytes apart,
//! 64 bytes each (16 groups of 4 consecutive k-bytes) from a tap's offset.

use std::sync::OnceLock;

/// Bytes of one tile row (the most an A row or a B/C row can hold).
const COLSB: usize = 64;
/// Rows of a full tile.
const ROWS: usize = 16;

/// Whether [`matmul`] may run here: the CPU has AMX-TILE and AMX-INT8, the OS enabled their
/// state (XCR0) and granted this process the tile data (`arch_prctl`). Asked once per process.
pub(crate) fn supported() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        {
            detect::cpu_and_os() && detect::request_tile_data()
        }
        #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
        {
            false
        }
    })
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod detect {
    use std::arch::x86_64::{__cpuid, __cpuid_count};

    /// CPUID says AMX-TILE (leaf 7, EDX bit 24) and AMX-INT8 (bit 25), and XCR0 has the tile
    /// configuration (bit 17) and tile data (bit 18) enabled by the OS.
    pub(super) fn cpu_and_os() -> bool {
        if __cpuid(0).eax < 0xd {
            return false;
        }
        let edx = __cpuid_count(7, 0).edx;
        if (edx >> 24) & 1 == 0 || (edx >> 25) & 1 == 0 {
            return false;
        }
        // OSXSAVE: XGETBV is usable.
        if (__cpuid(1).ecx >> 27) & 1 == 0 {
            return false;
        }
        let (lo, hi): (u32, u32);
        // SAFETY: XGETBV with ECX = 0 reads XCR0; OSXSAVE (checked above) makes it legal at any
        // privilege level. It touches no memory or flags.
        unsafe {
            std::arch::asm!(
                "xgetbv",
                in("ecx") 0u32,
                out("eax") lo,
                out("edx") hi,
                options(nomem, nostack, preserves_flags),
            );
        }
        let xcr0 = (u64::from(hi) << 32) | u64::from(lo);
        (xcr0 >> 17) & 3 == 3
    }

    /// Linux hands out the (8 KiB) tile data state on request only: `arch_prctl(
    /// ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`, once per process (threads share it).
    pub(super) fn request_tile_data() -> bool {
        const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
        const XFEATURE_XTILEDATA: libc::c_long = 18;
        // SAFETY: arch_prctl with these arguments only changes the process's permission to use
        // the tile state; it reads and writes no user memory.
        let r = unsafe {
            libc::syscall(
                libc::SYS_arch_prctl,
                ARCH_REQ_XCOMP_PERM,
                XFEATURE_XTILEDATA,
            )
        };
        r == 0
    }
}

/// Bytes of k per tile step for `kt` bytes per tap: 64 when `kt` is a multiple of 64 (every
/// aisfx layer), else the largest multiple of 4 that divides `kt` and is at most 64, so one
/// tile configuration serves every step.
fn k_step(kt: usize) -> usize {
    (1..=COLSB / 4)
        .rev()
        .map(|d| 4 * d)
        .find(|s| kt.is_multiple_of(*s))
        .unwrap_or(4)
}

/// `c[m × n] = a · b` with [`super::int8::PackedI8::matmul`]'s contract (the caller checked
/// the bounds and that `kt = k / taps.len()` is a multiple of 4); `m` must be at least 16.
/// Rows past a multiple of 16 are done by a last tile that overlaps the one before it (the
/// overlapping rows are written twice, with the same values).
///
/// # Safety
/// [`supported`] is true; `taps` is not empty; every run `a[r · lda + tap ..][..kt]` for
/// `r < m` is inside `a`; `b` has `k = kt · taps.len()` rows and `n` columns (a multiple of
/// 32), packed as [`super::int8::PackedI8`] packs; `c` holds `m · n` values; `m >= 16`.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn matmul(
    b: &[i8],
    k: usize,
    n: usize,
    m: usize,
    a: &[u8],
    lda: usize,
    taps: &[usize],
    c: &mut [i32],
) {
    debug_assert!(m >= ROWS && !taps.is_empty() && n.is_multiple_of(2 * ROWS));
    let kt = k / taps.len();
    let ks = k_step(kt);
    // Tiles 0-3: C (2 × 2 blocks of 16 × 16 i32); 4, 5: A (16 rows × `ks` bytes); 6, 7: B
    // (`ks / 4` rows × 64 bytes).
    let mut cfg = TileConfig {
        palette: 1,
        start_row: 0,
        reserved: [0; 14],
        colsb: [0; 16],
        rows: [0; 16],
    };
    for t in 0..8 {
        let (rows, colsb) = match t {
            0..4 => (ROWS, COLSB),
            4 | 5 => (ROWS, ks),
            _ => (ks / 4, COLSB),
        };
        cfg.rows[t] = rows as u8;
        cfg.colsb[t] = colsb as u16;
    }
    let panel = k * ROWS;
    let row_tiles = m.div_ceil(ROWS);
    let start = |i: usize| (i * ROWS).min(m - ROWS);
    // SAFETY: the CPU and OS support the instructions and the tile data (caller); the tiles
    // read rows `start(i) .. start(i) + 16 <= m` of `a` from each tap, `ks` bytes at a time up to
    // `kt` (inside `a`, caller), and whole panels of `b`; they write 16 × 16 blocks of `c`
    // inside its `m × n` values.
    unsafe {
        tile::config(&cfg);
        for p in (0..n / ROWS).step_by(2) {
            let bp = b.as_ptr().add(p * panel);
            let cp = c.as_mut_ptr().add(p * ROWS);
            for i in (0..row_tiles).step_by(2) {
                let r0 = start(i);
                if i + 1 < row_tiles {
                    block::<2>(a, lda, taps, kt, ks, bp, panel, r0, start(i + 1), cp, n);
                } else {
                    block::<1>(a, lda, taps, kt, ks, bp, panel, r0, r0, cp, n);
                }
            }
        }
        tile::release();
    }
}

/// One block of `R` row tiles (rows from `r0` and `r1`) × 2 panels (32 columns) at `b`, summed
/// over every tap, stored at `c` (row `r` at `c + r · ldc`).
///
/// # Safety
/// As [`matmul`], with the tile configuration loaded.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn block<const R: usize>(
    a: &[u8],
    lda: usize,
    taps: &[usize],
    kt: usize,
    ks: usize,
    b: *const i8,
    panel: usize,
    r0: usize,
    r1: usize,
    c: *mut i32,
    ldc: usize,
) {
    // SAFETY: see `matmul`: every address is inside `a`, `b` or `c`.
    unsafe {
        let a0 = a.as_ptr().add(r0 * lda);
        let a1 = a.as_ptr().add(r1 * lda);
        tile::zero::<0>();
        tile::zero::<1>();
        if R == 2 {
            tile::zero::<2>();
            tile::zero::<3>();
        }
        // Row `kk / 4` of a panel: the B rows of the k-bytes from `kk` on.
        let mut bk = b;
        for &tap in taps {
            for kk in (0..kt).step_by(ks) {
                tile::load::<4>(a0.add(tap + kk), lda);
                tile::load::<6>(bk, COLSB);
                tile::load::<7>(bk.add(panel), COLSB);
                tile::dot::<0>();
                tile::dot::<1>();
                if R == 2 {
                    tile::load::<5>(a1.add(tap + kk), lda);
                    tile::dot::<2>();
                    tile::dot::<3>();
                }
                bk = bk.add(ks / 4 * COLSB);
            }
        }
        let ldc_bytes = ldc * 4;
        tile::store::<0>(c.add(r0 * ldc), ldc_bytes);
        tile::store::<1>(c.add(r0 * ldc + ROWS), ldc_bytes);
        if R == 2 {
            tile::store::<2>(c.add(r1 * ldc), ldc_bytes);
            tile::store::<3>(c.add(r1 * ldc + ROWS), ldc_bytes);
        }
    }
}

/// The 64-byte operand of `ldtilecfg` (palette 1).
#[repr(C, align(64))]
struct TileConfig {
    palette: u8,
    start_row: u8,
    reserved: [u8; 14],
    /// Bytes per row of each tile.
    colsb: [u16; 16],
    /// Rows of each tile.
    rows: [u8; 16],
}

/// The AMX instructions, one `asm!` block each (Intel syntax, tile numbers as literals).
#[cfg(target_arch = "x86_64")]
mod tile {
    use std::arch::asm;

    use super::TileConfig;

    /// One `asm!` per tile number `T` may take: the template is `pre`, `tmmN`, `post`.
    macro_rules! on_tile {
        ($t:expr; $($n:literal),+; $pre:literal, $post:literal; $($args:tt)*) => {{
            macro_rules! one {
                ($m:literal) => {
                    asm!(concat!($pre, "tmm", $m, $post), $($args)*)
                };
            }
            match $t {
                $($n => one!($n),)+
                _ => unreachable!(),
            }
        }};
    }

    /// `ldtilecfg`: shapes the tiles (and zeroes them).
    ///
    /// # Safety
    /// AMX is supported and granted; `cfg` is a valid palette-1 configuration.
    #[inline(always)]
    pub(super) unsafe fn config(cfg: &TileConfig) {
        // SAFETY: the caller's; the 64 bytes read are `cfg`.
        unsafe {
            asm!("ldtilecfg [{}]", in(reg) std::ptr::from_ref(cfg), options(nostack, readonly, preserves_flags));
        }
    }

    /// `tilerelease`: back to the init state (the OS need not save the tiles any more).
    ///
    /// # Safety
    /// AMX is supported and granted.
    #[inline(always)]
    pub(super) unsafe fn release() {
        // SAFETY: the caller's; no memory is touched.
        unsafe {
            asm!("tilerelease", options(nomem, nostack, preserves_flags));
        }
    }

    /// `tilezero tmmT`.
    ///
    /// # Safety
    /// A configuration is loaded.
    #[inline(always)]
    pub(super) unsafe fn zero<const T: u8>() {
        // SAFETY: the caller's; no memory is touched.
        unsafe {
            on_tile!(T; 0, 1, 2, 3; "tilezero ", ""; options(nomem, nostack, preserves_flags))
        }
    }

    /// `tileloadd tmmT, [p + stride]`: the tile's rows, `stride` bytes apart, from `p`.
    ///
    /// # Safety
    /// A configuration is loaded; every row (`colsb` bytes at `p + i · stride`) is readable.
    #[inline(always)]
    pub(super) unsafe fn load<const T: u8>(p: *const impl Sized, stride: usize) {
        let p = p.cast::<u8>();
        // SAFETY: the caller's; only the tile's rows are read.
        unsafe {
            on_tile!(T; 4, 5, 6, 7; "tileloadd ", ", [{p} + {s}]";
                p = in(reg) p, s = in(reg) stride, options(nostack, readonly, preserves_flags))
        }
    }

    /// `tdpbusd tmmC, tmmA, tmmB`: C += A (`u8`) · B (`i8`), in groups of 4 bytes; the pairs
    /// are C0 = A4 · B6, C1 = A4 · B7, C2 = A5 · B6, C3 = A5 · B7.
    ///
    /// # Safety
    /// A configuration is loaded whose shapes fit (A: M × K bytes, B: K / 4 × 4N, C: M × 4N).
    #[inline(always)]
    pub(super) unsafe fn dot<const C: u8>() {
        macro_rules! dot {
            ($c:literal, $a:literal, $b:literal) => {
                asm!(
                    concat!("tdpbusd tmm", $c, ", tmm", $a, ", tmm", $b),
                    options(nomem, nostack, preserves_flags)
                )
            };
        }
        // SAFETY: the caller's; no memory is touched.
        unsafe {
            match C {
                0 => dot!(0, 4, 6),
                1 => dot!(1, 4, 7),
                2 => dot!(2, 5, 6),
                3 => dot!(3, 5, 7),
                _ => unreachable!(),
            }
        }
    }

    /// `tilestored [p + stride], tmmT`: the tile's rows to `p`, `stride` bytes apart.
    ///
    /// # Safety
    /// A configuration is loaded; every row (64 bytes at `p + i · stride`) is writable and
    /// aliases nothing borrowed.
    #[inline(always)]
    pub(super) unsafe fn store<const T: u8>(p: *mut i32, stride: usize) {
        // SAFETY: the caller's; only the tile's rows are written.
        unsafe {
            on_tile!(T; 0, 1, 2, 3; "tilestored [{p} + {s}], ", "";
                p = in(reg) p, s = in(reg) stride, options(nostack, preserves_flags))
        }
    }
}
