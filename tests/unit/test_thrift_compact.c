/* Thrift compact protocol, Parquet metadata and the RLE / bit-packed
 * hybrid: encoders checked against known bytes (from the Thrift and Parquet
 * specifications), decoders against the encoders and against bad input. */
#include "encodings.h"
#include "parquet_metadata.h"
#include "parquet_reader.h"
#include "thrift_compact.h"

#include "tap_runner.h"

#include <check.h>
#include <stdio.h>

static void expect_bytes(const pq_buf *b, const uint8_t *want, size_t n)
{
    ck_assert_uint_eq(b->len, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(b->data[i] == want[i], "byte %zu is %02x, expected %02x", i, b->data[i],
                      want[i]);
}

START_TEST(zigzag_known_values)
{
    ck_assert_uint_eq(tc_zigzag64(0), 0);
    ck_assert_uint_eq(tc_zigzag64(-1), 1);
    ck_assert_uint_eq(tc_zigzag64(1), 2);
    ck_assert_uint_eq(tc_zigzag64(-2), 3);
    ck_assert_uint_eq(tc_zigzag64(1234), 2468);
    ck_assert_uint_eq(tc_zigzag64(INT64_MAX), UINT64_MAX - 1);
    ck_assert_uint_eq(tc_zigzag64(INT64_MIN), UINT64_MAX);
    ck_assert_int_eq(tc_unzigzag64(UINT64_MAX), INT64_MIN);
    ck_assert_int_eq(tc_unzigzag64(2468), 1234);
}
END_TEST

/* The worked example of protocols.md 6.2: a v1 data page header. */
START_TEST(page_header_known_bytes)
{
    pq_buf b = {0};
    pq_page_header h = {.type = PQ_PAGE_DATA, .uncompressed_size = 1234,
                        .compressed_size = 1234, .num_values = 100, .encoding = PQ_ENC_PLAIN,
                        .def_encoding = PQ_ENC_RLE, .rep_encoding = PQ_ENC_RLE};
    pq_page_header_write(&h, &b);
    static const uint8_t want[] = {0x15, 0x00, 0x15, 0xA4, 0x13, 0x15, 0xA4, 0x13, 0x2C,
                                   0x15, 0xC8, 0x01, 0x15, 0x00, 0x15, 0x06, 0x15, 0x06,
                                   0x00, 0x00};
    expect_bytes(&b, want, sizeof want);
    pq_page_header back;
    size_t used;
    char err[128];
    ck_assert(pq_page_header_read(b.data, b.len, &back, &used, err, sizeof err));
    ck_assert_uint_eq(used, b.len);
    ck_assert_int_eq(back.type, PQ_PAGE_DATA);
    ck_assert_int_eq(back.uncompressed_size, 1234);
    ck_assert_int_eq(back.num_values, 100);
    ck_assert_int_eq(back.def_encoding, PQ_ENC_RLE);
    pq_buf_free(&b);
}
END_TEST

/* A timestamp leaf: the logicalType bytes of protocols.md 6.2 follow
 * converted_type (field 6). */
START_TEST(timestamp_logical_type_known_bytes)
{
    pq_schema_element e[2] = {
        {.type = PQ_UNSET, .type_length = PQ_UNSET, .repetition = PQ_UNSET, .name = "schema",
         .num_children = 1, .converted_type = PQ_UNSET, .scale = PQ_UNSET,
         .precision = PQ_UNSET},
        {.type = PQ_INT64, .type_length = PQ_UNSET, .repetition = PQ_OPTIONAL, .name = "ts",
         .num_children = PQ_UNSET, .converted_type = PQ_CT_TIMESTAMP_MICROS, .scale = PQ_UNSET,
         .precision = PQ_UNSET,
         .logical = {.kind = PQ_LT_TIMESTAMP, .utc = true, .unit = PQ_UNIT_MICROS}}};
    pq_file_meta m = {.version = 1, .schema = e, .n_schema = 2};
    pq_buf b = {0};
    pq_file_meta_write(&m, &b);
    /* type=INT64, repetition=OPTIONAL, name "ts", converted_type 10, logicalType */
    static const uint8_t leaf[] = {0x15, 0x04, 0x25, 0x02, 0x18, 0x02, 't', 's', 0x25, 0x14,
                                   0x4C, 0x8C, 0x11, 0x1C, 0x2C, 0x00, 0x00, 0x00, 0x00, 0x00};
    bool found = false;
    for (size_t i = 0; i + sizeof leaf <= b.len && !found; i++)
        found = memcmp(b.data + i, leaf, sizeof leaf) == 0;
    ck_assert_msg(found, "the timestamp SchemaElement bytes are not in the footer");
    pq_file_meta back;
    char err[128];
    ck_assert_msg(pq_file_meta_read(b.data, b.len, &back, err, sizeof err), "%s", err);
    ck_assert_int_eq(back.n_schema, 2);
    ck_assert_int_eq(back.schema[1].logical.kind, PQ_LT_TIMESTAMP);
    ck_assert(back.schema[1].logical.utc);
    ck_assert_int_eq(back.schema[1].logical.unit, PQ_UNIT_MICROS);
    ck_assert_int_eq(back.schema[1].converted_type, PQ_CT_TIMESTAMP_MICROS);
    pq_file_meta_free(&back);
    pq_buf_free(&b);
}
END_TEST

START_TEST(long_field_ids_and_lists)
{
    pq_buf b = {0};
    tc_writer w;
    tc_writer_init(&w, &b);
    tc_field_i32(&w, 1, 5);         /* short form: 15 0A */
    tc_field_i64(&w, 20, -3);       /* delta 19: long form 06 28 05 */
    tc_field_list(&w, 21, TC_I32, 3); /* 19 35 */
    tc_list_i32(&w, 1);
    tc_list_i32(&w, 2);
    tc_list_i32(&w, 3);
    tc_field_list(&w, 22, TC_BINARY, 15); /* long list header: 19 F8 0F */
    for (int i = 0; i < 15; i++)
        tc_list_binary(&w, "x", 1);
    tc_field_bool(&w, 23, true);    /* 11 */
    tc_field_bool(&w, 24, false);   /* 12 */
    tc_message_end(&w);
    static const uint8_t head[] = {0x15, 0x0A, 0x06, 0x28, 0x05, 0x19, 0x35, 0x02, 0x04, 0x06,
                                   0x19, 0xF8, 0x0F};
    ck_assert(b.len > sizeof head);
    ck_assert_mem_eq(b.data, head, sizeof head);
    static const uint8_t tail[] = {0x11, 0x12, 0x00};
    ck_assert_mem_eq(b.data + b.len - 3, tail, 3);

    tc_reader r;
    tc_reader_init(&r, b.data, b.len);
    int16_t id;
    uint8_t type;
    ck_assert(tc_next_field(&r, &id, &type));
    ck_assert_int_eq(id, 1);
    ck_assert_int_eq(tc_read_i32(&r), 5);
    ck_assert(tc_next_field(&r, &id, &type));
    ck_assert_int_eq(id, 20);
    ck_assert_int_eq(tc_read_i64(&r), -3);
    ck_assert(tc_next_field(&r, &id, &type));
    ck_assert_int_eq(id, 21);
    tc_skip(&r, type);
    ck_assert(tc_next_field(&r, &id, &type));
    ck_assert_int_eq(id, 22);
    uint8_t et;
    size_t n;
    ck_assert(tc_read_list(&r, &et, &n));
    ck_assert_int_eq(n, 15);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const uint8_t *p = tc_read_binary(&r, &len);
        ck_assert(len == 1 && p[0] == 'x');
    }
    ck_assert(tc_next_field(&r, &id, &type) && id == 23 && tc_read_bool(&r, type));
    ck_assert(tc_next_field(&r, &id, &type) && id == 24 && !tc_read_bool(&r, type));
    ck_assert(!tc_next_field(&r, &id, &type));
    ck_assert(!r.error);
    pq_buf_free(&b);
}
END_TEST

