/* A test plugin whose failures are scripted: a source that answers
 * ETL_ERR_RETRY on chosen reads, and a sink that answers per record (retry
 * once, or reject) so the runner's retry and outcome handling can be tested
 * end to end. Never installed. */
#include <etl/plugin.h>
#include <stdio.h>

static const etl_host_api *host;

/* ---------------------------------------------------------------- source */

typedef struct flaky_source {
    etl_ctx *ctx;
    int64_t count, next, fail_every, fail_times, reads, failures_in_a_row;
    bool fail_forever;
} flaky_source;

static etl_status source_open(etl_ctx *ctx, const etl_options *o, void **state)
{
    flaky_source *s = host->alloc(sizeof *s);
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    host->opt_int(o, "count", &s->count);
    host->opt_int(o, "fail_every", &s->fail_every);
    host->opt_int(o, "fail_times", &s->fail_times);
    host->opt_bool(o, "fail_forever", &s->fail_forever);
    *state = s;
    return ETL_OK;
}

static etl_status source_read(void *state, etl_builder *b, int64_t max, int64_t max_bytes)
{
    flaky_source *s = state;
    s->reads++;
    /* Every fail_every-th read fails fail_times times in a row, having
     * appended half a record first, which the host must discard. */
    if (s->fail_forever ||
        (s->fail_every > 0 && s->reads % s->fail_every == 0 && s->failures_in_a_row < s->fail_times)) {
        s->failures_in_a_row++;
        s->reads--;
        int32_t col = host->builder_field(b, ETL_ROOT, "n", 1);
        host->builder_begin_record(b);
        host->append_int64(b, col, -1);
        return host->set_error(s->ctx, ETL_ERR_RETRY, 503, "scripted 503 on read %lld",
                               (long long)s->reads + 1);
    }
    s->failures_in_a_row = 0;
    int32_t col = host->builder_field(b, ETL_ROOT, "n", 1);
    for (int64_t i = 0; i < max && s->next < s->count; i++, s->next++) {
        host->builder_begin_record(b);
        host->append_int64(b, col, s->next);
        host->builder_end_record(b);
    }
    return s->next >= s->count ? ETL_END : ETL_OK;
}

static void source_close(void *state) { host->free(state); }

/* ---------------------------------------------------------------- sink */

typedef struct flaky_sink {
    etl_ctx *ctx;
    const char *path;
    int64_t retry_every, reject_every;
    etl_buf pending;
    uint8_t *retried;            /* per value of n: already refused once */
    int64_t retried_cap;
} flaky_sink;

static etl_status sink_open(etl_ctx *ctx, const etl_options *o, void **state)
{
    flaky_sink *s = host->alloc(sizeof *s);
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    s->path = host->opt_string(o, "path");
    host->opt_int(o, "retry_every", &s->retry_every);
    host->opt_int(o, "reject_every", &s->reject_every);
    *state = s;
    return ETL_OK;
}

static etl_status sink_write(void *state, const etl_batch *batch, etl_outcome *outcomes)
{
    flaky_sink *s = state;
    int32_t col = host->batch_column_index(batch, "n");
    if (col < 0)
        return host->set_error(s->ctx, ETL_ERR_PERMANENT, 0, "no column n");
    const struct ArrowArray *values = batch->array->children[col];
    for (int64_t row = 0; row < batch->num_rows; row++) {
        int64_t n = etl_arrow_int64(values, row);
        if (n >= s->retried_cap) {
            int64_t cap = (n + 1) * 2;
            s->retried = host->realloc(s->retried, (size_t)cap);
            memset(s->retried + s->retried_cap, 0, (size_t)(cap - s->retried_cap));
            s->retried_cap = cap;
        }
        if (s->reject_every > 0 && n % s->reject_every == s->reject_every - 1) {
            outcomes[row] = ETL_ERR_DATA;
            host->set_error(s->ctx, ETL_ERR_DATA, 400, "scripted rejection of n=%lld", (long long)n);
            continue;
        }
        if (s->retry_every > 0 && n % s->retry_every == 0 && !s->retried[n]) {
            s->retried[n] = 1;
            outcomes[row] = ETL_ERR_RETRY;
            continue;
        }
        host->json_write_row(batch, row, &s->pending);
        host->buf_append(&s->pending, "\n", 1);
    }
    return ETL_OK;
}

static etl_status sink_commit(void *state, const etl_commit_info *info)
{
    flaky_sink *s = state;
    FILE *f = fopen(s->path, "w");
    if (f == NULL)
        return host->set_error(s->ctx, ETL_ERR_IO, 0, "cannot write %s", s->path);
    fwrite(s->pending.data, 1, s->pending.len, f);
    fclose(f);
    return ETL_OK;
}

static void sink_close(void *state)
{
    flaky_sink *s = state;
    host->buf_free(&s->pending);
    host->free(s->retried);
    host->free(s);
}

static const etl_option_spec source_options[] = {
    {"count", ETL_OPT_INT, "100", "records to produce", 0, NULL},
    {"fail_every", ETL_OPT_INT, "0", "every Nth read fails (0: never)", 0, NULL},
    {"fail_times", ETL_OPT_INT, "1", "consecutive failures of such a read", 0, NULL},
    {"fail_forever", ETL_OPT_BOOL, "false", "every read fails", 0, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};
static const etl_option_spec sink_options[] = {
    {"path", ETL_OPT_STRING, NULL, "output file (NDJSON)", ETL_OPT_REQUIRED, NULL},
    {"retry_every", ETL_OPT_INT, "0", "records with n % N == 0 are refused once as retryable", 0, NULL},
    {"reject_every", ETL_OPT_INT, "0", "records with n % N == N-1 are rejected", 0, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};
static const etl_source_vtable source_vt = {.struct_size = sizeof source_vt, .open = source_open,
                                            .read = source_read, .close = source_close};
static const etl_sink_vtable sink_vt = {.struct_size = sizeof sink_vt, .open = sink_open,
                                        .write = sink_write, .commit = sink_commit,
                                        .close = sink_close};
static const etl_connector source_conn = {
    .struct_size = sizeof source_conn, .kind = ETL_KIND_SOURCE, .name = "flaky",
    .summary = "test source with scripted retryable failures", .options = source_options,
    .option_spec_size = sizeof(etl_option_spec), .vtable = &source_vt};
static const etl_connector sink_conn = {
    .struct_size = sizeof sink_conn, .kind = ETL_KIND_SINK, .name = "flaky",
    .summary = "test sink with scripted per-record outcomes", .options = sink_options,
    .option_spec_size = sizeof(etl_option_spec), .vtable = &sink_vt};
static const etl_connector *const connectors[] = {&source_conn, &sink_conn, NULL};
static const etl_plugin_descriptor descriptor = {
    .struct_size = sizeof descriptor, .abi_major = ETL_ABI_MAJOR, .abi_minor = ETL_ABI_MINOR,
    .min_host_minor = 0, .name = "flaky", .version = "0", .summary = "scripted failures (tests)",
    .connectors = connectors};

ETL_PLUGIN_DEFINE(flaky, descriptor, host)
