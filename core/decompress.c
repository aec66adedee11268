/* Byte sources that decompress another byte source: gzip (zlib inflate,
 * concatenated members) or zstd (streaming, several frames), chosen by
 * name, by the source's extension or by its first bytes. One host service
 * so that every source of objects (files, S3, ...) reads them alike. */
#include "decompress.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "context.h"

#define RAW_CHUNK (256 * 1024)

typedef enum codec { CODEC_NONE, CODEC_GZIP, CODEC_ZSTD } codec;

struct etl_decompressor {
    etl_ctx *ctx;
    etl_byte_source in;
    codec codec;
    unsigned char *raw;          /* bytes of `in` not yet used */
    size_t raw_pos, raw_len;
    bool raw_eof;
    bool stream_done;            /* gzip: the last member ended */
    size_t zstd_pending;         /* ZSTD_decompressStream's last hint: 0 at a frame end */
    z_stream zs;
    bool zs_ready;
    ZSTD_DStream *zstd;
};

static const char *name_of(const etl_decompressor *d)
{
    return d->in.name ? d->in.name : "input";
}

/* Refills `raw` from the inner source when it is used up; false after the
 * inner source set its error. */
static bool refill(etl_decompressor *d)
{
    if (d->raw_pos < d->raw_len || d->raw_eof)
        return true;
    int64_t n = d->in.read(d->in.user, d->raw, RAW_CHUNK);
    if (n < 0)
        return false;
    d->raw_pos = 0;
    d->raw_len = (size_t)n;
    d->raw_eof = n == 0;
    return true;
}

/* The first `want` bytes (fewer at the end of the input) for sniffing: a
 * source may hand them over a few at a time. */
static bool fill_at_least(etl_decompressor *d, size_t want)
{
    while (d->raw_len < want && !d->raw_eof) {
        int64_t n = d->in.read(d->in.user, d->raw + d->raw_len, RAW_CHUNK - d->raw_len);
        if (n < 0)
            return false;
        d->raw_len += (size_t)n;
        d->raw_eof = n == 0;
    }
    return true;
}

static int64_t corrupt(etl_decompressor *d, const char *codec_name, const char *detail)
{
    ctx_set_error(d->ctx, ETL_ERR_IO, 0,
                  "%s: corrupt or truncated %s data (%s); check the input or set "
                  "compression: none", name_of(d), codec_name, detail);
    return -1;
}

static int64_t read_plain(etl_decompressor *d, void *buf, size_t cap)
{
    if (!refill(d))
        return -1;
    size_t n = d->raw_len - d->raw_pos;
    if (n > cap)
        n = cap;
    memcpy(buf, d->raw + d->raw_pos, n);
    d->raw_pos += n;
    return (int64_t)n;
}

static int64_t read_gzip(etl_decompressor *d, void *buf, size_t cap)
{
    d->zs.next_out = buf;
    d->zs.avail_out = (uInt)(cap > UINT32_MAX ? UINT32_MAX : cap);
    size_t asked = d->zs.avail_out;
    while (d->zs.avail_out > 0 && !d->stream_done) {
        if (!refill(d))
            return -1;
        if (d->raw_pos == d->raw_len) {
            if (d->zs.avail_out < asked)
                break;
            return corrupt(d, "gzip", "unexpected end of data");
        }
        d->zs.next_in = d->raw + d->raw_pos;
        d->zs.avail_in = (uInt)(d->raw_len - d->raw_pos);
        int rc = inflate(&d->zs, Z_NO_FLUSH);
        d->raw_pos = d->raw_len - d->zs.avail_in;
        if (rc == Z_STREAM_END) {
            /* gzip allows several members back to back (cat a.gz b.gz). */
            if (!refill(d))
                return -1;
            if (d->raw_pos == d->raw_len)
                d->stream_done = true;
            else
                inflateReset(&d->zs);
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return corrupt(d, "gzip", d->zs.msg != NULL ? d->zs.msg : "inflate failed");
        }
    }
    return (int64_t)(asked - d->zs.avail_out);
}

static int64_t read_zstd(etl_decompressor *d, void *buf, size_t cap)
{
    ZSTD_outBuffer out = {buf, cap, 0};
    while (out.pos < out.size) {
        if (!refill(d))
            return -1;
        if (d->raw_pos == d->raw_len) {
            if (d->zstd_pending != 0 && out.pos == 0)
                return corrupt(d, "zstd", "unexpected end of data");
            break;
        }
        ZSTD_inBuffer src = {d->raw, d->raw_len, d->raw_pos};
        size_t rc = ZSTD_decompressStream(d->zstd, &out, &src);
        d->raw_pos = src.pos;
        if (ZSTD_isError(rc))
            return corrupt(d, "zstd", ZSTD_getErrorName(rc));
        d->zstd_pending = rc;
    }
    return (int64_t)out.pos;
}

