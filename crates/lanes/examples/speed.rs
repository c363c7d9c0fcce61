//! How fast the lane sums are beside the loops a user would write instead, in one run:
//! `cargo run --release -p songrec-lanes --example speed`. Prints nanoseconds per call (best of
//! five rounds) for vectors of the lengths songrec compares: 200 (musicnn), 1,544 (mix) and
//! 100,000 (a long sum). `fused<32>` without FMA instructions rounds in software, as a
//! portable build does; the search (`songrec_storage::math::dot`) calls it compiled for
//! AVX2 + FMA where the CPU has them, the last column.

use std::hint::black_box;
use std::time::Instant;

/// Best time of five rounds of `calls` calls of `f`, in nanoseconds per call.
fn ns_per_call(calls: u32, mut f: impl FnMut() -> f32) -> f64 {
    (0..5)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..calls {
                black_box(f());
            }
            t.elapsed().as_secs_f64() * 1e9 / f64::from(calls)
        })
        .fold(f64::INFINITY, f64::min)
}

/// [`songrec_lanes::dot_fused`] compiled for AVX2 + FMA, as the search calls it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fused_avx2(a: &[f32], b: &[f32]) -> f32 {
    songrec_lanes::dot_fused::<32>(a, b)
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    let fma =
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
    #[cfg(not(target_arch = "x86_64"))]
    let fma = false;
    println!(
        "{:>8} {:>12} {:>12} {:>12} {:>12} {:>12}",
        "length", "plain dot", "plain fma", "dot<32>", "fused<32>", "sum_of<16>"
    );
    for n in [200usize, 1_544, 100_000] {
        let a: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
            .collect();
        let b: Vec<f32> = (0..n)
            .map(|i| ((i * 104_729) % 997) as f32 / 997.0 - 0.5)
            .collect();
        let calls = (20_000_000 / n).max(50) as u32;
        let (a, b) = (black_box(&a[..]), black_box(&b[..]));
        let plain = ns_per_call(calls, || a.iter().zip(b).map(|(x, y)| x * y).sum());
        let plain_fma = ns_per_call(calls, || {
            a.iter().zip(b).fold(0.0, |s, (x, y)| x.mul_add(*y, s))
        });
        let dot = ns_per_call(calls, || songrec_lanes::dot::<32>(a, b));
        let fused = ns_per_call(calls, || songrec_lanes::dot_fused::<32>(a, b));
        let sum = ns_per_call(calls, || songrec_lanes::sum_of::<16>(a, |v| v * v));
        #[cfg(target_arch = "x86_64")]
        // SAFETY: called only when the CPU has AVX2 and FMA.
        let with_fma = fma.then(|| ns_per_call(calls, || unsafe { fused_avx2(a, b) }));
        #[cfg(not(target_arch = "x86_64"))]
        let with_fma: Option<f64> = None;
        let with_fma = with_fma.map_or("(no FMA)".to_owned(), |t| format!("{t:.1}"));
        println!(
            "{n:>8} {plain:>12.1} {plain_fma:>12.1} {dot:>12.1} {fused:>12.1} {sum:>12.1} {with_fma:>12}"
        );
    }
}
