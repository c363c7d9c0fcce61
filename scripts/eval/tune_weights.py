#!/usr/bin/env python3
"""Tune the DSP embedder's group weights on raw-feature dumps (examples/eval.rs --dump).

Replicates DspEmbedder::normalise (z-score with the committed table, clamp +-5, group weight
w/sqrt(len), L2) and the leave-one-out cosine precision@k. Coordinate search over a grid
maximising the mean p@5 over the tuning sets; reports held-out sets separately.

Usage: tune_weights.py --norm crates/audio/src/norm_table.rs --tune a.jsonl b.jsonl --holdout c.jsonl
       [--weights 1,1,...]   (just evaluate given weights)
"""
import argparse
import json
import re

import numpy as np

GROUPS = [("mfcc_mean", 20), ("mfcc_std", 20), ("mfcc_delta", 13), ("spectral", 10), ("contrast", 14),
          ("harmony", 16), ("rhythm", 15), ("energy", 4), ("envelope", 8)]


def load_norm(path):
    s = open(path).read()
    arrs = []
    for name in ("RAW_MEAN", "RAW_STD"):
        body = s[s.index(name):]
        body = body[body.index("[", body.index("=")) + 1: body.index("];")]
        arrs.append(np.array([float(x) for x in re.findall(r"[-+0-9.eE]+", body)]))
    return arrs


def load(path):
    rows = [json.loads(l) for l in open(path)]
    return [r["label"] for r in rows], np.array([r["raw"] for r in rows])


def embed(X, mean, std, w):
    Z = np.clip((X - mean) / np.maximum(std, 1e-6), -5, 5)
    parts, i = [], 0
    for (name, n), wg in zip(GROUPS, w):
        parts.append(Z[:, i:i + n] * np.sqrt(max(wg, 0)) / np.sqrt(n))
        i += n
    V = np.concatenate(parts, axis=1)
    return V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)


def p_at_k(labels, V, k):
    labels = np.array(labels)
    S = V @ V.T
    np.fill_diagonal(S, -np.inf)
    n = len(labels)
    k = min(k, n - 1)
    idx = np.argsort(-S, axis=1, kind="stable")[:, :k]
    return float((labels[idx] == labels[:, None]).mean())


def score(sets, mean, std, w, k=5):
    return [p_at_k(l, embed(X, mean, std, w), k) for l, X in sets]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--norm", required=True)
    ap.add_argument("--tune", nargs="+", required=True)
    ap.add_argument("--holdout", nargs="*", default=[])
    ap.add_argument("--weights")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    mean, std = load_norm(a.norm)
    tune = [load(p) for p in a.tune]
    hold = [load(p) for p in a.holdout]
    w = [float(x) for x in a.weights.split(",")] if a.weights else [1.0] * len(GROUPS)

    def report(tag, w):
        t = score(tune, mean, std, w)
        h = score(hold, mean, std, w)
        print(f"{tag}: tune p@5 {['%.3f' % x for x in t]} mean {np.mean(t):.3f}"
              + (f" | holdout {['%.3f' % x for x in h]}" if h else ""))
        return np.mean(t)

    best = report("start", w)
    if a.weights:
        for k in (1, 5, 10):
            print(f"p@{k}", ["%.3f" % x for x in score(tune + hold, mean, std, w, k)])
        return
    grid = [0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0]
    for r in range(a.rounds):
        for g in range(len(GROUPS)):
            for v in grid:
                c = list(w)
                c[g] = v
                s = np.mean(score(tune, mean, std, c))
                if s > best + 1e-4:
                    best, w = s, c
        report(f"round {r}", w)
        print("weights", ",".join(f"{x:g}" for x in w))


if __name__ == "__main__":
    main()
