#!/bin/bash
# `etl lambda` end to end against the Runtime API emulator
# (tests/lambda/runtime_emulator.py), and the emulator's own fidelity to the
# reference emulator (protocols.md 3.1). Every process started here is
# stopped by pid at exit.
. "$ETL_SRCDIR/tests/lib/tap.sh"

if ! command -v python3 >/dev/null || ! command -v curl >/dev/null; then
    echo "1..0 # SKIP python3 and curl are needed for the Runtime API emulator"
    exit 0
fi

tap_tmpdir
cd "$TAP_TMP" || exit 1
EMULATOR="$ETL_SRCDIR/tests/lambda/runtime_emulator.py"
PLUGINS="${ETL_TEST_PLUGIN_DIR:-}"
PIDS=""
cleanup() {
    for pid in $PIDS; do kill "$pid" 2>/dev/null; done
    for pid in $PIDS; do wait "$pid" 2>/dev/null; done
    rm -rf "$TAP_TMP"
}
trap cleanup EXIT

RECORDS=8000
SECRET=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY

# ---------------------------------------------------------------- helpers

# start_emulator NAME ARGS...: sets PORT_<NAME>.
start_emulator() {
    local name=$1; shift
    python3 "$EMULATOR" --port-file "port.$name" "$@" >"emulator.$name.log" 2>&1 &
    PIDS="$PIDS $!"
    eval "EMULATOR_${name}_PID=$!"
    local i=0
    while [ ! -s "port.$name" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    eval "PORT_$name=$(cat "port.$name" 2>/dev/null)"
}

# start_runtime PORT LOG: etl lambda against that emulator, in the background
# (sets RUNTIME_PID); self-invocations go back to the same emulator.
start_runtime() {
    env AWS_LAMBDA_RUNTIME_API="127.0.0.1:$1" LAMBDA_TASK_ROOT="$TAP_TMP" \
        ETL_PLUGIN_PATH="$PLUGINS" ETL_LAMBDA_ENDPOINT="http://127.0.0.1:$1" \
        AWS_REGION=eu-west-3 AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY="$SECRET" \
        AWS_SESSION_TOKEN=session-token AWS_LAMBDA_FUNCTION_NAME=etl-test \
        "$ETL_BIN" lambda 2>"$2" &
    RUNTIME_PID=$!
    PIDS="$PIDS $RUNTIME_PID"
}

# invoke PORT EVENT [TIMEOUT_MS]: a synchronous invocation (RIE's endpoint);
# the answer goes to the file 'answer'. EVENT may be @FILE.
invoke() {
    curl -s --max-time 120 -X POST -H "X-Emulator-Timeout-Ms: ${3:-2000}" \
        --data-binary "$2" "http://127.0.0.1:$1/2015-03-31/functions/function/invocations" \
        >answer
}

# field FILE KEY: one top-level field of a JSON document ('' if absent).
field() {
    python3 -c 'import json,sys
try:
    v = json.load(open(sys.argv[1])).get(sys.argv[2], "")
except Exception:
    v = ""
print(json.dumps(v) if isinstance(v, bool) else v)' "$1" "$2"
}

emulator_log() { curl -s "http://127.0.0.1:$1/_emulator/log" >"$2"; }

# status_of METHOD URL [CURL ARGS...]: prints the HTTP status, body in 'body'.
status_of() {
    local method=$1 url=$2; shift 2
    curl -s -o body -w '%{http_code}' -X "$method" "$@" "$url"
}

# same_records REF OUT: the concatenated records, file after file by name.
same_records() {
    local a b
    a=$(cd "$1" && ls | sort | xargs cat | sha256sum)
    b=$(cd "$2" 2>/dev/null && ls | sort | xargs cat | sha256sum)
    [ "$a" = "$b" ] && [ "$(cd "$2" && ls | sort | xargs cat | wc -l)" -eq $RECORDS ]
}

write_pipeline() { # FILE NAME OUT STATE EXTRA
    cat >"$1" <<EOF
pipeline: $2
source: {type: file, path: $TAP_TMP/in.ndjson, format: ndjson}
sink: {type: file, path: $TAP_TMP/$3, format: ndjson}
checkpoint: {every: 700 records, store: {type: file, path: $TAP_TMP/$4}}
$5
EOF
}

# ---------------------------------------------------------------- data
awk -v n=$RECORDS 'BEGIN {
    for (i = 1; i <= n; i++) {
        name = "item-" i
        if (i % 97 == 0) name = name " \\\"quoted\\\" caf\\u00e9"
        amount = i < 4000 ? sprintf("%d", i * 3) : sprintf("%d.5", i * 3)
        printf "{\"id\":%d,\"name\":\"%s\",\"amount\":%s,\"tags\":%s}\n", i, name, amount,
               i % 5 == 0 ? "[\"a\",\"b\"]" : "null"
    }
}' >in.ndjson
SLOW="throttle: {records_per_second: 2500}"
write_pipeline ref.yaml lam ref ref-state ""
write_pipeline sfn.yaml lam sfn-out sfn-state "$SLOW"
write_pipeline self.yaml lam self-out self-state "$SLOW"
write_pipeline cap.yaml capped cap-out cap-state "$SLOW"
run_etl -q --plugin-path "$PLUGINS" run ref.yaml
expect_status "the reference run (etl run) succeeds" 0

