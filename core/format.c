#include "format.h"

#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "buf.h"
#include "builder.h"
#include "context.h"
#include "options.h"

static const plugin_registry *format_registry;

struct etl_format_writer {
    const etl_format_vtable *vt;
    void *state;
    etl_options *validated;      /* the format's own options, checked against its schema */
};

struct etl_format_reader {
    const etl_format_vtable *vt;
    void *state;
    etl_options *validated;
    etl_ctx *ctx;
};

void format_use_registry(const plugin_registry *reg) { format_registry = reg; }

/* Finds the format and validates its options (the mapping given to the
 * sink or source under `format`, whose `type` names the format). */
static etl_status resolve_format(etl_ctx *ctx, const char *name, const etl_options *opts,
                                 const etl_format_vtable **vt, etl_options **validated)
{
    bool explicit_name = name != NULL;
    if (name == NULL && opts != NULL)
        name = options_string(opts, "type");
    if (name == NULL || *name == '\0')
        return ctx_set_error(ctx, ETL_ERR_CONFIG, 0, "no format given (write format: ndjson)");
    const etl_connector *conn =
        format_registry ? registry_find(format_registry, ETL_KIND_FORMAT, name, NULL) : NULL;
    if (conn == NULL) {
        const char **names =
            format_registry ? registry_connector_names(format_registry, ETL_KIND_FORMAT) : NULL;
        etl_buf known = {0};
        for (size_t i = 0; names && names[i]; i++)
            buf_printf(&known, "%s%s", i ? ", " : "", names[i]);
        etl_status st = ctx_set_error(ctx, ETL_ERR_CONFIG, 0,
                                      "unknown format '%s' (formats loaded: %s)", name,
                                      known.len ? buf_cstr(&known) : "none");
        buf_free(&known);
        free(names);
        return st;
    }
    /* A named format reads the caller's own options (a file source's
     * `delimiter`), which also hold keys meant for the caller. */
    static const char *const skip_named[] = {"type", "*", NULL};
    static const char *const skip_mapping[] = {"type", NULL};
    etl_buf errors = {0};
    *validated = options_from_node(conn, opts ? options_node(opts) : NULL,
                                   explicit_name ? skip_named : skip_mapping, &errors);
    if (*validated == NULL) {
        etl_status st = ctx_set_error(ctx, ETL_ERR_CONFIG, 0, "format '%s': %s", name,
                                      buf_cstr(&errors));
        buf_free(&errors);
        return st;
    }
    buf_free(&errors);
    *vt = conn->vtable;
    return ETL_OK;
}

etl_status format_writer_open(etl_ctx *ctx, const char *format, const etl_options *opts,
                              const etl_byte_sink *out, etl_format_writer **w)
{
    *w = NULL;
    etl_format_writer *writer = calloc(1, sizeof *writer);
    if (writer == NULL)
        return ctx_set_error(ctx, ETL_ERR_NOMEM, 0, "out of memory");
    etl_status st = resolve_format(ctx, format, opts, &writer->vt, &writer->validated);
    if (st == ETL_OK)
        st = writer->vt->writer_open(ctx, writer->validated, out, &writer->state);
    if (st != ETL_OK) {
        options_free(writer->validated);
        free(writer);
        return st;
    }
    *w = writer;
    return ETL_OK;
}

etl_status format_write(etl_format_writer *w, const etl_batch *batch)
{
    return w->vt->write(w->state, batch);
}

int64_t format_bytes_written(etl_format_writer *w)
{
    return w->vt->bytes_written ? w->vt->bytes_written(w->state) : -1;
}

etl_status format_finish(etl_format_writer *w) { return w->vt->finish(w->state); }

void format_writer_close(etl_format_writer *w)
{
    if (w == NULL)
        return;
    w->vt->writer_close(w->state);
    options_free(w->validated);
    free(w);
}

const char *format_extension(etl_format_writer *w)
{
    return w->vt->file_extension ? w->vt->file_extension : "dat";
}

etl_status format_reader_open(etl_ctx *ctx, const char *format, const etl_options *opts,
                              const etl_byte_source *in, etl_format_reader **r)
{
    *r = NULL;
    etl_format_reader *reader = calloc(1, sizeof *reader);
    if (reader == NULL)
        return ctx_set_error(ctx, ETL_ERR_NOMEM, 0, "out of memory");
    etl_status st = resolve_format(ctx, format, opts, &reader->vt, &reader->validated);
    if (st == ETL_OK && reader->vt->reader_open == NULL)
        st = ctx_set_error(ctx, ETL_ERR_UNSUPPORTED, 0,
                           "format '%s' cannot be read, only written (not supported)",
                           format ? format : options_string(opts, "type"));
    if (st == ETL_OK)
        st = reader->vt->reader_open(ctx, reader->validated, in, &reader->state);
    if (st != ETL_OK) {
        options_free(reader->validated);
        free(reader);
        return st;
    }
    reader->ctx = ctx;
    *r = reader;
    return ETL_OK;
}

etl_status format_read(etl_format_reader *r, etl_builder *out, int64_t max_records,
                       int64_t max_bytes)
{
    return r->vt->read(r->state, out, max_records, max_bytes);
}

void format_reader_close(etl_format_reader *r)
{
    if (r == NULL)
        return;
    r->vt->reader_close(r->state);
    options_free(r->validated);
    free(r);
}

etl_status format_skip(etl_format_reader *r, int64_t count, int64_t *skipped)
{
    *skipped = 0;
    etl_builder *scratch = builder_new(r->ctx);
    if (scratch == NULL)
        return ctx_set_error(r->ctx, ETL_ERR_NOMEM, 0, "out of memory");
    etl_status st = ETL_OK;
    while (st == ETL_OK && *skipped < count) {
        int64_t want = count - *skipped < 10000 ? count - *skipped : 10000;
        st = format_read(r, scratch, want, INT64_MAX);
        int64_t got = builder_rows(scratch);
        *skipped += got;
        etl_batch *dropped = NULL;
        etl_status finished = builder_finish(scratch, &dropped);
        if (dropped)
            batch_release(dropped);
        if (st == ETL_OK && finished != ETL_OK)
            st = finished;
        if (st == ETL_OK && got == 0)
            st = ctx_set_error(r->ctx, ETL_ERR_PERMANENT, 0,
                               "the format returned no records while skipping %lld of them",
                               (long long)count);
    }
    builder_free(scratch);
    if (st == ETL_END && *skipped >= count)
        st = ETL_OK;
    return st;
}

static bool name_ends_with(const char *name, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    return n >= m && memcmp(name + n - m, suffix, m) == 0;
}

const char *format_from_name(const char *name)
{
    if (name == NULL)
        return NULL;
    size_t n = strlen(name);
    static const char *const compressed[] = {".gz", ".zst", ".zstd"};
    for (size_t i = 0; i < sizeof compressed / sizeof compressed[0]; i++) {
        if (name_ends_with(name, n, compressed[i])) {
            n -= strlen(compressed[i]);
            break;
        }
    }
    if (name_ends_with(name, n, ".ndjson") || name_ends_with(name, n, ".jsonl") ||
        name_ends_with(name, n, ".json"))
        return "ndjson";
    if (name_ends_with(name, n, ".csv"))
        return "csv";
    if (name_ends_with(name, n, ".parquet"))
        return "parquet";
    return NULL;
}
