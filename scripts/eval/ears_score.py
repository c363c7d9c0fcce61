#!/usr/bin/env python3
"""Scores the "Better ears" candidates (issue 30) on ears_embed.py outputs, leave-one-set-out.

    python scripts/eval/ears_score.py [--dsp NAME=DUMP.jsonl ...] [--base DIR] [--boot 1000]
        [--json out.json] NAME=EMB.npz [NAME=EMB.npz ...]

--dsp: eval_neural dumps (crates/neural/examples/eval_neural.rs --dump) of the same sets, for the
songrec-dsp@2 vector (matched by label and file name; --base = the folder eval_neural ran in).

Parts (each one vector per track): musicnn@2 (400), aisfx block-8/20 mean, max, mean+max
(512/512/1024), VGG pair pool5 means (512, if computed), librosa MFCC mean+std (40), dsp@2.
Single parts are ranked by cosine of the L2-normalised vector ("raw") and of the z-scored then
L2-normalised vector ("z", per-dimension mean/std). A combination is the concatenation of
sqrt(w_i) * L2(z_i(part_i)) (cosine = sum_i w_i cos_i), with the z statistics either from the
scored set itself ("per-library") or from the other sets ("fixed": pooled tracks of the sets not
being scored, i.e. a table from a disjoint corpus). The old default `auto` = 0.7 musicnn@2 +
0.3 dsp@2 (0.4 for queries < 5 s) is ranked as neural_quality.py does (pool union, per-model
z-scored cosines).

Metrics: same-label precision@1/5/10, leave-one-out over the set (the query excluded),
identical files counted once (ears_embed.py dedups). Weights: for each held-out set, the grid
(step 0.1, sum 1) maximising the mean p@5 of the OTHER sets; reported on the held-out set.
Paired bootstrap over the queries (B resamples, seed 1): 90 % interval of the p@5 difference.
"""
import argparse
import itertools
import json
import os
from pathlib import Path

import numpy as np

from neural_quality import blend_query  # same folder: songrec's blend ranking

K = (1, 5, 10)


def l2(X):
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def pq(labels, S, k):
    S = S.copy()
    np.fill_diagonal(S, -np.inf)
    idx = np.argsort(-S, axis=1, kind="stable")[:, :k]
    return (labels[idx] == labels[:, None]).sum(1) / k


def load_set(path, dsp_dump=None, base="."):
    z = np.load(path, allow_pickle=False)
    meta = json.loads(str(z["meta"]))
    d = {"labels": z["labels"], "dur": z["dur"], "files": meta["files"], "cost": meta["cost_cpu_secs"],
         "n": meta["n"], "parts": {}}
    P = d["parts"]
    P["musicnn"] = z["musicnn"]
    P["mfcc"] = z["mfcc"]
    if "vgg" in z.files:
        P["vgg"] = z["vgg"]
    for b in (8, 20):
        if "aisfx_blocks%d" % b not in z.files:
            continue
        blocks, counts = z["aisfx_blocks%d" % b].astype(np.float64), z["aisfx_count%d" % b]
        offs = np.concatenate([[0], np.cumsum(counts)])
        per = [blocks[offs[i]:offs[i + 1]] for i in range(len(counts))]
        P["aisfx%d_mean" % b] = np.array([x.mean(0) for x in per])
        P["aisfx%d_max" % b] = np.array([x.max(0) for x in per])
        P["aisfx%d_meanmax" % b] = np.hstack([P["aisfx%d_mean" % b], P["aisfx%d_max" % b]])
    if dsp_dump:
        by = {}
        for line in open(dsp_dump):
            r = json.loads(line)
            by[(r["label"], os.path.basename(r["path"]))] = r
        rows = [by.get((f["label"], os.path.basename(f["path"]))) for f in d["files"]]
        missing = sum(r is None for r in rows)
        if missing:
            print(f"{path}: {missing} tracks not in {dsp_dump}; dsp left out")
        else:
            P["dsp"] = np.array([r["dsp"] for r in rows], dtype=np.float64)
            P["musicnn_rust"] = np.array([r["musicnn"][0]["vector"] for r in rows], dtype=np.float64)
    return d


def stats(Xs):
    X = np.vstack(Xs)
    return X.mean(0), np.maximum(X.std(0), 1e-6)


def zl2(X, st):
    return l2((X - st[0]) / st[1])


def combo(d, parts, w, st):
    """Concatenation of sqrt(w) * L2(z(part)); st: {part: (mean, std)}."""
    return np.hstack([np.sqrt(wi) * zl2(d["parts"][p], st[p]) for p, wi in zip(parts, w) if wi > 0])


