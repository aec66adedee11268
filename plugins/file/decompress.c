/* Input files as byte sources: plain, gzip (zlib inflate, concatenated
 * members) or zstd (streaming, several frames), chosen by the option, the
 * extension or the first bytes of the file. */
#include "file_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

struct file_input {
    etl_ctx *ctx;
    char *path;
    int fd;
    file_compression compression;
    unsigned char *raw;          /* compressed (or sniffed) bytes not yet used */
    size_t raw_pos, raw_len;
    bool raw_eof;
    bool stream_done;            /* the decoder saw the end of its last frame */
    size_t zstd_pending;         /* ZSTD_decompressStream's last hint: 0 at a frame end */
    z_stream zs;
    bool zs_ready;
    ZSTD_DStream *zstd;
};

bool file_compression_parse(const char *text, file_compression *out)
{
    static const char *const names[] = {"auto", "none", "gzip", "zstd"};
    for (int i = 0; i < 4; i++) {
        if (text != NULL && strcmp(text, names[i]) == 0) {
            *out = (file_compression)i;
            return true;
        }
    }
    return false;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

file_compression file_compression_from_name(const char *path)
{
    if (ends_with(path, ".gz"))
        return FILE_COMPRESSION_GZIP;
    if (ends_with(path, ".zst") || ends_with(path, ".zstd"))
        return FILE_COMPRESSION_ZSTD;
    return FILE_COMPRESSION_AUTO;
}

static etl_status io_error(file_input *in, const char *what, int err)
{
    return file_host->set_error(in->ctx, ETL_ERR_IO, err, "%s: %s: %s", in->path, what,
                                strerror(err));
}

/* Refills `raw` from the file when it is used up. */
static etl_status refill(file_input *in)
{
    if (in->raw_pos < in->raw_len || in->raw_eof)
        return ETL_OK;
    for (;;) {
        ssize_t n = read(in->fd, in->raw, FILE_CHUNK_SIZE);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return io_error(in, "read", errno);
        in->raw_pos = 0;
        in->raw_len = (size_t)n;
        in->raw_eof = n == 0;
        return ETL_OK;
    }
}

static int64_t read_plain(file_input *in, void *buf, size_t cap)
{
    if (refill(in) != ETL_OK)
        return -1;
    size_t n = in->raw_len - in->raw_pos;
    if (n > cap)
        n = cap;
    memcpy(buf, in->raw + in->raw_pos, n);
    in->raw_pos += n;
    return (int64_t)n;
}

static int64_t corrupt(file_input *in, const char *codec, const char *detail)
{
    file_host->set_error(in->ctx, ETL_ERR_IO, 0,
                         "%s: corrupt or truncated %s data (%s); check the file or set "
                         "compression: none", in->path, codec, detail);
    return -1;
}

static int64_t read_gzip(file_input *in, void *buf, size_t cap)
{
    in->zs.next_out = buf;
    in->zs.avail_out = (uInt)(cap > UINT32_MAX ? UINT32_MAX : cap);
    while (in->zs.avail_out > 0 && !in->stream_done) {
        if (refill(in) != ETL_OK)
            return -1;
        if (in->raw_pos == in->raw_len) {
            if (in->zs.avail_out < cap)
                break;
            return corrupt(in, "gzip", "unexpected end of file");
        }
        in->zs.next_in = in->raw + in->raw_pos;
        in->zs.avail_in = (uInt)(in->raw_len - in->raw_pos);
        int rc = inflate(&in->zs, Z_NO_FLUSH);
        in->raw_pos = in->raw_len - in->zs.avail_in;
        if (rc == Z_STREAM_END) {
            /* gzip allows several members back to back (cat a.gz b.gz). */
            if (refill(in) != ETL_OK)
                return -1;
            if (in->raw_pos == in->raw_len)
                in->stream_done = true;
            else
                inflateReset(&in->zs);
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return corrupt(in, "gzip", in->zs.msg != NULL ? in->zs.msg : "inflate failed");
        }
    }
    return (int64_t)(cap - in->zs.avail_out);
}

static int64_t read_zstd(file_input *in, void *buf, size_t cap)
{
    ZSTD_outBuffer out = {buf, cap, 0};
    while (out.pos < out.size) {
        if (refill(in) != ETL_OK)
            return -1;
        if (in->raw_pos == in->raw_len) {
            if (in->zstd_pending != 0 && out.pos == 0)
                return corrupt(in, "zstd", "unexpected end of file");
            break;
        }
        ZSTD_inBuffer src = {in->raw, in->raw_len, in->raw_pos};
        size_t rc = ZSTD_decompressStream(in->zstd, &out, &src);
        in->raw_pos = src.pos;
        if (ZSTD_isError(rc))
            return corrupt(in, "zstd", ZSTD_getErrorName(rc));
        in->zstd_pending = rc;
    }
    return (int64_t)out.pos;
}

static int64_t input_read(void *user, void *buf, size_t cap)
{
    file_input *in = user;
    if (cap == 0)
        return 0;
    switch (in->compression) {
    case FILE_COMPRESSION_GZIP:
        return read_gzip(in, buf, cap);
    case FILE_COMPRESSION_ZSTD:
        return read_zstd(in, buf, cap);
    default:
        return read_plain(in, buf, cap);
    }
}

/* AUTO: the extension decides; failing that, the magic bytes of the first
 * chunk (which stays in `raw` for the decoder). */
static file_compression sniff(file_input *in)
{
    file_compression by_name = file_compression_from_name(in->path);
    if (by_name != FILE_COMPRESSION_AUTO)
        return by_name;
    const unsigned char *p = in->raw + in->raw_pos;
    size_t n = in->raw_len - in->raw_pos;
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
        return FILE_COMPRESSION_GZIP;
    if (n >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
        return FILE_COMPRESSION_ZSTD;
    return FILE_COMPRESSION_NONE;
}

static etl_status start_decoder(file_input *in)
{
    if (in->compression == FILE_COMPRESSION_GZIP) {
        /* 15 + 32: a 32 KiB window, gzip or zlib header detected. */
        if (inflateInit2(&in->zs, 15 + 32) != Z_OK)
            return file_host->set_error(in->ctx, ETL_ERR_NOMEM, 0, "%s: cannot start gzip decoder",
                                        in->path);
        in->zs_ready = true;
    } else if (in->compression == FILE_COMPRESSION_ZSTD) {
        in->zstd = ZSTD_createDStream();
        if (in->zstd == NULL || ZSTD_isError(ZSTD_initDStream(in->zstd)))
            return file_host->set_error(in->ctx, ETL_ERR_NOMEM, 0, "%s: cannot start zstd decoder",
                                        in->path);
    }
    return ETL_OK;
}

etl_status file_input_open(etl_ctx *ctx, const char *path, file_compression compression,
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
    in->raw = file_host->alloc(FILE_CHUNK_SIZE);
    if (in->path == NULL || in->raw == NULL) {
        file_input_close(in);
        return file_host->set_error(ctx, ETL_ERR_NOMEM, 0, "out of memory opening %s", path);
    }
    in->fd = open(path, O_RDONLY | O_CLOEXEC);
    etl_status st = in->fd < 0 ? io_error(in, "cannot open", errno) : refill(in);
    if (st == ETL_OK) {
        in->compression = compression == FILE_COMPRESSION_AUTO ? sniff(in) : compression;
        st = start_decoder(in);
    }
    if (st != ETL_OK) {
        file_input_close(in);
        return st;
    }
    *source = (etl_byte_source){.struct_size = sizeof *source, .user = in, .name = in->path,
                                .read = input_read};
    *out = in;
    return ETL_OK;
}

void file_input_close(file_input *in)
{
    if (in == NULL)
        return;
    if (in->zs_ready)
        inflateEnd(&in->zs);
    ZSTD_freeDStream(in->zstd);
    if (in->fd >= 0)
        close(in->fd);
    file_host->free(in->raw);
    file_host->free(in->path);
    file_host->free(in);
}
