/* The table of host services every plugin receives. Each entry forwards to
 * the module that owns the service. */
#include "host_api.h"

#include <stdio.h>
#include <stdlib.h>

#include "batch.h"
#include "buf.h"
#include "builder.h"
#include "context.h"
#include "decompress.h"
#include "format.h"
#include "host_http.h"
#include "sigv4.h"
#include "json_decode.h"
#include "json_encode.h"
#include "json_span.h"
#include "log.h"
#include "options.h"
#include "runner.h"

static etl_status api_set_error(etl_ctx *ctx, etl_status status, int64_t vendor_code,
                                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx_set_errorv(ctx, status, vendor_code, fmt, ap);
    va_end(ap);
    return status;
}

static void api_log(etl_ctx *ctx, etl_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_msgv(level, ctx ? ctx->label : NULL, fmt, ap);
    va_end(ap);
}

static void *api_alloc(size_t size) { return malloc(size); }
static void *api_realloc(void *ptr, size_t size) { return realloc(ptr, size); }
static void api_free(void *ptr) { free(ptr); }

static etl_status api_buf_printf(etl_buf *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    etl_status st = buf_vprintf(buf, fmt, ap);
    va_end(ap);
    return st;
}

/* What a plugin may spend: the time to the deadline less what the host
 * needs afterwards to commit and exit. */
static int64_t api_remaining_ms(etl_ctx *ctx)
{
    if (ctx == NULL || ctx->run == NULL)
        return INT64_MAX;
    int64_t us = run_remaining_us(ctx->run);
    return us == INT64_MAX ? INT64_MAX : us / 1000;
}

static bool api_cancelled(etl_ctx *ctx)
{
    return run_interrupted || (ctx && ctx->run && run_remaining_us(ctx->run) == 0);
}

static etl_status api_request_acquire(etl_ctx *ctx)
{
    struct run *run = ctx ? ctx->run : NULL;
    if (run == NULL)
        return ETL_OK;
    int64_t max = run->pipeline->max_in_flight;
    if (max > 0 && run->in_flight >= max)
        return ctx_set_error(ctx, ETL_ERR_PERMANENT, 0,
                             "%s asked for a request slot with %lld in flight "
                             "(throttle.max_in_flight is %lld): it must call request_done first",
                             ctx->label, (long long)run->in_flight, (long long)max);
    sleep_us_interruptible(run_request_slot(run), run->interrupted);
    run->in_flight++;
    run_metric_add(run, "requests", 1);
    return ETL_OK;
}

static void api_request_done(etl_ctx *ctx, int64_t latency_us, etl_status outcome)
{
    struct run *run = ctx ? ctx->run : NULL;
    if (run == NULL)
        return;
    if (run->in_flight > 0)
        run->in_flight--;
    run_metric_add(run, "request_latency_us", latency_us);
    if (ETL_STATUS_IS_FAILURE(outcome))
        run_metric_add(run, "request_failures", 1);
    run_request_finished(run, ctx->label, latency_us, outcome == ETL_ERR_RETRY);
}

static void api_metric_add(etl_ctx *ctx, const char *name, int64_t delta)
{
    if (ctx && ctx->run)
        run_metric_add(ctx->run, name, delta);
}

static void api_progress_total(etl_ctx *ctx, int64_t total)
{
    if (ctx && ctx->run)
        progress_set_total(&ctx->run->progress, total);
}

static const char *api_pipeline_name(etl_ctx *ctx)
{
    if (ctx && ctx->run && ctx->run->pipeline)
        return ctx->run->pipeline->name;
    return "etl";
}

static etl_status api_reject(etl_ctx *ctx, const char *record, size_t len, const char *where,
                             const char *reason)
{
    /* NULL reason: the error just recorded on ctx (for example by
     * json_append_record). Copied, since rejecting may record a new one. */
    char recorded[sizeof ctx->message];
    if (reason == NULL && ctx != NULL) {
        snprintf(recorded, sizeof recorded, "%s", ctx_error_message(ctx));
        reason = recorded;
    }
    return rejects_write(ctx && ctx->run ? &ctx->run->rejects : NULL, ctx, record, len, where,
                         reason);
}

static etl_status api_json_append_record(etl_builder *b, const char *json, size_t len)
{
    return json_decode_record(b, json, len);
}

