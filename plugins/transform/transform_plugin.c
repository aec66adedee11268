/* The transform plugin: its descriptor, and helpers its connectors share
 * (option reading, error messages, expression glue, batch hand-over). */
#include "transform_internal.h"

#include <stdio.h>
#include <stdlib.h>

const etl_host_api *tx_host;

char *tx_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *tx_where(const etl_options *opts, const char *key)
{
    const char *w = tx_host->opt_where(opts, key);
    return strdup(w && w[0] ? w : "(pipeline)");
}

void tx_free_names(char **names, size_t count)
{
    if (names == NULL)
        return;
    for (size_t k = 0; k < count; k++)
        free(names[k]);
    free(names);
}

etl_status tx_read_names(etl_ctx *ctx, const etl_options *opts, const char *key,
                         const char *transform, char ***names, size_t *count)
{
    size_t n = tx_host->opt_list_count(opts, key);
    *names = NULL;
    *count = 0;
    if (n == 0)
        return tx_host->set_error(ctx, ETL_ERR_CONFIG, 0,
                                  "%s: %s: `%s` is empty; list at least one column",
                                  tx_host->opt_where(opts, key), transform, key);
    char **list = calloc(n + 1, sizeof *list);
    if (list == NULL)
        return tx_host->set_error(ctx, ETL_ERR_NOMEM, 0, "%s: out of memory", transform);
    for (size_t k = 0; k < n; k++) {
        const char *item = tx_host->opt_list_item(opts, key, k);
        for (size_t j = 0; item && j < k; j++) {
            if (strcmp(list[j], item) == 0) {
                tx_free_names(list, k);
                return tx_host->set_error(ctx, ETL_ERR_CONFIG, 0,
                                          "%s: %s: column '%s' is listed twice in `%s`",
                                          tx_host->opt_where(opts, key), transform, item, key);
            }
        }
        if (item == NULL || item[0] == '\0' || (list[k] = strdup(item)) == NULL) {
            tx_free_names(list, k);
            return tx_host->set_error(ctx, item ? ETL_ERR_NOMEM : ETL_ERR_CONFIG, 0,
                                      "%s: %s: item %zu of `%s` %s",
                                      tx_host->opt_where(opts, key), transform, k + 1, key,
                                      item ? "could not be copied (out of memory)"
                                           : "is not a column name");
        }
    }
    *names = list;
    *count = n;
    return ETL_OK;
}

etl_status tx_unknown_column(etl_ctx *ctx, const char *where, const char *transform,
                             const char *column, const etl_batch *batch)
{
    char columns[1024];
    expr_list_columns(batch->schema, columns, sizeof columns);
    return tx_host->set_error(ctx, ETL_ERR_CONFIG, 0,
                              "%s: %s: no column '%s' in the data (columns: %s)", where, transform,
                              column, columns);
}

int32_t tx_column_index(const etl_batch *batch, const char *name)
{
    const struct ArrowSchema *s = batch->schema;
    for (int64_t k = 0; k < s->n_children; k++)
        if (s->children[k]->name && strcmp(s->children[k]->name, name) == 0)
            return (int32_t)k;
    return -1;
}

etl_status tx_expr_open(etl_ctx *ctx, const etl_options *opts, const char *transform,
                        expr **out, char **text, char **where)
{
    expr_error err;
    const char *source = tx_host->opt_string(opts, "expr");
    *where = tx_where(opts, "expr");
    *text = tx_strdup(source ? source : "");
    if (*where == NULL || *text == NULL)
        return tx_host->set_error(ctx, ETL_ERR_NOMEM, 0, "%s: out of memory", transform);
    *out = expr_compile(*text, &err);
    if (*out == NULL)
        return tx_host->set_error(ctx, ETL_ERR_CONFIG, 0,
                                  "%s: %s: expr \"%s\": %s (at column %zu of the expression)",
                                  *where, transform, *text, err.message, err.column);
    return ETL_OK;
}

etl_status tx_expr_bind(etl_ctx *ctx, expr *e, const char *text, const char *where,
                        const char *transform, const etl_batch *batch)
{
    expr_error err;
    if (expr_bind(e, batch->schema, batch->array, &err))
        return ETL_OK;
    return tx_host->set_error(ctx, ETL_ERR_CONFIG, 0,
                              "%s: %s: expr \"%s\": %s (at column %zu of the expression)", where,
                              transform, text, err.message, err.column);
}

void tx_expr_report_overflow(etl_ctx *ctx, const expr *e, const char *where, bool *warned)
{
    if (*warned || expr_overflow_count(e) == 0)
        return;
    *warned = true;
    tx_host->log(ctx, ETL_LOG_WARN,
                 "%s: int64 arithmetic overflowed; those results were set to null "
                 "(reported once)", where);
}

etl_status tx_finish(etl_batch *in, etl_status status, etl_batch *next, etl_batch **out)
{
    if (status == ETL_OK) {
        *out = next;
        if (next != in)
            tx_host->batch_release(in);
        return ETL_OK;
    }
    if (next != NULL && next != in)
        tx_host->batch_release(next);
    tx_host->batch_release(in);
    *out = NULL;
    return status;
}

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

static const etl_connector *const tx_connectors[] = {
    &tx_select_connector, &tx_drop_connector,   &tx_rename_connector,  &tx_cast_connector,
    &tx_filter_connector, &tx_derive_connector, &tx_flatten_connector, NULL,
};

static const etl_plugin_descriptor tx_descriptor = {
    .struct_size = sizeof(etl_plugin_descriptor),
    .abi_major = ETL_ABI_MAJOR,
    .abi_minor = ETL_ABI_MINOR,
    .min_host_minor = 0,
    .name = "transform",
    .version = PACKAGE_VERSION,
    .summary = "Column transforms: select, drop, rename, cast, filter, derive, flatten",
    .connectors = tx_connectors,
};

ETL_PLUGIN_DEFINE(transform, tx_descriptor, tx_host)
