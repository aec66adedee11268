/* Page compression off the encoding thread (see page_pipeline.h).
 *
 * The slots form a ring: [head, next) are handed to workers (or done),
 * [next, tail) wait for one. Only the calling thread moves head and tail,
 * assembles pages and touches destinations; workers only move `next` and
 * compress the body of the slot they took into its `out`. The mutex
 * guards the slot states, `next`, `tail` and `stop`. */
#include "page_pipeline.h"

#include <limits.h>
#include <pthread.h>
#include <unistd.h>

typedef enum slot_state { SLOT_FREE = 0, SLOT_QUEUED, SLOT_BUSY, SLOT_DONE } slot_state;

typedef struct slot {
    pq_buf body;                 /* the uncompressed page */
    pq_buf out;                  /* the compressed page (unused for codec none) */
    pq_page_header h;
    pq_page_dest dest;
    slot_state state;
    bool codec_failed;
} slot;

typedef struct worker {
    pq_pipeline *pipe;
    pq_codec codec;
    pthread_t thread;
    bool started;
} worker;

struct pq_pipeline {
    int codec;
    pq_codec inline_codec;       /* no workers: the caller compresses */
    worker *workers;
    int n_workers;

    slot *slots;
    size_t n_slots;
    uint64_t head, next, tail;   /* ring positions, never wrapped */
    size_t in_flight;            /* body bytes in [head, tail) */
    size_t max_bytes;
    bool handed_out;             /* pq_pipeline_body gave the tail slot */

    pthread_mutex_t mu;
    pthread_cond_t work;         /* workers: a page is queued, or stop */
    pthread_cond_t done;         /* caller: a page is compressed */
    bool stop;

    pq_pipe_status error;        /* the first error */
    const void *error_owner;
};

int pq_pipeline_workers_for(int64_t threads)
{
    if (threads <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cpus > 0 ? cpus : 1;
    }
    int64_t workers = threads - 1;
    return workers < 0 ? 0 : workers > PQ_MAX_WORKERS ? PQ_MAX_WORKERS : (int)workers;
}

int pq_pipeline_codec(const pq_pipeline *p)
{
    return p->codec;
}

pq_pipe_status pq_pipeline_error(const pq_pipeline *p, const void **owner)
{
    if (owner != NULL)
        *owner = p->error_owner;
    return p->error;
}

static slot *slot_at(const pq_pipeline *p, uint64_t pos)
{
    return &p->slots[pos % p->n_slots];
}

/* Page sizes are int32 in the header: a bigger page fails like the codec. */
static void compress_slot(pq_codec *codec, slot *s)
{
    s->codec_failed = s->body.len > INT32_MAX ||
                      (codec->codec != PQ_CODEC_UNCOMPRESSED &&
                       (!pq_compress_into(codec, s->body.data, s->body.len, &s->out) ||
                        s->out.len > INT32_MAX));
}

/* ---- workers ----------------------------------------------------------- */

static void *worker_main(void *arg)
{
    worker *wk = arg;
    pq_pipeline *p = wk->pipe;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->next == p->tail)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->stop)
            break;
        slot *s = slot_at(p, p->next++);
        s->state = SLOT_BUSY;
        pthread_mutex_unlock(&p->mu);
        compress_slot(&wk->codec, s);
        pthread_mutex_lock(&p->mu);
        s->state = SLOT_DONE;
        pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- the calling thread ------------------------------------------------ */

static void set_error(pq_pipeline *p, pq_pipe_status st, const void *owner)
{
    if (p->error == PQ_PIPE_OK) {
        p->error = st;
        p->error_owner = owner;
    }
}

/* The oldest page (done): header and body to its destination. */
static void assemble_head(pq_pipeline *p)
{
    slot *s = slot_at(p, p->head);
    const pq_page_dest *d = &s->dest;
    if (s->codec_failed)
        set_error(p, PQ_PIPE_CODEC, d->owner);
    if (p->error == PQ_PIPE_OK) {
        const pq_buf *out = p->codec == PQ_CODEC_UNCOMPRESSED ? &s->body : &s->out;
        pq_page_header h = s->h;
        h.uncompressed_size = (int32_t)s->body.len;
        h.compressed_size = (int32_t)out->len;
        size_t before = d->chunk->len;
        pq_page_header_write(&h, d->chunk);
        size_t header = d->chunk->len - before;
        pq_buf_append(d->chunk, out->data, out->len);
        *d->uncompressed += (int64_t)header;
        *d->compressed += (int64_t)(header + out->len);
        if (d->chunk->failed)
            set_error(p, PQ_PIPE_NOMEM, d->owner);
    }
    (*d->pending)--;
    p->in_flight -= s->body.len;
    s->state = SLOT_FREE;
    p->head++;
}

/* Assembles the finished pages at the head, in order (the caller holds the
 * mutex when there are workers). */
