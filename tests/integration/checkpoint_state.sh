#!/bin/bash
# The state of a pipeline (docs/checkpoints.md): the lease keeps a second run
# out and makes it touch nothing; corrupt or foreign state is refused, never
# ignored; etl state show|reset|rewind; the file store's mode; a finished
# pipeline; budget: in the pipeline file.
. "$ETL_SRCDIR/tests/lib/tap.sh"
tap_tmpdir
cd "$TAP_TMP" || exit 1

STATE=state/st~0.state.json
awk 'BEGIN { for (i = 1; i <= 6000; i++)
    printf "{\"id\":%d,\"s\":\"r%d\",\"v\":%d.5}\n", i, i, i }' >in.ndjson
cat >p.yaml <<'EOF'
pipeline: st
source: {type: file, path: in.ndjson, format: ndjson}
sink: {type: file, path: out, format: ndjson}
checkpoint: {every: 500 records, store: {type: file, path: state}}
EOF
# The same pipeline, but its source delivers one record per second: a run
# of it holds the lease while it sleeps in the throttle, writing nothing.
cp p.yaml hold.yaml
echo "throttle: {records_per_second: 1}" >>hold.yaml

# snapshot: names, sizes, modification times and checksums of everything in
# the output and state directories, but the lease file: taking the lease
# rewrites the note in it (who holds it, since when).
snapshot() {
    find out state -type f ! -name '*.lease' -printf '%p %s %T@\n' 2>/dev/null | sort
    find out state -type f ! -name '*.lease' -exec sha256sum {} + 2>/dev/null | sort
}
same_as_reference() { diff -r ref out >/dev/null 2>&1 && [ "$(ls -A out | wc -l)" -eq "$(ls -A ref | wc -l)" ]; }
commit_sequence() { # the current commit_sequence in `etl state show`
    "$ETL_BIN" -q state show "${1:-p.yaml}" 2>/dev/null |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["current"]["commit_sequence"])' 2>/dev/null
}
if ! command -v python3 >/dev/null; then
    commit_sequence() {
        "$ETL_BIN" -q state show "${1:-p.yaml}" 2>/dev/null | jq -r .current.commit_sequence
    }
fi

# ---- the clean run, and the file store's modes
run_etl run p.yaml
expect_status "clean run succeeds" 0
final_seq=$(commit_sequence)
diag "clean run: final checkpoint $final_seq"
if [ "$(stat -c %a "$STATE")" = 600 ]; then ok "the state file has mode 0600"; else
    not_ok "the state file has mode $(stat -c %a "$STATE")"
fi
if [ "$(stat -c %a state)" = 700 ]; then ok "the state directory has mode 0700"; else
    not_ok "the state directory has mode $(stat -c %a state)"
fi
mv out ref

# ---- a finished pipeline
cp -r ref out
before=$(snapshot)
run_etl run p.yaml
expect_status "re-running a finished pipeline exits 0" 0
expect_stderr "and says it already finished" "already finished"
if [ "$before" = "$(snapshot)" ]; then ok "and writes nothing"; else not_ok "a finished pipeline's re-run changed files"; fi

# ---- etl state show
run_etl state show p.yaml
expect_status "etl state show exits 0" 0
show_is_valid() {
    if command -v jq >/dev/null; then
        jq -e --argjson seq "$final_seq" '.current.commit_sequence == $seq and .done == true and
            .pipeline == "st" and .format == "etl-state/1"' "$TAP_TMP/stdout" >/dev/null 2>&1
    else
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["current"]["commit_sequence"] == int(sys.argv[2]) and d["done"] is True and d["pipeline"] == "st"' \
            "$TAP_TMP/stdout" "$final_seq" 2>/dev/null
    fi
}
if show_is_valid; then
    ok "etl state show prints the state as JSON (current.commit_sequence $final_seq, done)"
else
    not_ok "etl state show: $(head -c 300 "$TAP_TMP/stdout")"
fi

# ---- etl state rewind
run_etl state rewind p.yaml --steps 2
expect_status "etl state rewind --steps 2 exits 0" 0
k=$((final_seq - 2))
if [ "$(commit_sequence)" = "$k" ]; then ok "rewind --steps 2 makes checkpoint $k current"; else
    not_ok "after rewind --steps 2 the checkpoint is $(commit_sequence), not $k"
