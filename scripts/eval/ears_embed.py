#!/usr/bin/env python3
"""Per-track embeddings of a labelled folder for the "Better ears" evaluation (issue 30):
musicnn@2 as songrec computes it, aisfx (crates/neural/models/aisfx/aisfx.onnx), the musicnn VGG pair when
their ONNX files exist, and librosa MFCC statistics. Deterministic; onnxruntime on 1 thread.

    OMP_NUM_THREADS=1 python scripts/eval/ears_embed.py SET_DIR OUT.npz [--models-dir models]

SET_DIR/<label>/<file>. Identical files (same bytes) are kept once (first in sorted order).

Decoding: ffmpeg to float32 at 44.1 kHz with the file's channels, mean of the channels
(float64 -> float32). Which audio is analysed follows songrec-dsp@2: a file up to 90 s whole,
a longer one as 6 excerpts of 15 s centred at (2i+1)/12 of its length (the excerpt shifted to
stay inside; crates/audio/src/decode/collector.rs plan_windows). Each excerpt is resampled to
16 kHz (musicnn) and 22.05 kHz (MFCC) with soxr (librosa.resample res_type 'soxr_hq').

musicnn@2: at most 8 patches of 48128 samples at 16 kHz, placed as crates/neural/src/patches.rs
plan() (n = ceil(audio / 48128) capped at 8, the middle of the k-th of n shares of all valid
starts; shorter audio: one zero-padded patch); MSD_musicnn on even patches, MTT_musicnn on odd
ones (both on a single patch); each network's mean `penultimate` L2-normalised, concatenated,
/ sqrt 2 (400 values).

aisfx: the front end of crates/neural/models/aisfx/PROVENANCE.md on each excerpt (peak = max |x| over all
excerpts of the file), then at most B blocks of 100 frames planned like musicnn's patches
(frames instead of samples; shorter: one zero-padded block), for B = 8 and B = 20. The per-block
512-d outputs are stored; the track vector variants (mean, max, mean+max) are formed at scoring.

VGG (if crates/neural/models/musicnn/msd_vgg.onnx and mtt_vgg.onnx exist): the same patches and split as
musicnn@2, output `pool5` (256 each).

MFCC: librosa.feature.mfcc(n_mfcc=20) at 22.05 kHz on each excerpt, mean and std over all
frames (40 values), as scripts/eval/librosa_baseline.py.

Per part the thread CPU seconds are stored (decode and resampling counted separately).
"""
import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from convert_aisfx import BLOCK, front_end, plan  # noqa: E402  (plan = patches.rs plan())

SR = 44100
PATCH = 48128
MAX_ANALYSED = 90.0
EXCERPT = 15.0
N_EXCERPTS = 6


