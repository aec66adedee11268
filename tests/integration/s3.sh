#!/bin/bash
# s3.so end to end against two independent S3 implementations started here
# on 127.0.0.1 (stopped by pid at exit): moto_server (with and without SigV4
# verification) and s3rver; a fault-injecting proxy in front of moto; boto3
# as the independent client that checks what etl wrote; DuckDB for Parquet;
# etl-conformance on s3.so; and the crash-consistency test with S3 as both
# the sink and the state store.
. "$ETL_SRCDIR/tests/lib/tap.sh"
tap_tmpdir
. "$ETL_SRCDIR/tests/s3/servers.sh"
S3_LOG_DIR=$TAP_TMP
trap 's3_stop_all; rm -rf "$TAP_TMP"' EXIT
cd "$TAP_TMP" || exit 1
export ETL_PLUGIN_PATH=${ETL_TEST_PLUGIN_DIR:-$ETL_PLUGIN_PATH}

if [ ! -f "$ETL_TEST_PLUGIN_DIR/s3.so" ]; then
    echo "1..0 # SKIP s3.so was not built"; exit 0
fi
if ! have_moto; then
    echo "1..0 # SKIP moto_server or boto3 missing (python3 -m pip install 'moto[server]' boto3)"; exit 0
fi

# ---- data: 3000 records over three days, and a 13 MiB file for multipart
python3 - <<'PY'
import json
with open("in.ndjson", "w") as f:
    for i in range(3000):
        f.write(json.dumps({"id": i, "dt": "2024-12-%02d" % (15 + i % 3), "name": "item %d \u00e9" % i,
                            "price": i * 1.25, "tags": ["a", "b"] if i % 2 else [], "big": 9007199254740993 + i}) + "\n")
with open("big.ndjson", "w") as f:
    pad = "x" * 900
    for i in range(14500):
        f.write(json.dumps({"id": i, "pad": pad}) + "\n")
PY

# reference NAME SOURCE-YAML: etl's own output of the same records through
# the file sink (the bytes an S3 object must hold).
reference() {
    cat >"ref-$1.yaml" <<Y
pipeline: $1
source: $2
sink: {type: file, path: ref-$1, format: ndjson}
Y
    "$ETL_BIN" -q run "ref-$1.yaml" >/dev/null 2>&1
}

# same_objects DESCRIPTION BUCKET PREFIX LOCAL-FILE: the objects under PREFIX,
# concatenated in key order, equal LOCAL-FILE.
same_objects() {
    rm -rf got && mkdir got
    s3util "$ENDPOINT" getall "$2" "$3" got 2>/dev/null
    if [ -n "$(ls -A got)" ] && (cd got && find . -type f | sort | xargs cat) | cmp -s - "$4"; then ok "$1"; else
        not_ok "$1"; diag "objects: $(cd got && find . -type f | sort | head -5 | tr '\n' ' ')"
    fi
}

count_is() { # DESCRIPTION BUCKET PREFIX N
    local n
    n=$(s3util "$ENDPOINT" count "$2" "$3" 2>&1)
    if [ "$n" = "$4" ]; then ok "$1"; else not_ok "$1 ($n objects, wanted $4)"; fi
}

pipeline() { # FILE BODY
    printf '%s\n' "$2" >"$1"
}

# ======================================================================
# 1. moto_server with SigV4 verification (an IAM user's keys)
# ======================================================================
if start_moto auth; then ok "moto_server started in auth mode"; else
    not_ok "moto_server started in auth mode"; done_testing; exit 1
