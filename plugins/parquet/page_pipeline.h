/* Page compression off the encoding thread.
 *
 * The column writers encode pages uncompressed into job slots; worker
 * threads compress them (each with its own reused codec context), and the
 * calling thread assembles the results strictly in submission order:
 * header (with the real compressed size) and compressed body appended to
 * the page's destination chunk, sizes added to its totals. Since every
 * destination is written by the calling thread only, and in order, pages
 * stay in page order within a column chunk and offsets computed later from
 * the chunks are the real ones.
 *
 * Memory is bounded: a fixed ring of slots, and no new page is accepted
 * while the uncompressed pages in flight exceed `max_bytes` (one page is
 * always allowed). With no workers (threads: 1) a submitted page is
 * compressed and assembled at once, on the calling thread.
 *
 * Errors (a failed compression, out of memory) are sticky: the first one
 * is kept with the destination it belongs to, and every later call
 * returns it. Nothing ever waits on a worker that failed. */
#ifndef PQ_PAGE_PIPELINE_H
#define PQ_PAGE_PIPELINE_H

#include "page_writer.h"

typedef struct pq_pipeline pq_pipeline;

typedef enum pq_pipe_status {
    PQ_PIPE_OK = 0,
    PQ_PIPE_NOMEM,
    PQ_PIPE_CODEC
} pq_pipe_status;

/* Where an assembled page goes. All pointers stay valid until the page is
 * assembled or the pipeline is freed (pq_pipeline_free drops pages that
 * were not assembled, and decrements their *pending all the same). */
typedef struct pq_page_dest {
    pq_buf *chunk;               /* header + compressed body are appended */
    int64_t *uncompressed;       /* += header size (the body was counted at submit) */
    int64_t *compressed;         /* += header + compressed size */
    int32_t *pending;            /* pages submitted and not yet assembled */
    const void *owner;           /* reported with an error (the column) */
} pq_page_dest;

/* Workers: threads besides the caller (0: everything on the caller).
 * NULL when out of memory or a thread cannot be started. */
pq_pipeline *pq_pipeline_new(int codec, int level, int workers, size_t max_bytes);
/* Stops and joins the workers, drops pages not yet assembled, frees all. */
void pq_pipeline_free(pq_pipeline *p);

/* The body buffer of the next page to submit, empty; waits (assembling
 * finished pages) while the queue is full. NULL after an error. */
pq_buf *pq_pipeline_body(pq_pipeline *p);
/* Submits the body obtained by pq_pipeline_body with its header (sizes
 * are filled in at assembly). Counts the body into *dest.uncompressed and
 * increments *dest.pending. */
pq_pipe_status pq_pipeline_submit(pq_pipeline *p, const pq_page_header *h,
                                  const pq_page_dest *dest);
/* Waits for every submitted page and assembles it. */
pq_pipe_status pq_pipeline_drain(pq_pipeline *p);
/* The first error and the owner of the page it happened to (or NULL). */
pq_pipe_status pq_pipeline_error(const pq_pipeline *p, const void **owner);
/* The codec, for messages and metadata. */
int pq_pipeline_codec(const pq_pipeline *p);

/* Workers for a `threads` option: 0 means the online CPUs; the caller is
 * one of the threads, and at most PQ_MAX_WORKERS workers are started. */
#define PQ_MAX_WORKERS 7
int pq_pipeline_workers_for(int64_t threads);

#endif
