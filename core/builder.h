/* Row-at-a-time builder of columnar (Arrow layout) batches, with a schema
 * that grows as new fields appear. These are the functions behind the
 * builder and append_* entries of etl_host_api; see include/etl/plugin.h for
 * the contract of each. */
#ifndef ETL_CORE_BUILDER_H
#define ETL_CORE_BUILDER_H

#include <etl/plugin.h>

etl_builder *builder_new(etl_ctx *ctx);
void builder_free(etl_builder *b);
etl_ctx *builder_ctx(const etl_builder *b);

int32_t builder_field(etl_builder *b, int32_t parent, const char *name, size_t name_len);
int32_t builder_declare(etl_builder *b, int32_t parent, const char *name, etl_type type,
                        int32_t precision, int32_t scale);
int32_t builder_list_item(etl_builder *b, int32_t list_column);
/* builder_declare for a column already in hand (a list's item). */
int32_t builder_declare_type(etl_builder *b, int32_t col, etl_type type, int32_t precision,
                             int32_t scale);
etl_type builder_column_type(const etl_builder *b, int32_t col);

etl_status builder_begin_record(etl_builder *b);
etl_status builder_end_record(etl_builder *b);
void builder_cancel_record(etl_builder *b);

etl_status builder_append_null(etl_builder *b, int32_t col);
etl_status builder_append_bool(etl_builder *b, int32_t col, bool v);
etl_status builder_append_int64(etl_builder *b, int32_t col, int64_t v);
etl_status builder_append_double(etl_builder *b, int32_t col, double v);
etl_status builder_append_string(etl_builder *b, int32_t col, const char *s, size_t len);
etl_status builder_append_binary(etl_builder *b, int32_t col, const void *p, size_t len);
etl_status builder_append_timestamp_us(etl_builder *b, int32_t col, int64_t us);
etl_status builder_append_date(etl_builder *b, int32_t col, int32_t days);
etl_status builder_append_decimal(etl_builder *b, int32_t col, const char *text, size_t len);
etl_status builder_begin_struct(etl_builder *b, int32_t col);
etl_status builder_end_struct(etl_builder *b, int32_t col);
etl_status builder_begin_list(etl_builder *b, int32_t col);
etl_status builder_end_list(etl_builder *b, int32_t col);

int64_t builder_rows(const etl_builder *b);
int64_t builder_bytes(const etl_builder *b);
etl_status builder_finish(etl_builder *b, etl_batch **out);

/* Snapshot of the columns (names, order, types, declared or inferred) as
 * JSON, and its restoration into a fresh builder: a resumed run builds the
 * same schema as the run it continues. */
etl_status builder_schema_json(const etl_builder *b, etl_buf *out);
etl_status builder_schema_restore(etl_builder *b, const char *json, size_t len);

#endif
