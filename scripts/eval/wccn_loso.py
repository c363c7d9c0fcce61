#!/usr/bin/env python3
"""Within-class covariance normalisation (WCCN) of the stored `songrec-mix@2` vectors, scored
leave one set out: for each evaluation set, the within-class scatter of every *other* labelled
set (and the `mixref` corpus, label = package) is shrunk toward a multiple of the identity,
S = (1 - a) * Sw + a * tr(Sw) / d * I, and the held-out set's vectors are mapped by S^(-1/2),
L2-normalised and ranked by cosine. a = 1 is the plain cosine. Prints p@5 per set and its
difference to plain cosine, and a paired bootstrap of the pooled difference (queries resampled).

Each LIB is a songrec library made by `songrec ingest SET` (label = the folder above each file):

    python3 scripts/eval/wccn_loso.py --train $SCRATCH/libs/mixref \\
        --eval $SCRATCH/libs/drums $SCRATCH/libs/g1 $SCRATCH/libs/g2 $SCRATCH/libs/g3 $SCRATCH/libs/h1 \\
        --alpha 1.0 0.97 0.95 0.9
"""
import argparse
import json
import os

import numpy as np


def load(lib):
    """Unit vectors of a library's `songrec-mix@2` `.npy` files and their labels (folder names)."""
    meta = json.load(open(f"{lib}/data/embeddings/metadata.json"))
    vecs, labels = [], []
    for sid, m in sorted(meta.items()):
        npy, ref = f"{lib}/data/embeddings/{sid}.npy", f"{lib}/data/audio/{m['content_hash']}.ref.json"
        if os.path.exists(npy) and os.path.exists(ref):
            labels.append(os.path.basename(os.path.dirname(json.load(open(ref))["path"])))
            vecs.append(np.load(npy).astype(np.float64).ravel())
    x = np.array(vecs)
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.array(labels)


def hits_at(sim, labels, k=5):
    """Per query, the share of its k nearest (itself left out) with its label."""
    sim = sim.copy()
    np.fill_diagonal(sim, -np.inf)
    top = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    return (labels[top] == labels[:, None]).mean(axis=1)


def whitener(sets, alpha):
    d = sets[0][0].shape[1]
    sw, n = np.zeros((d, d)), 0
    for x, labels in sets:
        for c in np.unique(labels):
            z = x[labels == c] - x[labels == c].mean(axis=0)
            sw += z.T @ z
        n += len(labels)
    sw /= n
    s = (1 - alpha) * sw + alpha * np.trace(sw) / d * np.eye(d)
    w, v = np.linalg.eigh(s)
    return v @ np.diag(1 / np.sqrt(w)) @ v.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", nargs="*", default=[], help="libraries only trained on")
    ap.add_argument("--eval", nargs="+", required=True, help="libraries scored, each held out in turn")
    ap.add_argument("--alpha", nargs="+", type=float, default=[1.0, 0.95])
    ap.add_argument("--boot", type=int, default=2000)
    a = ap.parse_args()
    data = {lib: load(lib) for lib in a.train + a.eval}
    base = {lib: hits_at(x @ x.T, labels) for lib, (x, labels) in ((l, data[l]) for l in a.eval)}
    rng = np.random.default_rng(0)
    for alpha in a.alpha:
        diffs, row = [], []
        for lib in a.eval:
            w = whitener([data[l] for l in a.train + a.eval if l != lib], alpha)
            x, labels = data[lib]
            y = x @ w
            y /= np.linalg.norm(y, axis=1, keepdims=True)
            h = hits_at(y @ y.T, labels)
            diffs.append(h - base[lib])
            row.append(f"{os.path.basename(lib)} {h.mean():.3f} ({h.mean() - base[lib].mean():+.3f})")
        # Pooled: the mean over sets of each set's mean difference, queries resampled per set.
        boot = [np.mean([rng.choice(dd, len(dd)).mean() for dd in diffs]) for _ in range(a.boot)]
        lo, hi = np.percentile(boot, [5, 95])
        pooled = np.mean([dd.mean() for dd in diffs])
        print(f"a={alpha}: " + "  ".join(row) + f"  | mean {pooled:+.3f} [{lo:+.3f}, {hi:+.3f}]")


if __name__ == "__main__":
    main()
