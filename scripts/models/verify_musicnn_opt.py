#!/usr/bin/env python3
"""Compare the original musicnn ONNX model with rewritten ones
(optimise_musicnn_onnx.py) on the reference signal and on random 3 s windows
of real music, with onnxruntime (1 thread) and tract.

    python verify_musicnn_opt.py ORIG.onnx NAME=OPT.onnx [NAME=OPT.onnx ...]
        [--expected crates/neural/models/musicnn/expected.json] [--music DIR] [--windows 20]
        [--json OUT.json] [--strict] [--exact NAME ...]

--strict: exit non-zero unless every variant listed with --exact (default:
the variants named "step_a" and "step_f") match the original bit for bit (onnxruntime
and tract), every other variant is within --tol (default 1e-5) on
`penultimate`/`taggram` and 1e-3 on the pool outputs, and every model is
within --tol of expected.json.

Music: Ogg/FLAC/WAV files in DIR (soundfile), mixed to mono, a random window
of 48128 * sr / 16000 samples resampled to 48128 samples by FFT truncation /
zero padding (test input only, not musicnn's resampler). Fixed seed.
"""

import argparse
import glob
import json
import math
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, TensorProto

PATCH = 48128
SR = 16000


def reference_signal():
    """Port of songrec_neural::musicnn::reference_signal() (3 patches)."""
    n = np.arange(3 * PATCH, dtype=np.float64)
    t = n / SR
    s = np.zeros_like(t)
    for a, f, p in [(0.25, 220.0, 0.0), (0.15, 440.0, 1.0), (0.10, 1318.5, 2.0), (0.05, 3520.0, 0.5)]:
        s += a * np.sin(2.0 * math.pi * f * t + p)
    k = np.arange(3 * PATCH) % 8000
    s += np.where(k < 200, 0.6 * np.exp(-k / 20.0), 0.0)
    return s.astype(np.float32).reshape(3, PATCH)


def music_windows(d, count, seed=12345):
    import soundfile as sf
    files = sorted(f for f in glob.glob(os.path.join(d, "*")) if f.lower().endswith((".ogg", ".flac", ".wav")))
    rng = np.random.default_rng(seed)
    rows, where = [], []
    for i in range(count):
        f = files[i % len(files)] if count >= len(files) else files[int(rng.integers(len(files)))]
        info = sf.info(f)
        n_in = int(round(PATCH * info.samplerate / SR))
        start = int(rng.integers(0, max(1, info.frames - n_in)))
        x, sr = sf.read(f, start=start, frames=n_in, dtype="float64", always_2d=True)
        x = x.mean(axis=1)
        X = np.fft.rfft(x)
        nb = PATCH // 2 + 1
        Y = np.zeros(nb, complex)
        m = min(nb, len(X))
        Y[:m] = X[:m]
        y = np.fft.irfft(Y, PATCH) * (PATCH / len(x))
        rows.append(np.clip(y, -1, 1).astype(np.float32))
        where.append("%s@%.1fs" % (os.path.basename(f), start / info.samplerate))
    return np.stack(rows), where


def ort_session(path_or_bytes, plain=False):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    if plain:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(path_or_bytes, sess_options=so, providers=["CPUExecutionProvider"])


def with_pool_outputs(path):
    """The original model plus its pool tensors as outputs (to check max_pool / mean_pool)."""
    m = onnx.load(path)
    for t in ("model/Max:0", "model/moments/mean:0"):
        m.graph.output.append(helper.make_tensor_value_info(t, TensorProto.FLOAT, None))
    return m.SerializeToString()


def run_ort(sess, x, batch):
    names = [o.name for o in sess.get_outputs()]
    outs = {n: [] for n in names}
    for i in range(0, len(x), batch):
        r = sess.run(names, {"wave": x[i:i + batch]})
        for n, v in zip(names, r):
            outs[n].append(v)
    return {n: np.concatenate(v) for n, v in outs.items()}


def run_tract(path, x):
    import tract
    m = tract.onnx().load(path).into_model().into_runnable()
    out = m.run([x])
    return [o.to_numpy() for o in out]


