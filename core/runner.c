#include "runner.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "buf.h"
#include "builder.h"
#include "context.h"
#include "exit_status.h"
#include "json_encode.h"
#include "log.h"
#include "state.h"
#include "strutil.h"

volatile int run_interrupted;

typedef struct stage_instance {
    const stage *plan;
    etl_ctx *ctx;
    void *state;
    bool open;
} stage_instance;

typedef struct runner {
    struct run run;
    const pipeline *p;
    stage_instance source;
    stage_instance *transforms;
    stage_instance sink;
    etl_builder *builder;
    etl_outcome *outcomes;
    size_t outcomes_cap;
    uint64_t commit_sequence;
    int64_t rejected;
    /* checkpoints */
    stage_instance store;
    run_state state;
    bool resumed;
    etl_buf state_version;       /* of the state as last read or written */
    char run_id[40];
    int64_t records_since_commit;
    int64_t bytes_since_commit;
    int64_t last_commit_us;
    int64_t slice_start_records;
    bool suspended;
    bool done;
    /* the cursor and schema after the last batch handed to the sink */
    char *last_cursor;
    char *last_schema;
    /* reading ahead on a second thread (batch.prefetch) */
    struct prefetcher *prefetch;
} runner;

/* One batch as read, with where the source stood right after it: a
 * checkpoint taken after writing this batch must carry exactly that. */
typedef struct fetched {
    etl_batch *batch;
    etl_status status;
    bool end;
    char *cursor;
    char *schema;
} fetched;

#define PREFETCH_MAX 4

/* The reader thread reads batches ahead into a small queue while the
 * pipeline thread transforms and writes; only the reader touches the
 * source and the builder once it runs. */
typedef struct prefetcher {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    fetched items[PREFETCH_MAX];
    int head, count, capacity;
    volatile int stop;
    bool started;
    int64_t records;             /* read so far (the reader's own count) */
} prefetcher;

void run_metric_add(struct run *run, const char *name, int64_t delta)
{
    pthread_mutex_lock(&run->lock);
    size_t i = 0;
    while (i < run->metric_count && strcmp(run->metrics[i].name, name) != 0)
        i++;
    if (i < run->metric_count) {
        run->metrics[i].value += delta;
    } else if (run->metric_count < RUN_MAX_METRICS) {
        run->metrics[i].name = xstrdup(name);
        run->metrics[i].value = delta;
        run->metric_count++;
    }
    pthread_mutex_unlock(&run->lock);
}

void run_request_finished(struct run *run, const char *who, int64_t latency_us, bool overloaded)
{
    if (!run->pipeline->throttle_adaptive)
        return;
    int64_t now = monotonic_us();
    pthread_mutex_lock(&run->throttle_lock);
    double before = run->aimd.rate;
    bool changed = aimd_record(&run->aimd, latency_us, overloaded, now);
    if (changed)
        bucket_set_rate(&run->request_bucket, run->aimd.rate, now);
    pthread_mutex_unlock(&run->throttle_lock);
    if (!changed)
        return;
    run_metric_add(run, "rate_changes", 1);
    if (run->aimd.rate > 0 && (before == 0 || run->aimd.rate < before))
        log_msg(ETL_LOG_WARN, who,
                "source %s: request rate lowered to %.1f/s to protect it",
                overloaded ? "overloaded" : "slowing down", run->aimd.rate);
    else if (run->aimd.rate == 0 || run->aimd.rate >= run->aimd.max_rate)
        log_msg(ETL_LOG_INFO, who, "request rate back to %s",
                run->aimd.rate > 0 ? "its configured cap" : "unlimited");
}

int64_t run_request_slot(struct run *run)
{
    pthread_mutex_lock(&run->throttle_lock);
    run->source_counts_requests = true;
    int64_t wait = bucket_take(&run->request_bucket, 1, monotonic_us());
    pthread_mutex_unlock(&run->throttle_lock);
    return wait;
}

int64_t run_remaining_us(struct run *run)
{
    pthread_mutex_lock(&run->lock);
    int64_t left = budget_active(&run->budget)
                       ? budget_remaining_for_plugins_us(&run->budget, monotonic_us())
                       : INT64_MAX;
    pthread_mutex_unlock(&run->lock);
    return left;
}

int64_t run_metric_value(struct run *run, const char *name)
{
    int64_t value = 0;
    pthread_mutex_lock(&run->lock);
    for (size_t i = 0; i < run->metric_count; i++)
        if (strcmp(run->metrics[i].name, name) == 0)
            value = run->metrics[i].value;
    pthread_mutex_unlock(&run->lock);
    return value;
}

