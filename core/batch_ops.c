/* Column operations on batches: select (with paths into structs), filter,
 * add_columns, flatten. Everything but filter shares buffers with the
 * input; only validity bitmaps that must combine a struct's nulls with its
 * child's are computed.
 *
 * Host batches always have offset 0 at every level; these functions rely
 * on it. */
#include "batch.h"
#include "batch_internal.h"
#include "buf.h"
#include "context.h"

#include <stdlib.h>

#define MAX_PATH_DEPTH 64

int32_t batch_column_index(const etl_batch *batch, const char *name)
{
    if (batch == NULL || name == NULL)
        return -1;
    for (int64_t i = 0; i < batch->schema->n_children; i++)
        if (strcmp(batch->schema->children[i]->name, name) == 0)
            return (int32_t)i;
    return -1;
}

static bool is_struct(const struct ArrowSchema *s)
{
    return strcmp(s->format, "+s") == 0;
}

/* --- validity ----------------------------------------------------------- */

/* The AND of two validity bitmaps (NULL: all valid) of `len` bits, as a new
 * reference the caller drops with rbuf_unref (NULL when both are NULL). */
static etl_status and_validity(const uint8_t *x, const uint8_t *y, int64_t len,
                               const void **out)
{
    if (x == NULL || y == NULL) {
        *out = rbuf_ref(x ? x : y);
        return ETL_OK;
    }
    size_t bytes = (size_t)((len + 7) >> 3);
    uint8_t *both = rbuf_alloc(bytes ? bytes : 1);
    if (both == NULL)
        return ETL_ERR_NOMEM;
    for (size_t i = 0; i < bytes; i++)
        both[i] = x[i] & y[i];
    rbuf_set_size(both, bytes);
    *out = both;
    return ETL_OK;
}

/* Makes a column (a clone the caller owns) read null wherever `mask` (the
 * validity of the structs it came out of) says null. */
static etl_status apply_mask(struct ArrowArray *a, const uint8_t *mask)
{
    if (mask == NULL || a->n_buffers == 0)     /* "n": already all null */
        return ETL_OK;
    const void *both;
    if (and_validity(mask, a->buffers[0], a->length, &both) != ETL_OK)
        return ETL_ERR_NOMEM;
    rbuf_unref(a->buffers[0]);
    a->buffers[0] = both;
    a->null_count = a->length - bitmap_count_set(both, a->length);
    return ETL_OK;
}

/* Clones one column into slot k of `out`, renamed and masked. */
static etl_status put_column(etl_batch *out, int64_t k, const struct ArrowSchema *s,
                             const struct ArrowArray *a, const char *name, const uint8_t *mask)
{
    if (arrow_schema_clone(out->schema->children[k], s, name) != ETL_OK ||
        arrow_array_clone(out->array->children[k], a) != ETL_OK ||
        apply_mask(out->array->children[k], mask) != ETL_OK)
        return ETL_ERR_NOMEM;
    return ETL_OK;
}

static etl_status nomem(etl_ctx *ctx, etl_batch *partial)
{
    batch_release(partial);
    return ctx_set_error(ctx, ETL_ERR_NOMEM, 0, "out of memory in a batch operation");
}

/* --- select ------------------------------------------------------------- */

typedef struct resolved {
    const struct ArrowSchema *schema;
    const struct ArrowArray *array;
    const struct ArrowArray *structs[MAX_PATH_DEPTH];   /* the structs above it */
    int depth;
} resolved;

static int64_t child_named(const struct ArrowSchema *s, const char *name, size_t len)
{
    for (int64_t i = 0; i < s->n_children; i++) {
        const char *n = s->children[i]->name;
        if (strncmp(n, name, len) == 0 && n[len] == '\0')
            return i;
    }
    return -1;
}

/* Finds path[0..len) under (s, a). A name may itself contain dots (a
 * flattened column "a.b"), so the longest matching prefix is tried first. */
