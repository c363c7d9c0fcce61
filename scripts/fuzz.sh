#!/usr/bin/env bash
# Runs the fuzz targets under fuzz/ with cargo-fuzz (libFuzzer, nightly toolchain), one after
# the other.
#
#   scripts/fuzz.sh                 every target, 600 s each
#   scripts/fuzz.sh npy 60          one target for 60 s
#   scripts/fuzz.sh all 120         every target, 120 s each
#
# Stops at the first crash.
# Installs cargo-fuzz when it is missing. New inputs that reach new code go to
# fuzz/corpus/<target>/ (commit the small, interesting ones); a crash is saved under
# fuzz/artifacts/<target>/: minimise it with `cargo +nightly fuzz tmin <target> <file>`,
# move it to fuzz/regressions/<target>/ and fix the parser. The crates' test suites replay
# both folders on stable, so CI keeps every input found here.
set -euo pipefail

cd "$(dirname "$0")/.."

TARGETS=(npy metadata_json journal pack snapshot rows ann riff_info dataapi_request rest_query range_header playlist_history list_cursor)

feature_of() {
    case "$1" in
        npy | metadata_json | journal | pack | snapshot | rows | ann) echo local ;;
        riff_info) echo audio ;;
        dataapi_request) echo dataapi ;;
        rest_query) echo server ;;
        range_header) echo "" ;;
        playlist_history) echo discover ;;
        list_cursor) echo cursor ;;
        *) echo "unknown fuzz target $1 (known: ${TARGETS[*]})" >&2; exit 2 ;;
    esac
}

dict_of() {
    case "$1" in
        dataapi_request) echo fuzz/dicts/dataapi_request.dict ;;
        metadata_json | journal | playlist_history | list_cursor) echo fuzz/dicts/json.dict ;;
        *) echo "" ;;
    esac
}

target="${1:-all}"
seconds="${2:-600}"

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "cargo-fuzz needs a nightly toolchain: rustup toolchain install nightly" >&2
    exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

if [[ "$target" == all ]]; then
    selected=("${TARGETS[@]}")
else
    selected=("$target")
fi

for t in "${selected[@]}"; do
    feature="$(feature_of "$t")"
    dict="$(dict_of "$t")"
    mkdir -p "fuzz/corpus/$t" "fuzz/regressions/$t"
    args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1)
    if [[ -n "$dict" ]]; then
        args+=(-dict="$PWD/$dict")
    fi
    echo "== fuzzing $t for ${seconds}s"
    # One target builds only the crate it needs; all of them share one build of everything.
    if [[ "$target" == all ]]; then
        features=()
    else
        features=(--no-default-features)
        if [[ -n "$feature" ]]; then
            features+=(--features "$feature")
        fi
    fi
    # The regressions are read too (not written): the run starts from every known input.
    (cd fuzz && cargo +nightly fuzz run "$t" "${features[@]}" \
        "corpus/$t" "regressions/$t" -- "${args[@]}")
done
