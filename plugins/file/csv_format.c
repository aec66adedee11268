/* The csv format (RFC 4180). Writer: a header from the first batch's
 * columns, quoting only where needed, nulls as the null string, nested
 * values as JSON text. Reader: names from the header row, cell types
 * inferred from the first rows (or all text with infer: false), quoted
 * fields across lines, bad rows to the rejects file with file:line. */
#include "file_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

/* Rows looked at before the column types are fixed, and the most bytes
 * held for that look. */
#define CSV_SAMPLE_ROWS 1000
#define CSV_SAMPLE_BYTES (8 * 1024 * 1024)

typedef struct csv_options {
    char delimiter;
    bool header;
    bool infer;
    char *null_text;
} csv_options;

static etl_status csv_options_read(etl_ctx *ctx, const etl_options *opts, csv_options *o)
{
    o->delimiter = ',';
    o->header = true;
    o->infer = true;
    const char *delim = opts ? file_host->opt_string(opts, "delimiter") : NULL;
    const char *null_text = opts ? file_host->opt_string(opts, "null") : NULL;
    if (opts != NULL) {
        file_host->opt_bool(opts, "header", &o->header);
        file_host->opt_bool(opts, "infer", &o->infer);
    }
    if (delim != NULL) {
        if (strcmp(delim, "tab") == 0 || strcmp(delim, "\\t") == 0)
            delim = "\t";
        if (strlen(delim) != 1 || *delim == '"' || *delim == '\n' || *delim == '\r')
            return file_host->set_error(
                ctx, ETL_ERR_CONFIG, 0,
                "%s: csv delimiter must be one character other than a quote or a line end "
                "(got '%s'; write delimiter: ';' or delimiter: tab)",
                file_host->opt_where(opts, "delimiter"), delim);
        o->delimiter = *delim;
    }
    o->null_text = file_strdup(null_text != NULL ? null_text : "");
    if (o->null_text == NULL)
        return file_host->set_error(ctx, ETL_ERR_NOMEM, 0, "csv: out of memory");
    return ETL_OK;
}

/* ====================================================================== */
/* Writer                                                                  */
/* ====================================================================== */

typedef struct csv_writer {
    etl_ctx *ctx;
    etl_byte_sink out;
    csv_options o;
    char **names;                /* the header, fixed by the first batch */
    int64_t ncols;
    bool started;
    int64_t *batch_index;        /* header column -> column of the batch, or -1 */
    etl_buf pending;
    etl_buf cell;
    int64_t bytes_written;
} csv_writer;

static etl_status csv_writer_open(etl_ctx *ctx, const etl_options *opts,
                                  const etl_byte_sink *out, void **state)
{
    csv_writer *w = file_host->alloc(sizeof *w);
    if (w == NULL)
        return file_host->set_error(ctx, ETL_ERR_NOMEM, 0, "csv: out of memory");
    memset(w, 0, sizeof *w);
    w->ctx = ctx;
    w->out = *out;
    etl_status st = csv_options_read(ctx, opts, &w->o);
    if (st != ETL_OK) {
        file_host->free(w->o.null_text);
        file_host->free(w);
        return st;
    }
    *state = w;
    return ETL_OK;
}

/* ---- values as text ------------------------------------------------- */

static etl_status put(etl_buf *b, const char *s) { return file_host->buf_append(b, s, strlen(s)); }

static etl_status put_double(etl_buf *b, double v, bool json)
{
    if (isnan(v))
        return put(b, json ? "null" : "NaN");
    if (isinf(v))
        return put(b, json ? "null" : v > 0 ? "Infinity" : "-Infinity");
    char text[40];
    /* The shortest of %.15g..%.17g that reads back as the same double. */
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(text, sizeof text, "%.*g", precision, v);
        if (strtod(text, NULL) == v)
            break;
    }
    return put(b, text);
}

static etl_status put_float(etl_buf *b, float v, bool json)
{
    if (isnan(v) || isinf(v))
        return put_double(b, v, json);
    char text[40];
    for (int precision = 6; precision <= 9; precision++) {
        snprintf(text, sizeof text, "%.*g", precision, (double)v);
        if (strtof(text, NULL) == v)
            break;
    }
    return put(b, text);
}


static etl_status put_base64(etl_buf *b, const unsigned char *p, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    etl_status st = ETL_OK;
    for (size_t i = 0; i < len && st == ETL_OK; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        char q[4] = {alphabet[v >> 18 & 63], alphabet[v >> 12 & 63],
                     i + 1 < len ? alphabet[v >> 6 & 63] : '=',
                     i + 2 < len ? alphabet[v & 63] : '='};
        st = file_host->buf_append(b, q, 4);
    }
    return st;
}

