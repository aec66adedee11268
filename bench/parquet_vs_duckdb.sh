#!/bin/sh
# NDJSON to Parquet (zstd): etl against DuckDB with one thread, on the same
# generated product documents (>= 200 MB). Runs alternate, RUNS of each
# (default 5); prints the medians of wall time, throughput, peak RSS and
# output size, the ratios etl/DuckDB, then has DuckDB read both outputs and
# compare every row and value.
#
#   bench/parquet_vs_duckdb.sh            # ETL_BIN, RUNS, COUNT, DESC_BYTES to override
#   PARQUET_OPTIONS='page_size: 1MiB' bench/parquet_vs_duckdb.sh   # more writer options
#
# Targets (issue 3): throughput >= 3x DuckDB's, peak RSS <= 0.25x, size <= 1.1x.
. "$(dirname "$0")/lib.sh"

RUNS=${RUNS:-5}
COUNT=${COUNT:-220022}          # with 511-byte descriptions: 201 MB
DESC_BYTES=${DESC_BYTES:-511}

bench_require_etl
bench_require_tool node "the DuckDB peer runs on node"
bench_require_tool /usr/bin/time "GNU time measures peak RSS"
if [ ! -d "$bench_top/node_modules/@duckdb/node-api" ]; then
    echo "skipped: @duckdb/node-api is not installed (run 'npm ci' in $bench_top)"
    exit 0
fi

input=$(bench_generate_ndjson "$COUNT" "$DESC_BYTES") || exit 1
bench_make_workdir
input_mb=$(bench_file_mb "$input")

cat >"$bench_work/etl.yaml" <<YAML
pipeline: bench
source: {type: file, path: "$input", format: ndjson}
sink: {type: file, path: "$bench_work/etl-out", roll_size: 100GB,
       format: {type: parquet, compression: zstd${PARQUET_OPTIONS:+, $PARQUET_OPTIONS}}}
YAML

# measure NAME COMMAND...: one run; appends "seconds rss_kb" to $bench_work/NAME.
measure() {
    name=$1; shift
    /usr/bin/time -f "%e %M" -o "$bench_work/time" "$@" >/dev/null 2>"$bench_work/err" ||
        { echo "bench: $name failed:" >&2; cat "$bench_work/err" >&2; exit 1; }
    tail -n 1 "$bench_work/time" >>"$bench_work/$name"
}

bench_machine
echo "input: $input ($input_mb MB, $(bench_lines "$input") documents)"
echo "runs: $RUNS of each, alternating${PARQUET_OPTIONS:+; etl writer options: $PARQUET_OPTIONS}"
i=0
while [ "$i" -lt "$RUNS" ]; do
    rm -rf "$bench_work/etl-out" "$bench_work/duckdb.parquet"
    measure etl "$ETL_BIN" run "$bench_work/etl.yaml"
    measure duckdb node "$bench_here/parquet/duckdb_copy.mjs" "$input" "$bench_work/duckdb.parquet" 1
    i=$((i + 1))
done

etl_file=$(ls "$bench_work"/etl-out/*.parquet)
etl_size=$(wc -c <"$etl_file")
duck_size=$(wc -c <"$bench_work/duckdb.parquet")
etl_s=$(cut -d' ' -f1 "$bench_work/etl" | bench_median)
duck_s=$(cut -d' ' -f1 "$bench_work/duckdb" | bench_median)
etl_rss=$(cut -d' ' -f2 "$bench_work/etl" | bench_median)
duck_rss=$(cut -d' ' -f2 "$bench_work/duckdb" | bench_median)
mbps() { awk -v mb="$input_mb" -v s="$1" 'BEGIN { printf "%.1f", mb / s }'; }
mib() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1e6 }'; }

echo
printf '%-22s %12s %12s %10s\n' "" "etl" "DuckDB (1t)" "etl/DuckDB"
printf '%-22s %12s %12s %10s\n' "wall time, median (s)" "$etl_s" "$duck_s" "$(bench_ratio "$etl_s" "$duck_s")"
printf '%-22s %12s %12s %10s\n' "throughput (MB/s)" "$(mbps "$etl_s")" "$(mbps "$duck_s")" \
    "$(bench_ratio "$duck_s" "$etl_s")"
printf '%-22s %12s %12s %10s\n' "peak RSS (MiB)" "$(mib "$etl_rss")" "$(mib "$duck_rss")" \
    "$(bench_ratio "$etl_rss" "$duck_rss")"
printf '%-22s %12s %12s %10s\n' "output (MB)" "$(mb "$etl_size")" "$(mb "$duck_size")" \
    "$(bench_ratio "$etl_size" "$duck_size")"
echo "all runs (s rss_kb): etl $(tr '\n' ';' <"$bench_work/etl") duckdb $(tr '\n' ';' <"$bench_work/duckdb")"
echo "targets: throughput >= 3.00x, peak RSS <= 0.25x, output <= 1.10x"
printf 'same rows and values (DuckDB reads both): '
node "$bench_here/parquet/verify.mjs" "$bench_work/duckdb.parquet" "$etl_file"
