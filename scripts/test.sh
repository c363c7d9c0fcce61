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
echo "== cargo build of every target, linted by clippy (at ${SECONDS} s)" >&2
# One build serves clippy and the tests. `cargo clippy` is `cargo check` with clippy's driver
# as the rustc of the workspace's own crates; here the same driver compiles them for the tests
# (lints and code in one pass; dependencies through plain rustc, as clippy does), so nothing
# is compiled twice: `cargo clippy --workspace --all-targets -- -D warnings` as part of the
# test build, instead of a second build of every crate (about 11 of CI's minutes).
export RUSTC_WORKSPACE_WRAPPER
RUSTC_WORKSPACE_WRAPPER="$(rustc --print sysroot)/bin/clippy-driver"
# What `cargo clippy -- -D warnings` hands the driver (cargo-clippy's own separator).
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
# A clean build gains nothing from incremental compilation: it only writes its caches (47 GB
# of target/debug/incremental after a day of runs here) and takes longer.
export CARGO_INCREMENTAL=0
# C at -O1 in the tests' build (a later -O wins over the one a build script asks for): usearch's
# SIMD distance library (numkong) asks for -O3 and was the cold build's longest single unit, 395 s
# of one core at -O3 against 191 s at -O1 (measured here, cargo build of numkong 7.8.7 alone); its
# kernels are intrinsics, so -O1 changes their speed a little and their results not at all.
# SQLite and aws-lc build at -O1 too. Release builds (the demo, `cargo install`) keep -O3.
export CFLAGS="${CFLAGS:--O1}"
# numkong compiles its kernels once per instruction set it knows (AVX2, AVX-VNNI, seven kinds of
# AVX-512, AMX), 215 s of one core at -O1; with every one of them off it builds only its
# portable C, in 75 s (measured here, numkong 7.8.7 alone). The tests check what songrec does
# with usearch's answers, not how fast numkong computes a distance; release builds keep them all.
for isa in HASWELL SKYLAKE ICELAKE GENOA SAPPHIRE SAPPHIREAMX GRANITEAMX DIAMOND TURIN ALDER SIERRA; do
  export "NK_TARGET_${isa}=0"
done
cargo test --workspace --all-targets --locked --no-run
echo "== cargo test (at ${SECONDS} s)" >&2
# Examples and benches were built and linted above; they hold no tests to run.
cargo test --workspace --lib --bins --tests --locked "$@"
# Doc examples are tests too (cargo test --all-targets skips them).
echo "== cargo test --doc (at ${SECONDS} s)" >&2
cargo test --workspace --doc --locked
echo "== done (at ${SECONDS} s)" >&2
