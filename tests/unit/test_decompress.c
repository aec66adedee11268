/* The host's decompressing byte sources (core/decompress.c): gzip members
 * back to back, zstd frames, the codec chosen by name or by first bytes,
 * reads of any size, and corrupt or truncated input refused by name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "context.h"
#include "decompress.h"
#include "tap_runner.h"

/* A byte source over memory that hands out at most `step` bytes a read. */
typedef struct memory_source {
    const unsigned char *data;
    size_t len, pos, step;
    bool fail;                   /* the next read fails */
} memory_source;

static int64_t memory_read(void *user, void *buf, size_t cap)
{
    memory_source *m = user;
    if (m->fail)
        return -1;
    size_t n = m->len - m->pos;
    if (n > cap)
        n = cap;
    if (n > m->step)
        n = m->step;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (int64_t)n;
}

static size_t gzip_of(const char *text, unsigned char *out, size_t cap)
{
    z_stream zs = {0};
    ck_assert_int_eq(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = (unsigned char *)(uintptr_t)text;
    zs.avail_in = (uInt)strlen(text);
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t n = cap - zs.avail_out;
    deflateEnd(&zs);
    return n;
}

/* Everything `name`'s decompressed source yields, read `chunk` bytes at a time. */
static etl_status read_all(const char *name, const char *codec, memory_source *m, size_t chunk,
                           char *out, size_t cap, size_t *len)
{
    etl_ctx *ctx = ctx_new("test", NULL);
    etl_byte_source in = {.struct_size = sizeof in, .user = m, .name = name,
                          .read = memory_read}, plain;
    etl_decompressor *d;
    etl_status st = decompress_open(ctx, &in, codec, &plain, &d);
    *len = 0;
    while (st == ETL_OK) {
        size_t want = cap - *len < chunk ? cap - *len : chunk;
        int64_t n = plain.read(plain.user, out + *len, want);
        if (n < 0)
            st = ctx_error_status(ctx);
        else if (n == 0)
            break;
        else
            *len += (size_t)n;
    }
    if (st != ETL_OK)
        snprintf(out, cap, "%s", ctx_error_message(ctx));
    decompress_close(d);
    ctx_free(ctx);
    return st;
}

static const char *const lines = "{\"a\":1}\n{\"a\":2}\n{\"b\":\"r\xc3\xa9sum\xc3\xa9\"}\n";

START_TEST(gzip_members_back_to_back_by_name_and_by_bytes)
{
    unsigned char packed[512];
    size_t one = gzip_of(lines, packed, sizeof packed);
    size_t two = gzip_of(lines, packed + one, sizeof packed - one);
    char out[512], want[512];
    snprintf(want, sizeof want, "%s%s", lines, lines);
    static const char *const names[] = {"x.ndjson.gz", "x.ndjson"};
    for (int i = 0; i < 2; i++) {
        for (size_t step = 1; step <= 4096; step *= 7) {
            memory_source m = {packed, one + two, 0, step, false};
            size_t len;
            ck_assert_int_eq(read_all(names[i], "auto", &m, 5, out, sizeof out, &len), ETL_OK);
            ck_assert_uint_eq(len, strlen(want));
            ck_assert(memcmp(out, want, len) == 0);
        }
    }
}
END_TEST

START_TEST(zstd_frames_and_plain_bytes)
{
    unsigned char packed[512];
    size_t one = ZSTD_compress(packed, sizeof packed, lines, strlen(lines), 3);
    size_t two = ZSTD_compress(packed + one, sizeof packed - one, lines, strlen(lines), 1);
    ck_assert(!ZSTD_isError(one) && !ZSTD_isError(two));
    char out[512];
    size_t len;
    memory_source m = {packed, one + two, 0, 3, false};
    ck_assert_int_eq(read_all("blob", "auto", &m, 64, out, sizeof out, &len), ETL_OK);
    ck_assert_msg(len == 2 * strlen(lines), "got %zu bytes: [%.*s]", len, (int)len, out);
    /* "none" hands the bytes over as they are, compressed or not. */
    memory_source raw = {packed, one, 0, 100, false};
    ck_assert_int_eq(read_all("x.zst", "none", &raw, 64, out, sizeof out, &len), ETL_OK);
    ck_assert_uint_eq(len, one);
    ck_assert(memcmp(out, packed, one) == 0);
    memory_source text = {(const unsigned char *)lines, strlen(lines), 0, 8, false};
    ck_assert_int_eq(read_all("x.ndjson", "auto", &text, 64, out, sizeof out, &len), ETL_OK);
    ck_assert_uint_eq(len, strlen(lines));
}
END_TEST

START_TEST(corrupt_and_truncated_input_is_refused_by_name)
{
    unsigned char packed[512];
    size_t n = gzip_of(lines, packed, sizeof packed);
    char out[512];
    size_t len;
    memory_source cut = {packed, n / 2, 0, 4096, false};
    ck_assert_int_eq(read_all("cut.ndjson.gz", "auto", &cut, 64, out, sizeof out, &len),
                     ETL_ERR_IO);
    ck_assert_msg(strstr(out, "cut.ndjson.gz: corrupt or truncated gzip data"), "%s", out);
    packed[n / 2] ^= 0x55;
    memory_source bad = {packed, n, 0, 4096, false};
    ck_assert_int_ne(read_all("bad.gz", "gzip", &bad, 64, out, sizeof out, &len), ETL_OK);
    memory_source junk = {(const unsigned char *)"not zstd at all", 15, 0, 4096, false};
    ck_assert_int_eq(read_all("j.zst", "auto", &junk, 64, out, sizeof out, &len), ETL_ERR_IO);
    ck_assert_msg(strstr(out, "j.zst: corrupt or truncated zstd data"), "%s", out);
    memory_source any = {packed, n, 0, 4096, false};
    ck_assert_int_eq(read_all("x", "lzma", &any, 64, out, sizeof out, &len), ETL_ERR_CONFIG);
    ck_assert_msg(strstr(out, "compression 'lzma' is not known"), "%s", out);
}
END_TEST

static Suite *decompress_suite(void)
{
    Suite *s = suite_create("decompress");
    TCase *t = tcase_create("codecs");
    tcase_add_test(t, gzip_members_back_to_back_by_name_and_by_bytes);
    tcase_add_test(t, zstd_frames_and_plain_bytes);
    tcase_add_test(t, corrupt_and_truncated_input_is_refused_by_name);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    return run_suite_as_tap(decompress_suite());
}
