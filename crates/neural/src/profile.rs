//! Where an ingest's CPU time goes: CPU clocks, the work each network does per item (FLOPs
//! counted from its graph), and the core's peak f32 FMA rate measured on the spot, so
//! `songrec bench ingest` can say how far each network runs from this machine's limit.
//!
//! Nothing here changes a vector; it only measures.

/// CPU seconds used by the calling thread so far (`CLOCK_THREAD_CPUTIME_ID`, nanosecond
/// resolution; 0 where the clock is missing).
///
/// ```
/// let a = songrec_neural::profile::thread_cpu();
/// let mut x = 0u64;
/// for i in 0..2_000_000u64 { x = x.wrapping_mul(31).wrapping_add(i); }
/// std::hint::black_box(x);
/// assert!(songrec_neural::profile::thread_cpu() >= a);
/// ```
pub fn thread_cpu() -> f64 {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU seconds used by the whole process so far (every thread).
pub fn process_cpu() -> f64 {
    clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// CPU seconds (user + system) of the children this process has waited for.
pub fn children_cpu() -> f64 {
    // SAFETY: getrusage only writes into the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn clock(id: libc::clockid_t) -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes into `ts`.
    if unsafe { libc::clock_gettime(id, &mut ts) } != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// CPU seconds of one song's stages in the default embedder ([`crate::MixEmbedder::parts_profiled`]),
/// measured on the calling thread (both runtimes run a network on the caller's thread with one
/// intra-op thread).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MixProfile {
    /// The 44.1 → 22.05 kHz resample shared by musicnn and the DSP analysis.
    pub resample: f64,
    /// The DSP analysis (songrec-dsp@2).
    pub dsp: f64,
    /// musicnn's patches: planning and resampling them to 16 kHz.
    pub musicnn_cut: f64,
    /// The two musicnn networks (their in-graph spectrogram included).
    pub musicnn_net: f64,
    /// aisfx's front end: the log-mel frames of its blocks.
    pub aisfx_frontend: f64,
    /// The aisfx network.
    pub aisfx_net: f64,
    /// Pooling, standardising and combining the parts.
    pub combine: f64,
    /// Patches run through a musicnn network (MSD's plus MTT's).
    pub patches: usize,
    /// Blocks run through aisfx.
    pub blocks: usize,
}

impl MixProfile {
    /// Adds `other` into `self` (sums over songs).
    pub fn add(&mut self, o: &MixProfile) {
        self.resample += o.resample;
        self.dsp += o.dsp;
        self.musicnn_cut += o.musicnn_cut;
        self.musicnn_net += o.musicnn_net;
        self.aisfx_frontend += o.aisfx_frontend;
        self.aisfx_net += o.aisfx_net;
        self.combine += o.combine;
        self.patches += o.patches;
        self.blocks += o.blocks;
    }

    /// Every stage's seconds together.
    pub fn total(&self) -> f64 {
        self.resample
            + self.dsp
            + self.musicnn_cut
            + self.musicnn_net
            + self.aisfx_frontend
            + self.aisfx_net
            + self.combine
    }
}

/// A stopwatch on the calling thread's CPU clock, for work done in stages.
///
/// ```
/// let mut lap = songrec_neural::profile::Lap::start();
/// let first = lap.lap();
/// assert!(first >= 0.0 && lap.lap() >= 0.0);
/// ```
#[derive(Debug)]
pub struct Lap(f64);

impl Lap {
    /// Starts the first lap now.
    pub fn start() -> Self {
        Lap(thread_cpu())
    }

    /// Seconds since the last lap (or the start), and starts the next lap.
    pub fn lap(&mut self) -> f64 {
        let now = thread_cpu();
        let d = (now - self.0).max(0.0);
        self.0 = now;
        d
    }
}

/// The core's peak f32 rate, measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeakRate {
    /// Billions of f32 operations per CPU second (an FMA counts two).
    pub gflops: f64,
    /// The instructions that reached it ("avx512f", "avx2+fma" or "scalar").
    pub isa: &'static str,
}

/// Measures this core's peak f32 FMA rate: independent chains of fused multiply-adds on the
/// widest vectors the CPU has (AVX-512, else AVX2 with FMA), enough of them to fill every FMA
/// unit, timed on the thread's CPU clock; the best of a few tries.
///
/// ```
/// let p = songrec_neural::profile::peak_f32_rate();
/// assert!(p.gflops > 0.1, "{p:?}");
/// ```
pub fn peak_f32_rate() -> PeakRate {
    let mut best = PeakRate {
        gflops: 0.0,
        isa: "scalar",
    };
    for _ in 0..3 {
        let r = measure_once();
        if r.gflops > best.gflops {
            best = r;
        }
    }
    best
}

/// Iterations of the FMA loop per timing (each: 12 vector FMAs).
const PEAK_ITERS: u64 = 4_000_000;

fn measure_once() -> PeakRate {
    let timed = |run: &dyn Fn() -> f32, lanes: u64, isa| {
        let t = thread_cpu();
        std::hint::black_box(run());
        let flops = PEAK_ITERS * 12 * lanes * 2;
        PeakRate {
            gflops: flops as f64 / (thread_cpu() - t).max(1e-9) / 1e9,
            isa,
        }
    };
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            return timed(&|| unsafe { fma_avx512(PEAK_ITERS) }, 16, "avx512f");
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return timed(&|| unsafe { fma_avx2(PEAK_ITERS) }, 8, "avx2+fma");
        }
    }
    timed(&|| fma_scalar(PEAK_ITERS), 1, "scalar")
}

