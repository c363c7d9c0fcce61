#!/usr/bin/env python3
"""Texture statistics of aisfx's hidden layers (per channel mean and standard deviation over
time and mel bands, per block, averaged over the song's blocks) for every file of a labelled
set or corpus: a candidate extra part for the mix (texture_score.py scores it).

    python3 scripts/eval/texture_embed.py $SCRATCH/sets/h1 $SCRATCH/texture/h1.npz

aisfx's float32 network on ONNX Runtime (one thread), 6 evenly spaced blocks of the whole file
(ffmpeg decode, 44.1 kHz), the front end of scripts/models/quantize_common.py. With `--model`
an int8 graph (`aisfx_int8.onnx`): the layers it quantizes, dequantized."""
import argparse
import os
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from quantize_common import aisfx_blocks, decode  # noqa: E402

AUDIO = {".ogg", ".mp3", ".wav", ".flac", ".m4a", ".aiff", ".aif", ".oga"}
LAYERS = ["conv_block1.relu2", "conv_block2.relu2", "conv_block3.relu2", "conv_block4.relu1",
          "conv_block4.relu2", "freq_mean"]
BLOCKS = 6


def session(model):
    """A session with the hidden layers as outputs, the tensor names it fetches for them and
    their scales (1 for a float32 graph; an int8 graph's `uint8` activations are dequantized
    with the scale of their quantization, zero points being 0)."""
    m = onnx.load(model)
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in m.graph.initializer}
    produced = {o for n in m.graph.node for o in n.output}
    names, scales = [], []
    for layer in LAYERS:
        block, relu = layer.rsplit(".", 1) if "." in layer else (layer, "")
        q = f"{block}.bn{relu[-1:]}_quantized" if relu.startswith("relu") else ""
        if layer in produced:
            names.append(layer)
            scales.append(1.0)
        elif q in produced:
            names.append(q)
            scales.append(float(inits[f"{block}.bn{relu[-1]}_scale"]))
        else:
            names.append(None)
            scales.append(None)
    have = {o.name for o in m.graph.output}
    for name in names:
        if name and name not in have:
            m.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess, names, scales


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("out")
    ap.add_argument("--model", default="crates/neural/models/aisfx/aisfx.onnx",
                    help="the float32 network, or an int8 one (its quantized activations)")
    a = ap.parse_args()
    s, names, scales = session(a.model)
    layers = [n for n, t in zip(LAYERS, names) if t]
    fetch = [t for t in names if t]
    scale = [c for t, c in zip(names, scales) if t]
    files = sorted(p for p in Path(a.root).rglob("*") if p.suffix.lower() in AUDIO and p.is_file())
    feats = {n: [] for n in layers}
    paths = []
    for f in files:
        try:
            blocks = aisfx_blocks(decode(f, 44100), BLOCKS).astype(np.float32)
        except Exception as e:  # noqa: BLE001
            print(f"skipping {f}: {e}", file=sys.stderr)
            continue
        outs = dict(zip(layers, s.run(fetch, {"logmel": blocks})))
        for n, c in zip(layers, scale):
            x = outs[n].astype(np.float32) * np.float32(c)  # [B, C, T, F] or [B, C, T]
            x = x.reshape(x.shape[0], x.shape[1], -1)
            feats[n].append(np.concatenate([x.mean(2), x.std(2)], 1).mean(0))
        paths.append(os.path.realpath(f))
    np.savez(a.out, paths=np.array(paths), **{n: np.array(v) for n, v in feats.items()})
    print(f"{a.out}: {len(paths)} files")


if __name__ == "__main__":
    main()
