#!/bin/sh
# NDJSON select + rename throughput: etl vs jq vs DuckDB (1 thread and its
# default), on the same ~1 KB/document product NDJSON, alternating, whole
# processes timed (start-up included for everyone).
#
#   bench/ndjson_select_rename.sh [megabytes] [runs]     (default 200 MB, 5 runs)
#
# The input is generated once by etl's generate source and cached under
# bench/.data/. Then the outputs are compared with etl's: record counts, ids
# as strings (jq 1.6 holds numbers as doubles, so int64 ids above 2^53 lose
# digits), and whole lines.
set -eu
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"
bench_require_etl
bench_require_tool jq "apt-get install -y jq"

megabytes=${1:-200}
runs=${2:-5}
# description_bytes 511 (the generator's maximum) gives ~910 bytes/document.
desc_bytes=511
docs=$(awk -v mb="$megabytes" 'BEGIN { printf "%d\n", mb * 1e6 / 909 }')
bench_make_workdir

echo "== ndjson select + rename: etl vs jq vs DuckDB"
bench_machine
echo "jq: $(jq --version)"
have_duckdb=no
if command -v node >/dev/null 2>&1 && [ -d "$bench_top/node_modules/@duckdb/node-api" ]; then
    have_duckdb=yes
    echo "node: $(node --version)"
else
    echo "DuckDB peer skipped: needs node and 'npm ci' at the repo root"
fi

input=$(bench_generate_ndjson "$docs" "$desc_bytes")
records=$(bench_lines "$input")
input_mb=$(bench_file_mb "$input")
echo "input: $input ($records records, $input_mb MB, description_bytes $desc_bytes, seed 42)"

# The etl pipeline: selecting brand.name then renaming it yields exactly the
# jq/DuckDB projection {id, sku, name, brand_name, price, updated_at}.
# (select [.., brand, ..] + rename {brand.name: brand_name} would keep the
# brand struct as well: rename pulls the field out, it does not drop the struct.)
cat >"$bench_work/select_rename.yaml" <<EOF
pipeline: select_rename
source: {type: file, path: "$input", format: ndjson}
transforms:
  - {type: select, fields: [id, sku, name, brand.name, price, updated_at]}
  - {type: rename, fields: {brand.name: brand_name}}
sink: {type: file, path: "$bench_work/etl", format: ndjson, roll_size: 100GB}
EOF

run_etl() { "$ETL_BIN" run "$bench_work/select_rename.yaml"; }
run_jq() { jq -c '{id, sku, name, brand_name: .brand.name, price, updated_at}' "$input" >"$bench_work/jq.ndjson"; }
run_duckdb_1() { node "$bench_here/duckdb_ndjson.mjs" "$input" "$bench_work/duckdb1.ndjson" 1 >>"$bench_work/duckdb1.query"; }
run_duckdb_default() { node "$bench_here/duckdb_ndjson.mjs" "$input" "$bench_work/duckdbN.ndjson" default >>"$bench_work/duckdbN.query"; }

peers="etl jq"
[ "$have_duckdb" = yes ] && peers="$peers duckdb_1 duckdb_default"

echo "warm-up: one untimed run of each (fills the page cache)"
for peer in $peers; do
    if ! "run_$peer" >"$bench_work/$peer.log" 2>&1; then
        echo "  $peer failed; its numbers will say FAILED:"
        sed 's/^/    /' "$bench_work/$peer.log" | head -n 5
    fi
done
: >"$bench_work/duckdb1.query"; : >"$bench_work/duckdbN.query"

i=1
while [ "$i" -le "$runs" ]; do
    line="run $i:"
    for peer in $peers; do
        ms=$(bench_time_ms "run_$peer")
        echo "$ms" >>"$bench_work/$peer.ms"
        line="$line $peer $ms ms,"
    done
    echo "${line%,}"
    i=$((i + 1))
done

echo
printf '%-16s %12s %10s %14s\n' peer "median s" "MB/s" "records/s"
for peer in $peers; do
    med=$(grep -v FAILED "$bench_work/$peer.ms" | bench_median)
    echo "$med" >"$bench_work/$peer.median"
    awk -v p="$peer" -v ms="$med" -v mb="$input_mb" -v n="$records" 'BEGIN {
        if (ms == "nan") { printf "%-16s %12s\n", p, "FAILED"; exit }
        s = ms / 1000; printf "%-16s %12.3f %10.1f %14.0f\n", p, s, mb / s, n / s }'