static int exit_status_for(etl_status st)
{
    switch (st) {
    case ETL_OK:
    case ETL_END: return EXIT_OK;
    case ETL_ERR_RETRY: return EXIT_RETRIES_EXHAUSTED;
    case ETL_ERR_CONFIG: return EXIT_CONFIG;
    case ETL_ERR_DATA: return EXIT_DATA;
    case ETL_ERR_UNSUPPORTED: return EXIT_UNSUPPORTED;
    case ETL_ERR_IO: return EXIT_IO;
    case ETL_ERR_AUTH: return EXIT_AUTH;
    case ETL_ERR_CONFLICT: return EXIT_STATE;
    case ETL_ERR_NOMEM:
    case ETL_ERR_PERMANENT: return EXIT_FAILURE_RUNTIME;
    }
    return EXIT_FAILURE_RUNTIME;
}

static void report_failure(const stage_instance *s, etl_status st)
{
    if (st == ETL_ERR_RETRY)
        log_msg(ETL_LOG_ERROR, s->ctx->label, "giving up after retries: %s",
                ctx_error_message(s->ctx));
    else
        log_msg(ETL_LOG_ERROR, s->ctx->label, "%s", ctx_error_message(s->ctx));
}

/* Waits before the next attempt of a retryable call; false when the retry
 * budget is spent or the run was interrupted. Every retry is logged. */
static bool backoff_before_retry(runner *r, stage_instance *s, const char *what, int attempt)
{
    const pipeline *p = r->p;
    if (attempt >= p->retry_max_attempts || run_interrupted)
        return false;
    int64_t delay = backoff_delay_ms(attempt, p->retry_base_ms, p->retry_max_ms, 0);
    log_msg(ETL_LOG_WARN, s->ctx->label, "%s failed, retry %d of %lld in %lld ms: %s", what,
            attempt, (long long)p->retry_max_attempts - 1, (long long)delay,
            ctx_error_message(s->ctx));
    run_metric_add(&r->run, "retries", 1);
    sleep_us_interruptible(delay * 1000, &run_interrupted);
    ctx_clear_error(s->ctx);
    return !run_interrupted;
}

static etl_status open_stage(runner *r, stage_instance *s, const stage *plan)
{
    s->plan = plan;
    s->ctx = ctx_new(plan->label, &r->run);
    if (s->ctx == NULL)
        return ETL_ERR_NOMEM;
    const void *vt = plan->connector->vtable;
    for (int attempt = 1;; attempt++) {
        etl_status st;
        switch (plan->connector->kind) {
        case ETL_KIND_SOURCE:
            st = ((const etl_source_vtable *)vt)->open(s->ctx, plan->options, &s->state);
            break;
        case ETL_KIND_TRANSFORM:
            st = ((const etl_transform_vtable *)vt)->open(s->ctx, plan->options, &s->state);
            break;
        case ETL_KIND_SINK:
            st = ((const etl_sink_vtable *)vt)->open(s->ctx, plan->options, &s->state);
            break;
        case ETL_KIND_STATE_STORE:
            st = ((const etl_state_store_vtable *)vt)->open(s->ctx, plan->options, &s->state);
            break;
        default:
            st = ctx_set_error(s->ctx, ETL_ERR_PERMANENT, 0, "cannot open a format as a stage");
        }
        if (st == ETL_OK) {
            s->open = true;
            return ETL_OK;
        }
        if (st != ETL_ERR_RETRY || !backoff_before_retry(r, s, "open", attempt)) {
            report_failure(s, st);
            return st;
        }
    }
}

static void close_stage(stage_instance *s, bool discard)
{
    if (s->open) {
        const void *vt = s->plan->connector->vtable;
        switch (s->plan->connector->kind) {
        case ETL_KIND_SOURCE: ((const etl_source_vtable *)vt)->close(s->state); break;
        case ETL_KIND_TRANSFORM: ((const etl_transform_vtable *)vt)->close(s->state); break;
        case ETL_KIND_SINK: {
            const etl_sink_vtable *sink = vt;
            if (discard && sink->abort)
                sink->abort(s->state);
            sink->close(s->state);
            break;
        }
        case ETL_KIND_STATE_STORE: ((const etl_state_store_vtable *)vt)->close(s->state); break;
        default: break;
        }
        s->open = false;
    }
    ctx_free(s->ctx);
    s->ctx = NULL;
}

/* Sleeps, waking early when the run is interrupted or the reader is told
 * to stop (a budget stop must not wait for a throttle). */
static void reader_sleep(runner *r, int64_t us)
{
    const int64_t slice = 20000;
    while (us > 0 && !run_interrupted && !(r->prefetch && r->prefetch->stop)) {
        int64_t step = us < slice ? us : slice;
        sleep_us_interruptible(step, &run_interrupted);
        us -= step;
    }
}

static void throttle_records(runner *r, int64_t n)
{
    reader_sleep(r, bucket_take(&r->run.record_bucket, (double)n, monotonic_us()));
}

/* One read() from the source, retried with backoff. The host counts each
 * read as one request against the throttle. */
