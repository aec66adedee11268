/* Hive partition paths (s3_partition.h). */
#include "s3_partition.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

bool s3_hive_escape(etl_buf *out, const char *text, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    static const char special[] = "\"#%'*/:=?\\{[]^";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        bool escape = c < 0x20 || c == 0x7F || (c != 0 && strchr(special, c) != NULL);
        char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
        if (s3_host->buf_append(out, escape ? enc : &text[i], escape ? 3 : 1) != ETL_OK)
            return false;
    }
    return true;
}

/* The shortest %.*g that reads back as the same double. */
static bool append_double(etl_buf *out, double v)
{
    char text[40];
    for (int precision = 15; precision <= 17; precision++) {
        snprintf(text, sizeof text, "%.*g", precision, v);
        if (strtod(text, NULL) == v)
            break;
    }
    return s3_host->buf_printf(out, "%s", text) == ETL_OK;
}

static bool append_date(etl_buf *out, int64_t days)
{
    time_t secs = (time_t)(days * 86400);
    struct tm tm;
    gmtime_r(&secs, &tm);
    return s3_host->buf_printf(out, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                               tm.tm_mday) == ETL_OK;
}

static bool append_timestamp(etl_buf *out, int64_t us)
{
    int64_t secs = us >= 0 ? us / 1000000 : (us - 999999) / 1000000;
    int64_t frac = us - secs * 1000000;
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    if (s3_host->buf_printf(out, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900,
                            tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                            tm.tm_sec) != ETL_OK)
        return false;
    return frac == 0 || s3_host->buf_printf(out, ".%06lld", (long long)frac) == ETL_OK;
}

bool s3_partition_value(const struct ArrowSchema *schema, const struct ArrowArray *array,
                        int64_t row, etl_buf *out, const char **why)
{
    const char *f = schema->format;
    if (strcmp(f, "n") == 0 || !etl_arrow_is_valid(array, row))
        return s3_host->buf_printf(out, S3_HIVE_DEFAULT_PARTITION) == ETL_OK;
    if (strcmp(f, "u") == 0) {
        size_t len;
        const char *s = etl_arrow_bytes(array, row, &len);
        if (len == 0)
            return s3_host->buf_printf(out, S3_HIVE_DEFAULT_PARTITION) == ETL_OK;
        return s3_host->buf_append(out, s, len) == ETL_OK;
    }
    if (strcmp(f, "l") == 0)
        return s3_host->buf_printf(out, "%lld", (long long)etl_arrow_int64(array, row)) == ETL_OK;
    if (strcmp(f, "i") == 0)
        return s3_host->buf_printf(out, "%d", (int)etl_arrow_int32(array, row)) == ETL_OK;
    if (strcmp(f, "b") == 0)
        return s3_host->buf_printf(out, "%s", etl_arrow_bool(array, row) ? "true" : "false") ==
               ETL_OK;
    if (strcmp(f, "g") == 0)
        return append_double(out, etl_arrow_double(array, row));
    if (strcmp(f, "f") == 0)
        return append_double(out, (double)etl_arrow_float(array, row));
    if (strcmp(f, "tdD") == 0)
        return append_date(out, etl_arrow_int32(array, row));
    if (strncmp(f, "tsu", 3) == 0)
        return append_timestamp(out, etl_arrow_int64(array, row));
    *why = "only strings, integers, booleans, floating point numbers, dates and timestamps can "
           "name a partition";
    return false;
}
