/* s3.so: Amazon S3 and S3-compatible stores (MinIO, Ceph, R2, moto,
 * s3rver) as a source, a sink and a state store. */
#include "s3_internal.h"

static const etl_connector *const s3_connectors[] = {
    &s3_source_connector,
    &s3_sink_connector,
    &s3_state_store_connector,
    NULL,
};

static const etl_plugin_descriptor s3_descriptor = {
    .struct_size = sizeof(etl_plugin_descriptor),
    .abi_major = ETL_ABI_MAJOR,
    .abi_minor = ETL_ABI_MINOR,
    .min_host_minor = 2,   /* decompress_open, format_from_name */
    .name = "s3",
    .version = "1.0.0",
    .summary = "Amazon S3 and compatible stores: objects as source and sink, and a state store "
               "with conditional writes",
    .connectors = s3_connectors,
};

ETL_PLUGIN_DEFINE(s3, s3_descriptor, s3_host)