# ---------------------------------------------------------------- the command line
env -u AWS_LAMBDA_RUNTIME_API "$ETL_BIN" lambda >"$TAP_TMP/stdout" 2>"$TAP_TMP/stderr"
RUN_STATUS=$?
expect_status "etl lambda without AWS_LAMBDA_RUNTIME_API exits 2" 2
expect_stderr "... and says AWS_LAMBDA_RUNTIME_API is not set" "AWS_LAMBDA_RUNTIME_API is not set"
AWS_LAMBDA_RUNTIME_API="host/with/slashes" run_etl lambda
expect_status "etl lambda with a malformed AWS_LAMBDA_RUNTIME_API exits 2" 2
AWS_LAMBDA_RUNTIME_API=127.0.0.1:9 run_etl lambda extra-argument
expect_status "etl lambda with an argument is a usage error" 2

# ---------------------------------------------------------------- emulator fidelity
start_emulator F --timeout-ms 5000
F="http://127.0.0.1:$PORT_F/2018-06-01/runtime"
if [ -n "$PORT_F" ]; then ok "the emulator starts on a free port ($PORT_F)"; else
    not_ok "the emulator did not start"; cat emulator.F.log | sed 's/^/#   /'
fi

code=$(status_of POST "$F/invocation/no-such-id/response" -d '{}')
if [ "$code" = 403 ] && grep -q '"errorType": "InvalidStateTransition"' body; then
    ok "emulator: a response before /next is 403 InvalidStateTransition"
else not_ok "emulator: a response before /next gave $code $(cat body)"; fi

invoke "$PORT_F" '{"hello":"world"}' 5000 &
SYNC_PID=$!
PIDS="$PIDS $SYNC_PID"
before=$(date +%s%3N)
curl -s --max-time 10 -D next.headers -o next.body "$F/invocation/next"
request_id=$(tr -d '\r' <next.headers | awk -F': ' 'tolower($1) == "lambda-runtime-aws-request-id" {print $2}')
deadline=$(tr -d '\r' <next.headers | awk -F': ' 'tolower($1) == "lambda-runtime-deadline-ms" {print $2}')
if [ -n "$request_id" ] && [ "$(cat next.body)" = '{"hello":"world"}' ] &&
    [ "$deadline" -ge $((before + 4000)) ] && [ "$deadline" -le $((before + 5000 + 2000)) ] &&
    grep -qi '^Lambda-Runtime-Trace-Id: Root=1-' next.headers &&
    grep -qi '^Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:' next.headers; then
    ok "emulator: /next long-polls, then gives the event with id, deadline (now + timeout), trace and ARN"
else
    not_ok "emulator: /next gave id '$request_id', deadline '$deadline' (asked at $before), body $(cat next.body)"
fi

code=$(status_of POST "$F/invocation/not-$request_id/response" -d '{}')
if [ "$code" = 400 ] && grep -q '"errorType": "InvalidRequestID"' body; then
    ok "emulator: a response for an unknown request id is 400 InvalidRequestID"
else not_ok "emulator: unknown request id gave $code $(cat body)"; fi

