/* Shared declarations of the transform plugin: the host table, the
 * connectors each file defines, and small helpers of transform_plugin.c. */
#ifndef TX_TRANSFORM_INTERNAL_H
#define TX_TRANSFORM_INTERNAL_H

#include <etl/plugin.h>

#include "expr.h"

/* Set once by the entry point; valid while the plugin is loaded. */
extern const etl_host_api *tx_host;

extern const etl_connector tx_select_connector;
extern const etl_connector tx_drop_connector;
extern const etl_connector tx_rename_connector;
extern const etl_connector tx_cast_connector;
extern const etl_connector tx_filter_connector;
extern const etl_connector tx_derive_connector;
extern const etl_connector tx_flatten_connector;

/* strdup into plugin memory (free()); NULL stays NULL. */
char *tx_strdup(const char *s);
/* "pipeline.yaml:12:7" for `key` (copied, never NULL). */
char *tx_where(const etl_options *opts, const char *key);

/* Reads a list option into a NULL-terminated array of copies; rejects an
 * empty list and duplicates. */
etl_status tx_read_names(etl_ctx *ctx, const etl_options *opts, const char *key,
                         const char *transform, char ***names, size_t *count);
void tx_free_names(char **names, size_t count);

/* ETL_ERR_CONFIG "no column 'x'" with the batch's columns listed. */
etl_status tx_unknown_column(etl_ctx *ctx, const char *where, const char *transform,
                             const char *column, const etl_batch *batch);

/* Index of the top-level column named exactly `name`, or -1. */
int32_t tx_column_index(const etl_batch *batch, const char *name);

/* Compiles the `expr` option at open; a syntax error is ETL_ERR_CONFIG with
 * the position. */
etl_status tx_expr_open(etl_ctx *ctx, const etl_options *opts, const char *transform,
                        expr **out, char **text, char **where);
/* Binds to a batch; unknown columns and type errors are ETL_ERR_CONFIG. */
etl_status tx_expr_bind(etl_ctx *ctx, expr *e, const char *text, const char *where,
                        const char *transform, const etl_batch *batch);
/* Logs once when int64 arithmetic overflowed into nulls. */
void tx_expr_report_overflow(etl_ctx *ctx, const expr *e, const char *where, bool *warned);

/* Hands `next` back as the result and releases `in` (when it is another
 * batch); on failure releases `in` and returns the status. */
etl_status tx_finish(etl_batch *in, etl_status status, etl_batch *next, etl_batch **out);

#endif
