/* Shared declarations of the S3 plugin (s3.so): the host table, the three
 * connectors, and small helpers its files share. Only <etl/plugin.h>. */
#ifndef ETL_S3_INTERNAL_H
#define ETL_S3_INTERNAL_H

#include <etl/plugin.h>

/* Set once by the entry point (ETL_PLUGIN_DEFINE in s3_plugin.c); the unit
 * test sets it to the host's table directly. */
extern const etl_host_api *s3_host;

extern const etl_connector s3_source_connector;
extern const etl_connector s3_sink_connector;
extern const etl_connector s3_state_store_connector;

/* A copy of `s` (or of its first n bytes) from the host allocator; NULL on
 * NULL or out of memory. */
char *s3_strdup(const char *s);
char *s3_strndup(const char *s, size_t n);

/* ---- s3_checksum.c ---------------------------------------------------- */

/* CRC32C (Castagnoli), continuing from `crc` (0 to start). Uses the SSE4.2
 * instruction (three interleaved streams) when the CPU has it, about
 * 0.03 s/GB; else slicing-by-8 tables. */
uint32_t s3_crc32c(uint32_t crc, const void *data, size_t len);
/* The same with the tables only, whatever the CPU (for tests). */
uint32_t s3_crc32c_portable(uint32_t crc, const void *data, size_t len);
/* The value of x-amz-checksum-crc32c: base64 of the big-endian CRC. */
void s3_crc32c_header(uint32_t crc, char out[9]);
/* Standard base64 with padding of n bytes; out holds 4*((n+2)/3)+1. */
void s3_base64(const unsigned char *in, size_t n, char *out);

#endif
