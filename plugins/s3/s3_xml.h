/* Just enough XML for S3's responses: the text of a named element, entity
 * decoding, ListObjectsV2 pages, upload ids, ListMultipartUploads, and <Error> bodies. S3's XML is
 * flat and machine-written; this reads it without a DOM and never reads
 * past the given length. */
#ifndef ETL_S3_XML_H
#define ETL_S3_XML_H

#include "s3_internal.h"

/* The content of the first <tag>...</tag> (attributes allowed, <tag/> is
 * empty) within [p, end): its start, and its end in *content_end; NULL when
 * absent. Nested elements come back raw. */
const char *s3_xml_find(const char *p, const char *end, const char *tag, const char **content_end);

/* Appends [p, end) to out with the five named entities and &#N; / &#xN;
 * decoded (NUL-terminated). False on a malformed entity or no memory. */
bool s3_xml_text(const char *p, const char *end, etl_buf *out);

/* The decoded text of the first <tag> into out (reset first). */
bool s3_xml_field(const char *xml, size_t len, const char *tag, etl_buf *out);

/* A body whose root is <Error>: its Code and Message (either may be empty). */
bool s3_xml_error(const char *xml, size_t len, etl_buf *code, etl_buf *message);

typedef struct s3_list_entry {
    const char *key;
    int64_t size;
    int64_t last_modified_ms;   /* -1 when absent or unreadable */
    const char *etag;           /* as sent, quotes included */
} s3_list_entry;

typedef etl_status (*s3_list_entry_fn)(void *user, const s3_list_entry *entry);

/* One ListObjectsV2 page: calls fn for each <Contents>, sets *truncated and
 * next_token (reset; empty when absent). ETL_ERR_PERMANENT when the body is
 * not a ListBucketResult (the caller sets the error). */
etl_status s3_list_parse(const char *xml, size_t len, s3_list_entry_fn fn, void *user,
                         bool *truncated, etl_buf *next_token);

typedef etl_status (*s3_upload_entry_fn)(void *user, const char *key, const char *upload_id);

/* A ListMultipartUploads answer: calls fn for each <Upload> with its Key and
 * UploadId (decoded). ETL_ERR_PERMANENT when the body is not a
 * ListMultipartUploadsResult or an <Upload> lacks either. */
etl_status s3_uploads_parse(const char *xml, size_t len, s3_upload_entry_fn fn, void *user);

/* "2024-12-15T10:20:30.123Z" (fraction optional) -> ms since the epoch, or
 * -1 if it is not such a time. */
int64_t s3_parse_time_ms(const char *text, size_t len);
/* ms since the epoch -> "2024-12-15T10:20:30.123Z" (25 bytes; out holds 96 to be safe). */
void s3_format_time_ms(int64_t ms, char out[96]);

#endif
