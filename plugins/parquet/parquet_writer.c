/* The parquet format connector's writer: batches in, a Parquet file out.
 *
 * The file's schema comes from the batches: the first batch gives it, and
 * until the first row group is written it may grow (a new column, a new
 * struct field, a column that was all null getting a type); rows already
 * buffered read null in what was added. Once a row group is in the file the
 * schema is fixed: a batch that would change it is refused with an error
 * that says what to do. Batches may always lack columns (they read null),
 * and integers widen to the file's double or int64.
 *
 * Row groups are buffered per column as compressed pages and written when
 * they reach row_group_rows or row_group_bytes (uncompressed); finish()
 * writes the last one and the footer, so a file without finish() has no
 * footer and no reader takes it for complete. Pages are compressed by the
 * page pipeline (worker threads, see page_pipeline.h); a row group is
 * written only once the pipeline has assembled all of its pages, so every
 * offset in the footer comes from the real compressed sizes. */
#include "parquet_internal.h"

#include "column_writer.h"
#include "parquet_metadata.h"
#include "record_reader.h"

#include <inttypes.h>
#include <stdio.h>

#define MAX_SLICE_ROWS 65536
#define MAX_LEVEL 250            /* levels are stored in bytes */

typedef struct pq_writer {
    etl_ctx *ctx;
    etl_byte_sink out;
    pq_writer_opts o;
    int64_t row_group_rows, row_group_bytes;
    pq_pipeline *pipe;           /* compresses pages, on workers when threads != 1 */
    pq_node *root;
    pq_column **cols;            /* leaves in schema order */
    size_t ncols;
    bool columns_changed;
    bool started;                /* "PAR1" written */
    bool frozen;                 /* a row group is in the file: the schema is fixed */
    bool finished;
    etl_status failed;           /* sticky: a failed write leaves the file unusable */
    int64_t rg_rows;
    int64_t pos;                 /* bytes pushed to the sink */
    int64_t rg_base;             /* pq_pipeline_before_mark when the row group began */
    int64_t rows_before;         /* rows written before the current batch */
    pq_file_meta meta;
    size_t rg_cap;
    pq_level_out lv;
} pq_writer;

/* ---- errors ------------------------------------------------------------ */

static void node_path(const pq_node *n, char *out, size_t size)
{
    const pq_node *chain[64];
    int depth = 0;
    for (; n != NULL && n->kind != PQ_NODE_ROOT && depth < 64; n = n->parent)
        chain[depth++] = n;
    size_t at = 0;
    out[0] = '\0';
    for (int d = depth - 1; d >= 0 && at < size; d--) {
        bool element = chain[d]->parent && chain[d]->parent->kind == PQ_NODE_LIST;
        int n_written = snprintf(out + at, size - at, "%s%s", at ? "." : "",
                                 element ? "[]" : chain[d]->name);
        at += n_written > 0 ? (size_t)n_written : 0;
    }
}

static etl_status fail(pq_writer *w, etl_status st, const char *fmt, ...) ETL_PRINTF(3, 4);

static etl_status fail(pq_writer *w, etl_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    w->failed = st;
    pq_set_errorv(w->ctx, st, w->out.name ? w->out.name : "output", fmt, ap);
    va_end(ap);
    return st;
}

static etl_status nomem(pq_writer *w)
{
    return fail(w, ETL_ERR_NOMEM, "out of memory");
}

/* ---- schema nodes ------------------------------------------------------ */

static const char *const vtype_names[] = {
    [PQ_V_NULL] = "null", [PQ_V_BOOL] = "bool", [PQ_V_INT32] = "int32",
    [PQ_V_INT64] = "int64", [PQ_V_FLOAT] = "float", [PQ_V_DOUBLE] = "double",
    [PQ_V_STRING] = "string", [PQ_V_BINARY] = "binary", [PQ_V_TIMESTAMP] = "timestamp",
    [PQ_V_DATE] = "date", [PQ_V_DECIMAL] = "decimal"};

static void node_free(pq_node *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n_kids; i++)
        node_free(n->kids[i]);
    free(n->kids);
    if (n->col != NULL) {
        pq_column_free(n->col);
        free(n->col);
    }
    free(n->name);
    free(n);
}

static pq_node *node_new(const char *name, pq_node_kind kind)
{
    pq_node *n = calloc(1, sizeof *n);
    if (n == NULL)
        return NULL;
    n->name = strdup(name != NULL ? name : "");
    n->kind = kind;
    if (n->name == NULL) {
        free(n);
        return NULL;
    }
    return n;
}

static bool node_add_kid(pq_node *parent, pq_node *kid)
{
    pq_node **kids = realloc(parent->kids, (parent->n_kids + 1) * sizeof *kids);
    if (kids == NULL)
        return false;
    parent->kids = kids;
    parent->kids[parent->n_kids++] = kid;
    kid->parent = parent;
    return true;
}

