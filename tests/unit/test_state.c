/* The state object (core/state.c): serialize/parse round trips, the history
 * cap, and refusal of corrupt, truncated, mistyped and foreign-format state
 * with ETL_ERR_DATA (never a crash, never a half-filled state). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "context.h"
#include "state.h"
#include "strutil.h"
#include "tap_runner.h"

static const char big_cursor[] = "{\"path\":\"in/a.ndjson\",\"offset\":9007199254740993}";
static const char schema_text[] = "[{\"name\":\"id\",\"type\":\"int64\",\"declared\":true}]";

static void fill_point(state_point *p, uint64_t sequence)
{
    char cursor[64];
    snprintf(cursor, sizeof cursor, "{\"next\":%llu}", (unsigned long long)sequence * 500);
    p->commit_sequence = sequence;
    p->cursor = xstrdup(cursor);
    p->schema = xstrdup(schema_text);
    p->records_read = (int64_t)sequence * 500;
    p->records_written = (int64_t)sequence * 499;
    p->records_rejected = (int64_t)sequence;
    p->committed_at = xstrdup("2026-11-25T08:00:00Z");
}

/* A state at checkpoint `current` with `history` older points. */
static void make_state(run_state *st, uint64_t current, size_t history)
{
    memset(st, 0, sizeof *st);
    st->pipeline = xstrdup("products");
    st->partition = xstrdup("0");
    st->source_type = xstrdup("file");
    st->sink_type = xstrdup("file");
    st->run_id = xstrdup("run-0123456789abcdef");
    for (size_t i = history; i > 0; i--) {
        fill_point(&st->current, current - i);
        state_push_history(st);
        state_point_free(&st->current);
    }
    fill_point(&st->current, current);
}

static void serialize(const run_state *st, etl_buf *out)
{
    buf_reset(out);
    ck_assert_int_eq(state_serialize(st, out), ETL_OK);
    buf_cstr(out);
}

/* Parses exactly `len` bytes from a private copy, so that ASan sees any read
 * past the end. */
static etl_status parse_copy(const char *text, size_t len, run_state *out, etl_ctx *ctx)
{
    char *copy = malloc(len ? len : 1);
    memcpy(copy, text, len);
    etl_status st = state_parse(copy, len, "state 'products/0' (test)", out, ctx);
    free(copy);
    return st;
}

static bool all_zero(const run_state *st)
{
    static const run_state zero;
    return memcmp(st, &zero, sizeof zero) == 0;
}

static void assert_points_equal(const state_point *a, const state_point *b)
{
    ck_assert_uint_eq(a->commit_sequence, b->commit_sequence);
    if (a->cursor == NULL)
        ck_assert_ptr_null(b->cursor);
    else
        ck_assert_str_eq(a->cursor, b->cursor);
    if (a->schema == NULL)
        ck_assert_ptr_null(b->schema);
    else
        ck_assert_str_eq(a->schema, b->schema);
    ck_assert_int_eq(a->records_read, b->records_read);
    ck_assert_int_eq(a->records_written, b->records_written);
    ck_assert_int_eq(a->records_rejected, b->records_rejected);
    ck_assert_str_eq(a->committed_at, b->committed_at);
}

START_TEST(round_trip)
{
    run_state st, back;
    make_state(&st, 7, 3);
    free(st.current.cursor);
    st.current.cursor = xstrdup(big_cursor);
    st.done = true;
    etl_buf text = {0}, again = {0};
    serialize(&st, &text);
    etl_ctx *ctx = ctx_new("test", NULL);
    ck_assert_int_eq(parse_copy(text.data, text.len, &back, ctx), ETL_OK);
    ck_assert_str_eq(back.pipeline, "products");
    ck_assert_str_eq(back.partition, "0");
    ck_assert_str_eq(back.source_type, "file");
    ck_assert_str_eq(back.sink_type, "file");
    ck_assert_str_eq(back.run_id, "run-0123456789abcdef");
    ck_assert(back.done);
    /* The cursor is JSON text inside a string: its big integer stays exact. */
    ck_assert_str_eq(back.current.cursor, big_cursor);
    assert_points_equal(&st.current, &back.current);
    ck_assert_uint_eq(back.history_count, 3);
    for (size_t i = 0; i < 3; i++)
        assert_points_equal(&st.history[i], &back.history[i]);
    ck_assert_uint_eq(back.history[0].commit_sequence, 6);   /* newest first */
    ck_assert_uint_eq(back.history[2].commit_sequence, 4);
    serialize(&back, &again);
    ck_assert_str_eq(text.data, again.data);
    state_free(&st);
    state_free(&back);
    buf_free(&text);
    buf_free(&again);
    ctx_free(ctx);
}
END_TEST

