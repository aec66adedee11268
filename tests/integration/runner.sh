#!/usr/bin/env bash
# The runner: retries of retryable failures (logged, capped), per-record sink
# outcomes, throttling, interruption. Uses the scripted test plugin flaky.so.
. "$ETL_SRCDIR/tests/lib/tap.sh"
tap_tmpdir
cd "$TAP_TMP" || exit 1
export ETL_PLUGIN_PATH="$ETL_TEST_BROKEN_DIR"

expected_ns() {  # expected_ns COUNT [EXCEPT_REJECT_EVERY]: sorted n values
    awk -v c="$1" -v r="${2:-0}" 'BEGIN { for (i = 0; i < c; i++) if (r == 0 || i % r != r - 1) print i }'
}
actual_ns() { jq -r .n "$1" | sort -n; }

cat > retry.yaml <<'YAML'
pipeline: retry
source: {type: flaky, count: 1000, fail_every: 3, fail_times: 2}
sink: {type: flaky, path: out.ndjson}
batch: {records: 100}
retry: {max_attempts: 4, base_delay: 1ms, max_delay: 5ms}
YAML
run_etl run retry.yaml
expect_status "a source failing twice on every third read still completes" 0
expect_stderr "each retry is logged with its attempt" "source flaky: warning: read failed, retry 1 of 3 in [0-9]+ ms: scripted 503"
check "every record arrives exactly once despite the failed partial reads" \
    diff <(expected_ns 1000) <(actual_ns out.ndjson)
retries=$(grep -c "retry [0-9] of 3" "$TAP_TMP/stderr")
check "retries happened as scripted (6 of them: 3 reads x 2)" test "$retries" -eq 6

cat > giveup.yaml <<'YAML'
pipeline: giveup
source: {type: flaky, count: 10, fail_forever: true}
sink: {type: flaky, path: never.ndjson}
retry: {max_attempts: 3, base_delay: 1ms, max_delay: 2ms}
YAML
run_etl run giveup.yaml
expect_status "a retryable failure outlasting the retries exits 7" 7
expect_stderr "the last error is reported" "giving up after retries: scripted 503"
check "nothing was committed" test ! -e never.ndjson

cat > outcomes.yaml <<'YAML'
pipeline: outcomes
source: {type: flaky, count: 500}
sink: {type: flaky, path: out2.ndjson, retry_every: 7, reject_every: 50}
batch: {records: 64}
retry: {max_attempts: 3, base_delay: 1ms, max_delay: 2ms}
rejects: rejected.ndjson
YAML
run_etl run outcomes.yaml
expect_status "per-record outcomes: the run completes" 0
check "records refused as retryable are sent again and written once" \
    diff <(expected_ns 500 50) <(actual_ns out2.ndjson)
check "records the sink rejects go to the rejects file (10 of them)" \
    test "$(wc -l < rejected.ndjson)" -eq 10
check "a rejected record carries the sink's reason and the record" \
    jq -e -s 'all(.[]; (.reason | test("scripted rejection")) and (.record | fromjson | .n % 50 == 49))' rejected.ndjson
expect_stderr "the summary counts the rejected records" "490 written, 10 rejected"

cat > noreject.yaml <<'YAML'
pipeline: noreject
source: {type: flaky, count: 100}
sink: {type: flaky, path: out3.ndjson, reject_every: 50}
YAML
run_etl run noreject.yaml
expect_status "without a rejects file a rejected record fails the run with status 5" 5

cat > throttle.yaml <<'YAML'
pipeline: throttled
source: {type: flaky, count: 600}
sink: {type: flaky, path: out4.ndjson}
batch: {records: 50}
throttle: {records_per_second: 1000}
YAML
start=$(date +%s%N)
run_etl run throttle.yaml
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_status "a throttled run completes" 0
diag "600 records at 1000 records/s took $elapsed_ms ms"
check "records_per_second holds the rate (600 records at 1000/s take >= 500 ms)" test "$elapsed_ms" -ge 500
check "... and not much longer than needed (< 3000 ms)" test "$elapsed_ms" -lt 3000

cat > requests.yaml <<'YAML'
pipeline: requests
source: {type: flaky, count: 200}
sink: {type: flaky, path: out5.ndjson}
batch: {records: 10}
throttle: {requests_per_second: 40}
YAML
start=$(date +%s%N)
run_etl run requests.yaml
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_status "a request-throttled run completes" 0
diag "20 reads at 40 requests/s took $elapsed_ms ms"
check "requests_per_second holds the rate (20 reads at 40/s take >= 450 ms)" test "$elapsed_ms" -ge 450

# Interruption: SIGINT mid-run leaves no finished or temporary output.
cat > slow.yaml <<'YAML'
pipeline: slow
source: {type: generate, count: 100000}
sink: {type: file, path: slowout}
batch: {records: 100}
throttle: {records_per_second: 2000}
YAML
unset ETL_PLUGIN_PATH
"$ETL_BIN" run slow.yaml >"$TAP_TMP/stdout" 2>"$TAP_TMP/stderr" &
pid=$!
sleep 0.7
kill -INT "$pid"
wait "$pid"; RUN_STATUS=$?
expect_status "SIGINT stops the run with status 130" 130
check "an interrupted run leaves no output file" sh -c '! ls -A slowout 2>/dev/null | grep -q .'
expect_stderr "the summary says interrupted" "slow interrupted"

done_testing
