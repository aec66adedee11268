/* AWS Signature Version 4, header and query (presigned) forms. The steps
 * follow the AWS "create a signed request" guide: canonical request, string
 * to sign, derived key, signature. Checked against AWS's own test vectors
 * (tests/unit/test_sigv4.c). */
#include "sigv4.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR "aws4_request"
#define SIGV4_MAX_EXPIRES_S 604800L   /* AWS caps presigned URLs at 7 days */
#define SIGV4_PRESIGN_PARAMS 6

/* -------------------------------------------------------------------- */
/* Hashing                                                              */
/* -------------------------------------------------------------------- */

static void hex_encode(const unsigned char *bytes, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[bytes[i] >> 4];
        hex[2 * i + 1] = digits[bytes[i] & 0x0f];
    }
    hex[2 * n] = '\0';
}

void sigv4_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    static const char empty = 0;
    EVP_Digest(data ? data : &empty, len, digest, &digest_len, EVP_sha256(), NULL);
    hex_encode(digest, 32, hex);
}

static void hmac_sha256(const void *key, size_t key_len, const char *msg,
                        unsigned char mac[32])
{
    unsigned int mac_len = 32;
    HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg, strlen(msg), mac,
         &mac_len);
}

/* -------------------------------------------------------------------- */
/* Percent-encoding                                                     */
/* -------------------------------------------------------------------- */

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static etl_status append_encoded_byte(etl_buf *out, unsigned char c, bool keep_slash)
{
    if (is_unreserved(c) || (keep_slash && c == '/'))
        return buf_append_char(out, (char)c);
    return buf_printf(out, "%%%02X", c);
}

etl_status sigv4_uri_encode(etl_buf *out, const char *s, size_t len, bool keep_slash)
{
    if (buf_reserve(out, len) != ETL_OK)
        return ETL_ERR_NOMEM;
    for (size_t i = 0; i < len; i++)
        if (append_encoded_byte(out, (unsigned char)s[i], keep_slash) != ETL_OK)
            return ETL_ERR_NOMEM;
    return ETL_OK;
}

/* Rewrites text that is already on the wire into its canonical single
 * encoding: "%7e" becomes "~", a literal space "%20", "+" "%2B". Only
 * literal slashes survive as '/' (when keep_slash): an escaped one stays
 * escaped. A '%' not followed by two hex digits stands for itself. */
static etl_status recode_wire_text(etl_buf *out, const char *s, size_t len, bool keep_slash)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool slash_ok = keep_slash;
        if (c == '%' && i + 2 < len && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            c = (unsigned char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            slash_ok = false;
            i += 2;
        }
        if (append_encoded_byte(out, c, slash_ok) != ETL_OK)
            return ETL_ERR_NOMEM;
    }
    return ETL_OK;
}

/* -------------------------------------------------------------------- */
/* Errors                                                               */
/* -------------------------------------------------------------------- */

static etl_status fail(sigv4_result *out, const char *fmt, ...) ETL_PRINTF(2, 3);

static etl_status fail(sigv4_result *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->error, sizeof out->error, fmt, ap);
    va_end(ap);
    return ETL_ERR_CONFIG;
}

static etl_status out_of_memory(sigv4_result *out)
{
    snprintf(out->error, sizeof out->error, "sigv4: out of memory");
    return ETL_ERR_NOMEM;
}

/* -------------------------------------------------------------------- */
/* Canonical URI                                                        */
/* -------------------------------------------------------------------- */

/* RFC 3986 remove_dot_segments, plus empty segments dropped ("//" -> "/").
 * A path that ends in '/', "." or ".." keeps a trailing slash. */
static etl_status normalize_path(etl_buf *out, const char *path)
{
    size_t len = strlen(path), max_segments = 1;
    for (size_t i = 0; i < len; i++)
        max_segments += path[i] == '/';
    size_t *starts = malloc(max_segments * sizeof *starts);
    size_t *lens = malloc(max_segments * sizeof *lens);
    if (starts == NULL || lens == NULL) {
        free(starts);
        free(lens);
        return ETL_ERR_NOMEM;
    }
    size_t kept = 0;
    bool trailing_slash = false;
    for (size_t pos = 0; pos <= len;) {
        size_t end = pos;
        while (end < len && path[end] != '/')
            end++;
        size_t n = end - pos;
        bool dot = n == 1 && path[pos] == '.';
        bool dotdot = n == 2 && path[pos] == '.' && path[pos + 1] == '.';
        if (dotdot && kept > 0)
            kept--;
        if (n > 0 && !dot && !dotdot) {
            starts[kept] = pos;
            lens[kept++] = n;
        }
        trailing_slash = n == 0 || dot || dotdot;
        pos = end + 1;
    }
    etl_status st = ETL_OK;
    for (size_t i = 0; i < kept && st == ETL_OK; i++) {
        st = buf_append_char(out, '/');
        if (st == ETL_OK)
            st = buf_append(out, path + starts[i], lens[i]);
    }
    if (st == ETL_OK && (kept == 0 || trailing_slash))
        st = buf_append_char(out, '/');
    free(starts);
    free(lens);
    return st;
}

