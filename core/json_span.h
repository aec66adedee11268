/* Reading control-plane JSON through spans (etl_host_api.json_find and
 * friends): find a value by path, walk arrays and objects, convert
 * scalars. Built on the data path's tokenizer, so integers stay exact. */
#ifndef ETL_CORE_JSON_SPAN_H
#define ETL_CORE_JSON_SPAN_H

#include <etl/plugin.h>

etl_status json_span_find(etl_ctx *ctx, const char *json, size_t len, const char *path,
                          etl_json_span *out);
etl_status json_span_next(const etl_json_span *container, size_t *position, etl_json_span *key,
                          etl_json_span *value);
bool json_span_int64(const etl_json_span *value, int64_t *out);
bool json_span_double(const etl_json_span *value, double *out);
bool json_span_bool(const etl_json_span *value, bool *out);
etl_status json_span_string(const etl_json_span *value, etl_buf *out);

#endif