static etl_status api_json_append_value(etl_builder *b, int32_t col, const char *json, size_t len)
{
    return json_decode_value(b, col, json, len);
}

static etl_status api_next_commit(etl_ctx *ctx, etl_commit_info *out)
{
    if (ctx == NULL || ctx->run == NULL)
        return ETL_END; /* outside a run (tests): no commit is planned */
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    out->pipeline = ctx->run->pipeline->name;
    out->partition = "0";
    out->sequence = ctx->run->next_commit_sequence ? ctx->run->next_commit_sequence : 1;
    return ETL_OK;
}

static const etl_host_api host_table = {
    .struct_size = sizeof(etl_host_api),
    .abi_major = ETL_ABI_MAJOR,
    .abi_minor = ETL_ABI_MINOR,
    .set_error = api_set_error,
    .log = api_log,
    .alloc = api_alloc,
    .realloc = api_realloc,
    .free = api_free,
    .buf_append = buf_append,
    .buf_printf = api_buf_printf,
    .buf_free = buf_free,
    .remaining_ms = api_remaining_ms,
    .cancelled = api_cancelled,
    .request_acquire = api_request_acquire,
    .request_done = api_request_done,
    .metric_add = api_metric_add,
    .progress_total = api_progress_total,
    .pipeline_name = api_pipeline_name,
    .opt_string = options_string,
    .opt_int = options_int,
    .opt_double = options_double,
    .opt_bool = options_bool,
    .opt_duration_ms = options_duration_ms,
    .opt_size = options_size,
    .opt_is_set = options_is_set,
    .opt_list_count = options_list_count,
    .opt_list_item = options_list_item,
    .opt_map = options_map,
    .opt_map_count = options_map_count,
    .opt_map_key = options_map_key,
    .opt_map_value = options_map_value,
    .opt_where = options_where,
    .builder_new = builder_new,
    .builder_free = builder_free,
    .builder_field = builder_field,
    .builder_declare = builder_declare,
    .builder_list_item = builder_list_item,
    .builder_begin_record = builder_begin_record,
    .builder_end_record = builder_end_record,
    .builder_cancel_record = builder_cancel_record,
    .append_null = builder_append_null,
    .append_bool = builder_append_bool,
    .append_int64 = builder_append_int64,
    .append_double = builder_append_double,
    .append_string = builder_append_string,
    .append_binary = builder_append_binary,
    .append_timestamp_us = builder_append_timestamp_us,
    .append_date = builder_append_date,
    .append_decimal = builder_append_decimal,
    .begin_struct = builder_begin_struct,
    .end_struct = builder_end_struct,
    .begin_list = builder_begin_list,
    .end_list = builder_end_list,
    .builder_rows = builder_rows,
    .builder_bytes = builder_bytes,
    .builder_finish = builder_finish,
    .json_append_record = api_json_append_record,
    .json_append_value = api_json_append_value,
    .json_write_row = json_encode_row,
    .batch_release = batch_release,
    .batch_column_index = batch_column_index,
    .batch_select = batch_select,
    .batch_filter = batch_filter,
    .batch_add_columns = batch_add_columns,
    .batch_flatten = batch_flatten,
    .format_writer_open = format_writer_open,
    .format_write = format_write,
    .format_bytes_written = format_bytes_written,
    .format_finish = format_finish,
    .format_writer_close = format_writer_close,
    .format_extension = format_extension,
    .format_reader_open = format_reader_open,
    .format_read = format_read,
    .format_reader_close = format_reader_close,
    .reject = api_reject,
    .http_send = host_http_send,
    .http_header = host_http_header,
    .http_response_free = host_http_response_free,
    .sha256_hex = sigv4_sha256_hex,
    .json_find = json_span_find,
    .json_next = json_span_next,
    .json_int64 = json_span_int64,
    .json_double = json_span_double,
    .json_bool = json_span_bool,
    .json_string = json_span_string,
    .json_quote = json_encode_string,
    .next_commit = api_next_commit,
    .format_skip = format_skip,
    .http_start = host_http_start,
    .http_wait = host_http_wait,
    .json_write_rows = json_encode_rows,
    .decompress_open = decompress_open,
    .decompress_close = decompress_close,
    .format_from_name = format_from_name,
    .builder_declare_type = builder_declare_type,
};

const etl_host_api *host_api(void) { return &host_table; }
