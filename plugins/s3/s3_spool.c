/* The sink's byte spool (s3_spool.h). */
#include "s3_spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define FILE_WRITE_CHUNK (1024 * 1024)

void s3_spool_init(s3_spool *sp, int64_t memory_limit)
{
    memset(sp, 0, sizeof *sp);
    sp->fd = -1;
    sp->memory_limit = memory_limit;
}

static etl_status io_error(etl_ctx *ctx, const char *what)
{
    int err = errno;
    return s3_host->set_error(ctx, ETL_ERR_IO, err, "S3 sink: cannot %s its temporary spool file: %s "
                              "(set TMPDIR to a folder with room, or raise buffer_memory)",
                              what, strerror(err));
}

/* An anonymous file in TMPDIR: unlinked at once, so a crash leaves nothing. */
static int open_temp(void)
{
    const char *dir = getenv("TMPDIR");
    if (dir == NULL || *dir == '\0')
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    char path[4096];
    snprintf(path, sizeof path, "%s/etl-s3-spool-XXXXXX", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

static etl_status flush_to_file(s3_spool *sp, etl_ctx *ctx)
{
    size_t done = 0;
    while (done < sp->mem.len) {
        ssize_t n = pwrite(sp->fd, sp->mem.data + done, sp->mem.len - done,
                           (off_t)(sp->file_len + (int64_t)done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return io_error(ctx, "write");
        done += (size_t)n;
    }
    sp->file_len += (int64_t)sp->mem.len;
    sp->mem.len = 0;
    return ETL_OK;
}

etl_status s3_spool_write(s3_spool *sp, etl_ctx *ctx, const void *data, size_t len)
{
    if (sp->fd < 0 && (int64_t)(sp->mem.len + len) > sp->memory_limit) {
        sp->fd = open_temp();
        if (sp->fd < 0)
            return io_error(ctx, "create");
    }
    etl_status st = s3_host->buf_append(&sp->mem, data, len);
    if (st != ETL_OK)
        return s3_host->set_error(ctx, ETL_ERR_NOMEM, 0, "S3 sink: out of memory");
    if (sp->fd >= 0 && sp->mem.len >= FILE_WRITE_CHUNK)
        return flush_to_file(sp, ctx);
    return ETL_OK;
}

int64_t s3_spool_size(const s3_spool *sp) { return sp->file_len + (int64_t)sp->mem.len; }

const char *s3_spool_view(s3_spool *sp, etl_ctx *ctx, int64_t off, size_t len)
{
    if (sp->fd < 0)
        return sp->mem.data + off;
    if (sp->mem.len > 0 && flush_to_file(sp, ctx) != ETL_OK)
        return NULL;
    if (sp->scratch.cap < len) {
        s3_host->buf_free(&sp->scratch);
        sp->scratch.data = s3_host->alloc(len);
        if (sp->scratch.data == NULL) {
            s3_host->set_error(ctx, ETL_ERR_NOMEM, 0, "S3 sink: out of memory");
            return NULL;
        }
        sp->scratch.cap = len;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(sp->fd, sp->scratch.data + done, len - done, (off_t)(off + (int64_t)done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            io_error(ctx, "read");
            return NULL;
        }
        done += (size_t)n;
    }
    return sp->scratch.data;
}

void s3_spool_free(s3_spool *sp)
{
    s3_host->buf_free(&sp->mem);
    s3_host->buf_free(&sp->scratch);
    if (sp->fd >= 0)
        close(sp->fd);
    sp->fd = -1;
    sp->file_len = 0;
}
