/* The S3 sink: batches are encoded by any format into one object per Hive
 * partition value and commit, named from the commit
 * (<prefix><k=v/...><file_prefix>-<partition>-<seq:06d>.<ext>). The name is
 * chosen when the object's first bytes arrive, from the commit the host
 * says comes next (next_commit), so its parts stream up while it is being
 * written (s3_spool.h); commit() sends the rest and completes the upload,
 * or PUTs an object smaller than a part. Nothing is visible before the
 * commit: a multipart object appears only when completed. A resumed run
 * writes the same keys with the same bytes (an overwrite, never a
 * duplicate). close() without commit aborts unfinished multipart uploads.
 *
 * Per-record outcomes: an object store has no per-record failure, so a
 * write is all ETL_OK or the call fails. */
#include "s3_client.h"
#include "s3_partition.h"
#include "s3_spool.h"
#include "s3_upload.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_PARTITION_VALUES 10000

typedef struct s3_sink s3_sink;

/* The rows of one partition value since the last commit. */
typedef struct part_writer {
    s3_sink *sink;
    char *path;                 /* "dt=2024-12-15/" or "" */
    etl_format_writer *writer;
    etl_byte_sink bytes;
    s3_spool spool;
    int64_t rows;
    bool named;                 /* the key was chosen (or could not be, outside a run) */
    bool finished;              /* the format's trailer is in the spool */
} part_writer;

struct s3_sink {
    etl_ctx *ctx;
    s3_client *client;
    const etl_options *format_opts;
    char *extension;
    const char *content_type;
    char *file_prefix;
    const char **partition_by;
    size_t npartition_by;
    bool keep_partition_columns;
    s3_upload_options upload;
    part_writer **writers;
    size_t nwriters;
    int64_t rows_pending;
    bool committed;
    uint64_t last_sequence;
    char *last_partition;
    bool warned_missing;
};

static etl_status nomem(s3_sink *s)
{
    return s3_host->set_error(s->ctx, ETL_ERR_NOMEM, 0, "S3 sink: out of memory");
}

/* ---- writers ----------------------------------------------------------- */

static char *object_key(s3_sink *s, const part_writer *pw, const etl_commit_info *info);

/* The object is named after the commit that will publish it, known now:
 * its parts can go up while it is written. */
static void name_object(part_writer *pw)
{
    s3_sink *s = pw->sink;
    pw->named = true;
    etl_commit_info info = {.struct_size = sizeof info};
    bool known = s3_host->struct_size >= offsetof(etl_host_api, next_commit) +
                                             sizeof s3_host->next_commit &&
                 s3_host->next_commit && s3_host->next_commit(s->ctx, &info) == ETL_OK;
    if (!known)
        return;   /* outside a run (a test harness): the object waits whole for its commit */
    char *key = object_key(s, pw, &info);
    if (key)
        s3_spool_name(&pw->spool, key);
}

static etl_status spool_bytes(void *user, const void *data, size_t len)
{
    part_writer *pw = user;
    if (!pw->named)
        name_object(pw);
    return s3_spool_write(&pw->spool, data, len);
}

static void writer_free(part_writer *pw)
{
    if (pw == NULL)
        return;
    if (pw->writer)
        s3_host->format_writer_close(pw->writer);
    s3_spool_free(&pw->spool);
    s3_host->free(pw->path);
    s3_host->free(pw);
}

static part_writer *find_writer(s3_sink *s, const char *path, size_t len)
{
    for (size_t i = 0; i < s->nwriters; i++)
        if (strlen(s->writers[i]->path) == len && memcmp(s->writers[i]->path, path, len) == 0)
            return s->writers[i];
    return NULL;
}

