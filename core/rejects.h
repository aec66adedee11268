/* The rejects file: bad input records, each with where it came from and why,
 * as one JSON object per line. Written under a temporary name and renamed
 * when the run ends, like every output. */
#ifndef ETL_CORE_REJECTS_H
#define ETL_CORE_REJECTS_H

#include <pthread.h>
#include <stdio.h>
#include <etl/plugin.h>

typedef struct rejects {
    char *path;                  /* NULL: no rejects file, bad records fail the run */
    bool append;                 /* checkpointed runs append to the file itself */
    char *temp_path;
    FILE *file;
    int64_t count;
    pthread_mutex_t lock;        /* the reader thread and the sink both reject */
} rejects;

/* With `append` (checkpointed runs, which resume), records are appended to
 * the file itself and synced at each checkpoint: a crash between a reject
 * and the next checkpoint may repeat that reject (at-least-once). Without,
 * the file is written under a temporary name and renamed at the end. */
void rejects_init(rejects *r, const char *path, bool append);
/* Makes the rejects written so far durable. */
etl_status rejects_sync(rejects *r);
etl_status rejects_write(rejects *r, etl_ctx *ctx, const char *record, size_t len,
                         const char *where, const char *reason);
/* Renames the file into place (keep = true) or removes it. */
etl_status rejects_close(rejects *r, bool keep);

#endif