def maxdiff(a, b):
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("orig")
    ap.add_argument("variants", nargs="+", help="NAME=PATH")
    ap.add_argument("--expected")
    ap.add_argument("--music", default="target/scratch/dspbench/real26")
    ap.add_argument("--windows", type=int, default=20)
    ap.add_argument("--no-tract", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("--exact", nargs="*")
    ap.add_argument("--tol", type=float, default=1e-5)
    args = ap.parse_args()
    variants = [v.split("=", 1) for v in args.variants]

    ref = reference_signal()
    inputs = {"reference": ref}
    if args.windows:
        mus, where = music_windows(args.music, args.windows)
        inputs["music"] = mus
        print("music windows:", ", ".join(where))
    report = {"checks": {}}

    o_sess = ort_session(with_pool_outputs(args.orig))
    o_plain = ort_session(with_pool_outputs(args.orig), plain=True)
    for iname, x in inputs.items():
        base1 = run_ort(o_sess, x, 1)
        baseB = run_ort(o_sess, x, len(x))
        baseP = run_ort(o_plain, x, len(x))
        base_tr = None if args.no_tract else run_tract(args.orig, x)
        for vname, path in variants:
            s = ort_session(path)
            s_plain = ort_session(path, plain=True)
            for bs, base, sess, what in ((1, base1, s, ""), (len(x), baseB, s, ""),
                                         (len(x), baseP, s_plain, ", graph optimisations off")):
                v = run_ort(sess, x, bs)
                r = {k: maxdiff(v[k], base[k]) for k in ("penultimate", "taggram")}
                if "max_pool" in v:
                    r["max_pool_vs_model/Max"] = maxdiff(v["max_pool"], base["model/Max:0"][:, :, 0])
                    r["mean_pool_vs_model/moments/mean"] = maxdiff(v["mean_pool"], base["model/moments/mean:0"][:, 0, :, 0])
                key = "%s | onnxruntime batch %d%s | %s (%d rows)" % (vname, bs, what, iname, len(x))
                report["checks"][key] = r
                print("%-60s %s" % (key, "  ".join("%s %.3g" % kv for kv in r.items())))
            if base_tr is not None:
                vt = run_tract(path, x)
                r = {"taggram": maxdiff(vt[0], base_tr[0]), "penultimate": maxdiff(vt[1], base_tr[1])}
                if len(vt) > 2:
                    r["max_pool_vs_onnxruntime"] = maxdiff(vt[2], run_ort(s, x, len(x))["max_pool"])
                key = "%s | tract batch %d | %s (%d rows)" % (vname, len(x), iname, len(x))
                report["checks"][key] = r
                print("%-60s %s" % (key, "  ".join("%s %.3g" % kv for kv in r.items())))

    if args.expected:
        exp = json.load(open(args.expected))
        e_pen, e_tag = np.array(exp["penultimate"]), np.array(exp["taggram"])
        for vname, path in [("original", args.orig)] + variants:
            v = run_ort(ort_session(path), ref, 3)
            r = {"penultimate": maxdiff(v["penultimate"], e_pen), "taggram": maxdiff(v["taggram"], e_tag)}
            report["checks"]["%s | vs expected.json" % vname] = r
            print("%-60s %s  %s" % (vname + " vs expected.json", r, "OK" if max(r.values()) <= 1e-5 else "FAIL"))

    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    if args.strict:
        exact = set(args.exact) if args.exact is not None else {"step_a", "step_f"}
        bad = []
        for key, r in report["checks"].items():
            name = key.split(" | ")[0]
            for k, v in r.items():
                if "vs expected.json" in key:
                    lim = args.tol
                elif "onnxruntime" in k:  # tract vs onnxruntime on the same model: engine difference
                    lim = 1e-3
                elif name in exact:
                    lim = 0.0
                else:
                    lim = args.tol if k in ("penultimate", "taggram") else 1e-3
                if not v <= lim:
                    bad.append("%s: %s = %.3g > %.3g" % (key, k, v, lim))
        if bad:
            raise SystemExit("FAIL:\n  " + "\n  ".join(bad))
        print("verify: all checks within limits (exact: %s, tol %.0e)" % (sorted(exact), args.tol))


if __name__ == "__main__":
    main()