fi
# Take away what the later checkpoints wrote: the resumed run must re-create it.
for f in out/*; do
    n=${f##*-}; n=${n%%.*}
    [ $((10#$n)) -gt $k ] && rm "$f"
done
run_etl run p.yaml
expect_status "the run after a rewind succeeds" 0
expect_stderr "and resumes from checkpoint $k" "resuming 'st' after checkpoint $k "
if same_as_reference; then ok "and the output equals the clean run's"; else not_ok "the output after rewind --steps 2 differs"; fi

run_etl state rewind p.yaml --to 3
expect_status "etl state rewind --to 3 exits 0" 0
rm -f out/st-0-0000{04,05,06,07,08,09}.ndjson out/st-0-00001?.ndjson
run_etl run p.yaml
expect_stderr "the next run resumes from checkpoint 3" "resuming 'st' after checkpoint 3 "
if [ "$RUN_STATUS" -eq 0 ] && same_as_reference; then ok "and the output equals the clean run's"; else
    not_ok "the output after rewind --to 3 differs (exit $RUN_STATUS)"
fi

before=$(snapshot)
run_etl state rewind p.yaml --to 999
if [ "$RUN_STATUS" -ne 0 ] && [ "$RUN_STATUS" -lt 126 ]; then ok "a rewind to an unknown checkpoint fails (exit $RUN_STATUS)"; else
    not_ok "a rewind to an unknown checkpoint exits $RUN_STATUS"
fi
expect_stderr "and lists the checkpoints kept" "checkpoint 999 is not in the history.*kept: $((final_seq - 1)), $((final_seq - 2)), "
if [ "$before" = "$(snapshot)" ]; then ok "and changes nothing"; else not_ok "a failed rewind changed files"; fi

# ---- etl state reset
run_etl state reset p.yaml
expect_status "etl state reset exits 0" 0
if [ ! -e "$STATE" ]; then ok "reset removes the state"; else not_ok "the state file is still there after reset"; fi
run_etl run p.yaml
expect_status "the run after a reset succeeds" 0
if ! grep -q "resuming\|already finished" "$TAP_TMP/stderr" && [ "$(commit_sequence)" = "$final_seq" ] &&
    grep -q "6000 records read" "$TAP_TMP/stderr" && same_as_reference; then
    ok "and starts over (6000 records read), overwriting the same files"
else
    not_ok "the run after a reset did not start over"; sed 's/^/#   /' "$TAP_TMP/stderr" | head -5
fi

# ---- the lease: a second run while the first holds it
rm -rf out state
{ ETL_FAULT=after_state_write:2 "$ETL_BIN" -q run p.yaml >/dev/null 2>&1; } 2>/dev/null
[ $? -eq 137 ] && ok "a run killed after checkpoint 2 leaves state to resume" || not_ok "ETL_FAULT did not kill the run"
"$ETL_BIN" -q run hold.yaml >/dev/null 2>"$TAP_TMP/holder.err" &
holder=$!
for _ in $(seq 1 100); do
    grep -q "pid $holder," state/st~0.lease 2>/dev/null && break
    sleep 0.05
done
sleep 0.5   # let the holder open its sink; then it sleeps in the throttle
before="$(snapshot) $(cat state/st~0.lease)"
run_etl run p.yaml
expect_status "a second run of a pipeline whose lease is held exits 10" 10
expect_stderr "and says another run holds the lease, naming it" "another run of this pipeline holds the lease.*pid $holder,"
run_etl state reset p.yaml
expect_status "etl state reset while the lease is held exits 10" 10
run_etl state rewind p.yaml --steps 1
expect_status "etl state rewind while the lease is held exits 10" 10
run_etl state show p.yaml
expect_status "etl state show still works while the lease is held" 0
if [ "$before" = "$(snapshot) $(cat state/st~0.lease)" ]; then
    ok "the refused commands touched nothing (output, state and the holder's lease note unchanged)"
else
    not_ok "the output or state changed while the lease was held:"
    diff <(echo "$before") <(snapshot) | head -6 | sed 's/^/#   /'
fi
if kill -0 $holder 2>/dev/null; then ok "the holder is still running"; else not_ok "the holder died"; fi
{ kill -KILL $holder; wait $holder; } 2>/dev/null
run_etl run p.yaml
expect_status "once the holder is killed, the lease is free and the run resumes" 0
expect_stderr "from checkpoint 2" "resuming 'st' after checkpoint 2 "
if same_as_reference; then ok "and the output equals the clean run's"; else not_ok "the output after the lease test differs"; fi

# ---- corrupt and foreign state: refused with a clear message, nothing written
rm -rf out state
{ ETL_FAULT=after_state_write:4 "$ETL_BIN" -q run p.yaml >/dev/null 2>&1; } 2>/dev/null
cp "$STATE" good.json
size=$(stat -c %s good.json)

# Another pipeline's state in the same directory, copied under this one's key.
sed 's/^pipeline: st$/pipeline: other/' p.yaml >other.yaml
sed -i 's/path: out,/path: other-out,/' other.yaml
"$ETL_BIN" -q run other.yaml >/dev/null 2>&1
# The same name with another source connector: state of another pipeline too.
sed 's/^source: .*/source: {type: generate, count: 6000}/' p.yaml >gen.yaml