static etl_status canonical_uri(etl_buf *out, const char *path, unsigned flags)
{
    const char *p = path && *path ? path : "/";
    etl_buf normalized = {0};
    etl_status st = ETL_OK;
    if (flags & SIGV4_NORMALIZE_PATH) {
        st = normalize_path(&normalized, p);
        p = buf_cstr(&normalized);
    }
    if (st == ETL_OK && (flags & SIGV4_DOUBLE_ENCODE_PATH))
        st = sigv4_uri_encode(out, p, strlen(p), true);
    else if (st == ETL_OK)
        st = recode_wire_text(out, p, strlen(p), true);
    buf_free(&normalized);
    return st;
}

/* -------------------------------------------------------------------- */
/* Canonical query                                                      */
/* -------------------------------------------------------------------- */

typedef struct query_param {
    etl_buf key;                     /* both canonically encoded */
    etl_buf value;
} query_param;

typedef struct query_list {
    query_param *items;
    size_t count, cap;
} query_list;

static void query_list_free(query_list *q)
{
    for (size_t i = 0; i < q->count; i++) {
        buf_free(&q->items[i].key);
        buf_free(&q->items[i].value);
    }
    free(q->items);
}

static query_param *query_list_push(query_list *q)
{
    if (q->count == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 8;
        query_param *items = realloc(q->items, cap * sizeof *items);
        if (items == NULL)
            return NULL;
        q->items = items;
        q->cap = cap;
    }
    query_param *p = &q->items[q->count++];
    memset(p, 0, sizeof *p);
    return p;
}

/* Splits "a=1&b&c=%2F" into canonically encoded pairs; "b" gets value "". */
static etl_status parse_query(query_list *q, const char *query)
{
    for (const char *p = query ? query : ""; *p;) {
        size_t n = strcspn(p, "&");
        if (n > 0) {
            const char *eq = memchr(p, '=', n);
            size_t key_len = eq ? (size_t)(eq - p) : n;
            query_param *param = query_list_push(q);
            if (param == NULL || recode_wire_text(&param->key, p, key_len, false) != ETL_OK ||
                (eq && recode_wire_text(&param->value, eq + 1, n - key_len - 1, false) != ETL_OK))
                return ETL_ERR_NOMEM;
        }
        p += n + (p[n] == '&');
    }
    return ETL_OK;
}

static etl_status query_add_raw(query_list *q, const char *key, const char *value)
{
    query_param *param = query_list_push(q);
    if (param == NULL || sigv4_uri_encode(&param->key, key, strlen(key), false) != ETL_OK ||
        sigv4_uri_encode(&param->value, value, strlen(value), false) != ETL_OK)
        return ETL_ERR_NOMEM;
    return ETL_OK;
}

static int compare_params(const void *a, const void *b)
{
    const query_param *x = a, *y = b;
    int by_key = strcmp(x->key.data, y->key.data);
    return by_key ? by_key : strcmp(x->value.data, y->value.data);
}

static etl_status query_join_sorted(query_list *q, etl_buf *out)
{
    for (size_t i = 0; i < q->count; i++) {
        buf_cstr(&q->items[i].key);
        buf_cstr(&q->items[i].value);
        if (q->items[i].key.data == NULL || q->items[i].value.data == NULL)
            return ETL_ERR_NOMEM;
    }
    if (q->count > 1)
        qsort(q->items, q->count, sizeof *q->items, compare_params);
    for (size_t i = 0; i < q->count; i++)
        if (buf_printf(out, "%s%s=%s", i ? "&" : "", q->items[i].key.data,
                       q->items[i].value.data) != ETL_OK)
            return ETL_ERR_NOMEM;
    return ETL_OK;
}

/* -------------------------------------------------------------------- */
/* Canonical headers                                                    */
/* -------------------------------------------------------------------- */