static void assemble_ready(pq_pipeline *p)
{
    while (p->head < p->tail && slot_at(p, p->head)->state == SLOT_DONE)
        assemble_head(p);
}

static bool full(const pq_pipeline *p)
{
    size_t queued = (size_t)(p->tail - p->head);
    return queued == p->n_slots || (queued > 0 && p->in_flight >= p->max_bytes);
}

static void lock(pq_pipeline *p)
{
    if (p->n_workers > 0)
        pthread_mutex_lock(&p->mu);
}

static void unlock(pq_pipeline *p)
{
    if (p->n_workers > 0)
        pthread_mutex_unlock(&p->mu);
}

pq_buf *pq_pipeline_body(pq_pipeline *p)
{
    if (p->error != PQ_PIPE_OK)
        return NULL;
    lock(p);
    assemble_ready(p);
    while (full(p)) {
        /* Workers are running (without them nothing stays queued). */
        pthread_cond_wait(&p->done, &p->mu);
        assemble_ready(p);
    }
    unlock(p);
    if (p->error != PQ_PIPE_OK)
        return NULL;
    slot *s = slot_at(p, p->tail);
    pq_buf_reset(&s->body);
    p->handed_out = true;
    return &s->body;
}

pq_pipe_status pq_pipeline_submit(pq_pipeline *p, const pq_page_header *h,
                                  const pq_page_dest *dest)
{
    if (p->error != PQ_PIPE_OK || !p->handed_out)
        return p->error != PQ_PIPE_OK ? p->error : PQ_PIPE_CODEC;
    p->handed_out = false;
    slot *s = slot_at(p, p->tail);
    if (s->body.failed) {
        set_error(p, PQ_PIPE_NOMEM, dest->owner);
        return p->error;
    }
    s->h = *h;
    s->dest = *dest;
    *dest->uncompressed += (int64_t)s->body.len;
    (*dest->pending)++;
    p->in_flight += s->body.len;
    if (p->n_workers == 0) {
        compress_slot(&p->inline_codec, s);
        s->state = SLOT_DONE;
        p->tail++;
        assemble_ready(p);
        return p->error;
    }
    pthread_mutex_lock(&p->mu);
    s->state = SLOT_QUEUED;
    p->tail++;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
    return p->error;
}

pq_pipe_status pq_pipeline_drain(pq_pipeline *p)
{
    lock(p);
    assemble_ready(p);
    while (p->head < p->tail) {
        pthread_cond_wait(&p->done, &p->mu);
        assemble_ready(p);
    }
    unlock(p);
    return p->error;
}

/* ---- life cycle -------------------------------------------------------- */

static void stop_workers(pq_pipeline *p)
{
    if (p->n_workers == 0)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_workers; i++)
        if (p->workers[i].started)
            pthread_join(p->workers[i].thread, NULL);
}

void pq_pipeline_free(pq_pipeline *p)
{
    if (p == NULL)
        return;
    stop_workers(p);
    for (; p->head < p->tail; p->head++)
        (*slot_at(p, p->head)->dest.pending)--;
    for (size_t i = 0; p->slots != NULL && i < p->n_slots; i++) {
        pq_buf_free(&p->slots[i].body);
        pq_buf_free(&p->slots[i].out);
    }
    for (int i = 0; p->workers != NULL && i < p->n_workers; i++)
        pq_codec_free(&p->workers[i].codec);
    pq_codec_free(&p->inline_codec);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->workers);
    free(p->slots);
    free(p);
}

static bool start_workers(pq_pipeline *p, int n, int level)
{
    p->workers = calloc((size_t)n, sizeof *p->workers);
    if (p->workers == NULL)
        return false;
    p->n_workers = n;
    for (int i = 0; i < n; i++) {
        worker *wk = &p->workers[i];
        wk->pipe = p;
        if (!pq_codec_init(&wk->codec, p->codec, level))
            return false;
        wk->started = pthread_create(&wk->thread, NULL, worker_main, wk) == 0;
        if (!wk->started)
            return false;
    }
    return true;
}

pq_pipeline *pq_pipeline_new(int codec, int level, int workers, size_t max_bytes)
{
    pq_pipeline *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->codec = codec;
    p->max_bytes = max_bytes;
    if (codec == PQ_CODEC_UNCOMPRESSED)
        workers = 0;             /* nothing to offload */
    p->n_slots = 4 + 2 * (size_t)workers;
    p->slots = calloc(p->n_slots, sizeof *p->slots);
    p->mu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    p->work = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
    p->done = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
    bool ok = p->slots != NULL;
    if (ok && workers == 0)
        ok = pq_codec_init(&p->inline_codec, codec, level);
    else if (ok)
        ok = start_workers(p, workers, level);
    if (!ok) {
        pq_pipeline_free(p);
        return NULL;
    }
    return p;
}
