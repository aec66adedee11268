/* Hive-style partition paths ("dt=2024-12-15/country=FR/") from the values
 * of a row's partition columns. */
#ifndef ETL_S3_PARTITION_H
#define ETL_S3_PARTITION_H

#include "s3_internal.h"

/* Hive's name for a null or empty partition value. */
#define S3_HIVE_DEFAULT_PARTITION "__HIVE_DEFAULT_PARTITION__"

/* Appends text escaped as Hive escapes path names: control characters and
 * "#%'*\/:=?\\{[]^ and DEL become %XX (uppercase hex). */
bool s3_hive_escape(etl_buf *out, const char *text, size_t len);

/* Appends the text of value `row` of the column (schema, array) as Hive
 * writes it: strings as they are, integers, booleans, doubles (shortest
 * exact form), dates YYYY-MM-DD, timestamps "YYYY-MM-DD HH:MM:SS[.ffffff]";
 * null as S3_HIVE_DEFAULT_PARTITION. Not escaped. False with *why for a
 * type that cannot name a partition (struct, list, binary, decimal). */
bool s3_partition_value(const struct ArrowSchema *schema, const struct ArrowArray *array,
                        int64_t row, etl_buf *out, const char **why);

#endif
