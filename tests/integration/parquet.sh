#!/bin/bash
# parquet.so end to end: pipelines write Parquet, DuckDB (@duckdb/node-api)
# reads it back and compares every value with the NDJSON that the same
# pipeline writes, and checks the metadata (codec, statistics, logical
# types) through parquet_metadata() and parquet_schema().
. "$ETL_SRCDIR/tests/lib/tap.sh"
tap_tmpdir

PLUGINS=$ETL_TEST_PLUGIN_DIR
CHECK="$ETL_SRCDIR/tests/parquet/check.mjs"
cd "$TAP_TMP" || exit 1

have_duckdb=0
if command -v node >/dev/null 2>&1 && [ -d "$ETL_SRCDIR/node_modules/@duckdb/node-api" ]; then
    have_duckdb=1
else
    diag "DuckDB checks are skipped: run 'npm ci' in $ETL_SRCDIR (needs node)"
fi

duck() { node "$CHECK" "$@"; }

# compare DESCRIPTION PARQUET NDJSON: DuckDB finds the same rows and values.
compare() {
    if [ "$have_duckdb" -eq 0 ]; then skip "$1: no DuckDB"; return; fi
    local out
    out=$(duck compare "$2" "$3" 2>&1)
    if [ $? -eq 0 ]; then ok "$1 ($out)"; else not_ok "$1"; echo "$out" | sed 's/^/#   /' | head -12; fi
}

# query_is DESCRIPTION SQL EXPECTED: DuckDB's answer, rows as JSON lines, is EXPECTED.
query_is() {
    if [ "$have_duckdb" -eq 0 ]; then skip "$1: no DuckDB"; return; fi
    local got
    got=$(duck query "$2" 2>&1)
    if [ "$got" = "$3" ]; then ok "$1"; else
        not_ok "$1"; diag "  query: $2"; diag "  got:      $got"; diag "  expected: $3"
    fi
}

# pipeline NAME INPUT FORMAT [TRANSFORM]: writes NAME.yaml, output in out/NAME.
pipeline() {
    cat >"$1.yaml" <<YAML
pipeline: $1
plugin_path: $PLUGINS
source: {type: file, path: $2}
transforms:
  - {type: cast, fields: {small: int32, ts: timestamp, day: date, amount: "decimal(12,2)"}}
${4:+  - $4}
sink: {type: file, path: out/$1, format: $3}
YAML
}

node "$ETL_SRCDIR/tests/parquet/make_data.mjs" 3000 >data.ndjson 2>/dev/null ||
    { [ "$have_duckdb" -eq 1 ] && not_ok "test data generated"; }

ETL_PLUGIN_PATH=$PLUGINS run_etl plugins
if grep -Eq "format +parquet" "$TAP_TMP/stdout"; then ok "etl plugins lists the parquet format"; else
    not_ok "etl plugins lists the parquet format"; fi

# ---- the reference: the same pipeline to NDJSON
pipeline ref data.ndjson ndjson
run_etl run ref.yaml
expect_status "reference NDJSON pipeline runs" 0
REF=out/ref/ref-0-000001.ndjson

# ---- round trips under several settings
i=0
while IFS='|' read -r label format; do
    i=$((i + 1))
    pipeline "p$i" data.ndjson "$format"
    run_etl run "p$i.yaml"
    expect_status "$label: pipeline runs" 0
    compare "$label: DuckDB reads every value back" "out/p$i/p$i-0-000001.parquet" "$REF"
done <<'CASES'
defaults (zstd, one row group, dictionary auto)|parquet
several row groups and small pages, dictionary on, snappy|{type: parquet, row_group_rows: 1600, page_size: 1KiB, dictionary: on, compression: snappy}
uncompressed, dictionary off, no statistics|{type: parquet, compression: none, dictionary: off, statistics: false}
zstd level 19, 2 KiB pages, row groups of 2000|{type: parquet, compression_level: 19, page_size: 2KiB, row_group_rows: 2000}
CASES

P1=out/p1/p1-0-000001.parquet
P2=out/p2/p2-0-000001.parquet
P3=out/p3/p3-0-000001.parquet

# ---- metadata
query_is "codec is ZSTD for every column chunk" \
    "select distinct compression from parquet_metadata('$P1')" '{"compression":"ZSTD"}'
query_is "codec is SNAPPY when asked" \
    "select distinct compression from parquet_metadata('$P2')" '{"compression":"SNAPPY"}'
query_is "codec is UNCOMPRESSED when asked" \
    "select distinct compression from parquet_metadata('$P3')" '{"compression":"UNCOMPRESSED"}'
