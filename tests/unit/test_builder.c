/* The row builder: types, nulls, parsing, nesting, schema growth, rollback,
 * errors, and the exported Arrow arrays checked buffer by buffer. */
#include "batch.h"
#include "builder.h"
#include "context.h"
#include "tap_runner.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static etl_ctx *ctx;
static etl_builder *b;

static void setup(void)
{
    ctx = ctx_new("test builder", NULL);
    b = builder_new(ctx);
}

static void teardown(void)
{
    builder_free(b);
    ctx_free(ctx);
}

static int32_t F(const char *name)
{
    return builder_field(b, ETL_ROOT, name, strlen(name));
}

static int32_t FC(int32_t parent, const char *name)
{
    return builder_field(b, parent, name, strlen(name));
}

static etl_batch *finish(void)
{
    etl_batch *out = NULL;
    ck_assert_int_eq(builder_finish(b, &out), ETL_OK);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(out->struct_size, sizeof(etl_batch));
    ck_assert_str_eq(out->schema->format, "+s");
    ck_assert_int_eq(out->array->length, out->num_rows);
    ck_assert_int_eq(out->array->offset, 0);
    ck_assert_int_eq(out->array->null_count, 0);
    ck_assert_int_eq(out->array->n_children, out->schema->n_children);
    return out;
}

static const struct ArrowArray *col(const etl_batch *batch, const char *name)
{
    int32_t i = batch_column_index(batch, name);
    ck_assert_msg(i >= 0, "no column %s", name);
    return batch->array->children[i];
}

static const struct ArrowSchema *sch(const etl_batch *batch, const char *name)
{
    int32_t i = batch_column_index(batch, name);
    ck_assert_msg(i >= 0, "no column %s", name);
    return batch->schema->children[i];
}

static bool valid(const struct ArrowArray *a, int64_t i)
{
    return etl_arrow_is_valid(a, i);
}

static const int32_t *offs(const struct ArrowArray *a)
{
    return (const int32_t *)a->buffers[1];
}

static void assert_str(const struct ArrowArray *a, int64_t i, const char *want)
{
    size_t len;
    const char *p = etl_arrow_bytes(a, i, &len);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert(memcmp(p, want, len) == 0);
}

static void assert_error_has(etl_status st, etl_status want, const char *a, const char *b2)
{
    ck_assert_int_eq(st, want);
    const char *msg = ctx_error_message(ctx);
    ck_assert_msg(strstr(msg, a) != NULL, "'%s' not in: %s", a, msg);
    if (b2)
        ck_assert_msg(strstr(msg, b2) != NULL, "'%s' not in: %s", b2, msg);
}

static void dec_eq(const struct ArrowArray *a, int64_t i, int64_t want)
{
    uint64_t lo;
    int64_t hi;
    etl_arrow_decimal128(a, i, &lo, &hi);
    ck_assert_int_eq((int64_t)lo, want);
    ck_assert_int_eq(hi, want < 0 ? -1 : 0);
}

START_TEST(every_type_inferred)
{
    int32_t fb = F("b"), fl = F("l"), fg = F("g"), fu = F("u"), fz = F("z"), ft = F("t"),
            fd = F("d"), fdec = F("dec");
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_bool(b, fb, true), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, fl, 42), ETL_OK);
    ck_assert_int_eq(builder_append_double(b, fg, 1.5), ETL_OK);
    ck_assert_int_eq(builder_append_string(b, fu, "héllo", strlen("héllo")), ETL_OK);
    ck_assert_int_eq(builder_append_binary(b, fz, "\0\1\2", 3), ETL_OK);
    ck_assert_int_eq(builder_append_timestamp_us(b, ft, 1714521600000000), ETL_OK);
    ck_assert_int_eq(builder_append_date(b, fd, 19782), ETL_OK);
    ck_assert_int_eq(builder_append_decimal(b, fdec, "-12.34", 6), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_bool(b, fb, false), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, fl, -7), ETL_OK);
    ck_assert_int_eq(builder_append_string(b, fu, "", 0), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    ck_assert_int_eq(builder_column_type(b, fl), ETL_TYPE_INT64);
    ck_assert_int_eq(builder_column_type(b, fdec), ETL_TYPE_DECIMAL);
    ck_assert_int_eq(builder_rows(b), 2);
    ck_assert_int_gt(builder_bytes(b), 0);

    etl_batch *out = finish();
    ck_assert_int_eq(out->num_rows, 2);
    ck_assert_int_eq(out->schema->n_children, 8);
    struct { const char *name, *format; int64_t n_buffers; } want[] = {
        {"b", "b", 2}, {"l", "l", 2}, {"g", "g", 2}, {"u", "u", 3}, {"z", "z", 3},
        {"t", "tsu:UTC", 2}, {"d", "tdD", 2}, {"dec", "d:38,2", 2}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ck_assert_str_eq(out->schema->children[i]->name, want[i].name);
        ck_assert_str_eq(out->schema->children[i]->format, want[i].format);
        ck_assert_int_eq(out->schema->children[i]->flags, ARROW_FLAG_NULLABLE);
        ck_assert_int_eq(out->schema->children[i]->n_children, 0);
        ck_assert_int_eq(out->array->children[i]->n_buffers, want[i].n_buffers);
        ck_assert_int_eq(out->array->children[i]->length, 2);
        ck_assert_int_eq(out->array->children[i]->offset, 0);
        ck_assert_ptr_nonnull(out->array->children[i]->buffers[1]);
        ck_assert_ptr_nonnull(out->array->children[i]->release);
    }
    const struct ArrowArray *a = col(out, "b");
    ck_assert_ptr_null(a->buffers[0]);     /* no nulls: no bitmap */
    ck_assert(etl_arrow_bool(a, 0) && !etl_arrow_bool(a, 1));
    a = col(out, "l");
    ck_assert_int_eq(etl_arrow_int64(a, 0), 42);
    ck_assert_int_eq(etl_arrow_int64(a, 1), -7);
    a = col(out, "g");
    ck_assert_int_eq(a->null_count, 1);
    ck_assert(valid(a, 0) && !valid(a, 1));
    ck_assert(etl_arrow_double(a, 0) == 1.5);
    a = col(out, "u");
    ck_assert_int_eq(offs(a)[0], 0);
    ck_assert_int_eq(offs(a)[1], 6);
    ck_assert_int_eq(offs(a)[2], 6);
    assert_str(a, 0, "héllo");
    assert_str(a, 1, "");
    a = col(out, "z");
    size_t len;
    const char *p = etl_arrow_bytes(a, 0, &len);
    ck_assert_uint_eq(len, 3);
    ck_assert(memcmp(p, "\0\1\2", 3) == 0);
    ck_assert(!valid(a, 1));
    ck_assert_int_eq(etl_arrow_int64(col(out, "t"), 0), 1714521600000000);
    ck_assert_int_eq(etl_arrow_int32(col(out, "d"), 0), 19782);
    dec_eq(col(out, "dec"), 0, -1234);
    /* b 1, l 16, g 1+16, u 12+6, z 1+12+3, t 1+16, d 1+8, dec 1+32 */
    ck_assert_int_eq(out->approx_bytes, 127);
    batch_release(out);
}
END_TEST