static etl_status read_batch(runner *r, int64_t max_records, etl_batch **batch, bool *end)
{
    const etl_source_vtable *vt = r->p->source.connector->vtable;
    for (int attempt = 1;; attempt++) {
        /* A source that paces its own requests (http_send, request_acquire)
         * is throttled there; others count one read as one request. */
        if (!r->run.source_counts_requests)
            reader_sleep(r, bucket_take(&r->run.request_bucket, 1, monotonic_us()));
        etl_status st = vt->read(r->source.state, r->builder, max_records, r->p->batch_bytes);
        if (st == ETL_OK || st == ETL_END) {
            *end = st == ETL_END;
            return builder_finish(r->builder, batch);
        }
        /* A failed read may leave a partial record behind: drop it so the
         * retry starts from a clean row. */
        builder_cancel_record(r->builder);
        if (st != ETL_ERR_RETRY || !backoff_before_retry(r, &r->source, "read", attempt)) {
            report_failure(&r->source, st);
            return st;
        }
    }
}

static etl_status apply_transforms(runner *r, etl_batch **batch)
{
    for (size_t i = 0; i < r->p->transform_count; i++) {
        stage_instance *s = &r->transforms[i];
        const etl_transform_vtable *vt = s->plan->connector->vtable;
        etl_batch *out = NULL;
        etl_status st = vt->process(s->state, *batch, &out);
        *batch = out;
        if (st != ETL_OK) {
            if (out)
                batch_release(out);
            *batch = NULL;
            report_failure(s, st);
            return st;
        }
        if (out == NULL) {
            ctx_set_error(s->ctx, ETL_ERR_PERMANENT, 0, "process() returned no batch");
            report_failure(s, ETL_ERR_PERMANENT);
            return ETL_ERR_PERMANENT;
        }
    }
    return ETL_OK;
}

static etl_status reject_rows(runner *r, const etl_batch *batch, const uint8_t *bad,
                              const char *reason)
{
    etl_buf row = {0};
    etl_status st = ETL_OK;
    for (int64_t i = 0; i < batch->num_rows && st == ETL_OK; i++) {
        if (!bad[i])
            continue;
        buf_reset(&row);
        json_encode_row(batch, i, &row);
        st = rejects_write(&r->run.rejects, r->sink.ctx, row.data, row.len,
                           r->sink.ctx->label, reason);
    }
    buf_free(&row);
    return st;
}

/* Writes a batch; records the sink answers ETL_ERR_RETRY for are sent again
 * (alone) with backoff; ETL_ERR_DATA records go to the rejects file. */
static etl_status write_batch(runner *r, etl_batch *batch)
{
    const etl_sink_vtable *vt = r->p->sink.connector->vtable;
    etl_batch *pending = batch;
    etl_status result = ETL_OK;
    for (int attempt = 1;; attempt++) {
        size_t n = (size_t)pending->num_rows;
        if (n > r->outcomes_cap) {
            free(r->outcomes);
            r->outcomes = malloc(n);
            r->outcomes_cap = n;
        }
        memset(r->outcomes, ETL_OK, n);
        etl_status st = vt->write(r->sink.state, pending, r->outcomes);
        if (st == ETL_ERR_RETRY) {
            if (backoff_before_retry(r, &r->sink, "write", attempt))
                continue;
        }
        if (st != ETL_OK) {
            report_failure(&r->sink, st);
            result = st;
            break;
        }
        uint8_t *retry = calloc(n ? n : 1, 1);
        uint8_t *reject = calloc(n ? n : 1, 1);
        size_t retry_count = 0, reject_count = 0;
        for (size_t i = 0; i < n; i++) {
            if (r->outcomes[i] == ETL_ERR_RETRY) {
                retry[i] = 1;
                retry_count++;
            } else if (r->outcomes[i] != ETL_OK) {
                reject[i] = 1;
                reject_count++;
            }
        }
        r->run.records_written += (int64_t)(n - retry_count - reject_count);
        if (reject_count)
            result = reject_rows(r, pending, reject, ctx_error_message(r->sink.ctx));
        etl_batch *again = NULL;
        if (result == ETL_OK && retry_count) {
            if (!backoff_before_retry(r, &r->sink, "write of some records", attempt)) {
                ctx_set_error(r->sink.ctx, ETL_ERR_RETRY, 0,
                              "%zu records still refused after %lld attempts", retry_count,
                              (long long)r->p->retry_max_attempts);
                report_failure(&r->sink, ETL_ERR_RETRY);
                result = ETL_ERR_RETRY;
            } else {
                result = batch_filter(r->sink.ctx, pending, retry, &again);
            }
        }
        free(retry);
        free(reject);
        if (pending != batch)
            batch_release(pending);
        pending = NULL;
        if (result != ETL_OK || again == NULL)
            break;
        pending = again;
    }
    if (pending && pending != batch)
        batch_release(pending);
    return result;
}

