/* cast: convert top-level columns to another type. The converted columns
 * are built with a host builder and swapped in with batch_add_columns; the
 * other columns are shared, not copied. A value that cannot be converted
 * fails the run, becomes null, or sends its record to the rejects file. */
#include "transform_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

typedef enum on_error { ON_ERROR_FAIL, ON_ERROR_NULL, ON_ERROR_REJECT } on_error;

typedef struct cast_column {
    char *name;
    char *type_text;             /* as written, for messages */
    etl_type type;
    int32_t precision, scale;    /* decimal */
} cast_column;

typedef struct cast_state {
    etl_ctx *ctx;
    cast_column *columns;
    size_t count;
    on_error on_error;
    char *where;
} cast_state;

/* What one process() call works with. */
typedef struct cast_run {
    cast_state *st;
    etl_batch *in;
    etl_builder *builder;
    int32_t *handles;            /* builder column per cast column */
    int32_t *sources;            /* input column index per cast column */
    cv_type *source_types;
    uint8_t *keep;               /* reject mode: rows to keep */
    int64_t rejected;
    etl_buf record;
} cast_run;

static void cast_close(void *state)
{
    cast_state *st = state;
    if (st == NULL)
        return;
    for (size_t k = 0; k < st->count; k++) {
        free(st->columns[k].name);
        free(st->columns[k].type_text);
    }
    free(st->columns);
    free(st->where);
    free(st);
}

static bool parse_decimal_type(const char *t, int32_t *precision, int32_t *scale)
{
    int p = 0, s = 0, used = 0;
    if (sscanf(t, "decimal(%d,%d)%n", &p, &s, &used) == 2 && t[used] == '\0') {
    } else if (sscanf(t, "decimal(%d)%n", &p, &used) == 1 && t[used] == '\0') {
        s = 0;
    } else {
        return false;
    }
    if (p < 1 || p > 38 || s < 0 || s > p)
        return false;
    *precision = p;
    *scale = s;
    return true;
}

static bool parse_type(const char *t, cast_column *c)
{
    static const struct {
        const char *name;
        etl_type type;
    } names[] = {
        {"string", ETL_TYPE_STRING}, {"int64", ETL_TYPE_INT64},   {"long", ETL_TYPE_INT64},
        {"bigint", ETL_TYPE_INT64},  {"int", ETL_TYPE_INT64},     {"integer", ETL_TYPE_INT64},
        {"int32", ETL_TYPE_INT32},   {"double", ETL_TYPE_DOUBLE}, {"float64", ETL_TYPE_DOUBLE},
        {"bool", ETL_TYPE_BOOL},     {"boolean", ETL_TYPE_BOOL},  {"timestamp", ETL_TYPE_TIMESTAMP_US},
        {"date", ETL_TYPE_DATE},
    };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        if (strcasecmp(t, names[k].name) == 0) {
            c->type = names[k].type;
            return true;
        }
    }
    c->type = ETL_TYPE_DECIMAL;
    return parse_decimal_type(t, &c->precision, &c->scale);
}

