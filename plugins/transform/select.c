/* select: keep the listed columns, in order (dotted paths reach into
 * structs; the output column is named by the full path).
 * drop: remove the listed top-level columns. Both are zero-copy
 * projections through the host's batch_select. */
#include "transform_internal.h"

#include <stdlib.h>

typedef struct select_state {
    etl_ctx *ctx;
    char **fields;
    size_t count;
    bool ignore_missing;         /* drop only */
    char *where;
} select_state;

static void select_close(void *state)
{
    select_state *st = state;
    if (st == NULL)
        return;
    tx_free_names(st->fields, st->count);
    free(st->where);
    free(st);
}

static etl_status open_common(etl_ctx *ctx, const etl_options *opts, const char *transform,
                              bool is_drop, void **state)
{
    select_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return tx_host->set_error(ctx, ETL_ERR_NOMEM, 0, "%s: out of memory", transform);
    st->ctx = ctx;
    st->where = tx_where(opts, "fields");
    if (is_drop)
        tx_host->opt_bool(opts, "ignore_missing", &st->ignore_missing);
    etl_status status = tx_read_names(ctx, opts, "fields", transform, &st->fields, &st->count);
    if (status == ETL_OK && st->where == NULL)
        status = tx_host->set_error(ctx, ETL_ERR_NOMEM, 0, "%s: out of memory", transform);
    if (status != ETL_OK) {
        select_close(st);
        return status;
    }
    *state = st;
    return ETL_OK;
}

static etl_status select_open(etl_ctx *ctx, const etl_options *opts, void **state)
{
    return open_common(ctx, opts, "select", false, state);
}

static etl_status drop_open(etl_ctx *ctx, const etl_options *opts, void **state)
{
    return open_common(ctx, opts, "drop", true, state);
}

static etl_status select_process(void *state, etl_batch *in, etl_batch **out)
{
    select_state *st = state;
    expr_path path;
    for (size_t k = 0; k < st->count; k++)
        if (!expr_find_path(in->schema, NULL, st->fields[k], &path))
            return tx_finish(in, tx_unknown_column(st->ctx, st->where, "select", st->fields[k], in),
                             NULL, out);
    etl_batch *next = NULL;
    etl_status status = tx_host->batch_select(st->ctx, in, (const char *const *)st->fields,
                                              (const char *const *)st->fields, st->count, &next);
    return tx_finish(in, status, next, out);
}

static bool is_listed(const select_state *st, const char *name)
{
    for (size_t k = 0; k < st->count; k++)
        if (strcmp(st->fields[k], name) == 0)
            return true;
    return false;
}

static etl_status drop_process(void *state, etl_batch *in, etl_batch **out)
{
    select_state *st = state;
    for (size_t k = 0; k < st->count && !st->ignore_missing; k++)
        if (tx_column_index(in, st->fields[k]) < 0)
            return tx_finish(in, tx_unknown_column(st->ctx, st->where, "drop", st->fields[k], in),
                             NULL, out);
    size_t total = (size_t)in->schema->n_children, kept = 0;
    const char **names = malloc((total ? total : 1) * sizeof *names);
    if (names == NULL)
        return tx_finish(in, tx_host->set_error(st->ctx, ETL_ERR_NOMEM, 0, "drop: out of memory"),
                         NULL, out);
    for (size_t k = 0; k < total; k++) {
        const char *name = in->schema->children[k]->name;
        if (name != NULL && !is_listed(st, name))
            names[kept++] = name;
    }
    etl_batch *next = in;
    etl_status status = ETL_OK;
    if (kept < total)
        status = tx_host->batch_select(st->ctx, in, names, names, kept, &next);
    free(names);
    return tx_finish(in, status, next, out);
}

static const etl_option_spec select_options[] = {
    {.key = "fields", .type = ETL_OPT_LIST, .flags = ETL_OPT_REQUIRED,
     .doc = "columns to keep, in this order; a dotted path (brand.name) reaches into a struct "
            "and names the output column by the full path"},
    {.key = NULL},
};

static const etl_option_spec drop_options[] = {
    {.key = "fields", .type = ETL_OPT_LIST, .flags = ETL_OPT_REQUIRED,
     .doc = "top-level columns to remove"},
    {.key = "ignore_missing", .type = ETL_OPT_BOOL, .default_value = "false",
     .doc = "do not fail when a listed column is absent from the data"},
    {.key = NULL},
};

static const etl_transform_vtable select_vtable = {
    .struct_size = sizeof(etl_transform_vtable),
    .open = select_open,
    .process = select_process,
    .close = select_close,
};

static const etl_transform_vtable drop_vtable = {
    .struct_size = sizeof(etl_transform_vtable),
    .open = drop_open,
    .process = drop_process,
    .close = select_close,
};

const etl_connector tx_select_connector = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_TRANSFORM,
    .name = "select",
    .summary = "Keep only the listed columns, in order (dotted paths reach into structs)",
    .options = select_options,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &select_vtable,
};

const etl_connector tx_drop_connector = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_TRANSFORM,
    .name = "drop",
    .summary = "Remove the listed top-level columns",
    .options = drop_options,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &drop_vtable,
};
