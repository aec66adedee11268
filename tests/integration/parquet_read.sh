#!/bin/bash
# parquet.so's record reader: etl reads Parquet files written by etl itself
# (compared with the NDJSON etl writes straight from the same input) and by
# DuckDB (compared with what DuckDB reads from the same file), and refuses
# broken or unsupported files with a clear message and without crashing.
. "$ETL_SRCDIR/tests/lib/tap.sh"
tap_tmpdir

PLUGINS=$ETL_TEST_PLUGIN_DIR
CHECK="$ETL_SRCDIR/tests/parquet/check.mjs"
SAMPLES="$ETL_SRCDIR/tests/parquet/write_samples.mjs"
cd "$TAP_TMP" || exit 1

have_node=0; have_duckdb=0; have_python=0
command -v node >/dev/null 2>&1 && have_node=1
if [ "$have_node" -eq 1 ] && [ -d "$ETL_SRCDIR/node_modules/@duckdb/node-api" ]; then have_duckdb=1; else
    diag "DuckDB checks are skipped: run 'npm ci' in $ETL_SRCDIR (needs node)"; fi
command -v python3 >/dev/null 2>&1 && have_python=1

# pipeline NAME SOURCE SOURCE_FORMAT SINK_FORMAT: writes NAME.yaml, output in out/NAME.
pipeline() {
    cat >"$1.yaml" <<YAML
pipeline: $1
plugin_path: $PLUGINS
source: {type: file, path: $2, format: $3}
sink: {type: file, path: out/$1, format: $4}
YAML
}

# NDJSON as canonical lines: members sorted, null members dropped (a
# Parquet column exists in every record, an NDJSON key only once seen);
# numbers keep their exact text.
normalise() {
    python3 -c '
import json, sys
def drop(v):
    if isinstance(v, dict):
        return {k: drop(x) for k, x in sorted(v.items()) if x is not None}
    if isinstance(v, list):
        return [drop(x) for x in v]
    return v
for line in open(sys.argv[1], encoding="utf-8"):
    if line.strip():
        print(json.dumps(drop(json.loads(line, parse_float=str)), ensure_ascii=False, sort_keys=True))
' "$1"
}

# same_ndjson DESCRIPTION A B: the same records and values, in order.
same_ndjson() {
    if [ "$have_python" -eq 0 ]; then skip "$1: no python3"; return; fi
    if [ ! -s "$2" ] || [ ! -s "$3" ]; then not_ok "$1 (missing output)"; return; fi
    normalise "$2" >a.norm; normalise "$3" >b.norm
    if cmp -s a.norm b.norm; then ok "$1 ($(wc -l <a.norm) records)"; else
        not_ok "$1"; diff a.norm b.norm | head -6 | cut -c1-300 | sed 's/^/#   /'; fi
}

# duck_check DESCRIPTION COMMAND ARGS...: a DuckDB comparison that prints "ok ...".
duck_check() {
    if [ "$have_duckdb" -eq 0 ]; then skip "$1: no DuckDB"; return; fi
    local description=$1 out; shift
    out=$(node "$@" 2>&1)
    if [ $? -eq 0 ]; then ok "$description ($out)"; else
        not_ok "$description"; echo "$out" | head -8 | cut -c1-400 | sed 's/^/#   /'; fi
}

# fails_with DESCRIPTION PATTERN: the last run failed (not by a signal) saying PATTERN.
fails_with() {
    if [ "$RUN_STATUS" -ne 0 ] && [ "$RUN_STATUS" -lt 128 ] && grep -Eq -- "$2" "$TAP_TMP/stderr"
    then ok "$1"; else
        not_ok "$1 (exit $RUN_STATUS, stderr lacks /$2/)"; sed 's/^/#   /' "$TAP_TMP/stderr" | head -5
    fi
}

# ---- 1. round trips through etl ------------------------------------------
cat >edge.ndjson <<'JSON'
{"id":1,"i":9223372036854775807,"f":0.1,"b":true,"s":"","u":"日本語 🎉 Ōtsuka","st":{"x":1,"y":{"z":"deep"}},"l":[1,2,3],"e":[],"ls":[{"k":"a","v":[1.5,null]},null,{"k":null,"v":[]}],"ll":[[1],[],null,[null,2]],"none":null}
{"id":2,"i":-9223372036854775808,"f":-1e308,"b":false,"s":"line\nbreak \"q\" \\","u":null,"st":{"x":null,"y":null},"l":null,"e":[],"ls":[],"ll":null,"none":null}
{"id":3,"i":null,"f":null,"b":null,"s":null,"u":"Müller","st":null,"l":[null],"e":null,"ls":null,"ll":[[]],"none":null}
{"id":4,"i":0,"f":5e-324,"b":true,"s":"x","u":"","st":{"x":-7,"y":{"z":null}},"l":[],"e":[],"ls":[{"k":"only","v":null}],"ll":[],"none":null}
JSON
inputs="edge.ndjson"
if [ "$have_node" -eq 1 ] && node "$ETL_SRCDIR/tests/parquet/make_data.mjs" 3000 >data.ndjson 2>/dev/null
then inputs="$inputs data.ndjson"; else diag "make_data.mjs skipped (no node)"; fi

