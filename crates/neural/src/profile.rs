//! Where an ingest's CPU time goes: CPU clocks, the work each network does per item (FLOPs
//! counted from its graph), and the core's peak f32 FMA rate measured on the spot, so
//! `songrec bench ingest` can say how far each network runs from this machine's limit.
//!
//! Nothing here changes a vector; it only measures.

use std::collections::HashMap;

use crate::onnx::NodeProto;

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

/// FLOPs of one item through an ONNX network at batch 1, counted from its graph by songrec's
/// reader ([`graph_flops`]: the convolutions and matrix products). With the `tract` feature,
/// tract's count instead.
#[cfg(not(feature = "tract"))]
pub(crate) fn flops_per_item(
    model: &[u8],
    sig: &crate::signature::Signature,
) -> Result<f64, String> {
    graph_flops(model, sig.input, &sig.shape(1))
}

/// FLOPs of one item through an ONNX network at batch 1, counted by tract on the decluttered
/// graph: 2 per multiply-accumulate of every convolution and matrix product, plus tract's small
/// count of the element-wise multiplies, reductions and activations. Without the `tract`
/// feature, [`graph_flops`] counts the convolutions and products alone: 0.04 % less on
/// musicnn, under 0.02 % on aisfx.
#[cfg(feature = "tract")]
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

/// FLOPs of one run of an ONNX graph whose input `input` has shape `shape`: 2 per
/// multiply-accumulate of its convolutions (`Conv`, `QLinearConv`) and matrix products
/// (`MatMul`, `Gemm`), with every value's shape worked out from the input's through the graph
/// (songrec's own reader, [`crate::onnx`]). `Err` names an operator it does not know the shapes
/// of, or shapes that do not fit.
#[cfg_attr(all(feature = "tract", not(test)), allow(dead_code))]
pub(crate) fn graph_flops(model: &[u8], input: &str, shape: &[usize]) -> Result<f64, String> {
    use crate::onnx::data_type;
    let proto = crate::onnx::read(model)?;
    let g = proto.graph.as_ref().ok_or("no graph")?;
    let mut vals: HashMap<&str, Val> = HashMap::new();
    for t in &g.initializer {
        let shape = t.shape()?;
        // Small integer tensors are kept: they give Reshape its shape, Unsqueeze its axes.
        let small = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) <= Some(64);
        let ints = match t.data_type {
            data_type::INT64 if small => t.decode::<i64>().ok().map(|(_, v)| v),
            data_type::INT32 if small => t
                .decode::<i32>()
                .ok()
                .map(|(_, v)| v.into_iter().map(i64::from).collect()),
            _ => None,
        };
        vals.insert(&t.name, Val { shape, ints });
    }
    vals.insert(
        input,
        Val {
            shape: shape.to_vec(),
            ints: None,
        },
    );
    let mut macs = 0f64;
    for n in &g.node {
        let (out, m) =
            infer(n, &vals).map_err(|e| format!("node {} ({}): {e}", n.name, n.op_type))?;
        macs += m;
        for name in &n.output {
            vals.insert(name, out.clone());
        }
    }
    Ok(2.0 * macs)
}

/// A value's shape and, for a small integer constant, its values.
#[derive(Clone, Debug, Default)]
struct Val {
    shape: Vec<usize>,
    ints: Option<Vec<i64>>,
}

impl Val {
    fn of(shape: Vec<usize>) -> Self {
        Val { shape, ints: None }
    }
}

fn arg<'v>(n: &NodeProto, vals: &'v HashMap<&str, Val>, i: usize) -> Result<&'v Val, String> {
    let name = n
        .input
        .get(i)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| format!("no input {i}"))?;
    vals.get(name.as_str())
        .ok_or_else(|| format!("input {name} is not known yet"))
}

/// The integer list of attribute `name`, else of constant input `i` (the later opsets' form).
fn ints_of(n: &NodeProto, vals: &HashMap<&str, Val>, name: &str, i: usize) -> Option<Vec<i64>> {
    n.attr(name)
        .map(|a| a.ints.clone())
        .or_else(|| arg(n, vals, i).ok().and_then(|v| v.ints.clone()))
}

fn int_attr(n: &NodeProto, name: &str, default: i64) -> i64 {
    n.attr(name).map_or(default, |a| a.i)
}

