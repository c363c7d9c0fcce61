#!/usr/bin/env bash
# Build crates/neural/models/aisfx/aisfx_int8.onnx (+ expected_int8.json) from crates/neural/models/aisfx/aisfx.onnx: static
# int8 quantization (onnxruntime.quantization, QOperator: QLinearConv, which both tract and ONNX
# Runtime run as integer convolutions), calibrated on log-mel blocks of real game music from
# four Debian packages that belong to the mix's reference corpus (scripts/eval/build_mixref.py)
# and to no evaluation set. The first conv block (19 % of the FLOPs) stays float32: quantized,
# it alone cost most of the accuracy (block cosine 0.996 -> 0.9999 when kept).
#
#   scripts/models/quantize_aisfx.sh
#
# Environment (all optional):
#   MODELS_SCRATCH  scratch root (default target/scratch/models)
#   QUANT_VENV      venv (default $MODELS_SCRATCH/venv-quantize, requirements-quantize.txt)
#   PYTHON          Python 3.11 interpreter for the venv (default python3)
# Needs ffmpeg (decoding), apt-get and dpkg (download only). Network: PyPI and the Debian
# archive only. CI never runs this: the committed model is what songrec uses.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SCRATCH="${MODELS_SCRATCH:-target/scratch/models}"
VENV="${QUANT_VENV:-$SCRATCH/venv-quantize}"
PYTHON="${PYTHON:-python3}"
WORK="$SCRATCH/aisfx-quantize"
CALIB_PKGS="hyperrogue-music singularity-music planetblupi-music-ogg drascula-music"
say() { echo "[quantize_aisfx] $*"; }

if [ ! -x "$VENV/bin/python" ]; then
    say "creating venv $VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary :all: \
        -r "$HERE/requirements-quantize.txt"
fi
mkdir -p "$WORK/dl" "$WORK/root"
for p in $CALIB_PKGS; do
    if ! ls "$WORK/dl/${p}"_*.deb >/dev/null 2>&1; then (cd "$WORK/dl" && apt-get download "$p"); fi
    dpkg -x "$(ls "$WORK/dl/${p}"_*.deb | tail -n1)" "$WORK/root"
done
if [ ! -d "$WORK/sounds" ]; then
    (cd "$WORK/dl" && apt-get download sound-theme-freedesktop)
    dpkg -x "$(ls "$WORK/dl/sound-theme-freedesktop"_*.deb | tail -n1)" "$WORK/sounds"
fi
OMP_NUM_THREADS=1 "$VENV/bin/python" "$HERE/quantize_aisfx.py" --calib "$WORK/root" \
    --sounds "$WORK/sounds/usr/share/sounds/freedesktop/stereo" --work "$WORK" \
    --src "$REPO/crates/neural/models/aisfx/aisfx.onnx" --out "$REPO/crates/neural/models/aisfx"