# 6 MiB + 100 bytes is the largest payload accepted.
head -c $((6 * 1024 * 1024 + 101)) /dev/zero | tr '\0' 'x' >oversize
head -c $((6 * 1024 * 1024 + 100)) oversize >atlimit
code=$(status_of POST "$F/invocation/$request_id/response" --data-binary @oversize)
if [ "$code" = 413 ] && [ "$(cat body)" = '{"errorMessage": "Exceeded maximum allowed payload size (6291556 bytes).", "errorType": "RequestEntityTooLarge"}' ]; then
    ok "emulator: a response of 6 MiB + 101 bytes is 413 RequestEntityTooLarge, with RIE's message"
else not_ok "emulator: an oversize response gave $code $(head -c 300 body)"; fi

code=$(status_of POST "$F/invocation/$request_id/response" --data-binary @atlimit)
if [ "$code" = 202 ] && [ "$(cat body)" = '{"status": "OK"}' ]; then
    ok "emulator: a response of exactly 6 MiB + 100 bytes is accepted (202 {\"status\":\"OK\"})"
else not_ok "emulator: a response at the limit gave $code $(head -c 300 body)"; fi
wait $SYNC_PID
if cmp -s answer atlimit; then ok "emulator: the synchronous caller receives the function's response"; else
    not_ok "emulator: the synchronous caller got $(wc -c <answer) bytes, not the response"
fi

code=$(status_of POST "$F/invocation/$request_id/error" -d '{"errorMessage":"x","errorType":"y"}')
if [ "$code" = 400 ] && grep -q InvalidRequestID body; then
    ok "emulator: a second answer for the same request id is 400 InvalidRequestID"
else not_ok "emulator: a second answer gave $code $(cat body)"; fi

code=$(status_of POST "$F/init/error" -H 'Lambda-Runtime-Function-Error-Type: etl.Test' \
    -d '{"errorMessage":"boom","errorType":"etl.Test"}')
curl -s "http://127.0.0.1:$PORT_F/_emulator/init_errors" >init_errors
if [ "$code" = 202 ] && grep -q '"error_type": "etl.Test"' init_errors; then
    ok "emulator: /init/error is 202 and recorded"
else not_ok "emulator: /init/error gave $code; recorded: $(cat init_errors)"; fi

