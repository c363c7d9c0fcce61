#!/usr/bin/env bash
# A real Subsonic player against `songrec serve`: Mopidy with the Mopidy-Subidy extension (and
# Mopidy-MPD, driven with mpc), its audio going to a file or a null sink, on four real
# recordings. Checks what the player lists, searches and plays:
#   1. browsing: `mpc ls Subsonic/Artists` and `Subsonic/Albums` list the library's artists and
#      albums, an album lists its songs, `mpc search any WORD` finds a song;
#   2. playing byte for byte: a WAV (16-bit, 44.1 kHz, mono) streamed by songrec and decoded by
#      GStreamer comes out of Mopidy as exactly the file's samples (the audio output is
#      `filesink`, not synchronised to a clock: the song plays as fast as it decodes);
#      an MP3 of 7 min 21 s comes out whole (its length in samples);
#   3. seeking: with a null sink in real time (`fakesink sync=true`), `mpc seek 3:00` in the MP3
#      goes on from 3:00, through a ranged request (songrec answers 206; counted in /metrics).
# Not part of CI (it installs Mopidy and takes about a minute): run it by hand.
#
# Needs: Debian's mopidy, mopidy-mpd, gstreamer1.0-plugins-{base,good,ugly}, mpc (installed with
# apt-get when run as root and missing), Mopidy-Subidy from PyPI in a virtualenv over Debian's
# Python (target/mopidy-venv: Mopidy's GStreamer bindings come from Debian); the real recordings
# (scripts/test-deps.sh fetches them into target/test-audio); a songrec binary ($SONGREC_BIN, else
# target/debug/songrec, built when missing).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
audio="${SONGREC_TEST_AUDIO:-$repo/target/test-audio}"
bin="${SONGREC_BIN:-$repo/target/debug/songrec}"
venv="$repo/target/mopidy-venv"

say() { echo "mopidy-try: $*" >&2; }
fail() {
  say "FAILED: $*"
  exit 1
}

need=()
command -v mopidy >/dev/null 2>&1 || need+=(mopidy)
dpkg -s mopidy-mpd >/dev/null 2>&1 || need+=(mopidy-mpd)
command -v mpc >/dev/null 2>&1 || need+=(mpc)
for p in gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly python3-venv; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || fail "install the Debian packages ${need[*]} (as root) first"
  say "installing Debian packages: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import mopidy_subidy' 2>/dev/null; then
  say "making $venv with Mopidy-Subidy (over Debian's Python, which has Mopidy and GStreamer)"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
  "$venv/bin/pip" install -q Mopidy-Subidy
fi
[ -d "$audio/gmrockkit" ] || fail "no real recordings in $audio: run scripts/test-deps.sh first"
if [ ! -x "$bin" ]; then
  say "building songrec (cargo build -p songrec-cli --bin songrec)"
  (cd "$repo" && cargo build -q -p songrec-cli --bin songrec)
fi

work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The library: Artist/Album/NN Title.ext (songrec reads names from the path when there are no tags).
m="$work/music"
mkdir -p "$m/ASC Music/Soundtrack" "$m/GMRockKit/Hits" "$m/Freedesktop/Stereo"
cp "$audio/asc/frontiers.mp3" "$m/ASC Music/Soundtrack/01 Frontiers.mp3"
cp "$audio/gmrockkit/24Ride-3.wav" "$m/GMRockKit/Hits/01 Ride.wav"
cp "$audio/gmrockkit/HandClap.wav" "$m/GMRockKit/Hits/02 Hand Clap.wav"
cp "$audio/freedesktop/complete.oga" "$m/Freedesktop/Stereo/01 Complete.oga"
"$bin" --library "$work/lib" -q ingest --embedder dsp "$m" >/dev/null

export SONGREC_SUBSONIC_USER=ann SONGREC_SUBSONIC_PASSWORD="open sesame"
"$bin" --library "$work/lib" serve --bind 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.err" &
pids+=($!)
for _ in $(seq 100); do
  grep -q 'http://127.0.0.1:' "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done
url="$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.out" | head -1)"
[ -n "$url" ] || fail "songrec serve did not start: $(cat "$work/serve.err")"
say "songrec serve at $url"

mpd_port="$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
mpc_() { mpc -q -h 127.0.0.1 -p "$mpd_port" "$@" 2>&1 | grep -v '^warning: MPD 0.21 required' || true; }

