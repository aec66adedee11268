#!/bin/sh
# Memory: peak RSS of etl running the select + rename pipeline of
# ndjson_select_rename.sh on N and on 10N documents. A streaming pipeline's
# peak should not grow with the input. Target: RSS(10N) / RSS(N) <= 1.2.
#
#   bench/memory.sh [N] [runs]          (default 20000 documents, 3 runs each)
#
# Peak RSS is GNU time's %M (KiB); the median of the runs is reported, the
# two sizes alternating. A one-record run is shown as the floor (binary,
# libraries, plugins).
set -eu
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
bench_require_etl
[ -x /usr/bin/time ] || { echo "skipped: needs GNU time (apt-get install -y time)"; exit 0; }

n=${1:-20000}
runs=${2:-3}
n10=$((n * 10))
desc_bytes=511
bench_make_workdir

echo "== memory: etl peak RSS at $n and $n10 documents"
bench_machine
small=$(bench_generate_ndjson "$n" "$desc_bytes")
large=$(bench_generate_ndjson "$n10" "$desc_bytes")
head -n 1 "$small" >"$bench_work/one.ndjson"

pipeline_for() {  # INPUT NAME
    cat >"$bench_work/$2.yaml" <<EOF
pipeline: memory_$2
source: {type: file, path: "$1", format: ndjson}
transforms:
  - {type: select, fields: [id, sku, name, brand.name, price, updated_at]}
  - {type: rename, fields: {brand.name: brand_name}}
sink: {type: file, path: "$bench_work/out_$2", format: ndjson, roll_size: 100GB}
EOF
}
pipeline_for "$bench_work/one.ndjson" one
pipeline_for "$small" small
pipeline_for "$large" large
echo "inputs: $n docs $(bench_file_mb "$small") MB, $n10 docs $(bench_file_mb "$large") MB (batch.records default 1000)"

i=1
while [ "$i" -le "$runs" ]; do
    for size in one small large; do
        kb=$(bench_peak_rss_kb "$ETL_BIN" run "$bench_work/$size.yaml")
        echo "$kb" >>"$bench_work/$size.kb"
    done
    echo "run $i: 1 doc $(tail -n 1 "$bench_work/one.kb") KiB, $n docs $(tail -n 1 "$bench_work/small.kb") KiB, $n10 docs $(tail -n 1 "$bench_work/large.kb") KiB"
    i=$((i + 1))
done

one_kb=$(grep -v FAILED "$bench_work/one.kb" | bench_median)
small_kb=$(grep -v FAILED "$bench_work/small.kb" | bench_median)
large_kb=$(grep -v FAILED "$bench_work/large.kb" | bench_median)
ratio=$(bench_ratio "$large_kb" "$small_kb")
echo
printf '%-22s %10s KiB peak RSS (median)\n' "etl, 1 doc (floor)" "$one_kb"
printf '%-22s %10s KiB\n' "etl, $n docs" "$small_kb"
printf '%-22s %10s KiB\n' "etl, $n10 docs" "$large_kb"
echo "RSS($n10)/RSS($n): $ratio"
if awk -v r="$ratio" 'BEGIN { exit !(r != "n/a" && r <= 1.2) }'; then
    echo "target ratio <= 1.2: met"
else
    echo "target ratio <= 1.2: MISSED ($ratio)"
fi
