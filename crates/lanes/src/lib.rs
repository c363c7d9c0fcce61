//! Sums and dot products over `N` fixed lanes, so the compiler can vectorise them.
//!
//! A plain `iter().sum()` over `f32` is one long dependency chain (each add waits for the
//! previous one), because the compiler must keep the order. These functions add into `N`
//! independent accumulators, add the tail in order and reduce the lanes pairwise at the end:
//! the order is fixed by the code, not by the CPU, so the result is the same on every machine.
//! [`dot_fused`] rounds once per multiply-add ([`f32::mul_add`], exact in software where the
//! CPU has no FMA); the others never fuse.
//!
//! The DSP analysis (`songrec-audio`) sums over 16 lanes; the exact search
//! (`songrec-storage`) takes fused dot products over 32.
//!
//! Speed beside the plain loops, in one run (`cargo run --release -p songrec-lanes --example
//! speed`, 2026-11-26, one core of the 2-core build machine), for 1,544 values (a mix vector):
//! `dot::<32>` 113 ns against 1,229 ns for `iter().zip().map().sum()`; `dot_fused::<32>` built
//! for AVX2 + FMA, as the search calls it, 238 ns (3,572 ns where FMA is done in software).

/// The lanes added pairwise (`N` a power of two), then `tail`.
#[inline(always)]
fn reduce<const N: usize>(mut acc: [f32; N], tail: f32) -> f32 {
    let mut width = N;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            acc[i] += acc[i + width];
        }
    }
    acc[0] + tail
}

/// Sum of `f(v)` over `x`.
///
/// ```
/// assert_eq!(songrec_lanes::sum_of::<16>(&[2.0; 37], |v| v * v), 148.0);
/// ```
#[inline(always)]
pub fn sum_of<const N: usize>(x: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; N];
    let c = x.chunks_exact(N);
    let r = c.remainder();
    for v in c {
        for i in 0..N {
            acc[i] += f(v[i]);
        }
    }
    reduce(acc, r.iter().map(|v| f(*v)).sum())
}

/// Inner product over the shorter of the two slices, `step(acc, x, y)` folding each pair into
/// its lane; the tail is multiplied and added unfused.
#[inline(always)]
fn dot_with<const N: usize>(a: &[f32], b: &[f32], step: impl Fn(f32, f32, f32) -> f32) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; N];
    let ca = a.chunks_exact(N);
    let cb = b.chunks_exact(N);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..N {
            acc[i] = step(acc[i], x[i], y[i]);
        }
    }
    let mut tail = 0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    reduce(acc, tail)
}

/// Inner product over the shorter of the two slices, never fused.
///
/// ```
/// assert_eq!(songrec_lanes::dot::<16>(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0, 7.0]), 32.0);
/// ```
#[inline(always)]
pub fn dot<const N: usize>(a: &[f32], b: &[f32]) -> f32 {
    dot_with::<N>(a, b, |acc, x, y| acc + x * y)
}

/// Inner product over the shorter of the two slices, each lane a fused multiply-add.
///
/// ```
/// assert_eq!(songrec_lanes::dot_fused::<32>(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]), 32.0);
/// ```
#[inline(always)]
pub fn dot_fused<const N: usize>(a: &[f32], b: &[f32]) -> f32 {
    dot_with::<N>(a, b, |acc, x, y| x.mul_add(y, acc))
}

#[cfg(test)]
mod tests {
    /// The 16-lane sums and dot product as the DSP analysis wrote them before this crate.
    fn dsp_dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (a, b) = (&a[..n], &b[..n]);
        let mut acc = [0f32; 16];
        let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
        let (ra, rb) = (ca.remainder(), cb.remainder());
        for (x, y) in ca.zip(cb) {
            for i in 0..16 {
                acc[i] += x[i] * y[i];
            }
        }
        super::reduce(acc, ra.iter().zip(rb).map(|(x, y)| x * y).sum())
    }

    /// The 32-lane fused dot product as the exact search wrote it before this crate.
    fn search_dot(a: &[f32], b: &[f32]) -> f32 {
        let n = a.len().min(b.len());
        let (a, b) = (&a[..n], &b[..n]);
        let mut acc = [0f32; 32];
        let (ca, cb) = (a.chunks_exact(32), b.chunks_exact(32));
        let (ra, rb) = (ca.remainder(), cb.remainder());
        for (x, y) in ca.zip(cb) {
            for i in 0..32 {
                acc[i] = x[i].mul_add(y[i], acc[i]);
            }
        }
        let mut tail = 0f32;
        for (x, y) in ra.iter().zip(rb) {
            tail += x * y;
        }
        super::reduce(acc, tail)
    }

    #[test]
    fn the_same_bits_as_the_code_they_replace() {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 1e3
        };
        for n in 0..300 {
            let a: Vec<f32> = (0..n).map(|_| next()).collect();
            let b: Vec<f32> = (0..n + n % 3).map(|_| next()).collect();
            let plain: f32 = a.iter().sum();
            assert_eq!(
                super::dot::<16>(&a, &b).to_bits(),
                dsp_dot(&a, &b).to_bits()
            );
            assert_eq!(
                super::dot_fused::<32>(&a, &b).to_bits(),
                search_dot(&a, &b).to_bits()
            );
            // The lanes change the order, not the value beyond rounding.
            assert!((super::sum_of::<16>(&a, |v| v) - plain).abs() <= 1e-2 * (n as f32 + 1.0));
        }
    }
}