/* Floor division, so that times before 1970 split correctly. */
static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static etl_status put_time(etl_buf *b, int64_t seconds, int64_t fraction, int digits,
                           bool date_only)
{
    time_t t = (time_t)seconds;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL)
        return file_host->buf_printf(b, "%lld", (long long)seconds);
    char text[64];
    if (date_only)
        snprintf(text, sizeof text, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    else if (fraction == 0)
        snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    else
        snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%0*lldZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, digits,
                 (long long)fraction);
    return put(b, text);
}

/* "tss:", "tsm:", "tsu:", "tsn:" followed by a time zone (UTC here). */
static etl_status put_timestamp(etl_buf *b, const char *format, int64_t v)
{
    static const struct { char unit; int64_t per_second; int digits; } units[] = {
        {'s', 1, 0}, {'m', 1000, 3}, {'u', 1000000, 6}, {'n', 1000000000, 9}};
    for (size_t i = 0; i < 4; i++) {
        if (format[2] != units[i].unit)
            continue;
        int64_t seconds = floor_div(v, units[i].per_second);
        return put_time(b, seconds, v - seconds * units[i].per_second, units[i].digits, false);
    }
    return file_host->buf_printf(b, "%lld", (long long)v);
}

/* decimal128 "d:P,S[,128]" as digits with the scale's decimal point. */
static etl_status put_decimal(etl_buf *b, const char *format, const struct ArrowArray *a, int64_t i)
{
    const char *comma = strchr(format, ',');
    int scale = comma != NULL ? atoi(comma + 1) : 0;
    uint64_t lo;
    int64_t hi;
    etl_arrow_decimal128(a, i, &lo, &hi);
    unsigned __int128 bits = ((unsigned __int128)(uint64_t)hi << 64) | lo;
    bool negative = hi < 0;
    unsigned __int128 magnitude = negative ? -bits : bits;   /* two's complement */
    char digits[48];
    int n = 0;
    do {
        digits[n++] = (char)('0' + (int)(magnitude % 10));
        magnitude /= 10;
    } while (magnitude > 0 && n < 40);
    while (n <= scale && n < 40)
        digits[n++] = '0';
    char text[64];
    size_t len = 0;
    if (negative)
        text[len++] = '-';
    for (int k = n - 1; k >= 0; k--) {
        text[len++] = digits[k];
        if (k == scale && scale > 0)
            text[len++] = '.';
    }
    return file_host->buf_append(b, text, len);
}

static etl_status put_value(etl_buf *b, const struct ArrowSchema *s, const struct ArrowArray *a,
                            int64_t i, bool json);

/* Timestamps ("ts?:UTC") and dates ("tdD") as ISO 8601 text. */
static etl_status put_temporal(etl_buf *b, const char *format, const struct ArrowArray *a,
                               int64_t i, bool json)
{
    if (format[1] != 's' && strcmp(format, "tdD") != 0)
        return ETL_ERR_UNSUPPORTED;
    etl_status st = json ? put(b, "\"") : ETL_OK;
    if (st == ETL_OK && format[1] == 's')
        st = put_timestamp(b, format, etl_arrow_int64(a, i));
    else if (st == ETL_OK)
        st = put_time(b, (int64_t)etl_arrow_int32(a, i) * 86400, 0, 0, true);
    return st == ETL_OK && json ? put(b, "\"") : st;
}

static etl_status put_struct(etl_buf *b, const struct ArrowSchema *s, const struct ArrowArray *a,
                             int64_t i)
{
    etl_status st = put(b, "{");
    for (int64_t c = 0; c < s->n_children && st == ETL_OK; c++) {
        const char *name = s->children[c]->name ? s->children[c]->name : "";
        if (c > 0)
            st = put(b, ",");
        if (st == ETL_OK)
            st = file_host->json_quote(b, name, strlen(name));
        if (st == ETL_OK)
            st = put(b, ":");
        if (st == ETL_OK)
            st = put_value(b, s->children[c], a->children[c], i + a->offset, true);
    }
    return st == ETL_OK ? put(b, "}") : st;
}

static etl_status put_list(etl_buf *b, const struct ArrowSchema *s, const struct ArrowArray *a,
                           int64_t i)
{
    int64_t begin, end;
    etl_arrow_list_range(a, i, &begin, &end);
    etl_status st = put(b, "[");
    for (int64_t k = begin; k < end && st == ETL_OK; k++) {
        if (k > begin)
            st = put(b, ",");
        if (st == ETL_OK)
            st = put_value(b, s->children[0], a->children[0], k, true);
    }
    return st == ETL_OK ? put(b, "]") : st;
}

/* Value i of `a` as text; `json` quotes strings and writes null as null
 * (used inside nested values). The caller has checked i is not null when
 * !json. */
