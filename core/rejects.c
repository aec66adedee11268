#include "rejects.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "buf.h"
#include "context.h"
#include "strutil.h"

void rejects_init(rejects *r, const char *path, bool append)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    r->append = append;
    if (path && *path)
        r->path = xstrdup(path);
}

etl_status rejects_sync(rejects *r)
{
    if (r->file == NULL)
        return ETL_OK;
    if (fflush(r->file) != 0 || fsync(fileno(r->file)) != 0)
        return ctx_set_error(NULL, ETL_ERR_IO, errno, "cannot write rejects file %s: %s",
                             r->temp_path, strerror(errno));
    return ETL_OK;
}

static void append_json_text(etl_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    buf_append_char(out, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            buf_append(out, esc, 2);
        } else if (c < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_append(out, esc, 6);
        } else {
            buf_append_char(out, (char)c);
        }
    }
    buf_append_char(out, '"');
}

static etl_status write_locked(rejects *r, etl_ctx *ctx, const char *record, size_t len,
                               const char *where, const char *reason);

etl_status rejects_write(rejects *r, etl_ctx *ctx, const char *record, size_t len,
                         const char *where, const char *reason)
{
    if (r == NULL || r->path == NULL)
        return write_locked(r, ctx, record, len, where, reason);
    pthread_mutex_lock(&r->lock);
    etl_status st = write_locked(r, ctx, record, len, where, reason);
    pthread_mutex_unlock(&r->lock);
    return st;
}

static etl_status write_locked(rejects *r, etl_ctx *ctx, const char *record, size_t len,
                               const char *where, const char *reason)
{
    if (r == NULL || r->path == NULL)
        return ctx_set_error(ctx, ETL_ERR_DATA, 0, "%s: %s", where ? where : "input",
                             reason ? reason : "bad record");
    if (r->file == NULL) {
        etl_buf temp = {0};
        if (r->append)
            buf_append_str(&temp, r->path);
        else
            buf_printf(&temp, "%s.tmp-%ld", r->path, (long)getpid());
        r->temp_path = (char *)buf_cstr(&temp);
        r->file = fopen(r->temp_path, r->append ? "a" : "w");
        if (r->file == NULL)
            return ctx_set_error(ctx, ETL_ERR_IO, errno, "cannot write rejects file %s: %s",
                                 r->temp_path, strerror(errno));
    }
    etl_buf line = {0};
    buf_append_str(&line, "{\"where\":");
    append_json_text(&line, where ? where : "", where ? strlen(where) : 0);
    buf_append_str(&line, ",\"reason\":");
    append_json_text(&line, reason ? reason : "", reason ? strlen(reason) : 0);
    buf_append_str(&line, ",\"record\":");
    append_json_text(&line, record ? record : "", record ? len : 0);
    buf_append_str(&line, "}\n");
    size_t written = fwrite(line.data, 1, line.len, r->file);
    size_t want = line.len;
    buf_free(&line);
    if (written != want)
        return ctx_set_error(ctx, ETL_ERR_IO, errno, "cannot write rejects file %s: %s",
                             r->temp_path, strerror(errno));
    r->count++;
    return ETL_OK;
}

etl_status rejects_close(rejects *r, bool keep)
{
    etl_status st = ETL_OK;
    if (r->file) {
        bool failed = fflush(r->file) != 0 || fsync(fileno(r->file)) != 0;
        failed = (fclose(r->file) != 0) || failed;
        r->file = NULL;
        if (r->append) {
            /* Appended records stay: they belong to checkpoints already made
             * or to ones a resumed run will make. */
            if (failed)
                st = ctx_set_error(NULL, ETL_ERR_IO, errno, "cannot finish rejects file %s: %s",
                                   r->path, strerror(errno));
        } else if (keep && !failed && rename(r->temp_path, r->path) != 0) {
            failed = true;
        }
        if (!r->append && (failed || !keep)) {
            if (failed)
                st = ctx_set_error(NULL, ETL_ERR_IO, errno, "cannot finish rejects file %s: %s",
                                   r->path, strerror(errno));
            unlink(r->temp_path);
        }
    }
    free(r->temp_path);
    free(r->path);
    pthread_mutex_destroy(&r->lock);
    memset(r, 0, sizeof *r);
    return st;
}
