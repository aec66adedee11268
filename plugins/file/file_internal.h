/* Shared declarations of the file plugin (file.so): the host table, the four
 * connectors, and the small helpers its files share. Only <etl/plugin.h>. */
#ifndef ETL_FILE_INTERNAL_H
#define ETL_FILE_INTERNAL_H

#include <etl/plugin.h>

/* Set once by the entry point (ETL_PLUGIN_DEFINE in file_plugin.c). */
extern const etl_host_api *file_host;

extern const etl_connector file_source_connector;
extern const etl_connector file_sink_connector;
extern const etl_connector ndjson_format_connector;
extern const etl_connector csv_format_connector;

/* Bytes asked of a byte source per read(). */
#define FILE_CHUNK_SIZE (64 * 1024)

/* A copy of `s` from the host allocator (NULL on NULL or out of memory). */
char *file_strdup(const char *s);

/* ---- file_input.c ----------------------------------------------------- */

typedef struct file_input file_input;

/* Opens `path` for reading, decompressing as `compression` says ("auto",
 * or NULL: the extension, then the magic bytes; "none", "gzip", "zstd"). Fills `source` with a byte source
 * that stays valid until file_input_close(). Errors are ETL_ERR_IO with the
 * path and strerror, recorded on ctx. */
etl_status file_input_open(etl_ctx *ctx, const char *path, const char *compression,
                           file_input **in, etl_byte_source *source);
void file_input_close(file_input *in);

#endif
