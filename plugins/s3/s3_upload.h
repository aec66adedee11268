/* Uploading one object from a spool: a single PUT up to part_size, else a
 * multipart upload (CreateMultipartUpload, UploadPart of part_size bytes,
 * CompleteMultipartUpload whose body is checked for an <Error> even on
 * 200). The state survives a failed call, so calling s3_upload_run again
 * (the runner retries a commit) continues where it stopped. */
#ifndef ETL_S3_UPLOAD_H
#define ETL_S3_UPLOAD_H

#include "s3_client.h"
#include "s3_spool.h"

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
    int parts_done;
    int parts_total;
    char **etags;
    char (*crcs)[12];
    bool complete_sent;
    bool done;
} s3_upload;

/* Uploads the spool's bytes to u->key (set by the caller). */
etl_status s3_upload_run(s3_client *c, s3_upload *u, s3_spool *sp, const s3_upload_options *o);
/* Aborts an open multipart upload (best effort, logged). */
void s3_upload_abort(s3_client *c, s3_upload *u);
void s3_upload_free(s3_upload *u);

/* "a/b?uploadId=X" style query for part N (sorted, encoded) into out. */
bool s3_part_query(const char *upload_id, int part, etl_buf *out);

#endif
