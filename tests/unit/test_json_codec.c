/* JSON on the data path: json_decode (JSON -> builder), json_encode (batch
 * row -> JSON), and round trips through both. */
#include "batch.h"
#include "buf.h"
#include "builder.h"
#include "context.h"
#include "json_decode.h"
#include "json_encode.h"
#include "tap_runner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Hand-built Arrow arrays, to test the encoder alone (offsets included)     */
/* ------------------------------------------------------------------------ */

/* One column: its schema and array nodes. Nothing here is released. */
typedef struct column {
    struct ArrowSchema schema;
    struct ArrowArray array;
    const void *buffers[3];
    struct ArrowSchema *schema_children[4];
    struct ArrowArray *array_children[4];
} column;

static void column_init(column *c, const char *format, const char *name, int64_t length,
                        int64_t offset, const void *validity, const void *b1, const void *b2)
{
    memset(c, 0, sizeof *c);
    c->schema.format = format;
    c->schema.name = name;
    c->schema.children = c->schema_children;
    c->buffers[0] = validity;
    c->buffers[1] = b1;
    c->buffers[2] = b2;
    c->array.length = length;
    c->array.offset = offset;
    c->array.n_buffers = strcmp(format, "n") == 0 ? 0 : 3;
    c->array.buffers = c->buffers;
    c->array.children = c->array_children;
}

static void column_add_child(column *parent, column *child)
{
    int64_t k = parent->schema.n_children++;
    parent->schema_children[k] = &child->schema;
    parent->array_children[k] = &child->array;
    parent->array.n_children = parent->schema.n_children;
}

/* Encodes row `row` of a batch whose columns are `cols` into a static text. */
static const char *encode(column **cols, int n, int64_t rows, int64_t row)
{
    static char text[4096];
    column root;
    column_init(&root, "+s", "", rows, 0, NULL, NULL, NULL);
    for (int k = 0; k < n; k++)
        column_add_child(&root, cols[k]);
    etl_batch batch = {sizeof batch, rows, &root.schema, &root.array, 0};
    etl_buf out = {0};
    etl_status st = json_encode_row(&batch, row, &out);
    ck_assert_int_eq(st, ETL_OK);
    ck_assert_uint_eq(strlen(out.data), out.len);
    snprintf(text, sizeof text, "%s", out.data);
    buf_free(&out);
    return text;
}

static const char *encode_one(column *c, int64_t rows, int64_t row)
{
    return encode(&c, 1, rows, row);
}

START_TEST(encode_scalars)
{
    static const int64_t longs[] = {0, INT64_MAX, INT64_MIN, -42};
    static const int32_t ints[] = {7, -2147483647 - 1};
    static const uint8_t bools[] = {0x02};
    static const double doubles[] = {0.1, -0.0, 1e300, 1.0 / 3, 100, 5e-324, 123456789.125};
    static const float floats[] = {0.1f, 3.0f, 1e30f};
    column l, i, b, g, f;
    column_init(&l, "l", "l", 4, 0, NULL, longs, NULL);
    column_init(&i, "i", "i", 2, 0, NULL, ints, NULL);
    column_init(&b, "b", "b", 2, 0, NULL, bools, NULL);
    column_init(&g, "g", "g", 7, 0, NULL, doubles, NULL);
    column_init(&f, "f", "f", 3, 0, NULL, floats, NULL);
    ck_assert_str_eq(encode_one(&l, 4, 1), "{\"l\":9223372036854775807}");
    ck_assert_str_eq(encode_one(&l, 4, 2), "{\"l\":-9223372036854775808}");
    ck_assert_str_eq(encode_one(&i, 2, 1), "{\"i\":-2147483648}");
    ck_assert_str_eq(encode_one(&b, 2, 0), "{\"b\":false}");
    ck_assert_str_eq(encode_one(&b, 2, 1), "{\"b\":true}");
    ck_assert_str_eq(encode_one(&g, 7, 0), "{\"g\":0.1}");
    ck_assert_str_eq(encode_one(&g, 7, 1), "{\"g\":-0.0}");
    ck_assert_str_eq(encode_one(&g, 7, 2), "{\"g\":1e+300}");
    ck_assert_str_eq(encode_one(&g, 7, 3), "{\"g\":0.3333333333333333}");
    ck_assert_str_eq(encode_one(&g, 7, 4), "{\"g\":100.0}");
    ck_assert_str_eq(encode_one(&g, 7, 5), "{\"g\":4.94065645841247e-324}");
    ck_assert_str_eq(encode_one(&g, 7, 6), "{\"g\":123456789.125}");
    ck_assert_str_eq(encode_one(&f, 3, 0), "{\"f\":0.1}");
    ck_assert_str_eq(encode_one(&f, 3, 1), "{\"f\":3.0}");
    ck_assert_str_eq(encode_one(&f, 3, 2), "{\"f\":1e+30}");
}
END_TEST