static etl_status add_writer(s3_sink *s, const char *path, size_t len, part_writer **out)
{
    if (s->nwriters >= MAX_PARTITION_VALUES)
        return s3_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                  "S3 sink: more than %d partition values between two commits: "
                                  "partition_by should name a column with fewer values, or "
                                  "checkpoint more often", MAX_PARTITION_VALUES);
    part_writer **grown = s3_host->realloc(s->writers, (s->nwriters + 1) * sizeof *grown);
    part_writer *pw = s3_host->alloc(sizeof *pw);
    if (grown == NULL || pw == NULL) {
        if (grown)
            s->writers = grown;
        s3_host->free(pw);
        return nomem(s);
    }
    s->writers = grown;
    memset(pw, 0, sizeof *pw);
    pw->sink = s;
    pw->path = s3_strndup(path, len);
    s3_spool_init(&pw->spool, s->client, &s->upload);
    pw->bytes = (etl_byte_sink){.struct_size = sizeof pw->bytes, .user = pw,
                                .name = s->client->bucket, .write = spool_bytes};
    s->writers[s->nwriters++] = pw;
    if (pw->path == NULL)
        return nomem(s);
    etl_status st = s3_host->format_writer_open(s->ctx, s->format_opts ? NULL : "ndjson",
                                                s->format_opts, &pw->bytes, &pw->writer);
    *out = pw;
    return st;
}

/* ---- partitioning -------------------------------------------------------- */

/* The partition path of `row` ("k=v/k2=v2/") into path (reset first). */
static etl_status row_path(s3_sink *s, const etl_batch *b, const int32_t *cols, int64_t row,
                           etl_buf *path)
{
    path->len = 0;
    for (size_t k = 0; k < s->npartition_by; k++) {
        const char *name = s->partition_by[k];
        const char *why = NULL;
        etl_buf value = {0};
        bool ok = s3_hive_escape(path, name, strlen(name)) &&
                  s3_host->buf_append(path, "=", 1) == ETL_OK;
        if (ok && cols[k] < 0)
            ok = s3_host->buf_printf(&value, S3_HIVE_DEFAULT_PARTITION) == ETL_OK;
        else if (ok)
            ok = s3_partition_value(b->schema->children[cols[k]], b->array->children[cols[k]],
                                    row, &value, &why);
        if (ok)
            ok = s3_hive_escape(path, value.data ? value.data : "", value.len) &&
                 s3_host->buf_append(path, "/", 1) == ETL_OK;
        s3_host->buf_free(&value);
        if (!ok)
            return why ? s3_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                            "S3 sink: partition_by column '%s' is of type '%s': "
                                            "%s", name, b->schema->children[cols[k]]->format, why)
                       : nomem(s);
    }
    return ETL_OK;
}

/* The batch without its partition columns (Hive style: the value is in the
 * path), or a new reference to it when they are kept. */
static etl_status strip_partition_columns(s3_sink *s, const etl_batch *in, etl_batch **out)
{
    *out = NULL;
    if (s->keep_partition_columns || s->npartition_by == 0)
        return ETL_OK;
    int64_t n = in->schema->n_children;
    const char **paths = s3_host->alloc((size_t)(n ? n : 1) * sizeof *paths);
    if (paths == NULL)
        return nomem(s);
    size_t count = 0;
    bool dotted = false;
    for (int64_t i = 0; i < n; i++) {
        const char *name = in->schema->children[i]->name;
        bool partition = false;
        for (size_t k = 0; k < s->npartition_by && !partition; k++)
            partition = strcmp(name, s->partition_by[k]) == 0;
        dotted = dotted || strchr(name, '.') != NULL;
        if (!partition)
            paths[count++] = name;
    }
    etl_status st = ETL_OK;
    /* batch_select reads "a.b" as a path into a struct: keep such batches whole. */
    if (count < (size_t)n && !dotted)
        st = s3_host->batch_select(s->ctx, in, paths, NULL, count, out);
    s3_host->free(paths);
    return st;
}

static etl_status write_to(s3_sink *s, part_writer *pw, const etl_batch *batch)
{
    etl_batch *stripped = NULL;
    etl_status st = strip_partition_columns(s, batch, &stripped);
    if (st == ETL_OK)
        st = s3_host->format_write(pw->writer, stripped ? stripped : batch);
    if (stripped)
        s3_host->batch_release(stripped);
    if (st == ETL_OK)
        pw->rows += batch->num_rows;
    return st;
}

