/* rename: keep every column, renaming some. A dotted old name
 * (brand.name: brand_name) pulls a struct field out as a new top-level
 * column and leaves the struct as it is; when the new name is that of an
 * existing column (brand.name: brand), the pulled-out field replaces it in
 * place. A zero-copy projection through the host's batch_select. */
#include "transform_internal.h"

#include <stdlib.h>

typedef struct rename_state {
    etl_ctx *ctx;
    size_t count;
    char **from;
    char **to;
    bool ignore_missing;
    char *where;
} rename_state;

static void rename_close(void *state)
{
    rename_state *st = state;
    if (st == NULL)
        return;
    tx_free_names(st->from, st->count);
    tx_free_names(st->to, st->count);
    free(st->where);
    free(st);
}

static etl_status read_pairs(rename_state *st, const etl_options *opts)
{
    const etl_options *map = tx_host->opt_map(opts, "fields");
    size_t n = map ? tx_host->opt_map_count(map) : 0;
    if (n == 0)
        return tx_host->set_error(st->ctx, ETL_ERR_CONFIG, 0,
                                  "%s: rename: `fields` is empty; write old: new pairs", st->where);
    st->from = calloc(n, sizeof *st->from);
    st->to = calloc(n, sizeof *st->to);
    if (st->from == NULL || st->to == NULL)
        return tx_host->set_error(st->ctx, ETL_ERR_NOMEM, 0, "rename: out of memory");
    for (size_t k = 0; k < n; k++) {
        const char *from = tx_host->opt_map_key(map, k), *to = tx_host->opt_map_value(map, k);
        if (to == NULL || to[0] == '\0')
            return tx_host->set_error(st->ctx, ETL_ERR_CONFIG, 0,
                                      "%s: rename: the new name of '%s' must be a non-empty string",
                                      st->where, from ? from : "");
        for (size_t j = 0; j < k; j++)
            if (strcmp(st->to[j], to) == 0)
                return tx_host->set_error(st->ctx, ETL_ERR_CONFIG, 0,
                                          "%s: rename: '%s' and '%s' are both renamed to '%s'",
                                          st->where, st->from[j], from, to);
        st->count = k + 1;
        st->from[k] = tx_strdup(from);
        st->to[k] = tx_strdup(to);
        if (st->from[k] == NULL || st->to[k] == NULL)
            return tx_host->set_error(st->ctx, ETL_ERR_NOMEM, 0, "rename: out of memory");
    }
    return ETL_OK;
}

static etl_status rename_open(etl_ctx *ctx, const etl_options *opts, void **state)
{
    rename_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return tx_host->set_error(ctx, ETL_ERR_NOMEM, 0, "rename: out of memory");
    st->ctx = ctx;
    st->where = tx_where(opts, "fields");
    tx_host->opt_bool(opts, "ignore_missing", &st->ignore_missing);
    etl_status status = st->where ? read_pairs(st, opts)
                                  : tx_host->set_error(ctx, ETL_ERR_NOMEM, 0, "rename: out of memory");
    if (status != ETL_OK) {
        rename_close(st);
        return status;
    }
    *state = st;
    return ETL_OK;
}

/* The projection being built: one (path, name) per output column. */
typedef struct projection {
    const char **paths;
    const char **names;
    bool *renamed;
    size_t count;
} projection;

static int find_unrenamed(const projection *p, const char *name)
{
    for (size_t k = 0; k < p->count; k++)
        if (!p->renamed[k] && strcmp(p->names[k], name) == 0)
            return (int)k;
    return -1;
}

static etl_status apply_renames(rename_state *st, const etl_batch *in, projection *p)
{
    expr_path path;
    for (size_t r = 0; r < st->count; r++) {
        int32_t k = tx_column_index(in, st->from[r]);
        if (k >= 0) {
            p->names[k] = st->to[r];
            p->renamed[k] = true;
            continue;
        }
        if (!expr_find_path(in->schema, NULL, st->from[r], &path)) {
            if (st->ignore_missing)
                continue;
            return tx_unknown_column(st->ctx, st->where, "rename", st->from[r], in);
        }
        /* A struct field pulled out: it replaces a column it is renamed to,
         * else it is appended. */
        int j = find_unrenamed(p, st->to[r]);
        if (j < 0)
            j = (int)p->count++;
        p->paths[j] = st->from[r];
        p->names[j] = st->to[r];
        p->renamed[j] = true;
    }
    return ETL_OK;
}

static etl_status check_unique(rename_state *st, const projection *p)
{
    for (size_t k = 0; k < p->count; k++)
        for (size_t j = k + 1; j < p->count; j++)
            if (strcmp(p->names[k], p->names[j]) == 0)
                return tx_host->set_error(
                    st->ctx, ETL_ERR_CONFIG, 0,
                    "%s: rename: two columns would be named '%s' ('%s' and '%s'); drop or "
                    "rename the existing one first",
                    st->where, p->names[k], p->paths[k], p->paths[j]);
    return ETL_OK;
}

static etl_status rename_process(void *state, etl_batch *in, etl_batch **out)
{
    rename_state *st = state;
    size_t cap = (size_t)in->schema->n_children + st->count + 1;
    projection p = {malloc(cap * sizeof *p.paths), malloc(cap * sizeof *p.names),
                    calloc(cap, sizeof *p.renamed), 0};
    etl_status status = ETL_OK;
    etl_batch *next = NULL;
    if (p.paths == NULL || p.names == NULL || p.renamed == NULL)
        status = tx_host->set_error(st->ctx, ETL_ERR_NOMEM, 0, "rename: out of memory");
    for (int64_t k = 0; status == ETL_OK && k < in->schema->n_children; k++) {
        const char *name = in->schema->children[k]->name;
        p.paths[p.count] = p.names[p.count] = name ? name : "";
        p.count++;
    }
    if (status == ETL_OK)
        status = apply_renames(st, in, &p);
    if (status == ETL_OK)
        status = check_unique(st, &p);
    if (status == ETL_OK)
        status = tx_host->batch_select(st->ctx, in, p.paths, p.names, p.count, &next);
    free(p.paths);
    free(p.names);
    free(p.renamed);
    return tx_finish(in, status, next, out);
}

static const etl_option_spec rename_options[] = {
    {.key = "fields", .type = ETL_OPT_MAP, .flags = ETL_OPT_REQUIRED,
     .doc = "old: new pairs; a dotted old name (brand.name) pulls a struct field out as a "
            "top-level column"},
    {.key = "ignore_missing", .type = ETL_OPT_BOOL, .default_value = "false",
     .doc = "do not fail when a column to rename is absent from the data"},
    {.key = NULL},
};

static const etl_transform_vtable rename_vtable = {
    .struct_size = sizeof(etl_transform_vtable),
    .open = rename_open,
    .process = rename_process,
    .close = rename_close,
};

const etl_connector tx_rename_connector = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_TRANSFORM,
    .name = "rename",
    .summary = "Rename columns; dotted old names pull struct fields out to the top level",
    .options = rename_options,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &rename_vtable,
};