static etl_status commit_sink(runner *r, uint64_t sequence)
{
    const etl_sink_vtable *vt = r->p->sink.connector->vtable;
    etl_commit_info info = {
        .struct_size = sizeof info,
        .pipeline = r->p->name,
        .partition = "0",
        .sequence = sequence,
    };
    for (int attempt = 1;; attempt++) {
        etl_status st = vt->commit(r->sink.state, &info);
        if (st == ETL_OK)
            return ETL_OK;
        if (st != ETL_ERR_RETRY || !backoff_before_retry(r, &r->sink, "commit", attempt)) {
            report_failure(&r->sink, st);
            return st;
        }
    }
}

/* ETL_FAULT=phase[:sequence] makes the host kill itself (SIGKILL, no
 * cleanup) at that point of a checkpoint: the crash-consistency tests use
 * it to hit every boundary of the commit protocol exactly. Phases:
 * before_sink_commit, after_sink_commit, after_state_write. */
static void fault_point(const char *phase, uint64_t sequence)
{
    const char *spec = getenv("ETL_FAULT");
    if (spec == NULL)
        return;
    size_t n = strlen(phase);
    if (strncmp(spec, phase, n) != 0 || (spec[n] != '\0' && spec[n] != ':'))
        return;
    if (spec[n] == ':' && strtoull(spec + n + 1, NULL, 10) != sequence)
        return;
    kill(getpid(), SIGKILL);
}

static etl_status store_put_state(runner *r)
{
    const etl_state_store_vtable *vt = r->p->state_store.connector->vtable;
    etl_buf text = {0}, version = {0};
    etl_status st = state_serialize(&r->state, &text);
    if (st == ETL_OK)
        st = vt->put(r->store.state, r->p->state_key, text.data, text.len,
                     r->state_version.len ? buf_cstr(&r->state_version) : NULL, &version);
    if (st == ETL_OK) {
        buf_reset(&r->state_version);
        buf_append(&r->state_version, version.data, version.len);
    } else if (st == ETL_ERR_CONFLICT) {
        log_msg(ETL_LOG_ERROR, r->store.ctx->label,
                "the state of '%s' was changed by another writer: %s; this run stops without "
                "overwriting it",
                r->p->state_key, ctx_error_message(r->store.ctx));
    } else {
        report_failure(&r->store, st);
    }
    buf_free(&text);
    buf_free(&version);
    return st;
}

/* The commit protocol (DESIGN.md section 5): the sink finalizes what it
 * wrote under names derived from the next sequence, then the state moves
 * to that sequence with the source's cursor. A crash between the two
 * re-runs the same records into the same names: an overwrite, never a
 * duplicate. */
static etl_status take_checkpoint(runner *r, bool done)
{
    int64_t started = monotonic_us();
    uint64_t sequence = r->state.current.commit_sequence + 1;
    fault_point("before_sink_commit", sequence);
    etl_status st = commit_sink(r, sequence);
    if (st != ETL_OK)
        return st;
    fault_point("after_sink_commit", sequence);
    /* No batch since the resume: the cursor and schema it resumed from. */
    const char *cursor = r->last_cursor ? r->last_cursor : r->state.current.cursor;
    const char *schema = r->last_schema ? r->last_schema : r->state.current.schema;
    char *cursor_copy = cursor ? xstrdup(cursor) : NULL;
    char *schema_copy = schema ? xstrdup(schema) : NULL;
    state_push_history(&r->state);
    state_point_free(&r->state.current);
    state_point *p = &r->state.current;
    p->commit_sequence = sequence;
    p->cursor = cursor_copy;
    p->schema = schema_copy;
    p->records_read = r->run.records_read;
    p->records_written = r->run.records_written;
    p->records_rejected = r->run.rejects.count;
    char now[32];
    utc_now_iso(now, sizeof now);
    p->committed_at = xstrdup(now);
    r->state.done = done;
    free(r->state.run_id);
    r->state.run_id = xstrdup(r->run_id);
    if (rejects_sync(&r->run.rejects) != ETL_OK) {
        log_msg(ETL_LOG_ERROR, "etl", "%s", ctx_error_message(NULL));
        return ETL_ERR_IO;
    }
    st = store_put_state(r);
    if (st != ETL_OK)
        return st;
    fault_point("after_state_write", sequence);
    r->commit_sequence = sequence;
    r->run.next_commit_sequence = sequence + 1;
    r->records_since_commit = 0;
    r->bytes_since_commit = 0;
    r->last_commit_us = monotonic_us();
    pthread_mutex_lock(&r->run.lock);
    budget_record_commit(&r->run.budget, r->last_commit_us - started);
    pthread_mutex_unlock(&r->run.lock);
    log_msg(ETL_LOG_DEBUG, "etl", "checkpoint %llu: %lld records read",
            (unsigned long long)sequence, (long long)r->run.records_read);
    return ETL_OK;
}

static bool checkpoint_due(const runner *r)
{
    const pipeline *p = r->p;
    if (p->checkpoint_every_records > 0 && r->records_since_commit > 0 &&
        r->run.records_read % p->checkpoint_every_records == 0)
        return true;
    if (p->checkpoint_every_bytes > 0 && r->bytes_since_commit >= p->checkpoint_every_bytes)
        return true;
    return p->checkpoint_every_ms > 0 && r->records_since_commit > 0 &&
           monotonic_us() - r->last_commit_us >= p->checkpoint_every_ms * 1000;
}

