/* Synchronous HTTP/1.1 on one reused libcurl easy handle. SigV4 signing is
 * ours (core/sigv4.c), not CURLOPT_AWS_SIGV4: Debian 12's libcurl 7.88
 * signs the query and path verbatim and never adds x-amz-content-sha256
 * (docs/sigv4.md). */
#include "http_client.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "buf.h"
#include "context.h"

#define HTTP_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define HTTP_MAX_RETRY_AFTER_MS (24LL * 3600 * 1000)
#define HTTP_MAX_RESPONSE_HEADERS 256 /* more are ignored */

struct http_client {
    CURL *easy;
    char error[CURL_ERROR_SIZE];
};

/* What a transfer's callbacks need. */
/* The most a response may announce and have reserved before it arrives. */
#define MAX_RESERVED_BODY (256 * 1024 * 1024)

typedef struct transfer {
    http_response *resp;
    CURL *easy;
    size_t max_bytes;
    bool too_big;
    bool out_of_memory;
} transfer;

/* The curl header list and what it was built from. */
typedef struct outgoing {
    struct curl_slist *headers;
    sigv4_result signature;
    bool signed_request;
} outgoing;

/* -------------------------------------------------------------------- */
/* Client                                                               */
/* -------------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init_process(void)
{
    curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

http_client *http_client_new(void)
{
    pthread_once(&curl_once, curl_init_process);
    if (curl_init_result != CURLE_OK)
        return NULL;
    http_client *client = calloc(1, sizeof *client);
    if (client == NULL)
        return NULL;
    client->easy = curl_easy_init();
    if (client->easy == NULL) {
        free(client);
        return NULL;
    }
    return client;
}

void http_client_free(http_client *client)
{
    if (client == NULL)
        return;
    curl_easy_cleanup(client->easy);
    free(client);
}

/* -------------------------------------------------------------------- */
/* Response                                                             */
/* -------------------------------------------------------------------- */

void http_response_init(http_response *resp)
{
    memset(resp, 0, sizeof *resp);
    resp->retry_after_ms = -1;
}

void http_response_free(http_response *resp)
{
    if (resp == NULL)
        return;
    buf_free(&resp->body);
    buf_free(&resp->headers_packed);
    http_response_init(resp);
}

const char *http_response_header(const http_response *resp, const char *name)
{
    const char *p = resp->headers_packed.data;
    for (size_t i = 0; p && i < resp->header_count; i++) {
        const char *value = p + strlen(p) + 1;
        if (strcasecmp(p, name) == 0)
            return value;
        p = value + strlen(value) + 1;
    }
    return NULL;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void trim(const char **s, size_t *len)
{
    while (*len && is_blank(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len && is_blank((*s)[*len - 1]))
        (*len)--;
}

static bool pack_header(http_response *resp, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    if (colon == NULL)
        return true; /* not a header line: ignore it */
    const char *name = line, *value = colon + 1;
    size_t name_len = (size_t)(colon - line), value_len = len - name_len - 1;
    trim(&name, &name_len);
    trim(&value, &value_len);
    etl_buf *b = &resp->headers_packed;
    if (buf_append(b, name, name_len) != ETL_OK || buf_append_char(b, '\0') != ETL_OK ||
        buf_append(b, value, value_len) != ETL_OK || buf_append_char(b, '\0') != ETL_OK)
        return false;
    resp->header_count++;
    return true;
}

/* An obsolete folded line continues the last value. */
static bool unfold_header(http_response *resp, const char *line, size_t len)
{
    etl_buf *b = &resp->headers_packed;
    trim(&line, &len);
    if (resp->header_count == 0 || len == 0)
        return true;
    b->len--; /* drop the value's NUL */
    return buf_append_char(b, ' ') == ETL_OK && buf_append(b, line, len) == ETL_OK &&
           buf_append_char(b, '\0') == ETL_OK;
}

static size_t on_header(char *data, size_t size, size_t nitems, void *user)
{
    transfer *t = user;
    size_t len = size * nitems;
    bool ok = true;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        /* A new status line (after 100 Continue): keep only the final headers. */
        buf_reset(&t->resp->headers_packed);
        t->resp->header_count = 0;
    } else if (len > 0 && (data[0] == ' ' || data[0] == '\t')) {
        ok = unfold_header(t->resp, data, len);
    } else if (t->resp->header_count < HTTP_MAX_RESPONSE_HEADERS) {
        ok = pack_header(t->resp, data, len);
    }
    if (!ok) {
        t->out_of_memory = true;
        return 0;
    }
    return len;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
    transfer *t = user;
    size_t len = size * nmemb;
    if (t->max_bytes && t->resp->body.len + len > t->max_bytes) {
        t->too_big = true;
        return 0;
    }
    /* A body of announced length gets its room at once: growing a buffer of
     * megabytes by doubling copies it several times over. */
    curl_off_t announced = -1;
    if (t->resp->body.len == 0 &&
        curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced) == CURLE_OK &&
        announced > (curl_off_t)len && announced <= MAX_RESERVED_BODY &&
        (!t->max_bytes || (size_t)announced <= t->max_bytes))
        buf_reserve(&t->resp->body, (size_t)announced);   /* a failure shows below */
    if (buf_append(&t->resp->body, data, len) != ETL_OK) {
        t->out_of_memory = true;
        return 0;
    }
    return len;
}

