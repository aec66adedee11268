/* The S3 source: the objects under a prefix (ListObjectsV2, page by page),
 * read in key order, each fetched in ranged GETs of chunk_size (pinned to
 * the listed ETag with If-Match, so an object overwritten mid-read is an
 * error, not a mix) and decoded by a format through the host.
 *
 * Cursor: {"key": last fully read key, "current": the key being read,
 * "records": records of it returned, "modified_after", "listed_until": the
 * LastModified window of this pass (ms), "complete": the pass ended}.
 * Incremental (incremental: true): a pass reads the objects modified in
 * (modified_after, listed_until], listed_until fixed when the pass starts;
 * the pass after a complete one starts at its listed_until. */
#include "s3_client.h"
#include "s3_xml.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>

#define NO_TIME INT64_MIN

typedef struct s3_object {
    char *key;
    int64_t size;
    int64_t modified_ms;
    char *etag;
} s3_object;

typedef struct s3_source {
    etl_ctx *ctx;
    s3_client *client;
    const etl_options *format_opts;
    const char *format_type;         /* NULL or "auto": from the key */
    const char *compression;     /* auto, none, gzip, zstd (the option's string) */
    bool incremental;
    int64_t settle_ms;
    int64_t chunk_size;
    int64_t max_keys;
    /* the listing, sorted by key */
    s3_object *objects;
    size_t nobjects, cap;
    /* this pass */
    int64_t since_ms;                /* NO_TIME: no lower bound */
    int64_t until_ms;                /* NO_TIME: no upper bound */
    char *after_key;                 /* keys <= it are done ("" none) */
    bool pass_ready;                 /* the window is applied */
    size_t index;
    int64_t records;
    bool complete;
    /* the object being read */
    etl_format_reader *reader;
    etl_byte_source bytes;       /* the object's bytes as stored */
    etl_decompressor *decompressor;
    etl_byte_source plain;       /* decompressed, for the format */
    int64_t offset;                  /* next byte to fetch */
    etl_buf chunk;
    size_t chunk_pos;
} s3_source;

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static etl_status nomem(s3_source *s)
{
    return s3_host->set_error(s->ctx, ETL_ERR_NOMEM, 0, "S3 source: out of memory");
}

/* ---- listing ---------------------------------------------------------- */

static bool skipped_name(const char *key)
{
    const char *base = strrchr(key, '/');
    base = base ? base + 1 : key;
    /* folder markers, _SUCCESS-style markers and hidden objects */
    return *base == '\0' || *base == '_' || *base == '.';
}

static etl_status add_object(void *user, const s3_list_entry *e)
{
    s3_source *s = user;
    if (skipped_name(e->key))
        return ETL_OK;
    if (s->nobjects == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        s3_object *grown = s3_host->realloc(s->objects, cap * sizeof *grown);
        if (grown == NULL)
            return nomem(s);
        s->objects = grown;
        s->cap = cap;
    }
    s3_object *o = &s->objects[s->nobjects];
    o->key = s3_strdup(e->key);
    o->etag = s3_strdup(e->etag);
    o->size = e->size;
    o->modified_ms = e->last_modified_ms;
    if (o->key == NULL || o->etag == NULL) {
        s3_host->free(o->key);
        s3_host->free(o->etag);
        return nomem(s);
    }
    s->nobjects++;
    return ETL_OK;
}