/* A list's item declared by handle keeps its type, with no values at all
 * or with values that would otherwise widen it. */
START_TEST(declared_list_item_types)
{
    int32_t ints = builder_declare(b, ETL_ROOT, "ints", ETL_TYPE_LIST, 0, 0);
    int32_t item = builder_list_item(b, ints);
    ck_assert_int_eq(builder_declare_type(b, item, ETL_TYPE_INT32, 0, 0), item);
    int32_t empty = builder_declare(b, ETL_ROOT, "empty", ETL_TYPE_LIST, 0, 0);
    int32_t empty_item = builder_list_item(b, empty);
    ck_assert_int_eq(builder_declare_type(b, empty_item, ETL_TYPE_DECIMAL, 12, 3), empty_item);
    assert_error_has(builder_declare_type(b, item, ETL_TYPE_STRING, 0, 0), ETL_ERR_CONFIG,
                     "cannot be declared", "string");
    assert_error_has(builder_declare_type(b, 9999, ETL_TYPE_INT32, 0, 0), ETL_ERR_PERMANENT,
                     "invalid column handle 9999", NULL);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_list(b, ints), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, item, 7), ETL_OK);
    ck_assert_int_eq(builder_end_list(b, ints), ETL_OK);
    ck_assert_int_eq(builder_append_null(b, empty), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    etl_batch *out = finish();
    const struct ArrowSchema *list = sch(out, "ints");
    ck_assert_str_eq(list->format, "+l");
    ck_assert_str_eq(list->children[0]->format, "i");
    ck_assert_str_eq(sch(out, "empty")->children[0]->format, "d:12,3");
    batch_release(out);
}
END_TEST

START_TEST(declared_types)
{
    int32_t i32 = builder_declare(b, ETL_ROOT, "i32", ETL_TYPE_INT32, 0, 0);
    int32_t f32 = builder_declare(b, ETL_ROOT, "f32", ETL_TYPE_FLOAT, 0, 0);
    int32_t dec = builder_declare(b, ETL_ROOT, "dec", ETL_TYPE_DECIMAL, 10, 2);
    int32_t ts = builder_declare(b, ETL_ROOT, "ts", ETL_TYPE_TIMESTAMP_US, 0, 0);
    ck_assert_int_ge(i32, 0);
    ck_assert_int_eq(builder_declare(b, ETL_ROOT, "i32", ETL_TYPE_INT32, 0, 0), i32);
    assert_error_has(builder_declare(b, ETL_ROOT, "i32", ETL_TYPE_STRING, 0, 0), ETL_ERR_CONFIG,
                     "'i32'", "string");
    assert_error_has(builder_declare(b, ETL_ROOT, "bad", ETL_TYPE_DECIMAL, 39, 2),
                     ETL_ERR_CONFIG, "decimal(39,2)", NULL);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, i32, INT32_MIN), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, f32, 3), ETL_OK);
    ck_assert_int_eq(builder_append_decimal(b, dec, "12.3", 4), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, ts, 5), ETL_OK);     /* microseconds */
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    assert_error_has(builder_append_int64(b, i32, (int64_t)INT32_MAX + 1), ETL_ERR_DATA, "'i32'",
                     "int32");
    builder_cancel_record(b);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_string(b, i32, "-17", 3), ETL_OK);
    ck_assert_int_eq(builder_append_string(b, f32, "2.5", 3), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, dec, -7), ETL_OK);
    ck_assert_int_eq(builder_append_string(b, ts, "1970-01-01T00:00:01Z", 20), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    etl_batch *out = finish();
    ck_assert_int_eq(out->num_rows, 2);
    ck_assert_str_eq(sch(out, "i32")->format, "i");
    ck_assert_str_eq(sch(out, "f32")->format, "f");
    ck_assert_str_eq(sch(out, "dec")->format, "d:10,2");
    ck_assert_int_eq(etl_arrow_int32(col(out, "i32"), 0), INT32_MIN);
    ck_assert_int_eq(etl_arrow_int32(col(out, "i32"), 1), -17);
    ck_assert(etl_arrow_float(col(out, "f32"), 0) == 3.0f);
    ck_assert(etl_arrow_float(col(out, "f32"), 1) == 2.5f);
    dec_eq(col(out, "dec"), 0, 1230);
    dec_eq(col(out, "dec"), 1, -700);
    ck_assert_int_eq(etl_arrow_int64(col(out, "ts"), 0), 5);
    ck_assert_int_eq(etl_arrow_int64(col(out, "ts"), 1), 1000000);
    batch_release(out);
}
END_TEST

