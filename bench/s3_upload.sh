#!/bin/bash
# Client-side CPU time (user + sys) per GB uploaded: etl's S3 sink against
# boto3's upload_file, same bytes, same local server (s3rver, whose own CPU
# is not counted), RUNS runs each, medians. See docs/benchmarks.md.
#
#   bench/s3_upload.sh [MB] [RUNS]      (defaults: 512 MB, 5 runs)
#   PERF=1 bench/s3_upload.sh ...       also the sink's own CPU, from perf samples
#
# Needs: a build (ETL_BIN or _build/*/etl, plugins beside it), node with
# node_modules/.bin/s3rver (npm ci), python3 with boto3, /usr/bin/time.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
MB=${1:-512}
RUNS=${2:-5}
ETL_BIN=${ETL_BIN:-$(ls "$ROOT"/_build/*/etl 2>/dev/null | head -1)}
ETL_PLUGIN_PATH=${ETL_PLUGIN_PATH:-$(dirname "$ETL_BIN")/plugins/.libs}
export ETL_PLUGIN_PATH ETL_SRCDIR=$ROOT
WORK=$(mktemp -d "${TMPDIR:-/tmp}/etl-s3-bench.XXXXXX")
. "$ROOT/tests/s3/servers.sh"
S3_LOG_DIR=$WORK
trap 's3_stop_all; rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1

python3 "$HERE/s3/make_ndjson.py" data.ndjson "$MB" >/dev/null
BYTES=$(stat -c %s data.ndjson)
mkdir -p s3rver-data
start_s3rver "$WORK/s3rver-data" bench || { echo "s3rver did not start" >&2; exit 1; }
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER

# The S3 sink writes NDJSON re-encoded from the records it is given, the
# same bytes as the input here (compact JSON, same key order), so both
# clients upload the same object. One object, one commit, 8 MiB parts.
cat >s3.yaml <<Y
pipeline: bench
source: {type: file, path: data.ndjson, format: ndjson}
sink: {type: s3, url: 's3://bench/etl/', endpoint: '$S3RVER_URL', part_size: 8MiB, buffer_memory: 2GiB}
Y
# The same pipeline into a local file on tmpfs: the CPU of reading and
# encoding the records, without S3.
cat >local.yaml <<Y
pipeline: bench
source: {type: file, path: data.ndjson, format: ndjson}
sink: {type: file, path: /dev/shm/etl-s3-bench-$$, format: ndjson}
Y

cpu() { # LOG COMMAND...: user+sys seconds of COMMAND
    /usr/bin/time -f '%U %S' -o "$1" "${@:2}" >/dev/null 2>>"$WORK/errors" || { echo "failed: ${*:2}" >&2; tail -5 "$WORK/errors" >&2; exit 1; }
    awk '{printf "%.3f\n", $1 + $2}' "$1"
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

for i in $(seq 1 "$RUNS"); do
    cpu t.etl "$ETL_BIN" -q run s3.yaml >>etl.cpu
    s3util "$S3RVER_URL" rm bench etl/
    cpu t.local "$ETL_BIN" -q run local.yaml >>local.cpu
    rm -rf "/dev/shm/etl-s3-bench-$$"
    # What the file sink's own output costs: the same number of bytes
    # written to tmpfs (from /dev/zero, whose reading is counted too).
    cpu t.dd dd if=/dev/zero of="/dev/shm/etl-s3-bench-$$.dd" bs=1M count="$MB" status=none >>dd.cpu
    rm -f "/dev/shm/etl-s3-bench-$$.dd"
    cpu t.boto "python3" "$HERE/s3/boto3_upload.py" "$S3RVER_URL" bench boto/data.ndjson data.ndjson >>boto.cpu
    s3util "$S3RVER_URL" rm bench boto/
    cpu t.py python3 -c 'import boto3, botocore.config' >>import.cpu
done
# Both clients must have uploaded the same bytes: one last run of each, compared.
"$ETL_BIN" -q run s3.yaml >/dev/null 2>&1
python3 "$HERE/s3/boto3_upload.py" "$S3RVER_URL" bench boto/data.ndjson data.ndjson
s3util "$S3RVER_URL" get bench etl/bench-0-000001.ndjson etl.out
s3util "$S3RVER_URL" get bench boto/data.ndjson boto.out
if cmp -s etl.out data.ndjson && cmp -s boto.out data.ndjson; then same="yes"; else same="NO"; fi

GB=$(awk -v b="$BYTES" 'BEGIN {printf "%.4f", b / 1073741824}')

# PERF=1: the sink's own CPU measured directly, as the share of perf samples
# (DWARF call graphs) whose stack holds the sink's byte path (s3_spool_write,
# which includes the uploads of parts, and sink_commit), RUNS runs, median.
if [ "${PERF:-0}" = 1 ] && command -v perf >/dev/null; then
    for i in $(seq 1 "$RUNS"); do
        s3util "$S3RVER_URL" rm bench etl/
        perf record -q -o p.data -F 4000 --call-graph dwarf,32768 "$ETL_BIN" -q run s3.yaml >/dev/null 2>&1
        share=$(perf report -i p.data --children --sort sym -g none --stdio 2>/dev/null |
                awk '$NF == "s3_spool_write" || $NF == "sink_commit" {s += $1} END {print s + 0}')
        total=$(perf report -i p.data --stdio --sort sym -g none 2>/dev/null | awk '/Event count/ {print $NF}')
        awk -v s="$share" -v t="$total" -v gb="$GB" 'BEGIN {printf "%.4f\n", s / 100 * t / 1e9 / gb}' >>perf.cpu
    done
    rm -f p.data
    echo "S3 sink's own CPU by perf attribution (median of $RUNS): $(median <perf.cpu) s/GB"
fi
e=$(median <etl.cpu); l=$(median <local.cpu); b=$(median <boto.cpu); p=$(median <import.cpu)
w=$(median <dd.cpu)
awk -v e="$e" -v l="$l" -v w="$w" -v b="$b" -v p="$p" -v gb="$GB" -v runs="$RUNS" -v mb="$MB" -v same="$same" 'BEGIN {
    printf "S3 upload, client CPU (user+sys), %s MiB NDJSON, median of %d runs, s3rver on 127.0.0.1\n", mb, runs
    printf "objects identical to the input: %s\n", same
    printf "%-52s %8s %9s\n", "", "CPU s", "CPU s/GB"
    printf "%-52s %8.2f %9.2f\n", "etl file -> s3 sink (whole pipeline)", e, e / gb
    printf "%-52s %8.2f %9.2f\n", "etl file -> local file on tmpfs (same pipeline)", l, l / gb
    printf "%-52s %8.2f %9.2f\n", "  S3 sink alone (difference)", e - l, (e - l) / gb
    printf "%-52s %8.2f %9.2f\n", "writing the same bytes to tmpfs (dd)", w, w / gb
    printf "%-52s %8.2f %9.2f\n", "  S3 sink alone, upper bound (difference + dd)", e - l + w, (e - l + w) / gb
    printf "%-52s %8.2f %9.2f\n", "boto3 upload_file (process)", b, b / gb
    printf "%-52s %8.2f %9.2f\n", "  boto3 upload alone (minus python+boto3 import)", b - p, (b - p) / gb
    printf "ratio S3 sink alone / boto3 upload alone: %.3f (upper bound %.3f)\n", (e - l) / (b - p), (e - l + w) / (b - p)
    printf "ratio whole etl pipeline / boto3 process: %.3f\n", e / b
}'
