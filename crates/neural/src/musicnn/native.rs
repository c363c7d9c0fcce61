//! musicnn on songrec's own kernels: the bundled ONNX graph's weights, read once, run by hand
//! with [`crate::kernels::matmul`] (the graph is fixed: a log-mel front end, five
//! convolutions over the spectrogram each max-pooled over frequency, three 1-d convolutions with
//! residuals, mean and max over time, two dense layers).
//!
//! The timbral convolutions (most of the FLOPs) are one im2col + GEMM per chunk of frames; the
//! STFT, the temporal convolutions (k × 1) and the mid-end ones (7 × all channels) need no
//! im2col, their inputs already being Toeplitz views ([`View`]).
//!
//! Numerically the same network: outputs within 1e-4 of ONNX Runtime's on the reference signal
//! (the tolerance tract is held to), float32 throughout, deterministic for a given build and
//! CPU kind (the GEMM's summation order depends on the SIMD width it picks).
//!
//! **In int8** (`load(…, true)`, `songrec-mix@4` on): the five front-end convolutions, nine
//! tenths of the FLOPs, multiply 8-bit integers. Each patch's spectrogram is quantized to `u8`
//! as ONNX's `DynamicQuantizeLinear` does (its range including 0, ties to even), each filter's
//! weights to `i8` symmetrically with its own scale (at load), and the products are summed
//! exactly in `i32` ([`PackedI8`], on the [`KernelPath`]'s instructions: the same sums on
//! every path) before the max over frequency and one multiplication back to float32. The tests
//! hold them to the same integers through the float32 kernels, which add them exactly: every
//! partial sum is an integer below 2²⁴ in magnitude (at most 476 products of at most
//! 255 · 127).

use crate::graph::{Graph, transpose};
use crate::kernels::conv::{Panels, conv_max_over_freq};
use crate::kernels::int8::PackedI8;
use crate::kernels::path::KernelPath;
use crate::kernels::{Affine, View, matmul};
use crate::patches::PATCH_LEN;

use super::model::{N_TAGS, PENULTIMATE_DIM};

/// STFT hop and window (the graph's strided convolution).
const HOP: usize = 256;
const WIN: usize = 512;
/// Frames per patch and mel bands.
const FRAMES: usize = (PATCH_LEN - WIN) / HOP + 1;
const MELS: usize = 96;
/// Frames of the frequency-domain convolutions computed per GEMM (keeps im2col in cache).
const CHUNK: usize = 16;

/// One front-end branch: a `[kt × kf]` convolution over the `[FRAMES × MELS]` spectrogram,
/// max over frequency, sign, ReLU, batch norm.
struct Branch {
    /// `[kt · kf, filters]`, row-major (in int8, the quantized weights, integers).
    w: Vec<f32>,
    /// The same weights in panels for [`conv_max_over_freq`].
    panels: Panels,
    bias: Vec<f32>,
    kt: usize,
    kf: usize,
    pad_top: usize,
    sign: Vec<f32>,
    bn: Affine,
    /// The int8 form, when the network runs in int8.
    int8: Option<BranchI8>,
}

/// A front-end convolution's int8 form (see the module docs).
struct BranchI8 {
    /// The quantized weights for the int8 kernels: `[kt · run, ⌈filters / 16⌉ · 16]`, each
    /// tap's run of `run` inputs zero-padded to a multiple of 4.
    packed: PackedI8,
    /// Inputs per tap: the kernel's width rounded up to a multiple of 4 (timbral branches:
    /// runs along frequency), or 1 (temporal branches: the tap's run is the whole kernel,
    /// along time, over a transposed spectrogram).
    run: usize,
    /// Per filter: the sum of its quantized weights and its scale.
    col_sum: Vec<i32>,
    scale: Vec<f32>,
}

/// Frames padded to the int8 kernel's rows (a multiple of its 6).
const I8_ROWS: usize = FRAMES.div_ceil(6) * 6;

/// A spectrogram quantized as ONNX's `DynamicQuantizeLinear` does: `u8` values `q` standing
/// for `(q − zero) · step`.
struct QuantizedSpec {
    q: Vec<u8>,
    step: f32,
    zero: u8,
}