def scores(labels, V):
    S = V @ V.T
    return {k: pq(labels, S, k) for k in K}


def auto_old(d, w_song=0.7, w_short=0.4):
    # the shipped default: songrec's own musicnn@2 vector (Rust dump) when present
    M = l2(d["parts"].get("musicnn_rust", d["parts"]["musicnn"]))
    D = l2(d["parts"]["dsp"])
    sims = (M @ M.T, D @ D.T)
    short = (d["dur"] > 0) & (d["dur"] < 5.0)
    out = {}
    for k in K:
        out[k] = np.array([blend_query(d["labels"], q, sims, ((w_short if short[q] else w_song),
                                                            1 - (w_short if short[q] else w_song)), k)
                           for q in range(len(d["labels"]))])
    return out


def grid(n, step=0.1):
    m = int(round(1 / step))
    for c in itertools.product(range(m + 1), repeat=n):
        if sum(c) == m:
            yield tuple(x / m for x in c)


def boot_diff(a, b, B, seed=1):
    rng = np.random.default_rng(seed)
    n = len(a)
    d = a - b
    m = np.array([d[rng.integers(0, n, n)].mean() for _ in range(B)])
    return float(d.mean()), float(np.percentile(m, 5)), float(np.percentile(m, 95))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sets", nargs="+")
    ap.add_argument("--dsp", nargs="*", default=[])
    ap.add_argument("--base", default=".")
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--json")
    ap.add_argument("--aisfx", default="aisfx8_meanmax", help="the aisfx variant used in combinations")
    a = ap.parse_args()
    dsp = dict(s.split("=", 1) for s in a.dsp)
    sets = {}
    for s in a.sets:
        name, path = s.split("=", 1)
        sets[name] = load_set(path, dsp.get(name), a.base)
    names = list(sets)
    have = set.intersection(*[set(d["parts"]) for d in sets.values()])
    out = {"sets": {}, "singles": {}, "candidates": {}, "loso": {}, "cost": {}}
    R = {}   # (set, row) -> {k: per-query array}

    # ---- single parts, raw and z (per-library)
    singles = [p for p in ["musicnn", "musicnn_rust", "dsp", "vgg", "mfcc",
                           "aisfx8_mean", "aisfx8_max", "aisfx8_meanmax",
                           "aisfx20_mean", "aisfx20_max", "aisfx20_meanmax"] if p in have]
    for n, d in sets.items():
        L = d["labels"]
        _, cnt = np.unique(L, return_counts=True)
        out["sets"][n] = {"tracks": int(len(L)), "labels": int(len(cnt)),
                          "chance": float((cnt * (cnt - 1)).sum() / (len(L) - 1) / len(L))}
        for p in singles:
            X = d["parts"][p]
            R[(n, p + " raw")] = scores(L, l2(X))
            R[(n, p + " z")] = scores(L, zl2(X, stats([X])))
        if "dsp" in have:
            R[(n, "OLD auto 0.7 musicnn@2 + 0.3 dsp@2")] = auto_old(d)

    # ---- combinations: fixed (other sets' stats) vs per-library stats, equal weights
    ais = a.aisfx
    combos = {"musicnn+aisfx": ["musicnn", ais]}
    if "dsp" in have:
        combos["musicnn+aisfx+dsp"] = ["musicnn", ais, "dsp"]
        combos["musicnn+dsp"] = ["musicnn", "dsp"]
        combos["aisfx+dsp"] = [ais, "dsp"]
    if "vgg" in have:
        combos["musicnn+aisfx+vgg"] = ["musicnn", ais, "vgg"]
        combos["musicnn+vgg"] = ["musicnn", "vgg"]
        if "dsp" in have:
            combos["musicnn+aisfx+vgg+dsp"] = ["musicnn", ais, "vgg", "dsp"]
    for n, d in sets.items():
        others = [sets[m] for m in names if m != n]
        for cname, parts in combos.items():
            eq = tuple([1 / len(parts)] * len(parts))
            st_lib = {p: stats([d["parts"][p]]) for p in parts}
            st_fix = {p: stats([o["parts"][p] for o in others]) for p in parts}
            R[(n, cname + " equal, per-library z")] = scores(d["labels"], combo(d, parts, eq, st_lib))
            R[(n, cname + " equal, fixed z")] = scores(d["labels"], combo(d, parts, eq, st_fix))

    # ---- PCA-reduced equal-weight combinations: z tables and PCA basis from the other sets
    for n, d in sets.items():
        others = [sets[m] for m in names if m != n]
        for cname, parts in combos.items():
            if "vgg" in cname:
                continue
            eq = tuple([1 / len(parts)] * len(parts))
            st_fix = {p: stats([o["parts"][p] for o in others]) for p in parts}
            O = np.vstack([combo(o, parts, eq, st_fix) for o in others])
            mu = O.mean(0)
            _, _, Vt = np.linalg.svd(O - mu, full_matrices=False)
            V = combo(d, parts, eq, st_fix)
            for dim in (64, 128):
                if dim < Vt.shape[0]:
                    R[(n, cname + f" equal, fixed z, PCA {dim}")] = scores(d["labels"], l2((V - mu) @ Vt[:dim].T))

    # ---- leave-one-set-out weights (fixed z from the other sets, as shipped tables would be)
    for cname, parts in combos.items():
        if len(parts) < 2:
            continue
        table = {}
        for n, d in sets.items():
            others = [sets[m] for m in names if m != n]
            st_fix = {p: stats([o["parts"][p] for o in others]) for p in parts}
            Z = {p: zl2(d["parts"][p], st_fix[p]) for p in parts}
            Sp = {p: Z[p] @ Z[p].T for p in parts}
            for w in grid(len(parts)):
                S = sum(wi * Sp[p] for p, wi in zip(parts, w))
                table[(n, w)] = pq(d["labels"], S, 5).mean()
        for n, d in sets.items():
            tune = [m for m in names if m != n]
            best = max(grid(len(parts)), key=lambda w: (round(np.mean([table[(m, w)] for m in tune]), 6),
                                                       -max(w) + min(w)))
            others = [sets[m] for m in names if m != n]
            st_fix = {p: stats([o["parts"][p] for o in others]) for p in parts}
            R[(n, cname + " LOSO weights, fixed z")] = scores(d["labels"], combo(d, parts, best, st_fix))
            out["loso"].setdefault(cname, {})[n] = {"weights": dict(zip(parts, best)),
                                                    "held_out_p5": float(R[(n, cname + " LOSO weights, fixed z")][5].mean()),
                                                    "tuned_mean_p5": float(np.mean([table[(m, best)] for m in tune]))}
        allbest = max(grid(len(parts)), key=lambda w: (round(np.mean([table[(m, w)] for m in names]), 6), -max(w) + min(w)))
        out["loso"][cname]["all_sets"] = dict(zip(parts, allbest))

    # ---- print tables
    rows = sorted({r for (_, r) in R}, key=lambda r: list(dict.fromkeys(r2 for (_, r2) in R)).index(r))
    for n in names:
        s = out["sets"][n]
        print(f"\n## {n}: {s['tracks']} tracks, {s['labels']} labels, chance p@5 {s['chance']:.3f}")
        print("| row | p@1 | p@5 | p@10 |\n|---|---|---|---|")
        for r in rows:
            if (n, r) in R:
                v = R[(n, r)]
                print(f"| {r} | {v[1].mean():.3f} | {v[5].mean():.3f} | {v[10].mean():.3f} |")
                out["candidates"].setdefault(r, {})[n] = {str(k): float(v[k].mean()) for k in K}
    print("\n## mean p@5 over sets")
    for r in rows:
        vals = [R[(n, r)][5].mean() for n in names if (n, r) in R]
        if len(vals) == len(names):
            print(f"| {r} | {np.mean(vals):.3f} |")

    # ---- paired bootstrap of p@5 vs references
    refs = [r for r in ["OLD auto 0.7 musicnn@2 + 0.3 dsp@2", "musicnn raw", "dsp raw", ais + " raw"]
            if all((n, r) in R for n in names)]
    print(f"\n## paired bootstrap ({a.boot} resamples): p@5 difference, mean [5 %, 95 %]")
    for n in names:
        print(f"\n### {n}\n| row | " + " | ".join("vs " + r for r in refs) + " |\n|---|" + "---|" * len(refs))
        for r in rows:
            if (n, r) not in R or "LOSO" not in r and "equal" not in r:
                continue
            cells = []
            for ref in refs:
                m, lo, hi = boot_diff(R[(n, r)][5], R[(n, ref)][5], a.boot)
                cells.append(f"{m:+.3f} [{lo:+.3f}, {hi:+.3f}]")
                out.setdefault("boot", {}).setdefault(n, {}).setdefault(r, {})[ref] = [m, lo, hi]
            print(f"| {r} | " + " | ".join(cells) + " |")
    print("\n## LOSO weights")
    for c, v in out["loso"].items():
        print(c, json.dumps(v))
    print("\n## CPU seconds per track (1 thread), per set")
    for n, d in sets.items():
        c = {k: round(v / d["n"], 4) for k, v in d["cost"].items()}
        out["cost"][n] = c
        print(n, json.dumps(c))
    if a.json:
        json.dump(out, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