static etl_status list_page(s3_source *s, etl_buf *token, bool *truncated)
{
    etl_buf query = {0};
    const s3_client *c = s->client;
    /* Sorted and encoded, as SigV4 signs it. */
    if (token->len) {
        s3_host->buf_printf(&query, "continuation-token=");
        s3_uri_encode(&query, token->data, token->len, false);
        s3_host->buf_append(&query, "&", 1);
    }
    s3_host->buf_printf(&query, "list-type=2&max-keys=%lld&prefix=", (long long)s->max_keys);
    s3_uri_encode(&query, c->prefix, strlen(c->prefix), false);
    if (s3_host->buf_append(&query, "", 1) != ETL_OK) {
        s3_host->buf_free(&query);
        return nomem(s);
    }
    etl_http_response resp = {.struct_size = sizeof resp};
    s3_call call = {.method = "GET", .query = query.data, .retry = true};
    etl_status st = s3_request(s->client, &call, &resp, NULL);
    if (st == ETL_OK) {
        st = s3_list_parse(resp.body.data ? resp.body.data : "", resp.body.len, add_object, s,
                           truncated, token);
        if (st == ETL_ERR_PERMANENT)
            st = s3_host->set_error(s->ctx, ETL_ERR_RETRY, resp.status,
                                    "S3 ListObjectsV2 s3://%s/%s: the answer is not a complete "
                                    "ListBucketResult (%zu bytes)", c->bucket, c->prefix,
                                    resp.body.len);
    }
    s3_host->http_response_free(&resp);
    s3_host->buf_free(&query);
    return st;
}

static int compare_objects(const void *a, const void *b)
{
    return strcmp(((const s3_object *)a)->key, ((const s3_object *)b)->key);
}

static etl_status list_all(s3_source *s)
{
    etl_buf token = {0};
    bool truncated = true;
    etl_status st = ETL_OK;
    int pages = 0;
    while (st == ETL_OK && truncated) {
        st = list_page(s, &token, &truncated);
        pages++;
    }
    s3_host->buf_free(&token);
    if (st == ETL_OK) {
        /* S3 lists in UTF-8 byte order already; other stores may not. */
        qsort(s->objects, s->nobjects, sizeof *s->objects, compare_objects);
        s3_host->log(s->ctx, ETL_LOG_DEBUG, "listed %zu objects under s3://%s/%s in %d pages",
                     s->nobjects, s->client->bucket, s->client->prefix, pages);
    }
    return st;
}

/* ---- formats ----------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Compressions the host does not decompress. */
static bool unsupported_compression_name(const char *key)
{
    return ends_with(key, ".bz2") || ends_with(key, ".xz");
}

static const char *format_of(const s3_source *s, const char *key)
{
    bool automatic = s->format_type == NULL || strcmp(s->format_type, "auto") == 0;
    return automatic ? s3_host->format_from_name(key) : s->format_type;
}

static etl_status unsupported_compression(s3_source *s, const char *key)
{
    return s3_host->set_error(s->ctx, ETL_ERR_UNSUPPORTED, 0,
                              "S3 source: s3://%s/%s is compressed with bzip2 or xz, which is "
                              "not supported (gzip and zstd are); recompress it, or set "
                              "compression: none to read the bytes as they are",
                              s->client->bucket, key);
}

/* ---- the window of a pass ---------------------------------------------------- */

static bool in_pass(const s3_source *s, const s3_object *o)
{
    if (s->after_key && strcmp(o->key, s->after_key) <= 0)
        return false;
    if (s->since_ms != NO_TIME && o->modified_ms <= s->since_ms)
        return false;
    return s->until_ms == NO_TIME || o->modified_ms <= s->until_ms;
}

/* Keeps the objects of this pass; checks that each has a known format. */
static etl_status apply_pass(s3_source *s)
{
    size_t kept = 0;
    for (size_t i = 0; i < s->nobjects; i++) {
        s3_object *o = &s->objects[i];
        if (!in_pass(s, o) || (o->size == 0 && format_of(s, o->key) == NULL)) {
            s3_host->free(o->key);
            s3_host->free(o->etag);
            continue;
        }
        s->objects[kept++] = *o;
    }
    s->nobjects = kept;
    s->pass_ready = true;
    for (size_t i = 0; i < s->nobjects; i++) {
        const char *key = s->objects[i].key;
        if (strcmp(s->compression, "none") != 0 && unsupported_compression_name(key))
            return unsupported_compression(s, key);
        if (format_of(s, key) == NULL)
            return s3_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                      "S3 source: cannot tell the format of s3://%s/%s from its "
                                      "name (known: .ndjson, .jsonl, .json, .csv, .parquet, "
                                      "optionally .gz or .zst); set format",
                                      s->client->bucket, key);
    }
    return ETL_OK;
}

