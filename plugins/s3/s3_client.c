/* The S3 client: locations, credentials, requests and errors (s3_client.h). */
#include "s3_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "s3_xml.h"

#define MAX_SMALL_FILE (1024 * 1024)

/* ---- locations ------------------------------------------------------- */

static bool bucket_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

bool s3_parse_url(const char *url, char **bucket, char **prefix, const char **why)
{
    *bucket = *prefix = NULL;
    if (url == NULL || strncmp(url, "s3://", 5) != 0) {
        *why = "it must start with s3:// (s3://bucket/prefix/)";
        return false;
    }
    const char *b = url + 5;
    size_t blen = strcspn(b, "/");
    for (size_t i = 0; i < blen; i++) {
        if (!bucket_char(b[i])) {
            *why = "a bucket name has only lowercase letters, digits, '.', '-' and '_'";
            return false;
        }
    }
    if (blen < 3 || blen > 63) {
        *why = "a bucket name has 3 to 63 characters";
        return false;
    }
    const char *p = b + blen;
    while (*p == '/')
        p++;
    size_t plen = strlen(p);
    if (strstr(p, "//") != NULL) {
        *why = "the prefix has an empty path segment (//)";
        return false;
    }
    *bucket = s3_strndup(b, blen);
    *prefix = s3_host->alloc(plen + 2);
    if (*bucket == NULL || *prefix == NULL) {
        s3_host->free(*bucket);
        s3_host->free(*prefix);
        *bucket = *prefix = NULL;
        *why = "out of memory";
        return false;
    }
    memcpy(*prefix, p, plen);
    /* The prefix is a folder: "a/b" and "a/b/" both mean the keys under a/b/. */
    if (plen > 0 && p[plen - 1] != '/')
        (*prefix)[plen++] = '/';
    (*prefix)[plen] = '\0';
    return true;
}

char *s3_normalize_endpoint(const char *text, const char **why)
{
    const char *rest = text;
    const char *scheme = "https";
    if (strncmp(text, "http://", 7) == 0) {
        scheme = "http";
        rest = text + 7;
    } else if (strncmp(text, "https://", 8) == 0) {
        rest = text + 8;
    } else if (strstr(text, "://") != NULL) {
        *why = "only http:// and https:// endpoints are supported";
        return NULL;
    }
    size_t hlen = strcspn(rest, "/?#");
    if (hlen == 0) {
        *why = "the endpoint has no host";
        return NULL;
    }
    for (const char *p = rest + hlen; *p; p++) {
        if (*p != '/') {
            *why = "the endpoint must be scheme://host[:port] with no path or query (the bucket "
                   "goes in url)";
            return NULL;
        }
    }
    if (memchr(rest, '@', hlen) != NULL) {
        *why = "credentials do not belong in the endpoint: use access_key_id and "
               "secret_access_key";
        return NULL;
    }
    etl_buf out = {0};
    if (s3_host->buf_printf(&out, "%s://%.*s", scheme, (int)hlen, rest) != ETL_OK) {
        *why = "out of memory";
        return NULL;
    }
    return out.data;
}

bool s3_uri_encode(etl_buf *out, const char *s, size_t n, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '.' || c == '_' || c == '~' || (c == '/' && keep_slash);
        char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
        if (s3_host->buf_append(out, plain ? (const char *)&s[i] : enc, plain ? 1 : 3) != ETL_OK)
            return false;
    }
    return true;
}

bool s3_object_url(const s3_client *c, const char *key, const char *query, etl_buf *out)
{
    out->len = 0;
    const char *host = strstr(c->endpoint, "://") + 3;
    int scheme_len = (int)(host - c->endpoint);
    etl_status st = c->path_style
                        ? s3_host->buf_printf(out, "%s/%s", c->endpoint, c->bucket)
                        : s3_host->buf_printf(out, "%.*s%s.%s", scheme_len, c->endpoint,
                                              c->bucket, host);
    if (st == ETL_OK)
        st = s3_host->buf_append(out, "/", 1);
    if (st == ETL_OK && key != NULL && !s3_uri_encode(out, key, strlen(key), true))
        st = ETL_ERR_NOMEM;
    if (st == ETL_OK && query != NULL && *query)
        st = s3_host->buf_printf(out, "?%s", query);
    return st == ETL_OK && s3_host->buf_append(out, "", 1) == ETL_OK && (out->len--, true);
}

