/* Rows of an Arrow-layout batch as JSON objects: the function behind
 * etl_host_api.json_write_row. Encoding rules (timestamps, decimals, NaN,
 * binary, nulls) are in docs/json.md. */
#ifndef ETL_CORE_JSON_ENCODE_H
#define ETL_CORE_JSON_ENCODE_H

#include <etl/plugin.h>

/* Appends row `row` of `batch` to `out` as one JSON object, without a
 * newline, columns in schema order, null values written as null. On failure
 * `out` is left as it was: ETL_ERR_NOMEM, or ETL_ERR_UNSUPPORTED (error set
 * on the process-wide record, ctx_error_message(NULL)) for a column format
 * JSON cannot carry. */
etl_status json_encode_row(const etl_batch *batch, int64_t row, etl_buf *out);
/* Rows first .. first+count-1, each followed by `separator` (may be NULL):
 * "\n" makes NDJSON. The columns are looked at once for all the rows. */
etl_status json_encode_rows(const etl_batch *batch, int64_t first, int64_t count,
                            const char *separator, etl_buf *out);

/* Appends `s` as a JSON string with its quotes. Control characters, '"'
 * and '\\' are escaped; bytes that are not UTF-8 become U+FFFD. */
etl_status json_encode_string(etl_buf *out, const char *s, size_t len);

/* Appends the shortest of %.15g, %.16g and %.17g that reads back as the same
 * double, with ".0" when it would otherwise read as an integer; null for NaN
 * and the infinities. */
etl_status json_encode_double(etl_buf *out, double v);

#endif