/* ---- reading an object in ranges --------------------------------------------- */

static etl_status fetch_chunk(s3_source *s, const s3_object *o)
{
    int64_t last = s->offset + s->chunk_size - 1;
    if (last >= o->size)
        last = o->size - 1;
    char range[64];
    snprintf(range, sizeof range, "bytes=%lld-%lld", (long long)s->offset, (long long)last);
    const char *names[] = {"Range", "If-Match"};
    const char *values[] = {range, o->etag};
    etl_http_response resp = {.struct_size = sizeof resp};
    s3_call call = {.method = "GET", .key = o->key, .header_names = names, .header_values = values,
                    .header_count = o->etag[0] ? 2 : 1, .retry = true,
                    .max_response_bytes = (size_t)s->chunk_size + 1024};
    etl_status st = s3_request(s->client, &call, &resp, NULL);
    if (st == ETL_ERR_CONFLICT)
        st = s3_host->set_error(s->ctx, ETL_ERR_PERMANENT, 412,
                                "S3 source: s3://%s/%s changed while it was being read (its ETag "
                                "is no longer %s); run again", s->client->bucket, o->key, o->etag);
    size_t skip = 0;
    if (st == ETL_OK && resp.status == 200)
        skip = (size_t)s->offset;   /* the store ignored Range: the whole object came */
    size_t want = (size_t)(last - s->offset + 1);
    if (st == ETL_OK && resp.body.len < skip + want)
        st = s3_host->set_error(s->ctx, ETL_ERR_RETRY, resp.status,
                                "S3 source: s3://%s/%s: %zu bytes came for a range of %zu",
                                s->client->bucket, o->key, resp.body.len - skip, want);
    if (st == ETL_OK) {
        s->chunk.len = 0;
        st = s3_host->buf_append(&s->chunk, resp.body.data + skip, want);
        s->chunk_pos = 0;
        s->offset += (int64_t)want;
    }
    s3_host->http_response_free(&resp);
    return st;
}

static int64_t read_bytes(void *user, void *buf, size_t cap)
{
    s3_source *s = user;
    const s3_object *o = &s->objects[s->index];
    if (s->chunk_pos == s->chunk.len) {
        if (s->offset >= o->size)
            return 0;
        if (fetch_chunk(s, o) != ETL_OK)
            return -1;
    }
    size_t n = s->chunk.len - s->chunk_pos;
    if (n > cap)
        n = cap;
    memcpy(buf, s->chunk.data + s->chunk_pos, n);
    s->chunk_pos += n;
    return (int64_t)n;
}

static etl_status open_current(s3_source *s)
{
    const s3_object *o = &s->objects[s->index];
    s->offset = 0;
    s->chunk.len = 0;
    s->chunk_pos = 0;
    s->bytes = (etl_byte_source){.struct_size = sizeof s->bytes, .user = s, .name = o->key,
                                 .read = read_bytes};
    etl_status st = s3_host->decompress_open(s->ctx, &s->bytes, s->compression, &s->plain,
                                             &s->decompressor);
    if (st == ETL_OK)
        st = s3_host->format_reader_open(s->ctx, format_of(s, o->key), s->format_opts,
                                         &s->plain, &s->reader);
    if (st == ETL_OK)
        s3_host->log(s->ctx, ETL_LOG_DEBUG, "reading s3://%s/%s (%lld bytes) as %s",
                     s->client->bucket, o->key, (long long)o->size, format_of(s, o->key));
    return st;
}

static void close_current(s3_source *s)
{
    if (s->reader)
        s3_host->format_reader_close(s->reader);
    s->reader = NULL;
    if (s->decompressor)
        s3_host->decompress_close(s->decompressor);
    s->decompressor = NULL;
}

