#!/usr/bin/env python3
"""Quality of songrec-mix variants (int8 aisfx, block and patch counts) on labelled sets, with
their CPU cost, from `mix_parts` dumps; the counts are chosen out of sample (leave one set out).

    python3 scripts/eval/speed_score.py --table crates/neural/models/mix/standardise.json --sets $SCRATCH/sets \\
        --parts $SCRATCH/parts --base f32-b6-p8 --boot 2000 [--mfcc $SCRATCH/mfcc] drums g1 g2 g3 h1

PARTS/VARIANT/SET.jsonl per variant (each a `mix_parts` run; the variant's name is its folder).
Identical files (same bytes) count once. Leave-one-out same-label precision@1/5/10 (cosine) of
each variant's mix vector (recombined here from its parts with --table, which is what songrec
stores) and of each part alone; paired bootstrap (queries resampled, seed 1) of the p@5
difference against --base, per set and pooled (sets weighted equally). With --mfcc, MFCC/SET.npy
rows (librosa MFCC mean+std, in the order of the parts file's paths) are scored too.
"""
import argparse
import hashlib
import json
import os

import numpy as np

K = (1, 5, 10)
PARTS = ("musicnn", "aisfx", "dsp")


def l2(X):
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def pq(labels, V, k):
    S = V @ V.T
    np.fill_diagonal(S, -np.inf)
    idx = np.argsort(-S, axis=1, kind="stable")[:, :k]
    return (labels[idx] == labels[:, None]).mean(1)


def load(path, sets, name):
    rows = [json.loads(line) for line in open(path)]
    seen, keep = set(), []
    for r in sorted(rows, key=lambda r: r["path"]):
        h = hashlib.sha256(open(os.path.join(sets, name, r["path"]), "rb").read()).hexdigest()
        if h not in seen:
            seen.add(h)
            keep.append(r)
    d = {"paths": [r["path"] for r in keep], "labels": np.array([r["label"] for r in keep]),
         "cpu": np.array([r["cpu_secs"] for r in keep]), "dur": np.array([r["duration_secs"] for r in keep])}
    for p in PARTS:
        d[p] = np.array([r[p] for r in keep], dtype=np.float64)
    return d


def mix(d, table):
    s = np.sqrt(1.0 / len(PARTS))
    return np.hstack([s * l2((d[p] - np.array(t["mean"])) / np.array(t["std"])) for p, t in zip(PARTS, table)])


def boot(a, b, B, rng):
    d = a - b
    m = np.array([d[rng.integers(0, len(d), len(d))].mean() for _ in range(B)])
    return float(d.mean()), float(np.percentile(m, 5)), float(np.percentile(m, 95))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", required=True)
    ap.add_argument("--sets", required=True)
    ap.add_argument("--parts", required=True)
    ap.add_argument("--base", required=True)
    ap.add_argument("--boot", type=int, default=2000)
    ap.add_argument("--mfcc")
    ap.add_argument("--json")
    ap.add_argument("names", nargs="+")
    a = ap.parse_args()
    table = json.load(open(a.table))["parts"]
    variants = sorted(v for v in os.listdir(a.parts) if all(
        os.path.exists(os.path.join(a.parts, v, n + ".jsonl")) for n in a.names))
    R, cpu, out = {}, {}, {"rows": {}, "boot": {}, "cpu": {}, "sets": {}}
    for n in a.names:
        ref_paths = None
        for v in variants:
            d = load(os.path.join(a.parts, v, n + ".jsonl"), a.sets, n)
            if ref_paths is None:
                ref_paths = d["paths"]
                out["sets"][n] = {"tracks": len(d["paths"]), "labels": int(len(set(d["labels"])))}
            assert d["paths"] == ref_paths, f"{v}/{n}: other tracks than {variants[0]}"
            L = d["labels"]
            R[(n, f"mix {v}")] = {k: pq(L, l2(mix(d, table)), k) for k in K}
            R[(n, f"musicnn {v}")] = {k: pq(L, l2(d["musicnn"]), k) for k in K}
            t = table[1]
            R[(n, f"aisfx {v}")] = {k: pq(L, l2((d["aisfx"] - np.array(t["mean"])) / np.array(t["std"])), k) for k in K}
            R[(n, "songrec-dsp@2")] = {k: pq(L, l2(d["dsp"]), k) for k in K}
            cpu[(n, v)] = float(d["cpu"].mean())
        if a.mfcc:
            M = np.load(os.path.join(a.mfcc, n + ".npz"))
            idx = [list(M["paths"]).index(p) for p in ref_paths]
            R[(n, "librosa MFCC mean+std")] = {k: pq(L, l2(M["mfcc"][idx].astype(np.float64)), k) for k in K}
    rows = list(dict.fromkeys(r for _, r in R))
    print("| row | " + " | ".join(f"{n} ({out['sets'][n]['tracks']})" for n in a.names) + " | mean p@5 | CPU s/track |")
    print("|---|" + "---|" * (len(a.names) + 2))
    for r in rows:
        cells = [" / ".join(f"{R[(n, r)][k].mean():.3f}" for k in K) for n in a.names]
        v = r.split(" ", 1)[1] if r.startswith("mix ") else None
        c = f"{np.mean([cpu[(n, v)] for n in a.names]):.3f}" if v else ""
        print(f"| {r} | " + " | ".join(cells) + f" | {np.mean([R[(n, r)][5].mean() for n in a.names]):.3f} | {c} |")
        out["rows"][r] = {n: {str(k): float(R[(n, r)][k].mean()) for k in K} for n in a.names}
    out["cpu"] = {f"{n}/{v}": c for (n, v), c in cpu.items()}
    print(f"\np@5 difference, row minus mix {a.base}: mean [5 %, 95 %], {a.boot} resamples")
    print("| row | " + " | ".join(a.names) + " | pooled |")
    print("|---|" + "---|" * (len(a.names) + 1))
    base = f"mix {a.base}"
    rng = np.random.default_rng(1)
    for r in rows:
        if r == base:
            continue
        cells = []
        for n in a.names:
            m, lo, hi = boot(R[(n, r)][5], R[(n, base)][5], a.boot, rng)
            cells.append(f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]")
            out["boot"].setdefault(r, {})[n] = [m, lo, hi]
        diffs = [R[(n, r)][5] - R[(n, base)][5] for n in a.names]
        pooled = [np.mean([x[rng.integers(0, len(x), len(x))].mean() for x in diffs]) for _ in range(a.boot)]
        cells.append(f"{np.mean([x.mean() for x in diffs]):+.3f} [{np.percentile(pooled, 5):+.3f}, {np.percentile(pooled, 95):+.3f}]")
        print(f"| {r} | " + " | ".join(cells) + " |")
    mixes = [r for r in rows if r.startswith("mix ")]
    print("\nleave one set out: the variant with the best mean p@5 on the other sets, scored on the held-out one")
    for n in a.names:
        others = [m for m in a.names if m != n]
        best = max(mixes, key=lambda r: np.mean([R[(m, r)][5].mean() for m in others]))
        print(f"  {n}: chosen {best} -> p@5 {R[(n, best)][5].mean():.3f} (base {R[(n, base)][5].mean():.3f})")
    if a.json:
        json.dump(out, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
