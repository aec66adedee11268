/* The pure code of elasticsearch.so: the JSON scanner, the cursor (encode,
 * decode, search_after, keyset queries), the mapping (types, lists, dates,
 * declarations through a mock builder) and the reading of error replies. */
#include "es_client.h"
#include "es_cursor.h"
#include "es_json.h"
#include "es_mapping.h"

#include "tap_runner.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* es_client.c reaches the host through this; the pure functions tested
 * here never do. */
const etl_host_api *es_host = NULL;

static ej_span span(const char *text)
{
    ej_span root;
    ck_assert_msg(ej_root(text, strlen(text), &root), "not one JSON value: %s", text);
    return root;
}

/* ------------------------------------------------------------------ scanner */

START_TEST(json_members_and_values)
{
    ej_span root = span(" {\"a\": 1, \"b\" : [true, null, \"x\"], \"c\": {\"d\": -9223372036854775808}} ");
    ej_span v;
    int64_t n;
    ck_assert(ej_get(root, "a", &v) && ej_int64(v, &n) && n == 1);
    ck_assert(ej_get(root, "b", &v) && ej_kind_of(v) == EJ_ARRAY);
    ej_iter it;
    ej_span item;
    int count = 0;
    ej_elements(v, &it);
    while (ej_next_element(&it, &item))
        count++;
    ck_assert_int_eq(count, 3);
    ck_assert(!it.failed);
    ck_assert(ej_get_path(root, "c.d", &v) && ej_int64(v, &n) && n == INT64_MIN);
    ck_assert(!ej_get(root, "zz", &v));
    ck_assert(!ej_get_path(root, "a.b", &v));
}
END_TEST

typedef struct watched {
    char names[8][16];
    int n;
    const char *stop_at;         /* answer true for this name */
} watched;

static bool remember_name(void *arg, const char *name, size_t len)
{
    watched *w = arg;
    if (w->n < 8)
        snprintf(w->names[w->n++], sizeof w->names[0], "%.*s", (int)len, name);
    return w->stop_at && strlen(w->stop_at) == len && memcmp(w->stop_at, name, len) == 0;
}

/* A skip that watches: the members holding numbers (or arrays starting with
 * one) are named, at any depth, whatever the spacing; strings that look
 * like members are not; the span is the same as ej_take_value's. */
START_TEST(json_skip_watches_numeric_members)
{
    const char *text = "{\"_source\": {\"a\":\"ts\\\":1\",\"n\" : -2,\"o\":{\"ts\": [ 17, 2]},"
                       "\"s\":[\"x\"],\"l\":[{\"d\":0}],\"t\":true}, \"sort\": [3]}";
    ej_iter it, again;
    ej_span key, value, plain;
    ck_assert(ej_members(span(text), &it));
    again = it;
    ck_assert(ej_next_key(&it, &key) && ej_key_is(key, "_source"));
    watched w = {.n = 0};
    bool seen = true;
    ck_assert(ej_take_value_watching(&it, &value, remember_name, &w, &seen));
    ck_assert(!seen);
    ck_assert_int_eq(w.n, 3);
    ck_assert_str_eq(w.names[0], "n");
    ck_assert_str_eq(w.names[1], "ts");
    ck_assert_str_eq(w.names[2], "d");
    ck_assert(ej_next_key(&again, &key) && ej_take_value(&again, &plain));
    ck_assert_int_eq(plain.n, value.n);
    ck_assert(plain.p == value.p);
    ck_assert(ej_next_key(&it, &key) && ej_key_is(key, "sort"));
    /* A true answer stops the watching. */
    ck_assert(ej_members(span(text), &it) && ej_next_key(&it, &key));
    w = (watched){.stop_at = "ts"};
    ck_assert(ej_take_value_watching(&it, &value, remember_name, &w, &seen));
    ck_assert(seen);
    ck_assert_int_eq(w.n, 2);
}
END_TEST

/* Random documents for the skip: strings with quotes, backslashes,
 * brackets and colons inside, whitespace anywhere, nesting; the generator
 * knows where each document ends and which members hold numbers. */
typedef struct gen {
    char text[1 << 16];
    size_t n;
    unsigned seed;
    char expected[1024][16];
    int nexpected;
} gen;

static unsigned gen_next(gen *g)
{
    g->seed = g->seed * 1103515245u + 12345u;
    return (g->seed >> 16) & 0x7fff;
}

static void gen_put(gen *g, const char *s)
{
    size_t len = strlen(s);
    if (g->n + len < sizeof g->text) {
        memcpy(g->text + g->n, s, len);
        g->n += len;
    }
}

static void gen_ws(gen *g)
{
    static const char *const spaces[] = {"", "", "", " ", "\n  ", "\t"};
    gen_put(g, spaces[gen_next(g) % 6]);
}