START_TEST(nulls_everywhere)
{
    int32_t a = F("a"), s = F("s"), never = F("never"), st = F("st"), lst = F("lst");
    int32_t sx = FC(st, "x");
    for (int r = 0; r < 10; r++) {
        ck_assert_int_eq(builder_begin_record(b), ETL_OK);
        if (r % 3 == 0)
            ck_assert_int_eq(builder_append_int64(b, a, r), ETL_OK);
        else
            ck_assert_int_eq(builder_append_null(b, a), ETL_OK);
        if (r % 2)
            ck_assert_int_eq(builder_append_string(b, s, "x", 1), ETL_OK);
        ck_assert_int_eq(builder_append_null(b, never), ETL_OK);
        if (r == 4) {
            ck_assert_int_eq(builder_begin_struct(b, st), ETL_OK);
            ck_assert_int_eq(builder_append_null(b, sx), ETL_OK);
            ck_assert_int_eq(builder_end_struct(b, st), ETL_OK);
            ck_assert_int_eq(builder_begin_list(b, lst), ETL_OK);
            ck_assert_int_eq(builder_append_null(b, builder_list_item(b, lst)), ETL_OK);
            ck_assert_int_eq(builder_end_list(b, lst), ETL_OK);
        }
        ck_assert_int_eq(builder_end_record(b), ETL_OK);
    }
    etl_batch *out = finish();
    const struct ArrowArray *ca = col(out, "a");
    ck_assert_int_eq(ca->null_count, 6);
    for (int r = 0; r < 10; r++)
        ck_assert_int_eq(valid(ca, r), r % 3 == 0);
    const uint8_t *bits = ca->buffers[0];
    ck_assert_uint_eq(bits[0], 0x49);        /* rows 0, 3, 6 */
    ck_assert_uint_eq(bits[1], 0x02);        /* row 9 */
    const struct ArrowArray *cs = col(out, "s");
    ck_assert_int_eq(cs->null_count, 5);
    for (int r = 0; r < 10; r++) {
        ck_assert_int_eq(valid(cs, r), r % 2);
        ck_assert_int_eq(offs(cs)[r + 1], (r + 1) / 2);
    }
    /* a column never given a value is Arrow's null type: no buffers */
    ck_assert_str_eq(sch(out, "never")->format, "n");
    ck_assert_int_eq(col(out, "never")->n_buffers, 0);
    ck_assert_int_eq(col(out, "never")->null_count, 10);
    ck_assert_int_eq(col(out, "never")->length, 10);
    const struct ArrowArray *cst = col(out, "st");
    ck_assert_int_eq(cst->null_count, 9);
    ck_assert(valid(cst, 4));
    ck_assert_str_eq(sch(out, "st")->children[0]->format, "n");
    ck_assert_int_eq(cst->children[0]->length, 10);
    const struct ArrowArray *cl = col(out, "lst");
    ck_assert_int_eq(cl->null_count, 9);
    ck_assert_int_eq(offs(cl)[5], 1);
    ck_assert_int_eq(offs(cl)[10], 1);
    ck_assert_int_eq(cl->children[0]->length, 1);
    ck_assert_int_eq(cl->children[0]->null_count, 1);
    batch_release(out);
}
END_TEST

START_TEST(int64_extremes_and_strict_text)
{
    int32_t v = F("v");
    int64_t values[] = {INT64_MIN, INT64_MAX, 0, -1, 1};
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(builder_begin_record(b), ETL_OK);
        ck_assert_int_eq(builder_append_int64(b, v, values[i]), ETL_OK);
        ck_assert_int_eq(builder_end_record(b), ETL_OK);
    }
    const char *good[] = {"-9223372036854775808", "9223372036854775807", "+12"};
    int64_t good_v[] = {INT64_MIN, INT64_MAX, 12};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(builder_begin_record(b), ETL_OK);
        ck_assert_int_eq(builder_append_string(b, v, good[i], strlen(good[i])), ETL_OK);
        ck_assert_int_eq(builder_end_record(b), ETL_OK);
    }
    const char *bad[] = {"9223372036854775808", "-9223372036854775809", " 1", "1 ", "1x", "",
                         "-", "1.0", "0x10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(builder_begin_record(b), ETL_OK);
        assert_error_has(builder_append_string(b, v, bad[i], strlen(bad[i])), ETL_ERR_DATA,
                         "'v'", "int64");
        builder_cancel_record(b);
    }
    etl_batch *out = finish();
    ck_assert_int_eq(out->num_rows, 8);
    const struct ArrowArray *a = col(out, "v");
    for (size_t i = 0; i < 5; i++)
        ck_assert_int_eq(etl_arrow_int64(a, (int64_t)i), values[i]);
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(etl_arrow_int64(a, (int64_t)i + 5), good_v[i]);
    ck_assert_ptr_null(a->buffers[0]);
    batch_release(out);
}
END_TEST

START_TEST(strict_text_other_types)
{
    int32_t d = builder_declare(b, ETL_ROOT, "d", ETL_TYPE_DOUBLE, 0, 0);
    int32_t f = builder_declare(b, ETL_ROOT, "f", ETL_TYPE_BOOL, 0, 0);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_string(b, d, "-1.5e3", 6), ETL_OK);
    ck_assert_int_eq(builder_append_string(b, f, "TRUE", 4), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_string(b, f, "0", 1), ETL_OK);
    assert_error_has(builder_append_string(b, d, " 1.5", 4), ETL_ERR_DATA, "'d'", "number");
    builder_cancel_record(b);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    assert_error_has(builder_append_string(b, f, "yes!", 4), ETL_ERR_DATA, "'f'", "bool");
    builder_cancel_record(b);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_string(b, f, "false", 5), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    etl_batch *out = finish();
    ck_assert_int_eq(out->num_rows, 2);
    ck_assert(etl_arrow_double(col(out, "d"), 0) == -1500.0);
    ck_assert(!valid(col(out, "d"), 1));
    ck_assert(etl_arrow_bool(col(out, "f"), 0));
    ck_assert(!etl_arrow_bool(col(out, "f"), 1));
    ck_assert(valid(col(out, "f"), 1));
    batch_release(out);
}
END_TEST