START_TEST(round_trip_fresh_state)
{
    /* The state before the first checkpoint: no cursor, no schema, no run id. */
    run_state st = {0}, back;
    st.pipeline = xstrdup("p");
    st.partition = xstrdup("0");
    st.source_type = xstrdup("generate");
    st.sink_type = xstrdup("file");
    st.current.committed_at = xstrdup("2026-01-01T00:00:00Z");
    etl_buf text = {0};
    serialize(&st, &text);
    ck_assert_ptr_nonnull(strstr(text.data, "\"format\":\t\"" STATE_FORMAT "\""));
    ck_assert_int_eq(parse_copy(text.data, text.len, &back, NULL), ETL_OK);
    ck_assert_ptr_null(back.current.cursor);
    ck_assert_ptr_null(back.current.schema);
    ck_assert_ptr_null(back.run_id);
    ck_assert(!back.done);
    ck_assert_uint_eq(back.current.commit_sequence, 0);
    ck_assert_uint_eq(back.history_count, 0);
    state_free(&st);
    state_free(&back);
    buf_free(&text);
}
END_TEST

START_TEST(history_is_capped)
{
    run_state st;
    make_state(&st, 1, 0);
    for (uint64_t seq = 2; seq <= STATE_HISTORY_MAX + 7; seq++) {
        state_push_history(&st);
        state_point_free(&st.current);
        fill_point(&st.current, seq);
        ck_assert_uint_le(st.history_count, STATE_HISTORY_MAX);
    }
    ck_assert_uint_eq(st.history_count, STATE_HISTORY_MAX);
    ck_assert_uint_eq(st.current.commit_sequence, STATE_HISTORY_MAX + 7);
    /* Newest first, oldest dropped. */
    for (size_t i = 0; i < STATE_HISTORY_MAX; i++)
        ck_assert_uint_eq(st.history[i].commit_sequence, STATE_HISTORY_MAX + 6 - i);
    /* Deep copies: the history does not share strings with the current point. */
    ck_assert_ptr_ne(st.history[0].cursor, st.current.cursor);
    etl_buf text = {0};
    serialize(&st, &text);
    run_state back;
    ck_assert_int_eq(parse_copy(text.data, text.len, &back, NULL), ETL_OK);
    ck_assert_uint_eq(back.history_count, STATE_HISTORY_MAX);
    ck_assert_uint_eq(back.history[STATE_HISTORY_MAX - 1].commit_sequence, 7);
    state_free(&back);
    state_free(&st);
    buf_free(&text);
}
END_TEST

START_TEST(parse_caps_a_long_history)
{
    /* A hand-made state with more history than the host keeps: parse takes
     * the newest STATE_HISTORY_MAX and does not overflow. */
    etl_buf text = {0};
    buf_append_str(&text, "{\"format\":\"" STATE_FORMAT "\",\"pipeline\":\"p\",\"partition\":\"0\","
                          "\"source\":\"file\",\"sink\":\"file\",\"done\":false,\"current\":"
                          "{\"commit_sequence\":100,\"cursor\":null,\"records_read\":1,"
                          "\"records_written\":1,\"records_rejected\":0},\"history\":[");
    for (int i = 0; i < STATE_HISTORY_MAX * 3; i++)
        buf_printf(&text, "%s{\"commit_sequence\":%d,\"cursor\":\"{}\",\"records_read\":1,"
                          "\"records_written\":1,\"records_rejected\":0}",
                   i ? "," : "", 99 - i);
    buf_append_str(&text, "]}");
    run_state back;
    ck_assert_int_eq(parse_copy(text.data, text.len, &back, NULL), ETL_OK);
    ck_assert_uint_eq(back.history_count, STATE_HISTORY_MAX);
    ck_assert_uint_eq(back.history[0].commit_sequence, 99);
    ck_assert_uint_eq(back.history[STATE_HISTORY_MAX - 1].commit_sequence, 100 - STATE_HISTORY_MAX);
    state_free(&back);
    buf_free(&text);
}
END_TEST

START_TEST(every_truncation_fails_cleanly)
{
    run_state st;
    make_state(&st, 5, 4);
    etl_buf text = {0};
    serialize(&st, &text);
    state_free(&st);
    size_t end = text.len;
    while (end > 0 && text.data[end - 1] != '}')
        end--;                           /* the trailing newline may go */
    ck_assert_uint_gt(end, 100);
    etl_ctx *ctx = ctx_new("test", NULL);
    for (size_t len = 0; len < end; len++) {
        run_state back;
        ctx_clear_error(ctx);
        etl_status rc = parse_copy(text.data, len, &back, ctx);
        if (rc != ETL_ERR_DATA)
            ck_abort_msg("a state truncated to %zu of %zu bytes gave status %d", len, end, (int)rc);
        ck_assert(all_zero(&back));
        ck_assert_ptr_nonnull(strstr(ctx_error_message(ctx), "state 'products/0' (test)"));
        ck_assert_ptr_nonnull(strstr(ctx_error_message(ctx), "corrupt"));
        state_free(&back);              /* harmless on the zeroed state */
    }
    run_state back;
    ck_assert_int_eq(parse_copy(text.data, end, &back, ctx), ETL_OK);
    state_free(&back);
    ck_assert_int_eq(parse_copy(text.data, 0, &back, ctx), ETL_ERR_DATA);
    ck_assert_ptr_nonnull(strstr(ctx_error_message(ctx), "empty"));
    buf_free(&text);
    ctx_free(ctx);
}
END_TEST

