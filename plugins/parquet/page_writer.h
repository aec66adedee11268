/* Pages: compression with a reused codec context, and a page's header plus
 * compressed body appended to a column chunk. */
#ifndef PQ_PAGE_WRITER_H
#define PQ_PAGE_WRITER_H

#include "parquet_metadata.h"

typedef struct pq_codec {
    int codec;                   /* PQ_CODEC_* */
    int level;
    void *zstd;                  /* ZSTD_CCtx, reused for every page */
    pq_buf out;                  /* the compressed body */
} pq_codec;

bool pq_codec_init(pq_codec *c, int codec, int level);
void pq_codec_free(pq_codec *c);
/* Compresses `body` into c->out; false on failure. */
bool pq_compress(pq_codec *c, const uint8_t *body, size_t len);
/* The same into `out` (a thread's own output; the context is still c's). */
bool pq_compress_into(pq_codec *c, const uint8_t *body, size_t len, pq_buf *out);
/* The codec's name, for messages. */
const char *pq_codec_name(int codec);

/* Compresses the body, fills the sizes in `h` and appends header and body
 * to `chunk`. Adds the bytes (headers included) to the totals. */
bool pq_page_append(pq_codec *c, pq_page_header *h, const pq_buf *body, pq_buf *chunk,
                    int64_t *uncompressed_total, int64_t *compressed_total);

#endif
