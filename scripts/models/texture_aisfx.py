#!/usr/bin/env python3
"""Build crates/neural/models/aisfx/aisfx_texture_int8.onnx (+ expected_texture.json) from an
int8 aisfx graph made by quantize_aisfx.py with the first block's second convolution quantized
too (`--keep-float conv_block1.conv1 conv_block1.bn1 conv_block1.relu1 unsqueeze`): the graph is
cut after `conv_block4.conv1` and ends in aisfx's *texture* of each block, the per-channel mean
and standard deviation of that layer's 512 activations over its 12 × 12 positions
(`texture`, [n, 1024]: 512 means, then 512 deviations, the variance as E[x²] − E[x]² floored at
0). See scripts/eval/RESULTS.md, "Candidates for a next version".

    python3 scripts/models/texture_aisfx.py --int8 $SCRATCH/v1/aisfx_int8.onnx --out crates/neural/models/aisfx

Also writes expected_texture.json: the texture of quantize_aisfx.py's fixed probe on tract and
ONNX Runtime and its distance to the float32 network's texture on real recordings."""
import argparse
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quantize_aisfx import write_expected  # noqa: E402

CUT = "conv_block4.conv1_quant"
LAYER_Q, SCALE, ZERO = "conv_block4.bn1_quantized", "conv_block4.bn1_scale", "conv_block4.bn1_zero_point"


def cut(src, dst):
    m = onnx.load(src)
    g = m.graph
    names = [n.name for n in g.node]
    if CUT not in names or "conv_block1.conv2_quant" not in names:
        sys.exit(f"{src}: not an int8 aisfx graph with the first block's second convolution quantized")
    keep = g.node[: names.index(CUT) + 1]
    new = [
        helper.make_node("DequantizeLinear", [LAYER_Q, SCALE, ZERO], ["t_x"], name="texture.dequantize"),
        helper.make_node("ReduceMean", ["t_x"], ["t_mean"], name="texture.mean", axes=[2, 3], keepdims=0),
        helper.make_node("Mul", ["t_x", "t_x"], ["t_sq"], name="texture.square"),
        helper.make_node("ReduceMean", ["t_sq"], ["t_msq"], name="texture.mean_square", axes=[2, 3], keepdims=0),
        helper.make_node("Mul", ["t_mean", "t_mean"], ["t_mean2"], name="texture.mean_squared"),
        helper.make_node("Sub", ["t_msq", "t_mean2"], ["t_var0"], name="texture.variance"),
        helper.make_node("Relu", ["t_var0"], ["t_var"], name="texture.floor"),
        helper.make_node("Sqrt", ["t_var"], ["t_std"], name="texture.deviation"),
        helper.make_node("Concat", ["t_mean", "t_std"], ["texture"], name="texture.concat", axis=1),
    ]
    del g.node[:]
    g.node.extend(list(keep) + new)
    del g.output[:]
    g.output.append(helper.make_tensor_value_info("texture", onnx.TensorProto.FLOAT, ["batch", 1024]))
    used = {i for n in g.node for i in n.input}
    inits = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(inits)
    del g.value_info[:]
    onnx.checker.check_model(m)
    onnx.save(m, dst)


def float_texture(src, x):
    """The same statistics of the float32 network's `conv_block4.relu1` (ONNX Runtime)."""
    m = onnx.load(src)
    m.graph.output.append(helper.make_empty_tensor_value_info("conv_block4.relu1"))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    a = s.run(["conv_block4.relu1"], {"logmel": x})[0]
    a = a.reshape(a.shape[0], a.shape[1], -1)
    return np.concatenate([a.mean(2), a.std(2)], 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--int8", required=True, help="quantize_aisfx.py's output, first block's conv2 quantized")
    ap.add_argument("--float", default="crates/neural/models/aisfx/aisfx.onnx")
    ap.add_argument("--sounds", required=True, help="sound-theme-freedesktop's stereo folder")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    out = os.path.join(a.out, "aisfx_texture_int8.onnx")
    cut(a.int8, out)
    fields = {"output": "texture [n, 1024]: per channel mean (512) then standard deviation (512) of "
                        "conv_block4.relu1 over its 12 x 12 positions, dequantized"}
    write_expected(out, "crates/neural/models/aisfx/aisfx_texture_int8.onnx", fields,
                   lambda real: float_texture(a.float, real), a.sounds,
                   os.path.join(a.out, "expected_texture.json"))

if __name__ == "__main__":
    main()