static void gen_string(gen *g, char *plain, size_t cap)
{
    static const char *const pieces[] = {"ab", "{", "}", "[", "]", ":", ",", "\\\"", "\\\\",
                                         "x y", "\\n", "\u00e9", "0", "q"};
    gen_put(g, "\"");
    size_t used = 0;
    int count = (int)(gen_next(g) % 12);
    for (int i = 0; i < count; i++) {
        const char *piece = pieces[gen_next(g) % 14];
        gen_put(g, piece);
        if (plain && used + strlen(piece) < cap) {
            memcpy(plain + used, piece, strlen(piece));
            used += strlen(piece);
        }
    }
    if (plain)
        plain[used] = '\0';
    gen_put(g, "\"");
}

static void gen_value(gen *g, int depth, bool *numeric);

static void gen_object(gen *g, int depth)
{
    gen_put(g, "{");
    int members = (int)(gen_next(g) % 6);
    for (int i = 0; i < members; i++) {
        if (i)
            gen_put(g, ",");
        gen_ws(g);
        char name[64];
        gen_string(g, name, sizeof name);
        gen_ws(g);
        gen_put(g, ":");
        gen_ws(g);
        /* The slot is taken before the value: names are reported in
         * document order, a member before those nested in its value. */
        int slot = g->nexpected < 1024 ? g->nexpected++ : -1;
        bool numeric = false;
        gen_value(g, depth + 1, &numeric);
        if (slot >= 0)
            snprintf(g->expected[slot], 16, "%s%.14s", numeric ? "=" : "-", name);
        gen_ws(g);
    }
    gen_put(g, "}");
}

static void gen_value(gen *g, int depth, bool *numeric)
{
    unsigned pick = gen_next(g) % (depth > 6 ? 4 : 7);
    switch (pick) {
    case 0: gen_put(g, gen_next(g) % 2 ? "-12" : "3.5e2"); *numeric = true; break;
    case 1: gen_string(g, NULL, 0); break;
    case 2: gen_put(g, gen_next(g) % 2 ? "true" : "null"); break;
    case 3: gen_put(g, "[ 7, \"s\"]"); *numeric = true; break;
    case 4: case 5: gen_object(g, depth); break;
    default: {
        gen_put(g, "[");
        int items = (int)(gen_next(g) % 4);
        for (int i = 0; i < items; i++) {
            bool first_numeric = false;   /* an array that starts with a number counts */
            if (i)
                gen_put(g, ",");
            gen_value(g, depth + 1, &first_numeric);
            if (i == 0)
                *numeric = first_numeric;
        }
        gen_put(g, "]");
    }
    }
}

static bool collect_name(void *arg, const char *name, size_t len)
{
    watched *w = arg;
    if (w->n < 8)
        snprintf(w->names[w->n], sizeof w->names[0], "%.*s", (int)len, name);
    w->n++;
    return false;
}

START_TEST(json_skip_matches_a_generated_corpus)
{
    gen *g = calloc(1, sizeof *g);
    for (unsigned doc = 0; doc < 3000; doc++) {
        g->n = 0;
        g->nexpected = 0;
        g->seed = doc;
        gen_object(g, 0);
        size_t doc_len = g->n;
        gen_put(g, ", \"sort\": [1]}");
        watched w = {.n = 0};
        ej_iter it = {.p = g->text, .end = g->text + g->n};
        ej_span value;
        bool seen = true;
        ck_assert_msg(ej_take_value_watching(&it, &value, collect_name, &w, &seen),
                      "document %u not skipped: %.*s", doc, (int)doc_len, g->text);
        ck_assert_msg(value.n == doc_len, "document %u: skipped %zu bytes of %zu", doc, value.n,
                      doc_len);
        ck_assert(!seen);
        int numeric = 0;
        for (int i = 0; i < g->nexpected; i++) {
            if (g->expected[i][0] != '=')
                continue;
            const char *want = g->expected[i] + 1;
            if (numeric < 8)
                ck_assert_msg(strncmp(w.names[numeric], want, 14) == 0 || strchr(want, '"'),
                              "document %u member %d: %s, expected %s", doc, numeric,
                              w.names[numeric], want);
            numeric++;
        }
        ck_assert(g->nexpected < 1024);
        ck_assert_msg(w.n == numeric, "document %u: %d numeric members named, %d expected", doc,
                      w.n, numeric);
        ej_iter plain = {.p = g->text, .end = g->text + g->n};
        ck_assert(ej_take_value(&plain, &value) && value.n == doc_len);
        /* Cut short, the document is refused, never overrun. */
        ej_iter cut = {.p = g->text, .end = g->text + doc_len - 1};
        ck_assert(!ej_take_value(&cut, &value));
    }
    free(g);
}
END_TEST

