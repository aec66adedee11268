#!/bin/sh
# Runs every benchmark and keeps a copy of the output in bench/results-latest.txt.
# About 2-3 minutes on 2 cores (most of it jq and DuckDB on 200 MB).
#
#   bench/run-all.sh                         defaults
#   BENCH_MB=50 BENCH_RUNS=3 bench/run-all.sh  smaller/faster
#
# Benchmarks print; this script always exits 0. A benchmark that breaks is
# reported as such and the others still run.
set -u
here=$(cd "$(dirname "$0")" && pwd)
results=$here/results-latest.txt

run_one() {  # NAME COMMAND...
    name=$1; shift
    echo
    echo "################ $name ################"
    started=$(date +%s)
    if "$@"; then
        echo "($name: $(( $(date +%s) - started )) s)"
    else
        echo "($name: exited with status $?; its numbers above, if any, are incomplete)"
    fi
}

all() {
    echo "etl benchmarks, $(date -u '+%Y-%m-%d %H:%M:%S UTC'), git $(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo '?')"
    run_one cold_start sh "$here/cold_start.sh" "${BENCH_COLD_RUNS:-60}"
    run_one ndjson_select_rename sh "$here/ndjson_select_rename.sh" "${BENCH_MB:-200}" "${BENCH_RUNS:-5}"
    run_one memory sh "$here/memory.sh" "${BENCH_MEMORY_DOCS:-20000}"
    run_one json_tokenizer sh "$here/json_tokenizer.sh" "${BENCH_TOKENIZER_MB:-100}" "${BENCH_RUNS:-5}"
}

all 2>&1 | tee "$results"
echo
echo "saved to $results"
exit 0
