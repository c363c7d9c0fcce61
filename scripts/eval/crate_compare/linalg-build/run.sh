#!/bin/bash
# Clean release builds of just the crates (what adding them costs from scratch; the workspace
# already has rand 0.9, num-traits, rayon, matrixmultiply, so the real increment is smaller).
for p in linfa nalgebra; do
  cd "$(dirname "$0")"/$p
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR_BASE:-/tmp/crate_compare_target}/lb-$p
  rm -rf $CARGO_TARGET_DIR
  /usr/bin/time -f "$p clean release: %e s wall, %U s user" nice -n 10 cargo build --release 2>&1 | grep -E "error|clean release"
  echo "load $(cat /proc/loadavg)"
done