static bool resolve_path(const struct ArrowSchema *s, const struct ArrowArray *a,
                         const char *path, size_t len, resolved *r)
{
    for (size_t cut = len;;) {
        int64_t i = child_named(s, path, cut);
        if (i >= 0) {
            if (cut == len) {
                r->schema = s->children[i];
                r->array = a->children[i];
                return true;
            }
            if (is_struct(s->children[i]) && r->depth < MAX_PATH_DEPTH) {
                r->structs[r->depth++] = a->children[i];
                if (resolve_path(s->children[i], a->children[i], path + cut + 1,
                                 len - cut - 1, r))
                    return true;
                r->depth--;
            }
        }
        while (cut > 0 && path[--cut] != '.')
            ;
        if (cut == 0)
            return false;
    }
}

static etl_status unknown_column(etl_ctx *ctx, const etl_batch *in, const char *path)
{
    etl_buf list = {0};
    for (int64_t i = 0; i < in->schema->n_children; i++) {
        if (list.len > 1500) {
            buf_append_str(&list, ", ...");
            break;
        }
        buf_printf(&list, "%s%s", i ? ", " : "", in->schema->children[i]->name);
    }
    etl_status st = ctx_set_error(ctx, ETL_ERR_CONFIG, 0, "no column '%s' in the batch (columns: %s)",
                                  path, list.len ? buf_cstr(&list) : "none");
    buf_free(&list);
    return st;
}

static etl_status structs_mask(const resolved *r, const void **mask)
{
    *mask = NULL;
    for (int d = 0; d < r->depth; d++) {
        const struct ArrowArray *sa = r->structs[d];
        const void *next;
        if (and_validity(*mask, sa->n_buffers ? sa->buffers[0] : NULL, sa->length, &next) != ETL_OK) {
            rbuf_unref(*mask);
            return ETL_ERR_NOMEM;
        }
        rbuf_unref(*mask);
        *mask = next;
    }
    return ETL_OK;
}

etl_status batch_select(etl_ctx *ctx, const etl_batch *in, const char *const *paths,
                        const char *const *names, size_t count, etl_batch **out)
{
    *out = NULL;
    for (size_t i = 0; i < count; i++) {
        resolved r = {0};
        if (paths[i] == NULL || !resolve_path(in->schema, in->array, paths[i], strlen(paths[i]), &r))
            return unknown_column(ctx, in, paths[i] ? paths[i] : "(null)");
    }
    etl_batch *batch = batch_alloc(in->num_rows, (int64_t)count);
    if (batch == NULL)
        return nomem(ctx, NULL);
    for (size_t i = 0; i < count; i++) {
        resolved r = {0};
        resolve_path(in->schema, in->array, paths[i], strlen(paths[i]), &r);
        const void *mask;
        if (structs_mask(&r, &mask) != ETL_OK)
            return nomem(ctx, batch);
        const char *name = names && names[i] ? names[i] : r.schema->name;
        etl_status st = put_column(batch, (int64_t)i, r.schema, r.array, name, mask);
        rbuf_unref(mask);
        if (st != ETL_OK)
            return nomem(ctx, batch);
    }
    batch_update_bytes(batch);
    *out = batch;
    return ETL_OK;
}

/* --- filter ------------------------------------------------------------- */

enum kind { KIND_NULL, KIND_BITS, KIND_FIXED, KIND_BYTES, KIND_STRUCT, KIND_LIST, KIND_UNKNOWN };