static etl_status read_columns(cast_state *st, const etl_options *opts)
{
    const etl_options *map = tx_host->opt_map(opts, "fields");
    size_t n = map ? tx_host->opt_map_count(map) : 0;
    if (n == 0)
        return tx_host->set_error(st->ctx, ETL_ERR_CONFIG, 0,
                                  "%s: cast: `fields` is empty; write column: type pairs", st->where);
    if ((st->columns = calloc(n, sizeof *st->columns)) == NULL)
        return tx_host->set_error(st->ctx, ETL_ERR_NOMEM, 0, "cast: out of memory");
    for (size_t k = 0; k < n; k++) {
        const char *name = tx_host->opt_map_key(map, k), *type = tx_host->opt_map_value(map, k);
        cast_column *c = &st->columns[k];
        st->count = k + 1;
        if (name == NULL || type == NULL || !parse_type(type, c))
            return tx_host->set_error(
                st->ctx, ETL_ERR_CONFIG, 0,
                "%s: cast: column '%s': unknown type '%s' (types: string, int64, int32, double, "
                "bool, timestamp, date, \"decimal(P,S)\" with 1 <= P <= 38 and 0 <= S <= P)",
                st->where, name ? name : "", type ? type : "(not a scalar)");
        for (size_t j = 0; j < k; j++)
            if (strcmp(st->columns[j].name, name) == 0)
                return tx_host->set_error(st->ctx, ETL_ERR_CONFIG, 0,
                                          "%s: cast: column '%s' is listed twice", st->where, name);
        c->name = tx_strdup(name);
        c->type_text = tx_strdup(type);
        if (c->name == NULL || c->type_text == NULL)
            return tx_host->set_error(st->ctx, ETL_ERR_NOMEM, 0, "cast: out of memory");
    }
    return ETL_OK;
}

static etl_status cast_open(etl_ctx *ctx, const etl_options *opts, void **state)
{
    cast_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return tx_host->set_error(ctx, ETL_ERR_NOMEM, 0, "cast: out of memory");
    st->ctx = ctx;
    st->where = tx_where(opts, "fields");
    const char *mode = tx_host->opt_string(opts, "on_error");
    st->on_error = mode == NULL || strcmp(mode, "fail") == 0 ? ON_ERROR_FAIL
                   : strcmp(mode, "null") == 0             ? ON_ERROR_NULL
                                                           : ON_ERROR_REJECT;
    etl_status status = st->where ? read_columns(st, opts)
                                  : tx_host->set_error(ctx, ETL_ERR_NOMEM, 0, "cast: out of memory");
    if (status != ETL_OK) {
        cast_close(st);
        return status;
    }
    *state = st;
    return ETL_OK;
}

/* ---- converting one value -------------------------------------------- */

static etl_status append_converted(cast_run *run, size_t c, const cv_value *v, const char **why,
                                   bool *converted)
{
    const cast_column *col = &run->st->columns[c];
    etl_builder *b = run->builder;
    int32_t h = run->handles[c];
    int64_t i;
    double d;
    bool flag;
    int32_t days;
    char text[CV_DECIMAL_TEXT_MAX > CV_TEXT_MAX ? CV_DECIMAL_TEXT_MAX : CV_TEXT_MAX];
    const char *p;
    size_t len;
    *converted = true;
    switch (col->type) {
    case ETL_TYPE_STRING:
        cv_to_text(v, text, &p, &len);
        return tx_host->append_string(b, h, p, len);
    case ETL_TYPE_INT64:
        if (cv_to_int(v, &i, why))
            return tx_host->append_int64(b, h, i);
        break;
    case ETL_TYPE_INT32:
        if (cv_to_int(v, &i, why)) {
            if (i >= INT32_MIN && i <= INT32_MAX)
                return tx_host->append_int64(b, h, i);
            *why = "out of the range of an int32";
        }
        break;
    case ETL_TYPE_DOUBLE:
        if (cv_to_double(v, &d, why))
            return tx_host->append_double(b, h, d);
        break;
    case ETL_TYPE_BOOL:
        if (cv_to_bool(v, &flag, why))
            return tx_host->append_bool(b, h, flag);
        break;
    case ETL_TYPE_TIMESTAMP_US:
        if (cv_to_timestamp(v, &i, why))
            return tx_host->append_timestamp_us(b, h, i);
        break;
    case ETL_TYPE_DATE:
        if (cv_to_date(v, &days, why))
            return tx_host->append_date(b, h, days);
        break;
    default:
        if (cv_to_decimal(v, col->precision, col->scale, text, &len, why))
            return tx_host->append_decimal(b, h, text, len);
        break;
    }
    *converted = false;
    return tx_host->append_null(b, h);
}

