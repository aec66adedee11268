/* HTTP for plugins (etl_host_api.http_send): throttled, signed, budgeted
 * and retried by the host. */
#ifndef ETL_CORE_HOST_HTTP_H
#define ETL_CORE_HOST_HTTP_H

#include <etl/plugin.h>

etl_status host_http_send(etl_ctx *ctx, const etl_http_request *req, etl_http_response *resp);
const char *host_http_header(const etl_http_response *resp, const char *name);
void host_http_response_free(etl_http_response *resp);
/* http_send on a host thread (host_http_async.c). */
etl_status host_http_start(etl_ctx *ctx, const etl_http_request *req, etl_http_prepare prepare,
                           void *prepare_arg);
etl_status host_http_wait(etl_ctx *ctx, etl_http_response *resp);
/* Waits for a request in progress and stops the worker (ctx_free). */
void host_http_async_release(etl_ctx *ctx);
/* Releases the connection a context kept (ctx_free calls it). */
void host_http_release(etl_ctx *ctx);

#endif
