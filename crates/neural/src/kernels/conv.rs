//! A direct convolution over a single-channel map, max-pooled over the whole frequency axis
//! (musicnn's timbral branches), that computes **exactly** what im2col + [`super::matmul`]
//! computes on AVX-512, without the im2col copy and the GEMM's packing of it.
//!
//! Why it is the same to the bit: for `k ≤ 512` the `gemm` crate does the whole depth in one
//! block (its depth block is at least 512 wherever the product is not tiny), and its AVX-512
//! kernel keeps one accumulator per output, starting at zero, into which it fuses one
//! multiply-add per depth index in order (`_mm512_fmadd_ps`), then stores it as it is (times
//! a `beta` of 1). Here every output is the same chain: the same products, fused the same way,
//! in the same order (tap row by tap row, each row left to right, as im2col lays them out),
//! from the same zero. The max over frequency then runs in the caller's order with
//! [`f32::max`]. Where the CPU lacks AVX-512F, or a shape is outside what this covers, the
//! caller keeps im2col + GEMM.

/// Output channels per panel (one AVX-512 register).
const LANES: usize = 16;
/// Most frequency positions of one tile (accumulators held in registers).
const MAX_ROWS: usize = 24;

/// A `[k, n]` weight matrix in panels of 16 columns: `[⌈n / 16⌉, k, 16]`, zero-padded.
pub(crate) struct Panels {
    data: Vec<f32>,
    k: usize,
    n: usize,
}

impl Panels {
    /// Packs row-major `w` (`k` rows of `n`).
    pub fn new(w: &[f32], k: usize, n: usize) -> Self {
        assert_eq!(w.len(), k * n, "weights of {k} × {n}");
        let panels = n.div_ceil(LANES);
        let mut data = vec![0.0f32; panels * k * LANES];
        for p in 0..panels {
            for kk in 0..k {
                for l in 0..LANES.min(n - p * LANES) {
                    data[(p * k + kk) * LANES + l] = w[kk * n + p * LANES + l];
                }
            }
        }
        Panels { data, k, n }
    }
}

/// `out[t · n + o] = max(out[t · n + o], max over f of s(t, f, o))`, f from 0 up, with
/// `s(t, f, o) = Σ_{dt < kt, j < kf} x[(t + dt) · width + f + j] · w[dt · kf + j][o]` summed as
/// described in the module docs, for `t < frames` and `f ≤ width − kf`. Returns `false`,
/// leaving `out` alone, where this CPU or shape is not covered (the caller then runs im2col +
/// GEMM).
#[allow(clippy::too_many_arguments)]
pub(crate) fn conv_max_over_freq(
    x: &[f32],
    width: usize,
    kt: usize,
    kf: usize,
    frames: usize,
    w: &Panels,
    out: &mut [f32],
) -> bool {
    let k = kt * kf;
    if w.k != k || k == 0 || k > 512 || kf > width || frames == 0 {
        return false;
    }
    let fo = width - kf + 1;
    let tiles = fo.div_ceil(MAX_ROWS);
    let rows = fo.div_ceil(tiles);
    assert!(
        x.len() >= (frames + kt - 1) * width && out.len() >= frames * w.n,
        "convolution shapes out of bounds"
    );
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            macro_rules! run {
                ($($r:literal)*) => {
                    match rows {
                        $($r => {
                            // SAFETY: the CPU has AVX-512F; the bounds are checked above
                            // (every tile reads rows t .. t + kt of x and columns up to
                            // f0 + rows - 1 + kf - 1 < width).
                            unsafe { avx512::run::<$r>(x, width, kt, kf, frames, fo, w, out) };
                            return true;
                        })*
                        _ => return false,
                    }
                };
            }
            run!(8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24);
        }
    }
    false
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{LANES, Panels};

    /// Tiles of `R` frequency positions × 16 channels; the last tile of a frame starts at
    /// `fo - R` (it may recompute positions the previous tile did: those are skipped when
    /// pooling, so each position enters the max once, in increasing order).
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn run<const R: usize>(
        x: &[f32],
        width: usize,
        kt: usize,
        kf: usize,
        frames: usize,
        fo: usize,
        w: &Panels,
        out: &mut [f32],
    ) {
        let k = w.k;
        let n = w.n;
        let mut tile = [[0.0f32; LANES]; R];
        for p in 0..n.div_ceil(LANES) {
            let lanes = LANES.min(n - p * LANES);
            let wp = w.data[p * k * LANES..(p + 1) * k * LANES].as_ptr();
            for t in 0..frames {
                let dst = &mut out[t * n + p * LANES..t * n + p * LANES + lanes];
                let mut done = 0;
                while done < fo {
                    let f0 = done.min(fo - R);
                    // SAFETY: rows t .. t + kt and columns f0 .. f0 + R - 1 + kf of x are in
                    // bounds (the caller's check); the panel holds k × 16 values.
                    unsafe {
                        let mut acc = [_mm512_setzero_ps(); R];
                        let mut wk = wp;
                        for dt in 0..kt {
                            let xr = x.as_ptr().add((t + dt) * width + f0);
                            for j in 0..kf {
                                let wv = _mm512_loadu_ps(wk);
                                wk = wk.add(LANES);
                                let xj = xr.add(j);
                                for (r, a) in acc.iter_mut().enumerate() {
                                    *a = _mm512_fmadd_ps(_mm512_set1_ps(*xj.add(r)), wv, *a);
                                }
                            }
                        }
                        for (row, a) in tile.iter_mut().zip(&acc) {
                            _mm512_storeu_ps(row.as_mut_ptr(), *a);
                        }
                    }
                    for row in &tile[done - f0..] {
                        dst.iter_mut().zip(row).for_each(|(m, x)| *m = m.max(*x));
                    }
                    done = f0 + R;
                }
            }
        }
    }
}
