/* The S3 calls that put one object: a single PUT, or a multipart upload
 * (CreateMultipartUpload, UploadPart, CompleteMultipartUpload whose body is
 * checked for an <Error> even on 200, AbortMultipartUpload). The upload's
 * state survives a failed call, so a retried call continues where it
 * stopped. The caller (s3_spool.c) decides what goes into which part. */
#ifndef ETL_S3_UPLOAD_H
#define ETL_S3_UPLOAD_H

#include "s3_client.h"

#define S3_MIN_PART_SIZE (5LL * 1024 * 1024)
#define S3_MAX_PART_SIZE (5LL * 1024 * 1024 * 1024)
#define S3_MAX_PARTS 10000

typedef struct s3_upload_options {
    int64_t part_size;
    bool crc32c;                /* x-amz-checksum-crc32c on every PUT and part */
    const char *content_type;
} s3_upload_options;

typedef struct s3_upload {
    char *key;
    char *upload_id;            /* NULL: no multipart upload open */
    int parts_done;             /* parts 1..parts_done are uploaded */
    int parts_cap;
    char **etags;
    char (*crcs)[12];
    bool complete_sent;
    bool done;                  /* visible: PUT or Complete succeeded */
} s3_upload;

/* One PUT of the whole object. `crc` is the body's CRC32C when known (NULL:
 * computed here). */
etl_status s3_upload_put(s3_client *c, s3_upload *u, const s3_upload_options *o,
                         const char *body, size_t len, const uint32_t *crc);
/* The next part (number parts_done + 1), starting the multipart upload
 * first if none is open (after aborting stale ones left on the same key by
 * a crashed run). */
etl_status s3_upload_part(s3_client *c, s3_upload *u, const s3_upload_options *o,
                          const char *body, size_t len, const uint32_t *crc);
/* CompleteMultipartUpload of the parts uploaded: the object appears. */
etl_status s3_upload_complete(s3_client *c, s3_upload *u, const s3_upload_options *o);
/* Aborts an open multipart upload (best effort, logged). */
void s3_upload_abort(s3_client *c, s3_upload *u);
void s3_upload_free(s3_upload *u);

/* "partNumber=N&uploadId=X" (N 0: without it), encoded, into out. */
bool s3_part_query(const char *upload_id, int part, etl_buf *out);

#endif