START_TEST(json_int64_bounds)
{
    int64_t n;
    ck_assert(ej_int64(span("9223372036854775807"), &n) && n == INT64_MAX);
    ck_assert(!ej_int64(span("9223372036854775808"), &n));
    ck_assert(!ej_int64(span("-9223372036854775809"), &n));
    ck_assert(!ej_int64(span("1.5"), &n));
    ck_assert(!ej_int64(span("1e3"), &n));
    ck_assert(!ej_int64(span("\"12\""), &n));
}
END_TEST

START_TEST(json_strings_unescape)
{
    char out[64];
    ck_assert(ej_string(span("\"a\\\"b\\\\c\\/\\n\\u00e9\\ud83d\\ude00\""), out, sizeof out));
    ck_assert_str_eq(out, "a\"b\\c/\n\xc3\xa9\xf0\x9f\x98\x80");
    /* A lone surrogate becomes U+FFFD, not invalid UTF-8. */
    ck_assert(ej_string(span("\"\\ud800x\""), out, sizeof out));
    ck_assert_str_eq(out, "\xef\xbf\xbdx");
    /* Truncation never cuts a UTF-8 sequence. */
    char small[4];
    ej_string(span("\"ab\xc3\xa9\""), small, sizeof small);
    ck_assert_str_eq(small, "ab");
    ck_assert(ej_string_is(span("\"caf\\u00e9\""), "caf\xc3\xa9"));
    ck_assert(!ej_string_is(span("\"cafe\""), "caf"));
    ck_assert(ej_key_is(span("\"_source\""), "_source"));
    char *dup = ej_string_dup(span("\"x\\ty\""));
    ck_assert_str_eq(dup, "x\ty");
    free(dup);
    ck_assert_ptr_null(ej_string_dup(span("12")));
    ck_assert(!ej_string(span("\"a\x01b\""), out, sizeof out));     /* raw control character */
    ck_assert(ej_string(span("\"a\\\\\""), out, sizeof out));      /* "a\\": an escaped backslash ends it */
    ck_assert_str_eq(out, "a\\");
}
END_TEST

START_TEST(json_malformed_is_refused)
{
    static const char *const bad[] = {
        "", "{", "{\"a\":1", "[1,2", "[}", "{]", "\"abc", "tru", "{\"a\":1}x",
        "-", "{\"a\":[1,{\"b\":]}}", "nul",
    };
    ej_span root;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!ej_root(bad[i], strlen(bad[i]), &root) ||
                          (strcmp(bad[i], "-") == 0 && ej_kind_of(root) == EJ_NUMBER),
                      "accepted: %s", bad[i]);
    /* Malformed members inside a well-delimited object stop the iteration. */
    ej_iter it;
    ej_span k, v;
    ej_members(span("{\"a\":1 \"b\":2}"), &it);
    ck_assert(ej_next_member(&it, &k, &v));
    ck_assert(!ej_next_member(&it, &k, &v));
    ck_assert(it.failed);
    /* Deep nesting fails cleanly, without recursion. */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 1);
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    ck_assert(!ej_root(deep, 2 * depth, &root));
    free(deep);
}
END_TEST

START_TEST(str_builds_json)
{
    es_str s = {0};
    es_str_json_string(&s, "a\"b\\\n\x01", 6);
    ck_assert_str_eq(es_str_cstr(&s), "\"a\\\"b\\\\\\u000a\\u0001\"");
    es_str_reset(&s);
    es_str_printf(&s, "%d-%s", 42, "x");
    ck_assert_str_eq(es_str_cstr(&s), "42-x");
    es_str_free(&s);
    ck_assert_str_eq(es_str_cstr(&s), "");
    es_str_free(&s);
}
END_TEST

/* ------------------------------------------------------------------ cursor */

static const char *const inc_keys[] = {"updated_at", "id"};

START_TEST(cursor_round_trip)
{
    es_cursor c, d;
    ck_assert(es_cursor_init(&c, inc_keys, 2));
    ck_assert(es_cursor_take(&c, span("[1704067200000, 9007199254740993, 4294967298]"), "pit-1"));
    c.has_upper = true;
    c.upper_ms = 1704070000000;
    es_str text = {0};
    es_cursor_encode(&c, &text);
    ck_assert_str_eq(es_str_cstr(&text),
                     "{\"v\":1,\"keys\":[\"updated_at\",\"id\"],\"after\":[1704067200000,"
                     "9007199254740993],\"pit\":\"pit-1\",\"shard_doc\":4294967298,"
                     "\"upper\":1704070000000,\"end\":false}");
    char error[200];
    ck_assert_msg(es_cursor_decode(text.p, text.n, &d, error, sizeof error), "%s", error);
    ck_assert(es_cursor_same_keys(&c, &d));
    ck_assert_str_eq(d.after[1], "9007199254740993");    /* exact, never a double */
    ck_assert_str_eq(d.pit, "pit-1");
    ck_assert_str_eq(d.shard_doc, "4294967298");
    ck_assert(d.has_upper && d.upper_ms == 1704070000000);
    ck_assert(!d.end);
    es_str again = {0};
    es_cursor_encode(&d, &again);
    ck_assert_str_eq(es_str_cstr(&again), es_str_cstr(&text));
    es_str_free(&text);
    es_str_free(&again);
    es_cursor_free(&c);
    es_cursor_free(&d);
}
END_TEST