/* Splits the batch by partition value, one filtered batch per value. */
static etl_status write_partitioned(s3_sink *s, const etl_batch *batch)
{
    int64_t rows = batch->num_rows;
    int32_t cols[16];
    for (size_t k = 0; k < s->npartition_by; k++) {
        cols[k] = s3_host->batch_column_index(batch, s->partition_by[k]);
        if (cols[k] < 0 && !s->warned_missing) {
            s->warned_missing = true;
            s3_host->log(s->ctx, ETL_LOG_WARN,
                         "partition_by column '%s' is not in the records: their rows go to %s=%s",
                         s->partition_by[k], s->partition_by[k], S3_HIVE_DEFAULT_PARTITION);
        }
    }
    size_t *which = s3_host->alloc((size_t)rows * sizeof *which);
    uint8_t *keep = s3_host->alloc((size_t)rows);
    if (which == NULL || keep == NULL) {
        s3_host->free(which);
        s3_host->free(keep);
        return nomem(s);
    }
    etl_buf path = {0};
    etl_status st = ETL_OK;
    size_t lo = SIZE_MAX, hi = 0;
    part_writer *last = NULL;
    for (int64_t r = 0; r < rows && st == ETL_OK; r++) {
        st = row_path(s, batch, cols, r, &path);
        if (st != ETL_OK)
            break;
        part_writer *pw = last && strlen(last->path) == path.len &&
                                  memcmp(last->path, path.data, path.len) == 0
                              ? last
                              : find_writer(s, path.data, path.len);
        if (pw == NULL)
            st = add_writer(s, path.data, path.len, &pw);
        if (st != ETL_OK)
            break;
        last = pw;
        size_t index = 0;
        while (s->writers[index] != pw)
            index++;
        which[r] = index;
        lo = index < lo ? index : lo;
        hi = index > hi ? index : hi;
    }
    for (size_t w = lo; st == ETL_OK && rows > 0 && w <= hi; w++) {
        int64_t n = 0;
        for (int64_t r = 0; r < rows; r++)
            n += keep[r] = which[r] == w;
        if (n == 0)
            continue;
        if (n == rows) {
            st = write_to(s, s->writers[w], batch);
            break;
        }
        etl_batch *part = NULL;
        st = s3_host->batch_filter(s->ctx, batch, keep, &part);
        if (st == ETL_OK)
            st = write_to(s, s->writers[w], part);
        if (part)
            s3_host->batch_release(part);
    }
    s3_host->buf_free(&path);
    s3_host->free(which);
    s3_host->free(keep);
    return st;
}

/* Parts held back by a failure go first: an error here leaves the batch
 * untouched, so the runner may retry the write. */
static etl_status flush_stalled(s3_sink *s)
{
    etl_status st = ETL_OK;
    for (size_t i = 0; i < s->nwriters && st == ETL_OK; i++)
        if (s->writers[i]->spool.stalled)
            st = s3_spool_flush(&s->writers[i]->spool);
    return st;
}

static etl_status sink_write(void *state, const etl_batch *batch, etl_outcome *outcomes)
{
    s3_sink *s = state;
    if (batch->num_rows == 0)
        return ETL_OK;
    etl_status st = flush_stalled(s);
    if (st != ETL_OK)
        return st;
    if (s->npartition_by > 0) {
        st = write_partitioned(s, batch);
    } else {
        part_writer *pw = s->nwriters ? s->writers[0] : NULL;
        st = pw ? ETL_OK : add_writer(s, "", 0, &pw);
        if (st == ETL_OK)
            st = write_to(s, pw, batch);
    }
    if (st != ETL_OK)
        return st;
    s->rows_pending += batch->num_rows;
    for (int64_t i = 0; i < batch->num_rows; i++)
        outcomes[i] = ETL_OK;
    return ETL_OK;
}

