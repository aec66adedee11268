#!/usr/bin/env bash
# make install with DESTDIR: the installed etl finds its installed plugins
# without flags, and the header and pkg-config file let a plugin be built
# out of tree.
. "$ETL_SRCDIR/tests/lib/tap.sh"
tap_tmpdir
dest=$TAP_TMP/dest
if ! make -s -C "$ETL_BUILDDIR" install DESTDIR="$dest" >"$TAP_TMP/install.log" 2>&1; then
    not_ok "make install DESTDIR=... succeeds"; sed 's/^/#   /' "$TAP_TMP/install.log" | tail -20
    done_testing; exit
fi
ok "make install DESTDIR=... succeeds"
prefix=$(sed -n 's/^prefix = //p' "$ETL_BUILDDIR/Makefile")
bin=$(find "$dest" -type f -name etl -perm -u+x | head -1)
check "etl is installed" test -n "$bin"
check "file.so is installed under pkglibdir/plugins" test -f "$dest$prefix/lib/etl/plugins/file.so"
check "plugin.h is installed" test -f "$dest$prefix/include/etl/plugin.h"
check "etl-plugin.pc is installed" test -f "$dest$prefix/lib/pkgconfig/etl-plugin.pc"

# Run the installed binary away from the build tree, with no plugin flags.
out=$(cd / && env -u ETL_PLUGIN_PATH "$bin" plugins 2>&1)
check "the installed etl finds its installed plugins" sh -c "echo '$out' | grep -q 'lib/etl/plugins/file.so'"

# An out-of-tree plugin built from the installed header alone.
cat > "$TAP_TMP/counter.c" <<'C'
#include <etl/plugin.h>
static const etl_host_api *host;
typedef struct { etl_ctx *ctx; int64_t next, count; } counter;
static etl_status c_open(etl_ctx *ctx, const etl_options *o, void **state) {
    counter *c = host->alloc(sizeof *c); c->ctx = ctx; c->next = 0;
    if (!host->opt_int(o, "count", &c->count)) c->count = 3;
    *state = c; return ETL_OK;
}
static etl_status c_read(void *state, etl_builder *b, int64_t max, int64_t max_bytes) {
    counter *c = state; int32_t col = host->builder_field(b, ETL_ROOT, "n", 1);
    for (int64_t i = 0; i < max && c->next < c->count; i++, c->next++) {
        host->builder_begin_record(b); host->append_int64(b, col, c->next); host->builder_end_record(b);
    }
    return c->next == c->count ? ETL_END : ETL_OK;
}
static void c_close(void *state) { host->free(state); }
static const etl_source_vtable vt = {.struct_size = sizeof vt, .open = c_open, .read = c_read, .close = c_close};
static const etl_option_spec opts[] = {{"count", ETL_OPT_INT, "3", "how many records", 0, NULL}, {0}};
static const etl_connector conn = {.struct_size = sizeof conn, .kind = ETL_KIND_SOURCE, .name = "counter",
    .summary = "counts", .options = opts, .option_spec_size = sizeof(etl_option_spec), .vtable = &vt};
static const etl_connector *const conns[] = {&conn, NULL};
static const etl_plugin_descriptor desc = {.struct_size = sizeof desc, .abi_major = ETL_ABI_MAJOR,
    .abi_minor = ETL_ABI_MINOR, .min_host_minor = 0, .name = "counter", .version = "1.0",
    .summary = "test", .connectors = conns};
ETL_PLUGIN_DEFINE(counter, desc, host)
C
mkdir -p "$TAP_TMP/myplugins"
cflags=$(PKG_CONFIG_PATH="$dest$prefix/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$dest" pkg-config --cflags etl-plugin)
check "a third-party plugin builds against the installed header with pkg-config" \
    cc -std=c99 -Wall -Werror $cflags -shared -fPIC -o "$TAP_TMP/myplugins/counter.so" "$TAP_TMP/counter.c"
printf 'pipeline: c\nsource: {type: counter, count: 5}\nsink: {type: file, path: %s/cout}\n' "$TAP_TMP" > "$TAP_TMP/c.yaml"
(cd / && ETL_PLUGIN_PATH="$TAP_TMP/myplugins" "$bin" --quiet run "$TAP_TMP/c.yaml")
check "the installed etl runs the third-party source" test "$(cat "$TAP_TMP"/cout/*.ndjson 2>/dev/null | wc -l)" -eq 5
done_testing
