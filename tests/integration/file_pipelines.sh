#!/usr/bin/env bash
# The file connectors end to end: ndjson and csv in and out, gzip and zstd
# input, globs, missing files, malformed lines with and without a rejects
# file, the commit protocol (nothing that looks finished before a commit)
# and rolling by size.
. "$ETL_SRCDIR/tests/lib/tap.sh"
tap_tmpdir
cd "$TAP_TMP" || exit 1
if [ -n "${ETL_TEST_PLUGIN_DIR:-}" ]; then
    ETL_PLUGIN_PATH=$ETL_TEST_PLUGIN_DIR
    export ETL_PLUGIN_PATH
fi
PRODUCTS=$ETL_SRCDIR/pipelines/data/products.ndjson

# JSON lines in a canonical form: sorted keys, and null members dropped (a
# writer may spell an absent field as null).
normalise() {
    jq -S -c 'def strip: if type == "object" then with_entries(select(.value != null)
        | .value |= strip) elif type == "array" then map(strip) else . end; strip' "$@"
}

# pipeline NAME SOURCE SINK [EXTRA]: writes NAME.yaml ($BATCH records a batch).
pipeline() {
    printf 'pipeline: %s\nsource: %s\ntransforms: []\nsink: %s\nbatch: {records: %s}\n%s' \
        "$1" "$2" "$3" "${BATCH:-1000}" "${4:-}" > "$1.yaml"
}

# same DESCRIPTION FILE_A FILE_B: identical after normalise.
same_records() {
    normalise "$2" > "$TAP_TMP/want.txt" 2>/dev/null
    normalise "$3" > "$TAP_TMP/got.txt" 2>/dev/null
    if [ -s "$TAP_TMP/want.txt" ] && cmp -s "$TAP_TMP/want.txt" "$TAP_TMP/got.txt"; then
        ok "$1"
    else
        not_ok "$1"
        diff "$TAP_TMP/want.txt" "$TAP_TMP/got.txt" | head -5 | sed 's/^/#   /'
    fi
}

no_temp_files() { [ -z "$(find "$1" -name '.*.tmp-*' 2>/dev/null)" ]; }
count_files() { find "$1" -type f ! -name '.*' 2>/dev/null | wc -l; }

