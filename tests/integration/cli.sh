#!/usr/bin/env bash
# The command line: help, version, plugins, validate, run, log formats.
. "$ETL_SRCDIR/tests/lib/tap.sh"
tap_tmpdir
cd "$TAP_TMP" || exit 1

run_etl --help
expect_status "--help exits 0" 0
check "--help shows usage and the exit statuses" grep -q "Exit status" "$TAP_TMP/stdout"

run_etl --version
expect_status "--version exits 0" 0
check "--version names the plugin ABI" grep -Eq '^etl [0-9]+\.[0-9]+\.[0-9]+ \(plugin ABI 1\.[0-9]+\)$' "$TAP_TMP/stdout"

run_etl
expect_status "no command is a usage error" 2
run_etl frobnicate
expect_status "an unknown command is a usage error" 2
expect_stderr "the unknown command is named" "unknown command 'frobnicate'"
run_etl run
expect_status "run without a file is a usage error" 2
run_etl --log-format xml run x.yaml
expect_status "a bad --log-format is a usage error" 2

run_etl plugins
expect_status "plugins exits 0" 0
check "plugins lists file.so with its ABI" grep -Eq '^file [^ ]+  \(plugin ABI 1\.[0-9]+' "$TAP_TMP/stdout"
check "plugins lists transform.so" grep -Eq '^transform ' "$TAP_TMP/stdout"
check "plugins lists the file source and sink" grep -Eq 'source +file' "$TAP_TMP/stdout"
check "plugins lists the ndjson format" grep -Eq 'format +ndjson' "$TAP_TMP/stdout"
check "plugins shows the directories searched" grep -q "Plugin directories searched" "$TAP_TMP/stdout"

run_etl plugins --describe file
expect_status "plugins --describe file exits 0" 0
check "describe shows the path option as required" grep -Eq '^  path +[a-z]+ +required' "$TAP_TMP/stdout"
run_etl plugins --describe select
expect_status "plugins --describe of one connector exits 0" 0
check "describe of a connector shows its options" grep -Eq '^  fields ' "$TAP_TMP/stdout"
run_etl plugins --describe nosuch
expect_status "describe of an unknown name exits 4" 4

# A small pipeline, validated then run.
printf '{"id":1,"name":"a"}\n{"id":9223372036854775807,"name":"b"}\n' > in.ndjson
cat > p.yaml <<'YAML'
pipeline: clitest
source: {type: file, path: in.ndjson}
sink: {type: file, path: out, format: ndjson}
YAML
run_etl validate p.yaml
expect_status "validate of a good pipeline exits 0" 0
check "validate says OK" grep -q "p.yaml: OK: pipeline 'clitest'" "$TAP_TMP/stdout"
check "validate writes nothing" test ! -e out/clitest-0-000001.ndjson

run_etl run p.yaml
expect_status "run exits 0" 0
expect_stderr "run prints a summary line" "clitest done: 2 records read, 2 written, 0 rejected"
check "run writes the output file" test -f out/clitest-0-000001.ndjson
check "int64 max survives exactly" grep -q '"id":9223372036854775807' out/clitest-0-000001.ndjson

rm -rf out
run_etl --quiet run p.yaml
expect_status "quiet run exits 0" 0
check "quiet run prints nothing" test ! -s "$TAP_TMP/stderr"

rm -rf out
run_etl --log-format json run p.yaml
expect_status "json-logged run exits 0" 0
check "every log line is a JSON object with level and message" \
    jq -e -s 'length > 0 and all(.[]; has("level") and has("message") and has("time"))' "$TAP_TMP/stderr"

rm -rf out
run_etl run p.yaml --quiet
expect_status "options may follow the command" 0
check "a trailing --quiet is honoured" test ! -s "$TAP_TMP/stderr"

# On a terminal, a progress line is redrawn (records, rate, bytes, ETA).
cat > prog.yaml <<'YAML'
pipeline: prog
source: {type: generate, count: 1500}
sink: {type: file, path: progout}
batch: {records: 100}
throttle: {records_per_second: 3000}
YAML
if command -v script >/dev/null; then
    script -qec "$ETL_BIN run prog.yaml" /dev/null > progress.txt 2>&1
    check "a terminal gets a progress line with records, rate and ETA" \
        grep -Eq '[0-9]+ records  [0-9]+ rec/s  [0-9.]+ [kMG]?B  [0-9:]+  [0-9]+%  ETA' progress.txt
    rm -rf progout
    "$ETL_BIN" run prog.yaml 2> noterm.txt
    check "without a terminal there is no progress line, only the summary" \
        sh -c "! grep -q 'rec/s  ' noterm.txt && grep -q 'prog done' noterm.txt"
else
    skip "script(1) is not installed"
    skip "script(1) is not installed"
fi

# The README's quickstart runs from the source tree.
(cd "$ETL_SRCDIR" && ETL_QUICKSTART_OUTPUT="$TAP_TMP/qs" "$ETL_BIN" --quiet run pipelines/quickstart.yaml)
check "the quickstart pipeline runs" test $? -eq 0
check "the quickstart writes records with a dt column" \
    sh -c "jq -e -s 'length > 100 and all(.[]; .dt | test(\"^[0-9]{4}-[0-9]{2}-[0-9]{2}\$\"))' '$TAP_TMP'/qs/quickstart-0-000001.ndjson >/dev/null"

done_testing