void s3_describe(const s3_client *c, const char *key, etl_buf *out)
{
    out->len = 0;
    s3_host->buf_printf(out, "s3://%s/%s", c->bucket, key ? key : "");
}

/* ---- credentials ------------------------------------------------------- */

static void trim_bounds(const char **p, const char **end)
{
    while (*p < *end && (**p == ' ' || **p == '\t' || **p == '\r'))
        (*p)++;
    while (*end > *p && ((*end)[-1] == ' ' || (*end)[-1] == '\t' || (*end)[-1] == '\r'))
        (*end)--;
}

/* Is the section header [name] or [profile name] the wanted profile? */
static bool section_is(const char *p, const char *end, const char *profile)
{
    p++;
    const char *close = memchr(p, ']', (size_t)(end - p));
    if (close == NULL)
        return false;
    trim_bounds(&p, &close);
    if ((size_t)(close - p) > 8 && memcmp(p, "profile", 7) == 0 && (p[7] == ' ' || p[7] == '\t')) {
        p += 8;
        trim_bounds(&p, &close);
    }
    return strlen(profile) == (size_t)(close - p) && memcmp(p, profile, (size_t)(close - p)) == 0;
}

static void set_field(char **field, const char *v, const char *vend)
{
    s3_host->free(*field);
    *field = s3_strndup(v, (size_t)(vend - v));
}

bool s3_profile_parse(const char *text, size_t len, const char *profile, s3_credentials *cred)
{
    const char *p = text, *end = text + len;
    bool inside = false;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *lend = eol ? eol : end;
        const char *l = p;
        trim_bounds(&l, &lend);
        p = eol ? eol + 1 : end;
        if (l == lend || *l == '#' || *l == ';')
            continue;
        if (*l == '[') {
            inside = section_is(l, lend, profile);
            continue;
        }
        const char *eq = memchr(l, '=', (size_t)(lend - l));
        if (!inside || eq == NULL)
            continue;
        const char *k = l, *kend = eq, *v = eq + 1, *vend = lend;
        trim_bounds(&k, &kend);
        trim_bounds(&v, &vend);
        size_t klen = (size_t)(kend - k);
        if (klen == 17 && memcmp(k, "aws_access_key_id", 17) == 0)
            set_field(&cred->access_key_id, v, vend);
        else if (klen == 21 && memcmp(k, "aws_secret_access_key", 21) == 0)
            set_field(&cred->secret_access_key, v, vend);
        else if (klen == 17 && memcmp(k, "aws_session_token", 17) == 0)
            set_field(&cred->session_token, v, vend);
    }
    return cred->access_key_id != NULL && cred->secret_access_key != NULL &&
           *cred->access_key_id && *cred->secret_access_key;
}

/* A small text file into out; errno-style failure. */
static bool read_small_file(const char *path, etl_buf *out)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return false;
    char chunk[4096];
    size_t n;
    bool ok = true;
    while (ok && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ok = out->len + n <= MAX_SMALL_FILE && s3_host->buf_append(out, chunk, n) == ETL_OK;
    ok = ok && !ferror(f);
    fclose(f);
    if (!ok)
        errno = errno ? errno : EFBIG;
    return ok;
}

static void credentials_free(s3_credentials *cred)
{
    s3_host->free(cred->access_key_id);
    s3_host->free(cred->secret_access_key);
    s3_host->free(cred->session_token);
    memset(cred, 0, sizeof *cred);
}

static const char *nonempty(const char *s) { return s && *s ? s : NULL; }