/* A leaf's value type from an Arrow format; -1 when not a leaf format. */
static int leaf_type(const char *format, int32_t *precision, int32_t *scale)
{
    static const struct { const char *format; pq_value_type type; } simple[] = {
        {"n", PQ_V_NULL}, {"b", PQ_V_BOOL}, {"i", PQ_V_INT32}, {"l", PQ_V_INT64},
        {"f", PQ_V_FLOAT}, {"g", PQ_V_DOUBLE}, {"u", PQ_V_STRING}, {"z", PQ_V_BINARY},
        {"tdD", PQ_V_DATE}};
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        if (strcmp(format, simple[i].format) == 0)
            return simple[i].type;
    if (strncmp(format, "tsu:", 4) == 0)
        return PQ_V_TIMESTAMP;
    int p, s, bits = 128;
    if (sscanf(format, "d:%d,%d,%d", &p, &s, &bits) >= 2 && p >= 1 && p <= 38 && s >= 0 &&
        s <= p && bits == 128) {
        *precision = p;
        *scale = s;
        return PQ_V_DECIMAL;
    }
    return -1;
}

/* Builds the subtree for an Arrow field. *out is NULL for a field without
 * any leaf (an empty struct): Parquet has no empty groups. */
static etl_status node_from_arrow(pq_writer *w, const struct ArrowSchema *s, const char *name,
                                  const pq_node *parent, pq_node **out)
{
    *out = NULL;
    int32_t precision = 0, scale = 0;
    int type = leaf_type(s->format, &precision, &scale);
    bool is_struct = strcmp(s->format, "+s") == 0, is_list = strcmp(s->format, "+l") == 0;
    if (type < 0 && !is_struct && !is_list) {
        char where[512];
        node_path(parent, where, sizeof where);
        return fail(w, ETL_ERR_UNSUPPORTED, "column '%s%s%s' has Arrow format '%s', which the "
                    "parquet writer does not support (it writes b, i, l, f, g, u, z, tsu, tdD, "
                    "d:P,S, +s, +l and n)", where, *where ? "." : "", name, s->format);
    }
    pq_node *n = node_new(name, type >= 0 ? PQ_NODE_LEAF : is_struct ? PQ_NODE_STRUCT
                                                                     : PQ_NODE_LIST);
    if (n == NULL)
        return nomem(w);
    n->optional = (s->flags & ARROW_FLAG_NULLABLE) != 0;
    n->vtype = type >= 0 ? (pq_value_type)type : PQ_V_NULL;
    n->precision = precision;
    n->scale = scale;
    n->parent = (pq_node *)parent;
    for (int64_t i = 0; (is_struct || (is_list && i < 1)) && i < s->n_children; i++) {
        pq_node *kid = NULL;
        const char *kid_name = is_list ? "element" : s->children[i]->name;
        etl_status st = node_from_arrow(w, s->children[i], kid_name ? kid_name : "", n, &kid);
        if (st == ETL_OK && kid != NULL && !node_add_kid(n, kid)) {
            node_free(kid);
            st = nomem(w);
        }
        if (st != ETL_OK) {
            node_free(n);
            return st;
        }
    }
    if (n->kind != PQ_NODE_LEAF && n->n_kids == 0) {
        node_free(n);            /* nothing to store */
        return ETL_OK;
    }
    *out = n;
    return ETL_OK;
}

/* Levels of a present value of each node: an optional node adds one
 * definition level; a list's repeated group adds one of each. */
static bool assign_levels(pq_node *n, int def_parent, int rep)
{
    n->def = def_parent + (n->optional ? 1 : 0);
    n->rep = rep;
    if (n->def > MAX_LEVEL)
        return false;
    for (size_t i = 0; i < n->n_kids; i++) {
        bool ok = n->kind == PQ_NODE_LIST ? assign_levels(n->kids[i], n->def + 1, rep + 1)
                                          : assign_levels(n->kids[i], n->def, rep);
        if (!ok)
            return false;
    }
    return true;
}

static pq_node *first_leaf(pq_node *n)
{
    while (n != NULL && n->kind != PQ_NODE_LEAF)
        n = n->n_kids > 0 ? n->kids[0] : NULL;
    return n;
}

/* Column writers for the leaves of a new subtree, with null levels for the
 * rows the row group already holds (copied from `tmpl`, see
 * pq_levels_backfill). */
static etl_status add_columns(pq_writer *w, pq_node *n, const pq_column *tmpl, int rep_limit,
                              int def_cap)
{
    if (n->kind != PQ_NODE_LEAF) {
        for (size_t i = 0; i < n->n_kids; i++) {
            etl_status st = add_columns(w, n->kids[i], tmpl, rep_limit, def_cap);
            if (st != ETL_OK)
                return st;
        }
        return ETL_OK;
    }
    n->col = malloc(sizeof *n->col);
    if (n->col == NULL || !pq_column_init(n->col, n, &w->o, w->pipe)) {
        free(n->col);
        n->col = NULL;
        return nomem(w);
    }
    if (w->rg_rows > 0)
        pq_column_backfill(n->col, tmpl, (size_t)w->rg_rows, rep_limit, def_cap);
    if (n->col->def.failed || n->col->rep.failed)
        return nomem(w);
    w->columns_changed = true;
    return ETL_OK;
}