static etl_status put_value(etl_buf *b, const struct ArrowSchema *s, const struct ArrowArray *a,
                            int64_t i, bool json)
{
    const char *f = s->format;
    if (f[0] == 'n' || !etl_arrow_is_valid(a, i))
        return json ? put(b, "null") : ETL_OK;
    size_t len;
    const char *bytes;
    switch (f[0]) {
    case 'b':
        return put(b, etl_arrow_bool(a, i) ? "true" : "false");
    case 'i':
        return file_host->buf_printf(b, "%d", (int)etl_arrow_int32(a, i));
    case 'l':
        return file_host->buf_printf(b, "%lld", (long long)etl_arrow_int64(a, i));
    case 'f':
        return put_float(b, etl_arrow_float(a, i), json);
    case 'g':
        return put_double(b, etl_arrow_double(a, i), json);
    case 'u':
        bytes = etl_arrow_bytes(a, i, &len);
        return json ? file_host->json_quote(b, bytes, len) : file_host->buf_append(b, bytes, len);
    case 'z':
        bytes = etl_arrow_bytes(a, i, &len);
        if (json && put(b, "\"") != ETL_OK)
            return ETL_ERR_NOMEM;
        if (put_base64(b, (const unsigned char *)bytes, len) != ETL_OK)
            return ETL_ERR_NOMEM;
        return json ? put(b, "\"") : ETL_OK;
    case 'd':
        return put_decimal(b, f, a, i);
    case 't':
        return put_temporal(b, f, a, i, json);
    case '+':
        if (f[1] == 's')
            return put_struct(b, s, a, i);
        if (f[1] == 'l')
            return put_list(b, s, a, i);
        return ETL_ERR_UNSUPPORTED;
    default:
        return ETL_ERR_UNSUPPORTED;
    }
}

/* ---- rows ----------------------------------------------------------- */

static bool needs_quotes(const csv_writer *w, const char *s, size_t len)
{
    /* An empty string must not read back as null when null is written as
     * the empty string (the default). */
    if (len == strlen(w->o.null_text) && memcmp(s, w->o.null_text, len) == 0)
        return true;
    for (size_t i = 0; i < len; i++)
        if (s[i] == w->o.delimiter || s[i] == '"' || s[i] == '\n' || s[i] == '\r')
            return true;
    return false;
}

static etl_status put_field(csv_writer *w, const char *s, size_t len)
{
    if (!needs_quotes(w, s, len))
        return file_host->buf_append(&w->pending, s, len);
    etl_status st = file_host->buf_append(&w->pending, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len && st == ETL_OK; i++) {
        if (s[i] != '"')
            continue;
        st = file_host->buf_append(&w->pending, s + run, i + 1 - run);
        run = i; /* the quote is written again: "" */
    }
    if (st == ETL_OK)
        st = file_host->buf_append(&w->pending, s + run, len - run);
    return st == ETL_OK ? file_host->buf_append(&w->pending, "\"", 1) : st;
}

static etl_status put_header(csv_writer *w)
{
    etl_status st = ETL_OK;
    for (int64_t c = 0; c < w->ncols && st == ETL_OK; c++) {
        if (c > 0)
            st = file_host->buf_append(&w->pending, &w->o.delimiter, 1);
        if (st == ETL_OK)
            st = put_field(w, w->names[c], strlen(w->names[c]));
    }
    return st == ETL_OK ? file_host->buf_append(&w->pending, "\r\n", 2) : st;
}

static etl_status fix_columns(csv_writer *w, const struct ArrowSchema *schema)
{
    w->ncols = schema->n_children;
    size_t n = (size_t)(w->ncols > 0 ? w->ncols : 1);
    w->names = file_host->alloc(n * sizeof *w->names);
    w->batch_index = file_host->alloc(n * sizeof *w->batch_index);
    if (w->names == NULL || w->batch_index == NULL)
        return file_host->set_error(w->ctx, ETL_ERR_NOMEM, 0, "csv: out of memory");
    memset(w->names, 0, n * sizeof *w->names);
    for (int64_t c = 0; c < w->ncols; c++) {
        const char *name = schema->children[c]->name;
        w->names[c] = file_strdup(name != NULL ? name : "");
        if (w->names[c] == NULL)
            return file_host->set_error(w->ctx, ETL_ERR_NOMEM, 0, "csv: out of memory");
    }
    w->started = true;
    return w->o.header ? put_header(w) : ETL_OK;
}

static int64_t find_child(const struct ArrowSchema *schema, const char *name)
{
    for (int64_t c = 0; c < schema->n_children; c++)
        if (schema->children[c]->name != NULL && strcmp(schema->children[c]->name, name) == 0)
            return c;
    return -1;
}

/* Maps the header onto this batch's columns; a column the header lacks
 * cannot be written. */
static etl_status map_columns(csv_writer *w, const struct ArrowSchema *schema)
{
    for (int64_t c = 0; c < w->ncols; c++)
        w->batch_index[c] = find_child(schema, w->names[c]);
    for (int64_t c = 0; c < schema->n_children; c++) {
        const char *name = schema->children[c]->name ? schema->children[c]->name : "";
        bool known = false;
        for (int64_t h = 0; h < w->ncols && !known; h++)
            known = strcmp(w->names[h], name) == 0;
        if (!known)
            return file_host->set_error(
                w->ctx, ETL_ERR_PERMANENT, 0,
                "csv: column '%s' appeared after the header was written (the columns of a csv "
                "file are those of the first batch); add a select transform that lists every "
                "column, or write ndjson or parquet", name);
    }
    return ETL_OK;
}