START_TEST(widening)
{
    int32_t x = F("x"), y = F("y"), z = builder_declare(b, ETL_ROOT, "z", ETL_TYPE_INT64, 0, 0);
    int64_t xs[] = {1, -2, 3};
    for (int r = 0; r < 3; r++) {
        ck_assert_int_eq(builder_begin_record(b), ETL_OK);
        ck_assert_int_eq(builder_append_int64(b, x, xs[r]), ETL_OK);
        ck_assert_int_eq(builder_append_double(b, y, 0.5), ETL_OK);
        ck_assert_int_eq(builder_append_double(b, z, 3.0), ETL_OK);   /* integral: stays int */
        ck_assert_int_eq(builder_end_record(b), ETL_OK);
    }
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_double(b, x, 2.5), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, y, 7), ETL_OK);
    assert_error_has(builder_append_double(b, z, 3.5), ETL_ERR_DATA, "'z'", "int64");
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    ck_assert_int_eq(builder_column_type(b, x), ETL_TYPE_DOUBLE);
    etl_batch *out = finish();
    ck_assert_str_eq(sch(out, "x")->format, "g");
    ck_assert_str_eq(sch(out, "y")->format, "g");
    ck_assert_str_eq(sch(out, "z")->format, "l");
    ck_assert(etl_arrow_double(col(out, "x"), 0) == 1.0);
    ck_assert(etl_arrow_double(col(out, "x"), 1) == -2.0);
    ck_assert(etl_arrow_double(col(out, "x"), 3) == 2.5);
    ck_assert(etl_arrow_double(col(out, "y"), 3) == 7.0);
    ck_assert_int_eq(etl_arrow_int64(col(out, "z"), 2), 3);
    ck_assert(!valid(col(out, "z"), 3));
    batch_release(out);
}
END_TEST

START_TEST(timestamp_parsing)
{
    struct { const char *text; int64_t us; } cases[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2024-05-01T12:30:45.123456Z", 1714566645123456},
        {"2024-05-01T12:30:45+02:00", 1714559445000000},
        {"2024-05-01T12:30:45-05:30", 1714586445000000},
        {"2024-05-01T12:30:45-0530", 1714586445000000},
        {"2024-05-01 12:30:45.123456", 1714566645123456},
        {"2024-05-01", 1714521600000000},
        {"2024-05-01T00:00", 1714521600000000},
        {"2024-05-01T12:30:45.5Z", 1714566645500000},
        {"2024-05-01T12:30:45.123456789Z", 1714566645123456},
        {"1969-12-31T23:59:59.5Z", -500000},
        {"2024-02-29T00:00:00z", 19782LL * 86400 * 1000000},
    };
    const char *bad[] = {"2024-13-01", "2024-02-30", "2023-02-29", "2024-05-01T25:00:00",
                         "2024-05-01T12:60", "2024-05-01X12:00", "", "2024-5-1",
                         "2024-05-01T12:00:00+2", "2024-05-01T12:00:00Zjunk",
                         "2024-05-01T12:00:00.Z", "24-05-01", "2024-05-01T12:00:00+24:00",
                         "2024-05-01T"};
    int32_t ts = builder_declare(b, ETL_ROOT, "ts", ETL_TYPE_TIMESTAMP_US, 0, 0);
    size_t n = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(builder_begin_record(b), ETL_OK);
        ck_assert_msg(builder_append_string(b, ts, cases[i].text, strlen(cases[i].text)) == ETL_OK,
                      "%s: %s", cases[i].text, ctx_error_message(ctx));
        ck_assert_int_eq(builder_end_record(b), ETL_OK);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(builder_begin_record(b), ETL_OK);
        ck_assert_msg(builder_append_string(b, ts, bad[i], strlen(bad[i])) == ETL_ERR_DATA,
                      "accepted %s", bad[i]);
        ck_assert(strstr(ctx_error_message(ctx), "'ts'") != NULL);
        ck_assert(strstr(ctx_error_message(ctx), "timestamp") != NULL);
        builder_cancel_record(b);
    }
    etl_batch *out = finish();
    ck_assert_int_eq(out->num_rows, (int64_t)n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(etl_arrow_int64(col(out, "ts"), (int64_t)i) == cases[i].us, "%s",
                      cases[i].text);
    batch_release(out);
}
END_TEST

START_TEST(date_parsing)
{
    int32_t d = builder_declare(b, ETL_ROOT, "d", ETL_TYPE_DATE, 0, 0);
    int32_t t = builder_declare(b, ETL_ROOT, "t", ETL_TYPE_TIMESTAMP_US, 0, 0);
    const char *texts[] = {"2024-02-29", "1900-03-01", "9999-12-31", "1970-01-01"};
    int32_t days[] = {19782, -25508, 2932896, 0};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(builder_begin_record(b), ETL_OK);
        ck_assert_int_eq(builder_append_string(b, d, texts[i], strlen(texts[i])), ETL_OK);
        ck_assert_int_eq(builder_append_date(b, t, days[i]), ETL_OK);
        ck_assert_int_eq(builder_end_record(b), ETL_OK);
    }
    const char *bad[] = {"2023-02-29", "2024-05-01T00:00", "2024-00-10", "abcd-ef-gh"};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(builder_begin_record(b), ETL_OK);
        assert_error_has(builder_append_string(b, d, bad[i], strlen(bad[i])), ETL_ERR_DATA, "'d'",
                         "date");
        builder_cancel_record(b);
    }
    etl_batch *out = finish();
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(etl_arrow_int32(col(out, "d"), i), days[i]);
        ck_assert_int_eq(etl_arrow_int64(col(out, "t"), i), (int64_t)days[i] * 86400000000LL);
    }
    batch_release(out);
}
END_TEST