fi
ENDPOINT=$MOTO_URL AUTH_URL=$MOTO_URL
KEY_ID=$AWS_ACCESS_KEY_ID SECRET=$AWS_SECRET_ACCESS_KEY
s3util "$ENDPOINT" mkbucket auth-lake
reference plain "{type: file, path: in.ndjson}"
cat ref-plain/* >ref-plain.ndjson

# moto mis-verifies %2F in query values and '=' in paths (environment.md):
# the auth-mode pipelines write at the bucket's root, without partitions.
auth_pipeline() { # FILE SECRET-EXPR [EXTRA SINK OPTIONS]
    pipeline "$1" "pipeline: authp
source: {type: file, path: in.ndjson}
sink: {type: s3, url: 's3://auth-lake/', endpoint: '$ENDPOINT', access_key_id: '\${TEST_KEY_ID}', secret_access_key: '$2'$3}
checkpoint: {every: 1000 records, store: {type: s3, url: 's3://auth-lake/state/', endpoint: '$ENDPOINT', access_key_id: '\${TEST_KEY_ID}', secret_access_key: '$2'}}"
}
export TEST_KEY_ID=$KEY_ID TEST_SECRET=$SECRET

auth_pipeline wrong.yaml "wrong-secret-value"
run_etl run wrong.yaml
expect_status "a wrong secret exits 8 (credentials refused)" 8
expect_stderr "the error names the 403 SignatureDoesNotMatch and where the keys came from" \
    "HTTP 403 SignatureDoesNotMatch.*credentials from the pipeline's access_key_id"
if grep -q "wrong-secret-value" "$TAP_TMP/stderr"; then not_ok "the secret is never printed"; else ok "the secret is never printed"; fi
count_is "nothing was committed with a wrong secret" auth-lake "" 0

TEST_KEY_ID=AKIANOBODY000000000 run_etl run wrong.yaml
expect_status "an unknown access key exits 8" 8
expect_stderr "... and says InvalidAccessKeyId" "InvalidAccessKeyId"

auth_pipeline good.yaml '${TEST_SECRET}'
run_etl run good.yaml
expect_status "the right keys from the environment (\${VAR} in the pipeline) write" 0
same_objects "the objects hold exactly the records, in order (3 commits)" auth-lake authp- ref-plain.ndjson
count_is "one object per commit, plus the state" auth-lake "" 4

# Credentials without pipeline options: the AWS variables, then a profile.
pipeline envcreds.yaml "pipeline: envc
source: {type: file, path: in.ndjson}
sink: {type: s3, url: 's3://auth-lake/', endpoint: '$ENDPOINT'}"
run_etl run envcreds.yaml
expect_status "credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY" 0
printf '[default]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n\n[profile etl]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
    "$KEY_ID" "$SECRET" >credentials
(unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
 AWS_SHARED_CREDENTIALS_FILE=$TAP_TMP/credentials AWS_PROFILE=etl "$ETL_BIN" run envcreds.yaml >"$TAP_TMP/stdout" 2>"$TAP_TMP/stderr"
 echo $? >status)
RUN_STATUS=$(cat status)
expect_status "credentials from a shared-credentials-file profile (AWS_PROFILE)" 0
(unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
 AWS_SHARED_CREDENTIALS_FILE=$TAP_TMP/credentials "$ETL_BIN" run envcreds.yaml >"$TAP_TMP/stdout" 2>"$TAP_TMP/stderr"
 echo $? >status)
RUN_STATUS=$(cat status)
expect_status "the default profile's wrong keys are refused" 8
echo "$SECRET" >secret.txt
pipeline secretfile.yaml "pipeline: secf
source: {type: file, path: in.ndjson}
sink: {type: s3, url: 's3://auth-lake/', endpoint: '$ENDPOINT', access_key_id: '$KEY_ID', secret_access_key_file: secret.txt}"
run_etl run secretfile.yaml
expect_status "credentials from secret_access_key_file" 0

pipeline nobucket.yaml "pipeline: nob
source: {type: file, path: in.ndjson}
sink: {type: s3, url: 's3://no-such-bucket/', endpoint: '$ENDPOINT'}"
run_etl run nobucket.yaml
expect_status "a missing bucket is a configuration error (exit 3)" 3
expect_stderr "... naming NoSuchBucket and what to do" "NoSuchBucket.*create the bucket"

# ---- the 5 MiB part rule and multipart uploads
pipeline small.yaml "pipeline: small
source: {type: file, path: big.ndjson}
sink: {type: s3, url: 's3://auth-lake/', endpoint: '$ENDPOINT', part_size: 1MiB}"
run_etl run small.yaml
expect_status "part_size below 5MiB is refused at configuration time" 3
expect_stderr "... saying why" "part_size must be between 5MiB and 5GiB"
reference big "{type: file, path: big.ndjson}"
pipeline multi.yaml "pipeline: multi
source: {type: file, path: big.ndjson}
sink: {type: s3, url: 's3://auth-lake/', endpoint: '$ENDPOINT', part_size: 5MiB, buffer_memory: 4MiB}"
run_etl run multi.yaml
expect_status "a 13 MiB object goes up as a multipart upload" 0
etag=$(s3util "$ENDPOINT" etag auth-lake multi-0-000001.ndjson 2>&1)
case $etag in
*-3) ok "its ETag says 3 parts (5 MiB, 5 MiB, the rest): $etag" ;;
*) not_ok "its ETag says 3 parts: got '$etag'" ;;
esac
same_objects "the multipart object holds exactly the records" auth-lake multi- ref-big/big-0-000001.ndjson
n=$(s3util "$ENDPOINT" uploads auth-lake)
[ "$n" = 0 ] && ok "no multipart upload left open" || not_ok "$n multipart uploads left open"

# ---- the lease: two runs of one pipeline
pipeline slow.yaml "pipeline: leased
source: {type: file, path: in.ndjson}
sink: {type: s3, url: 's3://auth-lake/', endpoint: '$ENDPOINT'}
throttle: {records_per_second: 1500}
checkpoint: {every: 500 records, store: {type: s3, url: 's3://auth-lake/state/', endpoint: '$ENDPOINT'}}"
"$ETL_BIN" -q run slow.yaml >/dev/null 2>first.err &
first=$!
for i in $(seq 1 50); do
    [ "$(s3util "$ENDPOINT" exists auth-lake state/leased~0.lease)" = 1 ] && break
    sleep 0.1
done
run_etl run slow.yaml
expect_status "a second run of a running pipeline stops with exit 10" 10
expect_stderr "... because the first holds the lease" "holds the lease on its state .*leased~0.lease: run-"
wait $first
status=$?
[ $status -eq 0 ] && ok "the first run finishes undisturbed" || { not_ok "the first run finishes undisturbed (exit $status)"; sed 's/^/#   /' first.err | head -5; }
[ "$(s3util "$ENDPOINT" exists auth-lake state/leased~0.lease)" = 0 ] && ok "its lease is released at the end" || not_ok "its lease is released at the end"

# Fencing: a run whose lease is taken over stops before its next state write.
s3util "$ENDPOINT" rm auth-lake ""
"$ETL_BIN" -q run slow.yaml >/dev/null 2>fenced.err &
first=$!
for i in $(seq 1 50); do
    [ "$(s3util "$ENDPOINT" exists auth-lake state/leased~0.state.json)" = 1 ] && break
    sleep 0.1
done
echo '{"owner":"run-thief","host":"elsewhere","pid":1,"expires_at_ms":9999999999999}' >thief.json
s3util "$ENDPOINT" put auth-lake state/leased~0.lease thief.json
before=$(s3util "$ENDPOINT" etag auth-lake state/leased~0.state.json)
wait $first
status=$?
after=$(s3util "$ENDPOINT" etag auth-lake state/leased~0.state.json)
[ $status -eq 10 ] && ok "a run whose lease was taken over stops with exit 10" || not_ok "a run whose lease was taken over stops with exit 10 (exit $status)"
grep -q "taken over by another run" fenced.err && ok "... saying its lease was taken over" || { not_ok "... saying its lease was taken over"; head -3 fenced.err | sed 's/^/#   /'; }
[ "$before" = "$after" ] && ok "... and it did not write the state after losing the lease" || not_ok "the state changed after the lease was lost"
run_etl run slow.yaml
expect_status "a third run meets the thief's lease (exit 10)" 10
export AWS_ACCESS_KEY_ID=$KEY_ID AWS_SECRET_ACCESS_KEY=$SECRET

# ======================================================================
# 2. moto_server without auth: partitions, the source, conformance, faults
# ======================================================================
start_moto || { not_ok "plain moto_server started"; done_testing; exit 1; }
ENDPOINT=$MOTO_URL PLAIN_URL=$MOTO_URL
s3util "$ENDPOINT" mkbucket lake

pipeline hive.yaml "pipeline: hive
source: {type: file, path: in.ndjson}
sink: {type: s3, url: 's3://lake/hive/', endpoint: '$ENDPOINT', partition_by: [dt]}
checkpoint: {every: 1000 records, store: {type: s3, url: 's3://lake/state/', endpoint: '$ENDPOINT'}}"
run_etl run hive.yaml
expect_status "a Hive-partitioned write (S3 sink and S3 state store)" 0
s3util "$ENDPOINT" ls lake hive/ | awk '{print $1}' >keys.txt
expected_keys=$(for d in 15 16 17; do for s in 1 2 3; do echo "hive/dt=2024-12-$d/hive-0-00000$s.ndjson"; done; done)
if [ "$(cat keys.txt)" = "$expected_keys" ]; then ok "keys: <prefix>/dt=<value>/<pipeline>-<partition>-<seq>.ndjson, 3 days x 3 commits"; else
    not_ok "partition keys"; head -12 keys.txt | sed 's/^/#   /'
fi
rm -rf got && mkdir got && s3util "$ENDPOINT" getall lake hive/ got
if python3 - <<'PY'
import json, os, sys
want = {}
for line in open("in.ndjson"):
    r = json.loads(line); want[r["id"]] = r
seen = 0
for root, _, files in os.walk("got"):
    for f in files:
        dt = root.split("dt=")[1]
        for line in open(os.path.join(root, f)):
            r = json.loads(line); seen += 1
            if "dt" in r: sys.exit("dt kept in " + f)
            r["dt"] = dt
            if want.get(r["id"]) != r: sys.exit("differs: %r" % r)
sys.exit(0 if seen == len(want) else "rows %d of %d" % (seen, len(want)))
PY
then ok "every record is in its partition, the partition column only in the path"; else not_ok "records by partition"; fi

# ---- the source: pagination, key order, resume, incremental
s3util "$ENDPOINT" putmany lake src/part- 40
pipeline src.yaml "pipeline: src
source: {type: s3, url: 's3://lake/src/', endpoint: '$ENDPOINT', max_keys: 7}
sink: {type: file, path: src-out, format: ndjson}"
run_etl run src.yaml
expect_status "the source reads 40 objects listed 7 keys per page" 0
python3 -c '
for i in range(40):
    for r in range(3): print("{\"object\":%d,\"row\":%d}" % (i, r))' >src-expected.ndjson
cat src-out/* >src-got.ndjson 2>/dev/null
cmp -s src-got.ndjson src-expected.ndjson && ok "... every record once, objects in key order" || not_ok "source records in key order"
pipeline src-parts.yaml "pipeline: srcp
source: {type: s3, url: 's3://lake/hive/', endpoint: '$ENDPOINT'}
sink: {type: file, path: srcp-out, format: ndjson}
checkpoint: {every: 700 records, store: {type: file, path: srcp-state}}"
run_etl run src-parts.yaml
expect_status "the source reads the sink's partitioned objects back" 0
(cd got && find . -type f | sort | xargs cat) >hive-expected.ndjson
cat srcp-out/* >srcp-got.ndjson
cmp -s srcp-got.ndjson hive-expected.ndjson && ok "... exactly, checkpoints falling inside objects" || not_ok "source read of partitioned objects"
for phase in before_sink_commit after_state_write; do
    rm -rf srcp-out srcp-state
    { ETL_FAULT=$phase:2 "$ETL_BIN" -q run src-parts.yaml >/dev/null 2>&1; } 2>/dev/null
    "$ETL_BIN" -q run src-parts.yaml >/dev/null 2>&1
    cat srcp-out/* >srcp-got.ndjson
    cmp -s srcp-got.ndjson hive-expected.ndjson && ok "source resumed after a kill at $phase:2: output identical" || not_ok "source resume after $phase:2"
done
pipeline src-future.yaml "pipeline: srcf
source: {type: s3, url: 's3://lake/src/', endpoint: '$ENDPOINT', modified_after: '2999-01-01T00:00:00Z'}
sink: {type: file, path: srcf-out, format: ndjson}"
run_etl run src-future.yaml
expect_status "modified_after in the future reads nothing" 0
expect_stderr "... 0 records" "0 records read"
# Incremental: a second pass reads only what changed since the first (the
# host continues a finished pipeline whose source says it is incremental).
pipeline inc.yaml "pipeline: inc
source: {type: s3, url: 's3://lake/src/', endpoint: '$ENDPOINT', incremental: true, settle_time: 0s}
sink: {type: file, path: inc-out, format: ndjson}
checkpoint: {every: 1000 records, store: {type: file, path: inc-state}}"
sleep 1.1
run_etl run inc.yaml
first_pass=$(cat inc-out/* | wc -l)
sleep 1.1
s3util "$ENDPOINT" putmany lake src/zz- 2
sleep 1.1
run_etl run inc.yaml
second_pass=$(cat inc-out/*-000002.ndjson 2>/dev/null | wc -l)
if [ "$first_pass" -eq 120 ] && [ "$second_pass" -eq 6 ]; then ok "incremental: the second pass reads only the 2 new objects (6 records)"; else
    not_ok "incremental: first pass $first_pass records (want 120), second $second_pass (want 6)"; sed 's/^/#   /' "$TAP_TMP/stderr" | head -5
fi

# ---- compressed objects: gzip and zstd by name or first bytes; bzip2 refused
python3 -c '
for i in range(500): print("{\"id\":%d,\"text\":\"r\u00e9sum\u00e9 %d\"}" % (i, i))' >comp.ndjson
gzip -c comp.ndjson >comp.ndjson.gz
s3util "$ENDPOINT" put lake comp/a.ndjson.gz comp.ndjson.gz
s3util "$ENDPOINT" put lake comp/c.ndjson comp.ndjson.gz      # gzip under a plain name
if command -v zstd >/dev/null; then    # else the zstd object is left out
    zstd -q -c comp.ndjson >comp.ndjson.zst
    s3util "$ENDPOINT" put lake comp/b.ndjson.zst comp.ndjson.zst
fi
pipeline comp.yaml "pipeline: comp
source: {type: s3, url: 's3://lake/comp/', endpoint: '$ENDPOINT'}
sink: {type: file, path: comp-out, format: ndjson}"
run_etl run comp.yaml
expect_status "gzip and zstd objects are read (by name, and by their first bytes)" 0
copies=$([ -f comp.ndjson.zst ] && echo 3 || echo 2)
for _ in $(seq "$copies"); do cat comp.ndjson; done >comp-expected.ndjson
cat comp-out/* >comp-got.ndjson 2>/dev/null
cmp -s comp-got.ndjson comp-expected.ndjson && ok "... every record of each, in key order" || not_ok "compressed objects: records differ"
head -c $(($(wc -c <comp.ndjson.gz) / 2)) comp.ndjson.gz >comp-cut.gz
s3util "$ENDPOINT" put lake comp-bad/x.ndjson.gz comp-cut.gz
pipeline comp-bad.yaml "pipeline: compbad
source: {type: s3, url: 's3://lake/comp-bad/', endpoint: '$ENDPOINT'}
sink: {type: file, path: comp-bad-out, format: ndjson}"
run_etl run comp-bad.yaml
expect_status "a truncated gzip object fails as an I/O error" 6
expect_stderr "... naming the object and what is wrong" "x.ndjson.gz: corrupt or truncated gzip data"
echo "BZh91AY" >comp.bz2
s3util "$ENDPOINT" put lake comp-bz/y.ndjson.bz2 comp.bz2
pipeline comp-bz.yaml "pipeline: compbz
source: {type: s3, url: 's3://lake/comp-bz/', endpoint: '$ENDPOINT', format: ndjson}
sink: {type: file, path: comp-bz-out, format: ndjson}"
run_etl run comp-bz.yaml
expect_status "bzip2 objects are refused as not supported" 9
expect_stderr "... with what to do" "bzip2 or xz, which is not supported"

# ---- etl-conformance on s3.so, against this moto
CONFORMANCE="$ETL_BUILDDIR/tests/conformance/etl-conformance"
if [ -x "$CONFORMANCE" ]; then
    sed "s|@ENDPOINT@|$ENDPOINT|g" "$ETL_SRCDIR/tests/s3/conformance.yaml" >conformance.yaml
    s3util "$ENDPOINT" putmany lake conf/in- 3
    "$CONFORMANCE" --fixture conformance.yaml "$ETL_TEST_PLUGIN_DIR/s3.so" >conf.out 2>conf.err
    conf_status=$?
    # etl-conformance loads s3.so alone: checks that need a format plugin
    # (ndjson from file.so) cannot run there; the pipelines above cover them.
    awk '/^not ok /{name=$0} /unknown format .* \(formats loaded: none\)/{print name}' conf.out >conf.noformat
    while IFS= read -r line; do
        if grep -qxF -- "$line" conf.noformat; then
            skip "conformance: ${line#not ok * - }: etl-conformance loads no format plugin beside s3.so"
            continue
        fi
        case $line in
        "not ok "*) not_ok "conformance: ${line#not ok * - }" ;;
        "ok "*) ok "conformance: ${line#ok * - }" ;;
        esac
    done <conf.out
    [ $conf_status -eq 0 ] || { diag "etl-conformance exited $conf_status"; sed 's/^/#   /' conf.err | head -10; }
else
    skip "etl-conformance on s3.so: $CONFORMANCE not built"
fi

# ---- the fault-injecting proxy: 10% faults, the output is still exact
start_faultproxy "$ENDPOINT" 0.1 7 0.3 || not_ok "fault proxy started"
pipeline faulty.yaml "pipeline: faulty
source: {type: file, path: in.ndjson}
sink: {type: s3, url: 's3://lake/faulty/', endpoint: '$PROXY_URL', partition_by: [dt]}
retry: {max_attempts: 8, base_delay: 10ms, max_delay: 200ms}
checkpoint: {every: 500 records, store: {type: s3, url: 's3://lake/fstate/', endpoint: '$PROXY_URL'}}"
pipeline faulty-big.yaml "pipeline: faultybig
source: {type: file, path: big.ndjson}
sink: {type: s3, url: 's3://lake/fbig/', endpoint: '$PROXY_URL', part_size: 5MiB}
retry: {max_attempts: 8, base_delay: 10ms, max_delay: 200ms}
checkpoint: {every: 20000 records, store: {type: s3, url: 's3://lake/fstate/', endpoint: '$PROXY_URL'}}"
pipeline clean.yaml "pipeline: faulty
source: {type: file, path: in.ndjson}
sink: {type: s3, url: 's3://lake/clean/', endpoint: '$ENDPOINT', partition_by: [dt]}
checkpoint: {every: 500 records, store: {type: s3, url: 's3://lake/cstate/', endpoint: '$ENDPOINT'}}"
"$ETL_BIN" -q run clean.yaml >/dev/null 2>&1
run_etl run faulty.yaml
expect_status "a partitioned run through 10% injected faults succeeds" 0
run_etl run faulty-big.yaml
expect_status "a multipart run through 10% injected faults succeeds" 0
s3util "$ENDPOINT" ls lake clean/ | sed 's|^clean/||' >clean.list
s3util "$ENDPOINT" ls lake faulty/ | sed 's|^faulty/||' >faulty.list
if [ -s clean.list ] && cmp -s clean.list faulty.list; then ok "... every object identical to a run without faults (keys and ETags)"; else
    not_ok "objects written through faults differ"; diff clean.list faulty.list | head -5 | sed 's/^/#   /'
fi
same_objects "... the multipart object too" lake fbig/ ref-big/big-0-000001.ndjson
pipeline faulty-read.yaml "pipeline: faultyread
source: {type: s3, url: 's3://lake/faulty/', endpoint: '$PROXY_URL', chunk_size: 64KiB, max_keys: 4}
sink: {type: file, path: fr-out, format: ndjson}
retry: {max_attempts: 8, base_delay: 10ms, max_delay: 200ms}"
run_etl run faulty-read.yaml
expect_status "the source reads through the faults" 0
rm -rf got && mkdir got && s3util "$ENDPOINT" getall lake faulty/ got
(cd got && find . -type f | sort | xargs cat) >fr-expected.ndjson
cat fr-out/* >fr-got.ndjson
cmp -s fr-got.ndjson fr-expected.ndjson && ok "... exactly (ranged GETs of 64 KiB)" || not_ok "source through faults"
for kind in 500 503 reset lost slow truncate complete200; do
    n=$(grep -c "^$kind " "$TAP_TMP/faults.$$.log" 2>/dev/null)
    [ "${n:-0}" -gt 0 ] && ok "fault '$kind' was injected $n times" || not_ok "fault '$kind' was never injected"
done
# A CompleteMultipartUpload that always answers 200 with an <Error>: the run
# fails, nothing becomes visible, and the upload is aborted.
s3_stop_one() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }
s3_stop_one "$PROXY_PID"
start_faultproxy "$ENDPOINT" 0 1 1.0
pipeline never.yaml "pipeline: never
source: {type: file, path: big.ndjson}
sink: {type: s3, url: 's3://lake/never/', endpoint: '$PROXY_URL', part_size: 5MiB}
retry: {max_attempts: 2, base_delay: 10ms, max_delay: 20ms}"
run_etl run never.yaml
expect_status "a Complete answered '200 + <Error>' every time fails the run (retries exhausted: 7)" 7
expect_stderr "... the error in the 200 body is reported" "HTTP 200 with an error in the body: InternalError"
count_is "... nothing is visible" lake never/ 0
n=$(s3util "$ENDPOINT" uploads lake)
[ "$n" = 0 ] && ok "... and the multipart upload was aborted" || not_ok "$n multipart uploads left open"
s3_stop_one "$PROXY_PID"

# ---- streaming: parts go up while the object is written, under the name of
# the commit to come; the commit only sends the last part and completes.
open_parts() { # KEY: parts uploaded to the open multipart upload of KEY (0: none)
    s3util "$ENDPOINT" openparts lake | awk -v k="$1" '$1 == k {n = $2} END {print n + 0}'
}
pipeline stream.yaml "pipeline: stream
source: {type: file, path: big.ndjson}
sink: {type: s3, url: 's3://lake/stream/', endpoint: '$ENDPOINT', part_size: 5MiB}
checkpoint: {every: 20000 records, store: {type: s3, url: 's3://lake/sstate/', endpoint: '$ENDPOINT'}}"
{ ETL_FAULT=before_sink_commit:1 "$ETL_BIN" -q run stream.yaml >/dev/null 2>&1; } 2>/dev/null
status=$?
parts=$(open_parts stream/stream-0-000001.ndjson)
if [ $status -eq 137 ] && [ "$parts" -eq 2 ]; then ok "streaming: killed just before its commit, 2 parts of 5 MiB were already uploaded during the writes"; else
    not_ok "streaming: killed before the commit (exit $status): $parts parts uploaded, wanted 2"
fi
count_is "... and nothing is visible (no CompleteMultipartUpload yet)" lake stream/ 0
run_etl run stream.yaml
expect_status "the resumed run finishes" 0
same_objects "... the object holds exactly the records" lake stream/ ref-big/big-0-000001.ndjson
etag=$(s3util "$ENDPOINT" etag lake stream/stream-0-000001.ndjson 2>&1)
case $etag in *-3) ok "... in 3 parts ($etag)" ;; *) not_ok "... in 3 parts: got '$etag'" ;; esac
n=$(s3util "$ENDPOINT" uploads lake)
[ "$n" = 0 ] && ok "... and the upload the killed run left open was aborted by the resumed run" || not_ok "$n multipart uploads left open after the resume"

# A SIGKILL at a moment the upload is under way, then a resume: same bucket.
pipeline stream-slow.yaml "$(cat stream.yaml)
throttle: {records_per_second: 3000}"
s3util "$ENDPOINT" ls lake stream/ >stream-ref.list
s3util "$ENDPOINT" rm lake stream/
s3util "$ENDPOINT" rm lake sstate/
"$ETL_BIN" -q run stream-slow.yaml >/dev/null 2>&1 &
pid=$!
parts=0
for i in $(seq 1 100); do
    parts=$(open_parts stream/stream-0-000001.ndjson)
    [ "$parts" -ge 1 ] && break
    sleep 0.1
done
kill -KILL $pid 2>/dev/null
{ wait $pid; } 2>/dev/null
status=$?
if [ $status -eq 137 ] && [ "$parts" -ge 1 ]; then ok "streaming: SIGKILL while uploading ($parts part(s) up, not completed)"; else
    not_ok "streaming: SIGKILL while uploading (exit $status, $parts parts seen)"
fi
count_is "... nothing visible" lake stream/ 0
run_etl run stream.yaml
expect_status "... the resumed run finishes" 0
if s3util "$ENDPOINT" ls lake stream/ | cmp -s - stream-ref.list; then ok "... the bucket is identical to the uninterrupted run's (key, size, ETag)"; else
    not_ok "the bucket differs after a kill mid-upload"; s3util "$ENDPOINT" ls lake stream/ | sed 's/^/#   /'
fi
n=$(s3util "$ENDPOINT" uploads lake)
[ "$n" = 0 ] && ok "... and no multipart upload is left open" || not_ok "$n multipart uploads left open"

# A run that fails after parts went up aborts its upload at close.
{ cat big.ndjson; echo '{"id": broken'; } >bad.ndjson
pipeline failing.yaml "pipeline: failing
source: {type: file, path: bad.ndjson}
sink: {type: s3, url: 's3://lake/failing/', endpoint: '$ENDPOINT', part_size: 5MiB}"
run_etl -v run failing.yaml
expect_status "a run that meets a malformed record after 13 MiB fails (exit 5)" 5
expect_stderr "... after its multipart upload had started during the writes" "multipart upload of s3://lake/failing/failing-0-000001.ndjson started"
count_is "... nothing is visible" lake failing/ 0
n=$(s3util "$ENDPOINT" uploads lake)
[ "$n" = 0 ] && ok "... and close() aborted the upload (none left open)" || not_ok "$n multipart uploads left open after a failed run"

# A part that still fails after the host's retries, inside a write, is kept
# and sent again at the next write (the batch is not written twice).
start_faultproxy "$ENDPOINT" 0 1 0 3
pipeline held.yaml "pipeline: held
source: {type: file, path: big.ndjson}
sink: {type: s3, url: 's3://lake/held/', endpoint: '$PROXY_URL', part_size: 5MiB}
retry: {max_attempts: 2, base_delay: 10ms, max_delay: 20ms}"
run_etl run held.yaml
expect_status "streaming: a part refused 3 times (503) with 2 attempts per request still gets through" 0
expect_stderr "... it was held back and sent again" "part 1 of s3://lake/held/held-0-000001.ndjson is kept in memory and sent again"
same_objects "... the object holds exactly the records (nothing twice)" lake held/ ref-big/big-0-000001.ndjson
s3_stop_one "$PROXY_PID"

# ---- Parquet written to S3, read by DuckDB
if [ ! -f "$ETL_TEST_PLUGIN_DIR/parquet.so" ]; then
    skip "DuckDB reads the Parquet written to S3: parquet.so is not built"
elif ! command -v node >/dev/null || [ ! -d "$ETL_SRCDIR/node_modules/@duckdb/node-api" ]; then
    skip "DuckDB reads the Parquet written to S3: no node or @duckdb/node-api (npm ci)"
else
    pipeline pq.yaml "pipeline: pq
source: {type: file, path: in.ndjson}
sink: {type: s3, url: 's3://lake/pq/', endpoint: '$ENDPOINT', format: {type: parquet}}"
    run_etl run pq.yaml
    expect_status "a Parquet object written to S3" 0
    s3util "$ENDPOINT" get lake pq/pq-0-000001.parquet pq.parquet
    out=$(node "$ETL_SRCDIR/tests/parquet/check.mjs" compare pq.parquet ref-plain.ndjson 2>&1)
    [ $? -eq 0 ] && ok "DuckDB reads it (downloaded with boto3): same rows and values as the source ($out)" || {
        not_ok "DuckDB reads the Parquet from S3"; echo "$out" | head -5 | sed 's/^/#   /'; }
fi

# ======================================================================
# 3. crash consistency with S3 as the sink and the state store
# ======================================================================
EVERY=500
pipeline crash.yaml "pipeline: crash
source: {type: file, path: in.ndjson}
sink: {type: s3, url: 's3://lake/crash/out/', endpoint: '$ENDPOINT', partition_by: [dt]}
checkpoint: {every: $EVERY records, store: {type: s3, url: 's3://lake/crash/state/', endpoint: '$ENDPOINT'}}"
pipeline crash-slow.yaml "$(cat crash.yaml)
throttle: {records_per_second: 4000}"
fresh() { s3util "$ENDPOINT" rm lake crash/; }
listing() { s3util "$ENDPOINT" ls lake crash/out/; }
fresh
"$ETL_BIN" -q run crash.yaml >/dev/null 2>&1
listing >crash-ref.list
checkpoints=$((3000 / EVERY))
[ "$(wc -l <crash-ref.list)" -eq $((checkpoints * 3)) ] && ok "clean run: $checkpoints checkpoints x 3 partitions" || not_ok "clean run wrote $(wc -l <crash-ref.list) objects"
resume() { local n=0; while [ $n -lt 10 ]; do "$ETL_BIN" -q run "$1" >/dev/null 2>>resume.err && return 0; n=$((n + 1)); done; return 1; }
for phase in before_sink_commit after_sink_commit after_state_write; do
    failures=0
    for seq in $(seq 1 $checkpoints); do
        fresh
        { ETL_FAULT=$phase:$seq "$ETL_BIN" -q run crash.yaml >/dev/null 2>&1; } 2>/dev/null
        status=$?
        if [ $status -ne 137 ] || ! resume crash.yaml || ! listing | cmp -s - crash-ref.list; then
            failures=$((failures + 1)); diag "$phase:$seq: killed with $status, then differs or did not finish"
        fi
    done
    [ $failures -eq 0 ] && ok "$phase at each of the $checkpoints checkpoints: killed, resumed, bucket identical" || not_ok "$phase: $failures checkpoints differ"
done
kills=0 differ=0
for round in $(seq 1 8); do
    fresh
    for attempt in $(seq 1 30); do
        "$ETL_BIN" -q run crash-slow.yaml >/dev/null 2>>kill.err &
        pid=$!
        # The first kill of a round lands early (a fast machine may finish a
        # run before a late one); later ones anywhere.
        if [ "$attempt" -eq 1 ]; then delay=$((50 + RANDOM % 250)); else delay=$((RANDOM % 900)); fi
        sleep "0.$(printf %03d $delay)"
        kill -KILL $pid 2>/dev/null
        { wait $pid; } 2>/dev/null
        status=$?
        [ $status -eq 137 ] && kills=$((kills + 1))
        [ $status -eq 0 ] && break
    done
    listing | cmp -s - crash-ref.list || differ=$((differ + 1))
done
[ $kills -ge 8 ] && [ $differ -eq 0 ] && ok "$kills SIGKILLs at random instants over 8 rounds: every bucket identical" || not_ok "random kills: $kills kills, $differ rounds differ"
n=$(s3util "$ENDPOINT" exists lake crash/state/crash~0.lease)
[ "$n" = 0 ] && ok "no lease left behind after the last run" || not_ok "a lease object is left behind"

# ======================================================================
# 4. s3rver, a second implementation
# ======================================================================
if ! have_s3rver; then
    skip "s3rver round trip: node_modules/.bin/s3rver missing (npm ci)"
else
    mkdir -p s3rver-data
    if start_s3rver "$TAP_TMP/s3rver-data" rtb; then ok "s3rver started"; else not_ok "s3rver started"; fi
    ENDPOINT=$S3RVER_URL
    export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER
    pipeline rt-w.yaml "pipeline: rtw
source: {type: file, path: in.ndjson}
sink: {type: s3, url: 's3://rtb/data/', endpoint: '$ENDPOINT', partition_by: [dt]}
checkpoint: {every: 1000 records, store: {type: file, path: rt-state}}"
    run_etl run rt-w.yaml
    expect_status "s3rver: a partitioned write" 0
    pipeline rt-r.yaml "pipeline: rtr
source: {type: s3, url: 's3://rtb/data/', endpoint: '$ENDPOINT', max_keys: 4}
sink: {type: file, path: rt-out, format: ndjson}"
    run_etl run rt-r.yaml
    expect_status "s3rver: reading it back (paginated listing)" 0
    cat rt-out/* >rt-got.ndjson 2>/dev/null
    cmp -s rt-got.ndjson hive-expected.ndjson && ok "s3rver: the round trip gives the same records as moto's" || not_ok "s3rver round trip differs"
    pipeline rt-big.yaml "pipeline: rtbig
source: {type: file, path: big.ndjson}
sink: {type: s3, url: 's3://rtb/', endpoint: '$ENDPOINT', part_size: 5MiB}"
    run_etl run rt-big.yaml
    expect_status "s3rver: a multipart upload" 0
    same_objects "s3rver: the multipart object holds exactly the records" rtb rtbig- ref-big/big-0-000001.ndjson
    skip "s3rver: wrong-secret test: s3rver does not verify SigV4 signatures (any signature passes for a known key)"
    skip "s3rver: state store: s3rver ignores If-None-Match/If-Match on PUT, so compare-and-swap cannot hold"
    skip "s3rver: abort of a failed multipart upload: s3rver does not route AbortMultipartUpload (405)"
    skip "s3rver: 5 MiB part rule: s3rver never raises EntityTooSmall"
fi

done_testing
