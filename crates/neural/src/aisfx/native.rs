//! aisfx's int8 networks on songrec's own kernels: the float32 convolutions of the first block
//! ([`crate::kernels::matmul`]), the quantized ones as `u8` × `i8` integer GEMMs on the
//! [`KernelPath`]'s instructions ([`crate::kernels::int8`]: the same sums on every path), each
//! requantized the way ONNX `QLinearConv` specifies (the `i32` sum plus the bias times
//! `x_scale · w_scale / y_scale`, rounded half to even, saturated to `u8`; every zero point of
//! these graphs is 0, so the saturation at 0 is the folded ReLU).
//!
//! Two graphs: `models/aisfx/aisfx_int8.onnx` (the first block in float32, six quantized
//! convolutions, the 512-value embedding) and `models/aisfx/aisfx_texture_int8.onnx` (only the
//! first convolution in float32, cut after `conv_block4.conv1`: the block's texture, the mean and
//! standard deviation of each of that layer's 512 channels over its positions).
//!
//! Activations are kept channel-last (`[time, mel, channels]`), so im2col copies whole pixels
//! and pooling walks contiguous channels. The integer sums are exact: the result differs from
//! tract's and ONNX Runtime's int8 runs only where their requantizations round otherwise (each
//! engine has its own probe row in `expected_int8.json`).

use crate::graph::{Graph, transpose};
use crate::kernels::int8::{MR, PackedI8};
use crate::kernels::path::KernelPath;
use crate::kernels::{View, matmul};

use super::frontend::{BLOCK, N_MELS};
use super::model::BLOCK_DIM;

/// Float channels of the first block.
const C1: usize = 64;
/// Rows (time steps) of the float convolution per im2col chunk.
const ROWS: usize = 4;

/// One quantized 3 × 3 convolution (pads 1, stride 1).
struct QConv {
    w: PackedI8,
    bias: Vec<i32>,
    /// `x_scale · w_scale / y_scale`.
    mult: f32,
    cin: usize,
    /// 2 × 2 max pooling after it.
    pool: bool,
}

/// The int8 aisfx network, ready to run.
pub(crate) struct NativeAisfx {
    /// `[9, 64]` (im2col order: tap then channel), with its bias.
    conv1: (Vec<f32>, Vec<f32>),
    /// `[9 · 64, 64]` and its bias where the first block's second convolution is float32;
    /// `None` where it is the first quantized layer.
    conv2: Option<(Vec<f32>, Vec<f32>)>,
    /// The scale of the first quantization.
    in_scale: f32,
    layers: Vec<QConv>,
    /// The scale of the last layer's output.
    out_scale: f32,
    /// Whether the graph ends in the texture (after `conv_block4.conv1`) instead of the
    /// embedding.
    texture: bool,
    /// Whose instructions run the int8 products (the same sums on every path).
    path: KernelPath,
}

/// The first block's second convolution where it is quantized, with its max pooling.
const BLOCK1_CONV2: (&str, bool) = ("conv_block1.conv2_quant", true);

/// The quantized layers after the first block: node name and whether a max pooling follows.
const LAYERS: [(&str, bool); 6] = [
    ("conv_block2.conv1_quant", false),
    ("conv_block2.conv2_quant", true),
    ("conv_block3.conv1_quant", false),
    ("conv_block3.conv2_quant", true),
    ("conv_block4.conv1_quant", false),
    ("conv_block4.conv2_quant", false),
];

/// `[out, cin, 3, 3]` → `w(tap · cin + c, out)` (im2col order: tap then channel).
fn tap_major<T: Copy>(w: &[T], out: usize, cin: usize) -> impl Fn(usize, usize) -> T + '_ {
    move |k, o| {
        let (tap, c) = (k / cin, k % cin);
        debug_assert!(o < out);
        w[(o * cin + c) * 9 + tap]
    }
}

