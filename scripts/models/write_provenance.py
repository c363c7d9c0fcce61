#!/usr/bin/env python3
"""Write crates/neural/models/musicnn/PROVENANCE.md (both models, MSD_musicnn and MTT_musicnn) from the
facts the build produced: OUT_DIR/{expected,tags,mtt_expected,mtt_tags}.json, and per model
WORK/facts.json, WORK/check.json, WORK/optimise.json, WORK/verify.json, WORK/seconds
(WORK = MSD's work dir, MTT_WORK = MTT's), WORK/dl/<wheel> (licence facts),
scripts/models/musicnn_speed.json. Stdlib only.

    python write_provenance.py OUT_DIR WORK_DIR BUILD_SECONDS [NOTE] --mtt-work MTT_WORK_DIR
"""

import argparse
import hashlib
import json
import os
import re
import zipfile


def fmt(v):
    return "%.3g" % v if isinstance(v, float) else str(v)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_opt(path):
    return json.load(open(path)) if os.path.exists(path) else None


class Model:
    """What the build left for one model (file names as convert_musicnn.py out_names())."""

    def __init__(self, name, out_dir, work_dir, shipped_dir=None):
        self.name = name
        p = "" if name == "MSD_musicnn" else name.split("_")[0].lower() + "_"
        self.onnx_name = name.split("_")[0].lower() + "_musicnn.onnx"
        self.expected_name = p + "expected.json"
        self.tags_name = p + "tags.json"
        self.work = work_dir
        self.exp = json.load(open(os.path.join(out_dir, self.expected_name)))
        self.tags = json.load(open(os.path.join(out_dir, self.tags_name)))
        self.facts = json.load(open(os.path.join(work_dir, "facts.json")))
        assert self.facts.get("model", name) == name, (self.facts.get("model"), name)
        self.check = load_opt(os.path.join(work_dir, "check.json"))
        self.opt = load_opt(os.path.join(work_dir, "optimise.json"))
        self.ver = load_opt(os.path.join(work_dir, "verify.json"))
        sp = os.path.join(work_dir, "seconds")
        self.seconds = open(sp).read().strip() if os.path.exists(sp) else "?"
        self.compare = load_opt(os.path.join(work_dir, "compare.json"))
        # built = this build's output; shipped = what PROVENANCE.md describes (the same files
        # unless --shipped-dir keeps earlier, numerically equivalent ones)
        path = os.path.join(out_dir, self.onnx_name)
        self.built_sha = sha256_file(path)
        self.built_bytes = os.path.getsize(path)
        shipped_dir = shipped_dir or out_dir
        self.kept = os.path.realpath(shipped_dir) != os.path.realpath(out_dir)
        if self.kept:
            assert self.compare, "--shipped-dir needs WORK/compare.json (MUSICNN_KEEP_DIR)"
        path = os.path.join(shipped_dir, self.onnx_name)
        self.sha = sha256_file(path)
        self.bytes = os.path.getsize(path)
        self.exp_shipped = json.load(open(os.path.join(shipped_dir, self.expected_name)))
        assert json.load(open(os.path.join(shipped_dir, self.tags_name))) == self.tags
        self.checkpoint = self.facts.get("checkpoint", "musicnn/%s/" % name)


def wheel_facts(work_dir, wheel_name):
    """Licence-relevant facts read from the wheel itself (None if it is not in WORK/dl)."""
    path = os.path.join(work_dir, "dl", wheel_name)
    if not os.path.exists(path):
        return None
    z = zipfile.ZipFile(path)
    names = z.namelist()
    meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    record = z.read(next(n for n in names if n.endswith(".dist-info/RECORD"))).decode()
    results = {}
    for m in ("MSD_musicnn", "MTT_musicnn"):
        n = "musicnn/%s/experiment.result" % m
        if n in names:
            results[m] = " ".join(z.read(n).decode().split())
    return {
        "licence_files": [n for n in names if re.search(r"licen[cs]e|copying|notice", n, re.I)],
        "licence_field": re.search(r"^License: (.*)$", meta, re.M).group(1).strip(),
        "classifiers": [l.split(": ", 1)[1] for l in meta.splitlines() if l.startswith("Classifier: License")],
        "top_dirs": sorted({n.split("/")[1] for n in names if n.startswith("musicnn/") and n.count("/") >= 2}),
        "in_record": {m: sum(1 for l in record.splitlines() if l.startswith("musicnn/%s/" % m))
                      for m in ("MSD_musicnn", "MTT_musicnn")},
        "experiment_result": results,
    }


