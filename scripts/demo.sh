#!/usr/bin/env bash
# The main job, end to end on the local backend: build songrec, make a small example library of
# synthesised songs (encoded to mp3/flac/ogg/m4a with tags when ffmpeg is available), ingest it,
# and ask for similar songs. Usage: scripts/demo.sh [library-dir]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --locked -p songrec-cli
songrec=target/debug/songrec
work=target/demo
lib="${1:-$work/library}"
music="$work/music"
rm -rf "$music" && mkdir -p "$music"
if ! command -v ffmpeg >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null || true
fi

"$songrec" synth "$work/wav" --per-style 4 --seconds 30
if command -v ffmpeg >/dev/null 2>&1; then
  # One format per song, with title/artist/genre tags, like a real mixed library.
  formats=(mp3 flac ogg m4a wav)
  i=0
  for f in "$work"/wav/*.wav; do
    base="$(basename "$f" .wav)"; artist="${base%% - *}"; title="${base#* - }"
    genre="$(echo "$artist" | awk '{print tolower($2)}')"
    ext="${formats[$((i % ${#formats[@]}))]}"; i=$((i + 1))
    ffmpeg -hide_banner -loglevel error -y -i "$f" -metadata title="$title" -metadata artist="$artist" \
      -metadata genre="$genre" "$music/$base.$ext"
  done
else
  echo "(ffmpeg not found: the example library stays WAV)" >&2
  cp "$work"/wav/*.wav "$music/"
fi

echo; echo "== songrec ingest $music"
"$songrec" --library "$lib" ingest "$music"
echo; echo "== songrec list"
"$songrec" --library "$lib" list -n 10
echo; echo "== songrec similar \"Warehouse Pulse 1\" -k 5"
"$songrec" --library "$lib" similar "Warehouse Pulse 1" -k 5
echo; echo "== songrec similar \"Slow Piano 2\" -k 5"
"$songrec" --library "$lib" similar "Slow Piano 2" -k 5
echo; echo "== songrec stats"
"$songrec" --library "$lib" stats
