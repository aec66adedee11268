/* parquet.so: the parquet format (writer, and footer/schema reader). */
#include "parquet_internal.h"

const etl_host_api *pq_host;

static const etl_connector *const parquet_connectors[] = {&parquet_format_connector, NULL};

static const etl_plugin_descriptor parquet_descriptor = {
    .struct_size = sizeof(etl_plugin_descriptor),
    .abi_major = ETL_ABI_MAJOR,
    .abi_minor = ETL_ABI_MINOR,
    .min_host_minor = 0,
    .name = "parquet",
    .version = PACKAGE_VERSION,
    .summary = "Apache Parquet format: a writer from columnar batches, and a footer reader",
    .connectors = parquet_connectors,
};

ETL_PLUGIN_DEFINE(parquet, parquet_descriptor, pq_host)