impl QuantizedSpec {
    /// The range is the values' (finite ones) widened to hold 0, over 255 steps; rounding is to
    /// the nearest, ties to even, then clamped to `u8`.
    fn new(x: &[f32]) -> Self {
        let (lo, hi) = x
            .iter()
            .filter(|v| v.is_finite())
            .fold((0.0f32, 0.0f32), |(l, h), &v| (l.min(v), h.max(v)));
        let step = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
        let zero = (-lo / step).round_ties_even().clamp(0.0, 255.0);
        let q = x
            .iter()
            // `as` saturates, and takes NaN to 0.
            .map(|&v| ((v / step).round_ties_even() + zero).clamp(0.0, 255.0) as u8)
            .collect();
        QuantizedSpec {
            q,
            step,
            zero: zero as u8,
        }
    }
}

impl BranchI8 {
    /// Quantizes `w` (`[kt · kf, filters]`) per filter; returns the int8 form and the
    /// quantized weights as float32 integers, in `w`'s layout.
    fn new(w: &[f32], kt: usize, kf: usize, filters: usize) -> (Self, Vec<f32>) {
        let scale: Vec<f32> = (0..filters)
            .map(|o| {
                let m = (0..kt * kf)
                    .map(|k| w[k * filters + o].abs())
                    .fold(0.0f32, f32::max);
                if m > 0.0 { m / 127.0 } else { 1.0 }
            })
            .collect();
        let wq: Vec<f32> = w
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                (v / scale[i % filters])
                    .round_ties_even()
                    .clamp(-127.0, 127.0)
            })
            .collect();
        let col_sum = (0..filters)
            .map(|o| (0..kt * kf).map(|k| wq[k * filters + o] as i32).sum())
            .collect();
        let run = if kf == 1 { 1 } else { kf.div_ceil(4) * 4 };
        let n = filters.div_ceil(16) * 16;
        // Row r is tap r / run's input r % run (past the kernel: zero).
        let packed = PackedI8::new(kt * run, n, |r, o| {
            let (tap, j) = (r / run, r % run);
            if o < filters && j < kf {
                wq[(tap * kf + j) * filters + o] as i8
            } else {
                0
            }
        });
        (
            BranchI8 {
                packed,
                run,
                col_sum,
                scale,
            },
            wq,
        )
    }
}

/// A mid-end layer: 7 frames × all channels, ReLU, batch norm.
struct Mid {
    /// `[7 · in, out]`, row-major.
    w: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    bn: Affine,
}

struct Dense {
    /// `[in, out]`, row-major.
    w: Vec<f32>,
    bias: Vec<f32>,
}

/// One musicnn network (MSD or MTT), ready to run.
pub(crate) struct NativeMusicnn {
    /// `[WIN, 512]`: the STFT convolution's filters, transposed.
    stft: Vec<f32>,
    stft_out: usize,
    /// `[512, MELS]`.
    mel: Vec<f32>,
    /// log10(x · gain + 1) · scale: the graph's three constants.
    gain: f32,
    offset: f32,
    scale: f32,
    bn0: Affine,
    branches: Vec<Branch>,
    mids: Vec<Mid>,
    bn9: Affine,
    dense: Dense,
    bn10: Affine,
    tags: Dense,
    /// Whose instructions run the int8 products (the same sums on every path).
    path: KernelPath,
}

/// The front-end branches in the graph's concatenation order: conv node, filters and kernel.
/// Branch `i` pools with `model/max_pooling2d[_i]` and normalises with
/// `model/batch_normalization_{i + 1}`.
const BRANCHES: [(&str, usize, usize, usize); 5] = [
    ("Conv__145", 204, 7, 38),
    ("Conv__134", 204, 7, 67),
    ("model/conv2d_2/BiasAdd", 51, 128, 1),
    ("model/conv2d_3/BiasAdd", 51, 64, 1),
    ("model/conv2d_4/BiasAdd", 51, 32, 1),
];
/// Channels out of the front end.
const FRONT: usize = 204 * 2 + 51 * 3;
/// Mid-end filters and the pooled width (front end and three mid-end maps, max and mean).
const MID: usize = 64;
const POOLED: usize = 2 * (FRONT + 3 * MID);