START_TEST(cursor_before_first_record)
{
    es_cursor c, d;
    ck_assert(es_cursor_init(&c, NULL, 0));
    es_str text = {0};
    es_cursor_encode(&c, &text);
    ck_assert_str_eq(es_str_cstr(&text), "{\"v\":1,\"keys\":[],\"end\":false}");
    char error[200];
    ck_assert(es_cursor_decode(text.p, text.n, &d, error, sizeof error));
    ck_assert(!d.has_after);
    es_str after = {0};
    ck_assert(!es_cursor_search_after(&d, true, false, &after));
    ck_assert_uint_eq(after.n, 0);
    es_str_free(&text);
    es_cursor_free(&c);
    es_cursor_free(&d);
}
END_TEST

START_TEST(cursor_search_after_in_same_and_new_pit)
{
    es_cursor c;
    es_str out = {0};
    ck_assert(es_cursor_init(&c, inc_keys, 2));
    ck_assert(es_cursor_take(&c, span("[1704067200000,\"k\\\"1\",12]"), "p"));
    ck_assert(es_cursor_search_after(&c, true, true, &out));
    ck_assert_str_eq(es_str_cstr(&out), "[1704067200000,\"k\\\"1\",12]");
    es_str_reset(&out);
    /* Another PIT: the stable keys, then the largest _shard_doc. */
    ck_assert(es_cursor_search_after(&c, true, false, &out));
    ck_assert_str_eq(es_str_cstr(&out), "[1704067200000,\"k\\\"1\"," ES_SHARD_DOC_MAX "]");
    es_str_reset(&out);
    ck_assert(es_cursor_search_after(&c, false, false, &out));
    ck_assert_str_eq(es_str_cstr(&out), "[1704067200000,\"k\\\"1\"]");
    es_cursor_free(&c);
    /* Without stable keys only the same PIT can continue. */
    ck_assert(es_cursor_init(&c, NULL, 0));
    ck_assert(es_cursor_take(&c, span("[77]"), "p"));
    es_str_reset(&out);
    ck_assert(es_cursor_search_after(&c, true, true, &out));
    ck_assert_str_eq(es_str_cstr(&out), "[77]");
    es_str_reset(&out);
    ck_assert(!es_cursor_search_after(&c, true, false, &out));
    es_cursor_free(&c);
    es_str_free(&out);
}
END_TEST

START_TEST(cursor_take_checks_shape)
{
    es_cursor c;
    ck_assert(es_cursor_init(&c, inc_keys, 2));
    ck_assert(!es_cursor_take(&c, span("[1, 2]"), "pit"));          /* no _shard_doc */
    ck_assert(!es_cursor_take(&c, span("[1, 2, 3, 4]"), "pit"));
    ck_assert(!es_cursor_take(&c, span("[1, {\"x\":1}, 3]"), "pit"));
    ck_assert(!es_cursor_take(&c, span("{}"), "pit"));
    ck_assert(!c.has_after);
    ck_assert(es_cursor_take(&c, span("[1, null]"), NULL));         /* scroll: no _shard_doc */
    ck_assert(c.has_after && c.pit == NULL);
    es_cursor_free(&c);
}
END_TEST

START_TEST(cursor_decode_refuses_bad_cursors)
{
    static const char *const bad[] = {
        "[]", "{}", "{\"v\":2,\"keys\":[]}", "{\"v\":1}", "{\"v\":1,\"keys\":[1]}",
        "{\"v\":1,\"keys\":[\"a\",\"b\",\"c\"]}", "{\"v\":1,\"keys\":[\"a\"],\"after\":[1,2]}",
        "{\"v\":1,\"keys\":[\"a\"],\"after\":[[1]]}", "{\"v\":1,\"keys\":[\"a\"],\"after\":{}}",
        "{\"v\":1,\"keys\":[],\"upper\":\"x\"}", "{\"v\":1,\"keys\":[],\"pit\":\"p\",\"shard_doc\":1}",
        "{\"v\":1,\"keys\":[\"a\"],\"after\":[1],\"pit\":2,\"shard_doc\":1}", "not json",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        es_cursor c;
        char error[200];
        ck_assert_msg(!es_cursor_decode(bad[i], strlen(bad[i]), &c, error, sizeof error),
                      "accepted: %s", bad[i]);
        ck_assert_msg(error[0] != '\0', "no reason for: %s", bad[i]);
    }
}
END_TEST

