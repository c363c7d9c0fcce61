#!/usr/bin/env python3
"""Paired before/after precision@5 of two songrec-dsp dumps of the same labelled set.

    python3 scripts/eval/dsp_compare.py before.jsonl after.jsonl [--boot 200]

Each dump comes from `examples/eval <set> --dump FILE` (one JSON line per file: label, path,
raw features and the final `vector`). Files are matched by path. Prints leave-one-out
same-label p@1/5/10 (cosine) for both, and the paired difference of p@5 with its spread over
bootstrap resamples of the queries (the gallery stays the whole set): mean ± std [5 %, 95 %].
"""
import argparse
import json

import numpy as np


def load(path):
    rows = [json.loads(line) for line in open(path)]
    return {r["path"]: (r["label"], np.asarray(r["vector"], dtype=np.float64)) for r in rows}


def per_query(labels, X, k):
    X = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    S = X @ X.T
    np.fill_diagonal(S, -np.inf)
    out = np.zeros(len(labels))
    lab = np.asarray(labels)
    for i in range(len(labels)):
        nn = np.argsort(-S[i], kind="stable")[:k]
        out[i] = np.mean(lab[nn] == lab[i])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--boot", type=int, default=200)
    a = ap.parse_args()
    b, c = load(a.before), load(a.after)
    paths = sorted(set(b) & set(c))
    labels = [b[p][0] for p in paths]
    Xb = np.stack([b[p][1] for p in paths])
    Xc = np.stack([c[p][1] for p in paths])
    res = {}
    for k in (1, 5, 10):
        res[k] = (per_query(labels, Xb, k), per_query(labels, Xc, k))
    pb, pc = res[5]
    rng = np.random.default_rng(1)
    n = len(paths)
    idx = rng.integers(0, n, size=(a.boot, n))
    d = (pc - pb)[idx].mean(axis=1)
    sb = pb[idx].mean(axis=1)
    print(f"{n} files (before {len(b)}, after {len(c)})")
    print("before p@1/5/10: " + " / ".join(f"{res[k][0].mean():.3f}" for k in (1, 5, 10))
          + f"  (p@5 ± {sb.std():.3f})")
    print("after  p@1/5/10: " + " / ".join(f"{res[k][1].mean():.3f}" for k in (1, 5, 10)))
    print(f"after - before p@5: {(pc - pb).mean():+.3f} ± {d.std():.3f} "
          f"[{np.percentile(d, 5):+.3f}, {np.percentile(d, 95):+.3f}]")
    cos = np.sum(Xb * Xc, axis=1) / (np.linalg.norm(Xb, axis=1) * np.linalg.norm(Xc, axis=1))
    print(f"cosine(before, after) per file: min {cos.min():.4f} median {np.median(cos):.4f}")


if __name__ == "__main__":
    main()
