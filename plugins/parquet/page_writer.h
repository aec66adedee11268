/* Page compression with a reused codec context (one per thread: see
 * page_pipeline.h, which assembles pages into column chunks). */
#ifndef PQ_PAGE_WRITER_H
#define PQ_PAGE_WRITER_H

#include "parquet_metadata.h"

typedef struct pq_codec {
    int codec;                   /* PQ_CODEC_* */
    int level;
    void *zstd;                  /* ZSTD_CCtx, reused for every page */
} pq_codec;

bool pq_codec_init(pq_codec *c, int codec, int level);
void pq_codec_free(pq_codec *c);
/* Compresses `body` into `out` (replacing its content); false on failure. */
bool pq_compress_into(pq_codec *c, const uint8_t *body, size_t len, pq_buf *out);
/* The codec's name, for messages. */
const char *pq_codec_name(int codec);

#endif