impl NativeMusicnn {
    /// Reads a musicnn graph (MSD_musicnn or MTT_musicnn as bundled), its front end in int8 on
    /// that path's kernels when `int8` is given (see the module docs), else in float32; `Err`
    /// names the first node that is not as expected (another graph runs on the runtime
    /// instead).
    pub fn load(bytes: &[u8], int8: Option<KernelPath>) -> Result<Self, String> {
        let proto = crate::graph::read(bytes)?;
        let graph = Graph::new(&proto)?;
        let (s, stft) = graph.weight("logmel/conv1d", "Conv", 1)?;
        if s.len() != 4 || s[1] != 1 || s[2] != 1 || s[3] != WIN {
            return Err(format!("logmel/conv1d: weights {s:?}"));
        }
        if graph.ints("logmel/conv1d", "strides")? != [1, HOP as i64] {
            return Err("logmel/conv1d: unexpected strides".into());
        }
        let stft_out = s[0];
        let (s, mel) = graph.weight("logmel/MatMul", "MatMul", 1)?;
        if s != [stft_out, MELS] {
            return Err(format!("logmel/MatMul: shape {s:?}"));
        }
        let mut branches = Vec::new();
        for (i, (conv, filters, kt, kf)) in BRANCHES.into_iter().enumerate() {
            let pool = match i {
                0 => "model/max_pooling2d".to_string(),
                _ => format!("model/max_pooling2d_{i}"),
            };
            let bn = format!(
                "model/batch_normalization_{}/FusedBatchNormV3/pooled",
                i + 1
            );
            let (w, bias, pad_top) = graph.conv(conv, filters, kt, kf)?;
            let (int8, w) = if int8.is_some() {
                let (q, wq) = BranchI8::new(&w, kt, kf, filters);
                (Some(q), wq)
            } else {
                (None, w)
            };
            let (_, sign) = graph.weight(&format!("{pool}/MaxPool/sign_back"), "Mul", 1)?;
            if sign.len() != filters {
                return Err(format!("{pool}: {} signs", sign.len()));
            }
            branches.push(Branch {
                panels: Panels::new(&w, kt * kf, filters),
                w,
                bias,
                kt,
                kf,
                pad_top,
                sign,
                bn: graph.batch_norm(&bn, filters)?,
                int8,
            });
        }
        let mut mids = Vec::new();
        for (i, (conv, inputs)) in [("Conv__148", FRONT), ("Conv__150", MID), ("Conv__152", MID)]
            .into_iter()
            .enumerate()
        {
            let (w, bias, pad_top) = graph.conv(conv, MID, 7, inputs)?;
            if pad_top != 3 {
                return Err(format!("{conv}: pads"));
            }
            let bn = format!("model/batch_normalization_{}/FusedBatchNormV3", 6 + i);
            mids.push(Mid {
                w,
                bias,
                inputs,
                bn: graph.batch_norm(&bn, MID)?,
            });
        }
        let bn = |i: usize, n: usize| {
            let p = format!("model/batch_normalization_{i}/batchnorm");
            graph.mul_add(&format!("{p}/mul_1"), &format!("{p}/add_1"), n)
        };
        Ok(NativeMusicnn {
            stft: transpose(&stft, stft_out, WIN),
            stft_out,
            mel,
            gain: graph.scalar("logmel/mul", "Mul")?,
            offset: graph.scalar("logmel/add", "Add")?,
            scale: graph.scalar("logmel/mul_1", "Mul")?,
            bn0: graph.batch_norm("model/batch_normalization/FusedBatchNormV3", 1)?,
            branches,
            mids,
            bn9: bn(9, POOLED)?,
            dense: Dense::load(&graph, "model/dense", POOLED, PENULTIMATE_DIM)?,
            bn10: bn(10, PENULTIMATE_DIM)?,
            tags: Dense::load(&graph, "model/dense_1", PENULTIMATE_DIM, N_TAGS)?,
            path: int8.unwrap_or_else(KernelPath::best),
        })
    }

    /// Runs one patch of [`PATCH_LEN`] samples; appends its penultimate row and its taggram
    /// row.
    pub fn run(&self, wave: &[f32], penultimate: &mut Vec<f32>, taggram: &mut Vec<f32>) {
        crate::kernels::on_path(self.path, || self.run_on_path(wave, penultimate, taggram));
    }

