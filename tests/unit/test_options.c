/* Connector options: validation against a schema, error texts, defaults,
 * getters, child mappings, positions, and the string helpers they use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "options.h"
#include "strutil.h"
#include "tap_runner.h"
#include "yaml_doc.h"

static const etl_option_spec fake_specs[] = {
    {"path", ETL_OPT_STRING, NULL, "the file to read", ETL_OPT_REQUIRED, NULL},
    {"compression", ETL_OPT_ENUM, "none", "how the file is compressed", 0, "zstd|gzip|none"},
    {"retries", ETL_OPT_INT, "3", "attempts per request", 0, NULL},
    {"ratio", ETL_OPT_DOUBLE, "0.5", "sampling ratio", 0, NULL},
    {"verbose", ETL_OPT_BOOL, "false", "log more", 0, NULL},
    {"timeout", ETL_OPT_DURATION, "30s", "per request", 0, NULL},
    {"chunk", ETL_OPT_SIZE, "64MiB", "read size", 0, NULL},
    {"fields", ETL_OPT_LIST, "[id, name]", "columns to keep", 0, NULL},
    {"headers", ETL_OPT_MAP, NULL, "extra HTTP headers", 0, NULL},
    {"format", ETL_OPT_ANY, "ndjson", "the format of the data", 0, NULL},
    {"password", ETL_OPT_STRING, NULL, "", ETL_OPT_SECRET, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

static const etl_connector fake_source = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_SOURCE,
    .name = "file",
    .summary = "reads files",
    .options = fake_specs,
    .option_spec_size = sizeof(etl_option_spec),
};

static const etl_connector bare_sink = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_SINK,
    .name = "null",
    .options = NULL,
    .option_spec_size = sizeof(etl_option_spec),
};

/* Parses `text` as "p.yaml" against the fake source; errors in `err`. */
static etl_options *parse(const char *text, etl_buf *err)
{
    buf_reset(err);
    return options_from_string(&fake_source, text, "p.yaml", err);
}

static etl_options *parse_ok(const char *text)
{
    etl_buf err = {0};
    etl_options *o = parse(text, &err);
    ck_assert_msg(o != NULL, "unexpected errors: %s", buf_cstr(&err));
    buf_free(&err);
    return o;
}

static void expect_errors(const char *text, const char *expected)
{
    etl_buf err = {0};
    etl_options *o = parse(text, &err);
    ck_assert_ptr_null(o);
    ck_assert_str_eq(buf_cstr(&err), expected);
    buf_free(&err);
}

START_TEST(valid_options_are_read)
{
    etl_options *o = parse_ok("path: /data/in.json\n"
                              "compression: zstd\n"
                              "retries: \"5\"\n"
                              "ratio: 0.25\n"
                              "verbose: yes\n"
                              "timeout: 14m30s\n"
                              "chunk: 512KiB\n"
                              "fields: [a, b, c]\n"
                              "headers: {X-Api: k}\n"
                              "format: csv\n");
    int64_t i;
    double d;
    bool b;
    ck_assert_str_eq(options_string(o, "path"), "/data/in.json");
    ck_assert_str_eq(options_string(o, "compression"), "zstd");
    ck_assert(options_int(o, "retries", &i));
    ck_assert_int_eq(i, 5);
    ck_assert(options_double(o, "ratio", &d));
    ck_assert(d == 0.25);
    ck_assert(options_bool(o, "verbose", &b));
    ck_assert(b);
    ck_assert(options_duration_ms(o, "timeout", &i));
    ck_assert_int_eq(i, 870000);
    ck_assert(options_size(o, "chunk", &i));
    ck_assert_int_eq(i, 524288);
    ck_assert_uint_eq(options_list_count(o, "fields"), 3);
    ck_assert_str_eq(options_list_item(o, "fields", 2), "c");
    ck_assert_ptr_null(options_list_item(o, "fields", 3));
    ck_assert(options_is_set(o, "timeout"));
    ck_assert(!options_is_set(o, "password"));
    ck_assert_ptr_null(options_string(o, "password"));
    ck_assert_ptr_null(options_string(o, "headers"));       /* not a scalar */
    ck_assert(!options_int(o, "path", &i));                   /* not a number */
    ck_assert_uint_eq(options_map_count(o), 10);
    options_free(o);
}
END_TEST