typedef struct canon_header {
    etl_buf name;                    /* lowercase */
    etl_buf value;                   /* trimmed, inner whitespace runs collapsed */
    size_t order;                    /* keeps repeated names in request order */
} canon_header;

typedef struct header_list {
    canon_header *items;
    size_t count, cap;
} header_list;

static void header_list_free(header_list *h)
{
    for (size_t i = 0; i < h->count; i++) {
        buf_free(&h->items[i].name);
        buf_free(&h->items[i].value);
    }
    free(h->items);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static bool valid_header_name(const char *name)
{
    if (name == NULL || *name == '\0')
        return false;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p <= ' ' || *p == ':' || *p == 0x7f)
            return false;
    return true;
}

static etl_status header_list_add(header_list *h, const char *name, const char *value)
{
    if (h->count == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 8;
        canon_header *items = realloc(h->items, cap * sizeof *items);
        if (items == NULL)
            return ETL_ERR_NOMEM;
        h->items = items;
        h->cap = cap;
    }
    canon_header *hd = &h->items[h->count];
    memset(hd, 0, sizeof *hd);
    hd->order = h->count++;
    for (const char *p = name; *p; p++) {
        char c = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;
        if (buf_append_char(&hd->name, c) != ETL_OK)
            return ETL_ERR_NOMEM;
    }
    const char *v = value ? value : "";
    while (is_space(*v))
        v++;
    for (; *v; v++) {
        if (is_space(*v)) {
            while (is_space(v[1]))
                v++;
            if (v[1] == '\0')
                break;
        }
        if (buf_append_char(&hd->value, is_space(*v) ? ' ' : *v) != ETL_OK)
            return ETL_ERR_NOMEM;
    }
    buf_cstr(&hd->name);
    buf_cstr(&hd->value);
    return hd->name.data && hd->value.data ? ETL_OK : ETL_ERR_NOMEM;
}

static int compare_headers(const void *a, const void *b)
{
    const canon_header *x = a, *y = b;
    int by_name = strcmp(x->name.data, y->name.data);
    if (by_name)
        return by_name;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Names the signer sets itself; a caller's copy would be signed twice. */
static bool signer_owns_header(const char *lower_name, unsigned flags, bool presign)
{
    if (strcmp(lower_name, "authorization") == 0 || strcmp(lower_name, "x-amz-date") == 0)
        return true;
    if (strcmp(lower_name, "x-amz-security-token") == 0)
        return true;
    return !presign && (flags & SIGV4_ADD_CONTENT_SHA256) &&
           strcmp(lower_name, "x-amz-content-sha256") == 0;
}

static etl_status collect_request_headers(header_list *h, const sigv4_request *req,
                                          unsigned flags, bool presign, sigv4_result *out)
{
    for (size_t i = 0; i < req->header_count; i++) {
        const char *name = req->header_names[i];
        const char *value = req->header_values[i] ? req->header_values[i] : "";
        if (!valid_header_name(name))
            return fail(out, "sigv4: header %zu has an invalid name '%s'", i,
                        name ? name : "(null)");
        if (strpbrk(value, "\r\n"))
            return fail(out, "sigv4: header '%s' has a line break in its value", name);
        if (header_list_add(h, name, value) != ETL_OK)
            return out_of_memory(out);
        if (signer_owns_header(h->items[h->count - 1].name.data, flags, presign)) {
            h->count--;
            buf_free(&h->items[h->count].name);
            buf_free(&h->items[h->count].value);
        }
    }
    return ETL_OK;
}

static bool has_session_token(const sigv4_credentials *creds)
{
    return creds->session_token && *creds->session_token;
}

static etl_status collect_signer_headers(header_list *h, const sigv4_credentials *creds,
                                         unsigned flags, bool presign, sigv4_result *out)
{
    if (presign)
        return ETL_OK;
    etl_status st = header_list_add(h, "x-amz-date", out->amz_date.data);
    if (st == ETL_OK && has_session_token(creds) && !(flags & SIGV4_OMIT_SESSION_TOKEN))
        st = header_list_add(h, "x-amz-security-token", creds->session_token);
    if (st == ETL_OK && (flags & SIGV4_ADD_CONTENT_SHA256))
        st = header_list_add(h, "x-amz-content-sha256", out->payload_hash.data);
    return st == ETL_OK ? ETL_OK : out_of_memory(out);
}

/* Writes "name:v1,v2\n" lines into `text` and "a;b" into signed_headers. */
static etl_status format_headers(header_list *h, etl_buf *text, etl_buf *signed_headers)
{
    qsort(h->items, h->count, sizeof *h->items, compare_headers);
    for (size_t i = 0; i < h->count; i++) {
        const canon_header *hd = &h->items[i];
        bool continues = i > 0 && strcmp(h->items[i - 1].name.data, hd->name.data) == 0;
        etl_status st;
        if (continues) {
            st = buf_printf(text, ",%s", hd->value.data);
        } else {
            st = buf_printf(text, "%s%s:%s", i ? "\n" : "", hd->name.data, hd->value.data);
            if (st == ETL_OK)
                st = buf_printf(signed_headers, "%s%s", i ? ";" : "", hd->name.data);
        }
        if (st != ETL_OK)
            return st;
    }
    return h->count ? buf_append_char(text, '\n') : ETL_OK;
}

static etl_status canonical_headers(const sigv4_request *req, const sigv4_credentials *creds,
                                    unsigned flags, bool presign, etl_buf *text,
                                    sigv4_result *out)
{
    header_list h = {0};
    etl_status st = collect_request_headers(&h, req, flags, presign, out);
    bool has_host = false;
    for (size_t i = 0; st == ETL_OK && i < h.count; i++)
        has_host |= strcmp(h.items[i].name.data, "host") == 0;
    if (st == ETL_OK && !has_host)
        st = fail(out, "sigv4: the request has no Host header to sign");
    if (st == ETL_OK)
        st = collect_signer_headers(&h, creds, flags, presign, out);
    if (st == ETL_OK && format_headers(&h, text, &out->signed_headers) != ETL_OK)
        st = out_of_memory(out);
    header_list_free(&h);
    return st;
}

/* -------------------------------------------------------------------- */
/* Signing                                                              */
/* -------------------------------------------------------------------- */

typedef struct sign_params {
    const sigv4_request *req;
    const sigv4_credentials *creds;
    const char *region, *service;
    time_t when;
    long expires_s;                  /* presigning; < 0 for header signing */
    unsigned flags;
} sign_params;

static bool is_token(const char *s, const char *forbidden)
{
    if (s == NULL || *s == '\0')
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7f || strchr(forbidden, *p))
            return false;
    return true;
}