static int64_t parse_retry_after(const char *value)
{
    if (value == NULL || *value == '\0')
        return -1;
    char *end;
    if (*value >= '0' && *value <= '9') {
        long long seconds = strtoll(value, &end, 10);
        if (*end != '\0')
            return -1;
        return seconds > HTTP_MAX_RETRY_AFTER_MS / 1000 ? HTTP_MAX_RETRY_AFTER_MS
                                                         : (int64_t)seconds * 1000;
    }
    time_t at = curl_getdate(value, NULL);
    if (at == (time_t)-1)
        return -1;
    int64_t ms = ((int64_t)at - (int64_t)time(NULL)) * 1000;
    if (ms < 0)
        return 0;
    return ms > HTTP_MAX_RETRY_AFTER_MS ? HTTP_MAX_RETRY_AFTER_MS : ms;
}

/* -------------------------------------------------------------------- */
/* Errors                                                               */
/* -------------------------------------------------------------------- */

void http_redact_url(const char *url, char *out, size_t out_size)
{
    if (out_size == 0)
        return;
    if (url == NULL) {
        snprintf(out, out_size, "(no URL)");
        return;
    }
    const char *scheme_end = strstr(url, "://");
    const char *authority = scheme_end ? scheme_end + 3 : url;
    if (scheme_end && strcspn(url, "/?#") < (size_t)(scheme_end - url))
        authority = url; /* "://" inside the path: no scheme */
    const char *rest = authority + strcspn(authority, "/?#");
    const char *host = authority;
    for (const char *p = authority; p < rest; p++)
        if (*p == '@')
            host = p + 1;
    size_t path_len = strcspn(rest, "?#");
    snprintf(out, out_size, "%.*s%.*s%.*s", (int)(authority - url), url, (int)(rest - host),
             host, (int)path_len, rest);
}

static etl_status classify_curl_error(CURLcode code, const char **hint)
{
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
        *hint = "transient: check that the service is up and reachable, then retry";
        return ETL_ERR_RETRY;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        *hint = "check the URL (http:// or https://, path and query percent-encoded)";
        return ETL_ERR_CONFIG;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
        *hint = "TLS verification failed: check the server certificate or set a CA file";
        return ETL_ERR_CONFIG;
    case CURLE_OUT_OF_MEMORY:
        *hint = "out of memory";
        return ETL_ERR_NOMEM;
    default:
        *hint = "the request failed";
        return ETL_ERR_PERMANENT;
    }
}

