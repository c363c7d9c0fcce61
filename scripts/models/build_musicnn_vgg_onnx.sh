#!/usr/bin/env bash
# Build musicnn 0.1.0's MSD_vgg and MTT_vgg (ISC, MTG-UPF) as ONNX with the wave-input log-mel
# front end of msd_musicnn.onnx: crates/neural/models/musicnn/msd_vgg.onnx, mtt_vgg.onnx (+ *_vgg_expected.json).
# Output `pool5` [batch, 256] (flattened 2 x 1 x 128) and `taggram` [batch, 50]. Uses the
# TensorFlow venv and the hash-checked wheel of build_musicnn_onnx.sh (same pins,
# requirements.txt), then checks the files with onnxruntime 1.31.1 and tract 0.23.9
# (requirements-check.txt venv).
#
#   scripts/models/build_musicnn_vgg_onnx.sh
#
# Environment: MODELS_SCRATCH (default target/scratch/models), MUSICNN_VENV (default
# $MODELS_SCRATCH/venv), MUSICNN_CHECK_VENV (default $MODELS_SCRATCH/venv-check), VGG_OUT
# (default <repo>/models/musicnn), PYTHON (Python 3.11).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SCRATCH="${MODELS_SCRATCH:-target/scratch/models}"
VENV="${MUSICNN_VENV:-$SCRATCH/venv}"
CHECK_VENV="${MUSICNN_CHECK_VENV:-$SCRATCH/venv-check}"
OUT="${VGG_OUT:-$REPO/crates/neural/models/musicnn}"
PYTHON="${PYTHON:-python3}"
WORK="$SCRATCH/musicnn-vgg-build"
PKG_WORK="$SCRATCH/musicnn-build"
WHEEL_NAME=musicnn-0.1.0-py3-none-any.whl
WHEEL_SHA256=f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa
say() { echo "[build_musicnn_vgg_onnx] $*"; }

make_venv() {
    local dir="$1" req="$2" stamp
    stamp="$(sha256sum "$req" | cut -d' ' -f1)"
    if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.requirements.sha256" 2>/dev/null)" = "$stamp" ]; then
        say "reusing venv $dir"; return
    fi
    say "creating venv $dir from $(basename "$req")"
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check pip==24.0
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary :all: -r "$req"
    "$dir/bin/python" -m pip check
    echo "$stamp" > "$dir/.requirements.sha256"
}
make_venv "$VENV" "$HERE/requirements.txt"
make_venv "$CHECK_VENV" "$HERE/requirements-check.txt"

mkdir -p "$PKG_WORK/dl" "$WORK" "$OUT"
if [ ! -f "$PKG_WORK/dl/$WHEEL_NAME" ]; then
    "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary :all: musicnn==0.1.0 -d "$PKG_WORK/dl"
fi
echo "$WHEEL_SHA256  $PKG_WORK/dl/$WHEEL_NAME" | sha256sum -c --quiet - || { echo "musicnn wheel sha256 mismatch" >&2; exit 1; }
rm -rf "$WORK/musicnn-pkg"
"$VENV/bin/python" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$PKG_WORK/dl/$WHEEL_NAME" "$WORK/musicnn-pkg"
export PYTHONHASHSEED=0
for m in MSD_vgg MTT_vgg; do
    say "$m: converting and verifying against the TF graph"
    ( cd "$HERE" && "$VENV/bin/python" convert_musicnn_vgg.py --musicnn-dir "$WORK/musicnn-pkg" \
        --wheel "$PKG_WORK/dl/$WHEEL_NAME" --out-dir "$OUT" --work-dir "$WORK" --model "$m" ) 2> "$WORK/$m.stderr" \
        || { tail -n 30 "$WORK/$m.stderr" >&2; exit 1; }
done
say "checking with onnxruntime 1.31.1 and tract"
"$CHECK_VENV/bin/python" - "$OUT" <<'PY'
import json, sys
import numpy as np, onnxruntime as ort, tract
out = sys.argv[1]
for base in ("msd_vgg", "mtt_vgg"):
    exp = json.load(open(f"{out}/{base}_expected.json"))
    n = np.arange(3 * 48128, dtype=np.float64); t = n / 16000
    s = (0.25*np.sin(2*np.pi*220*t) + 0.15*np.sin(2*np.pi*440*t + 1.0) + 0.10*np.sin(2*np.pi*1318.5*t + 2.0)
         + 0.05*np.sin(2*np.pi*3520*t + 0.5))
    k = np.mod(np.arange(len(n)), 8000); s += np.where(k < 200, 0.6*np.exp(-k/20.0), 0.0)
    b = s.astype(np.float32).reshape(3, 48128)
    so = ort.SessionOptions(); so.intra_op_num_threads = 1
    p = ort.InferenceSession(f"{out}/{base}.onnx", so, providers=["CPUExecutionProvider"]).run(["pool5"], {"wave": b})[0]
    q = tract.onnx().load(f"{out}/{base}.onnx").into_model().into_runnable().run([b])[1].to_numpy()
    e = np.array(exp["pool5"])
    print(base, "onnxruntime", ort.__version__, "vs expected", float(np.abs(p - e).max()),
          "tract", tract.version(), "vs expected", float(np.abs(q - e).max()))
PY
ls -l "$OUT"/*vgg*
