//! A direct convolution over a single-channel map, max-pooled over the whole frequency axis
//! (musicnn's timbral branches), that computes **exactly** what im2col + [`super::matmul`]
//! computes, without the im2col copy and the product's packing of it.
//!
//! Why it is the same to the bit: for `k ≤ 512` [`super::matmul`] does the whole depth in one
//! block (`f32mm`'s block is 512), one accumulator per output, starting at zero, into which it
//! fuses one multiply-add per depth index in order, then stores it as it is. Here every output
//! is the same chain: the same products, fused the same way, in the same order (tap row by tap
//! row, each row left to right, as im2col lays them out), from the same zero. The max over frequency then runs in the caller's order with
//! [`f32::max`]. Where the CPU lacks AVX-512F, or a shape is outside what this covers, the
//! caller keeps im2col + GEMM.

/// Output channels per panel (one AVX-512 register).
const LANES: usize = 16;
/// Most frequency positions of a tile of one panel (accumulators held in registers).
const MAX_ROWS: usize = 24;
/// Most frequency positions of a tile of two panels: each broadcast input value then feeds two
/// multiply-adds (24 accumulators), which keeps the loads from bounding the kernel.
const MAX_ROWS_2: usize = 12;

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
    let rows = |max: usize| fo.div_ceil(fo.div_ceil(max));
    assert!(
        x.len() >= (frames + kt - 1) * width && out.len() >= frames * w.n,
        "convolution shapes out of bounds"
    );
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // Pairs of panels first, then a last single panel where their count is odd.
            let panels = w.n.div_ceil(LANES);
            let pairs = panels / 2;
            macro_rules! run {
                ($p:literal, $rows:expr, $from:expr, $to:expr; $($r:literal)*) => {
                    match $rows {
                        $($r => {
                            // SAFETY: the CPU has AVX-512F; the bounds are checked above
                            // (every tile reads rows t .. t + kt of x and columns up to
                            // f0 + rows - 1 + kf - 1 < width; panels below ⌈n / 16⌉).
                            unsafe {
                                avx512::run::<$r, $p>(x, width, kt, kf, frames, fo, w, $from, $to, out)
                            };
                        })*
                        _ => return false,
                    }
                };
            }
            // Both tile heights are covered by the arms below for every `fo ≥ 6` (a height is
            // more than half its maximum once there are two tiles); checked before any write.
            let (r2, r1) = (rows(MAX_ROWS_2), rows(MAX_ROWS));
            if fo < 6 || !(6..=MAX_ROWS_2).contains(&r2) || !(6..=MAX_ROWS).contains(&r1) {
                return false;
            }
            if pairs > 0 {
                run!(2, r2, 0, 2 * pairs; 6 7 8 9 10 11 12);
            }
            if panels % 2 == 1 {
                run!(1, r1, 2 * pairs, panels; 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24);
            }
            return true;
        }
    }
    false
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{LANES, Panels};

    /// Tiles of `R` frequency positions × `P` panels of 16 channels, for panels `from..to`
    /// (`P` at a time); the last tile of a frame starts at `fo - R` (it may recompute
    /// positions the previous tile did: those are skipped when pooling, so each position
    /// enters the max once, in increasing order). Each output's sum is the same chain
    /// whatever `P`: one accumulator, one fused multiply-add per depth index, in order.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn run<const R: usize, const P: usize>(
        x: &[f32],
        width: usize,
        kt: usize,
        kf: usize,
        frames: usize,
        fo: usize,
        w: &Panels,
        from: usize,
        to: usize,
        out: &mut [f32],
    ) {
        let k = w.k;
        let n = w.n;
        let mut tile = [[[0.0f32; LANES]; P]; R];
        for p in (from..to).step_by(P) {
            let wp = w.data[p * k * LANES..(p + P) * k * LANES].as_ptr();
            for t in 0..frames {
                let mut done = 0;
                while done < fo {
                    let f0 = done.min(fo - R);
                    // SAFETY: rows t .. t + kt and columns f0 .. f0 + R - 1 + kf of x are in
                    // bounds (the caller's check); panels p .. p + P hold k × 16 values each.
                    unsafe {
                        let mut acc = [[_mm512_setzero_ps(); P]; R];
                        let mut wk = wp;
                        for dt in 0..kt {
                            let xr = x.as_ptr().add((t + dt) * width + f0);
                            for j in 0..kf {
                                let wv: [__m512; P] =
                                    std::array::from_fn(|q| _mm512_loadu_ps(wk.add(q * k * LANES)));
                                wk = wk.add(LANES);
                                let xj = xr.add(j);
                                for (r, a) in acc.iter_mut().enumerate() {
                                    let xv = _mm512_set1_ps(*xj.add(r));
                                    for (a, wv) in a.iter_mut().zip(&wv) {
                                        *a = _mm512_fmadd_ps(xv, *wv, *a);
                                    }
                                }
                            }
                        }
                        for (row, a) in tile.iter_mut().zip(&acc) {
                            for (dst, a) in row.iter_mut().zip(a) {
                                _mm512_storeu_ps(dst.as_mut_ptr(), *a);
                            }
                        }
                    }
                    for q in 0..P {
                        let c0 = (p + q) * LANES;
                        let lanes = LANES.min(n - c0);
                        let dst = &mut out[t * n + c0..t * n + c0 + lanes];
                        for row in &tile[done - f0..] {
                            dst.iter_mut()
                                .zip(&row[q])
                                .for_each(|(m, x)| *m = m.max(*x));
                        }
                    }
                    done = f0 + R;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every output as one chain of fused multiply-adds from zero in im2col's order, then the
    /// max over frequency positions in increasing order: what the kernel must equal to the bit.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        x: &[f32],
        width: usize,
        kt: usize,
        kf: usize,
        frames: usize,
        w: &[f32],
        n: usize,
        out: &mut [f32],
    ) {
        for t in 0..frames {
            for o in 0..n {
                for f in 0..=width - kf {
                    let mut s = 0.0f32;
                    for dt in 0..kt {
                        for j in 0..kf {
                            s = x[(t + dt) * width + f + j].mul_add(w[(dt * kf + j) * n + o], s);
                        }
                    }
                    out[t * n + o] = out[t * n + o].max(s);
                }
            }
        }
    }

    #[test]
    fn tiles_of_one_and_two_panels_equal_the_chains_to_the_bit() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        };
        // Heights 6 to 59 (one to five tiles), panel counts odd and even, a partial last panel.
        for (width, kt, kf, n) in [
            (12, 1, 7, 16),
            (13, 2, 6, 40),
            (30, 3, 5, 64),
            (96, 7, 38, 204),
            (96, 2, 67, 33),
        ] {
            let frames = 5;
            let x: Vec<f32> = (0..(frames + kt - 1) * width).map(|_| next()).collect();
            let w: Vec<f32> = (0..kt * kf * n).map(|_| next()).collect();
            let panels = Panels::new(&w, kt * kf, n);
            let mut got = vec![f32::NEG_INFINITY; frames * n];
            if !conv_max_over_freq(&x, width, kt, kf, frames, &panels, &mut got) {
                #[cfg(target_arch = "x86_64")]
                assert!(
                    !std::arch::is_x86_feature_detected!("avx512f"),
                    "{width} {kf} {n}"
                );
                continue;
            }
            let mut want = vec![f32::NEG_INFINITY; frames * n];
            reference(&x, width, kt, kf, frames, &w, n, &mut want);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert!(bits(&got) == bits(&want), "{width} × {kt} × {kf} × {n}");
        }
    }
}
