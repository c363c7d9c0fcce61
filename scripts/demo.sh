#!/usr/bin/env bash
# The main job, end to end on the local backend: build songrec, make a small example library,
# ingest it, and ask for similar songs. The library holds real recordings when the system's
# package manager can fetch them (Debian's asc-music: three soundtrack pieces, fetched with
# `apt-get download`, no root needed), plus synthesised songs in five styles encoded to
# mp3/flac/ogg/m4a/wav with tags (when ffmpeg is present; as root it installs it).
#
# Usage: scripts/demo.sh [library-dir]      (default: target/demo/library)
#        SONGREC_BIN=~/.cargo/bin/songrec scripts/demo.sh    (use that binary: no build)
# Rerunning it is a no-op for the library: the example files are made the same way every time
# (bit-exact encodes), so ingest finds them all already there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
work="$PWD/target/demo"
lib="$(realpath -m "${1:-$work/library}")"
music="$work/music"
say() { echo "== $*" >&2; }

if [ -n "${SONGREC_BIN:-}" ]; then
  # A songrec built or installed before (`cargo install --path crates/cli`): no build.
  if [ ! -x "$SONGREC_BIN" ]; then
    echo "SONGREC_BIN=$SONGREC_BIN is not an executable file; unset it to build songrec here" >&2
    exit 1
  fi
  songrec="$(realpath "$SONGREC_BIN")"
  say "using $songrec (SONGREC_BIN): nothing to build"
else
  # Where cargo puts it: target/debug, or under CARGO_TARGET_DIR when that is set.
  songrec="$(realpath -m "${CARGO_TARGET_DIR:-target}")/debug/songrec"
  if [ ! -x "$songrec" ]; then
    say "building the songrec binary (cargo build -p songrec-cli --bin songrec, a debug build)."
    say "the first build compiles about 330 crates and takes about 11 minutes on 2 cores;"
    say "later builds take seconds. cargo's progress bar follows. To skip it next time, point"
    say "SONGREC_BIN at a songrec you have (e.g. ~/.cargo/bin/songrec from cargo install)."
  else
    say "building songrec (up to date in seconds unless the code changed)"
  fi
  started=$SECONDS
  cargo build --locked -p songrec-cli --bin songrec
  say "songrec built in $((SECONDS - started)) s"
fi
# songrec runs from the demo folder: settings come from the user's config dir and environment,
# and the repository's documented config.toml is not in the working directory.
run() { (mkdir -p "$work" && cd "$work" && "$songrec" --library "$lib" "$@"); }

if ! command -v ffmpeg >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  say "installing ffmpeg with apt-get (to encode the example songs to mp3/flac/ogg/m4a)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null; } ||
    echo "   (could not install ffmpeg: the example songs stay WAV)" >&2
fi

mkdir -p "$music"
find "$music" -maxdepth 1 -type f -delete # files an older demo left loose (re-encoded on every run)
# Real music first: what a new user should see. Reuses the test fixtures when present. The
# pieces carry no artist tag, and ingest reads tags from folder names (Artist/Album/file):
# under Soundtracks/ (a folder of many artists) they get no artist, and the album ASC Music.
real="$music/Soundtracks/ASC Music"
if [ -f "$music/real/.complete" ] && [ ! -e "$real" ]; then
  # Where an older demo put them (the artist "real", from the folder's name): moved there, so
  # ingest follows them (songs keep the tags they were stored with; `rm -r target/demo` starts
  # the demo afresh).
  mkdir -p "$(dirname "$real")" && mv "$music/real" "$real"
fi
if [ ! -f "$real/.complete" ]; then
  if [ -d target/test-audio/asc ] && ls target/test-audio/asc/*.mp3 >/dev/null 2>&1; then
    mkdir -p "$real" && cp target/test-audio/asc/*.mp3 "$real/" && touch "$real/.complete"
  else
    say "fetching real music: Debian package asc-music (10 MB, three soundtrack pieces) with apt-get download"
    tmp="$(mktemp -d)"
    if (cd "$tmp" && apt-get download asc-music >/dev/null 2>&1) && dpkg-deb -x "$tmp"/asc-music_*.deb "$tmp/x"; then
      mkdir -p "$real" && cp "$tmp"/x/usr/share/games/asc/music/*.mp3 "$real/" && touch "$real/.complete"
    else
      echo "   (the package manager could not fetch it: the demo falls back to synthesised songs only)" >&2
    fi
    rm -rf "$tmp"
  fi
fi

synth="$music/synth"
if [ ! -f "$synth/.complete" ]; then
  say "synthesising 20 example songs in five styles"
  (cd "$work" && "$songrec" synth "$work/wav" --per-style 4 --seconds 30 >/dev/null)
  rm -rf "$synth" && mkdir -p "$synth"
  if command -v ffmpeg >/dev/null 2>&1; then
    say "encoding them to mp3/flac/ogg/m4a/wav with tags (ffmpeg, bit-exact so reruns make the same files)"
    formats=(mp3 flac ogg m4a wav)
    i=0
    for f in "$work"/wav/*.wav; do
      base="$(basename "$f" .wav)"; artist="${base%% - *}"; title="${base#* - }"
      genre="$(echo "$artist" | awk '{print tolower($2)}')"
      ext="${formats[$((i % ${#formats[@]}))]}"; i=$((i + 1))
      ffmpeg -hide_banner -loglevel error -y -i "$f" -fflags +bitexact -flags:a +bitexact \
        -metadata title="$title" -metadata artist="$artist" -metadata genre="$genre" "$synth/$base.$ext"
    done
  else
    echo "   (ffmpeg not found: the example library stays WAV)" >&2
    cp "$work"/wav/*.wav "$synth/"
  fi
  touch "$synth/.complete"
fi

echo; echo "== songrec --library $lib ingest $music"
run ingest "$music"
echo; echo "== songrec list"
run list -n 10
if [ -f "$real/frontiers.mp3" ]; then
  echo; echo "== songrec similar \"$real/frontiers.mp3\" -k 5   (a real soundtrack piece)"
  run similar "$real/frontiers.mp3" -k 5
fi
echo; echo "== songrec similar \"Warehouse Pulse 1\" -k 5"
run similar "Warehouse Pulse 1" -k 5
echo; echo "== songrec stats"
run stats
echo
echo "songrec is $songrec. To run the README's commands as written (\`songrec ...\`), put it on"
echo "your PATH in this shell:"
echo "  export PATH=\"$(dirname "$songrec"):\$PATH\""
echo "The demo library is at $lib: keep using it with"
echo "  songrec --library $lib similar \"Slow Piano 2\""
