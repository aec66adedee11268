/* The writer's schema tree and the definition / repetition levels of each
 * leaf, computed from the Arrow arrays of a batch. */
#ifndef PQ_LEVELS_H
#define PQ_LEVELS_H

#include <etl/plugin.h>

#include "pq_buf.h"

struct pq_column;

typedef enum pq_node_kind { PQ_NODE_ROOT, PQ_NODE_LEAF, PQ_NODE_STRUCT, PQ_NODE_LIST } pq_node_kind;

/* Leaf value types, from the Arrow formats. */
typedef enum pq_value_type {
    PQ_V_NULL = 0,               /* "n": only nulls seen so far */
    PQ_V_BOOL, PQ_V_INT32, PQ_V_INT64, PQ_V_FLOAT, PQ_V_DOUBLE, PQ_V_STRING, PQ_V_BINARY,
    PQ_V_TIMESTAMP, PQ_V_DATE, PQ_V_DECIMAL
} pq_value_type;

/* How a batch's values are converted to the file's type. */
typedef enum pq_conv {
    PQ_CONV_NONE = 0, PQ_CONV_I32_TO_I64, PQ_CONV_I32_TO_F64, PQ_CONV_I64_TO_F64,
    PQ_CONV_F32_TO_F64
} pq_conv;

typedef struct pq_node {
    char *name;
    pq_node_kind kind;
    pq_value_type vtype;         /* leaves */
    int32_t precision, scale;    /* decimals */
    bool optional;
    /* Levels of a present (non-null) value of this node. For a list, `def`
     * is the level of a present list; its elements are one repeated level
     * deeper (def + 1, rep + 1). */
    int def, rep;
    struct pq_node *parent;
    struct pq_node **kids;       /* struct fields; a list's one element */
    size_t n_kids;
    struct pq_column *col;       /* leaves: the column writer */
    /* Bound to the batch being written (NULL: absent, all null). */
    const struct ArrowArray *arr;
    pq_conv conv;
} pq_node;

/* Levels and value positions of one leaf for a range of top-level rows.
 * def/rep get one byte per entry; idx the positions of the present values
 * in the leaf's array (NULL with `dense`: positions first .. first+n-1). */
typedef struct pq_level_out {
    pq_buf *def;                 /* NULL when max def is 0 */
    pq_buf *rep;                 /* NULL when max rep is 0 */
    int64_t *idx;
    size_t n_idx, cap_idx;
    bool dense;
    int64_t first;
    int64_t entries;             /* entries added by the last call */
    bool failed;                 /* out of memory */
    bool required_null;          /* a null where the schema says required */
} pq_level_out;

/* path[0] is a top-level column, path[depth-1] the leaf. */
void pq_levels_compute(pq_node *const *path, int depth, int64_t row_begin, int64_t row_end,
                       pq_level_out *out);

/* Levels for a subtree added to a file after some rows were written: one
 * entry per entry of `tmpl_def/rep` whose rep <= rep_limit, with def capped
 * at def_cap (everything below is null). */
size_t pq_levels_backfill(const uint8_t *tmpl_def, const uint8_t *tmpl_rep, size_t n,
                          int rep_limit, int def_cap, pq_buf *def, pq_buf *rep);

void pq_level_out_free(pq_level_out *out);

#endif