START_TEST(encode_non_finite_doubles_as_null)
{
    static const double doubles[] = {NAN, INFINITY, -INFINITY};
    column g;
    column_init(&g, "g", "x", 3, 0, NULL, doubles, NULL);
    for (int64_t r = 0; r < 3; r++)
        ck_assert_str_eq(encode_one(&g, 3, r), "{\"x\":null}");
}
END_TEST

START_TEST(encode_strings)
{
    static const char data[] = "plain\"q\" \\ \n\t\x01\x1f\x7f" "é€😀" "bad\xC3(\xFF" "";
    static const int32_t offsets[] = {0, 5, 16, 25, 31, 31};
    column u;
    column_init(&u, "u", "s", 5, 0, NULL, offsets, data);
    ck_assert_str_eq(encode_one(&u, 5, 0), "{\"s\":\"plain\"}");
    ck_assert_str_eq(encode_one(&u, 5, 1), "{\"s\":\"\\\"q\\\" \\\\ \\n\\t\\u0001\\u001f\x7f\"}");
    ck_assert_str_eq(encode_one(&u, 5, 2), "{\"s\":\"é€😀\"}");
    ck_assert_str_eq(encode_one(&u, 5, 3), "{\"s\":\"bad\xEF\xBF\xBD(\xEF\xBF\xBD\"}");
    ck_assert_str_eq(encode_one(&u, 5, 4), "{\"s\":\"\"}");

    etl_buf out = {0};
    ck_assert_int_eq(json_encode_string(&out, "a\"\\\x08\x0c\r", 6), ETL_OK);
    ck_assert_str_eq(out.data, "\"a\\\"\\\\\\b\\f\\r\"");
    buf_free(&out);
}
END_TEST

START_TEST(encode_key_names_are_escaped)
{
    static const int64_t longs[] = {1};
    column l;
    column_init(&l, "l", "we\"ird\n", 1, 0, NULL, longs, NULL);
    ck_assert_str_eq(encode_one(&l, 1, 0), "{\"we\\\"ird\\n\":1}");
}
END_TEST

START_TEST(encode_binary_as_base64)
{
    static const char data[] = "hellohellohello!\x00\xff";
    static const int32_t offsets[] = {0, 5, 9, 11, 18};
    column z;
    column_init(&z, "z", "z", 4, 0, NULL, offsets, data);
    ck_assert_str_eq(encode_one(&z, 4, 0), "{\"z\":\"aGVsbG8=\"}");
    ck_assert_str_eq(encode_one(&z, 4, 1), "{\"z\":\"aGVsbA==\"}");
    ck_assert_str_eq(encode_one(&z, 4, 2), "{\"z\":\"b2g=\"}");
    ck_assert_str_eq(encode_one(&z, 4, 3), "{\"z\":\"ZWxsbyEA/w==\"}");
}
END_TEST

START_TEST(encode_timestamps_and_dates)
{
    static const int64_t us[] = {0, INT64_C(1734258030123456), INT64_C(1734258030123000),
                                 INT64_C(1734258030000000), -1, INT64_C(-62135596800000000)};
    static const int32_t days[] = {20072, 0, -1, -719162, 2932897};
    column ts, d;
    column_init(&ts, "tsu:UTC", "t", 6, 0, NULL, us, NULL);
    column_init(&d, "tdD", "d", 5, 0, NULL, days, NULL);
    ck_assert_str_eq(encode_one(&ts, 6, 0), "{\"t\":\"1970-01-01T00:00:00Z\"}");
    ck_assert_str_eq(encode_one(&ts, 6, 1), "{\"t\":\"2024-12-15T10:20:30.123456Z\"}");
    ck_assert_str_eq(encode_one(&ts, 6, 2), "{\"t\":\"2024-12-15T10:20:30.123Z\"}");
    ck_assert_str_eq(encode_one(&ts, 6, 3), "{\"t\":\"2024-12-15T10:20:30Z\"}");
    ck_assert_str_eq(encode_one(&ts, 6, 4), "{\"t\":\"1969-12-31T23:59:59.999999Z\"}");
    ck_assert_str_eq(encode_one(&ts, 6, 5), "{\"t\":\"0001-01-01T00:00:00Z\"}");
    ck_assert_str_eq(encode_one(&d, 5, 0), "{\"d\":\"2024-12-15\"}");
    ck_assert_str_eq(encode_one(&d, 5, 1), "{\"d\":\"1970-01-01\"}");
    ck_assert_str_eq(encode_one(&d, 5, 2), "{\"d\":\"1969-12-31\"}");
    ck_assert_str_eq(encode_one(&d, 5, 3), "{\"d\":\"0001-01-01\"}");
    ck_assert_str_eq(encode_one(&d, 5, 4), "{\"d\":\"+10000-01-01\"}");
}
END_TEST