START_TEST(mutations_never_crash)
{
    /* Every byte replaced by a few troublesome ones: each parse must either
     * succeed or fail with ETL_ERR_DATA, and leave a state that frees. */
    static const char replacements[] = {'\0', '"', '}', '[', '-', '9', 'x', '\\', '\xff'};
    run_state st;
    make_state(&st, 3, 2);
    etl_buf text = {0};
    serialize(&st, &text);
    state_free(&st);
    char *copy = malloc(text.len);
    int ok = 0, refused = 0;
    for (size_t i = 0; i < text.len; i++) {
        for (size_t r = 0; r < sizeof replacements; r++) {
            memcpy(copy, text.data, text.len);
            copy[i] = replacements[r];
            run_state back;
            etl_status rc = parse_copy(copy, text.len, &back, NULL);
            ck_assert(rc == ETL_OK || rc == ETL_ERR_DATA);
            if (rc == ETL_OK) {
                ck_assert_ptr_nonnull(back.pipeline);
                ok++;
            } else {
                ck_assert(all_zero(&back));
                refused++;
            }
            state_free(&back);
        }
    }
    ck_assert_int_gt(refused, 0);
    ck_assert_int_gt(ok, 0);   /* e.g. a digit of a counter changed */
    free(copy);
    buf_free(&text);
}
END_TEST

/* Parses `json` and expects ETL_ERR_DATA with `needle` in the message. */
static void expect_refused(const char *json, const char *needle)
{
    etl_ctx *ctx = ctx_new("test", NULL);
    run_state back;
    etl_status rc = parse_copy(json, strlen(json), &back, ctx);
    if (rc != ETL_ERR_DATA)
        ck_abort_msg("accepted (status %d): %s", (int)rc, json);
    if (strstr(ctx_error_message(ctx), needle) == NULL)
        ck_abort_msg("message '%s' lacks '%s'", ctx_error_message(ctx), needle);
    ck_assert(all_zero(&back));
    ctx_free(ctx);
}

#define HEAD "\"pipeline\":\"p\",\"partition\":\"0\",\"source\":\"file\",\"sink\":\"file\""
#define POINT "{\"commit_sequence\":1,\"cursor\":null,\"records_read\":1,\"records_written\":1,\"records_rejected\":0}"

START_TEST(wrong_format_and_types)
{
    /* The well-formed base, to be sure the variants fail for their reason. */
    const char *good = "{\"format\":\"etl-state/1\"," HEAD ",\"done\":false,\"current\":" POINT "}";
    run_state back;
    ck_assert_int_eq(parse_copy(good, strlen(good), &back, NULL), ETL_OK);
    state_free(&back);

    expect_refused("{\"format\":\"etl-state/2\"," HEAD ",\"done\":false,\"current\":" POINT "}",
                   "format 'etl-state/2' is not 'etl-state/1'");
    expect_refused("{" HEAD ",\"done\":false,\"current\":" POINT "}", "'format'");
    expect_refused("{\"format\":1," HEAD ",\"done\":false,\"current\":" POINT "}", "'format'");
    expect_refused("{\"format\":\"etl-state/1\",\"partition\":\"0\",\"source\":\"file\",\"sink\":"
                   "\"file\",\"done\":false,\"current\":" POINT "}",
                   "'pipeline'");
    expect_refused("{\"format\":\"etl-state/1\"," HEAD ",\"done\":\"yes\",\"current\":" POINT "}",
                   "'done'");
    expect_refused("{\"format\":\"etl-state/1\"," HEAD ",\"current\":" POINT "}", "'done'");
    expect_refused("{\"format\":\"etl-state/1\"," HEAD ",\"done\":false}", "commit point");
    expect_refused("{\"format\":\"etl-state/1\"," HEAD ",\"done\":false,\"current\":[]}",
                   "commit point");
    expect_refused("{\"format\":\"etl-state/1\"," HEAD ",\"done\":false,\"current\":" POINT
                   ",\"history\":[" POINT ",7]}",
                   "commit point");
    expect_refused("{\"format\":\"etl-state/1\"," HEAD ",\"done\":false,\"current\":"
                   "{\"commit_sequence\":-1,\"records_read\":1,\"records_written\":1,"
                   "\"records_rejected\":0}}",
                   "'commit_sequence'");
    expect_refused("{\"format\":\"etl-state/1\"," HEAD ",\"done\":false,\"current\":"
                   "{\"commit_sequence\":1e300,\"records_read\":1,\"records_written\":1,"
                   "\"records_rejected\":0}}",
                   "'commit_sequence'");
    expect_refused("{\"format\":\"etl-state/1\"," HEAD ",\"done\":false,\"current\":"
                   "{\"commit_sequence\":1,\"records_read\":\"1\",\"records_written\":1,"
                   "\"records_rejected\":0}}",
                   "'records_read'");
    expect_refused("{\"format\":\"etl-state/1\"," HEAD ",\"done\":false,\"current\":"
                   "{\"commit_sequence\":1,\"cursor\":{\"next\":1},\"records_read\":1,"
                   "\"records_written\":1,\"records_rejected\":0}}",
                   "'cursor'");
    expect_refused("[]", "not a JSON object");
    expect_refused("\"etl-state/1\"", "not a JSON object");
    expect_refused("null", "not a JSON object");
}
END_TEST