START_TEST(decimals)
{
    int32_t d = builder_declare(b, ETL_ROOT, "d", ETL_TYPE_DECIMAL, 10, 2);
    int32_t inf = F("inferred");
    int32_t big = builder_declare(b, ETL_ROOT, "big", ETL_TYPE_DECIMAL, 38, 0);
    struct { const char *text; int64_t v; } ok[] = {
        {"12.34", 1234}, {"-0.5", -50}, {"1e2", 10000}, {"12.340", 1234}, {"99999999.99", 9999999999},
        {"0", 0}, {".5", 50}, {"+3.", 300}, {"1.5E-1", 15}, {"-0.00", 0}};
    size_t n = sizeof ok / sizeof ok[0];
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(builder_begin_record(b), ETL_OK);
        ck_assert_msg(builder_append_decimal(b, d, ok[i].text, strlen(ok[i].text)) == ETL_OK,
                      "%s: %s", ok[i].text, ctx_error_message(ctx));
        ck_assert_int_eq(builder_end_record(b), ETL_OK);
    }
    const char *bad[] = {"12.345", "100000000", "abc", "1.2.3", "", "-", "1e", "1e999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(builder_begin_record(b), ETL_OK);
        assert_error_has(builder_append_decimal(b, d, bad[i], strlen(bad[i])), ETL_ERR_DATA,
                         "'d'", "decimal");
        builder_cancel_record(b);
    }
    /* inferred: the scale grows to fit (existing values rescaled) */
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_decimal(b, inf, "1.5", 3), ETL_OK);
    ck_assert_int_eq(builder_append_string(b, big, "99999999999999999999999999999999999999", 38),
                     ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_decimal(b, inf, "-2.25", 5), ETL_OK);
    assert_error_has(builder_append_string(b, big, "100000000000000000000000000000000000000", 39),
                     ETL_ERR_DATA, "'big'", "precision");
    ck_assert_int_eq(builder_append_double(b, d, 1.25), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    etl_batch *out = finish();
    ck_assert_int_eq(out->num_rows, (int64_t)n + 2);
    const struct ArrowArray *a = col(out, "d");
    for (size_t i = 0; i < n; i++)
        dec_eq(a, (int64_t)i, ok[i].v);
    dec_eq(a, (int64_t)n + 1, 125);
    ck_assert_str_eq(sch(out, "inferred")->format, "d:38,2");
    dec_eq(col(out, "inferred"), (int64_t)n, 150);
    dec_eq(col(out, "inferred"), (int64_t)n + 1, -225);
    ck_assert(!valid(col(out, "inferred"), 0));
    uint64_t lo;
    int64_t hi;
    etl_arrow_decimal128(col(out, "big"), (int64_t)n, &lo, &hi);
    /* 10^38 - 1 = 0x4B3B4CA85A86C47A098A223FFFFFFFFF */
    ck_assert_uint_eq(lo, 0x098A223FFFFFFFFFULL);
    ck_assert_int_eq(hi, 0x4B3B4CA85A86C47ALL);
    batch_release(out);
}
END_TEST

START_TEST(schema_growth)
{
    int32_t a = F("a");
    for (int r = 0; r < 2; r++) {
        ck_assert_int_eq(builder_begin_record(b), ETL_OK);
        ck_assert_int_eq(builder_append_int64(b, a, r), ETL_OK);
        ck_assert_int_eq(builder_end_record(b), ETL_OK);
    }
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    int32_t bb = F("b");
    ck_assert_int_eq(builder_append_string(b, bb, "new", 3), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    etl_batch *one = finish();
    ck_assert_int_eq(one->num_rows, 3);
    ck_assert_int_eq(one->schema->n_children, 2);
    const struct ArrowArray *cb = col(one, "b");
    ck_assert(!valid(cb, 0) && !valid(cb, 1) && valid(cb, 2));
    ck_assert_int_eq(offs(cb)[0], 0);
    ck_assert_int_eq(offs(cb)[2], 0);
    ck_assert_int_eq(offs(cb)[3], 3);
    ck_assert(!valid(col(one, "a"), 2));
    ck_assert_int_eq(builder_rows(b), 0);
    ck_assert_int_eq(builder_bytes(b), 0);

    /* next batch: same handles, same types, plus a new column */
    ck_assert_int_eq(F("a"), a);
    ck_assert_int_eq(F("b"), bb);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_string(b, bb, "x", 1), ETL_OK);
    ck_assert_int_eq(builder_append_bool(b, F("c"), true), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    etl_batch *two = finish();
    ck_assert_int_eq(two->schema->n_children, 3);
    ck_assert_str_eq(two->schema->children[0]->name, "a");
    ck_assert_str_eq(two->schema->children[0]->format, "l");
    ck_assert_str_eq(two->schema->children[1]->format, "u");
    ck_assert_str_eq(two->schema->children[2]->format, "b");
    ck_assert(!valid(col(two, "a"), 0));
    assert_str(col(two, "b"), 0, "x");
    /* the batches are independent: release in any order */
    batch_release(one);
    assert_str(col(two, "b"), 0, "x");
    batch_release(two);
}
END_TEST

START_TEST(zero_row_finish)
{
    etl_batch *empty = finish();
    ck_assert_int_eq(empty->num_rows, 0);
    ck_assert_int_eq(empty->schema->n_children, 0);
    batch_release(empty);
    int32_t s = F("s"), st = F("st");
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_string(b, s, "v", 1), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, FC(st, "x"), 1), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    etl_batch *one = finish();
    etl_batch *zero = finish();
    ck_assert_int_eq(zero->num_rows, 0);
    ck_assert_int_eq(zero->schema->n_children, 2);
    const struct ArrowArray *cs = col(zero, "s");
    ck_assert_str_eq(sch(zero, "s")->format, "u");
    ck_assert_int_eq(cs->length, 0);
    ck_assert_int_eq(cs->n_buffers, 3);
    ck_assert_ptr_nonnull(cs->buffers[1]);
    ck_assert_int_eq(offs(cs)[0], 0);
    ck_assert_str_eq(sch(zero, "st")->format, "+s");
    ck_assert_int_eq(col(zero, "st")->children[0]->length, 0);
    batch_release(zero);
    batch_release(one);
}
END_TEST

