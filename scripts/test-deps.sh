#!/usr/bin/env bash
# Installs what the tests need, idempotently, and prints `export` lines for the test run:
#   - Debian packages: ffmpeg (encodes test audio in every format), flock (util-linux),
#     xfsprogs (a loop-mounted XFS for the reflink test),
#     setfacl (acl: the ONNX Runtime discovery test puts an ACL on a folder),
#     chromium, node and npm (the web page's browser test, crates/server/tests/server/e2e.rs),
#     mpd and mpc (a real MPD for `songrec radio` and `playlist --mpd`, crates/cli/tests/cli/mpd.rs);
#   - scripts/e2e/node_modules: playwright-core, pinned by scripts/e2e/package-lock.json (npm ci);
#   - a Python virtualenv (target/test-venv) with astrapy (the independent Data API client the
#     local Data API server is checked with), numpy (.npy interoperability) and the Subsonic
#     clients py-sonic and py-opensonic (the /rest/ API's tests); reinstalled when
#     scripts/test-requirements.txt or scripts/astrapy/requirements.txt changes;
#   - real recordings (target/test-audio): Debian's sound-theme-freedesktop (27 short Ogg Vorbis
#     sounds), asc-music (3 MP3 soundtrack pieces), hydrogen-data's GMRockKit (velocity
#     layers of real drums, 6.8 MB: distinct takes for the duplicate tests) and jami-daemon's
#     ringtones (11 tagged Ogg Opus pieces: the Opus decoder's pinned tests), fetched with
#     `apt-get download` (no root needed) and unpacked with dpkg-deb; tests that need real
#     decoder output read them;
#   - ONNX Runtime's native library from the PyPI onnxruntime wheels (target/ort): 1.31.1 for the
#     musicnn tests on ONNX Runtime, and an older 1.20.1 for the "too old" error test. The wheels
#     are only downloaded and unzipped (pip download), never installed.
# Everything comes from the package registries; nothing is downloaded from anywhere else.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

need_apt=()
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v flock >/dev/null 2>&1 || need_apt+=(util-linux)
command -v setfacl >/dev/null 2>&1 || need_apt+=(acl)
# mkfs.xfs: the reflink test clones files on a loop-mounted XFS image.
command -v mkfs.xfs >/dev/null 2>&1 || need_apt+=(xfsprogs)
[ -x "${SONGREC_CHROMIUM:-/usr/bin/chromium}" ] || need_apt+=(chromium)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
command -v mpd >/dev/null 2>&1 || need_apt+=(mpd)
command -v mpc >/dev/null 2>&1 || need_apt+=(mpc)
if [ "${#need_apt[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${need_apt[*]}" >&2
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
fi

venv="${SONGREC_TEST_VENV:-$repo/target/test-venv}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" >&2
fi
# Reinstalled when a requirements file changes (their contents are kept in the venv to compare).
reqs="$(cat "$repo/scripts/astrapy/requirements.txt" "$repo/scripts/test-requirements.txt")"
if [ "$reqs" != "$(cat "$venv/.songrec-requirements" 2>/dev/null)" ] ||
  ! "$venv/bin/python" -c 'import astrapy, numpy, libsonic, libopensonic' >/dev/null 2>&1; then
  echo "installing Python test dependencies into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$repo/scripts/astrapy/requirements.txt" -r "$repo/scripts/test-requirements.txt" >&2
  printf '%s' "$reqs" >"$venv/.songrec-requirements"
fi
# The browser test's driver, exactly as locked (reinstalled when the lock file changes).
e2e="$repo/scripts/e2e"
if [ ! -f "$e2e/node_modules/.package-lock.json" ] || ! cmp -s "$e2e/package-lock.json" "$e2e/node_modules/.songrec-lock"; then
  echo "installing the browser test's npm packages into $e2e/node_modules" >&2
  (cd "$e2e" && npm ci --no-audit --no-fund --loglevel=error >&2)
  cp "$e2e/package-lock.json" "$e2e/node_modules/.songrec-lock"
fi
echo "export SONGREC_TEST_PYTHON=$venv/bin/python"

# Real recordings from Debian packages: target/test-audio/{freedesktop,asc,gmrockkit,jami}/ (see the header).
audio="${SONGREC_TEST_AUDIO:-$repo/target/test-audio}"
fetch_deb_audio() { # package, folder inside the package, destination name
  local pkg="$1" inner="$2" dest="$audio/$3"
  if [ ! -f "$dest/.complete" ]; then
    echo "fetching real recordings: Debian package $pkg into $dest" >&2
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && apt-get download "$pkg" >&2 2>/dev/null) || {
      [ "$(id -u)" -eq 0 ] && apt-get update -qq >&2
      (cd "$tmp" && apt-get download "$pkg" >&2)
    }
    dpkg-deb -x "$tmp"/"$pkg"_*.deb "$tmp/x"
    rm -rf "$dest" && mkdir -p "$dest"
    cp "$tmp/x/$inner"/* "$dest/"
    rm -rf "$tmp"
    touch "$dest/.complete"
  fi
}
fetch_deb_audio sound-theme-freedesktop usr/share/sounds/freedesktop/stereo freedesktop
fetch_deb_audio asc-music usr/share/games/asc/music asc
fetch_deb_audio hydrogen-data usr/share/hydrogen/data/drumkits/GMRockKit gmrockkit
# Real Opus (opusenc from opus-tools, tagged title/artist/album): Jami's ringtones, 11 pieces of
# 27 to 50 s (the package is 4 MB; only the ringtones are kept).
fetch_deb_audio jami-daemon usr/share/jami/ringtones jami
echo "export SONGREC_TEST_AUDIO=$audio"

# ONNX Runtime shared libraries, taken out of the PyPI wheels (any CPython tag will do: the
# library inside does not depend on Python; pinned to cp311 manylinux_2_28 for reproducibility).
ortdir="${SONGREC_TEST_ORT_DIR:-$repo/target/ort}"
fetch_ort() { # version -> prints the directory holding libonnxruntime.so.<version>
  local v="$1" d="$ortdir/$1"
  if [ ! -f "$d/libonnxruntime.so.$v" ]; then
    echo "fetching the onnxruntime $v wheel from PyPI into $d" >&2
    mkdir -p "$d/wheel"
    "$venv/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
      --only-binary :all: --python-version 3.11 --implementation cp --abi cp311 \
      --platform "manylinux_2_28_$(uname -m)" --platform "manylinux_2_27_$(uname -m)" \
      "onnxruntime==$v" -d "$d/wheel" >&2
    "$venv/bin/python" - "$d" "$v" >&2 <<'PY'
import sys, zipfile, glob, os
d, v = sys.argv[1], sys.argv[2]
whl = glob.glob(os.path.join(d, "wheel", f"onnxruntime-{v}-*.whl"))[0]
with zipfile.ZipFile(whl) as z:
    for name in (f"onnxruntime/capi/libonnxruntime.so.{v}", "onnxruntime/capi/libonnxruntime_providers_shared.so"):
        with z.open(name) as src, open(os.path.join(d, os.path.basename(name)), "wb") as dst:
            dst.write(src.read())
PY
    rm -rf "$d/wheel"
  fi
  echo "$d"
}
echo "export SONGREC_TEST_ORT_LIBRARY=$(fetch_ort 1.31.1)/libonnxruntime.so.1.31.1"
echo "export SONGREC_TEST_ORT_OLD_LIBRARY=$(fetch_ort 1.20.1)/libonnxruntime.so.1.20.1"