static enum kind format_kind(const char *f, size_t *width)
{
    *width = 0;
    switch (f[0]) {
    case 'n': return KIND_NULL;
    case 'b': return KIND_BITS;
    case 'c': case 'C': *width = 1; return KIND_FIXED;
    case 's': case 'S': case 'e': *width = 2; return KIND_FIXED;
    case 'i': case 'I': case 'f': *width = 4; return KIND_FIXED;
    case 'l': case 'L': case 'g': *width = 8; return KIND_FIXED;
    case 'd': *width = 16; return KIND_FIXED;
    case 'u': case 'z': return KIND_BYTES;
    case 't':
        if (f[1] == 'd')
            *width = f[2] == 'D' ? 4 : 8;
        else if (f[1] == 't')
            *width = (f[2] == 's' || f[2] == 'm') ? 4 : 8;
        else if (f[1] == 's' || f[1] == 'D')
            *width = 8;
        return *width ? KIND_FIXED : KIND_UNKNOWN;
    case '+':
        return f[1] == 's' ? KIND_STRUCT : f[1] == 'l' ? KIND_LIST : KIND_UNKNOWN;
    default:
        return KIND_UNKNOWN;
    }
}

static void *new_buffer(size_t size)
{
    void *p = rbuf_alloc(size ? size : 1);
    if (p)
        rbuf_set_size(p, size);
    return p;
}

static etl_status take(struct ArrowArray *dst, const struct ArrowArray *src,
                       const struct ArrowSchema *s, const int64_t *idx, int64_t n);

static etl_status take_validity(struct ArrowArray *dst, const struct ArrowArray *src,
                                const int64_t *idx, int64_t n)
{
    const uint8_t *valid = src->buffers[0];
    if (valid == NULL)
        return ETL_OK;
    uint8_t *bits = new_buffer((size_t)((n + 7) >> 3));
    if (bits == NULL)
        return ETL_ERR_NOMEM;
    for (int64_t j = 0; j < n; j++)
        if (bitmap_get(valid, idx[j]))
            bitmap_set(bits, j);
    dst->null_count = n - bitmap_count_set(bits, n);
    if (dst->null_count == 0)
        rbuf_unref(bits);
    else
        dst->buffers[0] = bits;
    return ETL_OK;
}

static etl_status take_bytes(struct ArrowArray *dst, const struct ArrowArray *src,
                             const int64_t *idx, int64_t n)
{
    const int32_t *off = src->buffers[1];
    const char *data = src->buffers[2];
    int32_t *noff = new_buffer((size_t)(n + 1) * 4);
    if ((dst->buffers[1] = noff) == NULL)
        return ETL_ERR_NOMEM;
    noff[0] = 0;
    for (int64_t j = 0; j < n; j++)
        noff[j + 1] = noff[j] + (off[idx[j] + 1] - off[idx[j]]);
    char *ndata = new_buffer((size_t)noff[n]);
    if ((dst->buffers[2] = ndata) == NULL)
        return ETL_ERR_NOMEM;
    for (int64_t j = 0; j < n; j++)
        memcpy(ndata + noff[j], data + off[idx[j]], (size_t)(noff[j + 1] - noff[j]));
    return ETL_OK;
}

static etl_status take_list(struct ArrowArray *dst, const struct ArrowArray *src,
                            const struct ArrowSchema *s, const int64_t *idx, int64_t n)
{
    const int32_t *off = src->buffers[1];
    int32_t *noff = new_buffer((size_t)(n + 1) * 4);
    if ((dst->buffers[1] = noff) == NULL)
        return ETL_ERR_NOMEM;
    noff[0] = 0;
    for (int64_t j = 0; j < n; j++)
        noff[j + 1] = noff[j] + (off[idx[j] + 1] - off[idx[j]]);
    int64_t *child_idx = malloc((size_t)(noff[n] ? noff[n] : 1) * sizeof *child_idx);
    if (child_idx == NULL)
        return ETL_ERR_NOMEM;
    int64_t k = 0;
    for (int64_t j = 0; j < n; j++)
        for (int32_t e = off[idx[j]]; e < off[idx[j] + 1]; e++)
            child_idx[k++] = e;
    etl_status st = take(dst->children[0], src->children[0], s->children[0], child_idx, k);
    free(child_idx);
    return st;
}