START_TEST(defaults_are_returned)
{
    etl_options *o = parse_ok("path: x\n");
    int64_t i;
    double d;
    bool b = true;
    ck_assert_str_eq(options_string(o, "compression"), "none");
    ck_assert(options_int(o, "retries", &i));
    ck_assert_int_eq(i, 3);
    ck_assert(options_double(o, "ratio", &d));
    ck_assert(d == 0.5);
    ck_assert(options_bool(o, "verbose", &b));
    ck_assert(!b);
    ck_assert(options_duration_ms(o, "timeout", &i));
    ck_assert_int_eq(i, 30000);
    ck_assert(options_size(o, "chunk", &i));
    ck_assert_int_eq(i, 64 * 1024 * 1024);
    ck_assert_uint_eq(options_list_count(o, "fields"), 2);
    ck_assert_str_eq(options_list_item(o, "fields", 0), "id");
    ck_assert_str_eq(options_list_item(o, "fields", 1), "name");
    ck_assert(!options_is_set(o, "retries"));
    ck_assert_ptr_null(options_map(o, "headers"));
    ck_assert_ptr_null(options_string(o, "password"));
    ck_assert(!options_int(o, "nonexistent", &i));
    ck_assert_uint_eq(options_list_count(o, "nonexistent"), 0);
    /* A scalar default of an ANY option reads as {type: ndjson}. */
    const etl_options *format = options_map(o, "format");
    ck_assert_ptr_nonnull(format);
    ck_assert_str_eq(options_string(format, "type"), "ndjson");
    options_free(o);
}
END_TEST

START_TEST(null_values_count_as_absent)
{
    etl_options *o = parse_ok("path: x\nretries:\nratio: ~\ncompression: null\n");
    int64_t i;
    ck_assert(options_int(o, "retries", &i));
    ck_assert_int_eq(i, 3);
    ck_assert(!options_is_set(o, "retries"));
    ck_assert(!options_is_set(o, "ratio"));
    ck_assert_str_eq(options_string(o, "compression"), "none");
    options_free(o);
    /* Quoted, it is a value (and for an INT, a wrong one). */
    expect_errors("path: x\nretries: \"\"\n",
                  "p.yaml:2:10: option 'retries' of source 'file' expects an integer (like 42), "
                  "got ''");
    expect_errors("path: ~\n",
                  "p.yaml:1:1: source 'file' needs option 'path' (the file to read)");
}
END_TEST

START_TEST(unknown_key_suggests_the_closest)
{
    expect_errors("path: x\ncompresion: zstd\n",
                  "p.yaml:2:1: unknown option 'compresion' for source 'file' "
                  "(did you mean 'compression'?)");
    expect_errors("path: x\nzzzzzz: 1\n",
                  "p.yaml:2:1: unknown option 'zzzzzz' for source 'file' (valid options: path, "
                  "compression, retries, ratio, verbose, timeout, chunk, fields, headers, format, "
                  "password)");
}
END_TEST

START_TEST(all_problems_are_reported)
{
    expect_errors("retries: many\n"
                  "tiemout: 5s\n"
                  "compression: zsdt\n"
                  "chunk: 12XB\n"
                  "verbose: maybe\n",
                  "p.yaml:1:10: option 'retries' of source 'file' expects an integer (like 42), "
                  "got 'many'\n"
                  "p.yaml:2:1: unknown option 'tiemout' for source 'file' (did you mean "
                  "'timeout'?)\n"
                  "p.yaml:3:14: option 'compression' of source 'file' must be one of zstd, gzip, "
                  "none, got 'zsdt' (did you mean 'zstd'?)\n"
                  "p.yaml:4:8: option 'chunk' of source 'file' expects a size like 512 (bytes), "
                  "64KB, 64MB or 512KiB, got '12XB'\n"
                  "p.yaml:5:10: option 'verbose' of source 'file' expects true or false (or "
                  "yes/no, on/off), got 'maybe'\n"
                  "p.yaml:1:1: source 'file' needs option 'path' (the file to read)");
}
END_TEST

START_TEST(required_options)
{
    etl_buf err = {0};
    ck_assert_ptr_null(options_from_node(&fake_source, NULL, NULL, &err));
    ck_assert_str_eq(buf_cstr(&err), "source 'file' needs option 'path' (the file to read)");
    buf_reset(&err);
    ck_assert_ptr_null(options_from_string(&fake_source, "  \n", "p.yaml", &err));
    ck_assert_str_eq(buf_cstr(&err), "source 'file' needs option 'path' (the file to read)");
    buf_free(&err);
    expect_errors("retries: 1\n",
                  "p.yaml:1:1: source 'file' needs option 'path' (the file to read)");
}
END_TEST

