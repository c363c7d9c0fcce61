#!/usr/bin/env bash
# Build models/musicnn/msd_musicnn.onnx (+ expected.json, tags.json, LICENSE,
# PROVENANCE.md) from the TF1 checkpoint in the PyPI wheel musicnn==0.1.0.
#
#   scripts/models/build_musicnn_onnx.sh
#
# Environment (all optional):
#   MODELS_SCRATCH      scratch root (default /work/scratch/models)
#   MUSICNN_VENV        conversion venv, TF + tf2onnx (default $MODELS_SCRATCH/venv, ~1.9 GB)
#   MUSICNN_CHECK_VENV  runtime-check venv, onnxruntime 1.31.1 + tract (default $MODELS_SCRATCH/venv-check)
#   MUSICNN_OPT_VENV    graph-rewrite venv, onnx + onnxruntime 1.31.1 + tract (default $MODELS_SCRATCH/venv-optimise)
#   MUSICNN_MUSIC_DIR   optional dir of Ogg/FLAC/WAV files: also compare the rewritten model with the
#                       tf2onnx one on 20 random 3 s windows of that music
#   MUSICNN_OUT         output dir (default <repo>/models/musicnn)
#   PYTHON              Python 3.11 interpreter for the venvs (default python3)
#   SKIP_RUNTIME_CHECK  1 = skip the onnxruntime 1.31.1 / tract check
#   MUSICNN_MODEL       MSD_musicnn (default) or MTT_musicnn (same wheel, same architecture,
#                       MagnaTagATune tags): writes MUSICNN_OUT/mtt_musicnn.onnx + expected.json +
#                       tags.json + LICENSE only (no runtime check, no PROVENANCE.md; for
#                       experiments, so MUSICNN_OUT must be set and not be models/musicnn)
#
# Network: PyPI only (pip). Venvs are reused when their requirements file is unchanged.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SCRATCH="${MODELS_SCRATCH:-/work/scratch/models}"
VENV="${MUSICNN_VENV:-$SCRATCH/venv}"
CHECK_VENV="${MUSICNN_CHECK_VENV:-$SCRATCH/venv-check}"
OPT_VENV="${MUSICNN_OPT_VENV:-$SCRATCH/venv-optimise}"
OUT="${MUSICNN_OUT:-$REPO/models/musicnn}"
PYTHON="${PYTHON:-python3}"
MODEL="${MUSICNN_MODEL:-MSD_musicnn}"
if [ "$MODEL" != MSD_musicnn ]; then
    [ -n "${MUSICNN_OUT:-}" ] && [ "$(cd "$OUT" 2>/dev/null && pwd)" != "$REPO/models/musicnn" ] \
        || { echo "MUSICNN_MODEL=$MODEL: set MUSICNN_OUT to a scratch dir (not models/musicnn)" >&2; exit 1; }
    SKIP_RUNTIME_CHECK=1
fi
WORK="$SCRATCH/musicnn-build"
[ "$MODEL" = MSD_musicnn ] || WORK="$SCRATCH/musicnn-build-$MODEL"

MUSICNN_VERSION=0.1.0
WHEEL_NAME="musicnn-$MUSICNN_VERSION-py3-none-any.whl"
WHEEL_SHA256=f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa
PIP_VERSION=24.0

START=$(date +%s)
say() { echo "[build_musicnn_onnx] $*"; }
VENVS_CREATED=0

"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), "need Python 3.11 (tensorflow-cpu 2.15.1), got %s" % sys.version' \
    || { echo "set PYTHON to a Python 3.11 interpreter" >&2; exit 1; }

# make_venv DIR REQUIREMENTS: create DIR with exactly the pins in REQUIREMENTS
# (binary wheels only), unless DIR was already made from an identical file.
make_venv() {
    local dir="$1" req="$2" stamp
    stamp="$(sha256sum "$req" | cut -d' ' -f1)"
    if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.requirements.sha256" 2>/dev/null)" = "$stamp" ]; then
        say "reusing venv $dir"
        return
    fi
    say "creating venv $dir from $(basename "$req")"
    VENVS_CREATED=$((VENVS_CREATED + 1))
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "pip==$PIP_VERSION"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary :all: -r "$req"
    "$dir/bin/python" -m pip check
    echo "$stamp" > "$dir/.requirements.sha256"
}

mkdir -p "$SCRATCH" "$WORK" "$OUT"
make_venv "$VENV" "$HERE/requirements.txt"

# --- the musicnn wheel (weights + graph code), hash-checked ---------------------
mkdir -p "$WORK/dl"
if [ ! -f "$WORK/dl/$WHEEL_NAME" ]; then
    say "downloading musicnn==$MUSICNN_VERSION from PyPI"
    "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
        --only-binary :all: "musicnn==$MUSICNN_VERSION" -d "$WORK/dl"
