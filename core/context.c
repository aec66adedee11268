#include "context.h"
#include "host_http.h"

#include <stdio.h>
#include <stdlib.h>

/* Errors raised with no connector context (library code called from tests
 * or the CLI) land here. The host is single-threaded per run. */
static etl_ctx fallback_ctx = {.label = "etl"};

etl_ctx *ctx_new(const char *label, struct run *run)
{
    etl_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL)
        return NULL;
    snprintf(ctx->label, sizeof ctx->label, "%s", label ? label : "etl");
    ctx->run = run;
    return ctx;
}

void ctx_free(etl_ctx *ctx)
{
    host_http_async_release(ctx);
    host_http_release(ctx);
    free(ctx);
}

etl_status ctx_set_errorv(etl_ctx *ctx, etl_status status, int64_t vendor_code,
                          const char *fmt, va_list ap)
{
    if (ctx == NULL)
        ctx = &fallback_ctx;
    ctx->status = status;
    ctx->vendor_code = vendor_code;
    vsnprintf(ctx->message, sizeof ctx->message, fmt, ap);
    return status;
}

etl_status ctx_set_error(etl_ctx *ctx, etl_status status, int64_t vendor_code,
                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctx_set_errorv(ctx, status, vendor_code, fmt, ap);
    va_end(ap);
    return status;
}

const char *ctx_error_message(const etl_ctx *ctx)
{
    if (ctx == NULL)
        ctx = &fallback_ctx;
    return ctx->message[0] ? ctx->message : "unknown error";
}

etl_status ctx_error_status(const etl_ctx *ctx)
{
    return (ctx ? ctx : &fallback_ctx)->status;
}

void ctx_clear_error(etl_ctx *ctx)
{
    if (ctx == NULL)
        ctx = &fallback_ctx;
    ctx->status = ETL_OK;
    ctx->vendor_code = 0;
    ctx->message[0] = '\0';
}