    /// [`Self::run`] with the path's float32 instructions in force.
    fn run_on_path(&self, wave: &[f32], penultimate: &mut Vec<f32>, taggram: &mut Vec<f32>) {
        let spec = self.log_mel(wave);
        let quantized = self.is_int8().then(|| QuantizedSpec::new(&spec));
        // Front end: [FRAMES, FRONT], time-major like the graph's concatenation.
        let mut front = vec![0.0f32; FRAMES * FRONT];
        let mut col = 0;
        for b in &self.branches {
            let filters = b.bias.len();
            let out = match (&b.int8, &quantized) {
                (Some(q), Some(spec)) => b.run_int8(self.path, q, spec),
                _ => b.run(&spec),
            };
            for t in 0..FRAMES {
                front[t * FRONT + col..t * FRONT + col + filters]
                    .copy_from_slice(&out[t * filters..(t + 1) * filters]);
            }
            col += filters;
        }
        let r1 = self.mids[0].run(&front);
        let mut add = self.mids[1].run(&r1);
        add.iter_mut().zip(&r1).for_each(|(a, b)| *a += b);
        let mut add1 = self.mids[2].run(&add);
        add1.iter_mut().zip(&add).for_each(|(a, b)| *a += b);
        // Max then mean over time of each of the 753 channels, interleaved as the graph's
        // flatten does.
        let maps: [(&[f32], usize); 4] = [(&front, FRONT), (&r1, MID), (&add, MID), (&add1, MID)];
        let mut pooled = Vec::with_capacity(POOLED);
        for (map, width) in maps {
            for c in 0..width {
                let mut max = f32::NEG_INFINITY;
                let mut sum = 0.0f32;
                for t in 0..FRAMES {
                    let x = map[t * width + c];
                    max = max.max(x);
                    sum += x;
                }
                pooled.push(max);
                pooled.push(sum / FRAMES as f32);
            }
        }
        self.bn9.apply(&mut pooled);
        let mut pen = self.dense.run(&pooled);
        pen.iter_mut().for_each(|x| *x = x.max(0.0));
        self.bn10.apply(&mut pen);
        let tags = self.tags.run(&pen);
        penultimate.extend_from_slice(&pen);
        taggram.extend(tags.iter().map(|x| 1.0 / (1.0 + (-x).exp())));
    }

    /// Whose instructions run the int8 products.
    pub fn path(&self) -> KernelPath {
        self.path
    }

    /// Whether the front end runs in int8.
    pub fn is_int8(&self) -> bool {
        self.branches.iter().any(|b| b.int8.is_some())
    }

    /// `[FRAMES, MELS]`: the batch-normalised log10 mel power spectrogram.
    fn log_mel(&self, wave: &[f32]) -> Vec<f32> {
        let frames = View {
            data: wave,
            rs: HOP,
            cs: 1,
        };
        let mut spec = vec![0.0f32; FRAMES * self.stft_out];
        matmul(
            FRAMES,
            self.stft_out,
            WIN,
            frames,
            View::rows(&self.stft, self.stft_out),
            &mut spec,
            false,
        );
        spec.iter_mut().for_each(|x| *x *= *x);
        let mut mel = vec![0.0f32; FRAMES * MELS];
        matmul(
            FRAMES,
            MELS,
            self.stft_out,
            View::rows(&spec, self.stft_out),
            View::rows(&self.mel, MELS),
            &mut mel,
            false,
        );
        let (m, a) = (self.bn0.mul[0], self.bn0.add[0]);
        for x in &mut mel {
            *x = (*x * self.gain + self.offset).ln() * self.scale * m + a;
        }
        mel
    }
}

impl Branch {
    /// `[FRAMES, filters]`.
    fn run(&self, spec: &[f32]) -> Vec<f32> {
        let mut out = self.conv_max(&self.padded(spec, 0.0));
        self.finish(&mut out);
        out
    }