static etl_status too_deep(pq_writer *w, const pq_node *n)
{
    char where[512];
    node_path(n, where, sizeof where);
    return fail(w, ETL_ERR_UNSUPPORTED, "column '%s' is nested deeper than %d levels of "
                "optional fields and lists", where, MAX_LEVEL);
}

static etl_status schema_fixed(pq_writer *w, const pq_node *parent, const char *name,
                               const char *what)
{
    char where[512];
    node_path(parent, where, sizeof where);
    return fail(w, ETL_ERR_PERMANENT,
                "column '%s%s%s' %s in the batch that starts at row %" PRId64 ", after the "
                "first row group was written: "
                "a Parquet file has one schema. Declare the column's type before data arrives "
                "(a typed source or the cast transform), or raise row_group_rows / "
                "row_group_bytes so that the first row group sees every column",
                where, *where ? "." : "", name, what, w->meta.num_rows + w->rg_rows);
}

static etl_status bind_node(pq_writer *w, pq_node *n, const struct ArrowSchema *s,
                            const struct ArrowArray *a);

/* A field the file does not have yet, under `g`. */
static etl_status grow(pq_writer *w, pq_node *g, const struct ArrowSchema *s,
                       const struct ArrowArray *a)
{
    const char *name = s->name ? s->name : "";
    if (strcmp(s->format, "n") == 0 && w->frozen)
        return ETL_OK;           /* only nulls: nothing is lost by leaving it out */
    if (w->frozen)
        return schema_fixed(w, g, name, "first appears");
    pq_node *n = NULL;
    etl_status st = node_from_arrow(w, s, name, g, &n);
    if (st != ETL_OK || n == NULL)
        return st;
    if (w->rg_rows > 0)
        n->optional = true;      /* the rows before it read null */
    if (!node_add_kid(g, n)) {
        node_free(n);
        return nomem(w);
    }
    int def_base = g->kind == PQ_NODE_ROOT ? 0 : g->def + (g->kind == PQ_NODE_LIST ? 1 : 0);
    int rep_base = g->rep + (g->kind == PQ_NODE_LIST ? 1 : 0);
    if (!assign_levels(n, def_base, rep_base))
        return too_deep(w, n);
    pq_node *tmpl = g->kind == PQ_NODE_ROOT ? NULL : first_leaf(g);
    st = add_columns(w, n, tmpl ? tmpl->col : NULL, g->kind == PQ_NODE_ROOT ? 0 : g->rep,
                     def_base);
    return st == ETL_OK ? bind_node(w, n, s, a) : st;
}

/* A leaf that held only nulls gets a type: as a leaf, it keeps its levels;
 * as a struct or list, a new subtree takes its place. */
static etl_status promote(pq_writer *w, pq_node *p, const struct ArrowSchema *s,
                          const struct ArrowArray *a)
{
    pq_node *n = NULL;
    etl_status st = node_from_arrow(w, s, p->name, p->parent, &n);
    if (st != ETL_OK || n == NULL)
        return st;               /* an empty struct: still nothing to store */
    if (n->kind == PQ_NODE_LEAF && (!w->frozen || n->vtype == PQ_V_INT32)) {
        p->vtype = n->vtype;
        p->precision = n->precision;
        p->scale = n->scale;
        node_free(n);
        int64_t nulls = p->col->null_count;
        pq_column_retype(p->col);
        p->col->null_count = nulls;
        w->columns_changed = true;
        return bind_node(w, p, s, a);
    }
    if (w->frozen) {
        node_free(n);
        return schema_fixed(w, p->parent, p->name, "held only nulls in the first row group (so "
                            "the file declares it int32) and now has values");
    }
    pq_node *parent = p->parent;
    n->optional = p->optional || w->rg_rows > 0;
    int def_base = p->def - (p->optional ? 1 : 0);
    if (!assign_levels(n, def_base, p->rep)) {
        node_free(n);
        return too_deep(w, p);
    }
    for (size_t i = 0; i < parent->n_kids; i++)
        if (parent->kids[i] == p)
            parent->kids[i] = n;
    n->parent = parent;
    st = add_columns(w, n, p->col, p->rep, def_base);
    node_free(p);
    w->columns_changed = true;
    return st == ETL_OK ? bind_node(w, n, s, a) : st;
}

static pq_conv conversion(const pq_node *n, int type, int32_t precision, int32_t scale, bool *ok)
{
    *ok = true;
    if (type == (int)n->vtype)
        *ok = type != PQ_V_DECIMAL || (precision == n->precision && scale == n->scale);
    else if (n->vtype == PQ_V_DOUBLE && type == PQ_V_INT64)
        return PQ_CONV_I64_TO_F64;
    else if (n->vtype == PQ_V_DOUBLE && type == PQ_V_INT32)
        return PQ_CONV_I32_TO_F64;
    else if (n->vtype == PQ_V_DOUBLE && type == PQ_V_FLOAT)
        return PQ_CONV_F32_TO_F64;
    else if (n->vtype == PQ_V_INT64 && type == PQ_V_INT32)
        return PQ_CONV_I32_TO_I64;
    else
        *ok = false;
    return PQ_CONV_NONE;
}

