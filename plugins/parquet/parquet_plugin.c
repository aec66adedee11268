/* parquet.so: the parquet format (writer, record reader, footer/schema reader). */
#include "parquet_internal.h"

#include <stdio.h>

const etl_host_api *pq_host;

etl_status pq_set_errorv(etl_ctx *ctx, etl_status status, const char *name, const char *fmt,
                         va_list ap)
{
    char message[1024];
    vsnprintf(message, sizeof message, fmt, ap);
    return pq_host->set_error(ctx, status, 0, "parquet (%s): %s", name, message);
}

static const etl_connector *const parquet_connectors[] = {&parquet_format_connector, NULL};

static const etl_plugin_descriptor parquet_descriptor = {
    .struct_size = sizeof(etl_plugin_descriptor),
    .abi_major = ETL_ABI_MAJOR,
    .abi_minor = ETL_ABI_MINOR,
    .min_host_minor = 2,   /* builder_declare_type (list items) */
    .name = "parquet",
    .version = PACKAGE_VERSION,
    .summary = "Apache Parquet format: a writer from columnar batches, a record reader, and a "
               "footer reader",
    .connectors = parquet_connectors,
};

ETL_PLUGIN_DEFINE(parquet, parquet_descriptor, pq_host)
