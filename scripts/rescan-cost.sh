#!/usr/bin/env bash
# What a rescan costs: a synthetic collection of N files (default 1300) ingested once, then
# ingested again unchanged (no audio file may be opened: strace counts them), then again after
# 100 files were retagged (ffmpeg stream copy with a new title). Usage:
#   scripts/rescan-cost.sh [BINARY] [N]     (default: target/debug/songrec, 1300)
set -euo pipefail
bin="$(realpath "${1:-target/debug/songrec}")"
n="${2:-1300}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export HOME="$work/home" SONGREC_CACHE_DIR="$work/cache"
mkdir -p "$HOME"
"$bin" synth "$work/music" --per-style $(( (n + 4) / 5 )) --seconds 1 >/dev/null
echo "files: $(find "$work/music" -name '*.wav' | wc -l)"
# Runs a command, prints its last line of output and the seconds it took.
t() {
  local what="$1" start end
  shift
  start=$EPOCHREALTIME
  "$@" 2>/dev/null | tail -1
  end=$EPOCHREALTIME
  awk -v a="$start" -v b="$end" -v w="$what" 'BEGIN { printf "%s: %.2f s\n", w, b - a }'
}
t "first ingest" "$bin" --library "$work/lib" ingest --embedder dsp "$work/music"
t "rescan, unchanged" "$bin" --library "$work/lib" ingest --embedder dsp "$work/music"
if command -v strace >/dev/null; then
  strace -f -e trace=openat -o "$work/strace" "$bin" --library "$work/lib" ingest --embedder dsp "$work/music" >/dev/null 2>&1
  echo "audio files opened by an unchanged rescan: $(grep -c '\.wav' "$work/strace" || true)"
fi
find "$work/music" -name '*.wav' | sort > "$work/files"
i=0
head -100 "$work/files" | while IFS= read -r f; do
  ffmpeg -nostdin -loglevel error -y -i "$f" -c copy -metadata title="retag $i" "$f.tmp.wav" && mv "$f.tmp.wav" "$f"
  i=$((i + 1))
done
t "rescan after 100 retags" "$bin" --library "$work/lib" ingest --embedder dsp "$work/music"