    /// [`run`](Self::run) in int8 on the quantized spectrogram, on `path`'s kernels.
    fn run_int8(&self, path: KernelPath, q: &BranchI8, spec: &QuantizedSpec) -> Vec<f32> {
        let filters = self.bias.len();
        let sums = self.conv_max_int8(path, q, spec);
        let zero = i32::from(spec.zero);
        let mut out = Vec::with_capacity(sums.len());
        for row in sums.chunks_exact(filters) {
            out.extend(
                row.iter()
                    .zip(&q.col_sum)
                    .zip(&q.scale)
                    .map(|((&s, &c), &w)| (s - zero * c) as f32 * spec.step * w),
            );
        }
        self.finish(&mut out);
        out
    }

    /// The spectrogram (or its quantized values) padded over time with `pad`.
    fn padded<T: Copy>(&self, spec: &[T], pad: T) -> Vec<T> {
        let mut xp = vec![pad; (FRAMES + self.kt - 1) * MELS];
        xp[self.pad_top * MELS..(self.pad_top + FRAMES) * MELS].copy_from_slice(spec);
        xp
    }

    /// `[FRAMES, filters]`: the convolution of the padded `xp`, max over frequency.
    fn conv_max(&self, xp: &[f32]) -> Vec<f32> {
        let mut out = vec![f32::NEG_INFINITY; FRAMES * self.bias.len()];
        if !conv_max_over_freq(xp, MELS, self.kt, self.kf, FRAMES, &self.panels, &mut out) {
            self.conv_gemm(xp, &mut out);
        }
        out
    }

    /// [`conv_max_int8`](Self::conv_max_int8)'s sums through the float32 kernels: the same
    /// integers, exactly (module docs); the tests' reference.
    #[cfg(test)]
    fn conv_max_exact_f32(&self, spec: &QuantizedSpec) -> Vec<i32> {
        let x: Vec<f32> = spec.q.iter().map(|&v| f32::from(v)).collect();
        let out = self.conv_max(&self.padded(&x, f32::from(spec.zero)));
        out.iter().map(|&v| v as i32).collect()
    }

    /// `[FRAMES, filters]`: the exact integer sums of the quantized convolution, max over
    /// frequency, on `path`'s int8 kernels: per frequency position one product whose rows are
    /// the frames.
    fn conv_max_int8(&self, path: KernelPath, q: &BranchI8, spec: &QuantizedSpec) -> Vec<i32> {
        let packed = &q.packed;
        let filters = self.bias.len();
        let n = packed.n;
        let xp = self.padded(&spec.q, spec.zero);
        let rows = FRAMES + self.kt - 1;
        // Every position's sums are folded into `max` by the kernel itself.
        let mut max = vec![i32::MIN; I8_ROWS * n];
        if self.kf == 1 {
            // Temporal: frequency-major, so each frame's taps are one run along time.
            let len = I8_ROWS + self.kt;
            let mut xt = vec![spec.zero; MELS * len];
            for t in 0..rows {
                for f in 0..MELS {
                    xt[f * len + t] = xp[t * MELS + f];
                }
            }
            for f in 0..MELS {
                packed.matmul_max(
                    path,
                    I8_ROWS,
                    &xt[f * len..(f + 1) * len],
                    1,
                    &[0],
                    &mut max,
                );
            }
        } else {
            // Timbral: frame t's tap dt is the run of row t + dt that starts at the frequency
            // position; each position moves every tap one value on.
            let mut a = xp;
            a.resize((I8_ROWS + self.kt) * MELS + q.run, spec.zero);
            let mut taps: Vec<usize> = (0..self.kt).map(|dt| dt * MELS).collect();
            for _ in 0..=MELS - self.kf {
                packed.matmul_max(path, I8_ROWS, &a, MELS, &taps, &mut max);
                taps.iter_mut().for_each(|t| *t += 1);
            }
        }
        // `[FRAMES, filters]` out of `[I8_ROWS, n]`.
        max.chunks_exact(n)
            .take(FRAMES)
            .flat_map(|row| &row[..filters])
            .copied()
            .collect()
    }

    /// Bias, sign, ReLU and batch norm on the pooled convolution.
    fn finish(&self, out: &mut [f32]) {
        let filters = self.bias.len();
        for row in out.chunks_exact_mut(filters) {
            for ((x, b), s) in row.iter_mut().zip(&self.bias).zip(&self.sign) {
                *x = ((*x + b) * s).max(0.0);
            }
            self.bn.apply(row);
        }
    }