fn float_conv(
    g: &Graph,
    name: &str,
    out: usize,
    cin: usize,
) -> Result<(Vec<f32>, Vec<f32>), String> {
    let (s, w) = g.weight(name, "Conv", 1)?;
    let (_, b) = g.weight(name, "Conv", 2)?;
    if s != [out, cin, 3, 3] || b.len() != out || g.ints(name, "pads")? != [1, 1, 1, 1] {
        return Err(format!("{name}: weights {s:?}"));
    }
    let f = tap_major(&w, out, cin);
    let k = 9 * cin;
    let rows: Vec<f32> = (0..out)
        .flat_map(|o| (0..k).map(move |i| (o, i)))
        .map(|(o, i)| f(i, o))
        .collect();
    Ok((transpose(&rows, out, k), b))
}

/// A scalar input that must be zero (the zero points).
fn zero_point<T: crate::onnx::Element + Default + PartialEq>(
    g: &Graph,
    name: &str,
    op: &str,
    i: usize,
) -> Result<(), String> {
    match g.tensor::<T>(name, op, i)? {
        (_, v) if v == [T::default()] => Ok(()),
        _ => Err(format!("{name}: input {i} is not a zero zero point")),
    }
}

impl NativeAisfx {
    /// Reads the int8 graph, to run on `path`'s kernels; `Err` names the first node that is not
    /// as expected.
    pub fn load(bytes: &[u8], path: KernelPath) -> Result<Self, String> {
        let proto = crate::graph::read(bytes)?;
        let g = Graph::new(&proto)?;
        let conv1 = float_conv(&g, "conv_block1.conv1", C1, 1)?;
        // Either the whole first block is float32 and its pooled output is quantized, or only
        // its first convolution is and the second is the first quantized layer.
        let quantized_conv2 = g.node(BLOCK1_CONV2.0, "QLinearConv").is_ok();
        let (conv2, q) = if quantized_conv2 {
            (None, "conv_block1.relu1_QuantizeLinear")
        } else {
            (
                Some(float_conv(&g, "conv_block1.conv2", C1, C1)?),
                "conv_block1.maxpool_QuantizeLinear",
            )
        };
        let (_, s) = g.weight(q, "QuantizeLinear", 1)?;
        zero_point::<u8>(&g, q, "QuantizeLinear", 2)?;
        let in_scale = s[0];
        // The texture graph ends after `conv_block4.conv1`: its statistics, not the last
        // convolution and the embedding.
        let texture = g.node("texture.concat", "Concat").is_ok();
        let layer_list = quantized_conv2.then_some(BLOCK1_CONV2).into_iter().chain(
            LAYERS[..LAYERS.len() - usize::from(texture)]
                .iter()
                .copied(),
        );
        let mut layers = Vec::new();
        let mut cin = C1;
        let mut out_scale = 0.0;
        for (name, pool) in layer_list {
            let op = "QLinearConv";
            let scalar = |i: usize| -> Result<f32, String> {
                match g.weight(name, op, i)? {
                    (_, v) if v.len() == 1 => Ok(v[0]),
                    (s, _) => Err(format!("{name}: input {i} has shape {s:?}")),
                }
            };
            let (xs, ws, ys) = (scalar(1)?, scalar(4)?, scalar(6)?);
            zero_point::<u8>(&g, name, op, 2)?;
            zero_point::<i8>(&g, name, op, 5)?;
            zero_point::<u8>(&g, name, op, 7)?;
            let (s, w) = g.tensor::<i8>(name, op, 3)?;
            let (_, bias) = g.tensor::<i32>(name, op, 8)?;
            let out = s.first().copied().unwrap_or(0);
            if s != [out, cin, 3, 3] || bias.len() != out || g.ints(name, "pads")? != [1, 1, 1, 1] {
                return Err(format!("{name}: weights {s:?}"));
            }
            layers.push(QConv {
                w: PackedI8::new(9 * cin, out, tap_major(&w, out, cin)),
                bias,
                mult: xs * ws / ys,
                cin,
                pool,
            });
            cin = out;
            out_scale = ys;
        }
        if cin != BLOCK_DIM {
            return Err(format!("the last layer has {cin} channels"));
        }
        Ok(NativeAisfx {
            conv1,
            conv2,
            in_scale,
            layers,
            out_scale,
            texture,
            path,
        })
    }

