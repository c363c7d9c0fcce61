#!/usr/bin/env python3
"""musicnn pooling variants (penultimate, max_pool, mean_pool, MSD/MTT) against `musicnn@1`,
alone and blended with the DSP like `auto`, with bootstrap spread and paired differences.

Input: one dump per set from
    cargo run --release -p songrec-benches --example dump_variants -- SET --out SET.jsonl [--mtt M]
(each line: label, path, duration_secs, dsp = the current DSP vector, and per model `msd` / `mtt`
the patch means of `penultimate` (pen, 200-d), `model/Max` (max, 753-d) and
`model/moments/mean` (mean, 753-d), unnormalised, plus the per-patch penultimate rows).
MTT-only dumps (`--no-msd`) in a second folder are joined by path (--mtt-dir).

Variants (each ends with an L2 normalisation, compared by cosine):
    pen          musicnn@1 (the current embedder): mean penultimate over the patches
    max, mean    the backend's max_pool / mean_pool (753-d), averaged over the patches
    maxmean      [max, mean] concatenated (1506-d), as the model's own pooling layer
    pen_pmax     max over the patches of the per-patch penultimate
    pen_half     mean penultimate of every other patch (4 of 8 for songs)
    pen+X        L2(pen) and L2(X) concatenated, / sqrt 2 (the mean of the two cosines)
    *_std        (x - MEAN) / STD per dimension, table from the REFERENCE dumps only
                 (--ref: ref_music, ref_clips, each set weighted equally, std floored at 1e-3,
                 exactly musicnn_norm.py's rule)
    *_ctr        x - MEAN (centring with the reference mean, no scaling)
    mtt_pen      MTT_musicnn's penultimate (and mtt_* like msd)
    msd+mtt      L2(msd pen) and L2(mtt pen) concatenated (= the mean of the two cosines)
Leave-one-out same-label p@5 (identical files count once), B bootstrap resamples of the
queries (mean ± std [5 %, 95 %]), paired difference against `pen`; `auto` (0.7 songs, 0.4
clips under 5 s, songrec's pool-union z-scored blend, neural_quality.py's code) for the
variants named in --blend, paired against `auto` with `pen`. --loso VARIANT chooses the
`auto` weights for VARIANT leave-one-set-out (as neural_quality.py does) and reports them on
each held-out set against the current `pen` auto.

Usage: pool_variants.py --ref DIR/ref_music.jsonl --ref DIR/ref_clips.jsonl [--mtt-dir MDIR]
       [--boot 200] [--blend mean_std,...] [--loso VARIANT] [--table-out F.rs VARIANT]
       [--base DIR] [--json out.json] NAME=DUMP.jsonl ...
       pool_variants.py --ref ... --paired-dumps P8.jsonl P16.jsonl   (same files, other patches)
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from neural_quality import CURRENT, GRID, auto_p5, boot, choose_weights, l2, per_query  # noqa: E402
# The reference table: per-dimension mean/std, each set weighted equally, std floored.
from musicnn_norm import STD_FLOOR, table as ref_table  # noqa: E402


def fmt(x, b, sign=False):
    """Point estimate (the mean over all queries) ± bootstrap std [5 %, 95 %]."""
    f = "+.3f" if sign else ".3f"
    return f"{x:{f}} ± {b[1]:.3f} [{b[2]:{f}}, {b[3]:{f}}]"



def raw_feats(r, model):
    m = r[model]
    P = np.array(m["pen_patches"], dtype=np.float64)
    return {
        "pen": np.array(m["pen"], dtype=np.float64),
        "max": np.array(m["max"], dtype=np.float64),
        "mean": np.array(m["mean"], dtype=np.float64),
        "maxmean": np.concatenate([m["max"], m["mean"]]).astype(np.float64),
        "pen_pmax": P.max(0),
        # every other patch (4 of 8): does the number of patches matter?
        "pen_half": P[::2].mean(0),
    }


BASES = ["pen", "max", "mean", "maxmean", "pen_pmax", "pen_half"]


def read(path, mtt_dir, base, dedupe=True):
    rows = [json.loads(l) for l in open(path)]
    if mtt_dir:
        p = os.path.join(mtt_dir, os.path.basename(path))
        if os.path.exists(p):
            mtt = {json.loads(l)["path"]: json.loads(l)["mtt"] for l in open(p)}
            for r in rows:
                if r["path"] in mtt:
                    r["mtt"] = mtt[r["path"]]
    if not dedupe:
        return rows
    # identical files (same bytes) count once, as `songrec eval`
    out, seen = [], set()
    for r in rows:
        h = hashlib.sha256(open(os.path.join(base, r["path"]), "rb").read()).hexdigest()
        if h not in seen:
            seen.add(h)
            out.append(r)
    return out


def stack(rows, model):
    if not all(model in r for r in rows):
        return None
    f = [raw_feats(r, model) for r in rows]
    return {k: np.array([x[k] for x in f]) for k in BASES}


def variants(F, tables, prefix):
    v = {}
    for k in BASES:
        X = F[k]
        mean, std = tables[k]
        v[prefix + k] = l2(X)
        v[prefix + k + "_std"] = l2((X - mean) / std)
        v[prefix + k + "_ctr"] = l2(X - mean)
    return v


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", action="append", required=True)
    ap.add_argument("--mtt-dir")
    ap.add_argument("--boot", type=int, default=200)
    ap.add_argument("--blend", default="")
    ap.add_argument("--loso", default="")
    ap.add_argument("--table-out", nargs=2, metavar=("FILE", "VARIANT"))
    ap.add_argument("--base", default=".")
    ap.add_argument("--json")
    ap.add_argument("--only", default="", help="comma list of variants to print (default all)")
    ap.add_argument("--paired-dumps", nargs=2, metavar=("A", "B"),
                    help="two dumps of the same files (e.g. --patches 8 and 16): paired B - A per MSD variant")
    ap.add_argument("sets", nargs="*")
    a = ap.parse_args()

    # every reference file counts (as musicnn_norm.py, which made norm_table.rs)
    refs = [read(p, a.mtt_dir, a.base, dedupe=False) for p in a.ref]
    tables = {}
    for model in ("msd", "mtt"):
        Fs = [stack(r, model) for r in refs]
        if any(F is None for F in Fs):
            continue
        tables[model] = {k: ref_table([F[k] for F in Fs]) for k in BASES}
    print("reference table from", ", ".join(f"{os.path.basename(p)} ({len(r)})" for p, r in zip(a.ref, refs)))

    if a.paired_dumps:
        got = []
        for path in a.paired_dumps:
            rows = read(path, None, a.base)
            got.append(([r["path"] for r in rows], np.array([r["label"] for r in rows]),
                        variants(stack(rows, "msd"), tables["msd"], "")))
        (pa, L, A), (pb, _, B) = got
        assert pa == pb, "the two dumps must hold the same files"
        print(f"paired {a.paired_dumps[1]} - {a.paired_dumps[0]} ({len(L)} files)")
        for k in A:
            x, y = per_query(L, A[k] @ A[k].T), per_query(L, B[k] @ B[k].T)
            d = boot(y - x, a.boot)
            print(f"  {k:18s} A {x.mean():.3f}  B {fmt(y.mean(), boot(y, a.boot))}   B - A {fmt(y.mean() - x.mean(), d, True)}")
        return

    sets = {}
    for s in a.sets:
        name, path = s.split("=", 1)
        rows = read(path, a.mtt_dir, a.base)
        d = {
            "labels": np.array([r["label"] for r in rows]),
            "dur": np.array([r["duration_secs"] for r in rows]),
            "dsp": l2(np.array([r["dsp"] for r in rows], dtype=np.float64)),
        }
        for model in ("msd", "mtt"):
            F = stack(rows, model)
            if F is not None and model in tables:
                d.update(variants(F, tables[model], "" if model == "msd" else "mtt_"))
        # pen together with a pooled-layer variant: each L2-normalised, concatenated, / sqrt 2
        # (the cosine is the mean of the two cosines)
        for k in ("mean_std", "maxmean_std", "max_std"):
            d["pen+" + k] = np.concatenate([d["pen"], d[k]], 1) / np.sqrt(2)
        if "mtt_pen" in d:
            d["msd+mtt"] = np.concatenate([d["pen"], d["mtt_pen"]], 1) / np.sqrt(2)
            d["msd+mtt_std"] = np.concatenate([d["pen_std"], d["mtt_pen_std"]], 1) / np.sqrt(2)
            d["msd+mtt_mean_std"] = np.concatenate([d["mean_std"], d["mtt_mean_std"]], 1) / np.sqrt(2)
        sets[name] = d

    blends = [b for b in a.blend.split(",") if b]
    only = [o for o in a.only.split(",") if o]
    out = {"sets": {}}
    print(f"leave-one-out p@5; bootstrap over queries, {a.boot} resamples: mean ± std [5 %, 95 %];"
          " paired = variant - pen (musicnn@1)")
    for name, d in sets.items():
        L = d["labels"]
        _, counts = np.unique(L, return_counts=True)
        chance = float((counts * (counts - 1)).sum() / (len(L) - 1) / len(L))
        print(f"\n{name}: {len(L)} files, {len(counts)} labels, chance {chance:.3f}")
        res = {"files": len(L), "labels": len(counts), "chance": chance, "rows": {}}
        keys = ["dsp"] + [k for k in d if k not in ("labels", "dur", "dsp")]
        pq = {k: per_query(L, d[k] @ d[k].T) for k in keys}
        for k in keys:
            if only and k not in only and k not in ("dsp", "pen"):
                continue
            b = boot(pq[k], a.boot)
            diff = boot(pq[k] - pq["pen"], a.boot)
            res["rows"][k] = {"p5": float(pq[k].mean()), "boot": list(map(float, b)),
                              "diff": list(map(float, diff))}
            tag = "" if k in ("dsp", "pen") else f"   paired {fmt(pq[k].mean() - pq['pen'].mean(), diff, True)}"
            print(f"  {k:18s} {fmt(pq[k].mean(), b)}{tag}")
        if blends:
            base = auto_p5(d, "pen", *CURRENT)
            b = boot(base, a.boot)
            res["rows"]["auto pen"] = {"p5": float(base.mean()), "boot": list(map(float, b))}
            print(f"  {'auto pen':18s} {fmt(base.mean(), b)}")
            for k in blends:
                if k not in d:
                    continue
                x = auto_p5(d, k, *CURRENT)
                b, diff = boot(x, a.boot), boot(x - base, a.boot)
                res["rows"]["auto " + k] = {"p5": float(x.mean()), "boot": list(map(float, b)),
                                            "diff": list(map(float, diff))}
                print(f"  {'auto ' + k:18s} {fmt(x.mean(), b)}   paired vs auto pen "
                      f"{fmt(x.mean() - base.mean(), diff, True)}")
        out["sets"][name] = res

    if a.loso:
        v = a.loso
        print(f"\nleave-one-set-out `auto` weights for {v} ((w_song, w_short) on a 0.1 grid, mean p@5 "
              "of the other sets; ties: closest to 0.7/0.4); held-out diff vs current auto with pen")
        table = {}
        for name, d in sets.items():
            for ws in GRID:
                for wsh in GRID:
                    table[(name, ws, wsh)] = auto_p5(d, v, ws, wsh).mean()

        def choose(tune):
            return choose_weights(table, tune)

        out["loso"] = {}
        for held, d in sets.items():
            w = choose([n for n in sets if n != held])
            x = auto_p5(d, v, *w)
            cur = auto_p5(d, "pen", *CURRENT)
            same = auto_p5(d, v, *CURRENT)
            diff = boot(x - cur, a.boot)
            out["loso"][held] = {"chosen": w, "p5": float(x.mean()), "p5_current_pen": float(cur.mean()),
                                 "p5_variant_at_current_w": float(same.mean()), "diff": list(map(float, diff))}
            print(f"  hold out {held:10s}: chosen {w}  held-out p@5 {x.mean():.3f} ({v} at 0.7/0.4: "
                  f"{same.mean():.3f}; pen auto: {cur.mean():.3f}); diff vs pen auto {fmt(x.mean() - cur.mean(), diff, True)}")
        print(f"  chosen on all sets (in-sample): {choose(list(sets))}")

    if a.table_out:
        path, v = a.table_out
        model, k = ("mtt", v[4:]) if v.startswith("mtt_") else ("msd", v)
        k = k.replace("_std", "").replace("_ctr", "")
        mean, std = tables[model][k]
        lit = lambda x: (lambda r: r if ("." in r or "e" in r) else r + ".0")(str(np.float32(x)))
        fmt6 = lambda arr: ",\n    ".join(", ".join(lit(x) for x in arr[i:i + 6]) for i in range(0, len(arr), 6))
        n = len(mean)
        with open(path, "w") as f:
            f.write(f"""//! Standardisation constants for musicnn's pooled `{k}` vector ({model}), generated by
//! `scripts/eval/pool_variants.py --table-out` from the reference dumps
//! ({", ".join(os.path.basename(p) for p in a.ref)}; built by `scripts/eval/build_reference.py`,
//! no package shared with any evaluation set), each set weighted equally; std floored at {STD_FLOOR:g}.

/// Dimension of the pooled vector.
pub const DIM: usize = {n};

/// Per-dimension mean on the reference corpus.
#[rustfmt::skip]
pub const POOLED_MEAN: [f32; DIM] = [
    {fmt6(mean)},
];

/// Per-dimension standard deviation on the reference corpus.
#[rustfmt::skip]
pub const POOLED_STD: [f32; DIM] = [
    {fmt6(std)},
];
""")
        print(f"wrote {path} ({n} dims)")
    if a.json:
        json.dump(out, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