START_TEST(nested_struct)
{
    int32_t brand = F("brand");
    int32_t name = FC(brand, "name"), id = FC(brand, "id");
    ck_assert_int_eq(builder_column_type(b, brand), ETL_TYPE_STRUCT);
    /* row 0: full; row 1: null; row 2: {} missing fields; row 3: absent;
     * row 4: fields set without begin_struct (opens it implicitly) */
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_struct(b, brand), ETL_OK);
    ck_assert_int_eq(builder_append_string(b, name, "acme", 4), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, id, 7), ETL_OK);
    ck_assert_int_eq(builder_end_struct(b, brand), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_null(b, brand), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_struct(b, brand), ETL_OK);
    ck_assert_int_eq(builder_end_struct(b, brand), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, id, 9), ETL_OK);
    int32_t geo = FC(brand, "geo");
    ck_assert_int_eq(builder_append_double(b, FC(geo, "lat"), 1.5), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    etl_batch *out = finish();
    const struct ArrowArray *a = col(out, "brand");
    const struct ArrowSchema *s = sch(out, "brand");
    ck_assert_str_eq(s->format, "+s");
    ck_assert_int_eq(s->n_children, 3);
    ck_assert_int_eq(a->n_buffers, 1);
    ck_assert_int_eq(a->n_children, 3);
    ck_assert_str_eq(s->children[0]->name, "name");
    ck_assert_str_eq(s->children[1]->name, "id");
    ck_assert_str_eq(s->children[2]->name, "geo");
    ck_assert_int_eq(a->null_count, 2);
    ck_assert(valid(a, 0) && !valid(a, 1) && valid(a, 2) && !valid(a, 3) && valid(a, 4));
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(a->children[k]->length, 5);
    const struct ArrowArray *n = a->children[0], *i = a->children[1], *g = a->children[2];
    assert_str(n, 0, "acme");
    ck_assert_int_eq(n->null_count, 4);
    ck_assert_int_eq(offs(n)[5], 4);
    ck_assert_int_eq(etl_arrow_int64(i, 0), 7);
    ck_assert_int_eq(etl_arrow_int64(i, 4), 9);
    ck_assert_int_eq(i->null_count, 3);
    ck_assert_int_eq(g->null_count, 4);
    ck_assert(valid(g, 4));
    ck_assert(etl_arrow_double(g->children[0], 4) == 1.5);
    ck_assert_int_eq(g->children[0]->length, 5);
    batch_release(out);
}
END_TEST

START_TEST(lists_empty_vs_null)
{
    int32_t tags = F("tags");
    int32_t item = builder_list_item(b, tags);
    ck_assert_int_ge(item, 0);
    ck_assert_int_eq(builder_list_item(b, tags), item);
    const char *rows[][3] = {{"a", "b", NULL}, {NULL}, {NULL}, {"c", NULL}};
    for (int r = 0; r < 5; r++) {
        ck_assert_int_eq(builder_begin_record(b), ETL_OK);
        if (r == 2) {
            ck_assert_int_eq(builder_append_null(b, tags), ETL_OK);
        } else if (r < 4) {
            ck_assert_int_eq(builder_begin_list(b, tags), ETL_OK);
            for (int k = 0; k < 3 && rows[r][k]; k++)
                ck_assert_int_eq(builder_append_string(b, item, rows[r][k], 1), ETL_OK);
            if (r == 3)
                ck_assert_int_eq(builder_append_null(b, item), ETL_OK);
            ck_assert_int_eq(builder_end_list(b, tags), ETL_OK);
        }
        ck_assert_int_eq(builder_end_record(b), ETL_OK);
    }
    etl_batch *out = finish();
    const struct ArrowArray *a = col(out, "tags");
    const struct ArrowSchema *s = sch(out, "tags");
    ck_assert_str_eq(s->format, "+l");
    ck_assert_int_eq(s->n_children, 1);
    ck_assert_str_eq(s->children[0]->name, "item");
    ck_assert_str_eq(s->children[0]->format, "u");
    ck_assert_int_eq(a->n_buffers, 2);
    int32_t want[] = {0, 2, 2, 2, 4, 4};
    for (int k = 0; k < 6; k++)
        ck_assert_int_eq(offs(a)[k], want[k]);
    ck_assert(valid(a, 0) && valid(a, 1) && !valid(a, 2) && valid(a, 3) && !valid(a, 4));
    ck_assert_int_eq(a->null_count, 2);
    const struct ArrowArray *it = a->children[0];
    ck_assert_int_eq(it->length, 4);
    assert_str(it, 0, "a");
    assert_str(it, 1, "b");
    assert_str(it, 2, "c");
    ck_assert(!valid(it, 3));
    ck_assert_int_eq(it->null_count, 1);
    batch_release(out);
}
END_TEST

START_TEST(list_of_struct_late_field)
{
    int32_t items = F("items");
    int32_t elem = builder_list_item(b, items);
    int32_t x = FC(elem, "x");
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_list(b, items), ETL_OK);
    for (int k = 0; k < 1000; k++) {
        ck_assert_int_eq(builder_begin_struct(b, elem), ETL_OK);
        if (k % 2 == 0)
            ck_assert_int_eq(builder_append_int64(b, x, k), ETL_OK);
        ck_assert_int_eq(builder_end_struct(b, elem), ETL_OK);
    }
    ck_assert_int_eq(builder_end_list(b, items), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_list(b, items), ETL_OK);
    ck_assert_int_eq(builder_begin_struct(b, elem), ETL_OK);
    ck_assert_int_eq(builder_append_string(b, FC(elem, "z"), "late", 4), ETL_OK);
    ck_assert_int_eq(builder_end_struct(b, elem), ETL_OK);
    ck_assert_int_eq(builder_append_null(b, elem), ETL_OK);
    ck_assert_int_eq(builder_end_list(b, items), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    /* a field outside begin_struct in a list element is a caller bug */
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_list(b, items), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, x, 1), ETL_ERR_PERMANENT);
    builder_cancel_record(b);
    etl_batch *out = finish();
    ck_assert_int_eq(out->num_rows, 2);
    const struct ArrowArray *a = col(out, "items");
    ck_assert_int_eq(offs(a)[1], 1000);
    ck_assert_int_eq(offs(a)[2], 1002);
    const struct ArrowArray *e = a->children[0];
    const struct ArrowSchema *es = sch(out, "items")->children[0];
    ck_assert_str_eq(es->format, "+s");
    ck_assert_str_eq(es->children[1]->name, "z");
    ck_assert_int_eq(e->length, 1002);
    ck_assert_int_eq(e->null_count, 1);
    ck_assert(!valid(e, 1001));
    ck_assert_int_eq(e->children[0]->length, 1002);
    ck_assert_int_eq(e->children[1]->length, 1002);
    ck_assert_int_eq(e->children[0]->null_count, 502);
    ck_assert_int_eq(etl_arrow_int64(e->children[0], 998), 998);
    ck_assert_int_eq(e->children[1]->null_count, 1001);
    assert_str(e->children[1], 1000, "late");
    ck_assert_int_eq(offs(e->children[1])[1000], 0);
    batch_release(out);
}
END_TEST