static etl_status source_read(void *state, etl_builder *out, int64_t max_records,
                              int64_t max_bytes)
{
    s3_source *s = state;
    if (!s->pass_ready) {
        etl_status st = apply_pass(s);
        if (st != ETL_OK)
            return st;
    }
    int64_t total = 0;
    while (total < max_records) {
        if (s->index >= s->nobjects) {
            s->complete = true;
            return ETL_END;
        }
        if (s->reader == NULL) {
            etl_status st = open_current(s);
            if (st != ETL_OK)
                return st;
        }
        int64_t before = s3_host->builder_rows(out);
        etl_status st = s3_host->format_read(s->reader, out, max_records - total, max_bytes);
        int64_t got = s3_host->builder_rows(out) - before;
        total += got;
        s->records += got;
        if (st == ETL_END) {
            close_current(s);
            s->index++;
            s->records = 0;
            continue;
        }
        return st;
    }
    return ETL_OK;
}

/* ---- the cursor ------------------------------------------------------------ */


static etl_status source_checkpoint(void *state, etl_buf *cursor)
{
    s3_source *s = state;
    /* The last fully read key: the one before the current, or the cursor's. */
    const char *done = s->index > 0 && s->index <= s->nobjects ? s->objects[s->index - 1].key
                                                               : (s->after_key ? s->after_key : "");
    const char *current = s->index < s->nobjects && s->records > 0 ? s->objects[s->index].key : "";
    etl_status st = s3_host->buf_printf(cursor, "{\"key\":");
    if (st == ETL_OK)
        st = s3_host->json_quote(cursor, done, strlen(done));
    if (st == ETL_OK)
        st = s3_host->buf_printf(cursor, ",\"current\":");
    if (st == ETL_OK)
        st = s3_host->json_quote(cursor, current, strlen(current));
    if (st == ETL_OK)
        st = s3_host->buf_printf(cursor, ",\"records\":%lld,\"modified_after\":%lld,"
                                         "\"listed_until\":%lld,\"complete\":%s}",
                                 (long long)(current[0] ? s->records : 0),
                                 (long long)(s->since_ms == NO_TIME ? -1 : s->since_ms),
                                 (long long)(s->until_ms == NO_TIME ? -1 : s->until_ms),
                                 s->complete && s->index >= s->nobjects ? "true" : "false");
    return st;
}

typedef struct cursor_fields {
    etl_buf key, current;
    int64_t records, since, until;
    bool complete;
} cursor_fields;

/* The cursor is what source_checkpoint wrote; the host reads it back. */
static bool cursor_string(etl_ctx *ctx, const char *json, size_t len, const char *key,
                          etl_buf *out)
{
    etl_json_span v;
    out->len = 0;
    return s3_host->json_find(ctx, json, len, key, &v) == ETL_OK &&
           s3_host->json_string(&v, out) == ETL_OK && s3_host->buf_append(out, "", 0) == ETL_OK;
}

static bool cursor_int(etl_ctx *ctx, const char *json, size_t len, const char *key, int64_t *out)
{
    etl_json_span v;
    return s3_host->json_find(ctx, json, len, key, &v) == ETL_OK && s3_host->json_int64(&v, out);
}

static bool parse_cursor(etl_ctx *ctx, const char *json, size_t len, cursor_fields *f)
{
    etl_json_span v;
    return cursor_string(ctx, json, len, "key", &f->key) &&
           cursor_string(ctx, json, len, "current", &f->current) &&
           cursor_int(ctx, json, len, "records", &f->records) && f->records >= 0 &&
           cursor_int(ctx, json, len, "modified_after", &f->since) &&
           cursor_int(ctx, json, len, "listed_until", &f->until) &&
           s3_host->json_find(ctx, json, len, "complete", &v) == ETL_OK &&
           s3_host->json_bool(&v, &f->complete);
}

