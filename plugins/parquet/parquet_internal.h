/* Shared by the parquet plugin's connector files. */
#ifndef PQ_PARQUET_INTERNAL_H
#define PQ_PARQUET_INTERNAL_H

#include <etl/plugin.h>
#include <stdarg.h>

extern const etl_host_api *pq_host;

/* Sets "parquet (NAME): MESSAGE" as the error of ctx and returns status:
 * the form of every error the writer and the reader raise. */
etl_status pq_set_errorv(etl_ctx *ctx, etl_status status, const char *name, const char *fmt,
                         va_list ap);

extern const etl_connector parquet_format_connector;

#endif
