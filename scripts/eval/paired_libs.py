#!/usr/bin/env python3
"""Same-label p@1/5/10 of two builds' stored vectors on the same labelled sets, paired by file.

Each BEFORE/AFTER pair is two songrec libraries made by `songrec ingest SET` (label = the folder
above each file) with two builds (or models); songs are matched by their file path. Prints p@k
per set for both, the paired p@5 difference, and the pooled difference (mean over sets of each
set's mean) with a 90 % bootstrap interval (queries resampled per set):

    python3 scripts/eval/paired_libs.py $SCRATCH/libs/h1:$SCRATCH/libsB/h1 $SCRATCH/libs/g1:$SCRATCH/libsB/g1
"""
import argparse
import json
import os

import numpy as np


def load(lib, model=None):
    """{path: unit vector} of a library's stored vectors (the newest `.npy` per song)."""
    meta = json.load(open(f"{lib}/data/embeddings/metadata.json"))
    out = {}
    for sid, m in sorted(meta.items()):
        npy, ref = f"{lib}/data/embeddings/{sid}.npy", f"{lib}/data/audio/{m['content_hash']}.ref.json"
        if os.path.exists(npy) and os.path.exists(ref):
            v = np.load(npy).astype(np.float64).ravel()
            out[json.load(open(ref))["path"]] = v / np.linalg.norm(v)
    return out


def hits_at(x, labels, k):
    sim = x @ x.T
    np.fill_diagonal(sim, -np.inf)
    top = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    return (labels[top] == labels[:, None]).mean(axis=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pairs", nargs="+", help="BEFORE_LIB:AFTER_LIB")
    ap.add_argument("--boot", type=int, default=2000)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    diffs = []
    for pair in a.pairs:
        b, c = pair.split(":")
        vb, vc = load(b), load(c)
        paths = sorted(set(vb) & set(vc))
        labels = np.array([os.path.basename(os.path.dirname(p)) for p in paths])
        xb, xc = np.array([vb[p] for p in paths]), np.array([vc[p] for p in paths])
        row = []
        for k in (1, 5, 10):
            hb, hc = hits_at(xb, labels, k), hits_at(xc, labels, k)
            row.append(f"p@{k} {hb.mean():.3f} -> {hc.mean():.3f}")
            if k == 5:
                diffs.append(hc - hb)
        cos = (xb * xc).sum(1)
        print(f"{os.path.basename(c.rstrip('/'))} ({len(paths)} songs, vector cosine min {cos.min():.5f} "
              f"mean {cos.mean():.5f}): " + ", ".join(row) + f"; p@5 paired {diffs[-1].mean():+.3f}")
    boot = [np.mean([rng.choice(d, len(d)).mean() for d in diffs]) for _ in range(a.boot)]
    lo, hi = np.percentile(boot, [5, 95])
    print(f"pooled p@5 difference {np.mean([d.mean() for d in diffs]):+.4f} [{lo:+.4f}, {hi:+.4f}]")


if __name__ == "__main__":
    main()
