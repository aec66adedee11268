/* The parquet format's record reader: a Parquet file in, records out
 * through the host builder (the reader half of etl_format_vtable).
 *
 * Parquet keeps its metadata in a footer at the end of the file, so
 * reader_open reads the whole input into memory first (files over 4 GiB
 * are refused), then the footer; read() decodes one row group at a time,
 * one page per leaf column at a time, and rebuilds the records (structs,
 * lists, nulls at every level) from the definition and repetition levels.
 *
 * Supported: BOOLEAN, INT32, INT64, INT96 (timestamps), FLOAT, DOUBLE,
 * BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY with the STRING / ENUM / JSON / UUID /
 * DATE / TIMESTAMP (ms, us, ns) / DECIMAL / INTEGER annotations; groups as
 * structs; LIST in the three-level form, the legacy two-level forms and
 * bare repeated fields; PLAIN, PLAIN_DICTIONARY / RLE_DICTIONARY and RLE
 * (booleans) values; RLE levels; data pages v1 and v2; UNCOMPRESSED,
 * SNAPPY and ZSTD. Anything else is ETL_ERR_UNSUPPORTED naming the column
 * and the feature; malformed input is ETL_ERR_DATA naming the file. */
#ifndef PQ_RECORD_READER_H
#define PQ_RECORD_READER_H

#include <etl/plugin.h>

etl_status pq_reader_open(etl_ctx *ctx, const etl_options *opts, const etl_byte_source *in,
                          void **state);
etl_status pq_reader_read(void *state, etl_builder *out, int64_t max_records, int64_t max_bytes);
void pq_reader_close(void *state);

#endif
