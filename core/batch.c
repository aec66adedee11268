/* Batches: refcounted buffers, Arrow array/schema nodes with spec-conforming
 * release callbacks, and batch allocation and release. */
#include "batch.h"
#include "batch_internal.h"

#include <stdlib.h>

/* --- refcounted buffers ------------------------------------------------- */

/* 16 bytes, so the data after it keeps malloc's 16-byte alignment. */
typedef struct rbuf_header {
    int64_t refs;
    int64_t size;
} rbuf_header;

static rbuf_header *rbuf_header_of(const void *data)
{
    return (rbuf_header *)((char *)(uintptr_t)data - sizeof(rbuf_header));
}

void *rbuf_alloc(size_t cap)
{
    rbuf_header *h = calloc(1, sizeof *h + cap);
    if (h == NULL)
        return NULL;
    h->refs = 1;
    return h + 1;
}

void *rbuf_realloc(void *data, size_t cap)
{
    if (data == NULL) {
        rbuf_header *h = malloc(sizeof *h + cap);
        if (h == NULL)
            return NULL;
        h->refs = 1;
        h->size = 0;
        return h + 1;
    }
    rbuf_header *h = realloc(rbuf_header_of(data), sizeof *h + cap);
    return h ? h + 1 : NULL;
}

void rbuf_set_size(void *data, size_t size)
{
    rbuf_header_of(data)->size = (int64_t)size;
}

size_t rbuf_size(const void *data)
{
    return (size_t)rbuf_header_of(data)->size;
}

/* Batches may travel between threads, hence atomic counts. */
const void *rbuf_ref(const void *data)
{
    if (data)
        __atomic_add_fetch(&rbuf_header_of(data)->refs, 1, __ATOMIC_RELAXED);
    return data;
}

