#!/usr/bin/env python3
"""Check crates/neural/models/musicnn/msd_musicnn.onnx against crates/neural/models/musicnn/expected.json (or
mtt_musicnn.onnx against mtt_expected.json, see below)
with the runtimes the Rust side uses: onnxruntime 1.31.1 (the version whose
libonnxruntime.so the `ort` crate loads) and tract 0.23 (PyPI `tract`, the
engine behind the `ort-tract` backend). No TensorFlow needed.

The test signal is regenerated here from its definition in expected.json
(independently of convert_musicnn.py), so this also checks that definition.

    python check_runtimes.py crates/neural/models/musicnn [REPORT.json]
    python check_runtimes.py crates/neural/models/musicnn [REPORT.json] --onnx mtt_musicnn.onnx \
        --expected mtt_expected.json --tags mtt_tags.json

File names are relative to the directory (defaults: the MSD model's files).
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np


def regen_signal(spec):
    n_samples = spec["n_samples"]
    sr = spec["sample_rate"]
    n = np.arange(n_samples, dtype=np.float64)
    t = n / sr
    s = np.zeros(n_samples, dtype=np.float64)
    for sine in spec["sines"]:
        s += sine["amplitude"] * np.sin(2.0 * math.pi * sine["frequency_hz"] * t + sine["phase_rad"])
    c = spec["click"]
    k = np.mod(np.arange(n_samples), c["period_samples"])
    s += np.where(k < c["length_samples"], c["amplitude"] * np.exp(-k / c["decay_samples"]), 0.0)
    return s.astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", nargs="?", default="crates/neural/models/musicnn")
    ap.add_argument("report", nargs="?", help="write the numbers to this JSON file")
    ap.add_argument("--onnx", default="msd_musicnn.onnx")
    ap.add_argument("--expected", default="expected.json")
    ap.add_argument("--tags", default="tags.json")
    args = ap.parse_args()
    d = args.dir
    model_path = os.path.join(d, args.onnx)
    exp = json.load(open(os.path.join(d, args.expected)))
    tags = json.load(open(os.path.join(d, args.tags)))
    print("[check] %s against %s" % (model_path, args.expected), flush=True)
    patch = exp["input"]["shape"][1]
    sig = regen_signal(exp["test_signal"])
    assert abs(float(np.sum(sig, dtype=np.float64)) - exp["test_signal"]["sum_of_samples"]) < 1e-6
    batch = sig.reshape(-1, patch)
    e_pen = np.array(exp["penultimate"], np.float64)
    e_tag = np.array(exp["taggram"], np.float64)
    ok = True
    report = {}

    def compare(name, tag, pen, tol, secs):
        nonlocal ok
        dp = float(np.max(np.abs(pen - e_pen)))
        dt = float(np.max(np.abs(tag - e_tag)))
        top = [tags[i] for i in np.argsort(-tag[0], kind="stable")[:5]]
        good = dp <= tol and dt <= tol and top == [t["tag"] for t in exp["top5"][0]]
        ok &= good
        report[name] = {"max_abs_diff_penultimate": dp, "max_abs_diff_taggram": dt,
                        "seconds_for_3_patches": round(secs, 3), "ok": good}
        print("[check] %-26s penultimate %.3g  taggram %.3g  (%.2f s for %d patches)  %s"
              % (name, dp, dt, secs, batch.shape[0], "OK" if good else "FAIL"), flush=True)

    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(model_path, sess_options=so, providers=["CPUExecutionProvider"])
    t0 = time.time()
    tag, pen = sess.run(["taggram", "penultimate"], {"wave": batch})
    compare("onnxruntime " + ort.__version__, tag, pen, exp["tolerance"]["onnxruntime"], time.time() - t0)

    import tract
    m = tract.onnx().load(model_path)
    # the batch dimension stays symbolic ("batch"); run batch 3 and batch 1
    runnable = m.into_model().into_runnable()
    t0 = time.time()
    out = runnable.run([batch])
    secs = time.time() - t0
    tag_t, pen_t = out[0].to_numpy(), out[1].to_numpy()
    compare("tract " + tract.version(), tag_t, pen_t, exp["tolerance"]["tract"], secs)
    one = runnable.run([batch[1:2]])
    d1 = float(np.max(np.abs(one[1].to_numpy()[0] - pen_t[1])))
    print("[check] tract batch 1 vs batch 3 (penultimate) %.3g" % d1)
    ok &= d1 <= 1e-4
    report["tract_batch1_vs_batch3_penultimate"] = d1
    report["tract_vs_onnxruntime_penultimate"] = float(np.max(np.abs(pen_t - pen)))
    print("[check] tract vs onnxruntime (penultimate) %.3g" % report["tract_vs_onnxruntime_penultimate"])
    if args.report:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=1)
    if not ok:
        raise SystemExit("FAIL: runtime check")


if __name__ == "__main__":
    main()
