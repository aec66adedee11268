/* The S3 state store: the host's state object kept in a bucket, with the
 * semantics of the host's file store (core/state_store_file.c) built on S3
 * conditional writes.
 *
 *   <prefix><key>.state.json   the state; its ETag is the version. put()
 *                              sends If-Match: <etag>, or If-None-Match: *
 *                              to create; 412 is ETL_ERR_CONFLICT.
 *   <prefix><key>.lease        {"owner","host","pid","expires_at_ms"}; taken
 *                              with If-None-Match: * (absent) or If-Match:
 *                              <its etag> (expired, or left by a dead
 *                              process on this host), renewed with If-Match.
 *
 * Fencing: every put() first renews our lease with If-Match on the lease's
 * ETag, so a run whose lease was taken over stops before it writes.
 * A response lost after the write succeeded (the retry then meets 412) is
 * recognised by reading the object back: it holds exactly our bytes (the
 * state names its run and time; the lease its owner, pid and expiry). Needs a store with conditional
 * writes (AWS, MinIO, moto); s3rver ignores them. */
#include "s3_client.h"
#include "s3_xml.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_LEASES 8
#define MAX_STATE_BYTES (16 * 1024 * 1024)

typedef struct held_lease {
    char *key;
    char *owner;
    char *etag;                 /* of the lease object we wrote */
    int64_t ttl_ms;
} held_lease;