    /// The convolution max-pooled over frequency as im2col (or a strided view) + GEMM, in
    /// chunks of frames: what [`conv_max_over_freq`] computes where the CPU lacks AVX-512.
    fn conv_gemm(&self, xp: &[f32], out: &mut [f32]) {
        let filters = self.bias.len();
        let k = self.kt * self.kf;
        let fo = MELS - self.kf + 1;
        let mut cols = Vec::new();
        let mut c = vec![0.0f32; CHUNK * fo * filters];
        let w = View::rows(&self.w, filters);
        for t0 in (0..FRAMES).step_by(CHUNK) {
            let tn = CHUNK.min(FRAMES - t0);
            let rows = tn * fo;
            if self.kf == 1 {
                // Row (t, f) and tap j read xp[(t + j) · MELS + f]: a strided view.
                let a = View {
                    data: &xp[t0 * MELS..],
                    rs: 1,
                    cs: MELS,
                };
                matmul(rows, filters, k, a, w, &mut c, false);
            } else {
                cols.clear();
                for t in t0..t0 + tn {
                    for f in 0..fo {
                        for dt in 0..self.kt {
                            let at = (t + dt) * MELS + f;
                            cols.extend_from_slice(&xp[at..at + self.kf]);
                        }
                    }
                }
                matmul(rows, filters, k, View::rows(&cols, k), w, &mut c, false);
            }
            for dt in 0..tn {
                let dst = &mut out[(t0 + dt) * filters..(t0 + dt + 1) * filters];
                for f in 0..fo {
                    let row = &c[(dt * fo + f) * filters..(dt * fo + f + 1) * filters];
                    dst.iter_mut().zip(row).for_each(|(m, x)| *m = m.max(*x));
                }
            }
        }
    }
}

impl Mid {
    /// `[FRAMES, inputs]` → `[FRAMES, MID]`.
    fn run(&self, x: &[f32]) -> Vec<f32> {
        let n = self.inputs;
        let mut xp = vec![0.0f32; (FRAMES + 6) * n];
        xp[3 * n..(3 + FRAMES) * n].copy_from_slice(x);
        // Row t and tap (dt, j) read xp[(t + dt) · n + j]: rows of stride n, 7 · n columns.
        let mut out = vec![0.0f32; FRAMES * MID];
        matmul(
            FRAMES,
            MID,
            7 * n,
            View {
                data: &xp,
                rs: n,
                cs: 1,
            },
            View::rows(&self.w, MID),
            &mut out,
            false,
        );
        for row in out.chunks_exact_mut(MID) {
            for (x, b) in row.iter_mut().zip(&self.bias) {
                *x = (*x + b).max(0.0);
            }
            self.bn.apply(row);
        }
        out
    }
}

impl Dense {
    fn load(graph: &Graph, name: &str, inputs: usize, outputs: usize) -> Result<Self, String> {
        let (w, bias) = graph.dense(
            &format!("{name}/MatMul"),
            &format!("{name}/BiasAdd"),
            inputs,
            outputs,
        )?;
        Ok(Dense { w, bias })
    }

    fn run(&self, x: &[f32]) -> Vec<f32> {
        let out = self.bias.len();
        let mut y = self.bias.clone();
        matmul(
            1,
            out,
            x.len(),
            View::rows(x, x.len()),
            View::rows(&self.w, out),
            &mut y,
            true,
        );
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_bundled_graphs_load() {
        for bytes in [super::super::BUNDLED_MODEL, super::super::BUNDLED_MTT_MODEL] {
            let n = NativeMusicnn::load(bytes, None).unwrap();
            assert_eq!(n.branches.len(), 5);
            assert_eq!(n.bn9.mul.len(), POOLED);
        }
    }

    /// Rows of `key` in an expected.json, flattened.
    fn rows(json: &str, key: &str) -> Vec<f32> {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        crate::rows::json_floats(&v[key]).unwrap()
    }

    #[test]
    fn reproduces_onnx_runtime_on_the_reference_signal() {
        let signal = super::super::reference_signal();
        for (bytes, json) in [
            (super::super::BUNDLED_MODEL, super::super::EXPECTED_JSON),
            (
                super::super::BUNDLED_MTT_MODEL,
                super::super::MTT_EXPECTED_JSON,
            ),
        ] {
            let n = NativeMusicnn::load(bytes, None).unwrap();
            let (mut pen, mut tags) = (Vec::new(), Vec::new());
            for patch in signal.chunks_exact(PATCH_LEN) {
                n.run(patch, &mut pen, &mut tags);
            }
            let diff = |a: &[f32], b: &[f32]| {
                assert_eq!(a.len(), b.len());
                a.iter()
                    .zip(b)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0f32, f32::max)
            };
            let dp = diff(&pen, &rows(json, "penultimate"));
            let dt = diff(&tags, &rows(json, "taggram"));
            assert!(dp < 1e-4 && dt < 1e-4, "penultimate {dp:e}, taggram {dt:e}");
        }
    }