static etl_status config_error(s3_client *c, const etl_options *opts, const char *key,
                               const char *what)
{
    return s3_host->set_error(c->ctx, ETL_ERR_CONFIG, 0, "%s: %s", s3_host->opt_where(opts, key),
                              what);
}

static etl_status from_options(s3_client *c, const etl_options *opts)
{
    const char *id = nonempty(s3_host->opt_string(opts, "access_key_id"));
    const char *secret = nonempty(s3_host->opt_string(opts, "secret_access_key"));
    const char *secret_file = nonempty(s3_host->opt_string(opts, "secret_access_key_file"));
    if (id == NULL)
        return config_error(c, opts, "secret_access_key",
                            "a secret access key without access_key_id: give both");
    c->cred.access_key_id = s3_strdup(id);
    if (secret_file != NULL) {
        etl_buf text = {0};
        if (!read_small_file(secret_file, &text)) {
            int err = errno;
            s3_host->buf_free(&text);
            return s3_host->set_error(c->ctx, ETL_ERR_CONFIG, err, "%s: cannot read %s: %s",
                                      s3_host->opt_where(opts, "secret_access_key_file"),
                                      secret_file, strerror(err));
        }
        const char *v = text.data ? text.data : "", *vend = v + text.len;
        trim_bounds(&v, &vend);
        while (vend > v && vend[-1] == '\n') {
            vend--;
            trim_bounds(&v, &vend);
        }
        c->cred.secret_access_key = s3_strndup(v, (size_t)(vend - v));
        s3_host->buf_free(&text);
        if (c->cred.secret_access_key && !*c->cred.secret_access_key)
            return config_error(c, opts, "secret_access_key_file", "the secret file is empty");
    } else if (secret != NULL) {
        c->cred.secret_access_key = s3_strdup(secret);
    } else {
        return config_error(c, opts, "access_key_id",
                            "access_key_id without secret_access_key (or secret_access_key_file): "
                            "give both");
    }
    const char *token = nonempty(s3_host->opt_string(opts, "session_token"));
    c->cred.session_token = token ? s3_strdup(token) : NULL;
    snprintf(c->cred.source, sizeof c->cred.source, "the pipeline's access_key_id and %s",
             secret_file ? "secret_access_key_file" : "secret_access_key");
    return ETL_OK;
}

static etl_status from_environment(s3_client *c)
{
    const char *id = nonempty(getenv("AWS_ACCESS_KEY_ID"));
    const char *secret = nonempty(getenv("AWS_SECRET_ACCESS_KEY"));
    if (!id != !secret)
        return s3_host->set_error(c->ctx, ETL_ERR_CONFIG, 0,
                                  "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set "
                                  "in the environment: set both, or neither");
    c->cred.access_key_id = s3_strdup(id);
    c->cred.secret_access_key = s3_strdup(secret);
    const char *token = nonempty(getenv("AWS_SESSION_TOKEN"));
    c->cred.session_token = token ? s3_strdup(token) : NULL;
    snprintf(c->cred.source, sizeof c->cred.source,
             "the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY%s)",
             token ? ", AWS_SESSION_TOKEN" : "");
    return ETL_OK;
}

