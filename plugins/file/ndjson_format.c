/* The ndjson format: one JSON object per line. The writer encodes rows with
 * the host's JSON encoder; the reader splits a byte stream into lines and
 * hands each to the host's streaming JSON decoder, so int64 values stay
 * exact. */
#include "file_internal.h"

#include <stdio.h>

/* Encoded rows are handed to the byte sink in pieces of about this size. */
#define NDJSON_FLUSH_BYTES (1024 * 1024)

/* ---- writer --------------------------------------------------------- */

typedef struct ndjson_writer {
    etl_byte_sink out;
    etl_buf pending;
    int64_t bytes_written;
} ndjson_writer;

static etl_status ndjson_writer_open(etl_ctx *ctx, const etl_options *opts,
                                     const etl_byte_sink *out, void **state)
{
    ndjson_writer *w = file_host->alloc(sizeof *w);
    if (w == NULL)
        return file_host->set_error(ctx, ETL_ERR_NOMEM, 0, "ndjson: out of memory");
    memset(w, 0, sizeof *w);
    w->out = *out;
    *state = w;
    return ETL_OK;
}

static etl_status flush_pending(ndjson_writer *w)
{
    if (w->pending.len == 0)
        return ETL_OK;
    etl_status st = w->out.write(w->out.user, w->pending.data, w->pending.len);
    if (st == ETL_OK)
        w->bytes_written += (int64_t)w->pending.len;
    w->pending.len = 0;
    return st;
}

static etl_status ndjson_write(void *state, const etl_batch *batch)
{
    ndjson_writer *w = state;
    /* Rows go in slices, so the pending text stays near NDJSON_FLUSH_BYTES. */
    const int64_t slice = 256;
    for (int64_t row = 0; row < batch->num_rows; row += slice) {
        int64_t count = batch->num_rows - row < slice ? batch->num_rows - row : slice;
        etl_status st = file_host->json_write_rows(batch, row, count, "\n", &w->pending);
        if (st == ETL_OK && w->pending.len >= NDJSON_FLUSH_BYTES)
            st = flush_pending(w);
        if (st != ETL_OK)
            return st;
    }
    return flush_pending(w);
}

static int64_t ndjson_bytes_written(void *state)
{
    ndjson_writer *w = state;
    return w->bytes_written + (int64_t)w->pending.len;
}

static etl_status ndjson_finish(void *state)
{
    return flush_pending(state);
}

static void ndjson_writer_close(void *state)
{
    ndjson_writer *w = state;
    if (w == NULL)
        return;
    file_host->buf_free(&w->pending);
    file_host->free(w);
}

/* ---- reader --------------------------------------------------------- */

typedef struct ndjson_reader {
    etl_ctx *ctx;
    etl_byte_source in;
    char *data;                  /* bytes read and not yet consumed: [pos, len) */
    size_t pos, len, cap;
    size_t scanned;              /* [pos, scanned) holds no newline */
    bool eof;
    int64_t line_no;             /* lines consumed so far */
} ndjson_reader;

static etl_status ndjson_reader_open(etl_ctx *ctx, const etl_options *opts,
                                     const etl_byte_source *in, void **state)
{
    ndjson_reader *r = file_host->alloc(sizeof *r);
    if (r == NULL)
        return file_host->set_error(ctx, ETL_ERR_NOMEM, 0, "ndjson: out of memory");
    memset(r, 0, sizeof *r);
    r->ctx = ctx;
    r->in = *in;
    *state = r;
    return ETL_OK;
}

/* Moves the unconsumed bytes to the front, grows the buffer when a line is
 * longer than it, and reads the next chunk. */
