#!/usr/bin/env bash
# Bad input of every kind gets a clear message, a documented exit status,
# and never a crash, a hang or a file that looks finished.
. "$ETL_SRCDIR/tests/lib/tap.sh"
tap_tmpdir
cd "$TAP_TMP" || exit 1
printf '{"id":1}\n{"id":2}\n' > in.ndjson

pipeline() {  # pipeline FILE: writes FILE from stdin
    cat > "$1"
}

printf 'pipeline: x\nsource: {type: file, path: in.ndjson\nsink: {type: file}\n' > broken.yaml
run_etl run broken.yaml
expect_status "malformed YAML exits 3" 3
expect_stderr "malformed YAML error names file:line:col" "broken.yaml:[0-9]+:[0-9]+: "

pipeline typo.yaml <<'YAML'
pipeline: x
source: {type: file, pth: in.ndjson}
sink: {type: file, path: out}
YAML
run_etl run typo.yaml
expect_status "an unknown option exits 3" 3
expect_stderr "an unknown option gets a did-you-mean hint with its position" \
    "typo.yaml:2:[0-9]+: .*'pth'.*did you mean 'path'"

pipeline top.yaml <<'YAML'
pipeline: x
source: {type: file, path: in.ndjson}
sinks: {type: file, path: out}
YAML
run_etl run top.yaml
expect_status "an unknown top-level key exits 3" 3
expect_stderr "the top-level typo gets a hint" "top.yaml:3:1: unknown key 'sinks' \(did you mean 'sink'\?\)"

pipeline conn.yaml <<'YAML'
pipeline: x
source: {type: fiel, path: in.ndjson}
sink: {type: file, path: out}
YAML
run_etl run conn.yaml
expect_status "an unknown connector exits 4" 4
expect_stderr "an unknown connector gets a hint" "conn.yaml:2:[0-9]+: no source connector named 'fiel' \(did you mean 'file'\?\)"

pipeline es.yaml <<'YAML'
pipeline: x
source: {type: cassandra, hosts: [127.0.0.1]}
sink: {type: file, path: out}
YAML
run_etl run es.yaml
expect_status "a connector whose plugin is not installed exits 4" 4
expect_stderr "the message says which connector is missing" "no source connector named 'cassandra'"

pipeline env.yaml <<'YAML'
pipeline: x
source:
  type: file
  path: ${ETL_TEST_SURELY_UNSET_VAR}
sink: {type: file, path: out}
YAML
run_etl run env.yaml
expect_status "an unset variable exits 3" 3
expect_stderr "the unset variable is named with its position" "env.yaml:4:[0-9]+: .*ETL_TEST_SURELY_UNSET_VAR"

pipeline later.yaml <<'YAML'
pipeline: x
source: {type: file, path: in.ndjson}
sink: {type: file, path: out}
catalog: {type: catalog, database: analytics, table: products}
YAML
run_etl run later.yaml
expect_status "a feature of a later version exits 9" 9
expect_stderr "it says not supported" "'catalog' is not supported"

pipeline badval.yaml <<'YAML'
pipeline: x
source: {type: file, path: in.ndjson}
sink: {type: file, path: out}
batch: {records: lots}
YAML
run_etl run badval.yaml
expect_status "a badly typed setting exits 3" 3

run_etl run does-not-exist.yaml
expect_status "a missing pipeline file exits 6" 6
expect_stderr "the missing file is named" "does-not-exist.yaml"

pipeline missing.yaml <<'YAML'
pipeline: x
source: {type: file, path: no-such-input.ndjson}
sink: {type: file, path: out}
YAML
run_etl run missing.yaml
expect_status "a missing input file exits 6 or 3" "$( [ "$RUN_STATUS" = 3 ] && echo 3 || echo 6)"
expect_stderr "the missing input is named" "no-such-input.ndjson"

printf '{"id":1}\n{"id":2,\n{"id":3}\n' > bad.ndjson
pipeline badrec.yaml <<'YAML'
pipeline: badrec
source: {type: file, path: bad.ndjson}
sink: {type: file, path: out-bad}
YAML
run_etl run badrec.yaml
expect_status "a malformed JSON line exits 5" 5
expect_stderr "the malformed line is named file:line" "bad.ndjson:2"
check "a failed run leaves no finished output" sh -c '! ls out-bad/*.ndjson 2>/dev/null | grep -q .'
check "a failed run leaves no temporary file" sh -c '! ls -A out-bad 2>/dev/null | grep -q tmp'

pipeline rejects.yaml <<'YAML'
pipeline: withrejects
source: {type: file, path: bad.ndjson}
sink: {type: file, path: out-rej}
rejects: rejects.ndjson
YAML
run_etl run rejects.yaml
expect_status "with a rejects file the run goes on and exits 0" 0
check "the good records are written" test "$(cat out-rej/*.ndjson | wc -l)" -eq 2
check "the bad line is in the rejects file with its position and reason" \
    jq -e -s 'length == 1 and (.[0].where | test("bad.ndjson:2")) and (.[0].reason | length > 0)' rejects.ndjson

# A full disk: a 64 KiB tmpfs when this machine lets us mount one, else a
# file-size limit (the write fails with EFBIG instead of ENOSPC).
head -c 300000 /dev/zero | tr '\0' 'x' | awk '{for(i=0;i<400;i++) printf "{\"id\":%d,\"pad\":\"%s\"}\n", i, substr($0,1,500)}' > big.ndjson
mkdir -p small
pipeline full.yaml <<'YAML'
pipeline: full
source: {type: file, path: big.ndjson}
sink: {type: file, path: small/out}
YAML
if mount -t tmpfs -o size=64k tmpfs small 2>/dev/null; then
    run_etl run full.yaml
    umount small
    diag "full disk simulated with a 64 KiB tmpfs"
else
    (trap '' XFSZ; ulimit -f 64; "$ETL_BIN" run full.yaml >"$TAP_TMP/stdout" 2>"$TAP_TMP/stderr"); RUN_STATUS=$?
    diag "full disk simulated with ulimit -f"
fi
expect_status "a full disk exits 6" 6
expect_stderr "the full disk error names the file and the reason" "small/out.*(No space left|File too large)"

done_testing