static etl_status from_profile(s3_client *c, const etl_options *opts)
{
    const char *profile = nonempty(s3_host->opt_string(opts, "profile"));
    bool explicit_profile = profile != NULL || nonempty(getenv("AWS_PROFILE")) != NULL;
    if (profile == NULL)
        profile = nonempty(getenv("AWS_PROFILE"));
    if (profile == NULL)
        profile = "default";
    const char *file = nonempty(s3_host->opt_string(opts, "credentials_file"));
    if (file == NULL)
        file = nonempty(getenv("AWS_SHARED_CREDENTIALS_FILE"));
    explicit_profile = explicit_profile || file != NULL;
    char home_file[4096];
    if (file == NULL) {
        const char *home = getenv("HOME");
        snprintf(home_file, sizeof home_file, "%s/.aws/credentials", home ? home : "");
        file = home_file;
    }
    etl_buf text = {0};
    bool readable = read_small_file(file, &text);
    int err = errno;
    bool found = readable && s3_profile_parse(text.data ? text.data : "", text.len, profile,
                                              &c->cred);
    s3_host->buf_free(&text);
    if (found) {
        snprintf(c->cred.source, sizeof c->cred.source, "profile '%.40s' of %.240s", profile, file);
        return ETL_OK;
    }
    credentials_free(&c->cred);
    if (!readable && explicit_profile)
        return s3_host->set_error(c->ctx, ETL_ERR_CONFIG, err,
                                  "cannot read the shared credentials file %s: %s", file,
                                  strerror(err));
    if (readable)
        return s3_host->set_error(c->ctx, ETL_ERR_CONFIG, 0,
                                  "%s has no profile '%s' with aws_access_key_id and "
                                  "aws_secret_access_key", file, profile);
    return s3_host->set_error(c->ctx, ETL_ERR_CONFIG, 0,
                              "no S3 credentials: set access_key_id and secret_access_key in the "
                              "pipeline (with ${VAR}), or AWS_ACCESS_KEY_ID and "
                              "AWS_SECRET_ACCESS_KEY, or a profile in %s; or anonymous: true for "
                              "a public bucket", file);
}

static etl_status resolve_credentials(s3_client *c, const etl_options *opts)
{
    if (c->anonymous) {
        snprintf(c->cred.source, sizeof c->cred.source, "none (anonymous: true)");
        return ETL_OK;
    }
    etl_status st;
    if (nonempty(s3_host->opt_string(opts, "access_key_id")) ||
        nonempty(s3_host->opt_string(opts, "secret_access_key")) ||
        nonempty(s3_host->opt_string(opts, "secret_access_key_file")))
        st = from_options(c, opts);
    else if (nonempty(getenv("AWS_ACCESS_KEY_ID")) || nonempty(getenv("AWS_SECRET_ACCESS_KEY")))
        st = from_environment(c);
    else
        st = from_profile(c, opts);
    if (st == ETL_OK && (c->cred.access_key_id == NULL || c->cred.secret_access_key == NULL))
        return s3_host->set_error(c->ctx, ETL_ERR_NOMEM, 0, "S3: out of memory");
    return st;
}

/* ---- open ------------------------------------------------------------------ */

static bool want_path_style(const etl_options *opts, bool has_endpoint, const char *bucket)
{
    bool v = false;
    if (s3_host->opt_is_set(opts, "path_style") && s3_host->opt_bool(opts, "path_style", &v))
        return v;
    /* Dots break TLS under virtual hosting; emulators want path style. */
    return has_endpoint || strchr(bucket, '.') != NULL;
}

static etl_status read_location(s3_client *c, const etl_options *opts)
{
    const char *why = NULL;
    if (!s3_parse_url(s3_host->opt_string(opts, "url"), &c->bucket, &c->prefix, &why))
        return config_error(c, opts, "url", why);
    const char *region = nonempty(s3_host->opt_string(opts, "region"));
    if (region == NULL)
        region = nonempty(getenv("AWS_REGION"));
    if (region == NULL)
        region = nonempty(getenv("AWS_DEFAULT_REGION"));
    c->region = s3_strdup(region ? region : "us-east-1");
    const char *endpoint = nonempty(s3_host->opt_string(opts, "endpoint"));
    if (endpoint != NULL) {
        c->endpoint = s3_normalize_endpoint(endpoint, &why);
        if (c->endpoint == NULL)
            return config_error(c, opts, "endpoint", why);
    } else {
        etl_buf e = {0};
        s3_host->buf_printf(&e, "https://s3.%s.amazonaws.com", c->region);
        c->endpoint = e.data;
    }
    c->path_style = want_path_style(opts, endpoint != NULL, c->bucket);
    const char *ca = nonempty(s3_host->opt_string(opts, "ca_file"));
    c->ca_file = ca ? s3_strdup(ca) : NULL;
    if (c->region == NULL || c->endpoint == NULL || (ca && c->ca_file == NULL))
        return s3_host->set_error(c->ctx, ETL_ERR_NOMEM, 0, "S3: out of memory");
    return ETL_OK;
}