/* Records cadence cuts reads at multiples of N records from the start of
 * the pipeline, so a resumed run commits exactly where a clean run would. */
static int64_t next_read_size(const runner *r, int64_t records_read)
{
    int64_t max = r->p->batch_records;
    int64_t every = r->p->checkpoint_every_records;
    if (r->p->checkpointing && every > 0) {
        int64_t to_boundary = every - records_read % every;
        if (to_boundary < max)
            max = to_boundary;
    }
    return max;
}

static void new_run_id(char *out, size_t len)
{
    unsigned char bytes[8] = {0};
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, bytes, sizeof bytes) != (ssize_t)sizeof bytes) {
        uint64_t fallback = (uint64_t)monotonic_us() ^ ((uint64_t)getpid() << 32);
        memcpy(bytes, &fallback, sizeof bytes);
    }
    if (fd >= 0)
        close(fd);
    snprintf(out, len, "run-%02x%02x%02x%02x%02x%02x%02x%02x", bytes[0], bytes[1], bytes[2],
             bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]);
}

/* Takes the lease and reads the state. Returns an exit status; sets
 * r->resumed when there is a state to continue from, r->done when the
 * pipeline already finished. */
static int load_state(runner *r)
{
    const pipeline *p = r->p;
    if (open_stage(r, &r->store, &p->state_store) != ETL_OK)
        return exit_status_for(ctx_error_status(r->store.ctx));
    const etl_state_store_vtable *vt = p->state_store.connector->vtable;
    etl_status st = vt->lease_acquire(r->store.state, p->state_key, r->run_id, 15 * 60 * 1000);
    if (st != ETL_OK) {
        report_failure(&r->store, st);
        return st == ETL_ERR_CONFLICT ? EXIT_STATE : exit_status_for(st);
    }
    etl_buf text = {0};
    st = vt->get(r->store.state, p->state_key, &text, &r->state_version);
    int status = EXIT_OK;
    if (st == ETL_END) {
        r->state.pipeline = xstrdup(p->name);
        r->state.partition = xstrdup("0");
        r->state.source_type = xstrdup(p->source.connector->name);
        r->state.sink_type = xstrdup(p->sink.connector->name);
    } else if (st != ETL_OK) {
        report_failure(&r->store, st);
        status = exit_status_for(st);
    } else {
        char where[400];
        snprintf(where, sizeof where, "state '%s' (%s)", p->state_key, r->store.ctx->label);
        st = state_parse(text.data, text.len, where, &r->state, r->store.ctx);
        if (st != ETL_OK) {
            report_failure(&r->store, st);
            status = EXIT_STATE;
        } else if (strcmp(r->state.pipeline, p->name) != 0 ||
                   strcmp(r->state.source_type, p->source.connector->name) != 0 ||
                   strcmp(r->state.sink_type, p->sink.connector->name) != 0) {
            log_msg(ETL_LOG_ERROR, r->store.ctx->label,
                    "%s belongs to another pipeline (pipeline '%s', source %s, sink %s; this is "
                    "'%s', source %s, sink %s): refusing to use it. Give this pipeline its own "
                    "name or state path, or run 'etl state reset'.",
                    where, r->state.pipeline, r->state.source_type, r->state.sink_type, p->name,
                    p->source.connector->name, p->sink.connector->name);
            status = EXIT_STATE;
        } else {
            r->resumed = r->state.current.commit_sequence > 0;
            r->done = r->state.done;
        }
    }
    buf_free(&text);
    return status;
}

/* Puts the source, the builder and the counters where the state says. */
static etl_status resume_from_state(runner *r)
{
    const state_point *p = &r->state.current;
    const etl_source_vtable *vt = r->p->source.connector->vtable;
    if (p->schema) {
        etl_status st = builder_schema_restore(r->builder, p->schema, strlen(p->schema));
        if (st != ETL_OK) {
            report_failure(&r->source, st);
            return st;
        }
    }
    if (p->cursor) {
        etl_status st = vt->restore(r->source.state, p->cursor, strlen(p->cursor));
        if (st != ETL_OK) {
            report_failure(&r->source, st);
            return st;
        }
    }
    r->commit_sequence = p->commit_sequence;
    r->run.records_read = p->records_read;
    r->run.records_written = p->records_written;
    r->run.rejects.count = p->records_rejected;
    log_msg(ETL_LOG_INFO, "etl", "resuming '%s' after checkpoint %llu (%lld records read so far)",
            r->p->name, (unsigned long long)p->commit_sequence, (long long)p->records_read);
    return ETL_OK;
}

