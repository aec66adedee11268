/* Growable byte buffers (etl_buf), from the host allocator. */
#ifndef ETL_CORE_BUF_H
#define ETL_CORE_BUF_H

#include <etl/plugin.h>

etl_status buf_reserve(etl_buf *buf, size_t extra);
etl_status buf_append(etl_buf *buf, const void *data, size_t len);
etl_status buf_append_str(etl_buf *buf, const char *s);
etl_status buf_append_char(etl_buf *buf, char c);
etl_status buf_printf(etl_buf *buf, const char *fmt, ...) ETL_PRINTF(2, 3);
etl_status buf_vprintf(etl_buf *buf, const char *fmt, va_list ap);
/* NUL-terminates without counting the NUL in len; returns data. */
const char *buf_cstr(etl_buf *buf);
void buf_reset(etl_buf *buf);
void buf_free(etl_buf *buf);

#endif
