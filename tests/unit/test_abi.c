/* The plugin loader's ABI negotiation: the load rules, the refusal messages,
 * struct sizes, normalized vtables, lookups, the search path and the
 * world-writable refusal. Plugins come from $ETL_TEST_BROKEN_DIR (the three
 * deliberately broken ones) and $ETL_TEST_PLUGIN_DIR (good ones). */
#include "buf.h"
#include "plugin_loader.h"
#include "tap_runner.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static const char *env_dir(const char *name)
{
    const char *dir = getenv(name);
    ck_assert_msg(dir != NULL && dir[0] != '\0', "%s is not set (run through make check)", name);
    return dir;
}

static void broken_path(char *out, size_t len, const char *module)
{
    snprintf(out, len, "%s/%s.so", env_dir("ETL_TEST_BROKEN_DIR"), module);
}

/* The first *.so of $ETL_TEST_PLUGIN_DIR (sorted), preferring file.so. */
static void good_plugin_path(char *out, size_t len)
{
    const char *dir = env_dir("ETL_TEST_PLUGIN_DIR");
    snprintf(out, len, "%s/file.so", dir);
    if (access(out, R_OK) == 0)
        return;
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t l = strlen(names[i]->d_name);
        if (out[0] == '\0' && l > 3 && strcmp(names[i]->d_name + l - 3, ".so") == 0)
            snprintf(out, len, "%s/%s", dir, names[i]->d_name);
        free(names[i]);
    }
    free(names);
    ck_assert_msg(out[0] != '\0', "no plugin (*.so) in %s", dir);
}

static void expect_refusal(const char *module, const char *reason)
{
    char path[PATH_MAX], err[1024], want[PATH_MAX + 1024];
    broken_path(path, sizeof path, module);
    plugin_registry *reg = registry_new();
    ck_assert_ptr_nonnull(reg);
    etl_status st = registry_load_file(reg, path, err, sizeof err);
    snprintf(want, sizeof want, "%s: %s", path, reason);
    ck_assert_int_eq(st, ETL_ERR_PERMANENT);
    ck_assert_str_eq(err, want);
    ck_assert_uint_eq(registry_count(reg), 0);
    registry_free(reg);
}

/* ------------------------------------------------------------------------ */
/* The broken plugins                                                        */
/* ------------------------------------------------------------------------ */

START_TEST(refuses_wrong_major)
{
    char reason[256];
    snprintf(reason, sizeof reason,
             "built for plugin ABI %d.0, this etl speaks %d.%d: rebuild the plugin against "
             "etl's headers", ETL_ABI_MAJOR + 1, ETL_ABI_MAJOR, ETL_ABI_MINOR);
    expect_refusal("wrong_major", reason);
}
END_TEST

START_TEST(refuses_newer_minor)
{
    char reason[256];
    snprintf(reason, sizeof reason, "requires host ABI minor >= %d, this etl has %d.%d: upgrade etl",
             ETL_ABI_MINOR + 5, ETL_ABI_MAJOR, ETL_ABI_MINOR);
    expect_refusal("newer_minor", reason);
}
END_TEST

START_TEST(refuses_missing_callback)
{
    expect_refusal("missing_callback",
                   "connector 'incomplete' (source) lacks the required callback 'read': "
                   "the plugin is incomplete; fix it and rebuild");
}
END_TEST

START_TEST(refuses_missing_file)
{
    plugin_registry *reg = registry_new();
    char err[1024];
    ck_assert_int_eq(registry_load_file(reg, "/nonexistent/x.so", err, sizeof err),
                     ETL_ERR_PERMANENT);
    ck_assert_str_eq(err, "/nonexistent/x.so: cannot read the plugin file: No such file or "
                          "directory");
    registry_free(reg);
}
END_TEST

