#!/bin/bash
# Time budgets (docs/checkpoints.md): chains of invocations with random
# budgets of 1 to 5 s over a slowed source. No invocation may overrun its
# budget (wall time measured around the process, from before exec to after
# exit), every chain completes, and the output holds exactly the records of
# a clean run. Also --until-done, and the continuation token.
. "$ETL_SRCDIR/tests/lib/tap.sh"
tap_tmpdir
cd "$TAP_TMP" || exit 1

# Several chains run side by side (each has its own pipeline, input, state
# and output), so that 50 invocations of 1-5 s take well under a minute.
CHAINS=5
PER_CHAIN=10              # budgets drawn per chain; the chain needs a few more
RATE=1000                 # records per second of the slowed source
if [ -n "$ETL_SANITIZED" ] || ldd "$ETL_BIN" 2>/dev/null | grep -q asan; then
    # Under the sanitizers the runs are mostly asleep in the throttle too, so
    # the full count is kept; ETL_DEADLINE_CHAINS can scale it down.
    diag "sanitizer build: keeping $CHAINS chains of >= $PER_CHAIN invocations"
fi
CHAINS=${ETL_DEADLINE_CHAINS:-$CHAINS}
diag "$CHAINS chains of >= $PER_CHAIN invocations with budgets of 1-5 s"