    /// Whose instructions run the int8 products.
    pub fn path(&self) -> KernelPath {
        self.path
    }

    /// Values per block: the embedding's 512, or the texture's 1024.
    pub fn width(&self) -> usize {
        if self.texture {
            2 * BLOCK_DIM
        } else {
            BLOCK_DIM
        }
    }

    /// Runs one block of `[BLOCK, N_MELS]` log-mel values; appends its [`Self::width`] outputs.
    pub fn run(&self, logmel: &[f32], dst: &mut Vec<f32>) {
        crate::kernels::on_path(self.path, || self.run_on_path(logmel, dst));
    }

    /// [`Self::run`] with the path's float32 instructions in force.
    fn run_on_path(&self, logmel: &[f32], dst: &mut Vec<f32>) {
        let (h, w) = (BLOCK, N_MELS);
        let x = float_conv3(logmel, h, w, 1, &self.conv1);
        let (x, h, w) = match &self.conv2 {
            Some(conv2) => max_pool(&float_conv3(&x, h, w, C1, conv2), h, w, C1),
            None => (x, h, w),
        };
        let mut q: Vec<u8> = x.iter().map(|v| to_u8(v / self.in_scale)).collect();
        let (mut h, mut w) = (h, w);
        for l in &self.layers {
            q = l.run(self.path, &q, h, w);
            if l.pool {
                (q, h, w) = max_pool(&q, h, w, l.w.n);
            }
        }
        let c = BLOCK_DIM;
        if self.texture {
            dst.extend(texture(&q, c, self.out_scale));
            return;
        }
        // Dequantize, mean over mel bands, max over time.
        let mut best = vec![f32::NEG_INFINITY; c];
        for t in 0..h {
            for (ch, b) in best.iter_mut().enumerate() {
                let sum: f32 = (0..w)
                    .map(|f| f32::from(q[(t * w + f) * c + ch]) * self.out_scale)
                    .sum();
                *b = b.max(sum / w as f32);
            }
        }
        dst.extend_from_slice(&best);
    }
}

/// The texture of a channel-last `[positions, c]` map of `u8` activations dequantized by
/// `scale`: per channel the mean, then per channel the standard deviation (the variance as
/// `E[x²] − E[x]²`, floored at 0), as the texture graph computes them.
fn texture(q: &[u8], c: usize, scale: f32) -> Vec<f32> {
    let n = (q.len() / c.max(1)).max(1) as f32;
    let mut sum = vec![0f32; c];
    let mut sq = vec![0f32; c];
    for px in q.chunks_exact(c) {
        for ((s, s2), v) in sum.iter_mut().zip(&mut sq).zip(px) {
            let x = f32::from(*v) * scale;
            *s += x;
            *s2 += x * x;
        }
    }
    let mean: Vec<f32> = sum.iter().map(|s| s / n).collect();
    let std = sq
        .iter()
        .zip(&mean)
        .map(|(s2, m)| (s2 / n - m * m).max(0.0).sqrt());
    mean.iter().copied().chain(std).collect()
}

/// The 3 × 3 taps of pixel `(t, f)` of a `[h, w, c]` map, zero outside, appended to `cols`.
fn im2col_pixel<T: Copy + Default>(
    x: &[T],
    h: usize,
    w: usize,
    c: usize,
    t: usize,
    f: usize,
    cols: &mut Vec<T>,
) {
    for dt in 0..3 {
        for df in 0..3 {
            let (tt, ff) = ((t + dt).wrapping_sub(1), (f + df).wrapping_sub(1));
            if tt < h && ff < w {
                let at = (tt * w + ff) * c;
                cols.extend_from_slice(&x[at..at + c]);
            } else {
                cols.extend(std::iter::repeat_n(T::default(), c));
            }
        }
    }
}