static void print_summary(runner *r, int status)
{
    int64_t slice_records = r->run.records_read - r->slice_start_records;
    progress_update(&r->run.progress, slice_records, r->run.bytes_read, true);
    progress_clear();
    double elapsed = progress_elapsed_s(&r->run.progress);
    char size[32];
    format_bytes(size, sizeof size, (double)r->run.bytes_read);
    const char *outcome = status == EXIT_OK ? "done" : "failed";
    if (status == EXIT_INTERRUPTED)
        outcome = "interrupted";
    if (status == EXIT_SUSPENDED)
        outcome = "suspended by the time budget";
    log_msg(status == EXIT_OK || status == EXIT_SUSPENDED ? ETL_LOG_INFO : ETL_LOG_ERROR, "etl",
            "%s %s: %lld records read, %lld written, %lld rejected, %s in %.2f s (%.0f records/s)"
            "%s",
            r->p->name, outcome, (long long)r->run.records_read,
            (long long)r->run.records_written, (long long)r->rejected, size, elapsed,
            elapsed > 0 ? (double)slice_records / elapsed : 0.0,
            run_metric_value(&r->run, "retries") ? ", with retries" : "");
}

/* Reads one batch, throttles, and notes where the source now stands. Runs
 * on the reader thread when prefetching, else inline. */
static void fetch_one(runner *r, int64_t *records, fetched *f)
{
    memset(f, 0, sizeof *f);
    f->status = read_batch(r, next_read_size(r, *records), &f->batch, &f->end);
    if (f->status != ETL_OK)
        return;
    *records += f->batch->num_rows;
    if (f->batch->num_rows > 0)
        throttle_records(r, f->batch->num_rows);
    if (!r->p->checkpointing)
        return;
    const etl_source_vtable *svt = r->p->source.connector->vtable;
    etl_buf cursor = {0}, schema = {0};
    f->status = svt->checkpoint(r->source.state, &cursor);
    if (f->status != ETL_OK) {
        report_failure(&r->source, f->status);
        buf_free(&cursor);
        return;
    }
    builder_schema_json(r->builder, &schema);
    f->cursor = xstrdup(buf_cstr(&cursor));
    f->schema = xstrdup(buf_cstr(&schema));
    buf_free(&cursor);
    buf_free(&schema);
}

static void fetched_free(fetched *f)
{
    if (f->batch)
        batch_release(f->batch);
    free(f->cursor);
    free(f->schema);
    memset(f, 0, sizeof *f);
}

static void *reader_main(void *arg)
{
    runner *r = arg;
    prefetcher *q = r->prefetch;
    for (;;) {
        pthread_mutex_lock(&q->lock);
        while (q->count == q->capacity && !q->stop)
            pthread_cond_wait(&q->changed, &q->lock);
        bool stop = q->stop;
        pthread_mutex_unlock(&q->lock);
        if (stop || run_interrupted)
            break;
        fetched f;
        fetch_one(r, &q->records, &f);
        bool last = f.status != ETL_OK || f.end;
        pthread_mutex_lock(&q->lock);
        q->items[(q->head + q->count) % q->capacity] = f;
        q->count++;
        pthread_cond_broadcast(&q->changed);
        pthread_mutex_unlock(&q->lock);
        if (last)
            break;
    }
    return NULL;
}

static etl_status prefetch_start(runner *r)
{
    prefetcher *q = calloc(1, sizeof *q);
    if (q == NULL)
        return ETL_ERR_NOMEM;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->changed, NULL);
    q->capacity = (int)(r->p->batch_prefetch < PREFETCH_MAX ? r->p->batch_prefetch : PREFETCH_MAX);
    q->records = r->run.records_read;
    r->prefetch = q;
    if (pthread_create(&q->thread, NULL, reader_main, r) != 0) {
        log_msg(ETL_LOG_WARN, "etl", "cannot start the reader thread; reading inline");
        r->prefetch = NULL;
        pthread_cond_destroy(&q->changed);
        pthread_mutex_destroy(&q->lock);
        free(q);
        return ETL_OK;
    }
    q->started = true;
    return ETL_OK;
}

/* Stops the reader, waits for it, and drops what it read ahead: those
 * records are read again by the next run, from the last checkpoint. */
static void prefetch_stop(runner *r)
{
    prefetcher *q = r->prefetch;
    if (q == NULL)
        return;
    pthread_mutex_lock(&q->lock);
    q->stop = 1;
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->lock);
    if (q->started)
        pthread_join(q->thread, NULL);
    while (q->count > 0) {
        fetched_free(&q->items[q->head]);
        q->head = (q->head + 1) % q->capacity;
        q->count--;
    }
    pthread_cond_destroy(&q->changed);
    pthread_mutex_destroy(&q->lock);
    free(q);
    r->prefetch = NULL;
}

static void next_fetched(runner *r, fetched *f)
{
    prefetcher *q = r->prefetch;
    if (q == NULL) {
        int64_t records = r->run.records_read;
        fetch_one(r, &records, f);
        return;
    }
    pthread_mutex_lock(&q->lock);
    while (q->count == 0)
        pthread_cond_wait(&q->changed, &q->lock);
    *f = q->items[q->head];
    q->head = (q->head + 1) % q->capacity;
    q->count--;
    pthread_cond_broadcast(&q->changed);
    pthread_mutex_unlock(&q->lock);
}