def rewrite_log(w, m):
    """The per-model part of the rewrite section: log, ops before, verification table."""
    opt, ver = m.opt, m.ver
    w("This build's rewrite log (`%s`):" % m.name)
    w("")
    for line in opt["log"]:
        w("- " + line)
    w("")
    w("Ops before: " + ", ".join("%s x%d" % kv for kv in opt["ops_before"].items()) + ".")
    w("")
    if ver:
        w("Verification of `%s` (`verify_musicnn_opt.py --strict`, max abs difference vs the tf2onnx graph "
          "run the same way; `step_a` = a + c, `step_f` = f + c (both must be bit-identical), `step_ab` = "
          "a + b + c, `step_bf` = b + f + c = the shipped graph; onnxruntime with 1 thread; "
          "`max_pool`/`mean_pool` compared with the tf2onnx graph's `model/Max` / `model/moments/mean`; the "
          "tract rows compare tract with tract, and `max_pool_vs_onnxruntime` is tract vs onnxruntime on "
          "the same graph, i.e. the engines' own difference; the `vs expected.json` rows compare with `%s`):"
          % (m.name, m.expected_name))
        w("")
        w("| check | penultimate | taggram | pools |")
        w("| --- | --- | --- | --- |")
        for k, r in ver["checks"].items():
            pools = ", ".join("%s %s" % (pk, fmt(pv)) for pk, pv in r.items()
                              if pk not in ("penultimate", "taggram")) or "-"
            w("| %s | %s | %s | %s |" % (k.replace(" | ", ", "), fmt(r["penultimate"]), fmt(r["taggram"]), pools))
        w("")


def verification_table(w, m):
    w("| check | penultimate | taggram |")
    w("| --- | --- | --- |")
    for k, r in m.exp["verification"].items():
        pen = fmt(r["penultimate"]) if "penultimate" in r else ("(log-mel) " + fmt(r["logmel"]) if "logmel" in r else "-")
        w("| `%s`: %s | %s | %s |" % (k, r["desc"], pen, fmt(r["taggram"]) if "taggram" in r else "-"))
    if m.check:
        for k, r in m.check.items():
            if isinstance(r, dict):
                w("| `%s`: %s vs %s (regenerated test signal, values rounded to 7 digits), %.2f s for 3 patches | %s | %s |"
                  % (k, "this build's model" if m.kept else "model", ("this build's " if m.kept else "")
                     + m.expected_name, r["seconds_for_3_patches"], fmt(r["max_abs_diff_penultimate"]),
                     fmt(r["max_abs_diff_taggram"])))
            else:
                w("| `%s` | %s | - |" % (k, fmt(r)))
    if m.compare:
        for k, r in m.compare["checks"].items():
            if k == "original | vs expected.json":
                what = "shipped `%s` vs shipped `%s` (onnxruntime)" % (m.onnx_name, m.expected_name)
            elif k.startswith("built | ") and "vs expected.json" not in k:
                what = "shipped `%s` vs this build's (%s)" % (m.onnx_name, k[len("built | "):].replace(" | ", ", "))
            else:
                continue
            w("| %s | %s | %s |" % (what, fmt(r["penultimate"]), fmt(r["taggram"])))
    w("")


def max_diff(a, b):
    """Max abs difference of two equally shaped nested lists of numbers."""
    if isinstance(a, list):
        assert len(a) == len(b)
        return max(max_diff(x, y) for x, y in zip(a, b))
    return abs(a - b)


def ops_line(m):
    return ", ".join("%s x%d" % (k, n) for k, n in (m.opt["ops_after"] if m.opt else m.facts["op_types"]).items()) + "."


def tags_line(m):
    return " ".join("%d `%s`" % (i, t) + ("," if i < len(m.tags) - 1 else ".") for i, t in enumerate(m.tags))


