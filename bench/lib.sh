# Shared helpers for the bench/*.sh scripts (sourced, POSIX sh).
#
# Benchmarks print; they never fail a build. A missing tool or binary makes a
# script say "skipped: ..." and exit 0.
#
#   ETL_BIN      the etl binary (default: _build/bench/etl under the repo root)
#   BENCH_DATA   where generated inputs are cached (default: bench/.data)

bench_here=$(cd "$(dirname "$0")" && pwd)
bench_top=$(dirname "$bench_here")
ETL_BIN=${ETL_BIN:-$bench_top/_build/bench/etl}
BENCH_DATA=${BENCH_DATA:-$bench_here/.data}

# Stops the calling script (status 0) when etl has not been built.
bench_require_etl() {
    if [ ! -x "$ETL_BIN" ]; then
        echo "skipped: no etl binary at $ETL_BIN"
        echo "  build it: mkdir -p _build/bench && cd _build/bench && ../../configure && make -j2"
        echo "  or point ETL_BIN at one"
        exit 0
    fi
}

# Stops the calling script (status 0) when a peer tool is missing.
bench_require_tool() {
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "skipped: '$1' is not installed${2:+ ($2)}"
        exit 0
    fi
}

# A scratch directory removed when the script exits; sets $bench_work.
bench_make_workdir() {
    bench_work=$(mktemp -d "${TMPDIR:-/tmp}/etl-bench.XXXXXX")
    trap 'rm -rf "$bench_work"' EXIT
    trap 'rm -rf "$bench_work"; exit 130' INT TERM
}

# Median of the numbers on stdin, one per line.
bench_median() {
    sort -g | awk '{ v[NR] = $1 }
        END { if (NR == 0) { print "nan"; exit }
              if (NR % 2) print v[(NR + 1) / 2]
              else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# a / b with two decimals ("n/a" when b is zero or not a number).
bench_ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2f\n", a / b }'
}

bench_now_ns() { date +%s%N; }

# Runs a command with its output discarded and prints its wall time in ms.
# A failing command prints "FAILED" instead, so a broken peer is visible.
bench_time_ms() {
    t0=$(bench_now_ns)
    if "$@" >/dev/null 2>&1; then
        t1=$(bench_now_ns)
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e6 }'
    else
        echo FAILED
    fi
}

# Runs a command and prints its peak resident set size in KiB (GNU time %M).
bench_peak_rss_kb() {
    rss_file=$(mktemp "${TMPDIR:-/tmp}/etl-bench-rss.XXXXXX")
    if /usr/bin/time -f %M -o "$rss_file" "$@" >/dev/null 2>&1; then
        tail -n 1 "$rss_file"
    else
        echo FAILED
    fi
    rm -f "$rss_file"
}

# Prints the path of a cached NDJSON file of COUNT generated product documents
# (seed 42, description of DESC_BYTES), generating it with etl when missing.
# The .meta file next to it records what made it, so a changed request or a
# changed etl regenerates instead of reusing stale data.
bench_generate_ndjson() {
    count=$1 desc_bytes=$2
    out="$BENCH_DATA/products-$count-d$desc_bytes.ndjson"
    meta="count=$count seed=42 description_bytes=$desc_bytes $("$ETL_BIN" --version 2>&1 | head -n 1)"
    if [ -f "$out" ] && [ -f "$out.meta" ] && [ "$(cat "$out.meta")" = "$meta" ]; then
        echo "$out"
        return 0
    fi
    mkdir -p "$BENCH_DATA"
    gen_dir=$(mktemp -d "$BENCH_DATA/gen.XXXXXX")
    cat >"$gen_dir/generate.yaml" <<EOF
pipeline: generate
source: {type: generate, count: $count, seed: 42, description_bytes: $desc_bytes}
sink: {type: file, path: "$gen_dir/out", format: ndjson, roll_size: 100GB}
EOF
    if ! "$ETL_BIN" run "$gen_dir/generate.yaml" >"$gen_dir/log" 2>&1; then
        echo "bench: generating $count documents failed:" >&2
        cat "$gen_dir/log" >&2
        rm -rf "$gen_dir"
        return 1
    fi
    # One file is expected; concatenating keeps this right if the sink rolls.
    cat "$gen_dir"/out/*.ndjson >"$out.tmp" && mv "$out.tmp" "$out"
    echo "$meta" >"$out.meta"
    rm -rf "$gen_dir"
    echo "$out"
}

bench_file_mb() {
    wc -c <"$1" | awk '{ printf "%.1f\n", $1 / 1e6 }'
}

bench_lines() {
    wc -l <"$1" | tr -d ' '
}

# The machine and tool versions, for the record.
bench_machine() {
    echo "machine: $(nproc) cores, $(grep -m 1 'model name' /proc/cpuinfo | sed 's/.*: //')," \
         "$(awk '/MemTotal/ { printf "%.1f GB RAM", $2 / 1048576 }' /proc/meminfo), $(uname -sr)"
    echo "etl: $("$ETL_BIN" --version 2>&1 | head -n 1) ($ETL_BIN)"
}
