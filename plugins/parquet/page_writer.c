/* Page assembly and compression (see page_writer.h). */
#include "page_writer.h"

#include <limits.h>
#include <snappy-c.h>
#include <zstd.h>

bool pq_codec_init(pq_codec *c, int codec, int level)
{
    *c = (pq_codec){.codec = codec, .level = level};
    if (codec == PQ_CODEC_ZSTD) {
        c->zstd = ZSTD_createCCtx();
        if (c->zstd == NULL)
            return false;
        ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_compressionLevel, level);
    }
    return true;
}

void pq_codec_free(pq_codec *c)
{
    if (c->zstd != NULL)
        ZSTD_freeCCtx(c->zstd);
    pq_buf_free(&c->out);
    c->zstd = NULL;
}

const char *pq_codec_name(int codec)
{
    return codec == PQ_CODEC_ZSTD ? "zstd" : codec == PQ_CODEC_SNAPPY ? "snappy" : "none";
}

bool pq_compress(pq_codec *c, const uint8_t *body, size_t len)
{
    return pq_compress_into(c, body, len, &c->out);
}

bool pq_compress_into(pq_codec *c, const uint8_t *body, size_t len, pq_buf *out)
{
    pq_buf_reset(out);
    if (c->codec == PQ_CODEC_UNCOMPRESSED) {
        pq_buf_append(out, body, len);
        return !out->failed;
    }
    size_t bound = c->codec == PQ_CODEC_ZSTD ? ZSTD_compressBound(len)
                                             : snappy_max_compressed_length(len);
    if (!pq_buf_reserve(out, bound))
        return false;
    if (c->codec == PQ_CODEC_ZSTD) {
        size_t n = ZSTD_compress2(c->zstd, out->data, bound, body, len);
        if (ZSTD_isError(n))
            return false;
        out->len = n;
        return true;
    }
    size_t n = bound;
    if (snappy_compress((const char *)body, len, (char *)out->data, &n) != SNAPPY_OK)
        return false;
    out->len = n;
    return true;
}

bool pq_page_append(pq_codec *c, pq_page_header *h, const pq_buf *body, pq_buf *chunk,
                    int64_t *uncompressed_total, int64_t *compressed_total)
{
    if (body->len > INT32_MAX || !pq_compress(c, body->data, body->len) ||
        c->out.len > INT32_MAX)
        return false;
    h->uncompressed_size = (int32_t)body->len;
    h->compressed_size = (int32_t)c->out.len;
    size_t before = chunk->len;
    pq_page_header_write(h, chunk);
    size_t header = chunk->len - before;
    pq_buf_append(chunk, c->out.data, c->out.len);
    *uncompressed_total += (int64_t)(header + body->len);
    *compressed_total += (int64_t)(header + c->out.len);
    return !chunk->failed;
}