fn fma_scalar(iters: u64) -> f32 {
    let mut acc = [0.0f32; 12];
    let (a, b) = (
        std::hint::black_box(0.999_9f32),
        std::hint::black_box(1e-7f32),
    );
    for _ in 0..iters {
        for x in &mut acc {
            *x = x.mul_add(a, b);
        }
    }
    acc.iter().sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_avx2(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let a = _mm256_set1_ps(std::hint::black_box(0.999_9));
    let b = _mm256_set1_ps(std::hint::black_box(1e-7));
    let mut acc = [_mm256_setzero_ps(); 12];
    for _ in 0..iters {
        for x in &mut acc {
            *x = _mm256_fmadd_ps(*x, a, b);
        }
    }
    let mut out = [0f32; 8];
    let mut s = _mm256_setzero_ps();
    for x in acc {
        s = _mm256_add_ps(s, x);
    }
    // SAFETY: `out` holds 8 floats.
    unsafe { _mm256_storeu_ps(out.as_mut_ptr(), s) };
    out.iter().sum()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_avx512(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let a = _mm512_set1_ps(std::hint::black_box(0.999_9));
    let b = _mm512_set1_ps(std::hint::black_box(1e-7));
    let mut acc = [_mm512_setzero_ps(); 12];
    for _ in 0..iters {
        for x in &mut acc {
            *x = _mm512_fmadd_ps(*x, a, b);
        }
    }
    let mut s = _mm512_setzero_ps();
    for x in acc {
        s = _mm512_add_ps(s, x);
    }
    _mm512_reduce_add_ps(s)
}

/// FLOPs (2 per multiply-accumulate, every convolution and matrix product) of one item through
/// an ONNX network, counted by tract on the graph at batch 1.
pub(crate) fn flops_per_item(
    model: &[u8],
    sig: &crate::signature::Signature,
) -> Result<f64, String> {
    use tract_onnx::prelude::*;
    let e = |e: TractError| format!("{e:#}");
    let mut reader = model;
    let m = tract_onnx::onnx()
        .model_for_read(&mut reader)
        .map_err(e)?
        .with_input_fact(0, f32::fact(sig.shape(1)).into())
        .map_err(e)?
        .into_typed()
        .map_err(e)?
        .into_decluttered()
        .map_err(e)?;
    let mut fma = 0f64;
    for node in m.nodes() {
        let inputs: Vec<&TypedFact> = node
            .inputs
            .iter()
            .map(|o| m.outlet_fact(*o))
            .collect::<TractResult<_>>()
            .map_err(e)?;
        for (cost, n) in node.op.cost(&inputs).map_err(e)? {
            if matches!(cost, tract_onnx::tract_core::ops::Cost::FMA(_)) {
                fma += n.to_i64().map_err(|e| format!("{e:?}"))? as f64;
            }
        }
    }
    Ok(2.0 * fma)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clocks_move_with_work() {
        let (t, p) = (thread_cpu(), process_cpu());
        let mut x = 1u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i);
        }
        std::hint::black_box(x);
        let (dt, dp) = (thread_cpu() - t, process_cpu() - p);
        assert!(dt > 0.0 && dp >= dt * 0.9, "thread {dt}, process {dp}");
        assert!(children_cpu() >= 0.0);
    }

    #[test]
    fn the_networks_flops_match_their_graphs() {
        // Counted independently from the ONNX graphs (docs/quality.md): 3.861 GFLOP per aisfx
        // block, 2.914 per musicnn patch.
        let a = flops_per_item(
            crate::aisfx::float32_model().unwrap(),
            &crate::aisfx::SIGNATURE,
        )
        .unwrap();
        assert!((a / 1e9 - 3.861).abs() < 0.01, "aisfx {a}");
        let m = flops_per_item(crate::musicnn::BUNDLED_MODEL, &crate::musicnn::SIGNATURE).unwrap();
        assert!((m / 1e9 - 2.914).abs() < 0.03, "musicnn {m}");
    }
}