i=0
for input in $inputs; do
    pipeline "ref$i" "$input" ndjson ndjson
    run_etl run "ref$i.yaml"
    expect_status "$input: reference NDJSON pipeline runs" 0
    j=0
    while IFS='|' read -r label format; do
        j=$((j + 1)); name="w${i}_$j"
        pipeline "$name" "$input" ndjson "$format"
        run_etl run "$name.yaml"
        expect_status "$input, $label: etl writes Parquet" 0
        pipeline "r$name" "out/$name/$name-0-000001.parquet" parquet ndjson
        run_etl run "r$name.yaml"
        expect_status "$input, $label: etl reads it back" 0
        same_ndjson "$input, $label: the records read equal the input's" \
            "out/ref$i/ref$i-0-000001.ndjson" "out/r$name/r$name-0-000001.ndjson"
    done <<'CASES'
defaults (zstd, dictionary auto)|parquet
snappy, dictionary on, small pages and row groups|{type: parquet, compression: snappy, dictionary: on, page_size: 1KiB, row_group_rows: 1600}
uncompressed, dictionary off|{type: parquet, compression: none, dictionary: off}
CASES
    i=$((i + 1))
done

# Reading in batches of 7 records gives the same records (several row
# groups and pages, each split across batches).
last=$((i - 1))
cat >small.yaml <<YAML
pipeline: small
plugin_path: $PLUGINS
batch: {records: 7}
source: {type: file, path: out/w${last}_2/w${last}_2-0-000001.parquet, format: parquet}
sink: {type: file, path: out/small, format: ndjson}
YAML
run_etl run small.yaml
expect_status "reading in batches of 7 records runs" 0
same_ndjson "batches of 7 records give the same records" "out/ref$last/ref$last-0-000001.ndjson" \
    out/small/small-0-000001.ndjson

# ---- 2. files written by DuckDB ------------------------------------------
if [ "$have_duckdb" -eq 1 ]; then
    if node "$SAMPLES" write . 2>samples.err; then ok "DuckDB writes the sample files"; else
        not_ok "DuckDB writes the sample files"; sed 's/^/#   /' samples.err | head -5; fi
fi

for sample in types_default types_snappy types_none types_zstd dict_groups v2_plain special; do
    if [ "$have_duckdb" -eq 0 ]; then skip "$sample: no DuckDB"; continue; fi
    pipeline "$sample-n" "$sample.parquet" parquet ndjson
    run_etl run "$sample-n.yaml"
    expect_status "$sample.parquet: etl reads it to NDJSON" 0
    if [ "$sample" != special ]; then   # NaN, bytes, 38 digits: not through DuckDB's JSON reader
        duck_check "$sample.parquet: etl's NDJSON equals what DuckDB reads" \
            "$CHECK" compare "$sample.parquet" "out/$sample-n/$sample-n-0-000001.ndjson"
    fi
    pipeline "$sample-p" "$sample.parquet" parquet parquet
    run_etl run "$sample-p.yaml"
    expect_status "$sample.parquet: etl copies it to Parquet" 0
    duck_check "$sample.parquet: etl's Parquet copy has the same values" \
        "$SAMPLES" same "$sample.parquet" "out/$sample-p/$sample-p-0-000001.parquet"
done

