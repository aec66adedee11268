#!/usr/bin/env bash
# Runs every test: installs what the build needs, then builds and runs the
# suite twice (optimised, and under AddressSanitizer + UndefinedBehaviorSanitizer
# with LeakSanitizer), checks `make distcheck`, and ends with one line
# "tests: N passed, N failed[, N skipped]" counting every test point.
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc 2>/dev/null || echo 2)

"$top/tests/install-deps.sh" || { echo "tests: 0 passed, 1 failed"; exit 1; }

# The suites written by others (JSONTestSuite, AWS SigV4 vectors) sit in
# ../shared/data; say so explicitly so that distcheck's copy finds them too.
[ -d "$top/../shared/data" ] && export ETL_SHARED_DATA="$(cd "$top/../shared/data" && pwd)"

passed=0 failed=0 skipped=0
tally() {   # tally BUILD_DIR: adds the counts of its test-suite.log
    local log=$1/test-suite.log
    if [ ! -f "$log" ]; then failed=$((failed + 1)); return; fi
    local n
    n=$(sed -n 's/^# PASS: *//p' "$log"); passed=$((passed + ${n:-0}))
    n=$(sed -n 's/^# XFAIL: *//p' "$log"); passed=$((passed + ${n:-0}))
    n=$(sed -n 's/^# SKIP: *//p' "$log"); skipped=$((skipped + ${n:-0}))
    for key in FAIL XPASS ERROR; do
        n=$(sed -n "s/^# $key: *//p" "$log"); failed=$((failed + ${n:-0}))
    done
}

build() {   # build NAME CONFIGURE_ARGS...
    local dir=$top/_build/$1; shift
    mkdir -p "$dir"
    echo "== $(basename "$dir"): configure $*"
    (cd "$dir" && "$top/configure" -q "$@") || return 1
    echo "== $(basename "$dir"): make"
    make -s -C "$dir" -j"$jobs" >/dev/null || return 1
    echo "== $(basename "$dir"): make check"
    make -s -C "$dir" -j"$jobs" check
    local status=$?
    tally "$dir"
    if [ $status -ne 0 ] && [ -f "$dir/test-suite.log" ]; then
        grep -E '^(FAIL|ERROR|XPASS):|^not ok' "$dir"/test-suite.log "$dir"/tests/*/*.log 2>/dev/null | head -40
    fi
    return 0
}

# The README's quickstart configures in the source tree; the builds here are
# out of tree, which autoconf refuses next to an in-tree configuration.
if [ -f "$top/config.status" ]; then
    echo "== cleaning the in-tree build (make distclean) for out-of-tree builds"
    make -s -C "$top" distclean >/dev/null 2>&1 || rm -f "$top/config.status"
fi
echo "== autogen.sh"
./autogen.sh >/dev/null 2>&1 || { ./autogen.sh; echo "tests: 0 passed, 1 failed"; exit 1; }

build release || { echo "build failed"; failed=$((failed + 1)); }
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    build sanitizers --enable-sanitizers \
    || { echo "sanitizer build failed"; failed=$((failed + 1)); }

# make distcheck: the tarball builds, tests, installs and uninstalls cleanly.
echo "== distcheck"
if make -s -C "$top/_build/release" distcheck >"$top/_build/distcheck.log" 2>&1; then
    passed=$((passed + 1)); echo "ok - make distcheck"
else
    failed=$((failed + 1)); echo "not ok - make distcheck (see _build/distcheck.log)"
    tail -30 "$top/_build/distcheck.log"
fi

summary="tests: $passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
