#include "host_http.h"

#include <stdlib.h>

#include "buf.h"
#include "context.h"
#include "http_client.h"
#include "log.h"
#include "runner.h"
#include "throttle.h"

#define DEFAULT_TIMEOUT_MS 60000
#define MIN_TIMEOUT_MS 1000

/* The connection of each context is kept for keep-alive; contexts are used
 * by one thread at a time, as clients must be. */
static http_client *client_of(etl_ctx *ctx)
{
    if (ctx->http == NULL)
        ctx->http = http_client_new();
    return ctx->http;
}

void host_http_release(etl_ctx *ctx)
{
    if (ctx && ctx->http) {
        http_client_free(ctx->http);
        ctx->http = NULL;
    }
}

static bool status_is_retryable(long status)
{
    return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

static long timeout_for(etl_ctx *ctx, const etl_http_request *req)
{
    if (req->timeout_ms > 0)
        return (long)req->timeout_ms;
    int64_t left = DEFAULT_TIMEOUT_MS;
    if (ctx->run) {
        pthread_mutex_lock(&ctx->run->lock);
        if (budget_active(&ctx->run->budget))
            left = budget_remaining_for_plugins_us(&ctx->run->budget, monotonic_us()) / 1000;
        pthread_mutex_unlock(&ctx->run->lock);
    }
    if (left > DEFAULT_TIMEOUT_MS)
        left = DEFAULT_TIMEOUT_MS;
    return (long)(left < MIN_TIMEOUT_MS ? MIN_TIMEOUT_MS : left);
}

static void retry_settings(etl_ctx *ctx, int64_t *attempts, int64_t *base_ms, int64_t *cap_ms)
{
    *attempts = 6;
    *base_ms = 200;
    *cap_ms = 20000;
    if (ctx->run && ctx->run->pipeline) {
        *attempts = ctx->run->pipeline->retry_max_attempts;
        *base_ms = ctx->run->pipeline->retry_base_ms;
        *cap_ms = ctx->run->pipeline->retry_max_ms;
    }
}

/* The client's response is kept behind host_private, so header lookups go
 * to the client's own table. */
static void take_response(etl_http_response *resp, http_response *raw)
{
    resp->status = (int32_t)raw->status;
    resp->retry_after_ms = raw->retry_after_ms;
    buf_free(&resp->body);
    resp->body = raw->body;
    raw->body = (etl_buf){0};
    http_response *kept = resp->host_private;
    if (kept == NULL) {
        kept = calloc(1, sizeof *kept);
        http_response_init(kept);
        resp->host_private = kept;
    }
    http_response_free(kept);
    *kept = *raw;
    memset(raw, 0, sizeof *raw);
}

etl_status host_http_send(etl_ctx *ctx, const etl_http_request *req, etl_http_response *resp)
{
    etl_http_request r;
    memset(&r, 0, sizeof r);
    memcpy(&r, req, req->struct_size < sizeof r ? req->struct_size : sizeof r);
    resp->attempts = 0;
    resp->status = 0;
    http_sigv4 sig = {0};
    if (r.sigv4_service) {
        sig.region = r.sigv4_region;
        sig.service = r.sigv4_service;
        sig.credentials.access_key = r.access_key_id;
        sig.credentials.secret_key = r.secret_access_key;
        sig.credentials.session_token = r.session_token;
        sig.flags = (r.sigv4_flags & ETL_SIGV4_S3) ? SIGV4_FLAGS_S3 : SIGV4_FLAGS_DEFAULT;
        sig.payload_hash = r.payload_hash;
    }
    int64_t max_attempts, base_ms, cap_ms;
    retry_settings(ctx, &max_attempts, &base_ms, &cap_ms);
    if (!(r.flags & ETL_HTTP_RETRY))
        max_attempts = 1;
    char shown[512];
    http_redact_url(r.url ? r.url : "", shown, sizeof shown);
    for (int attempt = 1;; attempt++) {
        bool throttled = ctx->run && !(r.flags & ETL_HTTP_NO_THROTTLE);
        if (throttled) {
            sleep_us_interruptible(run_request_slot(ctx->run), &run_interrupted);
            run_metric_add(ctx->run, "requests", 1);
        }
        http_request hr = {
            .method = r.method,
            .url = r.url,
            .header_names = r.header_names,
            .header_values = r.header_values,
            .header_count = r.header_count,
            .body = r.body,
            .body_len = r.body_len,
            .timeout_ms = timeout_for(ctx, &r),
            .ca_file = r.ca_file,
            .max_response_bytes = r.max_response_bytes,
            .sigv4 = r.sigv4_service ? &sig : NULL,
        };
        http_response raw;
        http_response_init(&raw);
        int64_t started = monotonic_us();
        etl_status st = http_send(client_of(ctx), &hr, &raw, ctx);
        resp->attempts = attempt;
        take_response(resp, &raw);
        if (throttled) {
            int64_t latency = monotonic_us() - started;
            run_metric_add(ctx->run, "request_latency_us", latency);
            bool overloaded = st == ETL_ERR_RETRY || resp->status == 429 || resp->status == 503;
            run_request_finished(ctx->run, ctx->label, latency, overloaded);
        }
        bool retryable = st == ETL_ERR_RETRY || (st == ETL_OK && status_is_retryable(resp->status));
        if (!retryable || attempt >= max_attempts || run_interrupted)
            return st;
        int64_t delay = backoff_delay_ms(attempt, base_ms, cap_ms,
                                         resp->retry_after_ms > 0 ? resp->retry_after_ms : 0);
        if (ctx->run && delay * 1000 >= run_remaining_us(ctx->run))
            return st == ETL_OK ? st
                                : ctx_set_error(ctx, ETL_ERR_RETRY, 0,
                                                "%s (no time left in the budget to retry)",
                                                ctx_error_message(ctx));
        if (st == ETL_OK)
            log_msg(ETL_LOG_WARN, ctx->label, "%s %s: HTTP %d, retry %d of %lld in %lld ms",
                    r.method ? r.method : "GET", shown, (int)resp->status, attempt,
                    (long long)max_attempts - 1, (long long)delay);
        else
            log_msg(ETL_LOG_WARN, ctx->label, "%s, retry %d of %lld in %lld ms",
                    ctx_error_message(ctx), attempt, (long long)max_attempts - 1,
                    (long long)delay);
        if (ctx->run)
            run_metric_add(ctx->run, "retries", 1);
        sleep_us_interruptible(delay * 1000, &run_interrupted);
    }
}

const char *host_http_header(const etl_http_response *resp, const char *name)
{
    return resp->host_private ? http_response_header(resp->host_private, name) : NULL;
}

void host_http_response_free(etl_http_response *resp)
{
    buf_free(&resp->body);
    if (resp->host_private) {
        http_response_free(resp->host_private);
        free(resp->host_private);
        resp->host_private = NULL;
    }
}
