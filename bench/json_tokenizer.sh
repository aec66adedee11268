#!/bin/sh
# Benchmarks the JSON tokenizer against cJSON_Parse on ~100 MB of generated
# NDJSON (same process, alternating, 5 runs each; medians and their ratio).
#   bench/json_tokenizer.sh [megabytes] [runs]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
work=$(mktemp -d "${TMPDIR:-/tmp}/etl-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

cjson_cflags=$(pkg-config --cflags libcjson 2>/dev/null || true)
cjson_libs=$(pkg-config --libs libcjson 2>/dev/null || echo -lcjson)
gcc -std=c11 -D_GNU_SOURCE -O2 -I"$top/include" -I"$top/core" $cjson_cflags \
    -o "$work/json_tokenizer_bench" \
    "$here/json_tokenizer_bench.c" "$top/core/json_tokenizer.c" $cjson_libs
"$work/json_tokenizer_bench" "${1:-100}" "${2:-5}"