START_TEST(enum_errors)
{
    expect_errors("path: x\ncompression: brotli\n",
                  "p.yaml:2:14: option 'compression' of source 'file' must be one of zstd, gzip, "
                  "none, got 'brotli'");
    expect_errors("path: x\ncompression: [zstd]\n",
                  "p.yaml:2:14: option 'compression' of source 'file' expects a single value, "
                  "got a sequence");
    etl_options *o = parse_ok("path: x\ncompression: gzip\n");
    ck_assert_str_eq(options_string(o, "compression"), "gzip");
    options_free(o);
}
END_TEST

START_TEST(kind_errors)
{
    expect_errors("path: {a: 1}\n",
                  "p.yaml:1:7: option 'path' of source 'file' expects a string, got a mapping");
    expect_errors("path: x\nheaders: plain\n",
                  "p.yaml:2:10: option 'headers' of source 'file' expects a mapping like "
                  "{key: value}, got 'plain'");
    expect_errors("path: x\nfields: {a: 1}\n",
                  "p.yaml:2:9: option 'fields' of source 'file' expects a list like [a, b], got "
                  "a mapping");
    expect_errors("path: x\nfields: [a, [b]]\n",
                  "p.yaml:2:13: option 'fields' of source 'file' expects a list of plain "
                  "values; item 2 is a sequence");
    expect_errors("path: x\nformat: [a]\n",
                  "p.yaml:2:9: option 'format' of source 'file' expects a value or a mapping, "
                  "got a sequence");
    expect_errors("path: x\nratio: half\ntimeout: 5 minutes\n",
                  "p.yaml:2:8: option 'ratio' of source 'file' expects a number (like 0.5), got "
                  "'half'\n"
                  "p.yaml:3:10: option 'timeout' of source 'file' expects a duration like 250ms, "
                  "30s, 14m30s or 2h, got '5 minutes'");
    expect_errors("{}\n", "p.yaml:1:1: source 'file' needs option 'path' (the file to read)");
    expect_errors("- a\n", "p.yaml:1:1: the options of source 'file' must be a mapping "
                           "(key: value), not a sequence");
}
END_TEST

START_TEST(secrets_are_not_printed)
{
    etl_buf err = {0};
    ck_assert_ptr_null(parse("path: x\npassword: [hunter2]\n", &err));
    ck_assert_str_eq(buf_cstr(&err), "p.yaml:2:11: option 'password' of source 'file' expects "
                                     "a string, got a value (hidden: the option is secret)");
    ck_assert_ptr_null(strstr(buf_cstr(&err), "hunter2"));
    buf_free(&err);
    etl_options *o = parse_ok("path: x\npassword: hunter2\n");
    ck_assert_str_eq(options_string(o, "password"), "hunter2");
    options_free(o);
}
END_TEST

START_TEST(yaml_errors_pass_through)
{
    expect_errors("path: [x\n", "p.yaml:2:1: did not find expected ',' or ']' while parsing a "
                                "flow sequence started at line 1, column 7");
    etl_buf err = {0};
    buf_append_str(&err, "first");
    ck_assert_ptr_null(options_from_string(&fake_source, "a: 1\na: 2\n", "q.yaml", &err));
    ck_assert_str_eq(buf_cstr(&err),
                     "first\nq.yaml:2:1: duplicate key 'a' (first defined at q.yaml:1:1; "
                     "remove one)");
    buf_free(&err);
}
END_TEST

