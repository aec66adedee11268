#include "runner.h"

#include <stdlib.h>

#include "batch.h"
#include "buf.h"
#include "builder.h"
#include "context.h"
#include "exit_status.h"
#include "json_encode.h"
#include "log.h"
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
} runner;

void run_metric_add(struct run *run, const char *name, int64_t delta)
{
    for (size_t i = 0; i < run->metric_count; i++)
        if (strcmp(run->metrics[i].name, name) == 0) {
            run->metrics[i].value += delta;
            return;
        }
    if (run->metric_count == RUN_MAX_METRICS)
        return;
    run->metrics[run->metric_count].name = xstrdup(name);
    run->metrics[run->metric_count].value = delta;
    run->metric_count++;
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
    r->run.retries++;
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
        default: break;
        }
        s->open = false;
    }
    ctx_free(s->ctx);
    s->ctx = NULL;
}

static void throttle_records(runner *r, int64_t n)
{
    int64_t wait = bucket_take(&r->run.record_bucket, (double)n, monotonic_us());
    sleep_us_interruptible(wait, &run_interrupted);
}

/* One read() from the source, retried with backoff. The host counts each
 * read as one request against the throttle. */
static etl_status read_batch(runner *r, etl_batch **batch, bool *end)
{
    const etl_source_vtable *vt = r->p->source.connector->vtable;
    for (int attempt = 1;; attempt++) {
        int64_t wait = bucket_take(&r->run.request_bucket, 1, monotonic_us());
        sleep_us_interruptible(wait, &run_interrupted);
        etl_status st = vt->read(r->source.state, r->builder, r->p->batch_records,
                                 r->p->batch_bytes);
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

static etl_status commit_output(runner *r)
{
    const etl_sink_vtable *vt = r->p->sink.connector->vtable;
    etl_commit_info info = {
        .struct_size = sizeof info,
        .pipeline = r->p->name,
        .partition = "0",
        .sequence = ++r->commit_sequence,
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

static void print_summary(runner *r, int status)
{
    progress_update(&r->run.progress, r->run.records_read, r->run.bytes_read, true);
    progress_clear();
    double elapsed = progress_elapsed_s(&r->run.progress);
    char size[32];
    format_bytes(size, sizeof size, (double)r->run.bytes_read);
    const char *outcome = status == EXIT_OK ? "done" : "failed";
    if (status == EXIT_INTERRUPTED)
        outcome = "interrupted";
    log_msg(status == EXIT_OK ? ETL_LOG_INFO : ETL_LOG_ERROR, "etl",
            "%s %s: %lld records read, %lld written, %lld rejected, %s in %.2f s (%.0f records/s)"
            "%s",
            r->p->name, outcome, (long long)r->run.records_read,
            (long long)r->run.records_written, (long long)r->rejected, size, elapsed,
            elapsed > 0 ? (double)r->run.records_read / elapsed : 0.0,
            r->run.retries ? ", with retries" : "");
}

static int run_loop(runner *r)
{
    etl_status st = ETL_OK;
    bool end = false;
    while (!end) {
        if (run_interrupted)
            return EXIT_INTERRUPTED;
        etl_batch *batch = NULL;
        st = read_batch(r, &batch, &end);
        if (st != ETL_OK)
            return run_interrupted ? EXIT_INTERRUPTED : exit_status_for(st);
        int64_t rows = batch->num_rows;
        r->run.records_read += rows;
        r->run.bytes_read += batch->approx_bytes;
        if (rows > 0) {
            throttle_records(r, rows);
            st = apply_transforms(r, &batch);
            if (st == ETL_OK && batch->num_rows > 0)
                st = write_batch(r, batch);
        }
        if (batch)
            batch_release(batch);
        if (st != ETL_OK)
            return exit_status_for(st);
        progress_update(&r->run.progress, r->run.records_read, r->run.bytes_read, false);
    }
    st = commit_output(r);
    return exit_status_for(st);
}

static void runner_init(runner *r, const pipeline *p, const run_options *options)
{
    memset(r, 0, sizeof *r);
    r->p = p;
    r->run.pipeline = p;
    r->run.interrupted = &run_interrupted;
    bucket_init(&r->run.request_bucket, p->requests_per_second, p->requests_per_second);
    bucket_init(&r->run.record_bucket, p->records_per_second, p->records_per_second);
    rejects_init(&r->run.rejects, p->rejects_path);
    progress_start(&r->run.progress, options->progress_on_terminal && !options->quiet);
    r->transforms = calloc(p->transform_count ? p->transform_count : 1, sizeof(stage_instance));
}

static void runner_free(runner *r, bool discard)
{
    close_stage(&r->source, discard);
    for (size_t i = 0; i < r->p->transform_count; i++)
        close_stage(&r->transforms[i], discard);
    close_stage(&r->sink, discard);
    builder_free(r->builder);
    free(r->transforms);
    free(r->outcomes);
    for (size_t i = 0; i < r->run.metric_count; i++)
        free((char *)r->run.metrics[i].name);
}

int run_pipeline(const pipeline *p, const run_options *options)
{
    runner r;
    runner_init(&r, p, options);
    log_set_before_print(progress_clear);
    int status = EXIT_OK;
    etl_status st = open_stage(&r, &r.source, &p->source);
    for (size_t i = 0; st == ETL_OK && i < p->transform_count; i++)
        st = open_stage(&r, &r.transforms[i], &p->transforms[i]);
    if (st == ETL_OK)
        st = open_stage(&r, &r.sink, &p->sink);
    if (st == ETL_OK) {
        r.builder = builder_new(r.source.ctx);
        status = r.builder ? run_loop(&r) : EXIT_FAILURE_RUNTIME;
    } else {
        status = exit_status_for(st);
    }
    if (run_interrupted && status != EXIT_OK)
        status = EXIT_INTERRUPTED;
    /* Rejects become visible only with the output they belong to. */
    r.rejected = r.run.rejects.count;
    if (rejects_close(&r.run.rejects, status == EXIT_OK) != ETL_OK && status == EXIT_OK) {
        log_msg(ETL_LOG_ERROR, "etl", "%s", ctx_error_message(NULL));
        status = EXIT_IO;
    }
    print_summary(&r, status);
    log_set_before_print(NULL);
    runner_free(&r, status != EXIT_OK);
    return status;
}
