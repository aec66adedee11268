# TAP helpers for shell tests. Source it, call the checks, end with done_testing.
# Environment (set by Makefile.am): ETL_BIN, ETL_SRCDIR, ETL_BUILDDIR,
# ETL_TEST_PLUGIN_DIR, ETL_TEST_BROKEN_DIR, ETL_SHARED_DATA.
TAP_COUNT=0
TAP_FAILED=0
: "${ETL_BIN:=etl}"

ok() { TAP_COUNT=$((TAP_COUNT + 1)); echo "ok $TAP_COUNT - $*"; }
not_ok() { TAP_COUNT=$((TAP_COUNT + 1)); TAP_FAILED=$((TAP_FAILED + 1)); echo "not ok $TAP_COUNT - $*"; }
skip() { TAP_COUNT=$((TAP_COUNT + 1)); echo "ok $TAP_COUNT - # SKIP $*"; }
diag() { echo "# $*"; }

# check DESCRIPTION COMMAND...: passes when COMMAND exits 0.
check() {
    local description=$1; shift
    if "$@"; then ok "$description"; else not_ok "$description"; fi
}

# A scratch folder removed at exit.
tap_tmpdir() {
    TAP_TMP=$(mktemp -d "${TMPDIR:-/tmp}/etl-test.XXXXXX")
    trap 'rm -rf "$TAP_TMP"' EXIT
}

# run_etl ARGS...: runs etl, leaves exit status in $RUN_STATUS, stdout in
# $TAP_TMP/stdout and stderr in $TAP_TMP/stderr.
run_etl() {
    "$ETL_BIN" "$@" >"$TAP_TMP/stdout" 2>"$TAP_TMP/stderr"
    RUN_STATUS=$?
}

# expect_status DESCRIPTION STATUS: checks the last run_etl's exit status.
expect_status() {
    if [ "$RUN_STATUS" -eq "$2" ]; then ok "$1"; else
        not_ok "$1 (exit $RUN_STATUS, wanted $2)"; sed 's/^/#   /' "$TAP_TMP/stderr" | head -20
    fi
}

# expect_stderr DESCRIPTION PATTERN: the last run's stderr matches (grep -E).
expect_stderr() {
    if grep -Eq -- "$2" "$TAP_TMP/stderr"; then ok "$1"; else
        not_ok "$1 (stderr lacks /$2/)"; sed 's/^/#   /' "$TAP_TMP/stderr" | head -20
    fi
}

done_testing() {
    echo "1..$TAP_COUNT"
    [ "$TAP_FAILED" -eq 0 ]
}