START_TEST(encode_decimals_exactly)
{
    /* Little-endian two's complement pairs (lo, hi). */
    static const uint64_t words[] = {
        12345, 0,                                   /* 123.45 */
        (uint64_t)-5, UINT64_MAX,                   /* -0.05 */
        0, 0,                                       /* 0.00 */
        UINT64_C(0x098A223FFFFFFFFF), UINT64_C(0x4B3B4CA85A86C47A), /* 10^38 - 1 */
    };
    column d2, d0, dn;
    column_init(&d2, "d:10,2", "p", 3, 0, NULL, words, NULL);
    column_init(&d0, "d:38,0", "m", 4, 0, NULL, words, NULL);
    column_init(&dn, "d:5,-2", "n", 1, 0, NULL, words, NULL);
    ck_assert_str_eq(encode_one(&d2, 3, 0), "{\"p\":123.45}");
    ck_assert_str_eq(encode_one(&d2, 3, 1), "{\"p\":-0.05}");
    ck_assert_str_eq(encode_one(&d2, 3, 2), "{\"p\":0.00}");
    ck_assert_str_eq(encode_one(&d0, 4, 3), "{\"m\":99999999999999999999999999999999999999}");
    ck_assert_str_eq(encode_one(&dn, 1, 0), "{\"n\":1234500}");
}
END_TEST

START_TEST(encode_nulls_and_all_null_columns)
{
    static const int64_t longs[] = {1, 2, 3};
    static const uint8_t validity[] = {0x05};   /* rows 0 and 2 valid */
    column l, n;
    column_init(&l, "l", "a", 3, 0, validity, longs, NULL);
    column_init(&n, "n", "b", 3, 0, NULL, NULL, NULL);
    column *cols[] = {&l, &n};
    ck_assert_str_eq(encode(cols, 2, 3, 0), "{\"a\":1,\"b\":null}");
    ck_assert_str_eq(encode(cols, 2, 3, 1), "{\"a\":null,\"b\":null}");
    ck_assert_str_eq(encode(cols, 2, 3, 2), "{\"a\":3,\"b\":null}");
}
END_TEST

START_TEST(encode_respects_child_offsets)
{
    /* A column sliced by 2, a string column by 1, a struct by 1 whose child
     * is sliced by 1 more, and a list by 1 whose items are sliced by 2. */
    static const int64_t longs[] = {-1, -1, 10, 20};
    static const char text[] = "xxabc";
    static const int32_t str_offsets[] = {0, 2, 3, 5};
    static const uint8_t struct_validity[] = {0x02};   /* with the offset: row 0 valid, row 1 null */
    static const int64_t inner[] = {-9, -9, 100, 200};
    static const int32_t list_offsets[] = {9, 0, 2, 2};
    static const int64_t items[] = {-7, -7, 1, 2, 3};
    column l, u, s, s_child, list, item;
    column_init(&l, "l", "l", 2, 2, NULL, longs, NULL);
    column_init(&u, "u", "u", 2, 1, NULL, str_offsets, text);
    column_init(&s, "+s", "s", 2, 1, struct_validity, NULL, NULL);
    s.array.n_buffers = 1;
    column_init(&s_child, "l", "v", 3, 1, NULL, inner, NULL);
    column_add_child(&s, &s_child);
    column_init(&list, "+l", "list", 2, 1, NULL, list_offsets, NULL);
    list.array.n_buffers = 2;
    column_init(&item, "l", "item", 3, 2, NULL, items, NULL);
    column_add_child(&list, &item);
    column *cols[] = {&l, &u, &s, &list};
    ck_assert_str_eq(encode(cols, 4, 2, 0),
                     "{\"l\":10,\"u\":\"a\",\"s\":{\"v\":100},\"list\":[1,2]}");
    ck_assert_str_eq(encode(cols, 4, 2, 1), "{\"l\":20,\"u\":\"bc\",\"s\":null,\"list\":[]}");
}
END_TEST