START_TEST(skip_keys_are_not_validated)
{
    static const char *const skip[] = {"type", "name", NULL};
    etl_buf err = {0};
    ynode *tree = ydoc_load_string("type: file\nname: in\npath: x\n", 28, "s.yaml", &err);
    ck_assert_ptr_nonnull(tree);
    etl_options *o = options_from_node(&fake_source, tree, skip, &err);
    ck_assert_msg(o != NULL, "%s", buf_cstr(&err));
    ck_assert_str_eq(options_string(o, "type"), "file");
    options_free(o);
    ck_assert_ptr_null(options_from_node(&fake_source, tree, NULL, &err));
    ck_assert_str_eq(buf_cstr(&err), "s.yaml:1:1: unknown option 'type' for source 'file' "
                                     "(valid options: path, compression, retries, ratio, verbose, "
                                     "timeout, chunk, fields, headers, format, password)\n"
                                     "s.yaml:2:1: unknown option 'name' for source 'file' "
                                     "(valid options: path, compression, retries, ratio, "
                                     "verbose, timeout, chunk, fields, headers, format, "
                                     "password)");
    ynode_free(tree);
    buf_reset(&err);
    tree = ydoc_load_string("tpye: file\npath: x\n", 18, "s.yaml", &err);
    ck_assert_ptr_null(options_from_node(&fake_source, tree, skip, &err));
    ck_assert_str_eq(buf_cstr(&err), "s.yaml:1:1: unknown option 'tpye' for source 'file' "
                                     "(did you mean 'type'?)");
    ynode_free(tree);
    buf_free(&err);
}
END_TEST

START_TEST(options_own_a_copy_of_the_tree)
{
    etl_buf err = {0};
    const char *text = "path: /x\nheaders: {a: b}\n";
    ynode *tree = ydoc_load_string(text, strlen(text), "own.yaml", &err);
    etl_options *o = options_from_node(&fake_source, tree, NULL, &err);
    ck_assert_ptr_nonnull(o);
    ynode_free(tree);       /* the options must not need it any more */
    ck_assert_str_eq(options_string(o, "path"), "/x");
    ck_assert_str_eq(options_where(o, "path"), "own.yaml:1:1");
    ck_assert_str_eq(options_map_value(options_map(o, "headers"), 0), "b");
    ck_assert_str_eq(options_where(options_map(o, "headers"), "a"), "own.yaml:2:11");
    options_free(o);
    buf_free(&err);
}
END_TEST

START_TEST(list_from_a_scalar)
{
    etl_options *o = parse_ok("path: x\nfields: id\n");
    ck_assert_uint_eq(options_list_count(o, "fields"), 1);
    ck_assert_str_eq(options_list_item(o, "fields", 0), "id");
    ck_assert_ptr_null(options_list_item(o, "fields", 1));
    ck_assert_uint_eq(options_list_count(o, "headers"), 0);
    options_free(o);
}
END_TEST

START_TEST(map_iteration_keeps_file_order)
{
    etl_options *o = parse_ok("path: x\nheaders: {z: 1, a: \"2\", m: {x: y}, n: [1]}\n");
    const etl_options *h = options_map(o, "headers");
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_eq(options_map_count(h), 4);
    ck_assert_str_eq(options_map_key(h, 0), "z");
    ck_assert_str_eq(options_map_key(h, 1), "a");
    ck_assert_str_eq(options_map_key(h, 2), "m");
    ck_assert_str_eq(options_map_key(h, 3), "n");
    ck_assert_ptr_null(options_map_key(h, 4));
    ck_assert_str_eq(options_map_value(h, 0), "1");
    ck_assert_str_eq(options_map_value(h, 1), "2");
    ck_assert_ptr_null(options_map_value(h, 2));
    ck_assert_ptr_null(options_map_value(h, 3));
    ck_assert_ptr_null(options_map_value(h, 4));
    /* Children of children, and the same pointer on each call. */
    ck_assert_str_eq(options_string(options_map(h, "m"), "x"), "y");
    ck_assert_ptr_eq(options_map(o, "headers"), h);
    ck_assert_uint_eq(options_map_count(NULL), 0);
    options_free(o);
}
END_TEST

START_TEST(map_of_a_scalar_is_a_type_mapping)
{
    etl_options *o = parse_ok("path: x\nformat: csv\n");
    const etl_options *f = options_map(o, "format");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(options_map_count(f), 1);
    ck_assert_str_eq(options_map_key(f, 0), "type");
    ck_assert_str_eq(options_map_value(f, 0), "csv");
    ck_assert_str_eq(options_string(f, "type"), "csv");
    ck_assert_str_eq(options_where(f, "type"), "p.yaml:2:9");
    options_free(o);

    /* A mapping is kept as written, and is not checked against this
     * connector's schema (it belongs to the format). */
    o = parse_ok("path: x\nformat: {type: parquet, compression: zstd, row_group: 64MB}\n");
    f = options_map(o, "format");
    ck_assert_str_eq(options_string(f, "type"), "parquet");
    ck_assert_str_eq(options_string(f, "compression"), "zstd");
    int64_t size;
    ck_assert(options_size(f, "row_group", &size));
    ck_assert_int_eq(size, 64000000);
    ck_assert_ptr_null(options_map(o, "fields"));       /* absent list: no map */
    options_free(o);
}
END_TEST