void rbuf_unref(const void *data)
{
    if (data == NULL)
        return;
    rbuf_header *h = rbuf_header_of(data);
    if (__atomic_sub_fetch(&h->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(h);
}

/* --- arrays ------------------------------------------------------------- */

/* One allocation per node: buffer slots, the child structs this node owns
 * (Arrow: children are owned by the parent's private data), and the child
 * pointer array. */
typedef struct array_private {
    const void *buffers[3];
    struct ArrowArray **child_ptrs;
    struct ArrowArray child_mem[];
} array_private;

static void array_release(struct ArrowArray *a)
{
    array_private *priv = a->private_data;
    for (int64_t i = 0; i < a->n_buffers; i++)
        rbuf_unref(priv->buffers[i]);
    for (int64_t i = 0; i < a->n_children; i++) {
        struct ArrowArray *child = priv->child_ptrs[i];
        if (child && child->release)
            child->release(child);
    }
    free(priv);
    a->release = NULL;
    a->private_data = NULL;
}

etl_status arrow_array_init(struct ArrowArray *a, int64_t length, int64_t null_count,
                            int64_t n_buffers, int64_t n_children)
{
    size_t n = (size_t)n_children;
    array_private *priv = calloc(1, sizeof *priv + n * sizeof(struct ArrowArray) +
                                        n * sizeof(struct ArrowArray *));
    memset(a, 0, sizeof *a);
    if (priv == NULL || n_buffers > 3)
        return free(priv), ETL_ERR_NOMEM;
    priv->child_ptrs = (struct ArrowArray **)(void *)(priv->child_mem + n);
    for (size_t i = 0; i < n; i++)
        priv->child_ptrs[i] = &priv->child_mem[i];
    a->length = length;
    a->null_count = null_count;
    a->n_buffers = n_buffers;
    a->n_children = n_children;
    a->buffers = priv->buffers;
    a->children = priv->child_ptrs;
    a->release = array_release;
    a->private_data = priv;
    return ETL_OK;
}

etl_status arrow_array_clone(struct ArrowArray *dst, const struct ArrowArray *src)
{
    etl_status st = arrow_array_init(dst, src->length, src->null_count, src->n_buffers,
                                     src->n_children);
    if (st != ETL_OK)
        return st;
    dst->offset = src->offset;
    for (int64_t i = 0; i < src->n_buffers; i++)
        dst->buffers[i] = rbuf_ref(src->buffers[i]);
    for (int64_t i = 0; i < src->n_children; i++) {
        st = arrow_array_clone(dst->children[i], src->children[i]);
        if (st != ETL_OK)
            return st;   /* dst stays releasable: unfilled children have release NULL */
    }
    return ETL_OK;
}

int64_t arrow_array_bytes(const struct ArrowArray *a)
{
    int64_t total = 0;
    for (int64_t i = 0; i < a->n_buffers; i++)
        if (a->buffers[i])
            total += (int64_t)rbuf_size(a->buffers[i]);
    for (int64_t i = 0; i < a->n_children; i++)
        total += arrow_array_bytes(a->children[i]);
    return total;
}

/* --- schemas ------------------------------------------------------------ */

typedef struct schema_private {
    struct ArrowSchema **child_ptrs;
    char *strings;               /* format NUL name NUL, after the child pointers */
    struct ArrowSchema child_mem[];
} schema_private;

static void schema_release(struct ArrowSchema *s)
{
    schema_private *priv = s->private_data;
    for (int64_t i = 0; i < s->n_children; i++) {
        struct ArrowSchema *child = priv->child_ptrs[i];
        if (child && child->release)
            child->release(child);
    }
    free(priv);
    s->release = NULL;
    s->private_data = NULL;
}

etl_status arrow_schema_init(struct ArrowSchema *s, const char *format, const char *name,
                             int64_t flags, int64_t n_children)
{
    size_t n = (size_t)n_children;
    size_t flen = strlen(format), nlen = name ? strlen(name) : 0;
    schema_private *priv = calloc(1, sizeof *priv + n * sizeof(struct ArrowSchema) +
                                         n * sizeof(struct ArrowSchema *) + flen + nlen + 2);
    memset(s, 0, sizeof *s);
    if (priv == NULL)
        return ETL_ERR_NOMEM;
    priv->child_ptrs = (struct ArrowSchema **)(void *)(priv->child_mem + n);
    for (size_t i = 0; i < n; i++)
        priv->child_ptrs[i] = &priv->child_mem[i];
    priv->strings = (char *)(priv->child_ptrs + n);
    memcpy(priv->strings, format, flen + 1);
    if (name)
        memcpy(priv->strings + flen + 1, name, nlen);
    s->format = priv->strings;
    s->name = priv->strings + flen + 1;
    s->flags = flags;
    s->n_children = n_children;
    s->children = priv->child_ptrs;
    s->release = schema_release;
    s->private_data = priv;
    return ETL_OK;
}

etl_status arrow_schema_clone(struct ArrowSchema *dst, const struct ArrowSchema *src,
                              const char *name)
{
    etl_status st = arrow_schema_init(dst, src->format, name ? name : src->name, src->flags,
                                      src->n_children);
    if (st != ETL_OK)
        return st;
    for (int64_t i = 0; i < src->n_children; i++) {
        st = arrow_schema_clone(dst->children[i], src->children[i], NULL);
        if (st != ETL_OK)
            return st;
    }
    return ETL_OK;
}

/* --- batches ------------------------------------------------------------ */

/* The batch and its two root nodes in one block; batch_release frees it. */
typedef struct batch_block {
    etl_batch batch;
    struct ArrowSchema schema;
    struct ArrowArray array;
} batch_block;

etl_batch *batch_alloc(int64_t num_rows, int64_t num_columns)
{
    batch_block *blk = calloc(1, sizeof *blk);
    if (blk == NULL)
        return NULL;
    blk->batch.struct_size = sizeof(etl_batch);
    blk->batch.num_rows = num_rows;
    blk->batch.schema = &blk->schema;
    blk->batch.array = &blk->array;
    if (arrow_schema_init(&blk->schema, "+s", "", 0, num_columns) != ETL_OK ||
        arrow_array_init(&blk->array, num_rows, 0, 1, num_columns) != ETL_OK) {
        batch_release(&blk->batch);
        return NULL;
    }
    return &blk->batch;
}

void batch_release(etl_batch *batch)
{
    if (batch == NULL)
        return;
    batch_block *blk = (batch_block *)batch;
    /* A consumer may have moved the root structs out (release set to NULL). */
    if (blk->array.release)
        blk->array.release(&blk->array);
    if (blk->schema.release)
        blk->schema.release(&blk->schema);
    free(blk);
}

void batch_update_bytes(etl_batch *batch)
{
    batch->approx_bytes = arrow_array_bytes(batch->array);
}

etl_status batch_new_empty(etl_batch **out)
{
    *out = batch_alloc(0, 0);
    return *out ? ETL_OK : ETL_ERR_NOMEM;
}

/* --- bitmaps ------------------------------------------------------------ */

int64_t bitmap_count_set(const uint8_t *bits, int64_t n)
{
    int64_t count = 0, i = 0;
    for (; i + 64 <= n; i += 64) {
        uint64_t word;
        memcpy(&word, bits + (i >> 3), 8);
        count += __builtin_popcountll(word);
    }
    for (; i < n; i++)
        count += bitmap_get(bits, i);
    return count;
}