static int run_loop(runner *r)
{
    etl_status st = ETL_OK;
    bool end = false;
    const pipeline *p = r->p;
    if (p->batch_prefetch > 0 && prefetch_start(r) != ETL_OK)
        return EXIT_FAILURE_RUNTIME;
    int status = EXIT_OK;
    while (!end) {
        if (run_interrupted) {
            status = EXIT_INTERRUPTED;
            break;
        }
        int64_t now = monotonic_us();
        int64_t wait = r->prefetch || r->run.source_counts_requests
                           ? 0
                           : bucket_peek(&r->run.request_bucket, 1, now);
        if (p->checkpointing && budget_should_stop(&r->run.budget, now, wait)) {
            r->suspended = true;
            break;
        }
        fetched f;
        next_fetched(r, &f);
        if (f.status != ETL_OK) {
            status = run_interrupted ? EXIT_INTERRUPTED : exit_status_for(f.status);
            fetched_free(&f);
            break;
        }
        end = f.end;
        etl_batch *batch = f.batch;
        f.batch = NULL;
        int64_t rows = batch->num_rows;
        r->run.records_read += rows;
        r->run.bytes_read += batch->approx_bytes;
        r->records_since_commit += rows;
        r->bytes_since_commit += batch->approx_bytes;
        if (rows > 0) {
            st = apply_transforms(r, &batch);
            if (st == ETL_OK && batch->num_rows > 0)
                st = write_batch(r, batch);
        }
        if (batch)
            batch_release(batch);
        if (f.cursor) {
            free(r->last_cursor);
            free(r->last_schema);
            r->last_cursor = f.cursor;
            r->last_schema = f.schema;
            f.cursor = f.schema = NULL;
        }
        fetched_free(&f);
        if (st != ETL_OK) {
            status = exit_status_for(st);
            break;
        }
        pthread_mutex_lock(&r->run.lock);
        budget_record_batch(&r->run.budget, monotonic_us() - now);
        pthread_mutex_unlock(&r->run.lock);
        progress_update(&r->run.progress, r->run.records_read - r->slice_start_records,
                        r->run.bytes_read, false);
        if (p->checkpointing && !end && checkpoint_due(r)) {
            st = take_checkpoint(r, false);
            if (st != ETL_OK) {
                status = exit_status_for(st);
                break;
            }
        }
    }
    prefetch_stop(r);
    if (status != EXIT_OK)
        return status;
    if (p->checkpointing) {
        st = take_checkpoint(r, end);
        if (st != ETL_OK)
            return exit_status_for(st);
        r->done = end;
        return end ? EXIT_OK : EXIT_SUSPENDED;
    }
    st = commit_sink(r, ++r->commit_sequence);
    r->done = st == ETL_OK;
    return exit_status_for(st);
}

static void runner_init(runner *r, const pipeline *p, const run_options *options)
{
    memset(r, 0, sizeof *r);
    r->p = p;
    r->run.pipeline = p;
    r->run.interrupted = &run_interrupted;
    pthread_mutex_init(&r->run.lock, NULL);
    pthread_mutex_init(&r->run.throttle_lock, NULL);
    bucket_init(&r->run.request_bucket, p->requests_per_second, p->requests_per_second);
    aimd_init(&r->run.aimd, p->requests_per_second, monotonic_us());
    bucket_init(&r->run.record_bucket, p->records_per_second, p->records_per_second);
    rejects_init(&r->run.rejects, p->rejects_path, p->checkpointing);
    progress_start(&r->run.progress, options->progress_on_terminal && !options->quiet);
    r->transforms = calloc(p->transform_count ? p->transform_count : 1, sizeof(stage_instance));
}

static void runner_free(runner *r, bool discard)
{
    close_stage(&r->source, discard);
    for (size_t i = 0; i < r->p->transform_count; i++)
        close_stage(&r->transforms[i], discard);
    close_stage(&r->sink, discard);
    if (r->store.open) {
        const etl_state_store_vtable *vt = r->p->state_store.connector->vtable;
        vt->lease_release(r->store.state, r->p->state_key, r->run_id);
    }
    close_stage(&r->store, false);
    state_free(&r->state);
    buf_free(&r->state_version);
    builder_free(r->builder);
    free(r->transforms);
    free(r->outcomes);
    for (size_t i = 0; i < r->run.metric_count; i++)
        free((char *)r->run.metrics[i].name);
    free(r->last_cursor);
    free(r->last_schema);
    pthread_mutex_destroy(&r->run.lock);
    pthread_mutex_destroy(&r->run.throttle_lock);
}

