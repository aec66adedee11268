/* Batches: host-owned Arrow C Data Interface arrays with shared, refcounted
 * buffers, and the column operations transforms use (functions behind the
 * batch_* entries of etl_host_api). */
#ifndef ETL_CORE_BATCH_H
#define ETL_CORE_BATCH_H

#include <etl/plugin.h>

void batch_release(etl_batch *batch);
int32_t batch_column_index(const etl_batch *batch, const char *name);
etl_status batch_select(etl_ctx *ctx, const etl_batch *in, const char *const *paths,
                        const char *const *names, size_t count, etl_batch **out);
etl_status batch_filter(etl_ctx *ctx, const etl_batch *in, const uint8_t *keep,
                        etl_batch **out);
etl_status batch_add_columns(etl_ctx *ctx, const etl_batch *in, const etl_batch *columns,
                             etl_batch **out);
etl_status batch_flatten(etl_ctx *ctx, const etl_batch *in, const char *separator,
                         etl_batch **out);
/* An empty (zero-row, zero-column) batch. */
etl_status batch_new_empty(etl_batch **out);

#endif
