/* Page encoding and compression off the calling thread (see
 * page_pipeline.h).
 *
 * The slots form a ring: [head, next) are handed to workers (or done),
 * [next, tail) wait for one. Only the calling thread moves head and tail,
 * fills parts, assembles pages and touches destinations; workers only move
 * `next` and turn the parts of the slot they took into `body` and `out`.
 * The mutex guards the slot states, `next`, `tail` and `stop`. */
#include "page_pipeline.h"

#include "encodings.h"

#include <limits.h>
#include <pthread.h>
#include <unistd.h>

typedef enum slot_state { SLOT_FREE = 0, SLOT_QUEUED, SLOT_BUSY, SLOT_DONE } slot_state;

typedef enum slot_result { SLOT_OK = 0, SLOT_NOMEM, SLOT_CODEC } slot_result;

typedef struct slot {
    pq_page_parts parts;         /* filled by the column writer */
    pq_buf body;                 /* the encoded page */
    pq_buf out;                  /* the compressed page (unused for codec none) */
    pq_page_header h;
    pq_page_dest dest;
    size_t estimate;
    slot_state state;
    slot_result result;
} slot;

typedef struct worker {
    pq_pipeline *pipe;
    pq_codec codec;
    pthread_t thread;
    bool started;
} worker;

/* pq_pipeline_mark: the pages submitted until then, their bytes once
 * assembled, and the estimates of the pages submitted since. */
typedef struct mark {
    uint64_t seq;
    int64_t at;
    bool known;
    int64_t since;
} mark;

struct pq_pipeline {
    int codec;
    pq_codec inline_codec;       /* the caller's, when it compresses a page itself */
    worker *workers;
    int n_workers;

    slot *slots;
    size_t n_slots;
    uint64_t head, next, tail;   /* ring positions, never wrapped */
    size_t in_flight;            /* estimates of [head, tail) */
    size_t max_bytes;
    bool handed_out;             /* pq_pipeline_parts gave the tail slot */

