/* Input files as byte sources: the file's bytes, decompressed by the
 * host's decompress_open (gzip, zstd, chosen by the option, the extension
 * or the first bytes of the file). */
#include "file_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

struct file_input {
    etl_ctx *ctx;
    char *path;
    int fd;
    etl_byte_source raw;         /* the file's bytes as they are */
    etl_decompressor *decompressor;
};

static etl_status io_error(file_input *in, const char *what, int err)
{
    return file_host->set_error(in->ctx, ETL_ERR_IO, err, "%s: %s: %s", in->path, what,
                                strerror(err));
}

static int64_t read_file(void *user, void *buf, size_t cap)
{
    file_input *in = user;
    for (;;) {
        ssize_t n = read(in->fd, buf, cap);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            io_error(in, "read", errno);
            return -1;
        }
        return n;
    }
}

etl_status file_input_open(etl_ctx *ctx, const char *path, const char *compression,
                           file_input **out, etl_byte_source *source)
{
    *out = NULL;
    file_input *in = file_host->alloc(sizeof *in);
    if (in == NULL)
        return file_host->set_error(ctx, ETL_ERR_NOMEM, 0, "out of memory opening %s", path);
    memset(in, 0, sizeof *in);
    in->ctx = ctx;
    in->fd = -1;
    in->path = file_strdup(path);
    if (in->path == NULL) {
        file_input_close(in);
        return file_host->set_error(ctx, ETL_ERR_NOMEM, 0, "out of memory opening %s", path);
    }
    in->fd = open(path, O_RDONLY | O_CLOEXEC);
    etl_status st = in->fd < 0 ? io_error(in, "cannot open", errno) : ETL_OK;
    if (st == ETL_OK) {
        in->raw = (etl_byte_source){.struct_size = sizeof in->raw, .user = in, .name = in->path,
                                    .read = read_file};
        st = file_host->decompress_open(ctx, &in->raw, compression, source,
                                        &in->decompressor);
    }
    if (st != ETL_OK) {
        file_input_close(in);
        return st;
    }
    *out = in;
    return ETL_OK;
}

void file_input_close(file_input *in)
{
    if (in == NULL)
        return;
    if (in->decompressor)
        file_host->decompress_close(in->decompressor);
    if (in->fd >= 0)
        close(in->fd);
    file_host->free(in->path);
    file_host->free(in);
}