/* Copies rows idx[0..n) of src into a new array dst, children included. */
static etl_status take(struct ArrowArray *dst, const struct ArrowArray *src,
                       const struct ArrowSchema *s, const int64_t *idx, int64_t n)
{
    size_t w;
    enum kind kind = format_kind(s->format, &w);
    if (kind == KIND_UNKNOWN)
        return ETL_ERR_UNSUPPORTED;
    etl_status st = arrow_array_init(dst, n, 0, src->n_buffers, src->n_children);
    if (st != ETL_OK)
        return st;
    if (kind == KIND_NULL) {
        dst->null_count = n;
        return ETL_OK;
    }
    if ((st = take_validity(dst, src, idx, n)) != ETL_OK)
        return st;
    switch (kind) {
    case KIND_BITS: {
        uint8_t *bits = new_buffer((size_t)((n + 7) >> 3));
        if ((dst->buffers[1] = bits) == NULL)
            return ETL_ERR_NOMEM;
        for (int64_t j = 0; j < n; j++)
            if (bitmap_get(src->buffers[1], idx[j]))
                bitmap_set(bits, j);
        return ETL_OK;
    }
    case KIND_FIXED: {
        uint8_t *vals = new_buffer((size_t)n * w);
        const uint8_t *from = src->buffers[1];
        if ((dst->buffers[1] = vals) == NULL)
            return ETL_ERR_NOMEM;
        for (int64_t j = 0; j < n; j++)
            memcpy(vals + (size_t)j * w, from + (size_t)idx[j] * w, w);
        return ETL_OK;
    }
    case KIND_BYTES:
        return take_bytes(dst, src, idx, n);
    case KIND_STRUCT:
        for (int64_t c = 0; c < src->n_children; c++)
            if ((st = take(dst->children[c], src->children[c], s->children[c], idx, n)) != ETL_OK)
                return st;
        return ETL_OK;
    case KIND_LIST:
        return take_list(dst, src, s, idx, n);
    default:
        return ETL_ERR_UNSUPPORTED;
    }
}

etl_status batch_filter(etl_ctx *ctx, const etl_batch *in, const uint8_t *keep,
                        etl_batch **out)
{
    *out = NULL;
    if (keep == NULL && in->num_rows > 0)
        return ctx_set_error(ctx, ETL_ERR_PERMANENT, 0, "filter: no keep flags given");
    int64_t n = 0;
    int64_t *idx = malloc((size_t)(in->num_rows ? in->num_rows : 1) * sizeof *idx);
    if (idx == NULL)
        return nomem(ctx, NULL);
    for (int64_t r = 0; r < in->num_rows; r++)
        if (keep[r])
            idx[n++] = r;
    etl_batch *batch = batch_alloc(n, in->schema->n_children);
    if (batch == NULL) {
        free(idx);
        return nomem(ctx, NULL);
    }
    etl_status st = ETL_OK;
    for (int64_t c = 0; c < in->schema->n_children && st == ETL_OK; c++) {
        const struct ArrowSchema *s = in->schema->children[c];
        if (n == in->num_rows)       /* all kept: share, don't copy */
            st = put_column(batch, c, s, in->array->children[c], NULL, NULL);
        else if (arrow_schema_clone(batch->schema->children[c], s, NULL) != ETL_OK)
            st = ETL_ERR_NOMEM;
        else
            st = take(batch->array->children[c], in->array->children[c], s, idx, n);
        if (st == ETL_ERR_UNSUPPORTED) {
            free(idx);
            batch_release(batch);
            return ctx_set_error(ctx, st, 0, "filter: column '%s' has a format ('%s') "
                                 "filter cannot copy", s->name, s->format);
        }
    }
    free(idx);
    if (st != ETL_OK)
        return nomem(ctx, batch);
    batch_update_bytes(batch);
    *out = batch;
    return ETL_OK;
}

/* --- add_columns -------------------------------------------------------- */