/* Describes a failed value: column, value text (shortened), target type. */
static void describe_failure(cast_run *run, size_t c, const cv_value *v, const char *why,
                             char *out, size_t cap)
{
    char text[CV_TEXT_MAX];
    const char *p;
    size_t len;
    cv_to_text(v, text, &p, &len);
    int shown = len > 80 ? 80 : (int)len;
    snprintf(out, cap, "column '%s': cannot convert %s%s%.*s%s%s to %s: %s",
             run->st->columns[c].name, cv_type_name(v->type), v->type == CV_STRING ? " \"" : " ",
             shown, p, len > 80 ? "..." : "", v->type == CV_STRING ? "\"" : "",
             run->st->columns[c].type_text, why);
}

static etl_status record_json(cast_run *run, int64_t row)
{
    run->record.len = 0;
    etl_status status = tx_host->json_write_row(run->in, row, &run->record);
    if (status == ETL_OK)
        status = tx_host->buf_append(&run->record, "", 1);    /* NUL, not counted */
    if (status == ETL_OK)
        run->record.len--;
    return status;
}

static etl_status handle_failure(cast_run *run, int64_t row, size_t c, const cv_value *v,
                                 const char *why)
{
    char reason[512];
    cast_state *st = run->st;
    if (st->on_error == ON_ERROR_NULL || (run->keep != NULL && run->keep[row] == 0))
        return ETL_OK;
    describe_failure(run, c, v, why, reason, sizeof reason);
    if (st->on_error == ON_ERROR_FAIL) {
        bool have_json = record_json(run, row) == ETL_OK;
        return tx_host->set_error(st->ctx, ETL_ERR_DATA, 0,
                                  "%s: cast: row %lld of the batch, %s (record: %.300s%s); set "
                                  "on_error: null or reject to keep going",
                                  st->where, (long long)row + 1, reason,
                                  have_json ? run->record.data : "?",
                                  have_json && run->record.len > 300 ? "..." : "");
    }
    etl_status status = record_json(run, row);
    if (status != ETL_OK)
        return status;
    char where[300];
    snprintf(where, sizeof where, "transform cast (%s)", st->where);
    status = tx_host->reject(st->ctx, run->record.data, run->record.len, where, reason);
    run->keep[row] = 0;
    run->rejected++;
    return status;
}

static etl_status cast_cell(cast_run *run, int64_t row, size_t c)
{
    const struct ArrowSchema *s = run->in->schema->children[run->sources[c]];
    const struct ArrowArray *a = run->in->array->children[run->sources[c]];
    cv_type type = run->source_types[c];
    if (type == CV_NULL || !etl_arrow_is_valid(a, row))
        return tx_host->append_null(run->builder, run->handles[c]);
    char scratch[CV_DECIMAL_TEXT_MAX];
    cv_value v;
    const char *why = "cannot be converted";
    bool converted;
    cv_read(s, a, row, type, scratch, &v);
    etl_status status = append_converted(run, c, &v, &why, &converted);
    if (status == ETL_OK && !converted)
        status = handle_failure(run, row, c, &v, why);
    return status;
}

/* ---- one batch -------------------------------------------------------- */

static etl_status resolve_sources(cast_run *run)
{
    cast_state *st = run->st;
    for (size_t c = 0; c < st->count; c++) {
        int32_t k = tx_column_index(run->in, st->columns[c].name);
        if (k < 0)
            return tx_unknown_column(st->ctx, st->where, "cast", st->columns[c].name, run->in);
        run->sources[c] = k;
        run->source_types[c] = cv_column_type(run->in->schema->children[k]->format);
        if (run->source_types[c] == CV_UNSUPPORTED)
            return tx_host->set_error(st->ctx, ETL_ERR_CONFIG, 0,
                                      "%s: cast: column '%s' is not a scalar (format '%s'); cast "
                                      "works on scalar columns (use flatten or rename first)",
                                      st->where, st->columns[c].name,
                                      run->in->schema->children[k]->format);
        run->handles[c] = tx_host->builder_declare(run->builder, ETL_ROOT, st->columns[c].name,
                                                   st->columns[c].type, st->columns[c].precision,
                                                   st->columns[c].scale);
        if (run->handles[c] < 0)
            return tx_host->set_error(st->ctx, ETL_ERR_PERMANENT, 0,
                                      "%s: cast: could not declare column '%s' as %s", st->where,
                                      st->columns[c].name, st->columns[c].type_text);
    }
    return ETL_OK;
}

