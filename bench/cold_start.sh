#!/bin/sh
# Cold start: wall time of `etl run` on a one-record pipeline (file source ->
# select -> file sink; the host loads every plugin in its directory), side by
# side with `true` and `node -e 0`. Target: etl median <= 10 ms.
#
#   bench/cold_start.sh [runs]        (default 60 runs per command, >= 30)
#
# With hyperfine: no intermediate shell (-N), a warm-up, and the runs split in
# rounds so the three commands alternate; the medians come from every run's
# time in the --export-json files. Without hyperfine (or with
# BENCH_NO_HYPERFINE=1): a date +%s%N loop alternating the commands run by
# run (it adds the fork/exec of `date` to every time, ~0.5-1 ms).
set -eu
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
bench_require_etl

runs=${1:-60}
[ "$runs" -ge 30 ] || runs=30
rounds=3
per_round=$(( (runs + rounds - 1) / rounds ))
bench_make_workdir

printf '%s\n' '{"id":1000000,"sku":"SKU-a067f6bc","name":"compact jacket 0","brand":{"name":"Acme","country":"SE"},"price":179.42,"updated_at":"2023-08-16T20:45:55.769510Z"}' \
    >"$bench_work/one.ndjson"
cat >"$bench_work/cold.yaml" <<EOF
pipeline: cold
source: {type: file, path: "$bench_work/one.ndjson", format: ndjson}
transforms:
  - {type: select, fields: [id, name, price]}
sink: {type: file, path: "$bench_work/out", format: ndjson}
EOF

echo "== cold start: etl run of a one-record pipeline vs true vs node -e 0"
bench_machine
if ! "$ETL_BIN" run "$bench_work/cold.yaml" >"$bench_work/check.log" 2>&1; then
    echo "etl run failed, nothing to time:"
    cat "$bench_work/check.log"
    exit 0
fi
plugins=$("$ETL_BIN" plugins 2>/dev/null | grep -c '(plugin ABI' || true)
echo "plugins loaded: $plugins; output record: $(cat "$bench_work"/out/*.ndjson)"

true_bin=/usr/bin/true
[ -x "$true_bin" ] || true_bin=/bin/true
have_node=yes
command -v node >/dev/null 2>&1 || have_node=no

# Prints one time in ms per line for each label, into $bench_work/LABEL.ms.
time_with_hyperfine() {
    round=1
    while [ "$round" -le "$rounds" ]; do
        set -- "$ETL_BIN run $bench_work/cold.yaml" "$true_bin"
        [ "$have_node" = yes ] && set -- "$@" "node -e 0"
        hyperfine -N --warmup 5 --runs "$per_round" --style none \
            --export-json "$bench_work/round$round.json" "$@" >/dev/null 2>&1 || return 1
        round=$((round + 1))
    done
    # results[i].times are seconds; the order is that of the command line.
    set -- etl true node
    i=0
    for label in "$@"; do
        [ "$label" = node ] && [ "$have_node" = no ] && continue
        for f in "$bench_work"/round*.json; do
            jq -r ".results[$i].times[] * 1000" "$f"
        done >"$bench_work/$label.ms"
        i=$((i + 1))
    done
}

time_with_loop() {
    : >"$bench_work/etl.ms"; : >"$bench_work/true.ms"; : >"$bench_work/node.ms"
    n=0
    while [ "$n" -lt 5 ]; do   # warm-up
        "$ETL_BIN" run "$bench_work/cold.yaml" >/dev/null 2>&1 || true
        n=$((n + 1))
    done
    n=0
    while [ "$n" -lt "$runs" ]; do
        bench_time_ms "$ETL_BIN" run "$bench_work/cold.yaml" >>"$bench_work/etl.ms"
        bench_time_ms "$true_bin" >>"$bench_work/true.ms"  # not the shell builtin
        [ "$have_node" = yes ] && bench_time_ms node -e 0 >>"$bench_work/node.ms"
        n=$((n + 1))
    done
}

if [ -z "${BENCH_NO_HYPERFINE:-}" ] && command -v hyperfine >/dev/null 2>&1 && command -v jq >/dev/null 2>&1 && time_with_hyperfine; then
    echo "timer: hyperfine $(hyperfine --version | cut -d' ' -f2), -N, --warmup 5, $rounds rounds x $per_round runs per command"
else
    echo "timer: date +%s%N loop, alternating, $runs runs per command (includes fork/exec of date)"
    time_with_loop
fi

etl_ms=$(bench_median <"$bench_work/etl.ms")
true_ms=$(bench_median <"$bench_work/true.ms")
printf '%-34s median %8.2f ms  (%d runs)\n' "etl run (1 record, 3 plugins)" "$etl_ms" "$(wc -l <"$bench_work/etl.ms")"
printf '%-34s median %8.2f ms\n' "true" "$true_ms"
if [ "$have_node" = yes ]; then
    node_ms=$(bench_median <"$bench_work/node.ms")
    printf '%-34s median %8.2f ms\n' "node -e 0" "$node_ms"
fi
echo "etl/true: $(bench_ratio "$etl_ms" "$true_ms")"
[ "$have_node" = yes ] && echo "etl/node: $(bench_ratio "$etl_ms" "$node_ms")"
if awk -v m="$etl_ms" 'BEGIN { exit !(m <= 10) }'; then
    echo "target etl median <= 10 ms: met"
else
    echo "target etl median <= 10 ms: MISSED ($etl_ms ms)"
fi
