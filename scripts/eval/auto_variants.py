#!/usr/bin/env python3
"""What else could lift `auto` (and the DSP) on real music, measured on the eval_neural dumps.

Four families, each scored as leave-one-out same-label p@5 per set (the method of
neural_quality.py, whose loading, ranking and weight choice this reuses):

  qe        query expansion: after the blended search, the query's vectors are averaged with
            those of its top m results (weight alpha) and the search is run again
  fusion    other blend rules than songrec's (pool union + per-model z-scores): a weighted
            sum of cosines, z-scores over the whole library, reciprocal-rank fusion; weights
            chosen leave-one-set-out
  centring  musicnn@2 vectors centred (and standardised) by the mean of the evaluated set
            itself, or by a mean from the OTHER sets (what a fixed, committed table can do)
  dspw      the DSP's group weights tuned on the reference corpus (disjoint from every eval
            set; needs --ref NAME=DUMP with dsp vectors), reported on the eval sets

Usage: auto_variants.py --norm crates/neural/src/norm_table.rs --base target/scratch
       [--ref ref_music=pool/ref_music.jsonl] [--only qe,fusion,centring,dspw]
       NAME=dumps2/NAME.jsonl [...]
"""
import argparse
import hashlib
import json
import os

import numpy as np

import neural_quality as nq

# songrec_audio::embed::GROUPS (name, length or None for "the rest", weight), songrec-dsp@2.
DSP_GROUPS = [("mfcc_mean", 20, 1.0), ("mfcc_std", 20, 0.75), ("mfcc_delta", 13, 1.0),
              ("spectral", 10, 0.5), ("contrast", 14, 1.5), ("harmony", 16, 0.5),
              ("rhythm", None, 1.5), ("energy", 4, 0.5), ("envelope", 8, 1.0)]
DSP_GRID = [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 2.5, 3]


def p5_of(labels, X):
    return nq.per_query(labels, X @ X.T)


def qe_p5(d, m, alpha, w_song=nq.CURRENT[0], w_short=nq.CURRENT[1], k=5):
    M, D, L = d["raw"], d["dsp"], d["labels"]
    SM, SD = M @ M.T, D @ D.T
    short = (d["dur"] > 0) & (d["dur"] < nq.SHORT_CLIP_SECS)
    out = np.empty(len(L))
    for q in range(len(L)):
        w = w_short if short[q] else w_song
        top = nq.blend_rank(L, q, (SM, SD), (w, 1 - w))
        if m > 0:
            nb = top[:m]
            qm = nq.l2((M[q] + alpha * M[nb].mean(0))[None])[0]
            qd = nq.l2((D[q] + alpha * D[nb].mean(0))[None])[0]
            # The expanded query's row in place of q's, for this one ranking.
            kept = SM[q].copy(), SD[q].copy()
            SM[q], SD[q] = M @ qm, D @ qd
            top = nq.blend_rank(L, q, (SM, SD), (w, 1 - w))
            SM[q], SD[q] = kept
        out[q] = (L[top[:k]] == L[q]).sum() / k
    return out


def fused_p5(d, rule, w_song, w_short):
    M, D = d["raw"] @ d["raw"].T, d["dsp"] @ d["dsp"].T
    short = (d["dur"] > 0) & (d["dur"] < nq.SHORT_CLIP_SECS)
    w = np.where(short, w_short, w_song)[:, None]

    def zall(S):
        T = S.copy()
        np.fill_diagonal(T, np.nan)
        return (S - np.nanmean(T, 1, keepdims=True)) / np.nanstd(T, 1, keepdims=True)

    def rrf(S):
        T = S.copy()
        np.fill_diagonal(T, -np.inf)
        order = np.argsort(-T, 1)
        R = np.empty_like(order)
        R[np.arange(len(S))[:, None], order] = np.arange(S.shape[1])[None, :]
        return 1.0 / (10 + R)

    f = {"sum": lambda S: S, "zall": zall, "rrf": rrf}[rule]
    return nq.per_query(d["labels"], w * f(M) + (1 - w) * f(D))


def load_dsp(path, base):
    """DSP vectors and labels of a dump without musicnn rows (identical files count once)."""
    rows, seen = [], set()
    for line in open(path):
        r = json.loads(line)
        h = hashlib.sha256(open(os.path.join(base, r["path"]), "rb").read()).hexdigest()
        if h not in seen:
            seen.add(h)
            rows.append(r)
    return np.array([r["dsp"] for r in rows], dtype=np.float64), np.array([r["label"] for r in rows])


