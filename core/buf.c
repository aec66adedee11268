#include "buf.h"

#include <stdio.h>
#include <stdlib.h>

etl_status buf_reserve(etl_buf *buf, size_t extra)
{
    if (buf->cap - buf->len > extra)
        return ETL_OK;
    size_t want = buf->len + extra + 1;
    size_t cap = buf->cap ? buf->cap : 64;
    while (cap < want)
        cap *= 2;
    char *data = realloc(buf->data, cap);
    if (data == NULL)
        return ETL_ERR_NOMEM;
    buf->data = data;
    buf->cap = cap;
    return ETL_OK;
}

etl_status buf_append(etl_buf *buf, const void *data, size_t len)
{
    if (buf_reserve(buf, len) != ETL_OK)
        return ETL_ERR_NOMEM;
    if (len)
        memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return ETL_OK;
}

etl_status buf_append_str(etl_buf *buf, const char *s)
{
    return buf_append(buf, s, strlen(s));
}

etl_status buf_append_char(etl_buf *buf, char c)
{
    return buf_append(buf, &c, 1);
}

etl_status buf_vprintf(etl_buf *buf, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int needed = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (needed < 0)
        return ETL_ERR_PERMANENT;
    if (buf_reserve(buf, (size_t)needed) != ETL_OK)
        return ETL_ERR_NOMEM;
    vsnprintf(buf->data + buf->len, (size_t)needed + 1, fmt, ap);
    buf->len += (size_t)needed;
    return ETL_OK;
}

etl_status buf_printf(etl_buf *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    etl_status st = buf_vprintf(buf, fmt, ap);
    va_end(ap);
    return st;
}

const char *buf_cstr(etl_buf *buf)
{
    if (buf->data == NULL && buf_reserve(buf, 0) != ETL_OK)
        return "";
    buf->data[buf->len] = '\0';
    return buf->data;
}

void buf_reset(etl_buf *buf)
{
    buf->len = 0;
    if (buf->data)
        buf->data[0] = '\0';
}

void buf_free(etl_buf *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}