static etl_status report_curl_error(http_client *client, const http_request *req,
                                    const transfer *t, CURLcode code, etl_ctx *ctx)
{
    char where[512];
    http_redact_url(req->url, where, sizeof where);
    const char *method = req->method ? req->method : "GET";
    if (t->too_big)
        return ctx_set_error(ctx, ETL_ERR_PERMANENT, 0,
                             "%s %s: the response is larger than %zu bytes; raise the limit "
                             "or page the request", method, where, t->max_bytes);
    if (t->out_of_memory)
        return ctx_set_error(ctx, ETL_ERR_NOMEM, 0, "%s %s: out of memory reading the response",
                             method, where);
    const char *hint;
    etl_status st = classify_curl_error(code, &hint);
    const char *detail = client->error[0] ? client->error : curl_easy_strerror(code);
    return ctx_set_error(ctx, st, 0, "%s %s: %s (curl error %d: %s)", method, where, hint,
                         (int)code, detail);
}

/* -------------------------------------------------------------------- */
/* Request headers and signing                                          */
/* -------------------------------------------------------------------- */

static bool valid_header(const char *name, const char *value)
{
    if (name == NULL || *name == '\0' || strpbrk(name, ": \t\r\n"))
        return false;
    return value == NULL || strpbrk(value, "\r\n") == NULL;
}

static bool has_header(const http_request *req, const char *name)
{
    for (size_t i = 0; i < req->header_count; i++)
        if (strcasecmp(req->header_names[i], name) == 0)
            return true;
    return false;
}

static bool add_line(struct curl_slist **list, const char *line)
{
    struct curl_slist *next = curl_slist_append(*list, line);
    if (next == NULL)
        return false;
    *list = next;
    return true;
}

/* curl sends "Name;" as a header with an empty value ("Name:" removes it). */
static bool add_header(struct curl_slist **list, const char *name, const char *value)
{
    etl_buf line = {0};
    bool empty = value == NULL || *value == '\0';
    etl_status st = empty ? buf_printf(&line, "%s;", name)
                          : buf_printf(&line, "%s: %s", name, value);
    bool ok = st == ETL_OK && add_line(list, line.data);
    buf_free(&line);
    return ok;
}

static etl_status url_part(CURLU *u, CURLUPart part, char **out)
{
    *out = NULL;
    CURLUcode rc = curl_url_get(u, part, out, 0);
    if (rc == CURLUE_OK || rc == CURLUE_NO_QUERY || rc == CURLUE_NO_PORT)
        return ETL_OK;
    return rc == CURLUE_OUT_OF_MEMORY ? ETL_ERR_NOMEM : ETL_ERR_CONFIG;
}

/* Host header value as curl would send it: the port only when not the
 * scheme's default. */
static etl_status host_header_value(CURLU *u, etl_buf *host)
{
    char *scheme = NULL, *name = NULL, *port = NULL;
    etl_status st = url_part(u, CURLUPART_SCHEME, &scheme);
    if (st == ETL_OK)
        st = url_part(u, CURLUPART_HOST, &name);
    if (st == ETL_OK)
        st = url_part(u, CURLUPART_PORT, &port);
    if (st == ETL_OK) {
        bool default_port = port == NULL ||
                            (strcasecmp(scheme, "http") == 0 && strcmp(port, "80") == 0) ||
                            (strcasecmp(scheme, "https") == 0 && strcmp(port, "443") == 0);
        st = default_port ? buf_printf(host, "%s", name) : buf_printf(host, "%s:%s", name, port);
    }
    curl_free(scheme);
    curl_free(name);
    curl_free(port);
    return st;
}

typedef struct sign_input {
    etl_buf host;
    char *path, *query;
    const char **names, **values;
    size_t count;
} sign_input;

static void sign_input_free(sign_input *in)
{
    buf_free(&in->host);
    curl_free(in->path);
    curl_free(in->query);
    free(in->names);
    free(in->values);
}