static etl_status put_cell(csv_writer *w, const struct ArrowSchema *s, const struct ArrowArray *a,
                           int64_t i)
{
    if (s->format[0] == 'n' || !etl_arrow_is_valid(a, i))
        return file_host->buf_append(&w->pending, w->o.null_text, strlen(w->o.null_text));
    w->cell.len = 0;
    etl_status st = put_value(&w->cell, s, a, i, false);
    if (st == ETL_ERR_UNSUPPORTED)
        return file_host->set_error(w->ctx, ETL_ERR_UNSUPPORTED, 0,
                                    "csv: column '%s' has Arrow type '%s', which csv cannot write",
                                    s->name ? s->name : "", s->format);
    if (st != ETL_OK)
        return st;
    return put_field(w, w->cell.data != NULL ? w->cell.data : "", w->cell.len);
}

static etl_status put_row(csv_writer *w, const etl_batch *batch, int64_t row)
{
    etl_status st = ETL_OK;
    for (int64_t c = 0; c < w->ncols && st == ETL_OK; c++) {
        if (c > 0)
            st = file_host->buf_append(&w->pending, &w->o.delimiter, 1);
        int64_t k = w->batch_index[c];
        if (st != ETL_OK)
            break;
        if (k < 0)
            st = file_host->buf_append(&w->pending, w->o.null_text, strlen(w->o.null_text));
        else
            st = put_cell(w, batch->schema->children[k], batch->array->children[k],
                          row + batch->array->offset);
    }
    return st == ETL_OK ? file_host->buf_append(&w->pending, "\r\n", 2) : st;
}

static etl_status csv_flush(csv_writer *w)
{
    if (w->pending.len == 0)
        return ETL_OK;
    etl_status st = w->out.write(w->out.user, w->pending.data, w->pending.len);
    if (st == ETL_OK)
        w->bytes_written += (int64_t)w->pending.len;
    w->pending.len = 0;
    return st;
}

static etl_status csv_write(void *state, const etl_batch *batch)
{
    csv_writer *w = state;
    etl_status st = w->started ? ETL_OK : fix_columns(w, batch->schema);
    if (st == ETL_OK)
        st = map_columns(w, batch->schema);
    for (int64_t row = 0; row < batch->num_rows && st == ETL_OK; row++) {
        st = put_row(w, batch, row);
        if (st == ETL_OK && w->pending.len >= 1024 * 1024)
            st = csv_flush(w);
    }
    return st == ETL_OK ? csv_flush(w) : st;
}

static int64_t csv_bytes_written(void *state)
{
    csv_writer *w = state;
    return w->bytes_written + (int64_t)w->pending.len;
}

static etl_status csv_finish(void *state) { return csv_flush(state); }

static void csv_writer_close(void *state)
{
    csv_writer *w = state;
    if (w == NULL)
        return;
    for (int64_t c = 0; w->names != NULL && c < w->ncols; c++)
        file_host->free(w->names[c]);
    file_host->free(w->names);
    file_host->free(w->batch_index);
    file_host->buf_free(&w->pending);
    file_host->buf_free(&w->cell);
    file_host->free(w->o.null_text);
    file_host->free(w);
}

/* ====================================================================== */
/* Reader                                                                  */
/* ====================================================================== */

typedef enum cell_kind {
    KIND_NONE = 0,               /* only nulls seen */
    KIND_BOOL,
    KIND_INT,
    KIND_DOUBLE,
    KIND_STRING
} cell_kind;

typedef enum parse_result {
    PARSE_RECORD,
    PARSE_NEED_MORE,
    PARSE_END,
    PARSE_UNTERMINATED
} parse_result;

/* One parsed record: the unescaped fields, back to back in `text`. */
typedef struct csv_record {
    char *text;
    size_t text_len, text_cap;
    size_t *start, *len;
    bool *quoted;
    size_t count, cap;
    size_t end;                  /* offset just past the record's line end */
    size_t raw_len;              /* the record's bytes without the line end */
    int64_t lines;               /* line ends inside and after the record */
} csv_record;

typedef struct csv_reader {
    etl_ctx *ctx;
    etl_byte_source in;
    csv_options o;
    char *data;                  /* bytes read and not yet consumed: [pos, len) */
    size_t pos, len, cap;
    bool eof;
    int64_t line_no;             /* lines consumed so far */
    bool started;
    char **names;
    cell_kind *kinds;
    int32_t *columns;            /* builder handles, resolved on each read() */
    size_t ncols;
    csv_record rec;
} csv_reader;