START_TEST(where_points_at_keys)
{
    etl_buf err = {0};
    const char *text = "# comment\nsource:\n  path: x\n  retries: 2\n";
    ynode *tree = ydoc_load_string(text, strlen(text), "w.yaml", &err);
    etl_options *o = options_from_node(&fake_source, ynode_get(tree, "source"), NULL, &err);
    ck_assert_msg(o != NULL, "%s", buf_cstr(&err));
    ck_assert_str_eq(options_where(o, "path"), "w.yaml:3:3");
    ck_assert_str_eq(options_where(o, "retries"), "w.yaml:4:3");
    ck_assert_str_eq(options_where(o, "timeout"), "w.yaml:3:3");    /* absent: the mapping */
    options_free(o);
    ynode_free(tree);
    buf_free(&err);

    o = options_from_node(NULL, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(options_where(o, "anything"), "(no options)");
    ck_assert_ptr_null(options_string(o, "anything"));
    options_free(o);
}
END_TEST

START_TEST(no_schema_means_no_validation)
{
    etl_buf err = {0};
    etl_options *o = options_from_string(NULL, "a: 1\nb: [x, y]\nc: {d: e}\nf: 2.5\ng: off\n",
                                         "free.yaml", &err);
    ck_assert_msg(o != NULL, "%s", buf_cstr(&err));
    int64_t i;
    double d;
    bool b = true;
    ck_assert(options_int(o, "a", &i));
    ck_assert_int_eq(i, 1);
    ck_assert(options_double(o, "f", &d));
    ck_assert(d == 2.5);
    ck_assert(!options_int(o, "f", &i));
    ck_assert(options_bool(o, "g", &b));
    ck_assert(!b);
    ck_assert_uint_eq(options_list_count(o, "b"), 2);
    ck_assert_str_eq(options_list_item(o, "b", 1), "y");
    ck_assert_str_eq(options_string(options_map(o, "c"), "d"), "e");
    ck_assert_ptr_null(options_map(o, "b"));
    options_free(o);
    ck_assert_int_eq(err.len, 0);
    buf_free(&err);
}
END_TEST

START_TEST(connector_without_options)
{
    etl_buf err = {0};
    etl_options *o = options_from_string(&bare_sink, "", "n.yaml", &err);
    ck_assert_ptr_nonnull(o);
    options_free(o);
    ck_assert_ptr_null(options_from_string(&bare_sink, "x: 1\n", "n.yaml", &err));
    ck_assert_str_eq(buf_cstr(&err), "n.yaml:1:1: unknown option 'x' for sink 'null' (it takes "
                                     "no options)");
    buf_free(&err);
}
END_TEST

/* A plugin built against an older etl/plugin.h whose option spec had no
 * flags or choices yet. */
typedef struct old_option_spec {
    const char *key;
    etl_option_type type;
    const char *default_value;
    const char *doc;
} old_option_spec;

static const old_option_spec old_specs[] = {
    {"url", ETL_OPT_STRING, "http://localhost", "where"},
    {"size", ETL_OPT_SIZE, "1KB", "batch size"},
    {"mode", ETL_OPT_ENUM, "fast", "no choices known"},
    {NULL, 0, NULL, NULL},
};

static const etl_connector old_plugin = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_TRANSFORM,
    .name = "old",
    .options = (const etl_option_spec *)(const void *)old_specs,
    .option_spec_size = sizeof(old_option_spec),
};

START_TEST(option_spec_size_is_the_stride)
{
    ck_assert_uint_lt(sizeof(old_option_spec), sizeof(etl_option_spec));
    etl_buf err = {0};
    etl_options *o = options_from_string(&old_plugin, "size: 2KiB\n", "o.yaml", &err);
    ck_assert_msg(o != NULL, "%s", buf_cstr(&err));
    int64_t size;
    ck_assert(options_size(o, "size", &size));
    ck_assert_int_eq(size, 2048);
    ck_assert_str_eq(options_string(o, "url"), "http://localhost");
    options_free(o);
    o = options_from_string(&old_plugin, "", "o.yaml", &err);
    ck_assert(options_size(o, "size", &size));
    ck_assert_int_eq(size, 1000);
    options_free(o);
    ck_assert_ptr_null(options_from_string(&old_plugin, "siz: 1\n", "o.yaml", &err));
    ck_assert_str_eq(buf_cstr(&err), "o.yaml:1:1: unknown option 'siz' for transform 'old' "
                                     "(did you mean 'size'?)");
    buf_free(&err);

    etl_connector broken = old_plugin;
    broken.option_spec_size = 4;
    ck_assert_ptr_null(options_from_string(&broken, "", "o.yaml", &err));
    ck_assert_ptr_nonnull(strstr(buf_cstr(&err), "transform 'old' declares option_spec_size 4"));
    buf_free(&err);
}
END_TEST