static void sample_meta(pq_buf *out)
{
    static char *path[] = {"tags", "list", "element"};
    pq_schema_element e[4] = {
        {.type = PQ_UNSET, .type_length = PQ_UNSET, .repetition = PQ_UNSET, .name = "schema",
         .num_children = 1, .converted_type = PQ_UNSET, .scale = PQ_UNSET, .precision = PQ_UNSET},
        {.type = PQ_UNSET, .type_length = PQ_UNSET, .repetition = PQ_OPTIONAL, .name = "tags",
         .num_children = 1, .converted_type = PQ_CT_LIST, .scale = PQ_UNSET,
         .precision = PQ_UNSET, .logical = {.kind = PQ_LT_LIST}},
        {.type = PQ_UNSET, .type_length = PQ_UNSET, .repetition = PQ_REPEATED, .name = "list",
         .num_children = 1, .converted_type = PQ_UNSET, .scale = PQ_UNSET, .precision = PQ_UNSET},
        {.type = PQ_BYTE_ARRAY, .type_length = PQ_UNSET, .repetition = PQ_OPTIONAL,
         .name = "element", .num_children = PQ_UNSET, .converted_type = PQ_CT_UTF8,
         .scale = PQ_UNSET, .precision = PQ_UNSET, .logical = {.kind = PQ_LT_STRING}}};
    pq_column_meta col = {.type = PQ_BYTE_ARRAY, .encodings = {PQ_ENC_PLAIN, PQ_ENC_RLE},
                          .n_encodings = 2, .path = path, .path_len = 3,
                          .codec = PQ_CODEC_ZSTD, .num_values = 7,
                          .total_uncompressed_size = 100, .total_compressed_size = 80,
                          .data_page_offset = 4, .dictionary_page_offset = PQ_UNSET,
                          .has_stats = true,
                          .stats = {.has_null_count = true, .null_count = 2}};
    pq_buf_append(&col.stats.min, "a", 1);
    pq_buf_append(&col.stats.max, "zz", 2);
    col.stats.has_min_max = true;
    pq_row_group rg = {.columns = &col, .n_columns = 1, .total_byte_size = 100, .num_rows = 3,
                       .file_offset = 4, .total_compressed_size = 80};
    pq_key_value kv = {.key = "etl.schema", .value = "{}"};
    pq_file_meta m = {.version = 1, .schema = e, .n_schema = 4, .num_rows = 3,
                      .row_groups = &rg, .n_row_groups = 1, .kv = &kv, .n_kv = 1,
                      .created_by = "etl version 0.1.0 (build test)", .column_orders = true};
    pq_file_meta_write(&m, out);
    pq_statistics_free(&col.stats);
}