# No answer by the deadline: RIE's timeout message; a late answer is an overrun.
invoke "$PORT_F" '{"slow":true}' 300 &
SYNC_PID=$!
PIDS="$PIDS $SYNC_PID"
curl -s --max-time 10 -D next.headers -o next.body "$F/invocation/next"
late_id=$(tr -d '\r' <next.headers | awk -F': ' 'tolower($1) == "lambda-runtime-aws-request-id" {print $2}')
wait $SYNC_PID
code=$(status_of POST "$F/invocation/$late_id/response" -d '{"late":true}')
emulator_log "$PORT_F" log.F
late=$(python3 -c 'import json,sys
inv = [i for i in json.load(open(sys.argv[1])) if i["request_id"] == sys.argv[2]][0]
print(inv["outcome"], inv["overran"], inv["margin_ms"] < 0)' log.F "$late_id")
if [ "$(cat answer)" = "Task timed out after 0.30 seconds" ] && [ "$late" = "timeout True True" ]; then
    ok "emulator: no answer by the deadline gives 'Task timed out after 0.30 seconds'; the late answer is logged as an overrun"
else not_ok "emulator: timeout gave '$(cat answer)', log says '$late' (answer $code)"; fi

# A runtime whose init fails reports it to /init/error and exits 1.
env AWS_LAMBDA_RUNTIME_API="127.0.0.1:$PORT_F" LAMBDA_TASK_ROOT="$TAP_TMP/no-such-dir" \
    "$ETL_BIN" lambda >/dev/null 2>init.err
status=$?
curl -s "http://127.0.0.1:$PORT_F/_emulator/init_errors" >init_errors
if [ $status -eq 1 ] && grep -q 'no-such-dir' init_errors && grep -q '"error_type": "etl.Runtime"' init_errors; then
    ok "etl lambda: an init problem goes to /init/error (etl.Runtime), then exit 1"
else not_ok "etl lambda: init problem: exit $status, recorded $(cat init_errors)"; sed 's/^/#   /' init.err; fi

# ---------------------------------------------------------------- etl lambda, one slice per invocation
start_emulator L --timeout-ms 2000 --secret-key "$SECRET" --function-name etl-test
start_runtime "$PORT_L" runtime.log
L_PID=$RUNTIME_PID

invoke "$PORT_L" '{"pipeline":"no-such-pipeline.yaml"}'
if [ "$(field answer errorType)" = etl.Config ] && grep -q 'no-such-pipeline.yaml' answer; then
    ok "a missing pipeline file is an /error with errorType etl.Config, naming the file"
else not_ok "missing pipeline: $(cat answer)"; fi

bad_event() { # DESCRIPTION EVENT PATTERN [TYPE]
    invoke "$PORT_L" "$2"
    if [ "$(field answer errorType)" = "${4:-etl.BadEvent}" ] && grep -Eq -- "$3" answer; then
        ok "$1"
    else not_ok "$1: $(head -c 400 answer)"; fi
}
bad_event "an event that is not JSON is etl.BadEvent" 'not json{' 'not JSON'
bad_event "an event without \"pipeline\" is etl.BadEvent" '{"hop":1}' 'needs \\"pipeline\\"'
bad_event "max_hops above the hard cap (1000) is etl.BadEvent" \
    '{"pipeline":"sfn.yaml","max_hops":5000}' 'from 1 to 1000'
bad_event "a negative hop is etl.BadEvent" '{"pipeline":"sfn.yaml","hop":-1}' '"hop'
bad_event "self_invoke that is not a boolean is etl.BadEvent" \
    '{"pipeline":"sfn.yaml","self_invoke":"yes"}' 'self_invoke'
python3 -c 'import json; print(json.dumps({"pipeline": "sfn.yaml", "pad": "x" * 300000}))' >big.json
bad_event "an event over 256 KiB is etl.BadEvent (state by reference, not by value)" \
    @big.json 'over the limit'
bad_event "a state_key of another pipeline is etl.State" \
    '{"pipeline":"sfn.yaml","state_key":"other/0"}' 'another pipeline' etl.State

emulator_log "$PORT_L" log.L
header_types=$(python3 -c 'import json,sys
print(" ".join(sorted({i["error_type"] or "-" for i in json.load(open(sys.argv[1])) if i["outcome"] == "error"})))' log.L)
if [ "$header_types" = "etl.BadEvent etl.Config etl.State" ]; then
    ok "each /error also carries Lambda-Runtime-Function-Error-Type"
else not_ok "error type headers seen: '$header_types'"; fi

# Too little time to start a slice: answer at once, run nothing.
invoke "$PORT_L" '{"pipeline":"sfn.yaml"}' 250
emulator_log "$PORT_L" log.L
overran=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[-1]["overran"])' log.L)
if [ "$(field answer skipped)" = true ] && [ "$(field answer status)" = suspended ] &&
    [ "$(field answer slice_records)" = 0 ] && [ "$overran" = False ]; then
    ok "a 250 ms invocation (under the 200 ms margin + 100 ms) answers 'suspended' without running, in time"
else not_ok "a 250 ms invocation: $(cat answer), overran $overran"; fi

# ---- the Step Functions loop: invoke, read $.done, feed the answer back
rm -rf sfn-out sfn-state
event='{"pipeline":"sfn.yaml","hop":0}'
n=0 hops_ok=1 statuses=""
while [ $n -lt 40 ]; do
    invoke "$PORT_L" "$event" $((1500 + RANDOM % 1501))
    [ "$(field answer hop)" = $n ] || hops_ok=0
    statuses="$statuses $(field answer status)"
    n=$((n + 1))
    [ "$(field answer done)" = true ] && break
    [ -n "$(field answer errorType)" ] && break
    # The answer is the next event, as a Step Functions loop passes it on.
    event=$(python3 -c 'import json,sys
e = json.load(open("answer")); e["hop"] += 1; print(json.dumps(e))')
done
diag "Step Functions loop: $n invocations:$statuses"
if [ "$(field answer done)" = true ] && [ $n -ge 2 ] && [ $hops_ok = 1 ]; then
    ok "Step Functions-style loop: $n invocations of 1.5-3 s, suspended, suspended, ..., done"
else not_ok "Step Functions-style loop: after $n invocations: $(cat answer)"; fi
if [ "$(field answer records_written)" = $RECORDS ] && [ "$(field answer state_key)" = lam/0 ] &&
    [ "$(field answer pipeline)" = sfn.yaml ]; then
    ok "the last answer reports records_written $RECORDS, state_key lam/0 and the pipeline"
else not_ok "the last answer: $(cat answer)"; fi
if same_records ref sfn-out; then ok "the sliced output equals the clean run's, record for record"; else
    not_ok "the sliced output differs from the clean run's"
fi

# ---- self-invoke: the chain runs on its own through the Invoke API
rm -rf self-out self-state
curl -s -X POST -d '{"throttle_invokes":1}' "http://127.0.0.1:$PORT_L/_emulator/config" >/dev/null
invoke "$PORT_L" '{"pipeline":"self.yaml","self_invoke":true}'
first_status=$(field answer status)
chain_done() {
    emulator_log "$PORT_L" log.L
    python3 -c 'import json,sys
log = [i for i in json.load(open(sys.argv[1])) if "self.yaml" in i["event"]]
sys.exit(0 if any(i["outcome"] != "running" and "\"done\":true" in (i["body"] or "") for i in log) else 1)' log.L
}
i=0
while ! chain_done && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
chain=$(python3 -c 'import json,sys
log = [i for i in json.load(open(sys.argv[1])) if "self.yaml" in i["event"]]
hops = [json.loads(i["event"]).get("hop", 0) for i in log]
auth = {i.get("authorization") for i in log if i["invocation_type"] == "Event"}
token = all(i.get("security_token") for i in log if i["invocation_type"] == "Event")
print(" ".join(map(str, hops)), "|", ",".join(sorted(map(str, auth))), "|", token)' log.L)
diag "self-invoke chain: hops | authorization | session token: $chain"
hops=${chain%% |*}
expected=$(seq -s ' ' 0 $(($(echo "$hops" | wc -w) - 1)))
if [ "$first_status" = suspended ] && [ "$hops" = "$expected" ] && [ "$(echo "$hops" | wc -w)" -ge 3 ]; then
    ok "self-invoke: the chain ran hop 0, 1, 2, ... each once, up to done"
else not_ok "self-invoke: first answer '$first_status', hops '$hops'"; fi
if [ "${chain#* | }" = "valid | True" ]; then
    ok "self-invoke: every Invoke call was SigV4-signed (signature verified) with the session token"
else not_ok "self-invoke: authorization '${chain#* | }'"; fi
if grep -q 'self-invoke attempt 1 of 4: the Invoke API answered 429' runtime.log; then
    ok "self-invoke: a 429 TooManyRequests is retried"
else not_ok "self-invoke: no trace of the 429 retry in the runtime's log"; fi
if same_records ref self-out; then ok "self-invoke: the output equals the clean run's"; else
    not_ok "self-invoke: the output differs from the clean run's"
fi

# ---- the hop cap stops a chain
rm -rf cap-out cap-state
invoke "$PORT_L" '{"pipeline":"cap.yaml","self_invoke":true,"max_hops":3}'
cap_state() {
    emulator_log "$PORT_L" log.L
    python3 -c 'import json,sys
log = [i for i in json.load(open(sys.argv[1])) if "cap.yaml" in i["event"]]
print(len(log), " ".join(json.loads(i["body"] or "{}").get("status", i["outcome"]) for i in log))' log.L
}
i=0
while ! cap_state | grep -q hop_limit && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
sleep 1.5 # a fourth hop, if any, would be queued by now
if [ "$(cap_state)" = "3 suspended suspended hop_limit" ] && grep -q 'max_hops 3' runtime.log; then
    ok "max_hops 3: hops 0, 1, 2 run, the last answers status hop_limit, and nothing more is invoked"
else not_ok "max_hops 3: $(cap_state)"; fi
invoke "$PORT_L" '{"pipeline":"cap.yaml","self_invoke":true,"max_hops":3,"hop":7}'
sleep 0.5
if [ "$(field answer status)" = hop_limit ] && [ "$(field answer done)" = false ] &&
    [ "$(cap_state | cut -d' ' -f1)" = 4 ]; then
    ok "an event already past max_hops answers hop_limit without running or invoking"
else not_ok "an event past max_hops: $(cat answer); $(cap_state)"; fi

# ---- deadlines, over everything etl lambda answered
emulator_log "$PORT_L" log.L
summary=$(python3 -c 'import json,sys
log = [i for i in json.load(open(sys.argv[1])) if i["outcome"] in ("response", "error", "timeout")]
over = [i for i in log if i["overran"]]
print(len(log), len(over), min(i["margin_ms"] for i in log if i["margin_ms"] is not None))' log.L)
set -- $summary
diag "$1 invocations answered, $2 overran; closest margin to a deadline: $3 ms"
if [ "$1" -ge 10 ] && [ "$2" -eq 0 ] && [ "$3" -gt 0 ]; then
    ok "no invocation overran its deadline ($1 invocations, closest margin $3 ms)"
else not_ok "deadlines: $2 of $1 invocations overran (closest margin $3 ms)"; fi
if grep -q 'keeps its state in the local file store' runtime.log; then
    ok "a warning says the local file store is not durable in Lambda"
else not_ok "no warning about the file state store"; fi

# ---- SIGTERM while waiting on /next ends the runtime
kill -TERM "$L_PID"
i=0
while kill -0 "$L_PID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if ! kill -0 "$L_PID" 2>/dev/null; then ok "SIGTERM ends an idle etl lambda"; else
    not_ok "etl lambda still runs 5 s after SIGTERM"
fi
if grep -Eq 'AddressSanitizer|runtime error:|LeakSanitizer' runtime.log; then
    not_ok "the runtime's log shows a sanitizer report"; grep -E -A5 'Sanitizer|runtime error' runtime.log | head -30 | sed 's/^/#   /'
else ok "no sanitizer report in the runtime's log"; fi

# ---- the deployment zip (deploy/package-lambda.sh) serves an invocation
mkdir -p pkg-pipelines
write_pipeline pkg-pipelines/pkg.yaml lam pkg-out pkg-state ""
if "$ETL_SRCDIR/deploy/package-lambda.sh" --build "$ETL_BUILDDIR" --pipelines pkg-pipelines \
    --allow-sanitizers -o function.zip >package.log 2>&1; then
    ok "deploy/package-lambda.sh builds the zip"
else not_ok "deploy/package-lambda.sh failed"; sed 's/^/#   /' package.log | head -20; fi
mkdir -p pkgroot
if command -v unzip >/dev/null; then unzip -q function.zip -d pkgroot; else
    python3 -m zipfile -e function.zip pkgroot && chmod +x pkgroot/bootstrap pkgroot/bin/etl
fi
if [ -x pkgroot/bootstrap ] && [ -x pkgroot/bin/etl ] && [ -f pkgroot/lib/etl/plugins/file.so ] &&
    [ -f pkgroot/pipelines/pkg.yaml ] && [ -n "$(ls pkgroot/lib | grep -v '^etl$')" ] &&
    ! ls pkgroot/lib | grep -Eq '^(libc\.so|libm\.so|ld-linux)'; then
    ok "the zip holds bootstrap, bin/etl, the plugins, the libraries (not glibc) and pipelines/"
else not_ok "the zip holds: $(cd pkgroot && find . -type f | sort | tr '\n' ' ')"; fi
start_emulator P --timeout-ms 60000
env -u ETL_PLUGIN_PATH -u LD_LIBRARY_PATH AWS_LAMBDA_RUNTIME_API="127.0.0.1:$PORT_P" \
    LAMBDA_TASK_ROOT="$TAP_TMP/pkgroot" pkgroot/bootstrap 2>bootstrap.log &
PIDS="$PIDS $!"
invoke "$PORT_P" '{"pipeline":"pipelines/pkg.yaml"}' 60000
if [ "$(field answer done)" = true ] && same_records ref pkg-out; then
    ok "the unpacked zip's bootstrap runs a pipeline named by the event, output exact"
else not_ok "bootstrap: $(head -c 400 answer)"; sed 's/^/#   /' bootstrap.log | head -10; fi

# ---- the Runtime API goes away: etl lambda retries a few times, then exits 1
env AWS_LAMBDA_RUNTIME_API="127.0.0.1:$PORT_F" "$ETL_BIN" lambda 2>gone.log &
GONE_PID=$!
PIDS="$PIDS $GONE_PID"
sleep 0.3
[ -n "$EMULATOR_F_PID" ] && kill "$EMULATOR_F_PID"
wait "$GONE_PID"
status=$?
if [ $status -eq 1 ] && grep -q 'Runtime API at .* failed; exiting' gone.log &&
    ! grep -Eq 'Sanitizer|runtime error:' gone.log; then
    ok "when the Runtime API goes away, etl lambda exits 1 (and frees everything: no leak report)"
else not_ok "Runtime API gone: exit $status"; sed 's/^/#   /' gone.log | head -20; fi

done_testing