START_TEST(encode_refuses_unknown_formats)
{
    static const int64_t longs[] = {1};
    column m;
    column_init(&m, "+m", "map", 1, 0, NULL, longs, NULL);
    column root;
    column_init(&root, "+s", "", 1, 0, NULL, NULL, NULL);
    column_add_child(&root, &m);
    etl_batch batch = {sizeof batch, 1, &root.schema, &root.array, 0};
    etl_buf out = {0};
    buf_append_str(&out, "kept");
    ck_assert_int_eq(json_encode_row(&batch, 0, &out), ETL_ERR_UNSUPPORTED);
    ck_assert_str_eq(out.data, "kept");
    ck_assert_ptr_nonnull(strstr(ctx_error_message(NULL), "'+m'"));
    ck_assert_int_eq(json_encode_row(&batch, 1, &out), ETL_ERR_PERMANENT);
    buf_free(&out);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Decode -> builder -> batch -> encode                                      */
/* ------------------------------------------------------------------------ */

static etl_ctx *ctx;
static etl_builder *builder;

static void setup(void)
{
    ctx = ctx_new("test json", NULL);
    builder = builder_new(ctx);
    ck_assert_ptr_nonnull(builder);
}

static void teardown(void)
{
    builder_free(builder);
    ctx_free(ctx);
}

/* Finishes the builder and returns every row as JSON, one per line. */
static char *finish_as_ndjson(void)
{
    etl_batch *batch = NULL;
    ck_assert_int_eq(builder_finish(builder, &batch), ETL_OK);
    etl_buf out = {0};
    buf_cstr(&out);
    for (int64_t r = 0; r < batch->num_rows; r++) {
        ck_assert_int_eq(json_encode_row(batch, r, &out), ETL_OK);
        buf_append_char(&out, '\n');
    }
    batch_release(batch);
    return out.data;
}

static void decode_ok(const char *json)
{
    etl_status st = json_decode_record(builder, json, strlen(json));
    ck_assert_msg(st == ETL_OK, "%s: %s", json, ctx_error_message(ctx));
}

/* Each line decodes and encodes back to itself. */
static void assert_round_trip(const char *const *lines, size_t n)
{
    etl_buf want = {0};
    buf_cstr(&want);
    for (size_t k = 0; k < n; k++) {
        decode_ok(lines[k]);
        buf_append_str(&want, lines[k]);
        buf_append_char(&want, '\n');
    }
    char *got = finish_as_ndjson();
    ck_assert_str_eq(got, want.data);
    free(got);
    buf_free(&want);
}

START_TEST(round_trip_flat)
{
    static const char *const lines[] = {
        "{\"id\":1,\"name\":\"a\",\"price\":1.5,\"ok\":true}",
        "{\"id\":2,\"name\":\"b\",\"price\":-0.25,\"ok\":false}",
    };
    assert_round_trip(lines, 2);
}
END_TEST

START_TEST(round_trip_nested)
{
    static const char *const lines[] = {
        "{\"id\":1,\"brand\":{\"name\":\"x\",\"id\":2},\"tags\":[\"a\",\"b\"],"
        "\"variants\":[{\"sku\":\"s1\",\"dims\":{\"w\":1.5,\"h\":2}},{\"sku\":\"s2\",\"dims\":{\"w\":3.0,\"h\":4}}],"
        "\"matrix\":[[1,2],[],[3]]}",
        "{\"id\":2,\"brand\":{\"name\":\"y\",\"id\":3},\"tags\":[],"
        "\"variants\":[{\"sku\":\"s3\",\"dims\":{\"w\":0.5,\"h\":6}}],\"matrix\":[[4]]}",
    };
    assert_round_trip(lines, 2);
}
END_TEST

START_TEST(round_trip_unicode_and_escapes)
{
    static const char *const lines[] = {
        "{\"s\":\"é€😀 \\\"q\\\" \\\\ \\n\\t\\u0001\",\"k\\u00e9y\":\"\\u0000\"}",
    };
    decode_ok(lines[0]);
    char *got = finish_as_ndjson();
    ck_assert_str_eq(got, "{\"s\":\"é€😀 \\\"q\\\" \\\\ \\n\\t\\u0001\",\"kéy\":\"\\u0000\"}\n");
    free(got);
    /* Escaped forms decode to the same text as the raw UTF-8. */
    decode_ok("{\"s\":\"\\u00e9\\u20ac\\ud83d\\ude00\"}");
    got = finish_as_ndjson();
    /* The next batch keeps the columns of the last one. */
    ck_assert_str_eq(got, "{\"s\":\"é€😀\",\"kéy\":null}\n");
    free(got);
}
END_TEST

START_TEST(round_trip_int64_extremes)
{
    static const char *const lines[] = {
        "{\"v\":9223372036854775807}",
        "{\"v\":-9223372036854775808}",
        "{\"v\":9007199254740993}",
        "{\"v\":0}",
    };
    assert_round_trip(lines, 4);
}
END_TEST

START_TEST(round_trip_nulls_and_empties)
{
    static const char *const lines[] = {
        "{\"a\":null,\"e\":[],\"o\":{},\"l\":[null,1]}",
        "{\"a\":null,\"e\":[],\"o\":{},\"l\":null}",
    };
    assert_round_trip(lines, 2);
}
END_TEST

START_TEST(fields_missing_from_a_record_are_null)
{
    decode_ok("{\"a\":1}");
    decode_ok("{\"b\":\"x\"}");
    decode_ok("{\"b\":\"y\",\"a\":3}");
    char *got = finish_as_ndjson();
    ck_assert_str_eq(got, "{\"a\":1,\"b\":null}\n{\"a\":null,\"b\":\"x\"}\n{\"a\":3,\"b\":\"y\"}\n");
    free(got);
}
END_TEST

START_TEST(numbers_beyond_int64_become_doubles)
{
    decode_ok("{\"n\":123456789012345678901234567890,\"m\":-9223372036854775809}");
    char *got = finish_as_ndjson();
    ck_assert_str_eq(got, "{\"n\":1.2345678901234568e+29,\"m\":-9.223372036854776e+18}\n");
    free(got);
}
END_TEST

START_TEST(malformed_lines_are_rejected_with_position)
{
    decode_ok("{\"a\":1}");
    const char *bad = "{\"a\":2,\n \"b\" 3}";
    ck_assert_int_eq(json_decode_record(builder, bad, strlen(bad)), ETL_ERR_DATA);
    ck_assert_str_eq(ctx_error_message(ctx),
                     "byte 13 (line 2, column 6): expected ':' after object key, found '3'");
    ck_assert_int_eq(ctx_error_status(ctx), ETL_ERR_DATA);
    ck_assert_int_eq(builder_rows(builder), 1);

    const char *truncated = "{\"a\":3,\"c\":[1,2";
    ck_assert_int_eq(json_decode_record(builder, truncated, strlen(truncated)), ETL_ERR_DATA);
    ck_assert_str_eq(ctx_error_message(ctx), "byte 15 (line 1, column 16): expected ',' or ']' "
                                             "after array element, found the end of the input");
    ck_assert_int_eq(json_decode_record(builder, "[1,2]", 5), ETL_ERR_DATA);
    ck_assert_str_eq(ctx_error_message(ctx),
                     "byte 0 (line 1, column 1): a record must be a JSON object, not an array");
    ck_assert_int_eq(json_decode_record(builder, "  \"x\"", 5), ETL_ERR_DATA);
    ck_assert_str_eq(ctx_error_message(ctx),
                     "byte 2 (line 1, column 3): a record must be a JSON object, not a string");
    ck_assert_int_eq(json_decode_record(builder, "", 0), ETL_ERR_DATA);
    ck_assert_int_eq(json_decode_record(builder, "{} {}", 5), ETL_ERR_DATA);
    ck_assert_int_eq(json_decode_record(builder, "{\"a\":1e999}", 11), ETL_ERR_DATA);
    ck_assert_ptr_nonnull(strstr(ctx_error_message(ctx), "beyond the range of a double"));

    /* The rejected records left no values behind (the column "c" they
     * added stays, untyped, as the builder's rule is). */
    decode_ok("{\"a\":4}");
    ck_assert_int_eq(builder_rows(builder), 2);
    char *got = finish_as_ndjson();
    ck_assert_str_eq(got, "{\"a\":1,\"c\":null}\n{\"a\":4,\"c\":null}\n");
    free(got);
}
END_TEST

START_TEST(type_conflicts_cancel_the_record)
{
    decode_ok("{\"a\":1,\"b\":[1]}");
    const char *bad = "{\"b\":[2],\"a\":\"text\"}";
    ck_assert_int_eq(json_decode_record(builder, bad, strlen(bad)), ETL_ERR_DATA);
    ck_assert_int_eq(builder_rows(builder), 1);
    /* A key twice in one record is the builder's "duplicate field". */
    ck_assert_int_eq(json_decode_record(builder, "{\"a\":5,\"a\":6}", 13), ETL_ERR_DATA);
    ck_assert_int_eq(builder_rows(builder), 1);
    decode_ok("{\"a\":2,\"b\":[3]}");
    char *got = finish_as_ndjson();
    ck_assert_str_eq(got, "{\"a\":1,\"b\":[1]}\n{\"a\":2,\"b\":[3]}\n");
    free(got);
}
END_TEST

START_TEST(every_truncation_of_a_record_is_rejected)
{
    const char *doc = "{\"id\":9223372036854775807,\"n\":\"Caf\\u00e9\",\"t\":[{\"x\":1.5},"
                      "{\"x\":-2}],\"o\":{\"p\":null,\"q\":true}}";
    size_t len = strlen(doc);
    for (size_t cut = 0; cut < len; cut++) {
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, doc, cut);
        ck_assert_int_eq(json_decode_record(builder, copy, cut), ETL_ERR_DATA);
        ck_assert_ptr_nonnull(strstr(ctx_error_message(ctx), "byte "));
        free(copy);
    }
    ck_assert_int_eq(builder_rows(builder), 0);
    decode_ok(doc);
    char *got = finish_as_ndjson();
    ck_assert_str_eq(got, "{\"id\":9223372036854775807,\"n\":\"Café\",\"t\":[{\"x\":1.5},"
                          "{\"x\":-2.0}],\"o\":{\"p\":null,\"q\":true}}\n");
    free(got);
}
END_TEST

