#!/usr/bin/env python3
"""Baseline: librosa MFCC statistics (mean + std of 20 MFCCs, librosa defaults, 22050 Hz mono),
compared by cosine; leave-one-out same-label precision@1/5/10 on a labelled folder
(sub-folder name = label). Same definition as songrec_audio::precision_at_k.

Usage: librosa_baseline.py <labelled-dir> [<labelled-dir> ...]
"""
import sys
import warnings
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore")
import librosa  # noqa: E402


def features(path):
    y, sr = librosa.load(str(path), sr=22050, mono=True)
    m = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
    return np.concatenate([m.mean(axis=1), m.std(axis=1)])


def precision_at_k(labels, X, k):
    Xn = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    S = Xn @ Xn.T
    n = len(labels)
    k = min(k, n - 1)
    total = 0.0
    for i in range(n):
        s = S[i].copy()
        s[i] = -np.inf
        order = sorted(range(n), key=lambda j: (-s[j], j))[:k]
        total += sum(labels[j] == labels[i] for j in order) / k
    return total / n


def main():
    for d in sys.argv[1:]:
        labels, feats = [], []
        for sub in sorted(Path(d).iterdir()):
            if not sub.is_dir():
                continue
            for f in sorted(sub.iterdir()):
                try:
                    feats.append(features(f))
                    labels.append(sub.name)
                except Exception as e:  # noqa: BLE001
                    print(f"skipped {f}: {e}", file=sys.stderr)
        X = np.array(feats)
        ps = [precision_at_k(labels, X, k) for k in (1, 5, 10)]
        print(f"librosa-mfcc {d}: n={len(labels)} p@1={ps[0]:.3f} p@5={ps[1]:.3f} p@10={ps[2]:.3f}")


if __name__ == "__main__":
    main()