static void init_budget(runner *r, const run_options *options)
{
    int64_t now = monotonic_us();
    int64_t started = options->started_us ? options->started_us : now;
    int64_t budget_ms = options->budget_ms > 0 ? options->budget_ms : r->p->budget_ms;
    if (options->deadline_unix_ms > 0) {
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME, &wall);
        int64_t wall_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
        budget_init_deadline(&r->run.budget, now + (options->deadline_unix_ms - wall_ms) * 1000);
    } else if (budget_ms > 0) {
        budget_init(&r->run.budget, started, budget_ms * 1000);
    }
}

static void fill_result(const runner *r, run_result *result)
{
    if (result == NULL)
        return;
    memset(result, 0, sizeof *result);
    result->done = r->done;
    result->suspended = r->suspended;
    result->commit_sequence = r->commit_sequence;
    result->records_read = r->run.records_read;
    result->records_written = r->run.records_written;
    result->records_rejected = r->rejected;
    result->slice_records = r->run.records_read - r->slice_start_records;
    result->time_left_ms =
        budget_active(&r->run.budget) ? (r->run.budget.deadline_us - monotonic_us()) / 1000 : -1;
}

int run_pipeline(const pipeline *p, const run_options *options, run_result *result)
{
    runner r;
    runner_init(&r, p, options);
    new_run_id(r.run_id, sizeof r.run_id);
    init_budget(&r, options);
    log_set_before_print(progress_clear);
    int status = p->checkpointing ? load_state(&r) : EXIT_OK;
    if (status == EXIT_OK && r.done) {
        /* An incremental source continues a finished pipeline from its
         * cursor: the new pass reads what arrived since. */
        const etl_source_vtable *svt = p->source.connector->vtable;
        if (svt->incremental) {
            etl_status opened = open_stage(&r, &r.source, &p->source);
            if (opened != ETL_OK) {
                status = exit_status_for(opened);
            } else if (svt->incremental(r.source.state)) {
                r.done = false;
                r.state.done = false;
                r.resumed = true;
                log_msg(ETL_LOG_INFO, "etl", "'%s' finished before; reading what is new since",
                        p->name);
            }
        }
    }
    if (status == EXIT_OK && r.done) {
        log_msg(ETL_LOG_INFO, "etl",
                "'%s' already finished (checkpoint %llu, %lld records); nothing to do. Run "
                "'etl state reset' to run it again from the start.",
                p->name, (unsigned long long)r.state.current.commit_sequence,
                (long long)r.state.current.records_read);
        r.commit_sequence = r.state.current.commit_sequence;
        r.run.records_read = r.slice_start_records = r.state.current.records_read;
        r.run.records_written = r.state.current.records_written;
        fill_result(&r, result);
        rejects_close(&r.run.rejects, false);
        log_set_before_print(NULL);
        runner_free(&r, false);
        return EXIT_OK;
    }
    etl_status st = status != EXIT_OK ? ETL_ERR_PERMANENT
                    : r.source.open ? ETL_OK
                                    : open_stage(&r, &r.source, &p->source);
    for (size_t i = 0; st == ETL_OK && i < p->transform_count; i++)
        st = open_stage(&r, &r.transforms[i], &p->transforms[i]);
    if (st == ETL_OK)
        st = open_stage(&r, &r.sink, &p->sink);
    if (st == ETL_OK) {
        r.builder = builder_new(r.source.ctx);
        if (r.builder == NULL)
            st = ETL_ERR_NOMEM;
        else if (r.resumed)
            st = resume_from_state(&r);
        r.slice_start_records = r.run.records_read;
        r.run.next_commit_sequence = r.commit_sequence + 1;
        r.last_commit_us = monotonic_us();
        status = st == ETL_OK ? run_loop(&r) : exit_status_for(st);
    } else if (status == EXIT_OK) {
        status = exit_status_for(st);
    }
    if (run_interrupted && status != EXIT_OK)
        status = EXIT_INTERRUPTED;
    /* Rejects become visible only with the output they belong to. */
    r.rejected = r.run.rejects.count;
    bool keep_rejects = status == EXIT_OK || status == EXIT_SUSPENDED;
    if (rejects_close(&r.run.rejects, keep_rejects) != ETL_OK && keep_rejects) {
        log_msg(ETL_LOG_ERROR, "etl", "%s", ctx_error_message(NULL));
        status = EXIT_IO;
    }
    fill_result(&r, result);
    print_summary(&r, status);
    log_set_before_print(NULL);
    runner_free(&r, status != EXIT_OK && status != EXIT_SUSPENDED);
    return status;
}

void run_result_token(const pipeline *p, const run_result *r, etl_buf *out)
{
    buf_printf(out,
               "{\"pipeline\":\"%s\",\"state_key\":\"%s\",\"done\":%s,\"commit_sequence\":%llu,"
               "\"records_read\":%lld,\"records_written\":%lld,\"records_rejected\":%lld,"
               "\"slice_records\":%lld}",
               p->name, p->state_key, r->done ? "true" : "false",
               (unsigned long long)r->commit_sequence, (long long)r->records_read,
               (long long)r->records_written, (long long)r->records_rejected,
               (long long)r->slice_records);
}