# ---- ndjson -> ndjson, exact -------------------------------------------
pipeline rt "{type: file, path: $PRODUCTS}" "{type: file, path: out/rt, format: ndjson}"
run_etl run rt.yaml
expect_status "ndjson -> ndjson exits 0" 0
cat out/rt/*.ndjson > rt.ndjson 2>/dev/null
same_records "ndjson -> ndjson keeps every record and value" "$PRODUCTS" rt.ndjson
check "int64 ids past 2^53 are written exactly" \
    [ "$(grep -c -E '"id":(9007199254[0-9]{6}|9223372036854775807)[,}]' rt.ndjson)" -eq 9 ]
check "no temporary file is left after success" no_temp_files out/rt
check "outputs are named <pipeline>-<partition>-<seq>.ndjson" \
    bash -c 'ls out/rt | grep -Evq "^rt-0-[0-9]{6}(-[0-9]{3})?\.ndjson$" && exit 1; ls out/rt | grep -q .'

# file_prefix replaces the pipeline name in file names.
pipeline pfx "{type: file, path: $PRODUCTS}" "{type: file, path: out/pfx, file_prefix: products}"
run_etl run pfx.yaml
check "file_prefix names the outputs" [ -f out/pfx/products-0-000001.ndjson ]

# ---- csv -> ndjson ------------------------------------------------------
printf 'id,name,price,active,note\r\n1,plain,9.5,true,\r\n2,"with ""quotes"", and comma",10,false,"two\r\nlines"\r\n\r\n3,"",0.25,true,x\r\n' > in.csv
pipeline csv_in "{type: file, path: in.csv}" "{type: file, path: out/csv_in}"
run_etl run csv_in.yaml
expect_status "csv -> ndjson exits 0" 0
cat out/csv_in/*.ndjson > csv_in.ndjson 2>/dev/null
check "csv: three records (blank line skipped)" [ "$(wc -l < csv_in.ndjson)" -eq 3 ]
check "csv: integers and doubles are typed" \
    [ "$(jq -c '[.id, .price]' csv_in.ndjson 2>/dev/null | tr -d '\n')" = '[1,9.5][2,10][3,0.25]' ]
check "csv: booleans are typed" \
    [ "$(jq -c '.active' csv_in.ndjson 2>/dev/null | tr -d '\n')" = 'truefalsetrue' ]
check "csv: doubled quotes and commas inside quotes" \
    [ "$(jq -r 'select(.id == 2) | .name' csv_in.ndjson 2>/dev/null)" = 'with "quotes", and comma' ]
check "csv: a quoted field spans lines" \
    [ "$(jq -c 'select(.id == 2) | .note' csv_in.ndjson 2>/dev/null)" = '"two\r\nlines"' ]
check "csv: an empty cell is null, a quoted empty cell is the empty string" \
    [ "$(jq -c '[.note, .name]' csv_in.ndjson 2>/dev/null | sed -n '1p;3p' | tr -d '\n')" = '[null,"plain"]["x",""]' ]

pipeline csv_text "{type: file, path: in.csv, format: {type: csv, infer: false}}" \
    "{type: file, path: out/csv_text}"
run_etl run csv_text.yaml
check "csv infer: false keeps cells as text" \
    [ "$(cat out/csv_text/*.ndjson 2>/dev/null | jq -c '.id' | tr -d '\n')" = '"1""2""3"' ]

printf 'a;b\n1;x\n2;y\n' > semi.csv
pipeline csv_semi "{type: file, path: semi.csv, format: {type: csv, delimiter: ';'}}" \
    "{type: file, path: out/csv_semi}"
run_etl run csv_semi.yaml
check "csv delimiter option" \
    [ "$(cat out/csv_semi/*.ndjson 2>/dev/null | jq -c '[.a, .b]' | tr -d '\n')" = '[1,"x"][2,"y"]' ]

# ---- ndjson -> csv -----------------------------------------------------
printf '%s\n' '{"id":1,"name":"a,b","price":1.5,"tags":["x","y"],"brand":{"name":"A"},"ok":true}' \
    '{"id":2,"name":"say \"hi\"","price":2,"tags":[],"brand":null,"ok":false}' \
    '{"id":3,"name":"","price":null,"tags":null,"brand":{"name":"C"},"ok":null}' > to_csv.ndjson
pipeline to_csv "{type: file, path: to_csv.ndjson}" "{type: file, path: out/to_csv, format: csv}"
run_etl run to_csv.yaml
expect_status "ndjson -> csv exits 0" 0
tr -d '\r' < out/to_csv/to_csv-0-000001.csv > to_csv.txt 2>/dev/null
cat > to_csv.want <<'CSV'
id,name,price,tags,brand,ok
1,"a,b",1.5,"[""x"",""y""]","{""name"":""A""}",true
2,"say ""hi""",2,[],,false
3,"",,,"{""name"":""C""}",
CSV
if cmp -s to_csv.want to_csv.txt; then ok "ndjson -> csv: header, quoting, nulls, nested as JSON"; else
    not_ok "ndjson -> csv: header, quoting, nulls, nested as JSON"; diff to_csv.want to_csv.txt | sed 's/^/#   /' | head -10
fi
check "csv lines end with CRLF (RFC 4180)" grep -q $'\r$' out/to_csv/to_csv-0-000001.csv

# csv written by etl reads back the same.
pipeline csv_back "{type: file, path: out/to_csv/to_csv-0-000001.csv}" "{type: file, path: out/csv_back}"
run_etl run csv_back.yaml
check "csv written by etl reads back (ids, names)" \
    [ "$(cat out/csv_back/*.ndjson 2>/dev/null | jq -c '[.id, .name]' | tr -d '\n')" = '[1,"a,b"][2,"say \"hi\""][3,""]' ]

# ---- compressed input -------------------------------------------------
gzip -c "$PRODUCTS" > products.ndjson.gz
pipeline gz "{type: file, path: products.ndjson.gz}" "{type: file, path: out/gz}"
run_etl run gz.yaml
expect_status "gzip input exits 0" 0
cat out/gz/*.ndjson > gz.ndjson 2>/dev/null
same_records "gzip input decodes every record" "$PRODUCTS" gz.ndjson

if command -v zstd >/dev/null; then
    zstd -q -c "$PRODUCTS" > products.ndjson.zst
    pipeline zst "{type: file, path: products.ndjson.zst}" "{type: file, path: out/zst}"
    run_etl run zst.yaml
    expect_status "zstd input exits 0" 0
    cat out/zst/*.ndjson > zst.ndjson 2>/dev/null
    same_records "zstd input decodes every record" "$PRODUCTS" zst.ndjson
else
    skip "zstd CLI not installed"; skip "zstd CLI not installed"
fi

# Compression found by the magic bytes when the name does not say.
cp products.ndjson.gz mystery.data
pipeline magic "{type: file, path: mystery.data, format: ndjson}" "{type: file, path: out/magic}"
run_etl run magic.yaml
cat out/magic/*.ndjson > magic.ndjson 2>/dev/null
same_records "gzip found by its magic bytes" "$PRODUCTS" magic.ndjson

# ---- globs -------------------------------------------------------------
mkdir -p parts
head -n 700 "$PRODUCTS" > parts/a.ndjson
sed -n '701,1400p' "$PRODUCTS" | gzip -c > parts/b.ndjson.gz
sed -n '1401,$p' "$PRODUCTS" > parts/c.ndjson
pipeline glob "{type: file, path: 'parts/*.ndjson*'}" "{type: file, path: out/glob}"
run_etl run glob.yaml
expect_status "a glob over several files exits 0" 0
cat out/glob/*.ndjson > glob.ndjson 2>/dev/null
same_records "a glob reads every file, in sorted order" "$PRODUCTS" glob.ndjson

pipeline noglob "{type: file, path: 'nothing/*.ndjson'}" "{type: file, path: out/noglob}"
run_etl run noglob.yaml
expect_status "a glob that matches nothing exits 3" 3
expect_stderr "the message says no files match" "no files match 'nothing/\*\.ndjson'"

# ---- a missing file ----------------------------------------------------
pipeline missing "{type: file, path: does-not-exist.ndjson}" "{type: file, path: out/missing}"
run_etl run missing.yaml
expect_status "a missing input file exits 6" 6
expect_stderr "the message names the path and the reason" "does-not-exist\.ndjson.*No such file"

# ---- malformed lines --------------------------------------------------
printf '{"id":1}\n{"id":2}\n{"id":3,\n{"id":4}\n' > bad.ndjson
# One record a batch: two rows reach the sink's temporary file before the failure.
BATCH=1 pipeline bad "{type: file, path: bad.ndjson}" "{type: file, path: out/bad}"
run_etl run bad.yaml
expect_status "a malformed JSON line exits 5" 5
expect_stderr "the error names the file and line" "bad\.ndjson:3"
check "after a failure no output looks finished" [ "$(count_files out/bad)" -eq 0 ]
check "after a failure no temporary file is left" no_temp_files out/bad

pipeline badrej "{type: file, path: bad.ndjson}" "{type: file, path: out/badrej}" \
    "rejects: rejects.ndjson"$'\n'
run_etl run badrej.yaml
expect_status "with a rejects file, a malformed line does not fail the run" 0
check "the rejects file holds one line" [ "$(wc -l < rejects.ndjson 2>/dev/null)" -eq 1 ]
check "the rejected record is the bad line" grep -qF '{\"id\":3,' rejects.ndjson
check "the rejected line says where it came from" grep -q 'bad\.ndjson:3' rejects.ndjson
check "the good records are written" [ "$(cat out/badrej/*.ndjson 2>/dev/null | jq -c .id | tr -d '\n')" = '124' ]

printf 'a,b\n1,2\n3\n4,5\n' > short.csv
pipeline short "{type: file, path: short.csv}" "{type: file, path: out/short}"
run_etl run short.yaml
expect_status "a csv row with the wrong number of fields exits 5" 5
expect_stderr "the error names the csv file and line" "short\.csv:3: expected 2 fields"

# ---- rolling by size ---------------------------------------------------
BATCH=100 pipeline roll "{type: file, path: $PRODUCTS}" "{type: file, path: out/roll, roll_size: 64KB}"
run_etl run roll.yaml
expect_status "roll_size run exits 0" 0
check "roll_size produces several files" [ "$(count_files out/roll)" -ge 5 ]
cat out/roll/*.ndjson > roll.ndjson 2>/dev/null
same_records "rolled files hold every record once, in order" "$PRODUCTS" roll.ndjson
check "rolled files are named with a part number" bash -c 'ls out/roll | grep -Eq "^roll-0-[0-9]{6}-[0-9]{3}\.ndjson$"'

done_testing
