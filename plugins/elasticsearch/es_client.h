/* Requests to Elasticsearch through the host's HTTP service (throttled,
 * retried with Retry-After, SigV4-signed when asked), authentication, and
 * the reading of Elasticsearch's error replies. */
#ifndef ES_CLIENT_H
#define ES_CLIENT_H

#include <etl/plugin.h>

#include "es_json.h"

typedef struct es_conn {
    etl_ctx *ctx;
    char *base;                  /* scheme://host[:port][/prefix], no credentials, no trailing '/' */
    char *authorization;         /* the Authorization header value, or NULL */
    char *ca_file;
    char *sigv4_region, *sigv4_service;
    char *access_key, *secret_key, *session_token;
    int64_t timeout_ms;          /* 0: derived by the host from the time budget */
} es_conn;

/* Reads url, username/password, api_key, bearer_token, ca_file,
 * aws_region/aws_service and request_timeout. ETL_ERR_CONFIG with the
 * error set on bad values. */
etl_status es_conn_open(es_conn *c, etl_ctx *ctx, const etl_options *opts);
void es_conn_close(es_conn *c);

#define ES_NDJSON 0x100u         /* body is NDJSON (_bulk) */

/* Sends one request; `flags` are ETL_HTTP_* plus ES_NDJSON. Any HTTP status
 * is ETL_OK (see es_fail); transport failures are ETL_ERR_RETRY with the
 * error set. Free resp with es_host->http_response_free. */
etl_status es_send(es_conn *c, const char *method, const char *path, const char *body,
                   size_t len, uint32_t flags, etl_http_response *resp);

/* A request sent in the background (host ABI 1.2 http_start): the server
 * prepares the next page while the connector decodes the last one. The
 * request keeps its URL and headers alive; the body stays the caller's. */
typedef struct es_request {
    es_str url;
    const char *names[3], *values[3];
    etl_http_request req;
    bool started;                /* waiting for es_wait */
} es_request;

/* Whether the host offers http_start (ABI 1.2). */
bool es_can_start(void);
/* `prepare` (may be NULL) runs on the host's thread with the response. */
etl_status es_start(es_conn *c, es_request *r, const char *method, const char *path,
                    const char *body, size_t len, uint32_t flags, etl_http_prepare prepare,
                    void *prepare_arg);
/* Collects the response of es_start: as es_send would have returned it. */
etl_status es_wait(es_conn *c, es_request *r, etl_http_response *resp);
void es_request_free(es_request *r);

/* ------------------------------------------------------------------ errors */
typedef struct es_error {
    int status;                  /* HTTP status */
    char type[96];               /* error.type, or "" */
    char cause[96];              /* root_cause[0].type or caused_by.type, or "" */
    char reason[400];            /* the most useful reason */
} es_error;

/* Reads an error reply: {"error": {...}, "status": N}, {"error": "text"}
 * or anything else (then the reason is the start of the body). */
void es_error_parse(const char *body, size_t len, int status, es_error *e);
/* An expired or unknown PIT or scroll (404 search_context_missing_exception). */
bool es_error_is_context_missing(const es_error *e);
/* What the host should do: 429 and 5xx retry, 401/403 are auth, a missing
 * index and a refused request are config, the rest permanent. */
etl_status es_error_status(const es_error *e);
/* Sets the connector's error from a non-2xx reply and returns its status. */
etl_status es_fail(es_conn *c, const char *method, const char *path, const etl_http_response *resp);

/* A 200 search reply that is partial (_shards.failed > 0) or timed out is
 * retryable, never data: ETL_ERR_RETRY with `why` filled, else ETL_OK.
 * Takes the reply's "timed_out" and "_shards" values (empty spans when
 * absent). */
etl_status es_check_complete(ej_span timed_out, ej_span shards, char *why, size_t cap);

/* Standard base64 of data (for Basic and ApiKey credentials). */
char *es_base64(const char *data, size_t len);

#endif