START_TEST(cursor_keyset_query)
{
    es_cursor c;
    es_str q = {0};
    bool dates[2] = {true, false};
    ck_assert(es_cursor_init(&c, inc_keys, 2));
    ck_assert(!es_cursor_keyset_query(&c, dates, &q));
    ck_assert(es_cursor_take(&c, span("[5,\"a\"]"), NULL));
    ck_assert(es_cursor_keyset_query(&c, dates, &q));
    ck_assert_str_eq(es_str_cstr(&q),
                     "{\"bool\":{\"should\":[{\"range\":{\"updated_at\":{\"gt\":5,\"format\":"
                     "\"epoch_millis\"}}},{\"bool\":{\"filter\":[{\"range\":{\"updated_at\":{"
                     "\"gte\":5,\"lte\":5,\"format\":\"epoch_millis\"}}},{\"range\":{\"id\":{"
                     "\"gt\":\"a\"}}}]}}],\"minimum_should_match\":1}}");
    ej_span root;
    ck_assert(ej_root(q.p, q.n, &root));
    es_cursor_free(&c);
    es_str_free(&q);
}
END_TEST

/* ------------------------------------------------------------------ mapping */

static const char product_mapping[] =
    "{\"products\":{\"mappings\":{\"properties\":{"
    "\"id\":{\"type\":\"long\"},\"n\":{\"type\":\"integer\"},\"s\":{\"type\":\"short\"},"
    "\"price\":{\"type\":\"scaled_float\",\"scaling_factor\":100},\"r\":{\"type\":\"half_float\"},"
    "\"name\":{\"type\":\"text\",\"fields\":{\"keyword\":{\"type\":\"keyword\"}}},"
    "\"ok\":{\"type\":\"boolean\"},\"w\":{\"type\":\"wildcard\"},"
    "\"ts\":{\"type\":\"date\"},\"day\":{\"type\":\"date\",\"format\":\"yyyy/MM/dd\"},"
    "\"secs\":{\"type\":\"date\",\"format\":\"epoch_second\"},"
    "\"iso\":{\"type\":\"date\",\"format\":\"strict_date_optional_time\"},"
    "\"brand\":{\"properties\":{\"name\":{\"type\":\"keyword\"},\"since\":{\"type\":\"date\"}}},"
    "\"variants\":{\"type\":\"nested\",\"properties\":{\"sku\":{\"type\":\"keyword\"}}},"
    "\"loc\":{\"type\":\"geo_point\"},\"al\":{\"type\":\"alias\",\"path\":\"id\"},"
    "\"raw\":{\"type\":\"object\",\"enabled\":false}}}}}";

START_TEST(mapping_types)
{
    es_mapping m;
    char error[200];
    ck_assert_msg(es_mapping_parse(product_mapping, strlen(product_mapping), &m, error, sizeof error),
                  "%s", error);
    static const struct {
        const char *path;
        etl_type type;
    } want[] = {
        {"id", ETL_TYPE_INT64},      {"n", ETL_TYPE_INT32},         {"s", ETL_TYPE_INT32},
        {"price", ETL_TYPE_DOUBLE},  {"r", ETL_TYPE_DOUBLE},        {"name", ETL_TYPE_STRING},
        {"ok", ETL_TYPE_BOOL},       {"w", ETL_TYPE_STRING},        {"ts", ETL_TYPE_TIMESTAMP_US},
        {"day", ETL_TYPE_STRING},    {"secs", ETL_TYPE_TIMESTAMP_US}, {"iso", ETL_TYPE_TIMESTAMP_US},
        {"brand", ETL_TYPE_STRUCT},  {"brand.name", ETL_TYPE_STRING},
        {"brand.since", ETL_TYPE_TIMESTAMP_US}, {"variants", ETL_TYPE_STRUCT},
        {"variants.sku", ETL_TYPE_STRING}, {"loc", ETL_TYPE_NULL},   {"raw", ETL_TYPE_NULL},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const es_field *f = es_mapping_find(&m, want[i].path);
        ck_assert_msg(f != NULL, "%s not found", want[i].path);
        ck_assert_msg(f->type == want[i].type, "%s: type %d, wanted %d", want[i].path, f->type,
                      want[i].type);
    }
    ck_assert(es_mapping_find(&m, "variants")->list);
    ck_assert(!es_mapping_find(&m, "brand")->list);
    ck_assert_ptr_null(es_mapping_find(&m, "al"));                  /* aliases are not in _source */
    ck_assert_ptr_null(es_mapping_find(&m, "name.keyword"));        /* multi-fields neither */
    ck_assert_int_eq(es_mapping_find(&m, "secs")->date, ES_DATE_SECONDS);
    ck_assert_int_eq(es_mapping_find(&m, "iso")->date, ES_DATE_TEXT);
    ck_assert_int_eq(es_mapping_find(&m, "ts")->date, ES_DATE_MILLIS);
    ck_assert(m.has_numeric_dates);
    ck_assert(es_mapping_mark_list(&m, "name"));
    ck_assert(!es_mapping_mark_list(&m, "nope"));
    es_str paths = {0};
    es_mapping_leaf_paths(&m, &paths);
    ck_assert_ptr_nonnull(strstr(es_str_cstr(&paths), "\"brand.since\""));
    ck_assert_ptr_nonnull(strstr(es_str_cstr(&paths), "\"variants.sku\""));
    ck_assert_ptr_null(strstr(es_str_cstr(&paths), "\"brand\","));
    es_str_free(&paths);
    es_mapping_free(&m);
}
END_TEST