START_TEST(load_dirs_reports_every_refusal)
{
    const char *dirs[] = {env_dir("ETL_TEST_BROKEN_DIR"), "/nonexistent-etl-plugins"};
    plugin_registry *reg = registry_new();
    etl_buf report = {0};
    etl_status st = registry_load_dirs(reg, dirs, 2, &report);
    const char *text = buf_cstr(&report);
    ck_assert_int_eq(st, ETL_ERR_PERMANENT);
    /* The folder also holds good test plugins (flaky.so); none of the
     * broken ones may be among those loaded. */
    for (size_t i = 0; i < registry_count(reg); i++) {
        const char *path = registry_at(reg, i)->path;
        ck_assert_msg(strstr(path, "wrong_major") == NULL && strstr(path, "newer_minor") == NULL &&
                          strstr(path, "missing_callback") == NULL,
                      "a broken plugin was loaded: %s", path);
    }
    ck_assert_msg(strstr(text, "wrong_major.so: built for plugin ABI 2.0") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "newer_minor.so: requires host ABI minor >= ") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "missing_callback.so: connector 'incomplete' (source) lacks the "
                               "required callback 'read'") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "/nonexistent-etl-plugins: no such directory")
                  != NULL, "%s", text);
    buf_free(&report);
    registry_free(reg);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* A good plugin                                                             */
/* ------------------------------------------------------------------------ */

START_TEST(loads_good_plugin_and_finds_its_connectors)
{
    char path[PATH_MAX], err[1024];
    good_plugin_path(path, sizeof path);
    plugin_registry *reg = registry_new();
    ck_assert_msg(registry_load_file(reg, path, err, sizeof err) == ETL_OK, "%s", err);
    ck_assert_uint_eq(registry_count(reg), 1);
    const loaded_plugin *p = registry_at(reg, 0);
    ck_assert_str_eq(p->path, path);
    ck_assert_ptr_nonnull(p->handle);
    ck_assert_uint_eq(p->desc->struct_size, sizeof(etl_plugin_descriptor));
    ck_assert_uint_eq(p->desc->abi_major, ETL_ABI_MAJOR);
    ck_assert_ptr_nonnull(p->desc->connectors[0]);
    for (size_t i = 0; p->desc->connectors[i] != NULL; i++) {
        const etl_connector *c = p->desc->connectors[i];
        const loaded_plugin *owner = NULL;
        ck_assert_ptr_eq(registry_find(reg, c->kind, c->name, &owner), c);
        ck_assert_ptr_eq(owner, p);
        ck_assert_uint_eq(c->struct_size, sizeof(etl_connector));
        ck_assert_uint_eq(c->option_spec_size, sizeof(etl_option_spec));
        ck_assert_uint_eq(*(const uint32_t *)c->vtable,
                          c->kind == ETL_KIND_SOURCE ? sizeof(etl_source_vtable)
                          : c->kind == ETL_KIND_TRANSFORM ? sizeof(etl_transform_vtable)
                          : c->kind == ETL_KIND_SINK ? sizeof(etl_sink_vtable)
                                                      : sizeof(etl_format_vtable));
    }
    ck_assert_ptr_null(registry_find(reg, ETL_KIND_SOURCE, "no-such-connector", NULL));
    if (strstr(path, "/file.so") != NULL) {
        ck_assert_ptr_nonnull(registry_find(reg, ETL_KIND_SOURCE, "file", NULL));
        ck_assert_ptr_nonnull(registry_find(reg, ETL_KIND_SINK, "file", NULL));
        ck_assert_ptr_nonnull(registry_find(reg, ETL_KIND_FORMAT, "ndjson", NULL));
        ck_assert_ptr_null(registry_find(reg, ETL_KIND_TRANSFORM, "file", NULL));
    }
    registry_free(reg);
}
END_TEST

