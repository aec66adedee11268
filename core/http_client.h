/* A synchronous HTTP/1.1 client on libcurl for the host's control plane
 * (Lambda Runtime and Invoke APIs) and, through the host API, for plugins.
 * One client keeps one connection cache (keep-alive); use one client per
 * thread. Requests can be SigV4-signed with core/sigv4.c. */
#ifndef ETL_CORE_HTTP_CLIENT_H
#define ETL_CORE_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <etl/plugin.h>

#include "sigv4.h"

typedef struct http_client http_client;

/* Signs the request right before it is sent, over the final method, path,
 * query, headers (a Host header is added and signed) and body. */
typedef struct http_sigv4 {
    const char *region;
    const char *service;             /* "s3", "lambda", "glue", "es" */
    sigv4_credentials credentials;
    unsigned flags;                  /* SIGV4_FLAGS_DEFAULT, SIGV4_FLAGS_S3 */
    const char *payload_hash;        /* NULL hashes the body; or SIGV4_UNSIGNED_PAYLOAD */
    time_t when;                     /* 0 = now (tests pin it) */
} http_sigv4;

typedef struct http_request {
    const char *method;              /* NULL = "GET" */
    const char *url;                 /* http(s)://host[:port]/path?query, already encoded */
    const char *const *header_names;
    const char *const *header_values;
    size_t header_count;
    const void *body;                /* sent as is, with Content-Length */
    size_t body_len;
    long timeout_ms;                 /* whole request; 0 = none (the Lambda /next long poll) */
    long connect_timeout_ms;         /* 0 = 10 s */
    size_t max_response_bytes;       /* 0 = no limit */
    const char *ca_file;             /* NULL = the system store; TLS is always verified */
    const char *proxy;               /* NULL = direct: *_proxy variables are ignored */
    const http_sigv4 *sigv4;         /* NULL = unsigned */
} http_request;

typedef struct http_response {
    long status;                     /* 0 until a response arrived */
    etl_buf body;
    int64_t retry_after_ms;          /* from Retry-After (seconds or date); -1 if absent */
    /* The final response's headers, packed "name\0value\0" pairs. */
    etl_buf headers_packed;
    size_t header_count;
} http_response;

http_client *http_client_new(void);
void http_client_free(http_client *client);

/* Sends `req` and fills `resp` (reset first; free it with
 * http_response_free). Any HTTP status is ETL_OK: the caller decides.
 * Connection refused or reset, timeouts and DNS failures: ETL_ERR_RETRY;
 * a bad URL or TLS verification failure: ETL_ERR_CONFIG; a body over
 * max_response_bytes: ETL_ERR_PERMANENT. The error, recorded in ctx, names
 * the method and the URL without user info or query. */
etl_status http_send(http_client *client, const http_request *req, http_response *resp,
                     etl_ctx *ctx);

void http_response_init(http_response *resp);
void http_response_free(http_response *resp);
/* The first header of that name (case-insensitive), trimmed; NULL if absent. */
const char *http_response_header(const http_response *resp, const char *name);

/* "http://u:p@host:9/a?b#c" -> "http://host:9/a" into out (for messages). */
void http_redact_url(const char *url, char *out, size_t out_size);

#endif
