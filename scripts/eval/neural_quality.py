#!/usr/bin/env python3
"""Raw vs standardised musicnn, blends and `auto` on eval_neural dumps, with bootstrap spread,
and leave-one-set-out choice of the `auto` neural weights.

Input: one dump per labelled set from
    cargo run --release -p songrec-benches --example eval_neural -- SET --dump SET.jsonl
(each line: label, path, duration_secs, dsp vector, musicnn[0].pooled = mean penultimate over
the patches before any normalisation). This replicates `songrec eval`: identical files (same
bytes) count once, leave-one-out cosine ranking, same-label precision@k; `auto` gives a query
of duration < 5 s the short-clip neural weight, else the song weight, and ranks a blend like
songrec_rank::search: the union of each model's top pool_size(10) = 50 candidates,
each model's cosines z-scored over that pool, ranked by w*z(musicnn) + (1-w)*z(dsp).

    raw          musicnn@1: L2(pooled)
    std          musicnn@2: L2((pooled - POOLED_MEAN) / POOLED_STD), table from --norm

Spread: B bootstrap resamples of the queries (the gallery stays the whole set); mean, std and
the 5-95 % interval of p@5, and of the paired difference std - raw.

Leave-one-set-out: for each set, (w_song, w_short) on a 0.1 grid maximising the mean p@5 of
the OTHER sets (ties: closest to the current defaults), reported on the held-out set.

Usage: neural_quality.py --norm crates/neural/src/norm_table.rs [--boot 200] [--json out.json]
       [--base DIR] NAME=DUMP.jsonl [NAME=DUMP.jsonl ...]
(--base: the folder eval_neural ran in, for the relative file paths in the dumps; default ".")
"""
import argparse
import hashlib
import json
import os
import re

import numpy as np

SHORT_CLIP_SECS = 5.0
CURRENT = (0.7, 0.4)  # AUTO_BLEND, AUTO_BLEND_SHORT before this change
GRID = [round(0.1 * i, 1) for i in range(11)]


def load_norm(path):
    s = open(path).read()
    arrs = []
    for name in ("POOLED_MEAN", "POOLED_STD"):
        body = s[s.index(name):]
        body = body[body.index("[", body.index("=")) + 1: body.index("];")]
        arrs.append(np.array([float(x) for x in re.findall(r"[-+0-9.eE]+", body)], dtype=np.float64))
    return arrs


def l2(X):
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


def load(path, mean, std, base="."):
    rows, seen = [], set()
    for line in open(path):
        r = json.loads(line)
        h = hashlib.sha256(open(os.path.join(base, r["path"]), "rb").read()).hexdigest()
        if h in seen:
            continue
        seen.add(h)
        rows.append(r)
    pooled = np.array([r["musicnn"][0]["pooled"] for r in rows], dtype=np.float64)
    # musicnn@2 dumps: `vector` is the stored 400-d MSD+MTT vector and `pooled` the two
    # networks' means; the table standardises MSD's half (the first 200 values).
    stored = np.array([r["musicnn"][0].get("vector") or [] for r in rows], dtype=np.float64)
    raw = l2(stored) if stored.shape[1:] == (400,) else l2(pooled)
    return {
        "labels": np.array([r["label"] for r in rows]),
        "dur": np.array([r["duration_secs"] for r in rows]),
        "dsp": l2(np.array([r["dsp"] for r in rows], dtype=np.float64)),
        "raw": raw,
        "std": l2((pooled[:, : len(mean)] - mean) / std),
    }


def per_query(labels, S, k=5):
    """Same-label precision@k of every query for similarity matrix S (query itself excluded)."""
    S = S.copy()
    np.fill_diagonal(S, -np.inf)
    idx = np.argsort(-S, axis=1, kind="stable")[:, :k]
    return (labels[idx] == labels[:, None]).sum(1) / k


POOL = 50  # songrec_rank::pool_size(k = 10, offset 0)


def blend_rank(labels, q, sims, weights):
    """The candidates of query q in blended order, as songrec ranks them (pool union, per-model
    z-scores)."""
    n = len(labels)
    cand = set()
    for S in sims:
        row = S[q].copy()
        row[q] = -np.inf
        cand.update(np.argsort(-row, kind="stable")[:min(POOL, n - 1)].tolist())
    cand = np.array(sorted(cand))
    z = np.zeros(len(cand))
    for S, w in zip(sims, weights):
        x = S[q, cand]
        sd = x.std()
        if sd > 1e-9:
            z += w * (x - x.mean()) / sd
    return cand[np.argsort(-z, kind="stable")]


def blend_query(labels, q, sims, weights, k=5):
    """p@k of query q for a blend, ranked as songrec does."""
    top = blend_rank(labels, q, sims, weights)[:k]
    return (labels[top] == labels[q]).sum() / k