query_is "several row groups (1600 + 1400 rows)" \
    "select row_group_id, row_group_num_rows from parquet_metadata('$P2') where path_in_schema = 'n' order by 1" \
    '{"row_group_id":"0","row_group_num_rows":"1600"}
{"row_group_id":"1","row_group_num_rows":"1400"}'
query_is "statistics of an int64 column: min, max, null count" \
    "select stats_min_value, stats_max_value, stats_null_count from parquet_metadata('$P1') where path_in_schema = 'big'" \
    "$(duck query "select min(big)::varchar as stats_min_value, max(big)::varchar as stats_max_value, count(*) - count(big) as stats_null_count from '$P1'")"
query_is "statistics of a string column are bytewise min/max" \
    "select stats_min_value, stats_max_value from parquet_metadata('$P1') where path_in_schema = 'category'" \
    '{"stats_min_value":"blue","stats_max_value":"red"}'
query_is "statistics are left out when asked" \
    "select count(stats_null_count) from parquet_metadata('$P3')" '{"count(stats_null_count)":"0"}'
query_is "a low-cardinality string column is dictionary-encoded (auto)" \
    "select encodings from parquet_metadata('$P1') where path_in_schema = 'category'" \
    '{"encodings":"PLAIN, RLE_DICTIONARY, RLE"}'
query_is "a unique string column stays PLAIN (auto)" \
    "select encodings from parquet_metadata('$P1') where path_in_schema = 'late'" \
    '{"encodings":"PLAIN, RLE"}'
query_is "logical and physical types" \
    "select name, type, converted_type, logical_type, scale, precision from parquet_schema('$P1') where name in ('ts', 'day', 'amount', 'text', 'small', 'big', 'real', 'flag') order by name" \
    '{"name":"amount","type":"INT64","converted_type":"DECIMAL","logical_type":"DecimalType(scale=2, precision=12)","scale":"2","precision":"12"}
{"name":"big","type":"INT64","converted_type":null,"logical_type":null,"scale":null,"precision":null}
{"name":"day","type":"INT32","converted_type":"DATE","logical_type":"DateType()","scale":null,"precision":null}
{"name":"flag","type":"BOOLEAN","converted_type":null,"logical_type":null,"scale":null,"precision":null}
{"name":"real","type":"DOUBLE","converted_type":null,"logical_type":null,"scale":null,"precision":null}
{"name":"small","type":"INT32","converted_type":null,"logical_type":null,"scale":null,"precision":null}
{"name":"text","type":"BYTE_ARRAY","converted_type":"UTF8","logical_type":"StringType()","scale":null,"precision":null}
{"name":"ts","type":"INT64","converted_type":"TIMESTAMP_MICROS","logical_type":"TimestampType(isAdjustedToUTC=1, unit=TimeUnit(MILLIS=<null>, MICROS=MicroSeconds(), NANOS=<null>))","scale":null,"precision":null}'
query_is "lists use the three-level LIST form" \
    "select path_in_schema from parquet_metadata('$P1') where path_in_schema like 'variants%' order by column_id" \
    '{"path_in_schema":"variants, list, element, sku"}
{"path_in_schema":"variants, list, element, stock"}
{"path_in_schema":"variants, list, element, sizes, list, element"}'
query_is "nullable columns are OPTIONAL, the list's group is REPEATED" \
    "select distinct name, repetition_type from parquet_schema('$P1') where name in ('tags', 'list', 'n') order by name" \
    '{"name":"list","repetition_type":"REPEATED"}
{"name":"n","repetition_type":"OPTIONAL"}
{"name":"tags","repetition_type":"OPTIONAL"}'
query_is "created_by and the writer's schema in the key/value metadata" \
    "select (select created_by like 'etl version % (build %)' from parquet_file_metadata('$P1')) as created_by, decode(key) as key, decode(value) like '{\"fields\":[{\"name\":\"n\",\"type\":\"int64\"%' as schema from parquet_kv_metadata('$P1') where decode(key) = 'etl.schema'" \
    '{"created_by":true,"key":"etl.schema","schema":true}'
query_is "a column that appears late reads null before" \
    "select count(*) filter (where late is not null and n < 1500), count(*) filter (where late is not null) > 0 from '$P1'" \
    '{"count_star() FILTER (WHERE ((late IS NOT NULL) AND (n < 1500)))":"0","(count_star() FILTER (WHERE (late IS NOT NULL)) > 0)":true}'
query_is "a column null at first gets its type later (int64)" \
    "select type from parquet_schema('$P1') where name = 'sparse'" '{"type":"INT64"}'

# ---- the check itself can fail
sed '7s/"n":6,/"n":60000,/' "$REF" >changed.ndjson
if [ "$have_duckdb" -eq 1 ]; then
    if duck compare "$P1" changed.ndjson >/dev/null 2>&1; then not_ok "a changed value is detected"; else ok "a changed value is detected"; fi
else
    skip "a changed value is detected: no DuckDB"
fi

