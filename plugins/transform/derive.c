/* derive: add a column (or replace one of the same name) computed by an
 * expression for each row. The column is built with a host builder and
 * joined with batch_add_columns; the other columns are shared. */
#include "transform_internal.h"

#include <stdlib.h>

typedef struct derive_state {
    etl_ctx *ctx;
    char *column;
    expr *expr;
    char *text;
    char *where;
    bool warned_overflow;
} derive_state;

static void derive_close(void *state)
{
    derive_state *st = state;
    if (st == NULL)
        return;
    expr_free(st->expr);
    free(st->column);
    free(st->text);
    free(st->where);
    free(st);
}

static etl_status derive_open(etl_ctx *ctx, const etl_options *opts, void **state)
{
    derive_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return tx_host->set_error(ctx, ETL_ERR_NOMEM, 0, "derive: out of memory");
    st->ctx = ctx;
    const char *column = tx_host->opt_string(opts, "column");
    etl_status status = ETL_OK;
    if (column == NULL || column[0] == '\0')
        status = tx_host->set_error(ctx, ETL_ERR_CONFIG, 0, "%s: derive: `column` must name the "
                                    "column to add", tx_host->opt_where(opts, "column"));
    else if ((st->column = tx_strdup(column)) == NULL)
        status = tx_host->set_error(ctx, ETL_ERR_NOMEM, 0, "derive: out of memory");
    if (status == ETL_OK)
        status = tx_expr_open(ctx, opts, "derive", &st->expr, &st->text, &st->where);
    if (status != ETL_OK) {
        derive_close(st);
        return status;
    }
    *state = st;
    return ETL_OK;
}

static etl_type builder_type(cv_type t)
{
    switch (t) {
    case CV_BOOL: return ETL_TYPE_BOOL;
    case CV_INT: return ETL_TYPE_INT64;
    case CV_DOUBLE: return ETL_TYPE_DOUBLE;
    case CV_STRING: return ETL_TYPE_STRING;
    case CV_TIMESTAMP: return ETL_TYPE_TIMESTAMP_US;
    case CV_DATE: return ETL_TYPE_DATE;
    default: return ETL_TYPE_NULL;
    }
}

static etl_status append_value(etl_builder *b, int32_t col, const cv_value *v)
{
    if (v->is_null)
        return tx_host->append_null(b, col);
    switch (v->type) {
    case CV_BOOL: return tx_host->append_bool(b, col, v->u.b);
    case CV_INT: return tx_host->append_int64(b, col, v->u.i);
    case CV_DOUBLE: return tx_host->append_double(b, col, v->u.d);
    case CV_STRING: return tx_host->append_string(b, col, v->u.s.p, v->u.s.len);
    case CV_TIMESTAMP: return tx_host->append_timestamp_us(b, col, v->u.i);
    case CV_DATE: return tx_host->append_date(b, col, v->u.date);
    default: return tx_host->append_null(b, col);
    }
}

static etl_status build_column(derive_state *st, const etl_batch *in, etl_builder *b,
                               etl_batch **column)
{
    int32_t col = tx_host->builder_declare(b, ETL_ROOT, st->column,
                                           builder_type(expr_result_type(st->expr)), 0, 0);
    if (col < 0)
        return tx_host->set_error(st->ctx, ETL_ERR_PERMANENT, 0,
                                  "%s: derive: could not declare column '%s'", st->where, st->column);
    etl_status status = ETL_OK;
    cv_value v;
    for (int64_t row = 0; status == ETL_OK && row < in->num_rows; row++) {
        if (!expr_eval(st->expr, row, &v))
            return tx_host->set_error(st->ctx, ETL_ERR_NOMEM, 0, "derive: out of memory");
        status = tx_host->builder_begin_record(b);
        if (status == ETL_OK)
            status = append_value(b, col, &v);
        if (status == ETL_OK)
            status = tx_host->builder_end_record(b);
    }
    if (status == ETL_OK)
        status = tx_host->builder_finish(b, column);
    return status;
}

static etl_status derive_process(void *state, etl_batch *in, etl_batch **out)
{
    derive_state *st = state;
    etl_batch *column = NULL, *next = NULL;
    etl_status status = tx_expr_bind(st->ctx, st->expr, st->text, st->where, "derive", in);
    if (status != ETL_OK)
        return tx_finish(in, status, NULL, out);
    etl_builder *b = tx_host->builder_new(st->ctx);
    if (b == NULL)
        return tx_finish(in, tx_host->set_error(st->ctx, ETL_ERR_NOMEM, 0, "derive: out of memory"),
                         NULL, out);
    status = build_column(st, in, b, &column);
    tx_host->builder_free(b);
    tx_expr_report_overflow(st->ctx, st->expr, st->where, &st->warned_overflow);
    if (status == ETL_OK)
        status = tx_host->batch_add_columns(st->ctx, in, column, &next);
    if (column != NULL)
        tx_host->batch_release(column);
    return tx_finish(in, status, next, out);
}

static const etl_option_spec derive_options[] = {
    {.key = "column", .type = ETL_OPT_STRING, .flags = ETL_OPT_REQUIRED,
     .doc = "name of the column to add (a column of that name is replaced in place)"},
    {.key = "expr", .type = ETL_OPT_STRING, .flags = ETL_OPT_REQUIRED,
     .doc = "expression computing the value of each row, e.g. date(updated_at) or price * qty"},
    {.key = NULL},
};

static const etl_transform_vtable derive_vtable = {
    .struct_size = sizeof(etl_transform_vtable),
    .open = derive_open,
    .process = derive_process,
    .close = derive_close,
};

const etl_connector tx_derive_connector = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_TRANSFORM,
    .name = "derive",
    .summary = "Add or replace a column computed by an expression",
    .options = derive_options,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &derive_vtable,
};