/* Drops the records the cursor says were already returned. */
static etl_status skip_records(s3_source *s, int64_t records)
{
    etl_status st = open_current(s);
    int64_t skipped = 0;
    if (st == ETL_OK)
        st = s3_host->format_skip(s->reader, records, &skipped);
    s->records += skipped;
    if (st == ETL_END)
        st = s3_host->set_error(s->ctx, ETL_ERR_PERMANENT, 0,
                                "S3 source: the checkpoint says %lld records of s3://%s/%s "
                                "were read but it now has %lld: it changed; reset the state",
                                (long long)records, s->client->bucket, s->objects[s->index].key,
                                (long long)skipped);
    return st;
}

static void set_after(s3_source *s, const char *key)
{
    s3_host->free(s->after_key);
    s->after_key = key && *key ? s3_strdup(key) : NULL;
}

/* A complete pass of an incremental source: the next pass reads what was
 * modified after its window. */
static void next_pass(s3_source *s, const cursor_fields *f)
{
    s->since_ms = f->until;
    set_after(s, NULL);
}

static etl_status source_restore(void *state, const char *json, size_t len)
{
    s3_source *s = state;
    cursor_fields f = {0};
    etl_status st = ETL_OK;
    if (!parse_cursor(s->ctx, json, len, &f)) {
        st = s3_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                "S3 source: the saved cursor '%.*s' is not one this source "
                                "writes; reset the pipeline's state",
                                (int)(len > 200 ? 200 : len), json);
    } else if (s->incremental && f.complete) {
        next_pass(s, &f);
    } else {
        /* The same pass goes on, over the same window. */
        s->since_ms = f.since < 0 ? NO_TIME : f.since;
        if (s->incremental)
            s->until_ms = f.until < 0 ? NO_TIME : f.until;
        set_after(s, f.key.data);
        st = apply_pass(s);
        if (st == ETL_OK && f.records > 0) {
            if (s->nobjects == 0 || strcmp(s->objects[0].key, f.current.data) != 0)
                st = s3_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                        "S3 source: the saved cursor is inside s3://%s/%s, "
                                        "which is no longer listed; reset the pipeline's state",
                                        s->client->bucket, f.current.data);
            else
                st = skip_records(s, f.records);
        }
    }
    s3_host->buf_free(&f.key);
    s3_host->buf_free(&f.current);
    return st;
}

/* ---- open and close ---------------------------------------------------------- */

static void source_close(void *state)
{
    s3_source *s = state;
    if (s == NULL)
        return;
    close_current(s);
    for (size_t i = 0; i < s->nobjects; i++) {
        s3_host->free(s->objects[i].key);
        s3_host->free(s->objects[i].etag);
    }
    s3_host->free(s->objects);
    s3_host->free(s->after_key);
    s3_host->buf_free(&s->chunk);
    s3_client_free(s->client);
    s3_host->free(s);
}

static etl_status read_options(s3_source *s, const etl_options *opts)
{
    s->format_opts = s3_host->opt_map(opts, "format");
    s->format_type = s->format_opts ? s3_host->opt_string(s->format_opts, "type") : NULL;
    const char *compression = s3_host->opt_string(opts, "compression");
    s->compression = compression ? compression : "auto";
    s3_host->opt_bool(opts, "incremental", &s->incremental);
    s->chunk_size = 8LL * 1024 * 1024;
    s3_host->opt_size(opts, "chunk_size", &s->chunk_size);
    s->max_keys = 1000;
    s3_host->opt_int(opts, "max_keys", &s->max_keys);
    s->settle_ms = 1000;
    s3_host->opt_duration_ms(opts, "settle_time", &s->settle_ms);
    if (s->chunk_size < 1024 || s->chunk_size > (1LL << 30))
        return s3_host->set_error(s->ctx, ETL_ERR_CONFIG, 0, "%s: chunk_size must be 1KiB to 1GiB",
                                  s3_host->opt_where(opts, "chunk_size"));
    if (s->max_keys < 1 || s->max_keys > 1000)
        return s3_host->set_error(s->ctx, ETL_ERR_CONFIG, 0, "%s: max_keys must be 1 to 1000",
                                  s3_host->opt_where(opts, "max_keys"));
    s->since_ms = s->until_ms = NO_TIME;
    const char *after = s3_host->opt_string(opts, "modified_after");
    if (after && *after) {
        s->since_ms = s3_parse_time_ms(after, strlen(after));
        if (s->since_ms == -1)
            return s3_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                      "%s: modified_after must be a UTC time such as "
                                      "2024-12-15T00:00:00Z, not '%s'",
                                      s3_host->opt_where(opts, "modified_after"), after);
    }
    if (s->incremental) {
        /* S3 times have one-second resolution: leave the current second (and
         * the settle time) to the next pass. */
        s->until_ms = (now_ms() / 1000) * 1000 - s->settle_ms;
    }
    return ETL_OK;
}