static int64_t decompressed_read(void *user, void *buf, size_t cap)
{
    etl_decompressor *d = user;
    if (cap == 0)
        return 0;
    switch (d->codec) {
    case CODEC_GZIP: return read_gzip(d, buf, cap);
    case CODEC_ZSTD: return read_zstd(d, buf, cap);
    default: return read_plain(d, buf, cap);
    }
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* "auto": the extension decides; failing that, the magic bytes of the
 * first chunk (which stays in `raw` for the decoder). */
static codec sniff(etl_decompressor *d)
{
    const char *name = name_of(d);
    if (ends_with(name, ".gz"))
        return CODEC_GZIP;
    if (ends_with(name, ".zst") || ends_with(name, ".zstd"))
        return CODEC_ZSTD;
    const unsigned char *p = d->raw + d->raw_pos;
    size_t n = d->raw_len - d->raw_pos;
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        return CODEC_GZIP;
    if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
        return CODEC_ZSTD;
    return CODEC_NONE;
}

static etl_status start_decoder(etl_decompressor *d)
{
    if (d->codec == CODEC_GZIP) {
        /* 15 + 32: a 32 KiB window, gzip or zlib header detected. */
        if (inflateInit2(&d->zs, 15 + 32) != Z_OK)
            return ctx_set_error(d->ctx, ETL_ERR_NOMEM, 0, "%s: cannot start a gzip decoder",
                                 name_of(d));
        d->zs_ready = true;
    } else if (d->codec == CODEC_ZSTD) {
        d->zstd = ZSTD_createDStream();
        if (d->zstd == NULL || ZSTD_isError(ZSTD_initDStream(d->zstd)))
            return ctx_set_error(d->ctx, ETL_ERR_NOMEM, 0, "%s: cannot start a zstd decoder",
                                 name_of(d));
    }
    return ETL_OK;
}

etl_status decompress_open(etl_ctx *ctx, const etl_byte_source *in, const char *codec_name,
                           etl_byte_source *out, etl_decompressor **dp)
{
    *dp = NULL;
    const char *asked = codec_name ? codec_name : "auto";
    bool automatic = strcmp(asked, "auto") == 0;
    codec chosen = strcmp(asked, "gzip") == 0 ? CODEC_GZIP
                   : strcmp(asked, "zstd") == 0 ? CODEC_ZSTD : CODEC_NONE;
    if (!automatic && chosen == CODEC_NONE && strcmp(asked, "none") != 0)
        return ctx_set_error(ctx, ETL_ERR_CONFIG, 0,
                             "compression '%s' is not known: use auto, none, gzip or zstd",
                             asked);
    etl_decompressor *d = calloc(1, sizeof *d);
    if (d != NULL)
        d->raw = malloc(RAW_CHUNK);
    if (d == NULL || d->raw == NULL) {
        free(d);
        return ctx_set_error(ctx, ETL_ERR_NOMEM, 0, "out of memory");
    }
    d->ctx = ctx;
    d->in = *in;
    etl_status st = ETL_OK;
    if (automatic && !fill_at_least(d, 4))
        st = ctx_error_status(ctx) != ETL_OK ? ctx_error_status(ctx) : ETL_ERR_IO;
    if (st == ETL_OK) {
        d->codec = automatic ? sniff(d) : chosen;
        st = start_decoder(d);
    }
    if (st != ETL_OK) {
        decompress_close(d);
        return st;
    }
    *out = (etl_byte_source){.struct_size = sizeof *out, .user = d, .name = in->name,
                             .read = decompressed_read};
    *dp = d;
    return ETL_OK;
}

const char *decompress_codec(const etl_decompressor *d)
{
    switch (d->codec) {
    case CODEC_GZIP: return "gzip";
    case CODEC_ZSTD: return "zstd";
    default: return "none";
    }
}

void decompress_close(etl_decompressor *d)
{
    if (d == NULL)
        return;
    if (d->zs_ready)
        inflateEnd(&d->zs);
    ZSTD_freeDStream(d->zstd);
    free(d->raw);
    free(d);
}
