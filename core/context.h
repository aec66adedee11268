/* Per-connector-instance context: the host-owned error record, the label
 * used in log lines, and a link to the run it belongs to (budget, throttle,
 * metrics, rejects). */
#ifndef ETL_CORE_CONTEXT_H
#define ETL_CORE_CONTEXT_H

#include <etl/plugin.h>

struct run;

struct etl_ctx {
    char label[96];              /* "source file", "transform select#2" */
    etl_status status;           /* of the last error set */
    int64_t vendor_code;
    char message[2048];
    struct run *run;             /* NULL outside a run (unit tests, conformance) */
    struct http_client *http;    /* kept connection of http_send, or NULL */
    struct http_async *async;    /* the worker of http_start, or NULL */
};

etl_ctx *ctx_new(const char *label, struct run *run);
void ctx_free(etl_ctx *ctx);

/* Records an error and returns `status`. A NULL ctx records into a
 * process-wide fallback record (for code used outside any connector). */
etl_status ctx_set_error(etl_ctx *ctx, etl_status status, int64_t vendor_code,
                         const char *fmt, ...) ETL_PRINTF(4, 5);
etl_status ctx_set_errorv(etl_ctx *ctx, etl_status status, int64_t vendor_code,
                          const char *fmt, va_list ap);
const char *ctx_error_message(const etl_ctx *ctx);
etl_status ctx_error_status(const etl_ctx *ctx);
void ctx_clear_error(etl_ctx *ctx);

#endif
