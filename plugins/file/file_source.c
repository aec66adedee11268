/* The file source: one path or a glob of local files, read in sorted order,
 * decompressed on the fly and decoded by a format (ndjson, csv, ...).
 * Cursor: {"file": path, "file_index": N, "records": R}: R records of that
 * file were returned; restore decodes and drops them. */
#include "file_internal.h"

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

typedef struct file_source {
    etl_ctx *ctx;
    const etl_options *format_opts;  /* the `format` mapping, may be NULL */
    const char *format_type;         /* its type; NULL or "auto": by extension */
    const char *compression;     /* the option: auto, none, gzip or zstd */
    char **paths;
    size_t npaths;
    size_t index;                    /* the file being read */
    int64_t records;                 /* records of that file returned so far */
    file_input *input;
    etl_byte_source bytes;
    etl_format_reader *reader;
} file_source;

/* ---- which files ---------------------------------------------------- */

static bool has_glob_chars(const char *path) { return strpbrk(path, "*?[") != NULL; }

static int compare_paths(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static etl_status add_path(file_source *s, const char *path)
{
    char **paths = file_host->realloc(s->paths, (s->npaths + 1) * sizeof *paths);
    if (paths == NULL)
        return file_host->set_error(s->ctx, ETL_ERR_NOMEM, 0, "file source: out of memory");
    s->paths = paths;
    s->paths[s->npaths] = file_strdup(path);
    if (s->paths[s->npaths] == NULL)
        return file_host->set_error(s->ctx, ETL_ERR_NOMEM, 0, "file source: out of memory");
    s->npaths++;
    return ETL_OK;
}

static etl_status expand_glob(file_source *s, const char *pattern, const char *where)
{
    glob_t g;
    int rc = glob(pattern, 0, NULL, &g);
    if (rc == GLOB_NOMATCH) {
        globfree(&g);
        return file_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                    "%s: no files match '%s' (the pattern is relative to the "
                                    "directory etl runs in)", where, pattern);
    }
    if (rc != 0) {
        globfree(&g);
        return file_host->set_error(s->ctx, ETL_ERR_IO, errno, "%s: cannot list files for '%s': %s",
                                    where, pattern, strerror(errno));
    }
    etl_status st = ETL_OK;
    for (size_t i = 0; i < g.gl_pathc && st == ETL_OK; i++) {
        struct stat info;
        /* A glob over a directory tree matches folders too: read only files. */
        if (stat(g.gl_pathv[i], &info) == 0 && S_ISDIR(info.st_mode))
            continue;
        st = add_path(s, g.gl_pathv[i]);
    }
    globfree(&g);
    if (st == ETL_OK && s->npaths == 0)
        return file_host->set_error(s->ctx, ETL_ERR_CONFIG, 0, "%s: no files match '%s'", where,
                                    pattern);
    /* glob() sorts by the locale; byte order makes runs repeatable anywhere. */
    qsort(s->paths, s->npaths, sizeof *s->paths, compare_paths);
    return st;
}

static etl_status check_readable(file_source *s, const char *path)
{
    struct stat info;
    if (stat(path, &info) != 0)
        return file_host->set_error(s->ctx, ETL_ERR_IO, errno, "cannot read %s: %s", path,
                                    strerror(errno));
    if (S_ISDIR(info.st_mode))
        return file_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                    "%s is a directory: give a file or a glob such as "
                                    "'%s/*.ndjson'", path, path);
    return ETL_OK;
}

/* ---- which format --------------------------------------------------- */

static bool format_is_auto(const file_source *s)
{
    return s->format_type == NULL || strcmp(s->format_type, "auto") == 0;
}

/* The format of `path`: the option's, or the one its name implies (the
 * host looks through .gz/.zst); NULL if the name does not tell. */
static const char *format_of(const file_source *s, const char *path)
{
    return format_is_auto(s) ? file_host->format_from_name(path) : s->format_type;
}

