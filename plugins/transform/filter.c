/* filter: keep the rows where an expression is true (null counts as
 * false), through the host's batch_filter. */
#include "transform_internal.h"

#include <stdlib.h>

typedef struct filter_state {
    etl_ctx *ctx;
    expr *expr;
    char *text;
    char *where;
    bool warned_overflow;
} filter_state;

static void filter_close(void *state)
{
    filter_state *st = state;
    if (st == NULL)
        return;
    expr_free(st->expr);
    free(st->text);
    free(st->where);
    free(st);
}

static etl_status filter_open(etl_ctx *ctx, const etl_options *opts, void **state)
{
    filter_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return tx_host->set_error(ctx, ETL_ERR_NOMEM, 0, "filter: out of memory");
    st->ctx = ctx;
    etl_status status = tx_expr_open(ctx, opts, "filter", &st->expr, &st->text, &st->where);
    if (status != ETL_OK) {
        filter_close(st);
        return status;
    }
    *state = st;
    return ETL_OK;
}

static etl_status check_condition(filter_state *st)
{
    cv_type t = expr_result_type(st->expr);
    if (t == CV_BOOL || t == CV_NULL)
        return ETL_OK;
    return tx_host->set_error(st->ctx, ETL_ERR_CONFIG, 0,
                              "%s: filter: expr \"%s\" gives a %s, not a condition; compare it "
                              "(for example: ... > 0, ... == 'x', ... is not null)",
                              st->where, st->text, cv_type_name(t));
}

/* Fills keep[] and counts the rows kept. */
static etl_status evaluate_rows(filter_state *st, const etl_batch *in, uint8_t *keep,
                                int64_t *kept)
{
    cv_value v;
    *kept = 0;
    for (int64_t row = 0; row < in->num_rows; row++) {
        if (!expr_eval(st->expr, row, &v))
            return tx_host->set_error(st->ctx, ETL_ERR_NOMEM, 0, "filter: out of memory");
        keep[row] = !v.is_null && v.type == CV_BOOL && v.u.b;
        *kept += keep[row];
    }
    return ETL_OK;
}

static etl_status filter_process(void *state, etl_batch *in, etl_batch **out)
{
    filter_state *st = state;
    etl_status status = tx_expr_bind(st->ctx, st->expr, st->text, st->where, "filter", in);
    if (status == ETL_OK)
        status = check_condition(st);
    if (status != ETL_OK || in->num_rows == 0)
        return tx_finish(in, status, in, out);
    uint8_t *keep = malloc((size_t)in->num_rows);
    if (keep == NULL)
        return tx_finish(in, tx_host->set_error(st->ctx, ETL_ERR_NOMEM, 0, "filter: out of memory"),
                         NULL, out);
    int64_t kept;
    etl_batch *next = in;
    status = evaluate_rows(st, in, keep, &kept);
    tx_expr_report_overflow(st->ctx, st->expr, st->where, &st->warned_overflow);
    if (status == ETL_OK && kept < in->num_rows)
        status = tx_host->batch_filter(st->ctx, in, keep, &next);
    free(keep);
    return tx_finish(in, status, next, out);
}

static const etl_option_spec filter_options[] = {
    {.key = "expr", .type = ETL_OPT_STRING, .flags = ETL_OPT_REQUIRED,
     .doc = "condition; rows where it is true are kept, false or null dropped "
            "(price > 10 and brand.country == 'FR')"},
    {.key = NULL},
};

static const etl_transform_vtable filter_vtable = {
    .struct_size = sizeof(etl_transform_vtable),
    .open = filter_open,
    .process = filter_process,
    .close = filter_close,
};

const etl_connector tx_filter_connector = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_TRANSFORM,
    .name = "filter",
    .summary = "Keep the rows where an expression is true",
    .options = filter_options,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &filter_vtable,
};