START_TEST(edit_distance_cases)
{
    ck_assert_uint_eq(edit_distance("", ""), 0);
    ck_assert_uint_eq(edit_distance("abc", ""), 3);
    ck_assert_uint_eq(edit_distance("", "ab"), 2);
    ck_assert_uint_eq(edit_distance("kitten", "sitting"), 3);
    ck_assert_uint_eq(edit_distance("compresion", "compression"), 1);
    ck_assert_uint_eq(edit_distance("tpye", "type"), 1);     /* a swap is one edit */
    ck_assert_uint_eq(edit_distance("zsdt", "zstd"), 1);
    ck_assert_uint_eq(edit_distance("ca", "abc"), 3);
    ck_assert_uint_eq(edit_distance("abcdef", "badcfe"), 3);
    ck_assert_uint_eq(edit_distance("same", "same"), 0);
    ck_assert_uint_eq(edit_distance(NULL, "ab"), 2);

    const char *const keys[] = {"path", "compression", "timeout", "type"};
    ck_assert_str_eq(closest_match("compresion", keys, 4), "compression");
    ck_assert_str_eq(closest_match("tiemout", keys, 4), "timeout");
    ck_assert_str_eq(closest_match("pth", keys, 4), "path");
    ck_assert_ptr_null(closest_match("zzzz", keys, 4));
    ck_assert_ptr_null(closest_match("url", keys, 4));
    /* Short words allow one edit. */
    ck_assert_ptr_null(closest_match("tp", keys, 4));
    ck_assert_str_eq(closest_match("tpye", keys, 4), "type");
    /* Ties go to the first candidate. */
    const char *const tied[] = {"cat", "bat"};
    ck_assert_str_eq(closest_match("at", tied, 2), "cat");
    ck_assert_ptr_null(closest_match("x", NULL, 0));
}
END_TEST

typedef struct duration_case {
    const char *text;
    bool ok;
    int64_t ms;
} duration_case;

