#!/usr/bin/env bash
# Runs a local stand-in for songrec's cloud backend on 127.0.0.1: the Data API server
# (songrec-dataapi, SQLite) and an S3-protocol server (songrec-s3, s3s-fs with SigV4).
#
#   scripts/local-cloud.sh start   # builds, starts both, writes target/local-cloud/env
#   source target/local-cloud/env  # points songrec at them (SONGREC_STORAGE_BACKEND=astra, ...)
#   songrec init-astra && songrec ingest ~/Music && songrec similar "..."
#   scripts/local-cloud.sh stop
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
dir=target/local-cloud
cmd="${1:-start}"

stop() {
  for p in "$dir"/*.pid; do
    [ -e "$p" ] || continue
    kill "$(cat "$p")" 2>/dev/null || true
    rm -f "$p"
  done
}

case "$cmd" in
  stop) stop; echo "stopped"; exit 0 ;;
  start) ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

stop
# Two packages besides songrec. Built apart from it: together, cargo would unify their features
# with songrec's and build songrec and seven of its crates a second time beside the demo's.
echo "building two more packages: songrec-dataapi-server (the Data API server, on SQLite) and" >&2
echo "songrec-devservers (the S3 server): about 190 crates, about 5 minutes on 2 cores the first" >&2
echo "time (8.4 minutes of CPU, measured cold), seconds after that..." >&2
cargo build --locked -q -p songrec-dataapi-server -p songrec-devservers
echo "building songrec (the demo's build, cargo build -p songrec-cli --bin songrec: nothing to do after it)..." >&2
cargo build --locked -q -p songrec-cli --bin songrec
echo "starting the Data API server and the S3 server on 127.0.0.1..." >&2
mkdir -p "$dir/dataapi" "$dir/s3"
token="AstraCS:local-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
access_key="songrec-local"
secret_key="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"

wait_for_line() { # file -> prints the URL from "listening on URL"
  for _ in $(seq 1 100); do
    if grep -q "listening on" "$1" 2>/dev/null; then
      grep -m1 "listening on" "$1" | sed 's/.*listening on //'
      return 0
    fi
    sleep 0.1
  done
  echo "server did not start; see $1" >&2
  return 1
}

SONGREC_DATAAPI_TOKEN="$token" target/debug/songrec-dataapi --host 127.0.0.1 --port 0 --data-dir "$dir/dataapi" \
  > "$dir/dataapi.log" 2>&1 &
echo $! > "$dir/dataapi.pid"
AWS_ACCESS_KEY_ID="$access_key" AWS_SECRET_ACCESS_KEY="$secret_key" target/debug/songrec-s3 --host 127.0.0.1 --port 0 \
  --data-dir "$dir/s3" --bucket songrec > "$dir/s3.log" 2>&1 &
echo $! > "$dir/s3.pid"
dataapi_url="$(wait_for_line "$dir/dataapi.log")"
s3_url="$(wait_for_line "$dir/s3.log")"

umask 077
cat > "$dir/env" <<ENV
export SONGREC_STORAGE_BACKEND=astra
export ASTRA_DB_API_ENDPOINT=$dataapi_url
export ASTRA_DB_API_PATH=/v1
export ASTRA_DB_APPLICATION_TOKEN=$token
export ASTRA_DB_KEYSPACE=default_keyspace
export SONGREC_S3_ENDPOINT=$s3_url
export SONGREC_S3_BUCKET=songrec
export SONGREC_S3_REGION=us-east-1
export SONGREC_S3_ALLOW_HTTP=true
export AWS_ACCESS_KEY_ID=$access_key
export AWS_SECRET_ACCESS_KEY=$secret_key
ENV
echo "Data API at $dataapi_url, S3 at $s3_url"
echo "run: source $dir/env && target/debug/songrec init-astra && target/debug/songrec doctor"
