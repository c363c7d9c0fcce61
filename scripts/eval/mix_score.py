#!/usr/bin/env python3
"""Scores songrec's default embedder (`songrec-mix`) on the labelled sets, with the shipped
standardisation table, against its parts, the old default and librosa MFCC.

    python3 scripts/eval/mix_score.py --table crates/neural/models/mix/standardise.json \
        --sets target/scratch/sets --emb target/scratch/emb --parts target/scratch/mix \
        [--boot 2000] [--json out.json] drums g1 g2 g3

Inputs per set NAME: PARTS/NAME.jsonl (crates/neural/examples/mix_parts.rs: songrec's own
musicnn@2, aisfx pooled, songrec-dsp@2 and stored mix vectors) and EMB/NAME.npz
(ears_embed.py: the track list with identical files merged, and librosa MFCC mean+std). Rows
are matched by path; the npz's list decides which tracks count.

Rows scored (leave-one-out same-label precision@1/5/10, cosine):
  mix (shipped table)      the stored vector, computed here from the parts with --table; when
                           the dump was made by a build holding that table, the set's line says
                           how far songrec's own mix vectors are from it (max |python - rust|)
  mix (per-library z)      the same parts standardised over the scored set itself (reference)
  OLD auto                 0.7 musicnn@2 + 0.3 dsp@2 (0.4 under 5 s), ranked as songrec ranked it
  musicnn@2, dsp@2, aisfx (z, shipped table), librosa MFCC
Paired bootstrap (queries resampled, seed 1): 90 % interval of the p@5 difference, per set and
pooled (sets weighted equally).
"""
import argparse
import json
import os

import numpy as np

from ears_score import K, boot_diff, l2, pq, scores
from neural_quality import blend_query

PARTS = ("musicnn", "aisfx", "dsp")


def load(name, a, table):
    z = np.load(os.path.join(a.emb, name + ".npz"), allow_pickle=False)
    meta = json.loads(str(z["meta"]))
    want = [os.path.relpath(f["path"], os.path.join(a.sets, name)) for f in meta["files"]]
    rows = {}
    with open(os.path.join(a.parts, name + ".jsonl")) as f:
        for line in f:
            r = json.loads(line)
            rows[r["path"]] = r
    missing = [p for p in want if p not in rows]
    if missing:
        raise SystemExit(f"{name}: {len(missing)} tracks without parts, e.g. {missing[:3]}")
    R = [rows[p] for p in want]
    d = {"labels": np.array([r["label"] for r in R]), "dur": np.array([r["duration_secs"] for r in R]),
         "mfcc": z["mfcc"].astype(np.float64), "cpu": np.array([r["cpu_secs"] for r in R])}
    for p in PARTS:
        d[p] = np.array([r[p] for r in R], dtype=np.float64)
    d["mix_rust"] = np.array([r["mix"] for r in R], dtype=np.float64)
    d["mix"] = combine(d, table)
    return d


def zl2(X, mean, std):
    return l2((X - mean) / std)


def combine(d, table):
    s = np.sqrt(1.0 / len(PARTS))
    return np.hstack([s * zl2(d[p], np.array(t["mean"], dtype=np.float64), np.array(t["std"], dtype=np.float64))
                      for p, t in zip(PARTS, table)])


def auto_old(d):
    M, D = l2(d["musicnn"]), l2(d["dsp"])
    sims = (M @ M.T, D @ D.T)
    out = {}
    for k in K:
        out[k] = np.array([blend_query(d["labels"], q, sims, ((0.4, 0.6) if 0 < d["dur"][q] < 5 else (0.7, 0.3)), k)
                           for q in range(len(d["labels"]))])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", required=True)
    ap.add_argument("--sets", required=True)
    ap.add_argument("--emb", required=True)
    ap.add_argument("--parts", required=True)
    ap.add_argument("--boot", type=int, default=2000)
    ap.add_argument("--json")
    ap.add_argument("names", nargs="+")
    a = ap.parse_args()
    table = json.load(open(a.table))["parts"]
    R, out = {}, {"sets": {}, "rows": {}, "boot": {}}
    for n in a.names:
        d = load(n, a, table)
        gap = float(np.abs(d["mix"] - d["mix_rust"]).max())
        L = d["labels"]
        _, cnt = np.unique(L, return_counts=True)
        out["sets"][n] = {"tracks": int(len(L)), "labels": int(len(cnt)),
                          "chance": float((cnt * (cnt - 1)).sum() / (len(L) - 1) / len(L)),
                          "max |python - rust| of the mix vector": gap,
                          "cpu_secs_per_track_mean": float(d["cpu"].mean())}
        R[(n, "mix (shipped table)")] = scores(L, l2(d["mix"]))
        lib = {p: (d[p].mean(0), np.maximum(d[p].std(0), 1e-6)) for p in PARTS}
        per_lib = np.hstack([np.sqrt(1 / 3) * zl2(d[p], *lib[p]) for p in PARTS])
        R[(n, "mix, per-library z (reference)")] = scores(L, per_lib)
        R[(n, "OLD auto (0.7 musicnn@2 + 0.3 dsp@2)")] = auto_old(d)
        R[(n, "musicnn@2")] = scores(L, l2(d["musicnn"]))
        R[(n, "songrec-dsp@2")] = scores(L, l2(d["dsp"]))
        t = table[1]
        R[(n, "aisfx mean+max, z (shipped table)")] = scores(
            L, zl2(d["aisfx"], np.array(t["mean"]), np.array(t["std"])))
        R[(n, "librosa MFCC mean+std")] = scores(L, l2(d["mfcc"]))
    rows = sorted({r for _, r in R}, key=lambda r: [x for _, x in R].index(r))
    print("| row | " + " | ".join(f"{n} p@1 / p@5 / p@10" for n in a.names) + " | mean p@5 |")
    print("|---|" + "---|" * (len(a.names) + 1))
    for r in rows:
        cells = [" / ".join(f"{R[(n, r)][k].mean():.3f}" for k in K) for n in a.names]
        print(f"| {r} | " + " | ".join(cells) + f" | {np.mean([R[(n, r)][5].mean() for n in a.names]):.3f} |")
        out["rows"][r] = {n: {str(k): float(R[(n, r)][k].mean()) for k in K} for n in a.names}
    print()
    base = "mix (shipped table)"
    others = [r for r in rows if r != base and "per-library" not in r]
    print("p@5 difference, mix (shipped table) minus row: mean [5 %, 95 %]")
    print("| vs | " + " | ".join(a.names) + " | pooled |")
    print("|---|" + "---|" * (len(a.names) + 1))
    rng = np.random.default_rng(1)
    for r in others:
        cells = []
        for n in a.names:
            m, lo, hi = boot_diff(R[(n, base)][5], R[(n, r)][5], a.boot)
            cells.append(f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]")
            out["boot"].setdefault(r, {})[n] = [m, lo, hi]
        diffs = [R[(n, base)][5] - R[(n, r)][5] for n in a.names]
        pooled = [np.mean([x[rng.integers(0, len(x), len(x))].mean() for x in diffs]) for _ in range(a.boot)]
        m = float(np.mean([x.mean() for x in diffs]))
        cells.append(f"{m:+.3f} [{np.percentile(pooled, 5):+.3f}, {np.percentile(pooled, 95):+.3f}]")
        print(f"| {r} | " + " | ".join(cells) + " |")
    print()
    for n, s in out["sets"].items():
        print(f"{n}: {s}")
    if a.json:
        json.dump(out, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
