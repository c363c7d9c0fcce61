#!/usr/bin/env python3
"""The stereo image as a fourth part of the mix (RESULTS.md, "The stereo image"): per file (its
first 180 s, both channels; mono files count as centred), for 7 bands from 60 Hz to 8 kHz, the
median and spread over frames of the side-to-mid energy ratio (dB), the channels' coherence and
their balance; standardised with the `mixref` corpus (the files of `--ref-paths`, an npz with a
`paths` array such as texture_embed.py's mixref.npz), L2-normalised and added to each library's
stored vector with weights 0-1 relative to one part, the weight chosen leave one set out.

    python3 scripts/eval/stereo_part.py --libs $SCRATCH/libs4 --sets drums g1 g2 g3 h1 \\
        --set-root $SCRATCH/sets --ref-root $SCRATCH/mixref --ref-paths $SCRATCH/texture/mixref.npz

Needs numpy and soundfile."""
import argparse
import os
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paired_libs import hits_at, load  # noqa: E402

AUDIO = {".ogg", ".oga", ".mp3", ".wav", ".flac"}
EDGES = [60, 120, 250, 500, 1000, 2000, 4000, 8000]
WEIGHTS = [0.0, 0.15, 0.25, 0.35, 0.5, 0.75, 1.0]


def features(path, n=2048, hop=1024, eps=1e-10):
    x, sr = sf.read(str(path), dtype="float32", always_2d=True, frames=48000 * 180)
    x = np.repeat(x, 2, axis=1) if x.shape[1] == 1 else x[:, :2]
    if len(x) < n:
        x = np.vstack([x, np.zeros((n - len(x), 2), np.float32)])
    idx = np.arange(n)[None, :] + hop * np.arange(1 + (len(x) - n) // hop)[:, None]
    win = np.hanning(n).astype(np.float32)
    left, right = np.fft.rfft(x[idx, 0] * win, axis=1), np.fft.rfft(x[idx, 1] * win, axis=1)
    mid, side = (left + right) / 2, (left - right) / 2
    freqs = np.fft.rfftfreq(n, 1 / sr)
    out = []
    for lo, hi in zip(EDGES[:-1], EDGES[1:]):
        b = (freqs >= lo) & (freqs < hi)
        em, es = (np.abs(mid[:, b]) ** 2).sum(1), (np.abs(side[:, b]) ** 2).sum(1)
        el, er = (np.abs(left[:, b]) ** 2).sum(1), (np.abs(right[:, b]) ** 2).sum(1)
        loud = em + es > 1e-8 * (em + es).max() + eps
        loud = loud if loud.any() else np.ones_like(loud)
        ratio = 10 * np.log10((es[loud] + eps) / (em[loud] + eps))
        cross = np.abs((left[loud][:, b] * np.conj(right[loud][:, b])).sum())
        coherence = cross / np.sqrt(el[loud].sum() * er[loud].sum() + eps)
        balance = np.abs(10 * np.log10((el[loud].sum() + eps) / (er[loud].sum() + eps)))
        out += [np.median(ratio), ratio.std(), coherence, balance]
    return np.array(out, np.float32)


def features_of(root):
    files = sorted(p for p in Path(root).rglob("*") if p.suffix.lower() in AUDIO)
    return {os.path.realpath(f): features(f) for f in files}


def unit(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--libs", required=True)
    ap.add_argument("--sets", nargs="+", required=True)
    ap.add_argument("--set-root", required=True)
    ap.add_argument("--ref-root", required=True)
    ap.add_argument("--ref-paths", required=True)
    ap.add_argument("--boot", type=int, default=2000)
    a = ap.parse_args()
    keep = set(np.load(a.ref_paths)["paths"])
    ref = np.array([v for p, v in features_of(a.ref_root).items() if p in keep])
    mu, sd = ref.mean(0), np.maximum(ref.std(0), 1e-6)
    hits, alone = {w: {} for w in WEIGHTS}, {}
    for s in a.sets:
        st = features_of(f"{a.set_root}/{s}")
        mix = load(f"{a.libs}/{s}")
        paths = sorted(p for p in mix if os.path.realpath(p) in st)
        labels = np.array([os.path.basename(os.path.dirname(p)) for p in paths])
        x = np.array([mix[p] for p in paths])
        part = unit((np.array([st[os.path.realpath(p)] for p in paths]) - mu) / sd)
        alone[s] = hits_at(part, labels, 5).mean()
        for w in WEIGHTS:
            hits[w][s] = hits_at(unit(np.hstack([x, w * np.sqrt(1 / 3) * part])), labels, 5)
    for w in WEIGHTS:
        print(f"weight {w:4.2f}: " + ", ".join(f"{s} {hits[w][s].mean():.3f}" for s in a.sets))
    print("stereo part alone: " + ", ".join(f"{s} {alone[s]:.3f}" for s in a.sets))
    rng = np.random.default_rng(0)
    diffs = []
    for s in a.sets:
        others = [o for o in a.sets if o != s]
        w = max(WEIGHTS, key=lambda w: np.mean([hits[w][o].mean() for o in others]))
        diffs.append(hits[w][s] - hits[0.0][s])
        print(f"held out {s}: weight {w} chosen on the others, p@5 {diffs[-1].mean():+.3f}")
    boot = [np.mean([rng.choice(d, len(d)).mean() for d in diffs]) for _ in range(a.boot)]
    lo, hi = np.percentile(boot, [5, 95])
    print(f"leave one set out, pooled {np.mean([d.mean() for d in diffs]):+.4f} [{lo:+.4f}, {hi:+.4f}]")


if __name__ == "__main__":
    main()
