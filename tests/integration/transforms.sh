#!/usr/bin/env bash
# The transform plugin end to end: file -> transforms -> file pipelines whose
# NDJSON output is compared with the expected records. Records are compared
# after `jq -S -c` (key order and number spelling aside); int64 values past
# 2^53 and decimal digits are compared on the raw text, since jq 1.6 reads
# numbers as doubles.
. "$ETL_SRCDIR/tests/lib/tap.sh"
tap_tmpdir
cd "$TAP_TMP" || exit 1

PLUGIN_ARGS=()
[ -n "${ETL_TEST_PLUGIN_DIR:-}" ] && PLUGIN_ARGS=(--plugin-path "$ETL_TEST_PLUGIN_DIR")

cat > in.ndjson <<'EOF'
{"id":1,"name":"Alpha","price":12.5,"qty":3,"big":9223372036854775807,"updated_at":"2024-05-01T10:20:30Z","brand":{"name":"Acme","country":"FR"},"discount":0.1,"code":"42"}
{"id":2,"name":"beta","price":8,"qty":null,"big":-9223372036854775808,"updated_at":"2024-12-31T23:59:59+02:00","brand":{"name":"Bolt","country":"DE"},"discount":null,"code":"x7"}
{"id":3,"name":null,"price":20.25,"qty":5,"big":9007199254740993,"updated_at":"2023-01-15","brand":{"name":"Cora","country":"FR"},"discount":0.2,"code":"-5"}
{"id":4,"name":"Delta","price":null,"qty":2,"big":0,"updated_at":null,"brand":null,"discount":0.3,"code":null}
EOF

# pipeline NAME [EXTRA_TOP_LEVEL_YAML] -- TRANSFORM...: writes NAME.yaml, one
# transform (a YAML flow mapping) per argument.
pipeline() {
    local name=$1 extra=$2
    shift 3
    {
        echo "pipeline: $name"
        echo "source: {type: file, path: in.ndjson}"
        echo "transforms:"
        for t in "$@"; do echo "  - $t"; done
        echo "sink: {type: file, path: out/$name, format: ndjson}"
        [ -n "$extra" ] && echo "$extra"
    } > "$name.yaml"
}

# run NAME: runs NAME.yaml.
run() {
    run_etl "${PLUGIN_ARGS[@]}" --quiet run "$1.yaml"
}