corrupt_case() { # DESCRIPTION PATTERN PIPELINE: STATE is prepared by the caller
    local before
    before=$(snapshot)
    run_etl run "$3"
    expect_status "$1: exit 10" 10
    expect_stderr "$1: the message names the state and says why" "state 'st/0'.*$2"
    if [ "$before" = "$(snapshot)" ]; then ok "$1: nothing written"; else
        not_ok "$1: files changed:"; diff <(echo "$before") <(snapshot) | head -6 | sed 's/^/#   /'
    fi
}
head -c $((size / 2)) good.json >"$STATE"
corrupt_case "truncated state" "corrupt" p.yaml
head -c $((size - 2)) good.json >"$STATE"
corrupt_case "state missing its last bytes" "corrupt" p.yaml
printf 'garbage \001\377 not json' >"$STATE"
corrupt_case "garbage state" "corrupt" p.yaml
: >"$STATE"
corrupt_case "empty state file" "corrupt.*empty" p.yaml
echo '[1, 2, 3]' >"$STATE"
corrupt_case "state that is not an object" "corrupt" p.yaml
sed 's#"etl-state/1"#"etl-state/7"#' good.json >"$STATE"
corrupt_case "state of another format" "format 'etl-state/7'" p.yaml
sed 's#"current":#"current_":#' good.json >"$STATE"
corrupt_case "state without its current checkpoint" "corrupt" p.yaml
sed 's#"records_read":[^,]*,#"records_read":"many",#' good.json >"$STATE"
corrupt_case "state with a counter that is not a number" "corrupt.*records_read" p.yaml
cp state/other~0.state.json "$STATE"
corrupt_case "another pipeline's state under this key" "another pipeline.*'other'" p.yaml
cp good.json "$STATE"
corrupt_case "state of this name written with another source" "another pipeline.*source file" gen.yaml

cp good.json "$STATE"
run_etl run p.yaml
expect_status "with its own state back, the pipeline resumes" 0
expect_stderr "from checkpoint 4" "resuming 'st' after checkpoint 4 "
if same_as_reference; then ok "and the output equals the clean run's"; else not_ok "the output after restoring the state differs"; fi
printf 'garbage' >"$STATE"
run_etl state rewind p.yaml --steps 1
expect_status "etl state rewind of a corrupt state exits 10" 10
expect_stderr "and says it is corrupt" "corrupt"

# ---- budget: in the pipeline file works like --time-budget
rm -rf out state
cp p.yaml budget.yaml
printf 'budget: 1s\nthrottle: {records_per_second: 2000}\nbatch: {records: 100}\n' >>budget.yaml
start=${EPOCHREALTIME/./}
run_etl -q run budget.yaml
elapsed=$(( (${EPOCHREALTIME/./} - start) / 1000 ))
expect_status "budget: 1s in the pipeline suspends the run (exit 75)" 75
if [ $elapsed -le 1000 ] && grep -q '"done":false' "$TAP_TMP/stdout"; then
    ok "within its budget ($elapsed ms) and with a continuation token"
else
    not_ok "budget: took $elapsed ms; token: $(head -c 200 "$TAP_TMP/stdout")"
fi
run_etl -q run budget.yaml --until-done
expect_status "budget: in the pipeline with --until-done runs to the end" 0
# Budget stops commit between cadence points: compare records, not files.
if tail -1 "$TAP_TMP/stdout" | grep -q '"done":true' && cmp -s <(cat out/*) <(cat ref/*); then
    ok "and the output holds exactly the clean run's records"
else
    not_ok "budget: --until-done: $(tail -1 "$TAP_TMP/stdout")"
fi

done_testing