static etl_status csv_reader_open(etl_ctx *ctx, const etl_options *opts,
                                  const etl_byte_source *in, void **state)
{
    csv_reader *r = file_host->alloc(sizeof *r);
    if (r == NULL)
        return file_host->set_error(ctx, ETL_ERR_NOMEM, 0, "csv: out of memory");
    memset(r, 0, sizeof *r);
    r->ctx = ctx;
    r->in = *in;
    etl_status st = csv_options_read(ctx, opts, &r->o);
    if (st != ETL_OK) {
        file_host->free(r->o.null_text);
        file_host->free(r);
        return st;
    }
    *state = r;
    return ETL_OK;
}

static etl_status nomem(csv_reader *r)
{
    return file_host->set_error(r->ctx, ETL_ERR_NOMEM, 0, "%s: out of memory reading csv",
                                r->in.name);
}

/* Reads at least `want` more bytes (or to the end), after moving the
 * unconsumed bytes to the front. Reading in proportion to what is already
 * held keeps a long quoted field linear to parse. */
static etl_status read_more(csv_reader *r, size_t want)
{
    if (r->pos > 0) {
        memmove(r->data, r->data + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    if (want < FILE_CHUNK_SIZE)
        want = FILE_CHUNK_SIZE;
    if (r->cap - r->len < want) {
        size_t cap = r->len + want;
        char *data = file_host->realloc(r->data, cap);
        if (data == NULL)
            return nomem(r);
        r->data = data;
        r->cap = cap;
    }
    size_t goal = r->len + want;
    while (r->len < goal && !r->eof) {
        int64_t n = r->in.read(r->in.user, r->data + r->len, r->cap - r->len);
        if (n < 0)
            return ETL_ERR_IO;   /* the byte source recorded what failed */
        r->len += (size_t)n;
        r->eof = n == 0;
    }
    return ETL_OK;
}

static bool record_push_char(csv_record *rec, char c)
{
    if (rec->text_len == rec->text_cap) {
        size_t cap = rec->text_cap ? 2 * rec->text_cap : 256;
        char *text = file_host->realloc(rec->text, cap);
        if (text == NULL)
            return false;
        rec->text = text;
        rec->text_cap = cap;
    }
    rec->text[rec->text_len++] = c;
    return true;
}

static bool record_start_field(csv_record *rec)
{
    if (rec->count == rec->cap) {
        size_t cap = rec->cap ? 2 * rec->cap : 16;
        size_t *start = file_host->realloc(rec->start, cap * sizeof *start);
        if (start != NULL)
            rec->start = start;
        size_t *len = file_host->realloc(rec->len, cap * sizeof *len);
        if (len != NULL)
            rec->len = len;
        bool *quoted = file_host->realloc(rec->quoted, cap * sizeof *quoted);
        if (quoted != NULL)
            rec->quoted = quoted;
        if (start == NULL || len == NULL || quoted == NULL)
            return false;
        rec->cap = cap;
    }
    rec->start[rec->count] = rec->text_len;
    rec->len[rec->count] = 0;
    rec->quoted[rec->count] = false;
    rec->count++;
    return true;
}

static void record_end_field(csv_record *rec)
{
    rec->len[rec->count - 1] = rec->text_len - rec->start[rec->count - 1];
}

/* Parses the record that starts at `from`. Sets *oom on allocation failure. */
static parse_result parse_record(csv_reader *r, size_t from, bool *oom)
{
    csv_record *rec = &r->rec;
    const char *d = r->data;
    char delim = r->o.delimiter;
    rec->count = rec->text_len = 0;
    rec->lines = 0;
    *oom = !record_start_field(rec);
    bool in_quotes = false;
    size_t i = from;
    while (!*oom) {
        if (i == r->len) {
            if (!r->eof)
                return PARSE_NEED_MORE;
            if (in_quotes)
                return PARSE_UNTERMINATED;
            if (i == from)
                return PARSE_END;
            record_end_field(rec);
            rec->raw_len = i - from;
            rec->end = i;
            return PARSE_RECORD;
        }
        char c = d[i];
        size_t field_len = rec->text_len - rec->start[rec->count - 1];
        if (in_quotes) {
            if (c != '"') {
                rec->lines += c == '\n';
                *oom = !record_push_char(rec, c);
                i++;
            } else if (i + 1 == r->len && !r->eof) {
                return PARSE_NEED_MORE;
            } else if (i + 1 < r->len && d[i + 1] == '"') {
                *oom = !record_push_char(rec, '"');
                i += 2;
            } else {
                in_quotes = false;
                i++;
            }
        } else if (c == delim) {
            record_end_field(rec);
            *oom = !record_start_field(rec);
            i++;
        } else if (c == '\n' || (c == '\r' && i + 1 < r->len && d[i + 1] == '\n')) {
            record_end_field(rec);
            rec->raw_len = i - from;
            rec->end = i + (c == '\r' ? 2 : 1);
            rec->lines++;
            return PARSE_RECORD;
        } else if (c == '\r' && i + 1 == r->len && !r->eof) {
            return PARSE_NEED_MORE;
        } else if (c == '"' && field_len == 0 && !rec->quoted[rec->count - 1]) {
            in_quotes = true;
            rec->quoted[rec->count - 1] = true;
            i++;
        } else {
            /* A stray quote inside an unquoted field is kept as it is. */
            *oom = !record_push_char(rec, c);
            i++;
        }
    }
    return PARSE_END;
}

static bool record_is_blank(const csv_record *rec)
{
    return rec->count == 1 && rec->len[0] == 0 && !rec->quoted[0];
}

/* Parses the record at offset `rel` from pos, reading more as needed.
 * `rel` stays valid across the buffer moves of read_more. */
static etl_status next_record(csv_reader *r, size_t rel, parse_result *result)
{
    for (;;) {
        bool oom;
        *result = parse_record(r, r->pos + rel, &oom);
        if (oom)
            return nomem(r);
        if (*result != PARSE_NEED_MORE)
            return ETL_OK;
        etl_status st = read_more(r, r->len - r->pos);
        if (st != ETL_OK)
            return st;
    }
}

static etl_status unterminated(csv_reader *r, int64_t line)
{
    const char *raw = r->data + r->pos;
    size_t len = r->len - r->pos;
    char where[512];
    snprintf(where, sizeof where, "%s:%lld", r->in.name, (long long)line);
    r->pos = r->len;
    etl_status st = file_host->reject(r->ctx, raw, len, where,
                                      "a quoted field is not closed before the end of the file");
    return st == ETL_OK ? ETL_END : ETL_ERR_DATA;
}

/* ---- the header and the column types -------------------------------- */

static cell_kind classify(const csv_reader *r, const char *s, size_t len, bool quoted)
{
    size_t null_len = strlen(r->o.null_text);
    if (!quoted && len == null_len && memcmp(s, r->o.null_text, len) == 0)
        return KIND_NONE;
    if (len == 0)
        return KIND_STRING;
    if ((len == 4 && strncasecmp(s, "true", 4) == 0) ||
        (len == 5 && strncasecmp(s, "false", 5) == 0))
        return KIND_BOOL;
    /* JSON number grammar: no leading zeros (so "007" stays text), no '+'. */
    size_t i = s[0] == '-';
    if (i == len || s[i] < '0' || s[i] > '9')
        return KIND_STRING;
    if (s[i] == '0' && i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '9')
        return KIND_STRING;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    bool integer = i == len;
    if (i < len && s[i] == '.') {
        size_t digits = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == digits)
            return KIND_STRING;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t digits = i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == digits)
            return KIND_STRING;
    }
    if (i != len)
        return KIND_STRING;
    if (!integer)
        return KIND_DOUBLE;
    /* Integers past int64 would lose digits as doubles: keep them as text. */
    char text[32];
    if (len >= sizeof text)
        return KIND_STRING;
    memcpy(text, s, len);
    text[len] = '\0';
    errno = 0;
    (void)strtoll(text, NULL, 10);
    return errno == ERANGE ? KIND_STRING : KIND_INT;
}