fi
echo "$WHEEL_SHA256  $WORK/dl/$WHEEL_NAME" | sha256sum -c --quiet - \
    || { echo "musicnn wheel sha256 mismatch" >&2; exit 1; }
rm -rf "$WORK/musicnn-pkg"
"$VENV/bin/python" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
    "$WORK/dl/$WHEEL_NAME" "$WORK/musicnn-pkg"

# --- convert + verify against TF ---------------------------------------------
say "converting (TensorFlow -> ONNX) and verifying against the TF graph"
# tf2onnx's graph rewrites iterate over Python sets: a fixed hash seed reduces
# run-to-run variation of the exported graph (names still differ: compare numbers)
export PYTHONHASHSEED=0
rm -f "$WORK/facts.json" "$WORK/check.json"
"$VENV/bin/python" "$HERE/convert_musicnn.py" \
    --musicnn-dir "$WORK/musicnn-pkg" \
    --wheel "$WORK/dl/$WHEEL_NAME" \
    --out-dir "$OUT" \
    --work-dir "$WORK" \
    --model "$MODEL" 2> "$WORK/convert.stderr" \
    || { tail -n 40 "$WORK/convert.stderr" >&2; exit 1; }

cp "$WORK/musicnn-pkg/musicnn-$MUSICNN_VERSION.dist-info/LICENSE.md" "$OUT/LICENSE"

# --- graph rewrite: pool before ReLU/BN, pool along long rows, pool outputs ---
# (optimise_musicnn_onnx.py, own small venv; the TF venv is not needed). The
# tf2onnx graph is kept as $WORK/msd_musicnn.tf2onnx.onnx; the rewritten one
# (default steps "bfc") replaces $OUT/msd_musicnn.onnx. The step_a / step_f /
# step_ab variants are only built to be compared (step_a and step_f must be
# bit-identical to the tf2onnx graph).
make_venv "$OPT_VENV" "$HERE/requirements-optimise.txt"
say "rewriting the graph (optimise_musicnn_onnx.py) and comparing with the tf2onnx graph"
mv "$OUT/msd_musicnn.onnx" "$WORK/msd_musicnn.tf2onnx.onnx"
for v in a:ac f:fc ab:abc; do
    "$OPT_VENV/bin/python" "$HERE/optimise_musicnn_onnx.py" "$WORK/msd_musicnn.tf2onnx.onnx" \
        "$WORK/msd_musicnn.step_${v%%:*}.onnx" --steps "${v##*:}" > /dev/null
done
"$OPT_VENV/bin/python" "$HERE/optimise_musicnn_onnx.py" "$WORK/msd_musicnn.tf2onnx.onnx" \
    "$WORK/msd_musicnn.optimised.onnx" --report "$WORK/optimise.json"
MUSIC_ARGS=(--windows 0)
if [ -n "${MUSICNN_MUSIC_DIR:-}" ]; then MUSIC_ARGS=(--music "$MUSICNN_MUSIC_DIR" --windows 20); fi
"$OPT_VENV/bin/python" "$HERE/verify_musicnn_opt.py" "$WORK/msd_musicnn.tf2onnx.onnx" \
    "step_a=$WORK/msd_musicnn.step_a.onnx" "step_f=$WORK/msd_musicnn.step_f.onnx" \
    "step_ab=$WORK/msd_musicnn.step_ab.onnx" "step_bf=$WORK/msd_musicnn.optimised.onnx" \
    --expected "$OUT/expected.json" "${MUSIC_ARGS[@]}" --json "$WORK/verify.json" --strict
cp "$WORK/msd_musicnn.optimised.onnx" "$OUT/msd_musicnn.onnx"

# --- runtime check: onnxruntime 1.31.1 (Rust `ort` lib) and tract 0.23 --------
PROV_PY="$VENV/bin/python"
if [ "$MODEL" != MSD_musicnn ]; then
    say "wrote (no runtime check or PROVENANCE.md for $MODEL):"
    ls -l "$OUT"
    say "done in $(( $(date +%s) - START ))s"
    exit 0
fi
if [ "${SKIP_RUNTIME_CHECK:-0}" != 1 ]; then
    make_venv "$CHECK_VENV" "$HERE/requirements-check.txt"
    say "checking with onnxruntime 1.31.1 and tract"
    "$CHECK_VENV/bin/python" "$HERE/check_runtimes.py" "$OUT" "$WORK/check.json"
    PROV_PY="$CHECK_VENV/bin/python"
fi

SECS=$(( $(date +%s) - START ))
if [ "$VENVS_CREATED" -gt 0 ]; then NOTE="$VENVS_CREATED venv(s) created in this run"; else NOTE="existing venvs reused"; fi
"$PROV_PY" "$HERE/write_provenance.py" "$OUT" "$WORK" "$SECS" "$NOTE"
say "wrote:"
ls -l "$OUT"
say "done in ${SECS}s"
