#!/usr/bin/env python3
"""Statistics over time of musicnn's (MSD) front-end and mid-end features (`model/concat_1`,
753 per frame, the layer its `mean_pool` and `max_pool` outputs pool) for every file of a
labelled set or corpus: per patch the mean, standard deviation and maximum over the 187 frames,
averaged over P evenly spaced 3 s patches of the whole file (16 kHz, ffmpeg decode, ONNX
Runtime on one thread). Scored like texture_embed.py's output (see scripts/eval/RESULTS.md).

    P=4 python3 scripts/eval/musicnn_texture.py $SCRATCH/sets/h1 $SCRATCH/mtex/h1.npz
"""
import os
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from quantize_common import PATCH, decode  # noqa: E402

AUDIO = {".ogg", ".mp3", ".wav", ".flac", ".m4a", ".aiff", ".aif", ".oga"}
LAYER, WIDTH = "model/concat_1:0", 753


def main():
    root, out = sys.argv[1], sys.argv[2]
    patches = int(os.environ.get("P", "4"))
    m = onnx.load(str(Path(__file__).resolve().parents[2] / "crates/neural/models/musicnn/msd_musicnn.onnx"))
    m.graph.output.append(onnx.helper.make_empty_tensor_value_info(LAYER))
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    s = ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"])
    files = sorted(p for p in Path(root).rglob("*") if p.suffix.lower() in AUDIO and p.is_file())
    feats, paths = [], []
    for f in files:
        try:
            y = decode(f, 16000)
        except Exception as e:  # noqa: BLE001
            print(f"skipping {f}: {e}", file=sys.stderr)
            continue
        if len(y) < PATCH:
            y = np.concatenate([y, np.zeros(PATCH - len(y), np.float32)])
        n = len(y)
        starts = [((2 * k + 1) * (n - PATCH)) // (2 * patches) for k in range(patches)]
        x = np.stack([y[st:st + PATCH] for st in starts]).astype(np.float32)
        c = s.run([LAYER], {"wave": x})[0].reshape(len(x), -1, WIDTH)  # [patches, frames, 753]
        feats.append(np.concatenate([c.mean(1), c.std(1), c.max(1)], 1).mean(0))
        paths.append(os.path.realpath(f))
    x = np.array(feats)
    np.savez(out, paths=np.array(paths), mean=x[:, :WIDTH], std=x[:, WIDTH:2 * WIDTH],
             max=x[:, 2 * WIDTH:], meanstd=x[:, :2 * WIDTH])
    print(f"{out}: {len(paths)} files")


if __name__ == "__main__":
    main()