etl_status batch_add_columns(etl_ctx *ctx, const etl_batch *in, const etl_batch *columns,
                             etl_batch **out)
{
    *out = NULL;
    if (columns->num_rows != in->num_rows)
        return ctx_set_error(ctx, ETL_ERR_PERMANENT, 0,
                             "add_columns: the new columns have %lld rows but the batch has "
                             "%lld; a transform must produce one value per row",
                             (long long)columns->num_rows, (long long)in->num_rows);
    int64_t n_in = in->schema->n_children, n_new = columns->schema->n_children;
    int64_t *replace = malloc((size_t)(n_in + n_new + 1) * sizeof *replace);
    if (replace == NULL)
        return nomem(ctx, NULL);
    int64_t *target = replace + n_in;            /* where each new column goes, or -1 */
    int64_t total = n_in;
    for (int64_t i = 0; i < n_in; i++)
        replace[i] = -1;
    for (int64_t j = 0; j < n_new; j++) {
        int32_t i = batch_column_index(in, columns->schema->children[j]->name);
        target[j] = i;
        if (i >= 0)
            replace[i] = j;                  /* the last of duplicate names wins */
        else
            total++;
    }
    etl_batch *batch = batch_alloc(in->num_rows, total);
    etl_status st = batch ? ETL_OK : ETL_ERR_NOMEM;
    for (int64_t i = 0; i < n_in && st == ETL_OK; i++) {
        const etl_batch *from = replace[i] >= 0 ? columns : in;
        int64_t k = replace[i] >= 0 ? replace[i] : i;
        st = put_column(batch, i, from->schema->children[k], from->array->children[k], NULL, NULL);
    }
    for (int64_t j = 0, k = n_in; j < n_new && st == ETL_OK; j++)
        if (target[j] < 0)
            st = put_column(batch, k++, columns->schema->children[j],
                            columns->array->children[j], NULL, NULL);
    free(replace);
    if (st != ETL_OK)
        return nomem(ctx, batch);
    batch_update_bytes(batch);
    *out = batch;
    return ETL_OK;
}

/* --- flatten ------------------------------------------------------------ */

static int64_t count_leaves(const struct ArrowSchema *s)
{
    if (!is_struct(s))
        return 1;
    int64_t n = 0;
    for (int64_t i = 0; i < s->n_children; i++)
        n += count_leaves(s->children[i]);
    return n;   /* a struct without fields disappears */
}

static etl_status flatten_into(etl_batch *out, int64_t *k, const struct ArrowSchema *s,
                               const struct ArrowArray *a, const char *name, const char *sep,
                               const uint8_t *mask)
{
    if (!is_struct(s))
        return put_column(out, (*k)++, s, a, name, mask);
    const void *inner;
    if (and_validity(mask, a->buffers[0], a->length, &inner) != ETL_OK)
        return ETL_ERR_NOMEM;
    etl_status st = ETL_OK;
    etl_buf child_name = {0};
    for (int64_t i = 0; i < s->n_children && st == ETL_OK; i++) {
        buf_reset(&child_name);
        if (buf_printf(&child_name, "%s%s%s", name, sep, s->children[i]->name) != ETL_OK)
            st = ETL_ERR_NOMEM;
        else
            st = flatten_into(out, k, s->children[i], a->children[i], child_name.data, sep,
                              inner);
    }
    buf_free(&child_name);
    rbuf_unref(inner);
    return st;
}

etl_status batch_flatten(etl_ctx *ctx, const etl_batch *in, const char *separator,
                         etl_batch **out)
{
    *out = NULL;
    const char *sep = separator ? separator : ".";
    int64_t total = 0;
    for (int64_t c = 0; c < in->schema->n_children; c++)
        total += count_leaves(in->schema->children[c]);
    etl_batch *batch = batch_alloc(in->num_rows, total);
    if (batch == NULL)
        return nomem(ctx, NULL);
    int64_t k = 0;
    for (int64_t c = 0; c < in->schema->n_children; c++) {
        const struct ArrowSchema *s = in->schema->children[c];
        if (flatten_into(batch, &k, s, in->array->children[c], s->name, sep, NULL) != ETL_OK)
            return nomem(ctx, batch);
    }
    batch_update_bytes(batch);
    *out = batch;
    return ETL_OK;
}