static etl_status read_more(ndjson_reader *r)
{
    if (r->pos > 0) {
        memmove(r->data, r->data + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->scanned -= r->pos;
        r->pos = 0;
    }
    if (r->cap - r->len < FILE_CHUNK_SIZE) {
        size_t cap = r->cap == 0 ? 2 * FILE_CHUNK_SIZE : 2 * r->cap;
        char *data = file_host->realloc(r->data, cap);
        if (data == NULL)
            return file_host->set_error(r->ctx, ETL_ERR_NOMEM, 0,
                                        "%s:%lld: out of memory holding a line of %zu bytes",
                                        r->in.name, (long long)r->line_no + 1, r->len);
        r->data = data;
        r->cap = cap;
    }
    int64_t n = r->in.read(r->in.user, r->data + r->len, r->cap - r->len);
    if (n < 0)
        return ETL_ERR_IO;       /* the byte source recorded what failed */
    r->len += (size_t)n;
    r->eof = n == 0;
    return ETL_OK;
}

/* The next line without its end (\n or \r\n); *found is false at the end
 * of the input. */
static etl_status next_line(ndjson_reader *r, const char **line, size_t *len, bool *found)
{
    *found = false;
    for (;;) {
        char *nl = r->data == NULL ? NULL
                                    : memchr(r->data + r->scanned, '\n', r->len - r->scanned);
        size_t end;
        if (nl != NULL) {
            end = (size_t)(nl - r->data);
        } else if (r->eof) {
            if (r->pos == r->len)
                return ETL_OK;
            end = r->len;        /* the last line has no newline */
        } else {
            r->scanned = r->len;
            etl_status st = read_more(r);
            if (st != ETL_OK)
                return st;
            continue;
        }
        *line = r->data + r->pos;
        *len = end - r->pos;
        if (*len > 0 && (*line)[*len - 1] == '\r')
            (*len)--;
        r->pos = end < r->len ? end + 1 : end;
        r->scanned = r->pos;
        r->line_no++;
        *found = true;
        return ETL_OK;
    }
}

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return false;
    return true;
}

/* A line the decoder refused goes to the rejects file, or fails the run
 * with the file and line in the error. The reason is left NULL: the host
 * then uses the decoder's message (byte, line, column, what was expected)
 * that json_append_record just recorded on ctx. */
static etl_status reject_line(ndjson_reader *r, const char *line, size_t len)
{
    char where[512];
    snprintf(where, sizeof where, "%s:%lld", r->in.name, (long long)r->line_no);
    etl_status st = file_host->reject(r->ctx, line, len, where, NULL);
    return st == ETL_OK ? ETL_OK : ETL_ERR_DATA;
}

static etl_status ndjson_read(void *state, etl_builder *out, int64_t max_records,
                              int64_t max_bytes)
{
    ndjson_reader *r = state;
    int64_t appended = 0;
    while (appended < max_records) {
        const char *line = NULL;
        size_t len = 0;
        bool found;
        etl_status st = next_line(r, &line, &len, &found);
        if (st != ETL_OK)
            return st;
        if (!found)
            return ETL_END;
        if (is_blank(line, len))
            continue;
        st = file_host->json_append_record(out, line, len);
        if (st == ETL_ERR_DATA)
            st = reject_line(r, line, len);
        else if (st == ETL_OK)
            appended++;
        if (st != ETL_OK)
            return st;
        if (max_bytes > 0 && file_host->builder_bytes(out) >= max_bytes)
            break;
    }
    return ETL_OK;
}

static void ndjson_reader_close(void *state)
{
    ndjson_reader *r = state;
    if (r == NULL)
        return;
    file_host->free(r->data);
    file_host->free(r);
}

static const etl_format_vtable ndjson_vtable = {
    .struct_size = sizeof(etl_format_vtable),
    .file_extension = "ndjson",
    .writer_open = ndjson_writer_open,
    .write = ndjson_write,
    .bytes_written = ndjson_bytes_written,
    .finish = ndjson_finish,
    .writer_close = ndjson_writer_close,
    .reader_open = ndjson_reader_open,
    .read = ndjson_read,
    .reader_close = ndjson_reader_close,
};

static const etl_option_spec ndjson_options[] = {
    {.key = NULL},
};

const etl_connector ndjson_format_connector = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_FORMAT,
    .name = "ndjson",
    .summary = "Newline-delimited JSON: one object per line (exact int64, nested values)",
    .options = ndjson_options,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &ndjson_vtable,
};