START_TEST(decode_value_into_a_column)
{
    ck_assert_int_eq(builder_begin_record(builder), ETL_OK);
    int32_t id = builder_field(builder, ETL_ROOT, "id", 2);
    ck_assert_int_ge(id, 0);
    ck_assert_int_eq(builder_append_int64(builder, id, 7), ETL_OK);
    int32_t payload = builder_field(builder, ETL_ROOT, "payload", 7);
    const char *json = " {\"x\": [1, 2], \"y\": \"z\"} ";
    ck_assert_int_eq(json_decode_value(builder, payload, json, strlen(json)), ETL_OK);
    int32_t score = builder_field(builder, ETL_ROOT, "score", 5);
    ck_assert_int_eq(json_decode_value(builder, score, "2.5", 3), ETL_OK);
    ck_assert_int_eq(builder_end_record(builder), ETL_OK);

    ck_assert_int_eq(builder_begin_record(builder), ETL_OK);
    int32_t extra = builder_field(builder, ETL_ROOT, "extra", 5);
    ck_assert_int_eq(json_decode_value(builder, extra, "[1", 2), ETL_ERR_DATA);
    ck_assert_str_eq(ctx_error_message(ctx), "byte 2 (line 1, column 3): expected ',' or ']' "
                                             "after array element, found the end of the input");
    ck_assert_int_eq(builder_rows(builder), 1);
    char *got = finish_as_ndjson();
    ck_assert_str_eq(got, "{\"id\":7,\"payload\":{\"x\":[1,2],\"y\":\"z\"},\"score\":2.5,"
                          "\"extra\":null}\n");
    free(got);
}
END_TEST