START_TEST(list_of_list)
{
    int32_t m = F("m");
    int32_t inner = builder_list_item(b, m);
    int32_t v = builder_list_item(b, inner);
    /* [[1,2],[3]], [[]], null, [] */
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_list(b, m), ETL_OK);
    ck_assert_int_eq(builder_begin_list(b, inner), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, v, 1), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, v, 2), ETL_OK);
    ck_assert_int_eq(builder_end_list(b, inner), ETL_OK);
    ck_assert_int_eq(builder_begin_list(b, inner), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, v, 3), ETL_OK);
    ck_assert_int_eq(builder_end_list(b, inner), ETL_OK);
    ck_assert_int_eq(builder_end_list(b, m), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_list(b, m), ETL_OK);
    ck_assert_int_eq(builder_begin_list(b, inner), ETL_OK);
    ck_assert_int_eq(builder_end_list(b, inner), ETL_OK);
    ck_assert_int_eq(builder_end_list(b, m), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_null(b, m), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_list(b, m), ETL_OK);
    ck_assert_int_eq(builder_end_list(b, m), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    etl_batch *out = finish();
    const struct ArrowArray *a = col(out, "m");
    ck_assert_str_eq(sch(out, "m")->children[0]->format, "+l");
    ck_assert_str_eq(sch(out, "m")->children[0]->children[0]->format, "l");
    int32_t want_outer[] = {0, 2, 3, 3, 3};
    for (int k = 0; k < 5; k++)
        ck_assert_int_eq(offs(a)[k], want_outer[k]);
    ck_assert(!valid(a, 2) && valid(a, 3));
    const struct ArrowArray *in = a->children[0];
    ck_assert_int_eq(in->length, 3);
    int32_t want_inner[] = {0, 2, 3, 3};
    for (int k = 0; k < 4; k++)
        ck_assert_int_eq(offs(in)[k], want_inner[k]);
    ck_assert_int_eq(in->children[0]->length, 3);
    ck_assert_int_eq(etl_arrow_int64(in->children[0], 2), 3);
    batch_release(out);
}
END_TEST

static void good_record(int32_t id, int32_t items, int64_t v)
{
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, id, v), ETL_OK);
    ck_assert_int_eq(builder_begin_list(b, items), ETL_OK);
    int32_t elem = builder_list_item(b, items);
    ck_assert_int_eq(builder_begin_struct(b, elem), ETL_OK);
    ck_assert_int_eq(builder_append_string(b, FC(elem, "k"), "ok", 2), ETL_OK);
    ck_assert_int_eq(builder_end_struct(b, elem), ETL_OK);
    ck_assert_int_eq(builder_end_list(b, items), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
}

START_TEST(cancel_record_at_depth)
{
    int32_t id = F("id"), items = F("items");
    good_record(id, items, 1);
    int64_t bytes = builder_bytes(b);
    /* a bad record: deep in a list of structs with a nested list, then an error */
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, id, 2), ETL_OK);
    int32_t fresh = F("fresh");
    ck_assert_int_eq(builder_append_string(b, fresh, "only in the bad record", 22), ETL_OK);
    ck_assert_int_eq(builder_begin_list(b, items), ETL_OK);
    int32_t elem = builder_list_item(b, items);
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(builder_begin_struct(b, elem), ETL_OK);
        ck_assert_int_eq(builder_append_string(b, FC(elem, "k"), "bad", 3), ETL_OK);
        int32_t deep = FC(elem, "deep");
        ck_assert_int_eq(builder_begin_list(b, deep), ETL_OK);
        ck_assert_int_eq(builder_append_double(b, builder_list_item(b, deep), 1.0), ETL_OK);
        ck_assert_int_eq(builder_end_list(b, deep), ETL_OK);
        ck_assert_int_eq(builder_end_struct(b, elem), ETL_OK);
    }
    ck_assert_int_eq(builder_begin_struct(b, elem), ETL_OK);
    ck_assert_int_eq(builder_append_bool(b, FC(elem, "k"), true), ETL_ERR_DATA);
    builder_cancel_record(b);
    ck_assert_int_eq(builder_rows(b), 1);
    ck_assert_int_eq(builder_bytes(b), bytes);
    /* a type first seen in the cancelled record is forgotten */
    ck_assert_int_eq(builder_column_type(b, fresh), ETL_TYPE_NULL);
    good_record(id, items, 3);
    etl_batch *out = finish();
    ck_assert_int_eq(out->num_rows, 2);
    const struct ArrowArray *cid = col(out, "id");
    ck_assert_int_eq(etl_arrow_int64(cid, 0), 1);
    ck_assert_int_eq(etl_arrow_int64(cid, 1), 3);
    ck_assert_str_eq(sch(out, "fresh")->format, "n");
    const struct ArrowArray *a = col(out, "items");
    ck_assert_int_eq(offs(a)[2], 2);
    const struct ArrowArray *e = a->children[0];
    ck_assert_int_eq(e->length, 2);
    ck_assert_int_eq(e->null_count, 0);
    assert_str(e->children[0], 0, "ok");
    assert_str(e->children[0], 1, "ok");
    ck_assert_int_eq(offs(e->children[0])[2], 4);
    /* "deep" was discovered in the cancelled record: it stays, all null */
    ck_assert_str_eq(sch(out, "items")->children[0]->children[1]->name, "deep");
    ck_assert_str_eq(sch(out, "items")->children[0]->children[1]->format, "n");
    ck_assert_int_eq(e->children[1]->length, 2);
    ck_assert_int_eq(e->children[1]->null_count, 2);
    batch_release(out);
}
END_TEST

