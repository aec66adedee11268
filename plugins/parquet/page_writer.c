/* Page compression (see page_writer.h). */
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
    c->zstd = NULL;
}

const char *pq_codec_name(int codec)
{
    return codec == PQ_CODEC_ZSTD ? "zstd" : codec == PQ_CODEC_SNAPPY ? "snappy" : "none";
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
    if (c->codec != PQ_CODEC_SNAPPY)
        return false;            /* not a codec this writer knows */
    size_t n = bound;
    if (snappy_compress((const char *)body, len, (char *)out->data, &n) != SNAPPY_OK)
        return false;
    out->len = n;
    return true;
}
