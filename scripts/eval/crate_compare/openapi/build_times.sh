#!/bin/bash
# Clean dev builds (the workspace's dev profile) of the stand-in, without and with utoipa,
# then one incremental rebuild after touching main.rs. Each in its own target dir.
cd "$(dirname "$0")"
for v in utoipa base; do
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR_BASE:-/tmp/crate_compare_target}/oa-$v
  rm -rf $CARGO_TARGET_DIR
  F=""; [ $v = utoipa ] && F="--features utoipa"
  /usr/bin/time -f "$v clean: %e s wall, %U s user, %S s sys" nice -n 10 cargo build $F 2>&1 | grep -E "error|clean:|Finished"
  echo "load: $(cat /proc/loadavg)"
  for i in 1 2; do touch src/main.rs src/derived.rs
  /usr/bin/time -f "$v incremental (touch main.rs): %e s wall, %U s user" nice -n 10 cargo build $F 2>&1 | grep -E "error|incremental"; done
  cargo tree $F -e normal --prefix none | sort -u | grep -v "^cmp-openapi\|^songrec-app" > "$(dirname "$0")"/tree-$v.txt
  echo "$v crates: $(wc -l < tree-$v.txt)"
done
