#!/usr/bin/env python3
"""Scores texture_embed.py's hidden-layer statistics as a part of the mix, out of sample: each
layer's statistics standardised with the `mixref` corpus (the shipped table's corpus, disjoint
from every set), L2-normalised, then (a) alone, (b) added to the stored `songrec-mix@2` vector as
a fourth equal part, (c) in place of its aisfx part. p@5 per set and the pooled paired difference
to the stored vector with a 90 % bootstrap interval (queries resampled per set).

    python3 scripts/eval/texture_score.py --texture $SCRATCH/texture --libs $SCRATCH/libs --sets drums g1 g2 g3 h1
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paired_libs import hits_at, load  # noqa: E402

PARTS = {"musicnn": (0, 400), "aisfx": (400, 1424), "dsp": (1424, 1544)}


def unit(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--texture", required=True)
    ap.add_argument("--libs", required=True)
    ap.add_argument("--sets", nargs="+", required=True)
    ap.add_argument("--log", action="store_true", help="log1p of the statistics first")
    ap.add_argument("--boot", type=int, default=2000)
    a = ap.parse_args()
    ref = np.load(f"{a.texture}/mixref.npz")
    layers = [k for k in ref.files if k != "paths"]
    f = (lambda x: np.log1p(np.maximum(x, 0))) if a.log else (lambda x: x)
    stats = {n: (f(ref[n]).mean(0), np.maximum(f(ref[n]).std(0), 1e-3 * f(ref[n]).std(0).max() + 1e-9))
             for n in layers}
    data = {}
    for s in a.sets:
        t = np.load(f"{a.texture}/{s}.npz")
        # Matched by the file's real path (a set may be links into extracted packages); the
        # label is the folder of the path the library stored.
        mix = load(f"{a.libs}/{s}")
        idx = {p: i for i, p in enumerate(t["paths"])}
        paths = sorted(p for p in mix if os.path.realpath(p) in idx)
        labels = np.array([os.path.basename(os.path.dirname(p)) for p in paths])
        x = np.array([mix[p] for p in paths])
        rows = [idx[os.path.realpath(p)] for p in paths]
        tex = {n: unit((f(t[n][rows]) - stats[n][0]) / stats[n][1]) for n in layers}
        data[s] = (x, labels, tex)
    rng = np.random.default_rng(0)

    def report(name, build):
        diffs, row = [], []
        for s in a.sets:
            x, labels, tex = data[s]
            base = hits_at(x, labels, 5)
            h = hits_at(unit(build(x, tex)), labels, 5)
            diffs.append(h - base)
            row.append(f"{s} {h.mean():.3f} ({h.mean() - base.mean():+.3f})")
        boot = [np.mean([rng.choice(d, len(d)).mean() for d in diffs]) for _ in range(a.boot)]
        lo, hi = np.percentile(boot, [5, 95])
        print(f"{name:34s} " + "  ".join(row) + f"  pooled {np.mean([d.mean() for d in diffs]):+.4f} [{lo:+.4f}, {hi:+.4f}]")

    report("stored mix@2", lambda x, tex: x)
    for n in layers:
        report(f"{n} alone", lambda x, tex, n=n: tex[n])
    for n in layers:
        report(f"mix + {n} (4 equal parts)", lambda x, tex, n=n: np.hstack([x * np.sqrt(3 / 4), tex[n] * 0.5]))
    for n in layers:
        def repl(x, tex, n=n):
            y = x.copy()
            a0, a1 = PARTS["aisfx"]
            y[:, a0:a1] = 0
            return np.hstack([y, tex[n] * np.sqrt(1 / 3)])
        report(f"mix, {n} for aisfx", repl)


if __name__ == "__main__":
    main()
