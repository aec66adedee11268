/* A small expression language over the columns of a batch, shared by the
 * filter and derive transforms (grammar in docs/connectors/transform.md).
 *
 * Life cycle: expr_compile() once when the transform opens (syntax errors
 * carry a 1-based column in the text); expr_bind() for each batch, which
 * resolves column references against the batch's schema and checks types;
 * expr_eval() for each row. Evaluation reads the Arrow arrays in place and
 * allocates nothing per row (strings made by functions live in an arena
 * that is rewound at each row).
 *
 * Also here: resolving dotted column paths ("brand.name") in a batch, which
 * select, rename and drop use too. No host services are used, so this file
 * is unit-testable on its own. */
#ifndef TX_EXPR_H
#define TX_EXPR_H

#include "convert.h"

typedef struct expr expr;

typedef struct expr_error {
    size_t column;               /* 1-based position in the expression text; 0: none */
    char message[1024];
} expr_error;

expr *expr_compile(const char *text, expr_error *err);
void expr_free(expr *e);

/* Resolves and type-checks against one batch (struct schema and array). The
 * arrays must outlive the evaluations that follow. */
bool expr_bind(expr *e, const struct ArrowSchema *schema, const struct ArrowArray *array,
               expr_error *err);
/* The type of the result, after expr_bind(): never CV_DECIMAL or
 * CV_UNSUPPORTED (CV_NULL when it is always null). */
cv_type expr_result_type(const expr *e);
/* Row `row` of the bound batch. Strings in *out stay valid until the next
 * call. Returns false only when memory ran out. */
bool expr_eval(expr *e, int64_t row, cv_value *out);
/* Int64 results that overflowed (and were made null) since compile. */
int64_t expr_overflow_count(const expr *e);

/* ---- column paths ------------------------------------------------------ */

#define EXPR_MAX_DEPTH 16

typedef struct expr_path {
    int depth;                                   /* 1 for a top-level column */
    const struct ArrowSchema *schema;            /* of the leaf */
    const struct ArrowArray *arrays[EXPR_MAX_DEPTH];   /* column, then children */
} expr_path;

/* Finds `path` in a struct batch: an exact top-level name wins; otherwise
 * the text is split at dots and followed into struct columns. `array` may be
 * NULL (only the schema is walked). */
bool expr_find_path(const struct ArrowSchema *schema, const struct ArrowArray *array,
                    const char *path, expr_path *out);
/* Whether row `row` has a value at the end of the path (all enclosing
 * structs valid too); *leaf_index is the index to read the leaf array at. */
bool expr_path_valid(const expr_path *p, int64_t row, int64_t *leaf_index);
/* "id, name, brand.name, brand.country" (dotted leaf paths), truncated with
 * "..." to fit `cap` bytes. */
void expr_list_columns(const struct ArrowSchema *schema, char *buf, size_t cap);

#endif
