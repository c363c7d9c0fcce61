#!/usr/bin/env bash
# Installs what the tests need, idempotently, and prints `export` lines for the test run:
#   - Debian packages: ffmpeg (encodes test audio in every format), flock (util-linux),
#     chromium, node and npm (the web page's browser test, crates/server/tests/e2e.rs);
#   - scripts/e2e/node_modules: playwright-core, pinned by scripts/e2e/package-lock.json (npm ci);
#   - a Python virtualenv (target/test-venv) with astrapy (the independent Data API client the
#     local Data API server is checked with) and numpy (.npy interoperability).
# Everything comes from the package registries; nothing is downloaded from anywhere else.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

need_apt=()
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v flock >/dev/null 2>&1 || need_apt+=(util-linux)
[ -x "${SONGREC_CHROMIUM:-/usr/bin/chromium}" ] || need_apt+=(chromium)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
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
if ! "$venv/bin/python" -c 'import astrapy, numpy' >/dev/null 2>&1; then
  echo "installing Python test dependencies into $venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$repo/scripts/astrapy/requirements.txt" -r "$repo/scripts/test-requirements.txt" >&2
fi
# The browser test's driver, exactly as locked (reinstalled when the lock file changes).
e2e="$repo/scripts/e2e"
if [ ! -f "$e2e/node_modules/.package-lock.json" ] || ! cmp -s "$e2e/package-lock.json" "$e2e/node_modules/.songrec-lock"; then
  echo "installing the browser test's npm packages into $e2e/node_modules" >&2
  (cd "$e2e" && npm ci --no-audit --no-fund --loglevel=error >&2)
  cp "$e2e/package-lock.json" "$e2e/node_modules/.songrec-lock"
fi
echo "export SONGREC_TEST_PYTHON=$venv/bin/python"