def decode(path):
    ch = int(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
                             "stream=channels", "-of", "csv=p=0", str(path)],
                            check=True, capture_output=True, text=True).stdout.strip().split("\n")[0])
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "f32le", "-ar", str(SR), "-"],
                         check=True, capture_output=True).stdout
    x = np.frombuffer(raw, dtype="<f4")
    x = x[: len(x) // ch * ch].reshape(-1, ch).astype(np.float64)
    return x.mean(axis=1).astype(np.float32)


def windows(total):
    """plan_windows(total, 44100, {90 s, 15 s}) in samples."""
    if total <= int(MAX_ANALYSED * SR):
        return [(0, total)]
    ln = int(EXCERPT * SR)
    out = []
    for i in range(N_EXCERPTS):
        c = (2 * i + 1) * total // (2 * N_EXCERPTS)
        s = min(max(c - ln // 2, 0), max(total - ln, 0))
        out.append((s, s + ln))
    return out


def ort(path):
    import onnxruntime as rt
    so = rt.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return rt.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


def l2(v):
    return v / max(np.linalg.norm(v), 1e-12)


def embed_file(f, nets, block_counts):
    """All parts of one file: {musicnn, msd_tag, mfcc, [vgg], blocks<B>..., info}."""
    import librosa
    msd, mtt, ais, vgg = nets
    cost = {}
    r = {}
    t = time.thread_time()
    y = decode(f)
    cost["decode"] = time.thread_time() - t
    win = windows(len(y))
    segs = [y[s:e] for s, e in win]
    # --- musicnn@2 (and VGG) at 16 kHz
    t = time.thread_time()
    s16 = [librosa.resample(s.astype(np.float32), orig_sr=SR, target_sr=16000, res_type="soxr_hq") for s in segs]
    cost["resample16"] = time.thread_time() - t
    t = time.thread_time()
    pl = plan([len(s) for s in s16], 8, PATCH)
    patches = np.zeros((max(len(pl), 1), PATCH), np.float32)
    for i, (si, st, ln) in enumerate(pl):
        patches[i, :ln] = s16[si][st:st + ln]
    ev, od = patches[0::2], (patches[1::2] if len(patches) > 1 else patches[0:1])
    tg_e, pen_e = msd.run(["taggram", "penultimate"], {"wave": ev})[:2]
    pen_o = mtt.run(["penultimate"], {"wave": od})[0]
    r["musicnn"] = np.concatenate([l2(pen_e.mean(0).astype(np.float64)), l2(pen_o.mean(0).astype(np.float64))]) / math.sqrt(2)
    r["msd_tag"] = tg_e.mean(0)
    cost["musicnn"] = time.thread_time() - t
    if vgg:
        t = time.thread_time()
        ve = vgg[0].run(["pool5"], {"wave": ev})[0].mean(0)
        vo = vgg[1].run(["pool5"], {"wave": od})[0].mean(0)
        r["vgg"] = np.concatenate([ve, vo])
        cost["vgg"] = time.thread_time() - t
    # --- aisfx at 44.1 kHz
    t = time.thread_time()
    peak = max(float(np.max(np.abs(s))) if len(s) else 0.0 for s in segs)
    lms = [front_end(s / peak if peak > 0 else s) for s in segs]   # front_end's own peak is then 1
    cost["aisfx_frontend"] = time.thread_time() - t
    nblocks = {}
    for b in block_counts:
        t = time.thread_time()
        bp = plan([lm.shape[0] for lm in lms], b, BLOCK)
        blk = np.zeros((max(len(bp), 1), BLOCK, 96), np.float32)
        for i, (si, st, ln) in enumerate(bp):
            blk[i, :ln] = lms[si][st:st + ln]
        r["blocks%d" % b] = ais.run(["embedding"], {"logmel": blk})[0]
        nblocks[str(b)] = int(blk.shape[0])
        cost["aisfx_net%d" % b] = time.thread_time() - t
    # --- MFCC at 22.05 kHz
    t = time.thread_time()
    s22 = [librosa.resample(s.astype(np.float32), orig_sr=SR, target_sr=22050, res_type="soxr_hq") for s in segs]
    cost["resample22"] = time.thread_time() - t
    t = time.thread_time()
    mf = np.concatenate([librosa.feature.mfcc(y=s, sr=22050, n_mfcc=20) for s in s22 if len(s) > 0], axis=1)
    r["mfcc"] = np.concatenate([mf.mean(1), mf.std(1)])
    cost["mfcc"] = time.thread_time() - t
    r["info"] = {"duration_secs": len(y) / SR, "analysed_secs": sum(len(s) for s in segs) / SR,
                 "patches": len(pl), "blocks": nblocks, "cost": cost}
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("set_dir")
    ap.add_argument("out")
    ap.add_argument("--models-dir", default=str(Path(__file__).resolve().parents[2] / "models"))
    ap.add_argument("--blocks", default="8,20")
    ap.add_argument("--cache", help="per-file results by content sha256 (reused when present)")
    ap.add_argument("--vgg-only", action="store_true",
                    help="only the VGG pair, added to an existing OUT.npz (same files, same order)")
    a = ap.parse_args()
    if a.vgg_only:
        return vgg_only(a)
    import librosa
    md = Path(a.models_dir)
    msd, mtt = ort(md / "musicnn/msd_musicnn.onnx"), ort(md / "musicnn/mtt_musicnn.onnx")
    ais = ort(md / "aisfx/aisfx.onnx")
    vgg = None
    if (md / "musicnn/msd_vgg.onnx").exists() and (md / "musicnn/mtt_vgg.onnx").exists():
        vgg = (ort(md / "musicnn/msd_vgg.onnx"), ort(md / "musicnn/mtt_vgg.onnx"))
    block_counts = [int(b) for b in a.blocks.split(",")]

    files, seen = [], set()
    for sub in sorted(p for p in Path(a.set_dir).iterdir() if p.is_dir()):
        for f in sorted(p for p in sub.iterdir() if p.is_file()):
            h = hashlib.sha256(f.read_bytes()).hexdigest()
            if h in seen:
                continue
            seen.add(h)
            files.append((sub.name, f, h))
    rows = {k: [] for k in ["musicnn", "msd_tag", "mfcc", "vgg"]}
    ais_blocks = {b: [] for b in block_counts}
    meta = []
    cost = {k: 0.0 for k in ["decode", "resample16", "resample22", "musicnn", "aisfx_frontend",
                             "aisfx_net8", "aisfx_net20", "mfcc", "vgg"]}
    t_start = time.time()
    nets = (msd, mtt, ais, vgg)
    for n_done, (label, f, h) in enumerate(files):
        cp = Path(a.cache) / f"{h}.npz" if a.cache else None
        if cp and cp.exists():
            r = dict(np.load(cp, allow_pickle=False))
            r["info"] = json.loads(str(r["info"]))
        else:
            r = embed_file(f, nets, block_counts)
            if cp:
                cp.parent.mkdir(parents=True, exist_ok=True)
                np.savez(str(cp) + ".tmp.npz", **{k: (np.array(json.dumps(v)) if k == "info" else v) for k, v in r.items()})
                os.replace(str(cp) + ".tmp.npz", cp)
        for k in rows:
            if k in r:
                rows[k].append(r[k])
        for b in block_counts:
            ais_blocks[b].append(r["blocks%d" % b])
        for k, v in r["info"]["cost"].items():
            cost[k] += v
        meta.append({"label": label, "path": str(f), **{k: v for k, v in r["info"].items() if k != "cost"}})
        if n_done % 20 == 0:
            print(f"{a.set_dir}: {n_done + 1}/{len(files)} {time.time() - t_start:.0f}s", file=sys.stderr, flush=True)
    out = {"labels": np.array([m["label"] for m in meta]), "dur": np.array([m["duration_secs"] for m in meta]),
           "meta": np.array(json.dumps({"files": meta, "cost_cpu_secs": cost, "n": len(meta)}))}
    for k, v in rows.items():
        if v:
            out[k] = np.array(v, dtype=np.float64)
    for b in block_counts:  # all blocks of all tracks one after the other, and blocks per track
        out["aisfx_blocks%d" % b] = np.concatenate(ais_blocks[b]).astype(np.float32)
        out["aisfx_count%d" % b] = np.array([x.shape[0] for x in ais_blocks[b]])
    np.savez_compressed(a.out, **out)
    print(json.dumps({"set": a.set_dir, "n": len(meta), "cpu_secs_per_track": {k: v / max(len(meta), 1) for k, v in cost.items()}}))


def vgg_only(a):
    import librosa
    md = Path(a.models_dir)
    vgg = (ort(md / "musicnn/msd_vgg.onnx"), ort(md / "musicnn/mtt_vgg.onnx"))
    old = dict(np.load(a.out, allow_pickle=False))
    meta = json.loads(str(old["meta"]))
    rows, cost = [], 0.0
    for f in meta["files"]:
        y = decode(f["path"])
        segs = [y[s:e] for s, e in windows(len(y))]
        s16 = [librosa.resample(s.astype(np.float32), orig_sr=SR, target_sr=16000, res_type="soxr_hq") for s in segs]
        t = time.thread_time()
        pl = plan([len(s) for s in s16], 8, PATCH)
        patches = np.zeros((max(len(pl), 1), PATCH), np.float32)
        for i, (si, st, ln) in enumerate(pl):
            patches[i, :ln] = s16[si][st:st + ln]
        ev, od = patches[0::2], (patches[1::2] if len(patches) > 1 else patches[0:1])
        ve = vgg[0].run(["pool5"], {"wave": ev})[0].mean(0)
        vo = vgg[1].run(["pool5"], {"wave": od})[0].mean(0)
        rows.append(np.concatenate([ve, vo]))
        cost += time.thread_time() - t
    old["vgg"] = np.array(rows, dtype=np.float64)
    meta["cost_cpu_secs"]["vgg"] = cost
    old["meta"] = np.array(json.dumps(meta))
    np.savez_compressed(a.out, **old)
    print(json.dumps({"set": a.set_dir, "n": len(rows), "vgg_cpu_secs_per_track": cost / max(len(rows), 1)}))


if __name__ == "__main__":
    main()
