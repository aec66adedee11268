#!/bin/bash
# Crash consistency of the commit protocol (docs/checkpoints.md): a
# file-to-file run killed at every checkpoint boundary (ETL_FAULT) and at
# random instants (SIGKILL from outside), resumed each time, must leave an
# output directory byte-for-byte equal to that of a clean run.
. "$ETL_SRCDIR/tests/lib/tap.sh"
tap_tmpdir
cd "$TAP_TMP" || exit 1

RECORDS=20000
EVERY=1500
RANDOM_KILLS=30
# Under the sanitizers every run is slower; the throttle sets the pace of the
# random-kill part, so only the safety cap on resumes changes.
MAX_RESUMES=60

# The input: types that change mid-stream (amount widens from int to double
# at record 7000 and has integers again later, maybe is null for the first
# 3000 records), fields that
# appear late (late, later), nulls, escapes and integers beyond 2^53, so that
# a resumed run writes the same bytes only if the schema snapshot is right.
awk -v n=$RECORDS 'BEGIN {
    for (i = 1; i <= n; i++) {
        # int, then mixed from 7000 (the column widens), then ints again from
        # 9000: a clean run writes those as 27000.0, a resume without the
        # schema snapshot would write 27000.
        amount = (i >= 7000 && i < 9000 && i % 2) ? sprintf("%d.25", i * 3) : sprintf("%d", i * 3)
        flag = i % 3 == 0 ? "true" : (i % 3 == 1 ? "false" : "null")
        name = "item-" i
        if (i % 97 == 0) name = name " \\\"quoted\\\"\\ttab caf\\u00e9"
        maybe = i <= 3000 ? "null" : "\"s" i "\""
        tags = i % 5 == 0 ? "[\"a\",\"b\"]" : (i % 5 == 1 ? "[]" : "null")
        big = i % 1000 == 0 ? "9007199254740993" : i
        line = "{\"id\":" i ",\"name\":\"" name "\",\"amount\":" amount ",\"flag\":" flag \
               ",\"maybe\":" maybe ",\"tags\":" tags ",\"big\":" big \
               ",\"nested\":{\"x\":" (i % 7) ",\"y\":" (i % 4 == 0 ? "null" : "\"y" i "\"") "}"
        if (i > 15000) line = line ",\"late\":\"v" i "\""
        if (i > 18000 && i % 2 == 0) line = line ",\"later\":" (i / 2)
        print line "}"
    }
}' >in.ndjson

write_pipeline() { # FILE EXTRA-LINE
    cat >"$1" <<EOF
pipeline: crash
source: {type: file, path: in.ndjson, format: ndjson}
sink: {type: file, path: out, format: ndjson}
checkpoint: {every: $EVERY records, store: {type: file, path: state}}
$2
EOF
}
write_pipeline p.yaml ""
# The same pipeline with a slowed source (about 1.3 s for the whole input).
write_pipeline slow.yaml "throttle: {records_per_second: 15000}"

fresh() { rm -rf out state; }

# json_get FILTER FILE: one field of a JSON document (jq, else python3).
json_get() {
    if command -v jq >/dev/null; then jq -r "$1" "$2" 2>/dev/null; else
        python3 -c 'import json,sys
v=json.load(open(sys.argv[2]))
for k in sys.argv[1].strip(".").split("."): v=v[k]
print(v)' "$1" "$2" 2>/dev/null
    fi
}

# same_as_reference LABEL: out/ holds exactly the files of ref/ (names
# included, hidden temporary files included), byte for byte.
same_as_reference() {
    local names_ref names_out
    names_ref=$(cd ref && ls -A | sort)
    names_out=$(cd out 2>/dev/null && ls -A | sort)
    if [ "$names_ref" != "$names_out" ]; then
        diag "$1: file names differ:"
        diff <(echo "$names_ref") <(echo "$names_out") | sed 's/^/#   /' | head -10
        return 1
    fi
    if ! diff -r ref out >"$TAP_TMP/diff" 2>&1; then
        diag "$1: contents differ:"
        head -c 2000 "$TAP_TMP/diff" | sed 's/^/#   /'
        return 1
    fi
    return 0
}

# resume_until_done PIPELINE: runs without a fault until the run succeeds.
resume_until_done() {
    local n=0 status
    while [ $n -lt $MAX_RESUMES ]; do
        "$ETL_BIN" -q run "$1" >/dev/null 2>>"$TAP_TMP/resume.err"
        status=$?
        [ $status -eq 0 ] && return 0
        n=$((n + 1))
        diag "resume of $1 exited $status:"
        tail -3 "$TAP_TMP/resume.err" | sed 's/^/#   /'
    done
    return 1
}

# ---- the clean run
fresh
run_etl run p.yaml
expect_status "clean run succeeds" 0
mv out ref
state_seq=$(json_get .current.commit_sequence state/crash~0.state.json)
files=$(ls ref | wc -l)
if [ "$files" -eq $(((RECORDS + EVERY - 1) / EVERY)) ] && [ "$state_seq" -ge "$files" ] 2>/dev/null; then
    ok "clean run wrote $files files, one per checkpoint (final checkpoint $state_seq)"
else
    not_ok "clean run wrote $files files, final checkpoint '$state_seq'"
fi
if [ "$(cat ref/* | wc -l)" -eq $RECORDS ]; then ok "clean run wrote all $RECORDS records"; else
    not_ok "clean run wrote $(cat ref/* | wc -l) records, not $RECORDS"