static cell_kind merge_kinds(cell_kind a, cell_kind b)
{
    if (a == KIND_NONE || a == b)
        return b;
    if (b == KIND_NONE)
        return a;
    if ((a == KIND_INT && b == KIND_DOUBLE) || (a == KIND_DOUBLE && b == KIND_INT))
        return KIND_DOUBLE;
    return KIND_STRING;
}

static etl_status set_columns(csv_reader *r, size_t count)
{
    r->ncols = count;
    r->names = file_host->alloc(count * sizeof *r->names);
    r->kinds = file_host->alloc(count * sizeof *r->kinds);
    r->columns = file_host->alloc(count * sizeof *r->columns);
    if (r->names == NULL || r->kinds == NULL || r->columns == NULL)
        return nomem(r);
    memset(r->names, 0, count * sizeof *r->names);
    for (size_t c = 0; c < count; c++)
        r->kinds[c] = r->o.infer ? KIND_NONE : KIND_STRING;
    return ETL_OK;
}

/* Names from the header record: empty names become c<N>, repeated names
 * get _<N> so that each column is distinct. */
static etl_status name_columns(csv_reader *r, bool from_header)
{
    csv_record *rec = &r->rec;
    etl_status st = set_columns(r, rec->count);
    for (size_t c = 0; c < r->ncols && st == ETL_OK; c++) {
        etl_buf name = {0};
        if (from_header && rec->len[c] > 0)
            st = file_host->buf_append(&name, rec->text + rec->start[c], rec->len[c]);
        else
            st = file_host->buf_printf(&name, "c%zu", c + 1);
        for (size_t k = 0; k < c && st == ETL_OK; k++) {
            if (strlen(r->names[k]) == name.len && memcmp(r->names[k], name.data, name.len) == 0) {
                st = file_host->buf_printf(&name, "_%zu", c + 1);
                k = (size_t)-1;  /* look again: the new name may be taken too */
            }
        }
        if (st == ETL_OK)
            st = file_host->buf_append(&name, "", 1);
        if (st == ETL_OK)
            r->names[c] = file_strdup(name.data);
        file_host->buf_free(&name);
        if (st == ETL_OK && r->names[c] == NULL)
            st = nomem(r);
    }
    return st;
}

