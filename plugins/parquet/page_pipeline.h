/* Page encoding and compression off the calling thread.
 *
 * The column writers hand over the parts of a page (its levels, and its
 * PLAIN values or dictionary indices) in job slots; worker threads encode
 * the page body (RLE/bit-packed levels and indices) and compress it, each
 * with its own reused codec context; the calling thread assembles the
 * results strictly in submission order: header (with the real sizes) and
 * compressed body appended to the page's destination chunk. Destinations
 * are only ever touched by the calling thread, in order, so pages stay in
 * page order within a column chunk, and offsets computed later from the
 * chunks are the real ones.
 *
 * Memory is bounded: a fixed ring of slots, and no new page is accepted
 * while the pages in flight hold more than `max_bytes` (one page is always
 * accepted). With no workers (threads: 1) a submitted page is encoded,
 * compressed and assembled at once, on the calling thread; the bytes of
 * the file are the same either way.
 *
 * Errors (a failed compression, out of memory) are sticky: the first one is
 * kept with the destination it belongs to, and every later call returns
 * it. The caller never waits on a page that cannot finish: workers always
 * finish the page they took, and freeing stops them. */
#ifndef PQ_PAGE_PIPELINE_H
#define PQ_PAGE_PIPELINE_H

#include "page_writer.h"

typedef struct pq_pipeline pq_pipeline;

typedef enum pq_pipe_status {
    PQ_PIPE_OK = 0,
    PQ_PIPE_NOMEM,
    PQ_PIPE_CODEC
} pq_pipe_status;

/* What a page is made of. The buffers belong to the slot and keep their
 * capacity from page to page; a column writer may swap its own `values`
 * buffer or `indices` array with the slot's instead of copying. */
typedef struct pq_page_parts {
    pq_buf rep, def;             /* one level per byte, `entries` of them (unused at max 0) */
    int rep_max, def_max;        /* 0: the page has no such levels */
    size_t entries;
    pq_buf values;               /* PLAIN values, or a dictionary page's body */
    uint32_t *indices;           /* an RLE_DICTIONARY page (n_indices > 0): the indices */
    size_t n_indices, cap_indices;
    int index_width;             /* bits per index */
} pq_page_parts;

/* Where an assembled page goes. The pointers must stay valid until the page
 * is assembled or the pipeline is freed (pq_pipeline_free drops pages that
 * were not assembled and uncounts them from *pending all the same). */
typedef struct pq_page_dest {
    pq_buf *chunk;               /* header + compressed body are appended */
    int64_t *uncompressed;       /* += header + body size */
    int64_t *compressed;         /* += header + compressed size */
    int32_t *pending;            /* pages submitted and not yet assembled */
    const void *owner;           /* reported with an error (the column) */
} pq_page_dest;

/* Workers: threads besides the caller (0: everything on the caller).
 * NULL when out of memory or a thread cannot be started. */
pq_pipeline *pq_pipeline_new(int codec, int level, int workers, size_t max_bytes);
/* Stops and joins the workers, drops pages not yet assembled, frees all. */
void pq_pipeline_free(pq_pipeline *p);

/* The parts of the next page to submit, emptied (rep_max, def_max and
 * index_width zero); waits, assembling finished pages, while the queue is
 * full. NULL after an error. */
pq_page_parts *pq_pipeline_parts(pq_pipeline *p);
/* Submits the parts obtained by pq_pipeline_parts with the page's header
 * (sizes are filled in at assembly); `estimate` is the caller's idea of
 * the page's size, counted into the queue bound and pq_pipeline_since_mark.
 * Increments *dest.pending. */
pq_pipe_status pq_pipeline_submit(pq_pipeline *p, const pq_page_header *h,
                                  const pq_page_dest *dest, int64_t estimate);
/* Waits for every submitted page and assembles it. */
pq_pipe_status pq_pipeline_drain(pq_pipeline *p);
/* Waits until *pending (a destination's counter) is 0, assembling pages in
 * order meanwhile: one column is complete while later ones still compress. */
pq_pipe_status pq_pipeline_wait(pq_pipeline *p, const int32_t *pending);

/* Sizes that do not depend on how fast the workers are (so that decisions
 * made from them, like rolling a file, are the same on every run):
 * pq_pipeline_mark remembers the pages submitted so far (with `forget`,
 * the earlier marks are dropped first); pq_pipeline_before_mark waits
 * until the pages of the oldest of the last PQ_MARK_LAG marks are
 * assembled, and returns the bytes of every page assembled up to them
 * (headers and compressed bodies, since the pipeline was made), -1 after
 * an error; pq_pipeline_since_mark is the sum of the estimates of the
 * pages submitted after that mark. The lag lets the workers stay a few
 * batches behind without the caller ever waiting for them. */
#define PQ_MARK_LAG 4
void pq_pipeline_mark(pq_pipeline *p, bool forget);
int64_t pq_pipeline_before_mark(pq_pipeline *p);
int64_t pq_pipeline_since_mark(const pq_pipeline *p);

/* The first error and the owner of the page it happened to (or NULL). */
pq_pipe_status pq_pipeline_error(const pq_pipeline *p, const void **owner);
/* The codec, for messages and metadata. */
int pq_pipeline_codec(const pq_pipeline *p);

/* Workers for a `threads` option: 0 means the online CPUs; the caller is
 * one of the threads, and at most PQ_MAX_WORKERS workers are started. */
#define PQ_MAX_WORKERS 7
int pq_pipeline_workers_for(int64_t threads);

#endif