START_TEST(declared_types_encode_as_documented)
{
    int32_t ts = builder_declare(builder, ETL_ROOT, "ts", ETL_TYPE_TIMESTAMP_US, 0, 0);
    int32_t day = builder_declare(builder, ETL_ROOT, "day", ETL_TYPE_DATE, 0, 0);
    int32_t dec = builder_declare(builder, ETL_ROOT, "dec", ETL_TYPE_DECIMAL, 12, 3);
    int32_t bin = builder_declare(builder, ETL_ROOT, "bin", ETL_TYPE_BINARY, 0, 0);
    ck_assert(ts >= 0 && day >= 0 && dec >= 0 && bin >= 0);
    ck_assert_int_eq(builder_begin_record(builder), ETL_OK);
    ck_assert_int_eq(builder_append_timestamp_us(builder, ts, INT64_C(1734258030123456)), ETL_OK);
    ck_assert_int_eq(builder_append_date(builder, day, 20072), ETL_OK);
    ck_assert_int_eq(builder_append_decimal(builder, dec, "-12.345", 7), ETL_OK);
    ck_assert_int_eq(builder_append_binary(builder, bin, "hello", 5), ETL_OK);
    ck_assert_int_eq(builder_end_record(builder), ETL_OK);
    char *got = finish_as_ndjson();
    ck_assert_str_eq(got, "{\"ts\":\"2024-12-15T10:20:30.123456Z\",\"day\":\"2024-12-15\","
                          "\"dec\":-12.345,\"bin\":\"aGVsbG8=\"}\n");
    free(got);
}
END_TEST