/* ---- commit ------------------------------------------------------------ */

/* Pipeline and partition names become part of a key: no '/' in them. */
static void append_safe(etl_buf *out, const char *name)
{
    for (const char *p = name; *p; p++)
        s3_host->buf_append(out, *p == '/' || *p == '\\' ? "_" : p, 1);
}

static char *object_key(s3_sink *s, const part_writer *pw, const etl_commit_info *info)
{
    etl_buf key = {0};
    s3_host->buf_printf(&key, "%s%s", s->client->prefix, pw->path);
    append_safe(&key, s->file_prefix);
    s3_host->buf_append(&key, "-", 1);
    append_safe(&key, info->partition ? info->partition : "0");
    s3_host->buf_printf(&key, "-%06llu.%s", (unsigned long long)info->sequence, s->extension);
    return key.data;
}

static etl_status publish(s3_sink *s, part_writer *pw, const etl_commit_info *info)
{
    etl_status st = ETL_OK;
    if (pw->spool.upload.done)
        return ETL_OK;   /* a retried commit: this object is already visible */
    if (!pw->finished) {
        st = s3_host->format_finish(pw->writer);
        if (st != ETL_OK)
            return st;
        s3_host->format_writer_close(pw->writer);
        pw->writer = NULL;
        pw->finished = true;
    }
    char *key = object_key(s, pw, info);
    if (key == NULL)
        return nomem(s);
    st = s3_spool_publish(&pw->spool, key);
    if (st == ETL_OK)
        s3_host->log(s->ctx, ETL_LOG_DEBUG, "wrote s3://%s/%s (%lld bytes, %d parts, %lld rows)",
                     s->client->bucket, key, (long long)pw->spool.size,
                     pw->spool.upload.parts_done ? pw->spool.upload.parts_done : 1,
                     (long long)pw->rows);
    s3_host->free(key);
    return st;
}

static void drop_writers(s3_sink *s)
{
    for (size_t i = 0; i < s->nwriters; i++) {
        s3_spool_abort(&s->writers[i]->spool);
        writer_free(s->writers[i]);
    }
    s->nwriters = 0;
    s->rows_pending = 0;
}

static etl_status sink_commit(void *state, const etl_commit_info *info)
{
    s3_sink *s = state;
    if (s->rows_pending == 0)
        return ETL_OK;   /* nothing new: a repeated commit, or one with no rows */
    const char *partition = info->partition ? info->partition : "0";
    if (s->committed && s->last_sequence == info->sequence &&
        strcmp(s->last_partition, partition) == 0)
        return s3_host->set_error(s->ctx, ETL_ERR_PERMANENT, 0,
                                  "S3 sink: commit %llu of partition %s was already written; new "
                                  "rows under the same sequence would overwrite it",
                                  (unsigned long long)info->sequence, partition);
    for (size_t i = 0; i < s->nwriters; i++) {
        if (s->writers[i]->rows == 0)
            continue;
        etl_status st = publish(s, s->writers[i], info);
        if (st != ETL_OK)
            return st;   /* a retried commit continues with what is left */
    }
    char *copy = s3_strdup(partition);
    if (copy == NULL)
        return nomem(s);
    drop_writers(s);
    s->committed = true;
    s->last_sequence = info->sequence;
    s3_host->free(s->last_partition);
    s->last_partition = copy;
    return ETL_OK;
}

static void sink_abort(void *state)
{
    drop_writers(state);
}

/* ---- open and close ---------------------------------------------------- */

static void sink_close(void *state)
{
    s3_sink *s = state;
    if (s == NULL)
        return;
    if (s->client)
        drop_writers(s);
    s3_host->free(s->writers);
    s3_host->free(s->extension);
    s3_host->free(s->file_prefix);
    s3_host->free(s->partition_by);
    s3_host->free(s->last_partition);
    s3_client_free(s->client);
    s3_host->free(s);
}

