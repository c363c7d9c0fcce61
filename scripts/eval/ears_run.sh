#!/usr/bin/env bash
# Reproduces "aisfx, VGG and the new default (2026-11-25)" in scripts/eval/RESULTS.md.
#   scripts/eval/ears_run.sh            (from the repo root; scratch under target/scratch)
# 1. sets: drums (build_sets.py) and the three game-soundtrack sets g1, g2, g3 (build_gamesets.py)
# 2. embeddings per set (ears_embed.py: musicnn@2, aisfx, VGG pair if built, MFCC; 1 thread)
# 3. DSP half: eval_neural dumps (Rust; one release build into $CARGO_TARGET_DIR)
# 4. scoring (ears_score.py), leave-one-set-out
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
S="${EARS_SCRATCH:-target/scratch}"
PY="${EARS_PY:-$S/venv-ears/bin/python}"   # a venv with scripts/models/requirements-aisfx.txt + tinysoundfont==0.3.7 (--no-deps)
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1
mkdir -p "$S/emb" "$S/dumps"
# 1. sets
( cd "$S/debs" 2>/dev/null || mkdir -p "$S/debs" && cd "$S/debs"; apt-get download sonic-pi-samples fluid-soundfont-gm )
for d in "$S"/debs/sonic-pi-samples_*.deb "$S"/debs/fluid-soundfont-gm_*.deb; do dpkg -x "$d" "$S/pkgroot/common"; done
"$PY" "$REPO/scripts/eval/build_sets.py" --root "$S/pkgroot/common" --out "$S/sets" --only drums
( cd "$REPO/scripts/eval" && "$PY" build_gamesets.py --scratch "$S" --out "$S/sets" )
# 2. embeddings
for s in drums g1 g2 g3; do
    "$PY" "$REPO/scripts/eval/ears_embed.py" "$S/sets/$s" "$S/emb/$s.npz" --models-dir "$REPO/models" \
        --blocks 8 --cache "$S/cache"
done
# 3. DSP (and Rust musicnn@2) dumps
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
( cd "$REPO" && cargo build --release -j 1 -p songrec-benches --example eval_neural )
for s in drums g1 g2 g3; do
    ( cd "$S/sets" && "$CARGO_TARGET_DIR/release/examples/eval_neural" "$s" --jobs 1 --dump "$S/dumps/$s.jsonl" )
done
# 4. scoring
( cd "$REPO/scripts/eval" && "$PY" ears_score.py --base "$S/sets" --json "$S/ears_score.json" \
    --dsp drums="$S/dumps/drums.jsonl" g1="$S/dumps/g1.jsonl" g2="$S/dumps/g2.jsonl" g3="$S/dumps/g3.jsonl" -- \
    drums="$S/emb/drums.npz" g1="$S/emb/g1.npz" g2="$S/emb/g2.npz" g3="$S/emb/g3.npz" )
( cd "$REPO/scripts/eval" && "$PY" ears_pooled.py \
    --dsp drums="$S/dumps/drums.jsonl" g1="$S/dumps/g1.jsonl" g2="$S/dumps/g2.jsonl" g3="$S/dumps/g3.jsonl" -- \
    drums="$S/emb/drums.npz" g1="$S/emb/g1.npz" g2="$S/emb/g2.npz" g3="$S/emb/g3.npz" )