etl_status s3_client_open(etl_ctx *ctx, const etl_options *opts, s3_client **out)
{
    s3_client *c = s3_host->alloc(sizeof *c);
    if (c == NULL)
        return s3_host->set_error(ctx, ETL_ERR_NOMEM, 0, "S3: out of memory");
    memset(c, 0, sizeof *c);
    c->ctx = ctx;
    c->payload_hash = "UNSIGNED-PAYLOAD";
    s3_host->opt_bool(opts, "anonymous", &c->anonymous);
    etl_status st = read_location(c, opts);
    if (st == ETL_OK)
        st = resolve_credentials(c, opts);
    if (st != ETL_OK) {
        s3_client_free(c);
        return st;
    }
    s3_host->log(ctx, ETL_LOG_DEBUG, "S3 bucket %s at %s (%s style, region %s), credentials from %s",
                 c->bucket, c->endpoint, c->path_style ? "path" : "virtual-hosted", c->region,
                 c->cred.source);
    *out = c;
    return ETL_OK;
}

void s3_client_free(s3_client *c)
{
    if (c == NULL)
        return;
    credentials_free(&c->cred);
    s3_host->free(c->bucket);
    s3_host->free(c->prefix);
    s3_host->free(c->endpoint);
    s3_host->free(c->region);
    s3_host->free(c->ca_file);
    s3_host->free(c);
}

/* ---- requests ---------------------------------------------------------------- */

etl_status s3_send(s3_client *c, const s3_call *call, etl_http_response *resp)
{
    etl_buf url = {0};
    if (!s3_object_url(c, call->key, call->query, &url)) {
        s3_host->buf_free(&url);
        return s3_host->set_error(c->ctx, ETL_ERR_NOMEM, 0, "S3: out of memory");
    }
    bool sign = !c->anonymous;
    etl_http_request req = {
        .struct_size = sizeof req,
        .method = call->method,
        .url = url.data,
        .header_names = call->header_names,
        .header_values = call->header_values,
        .header_count = call->header_count,
        .body = call->body,
        .body_len = call->body_len,
        .flags = (call->retry ? ETL_HTTP_RETRY : 0) | (c->throttled ? 0 : ETL_HTTP_NO_THROTTLE),
        .ca_file = c->ca_file,
        .sigv4_service = sign ? "s3" : NULL,
        .sigv4_region = sign ? c->region : NULL,
        .access_key_id = sign ? c->cred.access_key_id : NULL,
        .secret_access_key = sign ? c->cred.secret_access_key : NULL,
        .session_token = sign ? c->cred.session_token : NULL,
        .sigv4_flags = ETL_SIGV4_S3,
        /* Small bodies are cheap to hash; big ones carry a CRC32C instead. */
        .payload_hash = call->body_len == 0 || call->sign_payload ? NULL : c->payload_hash,
        .max_response_bytes = call->max_response_bytes,
    };
    etl_status st = s3_host->http_send(c->ctx, &req, resp);
    s3_host->buf_free(&url);
    return st;
}