/// A float 3 × 3 convolution (pads 1) of a `[h, w, cin]` map, then ReLU: `[h, w, out]`.
fn float_conv3(
    x: &[f32],
    h: usize,
    w: usize,
    cin: usize,
    (wt, bias): &(Vec<f32>, Vec<f32>),
) -> Vec<f32> {
    let out = bias.len();
    let k = 9 * cin;
    let mut y = vec![0.0f32; h * w * out];
    let mut cols = Vec::with_capacity(ROWS * w * k);
    for t0 in (0..h).step_by(ROWS) {
        let tn = ROWS.min(h - t0);
        cols.clear();
        for t in t0..t0 + tn {
            for f in 0..w {
                im2col_pixel(x, h, w, cin, t, f, &mut cols);
            }
        }
        let dst = &mut y[t0 * w * out..(t0 + tn) * w * out];
        matmul(
            tn * w,
            out,
            k,
            View::rows(&cols, k),
            View::rows(wt, out),
            dst,
            false,
        );
    }
    for px in y.chunks_exact_mut(out) {
        for (v, b) in px.iter_mut().zip(bias) {
            *v = (*v + b).max(0.0);
        }
    }
    y
}

/// 2 × 2 max pooling (stride 2, floor) of a `[h, w, c]` map.
fn max_pool<T: Copy + PartialOrd + Default>(
    x: &[T],
    h: usize,
    w: usize,
    c: usize,
) -> (Vec<T>, usize, usize) {
    let (ho, wo) = (h / 2, w / 2);
    let mut y = vec![T::default(); ho * wo * c];
    for (i, dst) in y.chunks_exact_mut(c).enumerate() {
        let (t, f) = (i / wo, i % wo);
        let px = |dt: usize, df: usize| &x[((2 * t + dt) * w + 2 * f + df) * c..][..c];
        let (a, b, cc, d) = (px(0, 0), px(0, 1), px(1, 0), px(1, 1));
        for ((((y, a), b), cc), d) in dst.iter_mut().zip(a).zip(b).zip(cc).zip(d) {
            let m = |p: T, q: T| if q > p { q } else { p };
            *y = m(m(*a, *b), m(*cc, *d));
        }
    }
    (y, ho, wo)
}

/// `x` rounded half to even, saturated to `u8` (the `+ 1.5 · 2²³` trick: exact for the
/// clamped range, and no libm call where the build does not assume SSE 4.1). The sum
/// `1.5 · 2²³ + n` of an integer `n ≤ 255` has `n` in its low mantissa bits, which are read
/// as bits (the float-to-`u8` conversion it stands for, `(sum − 1.5 · 2²³) as u8`, does not
/// vectorize); NaN gives 0, as that conversion does.
#[inline(always)]
fn to_u8(x: f32) -> u8 {
    const MAGIC: f32 = 12_582_912.0;
    let sum = x.clamp(0.0, 255.0) + MAGIC;
    if sum.is_nan() {
        0
    } else {
        sum.to_bits().wrapping_sub(MAGIC.to_bits()) as u8
    }
}

/// A `[h, w, c]` map padded by one zero pixel on every side, plus one spare row (the last
/// output rows of a padded-width product read past the bottom pad): `[h + 3, w + 2, c]`.
fn pad<T: Copy + Default>(x: &[T], h: usize, w: usize, c: usize) -> Vec<T> {
    let wp = w + 2;
    let mut y = vec![T::default(); (h + 3) * wp * c];
    for t in 0..h {
        let at = ((t + 1) * wp + 1) * c;
        y[at..at + w * c].copy_from_slice(&x[t * w * c..(t + 1) * w * c]);
    }
    y
}

/// Where each of the 3 × 3 taps starts in a padded map of width `w + 2`, in elements.
fn taps(w: usize, c: usize) -> [usize; 9] {
    std::array::from_fn(|i| ((i / 3) * (w + 2) + i % 3) * c)
}

