/* The bytes of one S3 object on their way up. The format writer's output
 * arrives here. Once the object is named (its key derives from the commit
 * that will publish it, which the host tells while writing: next_commit),
 * each full part goes up as soon as a byte beyond it arrives: from this
 * buffer, reused part after part, or straight from the writer's buffer
 * when it hands over more than a part at once. So an object holds at most
 * about one part in memory. At commit the rest goes up as the last part
 * and the upload is completed; an object smaller than a part goes as one
 * PUT. Nothing is visible before that: S3 shows a multipart object only
 * once it is completed.
 *
 * A part that fails while the writer is writing (ETL_ERR_RETRY after the
 * host's retries) is kept and sent again by s3_spool_flush: the writer's
 * call must not fail half-way, since the runner would write the whole
 * batch again. Other failures end the run (close aborts the upload). */
#ifndef ETL_S3_SPOOL_H
#define ETL_S3_SPOOL_H

#include "s3_upload.h"

typedef struct s3_spool {
    s3_client *client;
    const s3_upload_options *opts;
    s3_upload upload;           /* key (NULL until named), upload id, parts */
    char *data;                 /* bytes not uploaded yet: [start, len) */
    size_t start, len, cap;
    uint32_t crc;               /* CRC32C of [start, len) when crc_valid */
    bool crc_valid;
    int64_t size;               /* bytes received */
    bool streaming;             /* named: full parts go up */
    bool stalled;               /* a part failed: held until s3_spool_flush */
} s3_spool;

void s3_spool_init(s3_spool *sp, s3_client *c, const s3_upload_options *o);
/* Starts streaming to `key` (taken over; freed by the spool). */
void s3_spool_name(s3_spool *sp, char *key);
/* Takes bytes from the format writer (an etl_byte_sink's write). */
etl_status s3_spool_write(s3_spool *sp, const void *data, size_t len);
/* Sends the full parts a failure held back; safe to call again after an
 * error. */
etl_status s3_spool_flush(s3_spool *sp);
/* At commit, once the writer has finished: the object goes up under `key`,
 * complete and visible. A retried call continues where it stopped. When
 * parts already went up under another name (the commit is not the one the
 * host announced), the upload is aborted and the call fails
 * (ETL_ERR_PERMANENT). */
etl_status s3_spool_publish(s3_spool *sp, const char *key);
/* Aborts a started multipart upload (nothing becomes visible). */
void s3_spool_abort(s3_spool *sp);
void s3_spool_free(s3_spool *sp);

#endif
