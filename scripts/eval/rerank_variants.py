#!/usr/bin/env python3
"""Ranking-side variants on a library's stored vectors, p@5 paired against plain cosine ranking.

The vectors stay as stored; only the ranking changes: average query expansion (the query plus
its n nearest songs, optionally weighted by similarity^alpha, searched again), database-side
augmentation (every song replaced by itself plus its n nearest), and CSLS hubness correction
(similarity minus beta times each candidate's mean similarity to its k nearest), and fusions of
the three parts' own similarities (each part is a slice of the stored vector: musicnn, aisfx's
texture, DSP) by per-query z-scores or reciprocal-rank fusion instead of the mean of their
cosines that the stored vector's cosine is. Label = the
folder above each file, as in paired_libs.py; pooled = mean over the libraries, 90 % bootstrap
interval of the paired difference.

    python3 scripts/eval/rerank_variants.py $SCRATCH/libs4/{drums,g1,g2,g3,h1}
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paired_libs import hits_at, load  # noqa: E402


def neighbours(x, n):
    s = x @ x.T
    np.fill_diagonal(s, -np.inf)
    return s, np.argsort(-s, axis=1, kind="stable")[:, :n]


def aqe(x, n, alpha=0.0):
    s, top = neighbours(x, n)
    q = x.copy()
    for i in range(len(x)):
        w = np.maximum(s[i, top[i]], 0) ** alpha if alpha > 0 else np.ones(n)
        q[i] = x[i] + (w[:, None] * x[top[i]]).sum(0)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def dba(x, n):
    _, top = neighbours(x, n)
    y = x + np.array([x[t].sum(0) for t in top])
    return y / np.linalg.norm(y, axis=1, keepdims=True)


def csls(x, k, beta):
    s, _ = neighbours(x, 1)
    r = np.sort(s, axis=1)[:, -k:].mean(1)
    return x @ x.T - beta * r[None, :]


PARTS = [(0, 400), (400, 1424), (1424, 1544)]


def part_sims(x):
    """Each part's cosine similarities (the part re-normalised)."""
    out = []
    for a, b in PARTS:
        p = x[:, a:b] / np.maximum(np.linalg.norm(x[:, a:b], axis=1, keepdims=True), 1e-12)
        out.append(p @ p.T)
    return out


def znorm(s):
    """Each row's similarities as z-scores over the other songs."""
    t = s.copy()
    np.fill_diagonal(t, np.nan)
    return (s - np.nanmean(t, 1, keepdims=True)) / np.maximum(np.nanstd(t, 1, keepdims=True), 1e-9)


def ranks(s):
    t = s.copy()
    np.fill_diagonal(t, -np.inf)
    return np.argsort(np.argsort(-t, axis=1), axis=1)


def hits_of(sim, labels, k=5):
    sim = sim.copy()
    np.fill_diagonal(sim, -np.inf)
    top = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    return (labels[top] == labels[:, None]).mean(axis=1)


VARIANTS = {
    **{f"query expansion, n={n}": (lambda n: lambda x: aqe(x, n) @ x.T)(n) for n in (1, 2, 3, 5)},
    **{f"query expansion, n={n}, alpha=3": (lambda n: lambda x: aqe(x, n, 3.0) @ x.T)(n) for n in (3, 5)},
    **{f"database augmentation, n={n}": (lambda n: lambda x: (lambda y: y @ y.T)(dba(x, n)))(n) for n in (1, 2)},
    **{f"CSLS, k={k}, beta={b}": (lambda k, b: lambda x: csls(x, k, b))(k, b) for k in (5, 10, 20) for b in (0.5, 1.0)},
    "parts by z-score, per query": lambda x: sum(znorm(s) for s in part_sims(x)),
    "parts by z-score, both ways": lambda x: sum(znorm(s) + znorm(s).T for s in part_sims(x)),
    **{f"parts by reciprocal rank, k={k}": (lambda k: lambda x: sum(1 / (k + ranks(s)) for s in part_sims(x)))(k)
       for k in (10, 60)},
    "best part": lambda x: np.maximum.reduce(part_sims(x)),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("libs", nargs="+")
    ap.add_argument("--boot", type=int, default=1000)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    sets = []
    for lib in a.libs:
        v = load(lib)
        paths = sorted(v)
        labels = np.array([os.path.basename(os.path.dirname(p)) for p in paths])
        x = np.array([v[p] for p in paths])
        sets.append((os.path.basename(lib.rstrip("/")), x, labels, hits_at(x, labels, 5)))
    print("plain cosine: " + ", ".join(f"{n} {h.mean():.3f}" for n, _, _, h in sets))
    for name, rank in VARIANTS.items():
        diffs, row = [], []
        for n, x, labels, base in sets:
            h = hits_of(rank(x), labels)
            diffs.append(h - base)
            row.append(f"{n} {h.mean():.3f}")
        boot = [np.mean([rng.choice(d, len(d)).mean() for d in diffs]) for _ in range(a.boot)]
        lo, hi = np.percentile(boot, [5, 95])
        print(f"{name}: " + ", ".join(row) + f"; pooled {np.mean([d.mean() for d in diffs]):+.4f} [{lo:+.4f}, {hi:+.4f}]")


if __name__ == "__main__":
    main()
