/* Private to builder.c, batch.c and batch_ops.c: refcounted buffers and the
 * host's Arrow array/schema nodes.
 *
 * Every buffer of a host batch is an rbuf: a block with a refcount and a used
 * size in front of the data. Each batch owns its own ArrowArray/ArrowSchema
 * tree (so the Arrow move and release rules hold per batch), while the
 * buffers under those trees are shared: cloning a column copies a few small
 * structs and takes references, never copies data. */
#ifndef ETL_CORE_BATCH_INTERNAL_H
#define ETL_CORE_BATCH_INTERNAL_H

#include <etl/plugin.h>

/* --- refcounted buffers ------------------------------------------------- */

/* A new zero-filled buffer of `cap` bytes, refcount 1, used size 0. */
void *rbuf_alloc(size_t cap);
/* Grows or shrinks a buffer nobody else references yet (the builder's); the
 * new bytes are not initialized. rbuf_realloc(NULL, n) allocates. */
void *rbuf_realloc(void *data, size_t cap);
void rbuf_set_size(void *data, size_t size);
size_t rbuf_size(const void *data);
/* Takes one more reference; returns `data` for convenience. */
const void *rbuf_ref(const void *data);
/* Drops a reference; frees on the last. NULL is ignored. */
void rbuf_unref(const void *data);

/* --- Arrow nodes -------------------------------------------------------- */

/* Initializes `a` (its release callback included) with n_buffers NULL
 * buffer slots (at most 3) and n_children zeroed child structs whose release
 * is NULL until the caller fills them. The buffers put in a->buffers must be
 * rbufs; the array owns one reference to each. */
etl_status arrow_array_init(struct ArrowArray *a, int64_t length, int64_t null_count,
                            int64_t n_buffers, int64_t n_children);
/* Deep copy of the struct tree; buffers are shared (one more reference). */
etl_status arrow_array_clone(struct ArrowArray *dst, const struct ArrowArray *src);

/* Initializes `s` with copies of format and name and n_children zeroed
 * children to fill. */
etl_status arrow_schema_init(struct ArrowSchema *s, const char *format, const char *name,
                             int64_t flags, int64_t n_children);
/* Deep copy; `name` (may be NULL: keep src's) renames the top node. */
etl_status arrow_schema_clone(struct ArrowSchema *dst, const struct ArrowSchema *src,
                              const char *name);

/* --- batches ------------------------------------------------------------ */

/* A batch whose root schema ("+s") and array (struct, no validity) are
 * initialized with num_columns unfilled children. batch_release() copes with
 * children left unfilled, so callers can bail out half way. */
etl_batch *batch_alloc(int64_t num_rows, int64_t num_columns);
/* Sets approx_bytes to the size of every buffer under the batch. */
void batch_update_bytes(etl_batch *batch);
int64_t arrow_array_bytes(const struct ArrowArray *a);

/* --- bitmaps ------------------------------------------------------------ */

/* Number of set bits among bits [0, n) (LSB first). */
int64_t bitmap_count_set(const uint8_t *bits, int64_t n);

static inline void bitmap_set(uint8_t *bits, int64_t i)
{
    bits[i >> 3] |= (uint8_t)(1u << (i & 7));
}

static inline bool bitmap_get(const uint8_t *bits, int64_t i)
{
    return (bits[i >> 3] >> (i & 7)) & 1;
}

#endif