static etl_status type_changed(pq_writer *w, const pq_node *n, const char *format)
{
    char where[512];
    node_path(n, where, sizeof where);
    const char *was = n->kind == PQ_NODE_STRUCT ? "struct"
                      : n->kind == PQ_NODE_LIST ? "list" : vtype_names[n->vtype];
    return fail(w, ETL_ERR_PERMANENT,
                "column '%s' is %s in this file but has Arrow format '%s' at row %" PRId64
                ": a Parquet file has one type per column. Give the column one type from the "
                "start (the cast transform, or a source with a declared schema)",
                where, was, format, w->meta.num_rows + w->rg_rows);
}

static etl_status bind_struct(pq_writer *w, pq_node *g, const struct ArrowSchema *s,
                              const struct ArrowArray *a)
{
    for (int64_t i = 0; i < s->n_children; i++) {
        const struct ArrowSchema *cs = s->children[i];
        const char *name = cs->name ? cs->name : "";
        pq_node *kid = NULL;
        for (size_t k = 0; k < g->n_kids && kid == NULL; k++)
            if (strcmp(g->kids[k]->name, name) == 0)
                kid = g->kids[k];
        etl_status st = kid != NULL ? bind_node(w, kid, cs, a->children[i])
                                    : grow(w, g, cs, a->children[i]);
        if (st != ETL_OK)
            return st;
    }
    return ETL_OK;
}

static etl_status bind_node(pq_writer *w, pq_node *n, const struct ArrowSchema *s,
                            const struct ArrowArray *a)
{
    n->arr = NULL;
    n->conv = PQ_CONV_NONE;
    if (strcmp(s->format, "n") == 0)
        return ETL_OK;           /* all null here */
    int32_t precision = 0, scale = 0;
    int type = leaf_type(s->format, &precision, &scale);
    switch (n->kind) {
    case PQ_NODE_LEAF: {
        if (n->vtype == PQ_V_NULL)
            return type == PQ_V_INT32 && w->frozen ? (n->vtype = PQ_V_INT32, bind_node(w, n, s, a))
                                                   : promote(w, n, s, a);
        bool ok;
        n->conv = conversion(n, type, precision, scale, &ok);
        if (!ok)
            return type_changed(w, n, s->format);
        n->arr = a;
        return ETL_OK;
    }
    case PQ_NODE_STRUCT:
        if (strcmp(s->format, "+s") != 0)
            return type_changed(w, n, s->format);
        n->arr = a;
        return bind_struct(w, n, s, a);
    case PQ_NODE_LIST:
        if (strcmp(s->format, "+l") != 0 || s->n_children < 1 || a->n_children < 1)
            return type_changed(w, n, s->format);
        n->arr = a;
        return bind_node(w, n->kids[0], s->children[0], a->children[0]);
    case PQ_NODE_ROOT:
        return ETL_OK;
    }
    return ETL_OK;
}

static void unbind(pq_node *n)
{
    n->arr = NULL;
    for (size_t i = 0; i < n->n_kids; i++)
        unbind(n->kids[i]);
}

static size_t collect_columns(pq_node *n, pq_column **out, size_t at)
{
    if (n->kind == PQ_NODE_LEAF) {
        if (out != NULL)
            out[at] = n->col;
        return at + 1;
    }
    for (size_t i = 0; i < n->n_kids; i++)
        at = collect_columns(n->kids[i], out, at);
    return at;
}

static etl_status rebuild_columns(pq_writer *w)
{
    size_t n = collect_columns(w->root, NULL, 0);
    pq_column **cols = calloc(n ? n : 1, sizeof *cols);
    if (cols == NULL)
        return nomem(w);
    collect_columns(w->root, cols, 0);
    free(w->cols);
    w->cols = cols;
    w->ncols = n;
    w->columns_changed = false;
    return ETL_OK;
}

/* ---- output ------------------------------------------------------------ */

static etl_status put(pq_writer *w, const void *p, size_t len)
{
    etl_status st = w->out.write(w->out.user, p, len);
    if (st != ETL_OK) {
        w->failed = st;
        return st;               /* the byte sink set the error */
    }
    w->pos += (int64_t)len;
    return ETL_OK;
}

static etl_status counting_write(void *user, const void *data, size_t len)
{
    return put(user, data, len);
}

static etl_status start(pq_writer *w)
{
    if (w->started)
        return ETL_OK;
    w->started = true;
    return put(w, "PAR1", 4);
}

static etl_status column_failed(pq_writer *w, const pq_column *c, pq_col_status st)
{
    const void *owner = NULL;
    if ((st == PQ_COL_NOMEM || st == PQ_COL_CODEC) &&
        pq_pipeline_error(w->pipe, &owner) != PQ_PIPE_OK && owner != NULL)
        c = owner;               /* the page that failed in the pipeline */
    char where[512];
    node_path(c->leaf, where, sizeof where);
    switch (st) {
    case PQ_COL_NOMEM:
        return nomem(w);
    case PQ_COL_REQUIRED_NULL:
        return fail(w, ETL_ERR_PERMANENT, "column '%s' is required (not nullable) in this file "
                    "but a batch has a null in it near row %" PRId64, where,
                    w->meta.num_rows + w->rg_rows);
    case PQ_COL_DECIMAL_RANGE:
        return fail(w, ETL_ERR_PERMANENT, "column '%s': a decimal has more digits than its "
                    "declared precision %d", where, (int)c->leaf->precision);
    case PQ_COL_CODEC:
        return fail(w, ETL_ERR_PERMANENT, "column '%s': %s compression failed", where,
                    pq_codec_name(pq_pipeline_codec(w->pipe)));
    case PQ_COL_IO:
        if (w->failed == ETL_OK)
            w->failed = ETL_ERR_IO;
        return w->failed;        /* the byte sink set the error */
    case PQ_COL_OK:
        break;
    }
    return ETL_OK;
}