    int64_t assembled;           /* bytes of every page assembled */
    mark marks[PQ_MARK_LAG];     /* oldest first */
    int n_marks;

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

/* [rep levels][def levels][values or bit width + indices] */
static bool encode_slot(slot *s)
{
    pq_page_parts *pp = &s->parts;
    pq_buf *body = &s->body;
    pq_buf_reset(body);
    if (pp->rep_max > 0)
        pq_levels_encode_v1(body, pp->rep.data, pp->entries, pp->rep_max);
    if (pp->def_max > 0)
        pq_levels_encode_v1(body, pp->def.data, pp->entries, pp->def_max);
    if (pp->n_indices > 0) {
        pq_buf_byte(body, (uint8_t)pp->index_width);
        pq_rle_encode_u32(body, pp->indices, pp->n_indices, pp->index_width);
    } else {
        pq_buf_append(body, pp->values.data, pp->values.len);
    }
    return !body->failed && !pp->rep.failed && !pp->def.failed && !pp->values.failed;
}

/* Page sizes are int32 in the header: a bigger page fails like the codec. */
static void process_slot(pq_codec *codec, slot *s)
{
    if (!encode_slot(s))
        s->result = SLOT_NOMEM;
    else if (s->body.len > INT32_MAX ||
             (codec->codec != PQ_CODEC_UNCOMPRESSED &&
              (!pq_compress_into(codec, s->body.data, s->body.len, &s->out) ||
               s->out.len > INT32_MAX)))
        s->result = SLOT_CODEC;
    else
        s->result = SLOT_OK;
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
        process_slot(&wk->codec, s);
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
    if (s->result != SLOT_OK)
        set_error(p, s->result == SLOT_NOMEM ? PQ_PIPE_NOMEM : PQ_PIPE_CODEC, d->owner);
    if (p->error == PQ_PIPE_OK) {
        const pq_buf *out = p->codec == PQ_CODEC_UNCOMPRESSED ? &s->body : &s->out;
        pq_page_header h = s->h;
        h.uncompressed_size = (int32_t)s->body.len;
        h.compressed_size = (int32_t)out->len;
        size_t before = d->chunk->len;
        pq_page_header_write(&h, d->chunk);
        size_t header = d->chunk->len - before;
        pq_buf_append(d->chunk, out->data, out->len);
        *d->uncompressed += (int64_t)(header + s->body.len);
        *d->compressed += (int64_t)(header + out->len);
        p->assembled += (int64_t)(header + out->len);
        if (d->chunk->failed)
            set_error(p, PQ_PIPE_NOMEM, d->owner);
    }
    (*d->pending)--;
    p->in_flight -= s->estimate;
    s->state = SLOT_FREE;
    p->head++;
    for (int i = 0; i < p->n_marks; i++)
        if (p->head == p->marks[i].seq && !p->marks[i].known) {
            p->marks[i].at = p->assembled;
            p->marks[i].known = true;
        }
}

/* Assembles the finished pages at the head, in order (the caller holds the
 * mutex when there are workers). */
static void assemble_ready(pq_pipeline *p)
{
    while (p->head < p->tail && slot_at(p, p->head)->state == SLOT_DONE)
        assemble_head(p);
}

/* Rather than wait, the caller compresses the oldest page that no worker
 * took yet (the workers may be busy with others, or fewer than the CPUs):
 * waiting time becomes work. The mutex is held, and released meanwhile. */
static void wait_or_help(pq_pipeline *p)
{
    if (p->next < p->tail) {
        slot *s = slot_at(p, p->next++);
        s->state = SLOT_BUSY;
        pthread_mutex_unlock(&p->mu);
        process_slot(&p->inline_codec, s);
        pthread_mutex_lock(&p->mu);
        s->state = SLOT_DONE;
    } else {
        pthread_cond_wait(&p->done, &p->mu);
    }
    assemble_ready(p);
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

static void empty_parts(pq_page_parts *pp)
{
    pq_buf_reset(&pp->rep);
    pq_buf_reset(&pp->def);
    pq_buf_reset(&pp->values);
    pp->rep_max = pp->def_max = pp->index_width = 0;
    pp->entries = pp->n_indices = 0;
}

pq_page_parts *pq_pipeline_parts(pq_pipeline *p)
{
    if (p->error != PQ_PIPE_OK)
        return NULL;
    lock(p);
    assemble_ready(p);
    while (full(p)) {
        /* Workers are running (without them nothing stays queued). */
        wait_or_help(p);
    }
    unlock(p);
    if (p->error != PQ_PIPE_OK)
        return NULL;
    slot *s = slot_at(p, p->tail);
    empty_parts(&s->parts);
    p->handed_out = true;
    return &s->parts;
}

pq_pipe_status pq_pipeline_submit(pq_pipeline *p, const pq_page_header *h,
                                  const pq_page_dest *dest, int64_t estimate)
{
    if (p->error != PQ_PIPE_OK || !p->handed_out)
        return p->error != PQ_PIPE_OK ? p->error : PQ_PIPE_CODEC;
    p->handed_out = false;
    slot *s = slot_at(p, p->tail);
    s->h = *h;
    s->dest = *dest;
    s->estimate = estimate > 0 ? (size_t)estimate : 0;
    (*dest->pending)++;
    p->in_flight += s->estimate;
    for (int i = 0; i < p->n_marks; i++)
        p->marks[i].since += (int64_t)s->estimate;
    if (p->n_workers == 0) {
        process_slot(&p->inline_codec, s);
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

pq_pipe_status pq_pipeline_wait(pq_pipeline *p, const int32_t *pending)
{
    lock(p);
    assemble_ready(p);
    while (*pending > 0) {
        /* Workers are running: without them every page is assembled. */
        wait_or_help(p);
    }
    unlock(p);
    return p->error;
}

pq_pipe_status pq_pipeline_drain(pq_pipeline *p)
{
    lock(p);
    assemble_ready(p);
    while (p->head < p->tail) {
        wait_or_help(p);
    }
    unlock(p);
    return p->error;
}

void pq_pipeline_mark(pq_pipeline *p, bool forget)
{
    if (forget)
        p->n_marks = 0;
    if (p->n_marks == PQ_MARK_LAG) {
        memmove(p->marks, p->marks + 1, (PQ_MARK_LAG - 1) * sizeof p->marks[0]);
        p->n_marks--;
    }
    bool known = p->head == p->tail;
    p->marks[p->n_marks++] = (mark){.seq = p->tail, .at = known ? p->assembled : 0,
                                    .known = known};
}

int64_t pq_pipeline_before_mark(pq_pipeline *p)
{
    if (p->n_marks == 0)
        pq_pipeline_mark(p, false);
    lock(p);
    assemble_ready(p);
    while (!p->marks[0].known && p->error == PQ_PIPE_OK) {
        wait_or_help(p);
    }
    unlock(p);
    return p->error == PQ_PIPE_OK ? p->marks[0].at : -1;
}

int64_t pq_pipeline_since_mark(const pq_pipeline *p)
{
    return p->n_marks > 0 ? p->marks[0].since : 0;
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
        slot *s = &p->slots[i];
        pq_buf_free(&s->parts.rep);
        pq_buf_free(&s->parts.def);
        pq_buf_free(&s->parts.values);
        free(s->parts.indices);
        pq_buf_free(&s->body);
        pq_buf_free(&s->out);
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
    bool ok = p->slots != NULL && pq_codec_init(&p->inline_codec, codec, level);
    if (ok && workers > 0)
        ok = start_workers(p, workers, level);
    if (!ok) {
        pq_pipeline_free(p);
        return NULL;
    }
    return p;
}
