/* flatten: struct columns become top-level columns named
 * "parent<separator>child", recursively (host batch_flatten). */
#include "transform_internal.h"

#include <stdlib.h>

typedef struct flatten_state {
    etl_ctx *ctx;
    char *separator;
} flatten_state;

static void flatten_close(void *state)
{
    flatten_state *st = state;
    if (st == NULL)
        return;
    free(st->separator);
    free(st);
}

static etl_status flatten_open(etl_ctx *ctx, const etl_options *opts, void **state)
{
    const char *separator = tx_host->opt_string(opts, "separator");
    if (separator == NULL)
        separator = ".";
    if (separator[0] == '\0')
        return tx_host->set_error(ctx, ETL_ERR_CONFIG, 0,
                                  "%s: flatten: `separator` is empty; use \".\" or \"_\"",
                                  tx_host->opt_where(opts, "separator"));
    flatten_state *st = calloc(1, sizeof *st);
    if (st == NULL || (st->separator = tx_strdup(separator)) == NULL) {
        free(st);
        return tx_host->set_error(ctx, ETL_ERR_NOMEM, 0, "flatten: out of memory");
    }
    st->ctx = ctx;
    *state = st;
    return ETL_OK;
}

static bool has_struct_column(const etl_batch *in)
{
    for (int64_t k = 0; k < in->schema->n_children; k++)
        if (etl_format_is(in->schema->children[k], "+s"))
            return true;
    return false;
}

static etl_status flatten_process(void *state, etl_batch *in, etl_batch **out)
{
    flatten_state *st = state;
    if (!has_struct_column(in)) {
        *out = in;
        return ETL_OK;
    }
    etl_batch *next = NULL;
    etl_status status = tx_host->batch_flatten(st->ctx, in, st->separator, &next);
    return tx_finish(in, status, next, out);
}

static const etl_option_spec flatten_options[] = {
    {.key = "separator", .type = ETL_OPT_STRING, .default_value = ".",
     .doc = "joins a struct's name and its fields' names (brand.name, or brand_name with \"_\")"},
    {.key = NULL},
};

static const etl_transform_vtable flatten_vtable = {
    .struct_size = sizeof(etl_transform_vtable),
    .open = flatten_open,
    .process = flatten_process,
    .close = flatten_close,
};

const etl_connector tx_flatten_connector = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_TRANSFORM,
    .name = "flatten",
    .summary = "Turn struct columns into top-level columns (brand.name)",
    .options = flatten_options,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &flatten_vtable,
};