static int64_t row_group_bytes(const pq_writer *w)
{
    int64_t total = 0;
    for (size_t i = 0; i < w->ncols; i++)
        total += pq_column_uncompressed_bytes(w->cols[i]);
    return total;
}

static etl_status flush_row_group(pq_writer *w)
{
    if (w->rg_rows == 0)
        return ETL_OK;
    if (w->meta.n_row_groups == w->rg_cap) {
        size_t cap = w->rg_cap ? 2 * w->rg_cap : 8;
        pq_row_group *groups = realloc(w->meta.row_groups, cap * sizeof *groups);
        if (groups == NULL)
            return nomem(w);
        w->meta.row_groups = groups;
        w->rg_cap = cap;
    }
    pq_row_group *rg = &w->meta.row_groups[w->meta.n_row_groups];
    *rg = (pq_row_group){.file_offset = w->pos, .num_rows = w->rg_rows};
    rg->columns = calloc(w->ncols ? w->ncols : 1, sizeof *rg->columns);
    if (rg->columns == NULL)
        return nomem(w);
    w->meta.n_row_groups++;
    for (size_t i = 0; i < w->ncols; i++) {
        pq_col_status st = pq_column_close_chunk(w->cols[i]);
        if (st != PQ_COL_OK)
            return column_failed(w, w->cols[i], st);
    }
    etl_byte_sink counted = {.struct_size = sizeof counted, .user = w, .name = w->out.name,
                             .write = counting_write};
    for (size_t i = 0; i < w->ncols; i++) {
        /* Written as soon as complete, while later columns still compress. */
        pq_pipe_status ps = pq_pipeline_wait(w->pipe, &w->cols[i]->pending);
        if (ps != PQ_PIPE_OK)
            return column_failed(w, w->cols[i],
                                 ps == PQ_PIPE_NOMEM ? PQ_COL_NOMEM : PQ_COL_CODEC);
        pq_col_status st = pq_column_flush(w->cols[i], &counted, w->pos, &rg->columns[i]);
        rg->n_columns = i + 1;
        if (st != PQ_COL_OK)
            return column_failed(w, w->cols[i], st);
        rg->total_byte_size += rg->columns[i].total_uncompressed_size;
        rg->total_compressed_size += rg->columns[i].total_compressed_size;
    }
    w->meta.num_rows += w->rg_rows;
    w->rg_rows = 0;
    w->frozen = true;
    pq_pipeline_mark(w->pipe, true);
    w->rg_base = pq_pipeline_before_mark(w->pipe);  /* nothing in flight: no wait */
    return ETL_OK;
}

static etl_status write_rows(pq_writer *w, int64_t begin, int64_t end)
{
    for (size_t i = 0; i < w->ncols; i++) {
        pq_col_status st = pq_column_write(w->cols[i], begin, end, &w->lv);
        if (st != PQ_COL_OK)
            return column_failed(w, w->cols[i], st);
    }
    w->rg_rows += end - begin;
    return ETL_OK;
}

static etl_status bind_batch(pq_writer *w, const etl_batch *batch)
{
    const struct ArrowSchema *s = batch->schema;
    if (s == NULL || batch->array == NULL || strcmp(s->format, "+s") != 0 ||
        s->n_children != batch->array->n_children)
        return fail(w, ETL_ERR_PERMANENT, "a batch is not a struct of columns (format '%s')",
                    s && s->format ? s->format : "?");
    if (w->root == NULL) {
        w->root = node_new("schema", PQ_NODE_ROOT);
        if (w->root == NULL)
            return nomem(w);
    }
    unbind(w->root);
    etl_status st = bind_struct(w, w->root, s, batch->array);
    if (st == ETL_OK && w->columns_changed)
        st = rebuild_columns(w);
    return st;
}

static etl_status pq_write(void *state, const etl_batch *batch)
{
    pq_writer *w = state;
    if (w->failed != ETL_OK)
        return w->failed;
    if (w->finished)
        return fail(w, ETL_ERR_PERMANENT, "write after finish");
    pq_pipeline_mark(w->pipe, false);   /* for pq_bytes_written */
    etl_status st = bind_batch(w, batch);
    if (st == ETL_OK)
        st = start(w);
    for (int64_t row = 0; st == ETL_OK && row < batch->num_rows;) {
        int64_t take = batch->num_rows - row;
        if (take > w->row_group_rows - w->rg_rows)
            take = w->row_group_rows - w->rg_rows;
        if (take > MAX_SLICE_ROWS)
            take = MAX_SLICE_ROWS;
        st = write_rows(w, row, row + take);
        row += take;
        if (st == ETL_OK &&
            (w->rg_rows >= w->row_group_rows || row_group_bytes(w) >= w->row_group_bytes))
            st = flush_row_group(w);
    }
    if (w->root != NULL)
        unbind(w->root);         /* the batch is only borrowed */
    return st;
}