/// `a` as an axis of a `rank`-dimensional value (negative from the end).
fn axis(a: i64, rank: usize) -> Result<usize, String> {
    let r = rank as i64;
    let a = if a < 0 { a + r } else { a };
    if (0..r).contains(&a) {
        Ok(a as usize)
    } else {
        Err(format!("axis {a} of a rank-{rank} value"))
    }
}

fn product(dims: &[usize]) -> Result<usize, String> {
    dims.iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| format!("shape {dims:?} overflows"))
}

/// numpy broadcasting of `shapes`.
fn broadcast<'a>(shapes: impl IntoIterator<Item = &'a [usize]>) -> Result<Vec<usize>, String> {
    let mut out: Vec<usize> = Vec::new();
    for s in shapes {
        if s.len() > out.len() {
            let mut grown = vec![1; s.len() - out.len()];
            grown.extend_from_slice(&out);
            out = grown;
        }
        let off = out.len() - s.len();
        for (o, &d) in out[off..].iter_mut().zip(s) {
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                return Err(format!("shapes {s:?} and {out:?} do not broadcast"));
            }
        }
    }
    Ok(out)
}

/// Output spatial sizes of a convolution or pooling over `input` with `kernel` (strides, pads,
/// dilations, auto_pad and ceil_mode from the node).
fn spatial(n: &NodeProto, input: &[usize], kernel: &[usize]) -> Result<Vec<usize>, String> {
    let r = kernel.len();
    if input.len() != r {
        return Err(format!("input {input:?} for a kernel {kernel:?}"));
    }
    let list = |name: &str, default: i64, len: usize| -> Result<Vec<usize>, String> {
        let v = n
            .attr(name)
            .map_or_else(|| vec![default; len], |a| a.ints.clone());
        if v.len() != len {
            return Err(format!("{name} {v:?}, expected {len} values"));
        }
        v.iter()
            .map(|&x| usize::try_from(x).map_err(|_| format!("{name} {v:?}")))
            .collect()
    };
    let strides = list("strides", 1, r)?;
    let dilations = list("dilations", 1, r)?;
    let auto_pad = n.attr("auto_pad").map_or(&b"NOTSET"[..], |a| &a.s[..]);
    let ceil = int_attr(n, "ceil_mode", 0) != 0;
    let pads = match auto_pad {
        b"NOTSET" => list("pads", 0, 2 * r)?,
        b"VALID" => vec![0; 2 * r],
        b"SAME_UPPER" | b"SAME_LOWER" => {
            return input
                .iter()
                .zip(&strides)
                .map(|(&i, &s)| {
                    i.checked_next_multiple_of(s)
                        .map(|m| m / s)
                        .ok_or_else(|| format!("stride {s}"))
                })
                .collect();
        }
        other => return Err(format!("auto_pad {}", String::from_utf8_lossy(other))),
    };
    (0..r)
        .map(|d| {
            let s = strides[d];
            let span = kernel[d]
                .checked_sub(1)
                .and_then(|k| k.checked_mul(dilations[d]))
                .map(|k| k + 1)
                .ok_or_else(|| format!("kernel {kernel:?}"))?;
            let padded = input[d] + pads[d] + pads[d + r];
            let room = padded
                .checked_sub(span)
                .filter(|_| s > 0)
                .ok_or_else(|| format!("kernel {kernel:?} over {input:?}, strides {strides:?}"))?;
            Ok(if ceil { room.div_ceil(s) } else { room / s } + 1)
        })
        .collect()
}

