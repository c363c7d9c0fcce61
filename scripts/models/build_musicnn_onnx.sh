#!/usr/bin/env bash
# Build both musicnn models of the PyPI wheel musicnn==0.1.0 (TF1 checkpoints) as ONNX:
#   crates/neural/models/musicnn/msd_musicnn.onnx + expected.json     + tags.json      (MSD_musicnn)
#   crates/neural/models/musicnn/mtt_musicnn.onnx + mtt_expected.json + mtt_tags.json  (MTT_musicnn)
# plus LICENSE and one PROVENANCE.md covering both. Per model: convert (tf2onnx) and
# verify against TF, rewrite the graph, verify the rewrite (--strict), check with
# onnxruntime 1.31.1 and tract.
#
#   scripts/models/build_musicnn_onnx.sh
#
# Environment (all optional):
#   MODELS_SCRATCH      scratch root (default target/scratch/models)
#   MUSICNN_VENV        conversion venv, TF + tf2onnx (default $MODELS_SCRATCH/venv, ~1.9 GB)
#   MUSICNN_CHECK_VENV  runtime-check venv, onnxruntime 1.31.1 + tract (default $MODELS_SCRATCH/venv-check)
#   MUSICNN_OPT_VENV    graph-rewrite venv, onnx + onnxruntime 1.31.1 + tract (default $MODELS_SCRATCH/venv-optimise)
#   MUSICNN_MUSIC_DIR   optional dir of Ogg/FLAC/WAV files: also compare the rewritten model with the
#                       tf2onnx one on 20 random 3 s windows of that music
#   MUSICNN_OUT         output dir (default <repo>/models/musicnn)
#   PYTHON              Python 3.11 interpreter for the venvs (default python3)
#   SKIP_RUNTIME_CHECK  1 = skip the onnxruntime 1.31.1 / tract check
#   MUSICNN_MODELS      models to build, in order (default "MSD_musicnn MTT_musicnn"; MUSICNN_MODEL
#                       = one name is accepted too). PROVENANCE.md is written only when both are
#                       built; building one alone needs MUSICNN_OUT set to a dir other than
#                       crates/neural/models/musicnn (so the shipped files and PROVENANCE.md stay consistent).
#   MUSICNN_KEEP_DIR    optional dir with previously built files (normally crates/neural/models/musicnn, with
#                       MUSICNN_OUT elsewhere): tf2onnx is not byte-stable, so a rebuild that agrees
#                       with the shipped files need not replace them. Each built model is compared
#                       with KEEP_DIR's (verify_musicnn_opt.py --strict: within 1e-5 on the reference
#                       signal, onnxruntime and tract; and both vs KEEP_DIR's expected json) and
#                       OUT/PROVENANCE.md then describes KEEP_DIR's ONNX files and expected values
#                       with this build's facts (copy it to KEEP_DIR by hand).
#
# Scratch: $MODELS_SCRATCH/musicnn-build (MSD_musicnn; also the wheel and its unpacked copy) and
# $MODELS_SCRATCH/musicnn-build-MTT_musicnn (MTT_musicnn): facts.json, optimise.json,
# verify.json, check.json, the tf2onnx graph (<name>.tf2onnx.onnx) and the rewrite variants.
#
# Network: PyPI only (pip). Venvs are reused when their requirements file is unchanged.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SCRATCH="${MODELS_SCRATCH:-target/scratch/models}"
VENV="${MUSICNN_VENV:-$SCRATCH/venv}"
CHECK_VENV="${MUSICNN_CHECK_VENV:-$SCRATCH/venv-check}"
OPT_VENV="${MUSICNN_OPT_VENV:-$SCRATCH/venv-optimise}"
OUT="${MUSICNN_OUT:-$REPO/crates/neural/models/musicnn}"
PYTHON="${PYTHON:-python3}"
MODELS="${MUSICNN_MODELS:-${MUSICNN_MODEL:-MSD_musicnn MTT_musicnn}}"
for m in $MODELS; do
    case "$m" in MSD_musicnn|MTT_musicnn) ;; *) echo "unknown model $m (MSD_musicnn, MTT_musicnn)" >&2; exit 1 ;; esac
