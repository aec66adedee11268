#!/bin/sh
# Elasticsearch extraction: etl (elasticsearch source -> NDJSON file) vs
# elasticdump (-> file), side by side against the same Elasticsearch
# emulator (tests/es/emulator.mjs) holding ~1 KB e-commerce product documents.
#
#   bench/es_vs_elasticdump.sh [documents] [runs] [page]   (default 200000, 3, 1000)
#
# Both read pages of the same size (etl batch.records = elasticdump --limit).
# Reported per tool, medians over the runs (alternating): documents/s, wall
# time, requests the emulator received (its request log), and the client's
# CPU time (user + sys of the client process, from /usr/bin/time), and the
# emulator's CPU time during the run (/proc/PID/stat), to show that it is not
# the bottleneck. The outputs are checked: every document once.
set -eu
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
bench_require_etl
bench_require_tool node "apt-get install -y nodejs"
bench_require_tool jq "apt-get install -y jq"
bench_require_tool curl "apt-get install -y curl"
elasticdump=$bench_top/node_modules/.bin/elasticdump
if [ ! -x "$elasticdump" ]; then
    echo "skipped: elasticdump is not installed (npm ci at the repository root)"
    exit 0
fi
if [ ! -x /usr/bin/time ]; then
    echo "skipped: /usr/bin/time (GNU time) is needed for CPU times"
    exit 0
fi

docs=${1:-200000}
runs=${2:-3}
page=${3:-1000}
bench_make_workdir
emulator_pid=
trap 'kill $emulator_pid 2>/dev/null; rm -rf "$bench_work"' EXIT

echo "== Elasticsearch extraction: etl vs elasticdump"
bench_machine
echo "node: $(node --version), elasticdump: $(node -p "require('$bench_top/node_modules/elasticdump/package.json').version")"
echo "documents: $docs, page size: $page, runs: $runs"

node "$bench_top/tests/es/emulator.mjs" --port 0 --port-file "$bench_work/port" --docs "$docs" \
    2>"$bench_work/emulator.log" &
emulator_pid=$!
i=0
while [ ! -s "$bench_work/port" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
url="http://127.0.0.1:$(cat "$bench_work/port")"
bytes=$(curl -s "$url/_emulator/corpus/products" | wc -c)
echo "corpus: $docs documents, $((bytes / 1000000)) MB of _source ($((bytes / docs)) bytes/document)"

cat >"$bench_work/es.yaml" <<EOF
pipeline: bench-es
source: {type: elasticsearch, url: "$url", index: products, array_fields: [tags], count: false}
sink: {type: file, path: $bench_work/etl-out, format: ndjson}
batch: {records: $page}
EOF

# CPU seconds the emulator has used so far (utime + stime).
emulator_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$emulator_pid/stat"
}

# run_client NAME COMMAND...: one timed run; appends
# "wall user sys requests emulator_cpu" to $bench_work/NAME.runs.
run_client() {
    name=$1
    shift
    curl -s -X DELETE "$url/_emulator/log" >/dev/null
    # The previous run's output is flushed first, so that its writeback
    # does not land in this run's time (for either tool).
    sync
    e0=$(emulator_cpu)
    t0=$(bench_now_ns)
    /usr/bin/time -f '%U %S' -o "$bench_work/time" "$@" >"$bench_work/$name.out" 2>&1
    t1=$(bench_now_ns)
    e1=$(emulator_cpu)
    requests=$(curl -s "$url/_emulator/log" | jq length)
    echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }') $(cat "$bench_work/time") $requests" \
        "$(awk -v a="$e0" -v b="$e1" 'BEGIN { printf "%.2f", b - a }')" >>"$bench_work/$name.runs"
}

for r in $(seq 1 "$runs"); do
    rm -rf "$bench_work/etl-out" "$bench_work/dump.ndjson"
    run_client etl "$ETL_BIN" -q run "$bench_work/es.yaml"
    etl_docs=$(cat "$bench_work"/etl-out/*.ndjson | wc -l)
    run_client elasticdump "$elasticdump" --input="$url/products" --output="$bench_work/dump.ndjson" \
        --type=data --limit="$page"
    dump_docs=$(wc -l <"$bench_work/dump.ndjson")
    if [ "$etl_docs" -ne "$docs" ] || [ "$dump_docs" -ne "$docs" ]; then
        echo "run $r: WRONG OUTPUT: etl wrote $etl_docs documents, elasticdump $dump_docs (wanted $docs)"
    fi
done
ids_etl=$(jq -r .id "$bench_work"/etl-out/*.ndjson | sort -u | wc -l)
ids_dump=$(jq -r ._id "$bench_work/dump.ndjson" | sort -u | wc -l)
echo "check: distinct documents: etl $ids_etl, elasticdump $ids_dump (of $docs)"

# column N of a runs file, median
median_of() { awk -v c="$2" '{ print $c }' "$bench_work/$1.runs" | bench_median; }
printf '\n%-12s %12s %10s %10s %14s %12s %15s\n' tool "docs/s" "wall s" requests "client CPU s" "CPU us/doc" \
    "emulator CPU s"
for tool in etl elasticdump; do
    wall=$(median_of $tool 1)
    cpu=$(awk '{ print $2 + $3 }' "$bench_work/$tool.runs" | bench_median)
    requests=$(median_of $tool 4)
    rate=$(awk -v d="$docs" -v w="$wall" 'BEGIN { printf "%.0f", d / w }')
    per=$(awk -v d="$docs" -v c="$cpu" 'BEGIN { printf "%.2f", c * 1e6 / d }')
    emulator=$(median_of $tool 5)
    printf '%-12s %12s %10s %10s %14s %12s %15s\n' "$tool" "$rate" "$wall" "$requests" "$cpu" "$per" \
        "$emulator"
    eval "${tool}_wall=$wall ${tool}_cpu=$cpu"
done
echo
echo "etl is $(bench_ratio "$elasticdump_wall" "$etl_wall")x faster (docs/s) and uses $(bench_ratio "$elasticdump_cpu" "$etl_cpu")x less client CPU than elasticdump"
echo "(every run: $(tr '\n' ';' <"$bench_work/etl.runs") | elasticdump: $(tr '\n' ';' <"$bench_work/elasticdump.runs"))"
