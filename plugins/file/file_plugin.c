/* file.so: the embedded default connectors. Local files as a source and a
 * sink, and the ndjson and csv formats any source or sink can use. */
#include "file_internal.h"

const etl_host_api *file_host;

char *file_strdup(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t len = strlen(s) + 1;
    char *copy = file_host->alloc(len);
    if (copy != NULL)
        memcpy(copy, s, len);
    return copy;
}

static const etl_connector *const file_connectors[] = {
    &file_source_connector,
    &file_sink_connector,
    &ndjson_format_connector,
    &csv_format_connector,
    NULL,
};

static const etl_plugin_descriptor file_descriptor = {
    .struct_size = sizeof(etl_plugin_descriptor),
    .abi_major = ETL_ABI_MAJOR,
    .abi_minor = ETL_ABI_MINOR,
    .min_host_minor = 2, /* decompress_open, json_write_rows (1.1: json_find, json_quote) */
    .name = "file",
    .version = "1.0.0",
    .summary = "Local files (plain, gzip, zstd; globs) as source and sink; ndjson and csv formats",
    .connectors = file_connectors,
};

ETL_PLUGIN_DEFINE(file, file_descriptor, file_host)