START_TEST(trailing_bytes_are_refused)
{
    /* A valid state followed by anything but white space is corrupt too:
     * two writers' bytes in one file, or a torn copy. */
    run_state st;
    make_state(&st, 2, 1);
    etl_buf text = {0};
    serialize(&st, &text);
    state_free(&st);
    run_state back;
    ck_assert_int_eq(parse_copy(text.data, text.len, &back, NULL), ETL_OK);   /* ends in "}\n" */
    state_free(&back);
    buf_append_str(&text, "  \n\t");
    ck_assert_int_eq(parse_copy(text.data, text.len, &back, NULL), ETL_OK);
    state_free(&back);
    buf_append_str(&text, "{\"format\":\"etl-state/1\"}");
    ck_assert_int_eq(parse_copy(text.data, text.len, &back, NULL), ETL_ERR_DATA);
    ck_assert(all_zero(&back));
    buf_free(&text);
}
END_TEST

START_TEST(random_bytes_are_refused)
{
    unsigned seed = 12345;
    char junk[512];
    for (int round = 0; round < 2000; round++) {
        size_t len = (size_t)(rand_r(&seed) % (int)sizeof junk);
        for (size_t i = 0; i < len; i++)
            junk[i] = (char)(rand_r(&seed) & 0xff);
        if (len)
            junk[0] = round % 2 ? '{' : junk[0];   /* half look like an object */
        run_state back;
        ck_assert_int_eq(parse_copy(junk, len, &back, NULL), ETL_ERR_DATA);
        ck_assert(all_zero(&back));
    }
}
END_TEST

START_TEST(point_copy_is_deep)
{
    state_point a = {0}, b;
    fill_point(&a, 4);
    state_point_copy(&b, &a);
    ck_assert_ptr_ne(a.cursor, b.cursor);
    ck_assert_ptr_ne(a.schema, b.schema);
    ck_assert_ptr_ne(a.committed_at, b.committed_at);
    state_point_free(&a);
    ck_assert_ptr_null(a.cursor);
    ck_assert_str_eq(b.cursor, "{\"next\":2000}");
    ck_assert_uint_eq(b.commit_sequence, 4);
    state_point_free(&b);
    state_point empty = {0}, copy;
    state_point_copy(&copy, &empty);
    ck_assert_ptr_null(copy.cursor);
    state_point_free(&copy);
}
END_TEST

START_TEST(utc_timestamp_format)
{
    char now[32];
    utc_now_iso(now, sizeof now);
    ck_assert_uint_eq(strlen(now), 20);
    int y, mo, d, h, mi, s;
    char z = 0;
    ck_assert_int_eq(sscanf(now, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &s, &z), 7);
    ck_assert_int_eq(z, 'Z');
    ck_assert(y >= 2024 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && s < 61);
}
END_TEST

static Suite *state_suite(void)
{
    Suite *s = suite_create("state");
    TCase *tc = tcase_create("state");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, round_trip_fresh_state);
    tcase_add_test(tc, history_is_capped);
    tcase_add_test(tc, parse_caps_a_long_history);
    tcase_add_test(tc, every_truncation_fails_cleanly);
    tcase_add_test(tc, mutations_never_crash);
    tcase_add_test(tc, wrong_format_and_types);
    tcase_add_test(tc, trailing_bytes_are_refused);
    tcase_add_test(tc, random_bytes_are_refused);
    tcase_add_test(tc, point_copy_is_deep);
    tcase_add_test(tc, utc_timestamp_format);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite_as_tap(state_suite()); }