etl_status s3_status_for(int http, const char *code)
{
    static const char *const auth[] = {"SignatureDoesNotMatch", "InvalidAccessKeyId",
                                       "AccessDenied", "ExpiredToken", "InvalidToken",
                                       "TokenRefreshRequired", "RequestTimeTooSkewed",
                                       "InvalidClientTokenId", "AccountProblem", NULL};
    static const char *const retry[] = {"SlowDown", "InternalError", "ServiceUnavailable",
                                        "RequestTimeout", "Throttling", "ThrottlingException",
                                        "RequestLimitExceeded", "PriorRequestNotComplete",
                                        "ConditionalRequestConflict", "OperationAborted", NULL};
    static const char *const config[] = {"NoSuchBucket", "PermanentRedirect",
                                         "AuthorizationHeaderMalformed", "InvalidBucketName",
                                         "IllegalLocationConstraintException", NULL};
    code = code ? code : "";
    for (int i = 0; auth[i]; i++)
        if (strcmp(code, auth[i]) == 0)
            return ETL_ERR_AUTH;
    for (int i = 0; retry[i]; i++)
        if (strcmp(code, retry[i]) == 0)
            return ETL_ERR_RETRY;
    for (int i = 0; config[i]; i++)
        if (strcmp(code, config[i]) == 0)
            return ETL_ERR_CONFIG;
    if (http == 412 || strcmp(code, "PreconditionFailed") == 0)
        return ETL_ERR_CONFLICT;
    if (http == 401 || http == 403)
        return ETL_ERR_AUTH;
    if (http == 429 || http >= 500 || http == 0)
        return ETL_ERR_RETRY;
    if (http == 301 || http == 307)
        return ETL_ERR_CONFIG;
    return ETL_ERR_PERMANENT;
}

static const char *advice_for(etl_status st, const char *code)
{
    if (strcmp(code, "NoSuchBucket") == 0)
        return "create the bucket, or fix url/endpoint";
    if (strcmp(code, "PermanentRedirect") == 0 || strcmp(code, "AuthorizationHeaderMalformed") == 0)
        return "the bucket is in another region: set region";
    if (strcmp(code, "RequestTimeTooSkewed") == 0)
        return "this machine's clock is off: fix it";
    if (st == ETL_ERR_AUTH)
        return "check the credentials and the bucket's permissions";
    if (st == ETL_ERR_RETRY)
        return "the service is overloaded or failing: it was retried with backoff";
    return NULL;
}

etl_status s3_fail(s3_client *c, const s3_call *call, const etl_http_response *resp)
{
    etl_buf code = {0}, message = {0}, text = {0};
    const char *body = resp->body.data ? resp->body.data : "";
    if (!s3_xml_error(body, resp->body.len, &code, &message))
        code.len = message.len = 0;
    const char *code_text = code.len ? code.data : "";
    etl_status st = s3_status_for(resp->status, code_text);
    s3_host->buf_printf(&text, "S3 %s s3://%s/%s (%s): HTTP %d", call->method ? call->method : "GET",
                        c->bucket, call->key ? call->key : "", c->endpoint, (int)resp->status);
    if (code.len)
        s3_host->buf_printf(&text, " %s", code_text);
    if (message.len)
        s3_host->buf_printf(&text, ": %s", message.data);
    if (code.len == 0 && resp->body.len == 0)
        s3_host->buf_printf(&text, " (no error body)");
    if (st == ETL_ERR_AUTH)
        s3_host->buf_printf(&text, "; credentials from %s", c->cred.source);
    const char *advice = advice_for(st, code_text);
    if (advice)
        s3_host->buf_printf(&text, "; %s", advice);
    st = s3_host->set_error(c->ctx, st, resp->status, "%s", text.data ? text.data : "S3 error");
    s3_host->buf_free(&code);
    s3_host->buf_free(&message);
    s3_host->buf_free(&text);
    return st;
}

etl_status s3_request(s3_client *c, const s3_call *call, etl_http_response *resp,
                      const int *ok_statuses)
{
    etl_status st = s3_send(c, call, resp);
    if (st != ETL_OK)
        return st;
    if (resp->status >= 200 && resp->status < 300)
        return ETL_OK;
    for (const int *s = ok_statuses; s && *s; s++)
        if (resp->status == *s)
            return ETL_OK;
    return s3_fail(c, call, resp);
}

const char *s3_etag(const etl_http_response *resp)
{
    const char *etag = s3_host->http_header(resp, "ETag");
    return etag && *etag ? etag : NULL;
}
