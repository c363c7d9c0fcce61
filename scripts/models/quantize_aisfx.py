#!/usr/bin/env python3
"""Static int8 quantization of the aisfx network (see quantize_aisfx.sh, which runs this).

Writes OUT/aisfx_int8.onnx and OUT/expected_int8.json: the int8 network's outputs on a fixed
synthetic input (`probe`, reproducible bit for bit in Rust) on tract and on ONNX Runtime, and
how far the int8 network is from the float32 one on real recordings (block cosines)."""
import argparse
import glob
import hashlib
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import tract
from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quantize_common import Reader, aisfx_blocks, decode  # noqa: E402

BLOCKS_PER_FILE, SECONDS = 3, 240
PROBE_BLOCKS = 2
RECORDINGS = ["complete.oga", "phone-incoming-call.oga", "alarm-clock-elapsed.oga"]


def probe():
    """[2, 100, 96]: value i is ((i * 2654435761) mod 2^32 mod 1000) / 1000 in float32."""
    i = np.arange(PROBE_BLOCKS * 100 * 96, dtype=np.uint64)
    k = ((i * np.uint64(2654435761)) % np.uint64(1 << 32)) % np.uint64(1000)
    return (k.astype(np.float32) / np.float32(1000)).reshape(PROBE_BLOCKS, 100, 96)


def ort_run(path, x):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"]).run(None, {"logmel": x})[0]


def tract_run(path, x):
    m = tract.onnx().load(path)
    m.set_input_fact(0, "1,100,96,f32")
    r = m.into_model().into_runnable()
    return np.concatenate([r.run([x[i:i + 1]])[0].to_numpy() for i in range(len(x))])


def cos(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calib", required=True, help="root of the extracted calibration packages")
    ap.add_argument("--sounds", required=True, help="sound-theme-freedesktop's stereo folder")
    ap.add_argument("--work", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--keep-float", nargs="+", default=["conv_block1."],
                    help="name prefixes of the nodes left in float32 (default: the first block)")
    ap.add_argument("--per-channel", action="store_true", help="int8 weights per output channel")
    a = ap.parse_args()
    files = sorted(glob.glob(os.path.join(a.calib, "**", "*.ogg"), recursive=True))[::3]
    calib, used = [], []
    for f in files:
        try:
            calib.append(aisfx_blocks(decode(f, 44100, SECONDS), BLOCKS_PER_FILE))
            used.append(os.path.relpath(f, a.calib))
        except Exception as e:  # a few files in these packages are not decodable
            print(f"skipping {f}: {e}", file=sys.stderr)
    calib = np.concatenate(calib)
    print(f"calibration: {len(calib)} blocks from {len(used)} files")
    pre = os.path.join(a.work, "aisfx_pre.onnx")
    quant_pre_process(a.src, pre, skip_symbolic_shape=True)  # folds each BatchNorm into its Conv
    keep = [n.name for n in onnx.load(pre).graph.node if n.name.startswith(tuple(a.keep_float))]
    out = os.path.join(a.out, "aisfx_int8.onnx")
    quantize_static(pre, out, Reader("logmel", list(calib)), quant_format=QuantFormat.QOperator,
                    per_channel=a.per_channel, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    nodes_to_exclude=keep, calibrate_method=CalibrationMethod.MinMax,
                    extra_options={"WeightSymmetric": True})
    m = onnx.load(out)
    del m.graph.value_info[:]  # tract refuses the stale shapes the quantizer leaves there
    onnx.save(m, out)
    fields = {
        "float32_kept": keep,
        "calibration": {"blocks": int(len(calib)), "files": used, "method": "MinMax",
                        "activations": "uint8 per tensor",
                        "weights": f"int8 per {'channel' if a.per_channel else 'tensor'}, symmetric"},
    }
    write_expected(out, "crates/neural/models/aisfx/aisfx_int8.onnx", fields,
                   lambda real: ort_run(a.src, real), a.sounds, os.path.join(a.out, "expected_int8.json"))


def write_expected(out, model, fields, float32, sounds, path):
    """Writes `path`: the graph `out`'s outputs on the fixed probe on tract and ONNX Runtime,
    and the cosine of its outputs on the real recordings to `float32(blocks)`'s. songrec's own
    kernels' probe rows come from songrec (its int8 GEMM needs AVX-512 VNNI): kept from the file
    this one replaces while the model is the same, else to be written anew."""
    sha = hashlib.sha256(open(out, "rb").read()).hexdigest()
    x = probe()
    real = np.concatenate([aisfx_blocks(decode(os.path.join(sounds, r), 44100), 3) for r in RECORDINGS])
    f32 = float32(real)
    c_ort, c_tract = cos(f32, ort_run(out, real)), cos(f32, tract_run(out, real))
    res = {
        "model": model,
        "sha256": sha,
        "bytes": os.path.getsize(out),
        **fields,
        "probe": "[2, 100, 96], value i = ((i * 2654435761) mod 2^32 mod 1000) / 1000 (float32)",
        "probe_tract": tract_run(out, x).round(6).tolist(),
        "probe_onnxruntime": ort_run(out, x).round(6).tolist(),
        "tolerance": 1e-4,
        "real_blocks": {"recordings": RECORDINGS, "blocks": int(len(real)),
                        "cosine_to_float32_onnxruntime_min": float(c_ort.min()),
                        "cosine_to_float32_tract_min": float(c_tract.min())},
        "versions": {"onnxruntime": ort.__version__, "onnx": onnx.__version__, "numpy": np.__version__,
                     "tract": "0.23.9"},
    }
    if os.path.exists(path):
        with open(path) as f:
            prev = json.load(f)
        if prev.get("sha256") == sha and "probe_songrec_kernels" in prev:
            res["probe_songrec_kernels"] = prev["probe_songrec_kernels"]
            res["versions"]["songrec_kernels"] = prev.get("versions", {}).get("songrec_kernels")
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    print(f"{out}: {res['bytes']} bytes, sha256 {sha}; real blocks cosine to float32: "
          f"onnxruntime min {c_ort.min():.5f}, tract min {c_tract.min():.5f}")

if __name__ == "__main__":
    main()