def expected_values(w, m, with_signal):
    exp = m.exp_shipped
    if with_signal:
        w("Test signal (3 patches):")
        w("")
        w("```")
        w(exp["test_signal"]["description"])
        w("```")
        w("")
        w("Sanity values: sum of samples (float64 sum of the float32 samples) = %r, first samples = %s."
          % (exp["test_signal"]["sum_of_samples"], exp["test_signal"]["first_samples"]))
        w("")
    else:
        w("Same test signal as above (`%s` holds the same `test_signal` definition; sum of samples = %r)."
          % (m.expected_name, exp["test_signal"]["sum_of_samples"]))
        w("")
    w("Values below come from onnxruntime (`%s`); tolerance for a Rust check: 1e-4 with onnxruntime, "
      "1e-3 with tract (observed differences are ~1e-6)." % exp["tolerance"]["note"])
    w("")
    for i, p8 in enumerate(exp["penultimate_first8"]):
        w("- patch %d `penultimate[0..8]` = `%s`" % (i, p8))
    w("- mean over the 3 patches `penultimate[0..8]` = `%s`" % exp["mean_penultimate_first8"])
    w("- L2 norm of `penultimate` per patch = `%s`" % exp["penultimate_l2"])
    w("")
    if with_signal:
        w("Several of the first 8 values are the same in every patch: those units are 0 after the ReLU for "
          "this signal and the batch norm maps 0 to a constant. Compare the full arrays in `expected.json` "
          "for a stronger test.")
        w("")
    w("| patch | top-5 tags (probability) |")
    w("| --- | --- |")
    for i, t5 in enumerate(exp["top5"]):
        w("| %d | %s |" % (i, ", ".join("%s (#%d) %.4f" % (t["tag"], t["index"], t["prob"]) for t in t5)))
    w("| mean | %s |" % ", ".join("%s (#%d) %.4f" % (t["tag"], t["index"], t["prob"])
                                  for t in exp["mean_taggram_top5"]))
    w("")
    w("`%s` holds the full `penultimate` [3][200] and `taggram` [3][50] arrays (7 significant "
      "digits), the signal definition (`test_signal.sines`, `test_signal.click`) and the verification numbers."
      % m.expected_name)
    w("")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("work_dir", help="MSD_musicnn's work dir (also holds dl/<wheel>)")
    ap.add_argument("build_seconds", nargs="?", default="?")
    ap.add_argument("build_note", nargs="?", default="")
    ap.add_argument("--mtt-work", required=True, help="MTT_musicnn's work dir")
    ap.add_argument("--shipped-dir", help="describe the ONNX files and expected json of this dir "
                    "(kept from an earlier build, compared with this one: WORK/compare.json)")
    args = ap.parse_args()
    out_dir, work_dir = args.out_dir, args.work_dir
    build_seconds, build_note = args.build_seconds, args.build_note
    msd = Model("MSD_musicnn", out_dir, work_dir, args.shipped_dir)
    mtt = Model("MTT_musicnn", out_dir, args.mtt_work, args.shipped_dir)
    models = (msd, mtt)
    # MSD's names, as in the single-model writer
    facts, opt = msd.facts, msd.opt
    here = os.path.dirname(os.path.abspath(__file__))
    pins = [l for l in open(os.path.join(here, "requirements.txt")).read().splitlines()
            if l and not l.startswith("#")]
    pins_check = [l for l in open(os.path.join(here, "requirements-check.txt")).read().splitlines()
                  if l and not l.startswith("#")]
    pins_opt = [l for l in open(os.path.join(here, "requirements-optimise.txt")).read().splitlines()
                if l and not l.startswith("#")]
    speed_path = os.path.join(here, "musicnn_speed.json")
    speed = json.load(open(speed_path)) if os.path.exists(speed_path) else None
    wf = wheel_facts(work_dir, facts["wheel"])
    assert mtt.facts["wheel_sha256"] == facts["wheel_sha256"]
    v = facts["versions"]
    L = []
    w = L.append

    w("# musicnn `MSD_musicnn` and `MTT_musicnn` as ONNX (`msd_musicnn.onnx`, `mtt_musicnn.onnx`)")
    w("")
    w("Generated by `scripts/models/build_musicnn_onnx.sh`; do not edit by hand (rerun the script).")
    w("")
    w("## Files")
    w("")
    w("| file | what | bytes | sha256 |")
    w("| --- | --- | --- | --- |")
    for m in models:
        w("| `%s` | `%s`, rewritten graph (below) | %d | `%s` |" % (m.onnx_name, m.name, m.bytes, m.sha))
        w("| `%s` | `%s`: outputs for the fixed test signal, verification numbers | | |" % (m.expected_name, m.name))
        w("| `%s` | `%s`: the 50 tags in output order | | |" % (m.tags_name, m.name))
    w("| `LICENSE` | the wheel's `LICENSE.md` (ISC), covers both models | | |")
    w("")
    if any(m.kept for m in models):
        w("The ONNX files above were built by an earlier run of this script; the last run (whose facts "
          "this file reports, with `MUSICNN_OUT` a scratch dir and `MUSICNN_KEEP_DIR=crates/neural/models/musicnn`) rebuilt "
          "both and its outputs agree with the shipped files (rows `shipped ... "
          "vs this build's` in the verification tables; tf2onnx is not byte-stable), so they were kept. "
          "This run's rewritten graphs: " + "; ".join(
              "`%s` %d bytes, sha256 `%s`" % (m.onnx_name, m.built_bytes, m.built_sha) for m in models) + ". "
          "The expected json files are kept with them (they hold the kept files' outputs; this run's "
          "differ by at most " + "; ".join(
              "`%s` %.2g on `penultimate`, %.2g on `taggram`" % (
                  m.expected_name, max_diff(m.exp["penultimate"], m.exp_shipped["penultimate"]),
                  max_diff(m.exp["taggram"], m.exp_shipped["taggram"])) for m in models)
          + "). The verification tables below are this run's, plus the comparison rows.")
        w("")
    w("## How songrec uses them (`musicnn@2`)")
    w("")
    w("Per song, songrec cuts 8 evenly spaced 3.008 s patches (16 kHz mono, 48128 samples each). "
      "`MSD_musicnn` runs on the even-numbered patches (0, 2, 4, 6) and `MTT_musicnn` on the odd-numbered "
      "ones (1, 3, 5, 7) (a clip with a single patch goes through both), so the two networks together cost "
      "what one costs on all 8 patches. Each network's `penultimate` (200 values) is averaged over its "
      "patches and L2-normalised; the stored vector is the two normalised means concatenated, MSD's then "
      "MTT's (400 values; songrec scales it by 1/sqrt(2) to unit length, so cosine = mean of the two "
      "cosines). The 50 style tags shown to the user are MSD's mean `taggram`.")
    w("")
    w("## Source")
    w("")
    w("- PyPI package `musicnn==0.1.0`, file `%s`, sha256 `%s` (downloaded with "
      "`pip download --no-deps --only-binary :all: musicnn==0.1.0`; the script checks this hash)."
      % (facts["wheel"], facts["wheel_sha256"]))
    for m in models:
        w("- `%s` checkpoint: `%s` inside the wheel (TF1 Saver checkpoint, prefix = the directory; "
          "`.data-00000-of-00001` sha256 `%s`). Graph code: the wheel's own `musicnn/models.py` "
          "(`define_model(x, is_training=False, '%s', 50)`)." % (
              m.name, m.checkpoint, m.facts["checkpoint_data_sha256"], m.name))
    w("- Both names map to the same `build_musicnn(x, is_training, 50, num_filt_midend=64, "
      "num_units_backend=200)` in `models.py`: same graph, different trained weights and tag vocabularies.")
    w("- Upstream: http://github.com/jordipons/musicnn — J. Pons and X. Serra, *musicnn: pre-trained "
      "convolutional neural networks for music audio tagging*, ISMIR 2019 late-breaking demo.")
    w("- Licence: ISC, code and bundled weights, \"Copyright (c) Music Technology Group, Universitat "
      "Pompeu Fabra 2019\". Full text in `LICENSE` (verbatim copy of the wheel's `LICENSE.md`). "
      "The ONNX files are converted forms of the weights: keep `LICENSE` next to them when redistributing.")
    if wf:
        w("- Licence scope, read from the wheel: its only licence file is %s; its `METADATA` says "
          "`License: %s` (classifier `%s`) for the whole distribution `musicnn`, whose single package "
          "`musicnn/` holds the code and the checkpoint directories %s (`RECORD` lists %d files under "
          "`musicnn/MSD_musicnn/` and %d under `musicnn/MTT_musicnn/`). No file in the wheel gives the "
          "checkpoints other terms, so the same ISC `LICENSE` covers `mtt_musicnn.onnx` and "
          "`msd_musicnn.onnx` alike." % (
              ", ".join("`%s`" % n for n in wf["licence_files"]), wf["licence_field"],
              "; ".join(wf["classifiers"]), ", ".join("`%s/`" % d for d in wf["top_dirs"]),
              wf["in_record"]["MSD_musicnn"], wf["in_record"]["MTT_musicnn"]))
    w("")
    w("## Variants: `MSD_musicnn` and `MTT_musicnn`")
    w("")
    w("musicnn ships `MSD_musicnn` (Million Song Dataset, last.fm tags) and `MTT_musicnn` (MagnaTagATune). "
      "The MSD tag vocabulary is genre/style/era oriented (rock, pop, jazz, electronic, 80s, hip-hop, "
      "mellow, ...), which is what music-library similarity and tagging needs; the MTT tags are mostly "
      "instrumentation, voice, tempo and mood (guitar, piano, violin, male vocal, fast, quiet, ...), which "
      "the second half of songrec's vector adds. Same architecture for both "
      "(musically motivated front end, 64-filter mid-end, 200-unit penultimate layer, ~0.79 M parameters).")
    if wf and wf["experiment_result"]:
        w("")
        w("Test-set scores as the wheel's `experiment.result` files state them: " + "; ".join(
            "`%s`: \"%s\"" % (k, r) for k, r in sorted(wf["experiment_result"].items())) + ".")
    w("")
    w("## Conversion")
    w("")
    w("Command (from the repo root; venvs and scratch under `target/scratch/models` by default, "
      "override with `MUSICNN_VENV`, `MUSICNN_CHECK_VENV`, `MODELS_SCRATCH`):")
    w("")
    w("```sh")
    w("scripts/models/build_musicnn_onnx.sh")
    w("```")
    w("")
    w("It creates a Python 3.11 venv with the exact pins of `scripts/models/requirements.txt` "
      "(%d packages, ~1.9 GB, PyPI only), downloads and hash-checks the musicnn wheel, unpacks it (musicnn "
      "itself is not pip-installed: its metadata pins numpy<1.17), runs `convert_musicnn.py`, "
      "then `optimise_musicnn_onnx.py` (graph rewrite, below) and `verify_musicnn_opt.py --strict` in a small "
      "venv (`requirements-optimise.txt`), then `check_runtimes.py` in a second small venv "
      "(`requirements-check.txt`); it does this for `MSD_musicnn`, then for `MTT_musicnn` (same steps, "
      "the `mtt_` file names), then runs this file's writer. "
      "Last build (both models): %s s on this machine (2 shared cores; %s; %s). The first run of the "
      "MSD-only script, which also created the venvs (~2.1 GB), took 337 s here." % (
          len(pins), build_seconds, build_note,
          ", ".join("%s %s s" % (m.name, m.seconds) for m in models)))
    w("")
    w("Key pins: " + ", ".join("`%s`" % p for p in pins[:8]) + ". Runtime check: "
      + ", ".join("`%s`" % p for p in pins_check[:3]) + ". Rewrite: "
      + ", ".join("`%s`" % p for p in pins_opt[:4]) + ".")
    w("")
    w("What `convert_musicnn.py` does: builds a TF1 graph `wave -> log-mel -> define_model(...) -> "
      "sigmoid`, restores the checkpoint with `tf.compat.v1.train.Saver`, freezes with "
      "`convert_variables_to_constants`, exports with `tf2onnx.convert.from_graph_def(opset=17)`, renames "
      "the I/O to `wave`/`taggram`/`penultimate`, names the batch dim `batch`, drops the unused "
      "`ai.onnx.ml` opset import, runs `onnx.checker` (full check).")
    w("")
    w("tf2onnx output is not byte-stable across runs: compare numbers (expected.json), not file hashes. "
      "This build: " + "; ".join(
          "`%s` tf2onnx output %d bytes, sha256 `%s`, rewritten %d bytes, sha256 `%s`" % (
              m.name, m.facts["onnx_bytes"], m.facts["onnx_sha256"], m.built_bytes, m.built_sha)
          for m in models) + ". Shipped: " + "; ".join(
          "`%s` %d bytes, sha256 `%s`" % (m.onnx_name, m.bytes, m.sha) for m in models)
      + (" (kept from an earlier build, see Files)." if any(m.kept for m in models) else " (this build's)."))
    if opt:
        w("")
        w("## Graph rewrite (`optimise_musicnn_onnx.py`)")
        w("")
        w("The tf2onnx graph is rewritten so that it is cheaper to run, with the same outputs "
          "(`python scripts/models/optimise_musicnn_onnx.py IN.onnx OUT.onnx [--steps bfc]`; the build keeps "
          "the tf2onnx graphs as `$MODELS_SCRATCH/musicnn-build/msd_musicnn.tf2onnx.onnx` and "
          "`$MODELS_SCRATCH/musicnn-build-MTT_musicnn/mtt_musicnn.tf2onnx.onnx`; both models get the same "
          "steps). Each of the five "
          "front-end branches is `Conv -> Relu -> BatchNormalization -> MaxPool(whole frequency axis) -> "
          "Squeeze`; in tract the five MaxPools took ~16 of ~70 ms per patch (one-core profile) and the "
          "batch norms ~7 ms, on tensors up to [batch, 204, 187, 59]. Steps (the shipped graph = `b`, `f`, `c`):")
        w("")
        w("- **a. MaxPool -> ReduceMax** (measured, *not* shipped). A MaxPool whose kernel covers its input's "
          "whole extent along an axis (stride >= extent, no padding, no dilation, kernel 1 and stride 1 on the "
          "other axes; checked with ONNX shape inference) is `ReduceMax(axes=[axis], keepdims=1)` (opset 17: "
          "`axes` attribute). Bit-identical outputs and faster in onnxruntime, but tract 0.23's `Reduce<Max>` "
          "slices its input once per output element (~0.7 us each), 3-4x slower than its MaxPool here, so "
          "the shipped graph keeps MaxPool.")
        w("- **b. Pool before ReLU and batch norm.** ReLU is non-decreasing and inference BN is, per channel, "
          "x -> (x - mean) s + beta with s = gamma / sqrt(var + eps): non-decreasing for s > 0, non-increasing "
          "for s < 0. So max over frequency of BN(relu(y)) = BN(relu(max y)) for s > 0 and BN(relu(min y)) for "
          "s < 0. Most channels here have s < 0 (trained gamma < 0; counts in the log below): their Conv weights "
          "and bias are negated (the Conv then gives exactly -y there), the pool yields -min y, and a `Mul` by "
          "the per-channel sign (+1/-1) on the pooled [batch, C, 187, 1] tensor gives min y. New branch: "
          "`Conv(sign-folded) -> MaxPool -> Mul(sign) -> Relu -> BatchNormalization -> Squeeze`: ReLU and BN "
          "run on 1/F of the data. Rounding is monotone too, so in float32 the result is the same up to how a "
          "runtime rounds BN on the two tensor sizes: bit-identical in tract and in onnxruntime with graph "
          "optimisations off; onnxruntime's default optimised graph rounds BN differently (1-ulp differences in "
          "the pooled features, ~2e-6 on `penultimate`).")
        w("- **f. Pool along long rows.** MaxPool(kernel [1, F], stride [1, F]) on [N, C, 187, F] becomes "
          "`Reshape [N, C, 11, 17 F] -> MaxPool(kernel [1, F], stride [1, F]) -> Reshape [N, C, 187, 1]`: the "
          "same windows (bit-identical), but tract's MaxPool walks each kernel column along a row, so 17x fewer, "
          "17x longer inner loops. (One row of 187 F is avoided: the new unit axis makes tract 0.23 turn the "
          "upstream convs into 3-D ones with a very slow im2col at batch > 1.)")
        w("- **c. Pool outputs.** Two extra outputs `max_pool` and `mean_pool`, float32 `[batch, 753]`: the "
          "backend's max and mean over time of the concatenated mid-end features (the nodes `model/Max` and "
          "`model/moments/mean`, squeezed), as musicnn's extractor names them. Appended after `taggram` and "
          "`penultimate`, which keep their names and positions.")
        w("")
        rewrite_log(w, msd)
        if mtt.opt:
            rewrite_log(w, mtt)
        if speed:
            w("Speed per patch of `msd_musicnn` (`mtt_musicnn` has the same architecture and rewrite; %s):" % speed["note"])
            w("")
            w("| runtime | batch | " + " | ".join(speed["columns"]) + " | measured (UTC, 1-min load) |")
            w("| --- | --- | " + " | ".join("---" for _ in speed["columns"]) + " | --- |")
            for r in speed["rows"]:
                w("| %s | %d | %s | %s |" % (r["runtime"], r["batch"], " | ".join(
                    "-" if v is None else "%.1f" % v for v in r["values"]), r["when"]))
            w("")
    w("## Input / output")
    w("")
    w("| name | dtype | shape | meaning |")
    w("| --- | --- | --- | --- |")
    w("| `wave` (input) | float32 | `[batch, 48128]` | mono audio, 16 kHz, samples in [-1, 1] (48128 samples = 3.008 s = exactly 187 STFT frames) |")
    w("| `taggram` (output) | float32 | `[batch, 50]` | sigmoid tag probabilities, order = `tags.json` (MSD) / `mtt_tags.json` (MTT) |")
    w("| `penultimate` (output) | float32 | `[batch, 200]` | penultimate dense layer (after ReLU and batch norm): the embedding |")
    if opt and "max_pool" in opt["outputs"]:
        w("| `max_pool` (output) | float32 | `[batch, 753]` | backend: max over time of the concatenated mid-end features (musicnn's `max_pool`) |")
        w("| `mean_pool` (output) | float32 | `[batch, 753]` | backend: mean over time of the same features (musicnn's `mean_pool`) |")
    w("")
    w("`batch` is dynamic (tested 1 and 3 in onnxruntime and tract; rows are independent).")
    w("")
    w("Front end inside the graph (matches `musicnn/extractor.py`, i.e. "
      "`librosa.feature.melspectrogram(y, sr=16000, hop_length=256, n_fft=512, n_mels=96)` then "
      "`log10(10000 * mel + 1)`):")
    w("")
    w("- STFT = `Conv` with a fixed `[512 out, 1, 512]` kernel: periodic Hann window "
      "(`scipy.signal.get_window('hann', 512, fftbins=True)`, as librosa) times cos for bins 0..256 and "
      "-sin for bins 1..255 (the sine parts of bins 0 and 256 are identically zero), stride 256, "
      "no padding: frame t = `wave[256 t : 256 t + 512]`, t = 0..186.")
    w("- Power spectrum = square of the 512 outputs; the mel projection is one `MatMul` with a "
      "`[512, 96]` matrix = librosa %s `filters.mel(sr=16000, n_fft=512, n_mels=96)` (Slaney mel scale, "
      "`norm='slaney'` area normalisation, fmin 0, fmax 8000) transposed, with its rows for bins 1..255 "
      "repeated for the imaginary parts (so re^2 + im^2 is summed by the MatMul). No tensordot / Einsum." % v["librosa"])
    w("- `log(10000 x + 1) / ln 10`.")
    w("- librosa centres frames (pads n_fft/2 = 256 samples each side of the *whole track*; zeros in "
      "librosa >= 0.10, reflection in librosa < 0.10, which musicnn 0.1.0 (2019) was written against) and musicnn cuts that "
      "spectrogram into non-overlapping 187-frame patches, i.e. patch i of a track = "
      "`padded[47872 i : 47872 i + 48128]` (patch hop 47872 = 187 x 256, each patch 48128 samples, the "
      "patches overlap by 256 samples). Feeding `track[47872 i - 256 : 47872 i + 47872]` (zeros before "
      "the start) reproduces musicnn's framing; any 48128-sample window is a valid input (the model is "
      "a 3 s patch model).")
    w("- musicnn's `extractor.py` casts the mel power spectrogram to **float16** before the log. The ONNX "
      "front end stays float32 (no quantisation); the effect is measured below (penultimate ~3e-4).")
    w("- Song level: songrec averages `penultimate` over evenly spaced patches, per network, and "
      "compares by cosine (see \"How songrec uses them\").")
    w("")
    w("## Verification")
    w("")
    w("Reference = the original TF graph (musicnn's `define_model`, restored checkpoint, one patch per "
      "run as musicnn does) fed with musicnn's feature extraction. Max abs differences for `MSD_musicnn` "
      "(this build; `MTT_musicnn` below):")
    w("")
    verification_table(w, msd)
    w("The conversion itself (same float32 features in, ONNX vs TF) agrees to ~1e-5 or better and the "
      "build fails above 1e-4. Against musicnn's extractor *exactly* (float16 mel), `penultimate` differs "
      "by ~3e-4 and `taggram` by ~1e-5: that is musicnn's own float16 rounding — the TF graph alone, fed "
      "the float16 vs the float32 log-mel, differs by the same amount (row `B_extractor_f16_vs_f32_tf_only`). "
      "`B_extractor_function_vs_tf_reference` = 0 shows the reference graph reproduces "
      "`musicnn.extractor.extractor()` bit for bit.")
    w("")
    w("Note: `musicnn.extractor.extractor(..., extract_features=True)` in 0.1.0 returns patch 1's "
      "`penultimate` for every later patch (its batch loop unpacks into `backend_` but concatenates the "
      "stale `penultimate_`); its taggram is right. The checks here run the graph directly.")
    w("")
    w("## ONNX ops (opset 17, default domain only)")
    w("")
    w("`msd_musicnn.onnx`: " + ops_line(msd))
    w("")
    w("`mtt_musicnn.onnx`: " + ops_line(mtt) + " (tf2onnx does not always emit the same number of "
      "Reshape nodes for the same graph; the kinds of ops are the same.)")
    w("")
    w("All are basic ONNX ops supported by onnxruntime and tract; no Einsum, no tensordot, no STFT/DFT "
      "op, no custom domains. Checked in tract %s (PyPI `tract`, same engine as crate `ort-tract` "
      "0.5.0+0.23) and onnxruntime %s." % (
          next((p.split("==")[1] for p in pins_check if p.startswith("tract==")), "?"),
          next((p.split("==")[1] for p in pins_check if p.startswith("onnxruntime==")), "?")))
    w("")
    w("## Tags (output order, from musicnn `configuration.MSD_LABELS`; also `tags.json`)")
    w("")
    w(tags_line(msd))
    w("")
    w("## Expected values for the fixed test signal (also `expected.json`)")
    w("")
    expected_values(w, msd, True)
    w("## `MTT_musicnn` (`mtt_musicnn.onnx`)")
    w("")
    w("Same wheel, same licence (`LICENSE`, see Source), same graph code, front end, inputs and outputs "
      "as `MSD_musicnn` above; only the weights and the tags differ. Built by the same script run, same "
      "steps and checks.")
    w("")
    w("- Checkpoint: `%s` inside `%s` (`.data-00000-of-00001` sha256 `%s`), restored into "
      "`define_model(x, is_training=False, 'MTT_musicnn', 50)`." % (
          mtt.checkpoint, mtt.facts["wheel"], mtt.facts["checkpoint_data_sha256"]))
    w("- Conversion (`convert_musicnn.py --model MTT_musicnn`, %s s): tf2onnx output %d bytes, sha256 `%s`." % (
        mtt.facts.get("seconds", "?"), mtt.facts["onnx_bytes"], mtt.facts["onnx_sha256"]))
    w("- Rewrite: `optimise_musicnn_onnx.py` default steps (b, f, c), log and `verify_musicnn_opt.py "
      "--strict` table in the rewrite section above.")
    w("- Shipped `mtt_musicnn.onnx`: %d bytes, sha256 `%s`%s." % (
        mtt.bytes, mtt.sha, " (kept from an earlier build; this build's: %d bytes, sha256 `%s`)"
        % (mtt.built_bytes, mtt.built_sha) if mtt.kept else ""))
    w("")
    w("### Verification (`MTT_musicnn`)")
    w("")
    w("Same checks as for MSD (max abs differences; this build):")
    w("")
    verification_table(w, mtt)
    w("### Tags (output order, from musicnn `configuration.MTT_LABELS`; also `mtt_tags.json`)")
    w("")
    w("The 50 MagnaTagATune tags, copied by `convert_musicnn.py` from the wheel's `musicnn/configuration.py` "
      "(`MTT_LABELS`, the list musicnn's own `extractor.py` uses for MTT models); they include near-duplicates "
      "the dataset has (`vocal`/`vocals`, `no vocal`/`no vocals`, `male vocal`/`male voice`, ...).")
    w("")
    w(tags_line(mtt))
    w("")
    w("### Expected values for the fixed test signal (also `mtt_expected.json`)")
    w("")
    expected_values(w, mtt, False)
    with open(os.path.join(out_dir, "PROVENANCE.md"), "w") as f:
        f.write("\n".join(L))


if __name__ == "__main__":
    main()