START_TEST(second_copy_of_a_plugin_is_skipped)
{
    char path[PATH_MAX], err[1024];
    good_plugin_path(path, sizeof path);
    plugin_registry *reg = registry_new();
    ck_assert_int_eq(registry_load_file(reg, path, err, sizeof err), ETL_OK);
    ck_assert_int_eq(registry_load_file(reg, path, err, sizeof err), ETL_ERR_PERMANENT);
    ck_assert_msg(strstr(err, ": skipped: plugin '") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "is already loaded from") != NULL, "%s", err);
    ck_assert_uint_eq(registry_count(reg), 1);
    registry_free(reg);
}
END_TEST

START_TEST(load_dirs_first_plugin_name_wins)
{
    const char *dir = env_dir("ETL_TEST_PLUGIN_DIR");
    const char *dirs[] = {dir, dir};
    plugin_registry *once = registry_new();
    registry_load_dirs(once, dirs, 1, NULL);
    size_t first = registry_count(once);
    ck_assert_uint_gt(first, 0);
    registry_free(once);

    plugin_registry *reg = registry_new();
    etl_buf report = {0};
    registry_load_dirs(reg, dirs, 2, &report);
    ck_assert_uint_eq(registry_count(reg), first);
    const char *text = buf_cstr(&report);
    size_t skipped = 0;
    for (const char *p = text; (p = strstr(p, ": skipped: plugin '")) != NULL; p++)
        skipped++;
    ck_assert_msg(skipped == first, "%zu skipped, %zu loaded:\n%s", skipped, first, text);
    buf_free(&report);
    registry_free(reg);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* World-writable plugins                                                    */
/* ------------------------------------------------------------------------ */

static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    FILE *out = fopen(to, "wb");
    ck_assert_ptr_nonnull(in);
    ck_assert_ptr_nonnull(out);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
    fclose(in);
    ck_assert_int_eq(fclose(out), 0);
}

START_TEST(refuses_world_writable_file_and_directory)
{
    char src[PATH_MAX], dir[] = "/tmp/etl-abi-XXXXXX", copy[PATH_MAX + 32], err[1024];
    good_plugin_path(src, sizeof src);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    /* Same file name: the entry symbol carries the module name. */
    snprintf(copy, sizeof copy, "%s/%s", dir, strrchr(src, '/') + 1);
    copy_file(src, copy);

    plugin_registry *reg = registry_new();
    ck_assert_int_eq(chmod(copy, 0666), 0);
    ck_assert_int_eq(registry_load_file(reg, copy, err, sizeof err), ETL_ERR_PERMANENT);
    ck_assert_msg(strstr(err, "world-writable file (mode 0666)") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "chmod o-w") != NULL, "%s", err);

    ck_assert_int_eq(chmod(copy, 0644), 0);
    ck_assert_int_eq(chmod(dir, 0777), 0);
    ck_assert_int_eq(registry_load_file(reg, copy, err, sizeof err), ETL_ERR_PERMANENT);
    ck_assert_msg(strncmp(err, dir, strlen(dir)) == 0, "%s", err);
    ck_assert_msg(strstr(err, "world-writable directory (mode 0777)") != NULL, "%s", err);
    ck_assert_uint_eq(registry_count(reg), 0);

    ck_assert_int_eq(chmod(dir, 0700), 0);
    ck_assert_msg(registry_load_file(reg, copy, err, sizeof err) == ETL_OK, "%s", err);
    ck_assert_uint_eq(registry_count(reg), 1);
    registry_free(reg);
    unlink(copy);
    rmdir(dir);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* The search path                                                           */
/* ------------------------------------------------------------------------ */

static size_t index_of(char **dirs, const char *dir)
{
    for (size_t i = 0; dirs[i] != NULL; i++) {
        if (strcmp(dirs[i], dir) == 0)
            return i;
    }
    return (size_t)-1;
}