done
BOTH=0
[ "$MODELS" = "MSD_musicnn MTT_musicnn" ] && BOTH=1
if [ "$BOTH" != 1 ]; then
    [ -n "${MUSICNN_OUT:-}" ] && [ "$(cd "$OUT" 2>/dev/null && pwd)" != "$REPO/crates/neural/models/musicnn" ] \
        || { echo "MUSICNN_MODELS=\"$MODELS\": set MUSICNN_OUT to a scratch dir (not crates/neural/models/musicnn)" >&2; exit 1; }
fi
if [ -n "${MUSICNN_KEEP_DIR:-}" ]; then
    [ "$BOTH" = 1 ] && [ "$(cd "$MUSICNN_KEEP_DIR" && pwd)" != "$(mkdir -p "$OUT" && cd "$OUT" && pwd)" ] \
        || { echo "MUSICNN_KEEP_DIR: build both models, with MUSICNN_OUT a different dir" >&2; exit 1; }
    MUSICNN_KEEP_DIR="$(cd "$MUSICNN_KEEP_DIR" && pwd)"
fi
# work dir and output file names per model (must match convert_musicnn.py out_names())
work_dir() { if [ "$1" = MSD_musicnn ]; then echo "$SCRATCH/musicnn-build"; else echo "$SCRATCH/musicnn-build-$1"; fi; }
onnx_name() { echo "$(echo "${1%%_*}" | tr A-Z a-z)_musicnn.onnx"; }
expected_name() { if [ "$1" = MSD_musicnn ]; then echo expected.json; else echo "$(echo "${1%%_*}" | tr A-Z a-z)_expected.json"; fi; }
tags_name() { if [ "$1" = MSD_musicnn ]; then echo tags.json; else echo "$(echo "${1%%_*}" | tr A-Z a-z)_tags.json"; fi; }
# the wheel is downloaded and unpacked once, in MSD_musicnn's work dir
PKG_WORK="$SCRATCH/musicnn-build"

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

mkdir -p "$SCRATCH" "$PKG_WORK" "$OUT"
make_venv "$VENV" "$HERE/requirements.txt"
make_venv "$OPT_VENV" "$HERE/requirements-optimise.txt"
if [ "${SKIP_RUNTIME_CHECK:-0}" != 1 ]; then make_venv "$CHECK_VENV" "$HERE/requirements-check.txt"; fi

# --- the musicnn wheel (weights + graph code), hash-checked ---------------------
mkdir -p "$PKG_WORK/dl"
if [ ! -f "$PKG_WORK/dl/$WHEEL_NAME" ]; then
    say "downloading musicnn==$MUSICNN_VERSION from PyPI"
    "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
        --only-binary :all: "musicnn==$MUSICNN_VERSION" -d "$PKG_WORK/dl"
fi
echo "$WHEEL_SHA256  $PKG_WORK/dl/$WHEEL_NAME" | sha256sum -c --quiet - \
    || { echo "musicnn wheel sha256 mismatch" >&2; exit 1; }
rm -rf "$PKG_WORK/musicnn-pkg"
"$VENV/bin/python" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
    "$PKG_WORK/dl/$WHEEL_NAME" "$PKG_WORK/musicnn-pkg"
# one licence file for the whole wheel (code and all bundled checkpoints)
cp "$PKG_WORK/musicnn-pkg/musicnn-$MUSICNN_VERSION.dist-info/LICENSE.md" "$OUT/LICENSE"

# tf2onnx's graph rewrites iterate over Python sets: a fixed hash seed reduces
# run-to-run variation of the exported graph (names still differ: compare numbers)
export PYTHONHASHSEED=0
MUSIC_ARGS=(--windows 0)
if [ -n "${MUSICNN_MUSIC_DIR:-}" ]; then MUSIC_ARGS=(--music "$MUSICNN_MUSIC_DIR" --windows 20); fi

