#!/bin/bash
# Builds the deployment zip of an `etl` Lambda function (runtime
# provided.al2023; docs/lambda.md):
#
#   bootstrap                 sh: exec bin/etl lambda, with the paths below
#   bin/etl
#   lib/etl/plugins/*.so      the plugins
#   lib/*.so*                 the shared libraries etl and the plugins need
#                             (from ldd; glibc itself is the system's)
#   pipelines/                the pipeline files events name
#
# Usage: deploy/package-lambda.sh [--build DIR | --prefix DIR] [--pipelines DIR]
#                                 [--plugin-dir DIR]... [-o FILE] [--allow-sanitizers]
#   --build DIR       a build tree (DIR/etl, DIR/plugins/.libs/*.so); default: .
#   --prefix DIR      an installed tree instead (DIR/bin/etl, DIR/lib/etl/plugins/*.so),
#                     e.g. after 'make install DESTDIR=/tmp/stage' with DIR=/tmp/stage/usr/local
#   --pipelines DIR   copied as pipelines/ (default: ./pipelines)
#   --plugin-dir DIR  more plugins (*.so) to include; repeatable
#   -o FILE           the zip to write (default: etl-lambda.zip)
#   --allow-sanitizers  package a sanitizer build anyway (tests only: it is slow
#                     and needs libasan at run time)
set -euo pipefail

die() { echo "package-lambda: $*" >&2; exit 1; }

BUILD="" PREFIX="" PIPELINES=./pipelines OUTPUT=etl-lambda.zip ALLOW_SAN=0
EXTRA_PLUGIN_DIRS=()
while [ $# -gt 0 ]; do
    case $1 in
    --build) BUILD=${2:?--build needs a directory}; shift 2 ;;
    --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
    --pipelines) PIPELINES=${2:?--pipelines needs a directory}; shift 2 ;;
    --plugin-dir) EXTRA_PLUGIN_DIRS+=("${2:?--plugin-dir needs a directory}"); shift 2 ;;
    -o | --output) OUTPUT=${2:?-o needs a file name}; shift 2 ;;
    --allow-sanitizers) ALLOW_SAN=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
    esac
done
[ -n "$BUILD" ] && [ -n "$PREFIX" ] && die "give --build or --prefix, not both"
if [ -n "$PREFIX" ]; then
    ETL="$PREFIX/bin/etl"
    PLUGIN_DIRS=("$PREFIX/lib/etl/plugins")
else
    BUILD=${BUILD:-.}
    ETL="$BUILD/etl"
    PLUGIN_DIRS=("$BUILD/plugins/.libs")
fi
PLUGIN_DIRS+=("${EXTRA_PLUGIN_DIRS[@]+"${EXTRA_PLUGIN_DIRS[@]}"}")
[ -x "$ETL" ] || die "no etl binary at $ETL (build first, or give --build/--prefix)"
head -c 4 "$ETL" | grep -q 'ELF' ||
    die "$ETL is not an ELF binary (a libtool wrapper?): use 'make install' and --prefix"
[ -d "$PIPELINES" ] || die "no pipelines directory at $PIPELINES (--pipelines DIR)"
command -v ldd >/dev/null || die "ldd is needed to find the shared libraries"

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/etl-lambda.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/bin" "$STAGE/lib/etl/plugins" "$STAGE/pipelines"

cp -L "$ETL" "$STAGE/bin/etl"
for dir in "${PLUGIN_DIRS[@]}"; do
    [ -d "$dir" ] || die "no plugin directory at $dir"
    for so in "$dir"/*.so; do
        [ -e "$so" ] && cp -L "$so" "$STAGE/lib/etl/plugins/"
    done
done
[ -n "$(ls "$STAGE/lib/etl/plugins")" ] || die "no plugins (*.so) found in ${PLUGIN_DIRS[*]}"
cp -R "$PIPELINES"/. "$STAGE/pipelines/"

# glibc is the system's own (Amazon Linux 2023 ships it): never copy it.
is_glibc() {
    case $(basename "$1") in
    libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | libresolv.so.* | \
        libutil.so.* | libanl.so.* | libnss_*.so.* | ld-linux*.so.* | linux-vdso.so.*) return 0 ;;
    esac
    return 1
}

# The libraries every binary needs, from ldd ("name => /path (addr)").
libraries=$(for f in "$STAGE/bin/etl" "$STAGE"/lib/etl/plugins/*.so; do
    ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3}'
done | sort -u)
missing=$(for f in "$STAGE/bin/etl" "$STAGE"/lib/etl/plugins/*.so; do
    ldd "$f" 2>/dev/null | awk '/not found/ {print $1}'
done | sort -u)
[ -z "$missing" ] || die "libraries not found on this system: $(echo $missing)"
if [ $ALLOW_SAN = 0 ] && echo "$libraries" | grep -Eq '/lib(asan|ubsan|tsan|lsan)\.so'; then
    die "this is a sanitizer build (it links libasan/libubsan): configure without --enable-sanitizers"
fi
copied=0
for lib in $libraries; do
    is_glibc "$lib" && continue
    cp -L "$lib" "$STAGE/lib/"
    copied=$((copied + 1))
done

# Binaries built against a newer glibc than Amazon Linux 2023's (2.34) do
# not start there: build in an AL2023 container then.
if command -v objdump >/dev/null; then
    newest=$(for f in "$STAGE/bin/etl" "$STAGE"/lib/*.so* "$STAGE"/lib/etl/plugins/*.so; do
        objdump -T "$f" 2>/dev/null | grep -o 'GLIBC_2\.[0-9]*' || true
    done | sort -t. -k2 -n -u | tail -1)
    if [ -n "$newest" ] && [ "${newest#GLIBC_2.}" -gt 34 ]; then
        echo "package-lambda: warning: the binaries need $newest; Amazon Linux 2023 has glibc 2.34." \
            "Build in an AL2023 container (docs/lambda.md) or the function will not start." >&2
    fi
fi

cat >"$STAGE/bootstrap" <<'EOF'
#!/bin/sh
# The entry point of the provided.al2023 runtime: etl serves the invocations.
ROOT=${LAMBDA_TASK_ROOT:-$(cd "$(dirname "$0")" && pwd)}
export ETL_PLUGIN_PATH="$ROOT/lib/etl/plugins${ETL_PLUGIN_PATH:+:$ETL_PLUGIN_PATH}"
export LD_LIBRARY_PATH="$ROOT/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$ROOT/bin/etl" --log-format "${ETL_LOG_FORMAT:-text}" lambda
EOF
chmod 0755 "$STAGE/bootstrap" "$STAGE/bin/etl"
chmod -R u+rwX,go+rX "$STAGE"

case $OUTPUT in /*) out=$OUTPUT ;; *) out=$PWD/$OUTPUT ;; esac
rm -f "$out"
if command -v zip >/dev/null; then
    (cd "$STAGE" && zip -q -r -X "$out" bootstrap bin lib pipelines)
else
    # zipfile keeps the Unix modes, so bootstrap stays executable.
    (cd "$STAGE" && python3 -m zipfile -c "$out" bootstrap bin lib pipelines)
fi
echo "package-lambda: wrote $OUTPUT: etl, $(ls "$STAGE/lib/etl/plugins" | wc -l) plugins," \
    "$copied libraries, $(find "$STAGE/pipelines" -type f | wc -l) pipeline files" \
    "($(du -k "$out" | cut -f1) KiB)"