static const char *content_type_for(const char *extension)
{
    if (strcmp(extension, "ndjson") == 0)
        return "application/x-ndjson";
    if (strcmp(extension, "csv") == 0)
        return "text/csv";
    if (strcmp(extension, "parquet") == 0)
        return "application/vnd.apache.parquet";
    return "application/octet-stream";
}

/* Opens a writer onto nothing so that a bad format fails at open. */
static etl_status discard_bytes(void *user, const void *data, size_t len)
{
    (void)user;
    (void)data;
    (void)len;
    return ETL_OK;
}

static etl_status check_format(s3_sink *s)
{
    etl_byte_sink none = {.struct_size = sizeof none, .user = NULL, .name = "check",
                          .write = discard_bytes};
    etl_format_writer *w = NULL;
    etl_status st = s3_host->format_writer_open(s->ctx, s->format_opts ? NULL : "ndjson",
                                                s->format_opts, &none, &w);
    if (st != ETL_OK)
        return st;
    s->extension = s3_strdup(s3_host->format_extension(w));
    s3_host->format_writer_close(w);
    if (s->extension == NULL)
        return nomem(s);
    s->content_type = content_type_for(s->extension);
    return ETL_OK;
}

static etl_status read_partitioning(s3_sink *s, const etl_options *opts)
{
    size_t n = s3_host->opt_list_count(opts, "partition_by");
    if (n > 16)
        return s3_host->set_error(s->ctx, ETL_ERR_CONFIG, 0, "%s: at most 16 partition columns",
                                  s3_host->opt_where(opts, "partition_by"));
    s->partition_by = s3_host->alloc((n ? n : 1) * sizeof *s->partition_by);
    if (s->partition_by == NULL)
        return nomem(s);
    for (size_t i = 0; i < n; i++) {
        s->partition_by[i] = s3_host->opt_list_item(opts, "partition_by", i);
        if (s->partition_by[i] == NULL || *s->partition_by[i] == '\0')
            return s3_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                      "%s: partition_by lists column names",
                                      s3_host->opt_where(opts, "partition_by"));
    }
    s->npartition_by = n;
    s3_host->opt_bool(opts, "keep_partition_columns", &s->keep_partition_columns);
    return ETL_OK;
}

static etl_status read_upload_options(s3_sink *s, const etl_options *opts)
{
    s->upload.part_size = 8LL * 1024 * 1024;
    s3_host->opt_size(opts, "part_size", &s->upload.part_size);
    if (s->upload.part_size < S3_MIN_PART_SIZE || s->upload.part_size > S3_MAX_PART_SIZE)
        return s3_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                  "%s: part_size must be between 5MiB and 5GiB (S3's limits for "
                                  "the parts of a multipart upload), not %lld bytes",
                                  s3_host->opt_where(opts, "part_size"),
                                  (long long)s->upload.part_size);
    const char *checksum = s3_host->opt_string(opts, "checksum");
    s->upload.crc32c = checksum == NULL || strcmp(checksum, "crc32c") == 0;
    /* sha256: the body's hash goes into the signature (S3 checks it). */
    s->client->payload_hash = checksum && strcmp(checksum, "sha256") == 0 ? NULL
                                                                          : "UNSIGNED-PAYLOAD";
    s->upload.content_type = s->content_type;
    return ETL_OK;
}

/* One listing request: refused credentials or a missing bucket fail here,
 * before anything is read. A policy that allows writes but not listing is
 * fine. */
static etl_status check_access(s3_sink *s)
{
    etl_buf query = {0};
    s3_host->buf_printf(&query, "list-type=2&max-keys=1&prefix=");
    s3_uri_encode(&query, s->client->prefix, strlen(s->client->prefix), false);
    etl_http_response resp = {.struct_size = sizeof resp};
    s3_call call = {.method = "GET", .query = query.data, .retry = true,
                    .max_response_bytes = 1 << 20};
    etl_status st = s3_request(s->client, &call, &resp, NULL);
    if (st == ETL_ERR_AUTH && resp.status == 403 && resp.body.data &&
        strstr(resp.body.data, "<Code>AccessDenied</Code>") != NULL)
        st = ETL_OK;
    s3_host->http_response_free(&resp);
    s3_host->buf_free(&query);
    return st;
}