static etl_status check_inputs(const sign_params *sp, sigv4_result *out)
{
    const sigv4_request *req = sp->req;
    if (req == NULL || sp->creds == NULL)
        return fail(out, "sigv4: no request or no credentials");
    if (!is_token(req->method, ""))
        return fail(out, "sigv4: the request has no valid method");
    if (req->path && *req->path && *req->path != '/')
        return fail(out, "sigv4: path '%s' must start with '/'", req->path);
    if (req->header_count && (req->header_names == NULL || req->header_values == NULL))
        return fail(out, "sigv4: header_count is %zu but the header arrays are NULL",
                    req->header_count);
    if (!is_token(sp->creds->access_key, "/") || !sp->creds->secret_key ||
        !*sp->creds->secret_key)
        return fail(out, "sigv4: no credentials: set AWS_ACCESS_KEY_ID and "
                         "AWS_SECRET_ACCESS_KEY (or the connector's credentials)");
    if (!is_token(sp->region, "/") || !is_token(sp->service, "/"))
        return fail(out, "sigv4: region and service must be non-empty words without '/'");
    if (sp->expires_s >= 0 && (sp->expires_s < 1 || sp->expires_s > SIGV4_MAX_EXPIRES_S))
        return fail(out, "sigv4: a presigned URL must expire within 1..%ld seconds, not %ld",
                    SIGV4_MAX_EXPIRES_S, sp->expires_s);
    if (req->body == NULL && req->body_len > 0)
        return fail(out, "sigv4: body_len is %zu but body is NULL", req->body_len);
    return ETL_OK;
}

static etl_status prepare_date_and_hash(const sign_params *sp, sigv4_result *out)
{
    struct tm tm;
    char date[32];
    if (gmtime_r(&sp->when, &tm) == NULL || tm.tm_year + 1900 > 9999 || tm.tm_year < 0 ||
        strftime(date, sizeof date, "%Y%m%dT%H%M%SZ", &tm) != 16)
        return fail(out, "sigv4: the signing time %lld is out of range", (long long)sp->when);
    const char *hash = sp->req->payload_hash;
    char hex[65];
    if (hash == NULL) {
        sigv4_sha256_hex(sp->req->body, sp->req->body_len, hex);
        hash = hex;
    } else if (!is_token(hash, "")) {
        return fail(out, "sigv4: payload_hash must be hex SHA-256 or UNSIGNED-PAYLOAD");
    }
    if (buf_append_str(&out->amz_date, date) != ETL_OK ||
        buf_append_str(&out->payload_hash, hash) != ETL_OK)
        return out_of_memory(out);
    return ETL_OK;
}

