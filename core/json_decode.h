/* JSON text to builder values, through the streaming tokenizer: the
 * functions behind etl_host_api.json_append_record and json_append_value.
 * Types: objects become struct columns, arrays list columns, integers that
 * fit int64 int64, other numbers doubles (integers beyond int64 too: see
 * docs/json.md), strings, booleans and null as such. */
#ifndef ETL_CORE_JSON_DECODE_H
#define ETL_CORE_JSON_DECODE_H

#include <etl/plugin.h>

/* Appends one record from a JSON object. On malformed JSON the record is
 * cancelled and ETL_ERR_DATA returned, with the error of builder_ctx(b) set
 * to "byte N (line L, column C): reason"; a value the builder refuses
 * (a string into an int64 column) cancels the record and returns the
 * builder's status and error. */
etl_status json_decode_record(etl_builder *b, const char *json, size_t len);

/* Appends one JSON value (any type) as the value of `col` in the record
 * being built. On failure the whole record is cancelled (the caller must not
 * end it) and the status is returned as for json_decode_record. */
etl_status json_decode_value(etl_builder *b, int32_t col, const char *json, size_t len);

#endif