done
if [ "$have_duckdb" = yes ]; then
    for which in 1 N; do
        q=$(sed -n 's/.*"query_ms":\([0-9.]*\).*/\1/p' "$bench_work/duckdb$which.query" | bench_median)
        t=$(sed -n 's/.*"threads":\([0-9]*\).*/\1/p' "$bench_work/duckdb$which.query" | head -n 1)
        v=$(sed -n 's/.*"duckdb":"\([^"]*\)".*/\1/p' "$bench_work/duckdb$which.query" | head -n 1)
        echo "$q" >"$bench_work/duckdb$which.query_median"
        echo "  duckdb $v threads=$t: COPY statement alone, median $(awk -v q="$q" 'BEGIN { printf "%.3f", q / 1000 }') s (the rest is node + DuckDB start-up)"
    done
fi

etl_med=$(cat "$bench_work/etl.median")
echo
for peer in $peers; do
    [ "$peer" = etl ] && continue
    echo "etl/$peer speed ratio: $(bench_ratio "$(cat "$bench_work/$peer.median")" "$etl_med") (>1: etl is faster)"
done
if [ "$have_duckdb" = yes ]; then
    # etl's whole process against DuckDB's COPY alone: the ratio that leaves
    # node's start-up out (it favours DuckDB, since etl's start-up stays in).
    echo "etl/duckdb_1 speed ratio, COPY alone: $(bench_ratio "$(cat "$bench_work/duckdb1.query_median")" "$etl_med")"
    echo "etl/duckdb_default speed ratio, COPY alone: $(bench_ratio "$(cat "$bench_work/duckdbN.query_median")" "$etl_med")"
fi

# --- do the outputs agree? ---------------------------------------------------
first_id() { sed -n 's/^{"id":\(-\{0,1\}[0-9]*\).*/\1/p' "$1"; }
first_id "$input" >"$bench_work/ids.input"
big=$(awk '{ d = $1; sub(/^-/, "", d)
             if (length(d) > 16 || (length(d) == 16 && d > "9007199254740992")) n++ }
           END { print n + 0 }' "$bench_work/ids.input")
cat "$bench_work"/etl/*.ndjson >"$bench_work/etl.ndjson"
echo
echo "output check (input: $records records, $big ids with |id| > 2^53):"
for peer in $peers; do
    case $peer in
        etl) out=$bench_work/etl.ndjson ;;
        jq) out=$bench_work/jq.ndjson ;;
        duckdb_1) out=$bench_work/duckdb1.ndjson ;;
        duckdb_default) out=$bench_work/duckdbN.ndjson ;;
    esac
    [ -f "$out" ] || { echo "  $peer: no output"; continue; }
    first_id "$out" >"$bench_work/ids.$peer"
    bad_ids=$(paste -d ' ' "$bench_work/ids.input" "$bench_work/ids.$peer" |
              awk '($1 "") != ($2 "") { n++ } END { print n + 0 }')  # as strings, not numbers
    msg="  $peer: $(bench_lines "$out") records, $bad_ids ids differ from the input's (compared as strings)"
    echo "$msg"
    [ "$peer" = etl ] && continue
    # Lines that differ from etl's, split by whether the id is what differs;
    # one example of each kind (JSON lines hold no raw tabs).
    paste "$bench_work/etl.ndjson" "$out" | awk -F '\t' -v p="$peer" '
        function id(s) { sub(/^\{"id":/, "", s); sub(/,.*/, "", s); return s "" }
        $1 == $2 { next }
        { n++; kind = (id($1) != id($2)) ? "id" : "other"; k[kind]++
          if (!(kind in shown)) { shown[kind] = 1
              ex[kind] = "      etl: " $1 "\n      " p ": " $2 } }
        END { printf "    %d lines differ from etl'"'"'s: %d with another id, %d otherwise\n", n, k["id"], k["other"]
              if ("id" in ex) print ex["id"]
              if ("other" in ex) print ex["other"] }'
done