START_TEST(duplicate_field)
{
    int32_t a = F("a"), s = F("s");
    int32_t sx = FC(s, "x");
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, a, 1), ETL_OK);
    assert_error_has(builder_append_int64(b, a, 2), ETL_ERR_DATA, "duplicate", "'a'");
    builder_cancel_record(b);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_null(b, a), ETL_OK);
    assert_error_has(builder_append_int64(b, a, 2), ETL_ERR_DATA, "duplicate", "'a'");
    builder_cancel_record(b);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_struct(b, s), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, sx, 1), ETL_OK);
    assert_error_has(builder_append_int64(b, sx, 1), ETL_ERR_DATA, "duplicate", "'s.x'");
    builder_cancel_record(b);
    ck_assert_int_eq(builder_rows(b), 0);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, a, 5), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    etl_batch *out = finish();
    ck_assert_int_eq(out->num_rows, 1);
    ck_assert_int_eq(etl_arrow_int64(col(out, "a"), 0), 5);
    ck_assert_int_eq(col(out, "s")->null_count, 1);
    batch_release(out);
}
END_TEST

START_TEST(type_mismatch_errors)
{
    int32_t price = F("price"), brand = F("brand");
    int32_t name = FC(brand, "name");
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_append_int64(b, price, 1), ETL_OK);
    ck_assert_int_eq(builder_append_string(b, name, "a", 1), ETL_OK);
    ck_assert_int_eq(builder_end_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    assert_error_has(builder_append_string(b, price, "abc", 3), ETL_ERR_DATA, "'price'", "int64");
    ck_assert(strstr(ctx_error_message(ctx), "\"abc\"") != NULL);
    builder_cancel_record(b);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    assert_error_has(builder_append_bool(b, name, true), ETL_ERR_DATA, "'brand.name'", "string");
    ck_assert(strstr(ctx_error_message(ctx), "bool") != NULL);
    builder_cancel_record(b);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    assert_error_has(builder_append_int64(b, brand, 3), ETL_ERR_DATA, "'brand'", "struct");
    builder_cancel_record(b);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    assert_error_has(builder_begin_struct(b, price), ETL_ERR_DATA, "'price'", "int64");
    builder_cancel_record(b);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    assert_error_has(builder_begin_list(b, name), ETL_ERR_DATA, "'brand.name'", "list");
    builder_cancel_record(b);
    assert_error_has(FC(price, "sub"), ETL_ERR_DATA, "'price'", "int64");
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    assert_error_has(builder_append_binary(b, name, "x", 1), ETL_ERR_DATA, "binary", "string");
    builder_cancel_record(b);
    /* misuse */
    ck_assert_int_eq(builder_append_int64(b, price, 1), ETL_ERR_PERMANENT);
    ck_assert_int_eq(builder_append_int64(b, 999, 1), ETL_ERR_PERMANENT);
    ck_assert_int_eq(builder_append_int64(b, -4, 1), ETL_ERR_PERMANENT);
    ck_assert_int_eq(builder_begin_record(b), ETL_OK);
    ck_assert_int_eq(builder_begin_record(b), ETL_ERR_PERMANENT);
    ck_assert_int_eq(builder_end_struct(b, brand), ETL_ERR_PERMANENT);
    etl_batch *out = (etl_batch *)1;
    ck_assert_int_eq(builder_finish(b, &out), ETL_ERR_PERMANENT);
    ck_assert_ptr_null(out);
    builder_cancel_record(b);
    out = finish();
    ck_assert_int_eq(out->num_rows, 1);
    batch_release(out);
}
END_TEST

START_TEST(field_lookup_many)
{
    char name[32];
    int32_t ids[200];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "field_%d", i);
        ids[i] = F(name);
        ck_assert_int_ge(ids[i], 0);
    }
    for (int round = 0; round < 3; round++) {
        ck_assert_int_eq(builder_begin_record(b), ETL_OK);
        for (int k = 0; k < 200; k++) {
            int i = round == 1 ? 199 - k : (k * 7) % 200;
            snprintf(name, sizeof name, "field_%d", i);
            ck_assert_int_eq(F(name), ids[i]);
            ck_assert_int_eq(builder_append_int64(b, ids[i], i), ETL_OK);
        }
        ck_assert_int_eq(builder_end_record(b), ETL_OK);
    }
    /* names with the same prefix, an empty name, embedded bytes */
    int32_t e = builder_field(b, ETL_ROOT, "", 0);
    ck_assert_int_eq(builder_field(b, ETL_ROOT, "", 0), e);
    int32_t z = builder_field(b, ETL_ROOT, "a\0b", 3);
    ck_assert_int_ne(z, builder_field(b, ETL_ROOT, "a\0c", 3));
    ck_assert_int_eq(builder_field(b, ETL_ROOT, "a\0b", 3), z);
    etl_batch *out = finish();
    ck_assert_int_eq(out->schema->n_children, 203);
    for (int i = 0; i < 200; i++)
        ck_assert_int_eq(etl_arrow_int64(out->array->children[i], 2), i);
    batch_release(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("builder");
    TCase *tc = tcase_create("builder");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, every_type_inferred);
    tcase_add_test(tc, declared_types);
    tcase_add_test(tc, declared_list_item_types);
    tcase_add_test(tc, nulls_everywhere);
    tcase_add_test(tc, int64_extremes_and_strict_text);
    tcase_add_test(tc, strict_text_other_types);
    tcase_add_test(tc, widening);
    tcase_add_test(tc, timestamp_parsing);
    tcase_add_test(tc, date_parsing);
    tcase_add_test(tc, decimals);
    tcase_add_test(tc, schema_growth);
    tcase_add_test(tc, zero_row_finish);
    tcase_add_test(tc, nested_struct);
    tcase_add_test(tc, lists_empty_vs_null);
    tcase_add_test(tc, list_of_struct_late_field);
    tcase_add_test(tc, list_of_list);
    tcase_add_test(tc, cancel_record_at_depth);
    tcase_add_test(tc, duplicate_field);
    tcase_add_test(tc, type_mismatch_errors);
    tcase_add_test(tc, field_lookup_many);
    suite_add_tcase(s, tc);
    return run_suite_as_tap(s);
}