/* Looks at the first rows (without consuming them) to choose each
 * column's type: the narrowest of bool, int64, double that fits every
 * cell, else string. */
static etl_status sample_kinds(csv_reader *r)
{
    size_t rel = 0;
    for (int rows = 0; rows < CSV_SAMPLE_ROWS && rel < CSV_SAMPLE_BYTES; rows++) {
        parse_result result;
        etl_status st = next_record(r, rel, &result);
        if (st != ETL_OK)
            return st;
        if (result != PARSE_RECORD)
            break;
        rel = r->rec.end - r->pos;
        if (r->rec.count != r->ncols)
            continue;
        for (size_t c = 0; c < r->ncols; c++)
            r->kinds[c] = merge_kinds(r->kinds[c], classify(r, r->rec.text + r->rec.start[c],
                                                            r->rec.len[c], r->rec.quoted[c]));
    }
    return ETL_OK;
}

static etl_status start(csv_reader *r)
{
    parse_result result = PARSE_RECORD;
    etl_status st = ETL_OK;
    /* Blank lines before the first record are skipped. */
    while (st == ETL_OK) {
        st = next_record(r, 0, &result);
        if (st != ETL_OK || result != PARSE_RECORD || !record_is_blank(&r->rec))
            break;
        r->pos = r->rec.end;
        r->line_no += r->rec.lines;
    }
    if (st != ETL_OK || result != PARSE_RECORD)
        return st;       /* an empty file: no columns, no records */
    st = name_columns(r, r->o.header);
    if (st == ETL_OK && r->o.header) {
        r->pos = r->rec.end;
        r->line_no += r->rec.lines;
    }
    if (st == ETL_OK && r->o.infer)
        st = sample_kinds(r);
    r->started = st == ETL_OK;
    return st;
}

/* ---- records into the builder --------------------------------------- */

static const etl_type kind_types[] = {
    [KIND_NONE] = ETL_TYPE_NULL, [KIND_BOOL] = ETL_TYPE_BOOL, [KIND_INT] = ETL_TYPE_INT64,
    [KIND_DOUBLE] = ETL_TYPE_DOUBLE, [KIND_STRING] = ETL_TYPE_STRING};

static etl_status resolve_columns(csv_reader *r, etl_builder *out)
{
    for (size_t c = 0; c < r->ncols; c++) {
        const char *name = r->names[c];
        r->columns[c] = r->kinds[c] == KIND_NONE
                            ? file_host->builder_field(out, ETL_ROOT, name, strlen(name))
                            : file_host->builder_declare(out, ETL_ROOT, name,
                                                         kind_types[r->kinds[c]], 0, 0);
        if (r->columns[c] < 0)
            return file_host->set_error(r->ctx, ETL_ERR_PERMANENT, 0,
                                        "%s: cannot add column '%s' (a column of that name "
                                        "already has another type?)", r->in.name, r->names[c]);
    }
    return ETL_OK;
}

static etl_status append_cell(csv_reader *r, etl_builder *out, size_t c, const char **problem)
{
    const csv_record *rec = &r->rec;
    const char *s = rec->text + rec->start[c];
    size_t len = rec->len[c];
    cell_kind kind = classify(r, s, len, rec->quoted[c]);
    int32_t col = r->columns[c];
    if (kind == KIND_NONE)
        return file_host->append_null(out, col);
    if (r->kinds[c] == KIND_NONE)
        r->kinds[c] = kind;      /* only nulls in the sample: the first value decides */
    char text[64];
    switch (r->kinds[c]) {
    case KIND_STRING:
        return file_host->append_string(out, col, s, len);
    case KIND_BOOL:
        if (kind != KIND_BOOL)
            break;
        return file_host->append_bool(out, col, s[0] == 't' || s[0] == 'T');
    case KIND_INT:
    case KIND_DOUBLE:
        if (!(kind == KIND_INT || (kind == KIND_DOUBLE && r->kinds[c] == KIND_DOUBLE)) ||
            len >= sizeof text)
            break;
        memcpy(text, s, len);
        text[len] = '\0';
        if (r->kinds[c] == KIND_INT)
            return file_host->append_int64(out, col, strtoll(text, NULL, 10));
        return file_host->append_double(out, col, strtod(text, NULL));
    default:
        break;
    }
    static const char *const kind_names[] = {"null", "true or false", "an integer", "a number",
                                             "text"};
    *problem = kind_names[r->kinds[c]];
    return ETL_ERR_DATA;
}