static etl_status sink_open(etl_ctx *ctx, const etl_options *opts, void **state)
{
    s3_sink *s = s3_host->alloc(sizeof *s);
    if (s == NULL)
        return s3_host->set_error(ctx, ETL_ERR_NOMEM, 0, "S3 sink: out of memory");
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    s->format_opts = s3_host->opt_map(opts, "format");
    const char *prefix = s3_host->opt_string(opts, "file_prefix");
    if (prefix == NULL || *prefix == '\0')
        prefix = s3_host->pipeline_name(ctx);
    s->file_prefix = s3_strdup(prefix ? prefix : "etl");
    etl_status st = s->file_prefix ? s3_client_open(ctx, opts, &s->client) : nomem(s);
    if (st == ETL_OK)
        st = check_format(s);
    if (st == ETL_OK)
        st = read_partitioning(s, opts);
    if (st == ETL_OK)
        st = read_upload_options(s, opts);
    bool check = true;
    s3_host->opt_bool(opts, "check_access", &check);
    if (st == ETL_OK && check)
        st = check_access(s);
    if (st != ETL_OK) {
        sink_close(s);
        return st;
    }
    *state = s;
    return ETL_OK;
}

static const etl_option_spec sink_options[] = {
    {.key = "url", .type = ETL_OPT_STRING, .flags = ETL_OPT_REQUIRED,
     .doc = "where objects go: s3://bucket/prefix/"},
    S3_CLIENT_OPTION_SPECS,
    {.key = "format", .type = ETL_OPT_ANY, .default_value = "ndjson",
     .doc = "a format name (ndjson, csv, parquet) or a mapping such as {type: parquet, "
            "compression: zstd}"},
    {.key = "file_prefix", .type = ETL_OPT_STRING,
     .doc = "start of each object name (<prefix>-<partition>-<seq>.<ext>); default: the "
            "pipeline name"},
    {.key = "partition_by", .type = ETL_OPT_LIST,
     .doc = "columns whose values make Hive partition paths (dt=2024-12-15/); one object per "
            "value per commit"},
    {.key = "keep_partition_columns", .type = ETL_OPT_BOOL, .default_value = "false",
     .doc = "also write the partition columns into the objects (Hive drops them: the path "
            "holds the value)"},
    {.key = "part_size", .type = ETL_OPT_SIZE, .default_value = "8MiB",
     .doc = "objects larger than this are sent as a multipart upload of parts this size "
            "(5MiB to 5GiB)"},
    {.key = "checksum", .type = ETL_OPT_ENUM, .default_value = "crc32c",
     .doc = "integrity check S3 verifies: crc32c (x-amz-checksum-crc32c, cheap), sha256 (the "
            "body's hash signed into each request) or none",
     .choices = "crc32c|sha256|none"},
    {.key = "buffer_memory", .type = ETL_OPT_SIZE,
     .doc = "ignored (kept so that older pipelines load): objects stream part by part, each "
            "holding at most about one part in memory"},
    {.key = "check_access", .type = ETL_OPT_BOOL, .default_value = "true",
     .doc = "list the prefix once at open, so that bad credentials or a missing bucket fail "
            "before anything is read"},
    {.key = NULL},
};

static const etl_sink_vtable sink_vtable = {
    .struct_size = sizeof(etl_sink_vtable),
    .open = sink_open,
    .write = sink_write,
    .commit = sink_commit,
    .abort = sink_abort,
    .close = sink_close,
};

const etl_connector s3_sink_connector = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_SINK,
    .name = "s3",
    .summary = "Writes objects to S3 in any format, Hive-partitioned, visible only once "
               "committed (multipart for large objects)",
    .options = sink_options,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &sink_vtable,
};