START_TEST(mapping_formats)
{
    ck_assert_int_eq(es_date_format_kind(NULL), ES_DATE_MILLIS);
    ck_assert_int_eq(es_date_format_kind("strict_date_optional_time||epoch_millis"), ES_DATE_MILLIS);
    ck_assert_int_eq(es_date_format_kind("epoch_second||epoch_millis"), ES_DATE_SECONDS);
    ck_assert_int_eq(es_date_format_kind("date_optional_time"), ES_DATE_TEXT);
    ck_assert_int_eq(es_date_format_kind("yyyy-MM-dd HH:mm"), ES_DATE_NONE);
    ck_assert_int_eq(es_date_format_kind("strict_date||basic_date"), ES_DATE_NONE);
}
END_TEST

START_TEST(mapping_versions_and_merges)
{
    /* 7.x with a type level, and two indices that disagree on a field. */
    const char *text = "{\"a\":{\"mappings\":{\"_doc\":{\"properties\":{\"x\":{\"type\":\"long\"},"
                       "\"y\":{\"type\":\"keyword\"}}}}},\"b\":{\"mappings\":{\"properties\":{"
                       "\"x\":{\"type\":\"keyword\"},\"z\":{\"type\":\"boolean\"}}}},"
                       "\"c\":{\"mappings\":{}}}";
    es_mapping m;
    char error[200];
    ck_assert_msg(es_mapping_parse(text, strlen(text), &m, error, sizeof error), "%s", error);
    ck_assert_int_eq(es_mapping_find(&m, "x")->type, ETL_TYPE_NULL);
    ck_assert_int_eq(es_mapping_find(&m, "y")->type, ETL_TYPE_STRING);
    ck_assert_int_eq(es_mapping_find(&m, "z")->type, ETL_TYPE_BOOL);
    ck_assert(!m.has_numeric_dates);
    es_mapping_free(&m);
    static const char *const bad[] = {"[]", "{}", "{\"a\":{}}", "{\"a\":{\"mappings\":{\"properties\":[]}}}",
                                      "{\"a\":{\"mappings\":{\"properties\":{\"x\":1}}}}", "{\"a\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(!es_mapping_parse(bad[i], strlen(bad[i]), &m, error, sizeof error),
                      "accepted: %s", bad[i]);
        ck_assert(error[0] != '\0');
    }
}
END_TEST

START_TEST(mapping_fixes_epoch_dates)
{
    es_mapping m;
    char error[200];
    ck_assert(es_mapping_parse(product_mapping, strlen(product_mapping), &m, error, sizeof error));
    es_str out = {0};
    const char *doc = "{\"id\":1,\"ts\":1704067200123,\"secs\":[86400, \"2024-01-01\"],"
                      "\"brand\":{\"since\":-1,\"name\":\"x\"},\"iso\":5,\"n\":3}";
    ck_assert(es_mapping_fix_dates(&m, span(doc), &out));
    ck_assert_str_eq(es_str_cstr(&out),
                     "{\"id\":1,\"ts\":\"2024-01-01T00:00:00.123Z\",\"secs\":[\"1970-01-02T00:00:"
                     "00.000Z\", \"2024-01-01\"],\"brand\":{\"since\":\"1969-12-31T23:59:59.999Z\","
                     "\"name\":\"x\"},\"iso\":5,\"n\":3}");
    es_str_reset(&out);
    ck_assert(!es_mapping_fix_dates(&m, span("{\"id\":2,\"ts\":\"2024-01-01T00:00:00Z\"}"), &out));
    ck_assert(!es_mapping_fix_dates(&m, span("{\"ts\":1.5,\"unmapped\":123}"), &out));
    es_str_free(&out);
    es_mapping_free(&m);
}
END_TEST