static etl_status gather_sign_input(const http_request *req, sign_input *in, bool *add_host)
{
    CURLU *u = curl_url();
    if (u == NULL)
        return ETL_ERR_NOMEM;
    etl_status st = curl_url_set(u, CURLUPART_URL, req->url, CURLU_PATH_AS_IS) == CURLUE_OK
                        ? ETL_OK
                        : ETL_ERR_CONFIG;
    if (st == ETL_OK)
        st = url_part(u, CURLUPART_PATH, &in->path);
    if (st == ETL_OK)
        st = url_part(u, CURLUPART_QUERY, &in->query);
    *add_host = !has_header(req, "Host");
    if (st == ETL_OK && *add_host)
        st = host_header_value(u, &in->host);
    curl_url_cleanup(u);
    if (st != ETL_OK)
        return st;
    in->names = calloc(req->header_count + 1, sizeof *in->names);
    in->values = calloc(req->header_count + 1, sizeof *in->values);
    if (in->names == NULL || in->values == NULL)
        return ETL_ERR_NOMEM;
    for (size_t i = 0; i < req->header_count; i++) {
        in->names[in->count] = req->header_names[i];
        in->values[in->count++] = req->header_values[i];
    }
    if (*add_host) {
        in->names[in->count] = "Host";
        in->values[in->count++] = in->host.data;
    }
    return ETL_OK;
}

static etl_status sign_request(const http_request *req, outgoing *out, etl_ctx *ctx)
{
    const http_sigv4 *s = req->sigv4;
    char where[512];
    http_redact_url(req->url, where, sizeof where);
    sign_input in = {0};
    bool add_host = false;
    etl_status st = gather_sign_input(req, &in, &add_host);
    if (st != ETL_OK) {
        sign_input_free(&in);
        return ctx_set_error(ctx, st, 0, "%s: cannot sign the request: %s", where,
                             st == ETL_ERR_NOMEM ? "out of memory" : "the URL does not parse");
    }
    sigv4_request sr = {
        .method = req->method ? req->method : "GET",
        .path = in.path,
        .query = in.query,
        .header_names = in.names,
        .header_values = in.values,
        .header_count = in.count,
        .body = req->body,
        .body_len = req->body_len,
        .payload_hash = s->payload_hash,
    };
    time_t when = s->when ? s->when : time(NULL);
    st = sigv4_sign(&sr, &s->credentials, s->region, s->service, when, s->flags,
                    &out->signature);
    out->signed_request = true;
    if (st != ETL_OK) {
        sign_input_free(&in);
        return ctx_set_error(ctx, st, 0, "%s: %s", where, out->signature.error);
    }
    bool ok = !add_host || add_header(&out->headers, "Host", in.host.data);
    for (size_t i = 0; ok && i < out->signature.added_count; i++)
        ok = add_line(&out->headers, out->signature.added_headers[i].data);
    sign_input_free(&in);
    return ok ? ETL_OK : ctx_set_error(ctx, ETL_ERR_NOMEM, 0, "%s: out of memory", where);
}

static etl_status build_headers(const http_request *req, outgoing *out, etl_ctx *ctx)
{
    for (size_t i = 0; i < req->header_count; i++) {
        const char *name = req->header_names[i], *value = req->header_values[i];
        if (!valid_header(name, value))
            return ctx_set_error(ctx, ETL_ERR_CONFIG, 0,
                                 "HTTP header %zu ('%s') has an invalid name or a line break "
                                 "in its value", i, name ? name : "(null)");
        if (!add_header(&out->headers, name, value))
            return ctx_set_error(ctx, ETL_ERR_NOMEM, 0, "out of memory");
    }
    /* No 100-continue round trip (it is never signed), and no implicit
     * form-urlencoded Content-Type, which S3 rejects on XML bodies. */
    bool ok = add_line(&out->headers, "Expect:");
    if (ok && !has_header(req, "Content-Type"))
        ok = add_line(&out->headers, "Content-Type:");
    if (!ok)
        return ctx_set_error(ctx, ETL_ERR_NOMEM, 0, "out of memory");
    return req->sigv4 ? sign_request(req, out, ctx) : ETL_OK;
}

/* -------------------------------------------------------------------- */
/* Sending                                                              */
/* -------------------------------------------------------------------- */