static etl_status source_open(etl_ctx *ctx, const etl_options *opts, void **state)
{
    s3_source *s = s3_host->alloc(sizeof *s);
    if (s == NULL)
        return s3_host->set_error(ctx, ETL_ERR_NOMEM, 0, "S3 source: out of memory");
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    etl_status st = s3_client_open(ctx, opts, &s->client);
    if (st == ETL_OK) {
        s->client->throttled = true;
        st = read_options(s, opts);
    }
    if (st == ETL_OK)
        st = list_all(s);
    if (st != ETL_OK) {
        source_close(s);
        return st;
    }
    *state = s;
    return ETL_OK;
}

static const etl_option_spec source_options[] = {
    {.key = "url", .type = ETL_OPT_STRING, .flags = ETL_OPT_REQUIRED,
     .doc = "the objects to read: s3://bucket/prefix/ (every object under it, in key order)"},
    S3_CLIENT_OPTION_SPECS,
    {.key = "format", .type = ETL_OPT_ANY, .default_value = "auto",
     .doc = "auto (from the key: .ndjson/.jsonl/.json, .csv, .parquet), a format name, or a "
            "mapping such as {type: csv, delimiter: ';'}"},
    {.key = "compression", .type = ETL_OPT_ENUM, .default_value = "auto",
     .doc = "auto decompresses .gz and .zst objects (or those that start like them); none "
            "reads bytes as they are; gzip or zstd for every object", .choices = "auto|none|gzip|zstd"},
    {.key = "modified_after", .type = ETL_OPT_STRING,
     .doc = "only objects whose LastModified is after this UTC time (2024-12-15T00:00:00Z)"},
    {.key = "incremental", .type = ETL_OPT_BOOL, .default_value = "false",
     .doc = "each pass reads the objects modified since the previous pass (by LastModified; "
            "the window's end is fixed when the pass starts)"},
    {.key = "settle_time", .type = ETL_OPT_DURATION, .default_value = "1s",
     .doc = "incremental: objects modified this recently wait for the next pass"},
    {.key = "chunk_size", .type = ETL_OPT_SIZE, .default_value = "8MiB",
     .doc = "bytes per ranged GET (memory use per object being read)"},
    {.key = "max_keys", .type = ETL_OPT_INT, .default_value = "1000",
     .doc = "keys per ListObjectsV2 page (1 to 1000)"},
    {.key = NULL},
};

static bool source_incremental(void *state)
{
    return ((s3_source *)state)->incremental;
}

static const etl_source_vtable source_vtable = {
    .struct_size = sizeof(etl_source_vtable),
    .open = source_open,
    .read = source_read,
    .checkpoint = source_checkpoint,
    .restore = source_restore,
    .close = source_close,
    .incremental = source_incremental,
};

const etl_connector s3_source_connector = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_SOURCE,
    .name = "s3",
    .summary = "Reads the objects under an S3 prefix in key order (ndjson, csv, parquet), "
               "resumable, optionally incremental by LastModified",
    .options = source_options,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &source_vtable,
};