START_TEST(search_path_order)
{
    setenv("ETL_PLUGIN_PATH", "/env/a::/env/b:/extra/x", 1);
    char **dirs = registry_search_path("/extra/x:/extra/y:");
    ck_assert_ptr_nonnull(dirs);
    ck_assert_str_eq(dirs[0], "/extra/x");
    ck_assert_str_eq(dirs[1], "/extra/y");
    ck_assert_str_eq(dirs[2], "/env/a");
    ck_assert_str_eq(dirs[3], "/env/b");
    ck_assert_ptr_nonnull(dirs[4]);                     /* then the built-in places */
    ck_assert_uint_eq(index_of(dirs, "/extra/x"), 0);   /* no duplicates */
#ifdef PKGPLUGINDIR
    size_t installed = index_of(dirs, PKGPLUGINDIR);
    ck_assert_uint_ge(installed, 4);
    ck_assert_uint_ne(installed, (size_t)-1);
#endif
#ifdef ETL_ABS_BUILDDIR
    /* This test runs from the build tree, so its plugins come before the
     * installed ones. */
    char *builddir = realpath(ETL_ABS_BUILDDIR, NULL);
    char *exe = realpath("/proc/self/exe", NULL);
    if (builddir && exe && strncmp(exe, builddir, strlen(builddir)) == 0) {
        char want[PATH_MAX + 32];
        snprintf(want, sizeof want, "%s/plugins/.libs", builddir);
        ck_assert_uint_eq(index_of(dirs, want), 4);
    }
    free(builddir);
    free(exe);
#endif
    registry_free_search_path(dirs);

    unsetenv("ETL_PLUGIN_PATH");
    dirs = registry_search_path(NULL);
    ck_assert_ptr_nonnull(dirs);
    ck_assert_uint_eq(index_of(dirs, "/env/a"), (size_t)-1);
    registry_free_search_path(dirs);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Struct sizes, with in-memory descriptors                                  */
/* ------------------------------------------------------------------------ */

static etl_status t_open(etl_ctx *ctx, const etl_options *opts, void **state)
{
    *state = NULL;
    return ETL_OK;
}

static etl_status t_read(void *state, etl_builder *out, int64_t max_records, int64_t max_bytes)
{
    return ETL_END;
}

static void t_close(void *state)
{
}

static etl_status t_write(void *state, const etl_batch *batch, etl_outcome *outcomes)
{
    return ETL_OK;
}

static etl_status t_commit(void *state, const etl_commit_info *info)
{
    return ETL_OK;
}

static etl_status t_fmt_open(etl_ctx *ctx, const etl_options *opts, const etl_byte_sink *out,
                             void **state)
{
    return ETL_OK;
}

static etl_status t_fmt_write(void *state, const etl_batch *batch)
{
    return ETL_OK;
}

static etl_status t_fmt_finish(void *state)
{
    return ETL_OK;
}

static etl_status t_reader_open(etl_ctx *ctx, const etl_options *opts, const etl_byte_source *in,
                                void **state)
{
    return ETL_OK;
}

static const etl_option_spec one_option[] = {
    {.key = "path", .type = ETL_OPT_STRING, .doc = "where"},
    {.key = NULL},
};

/* A one-connector descriptor around `conn`. */
typedef struct test_plugin {
    const etl_connector *list[2];
    etl_plugin_descriptor desc;
} test_plugin;

static void make_plugin(test_plugin *tp, const char *name, const etl_connector *conn)
{
    tp->list[0] = conn;
    tp->list[1] = NULL;
    tp->desc = (etl_plugin_descriptor){
        .struct_size = sizeof(etl_plugin_descriptor),
        .abi_major = ETL_ABI_MAJOR,
        .abi_minor = ETL_ABI_MINOR,
        .name = name,
        .version = "1",
        .connectors = tp->list,
    };
}

static etl_connector make_connector(etl_connector_kind kind, const char *name, const void *vt)
{
    return (etl_connector){
        .struct_size = sizeof(etl_connector),
        .kind = kind,
        .name = name,
        .summary = "test",
        .options = one_option,
        .option_spec_size = sizeof(etl_option_spec),
        .vtable = vt,
    };
}

static etl_status add(plugin_registry *reg, const test_plugin *tp, char *err, size_t len)
{
    return registry_add_descriptor(reg, "test.so", &tp->desc, err, len);
}

START_TEST(truncated_format_vtable_has_no_reader)
{
    /* A plugin whose vtable ends before the reader: whatever follows in its
     * memory must not be read, even when it looks like pointers. */
    etl_format_vtable vt = {
        .struct_size = offsetof(etl_format_vtable, reader_open),
        .file_extension = "t",
        .writer_open = t_fmt_open,
        .write = t_fmt_write,
        .finish = t_fmt_finish,
        .writer_close = t_close,
        .reader_open = t_reader_open,        /* beyond struct_size: ignored */
        .read = t_read,
        .reader_close = (void (*)(void *))0x1,
    };
    etl_connector conn = make_connector(ETL_KIND_FORMAT, "tfmt", &vt);
    test_plugin tp;
    make_plugin(&tp, "tfmt", &conn);
    plugin_registry *reg = registry_new();
    char err[1024];
    ck_assert_msg(add(reg, &tp, err, sizeof err) == ETL_OK, "%s", err);
    const etl_connector *c = registry_find(reg, ETL_KIND_FORMAT, "tfmt", NULL);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_ne(c, &conn);
    ck_assert_ptr_ne(c->vtable, &vt);
    const etl_format_vtable *n = c->vtable;
    ck_assert_uint_eq(n->struct_size, sizeof(etl_format_vtable));
    ck_assert_ptr_null(n->reader_open);
    ck_assert_ptr_null(n->read);
    ck_assert_ptr_null(n->reader_close);
    ck_assert_ptr_nonnull(n->bytes_written);             /* host default */
    ck_assert_int_eq(n->bytes_written(NULL), -1);
    ck_assert(n->write == t_fmt_write);
    ck_assert_str_eq(n->file_extension, "t");
    registry_free(reg);
}
END_TEST

START_TEST(sink_without_abort_gets_default)
{
    etl_sink_vtable vt = {.struct_size = sizeof vt, .open = t_open, .write = t_write,
                          .commit = t_commit, .close = t_close};
    etl_connector conn = make_connector(ETL_KIND_SINK, "tsink", &vt);
    test_plugin tp;
    make_plugin(&tp, "tsink", &conn);
    plugin_registry *reg = registry_new();
    char err[1024];
    ck_assert_msg(add(reg, &tp, err, sizeof err) == ETL_OK, "%s", err);
    const etl_sink_vtable *n = registry_find(reg, ETL_KIND_SINK, "tsink", NULL)->vtable;
    ck_assert_ptr_nonnull(n->abort);
    n->abort(NULL);
    ck_assert(n->commit == t_commit);
    registry_free(reg);
}
END_TEST

START_TEST(larger_structs_from_a_newer_plugin_are_read_up_to_our_size)
{
    /* A plugin built against a later 1.x: every struct has grown. */
    struct {
        etl_source_vtable v;
        void *future[4];
    } vt = {{.struct_size = sizeof vt, .open = t_open, .read = t_read, .close = t_close}, {0}};
    struct {
        etl_connector c;
        char future[40];
    } conn = {make_connector(ETL_KIND_SOURCE, "tsrc", &vt), {0}};
    conn.c.struct_size = sizeof conn;
    struct wide_spec {
        etl_option_spec s;
        char future[24];
    } specs[] = {{{.key = "a", .type = ETL_OPT_INT, .default_value = "1", .doc = "first"}, {0}},
                 {{.key = "b", .type = ETL_OPT_BOOL, .doc = "second"}, {0}},
                 {{.key = NULL}, {0}}};
    conn.c.options = &specs[0].s;
    conn.c.option_spec_size = sizeof(struct wide_spec);
    const etl_connector *list[] = {&conn.c, NULL};
    struct {
        etl_plugin_descriptor d;
        char future[16];
    } desc = {{.struct_size = sizeof desc, .abi_major = ETL_ABI_MAJOR,
               .abi_minor = ETL_ABI_MINOR + 2, .min_host_minor = ETL_ABI_MINOR,
               .name = "wide", .version = "2", .connectors = list}, {0}};
    plugin_registry *reg = registry_new();
    char err[1024];
    ck_assert_msg(registry_add_descriptor(reg, "wide.so", &desc.d, err, sizeof err) == ETL_OK,
                  "%s", err);
    const etl_connector *c = registry_find(reg, ETL_KIND_SOURCE, "tsrc", NULL);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(c->struct_size, sizeof(etl_connector));
    ck_assert_uint_eq(c->option_spec_size, sizeof(etl_option_spec));
    ck_assert_str_eq(c->options[0].key, "a");
    ck_assert_str_eq(c->options[0].default_value, "1");
    ck_assert_str_eq(c->options[1].key, "b");
    ck_assert_int_eq(c->options[1].type, ETL_OPT_BOOL);
    ck_assert_ptr_null(c->options[2].key);
    const etl_source_vtable *n = c->vtable;
    ck_assert_uint_eq(n->struct_size, sizeof(etl_source_vtable));
    ck_assert_ptr_null(n->checkpoint);                   /* absent: not resumable */
    ck_assert_ptr_null(n->restore);
    ck_assert_uint_eq(registry_at(reg, 0)->desc->struct_size, sizeof(etl_plugin_descriptor));
    ck_assert_uint_eq(registry_at(reg, 0)->desc->abi_minor, ETL_ABI_MINOR + 2);
    registry_free(reg);
}
END_TEST

START_TEST(smaller_option_spec_stride)
{
    /* An older plugin whose option spec ended after `doc`. */
    struct old_spec {
        const char *key;
        etl_option_type type;
        const char *default_value;
        const char *doc;
    } specs[] = {{"x", ETL_OPT_STRING, "v", "the x"}, {"y", ETL_OPT_INT, NULL, "the y"},
                 {NULL, 0, NULL, NULL}};
    etl_source_vtable vt = {.struct_size = sizeof vt, .open = t_open, .read = t_read,
                            .close = t_close};
    etl_connector conn = make_connector(ETL_KIND_SOURCE, "old", &vt);
    conn.options = (const etl_option_spec *)(const void *)specs;
    conn.option_spec_size = sizeof(struct old_spec);
    test_plugin tp;
    make_plugin(&tp, "old", &conn);
    plugin_registry *reg = registry_new();
    char err[1024];
    ck_assert_msg(add(reg, &tp, err, sizeof err) == ETL_OK, "%s", err);
    const etl_connector *c = registry_find(reg, ETL_KIND_SOURCE, "old", NULL);
    ck_assert_str_eq(c->options[1].key, "y");
    ck_assert_str_eq(c->options[1].doc, "the y");
    ck_assert_uint_eq(c->options[1].flags, 0);
    ck_assert_ptr_null(c->options[1].choices);
    ck_assert_ptr_null(c->options[2].key);
    registry_free(reg);
}
END_TEST

START_TEST(truncated_source_vtable_lacks_close)
{
    etl_source_vtable vt = {.struct_size = offsetof(etl_source_vtable, close), .open = t_open,
                            .read = t_read, .close = t_close};
    etl_connector conn = make_connector(ETL_KIND_SOURCE, "short", &vt);
    test_plugin tp;
    make_plugin(&tp, "short", &conn);
    plugin_registry *reg = registry_new();
    char err[1024];
    ck_assert_int_eq(add(reg, &tp, err, sizeof err), ETL_ERR_PERMANENT);
    ck_assert_str_eq(err, "test.so: connector 'short' (source) lacks the required callback "
                          "'close': the plugin is incomplete; fix it and rebuild");
    ck_assert_uint_eq(registry_count(reg), 0);
    registry_free(reg);
}
END_TEST

START_TEST(refuses_bad_descriptors)
{
    etl_source_vtable vt = {.struct_size = sizeof vt, .open = t_open, .read = t_read,
                            .close = t_close};
    etl_connector conn = make_connector(ETL_KIND_SOURCE, "s", &vt);
    test_plugin tp;
    plugin_registry *reg = registry_new();
    char err[1024];

    make_plugin(&tp, "p", &conn);
    tp.desc.struct_size = 4;
    ck_assert_int_eq(add(reg, &tp, err, sizeof err), ETL_ERR_PERMANENT);
    ck_assert_msg(strstr(err, "descriptor struct_size 4 is too small") != NULL, "%s", err);

    make_plugin(&tp, "p", &conn);
    tp.desc.struct_size = offsetof(etl_plugin_descriptor, connectors);
    ck_assert_int_eq(add(reg, &tp, err, sizeof err), ETL_ERR_PERMANENT);
    ck_assert_msg(strstr(err, "smaller than the ABI 1.0 minimum") != NULL, "%s", err);

    make_plugin(&tp, "", &conn);
    ck_assert_int_eq(add(reg, &tp, err, sizeof err), ETL_ERR_PERMANENT);
    ck_assert_msg(strstr(err, "no plugin name") != NULL, "%s", err);

    etl_connector small = conn;
    small.struct_size = offsetof(etl_connector, vtable);
    make_plugin(&tp, "p", &small);
    ck_assert_int_eq(add(reg, &tp, err, sizeof err), ETL_ERR_PERMANENT);
    ck_assert_msg(strstr(err, "connector #1: struct_size") != NULL, "%s", err);

    etl_connector odd = conn;
    odd.kind = (etl_connector_kind)42;
    make_plugin(&tp, "p", &odd);
    ck_assert_int_eq(add(reg, &tp, err, sizeof err), ETL_ERR_PERMANENT);
    ck_assert_msg(strstr(err, "connector 's' has unknown kind 42") != NULL, "%s", err);

    etl_connector novt = conn;
    novt.vtable = NULL;
    make_plugin(&tp, "p", &novt);
    ck_assert_int_eq(add(reg, &tp, err, sizeof err), ETL_ERR_PERMANENT);
    ck_assert_msg(strstr(err, "has no vtable") != NULL, "%s", err);

    etl_connector tiny_stride = conn;
    tiny_stride.option_spec_size = 4;
    make_plugin(&tp, "p", &tiny_stride);
    ck_assert_int_eq(add(reg, &tp, err, sizeof err), ETL_ERR_PERMANENT);
    ck_assert_msg(strstr(err, "option_spec_size 4 is too small") != NULL, "%s", err);

    ck_assert_uint_eq(registry_count(reg), 0);
    registry_free(reg);
}
END_TEST

START_TEST(refuses_partial_format_reader)
{
    etl_format_vtable vt = {.struct_size = sizeof vt, .writer_open = t_fmt_open,
                            .write = t_fmt_write, .finish = t_fmt_finish,
                            .writer_close = t_close, .reader_open = t_reader_open};
    etl_connector conn = make_connector(ETL_KIND_FORMAT, "half", &vt);
    test_plugin tp;
    make_plugin(&tp, "half", &conn);
    plugin_registry *reg = registry_new();
    char err[1024];
    ck_assert_int_eq(add(reg, &tp, err, sizeof err), ETL_ERR_PERMANENT);
    ck_assert_msg(strstr(err, "connector 'half' (format) has a partial reader") != NULL, "%s",
                  err);
    registry_free(reg);
}
END_TEST

START_TEST(abi_rules_on_in_memory_descriptors)
{
    etl_source_vtable vt = {.struct_size = sizeof vt, .open = t_open, .read = t_read,
                            .close = t_close};
    etl_connector conn = make_connector(ETL_KIND_SOURCE, "s", &vt);
    test_plugin tp;
    plugin_registry *reg = registry_new();
    char err[1024];

    make_plugin(&tp, "older", &conn);         /* a 1.0 plugin on a 1.x host loads */
    tp.desc.abi_minor = 0;
    tp.desc.min_host_minor = 0;
    ck_assert_msg(add(reg, &tp, err, sizeof err) == ETL_OK, "%s", err);

    make_plugin(&tp, "newer", &conn);         /* newer build, but needs only what we have */
    tp.desc.abi_minor = ETL_ABI_MINOR + 1;
    tp.desc.min_host_minor = ETL_ABI_MINOR;
    ck_assert_msg(add(reg, &tp, err, sizeof err) == ETL_OK, "%s", err);

    make_plugin(&tp, "needs-more", &conn);
    tp.desc.min_host_minor = ETL_ABI_MINOR + 1;
    ck_assert_int_eq(add(reg, &tp, err, sizeof err), ETL_ERR_PERMANENT);

    make_plugin(&tp, "old-major", &conn);
    tp.desc.abi_major = 0;
    ck_assert_int_eq(add(reg, &tp, err, sizeof err), ETL_ERR_PERMANENT);
    ck_assert_msg(strstr(err, "built for plugin ABI 0.") != NULL, "%s", err);

    ck_assert_uint_eq(registry_count(reg), 2);
    const char **names = registry_connector_names(reg, ETL_KIND_SOURCE);
    ck_assert_str_eq(names[0], "s");               /* listed once */
    ck_assert_ptr_null(names[1]);
    free((void *)names);
    const loaded_plugin *owner = NULL;
    registry_find(reg, ETL_KIND_SOURCE, "s", &owner);
    ck_assert_str_eq(owner->desc->name, "older");  /* first one wins */
    registry_free(reg);
}
END_TEST

START_TEST(kind_names)
{
    ck_assert_str_eq(connector_kind_name(ETL_KIND_SOURCE), "source");
    ck_assert_str_eq(connector_kind_name(ETL_KIND_TRANSFORM), "transform");
    ck_assert_str_eq(connector_kind_name(ETL_KIND_SINK), "sink");
    ck_assert_str_eq(connector_kind_name(ETL_KIND_FORMAT), "format");
    ck_assert_str_eq(connector_kind_name((etl_connector_kind)0), "unknown");
}
END_TEST

static Suite *abi_suite(void)
{
    Suite *s = suite_create("abi");
    TCase *broken = tcase_create("broken plugins");
    tcase_add_test(broken, refuses_wrong_major);
    tcase_add_test(broken, refuses_newer_minor);
    tcase_add_test(broken, refuses_missing_callback);
    tcase_add_test(broken, refuses_missing_file);
    tcase_add_test(broken, load_dirs_reports_every_refusal);
    suite_add_tcase(s, broken);
    TCase *good = tcase_create("good plugins");
    tcase_add_test(good, loads_good_plugin_and_finds_its_connectors);
    tcase_add_test(good, second_copy_of_a_plugin_is_skipped);
    tcase_add_test(good, load_dirs_first_plugin_name_wins);
    tcase_add_test(good, refuses_world_writable_file_and_directory);
    tcase_add_test(good, search_path_order);
    suite_add_tcase(s, good);
    TCase *sizes = tcase_create("struct sizes");
    tcase_add_test(sizes, truncated_format_vtable_has_no_reader);
    tcase_add_test(sizes, sink_without_abort_gets_default);
    tcase_add_test(sizes, larger_structs_from_a_newer_plugin_are_read_up_to_our_size);
    tcase_add_test(sizes, smaller_option_spec_stride);
    tcase_add_test(sizes, truncated_source_vtable_lacks_close);
    tcase_add_test(sizes, refuses_bad_descriptors);
    tcase_add_test(sizes, refuses_partial_format_reader);
    tcase_add_test(sizes, abi_rules_on_in_memory_descriptors);
    tcase_add_test(sizes, kind_names);
    suite_add_tcase(s, sizes);
    return s;
}

int main(void)
{
    return run_suite_as_tap(abi_suite());
}
