/* Where a sink keeps an object's bytes between write() and commit(): in
 * memory up to a limit, then in an unlinked temporary file (nothing is left
 * behind by a crash). The key of an object is known only at commit (it
 * derives from the commit's sequence), so the upload happens then. */
#ifndef ETL_S3_SPOOL_H
#define ETL_S3_SPOOL_H

#include "s3_internal.h"

typedef struct s3_spool {
    etl_buf mem;                /* all bytes, or the tail not yet in the file */
    int fd;                     /* -1 while everything is in memory */
    int64_t file_len;
    int64_t memory_limit;
    etl_buf scratch;            /* for reads from the file */
} s3_spool;

void s3_spool_init(s3_spool *sp, int64_t memory_limit);
etl_status s3_spool_write(s3_spool *sp, etl_ctx *ctx, const void *data, size_t len);
int64_t s3_spool_size(const s3_spool *sp);
/* Bytes [off, off+len): a pointer valid until the next call. NULL after
 * set_error on a read failure. */
const char *s3_spool_view(s3_spool *sp, etl_ctx *ctx, int64_t off, size_t len);
void s3_spool_free(s3_spool *sp);

#endif
