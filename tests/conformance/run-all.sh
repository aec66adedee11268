#!/bin/bash
# The plugin conformance suite as one TAP stream:
#  1. etl-conformance on every plugin in $ETL_TEST_PLUGIN_DIR, with its
#     fixture (tests/conformance/fixtures/<plugin>.yaml) when there is one;
#     each program's test points are renumbered into this stream. Then on
#     the connectors built into the host (--builtin, fixtures/builtin.yaml).
#  2. every deliberately broken plugin in $ETL_TEST_BROKEN_DIR is refused by
#     `etl plugins` and by etl-conformance with the loader's message, and
#     nothing crashes.
. "$ETL_SRCDIR/tests/lib/tap.sh"
tap_tmpdir

CONFORMANCE="$ETL_BUILDDIR/tests/conformance/etl-conformance"
FIXTURES="$ETL_SRCDIR/tests/conformance/fixtures"
ABI_MAJOR=$(sed -n 's/^#define ETL_ABI_MAJOR \([0-9]*\).*/\1/p' "$ETL_SRCDIR/include/etl/plugin.h")
ABI_MINOR=$(sed -n 's/^#define ETL_ABI_MINOR \([0-9]*\).*/\1/p' "$ETL_SRCDIR/include/etl/plugin.h")

# relay_tap NAME FILE STATUS: re-emits a TAP file's test points as ours,
# prefixed with NAME; a non-zero exit without a failed point is a failure too.
relay_tap() {
    local name=$1 file=$2 status=$3 points=0 failed=0 line rest
    while IFS= read -r line; do
        case $line in
        "not ok "*)
            rest=${line#not ok }; rest=${rest#* - }
            points=$((points + 1)); failed=$((failed + 1)); not_ok "$name: $rest" ;;
        "ok "*)
            rest=${line#ok }; rest=${rest#* - }
            points=$((points + 1)); ok "$name: $rest" ;;
        "#"*) echo "$line" ;;
        1..*) ;;
        *) diag "$name: $line" ;;
        esac
    done <"$file"
    if [ "$points" -eq 0 ]; then
        not_ok "$name: etl-conformance printed no test points (exit $status)"
    elif [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
        not_ok "$name: etl-conformance exited with status $status though every check passed"
    fi
}

run_conformance() {
    local so=$1 name fixture
    name=$(basename "$so" .so)
    fixture="$FIXTURES/$name.yaml"
    if [ -f "$fixture" ]; then
        "$CONFORMANCE" --fixture "$fixture" "$so" >"$TAP_TMP/conf.out" 2>"$TAP_TMP/conf.err"
    else
        diag "$name: no fixture ($fixture): checks that need one are skipped"
        "$CONFORMANCE" "$so" >"$TAP_TMP/conf.out" 2>"$TAP_TMP/conf.err"
    fi
    local status=$?
    relay_tap "$name" "$TAP_TMP/conf.out" "$status"
    if [ "$status" -ne 0 ]; then
        sed 's/^/#   stderr: /' "$TAP_TMP/conf.err" | head -40
    fi
}

# A directory that holds only the given plugin file (same name: the entry
# symbol carries the module name).
only_dir() {
    local dir="$TAP_TMP/only-$(basename "$1" .so)"
    mkdir -p "$dir" && chmod 755 "$dir" && cp "$1" "$dir/" && chmod 644 "$dir/$(basename "$1")"
    echo "$dir"
}

# expect_output DESCRIPTION TEXT: the last run's stdout or stderr has TEXT.
expect_output() {
    if grep -Fq -- "$2" "$TAP_TMP/stdout" "$TAP_TMP/stderr"; then ok "$1"; else
        not_ok "$1 (output lacks: $2)"
        sed 's/^/#   /' "$TAP_TMP/stdout" "$TAP_TMP/stderr" | head -30
    fi
}

expect_no_crash() {
    if [ "$RUN_STATUS" -lt 126 ]; then ok "$1"; else not_ok "$1 (exit $RUN_STATUS: not run, or killed by a signal)"; fi
}

check_broken() {
    local module=$1 message=$2 so="$ETL_TEST_BROKEN_DIR/$1.so" dir
    if [ ! -f "$so" ]; then
        not_ok "$module: $so was not built"
        return
    fi
    dir=$(only_dir "$so")
    ETL_PLUGIN_PATH=$dir run_etl plugins
    expect_no_crash "$module: etl plugins does not crash"
    expect_output "$module: etl plugins reports the refusal" "$dir/$module.so: $message"

    "$CONFORMANCE" "$dir/$module.so" >"$TAP_TMP/stdout" 2>"$TAP_TMP/stderr"
    RUN_STATUS=$?
    if [ "$RUN_STATUS" -eq 1 ]; then ok "$module: etl-conformance fails cleanly (exit 1)"; else
        not_ok "$module: etl-conformance fails cleanly (exit $RUN_STATUS, wanted 1)"
    fi
    expect_output "$module: etl-conformance says why" "$module.so: $message"
    if grep -q '^not ok 1 - ' "$TAP_TMP/stdout" && grep -q '^1\.\.1$' "$TAP_TMP/stdout"; then
        ok "$module: etl-conformance prints a failed TAP plan"
    else
        not_ok "$module: etl-conformance prints a failed TAP plan"
    fi
}

# ---- 1. every built plugin passes the suite
found=0
for so in "$ETL_TEST_PLUGIN_DIR"/*.so; do
    [ -f "$so" ] || continue
    found=1
    run_conformance "$so"
done
[ "$found" -eq 1 ] && ok "plugins found in $ETL_TEST_PLUGIN_DIR" || not_ok "no plugins in $ETL_TEST_PLUGIN_DIR"

# ---- 1b. the host's built-in connectors (the file state store)
"$CONFORMANCE" --builtin --fixture "$FIXTURES/builtin.yaml" >"$TAP_TMP/conf.out" 2>"$TAP_TMP/conf.err"
status=$?
relay_tap builtin "$TAP_TMP/conf.out" "$status"
if [ "$status" -ne 0 ]; then
    sed 's/^/#   stderr: /' "$TAP_TMP/conf.err" | head -40
fi

# ---- 2. the broken plugins are refused with the loader's messages
check_broken wrong_major \
    "built for plugin ABI $((ABI_MAJOR + 1)).0, this etl speaks $ABI_MAJOR.$ABI_MINOR: rebuild the plugin against etl's headers"
check_broken newer_minor \
    "requires host ABI minor >= $((ABI_MINOR + 5)), this etl has $ABI_MAJOR.$ABI_MINOR: upgrade etl"
check_broken missing_callback \
    "connector 'incomplete' (source) lacks the required callback 'read'"

# ---- 3. files that are not plugins, and unsafe places, are refused too
junk="$TAP_TMP/junk"
mkdir -p "$junk" && chmod 755 "$junk" && echo "not a shared object" >"$junk/junk.so"
ETL_PLUGIN_PATH=$junk run_etl plugins
expect_no_crash "junk.so: etl plugins does not crash"
expect_output "junk.so: etl plugins says it cannot load it" "$junk/junk.so: cannot load: "

good=$(ls "$ETL_TEST_PLUGIN_DIR"/*.so 2>/dev/null | head -1)
if [ -n "$good" ]; then
    open_dir=$(only_dir "$good")
    chmod 777 "$open_dir"
    ETL_PLUGIN_PATH=$open_dir run_etl plugins
    expect_output "a world-writable plugin directory is refused" \
        "refusing to load a plugin from a world-writable directory (mode 0777)"
    chmod 755 "$open_dir"
else
    skip "a world-writable plugin directory is refused: no plugin built"
fi

done_testing