build_one() {
    local model="$1" work onnx exp tags base t0
    work="$(work_dir "$model")"; onnx="$(onnx_name "$model")"
    exp="$(expected_name "$model")"; tags="$(tags_name "$model")"; base="${onnx%.onnx}"
    t0=$(date +%s)
    mkdir -p "$work"
    rm -f "$work/facts.json" "$work/check.json" "$work/optimise.json" "$work/verify.json" "$work/seconds"

    # --- convert + verify against TF -------------------------------------------
    say "$model: converting (TensorFlow -> ONNX) and verifying against the TF graph"
    "$VENV/bin/python" "$HERE/convert_musicnn.py" \
        --musicnn-dir "$PKG_WORK/musicnn-pkg" \
        --wheel "$PKG_WORK/dl/$WHEEL_NAME" \
        --out-dir "$OUT" \
        --work-dir "$work" \
        --model "$model" 2> "$work/convert.stderr" \
        || { tail -n 40 "$work/convert.stderr" >&2; exit 1; }

    # --- graph rewrite: pool before ReLU/BN, pool along long rows, pool outputs -
    # (optimise_musicnn_onnx.py, own small venv; the TF venv is not needed). The
    # tf2onnx graph is kept as $work/$base.tf2onnx.onnx; the rewritten one
    # (default steps "bfc") replaces $OUT/$onnx. The step_a / step_f / step_ab
    # variants are only built to be compared (step_a and step_f must be
    # bit-identical to the tf2onnx graph).
    say "$model: rewriting the graph (optimise_musicnn_onnx.py) and comparing with the tf2onnx graph"
    mv "$OUT/$onnx" "$work/$base.tf2onnx.onnx"
    for v in a:ac f:fc ab:abc; do
        "$OPT_VENV/bin/python" "$HERE/optimise_musicnn_onnx.py" "$work/$base.tf2onnx.onnx" \
            "$work/$base.step_${v%%:*}.onnx" --steps "${v##*:}" > /dev/null
    done
    "$OPT_VENV/bin/python" "$HERE/optimise_musicnn_onnx.py" "$work/$base.tf2onnx.onnx" \
        "$work/$base.optimised.onnx" --report "$work/optimise.json"
    "$OPT_VENV/bin/python" "$HERE/verify_musicnn_opt.py" "$work/$base.tf2onnx.onnx" \
        "step_a=$work/$base.step_a.onnx" "step_f=$work/$base.step_f.onnx" \
        "step_ab=$work/$base.step_ab.onnx" "step_bf=$work/$base.optimised.onnx" \
        --expected "$OUT/$exp" "${MUSIC_ARGS[@]}" --json "$work/verify.json" --strict
    cp "$work/$base.optimised.onnx" "$OUT/$onnx"

    # --- runtime check: onnxruntime 1.31.1 (Rust `ort` lib) and tract 0.23 ------
    if [ "${SKIP_RUNTIME_CHECK:-0}" != 1 ]; then
        say "$model: checking with onnxruntime 1.31.1 and tract"
        "$CHECK_VENV/bin/python" "$HERE/check_runtimes.py" "$OUT" "$work/check.json" \
            --onnx "$onnx" --expected "$exp" --tags "$tags"
    fi
    # --- optional: compare with the previously built (kept) model ------------------
    rm -f "$work/compare.json"
    if [ -n "${MUSICNN_KEEP_DIR:-}" ]; then
        say "$model: comparing with $MUSICNN_KEEP_DIR/$onnx"
        "$OPT_VENV/bin/python" "$HERE/verify_musicnn_opt.py" "$MUSICNN_KEEP_DIR/$onnx" "built=$OUT/$onnx" \
            --expected "$MUSICNN_KEEP_DIR/$exp" --windows 0 --exact --json "$work/compare.json" --strict
    fi
    echo $(( $(date +%s) - t0 )) > "$work/seconds"
    say "$model: done in $(cat "$work/seconds")s"
}

for m in $MODELS; do build_one "$m"; done

SECS=$(( $(date +%s) - START ))
if [ "$BOTH" = 1 ]; then
    if [ "$VENVS_CREATED" -gt 0 ]; then NOTE="$VENVS_CREATED venv(s) created in this run"; else NOTE="existing venvs reused"; fi
    PROV_PY="$OPT_VENV/bin/python"   # any Python 3: the writer is stdlib only
    "$PROV_PY" "$HERE/write_provenance.py" "$OUT" "$(work_dir MSD_musicnn)" "$SECS" "$NOTE" \
        --mtt-work "$(work_dir MTT_musicnn)" ${MUSICNN_KEEP_DIR:+--shipped-dir "$MUSICNN_KEEP_DIR"}
else
    say "built only $MODELS: no PROVENANCE.md written"
fi
say "wrote:"
ls -l "$OUT"
say "done in ${SECS}s"