static etl_status check_formats(file_source *s, const etl_options *opts)
{
    for (size_t i = 0; i < s->npaths; i++) {
        if (format_of(s, s->paths[i]) == NULL)
            return file_host->set_error(
                s->ctx, ETL_ERR_CONFIG, 0,
                "%s: cannot tell the format of '%s' from its name (known: .ndjson, .jsonl, "
                ".json, .csv, .parquet, optionally .gz or .zst); set format: ndjson or "
                "format: csv",
                file_host->opt_where(opts, "path"), s->paths[i]);
    }
    return ETL_OK;
}

/* ---- open ------------------------------------------------------------ */

static void source_close(void *state);

static etl_status read_options(file_source *s, const etl_options *opts)
{
    const char *path = file_host->opt_string(opts, "path");
    const char *where = file_host->opt_where(opts, "path");
    if (path == NULL || *path == '\0')
        return file_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                    "%s: the file source needs a path (a file or a glob)", where);
    s->compression = file_host->opt_string(opts, "compression");   /* an enum: checked */
    s->format_opts = file_host->opt_map(opts, "format");
    s->format_type = s->format_opts ? file_host->opt_string(s->format_opts, "type") : NULL;
    etl_status st = has_glob_chars(path) ? expand_glob(s, path, where) : add_path(s, path);
    for (size_t i = 0; i < s->npaths && st == ETL_OK; i++)
        st = check_readable(s, s->paths[i]);
    return st == ETL_OK ? check_formats(s, opts) : st;
}

static etl_status source_open(etl_ctx *ctx, const etl_options *opts, void **state)
{
    file_source *s = file_host->alloc(sizeof *s);
    if (s == NULL)
        return file_host->set_error(ctx, ETL_ERR_NOMEM, 0, "file source: out of memory");
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    etl_status st = read_options(s, opts);
    if (st != ETL_OK) {
        source_close(s);
        return st;
    }
    *state = s;
    return ETL_OK;
}

/* ---- reading ------------------------------------------------------- */

static etl_status open_current(file_source *s)
{
    const char *path = s->paths[s->index];
    etl_status st = file_input_open(s->ctx, path, s->compression, &s->input, &s->bytes);
    if (st == ETL_OK)
        st = file_host->format_reader_open(s->ctx, format_of(s, path), s->format_opts, &s->bytes,
                                           &s->reader);
    if (st == ETL_OK)
        file_host->log(s->ctx, ETL_LOG_DEBUG, "reading %s as %s", path, format_of(s, path));
    return st;
}

static void close_current(file_source *s)
{
    file_host->format_reader_close(s->reader);
    s->reader = NULL;
    file_input_close(s->input);
    s->input = NULL;
}

static etl_status source_read(void *state, etl_builder *out, int64_t max_records,
                              int64_t max_bytes)
{
    file_source *s = state;
    int64_t total = 0;
    while (total < max_records) {
        if (s->index >= s->npaths)
            return ETL_END;
        if (s->reader == NULL) {
            etl_status st = open_current(s);
            if (st != ETL_OK)
                return st;
        }
        int64_t before = file_host->builder_rows(out);
        etl_status st = file_host->format_read(s->reader, out, max_records - total, max_bytes);
        int64_t got = file_host->builder_rows(out) - before;
        total += got;
        s->records += got;
        if (st == ETL_END) {
            close_current(s);
            s->index++;
            s->records = 0;
            continue;
        }
        return st;   /* ETL_OK: max_records or max_bytes reached; or a failure */
    }
    return ETL_OK;
}

/* ---- the cursor ---------------------------------------------------- */


static etl_status source_checkpoint(void *state, etl_buf *cursor)
{
    file_source *s = state;
    const char *file = s->index < s->npaths ? s->paths[s->index] : "";
    etl_status st = file_host->buf_append(cursor, "{\"file\":", 8);
    if (st == ETL_OK)
        st = file_host->json_quote(cursor, file, strlen(file));
    if (st == ETL_OK)
        st = file_host->buf_printf(cursor, ",\"file_index\":%zu,\"records\":%lld}", s->index,
                                   (long long)s->records);
    return st;
}