    #[test]
    fn the_direct_convolution_is_the_gemms_to_the_bit() {
        // The spectrogram of a real patch and of noise with zeros, through every branch of
        // both networks: the direct kernel (where the CPU has AVX-512) against im2col + GEMM.
        let mut covered = 0;
        for bytes in [super::super::BUNDLED_MODEL, super::super::BUNDLED_MTT_MODEL] {
            let n = NativeMusicnn::load(bytes, None).unwrap();
            for input in &spectrograms(&n) {
                for b in &n.branches {
                    let filters = b.bias.len();
                    let mut xp = vec![0.0f32; (FRAMES + b.kt - 1) * MELS];
                    xp[b.pad_top * MELS..(b.pad_top + FRAMES) * MELS].copy_from_slice(input);
                    let mut direct = vec![f32::NEG_INFINITY; FRAMES * filters];
                    if !conv_max_over_freq(&xp, MELS, b.kt, b.kf, FRAMES, &b.panels, &mut direct) {
                        continue;
                    }
                    covered += 1;
                    let mut gemm = vec![f32::NEG_INFINITY; FRAMES * filters];
                    b.conv_gemm(&xp, &mut gemm);
                    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert!(bits(&direct) == bits(&gemm), "{} × {}", b.kt, b.kf);
                }
            }
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            assert!(covered > 0, "the direct kernel covered no branch");
        }
    }

