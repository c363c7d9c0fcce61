#!/usr/bin/env bash
# Runs every check and test of the workspace. Installs what the tests need first
# (scripts/test-deps.sh). Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
eval "$(scripts/test-deps.sh)"
export SONGREC_TEST_PYTHON SONGREC_TEST_AUDIO SONGREC_TEST_ORT_LIBRARY SONGREC_TEST_ORT_OLD_LIBRARY
# Tests choose their neural runtime themselves; an ONNX Runtime pip-installed on this machine
# must not be picked up behind their back (the discovery tests set their own).
export SONGREC_NEURAL_RUNTIME="${SONGREC_NEURAL_RUNTIME:-tract}"

# Each step says when it starts (seconds since the script began): where CI time goes.
echo "== cargo fmt --check (at ${SECONDS} s)" >&2
cargo fmt --all -- --check
# Modules declared through the `internals!` macros (astra, local) are out of cargo fmt's sight:
# every source file is checked by name as well.
find crates -name '*.rs' -print0 | xargs -0 rustfmt --edition 2024 --check
echo "== cargo clippy (at ${SECONDS} s)" >&2
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test (at ${SECONDS} s)" >&2
# Examples hold no tests: clippy above type-checks them; linking them as test binaries
# would cost ten links for nothing.
cargo test --workspace --lib --bins --tests --locked "$@"
# Doc examples are tests too (cargo test --all-targets skips them).
echo "== cargo test --doc (at ${SECONDS} s)" >&2
cargo test --workspace --doc --locked
echo "== done (at ${SECONDS} s)" >&2