/* The file so far plus the row group in memory: the pages submitted before
 * the last few batches with their compressed sizes (waiting for them if
 * need be), the later ones and the open pages estimated. The same on every
 * run, whatever the threads, so files roll at the same rows. */
static int64_t pq_bytes_written(void *state)
{
    pq_writer *w = state;
    int64_t total = w->pos;
    if (w->finished || w->failed != ETL_OK)
        return total;
    int64_t before = pq_pipeline_before_mark(w->pipe);
    if (before >= w->rg_base)
        total += before - w->rg_base;
    total += pq_pipeline_since_mark(w->pipe) / 4;
    for (size_t i = 0; i < w->ncols; i++)
        total += pq_column_open_bytes(w->cols[i]);
    return total;
}

/* ---- footer ------------------------------------------------------------ */

typedef struct schema_list {
    pq_schema_element *items;
    size_t n, cap;
    bool failed;
} schema_list;

static pq_schema_element *schema_add(schema_list *l, const char *name, int32_t repetition)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        pq_schema_element *items = realloc(l->items, cap * sizeof *items);
        if (items == NULL) {
            l->failed = true;
            return NULL;
        }
        l->items = items;
        l->cap = cap;
    }
    pq_schema_element *e = &l->items[l->n];
    *e = (pq_schema_element){.type = PQ_UNSET, .type_length = PQ_UNSET,
                             .repetition = repetition, .num_children = PQ_UNSET,
                             .converted_type = PQ_UNSET, .scale = PQ_UNSET,
                             .precision = PQ_UNSET};
    e->name = strdup(name);
    if (e->name == NULL) {
        l->failed = true;
        return NULL;
    }
    l->n++;
    return e;
}

static void annotate_leaf(pq_schema_element *e, const pq_node *n)
{
    int type_length;
    e->type = pq_physical_type(n, &type_length);
    if (e->type == PQ_FIXED_LEN_BYTE_ARRAY)
        e->type_length = type_length;
    switch (n->vtype) {
    case PQ_V_STRING:
        e->converted_type = PQ_CT_UTF8;
        e->logical.kind = PQ_LT_STRING;
        break;
    case PQ_V_TIMESTAMP:
        e->converted_type = PQ_CT_TIMESTAMP_MICROS;
        e->logical = (pq_logical_type){.kind = PQ_LT_TIMESTAMP, .utc = true,
                                       .unit = PQ_UNIT_MICROS};
        break;
    case PQ_V_DATE:
        e->converted_type = PQ_CT_DATE;
        e->logical.kind = PQ_LT_DATE;
        break;
    case PQ_V_DECIMAL:
        e->converted_type = PQ_CT_DECIMAL;
        e->scale = n->scale;
        e->precision = n->precision;
        e->logical = (pq_logical_type){.kind = PQ_LT_DECIMAL, .scale = n->scale,
                                       .precision = n->precision};
        break;
    default:
        break;
    }
}

/* Depth-first, as Parquet lists the schema. A list is written in the
 * three-level form: <name> (LIST) { repeated group list { element } }. */
static void schema_node(schema_list *l, const pq_node *n, const char *name)
{
    int32_t repetition = n->optional ? PQ_OPTIONAL : PQ_REQUIRED;
    pq_schema_element *e = schema_add(l, name, repetition);
    if (e == NULL)
        return;
    switch (n->kind) {
    case PQ_NODE_LEAF:
        annotate_leaf(e, n);
        return;
    case PQ_NODE_STRUCT: case PQ_NODE_ROOT:
        e->num_children = (int32_t)n->n_kids;
        for (size_t i = 0; i < n->n_kids; i++)
            schema_node(l, n->kids[i], n->kids[i]->name);
        return;
    case PQ_NODE_LIST:
        e->num_children = 1;
        e->converted_type = PQ_CT_LIST;
        e->logical.kind = PQ_LT_LIST;
        e = schema_add(l, "list", PQ_REPEATED);
        if (e == NULL)
            return;
        e->num_children = 1;
        schema_node(l, n->kids[0], "element");
        return;
    }
}

static void json_string(pq_buf *b, const char *s)
{
    pq_buf_byte(b, '"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            pq_buf_byte(b, '\\');
            pq_buf_byte(b, ch);
        } else if (ch < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", ch);
            pq_buf_append(b, esc, 6);
        } else {
            pq_buf_byte(b, ch);
        }
    }
    pq_buf_byte(b, '"');
}

/* The writer's schema as JSON, kept in the key/value metadata: what etl
 * had in mind, including types Parquet spells differently. */