START_TEST(durations)
{
    static const duration_case cases[] = {
        {"250ms", true, 250},      {"30s", true, 30000},        {"14m30s", true, 870000},
        {"2h", true, 7200000},     {"1h2m3s", true, 3723000},   {"1d", true, 86400000},
        {"1.5s", true, 1500},      {"0.5h", true, 1800000},     {"1m 30s", true, 90000},
        {"30 s", true, 30000},     {"1500", true, 1500},        {"0", true, 0},
        {"2s500ms", true, 2500},   {"", false, 0},              {"-5s", false, 0},
        {"5", true, 5},            {"1.5", false, 0},           {"s", false, 0},
        {"5x", false, 0},          {"30s2h", false, 0},         {"1s1s", false, 0},
        {"5 minutes", false, 0},   {"1.s", false, 0},           {".5s", false, 0},
        {"9999999999999999999", false, 0},                     {"9999999999999h", false, 0},
        {"5mo", false, 0},         {"+5s", false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = -1;
        bool ok = parse_duration_ms(cases[i].text, &ms);
        ck_assert_msg(ok == cases[i].ok, "'%s': expected %s", cases[i].text,
                      cases[i].ok ? "success" : "failure");
        if (ok)
            ck_assert_msg(ms == cases[i].ms, "'%s': %lld ms, expected %lld", cases[i].text,
                          (long long)ms, (long long)cases[i].ms);
    }
    int64_t ms;
    ck_assert(!parse_duration_ms(NULL, &ms));
}
END_TEST

START_TEST(sizes)
{
    static const duration_case cases[] = {
        {"512", true, 512},          {"64MB", true, 64000000},     {"64 MB", true, 64000000},
        {"512KiB", true, 524288},    {"1.5MB", true, 1500000},     {"2GB", true, 2000000000},
        {"1GiB", true, 1073741824},  {"64M", true, 67108864},      {"4k", true, 4096},
        {"10b", true, 10},           {"1kb", true, 1000},          {"1KIB", true, 1024},
        {"1TB", true, 1000000000000LL},                            {"0", true, 0},
        {"", false, 0},              {"-1MB", false, 0},           {"1.5", false, 0},
        {"MB", false, 0},            {"12XB", false, 0},           {"1 2MB", false, 0},
        {"9223372036854775807", true, INT64_MAX},                 {"9223372036854775808", false, 0},
        {"9000000000TiB", false, 0}, {"1e3", false, 0},            {"0x10", false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t bytes = -1;
        bool ok = parse_size_bytes(cases[i].text, &bytes);
        ck_assert_msg(ok == cases[i].ok, "'%s': expected %s", cases[i].text,
                      cases[i].ok ? "success" : "failure");
        if (ok)
            ck_assert_msg(bytes == cases[i].ms, "'%s': %lld bytes, expected %lld", cases[i].text,
                          (long long)bytes, (long long)cases[i].ms);
    }
}
END_TEST

START_TEST(numbers_and_booleans)
{
    int64_t i;
    ck_assert(parse_int64("42", &i) && i == 42);
    ck_assert(parse_int64("-7", &i) && i == -7);
    ck_assert(parse_int64("9223372036854775807", &i) && i == INT64_MAX);
    ck_assert(parse_int64("-9223372036854775808", &i) && i == INT64_MIN);
    ck_assert(!parse_int64("9223372036854775808", &i));
    ck_assert(!parse_int64("", &i));
    ck_assert(!parse_int64(" 1", &i));
    ck_assert(!parse_int64("1 ", &i));
    ck_assert(!parse_int64("1.0", &i));
    ck_assert(!parse_int64("abc", &i));
    ck_assert(!parse_int64(NULL, &i));
    double d;
    ck_assert(parse_double("0.25", &d) && d == 0.25);
    ck_assert(parse_double("-1e3", &d) && d == -1000);
    ck_assert(parse_double("7", &d) && d == 7);
    ck_assert(!parse_double("", &d));
    ck_assert(!parse_double("1.5x", &d));
    ck_assert(!parse_double("nan", &d));
    ck_assert(!parse_double("inf", &d));
    ck_assert(!parse_double("1e999", &d));
    bool b;
    ck_assert(parse_bool("true", &b) && b);
    ck_assert(parse_bool("Yes", &b) && b);
    ck_assert(parse_bool("ON", &b) && b);
    ck_assert(parse_bool("false", &b) && !b);
    ck_assert(parse_bool("no", &b) && !b);
    ck_assert(parse_bool("Off", &b) && !b);
    ck_assert(!parse_bool("1", &b));
    ck_assert(!parse_bool("", &b));
    ck_assert(!parse_bool("truee", &b));
    char *s = xstrdup("copy");
    ck_assert_str_eq(s, "copy");
    free(s);
    ck_assert_ptr_null(xstrdup(NULL));
}
END_TEST

static Suite *options_suite(void)
{
    Suite *s = suite_create("options");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, valid_options_are_read);
    tcase_add_test(tc, defaults_are_returned);
    tcase_add_test(tc, null_values_count_as_absent);
    tcase_add_test(tc, unknown_key_suggests_the_closest);
    tcase_add_test(tc, all_problems_are_reported);
    tcase_add_test(tc, required_options);
    tcase_add_test(tc, enum_errors);
    tcase_add_test(tc, kind_errors);
    tcase_add_test(tc, secrets_are_not_printed);
    tcase_add_test(tc, yaml_errors_pass_through);
    tcase_add_test(tc, skip_keys_are_not_validated);
    tcase_add_test(tc, options_own_a_copy_of_the_tree);
    tcase_add_test(tc, list_from_a_scalar);
    tcase_add_test(tc, map_iteration_keeps_file_order);
    tcase_add_test(tc, map_of_a_scalar_is_a_type_mapping);
    tcase_add_test(tc, where_points_at_keys);
    tcase_add_test(tc, no_schema_means_no_validation);
    tcase_add_test(tc, connector_without_options);
    tcase_add_test(tc, option_spec_size_is_the_stride);
    tcase_add_test(tc, edit_distance_cases);
    tcase_add_test(tc, durations);
    tcase_add_test(tc, sizes);
    tcase_add_test(tc, numbers_and_booleans);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite_as_tap(options_suite());
}