static etl_status reject_record(csv_reader *r, int64_t line, const char *reason)
{
    char where[512];
    snprintf(where, sizeof where, "%s:%lld", r->in.name, (long long)line);
    etl_status st = file_host->reject(r->ctx, r->data + r->pos, r->rec.raw_len, where, reason);
    return st == ETL_OK ? ETL_OK : ETL_ERR_DATA;
}

/* Appends the parsed record; a row that does not fit is rejected. */
static etl_status emit_record(csv_reader *r, etl_builder *out, int64_t line, bool *appended)
{
    *appended = false;
    char reason[512];
    if (r->rec.count != r->ncols) {
        snprintf(reason, sizeof reason, "expected %zu fields (as in the %s), found %zu", r->ncols,
                 r->o.header ? "header" : "first row", r->rec.count);
        return reject_record(r, line, reason);
    }
    etl_status st = file_host->builder_begin_record(out);
    for (size_t c = 0; c < r->ncols && st == ETL_OK; c++) {
        const char *problem = NULL;
        st = append_cell(r, out, c, &problem);
        if (st == ETL_ERR_DATA) {
            file_host->builder_cancel_record(out);
            snprintf(reason, sizeof reason,
                     "column '%s': '%.*s' is not %s like the first rows of the file (set "
                     "infer: false to read every column as text)", r->names[c],
                     (int)(r->rec.len[c] > 80 ? 80 : r->rec.len[c]), r->rec.text + r->rec.start[c],
                     problem != NULL ? problem : "of the column's type");
            return reject_record(r, line, reason);
        }
    }
    if (st == ETL_OK)
        st = file_host->builder_end_record(out);
    else
        file_host->builder_cancel_record(out);
    *appended = st == ETL_OK;
    return st;
}

static etl_status csv_read(void *state, etl_builder *out, int64_t max_records, int64_t max_bytes)
{
    csv_reader *r = state;
    etl_status st = r->started ? ETL_OK : start(r);
    if (st != ETL_OK)
        return st;
    if (!r->started)
        return ETL_END;          /* empty input */
    st = resolve_columns(r, out);
    int64_t count = 0;
    while (st == ETL_OK && count < max_records) {
        parse_result result;
        st = next_record(r, 0, &result);
        if (st != ETL_OK)
            return st;
        if (result == PARSE_END)
            return ETL_END;
        if (result == PARSE_UNTERMINATED)
            return unterminated(r, r->line_no + 1);
        int64_t line = r->line_no + 1;
        bool appended = false;
        if (!record_is_blank(&r->rec))
            st = emit_record(r, out, line, &appended);
        r->pos = r->rec.end;
        r->line_no += r->rec.lines;
        count += appended;
        if (max_bytes > 0 && appended && file_host->builder_bytes(out) >= max_bytes)
            break;
    }
    return st;
}

static void csv_reader_close(void *state)
{
    csv_reader *r = state;
    if (r == NULL)
        return;
    for (size_t c = 0; r->names != NULL && c < r->ncols; c++)
        file_host->free(r->names[c]);
    file_host->free(r->names);
    file_host->free(r->kinds);
    file_host->free(r->columns);
    file_host->free(r->rec.text);
    file_host->free(r->rec.start);
    file_host->free(r->rec.len);
    file_host->free(r->rec.quoted);
    file_host->free(r->data);
    file_host->free(r->o.null_text);
    file_host->free(r);
}

static const etl_format_vtable csv_vtable = {
    .struct_size = sizeof(etl_format_vtable),
    .file_extension = "csv",
    .writer_open = csv_writer_open,
    .write = csv_write,
    .bytes_written = csv_bytes_written,
    .finish = csv_finish,
    .writer_close = csv_writer_close,
    .reader_open = csv_reader_open,
    .read = csv_read,
    .reader_close = csv_reader_close,
};

static const etl_option_spec csv_option_specs[] = {
    {.key = "delimiter", .type = ETL_OPT_STRING, .default_value = ",",
     .doc = "field separator: one character, or 'tab'"},
    {.key = "header", .type = ETL_OPT_BOOL, .default_value = "true",
     .doc = "the first row holds the column names (read) / write a header row (write)"},
    {.key = "null", .type = ETL_OPT_STRING, .default_value = "",
     .doc = "text that stands for a null cell; a quoted cell is never null"},
    {.key = "infer", .type = ETL_OPT_BOOL, .default_value = "true",
     .doc = "read: type each column (bool, int64, double, else string) from its first 1000 "
            "rows; false keeps every cell as text"},
    {.key = NULL},
};

const etl_connector csv_format_connector = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_FORMAT,
    .name = "csv",
    .summary = "Comma-separated values (RFC 4180); nested values are written as JSON text",
    .options = csv_option_specs,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &csv_vtable,
};
