#include "es_client.h"

#include <stddef.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "es_internal.h"

/* ------------------------------------------------------------------ helpers */

static char *dup_text(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static char *dup_opt(const etl_options *opts, const char *key)
{
    const char *v = es_host->opt_string(opts, key);
    return v && *v ? dup_text(v, strlen(v)) : NULL;
}

char *es_base64(const char *data, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)(unsigned char)data[i + 1] << 8;
        if (i + 2 < len)
            v |= (unsigned char)data[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static char *prefixed(const char *prefix, char *value)
{
    if (value == NULL)
        return NULL;
    size_t n = strlen(prefix) + strlen(value) + 1;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s%s", prefix, value);
    free(value);
    return out;
}

static char *basic_credentials(const char *user, const char *password)
{
    size_t n = strlen(user) + strlen(password) + 2;
    char *pair = malloc(n);
    if (pair == NULL)
        return NULL;
    snprintf(pair, n, "%s:%s", user, password);
    char *encoded = es_base64(pair, strlen(pair));
    memset(pair, 0, n);
    free(pair);
    return prefixed("Basic ", encoded);
}

/* Credentials in the URL (http://user:pass@host) move to a Basic header, so
 * that the URL the host logs carries no secret. */
static etl_status split_url(es_conn *c, const char *url, const etl_options *opts)
{
    const char *scheme_end = strstr(url, "://");
    if (scheme_end == NULL || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return es_host->set_error(c->ctx, ETL_ERR_CONFIG, 0,
                                  "%s: url must start with http:// or https:// (for example "
                                  "http://127.0.0.1:9200)",
                                  es_host->opt_where(opts, "url"));
    const char *host = scheme_end + 3;
    const char *slash = strchr(host, '/');
    const char *at = strchr(host, '@');
    es_str base = {0};
    if (at && (slash == NULL || at < slash)) {
        char *userinfo = dup_text(host, (size_t)(at - host));
        char *colon = userinfo ? strchr(userinfo, ':') : NULL;
        if (colon)
            *colon = '\0';
        if (userinfo && c->authorization == NULL)
            c->authorization = basic_credentials(userinfo, colon ? colon + 1 : "");
        free(userinfo);
        es_str_add(&base, url, (size_t)(host - url));
        es_str_cat(&base, at + 1);
    } else {
        es_str_cat(&base, url);
    }
    while (base.n > 0 && base.p[base.n - 1] == '/')
        base.n--;
    c->base = dup_text(es_str_cstr(&base), base.n);
    es_str_free(&base);
    return c->base ? ETL_OK : es_host->set_error(c->ctx, ETL_ERR_NOMEM, 0, "out of memory");
}

static etl_status read_auth(es_conn *c, const etl_options *opts)
{
    const char *user = es_host->opt_string(opts, "username");
    const char *password = es_host->opt_string(opts, "password");
    const char *api_key = es_host->opt_string(opts, "api_key");
    const char *bearer = es_host->opt_string(opts, "bearer_token");
    int methods = (user && *user) + (api_key && *api_key) + (bearer && *bearer);
    if (methods > 1)
        return es_host->set_error(c->ctx, ETL_ERR_CONFIG, 0,
                                  "%s: choose one of username/password, api_key and bearer_token",
                                  es_host->opt_where(opts, "username"));
    if (user && *user)
        c->authorization = basic_credentials(user, password ? password : "");
    else if (api_key && *api_key)
        /* "id:key" is encoded here; an already encoded key is sent as is. */
        c->authorization = strchr(api_key, ':')
                               ? prefixed("ApiKey ", es_base64(api_key, strlen(api_key)))
                               : prefixed("ApiKey ", dup_text(api_key, strlen(api_key)));
    else if (bearer && *bearer)
        c->authorization = prefixed("Bearer ", dup_text(bearer, strlen(bearer)));
    if (methods && c->authorization == NULL)
        return es_host->set_error(c->ctx, ETL_ERR_NOMEM, 0, "out of memory");
    return ETL_OK;
}

/* SigV4 for Amazon OpenSearch Service: credentials from the environment. */
static etl_status read_sigv4(es_conn *c, const etl_options *opts)
{
    c->sigv4_region = dup_opt(opts, "aws_region");
    if (c->sigv4_region == NULL)
        return ETL_OK;
    c->sigv4_service = dup_opt(opts, "aws_service");
    const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
    const char *token = getenv("AWS_SESSION_TOKEN");
    if (id == NULL || *id == '\0' || secret == NULL || *secret == '\0')
        return es_host->set_error(c->ctx, ETL_ERR_CONFIG, 0,
                                  "%s: SigV4 signing needs AWS_ACCESS_KEY_ID and "
                                  "AWS_SECRET_ACCESS_KEY in the environment",
                                  es_host->opt_where(opts, "aws_region"));
    c->access_key = dup_text(id, strlen(id));
    c->secret_key = dup_text(secret, strlen(secret));
    c->session_token = token && *token ? dup_text(token, strlen(token)) : NULL;
    return ETL_OK;
}

etl_status es_conn_open(es_conn *c, etl_ctx *ctx, const etl_options *opts)
{
    *c = (es_conn){.ctx = ctx};
    etl_status st = read_auth(c, opts);
    if (st == ETL_OK)
        st = split_url(c, es_host->opt_string(opts, "url"), opts);
    if (st == ETL_OK)
        st = read_sigv4(c, opts);
    if (st == ETL_OK && c->sigv4_region && c->authorization)
        st = es_host->set_error(ctx, ETL_ERR_CONFIG, 0,
                                "%s: SigV4 (aws_region) and username/api_key/bearer_token "
                                "exclude each other",
                                es_host->opt_where(opts, "aws_region"));
    c->ca_file = dup_opt(opts, "ca_file");
    es_host->opt_duration_ms(opts, "request_timeout", &c->timeout_ms);
    if (st != ETL_OK)
        es_conn_close(c);
    return st;
}

static void free_secret(char **p)
{
    if (*p) {
        memset(*p, 0, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

void es_conn_close(es_conn *c)
{
    free(c->base);
    free_secret(&c->authorization);
    free(c->ca_file);
    free(c->sigv4_region);
    free(c->sigv4_service);
    free_secret(&c->access_key);
    free_secret(&c->secret_key);
    free_secret(&c->session_token);
    *c = (es_conn){0};
}

/* The request for `path` on this connection; p keeps what it points to. */
static bool fill_request(es_conn *c, es_request *p, const char *method, const char *path,
                         const char *body, size_t len, uint32_t flags)
{
    es_str_reset(&p->url);
    es_str_cat(&p->url, c->base);
    es_str_cat(&p->url, path);
    p->names[0] = "Accept";
    p->names[1] = "Content-Type";
    p->names[2] = "Authorization";
    p->values[0] = "application/json";
    p->values[1] = (flags & ES_NDJSON) ? "application/x-ndjson" : "application/json";
    p->values[2] = c->authorization;
    p->req = (etl_http_request){
        .struct_size = sizeof p->req,
        .method = method,
        .url = es_str_cstr(&p->url),
        .header_names = p->names,
        .header_values = p->values,
        .header_count = c->authorization ? 3 : 2,
        .body = body,
        .body_len = body ? len : 0,
        .timeout_ms = c->timeout_ms,
        .flags = flags & (ETL_HTTP_RETRY | ETL_HTTP_NO_THROTTLE),
        .ca_file = c->ca_file,
        .sigv4_service = c->sigv4_region ? (c->sigv4_service ? c->sigv4_service : "es") : NULL,
        .sigv4_region = c->sigv4_region,
        .access_key_id = c->access_key,
        .secret_access_key = c->secret_key,
        .session_token = c->session_token,
    };
    return es_str_ok(&p->url);
}

etl_status es_send(es_conn *c, const char *method, const char *path, const char *body,
                   size_t len, uint32_t flags, etl_http_response *resp)
{
    es_request r = {0};
    *resp = (etl_http_response){.struct_size = sizeof *resp};
    etl_status st = fill_request(c, &r, method, path, body, len, flags)
                        ? es_host->http_send(c->ctx, &r.req, resp)
                        : es_host->set_error(c->ctx, ETL_ERR_NOMEM, 0, "out of memory");
    es_str_free(&r.url);
    return st;
}

bool es_can_start(void)
{
    return es_host->abi_minor >= 2 &&
           es_host->struct_size >= offsetof(etl_host_api, http_wait) + sizeof es_host->http_wait;
}

etl_status es_start(es_conn *c, es_request *r, const char *method, const char *path,
                    const char *body, size_t len, uint32_t flags, etl_http_prepare prepare,
                    void *prepare_arg)
{
    if (!fill_request(c, r, method, path, body, len, flags))
        return es_host->set_error(c->ctx, ETL_ERR_NOMEM, 0, "out of memory");
    etl_status st = es_host->http_start(c->ctx, &r->req, prepare, prepare_arg);
    r->started = st == ETL_OK;
    return st;
}

etl_status es_wait(es_conn *c, es_request *r, etl_http_response *resp)
{
    *resp = (etl_http_response){.struct_size = sizeof *resp};
    r->started = false;
    return es_host->http_wait(c->ctx, resp);
}

void es_request_free(es_request *r)
{
    es_str_free(&r->url);
}

/* ------------------------------------------------------------------ errors */

static void copy_string(ej_span v, char *out, size_t cap)
{
    if (!ej_string(v, out, cap))
        out[0] = '\0';
}

/* The start of a body that is not JSON, made printable. */
static void body_excerpt(const char *body, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < cap && n < 200; i++) {
        unsigned char ch = (unsigned char)body[i];
        out[n++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    out[n] = '\0';
}

void es_error_parse(const char *body, size_t len, int status, es_error *e)
{
    *e = (es_error){.status = status};
    ej_span root, error, v;
    if (body == NULL || !ej_root(body, len, &root) || ej_kind_of(root) != EJ_OBJECT ||
        !ej_get(root, "error", &error)) {
        if (body)
            body_excerpt(body, len, e->reason, sizeof e->reason);
        return;
    }
    if (ej_kind_of(error) == EJ_STRING) {
        copy_string(error, e->reason, sizeof e->reason);
        return;
    }
    if (ej_get(error, "type", &v))
        copy_string(v, e->type, sizeof e->type);
    if (ej_get(error, "reason", &v))
        copy_string(v, e->reason, sizeof e->reason);
    ej_span causes, first;
    ej_iter it;
    if (ej_get(error, "root_cause", &causes) && ej_elements(causes, &it) &&
        ej_next_element(&it, &first)) {
        if (ej_get(first, "type", &v))
            copy_string(v, e->cause, sizeof e->cause);
        /* "all shards failed" says less than the root cause's reason. */
        if (strcmp(e->reason, "all shards failed") == 0 && ej_get(first, "reason", &v))
            copy_string(v, e->reason, sizeof e->reason);
    }
    if (e->cause[0] == '\0' && ej_get_path(error, "caused_by.type", &v))
        copy_string(v, e->cause, sizeof e->cause);
}

bool es_error_is_context_missing(const es_error *e)
{
    return e->status == 404 && (strcmp(e->type, "search_context_missing_exception") == 0 ||
                                strcmp(e->cause, "search_context_missing_exception") == 0);
}

etl_status es_error_status(const es_error *e)
{
    switch (e->status) {
    case 408: case 429: case 500: case 502: case 503: case 504: return ETL_ERR_RETRY;
    case 401: case 403: return ETL_ERR_AUTH;
    case 400: case 404: case 405: return ETL_ERR_CONFIG;
    default: return e->status >= 200 && e->status < 300 ? ETL_OK : ETL_ERR_PERMANENT;
    }
}

static const char *advice(const es_error *e)
{
    if (e->status == 401 || e->status == 403)
        return ": check username/password, api_key or bearer_token and the user's privileges";
    if (strcmp(e->type, "index_not_found_exception") == 0)
        return ": check the index option";
    if (e->status == 429 || e->status == 503)
        return ": the cluster is overloaded; the request rate is lowered and the request retried";
    if (e->status == 400)
        return ": check query, source_includes/excludes and sort fields";
    return "";
}

etl_status es_fail(es_conn *c, const char *method, const char *path, const etl_http_response *resp)
{
    es_error e;
    es_error_parse(resp->body.data, resp->body.len, resp->status, &e);
    etl_status st = es_error_status(&e);
    const char *type = e.type[0] ? e.type : "error";
    bool show_cause = e.cause[0] && strcmp(e.cause, e.type) != 0;
    return es_host->set_error(c->ctx, st, resp->status, "%s %s%s: HTTP %d %s%s%s%s: %s%s", method,
                              c->base, path, resp->status, type, show_cause ? " (" : "",
                              show_cause ? e.cause : "", show_cause ? ")" : "", e.reason,
                              advice(&e));
}

etl_status es_check_complete(ej_span timed_out, ej_span shards, char *why, size_t cap)
{
    ej_span v;
    int64_t failed = 0, total = 0;
    if (ej_kind_of(timed_out) == EJ_TRUE) {
        snprintf(why, cap, "the search timed out (timed_out: true): its results are partial");
        return ETL_ERR_RETRY;
    }
    if (ej_kind_of(shards) == EJ_OBJECT && ej_get(shards, "failed", &v) && ej_int64(v, &failed) &&
        failed > 0) {
        if (ej_get(shards, "total", &v))
            ej_int64(v, &total);
        char reason[200] = "";
        ej_span failures, first, r;
        ej_iter it;
        if (ej_get(shards, "failures", &failures) && ej_elements(failures, &it) &&
            ej_next_element(&it, &first) && ej_get_path(first, "reason.reason", &r))
            copy_string(r, reason, sizeof reason);
        snprintf(why, cap, "%lld of %lld shards failed%s%s: the results are partial",
                 (long long)failed, (long long)total, reason[0] ? ": " : "", reason);
        return ETL_ERR_RETRY;
    }
    return ETL_OK;
}