START_TEST(mapping_follows_source_filtering)
{
    es_mapping m;
    char error[200];
    ck_assert(es_mapping_parse(product_mapping, strlen(product_mapping), &m, error, sizeof error));
    const char *inc[] = {"id", "brand.*", "variants", "na*"};
    const char *exc[] = {"variants.sku", "brand.since"};
    es_mapping_filter(&m, inc, 4, exc, 2);
    ck_assert_ptr_nonnull(es_mapping_find(&m, "id"));
    ck_assert_ptr_nonnull(es_mapping_find(&m, "name"));
    ck_assert_ptr_nonnull(es_mapping_find(&m, "brand.name"));
    ck_assert_ptr_null(es_mapping_find(&m, "brand.since"));
    ck_assert_ptr_nonnull(es_mapping_find(&m, "variants"));
    ck_assert_uint_eq(es_mapping_find(&m, "variants")->count, 0);
    ck_assert_ptr_null(es_mapping_find(&m, "price"));
    ck_assert_ptr_null(es_mapping_find(&m, "ts"));
    ck_assert_uint_eq(m.root.count, 4);
    es_mapping_free(&m);
    /* Excludes alone, and a parent reached only through an include below it. */
    ck_assert(es_mapping_parse(product_mapping, strlen(product_mapping), &m, error, sizeof error));
    const char *inc2[] = {"brand.name"};
    es_mapping_filter(&m, inc2, 1, NULL, 0);
    ck_assert_uint_eq(m.root.count, 1);
    ck_assert_uint_eq(es_mapping_find(&m, "brand")->count, 1);
    es_mapping_free(&m);
    ck_assert(es_mapping_parse(product_mapping, strlen(product_mapping), &m, error, sizeof error));
    size_t all = m.root.count;
    const char *exc2[] = {"*_at", "brand"};
    es_mapping_filter(&m, NULL, 0, exc2, 2);
    ck_assert_uint_eq(m.root.count, all - 1);
    ck_assert_ptr_null(es_mapping_find(&m, "brand"));
    es_mapping_free(&m);
}
END_TEST

/* A mock builder: records each declaration as "parent/name:type". */
static char declared[2048];
static int32_t next_column;

static int32_t mock_declare(etl_builder *b, int32_t parent, const char *name, etl_type type,
                            int32_t precision, int32_t scale)
{
    (void)b, (void)precision, (void)scale;
    char line[96];
    snprintf(line, sizeof line, "%d/%s:%d ", (int)parent, name, (int)type);
    strncat(declared, line, sizeof declared - strlen(declared) - 1);
    return next_column++;
}

static int32_t mock_list_item(etl_builder *b, int32_t list)
{
    (void)b;
    char line[32];
    snprintf(line, sizeof line, "item(%d)=%d ", (int)list, (int)next_column);
    strncat(declared, line, sizeof declared - strlen(declared) - 1);
    return next_column++;
}

START_TEST(mapping_declares_columns)
{
    const char *text = "{\"i\":{\"mappings\":{\"properties\":{\"id\":{\"type\":\"long\"},"
                       "\"tags\":{\"type\":\"keyword\"},\"geo\":{\"type\":\"geo_point\"},"
                       "\"b\":{\"properties\":{\"n\":{\"type\":\"keyword\"}}},"
                       "\"v\":{\"type\":\"nested\",\"properties\":{\"s\":{\"type\":\"integer\"}}}}}}}";
    es_mapping m;
    char error[200];
    ck_assert(es_mapping_parse(text, strlen(text), &m, error, sizeof error));
    ck_assert(es_mapping_mark_list(&m, "tags"));
    etl_host_api host = {.struct_size = sizeof host, .builder_declare = mock_declare,
                         .builder_list_item = mock_list_item};
    declared[0] = '\0';
    next_column = 0;
    ck_assert_int_eq(es_mapping_declare(&m, &host, NULL), ETL_OK);
    char want[512];
    snprintf(want, sizeof want, "-1/id:%d -1/tags:%d item(1)=2 -1/b:%d 3/n:%d -1/v:%d item(5)=6 6/s:%d ",
             ETL_TYPE_INT64, ETL_TYPE_LIST, ETL_TYPE_STRUCT, ETL_TYPE_STRING, ETL_TYPE_LIST,
             ETL_TYPE_INT32);
    ck_assert_str_eq(declared, want);
    es_mapping_free(&m);
}
END_TEST

/* ------------------------------------------------------------------ errors */