now_us() { local t=${EPOCHREALTIME/./}; echo $((10#$t)); }

# json_check FILE: every line is a JSON object with done (bool), state_key
# (string) and commit_sequence (number).
json_check() {
    if command -v jq >/dev/null; then
        jq -e 'type == "object" and (.done | type) == "boolean" and
               (.state_key | type) == "string" and (.commit_sequence | type) == "number"' \
            "$1" >/dev/null 2>&1
    else
        python3 -c 'import json,sys
for line in open(sys.argv[1]):
    t = json.loads(line)
    assert isinstance(t["done"], bool) and isinstance(t["state_key"], str)
    assert isinstance(t["commit_sequence"], int)' "$1" 2>/dev/null
    fi
}
json_done() { grep -q '"done":true' "$1"; }

# make_chain DIR RECORDS: a pipeline over RECORDS records in DIR.
make_chain() {
    mkdir -p "$1"
    awk -v n="$2" -v c="$1" 'BEGIN { for (i = 1; i <= n; i++)
        printf "{\"id\":%d,\"chain\":\"%s\",\"v\":%d.5,\"ok\":%s,\"s\":\"r%d\"}\n",
               i, c, i, (i % 2 ? "true" : "false"), i }' >"$1/in.ndjson"
    cat >"$1/p.yaml" <<EOF
pipeline: deadline-$1
source: {type: file, path: in.ndjson, format: ndjson}
sink: {type: file, path: out, format: ndjson}
batch: {records: 50}
throttle: {records_per_second: $RATE}
checkpoint: {every: 500 records, store: {type: file, path: state}}
EOF
    # The clean run, unthrottled: the reference records.
    sed '/^throttle:/d; s/^pipeline: .*/pipeline: clean/' "$1/p.yaml" >"$1/clean.yaml"
    sed -i 's/path: out,/path: clean-out,/; s/path: state}/path: clean-state}/' "$1/clean.yaml"
    (cd "$1" && "$ETL_BIN" -q run clean.yaml >/dev/null 2>&1)
}

# run_chain DIR BUDGETS...: invokes until done; one line per invocation in
# DIR/log: budget_ms elapsed_us status. Tokens go to DIR/tokens.
run_chain() {
    local dir=$1 n=0 budget start end status
    shift
    cd "$dir" || return
    : >log
    : >tokens
    while [ $n -lt 200 ]; do
        n=$((n + 1))
        if [ $# -gt 0 ]; then budget=$1; shift; else budget=$((1000 + RANDOM % 4001)); fi
        start=$(now_us)
        "$ETL_BIN" -q run p.yaml --time-budget "${budget}ms" >token 2>>stderr
        status=$?
        end=$(now_us)
        cat token >>tokens
        echo "$budget $((end - start)) $status" >>log
        [ $status -eq 75 ] || break
    done
}

records_of() { # DIR/OUT: the records of a run, in commit order
    find "$1" -maxdepth 1 -type f -name '*.ndjson' | sort | xargs cat
}

pids=()
for c in $(seq 1 "$CHAINS"); do
    budgets=() total=0
    for _ in $(seq 1 $PER_CHAIN); do
        b=$((1000 + RANDOM % 4001))
        budgets+=("$b")
        total=$((total + b))
    done
    # As many records as the source delivers in the sum of the budgets: the
    # chain needs all of them and then some (each run loses its start, its
    # margin and its last commit).
    make_chain "c$c" $((total * RATE / 1000))
    run_chain "c$c" "${budgets[@]}" &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done

invocations=0 overruns=0 closest=999999999 closest_budget=0 chains_done=0 exact=0 final_tokens=0
for c in $(seq 1 "$CHAINS"); do
    dir=c$c
    n=$(wc -l <"$dir/log")
    invocations=$((invocations + n))
    while read -r budget elapsed status; do
        margin=$((budget * 1000 - elapsed))
        if [ $margin -lt 0 ]; then
            overruns=$((overruns + 1))
            diag "$dir: budget ${budget} ms, took $((elapsed / 1000)) ms (exit $status): OVERRUN"
        fi
        if [ $margin -lt $closest ]; then closest=$margin; closest_budget=$budget; fi
    done <"$dir/log"
    last=$(tail -1 "$dir/log")
    suspended=$(grep -c ' 75$' "$dir/log")
    if [ "${last##* }" = 0 ] && [ "$suspended" -eq $((n - 1)) ] && json_check "$dir/tokens" &&
        [ "$(grep -c '"done":false' "$dir/tokens")" -eq $((n - 1)) ]; then
        chains_done=$((chains_done + 1))
    else
        diag "$dir: the chain did not end as expected (last: $last)"
        tail -5 "$dir/stderr" | sed 's/^/#   /'
    fi
    if [ "$(wc -l <"$dir/tokens")" -eq "$n" ] && tail -1 "$dir/tokens" | grep -q '"done":true'; then
        final_tokens=$((final_tokens + 1))
    fi
    if [ -s "$dir/clean-out/$(ls "$dir/clean-out" | head -1)" ] &&
        cmp -s <(records_of "$dir/out") <(records_of "$dir/clean-out"); then
        exact=$((exact + 1))
    else
        diag "$dir: the chain's records differ from the clean run's:"
        diff <(records_of "$dir/out") <(records_of "$dir/clean-out") | head -6 | sed 's/^/#   /'
    fi
    diag "$dir: $n invocations ($suspended suspended), $(wc -l <"$dir/in.ndjson") records"
done
diag "closest deadline margin: $((closest / 1000)) ms (budget $closest_budget ms), over $invocations invocations"

if [ $invocations -ge $((CHAINS * PER_CHAIN)) ]; then
    ok "$invocations invocations with random budgets of 1-5 s"
else
    not_ok "only $invocations invocations (wanted >= $((CHAINS * PER_CHAIN)))"
fi
if [ $overruns -eq 0 ] && [ $invocations -gt 0 ]; then
    ok "no invocation overran its budget (closest margin $((closest / 1000)) ms)"
else
    not_ok "$overruns of $invocations invocations overran their budget"
fi
if [ $chains_done -eq "$CHAINS" ]; then
    ok "every chain completes: exit 75 with a done:false token each time, then exit 0"
else
    not_ok "$chains_done of $CHAINS chains completed as expected"
fi
if [ $final_tokens -eq "$CHAINS" ]; then
    ok "the last invocation of every chain prints a done:true token"
else
    not_ok "the last invocation printed a done:true token in $final_tokens of $CHAINS chains"
fi
if [ $exact -eq "$CHAINS" ]; then
    ok "every chain's output holds exactly the clean run's records, in order"
else
    not_ok "$exact of $CHAINS chains wrote exactly the clean run's records"
fi
if cmp -s <(records_of c1/out) c1/in.ndjson; then ok "the records equal the input lines"; else
    not_ok "the records differ from the input lines"
fi
# Budget stops commit mid-cadence: the chain has more (smaller) files.
if [ "$(ls c1/out | wc -l)" -gt "$(ls c1/clean-out | wc -l)" ]; then
    ok "budget stops commit between cadence points ($(ls c1/out | wc -l) files, clean run $(ls c1/clean-out | wc -l))"
else
    not_ok "the chain wrote no more files than the clean run"
fi

# ---- the continuation token
make_chain tok 3000
cd tok || exit 1
"$ETL_BIN" -q run p.yaml --time-budget 1s >"$TAP_TMP/stdout" 2>"$TAP_TMP/stderr"
RUN_STATUS=$?
expect_status "a budget stop exits 75 (suspended)" 75
if [ "$(wc -l <"$TAP_TMP/stdout")" -eq 1 ] && json_check "$TAP_TMP/stdout" &&
    grep -q '"done":false' "$TAP_TMP/stdout" && grep -q '"state_key":"deadline-tok/0"' "$TAP_TMP/stdout"; then
    ok "the token is one line of JSON with done:false, state_key, commit_sequence"
else
    not_ok "the token: $(head -c 300 "$TAP_TMP/stdout")"
fi
seq_token=$(sed 's/.*"commit_sequence":\([0-9]*\).*/\1/' "$TAP_TMP/stdout")
seq_state=$("$ETL_BIN" -q state show p.yaml 2>/dev/null | sed -n 's/.*"commit_sequence":[[:space:]]*\([0-9]*\).*/\1/p' | head -1)
if [ -n "$seq_token" ] && [ "$seq_token" = "$seq_state" ]; then
    ok "the token's commit_sequence ($seq_token) is the state's"
else
    not_ok "token commit_sequence '$seq_token', state '$seq_state'"
fi

# ---- --until-done chains slices in one process
start=$(now_us)
"$ETL_BIN" -q run p.yaml --time-budget 1s --until-done >"$TAP_TMP/stdout" 2>"$TAP_TMP/stderr"
RUN_STATUS=$?
elapsed=$(( ($(now_us) - start) / 1000 ))
expect_status "--until-done exits 0" 0
slices=$(wc -l <"$TAP_TMP/stdout")
if [ "$slices" -ge 2 ] && json_check "$TAP_TMP/stdout" && tail -1 "$TAP_TMP/stdout" | grep -q '"done":true' &&
    [ "$(grep -c '"done":false' "$TAP_TMP/stdout")" -eq $((slices - 1)) ]; then
    ok "--until-done prints a token per slice ($slices in $elapsed ms), the last done:true"
else
    not_ok "--until-done tokens: $(head -c 400 "$TAP_TMP/stdout")"
fi
if cmp -s <(records_of out) <(records_of clean-out); then
    ok "--until-done output holds exactly the clean run's records"
else
    not_ok "--until-done output differs from the clean run"
fi
run_etl -q run p.yaml --time-budget 1s --until-done
expect_status "a finished pipeline with --until-done exits 0" 0
if json_check "$TAP_TMP/stdout" && grep -q '"done":true' "$TAP_TMP/stdout"; then
    ok "and prints a done:true token"
else
    not_ok "a finished pipeline's token: $(head -c 300 "$TAP_TMP/stdout")"
fi
cd "$TAP_TMP" || exit 1

done_testing