    /// The spectrogram of a real patch (the reference signal) and of noise with zeros.
    fn spectrograms(n: &NativeMusicnn) -> [Vec<f32>; 2] {
        let signal = super::super::reference_signal();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<f32> = (0..FRAMES * MELS)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                if i % 53 == 0 {
                    0.0
                } else {
                    (state >> 40) as f32 / (1u64 << 22) as f32 - 2.0
                }
            })
            .collect();
        [n.log_mel(&signal[..PATCH_LEN]), noise]
    }

    #[test]
    fn int8_sums_are_the_same_on_every_path_and_through_float32() {
        let mut covered = 0;
        for bytes in [super::super::BUNDLED_MODEL, super::super::BUNDLED_MTT_MODEL] {
            let n = NativeMusicnn::load(bytes, Some(KernelPath::Portable)).unwrap();
            assert!(n.is_int8());
            for input in spectrograms(&n) {
                let spec = QuantizedSpec::new(&input);
                // Both ends of the range are used: the quantization is not degenerate.
                assert_eq!(spec.q.iter().min(), Some(&0));
                assert_eq!(spec.q.iter().max(), Some(&255));
                covered += assert_sums_agree(&n, &spec);
            }
        }
        let paths = KernelPath::here().iter().filter(|p| p.is_own()).count();
        assert_eq!(
            covered,
            2 * 2 * 5 * paths,
            "every branch of both networks on both inputs, on every path"
        );
    }

    /// Every branch's exact sums (through float32) against each int8 path's this CPU runs, and
    /// not all alike; returns the (branch, path) pairs compared.
    fn assert_sums_agree(n: &NativeMusicnn, spec: &QuantizedSpec) -> usize {
        let mut covered = 0;
        for b in &n.branches {
            let q = b.int8.as_ref().unwrap();
            let exact = b.conv_max_exact_f32(spec);
            assert!(exact.iter().any(|&v| v != exact[0]), "{} × {}", b.kt, b.kf);
            for path in KernelPath::here().into_iter().filter(|p| p.is_own()) {
                covered += 1;
                let sums = b.conv_max_int8(path, q, spec);
                assert!(
                    sums == exact,
                    "{} × {}: {path} and float32 differ",
                    b.kt,
                    b.kf
                );
            }
        }
        covered
    }

    /// The penultimate rows of one patch by the float32 and the int8 network differ, and by
    /// a cosine above 0.995.
    fn assert_int8_stays_close(f32_net: &NativeMusicnn, int8_net: &NativeMusicnn, patch: &[f32]) {
        let run = |n: &NativeMusicnn| {
            let (mut pen, mut tags) = (Vec::new(), Vec::new());
            n.run(patch, &mut pen, &mut tags);
            pen
        };
        let (a, b) = (run(f32_net), run(int8_net));
        assert_ne!(a, b, "int8 changed nothing");
        let dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let cos = dot / norm(&a) / norm(&b);
        assert!(cos > 0.995, "cosine {cos}");
    }

    /// Both bundled networks, in float32 and in int8.
    fn both_forms() -> Vec<(NativeMusicnn, NativeMusicnn)> {
        [super::super::BUNDLED_MODEL, super::super::BUNDLED_MTT_MODEL]
            .iter()
            .map(|b| {
                (
                    NativeMusicnn::load(b, None).unwrap(),
                    NativeMusicnn::load(b, Some(KernelPath::best())).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn the_int8_network_stays_close_to_float32() {
        let signal = super::super::reference_signal();
        for (f32_net, int8_net) in both_forms() {
            assert_int8_stays_close(&f32_net, &int8_net, &signal[..PATCH_LEN]);
        }
    }

    /// Patches of real music (the asc soundtrack pieces, 16 kHz, from the middle of each).
    fn real_patches() -> Vec<Vec<f32>> {
        ["frontiers.mp3", "machine_wars.mp3", "time_to_strike.mp3"]
            .iter()
            .map(|name| {
                let path = songrec_testkit::fixtures::real_recording("asc", name);
                let d = songrec_audio::decode_file(&path).expect("decode");
                let s = &d.audio.segments[0].samples;
                let x = songrec_audio::resample::resample(
                    s,
                    d.audio.sample_rate,
                    crate::patches::MODEL_RATE,
                );
                let mid = x.len().saturating_sub(PATCH_LEN) / 2;
                x[mid..mid + PATCH_LEN].to_vec()
            })
            .collect()
    }

    #[test]
    fn on_real_music_the_int8_sums_agree_and_the_network_stays_close_to_float32() {
        let patches = real_patches();
        for (f32_net, int8_net) in both_forms() {
            for patch in &patches {
                assert_sums_agree(&int8_net, &QuantizedSpec::new(&int8_net.log_mel(patch)));
                assert_int8_stays_close(&f32_net, &int8_net, patch);
            }
        }
    }

    #[test]
    fn the_quantization_is_onnx_dynamic_quantize_linear() {
        // Range [-1, 2.4] widened by nothing: step 3.4 / 255, zero point round(1 / step) = 75.
        let q = QuantizedSpec::new(&[-1.0, 0.0, 2.4, 0.5, f32::NAN]);
        assert_eq!(q.zero, 75);
        assert_eq!(q.step, 3.4f32 / 255.0);
        assert_eq!(&q.q[..3], &[0, 75, 255]);
        assert_eq!(q.q[4], 0, "NaN is the lowest value");
        // All positive: the range is widened to 0, whose zero point is 0.
        let q = QuantizedSpec::new(&[1.0, 2.0]);
        // (1 / (2 / 255) is 127.49999 in float32: not a tie.)
        assert_eq!((q.zero, q.q.as_slice()), (0, &[127u8, 255][..]));
        // Ties go to even: with step 1 (range 0..255), 2.5 → 2 and 3.5 → 4.
        let q = QuantizedSpec::new(&[0.0, 255.0, 2.5, 3.5]);
        assert_eq!(q.q, [0, 255, 2, 4]);
        // Constant zero input: step 1, all zero points.
        assert_eq!(QuantizedSpec::new(&[0.0; 3]).q, [0, 0, 0]);
    }

    #[test]
    fn another_graph_is_refused() {
        let e = NativeMusicnn::load(crate::aisfx::float32_model().unwrap(), None)
            .err()
            .unwrap();
        assert!(e.contains("logmel/conv1d"), "{e}");
    }
}