START_TEST(file_meta_round_trip)
{
    pq_buf b = {0};
    sample_meta(&b);
    pq_file_meta m;
    char err[256];
    ck_assert_msg(pq_file_meta_read(b.data, b.len, &m, err, sizeof err), "%s", err);
    ck_assert_int_eq(m.version, 1);
    ck_assert_int_eq(m.num_rows, 3);
    ck_assert_int_eq(m.n_schema, 4);
    ck_assert_str_eq(m.schema[3].name, "element");
    ck_assert_int_eq(m.schema[0].repetition, PQ_UNSET);
    ck_assert_int_eq(m.n_row_groups, 1);
    pq_column_meta *c = &m.row_groups[0].columns[0];
    ck_assert_int_eq(c->path_len, 3);
    ck_assert_str_eq(c->path[2], "element");
    ck_assert_int_eq(c->codec, PQ_CODEC_ZSTD);
    ck_assert_int_eq(c->num_values, 7);
    ck_assert_int_eq(c->dictionary_page_offset, PQ_UNSET);
    ck_assert(c->stats.has_min_max && c->stats.null_count == 2);
    ck_assert_uint_eq(c->stats.max.len, 2);
    ck_assert_str_eq(m.kv[0].key, "etl.schema");
    ck_assert_str_eq(m.created_by, "etl version 0.1.0 (build test)");
    ck_assert(m.column_orders);
    pq_buf json = {0};
    ck_assert(pq_schema_json(&m, &json, err, sizeof err));
    pq_buf_byte(&json, 0);
    ck_assert_str_eq((char *)json.data, "[{\"name\":\"tags\",\"type\":\"list\",\"element\":"
                                        "{\"type\":\"string\",\"nullable\":true},"
                                        "\"nullable\":true}]");
    pq_buf_free(&json);
    pq_file_meta_free(&m);
    pq_buf_free(&b);
}
END_TEST