static void schema_json(pq_buf *b, const pq_node *n)
{
    char text[64];
    if (n->kind == PQ_NODE_ROOT) {
        pq_buf_append(b, "{\"fields\":[", 11);
    } else {
        pq_buf_append(b, "{\"name\":", 8);
        json_string(b, n->name);
        const char *type = n->kind == PQ_NODE_STRUCT ? "struct"
                           : n->kind == PQ_NODE_LIST ? "list" : vtype_names[n->vtype];
        snprintf(text, sizeof text, ",\"type\":\"%s\",\"nullable\":%s", type,
                 n->optional ? "true" : "false");
        pq_buf_append(b, text, strlen(text));
        if (n->vtype == PQ_V_DECIMAL && n->kind == PQ_NODE_LEAF) {
            snprintf(text, sizeof text, ",\"precision\":%d,\"scale\":%d", (int)n->precision,
                     (int)n->scale);
            pq_buf_append(b, text, strlen(text));
        }
        if (n->kind == PQ_NODE_LEAF) {
            pq_buf_byte(b, '}');
            return;
        }
        pq_buf_append(b, n->kind == PQ_NODE_LIST ? ",\"element\":" : ",\"fields\":[",
                      n->kind == PQ_NODE_LIST ? 11 : 11);
    }
    for (size_t i = 0; i < n->n_kids; i++) {
        if (i > 0)
            pq_buf_byte(b, ',');
        schema_json(b, n->kids[i]);
    }
    pq_buf_append(b, n->kind == PQ_NODE_LIST ? "}" : "]}", n->kind == PQ_NODE_LIST ? 1 : 2);
}

static etl_status write_footer(pq_writer *w)
{
    schema_list l = {0};
    if (w->root != NULL) {
        schema_node(&l, w->root, "schema");
        if (l.n > 0)
            l.items[0].repetition = PQ_UNSET;   /* the root has none */
    } else if (schema_add(&l, "schema", PQ_UNSET) != NULL) {
        l.items[0].num_children = 0;
    }
    pq_buf json = {0};
    if (w->root != NULL)
        schema_json(&json, w->root);
    else
        pq_buf_append(&json, "{\"fields\":[]}", 13);
    pq_buf_byte(&json, '\0');
    char created_by[128];
    snprintf(created_by, sizeof created_by, "etl version %s (build parquet.so)", PACKAGE_VERSION);
    pq_key_value kv[] = {{.key = "etl.schema", .value = (char *)json.data},
                         {.key = "etl.version", .value = PACKAGE_VERSION}};
    w->meta.version = 1;
    w->meta.schema = l.items;
    w->meta.n_schema = l.n;
    w->meta.kv = kv;
    w->meta.n_kv = 2;
    w->meta.created_by = created_by;
    w->meta.column_orders = true;
    pq_buf footer = {0};
    etl_status st = ETL_OK;
    if (!l.failed && !json.failed)
        pq_file_meta_write(&w->meta, &footer);
    if (l.failed || json.failed || footer.failed)
        st = nomem(w);
    /* Detach what is not the writer's to free later. */
    w->meta.kv = NULL;
    w->meta.n_kv = 0;
    w->meta.created_by = NULL;
    if (st == ETL_OK)
        st = put(w, footer.data, footer.len);
    uint8_t tail[8] = {(uint8_t)footer.len, (uint8_t)(footer.len >> 8),
                       (uint8_t)(footer.len >> 16), (uint8_t)(footer.len >> 24), 'P', 'A', 'R',
                       '1'};
    if (st == ETL_OK)
        st = put(w, tail, 8);
    pq_buf_free(&footer);
    pq_buf_free(&json);
    return st;
}

static etl_status pq_finish(void *state)
{
    pq_writer *w = state;
    if (w->failed != ETL_OK)
        return w->failed;
    if (w->finished)
        return ETL_OK;
    etl_status st = start(w);
    if (st == ETL_OK)
        st = flush_row_group(w);
    if (st == ETL_OK)
        st = write_footer(w);
    if (st == ETL_OK)
        w->finished = true;
    return st;
}

/* ---- open and close ---------------------------------------------------- */

static void pq_writer_close(void *state)
{
    pq_writer *w = state;
    if (w == NULL)
        return;
    /* First the workers: pages in flight point into the columns. */
    pq_pipeline_free(w->pipe);
    w->pipe = NULL;
    node_free(w->root);
    free(w->cols);
    pq_file_meta_free(&w->meta);
    pq_level_out_free(&w->lv);
    free(w);
}

static etl_status config_error(etl_ctx *ctx, const etl_options *opts, const char *key,
                               const char *what)
{
    return pq_host->set_error(ctx, ETL_ERR_CONFIG, 0, "%s: parquet %s %s",
                              pq_host->opt_where(opts, key), key, what);
}