impl QConv {
    /// `[h, w, cin]` → `[h, w, out]`, requantized. Output pixel `(t, f)` is row
    /// `t · (w + 2) + f` of one product over the padded map (the two extra columns of each
    /// row are computed and dropped): no im2col.
    fn run(&self, path: KernelPath, x: &[u8], h: usize, w: usize) -> Vec<u8> {
        let (cin, out) = (self.cin, self.w.n);
        let xp = pad(x, h, w, cin);
        let m = (h * (w + 2)).next_multiple_of(MR);
        let mut acc = vec![0i32; m * out];
        self.w.matmul(path, m, &xp, cin, &taps(w, cin), &mut acc);
        let mut y = vec![0u8; h * w * out];
        for (t, dst) in y.chunks_exact_mut(w * out).enumerate() {
            requantize(
                &acc[t * (w + 2) * out..][..w * out],
                &self.bias,
                self.mult,
                dst,
            );
        }
        y
    }
}

/// `dst[i] = to_u8((acc[i] + bias[i % bias.len()]) as f32 · mult)`: the same operations on
/// every element, in a loop the compiler vectorizes (with AVX-512 where the CPU has it, which
/// every CPU running these kernels has).
fn requantize(acc: &[i32], bias: &[i32], mult: f32, dst: &mut [u8]) {
    #[inline(always)]
    fn body(acc: &[i32], bias: &[i32], mult: f32, dst: &mut [u8]) {
        for (d, a) in dst
            .chunks_exact_mut(bias.len())
            .zip(acc.chunks_exact(bias.len()))
        {
            for ((d, a), b) in d.iter_mut().zip(a).zip(bias) {
                *d = to_u8(a.wrapping_add(*b) as f32 * mult);
            }
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512bw")]
        unsafe fn wide(acc: &[i32], bias: &[i32], mult: f32, dst: &mut [u8]) {
            body(acc, bias, mult, dst);
        }
        if std::arch::is_x86_feature_detected!("avx512bw") {
            // SAFETY: the CPU has the features the function is compiled for.
            return unsafe { wide(acc, bias, mult, dst) };
        }
    }
    body(acc, bias, mult, dst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_u8_is_the_rounded_saturated_conversion() {
        const MAGIC: f32 = 12_582_912.0;
        let old = |x: f32| ((x.clamp(0.0, 255.0) + MAGIC) - MAGIC) as u8;
        let mut xs = vec![
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -0.0,
            0.0,
            0.5,
            1.5,
            2.5,
            254.5,
            255.0,
            255.49,
            255.5,
            256.0,
            1e9,
            -1e9,
            f32::MIN_POSITIVE,
        ];
        xs.extend((0..200_000).map(|i| (i as f32 - 50_000.0) * 0.003_17));
        for x in xs {
            assert_eq!(to_u8(x), old(x), "{x}");
        }
    }

    #[test]
    fn the_bundled_int8_graph_loads_and_others_do_not() {
        let n = NativeAisfx::load(super::super::INT8_MODEL, KernelPath::Portable).unwrap();
        assert_eq!((n.layers.len(), n.texture, n.width()), (6, false, 512));
        assert!(n.conv2.is_some());
        // The texture graph: the first block's second convolution quantized, the last left out.
        let t = NativeAisfx::load(super::super::TEXTURE_MODEL, KernelPath::Portable).unwrap();
        assert_eq!((t.layers.len(), t.texture, t.width()), (6, true, 1024));
        assert!(t.conv2.is_none() && t.layers[0].cin == C1 && t.layers[0].pool);
        assert!(
            NativeAisfx::load(super::super::float32_model().unwrap(), KernelPath::Portable)
                .is_err()
        );
    }

    #[test]
    fn texture_is_the_mean_then_the_deviation_of_each_channel() {
        // Two channels over three positions, channel-last: (1, 4), (2, 4), (3, 4).
        let t = texture(&[1, 4, 2, 4, 3, 4], 2, 0.5);
        let want = [1.0, 2.0, (1.0f32 / 6.0).sqrt(), 0.0];
        assert!(
            t.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{t:?}"
        );
    }
}
