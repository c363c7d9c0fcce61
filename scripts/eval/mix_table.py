#!/usr/bin/env python3
"""Writes the standardisation table of the default embedder (`songrec-mix`,
crates/neural/src/mix.rs): per-dimension mean and standard deviation of each raw part over the
reference corpus of build_mixref.py, which shares no package with any evaluation set.

    cargo run --release -p songrec-neural --example mix_parts -- target/scratch/mixref > ref.jsonl
    python3 scripts/eval/mix_table.py ref.jsonl > crates/neural/models/mix/standardise.json
    python3 scripts/eval/mix_table.py --texture ref3.jsonl > crates/neural/models/mix/standardise-texture.json

Parts, in vector order: musicnn@2 (the stored 400-d vector), aisfx's pooled mean+max before
normalisation (1024), songrec-dsp@2 (the stored 120-d vector). Every file counts once (identical
files were dropped by build_mixref.py). Standard deviations are floored at a thousandth of the
part's median deviation, so a dimension that barely moves on the corpus cannot dominate a
song's part. Values are written as the shortest decimal that round-trips an f32.
"""
import json
import sys

import numpy as np

PARTS = [("musicnn@2", "musicnn", 400), ("aisfx@1-pooled", "aisfx", 1024), ("songrec-dsp@2", "dsp", 120)]
# `--texture`: only version 3's aisfx part (mix_parts of a version 3 build), for
# crates/neural/models/mix/standardise-texture.json.
TEXTURE = [("aisfx-texture@1", "aisfx", 1024)]


def f32(x):
    return float(np.float32(x))


def main():
    rows = []
    args = [a for a in sys.argv[1:] if a != "--texture"]
    parts = TEXTURE if "--texture" in sys.argv[1:] else PARTS
    for path in args:
        with open(path) as f:
            rows += [json.loads(line) for line in f if line.strip()]
    if not rows:
        sys.exit("usage: mix_table.py parts.jsonl [...] > standardise.json")
    labels = sorted({r["label"] for r in rows})
    table = {"corpus": "scripts/eval/build_mixref.py (scripts/eval/mixref.manifest.json)",
             "files": len(rows), "groups": labels, "parts": []}
    for name, key, dim in parts:
        X = np.array([r[key] for r in rows], dtype=np.float64)
        assert X.shape[1] == dim, (name, X.shape)
        mean, std = X.mean(0), X.std(0)
        std = np.maximum(std, max(1e-3 * float(np.median(std)), 1e-9))
        table["parts"].append({"part": name, "mean": [f32(v) for v in mean],
                               "std": [f32(v) for v in std]})
    json.dump(table, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")
    print(f"{len(rows)} files, groups {labels}", file=sys.stderr)


if __name__ == "__main__":
    main()