/// A node's output (every output gets the first one's shape) and its multiply-accumulates.
fn infer(n: &NodeProto, vals: &HashMap<&str, Val>) -> Result<(Val, f64), String> {
    let x = |i| arg(n, vals, i);
    let shape = |i| x(i).map(|v| v.shape.clone());
    Ok(match n.op_type.as_str() {
        "Conv" | "QLinearConv" => {
            let (xs, ws) = if n.op_type == "Conv" {
                (shape(0)?, shape(1)?)
            } else {
                (shape(0)?, shape(3)?)
            };
            if xs.len() < 3 || ws.len() != xs.len() {
                return Err(format!("input {xs:?}, weights {ws:?}"));
            }
            let group = usize::try_from(int_attr(n, "group", 1)).map_err(|e| e.to_string())?;
            if group == 0 || xs[1] != ws[1] * group {
                return Err(format!("input {xs:?}, weights {ws:?}, group {group}"));
            }
            let out = spatial(n, &xs[2..], &ws[2..])?;
            let macs = [xs[0], ws[0], product(&out)?, ws[1], product(&ws[2..])?]
                .iter()
                .map(|&d| d as f64)
                .product();
            let mut o = vec![xs[0], ws[0]];
            o.extend(out);
            (Val::of(o), macs)
        }
        "MatMul" => {
            let (mut a, mut b) = (shape(0)?, shape(1)?);
            let (va, vb) = (a.len() == 1, b.len() == 1);
            if va {
                a.insert(0, 1);
            }
            if vb {
                b.push(1);
            }
            if a.len() < 2 || b.len() < 2 || a[a.len() - 1] != b[b.len() - 2] {
                return Err(format!("shapes {a:?} and {b:?}"));
            }
            let (m, k, nn) = (a[a.len() - 2], a[a.len() - 1], b[b.len() - 1]);
            let mut o = broadcast([&a[..a.len() - 2], &b[..b.len() - 2]])?;
            let macs = product(&o)? as f64 * m as f64 * k as f64 * nn as f64;
            if !va {
                o.push(m);
            }
            if !vb {
                o.push(nn);
            }
            (Val::of(o), macs)
        }
        "Gemm" => {
            let (a, b) = (shape(0)?, shape(1)?);
            if a.len() != 2 || b.len() != 2 {
                return Err(format!("shapes {a:?} and {b:?}"));
            }
            let (m, k) = if int_attr(n, "transA", 0) != 0 {
                (a[1], a[0])
            } else {
                (a[0], a[1])
            };
            let (k2, nn) = if int_attr(n, "transB", 0) != 0 {
                (b[1], b[0])
            } else {
                (b[0], b[1])
            };
            if k != k2 {
                return Err(format!("shapes {a:?} and {b:?}"));
            }
            (Val::of(vec![m, nn]), m as f64 * k as f64 * nn as f64)
        }
        "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Max" | "Min" | "Sum" | "Mean" | "PRelu" => {
            let shapes = (0..n.input.len())
                .map(shape)
                .collect::<Result<Vec<_>, _>>()?;
            (Val::of(broadcast(shapes.iter().map(Vec::as_slice))?), 0.0)
        }
        "Relu"
        | "LeakyRelu"
        | "Sigmoid"
        | "Tanh"
        | "Log"
        | "Exp"
        | "Sqrt"
        | "Abs"
        | "Neg"
        | "Reciprocal"
        | "Erf"
        | "Softplus"
        | "Softmax"
        | "LogSoftmax"
        | "Clip"
        | "Dropout"
        | "BatchNormalization"
        | "InstanceNormalization"
        | "LRN"
        | "QuantizeLinear"
        | "DequantizeLinear"
        | "Cast"
        | "Identity"
        | "Floor"
        | "Ceil"
        | "Round" => {
            let v = x(0)?;
            let keep = matches!(n.op_type.as_str(), "Identity" | "Cast");
            (
                Val {
                    shape: v.shape.clone(),
                    ints: if keep { v.ints.clone() } else { None },
                },
                0.0,
            )
        }
        "MaxPool" | "AveragePool" | "LpPool" => {
            let xs = shape(0)?;
            let kernel = n
                .attr("kernel_shape")
                .ok_or("no kernel_shape")?
                .ints
                .iter()
                .map(|&k| usize::try_from(k).map_err(|_| format!("kernel {k}")))
                .collect::<Result<Vec<_>, _>>()?;
            if xs.len() < 3 {
                return Err(format!("input {xs:?}"));
            }
            let mut o = xs[..2].to_vec();
            o.extend(spatial(n, &xs[2..], &kernel)?);
            (Val::of(o), 0.0)
        }
        "GlobalAveragePool" | "GlobalMaxPool" => {
            let xs = shape(0)?;
            let o = xs
                .iter()
                .enumerate()
                .map(|(i, &d)| if i < 2 { d } else { 1 })
                .collect();
            (Val::of(o), 0.0)
        }
        "ReduceMean" | "ReduceMax" | "ReduceMin" | "ReduceSum" | "ReduceProd" | "ReduceL2" => {
            let xs = shape(0)?;
            let axes = ints_of(n, vals, "axes", 1).unwrap_or_default();
            let keep = int_attr(n, "keepdims", 1) != 0;
            let axes: Vec<usize> = if axes.is_empty() {
                if int_attr(n, "noop_with_empty_axes", 0) != 0 {
                    return Ok((Val::of(xs), 0.0));
                }
                (0..xs.len()).collect()
            } else {
                axes.iter()
                    .map(|&a| axis(a, xs.len()))
                    .collect::<Result<_, _>>()?
            };
            let o = xs
                .iter()
                .enumerate()
                .filter_map(|(i, &d)| match (axes.contains(&i), keep) {
                    (false, _) => Some(d),
                    (true, true) => Some(1),
                    (true, false) => None,
                })
                .collect();
            (Val::of(o), 0.0)
        }
        "Reshape" => {
            let v = x(0)?;
            let target = x(1)?.ints.clone().ok_or("the shape is not a constant")?;
            let allow_zero = int_attr(n, "allowzero", 0) != 0;
            let mut o = Vec::with_capacity(target.len());
            let mut infer_at = None;
            for (i, &t) in target.iter().enumerate() {
                match t {
                    -1 if infer_at.is_none() => {
                        infer_at = Some(i);
                        o.push(1);
                    }
                    0 if !allow_zero => {
                        o.push(*v.shape.get(i).ok_or_else(|| format!("shape {target:?}"))?)
                    }
                    t if t >= 0 => o.push(t as usize),
                    _ => return Err(format!("shape {target:?}")),
                }
            }
            let total = product(&v.shape)?;
            if let Some(i) = infer_at {
                let known = product(&o)?;
                if known == 0 || total % known != 0 {
                    return Err(format!("{:?} into {target:?}", v.shape));
                }
                o[i] = total / known;
            }
            if product(&o)? != total {
                return Err(format!("{:?} into {target:?}", v.shape));
            }
            (
                Val {
                    shape: o,
                    ints: v.ints.clone(),
                },
                0.0,
            )
        }
        "Unsqueeze" | "Squeeze" => {
            let v = x(0)?;
            let axes = ints_of(n, vals, "axes", 1).unwrap_or_default();
            let o = if n.op_type == "Unsqueeze" {
                let rank = v.shape.len() + axes.len();
                let mut at = axes
                    .iter()
                    .map(|&a| axis(a, rank))
                    .collect::<Result<Vec<_>, _>>()?;
                at.sort_unstable();
                let mut dims = v.shape.iter();
                (0..rank)
                    .map(|i| {
                        if at.contains(&i) {
                            Some(1)
                        } else {
                            dims.next().copied()
                        }
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| format!("axes {axes:?}"))?
            } else if axes.is_empty() {
                v.shape.iter().copied().filter(|&d| d != 1).collect()
            } else {
                let at = axes
                    .iter()
                    .map(|&a| axis(a, v.shape.len()))
                    .collect::<Result<Vec<_>, _>>()?;
                v.shape
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !at.contains(i))
                    .map(|(_, &d)| d)
                    .collect()
            };
            (
                Val {
                    shape: o,
                    ints: v.ints.clone(),
                },
                0.0,
            )
        }
        "Transpose" => {
            let xs = shape(0)?;
            let perm = n
                .attr("perm")
                .map_or_else(|| (0..xs.len() as i64).rev().collect(), |a| a.ints.clone());
            let mut seen = vec![false; xs.len()];
            let o = perm
                .iter()
                .map(|&p| {
                    let p = usize::try_from(p)
                        .ok()
                        .filter(|&p| p < xs.len() && !seen[p]);
                    p.map(|p| {
                        seen[p] = true;
                        xs[p]
                    })
                })
                .collect::<Option<Vec<_>>>()
                .filter(|o| o.len() == xs.len())
                .ok_or_else(|| format!("perm {perm:?} of {xs:?}"))?;
            (Val::of(o), 0.0)
        }
        "Concat" => {
            let parts = (0..n.input.len()).map(x).collect::<Result<Vec<_>, _>>()?;
            let first = parts.first().ok_or("no inputs")?;
            let ax = axis(int_attr(n, "axis", 0), first.shape.len())?;
            let mut o = first.shape.clone();
            o[ax] = 0;
            for p in &parts {
                let same = p.shape.len() == o.len()
                    && p.shape
                        .iter()
                        .zip(&o)
                        .enumerate()
                        .all(|(i, (a, b))| i == ax || a == b);
                if !same {
                    return Err(format!(
                        "{:?} and {:?} along axis {ax}",
                        first.shape, p.shape
                    ));
                }
                o[ax] += p.shape[ax];
            }
            let ints = parts
                .iter()
                .map(|p| p.ints.clone())
                .collect::<Option<Vec<_>>>()
                .filter(|_| o.len() == 1)
                .map(|v| v.concat());
            (Val { shape: o, ints }, 0.0)
        }
        "Flatten" => {
            let xs = shape(0)?;
            let a = int_attr(n, "axis", 1);
            let a = if a == xs.len() as i64 {
                xs.len()
            } else {
                axis(a, xs.len())?
            };
            (Val::of(vec![product(&xs[..a])?, product(&xs[a..])?]), 0.0)
        }
        "Shape" => {
            let xs = shape(0)?;
            (
                Val {
                    shape: vec![xs.len()],
                    ints: Some(xs.iter().map(|&d| d as i64).collect()),
                },
                0.0,
            )
        }
        "Constant" => {
            let t = n
                .attr("value")
                .and_then(|a| a.t.as_ref())
                .ok_or("no tensor value")?;
            let ints = t.decode::<i64>().ok().map(|(_, v)| v);
            (
                Val {
                    shape: t.shape()?,
                    ints,
                },
                0.0,
            )
        }
        other => return Err(format!("operator {other} is not known to the FLOP count")),
    })
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

    /// The bundled graphs, each with its signature.
    fn graphs() -> Vec<(
        &'static str,
        &'static [u8],
        &'static crate::signature::Signature,
    )> {
        use crate::{aisfx, musicnn};
        vec![
            ("msd", musicnn::BUNDLED_MODEL, &musicnn::SIGNATURE),
            ("mtt", musicnn::BUNDLED_MTT_MODEL, &musicnn::SIGNATURE),
            ("aisfx", aisfx::float32_model().unwrap(), &aisfx::SIGNATURE),
            ("aisfx int8", aisfx::INT8_MODEL, &aisfx::SIGNATURE),
            ("texture", aisfx::TEXTURE_MODEL, &aisfx::TEXTURE_SIGNATURE),
        ]
    }

    #[test]
    fn the_own_count_reads_the_shapes_through_the_graphs() {
        let count = |(_, model, sig): (&str, &[u8], &crate::signature::Signature)| {
            graph_flops(model, sig.input, &sig.shape(1)).unwrap() / 1e9
        };
        let g = graphs();
        // The figures of docs/quality.md, and the int8 graphs the float32 one's convolutions.
        let (msd, mtt, aisfx) = (count(g[0]), count(g[1]), count(g[2]));
        assert!(
            (msd - 2.914).abs() < 0.03 && msd == mtt,
            "musicnn {msd} {mtt}"
        );
        assert!((aisfx - 3.861).abs() < 0.01, "aisfx {aisfx}");
        assert_eq!(count(g[3]), aisfx);
        // The texture graph stops before block 4's second convolution.
        assert!(count(g[4]) < aisfx * 0.9, "{}", count(g[4]));
        // Twice the batch, twice the work.
        let (_, model, sig) = g[0];
        let two = graph_flops(model, sig.input, &sig.shape(2)).unwrap() / 1e9;
        assert!((two - 2.0 * msd).abs() < 1e-9, "{two}");
    }

    #[test]
    fn the_own_count_refuses_what_it_cannot_read() {
        let (_, model, sig) = graphs()[0];
        assert!(graph_flops(b"not a model", sig.input, &sig.shape(1)).is_err());
        assert!(graph_flops(&model[..model.len() / 2], sig.input, &sig.shape(1)).is_err());
        let e = graph_flops(model, "other", &sig.shape(1)).unwrap_err();
        assert!(e.contains("is not known yet"), "{e}");
        // A wrong input shape is an error, not a panic.
        for shape in [vec![1], vec![1, 7], vec![usize::MAX, 48_128]] {
            assert!(graph_flops(model, sig.input, &shape).is_err(), "{shape:?}");
        }
    }

    /// The own count (convolutions and products) is tract's without its small count of the
    /// element-wise work: 0.04 % lower on musicnn, 0.004 % on aisfx, 0.014 % on the texture.
    #[cfg(feature = "tract")]
    #[test]
    fn the_own_count_is_tracts_within_a_tenth_of_a_percent() {
        for (name, model, sig) in graphs() {
            let ours = graph_flops(model, sig.input, &sig.shape(1)).unwrap();
            let theirs = flops_per_item(model, sig).unwrap();
            eprintln!("{name}: {ours:.0} FLOPs, tract {theirs:.0}");
            assert!(
                ours <= theirs && ours > theirs * 0.999,
                "{name}: {ours} vs {theirs}"
            );
        }
    }
}