if [ "$have_duckdb" -eq 1 ]; then
    got=$(node "$CHECK" query "select count(*) as n from parquet_metadata('dict_groups.parquet') where path_in_schema = 'category' and encodings like '%DICTIONARY%'")
    if [ "$got" = '{"n":"5"}' ]; then ok "dict_groups.parquet has 5 row groups with dictionary pages"; else
        not_ok "dict_groups.parquet has 5 row groups with dictionary pages (got $got)"; fi
    got=$(grep -c '"dec38":1234567890123456789.0000000707,' out/special-n/special-n-0-000001.ndjson)
    if [ "$got" = 1 ]; then ok "a DECIMAL(38,10) keeps all its digits"; else
        not_ok "a DECIMAL(38,10) keeps all its digits"; grep '"id":101,' out/special-n/*.ndjson | cut -c1-200; fi
    got=$(sed -n 2p out/special-n/special-n-0-000001.ndjson | grep -o '"uid":"[^"]*","ubig":[0-9]*,"uint":null,"ts_ns":"[^"]*"')
    if [ "$got" = '"uid":"00000000-0000-0000-0000-000000000001","ubig":18446744073709551614,"uint":null,"ts_ns":"1969-12-31T23:59:56.000003Z"' ]
    then ok "UUID, UBIGINT, UINTEGER and TIMESTAMP_NS values"; else
        not_ok "UUID, UBIGINT, UINTEGER and TIMESTAMP_NS values (got $got)"; fi
    got=$(node "$CHECK" query "select column_name, column_type from (describe select * from 'out/types_default-p/types_default-p-0-000001.parquet') where column_name in ('tiny', 'dec9', 'd', 'li', 'ts', 'ts_ms', 'real32', 'st') order by 1")
    expected='{"column_name":"d","column_type":"DATE"}
{"column_name":"dec9","column_type":"DECIMAL(9,2)"}
{"column_name":"li","column_type":"INTEGER[]"}
{"column_name":"real32","column_type":"FLOAT"}
{"column_name":"st","column_type":"STRUCT(a BIGINT, b VARCHAR, \"inner\" STRUCT(c BOOLEAN))"}
{"column_name":"tiny","column_type":"INTEGER"}
{"column_name":"ts","column_type":"TIMESTAMP WITH TIME ZONE"}
{"column_name":"ts_ms","column_type":"TIMESTAMP WITH TIME ZONE"}'
    if [ "$got" = "$expected" ]; then ok "the column types survive a Parquet to Parquet copy"; else
        not_ok "the column types survive a Parquet to Parquet copy"; diag "got: $got"; fi
    got=$(node "$CHECK" query "select column_type from (describe select * from 'out/special-p/special-p-0-000001.parquet') where column_name = 'never'")
    if [ "$got" = '{"column_type":"VARCHAR"}' ]; then ok "an all-null column keeps its declared type"; else
        not_ok "an all-null column keeps its declared type (got $got)"; fi
fi

# ---- 3. errors -------------------------------------------------------------
run_error() {
    pipeline "err_$1" "$2" parquet ndjson
    run_etl run "err_$1.yaml"
}

SRC=out/w0_1/w0_1-0-000001.parquet
head -c 1000 "$SRC" >truncated.parquet
run_error truncated truncated.parquet
fails_with "a truncated file is refused naming the file" "truncated.parquet.*(PAR1|footer)"

printf 'id,name\n1,not parquet\n' >text.parquet
run_error text text.parquet
fails_with "a file that is not Parquet is refused" "text.parquet.*not a Parquet file"

: >empty.parquet
run_error empty empty.parquet
fails_with "an empty file is refused" "empty.parquet.*not a Parquet file"

# Damaged bytes inside the pages: an error or other values, never a crash.
size=$(stat -c %s "$SRC")
crashes=0; errors=0
for k in 1 2 3 4 5 6 7 8 9 10 11 12; do
    cp "$SRC" damaged.parquet
    offset=$((4 + (size - 200) * k / 13))
    printf '\377\000\377\000\377\000\377\000' | dd of=damaged.parquet bs=1 seek="$offset" conv=notrunc status=none
    run_error "damaged$k" damaged.parquet
    [ "$RUN_STATUS" -ge 128 ] && crashes=$((crashes + 1))
    [ "$RUN_STATUS" -ne 0 ] && grep -q "damaged.parquet" "$TAP_TMP/stderr" && errors=$((errors + 1))
done
if [ "$crashes" -eq 0 ]; then ok "damaged pages never crash the reader ($errors of 12 refused)"; else
    not_ok "damaged pages never crash the reader ($crashes crashes)"; fi

# A damaged footer length.
cp "$SRC" badfooter.parquet
printf '\377\377\377\177' | dd of=badfooter.parquet bs=1 seek=$((size - 8)) conv=notrunc status=none
run_error badfooter badfooter.parquet
fails_with "a footer length beyond the file is refused" "badfooter.parquet.*footer"

if [ "$have_duckdb" -eq 1 ]; then
    run_error gzip gzip.parquet
    fails_with "GZIP pages are refused as not supported" "gzip.parquet.*column 'id'.*GZIP.*not supported"
    run_error v2 v2.parquet
    fails_with "DELTA encodings are refused as not supported" "v2.parquet.*column '[a-z_0-9]+'.*DELTA_BINARY_PACKED.*not supported"
    run_error map map.parquet
    fails_with "MAP columns are refused as not supported" "map.parquet.*column 'm'.*MAP.*not supported"
else
    skip "GZIP: no DuckDB"; skip "DELTA: no DuckDB"; skip "MAP: no DuckDB"
fi

done_testing