START_TEST(errors_are_classified)
{
    es_error e;
    const char *rejected = "{\"error\":{\"root_cause\":[{\"type\":\"es_rejected_execution_exception\","
                           "\"reason\":\"rejected execution\"}],\"type\":\"es_rejected_execution_"
                           "exception\",\"reason\":\"rejected execution\"},\"status\":429}";
    es_error_parse(rejected, strlen(rejected), 429, &e);
    ck_assert_str_eq(e.type, "es_rejected_execution_exception");
    ck_assert_int_eq(es_error_status(&e), ETL_ERR_RETRY);
    ck_assert(!es_error_is_context_missing(&e));

    const char *missing =
        "{\"error\":{\"root_cause\":[{\"type\":\"search_context_missing_exception\",\"reason\":"
        "\"No search context found for id [51641]\"}],\"type\":\"search_phase_execution_exception\","
        "\"reason\":\"all shards failed\",\"phase\":\"query\",\"grouped\":true,\"failed_shards\":"
        "[{\"shard\":-1,\"index\":null,\"reason\":{\"type\":\"search_context_missing_exception\","
        "\"reason\":\"No search context found for id [51641]\"}}],\"caused_by\":{\"type\":"
        "\"search_context_missing_exception\",\"reason\":\"No search context found for id "
        "[51641]\"}},\"status\":404}";
    es_error_parse(missing, strlen(missing), 404, &e);
    ck_assert(es_error_is_context_missing(&e));
    ck_assert_str_eq(e.reason, "No search context found for id [51641]");

    const char *no_index = "{\"error\":{\"root_cause\":[{\"type\":\"index_not_found_exception\","
                           "\"reason\":\"no such index [x]\"}],\"type\":\"index_not_found_exception\","
                           "\"reason\":\"no such index [x]\"},\"status\":404}";
    es_error_parse(no_index, strlen(no_index), 404, &e);
    ck_assert(!es_error_is_context_missing(&e));
    ck_assert_int_eq(es_error_status(&e), ETL_ERR_CONFIG);

    const char *plain = "{\"error\":\"no handler found for uri [/x/_pit]\",\"status\":400}";
    es_error_parse(plain, strlen(plain), 400, &e);
    ck_assert_str_eq(e.reason, "no handler found for uri [/x/_pit]");
    ck_assert_str_eq(e.type, "");
    es_error_parse("<html>\r\nBad Gateway</html>", 26, 502, &e);
    ck_assert_str_eq(e.reason, "<html>  Bad Gateway</html>");
    ck_assert_int_eq(es_error_status(&e), ETL_ERR_RETRY);
    es_error_parse(NULL, 0, 401, &e);
    ck_assert_int_eq(es_error_status(&e), ETL_ERR_AUTH);
    e.status = 503;
    ck_assert_int_eq(es_error_status(&e), ETL_ERR_RETRY);
    e.status = 413;
    ck_assert_int_eq(es_error_status(&e), ETL_ERR_PERMANENT);
}
END_TEST

START_TEST(partial_results_are_retryable)
{
    char why[300];
    ej_span none = {0};
    ck_assert_int_eq(es_check_complete(span("false"), span("{\"total\":2,\"failed\":0}"), why, sizeof why),
                     ETL_OK);
    ck_assert_int_eq(es_check_complete(none, none, why, sizeof why), ETL_OK);
    ck_assert_int_eq(es_check_complete(span("true"), none, why, sizeof why), ETL_ERR_RETRY);
    ck_assert_int_eq(
        es_check_complete(span("false"),
                          span("{\"total\":2,\"successful\":1,\"failed\":1,\"failures\":[{\"reason\":"
                               "{\"type\":\"x\",\"reason\":\"node gone\"}}]}"),
                          why, sizeof why),
        ETL_ERR_RETRY);
    ck_assert_str_eq(why, "1 of 2 shards failed: node gone: the results are partial");
}
END_TEST

START_TEST(base64_for_credentials)
{
    char *a = es_base64("elastic:changeme", 16);
    ck_assert_str_eq(a, "ZWxhc3RpYzpjaGFuZ2VtZQ==");
    free(a);
    char *b = es_base64("ab", 2);
    ck_assert_str_eq(b, "YWI=");
    free(b);
    char *c = es_base64("", 0);
    ck_assert_str_eq(c, "");
    free(c);
}
END_TEST

static Suite *es_suite(void)
{
    Suite *s = suite_create("elasticsearch");
    TCase *t = tcase_create("pure");
    tcase_add_test(t, json_members_and_values);
    tcase_add_test(t, json_skip_watches_numeric_members);
    tcase_add_test(t, json_skip_matches_a_generated_corpus);
    tcase_add_test(t, json_int64_bounds);
    tcase_add_test(t, json_strings_unescape);
    tcase_add_test(t, json_malformed_is_refused);
    tcase_add_test(t, str_builds_json);
    tcase_add_test(t, cursor_round_trip);
    tcase_add_test(t, cursor_before_first_record);
    tcase_add_test(t, cursor_search_after_in_same_and_new_pit);
    tcase_add_test(t, cursor_take_checks_shape);
    tcase_add_test(t, cursor_decode_refuses_bad_cursors);
    tcase_add_test(t, cursor_keyset_query);
    tcase_add_test(t, mapping_types);
    tcase_add_test(t, mapping_formats);
    tcase_add_test(t, mapping_versions_and_merges);
    tcase_add_test(t, mapping_fixes_epoch_dates);
    tcase_add_test(t, mapping_follows_source_filtering);
    tcase_add_test(t, mapping_declares_columns);
    tcase_add_test(t, errors_are_classified);
    tcase_add_test(t, partial_results_are_retryable);
    tcase_add_test(t, base64_for_credentials);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return run_suite_as_tap(es_suite());
}
