#!/usr/bin/env python3
"""Pooled paired comparisons for ears_score.py's candidates: per-query p@5 of two rankings on
all sets at once, bootstrap resampling the queries within each set (stratified), 90 % interval
of the mean difference (each set weighted equally). Same inputs as ears_score.py.

    python scripts/eval/ears_pooled.py --dsp NAME=DUMP ... -- NAME=EMB.npz ...
"""
import argparse
import numpy as np
from ears_score import load_set, combo, stats, pq, l2, auto_old

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sets", nargs="+")
    ap.add_argument("--dsp", nargs="*", default=[])
    ap.add_argument("--boot", type=int, default=2000)
    a = ap.parse_args()
    dsp = dict(s.split("=", 1) for s in a.dsp)
    sets = {}
    for s in a.sets:
        n, p = s.split("=", 1)
        sets[n] = load_set(p, dsp.get(n))
    names = list(sets)
    A = "aisfx8_meanmax"
    cands = {"m+a+d": ["musicnn", A, "dsp"], "m+d": ["musicnn", "dsp"], "m+a": ["musicnn", A],
             "m+a+v+d": ["musicnn", A, "vgg", "dsp"]}
    rows = {}
    for n, d in sets.items():
        others = [sets[m] for m in names if m != n]
        L = d["labels"]
        rows.setdefault("OLD auto", {})[n] = auto_old(d)[5]
        rows.setdefault("musicnn@2", {})[n] = pq(L, l2(d["parts"]["musicnn_rust"]) @ l2(d["parts"]["musicnn_rust"]).T, 5)
        for c, parts in cands.items():
            eq = tuple([1 / len(parts)] * len(parts))
            for mode in ("fixed", "lib"):
                st = {p: stats([o["parts"][p] for o in others]) if mode == "fixed" else stats([d["parts"][p]]) for p in parts}
                V = combo(d, parts, eq, st)
                rows.setdefault(f"{c} {mode}", {})[n] = pq(L, V @ V.T, 5)
    rng = np.random.default_rng(1)
    idx = {n: [rng.integers(0, len(sets[n]["labels"]), len(sets[n]["labels"])) for _ in range(a.boot)] for n in names}
    def pooled(x, y):
        diffs = {n: x[n] - y[n] for n in names}
        m = np.mean([diffs[n].mean() for n in names])
        bs = [np.mean([diffs[n][idx[n][b]].mean() for n in names]) for b in range(a.boot)]
        return m, np.percentile(bs, 5), np.percentile(bs, 95)
    print("mean p@5 over the 4 sets (equal weight per set):")
    for r, v in rows.items():
        print(f"  {r:14s} {np.mean([v[n].mean() for n in names]):.3f}")
    print("pooled paired differences, mean [5 %, 95 %]:")
    for x, y in [("m+a+d fixed", "OLD auto"), ("m+a+d lib", "OLD auto"), ("m+a+d fixed", "musicnn@2"),
                 ("m+a+d fixed", "m+d fixed"), ("m+a+d lib", "m+d lib"), ("m+a+d fixed", "m+a fixed"),
                 ("m+a+v+d fixed", "m+a+d fixed"), ("m+a+d lib", "m+a+d fixed"), ("m+d fixed", "OLD auto"),
                 ("m+a fixed", "musicnn@2")]:
        m, lo, hi = pooled(rows[x], rows[y])
        print(f"  {x:14s} - {y:12s} {m:+.3f} [{lo:+.3f}, {hi:+.3f}]")

if __name__ == "__main__":
    main()