# ---- one row, zero rows
head -n 1 data.ndjson >one.ndjson
pipeline one one.ndjson parquet
run_etl run one.yaml
expect_status "one row: pipeline runs" 0
pipeline oneref one.ndjson ndjson
run_etl run oneref.yaml
compare "one row: DuckDB reads it back" out/one/one-0-000001.parquet out/oneref/oneref-0-000001.ndjson

: >empty.ndjson
pipeline empty empty.ndjson parquet
run_etl run empty.yaml
expect_status "zero rows: pipeline runs" 0
if ls out/empty/*.parquet >/dev/null 2>&1; then not_ok "zero rows: no file is written"; else ok "zero rows: no file is written"; fi

# ---- the schema is fixed once a row group is in the file
pipeline frozen data.ndjson "{type: parquet, row_group_rows: 100}" "{type: drop, fields: [sparse]}"
run_etl run frozen.yaml
if [ "$RUN_STATUS" -ne 0 ]; then ok "a column after the first row group fails the run"; else not_ok "a column after the first row group fails the run"; fi
expect_stderr "the error names the column, the row and what to do" \
    "column 'late' first appears in the batch that starts at row 1000, after the first row group was written.*row_group_rows"
if ls out/frozen/*.parquet >/dev/null 2>&1; then not_ok "no finished file is left behind"; else ok "no finished file is left behind"; fi
pipeline typed data.ndjson "{type: parquet, row_group_rows: 100}" "{type: drop, fields: [late], ignore_missing: true}"
run_etl run typed.yaml
expect_stderr "a column typed after the first row group is refused too" \
    "column 'sparse' held only nulls in the first row group .* at row 1000"

# ---- generated products, rolled into several files by size
cat >gen.yaml <<YAML
pipeline: gen
plugin_path: $PLUGINS
source: {type: generate, count: 20000, seed: 3, description_bytes: 300}
sink: {type: file, path: out/gen, roll_size: 1MB, format: {type: parquet, row_group_rows: 5000}}
YAML
sed 's/^pipeline: gen/pipeline: genref/; s#out/gen#out/genref#; s/format: {.*}}/format: ndjson}/; s/roll_size: 1MB, //' gen.yaml >genref.yaml
run_etl run gen.yaml
expect_status "generated products: pipeline runs" 0
run_etl run genref.yaml
parts=$(ls out/gen/*.parquet 2>/dev/null | wc -l)
if [ "$parts" -ge 2 ]; then ok "files roll by size ($parts parts)"; else not_ok "files roll by size ($parts parts)"; fi
compare "generated products: every value in the rolled files" "out/gen/*.parquet" out/genref/genref-0-000001.ndjson

# ---- the writer's own batches: float, binary, NaN and infinities, int32
# extremes, required columns, zero rows (written by the unit test program)
WRITER_TEST="$ETL_BUILDDIR/tests/unit/test_parquet_levels"
if [ -x "$WRITER_TEST" ]; then
    mkdir -p hand
    if PQ_TEST_OUT="$TAP_TMP/hand" "$WRITER_TEST" >hand.log 2>&1; then ok "hand-built batches are written"; else
        not_ok "hand-built batches are written"; sed 's/^/#   /' hand.log | head -20
    fi
    query_is "float, double, NaN and infinities read back" \
        "select f::varchar f, g::varchar g from 'hand/special.parquet' order by k" \
        '{"f":"1.5","g":"nan"}
{"f":"-inf","g":"inf"}
{"f":"nan","g":"-inf"}
{"f":null,"g":"-0.0"}
{"f":"3.4028235e+38","g":"1.7976931348623157e+308"}'
    query_is "int32 extremes, binary and required columns read back" \
        "select i, hex(z) z, r from 'hand/special.parquet' order by k" \
        '{"i":-2147483648,"z":"00FF","r":"0"}
{"i":2147483647,"z":"","r":"1"}
{"i":null,"z":null,"r":"2"}
{"i":0,"z":"DEADBEEF","r":"3"}
{"i":1,"z":"41","r":"4"}'
    query_is "float statistics skip NaN (the max is the largest number)" \
        "select stats_max_value from parquet_metadata('hand/special.parquet') where path_in_schema = 'f'" \
        '{"stats_max_value":"3.4028235e+38"}'
    query_is "a required column is REQUIRED" \
        "select repetition_type from parquet_schema('hand/special.parquet') where name = 'r'" \
        '{"repetition_type":"REQUIRED"}'
    query_is "a file of zero rows has its schema and no rows" \
        "select count(*) from 'hand/empty.parquet'" '{"count_star()":"0"}'
    query_is "a zero-row file keeps its columns" \
        "select count(*) from parquet_schema('hand/empty.parquet') where name in ('k', 'f')" '{"count_star()":"2"}'
else
    skip "hand-built batches: $WRITER_TEST was not built (needs Check)"
fi

done_testing