def dsp_unweighted(X):
    fixed = sum(g[1] for g in DSP_GROUPS if g[1])
    lens = [g[1] or X.shape[1] - fixed for g in DSP_GROUPS]
    edges = np.cumsum([0] + lens)
    spans = list(zip(edges[:-1], edges[1:]))
    Z = X.copy()
    for (a, b), g in zip(spans, DSP_GROUPS):
        Z[:, a:b] /= g[2]
    return Z, spans


def dsp_p5(Z, spans, labels, weights):
    Y = Z.copy()
    for (a, b), w in zip(spans, weights):
        Y[:, a:b] *= w
    return p5_of(labels, nq.l2(Y)).mean()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--norm", required=True)
    ap.add_argument("--base", default=".")
    ap.add_argument("--ref", action="append", default=[])
    ap.add_argument("--only", default="qe,fusion,centring,dspw")
    ap.add_argument("sets", nargs="+")
    a = ap.parse_args()
    only = set(a.only.split(","))
    mean, std = nq.load_norm(a.norm)
    sets = {}
    for s in a.sets:
        name, path = s.split("=", 1)
        sets[name] = nq.load(path, mean, std, a.base)
    names = list(sets)

    def row(title, f):
        print(f"  {title:34s} " + " ".join(f"{n}:{f(sets[n]):.3f}" for n in names), flush=True)

    if "qe" in only:
        print("query expansion (auto 0.7 / 0.4, then the query averaged with its top m)")
        row("none", lambda d: qe_p5(d, 0, 0).mean())
        for m in (1, 2, 3, 5):
            for alpha in (0.5, 1.0, 2.0):
                row(f"m {m}, alpha {alpha}", lambda d: qe_p5(d, m, alpha).mean())

    if "fusion" in only:
        print("blend rules, weights leave-one-set-out (held-out p@5, chosen weights)")
        for rule in ("sum", "zall", "rrf"):
            table = {(n, ws, wsh): fused_p5(sets[n], rule, ws, wsh).mean()
                     for n in names for ws in nq.GRID for wsh in nq.GRID}
            held = []
            for n in names:
                w = nq.choose_weights(table, [x for x in names if x != n])
                held.append(f"{n}:{table[(n,) + w]:.3f}{w}")
            print(f"  {rule:5s} at 0.7/0.4: " +
                  " ".join(f"{n}:{table[(n, 0.7, 0.4)]:.3f}" for n in names))
            print(f"  {rule:5s} LOSO:       " + " ".join(held))

    if "centring" in only:
        print("musicnn@2 (stored 400-d) centred / standardised")
        row("raw", lambda d: p5_of(d["labels"], d["raw"]).mean())
        row("standardised by the set itself",
            lambda d: p5_of(d["labels"], nq.l2((d["raw"] - d["raw"].mean(0)) / d["raw"].std(0))).mean())
        row("centred by the set itself",
            lambda d: p5_of(d["labels"], nq.l2(d["raw"] - d["raw"].mean(0))).mean())
        for n in names:
            others = [sets[x]["raw"].mean(0) for x in names if x != n]
            sets[n]["other_mean"] = np.mean(others, 0)
        row("centred by the other sets' mean",
            lambda d: p5_of(d["labels"], nq.l2(d["raw"] - d["other_mean"])).mean())
        row("MSD half, reference-corpus table", lambda d: p5_of(d["labels"], d["std"]).mean())

    if "dspw" in only and a.ref:
        ref = {}
        for s in a.ref:
            name, path = s.split("=", 1)
            X, labels = load_dsp(path, a.base)
            ref[name] = (*dsp_unweighted(X), labels)
        ev = {n: (*dsp_unweighted(sets[n]["dsp"]), sets[n]["labels"]) for n in names}
        w = [g[2] for g in DSP_GROUPS]

        def obj(w):
            return np.mean([dsp_p5(*ref[n], w) for n in ref])

        best = obj(w)
        for _ in range(3):  # coordinate ascent on the grid
            for i in range(len(w)):
                for v in DSP_GRID:
                    w2 = list(w)
                    w2[i] = v
                    o = obj(w2)
                    if o > best + 1e-9:
                        best, w = o, w2
        cur = [g[2] for g in DSP_GROUPS]
        print(f"DSP group weights tuned on {list(ref)}: {w} (reference p@5 {obj(cur):.3f} -> {best:.3f})")
        print("  shipped  " + " ".join(f"{n}:{dsp_p5(*ev[n], cur):.3f}" for n in names))
        print("  tuned    " + " ".join(f"{n}:{dsp_p5(*ev[n], w):.3f}" for n in names))


if __name__ == "__main__":
    main()
