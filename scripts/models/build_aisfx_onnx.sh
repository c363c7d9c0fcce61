#!/usr/bin/env bash
# Build crates/neural/models/aisfx/aisfx.onnx (+ expected.json, LICENSE) from the PyPI wheel aisfx==0.1.2:
# the embedding network of A. B. Ma and A. Lerch, "Representation Learning for the Automatic
# Indexing of Sound Effects Libraries", ISMIR 2022 (weights CC BY 4.0). No PyTorch: the
# checkpoint is unpickled with a restricted loader and the graph written with the onnx helper
# API (scripts/models/convert_aisfx.py), then checked against a float64 numpy implementation of
# the network with onnxruntime (1 thread) and tract, on real recordings from Debian's
# sound-theme-freedesktop (apt-get download; nothing is installed).
#
#   scripts/models/build_aisfx_onnx.sh
#
# Environment (all optional):
#   MODELS_SCRATCH  scratch root (default target/scratch/models)
#   AISFX_VENV      venv (default $MODELS_SCRATCH/venv-aisfx, ~600 MB, requirements-aisfx.txt)
#   AISFX_OUT       output dir (default <repo>/models/aisfx)
#   PYTHON          Python 3.11 interpreter for the venv (default python3)
# Needs ffmpeg/ffprobe (decoding the test recordings), apt-get and dpkg (download only).
# Network: PyPI and the Debian archive only. The ONNX file is byte-stable (the onnx helper API
# writes the same bytes for the same weights): a rebuild must reproduce its sha256.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SCRATCH="${MODELS_SCRATCH:-target/scratch/models}"
VENV="${AISFX_VENV:-$SCRATCH/venv-aisfx}"
OUT="${AISFX_OUT:-$REPO/crates/neural/models/aisfx}"
PYTHON="${PYTHON:-python3}"
WORK="$SCRATCH/aisfx-build"

AISFX_VERSION=0.1.2
WHEEL_NAME="aisfx-$AISFX_VERSION-py2.py3-none-any.whl"
WHEEL_SHA256=bfe219950715af179e9a1653e7117cc1852baef267cd6596c42cad74afe1d194
CHECKPOINT_SHA256=499ea75909c932a2f94c35fa722fa4fabc5bcb7e84917209cc5f7402627b7eb5
SOUNDS_PKG=sound-theme-freedesktop
PIP_VERSION=24.0
say() { echo "[build_aisfx_onnx] $*"; }

"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
    || { echo "set PYTHON to a Python 3.11 interpreter" >&2; exit 1; }

REQ="$HERE/requirements-aisfx.txt"
STAMP="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" = "$STAMP" ]; then
    say "reusing venv $VENV"
else
    say "creating venv $VENV"
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pip==$PIP_VERSION"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary :all: -r "$REQ"
    "$VENV/bin/python" -m pip check
    echo "$STAMP" > "$VENV/.requirements.sha256"
fi

mkdir -p "$WORK/dl" "$OUT"
if [ ! -f "$WORK/dl/$WHEEL_NAME" ]; then
    say "downloading aisfx==$AISFX_VERSION from PyPI (wheel only, no dependencies)"
    "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
        --only-binary :all: "aisfx==$AISFX_VERSION" -d "$WORK/dl"
fi
echo "$WHEEL_SHA256  $WORK/dl/$WHEEL_NAME" | sha256sum -c --quiet - || { echo "aisfx wheel sha256 mismatch" >&2; exit 1; }
rm -rf "$WORK/pkg"
"$VENV/bin/python" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$WORK/dl/$WHEEL_NAME" "$WORK/pkg"
echo "$CHECKPOINT_SHA256  $WORK/pkg/aisfx/models/checkpoint.pth" | sha256sum -c --quiet - \
    || { echo "checkpoint sha256 mismatch" >&2; exit 1; }
# the wheel's only licence file (CC BY 4.0, "Copyright (c) 2022 A.B. Ma and A. Lerch")
cp "$WORK/pkg/aisfx-$AISFX_VERSION.dist-info/licenses/LICENSE" "$OUT/LICENSE"

# real recordings for the checks and expected.json: Debian's freedesktop sound theme
if [ ! -d "$WORK/sounds/usr" ]; then
    ( cd "$WORK/dl" && apt-get download "$SOUNDS_PKG" )
    dpkg -x "$(ls "$WORK/dl/${SOUNDS_PKG}"_*.deb | tail -n1)" "$WORK/sounds"
fi
S="$WORK/sounds/usr/share/sounds/freedesktop/stereo"
say "sound theme: $(ls "$WORK/dl/${SOUNDS_PKG}"_*.deb | xargs -n1 basename), sha256 $(sha256sum "$WORK/dl/${SOUNDS_PKG}"_*.deb | cut -c1-64)"

OMP_NUM_THREADS=1 "$VENV/bin/python" "$HERE/convert_aisfx.py" --pkg "$WORK/pkg" --wheel "$WORK/dl/$WHEEL_NAME" \
    --out-dir "$OUT" --work-dir "$WORK" \
    --audio "$S/complete.oga" "$S/phone-incoming-call.oga" "$S/alarm-clock-elapsed.oga"
say "facts: $WORK/facts.json"
ls -l "$OUT"