/* Every truncation and many corruptions of a valid footer fail cleanly
 * (under ASan: no overflow, no leak). */
START_TEST(file_meta_bad_input)
{
    pq_buf b = {0};
    sample_meta(&b);
    char err[256];
    pq_file_meta m;
    for (size_t n = 0; n < b.len; n++) {
        bool ok = pq_file_meta_read(b.data, n, &m, err, sizeof err);
        pq_file_meta_free(&m);
        ck_assert_msg(!ok, "a footer cut at %zu bytes was accepted", n);
    }
    uint32_t seed = 12345;
    for (int round = 0; round < 3000; round++) {
        pq_buf copy = {0};
        pq_buf_append(&copy, b.data, b.len);
        for (int k = 0; k < 1 + round % 4; k++) {
            seed = seed * 1103515245u + 12345u;
            copy.data[(seed >> 8) % copy.len] = (uint8_t)(seed >> 20);
        }
        pq_buf json = {0};
        if (pq_file_meta_read(copy.data, copy.len, &m, err, sizeof err))
            pq_schema_json(&m, &json, err, sizeof err);
        pq_buf_free(&json);
        pq_file_meta_free(&m);
        pq_buf_free(&copy);
    }
    static const uint8_t deep[64] = {[0 ... 63] = 0x1C};  /* structs in structs */
    ck_assert(!pq_file_meta_read(deep, sizeof deep, &m, err, sizeof err));
    pq_file_meta_free(&m);
    pq_buf_free(&b);
}
END_TEST

START_TEST(footer_needs_magic_and_length)
{
    char err[256];
    pq_file_meta m;
    ck_assert(!pq_read_footer((const uint8_t *)"PAR1", 4, &m, err, sizeof err));
    static const uint8_t no_tail[16] = "PAR1xxxxxxxxxxxx";
    ck_assert(!pq_read_footer(no_tail, sizeof no_tail, &m, err, sizeof err));
    ck_assert(strstr(err, "incomplete") != NULL);
    static const uint8_t too_long[16] = {'P', 'A', 'R', '1', 0, 0, 0, 0, 0xFF, 0, 0, 0,
                                         'P', 'A', 'R', '1'};
    ck_assert(!pq_read_footer(too_long, sizeof too_long, &m, err, sizeof err));
    ck_assert(strstr(err, "larger than the file") != NULL);
}
END_TEST

/* protocols.md 6.4: 100 non-null values of an optional column. */
START_TEST(levels_known_bytes)
{
    uint8_t ones[100];
    memset(ones, 1, sizeof ones);
    pq_buf b = {0};
    pq_levels_encode_v1(&b, ones, 100, 1);
    static const uint8_t want[] = {0x03, 0x00, 0x00, 0x00, 0xC8, 0x01, 0x01};
    expect_bytes(&b, want, sizeof want);
    pq_buf_free(&b);
}
END_TEST

/* Encodings.md's bit-packing example: 0..7 with width 3. */
START_TEST(bitpack_known_bytes)
{
    uint32_t v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    pq_buf b = {0};
    pq_rle_encode_u32(&b, v, 8, 3);
    static const uint8_t want[] = {0x03, 0x88, 0xC6, 0xFA};
    expect_bytes(&b, want, sizeof want);
    pq_buf_free(&b);
}
END_TEST