static bool method_is(const char *method, const char *name)
{
    return strcmp(method, name) == 0;
}

static void set_method_and_body(CURL *easy, const http_request *req)
{
    const char *method = req->method ? req->method : "GET";
    bool has_body = req->body != NULL || method_is(method, "POST") || method_is(method, "PUT") ||
                    method_is(method, "PATCH");
    if (method_is(method, "HEAD")) {
        curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else if (has_body) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        /* Large bodies (S3 parts) go out in fewer, larger writes: measured
         * 0.36 -> 0.33 CPU s/GB for the S3 sink. */
        curl_easy_setopt(easy, CURLOPT_UPLOAD_BUFFERSIZE,
                         req->body_len > (1 << 20) ? 2L << 20 : 65536L);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body ? (const char *)req->body : "");
        if (!method_is(method, "POST"))
            curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
    } else {
        curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
        if (!method_is(method, "GET"))
            curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
    }
}

static void set_transport_options(http_client *client, const http_request *req,
                                  struct curl_slist *headers, transfer *t)
{
    CURL *easy = client->easy;
    client->error[0] = '\0';
    curl_easy_setopt(easy, CURLOPT_URL, req->url);
    curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_PROXY, req->proxy ? req->proxy : "");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 0L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms > 0
                                                          ? req->connect_timeout_ms
                                                          : HTTP_DEFAULT_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (req->ca_file)
        curl_easy_setopt(easy, CURLOPT_CAINFO, req->ca_file);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, client->error);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
    set_method_and_body(easy, req);
}

static bool valid_method(const char *method)
{
    if (*method == '\0')
        return false;
    for (const char *p = method; *p; p++)
        if (!(*p >= 'A' && *p <= 'Z') && *p != '-' && *p != '_')
            return false;
    return true;
}

static etl_status check_request(const http_request *req, etl_ctx *ctx)
{
    if (req->method && !valid_method(req->method))
        return ctx_set_error(ctx, ETL_ERR_CONFIG, 0,
                             "HTTP request: method '%s' is not an uppercase word", req->method);
    if (req->url == NULL || *req->url == '\0')
        return ctx_set_error(ctx, ETL_ERR_CONFIG, 0, "HTTP request without a URL");
    if (req->header_count && (req->header_names == NULL || req->header_values == NULL))
        return ctx_set_error(ctx, ETL_ERR_CONFIG, 0, "HTTP request: header arrays are NULL");
    if (req->body == NULL && req->body_len > 0)
        return ctx_set_error(ctx, ETL_ERR_CONFIG, 0, "HTTP request: body_len without a body");
    return ETL_OK;
}

etl_status http_send(http_client *client, const http_request *req, http_response *resp,
                     etl_ctx *ctx)
{
    http_response_init(resp);
    if (client == NULL || req == NULL)
        return ctx_set_error(ctx, ETL_ERR_CONFIG, 0, "HTTP request without a client");
    etl_status st = check_request(req, ctx);
    if (st != ETL_OK)
        return st;
    outgoing out = {0};
    st = build_headers(req, &out, ctx);
    if (st == ETL_OK) {
        transfer t = {.resp = resp, .easy = client->easy, .max_bytes = req->max_response_bytes};
        curl_easy_reset(client->easy); /* keeps the connection cache */
        set_transport_options(client, req, out.headers, &t);
        CURLcode code = curl_easy_perform(client->easy);
        if (code == CURLE_OK) {
            curl_easy_getinfo(client->easy, CURLINFO_RESPONSE_CODE, &resp->status);
            resp->retry_after_ms = parse_retry_after(http_response_header(resp, "Retry-After"));
        } else {
            st = report_curl_error(client, req, &t, code, ctx);
        }
        /* The handle must not keep pointers into this call's stack. */
        curl_easy_setopt(client->easy, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(client->easy, CURLOPT_ERRORBUFFER, NULL);
    }
    curl_slist_free_all(out.headers);
    if (out.signed_request)
        sigv4_result_free(&out.signature);
    return st;
}
