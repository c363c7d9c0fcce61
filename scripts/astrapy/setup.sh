#!/usr/bin/env bash
# Create a Python virtualenv with the pinned astrapy client for the
# songrec-dataapi-server checks.
#
# Usage: scripts/astrapy/setup.sh
#   ASTRAPY_VENV=/path/to/venv  venv location (default: <repo>/target/astrapy-venv)
#   PYTHON=python3              interpreter used to create the venv
# Prints the venv's python path as the last line, e.g. for
#   export SONGREC_TEST_PYTHON="$(scripts/astrapy/setup.sh | tail -n1)"
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${ASTRAPY_VENV:-$repo/target/astrapy-venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" >&2
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
"$venv/bin/python" -c 'import astrapy, sys; print("astrapy", astrapy.__version__, file=sys.stderr)'
echo "$venv/bin/python"
