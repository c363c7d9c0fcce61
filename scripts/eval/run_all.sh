#!/usr/bin/env bash
# Build the labelled sets, then compare songrec-dsp vs librosa-MFCC vs bliss-audio on each.
# Everything lives under target/scratch (outside the repo). See scripts/eval/RESULTS.md.
set -euo pipefail
S=${SCRATCH:-target/scratch}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}

# 1. inputs (Debian packages extracted, not installed) and Python venv
if [ ! -d "$S/pkgroot/usr/share/sonic-pi" ]; then
  mkdir -p "$S/debs" && (cd "$S/debs" && apt-get download sonic-pi-samples fluid-soundfont-gm asc-music)
  for f in "$S"/debs/*.deb; do dpkg -x "$f" "$S/pkgroot"; done
fi
if [ ! -x "$S/venv/bin/python" ]; then
  python3 -m venv "$S/venv"
  "$S/venv/bin/pip" install -q librosa soundfile numpy
  "$S/venv/bin/pip" install -q --no-deps tinysoundfont
fi
# 2. sets
[ -d "$S/sets/styles" ] || "$S/venv/bin/python" "$REPO/scripts/eval/build_sets.py" --root "$S/pkgroot" --out "$S/sets"
# 3. bliss harness (scratch crate, GPL, never part of the repo)
if [ ! -x "$S/bliss/target/release/bliss-eval" ]; then
  mkdir -p "$S/bliss/src"; cp "$REPO/scripts/eval/bliss_harness/Cargo.toml" "$S/bliss/Cargo.toml"; cp "$REPO/scripts/eval/bliss_harness/src/main.rs" "$S/bliss/src/main.rs"
  (cd "$S/bliss" && cargo build --release)
fi
cargo build --release -p songrec-audio --examples --manifest-path "$REPO/Cargo.toml"
mkdir -p "$S/dumps"
for s in sonicpi gm styles styles_b realmp3; do
  echo "=== $s"
  "$CARGO_TARGET_DIR/release/examples/eval" "$S/sets/$s" --dump "$S/dumps/$s.jsonl" 2>/dev/null
  "$S/venv/bin/python" "$REPO/scripts/eval/librosa_baseline.py" "$S/sets/$s" 2>/dev/null
  BLISS_OK_LIST="$S/bliss_ok_$s.txt" "$S/bliss/target/release/bliss-eval" eval "$S/sets/$s" 2>/dev/null
done
# 4. the same comparison restricted to the files bliss can analyse (it rejects short clips)
for s in sonicpi gm; do
  rm -rf "$S/sets_blissok/$s"
  while read -r f; do lab=$(basename "$(dirname "$f")"); mkdir -p "$S/sets_blissok/$s/$lab"; ln -s "$(realpath "$f")" "$S/sets_blissok/$s/$lab/"; done < "$S/bliss_ok_$s.txt"
  echo "=== $s (bliss-analysable subset)"
  "$CARGO_TARGET_DIR/release/examples/eval" "$S/sets_blissok/$s" 2>/dev/null
  "$S/venv/bin/python" "$REPO/scripts/eval/librosa_baseline.py" "$S/sets_blissok/$s" 2>/dev/null
done
# 5. speed (one thread each)
"$CARGO_TARGET_DIR/release/examples/bench_ingest" "$S/sets/bench3min" --split
"$S/bliss/target/release/bliss-eval" bench "$S/sets/bench3min"
