/* Shared by the parquet plugin's connector files. */
#ifndef PQ_PARQUET_INTERNAL_H
#define PQ_PARQUET_INTERNAL_H

#include <etl/plugin.h>

extern const etl_host_api *pq_host;

extern const etl_connector parquet_format_connector;

#endif