def auto_p5(d, neural, w_song, w_short, k=5):
    """Per-query p@k of `auto`: neural weight from the query's duration."""
    M, D = d[neural] @ d[neural].T, d["dsp"] @ d["dsp"].T
    short = (d["dur"] > 0) & (d["dur"] < SHORT_CLIP_SECS)
    out = np.empty(len(d["labels"]))
    for q in range(len(out)):
        w = w_short if short[q] else w_song
        out[q] = blend_query(d["labels"], q, (M, D), (w, 1 - w), k)
    return out


def choose_weights(table, tune):
    """The (w_song, w_short) of GRID with the best mean p@5 over the sets `tune`, from `table`
    {(set, w_song, w_short): p@5}; ties go to the weights closest to CURRENT."""
    best = None
    for ws in GRID:
        for wsh in GRID:
            s = np.mean([table[(n, ws, wsh)] for n in tune])
            key = (round(s, 6), -abs(ws - CURRENT[0]) - abs(wsh - CURRENT[1]))
            if best is None or key > best[0]:
                best = (key, (ws, wsh))
    return best[1]


def boot(x, B, rng_seed=1):
    rng = np.random.default_rng(rng_seed)
    n = len(x)
    m = np.array([x[rng.integers(0, n, n)].mean() for _ in range(B)])
    return m.mean(), m.std(), np.percentile(m, 5), np.percentile(m, 95)


def fmt(b):
    return f"{b[0]:.3f} ± {b[1]:.3f} [{b[2]:.3f}, {b[3]:.3f}]"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--norm", required=True)
    ap.add_argument("--boot", type=int, default=200)
    ap.add_argument("--neural", default="std", choices=["raw", "std"],
                    help="musicnn variant used by blends/auto and the weight search")
    ap.add_argument("--json")
    ap.add_argument("--base", default=".")
    ap.add_argument("sets", nargs="+")
    a = ap.parse_args()
    mean, std = load_norm(a.norm)
    sets = {}
    for s in a.sets:
        name, path = s.split("=", 1)
        sets[name] = load(path, mean, std, a.base)
    out = {"sets": {}, "loso": {}}
    print(f"bootstrap over queries, {a.boot} resamples: mean ± std [5 %, 95 %] of p@5")
    for name, d in sets.items():
        L = d["labels"]
        _, counts = np.unique(L, return_counts=True)
        chance = float((counts * (counts - 1)).sum() / (len(L) - 1) / len(L))
        rows = {
            "dsp": per_query(L, d["dsp"] @ d["dsp"].T),
            "musicnn raw": per_query(L, d["raw"] @ d["raw"].T),
            "musicnn std": per_query(L, d["std"] @ d["std"].T),
        }
        for nv in ("raw", "std"):
            rows[f"auto {CURRENT} {nv}"] = auto_p5(d, nv, *CURRENT)
        print(f"\n{name}: {len(L)} files, {len(counts)} labels, chance {chance:.3f}")
        res = {"files": len(L), "labels": len(counts), "chance": chance, "rows": {}}
        for k, v in rows.items():
            b = boot(v, a.boot)
            res["rows"][k] = {"p5": float(v.mean()), "boot": [float(x) for x in b]}
            print(f"  {k:28s} p@5 {v.mean():.3f}   boot {fmt(b)}")
        diff = rows["musicnn std"] - rows["musicnn raw"]
        b = boot(diff, a.boot)
        res["std_minus_raw"] = {"p5": float(diff.mean()), "boot": [float(x) for x in b]}
        print(f"  {'std - raw (paired)':28s} {diff.mean():+.3f}   boot {fmt(b)}")
        out["sets"][name] = res

    # Leave-one-set-out choice of the auto weights.
    table = {}
    for name, d in sets.items():
        for ws in GRID:
            for wsh in GRID:
                table[(name, ws, wsh)] = auto_p5(d, a.neural, ws, wsh).mean()
    print(f"\nleave-one-set-out auto weights (musicnn {a.neural}; (w_song, w_short) on a 0.1 grid)")
    names = list(sets)

    def choose(tune):
        return choose_weights(table, tune)

    for held in names:
        tune = [n for n in names if n != held]
        w = choose(tune)
        d = sets[held]
        chosen = auto_p5(d, a.neural, *w)
        cur = auto_p5(d, a.neural, *CURRENT)
        diff = boot(chosen - cur, a.boot)
        out["loso"][held] = {"chosen": w, "p5_chosen": float(chosen.mean()), "p5_current": float(cur.mean()),
                             "boot_chosen": [float(x) for x in boot(chosen, a.boot)],
                             "diff_boot": [float(x) for x in diff]}
        print(f"  hold out {held:10s} tuned on the other {len(tune)}: chosen {w}  held-out p@5 "
              f"{chosen.mean():.3f} (current {CURRENT}: {cur.mean():.3f}; diff {fmt(diff)})")
    w_all = choose(names)
    out["all_sets_choice"] = w_all
    print(f"  tuned on all sets (in-sample): {w_all}")
    if a.json:
        json.dump(out, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
