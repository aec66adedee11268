/* Control-plane JSON through spans: json_find by path, json_next over
 * arrays and objects, exact scalars, errors. */
#include <check.h>
#include <stdint.h>

#include "buf.h"
#include "json_span.h"
#include "tap_runner.h"

static const char response[] =
    "{\"took\": 3, \"timed_out\": false, \"_shards\": {\"total\": 2, \"failed\": 0},\n"
    " \"pit_id\": \"abc\\u0041==\",\n"
    " \"hits\": {\"hits\": [\n"
    "   {\"_id\": \"1\", \"_source\": {\"id\": 9223372036854775807, \"n\": \"x\"}, \"sort\": [1700000000000, 42]},\n"
    "   {\"_id\": \"2\", \"_source\": {\"id\": -9223372036854775808, \"tags\": [\"a\", \"b,]}\"]}, \"sort\": [1700000000001, 43]}\n"
    " ]}}";

static etl_json_span find(const char *path, etl_status want)
{
    etl_json_span v = {0};
    ck_assert_int_eq(json_span_find(NULL, response, sizeof response - 1, path, &v), want);
    return v;
}

START_TEST(find_by_path)
{
    etl_json_span v = find("took", ETL_OK);
    int64_t i;
    ck_assert(json_span_int64(&v, &i) && i == 3);
    v = find("_shards.failed", ETL_OK);
    ck_assert(json_span_int64(&v, &i) && i == 0);
    v = find("timed_out", ETL_OK);
    bool b = true;
    ck_assert(json_span_bool(&v, &b) && !b);
    v = find("hits.hits.1._source.id", ETL_OK);
    ck_assert(json_span_int64(&v, &i) && i == INT64_MIN);
    v = find("hits.hits.0._source", ETL_OK);
    ck_assert_int_eq(v.type, ETL_JSON_OBJECT);
    ck_assert_int_eq(v.len, strlen("{\"id\": 9223372036854775807, \"n\": \"x\"}"));
    ck_assert(memcmp(v.ptr, "{\"id\": 9223372036854775807", 26) == 0);
    etl_buf s = {0};
    v = find("pit_id", ETL_OK);
    ck_assert_int_eq(json_span_string(&v, &s), ETL_OK);
    ck_assert_str_eq(buf_cstr(&s), "abcA==");
    buf_free(&s);
    v = find("", ETL_OK);
    ck_assert_int_eq(v.type, ETL_JSON_OBJECT);
    ck_assert_int_eq(v.len, sizeof response - 1);
}
END_TEST

START_TEST(absent_paths_end)
{
    find("nope", ETL_END);
    find("hits.hits.2", ETL_END);
    find("hits.hits.x", ETL_END);
    find("took.more", ETL_END);
    find("hits.total", ETL_END);
}
END_TEST

START_TEST(walk_arrays_and_objects)
{
    etl_json_span hits = find("hits.hits", ETL_OK), hit, key, value;
    size_t pos = 0;
    int n = 0;
    while (json_span_next(&hits, &pos, NULL, &hit) == ETL_OK) {
        ck_assert_int_eq(hit.type, ETL_JSON_OBJECT);
        size_t inner = 0;
        int members = 0;
        while (json_span_next(&hit, &inner, &key, &value) == ETL_OK)
            members++;
        ck_assert_int_eq(members, 3);
        n++;
    }
    ck_assert_int_eq(n, 2);
    etl_json_span tags = find("hits.hits.1._source.tags", ETL_OK);
    pos = 0;
    etl_buf s = {0};
    ck_assert_int_eq(json_span_next(&tags, &pos, &key, &value), ETL_OK);
    ck_assert_ptr_null(key.ptr);
    ck_assert_int_eq(json_span_next(&tags, &pos, NULL, &value), ETL_OK);
    ck_assert_int_eq(json_span_string(&value, &s), ETL_OK);
    ck_assert_str_eq(buf_cstr(&s), "b,]}");
    ck_assert_int_eq(json_span_next(&tags, &pos, NULL, &value), ETL_END);
    buf_free(&s);
    etl_json_span empty = {.ptr = "[ ]", .len = 3, .type = ETL_JSON_ARRAY};
    pos = 0;
    ck_assert_int_eq(json_span_next(&empty, &pos, NULL, &value), ETL_END);
}
END_TEST

START_TEST(scalars_are_typed)
{
    etl_json_span v = find("hits.hits.0.sort.0", ETL_OK);
    int64_t i;
    double d;
    ck_assert(json_span_int64(&v, &i) && i == 1700000000000LL);
    ck_assert(json_span_double(&v, &d) && d == 1700000000000.0);
    bool b;
    ck_assert(!json_span_bool(&v, &b));
    etl_buf s = {0};
    ck_assert_int_eq(json_span_string(&v, &s), ETL_ERR_DATA);
    etl_json_span big = {.ptr = "9223372036854775808", .len = 19, .type = ETL_JSON_NUMBER};
    ck_assert(!json_span_int64(&big, &i));
    ck_assert(json_span_double(&big, &d));
    buf_free(&s);
}
END_TEST

START_TEST(invalid_json_is_an_error_never_a_crash)
{
    etl_json_span v;
    ck_assert_int_eq(json_span_find(NULL, "{\"a\": [1, 2", 11, "a", &v), ETL_ERR_DATA);
    ck_assert_int_eq(json_span_find(NULL, "{\"a\" 1}", 7, "a", &v), ETL_ERR_DATA);
    /* Every truncation of the response: an error or a clean "absent". */
    for (size_t n = 0; n < sizeof response - 1; n++) {
        etl_status st = json_span_find(NULL, response, n, "hits.hits.1.sort", &v);
        ck_assert_msg(st == ETL_ERR_DATA || st == ETL_END || st == ETL_OK, "len %zu", n);
        if (st == ETL_OK)
            ck_assert(v.ptr + v.len <= response + n);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_span");
    TCase *tc = tcase_create("spans");
    tcase_add_test(tc, find_by_path);
    tcase_add_test(tc, absent_paths_end);
    tcase_add_test(tc, walk_arrays_and_objects);
    tcase_add_test(tc, scalars_are_typed);
    tcase_add_test(tc, invalid_json_is_an_error_never_a_crash);
    suite_add_tcase(s, tc);
    return run_suite_as_tap(s);
}