static etl_status credential_scope(const sign_params *sp, const sigv4_result *out,
                                   etl_buf *scope)
{
    return buf_printf(scope, "%.8s/%s/%s/" SIGV4_TERMINATOR, out->amz_date.data, sp->region,
                      sp->service);
}

static etl_status presign_params(query_list *q, const sign_params *sp, const etl_buf *scope,
                                 sigv4_result *out)
{
    etl_buf credential = {0};
    char expires[32];
    snprintf(expires, sizeof expires, "%ld", sp->expires_s);
    etl_status st = buf_printf(&credential, "%s/%s", sp->creds->access_key, scope->data);
    if (st == ETL_OK)
        st = query_add_raw(q, "X-Amz-Algorithm", SIGV4_ALGORITHM);
    if (st == ETL_OK)
        st = query_add_raw(q, "X-Amz-Credential", credential.data);
    if (st == ETL_OK)
        st = query_add_raw(q, "X-Amz-Date", out->amz_date.data);
    if (st == ETL_OK)
        st = query_add_raw(q, "X-Amz-Expires", expires);
    if (st == ETL_OK && has_session_token(sp->creds) &&
        !(sp->flags & SIGV4_OMIT_SESSION_TOKEN))
        st = query_add_raw(q, "X-Amz-Security-Token", sp->creds->session_token);
    if (st == ETL_OK)
        st = query_add_raw(q, "X-Amz-SignedHeaders", out->signed_headers.data);
    buf_free(&credential);
    return st;
}

static etl_status canonical_query(const sign_params *sp, const etl_buf *scope,
                                  etl_buf *text, sigv4_result *out)
{
    query_list q = {0};
    etl_status st = parse_query(&q, sp->req->query);
    if (st == ETL_OK && sp->expires_s >= 0)
        st = presign_params(&q, sp, scope, out);
    if (st == ETL_OK)
        st = query_join_sorted(&q, text);
    query_list_free(&q);
    return st == ETL_OK ? ETL_OK : out_of_memory(out);
}

static etl_status compute_signature(const sign_params *sp, const etl_buf *scope,
                                    sigv4_result *out)
{
    char request_hash[65];
    sigv4_sha256_hex(out->canonical_request.data, out->canonical_request.len, request_hash);
    if (buf_printf(&out->string_to_sign, SIGV4_ALGORITHM "\n%s\n%s\n%s", out->amz_date.data,
                   scope->data, request_hash) != ETL_OK)
        return out_of_memory(out);

    etl_buf secret = {0};
    if (buf_printf(&secret, "AWS4%s", sp->creds->secret_key) != ETL_OK)
        return out_of_memory(out);
    char date[9];
    snprintf(date, sizeof date, "%.8s", out->amz_date.data);
    unsigned char key[32], mac[32];
    hmac_sha256(secret.data, secret.len, date, key);
    hmac_sha256(key, sizeof key, sp->region, key);
    hmac_sha256(key, sizeof key, sp->service, key);
    hmac_sha256(key, sizeof key, SIGV4_TERMINATOR, key);
    hmac_sha256(key, sizeof key, out->string_to_sign.data, mac);
    OPENSSL_cleanse(secret.data, secret.len);
    OPENSSL_cleanse(key, sizeof key);
    buf_free(&secret);

    char hex[65];
    hex_encode(mac, sizeof mac, hex);
    return buf_append_str(&out->signature, hex) == ETL_OK ? ETL_OK : out_of_memory(out);
}

static etl_status add_header_line(sigv4_result *out, const char *name, const char *value)
{
    etl_buf *line = &out->added_headers[out->added_count++];
    return buf_printf(line, "%s: %s", name, value);
}