typedef struct s3_store {
    etl_ctx *ctx;
    s3_client *client;
    int64_t lease_ttl_ms;       /* 0: what the host asks for */
    char hostname[256];
    held_lease leases[MAX_LEASES];
} s3_store;

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* "<prefix><key><suffix>", the key's characters outside [A-Za-z0-9._-] as
 * '~' (the file store's naming: "crash/0" -> "crash~0"). */
static char *object_key(const s3_store *s, const char *key, const char *suffix)
{
    etl_buf out = {0};
    s3_host->buf_printf(&out, "%s", s->client->prefix);
    for (const char *c = key; *c; c++) {
        bool plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                     (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-';
        s3_host->buf_append(&out, plain ? c : "~", 1);
    }
    s3_host->buf_printf(&out, "%s", suffix);
    return out.data;
}

static etl_status nomem(s3_store *s)
{
    return s3_host->set_error(s->ctx, ETL_ERR_NOMEM, 0, "S3 state store: out of memory");
}

/* ---- objects ---------------------------------------------------------- */

/* GET: ETL_END on 404, else the body and ETag. */
static etl_status get_object(s3_store *s, const char *okey, etl_buf *value, etl_buf *version)
{
    etl_http_response resp = {.struct_size = sizeof resp};
    s3_call call = {.method = "GET", .key = okey, .retry = true,
                    .max_response_bytes = MAX_STATE_BYTES};
    static const int not_found[] = {404, 0};
    etl_status st = s3_request(s->client, &call, &resp, not_found);
    if (st == ETL_OK && resp.status == 404)
        st = ETL_END;
    if (st == ETL_OK) {
        const char *etag = s3_etag(&resp);
        if (etag == NULL)
            st = s3_host->set_error(s->ctx, ETL_ERR_PERMANENT, 0,
                                    "S3 GET s3://%s/%s: the response has no ETag: this store "
                                    "cannot version the state", s->client->bucket, okey);
        if (st == ETL_OK && resp.body.len)
            st = s3_host->buf_append(value, resp.body.data, resp.body.len);
        if (st == ETL_OK)
            st = s3_host->buf_append(value, "", 1);
        if (st == ETL_OK)
            value->len--;
        if (st == ETL_OK && version) {
            version->len = 0;
            st = s3_host->buf_printf(version, "%s", etag);
        }
    }
    s3_host->http_response_free(&resp);
    return st;
}

/* After a conditional PUT meets 412: did an earlier attempt of this same
 * write land? Then the object holds exactly our bytes. */
static bool landed_already(s3_store *s, const char *okey, const char *value, size_t len,
                           etl_buf *version)
{
    etl_buf current = {0}, etag = {0};
    bool same = get_object(s, okey, &current, &etag) == ETL_OK && current.len == len &&
                memcmp(current.data, value, len) == 0;
    if (same && version) {
        version->len = 0;
        s3_host->buf_printf(version, "%s", etag.data);
    }
    s3_host->buf_free(&current);
    s3_host->buf_free(&etag);
    return same;
}

/* PUT iff the object is at `expected` (NULL: absent). ETL_ERR_CONFLICT,
 * with the error set, when it is not. */
static etl_status put_conditional(s3_store *s, const char *okey, const char *value, size_t len,
                                  const char *expected, etl_buf *new_version, const char *what)
{
    const char *names[] = {expected ? "If-Match" : "If-None-Match", "Content-Type"};
    const char *values[] = {expected ? expected : "*", "application/json"};
    etl_http_response resp = {.struct_size = sizeof resp};
    s3_call call = {.method = "PUT", .key = okey, .header_names = names, .header_values = values,
                    .header_count = 2, .body = value, .body_len = len, .retry = true,
                    .sign_payload = true};
    static const int conflicts[] = {412, 404, 409, 0};
    etl_status st = s3_request(s->client, &call, &resp, conflicts);
    if (st == ETL_OK && resp.status != 200 && resp.status != 201 && resp.status != 204) {
        int status = resp.status;
        /* Not only after our own retries: libcurl silently resends a request
         * whose reused connection died, so a 412 may answer our own write. */
        if (status == 412 && landed_already(s, okey, value, len, new_version))
            st = ETL_OK;
        else if (status == 409)
            st = s3_host->set_error(s->ctx, ETL_ERR_RETRY, status,
                                    "S3 PUT s3://%s/%s: %s: a concurrent conditional write "
                                    "(409 ConditionalRequestConflict); try again",
                                    s->client->bucket, okey, what);
        else
            st = s3_host->set_error(
                s->ctx, ETL_ERR_CONFLICT, status, "S3 PUT s3://%s/%s: %s: %s", s->client->bucket,
                okey, what,
                expected == NULL ? "it already exists (If-None-Match: * failed)"
                : status == 404  ? "it was removed by someone else since it was read"
                                 : "it was changed by someone else since it was read (If-Match "
                                   "failed)");
        s3_host->http_response_free(&resp);
        return st;
    }
    if (st == ETL_OK && new_version) {
        const char *etag = s3_etag(&resp);
        new_version->len = 0;
        st = etag ? s3_host->buf_printf(new_version, "%s", etag)
                  : s3_host->set_error(s->ctx, ETL_ERR_PERMANENT, 0,
                                       "S3 PUT s3://%s/%s: the response has no ETag",
                                       s->client->bucket, okey);
    }
    s3_host->http_response_free(&resp);
    return st;
}

static etl_status delete_object(s3_store *s, const char *okey)
{
    etl_http_response resp = {.struct_size = sizeof resp};
    s3_call call = {.method = "DELETE", .key = okey, .retry = true};
    static const int absent[] = {404, 0};
    etl_status st = s3_request(s->client, &call, &resp, absent);
    s3_host->http_response_free(&resp);
    return st;
}

/* ---- the store ----------------------------------------------------------- */

static void store_close(void *state);

static etl_status store_open(etl_ctx *ctx, const etl_options *opts, void **state)
{
    s3_store *s = s3_host->alloc(sizeof *s);
    if (s == NULL)
        return s3_host->set_error(ctx, ETL_ERR_NOMEM, 0, "S3 state store: out of memory");
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    etl_status st = s3_client_open(ctx, opts, &s->client);
    if (st == ETL_OK && s3_host->opt_is_set(opts, "lease_ttl")) {
        s3_host->opt_duration_ms(opts, "lease_ttl", &s->lease_ttl_ms);
        if (s->lease_ttl_ms < 1000)
            st = s3_host->set_error(ctx, ETL_ERR_CONFIG, 0, "%s: lease_ttl must be at least 1s",
                                    s3_host->opt_where(opts, "lease_ttl"));
    }
    if (st != ETL_OK) {
        store_close(s);
        return st;
    }
    if (gethostname(s->hostname, sizeof s->hostname - 1) != 0)
        strcpy(s->hostname, "unknown");
    *state = s;
    return ETL_OK;
}

static held_lease *find_lease(s3_store *s, const char *key)
{
    for (int i = 0; i < MAX_LEASES; i++)
        if (s->leases[i].key && strcmp(s->leases[i].key, key) == 0)
            return &s->leases[i];
    return NULL;
}

static etl_status renew_lease(s3_store *s, held_lease *l);

static etl_status store_get(void *state, const char *key, etl_buf *value, etl_buf *version)
{
    s3_store *s = state;
    char *okey = object_key(s, key, ".state.json");
    etl_status st = okey ? get_object(s, okey, value, version) : nomem(s);
    s3_host->free(okey);
    return st;
}

static etl_status store_put(void *state, const char *key, const char *value, size_t len,
                            const char *expected_version, etl_buf *new_version)
{
    s3_store *s = state;
    held_lease *l = find_lease(s, key);
    /* Fencing: a run that lost its lease must not write. */
    etl_status st = l ? renew_lease(s, l) : ETL_OK;
    if (st != ETL_OK)
        return st;
    char *okey = object_key(s, key, ".state.json");
    st = okey ? put_conditional(s, okey, value, len, expected_version, new_version, "state")
              : nomem(s);
    s3_host->free(okey);
    return st;
}

static etl_status store_remove(void *state, const char *key)
{
    s3_store *s = state;
    char *okey = object_key(s, key, ".state.json");
    etl_status st = okey ? delete_object(s, okey) : nomem(s);
    s3_host->free(okey);
    return st;
}

/* ---- the lease ----------------------------------------------------------- */

/* Owner names are written into JSON unescaped, so keep them plain. */
static void json_safe(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < cap; p++)
        out[o++] = (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) ? '_' : *p;
    out[o] = '\0';
}

static void lease_body(s3_store *s, const char *owner, int64_t ttl_ms, etl_buf *out)
{
    char safe_owner[256], safe_host[256];
    json_safe(owner, safe_owner, sizeof safe_owner);
    json_safe(s->hostname, safe_host, sizeof safe_host);
    out->len = 0;
    s3_host->buf_printf(out, "{\"owner\":\"%s\",\"host\":\"%s\",\"pid\":%ld,\"expires_at_ms\":%lld}\n",
                        safe_owner, safe_host, (long)getpid(), (long long)(now_ms() + ttl_ms));
}

/* A string or integer member of the lease JSON this store writes. */
static bool lease_member(const char *json, const char *name, char *out, size_t cap)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", name);
    const char *p = strstr(json, pattern);
    if (p == NULL)
        return false;
    p += strlen(pattern);
    bool quoted = *p == '"';
    p += quoted;
    size_t n = quoted ? strcspn(p, "\"") : strcspn(p, ",}\n ");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

typedef struct lease_info {
    char owner[256];
    char host[256];
    long pid;
    int64_t expires_at_ms;
} lease_info;

static void parse_lease(const char *json, lease_info *info)
{
    char number[32];
    memset(info, 0, sizeof *info);
    if (!lease_member(json, "owner", info->owner, sizeof info->owner))
        strcpy(info->owner, "(unreadable lease)");
    lease_member(json, "host", info->host, sizeof info->host);
    if (lease_member(json, "pid", number, sizeof number))
        info->pid = strtol(number, NULL, 10);
    if (lease_member(json, "expires_at_ms", number, sizeof number))
        info->expires_at_ms = strtoll(number, NULL, 10);
}

/* May we take this lease over? It expired, or its holder was a process of
 * this machine that is gone (a SIGKILLed run must not block the resume). */
static bool lease_is_stale(const s3_store *s, const lease_info *info)
{
    if (info->expires_at_ms <= now_ms())
        return true;
    return strcmp(info->host, s->hostname) == 0 && info->pid > 0 && info->pid != (long)getpid() &&
           kill((pid_t)info->pid, 0) != 0 && errno == ESRCH;
}

static etl_status lease_conflict(s3_store *s, const char *okey, const lease_info *info)
{
    char until[96];
    s3_format_time_ms(info->expires_at_ms, until);
    return s3_host->set_error(s->ctx, ETL_ERR_CONFLICT, 0,
                              "another run of this pipeline holds the lease on its state "
                              "(s3://%s/%s: %s on %s, pid %ld, until %s); wait for it to finish",
                              s->client->bucket, okey, info->owner, info->host, info->pid, until);
}

static etl_status renew_lease(s3_store *s, held_lease *l)
{
    char *okey = object_key(s, l->key, ".lease");
    etl_buf body = {0}, etag = {0};
    if (okey == NULL)
        return nomem(s);
    lease_body(s, l->owner, l->ttl_ms, &body);
    etl_status st = put_conditional(s, okey, body.data, body.len, l->etag, &etag, "lease");
    if (st == ETL_OK) {
        s3_host->free(l->etag);
        l->etag = s3_strdup(etag.data);
    } else if (st == ETL_ERR_CONFLICT) {
        st = s3_host->set_error(s->ctx, ETL_ERR_CONFLICT, 0,
                                "the lease s3://%s/%s was taken over by another run: this run "
                                "stops without writing", s->client->bucket, okey);
    }
    s3_host->buf_free(&body);
    s3_host->buf_free(&etag);
    s3_host->free(okey);
    return st;
}

static etl_status take_lease(s3_store *s, const char *key, const char *owner, int64_t ttl_ms)
{
    held_lease *slot = NULL;
    for (int i = 0; i < MAX_LEASES && !slot; i++)
        if (s->leases[i].key == NULL)
            slot = &s->leases[i];
    if (slot == NULL)
        return s3_host->set_error(s->ctx, ETL_ERR_PERMANENT, 0, "too many leases held at once");
    char *okey = object_key(s, key, ".lease");
    if (okey == NULL)
        return nomem(s);
    etl_buf current = {0}, current_etag = {0}, body = {0}, etag = {0};
    etl_status st = get_object(s, okey, &current, &current_etag);
    const char *expected = NULL;
    if (st == ETL_OK) {
        lease_info info;
        parse_lease(current.data ? current.data : "", &info);
        if (strcmp(info.owner, owner) != 0 && !lease_is_stale(s, &info))
            st = lease_conflict(s, okey, &info);
        else
            expected = current_etag.data;
        if (st == ETL_OK && strcmp(info.owner, owner) != 0)
            s3_host->log(s->ctx, ETL_LOG_INFO, "taking over the lease s3://%s/%s from %s (%s)",
                         s->client->bucket, okey, info.owner,
                         info.expires_at_ms <= now_ms() ? "expired" : "its process is gone");
    } else if (st == ETL_END) {
        st = ETL_OK;
    }
    if (st == ETL_OK) {
        lease_body(s, owner, ttl_ms, &body);
        st = put_conditional(s, okey, body.data, body.len, expected, &etag, "lease");
        if (st == ETL_ERR_CONFLICT) {
            /* Someone won the race between our read and our write: name them. */
            lease_info info;
            etl_buf now = {0};
            if (get_object(s, okey, &now, NULL) == ETL_OK) {
                parse_lease(now.data ? now.data : "", &info);
                st = lease_conflict(s, okey, &info);
            }
            s3_host->buf_free(&now);
        }
    }
    if (st == ETL_OK) {
        slot->key = s3_strdup(key);
        slot->owner = s3_strdup(owner);
        slot->etag = s3_strdup(etag.data);
        slot->ttl_ms = ttl_ms;
    }
    s3_host->buf_free(&current);
    s3_host->buf_free(&current_etag);
    s3_host->buf_free(&body);
    s3_host->buf_free(&etag);
    s3_host->free(okey);
    return st;
}

static etl_status store_lease_acquire(void *state, const char *key, const char *owner,
                                      int64_t ttl_ms)
{
    s3_store *s = state;
    if (s->lease_ttl_ms > 0)
        ttl_ms = s->lease_ttl_ms;
    held_lease *held = find_lease(s, key);
    if (held == NULL)
        return take_lease(s, key, owner, ttl_ms);
    if (strcmp(held->owner, owner) != 0)
        return s3_host->set_error(s->ctx, ETL_ERR_CONFLICT, 0, "the lease on %s is held by %s",
                                  key, held->owner);
    held->ttl_ms = ttl_ms;
    return renew_lease(s, held);
}

static void forget(held_lease *l)
{
    s3_host->free(l->key);
    s3_host->free(l->owner);
    s3_host->free(l->etag);
    memset(l, 0, sizeof *l);
}

/* Deletes the lease object if it is still the one we wrote (a lease taken
 * over after it expired belongs to its new holder). */
static void release(s3_store *s, held_lease *l)
{
    char *okey = object_key(s, l->key, ".lease");
    etl_buf current = {0}, etag = {0};
    if (okey && get_object(s, okey, &current, &etag) == ETL_OK && l->etag &&
        strcmp(etag.data, l->etag) == 0)
        delete_object(s, okey);
    s3_host->buf_free(&current);
    s3_host->buf_free(&etag);
    s3_host->free(okey);
    forget(l);
}

static void store_lease_release(void *state, const char *key, const char *owner)
{
    s3_store *s = state;
    held_lease *l = find_lease(s, key);
    if (l && strcmp(l->owner, owner) == 0)
        release(s, l);
}

static void store_close(void *state)
{
    s3_store *s = state;
    if (s == NULL)
        return;
    for (int i = 0; i < MAX_LEASES; i++)
        if (s->leases[i].key)
            release(s, &s->leases[i]);
    s3_client_free(s->client);
    s3_host->free(s);
}

static const etl_option_spec store_options[] = {
    {.key = "url", .type = ETL_OPT_STRING, .flags = ETL_OPT_REQUIRED,
     .doc = "where the state objects go: s3://bucket/prefix/ (<prefix><pipeline>~0.state.json)"},
    S3_CLIENT_OPTION_SPECS,
    {.key = "lease_ttl", .type = ETL_OPT_DURATION,
     .doc = "how long a lease lasts without renewal (renewed at every checkpoint); default: "
            "what etl asks (15m). A lease left by a killed run on this machine is taken over "
            "at once"},
    {.key = NULL},
};

static const etl_state_store_vtable store_vtable = {
    .struct_size = sizeof(etl_state_store_vtable),
    .open = store_open,
    .get = store_get,
    .put = store_put,
    .remove = store_remove,
    .lease_acquire = store_lease_acquire,
    .lease_release = store_lease_release,
    .close = store_close,
};

const etl_connector s3_state_store_connector = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_STATE_STORE,
    .name = "s3",
    .summary = "pipeline state in an S3 bucket: conditional writes (If-Match/If-None-Match), "
               "a lease object with fencing",
    .options = store_options,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &store_vtable,
};