static etl_status build_columns(cast_run *run, etl_batch **columns)
{
    etl_status status = resolve_sources(run);
    for (int64_t row = 0; status == ETL_OK && row < run->in->num_rows; row++) {
        status = tx_host->builder_begin_record(run->builder);
        for (size_t c = 0; status == ETL_OK && c < run->st->count; c++)
            status = cast_cell(run, row, c);
        if (status == ETL_OK)
            status = tx_host->builder_end_record(run->builder);
    }
    if (status == ETL_OK)
        status = tx_host->builder_finish(run->builder, columns);
    return status;
}

static etl_status cast_process(void *state, etl_batch *in, etl_batch **out)
{
    cast_state *st = state;
    cast_run run = {.st = st, .in = in};
    etl_batch *columns = NULL, *added = NULL, *next = NULL;
    etl_status status = ETL_OK;
    run.handles = calloc(st->count, sizeof *run.handles);
    run.sources = calloc(st->count, sizeof *run.sources);
    run.source_types = calloc(st->count, sizeof *run.source_types);
    if (st->on_error == ON_ERROR_REJECT && in->num_rows > 0) {
        run.keep = malloc((size_t)in->num_rows);
        if (run.keep != NULL)
            memset(run.keep, 1, (size_t)in->num_rows);
    }
    run.builder = tx_host->builder_new(st->ctx);
    if (run.handles == NULL || run.sources == NULL || run.source_types == NULL ||
        run.builder == NULL || (st->on_error == ON_ERROR_REJECT && in->num_rows > 0 && !run.keep))
        status = tx_host->set_error(st->ctx, ETL_ERR_NOMEM, 0, "cast: out of memory");
    if (status == ETL_OK)
        status = build_columns(&run, &columns);
    if (status == ETL_OK)
        status = tx_host->batch_add_columns(st->ctx, in, columns, &added);
    if (status == ETL_OK && run.rejected > 0) {
        status = tx_host->batch_filter(st->ctx, added, run.keep, &next);
        tx_host->batch_release(added);
    } else {
        next = added;
    }
    if (columns != NULL)
        tx_host->batch_release(columns);
    if (run.builder != NULL)
        tx_host->builder_free(run.builder);
    tx_host->buf_free(&run.record);
    free(run.handles);
    free(run.sources);
    free(run.source_types);
    free(run.keep);
    return tx_finish(in, status, next, out);
}

static const etl_option_spec cast_options[] = {
    {.key = "fields", .type = ETL_OPT_MAP, .flags = ETL_OPT_REQUIRED,
     .doc = "column: type pairs; types: string, int64, int32, double, bool, timestamp, date, "
            "decimal(P,S)"},
    {.key = "on_error", .type = ETL_OPT_ENUM, .default_value = "fail", .choices = "fail|null|reject",
     .doc = "a value that cannot be converted: fail the run, write null, or reject the record"},
    {.key = NULL},
};

static const etl_transform_vtable cast_vtable = {
    .struct_size = sizeof(etl_transform_vtable),
    .open = cast_open,
    .process = cast_process,
    .close = cast_close,
};

const etl_connector tx_cast_connector = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_TRANSFORM,
    .name = "cast",
    .summary = "Convert columns to another type (string, numbers, timestamp, date, decimal)",
    .options = cast_options,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &cast_vtable,
};