/* The fast path for short decimals must print exactly what the printf
 * path prints (shortest of %.15g..%.17g that reads back), and read back. */
START_TEST(doubles_print_shortest_round_trip_form)
{
    uint64_t seed = 88172645463325252ULL;
    for (int i = 0; i < 300000; i++) {
        seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
        double v;
        switch (i % 4) {
        case 0: v = (double)(seed % 10000000) / 100.0; break;
        case 1: v = (double)(seed % 1000000007) / pow(10, (double)(seed % 23)) * ((seed >> 40) & 1 ? -1 : 1); break;
        case 2: v = (double)(seed % 100000) * pow(10, (double)(seed % 9)); break;
        default: memcpy(&v, &seed, sizeof v); if (!isfinite(v)) v = 0.5; break;
        }
        etl_buf got = {0};
        ck_assert_int_eq(json_encode_double(&got, v), ETL_OK);
        char want[40];
        for (int precision = 15; precision <= 17; precision++) {
            snprintf(want, sizeof want, "%.*g", precision, v);
            if (strtod(want, NULL) == v)
                break;
        }
        if (strpbrk(want, ".e") == NULL)
            strcat(want, ".0");
        ck_assert_msg(strcmp(buf_cstr(&got), want) == 0, "%.17g printed as %s, expected %s", v,
                      buf_cstr(&got), want);
        ck_assert(strtod(got.data, NULL) == v);
        buf_free(&got);
    }
}
END_TEST

static Suite *codec_suite(void)
{
    Suite *s = suite_create("json_codec");
    TCase *tc = tcase_create("encode");
    tcase_add_test(tc, encode_scalars);
    tcase_add_test(tc, encode_non_finite_doubles_as_null);
    tcase_add_test(tc, encode_strings);
    tcase_add_test(tc, encode_key_names_are_escaped);
    tcase_add_test(tc, encode_binary_as_base64);
    tcase_add_test(tc, encode_timestamps_and_dates);
    tcase_add_test(tc, encode_decimals_exactly);
    tcase_add_test(tc, encode_nulls_and_all_null_columns);
    tcase_add_test(tc, encode_respects_child_offsets);
    tcase_add_test(tc, encode_refuses_unknown_formats);
    suite_add_tcase(s, tc);

    tc = tcase_create("round_trip");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, round_trip_flat);
    tcase_add_test(tc, round_trip_nested);
    tcase_add_test(tc, round_trip_unicode_and_escapes);
    tcase_add_test(tc, round_trip_int64_extremes);
    tcase_add_test(tc, round_trip_nulls_and_empties);
    tcase_add_test(tc, fields_missing_from_a_record_are_null);
    tcase_add_test(tc, numbers_beyond_int64_become_doubles);
    tcase_add_test(tc, malformed_lines_are_rejected_with_position);
    tcase_add_test(tc, type_conflicts_cancel_the_record);
    tcase_add_test(tc, every_truncation_of_a_record_is_rejected);
    tcase_add_test(tc, decode_value_into_a_column);
    tcase_add_test(tc, declared_types_encode_as_documented);
    tcase_add_test(tc, doubles_print_shortest_round_trip_form);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite_as_tap(codec_suite());
}