static bool parse_cursor(etl_ctx *ctx, const char *json, size_t len, etl_buf *file,
                         int64_t *index, int64_t *records)
{
    etl_json_span v;
    return file_host->json_find(ctx, json, len, "file", &v) == ETL_OK &&
           file_host->json_string(&v, file) == ETL_OK && file_host->buf_append(file, "", 0) == ETL_OK &&
           file_host->json_find(ctx, json, len, "file_index", &v) == ETL_OK &&
           file_host->json_int64(&v, index) && *index >= 0 &&
           file_host->json_find(ctx, json, len, "records", &v) == ETL_OK &&
           file_host->json_int64(&v, records) && *records >= 0;
}

/* Finds the cursor's file in today's list: at the same index if nothing
 * changed, else by name. */
static bool locate(file_source *s, const char *file, int64_t index)
{
    if (*file == '\0') {
        s->index = s->npaths;   /* every file was read */
        return index >= (int64_t)s->npaths;
    }
    if (index >= 0 && index < (int64_t)s->npaths && strcmp(s->paths[index], file) == 0) {
        s->index = (size_t)index;
        return true;
    }
    for (size_t i = 0; i < s->npaths; i++) {
        if (strcmp(s->paths[i], file) == 0) {
            s->index = i;
            return true;
        }
    }
    return false;
}

/* Drops the records the cursor says were already returned. */
static etl_status skip_records(file_source *s, int64_t records)
{
    etl_status st = open_current(s);
    int64_t skipped = 0;
    if (st == ETL_OK)
        st = file_host->format_skip(s->reader, records, &skipped);
    s->records += skipped;
    if (st == ETL_END)
        st = file_host->set_error(s->ctx, ETL_ERR_PERMANENT, 0,
                                  "%s: the checkpoint says %lld records were read but the file "
                                  "now has %lld: it changed since; reset the state to read "
                                  "from the start", s->paths[s->index], (long long)records,
                                  (long long)skipped);
    return st;
}

static etl_status source_restore(void *state, const char *json, size_t len)
{
    file_source *s = state;
    etl_buf file = {0};
    int64_t index = 0, records = 0;
    etl_status st = ETL_OK;
    if (!parse_cursor(s->ctx, json, len, &file, &index, &records))
        st = file_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                  "file source: the saved cursor '%.*s' is not one this source "
                                  "writes; reset the pipeline's state",
                                  (int)(len > 200 ? 200 : len), json);
    else if (!locate(s, file.data, index))
        st = file_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                  "file source: the saved cursor points into '%s', which the path "
                                  "no longer matches; reset the pipeline's state to start over",
                                  file.data);
    else if (s->index < s->npaths && records > 0)
        st = skip_records(s, records);
    file_host->buf_free(&file);
    return st;
}

static void source_close(void *state)
{
    file_source *s = state;
    if (s == NULL)
        return;
    close_current(s);
    for (size_t i = 0; i < s->npaths; i++)
        file_host->free(s->paths[i]);
    file_host->free(s->paths);
    file_host->free(s);
}

static const etl_source_vtable source_vtable = {
    .struct_size = sizeof(etl_source_vtable),
    .open = source_open,
    .read = source_read,
    .checkpoint = source_checkpoint,
    .restore = source_restore,
    .close = source_close,
};

static const etl_option_spec source_options[] = {
    {.key = "path", .type = ETL_OPT_STRING, .flags = ETL_OPT_REQUIRED,
     .doc = "a file, or a glob such as data/*.ndjson.gz (matching files are read in sorted order)"},
    {.key = "format", .type = ETL_OPT_ANY, .default_value = "auto",
     .doc = "auto (from the extension, ignoring .gz/.zst), ndjson, csv, or a mapping such as "
            "{type: csv, delimiter: ';'}"},
    {.key = "compression", .type = ETL_OPT_ENUM, .default_value = "auto",
     .doc = "auto (from the extension, else the first bytes), none, gzip or zstd",
     .choices = "auto|none|gzip|zstd"},
    {.key = NULL},
};

const etl_connector file_source_connector = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_SOURCE,
    .name = "file",
    .summary = "Reads local files (one path or a glob; plain, gzip or zstd) in ndjson or csv",
    .options = source_options,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &source_vtable,
};
