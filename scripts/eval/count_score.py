#!/usr/bin/env python3
"""Scores count_embed.py's parts: same-label p@5 of musicnn at each patch count, aisfx (float32
and int8) at each block count, and their equal-weight combination with the DSP part when a
mix_parts dump gives it (--dsp DIR/SET.jsonl), each part standardised with the shipped table;
identical files count once. Prints the p@5 table and, per set held out, the counts the other
sets choose (best mean p@5, and best within a CPU budget per song).

    python3 scripts/eval/count_score.py --counts $SCRATCH/counts --table crates/neural/models/mix/standardise.json \\
        --sets $SCRATCH/sets [--dsp $SCRATCH/parts/f32-b6-p8] drums g1 g2 g3 h1
"""
import argparse
import hashlib
import json
import os

import numpy as np

from count_embed import BLOCKS, PATCHES
from speed_score import l2, pq


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--counts", required=True)
    ap.add_argument("--table", required=True)
    ap.add_argument("--sets", required=True)
    ap.add_argument("--dsp")
    ap.add_argument("--ms-patch", type=float, default=40.0, help="CPU ms per musicnn patch (tract)")
    ap.add_argument("--ms-block", type=float, default=22.6, help="CPU ms per int8 aisfx block (tract)")
    ap.add_argument("names", nargs="+")
    a = ap.parse_args()
    t = json.load(open(a.table))["parts"]
    z = lambda X, i: l2((X - np.array(t[i]["mean"])) / np.array(t[i]["std"]))
    res = {}
    for n in a.names:
        d = np.load(os.path.join(a.counts, n + ".npz"))
        paths = list(d["paths"])
        seen, keep = set(), []
        for i, p in enumerate(paths):
            h = hashlib.sha256(open(os.path.join(a.sets, n, p), "rb").read()).hexdigest()
            if h not in seen:
                seen.add(h)
                keep.append(i)
        L = d["labels"][keep]
        dsp = None
        if a.dsp:
            rows = {json.loads(x)["path"]: json.loads(x)["dsp"] for x in open(os.path.join(a.dsp, n + ".jsonl"))}
            dsp = l2((np.array([rows[paths[i]] for i in keep], dtype=np.float64) - np.array(t[2]["mean"])) / np.array(t[2]["std"]))
        r = {}
        for P in PATCHES:
            M = z(d[f"musicnn_{P}"][keep], 0)
            r[("musicnn", P, None, None)] = pq(L, M, 5).mean()
            for m in ("f32", "int8"):
                for B in BLOCKS:
                    A = z(d[f"aisfx_{m}_{B}"][keep], 1)
                    if P == PATCHES[0]:
                        r[("aisfx", None, m, B)] = pq(L, A, 5).mean()
                    parts = [M, A] + ([dsp] if dsp is not None else [])
                    r[("mix", P, m, B)] = pq(L, l2(np.hstack(parts)), 5).mean()
        res[n] = r
    keys = list(res[a.names[0]])
    cost = lambda k: (k[1] or 0) * a.ms_patch + (k[3] or 0) * a.ms_block
    print("| variant | " + " | ".join(a.names) + " | mean | network ms/song (tract, ≤ counts) |")
    print("|---|" + "---|" * (len(a.names) + 2))
    for k in keys:
        if k[0] == "mix" and (k[1] not in (2, 4, 6, 8) or k[3] not in (3, 6, 9, 12, 16, 20)):
            continue
        print(f"| {k[0]} P={k[1]} {k[2] or ''} B={k[3]} | " + " | ".join(f"{res[n][k]:.3f}" for n in a.names)
              + f" | {np.mean([res[n][k] for n in a.names]):.3f} | {cost(k):.0f} |")
    mixes = [k for k in keys if k[0] == "mix" and k[2] == "int8"]
    for budget in (None, 300, 250, 200):
        print(f"\nleave one set out, int8 aisfx, budget {budget or 'none'} ms:")
        for n in a.names:
            cand = [k for k in mixes if budget is None or cost(k) <= budget]
            best = max(cand, key=lambda k: np.mean([res[m][k] for m in a.names if m != n]))
            print(f"  {n}: chosen P={best[1]} B={best[3]} -> {res[n][best]:.3f}")


if __name__ == "__main__":
    main()