static etl_status read_options(pq_writer *w, const etl_options *opts)
{
    const char *compression = pq_host->opt_string(opts, "compression");
    const char *dictionary = pq_host->opt_string(opts, "dictionary");
    int64_t level = 1, page_size = 256 << 10, threads = 0;
    bool statistics = true;
    pq_host->opt_int(opts, "compression_level", &level);
    pq_host->opt_int(opts, "row_group_rows", &w->row_group_rows);
    pq_host->opt_size(opts, "row_group_bytes", &w->row_group_bytes);
    pq_host->opt_size(opts, "page_size", &page_size);
    pq_host->opt_bool(opts, "statistics", &statistics);
    pq_host->opt_int(opts, "threads", &threads);
    int codec = compression == NULL || strcmp(compression, "zstd") == 0 ? PQ_CODEC_ZSTD
                : strcmp(compression, "snappy") == 0 ? PQ_CODEC_SNAPPY : PQ_CODEC_UNCOMPRESSED;
    if (codec == PQ_CODEC_ZSTD && (level < -7 || level > 22))
        return config_error(w->ctx, opts, "compression_level",
                            "must be between -7 and 22 for zstd (1-3 are fast, 19+ slow)");
    if (w->row_group_rows < 1)
        return config_error(w->ctx, opts, "row_group_rows", "must be at least 1");
    if (w->row_group_bytes < 1)
        return config_error(w->ctx, opts, "row_group_bytes", "must be at least 1 byte");
    if (page_size < 1 || page_size > (INT64_C(1) << 30))
        return config_error(w->ctx, opts, "page_size", "must be between 1 byte and 1GiB");
    if (threads < 0 || threads > 1024)
        return config_error(w->ctx, opts, "threads", "must be 0 (one per online CPU), 1 (no "
                            "worker thread) or more");
    w->o = (pq_writer_opts){
        .codec = codec, .level = (int)level, .page_size = page_size,
        .dict_limit = 1 << 20, .statistics = statistics,
        .dict = dictionary == NULL || strcmp(dictionary, "auto") == 0 ? PQ_DICT_AUTO
                : strcmp(dictionary, "on") == 0 ? PQ_DICT_ON : PQ_DICT_OFF};
    /* Pages in flight: enough to keep the workers busy, a few MB at most. */
    size_t in_flight = page_size > (4 << 20) ? 2 * (size_t)page_size : 8 << 20;
    w->pipe = pq_pipeline_new(codec, (int)level, pq_pipeline_workers_for(threads), in_flight);
    if (w->pipe == NULL)
        return pq_host->set_error(w->ctx, ETL_ERR_NOMEM, 0, "parquet: cannot create the %s "
                                  "compressor and its threads (out of memory or threads)",
                                  pq_codec_name(codec));
    return ETL_OK;
}

static etl_status pq_writer_open(etl_ctx *ctx, const etl_options *opts, const etl_byte_sink *out,
                                 void **state)
{
    pq_writer *w = calloc(1, sizeof *w);
    if (w == NULL)
        return pq_host->set_error(ctx, ETL_ERR_NOMEM, 0, "parquet: out of memory");
    w->ctx = ctx;
    w->out = *out;
    w->row_group_rows = 1000000;
    w->row_group_bytes = 128LL << 20;
    etl_status st = read_options(w, opts);
    if (st != ETL_OK) {
        pq_writer_close(w);
        return st;
    }
    *state = w;
    return ETL_OK;
}

/* ---- the connector ----------------------------------------------------- */

static const etl_format_vtable parquet_vtable = {
    .struct_size = sizeof(etl_format_vtable),
    .file_extension = "parquet",
    .writer_open = pq_writer_open,
    .write = pq_write,
    .bytes_written = pq_bytes_written,
    .finish = pq_finish,
    .writer_close = pq_writer_close,
    .reader_open = pq_reader_open,
    .read = pq_reader_read,
    .reader_close = pq_reader_close,
};

static const etl_option_spec parquet_options[] = {
    {.key = "compression", .type = ETL_OPT_ENUM, .default_value = "zstd",
     .choices = "zstd|snappy|none", .doc = "page compression codec"},
    {.key = "compression_level", .type = ETL_OPT_INT, .default_value = "1",
     .doc = "zstd level, -7 (fastest) to 22 (smallest); ignored by snappy and none"},
    {.key = "row_group_rows", .type = ETL_OPT_INT, .default_value = "1000000",
     .doc = "start a new row group after this many rows"},
    {.key = "row_group_bytes", .type = ETL_OPT_SIZE, .default_value = "128MiB",
     .doc = "start a new row group once the buffered one holds this much uncompressed data"},
    {.key = "page_size", .type = ETL_OPT_SIZE, .default_value = "256KiB",
     .doc = "target size of a data page before compression"},
    {.key = "dictionary", .type = ETL_OPT_ENUM, .default_value = "auto", .choices = "auto|on|off",
     .doc = "dictionary encoding: auto keeps it for columns whose values repeat"},
    {.key = "statistics", .type = ETL_OPT_BOOL, .default_value = "true",
     .doc = "write min, max, null and NaN counts per column chunk"},
    {.key = "threads", .type = ETL_OPT_INT, .default_value = "0",
     .doc = "threads that compress pages, the caller included: 0 = one per online CPU "
            "(at most 8), 1 = compress on the calling thread"},
    {.key = NULL},
};

const etl_connector parquet_format_connector = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_FORMAT,
    .name = "parquet",
    .summary = "Apache Parquet files: nested types, dictionary, zstd/snappy, statistics",
    .options = parquet_options,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &parquet_vtable,
};