# Mopidy with Subidy and the MPD front end; `$1` is the GStreamer audio output.
start_mopidy() {
  cat >"$work/mopidy.conf" <<EOF
[core]
cache_dir = $work/mopidy/cache
config_dir = $work/mopidy/config
data_dir = $work/mopidy/data
[logging]
verbosity = 0
[audio]
mixer = none
output = $1
[http]
enabled = false
[file]
enabled = false
[m3u]
enabled = false
[stream]
enabled = false
[mpd]
enabled = true
hostname = 127.0.0.1
port = $mpd_port
[subidy]
url = $url
username = ann
password = open sesame
api_version = 1.16.1
EOF
  "$venv/bin/python" -m mopidy --config "$work/mopidy.conf" >>"$work/mopidy.log" 2>&1 &
  mopidy_pid=$!
  pids+=("$mopidy_pid")
  for _ in $(seq 150); do
    mpc -h 127.0.0.1 -p "$mpd_port" status >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  fail "Mopidy did not start: $(tail -20 "$work/mopidy.log")"
}
stop_mopidy() {
  kill "$mopidy_pid"
  wait "$mopidy_pid" 2>/dev/null || true
}
# Waits until the song has been played into the file `$1`: it has bytes, they stopped growing
# and Mopidy is no longer playing.
wait_played() {
  local last=-1 size
  for _ in $(seq 300); do
    size="$(stat -c %s "$1" 2>/dev/null || echo 0)"
    if [ "$size" -gt 0 ] && [ "$size" -eq "$last" ] &&
      ! mpc -h 127.0.0.1 -p "$mpd_port" status 2>/dev/null | grep -q '^\[playing\]'; then
      return 0
    fi
    last="$size"
    sleep 0.5
  done
  fail "still playing after two and a half minutes"
}

# 1 and 2: browse, search, play to a file.
raw="$work/played.raw"
start_mopidy "audioconvert ! audio/x-raw,format=S16LE,rate=44100,channels=2 ! filesink location=$raw"
say "Mopidy $(mopidy --version 2>/dev/null | awk '{print $2}'), Subidy $("$venv/bin/pip" show Mopidy-Subidy | awk '/^Version/{print $2}')"
artists="$(mpc_ ls Subsonic/Artists)"
echo "$artists" | sed 's/^/  mpc ls Subsonic\/Artists: /' >&2
for a in "ASC Music" Freedesktop GMRockKit; do
  echo "$artists" | grep -qx "Subsonic/Artists/$a" || fail "artist $a not listed"
done
albums="$(mpc_ ls Subsonic/Albums)"
echo "$albums" | sed 's/^/  mpc ls Subsonic\/Albums: /' >&2
echo "$albums" | grep -qx "Subsonic/Albums/Soundtrack" || fail "album Soundtrack not listed"
hits="$(mpc_ ls Subsonic/Artists/GMRockKit/Hits)"
[ "$(echo "$hits" | grep -c '^subidy:song:')" -eq 2 ] || fail "the album Hits lists: $hits"
ride="$(mpc_ search any ride | grep '^subidy:song:' | head -1)"
[ -n "$ride" ] || fail "search any ride found nothing"
say "search any ride: $ride"
mpc_ clear
mpc_ add "$ride"
mpc_ play
wait_played "$raw"
ffmpeg -v error -i "$m/GMRockKit/Hits/01 Ride.wav" -f s16le - >"$work/ride.raw"
/usr/bin/python3 - "$raw" "$work/ride.raw" <<'EOF' || fail "the WAV's samples differ"
import sys
played, want = (open(p, "rb").read() for p in sys.argv[1:3])
# Stereo out of a mono file: each channel is the file's samples.
left = b"".join(played[i:i + 2] for i in range(0, len(played), 4))
right = b"".join(played[i + 2:i + 4] for i in range(0, len(played), 4))
assert left == want and right == want, (len(played), len(want))
print(f"mopidy-try: ok: the WAV played through Mopidy is the file's {len(want) // 2} samples, exactly", file=sys.stderr)
EOF
: >"$raw"
mpc_ clear
mpc_ add Subsonic/Albums/Soundtrack
mpc_ play
wait_played "$raw"
secs="$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$m/ASC Music/Soundtrack/01 Frontiers.mp3")"
/usr/bin/python3 - "$raw" "$secs" <<'EOF' || fail "the MP3 did not play whole"
import os, sys
got = os.path.getsize(sys.argv[1]) / 4 / 44100
want = float(sys.argv[2])
assert abs(got - want) < 0.2, (got, want)
print(f"mopidy-try: ok: the MP3 played whole through Mopidy ({got:.2f} s of {want:.2f} s)", file=sys.stderr)
EOF
stop_mopidy

# 3: a null sink in real time; seek.
start_mopidy "fakesink sync=true"
mpc_ clear
mpc_ add Subsonic/Albums/Soundtrack
mpc_ play
sleep 2
mpc_ seek 3:00
sleep 2
status="$(mpc -h 127.0.0.1 -p "$mpd_port" status 2>/dev/null | sed -n 2p)"
say "after mpc seek 3:00: $status"
echo "$status" | grep -q '^\[playing\] #1/1 *3:0[0-9]/7:21' || fail "not playing from 3:00: $status"
ranged="$(curl -s "$url/metrics" | grep -c 'route="/rest/{name}",status="206"' || true)"
[ "$ranged" -ge 1 ] || fail "no ranged request reached songrec"
say "ok: seeking went on from 3:00 with a ranged request (206)"
mpc_ stop
stop_mopidy
say "all checks passed"