START_TEST(hybrid_round_trip)
{
    uint32_t seed = 99;
    static uint32_t in[5000], out[5000];
    for (int width = 1; width <= 32; width += (width < 4 ? 1 : 5)) {
        for (int round = 0; round < 20; round++) {
            size_t n = 1 + (size_t)(round * 251) % 5000;
            uint32_t mask = width == 32 ? 0xFFFFFFFFu : (1u << width) - 1;
            for (size_t i = 0; i < n; i++) {
                seed = seed * 1664525u + 1013904223u;
                /* runs of repeats mixed with noise */
                in[i] = (i > 0 && (seed >> 28) < 12) ? in[i - 1] : (seed & mask);
            }
            pq_buf b = {0};
            pq_rle_encode_u32(&b, in, n, width);
            size_t used;
            ck_assert(pq_rle_decode(b.data, b.len, width, out, n, &used));
            ck_assert_uint_eq(used, b.len);
            ck_assert_mem_eq(in, out, n * sizeof in[0]);
            pq_buf_free(&b);
        }
    }
}
END_TEST

START_TEST(hybrid_decode_rejects_short_input)
{
    uint32_t out[64];
    size_t used;
    static const uint8_t truncated_pack[] = {0x03, 0x88};        /* one group of width 3 needs 3 bytes */
    ck_assert(!pq_rle_decode(truncated_pack, sizeof truncated_pack, 3, out, 8, &used));
    static const uint8_t rle_too_big[] = {0x10, 0x09};           /* value 9 does not fit 3 bits */
    ck_assert(!pq_rle_decode(rle_too_big, sizeof rle_too_big, 3, out, 8, &used));
    ck_assert(!pq_rle_decode(NULL, 0, 3, out, 1, &used));
}
END_TEST

START_TEST(dictionary_dedups_and_grows)
{
    pq_dict d;
    pq_dict_init(&d, 0);
    char key[32];
    bool added;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 5000; i++) {
            int n = snprintf(key, sizeof key, "value-%d", i);
            int64_t index = pq_dict_insert(&d, key, (size_t)n, &added);
            ck_assert_int_eq(index, i);
            ck_assert(added == (round == 0));
        }
    }
    ck_assert_uint_eq(d.count, 5000);
    size_t len;
    const uint8_t *v = pq_dict_value(&d, 4321, &len);
    ck_assert_uint_eq(len, 10);
    ck_assert_mem_eq(v, "value-4321", 10);
    ck_assert_int_eq(pq_dict_insert(&d, "", 0, &added), 5000);   /* the empty string is a value */
    ck_assert(added);
    pq_dict_free(&d);

    pq_dict_init(&d, 8);
    double zero = 0.0, negative_zero = -0.0;
    ck_assert_int_eq(pq_dict_insert(&d, &zero, 8, &added), 0);
    ck_assert_int_eq(pq_dict_insert(&d, &negative_zero, 8, &added), 1);  /* bit patterns differ */
    ck_assert_uint_eq(d.plain.len, 16);
    pq_dict_free(&d);
}
END_TEST

static Suite *thrift_suite(void)
{
    Suite *s = suite_create("thrift_compact");
    TCase *t = tcase_create("core");
    tcase_add_test(t, zigzag_known_values);
    tcase_add_test(t, page_header_known_bytes);
    tcase_add_test(t, timestamp_logical_type_known_bytes);
    tcase_add_test(t, long_field_ids_and_lists);
    tcase_add_test(t, file_meta_round_trip);
    tcase_add_test(t, file_meta_bad_input);
    tcase_add_test(t, footer_needs_magic_and_length);
    tcase_add_test(t, levels_known_bytes);
    tcase_add_test(t, bitpack_known_bytes);
    tcase_add_test(t, hybrid_round_trip);
    tcase_add_test(t, hybrid_decode_rejects_short_input);
    tcase_add_test(t, dictionary_dedups_and_grows);
    tcase_set_timeout(t, 60);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return run_suite_as_tap(thrift_suite());
}
