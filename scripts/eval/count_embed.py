#!/usr/bin/env python3
"""The network parts of songrec-mix at several patch and block counts, and aisfx in float32 and
int8, for every file of a labelled set (Python replica of the Rust path, as ears_embed.py:
ffmpeg decode, the DSP excerpts, soxr resampling, onnxruntime on one thread). For choosing the
counts out of sample with speed_score.py-style scoring (count_score.py).

    python3 scripts/eval/count_embed.py $SCRATCH/sets/h1 $SCRATCH/counts/h1.npz --models-dir models

Writes paths, labels, and per count: musicnn_P (400: MSD on the even, MTT on the odd of P
patches, each mean penultimate L2, /sqrt 2) and aisfx_{f32,int8}_B (1024: mean and max of the
block outputs, raw); CPU seconds per network item are printed.
"""
import argparse
import math
import sys
import time
from pathlib import Path

import librosa
import numpy as np

from ears_embed import PATCH, SR, decode, l2, ort, windows

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from convert_aisfx import BLOCK, front_end, plan  # noqa: E402

AUDIO = {".ogg", ".mp3", ".wav", ".flac", ".m4a", ".aiff", ".aif"}
PATCHES = (2, 4, 6, 8, 12, 16)
BLOCKS = (3, 6, 9, 12, 16, 20)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("set")
    ap.add_argument("out")
    ap.add_argument("--models-dir", default="crates/neural/models")
    a = ap.parse_args()
    md = Path(a.models_dir)
    msd, mtt = ort(md / "musicnn/msd_musicnn.onnx"), ort(md / "musicnn/mtt_musicnn.onnx")
    ais = {"f32": ort(md / "aisfx/aisfx.onnx"), "int8": ort(md / "aisfx/aisfx_int8.onnx")}
    base = Path(a.set)
    files = sorted(p for p in base.rglob("*") if p.suffix.lower() in AUDIO)
    rows = {f"musicnn_{p}": [] for p in PATCHES}
    rows.update({f"aisfx_{m}_{b}": [] for m in ais for b in BLOCKS})
    cost = {"musicnn": [0.0, 0], "f32": [0.0, 0], "int8": [0.0, 0]}
    paths, labels = [], []
    for f in files:
        y = decode(f)
        segs = [y[s:e] for s, e in windows(len(y))]
        s16 = [librosa.resample(s.astype(np.float32), orig_sr=SR, target_sr=16000, res_type="soxr_hq") for s in segs]
        for P in PATCHES:
            pl = plan([len(s) for s in s16], P, PATCH)
            x = np.zeros((max(len(pl), 1), PATCH), np.float32)
            for i, (si, st, ln) in enumerate(pl):
                x[i, :ln] = s16[si][st:st + ln]
            ev, od = x[0::2], (x[1::2] if len(x) > 1 else x[0:1])
            t = time.thread_time()
            pe = msd.run(["penultimate"], {"wave": ev})[0]
            po = mtt.run(["penultimate"], {"wave": od})[0]
            cost["musicnn"][0] += time.thread_time() - t
            cost["musicnn"][1] += len(ev) + len(od)
            rows[f"musicnn_{P}"].append(np.concatenate([l2(pe.mean(0).astype(np.float64)),
                                                        l2(po.mean(0).astype(np.float64))]) / math.sqrt(2))
        peak = max(float(np.max(np.abs(s))) if len(s) else 0.0 for s in segs)
        lms = [front_end(s / peak if peak > 0 else s) for s in segs]
        for B in BLOCKS:
            bp = plan([lm.shape[0] for lm in lms], B, BLOCK)
            blk = np.zeros((max(len(bp), 1), BLOCK, 96), np.float32)
            for i, (si, st, ln) in enumerate(bp):
                blk[i, :ln] = lms[si][st:st + ln]
            for m, s in ais.items():
                t = time.thread_time()
                e = s.run(["embedding"], {"logmel": blk})[0].astype(np.float64)
                cost[m][0] += time.thread_time() - t
                cost[m][1] += len(blk)
                rows[f"aisfx_{m}_{B}"].append(np.concatenate([e.mean(0), e.max(0)]))
        rel = f.relative_to(base)
        paths.append(str(rel))
        labels.append(rel.parts[0])
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez(a.out, paths=np.array(paths), labels=np.array(labels), **{k: np.array(v) for k, v in rows.items()})
    print(a.out, {k: f"{c / max(n, 1) * 1e3:.1f} ms/item" for k, (c, n) in cost.items()})


if __name__ == "__main__":
    main()