static etl_status finish_header_form(const sign_params *sp, const etl_buf *scope,
                                     sigv4_result *out)
{
    etl_status st = buf_printf(&out->authorization,
                               SIGV4_ALGORITHM " Credential=%s/%s, SignedHeaders=%s, "
                                               "Signature=%s",
                               sp->creds->access_key, scope->data, out->signed_headers.data,
                               out->signature.data);
    if (st == ETL_OK)
        st = add_header_line(out, "X-Amz-Date", out->amz_date.data);
    if (st == ETL_OK && has_session_token(sp->creds))
        st = add_header_line(out, "X-Amz-Security-Token", sp->creds->session_token);
    if (st == ETL_OK && (sp->flags & SIGV4_ADD_CONTENT_SHA256))
        st = add_header_line(out, "x-amz-content-sha256", out->payload_hash.data);
    if (st == ETL_OK)
        st = add_header_line(out, "Authorization", out->authorization.data);
    return st == ETL_OK ? ETL_OK : out_of_memory(out);
}

static etl_status finish_query_form(const sign_params *sp, const etl_buf *canonical_q,
                                    sigv4_result *out)
{
    etl_status st = buf_printf(&out->query, "%s&X-Amz-Signature=%s", canonical_q->data,
                               out->signature.data);
    if (st == ETL_OK && has_session_token(sp->creds) && (sp->flags & SIGV4_OMIT_SESSION_TOKEN)) {
        st = buf_append_str(&out->query, "&X-Amz-Security-Token=");
        if (st == ETL_OK)
            st = sigv4_uri_encode(&out->query, sp->creds->session_token,
                                  strlen(sp->creds->session_token), false);
    }
    return st == ETL_OK ? ETL_OK : out_of_memory(out);
}

static etl_status build_canonical_request(const sign_params *sp, const etl_buf *scope,
                                          etl_buf *query_text, sigv4_result *out)
{
    etl_buf headers = {0}, uri = {0};
    bool presign = sp->expires_s >= 0;
    etl_status st = canonical_headers(sp->req, sp->creds, sp->flags, presign, &headers, out);
    if (st == ETL_OK && canonical_uri(&uri, sp->req->path, sp->flags) != ETL_OK)
        st = out_of_memory(out);
    if (st == ETL_OK)
        st = canonical_query(sp, scope, query_text, out);
    if (st == ETL_OK &&
        buf_printf(&out->canonical_request, "%s\n%s\n%s\n%s\n%s\n%s", sp->req->method,
                   buf_cstr(&uri), buf_cstr(query_text), buf_cstr(&headers),
                   out->signed_headers.data, out->payload_hash.data) != ETL_OK)
        st = out_of_memory(out);
    buf_free(&headers);
    buf_free(&uri);
    return st;
}

static etl_status sign(const sign_params *sp, sigv4_result *out)
{
    memset(out, 0, sizeof *out);
    etl_status st = check_inputs(sp, out);
    if (st == ETL_OK)
        st = prepare_date_and_hash(sp, out);
    etl_buf scope = {0}, query_text = {0};
    if (st == ETL_OK && credential_scope(sp, out, &scope) != ETL_OK)
        st = out_of_memory(out);
    if (st == ETL_OK)
        st = build_canonical_request(sp, &scope, &query_text, out);
    if (st == ETL_OK)
        st = compute_signature(sp, &scope, out);
    if (st == ETL_OK)
        st = sp->expires_s >= 0 ? finish_query_form(sp, &query_text, out)
                                : finish_header_form(sp, &scope, out);
    buf_free(&scope);
    buf_free(&query_text);
    return st;
}

etl_status sigv4_sign(const sigv4_request *req, const sigv4_credentials *creds,
                      const char *region, const char *service, time_t when, unsigned flags,
                      sigv4_result *out)
{
    sign_params sp = {req, creds, region, service, when, -1, flags};
    return sign(&sp, out);
}

etl_status sigv4_presign(const sigv4_request *req, const sigv4_credentials *creds,
                         const char *region, const char *service, time_t when,
                         long expires_s, unsigned flags, sigv4_result *out)
{
    sign_params sp = {req, creds, region, service, when, expires_s < 0 ? 0 : expires_s,
                      flags & ~SIGV4_ADD_CONTENT_SHA256};
    return sign(&sp, out);
}

void sigv4_result_free(sigv4_result *out)
{
    if (out == NULL)
        return;
    buf_free(&out->canonical_request);
    buf_free(&out->string_to_sign);
    buf_free(&out->signature);
    buf_free(&out->amz_date);
    buf_free(&out->payload_hash);
    buf_free(&out->signed_headers);
    buf_free(&out->authorization);
    buf_free(&out->query);
    for (size_t i = 0; i < SIGV4_MAX_ADDED_HEADERS; i++)
        buf_free(&out->added_headers[i]);
    out->added_count = 0;
}