output_of() {
    cat "out/$1"/*.ndjson 2>/dev/null
}

# expect_records DESCRIPTION NAME EXPECTED: output equals EXPECTED (NDJSON)
# once both are normalized by jq.
expect_records() {
    local got want
    got=$(output_of "$2" | jq -S -c . 2>&1)
    want=$(printf '%s\n' "$3" | jq -S -c .)
    if [ "$RUN_STATUS" -eq 0 ] && [ "$got" = "$want" ]; then ok "$1"; else
        not_ok "$1 (exit $RUN_STATUS)"
        diag "wanted:"; printf '%s\n' "$want" | sed 's/^/#   /'
        diag "got:"; printf '%s\n' "$got" | sed 's/^/#   /'
        sed 's/^/#   stderr: /' "$TAP_TMP/stderr" | head -10
    fi
}

# expect_raw DESCRIPTION NAME EXPECTED: output equals EXPECTED byte for byte.
expect_raw() {
    local got
    got=$(output_of "$2")
    if [ "$RUN_STATUS" -eq 0 ] && [ "$got" = "$3" ]; then ok "$1"; else
        not_ok "$1 (exit $RUN_STATUS)"
        diag "wanted:"; printf '%s\n' "$3" | sed 's/^/#   /'
        diag "got:"; printf '%s\n' "$got" | sed 's/^/#   /'
        sed 's/^/#   stderr: /' "$TAP_TMP/stderr" | head -10
    fi
}

# ---------------------------------------------------------------- select
pipeline select1 "" -- "{type: select, fields: [id, name, brand.name]}"
run select1
expect_records "select keeps columns in order; a dotted path is named by the full path" select1 \
'{"id":1,"name":"Alpha","brand.name":"Acme"}
{"id":2,"name":"beta","brand.name":"Bolt"}
{"id":3,"name":null,"brand.name":"Cora"}
{"id":4,"name":"Delta","brand.name":null}'

pipeline select2 "" -- "{type: select, fields: [big, id]}"
run select2
expect_raw "select keeps int64 extremes exact, in the listed order" select2 \
'{"big":9223372036854775807,"id":1}
{"big":-9223372036854775808,"id":2}
{"big":9007199254740993,"id":3}
{"big":0,"id":4}'

pipeline select3 "" -- "{type: select, fields: [id, nope]}"
run select3
expect_status "select of a missing column exits 3" 3
expect_stderr "the error names the column and lists the columns" \
    "no column 'nope'.*columns: id, name, price"

# ---------------------------------------------------------------- drop
pipeline drop1 "" -- "{type: drop, fields: [discount, code, brand, updated_at, big]}"
run drop1
expect_records "drop removes top-level columns" drop1 \
'{"id":1,"name":"Alpha","price":12.5,"qty":3}
{"id":2,"name":"beta","price":8,"qty":null}
{"id":3,"name":null,"price":20.25,"qty":5}
{"id":4,"name":"Delta","price":null,"qty":2}'

pipeline drop2 "" -- "{type: drop, fields: [nope]}"
run drop2
expect_status "drop of a missing column exits 3" 3
expect_stderr "the drop error names the column" "drop: no column 'nope'"

pipeline drop3 "" -- "{type: drop, fields: [nope, name, price, qty, big, updated_at, brand, discount, code], ignore_missing: true}"
run drop3
expect_records "drop with ignore_missing skips absent columns" drop3 \
'{"id":1}
{"id":2}
{"id":3}
{"id":4}'

# ---------------------------------------------------------------- rename
pipeline rename1 "" -- "{type: rename, fields: {name: title, brand.name: brand, brand.country: country}}" \
    "{type: select, fields: [id, title, brand, country]}"
run rename1
expect_records "rename: plain, struct field replacing its struct, struct field pulled out" rename1 \
'{"id":1,"title":"Alpha","brand":"Acme","country":"FR"}
{"id":2,"title":"beta","brand":"Bolt","country":"DE"}
{"id":3,"title":null,"brand":"Cora","country":"FR"}
{"id":4,"title":"Delta","brand":null,"country":null}'

pipeline rename2 "" -- "{type: select, fields: [id, qty, big]}" "{type: rename, fields: {qty: quantity, big: huge}}"
run rename2
expect_raw "rename keeps every column in place and int64 exact" rename2 \
'{"id":1,"quantity":3,"huge":9223372036854775807}
{"id":2,"quantity":null,"huge":-9223372036854775808}
{"id":3,"quantity":5,"huge":9007199254740993}
{"id":4,"quantity":2,"huge":0}'

pipeline rename3 "" -- "{type: rename, fields: {name: id}}"
run rename3
expect_status "rename onto an existing column exits 3" 3
expect_stderr "the rename error names the clash" "two columns would be named 'id'"

pipeline rename4 "" -- "{type: rename, fields: {nope: x}}"
run rename4
expect_status "rename of a missing column exits 3" 3

# ---------------------------------------------------------------- cast
pipeline cast1 "" -- "{type: select, fields: [id, price, code]}" \
    "{type: cast, fields: {id: string, price: string, code: int64}, on_error: \"null\"}"
run cast1
expect_records "cast numbers to strings and strings to int64; on_error null" cast1 \
'{"id":"1","price":"12.5","code":42}
{"id":"2","price":"8","code":null}
{"id":"3","price":"20.25","code":-5}
{"id":"4","price":null,"code":null}'

pipeline cast2 "" -- "{type: cast, fields: {code: int64}}"
run cast2
expect_status "cast failure with on_error fail exits 5" 5
expect_stderr "the cast error names row, column and value" "row 2.*column 'code'.*\"x7\""

pipeline cast3 "rejects: rejects.ndjson" -- "{type: select, fields: [id, code]}" \
    "{type: cast, fields: {code: int64}, on_error: reject}"
run cast3
expect_records "cast on_error reject drops the bad record" cast3 \
'{"id":1,"code":42}
{"id":3,"code":-5}
{"id":4,"code":null}'
if [ -f rejects.ndjson ] && [ "$(wc -l < rejects.ndjson)" -eq 1 ] &&
   [ "$(jq -r .record rejects.ndjson | jq -c .)" = '{"id":2,"code":"x7"}' ] &&
   jq -r .reason rejects.ndjson | grep -q "code"; then
    ok "the rejected record goes to the rejects file as JSON with a reason"
else
    not_ok "the rejected record goes to the rejects file as JSON with a reason"
    sed 's/^/#   /' rejects.ndjson 2>/dev/null
fi

pipeline cast4 "" -- "{type: cast, fields: {code: int64}, on_error: reject}"
run cast4
expect_status "cast on_error reject without a rejects file exits 5" 5

pipeline cast5 "" -- "{type: select, fields: [id, updated_at, price]}" \
    "{type: derive, column: day, expr: updated_at}" "{type: derive, column: amount, expr: price}" \
    "{type: cast, fields: {updated_at: timestamp, day: date, amount: \"decimal(12,2)\"}}" \
    "{type: select, fields: [id, updated_at, day, amount]}"
run cast5
expect_raw "cast ISO strings to timestamp and date, doubles to decimal(12,2)" cast5 \
'{"id":1,"updated_at":"2024-05-01T10:20:30Z","day":"2024-05-01","amount":12.50}
{"id":2,"updated_at":"2024-12-31T21:59:59Z","day":"2024-12-31","amount":8.00}
{"id":3,"updated_at":"2023-01-15T00:00:00Z","day":"2023-01-15","amount":20.25}
{"id":4,"updated_at":null,"day":null,"amount":null}'

pipeline cast6 "" -- "{type: cast, fields: {price: \"decimal(50,2)\"}}"
run cast6
expect_status "cast to an invalid type exits 3" 3
expect_stderr "the cast type error lists the types" "unknown type 'decimal\(50,2\)'.*types: string"

# ---------------------------------------------------------------- filter
pipeline filter1 "" -- "{type: filter, expr: \"price > 10 and brand.country == 'FR' and discount is not null\"}" \
    "{type: select, fields: [id]}"
run filter1
expect_records "filter with and, a nested path and is not null" filter1 \
'{"id":1}
{"id":3}'

pipeline filter2 "" -- "{type: filter, expr: \"big > 9007199254740992 or big == -9223372036854775808\"}" \
    "{type: select, fields: [id, big]}"
run filter2
expect_raw "filter compares int64 exactly past 2^53 and keeps values exact" filter2 \
'{"id":1,"big":9223372036854775807}
{"id":2,"big":-9223372036854775808}
{"id":3,"big":9007199254740993}'

pipeline filter3 "" -- "{type: filter, expr: \"not (qty > 2)\"}" "{type: select, fields: [id]}"
run filter3
expect_records "filter: a null condition drops the row (not null is null)" filter3 '{"id":4}'

pipeline filter4 "" -- "{type: filter, expr: \"price > 10 and\"}"
run filter4
expect_status "an expression syntax error exits 3" 3
expect_stderr "the syntax error gives the file position and the column in the expression" \
    "filter4.yaml:[0-9]+:[0-9]+: .*column 15"

pipeline filter5 "" -- "{type: filter, expr: \"pricee > 1\"}"
run filter5
expect_status "an unknown column in an expression exits 3" 3
expect_stderr "the unknown column is named and the columns listed" \
    "unknown column 'pricee'.*columns: id, name, price"

pipeline filter6 "" -- "{type: filter, expr: \"name > 1\"}"
run filter6
expect_status "comparing a string with a number exits 3" 3
expect_stderr "the type error says what cannot be compared" "cannot compare string with int64"

pipeline filter7 "" -- "{type: filter, expr: \"price + 1\"}"
run filter7
expect_status "a filter expression that is not a condition exits 3" 3

pipeline filter8 "" -- "{type: filter, expr: \"updated_at >= '2024-06-01' or lower(name) == 'delta'\"}" \
    "{type: select, fields: [id]}"
run filter8
expect_records "filter on strings and functions" filter8 \
'{"id":2}
{"id":4}'

# ---------------------------------------------------------------- derive
pipeline derive1 "" -- "{type: derive, column: dt, expr: \"date(updated_at)\"}" "{type: select, fields: [id, dt]}"
run derive1
expect_records "derive date() from ISO strings (UTC day)" derive1 \
'{"id":1,"dt":"2024-05-01"}
{"id":2,"dt":"2024-12-31"}
{"id":3,"dt":"2023-01-15"}
{"id":4,"dt":null}'

pipeline derive2 "" -- \
    "{type: derive, column: total, expr: \"price * qty\"}" \
    "{type: derive, column: key, expr: \"concat(upper(brand.country), '-', id)\"}" \
    "{type: derive, column: label, expr: \"coalesce(name, 'unknown')\"}" \
    "{type: derive, column: ym, expr: \"year(updated_at) * 100 + month(updated_at)\"}" \
    "{type: derive, column: n, expr: \"length(lower(name))\"}" \
    "{type: derive, column: calc, expr: \"id * 10 + 1 - id % 2\"}" \
    "{type: derive, column: ratio, expr: \"id / 4\"}" \
    "{type: select, fields: [id, total, key, label, ym, n, calc, ratio]}"
run derive2
expect_records "derive arithmetic, concat, upper, lower, coalesce, year, month, length" derive2 \
'{"id":1,"total":37.5,"key":"FR-1","label":"Alpha","ym":202405,"n":5,"calc":10,"ratio":0.25}
{"id":2,"total":null,"key":"DE-2","label":"beta","ym":202412,"n":4,"calc":21,"ratio":0.5}
{"id":3,"total":101.25,"key":"FR-3","label":"unknown","ym":202301,"n":null,"calc":30,"ratio":0.75}
{"id":4,"total":null,"key":"-4","label":"Delta","ym":null,"n":5,"calc":41,"ratio":1}'

pipeline derive3 "" -- "{type: derive, column: next, expr: \"big + 1\"}" \
    "{type: derive, column: low, expr: \"-9223372036854775808\"}" "{type: select, fields: [id, next, low]}"
run derive3
expect_raw "derive int64 arithmetic is exact; overflow gives null" derive3 \
'{"id":1,"next":null,"low":-9223372036854775808}
{"id":2,"next":-9223372036854775807,"low":-9223372036854775808}
{"id":3,"next":9007199254740994,"low":-9223372036854775808}
{"id":4,"next":1,"low":-9223372036854775808}'

pipeline derive4 "" -- "{type: select, fields: [id, name, qty]}" "{type: derive, column: name, expr: \"upper(name)\"}"
run derive4
expect_raw "derive replaces a column of the same name in place" derive4 \
'{"id":1,"name":"ALPHA","qty":3}
{"id":2,"name":"BETA","qty":null}
{"id":3,"name":null,"qty":5}
{"id":4,"name":"DELTA","qty":2}'

pipeline derive5 "" -- "{type: derive, column: x, expr: \"upper(id)\"}"
run derive5
expect_status "a function given the wrong type exits 3" 3
expect_stderr "the error says what the function needs" "upper\(\) needs a string, got int64"

pipeline derive6 "" -- "{type: derive, column: x, expr: \"nofunc(id)\"}"
run derive6
expect_status "an unknown function exits 3" 3
expect_stderr "the unknown function error lists the functions" "unknown function 'nofunc'.*date, year"

# ---------------------------------------------------------------- flatten
pipeline flatten1 "" -- "{type: select, fields: [id, brand]}" "{type: flatten}"
run flatten1
expect_records "flatten turns struct fields into dotted columns" flatten1 \
'{"id":1,"brand.name":"Acme","brand.country":"FR"}
{"id":2,"brand.name":"Bolt","brand.country":"DE"}
{"id":3,"brand.name":"Cora","brand.country":"FR"}
{"id":4,"brand.name":null,"brand.country":null}'

pipeline flatten2 "" -- "{type: select, fields: [id, brand]}" "{type: flatten, separator: _}" \
    "{type: filter, expr: \"brand_country == 'FR'\"}"
run flatten2
expect_records "flatten with a separator, then filter on the flattened name" flatten2 \
'{"id":1,"brand_name":"Acme","brand_country":"FR"}
{"id":3,"brand_name":"Cora","brand_country":"FR"}'

# ---------------------------------------------------------------- chains
pipeline chain1 "" -- "{type: select, fields: [id, name, price, updated_at, brand]}" \
    "{type: rename, fields: {brand.name: brand}}" \
    "{type: derive, column: dt, expr: \"date(updated_at)\"}" \
    "{type: filter, expr: \"dt >= '2024-01-01' and price is not null\"}" \
    "{type: select, fields: [id, brand, dt]}"
run chain1
expect_records "select, rename, derive, filter, select chained" chain1 \
'{"id":1,"brand":"Acme","dt":"2024-05-01"}
{"id":2,"brand":"Bolt","dt":"2024-12-31"}'

pipeline chain2 "batch: {records: 1}" -- "{type: flatten}" "{type: rename, fields: {brand.country: country}}" \
    "{type: filter, expr: \"brand.name != 'Bolt' and country is not null\"}" \
    "{type: derive, column: big, expr: \"big - 1\"}" "{type: select, fields: [id, brand.name, country, big]}"
run chain2
expect_raw "flattened dotted names work in rename, filter and select, one record per batch" chain2 \
'{"id":1,"brand.name":"Acme","country":"FR","big":9223372036854775806}
{"id":3,"brand.name":"Cora","country":"FR","big":9007199254740992}'

run_etl "${PLUGIN_ARGS[@]}" plugins --describe transform
if [ "$RUN_STATUS" -eq 0 ] && grep -q "on_error" "$TAP_TMP/stdout" && grep -q "ignore_missing" "$TAP_TMP/stdout"; then
    ok "plugins --describe transform documents the options"
else
    not_ok "plugins --describe transform documents the options (exit $RUN_STATUS)"
fi

done_testing
