#!/usr/bin/env python3
"""Hearing more of each song, two ways, on songrec libraries of the labelled sets: pooled over
more musicnn patches and aisfx blocks, or compared patch by patch (set-to-set "Chamfer"
similarity: the mean over one song's items of the best cosine to the other's, symmetrised).

`items` runs the networks (Python replica, onnxruntime on one thread: ffmpeg decode, the DSP
excerpts, soxr) on every song of a library: MSD and MTT `penultimate` on the same 16 patches,
aisfx int8 on 20 blocks. `score` ranks each library's songs leave-one-out with the stored
`songrec-mix@2` parts and with the variants (items standardised with the shipped table), and
prints p@5 per set and the mean difference to the stored vector.

    python3 scripts/eval/set_match.py items $SCRATCH/libs/g1 $SCRATCH/items/g1.npy
    python3 scripts/eval/set_match.py score --items $SCRATCH/items $SCRATCH/libs/{drums,g1,g2,g3,h1}

(`items/NAME.npy` for the library folder NAME.)
"""
import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "scripts/models"))
from wccn_loso import hits_at  # noqa: E402

MODELS = ROOT / "crates/neural/models"
PATCHES, BLOCKS = 16, 20


def songs(lib):
    """(song id, file path, label) of every song of the library with its audio reference."""
    meta = json.load(open(f"{lib}/data/embeddings/metadata.json"))
    for sid, m in sorted(meta.items()):
        ref = f"{lib}/data/audio/{m['content_hash']}.ref.json"
        if os.path.exists(ref):
            path = json.load(open(ref))["path"]
            yield sid, path, os.path.basename(os.path.dirname(path))


def items(lib, out):
    import librosa
    from convert_aisfx import BLOCK, front_end, plan
    from ears_embed import PATCH, SR, decode, ort, windows

    msd, mtt = ort(MODELS / "musicnn/msd_musicnn.onnx"), ort(MODELS / "musicnn/mtt_musicnn.onnx")
    ais = ort(MODELS / "aisfx/aisfx_int8.onnx")
    res = {}
    for sid, path, _ in songs(lib):
        y = decode(path)
        segs = [y[s:e] for s, e in windows(len(y))]
        s16 = [librosa.resample(s.astype(np.float32), orig_sr=SR, target_sr=16000, res_type="soxr_hq")
               for s in segs]
        pl = plan([len(s) for s in s16], PATCHES, PATCH)
        x = np.zeros((max(len(pl), 1), PATCH), np.float32)
        for i, (si, st, ln) in enumerate(pl):
            x[i, :ln] = s16[si][st:st + ln]
        peak = max(float(np.max(np.abs(s))) if len(s) else 0.0 for s in segs)
        lms = [front_end(s / peak if peak > 0 else s) for s in segs]
        bp = plan([lm.shape[0] for lm in lms], BLOCKS, BLOCK)
        blk = np.zeros((max(len(bp), 1), BLOCK, 96), np.float32)
        for i, (si, st, ln) in enumerate(bp):
            blk[i, :ln] = lms[si][st:st + ln]
        res[sid] = (msd.run(["penultimate"], {"wave": x})[0], mtt.run(["penultimate"], {"wave": x})[0],
                    ais.run(["embedding"], {"logmel": blk})[0])
    np.save(out, res, allow_pickle=True)
    print(out, len(res))


def l2(x):
    return x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-12)


def chamfer(sets):
    n = len(sets)
    sim = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            s = sets[i] @ sets[j].T
            sim[i, j] = 0.5 * (s.max(1).mean() + s.max(0).mean())
    return sim


def spread(k, n):
    """k of n items, evenly spread."""
    return sorted({int((2 * i + 1) * n / (2 * k)) for i in range(k)})


def variants(lib, found):
    tab = json.load(open(MODELS / "mix/standardise.json"))["parts"]
    mm, ms = np.array(tab[0]["mean"]), np.array(tab[0]["std"])
    am, asd = np.array(tab[1]["mean"]), np.array(tab[1]["std"])
    rows = [(sid, label) for sid, _, label in songs(lib) if sid in found]
    ids, labels = [r[0] for r in rows], np.array([r[1] for r in rows])
    x = np.array([np.load(f"{lib}/data/embeddings/{s}.npy").astype(np.float64) for s in ids])
    stored = [l2(x[:, a:b]) for a, b in [(0, 400), (400, 1424), (1424, 1544)]]
    mus_st, ais_st, dsp = (p @ p.T for p in stored)

    def musicnn(sel):
        v = [(np.concatenate([l2(found[s][0][[i for i in sel if i < len(found[s][0])] or [0]].mean(0)),
                              l2(found[s][1][[i for i in sel if i < len(found[s][1])] or [0]].mean(0))])
              / np.sqrt(2) - mm) / ms for s in ids]
        v = l2(np.array(v))
        return v @ v.T

    def aisfx(sel):
        v = []
        for s in ids:
            e = found[s][2][[i for i in sel if i < len(found[s][2])] or [0]]
            v.append((np.concatenate([e.mean(0), e.max(0)]) - am) / asd)
        v = l2(np.array(v))
        return v @ v.T

    mus_items = [l2((np.concatenate([l2(found[s][0].astype(np.float64)), l2(found[s][1].astype(np.float64))], 1)
                     / np.sqrt(2) - mm) / ms) for s in ids]
    ais_items = [l2((found[s][2].astype(np.float64) - am[:512]) / asd[:512]) for s in ids]
    ch_mus, ch_ais = chamfer(mus_items), chamfer(ais_items)
    out = {"stored songrec-mix@2": (mus_st + ais_st + dsp) / 3}
    for k in (4, 8, 16):
        out[f"musicnn both models on {k} patches"] = (musicnn(spread(k, PATCHES)) + ais_st + dsp) / 3
    for b in (10, 20):
        out[f"aisfx on {b} blocks"] = (mus_st + aisfx(spread(b, BLOCKS)) + dsp) / 3
    out["16 patches and 20 blocks, pooled"] = (musicnn(range(PATCHES)) + aisfx(range(BLOCKS)) + dsp) / 3
    out["both parts set-to-set"] = (ch_mus + ch_ais + dsp) / 3
    out["stored parts + both set-to-set"] = (mus_st + ais_st + dsp + ch_mus + ch_ais) / 5
    return {k: hits_at(v, labels).mean() for k, v in out.items()}


def score(item_dir, libs):
    table = {}
    for lib in libs:
        found = np.load(f"{item_dir}/{os.path.basename(lib.rstrip('/'))}.npy", allow_pickle=True).item()
        for k, v in variants(lib, found).items():
            table.setdefault(k, []).append(v)
    base = np.mean(table["stored songrec-mix@2"])
    print(f"{'p@5':34s}" + "".join(f"{os.path.basename(l.rstrip('/')):>8s}" for l in libs) + "  mean diff")
    for k, v in table.items():
        print(f"{k:34s}" + "".join(f"{x:8.3f}" for x in v) + f"  {np.mean(v) - base:+.3f}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    i = sub.add_parser("items")
    i.add_argument("lib")
    i.add_argument("out")
    s = sub.add_parser("score")
    s.add_argument("--items", required=True)
    s.add_argument("libs", nargs="+")
    a = ap.parse_args()
    if a.cmd == "items":
        items(a.lib, a.out)
    else:
        score(a.items, a.libs)


if __name__ == "__main__":
    main()