fi
if grep -q '"amount":3,' ref/crash-0-000001.ndjson && grep -q '"amount":21003.25,' ref/crash-0-000005.ndjson &&
    grep -q '"amount":31503.0,' ref/crash-0-000008.ndjson; then
    ok "the input widens a column mid-stream (the schema snapshot matters)"
else
    not_ok "the input widens a column mid-stream (amount not as expected in ref/)"
fi

# A negative control: the comparison is sharp enough to see a resume that
# forgets the schema snapshot (integers after the widening lose their ".0").
fresh
{ ETL_FAULT=after_state_write:7 "$ETL_BIN" -q run p.yaml >/dev/null 2>&1; } 2>/dev/null
if command -v jq >/dev/null; then
    jq 'del(.current.schema)' state/crash~0.state.json >state/stripped
else
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["current"].pop("schema"); print(json.dumps(d))' \
        state/crash~0.state.json >state/stripped
fi
mv state/stripped state/crash~0.state.json && chmod 600 state/crash~0.state.json
resume_until_done p.yaml
if ! same_as_reference "negative control" >/dev/null && grep -q '"amount":31503,' out/crash-0-000008.ndjson; then
    ok "negative control: a resume without the schema snapshot is caught as different"
else
    not_ok "negative control: a resume without the schema snapshot went unnoticed"
fi

# ---- (a) a fault at every checkpoint and every phase of the commit protocol
for phase in before_sink_commit after_sink_commit after_state_write; do
    failures=0 killed=0 points=0
    for seq in $(seq 1 "$state_seq"); do
        points=$((points + 1))
        fresh
        # The outer redirection keeps bash's "Killed" notice out of the log.
        { ETL_FAULT=$phase:$seq "$ETL_BIN" -q run p.yaml >/dev/null 2>&1; } 2>/dev/null
        status=$?
        if [ $status -eq 137 ]; then
            killed=$((killed + 1))
        else
            diag "$phase:$seq: the faulty run exited $status, not 137 (SIGKILL)"
            failures=$((failures + 1))
            continue
        fi
        if ! resume_until_done p.yaml || ! same_as_reference "$phase:$seq"; then
            failures=$((failures + 1))
        fi
    done
    diag "$phase: $killed of $points runs killed themselves; all resumed"
    if [ $failures -eq 0 ] && [ $killed -eq "$state_seq" ]; then
        ok "$phase at each of the $state_seq checkpoints: killed, resumed, output identical"
    else
        not_ok "$phase: $failures of $points checkpoints differ after the resume"
    fi
done

# A fault without a sequence fires at the first checkpoint of every run:
# after_state_write lets each run move the state one checkpoint ahead, so the
# chain of runs ends after exactly one kill per checkpoint.
fresh
runs=0
while [ $runs -lt $((state_seq + 2)) ]; do
    { ETL_FAULT=after_state_write "$ETL_BIN" -q run p.yaml >/dev/null 2>&1; } 2>/dev/null
    status=$?
    [ $status -eq 137 ] || break
    runs=$((runs + 1))
done
if [ $runs -eq "$state_seq" ] && [ $status -eq 0 ] && same_as_reference "after_state_write every run"; then
    ok "a fault after the first state write of every run: $runs kills, then 'already finished', output identical"
else
    not_ok "a fault after the first state write of every run: $runs kills (wanted $state_seq), last exit $status"
fi

# ---- (b) SIGKILL from outside at random instants
kills=0 rounds=0 round_failures=0
while [ $kills -lt $RANDOM_KILLS ] && [ $rounds -lt 20 ]; do
    rounds=$((rounds + 1))
    fresh
    attempts=0
    while :; do
        attempts=$((attempts + 1))
        "$ETL_BIN" -q run slow.yaml >/dev/null 2>>"$TAP_TMP/kill.err" &
        pid=$!
        # 0 to 0.7 s: before the state is read, mid-batch, mid-commit, at the end.
        sleep "0.$(printf %03d $((RANDOM % 700)))"
        kill -KILL $pid 2>/dev/null
        { wait $pid; } 2>/dev/null
        status=$?
        if [ $status -eq 137 ]; then
            kills=$((kills + 1))
        elif [ $status -eq 0 ]; then
            break
        else
            diag "round $rounds: run exited $status:"
            tail -3 "$TAP_TMP/kill.err" | sed 's/^/#   /'
        fi
        if [ $attempts -gt $MAX_RESUMES ]; then
            diag "round $rounds: not done after $attempts runs"
            break
        fi
    done
    same_as_reference "random kills, round $rounds" || round_failures=$((round_failures + 1))
done
diag "$kills SIGKILLs at random instants in $rounds rounds, each round resumed to the end"
if [ $kills -ge $RANDOM_KILLS ] && [ $round_failures -eq 0 ]; then
    ok "$kills kills at random instants, resumed each time: every round's output identical"
else
    not_ok "random kills: $kills kills, $round_failures of $rounds rounds differ"
fi

# No temporary file of the killed runs survives in the output.
if ! ls -A out | grep -q '^\.'; then ok "no temporary files left in the output"; else
    not_ok "temporary files left in the output: $(ls -A out | grep '^\.' | head -3)"
fi
if ! ls -A state | grep -q 'tmp'; then ok "no temporary files left in the state directory"; else
    not_ok "temporary files left in the state directory: $(ls -A state | grep tmp | head -3)"
fi

done_testing
