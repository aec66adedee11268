/* Formats reached through the host: a sink or source names a format and the
 * host finds it in whichever plugin provides it. */
#ifndef ETL_CORE_FORMAT_H
#define ETL_CORE_FORMAT_H

#include <etl/plugin.h>
#include "plugin_loader.h"

/* The registry formats are looked up in (set once plugins are loaded). */
void format_use_registry(const plugin_registry *reg);

etl_status format_writer_open(etl_ctx *ctx, const char *format, const etl_options *opts,
                              const etl_byte_sink *out, etl_format_writer **w);
etl_status format_write(etl_format_writer *w, const etl_batch *batch);
int64_t format_bytes_written(etl_format_writer *w);
etl_status format_finish(etl_format_writer *w);
void format_writer_close(etl_format_writer *w);
const char *format_extension(etl_format_writer *w);
etl_status format_reader_open(etl_ctx *ctx, const char *format, const etl_options *opts,
                              const etl_byte_source *in, etl_format_reader **r);
etl_status format_read(etl_format_reader *r, etl_builder *out, int64_t max_records,
                       int64_t max_bytes);
void format_reader_close(etl_format_reader *r);
etl_status format_skip(etl_format_reader *r, int64_t count, int64_t *skipped);

/* The format a file or object name implies, looking through a .gz, .zst
 * or .zstd suffix: "ndjson" (.ndjson .jsonl .json), "csv", "parquet", or
 * NULL. */
const char *format_from_name(const char *name);

#endif
