/* The file sink: encodes batches with any format into a hidden temporary
 * file in the target directory; commit() finishes it, fsyncs it and renames
 * it to a name derived from (pipeline, partition, sequence), then fsyncs the
 * directory. Nothing that looks finished exists before the commit, and a
 * repeated commit overwrites the same names with the same data. */
#include "file_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define SINK_BUFFER_SIZE (256 * 1024)
/* Writeback of a growing part is started every this many bytes, so that
 * the fsync of the commit finds little left to write (it otherwise waits
 * for the whole part at once, at the end of the run). */
#define WRITEBACK_STEP (8 * 1024 * 1024)

typedef struct file_sink {
    etl_ctx *ctx;
    const etl_options *format_opts;  /* the `format` mapping (borrowed until close) */
    char *dir;
    char *prefix;
    char *extension;
    int64_t roll_size;
    /* the part being written */
    int fd;
    char *temp_path;
    etl_format_writer *writer;
    etl_byte_sink bytes;
    char *buffer;
    size_t buffered;
    int64_t file_bytes;
    int64_t on_disk;                 /* bytes of the part handed to write() */
    int64_t writeback_from;          /* where the next early writeback starts */
    /* finished parts waiting for the commit */
    char **parts;
    size_t nparts;
    int64_t rows_pending;            /* rows written since the last commit */
    uint64_t temp_counter;
    bool committed;
    uint64_t last_sequence;
    char *last_partition;
} file_sink;

static etl_status io_error(file_sink *s, const char *what, const char *path, int err)
{
    return file_host->set_error(s->ctx, ETL_ERR_IO, err, "%s %s: %s", what, path, strerror(err));
}

static etl_status nomem(file_sink *s)
{
    return file_host->set_error(s->ctx, ETL_ERR_NOMEM, 0, "file sink: out of memory");
}

/* ---- the byte sink under the format --------------------------------- */

/* Asks the kernel to start writing what is written so far, without waiting
 * (Linux); the commit's fsync still makes it durable. */
static void start_writeback(file_sink *s)
{
#if defined(SYNC_FILE_RANGE_WRITE)
    if (s->on_disk - s->writeback_from < WRITEBACK_STEP)
        return;
    sync_file_range(s->fd, s->writeback_from, s->on_disk - s->writeback_from,
                    SYNC_FILE_RANGE_WRITE);
    s->writeback_from = s->on_disk;
#else
    (void)s;
#endif
}

static etl_status write_all(file_sink *s, const char *data, size_t len)
{
    s->on_disk += (int64_t)len;
    while (len > 0) {
        ssize_t n = write(s->fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return io_error(s, "cannot write", s->temp_path, errno);
        data += n;
        len -= (size_t)n;
    }
    start_writeback(s);
    return ETL_OK;
}

static etl_status flush_buffer(file_sink *s)
{
    etl_status st = write_all(s, s->buffer, s->buffered);
    s->buffered = 0;
    return st;
}

static etl_status bytes_write(void *user, const void *data, size_t len)
{
    file_sink *s = user;
    s->file_bytes += (int64_t)len;
    if (s->buffered + len <= SINK_BUFFER_SIZE) {
        memcpy(s->buffer + s->buffered, data, len);
        s->buffered += len;
        return ETL_OK;
    }
    etl_status st = flush_buffer(s);
    return st == ETL_OK ? write_all(s, data, len) : st;
}

/* ---- directories ---------------------------------------------------- */

static etl_status make_dirs(file_sink *s, const char *path)
{
    char *copy = file_strdup(path);
    if (copy == NULL)
        return nomem(s);
    etl_status st = ETL_OK;
    for (char *p = copy + 1; st == ETL_OK; p++) {
        bool last = *p == '\0';
        if (*p != '/' && !last)
            continue;
        *p = '\0';
        if (mkdir(copy, 0777) != 0 && errno != EEXIST)
            st = io_error(s, "cannot create directory", copy, errno);
        if (last)
            break;
        *p = '/';
    }
    file_host->free(copy);
    struct stat info;
    if (st == ETL_OK && (stat(path, &info) != 0 || !S_ISDIR(info.st_mode)))
        st = file_host->set_error(s->ctx, ETL_ERR_IO, ENOTDIR,
                                  "the file sink's path %s is not a directory (it names the "
                                  "folder the files go to)", path);
    return st;
}

static etl_status sync_dir(file_sink *s)
{
    int fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return io_error(s, "cannot open directory", s->dir, errno);
    int rc = fsync(fd);
    int err = errno;
    close(fd);
    /* Some file systems cannot fsync a directory; the renames still happened. */
    return rc == 0 || err == EINVAL ? ETL_OK : io_error(s, "cannot fsync directory", s->dir, err);
}

/* Temporary files of earlier runs that died (their pid is gone). */
static void remove_stale_temps(file_sink *s)
{
    DIR *d = opendir(s->dir);
    if (d == NULL)
        return;
    size_t plen = strlen(s->prefix);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *tag = strstr(e->d_name, ".tmp-");
        if (e->d_name[0] != '.' || strncmp(e->d_name + 1, s->prefix, plen) != 0 ||
            e->d_name[1 + plen] != '-' || tag == NULL)
            continue;
        long pid = strtol(tag + 5, NULL, 10);
        if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", s->dir, e->d_name);
        if (unlink(path) == 0)
            file_host->log(s->ctx, ETL_LOG_INFO, "removed %s, left by a run that stopped", path);
    }
    closedir(d);
}

/* ---- open ------------------------------------------------------------ */

static void sink_close(void *state);

/* Opens (and closes) a writer onto nothing, so that an unknown format or a
 * bad format option fails at open, before any data is read. */
static etl_status check_format(file_sink *s)
{
    etl_format_writer *w = NULL;
    s->fd = -1;
    etl_status st = file_host->format_writer_open(s->ctx, s->format_opts ? NULL : "ndjson",
                                                  s->format_opts, &s->bytes, &w);
    if (st != ETL_OK)
        return st;
    s->extension = file_strdup(file_host->format_extension(w));
    file_host->format_writer_close(w);
    return s->extension != NULL ? ETL_OK : nomem(s);
}

/* Names come from the pipeline, which may contain characters that do not
 * belong in a file name. */
static void sanitize_name(char *name)
{
    for (char *p = name; *p != '\0'; p++)
        if (*p == '/' || *p == '\\')
            *p = '_';
}

static etl_status read_options(file_sink *s, const etl_options *opts)
{
    const char *dir = file_host->opt_string(opts, "path");
    if (dir == NULL || *dir == '\0')
        return file_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                    "%s: the file sink needs a path (the output directory)",
                                    file_host->opt_where(opts, "path"));
    const char *prefix = file_host->opt_string(opts, "file_prefix");
    if (prefix == NULL || *prefix == '\0')
        prefix = file_host->pipeline_name(s->ctx);
    s->dir = file_strdup(dir);
    s->prefix = file_strdup(prefix != NULL ? prefix : "etl");
    s->buffer = file_host->alloc(SINK_BUFFER_SIZE);
    if (s->dir == NULL || s->prefix == NULL || s->buffer == NULL)
        return nomem(s);
    sanitize_name(s->prefix);
    s->roll_size = 256LL * 1024 * 1024;
    file_host->opt_size(opts, "roll_size", &s->roll_size);
    s->format_opts = file_host->opt_map(opts, "format");
    s->bytes = (etl_byte_sink){.struct_size = sizeof s->bytes, .user = s, .name = s->dir,
                               .write = bytes_write};
    etl_status st = check_format(s);
    if (st == ETL_OK)
        st = make_dirs(s, s->dir);
    if (st == ETL_OK)
        remove_stale_temps(s);
    return st;
}

static etl_status sink_open(etl_ctx *ctx, const etl_options *opts, void **state)
{
    file_sink *s = file_host->alloc(sizeof *s);
    if (s == NULL)
        return file_host->set_error(ctx, ETL_ERR_NOMEM, 0, "file sink: out of memory");
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    s->fd = -1;
    etl_status st = read_options(s, opts);
    if (st != ETL_OK) {
        sink_close(s);
        return st;
    }
    *state = s;
    return ETL_OK;
}

/* ---- parts ----------------------------------------------------------- */

static etl_status start_part(file_sink *s)
{
    etl_buf path = {0};
    etl_status st = file_host->buf_printf(&path, "%s/.%s-%llu.tmp-%ld", s->dir, s->prefix,
                                          (unsigned long long)++s->temp_counter, (long)getpid());
    if (st != ETL_OK)
        return st;
    s->temp_path = path.data;
    s->fd = open(s->temp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (s->fd < 0)
        return io_error(s, "cannot create", s->temp_path, errno);
    s->buffered = 0;
    s->file_bytes = s->on_disk = s->writeback_from = 0;
    s->bytes.name = s->temp_path;
    return file_host->format_writer_open(s->ctx, s->format_opts ? NULL : "ndjson", s->format_opts,
                                         &s->bytes, &s->writer);
}

/* Writes the format's trailer and makes the part durable; it waits in
 * `parts` for the commit that names it. */
static etl_status finish_part(file_sink *s)
{
    etl_status st = file_host->format_finish(s->writer);
    if (st == ETL_OK)
        st = flush_buffer(s);
    if (st == ETL_OK && fsync(s->fd) != 0)
        st = io_error(s, "cannot fsync", s->temp_path, errno);
    if (st != ETL_OK)
        return st;
    file_host->format_writer_close(s->writer);
    s->writer = NULL;
    int rc = close(s->fd);
    s->fd = -1;
    if (rc != 0)
        return io_error(s, "cannot close", s->temp_path, errno);
    char **parts = file_host->realloc(s->parts, (s->nparts + 1) * sizeof *parts);
    if (parts == NULL)
        return nomem(s);
    s->parts = parts;
    s->parts[s->nparts++] = s->temp_path;
    s->temp_path = NULL;
    return ETL_OK;
}

static int64_t part_bytes(file_sink *s)
{
    int64_t reported = file_host->format_bytes_written(s->writer);
    return reported > s->file_bytes ? reported : s->file_bytes;
}

static etl_status sink_write(void *state, const etl_batch *batch, etl_outcome *outcomes)
{
    file_sink *s = state;
    if (batch->num_rows == 0)
        return ETL_OK;
    etl_status st = s->writer == NULL ? start_part(s) : ETL_OK;
    if (st == ETL_OK)
        st = file_host->format_write(s->writer, batch);
    if (st != ETL_OK)
        return st;
    s->rows_pending += batch->num_rows;
    for (int64_t i = 0; i < batch->num_rows; i++)
        outcomes[i] = ETL_OK;
    if (s->roll_size > 0 && part_bytes(s) >= s->roll_size)
        return finish_part(s);
    return ETL_OK;
}

/* ---- commit ---------------------------------------------------------- */

static etl_status publish_part(file_sink *s, size_t k, const etl_commit_info *info,
                               const char *partition)
{
    etl_buf name = {0};
    etl_status st = file_host->buf_printf(&name, "%s/%s-%s-%06llu", s->dir, s->prefix, partition,
                                          (unsigned long long)info->sequence);
    if (st == ETL_OK && s->nparts > 1)
        st = file_host->buf_printf(&name, "-%03zu", k);
    if (st == ETL_OK)
        st = file_host->buf_printf(&name, ".%s", s->extension);
    if (st == ETL_OK && rename(s->parts[k], name.data) != 0)
        st = io_error(s, "cannot rename into place", name.data, errno);
    if (st == ETL_OK)
        file_host->log(s->ctx, ETL_LOG_DEBUG, "wrote %s", name.data);
    file_host->buf_free(&name);
    return st;
}

static etl_status sink_commit(void *state, const etl_commit_info *info)
{
    file_sink *s = state;
    if (s->rows_pending == 0)
        return ETL_OK;   /* nothing new: a repeated commit, or one with no rows */
    const char *partition = info->partition != NULL ? info->partition : "0";
    if (s->committed && s->last_sequence == info->sequence &&
        strcmp(s->last_partition, partition) == 0)
        return file_host->set_error(s->ctx, ETL_ERR_PERMANENT, 0,
                                    "file sink: commit %llu of partition %s was already written; "
                                    "new rows under the same sequence would overwrite it",
                                    (unsigned long long)info->sequence, partition);
    etl_status st = s->writer != NULL ? finish_part(s) : ETL_OK;
    char *safe_partition = file_strdup(partition);
    if (safe_partition == NULL)
        return nomem(s);
    sanitize_name(safe_partition);
    for (size_t k = 0; k < s->nparts && st == ETL_OK; k++)
        st = publish_part(s, k, info, safe_partition);
    if (st == ETL_OK)
        st = sync_dir(s);
    if (st != ETL_OK) {
        file_host->free(safe_partition);
        return st;
    }
    for (size_t k = 0; k < s->nparts; k++)
        file_host->free(s->parts[k]);
    s->nparts = 0;
    s->rows_pending = 0;
    s->committed = true;
    s->last_sequence = info->sequence;
    file_host->free(s->last_partition);
    s->last_partition = safe_partition;
    return ETL_OK;
}

/* Drops everything written since the last commit. */
static void sink_abort(void *state)
{
    file_sink *s = state;
    if (s->writer != NULL)
        file_host->format_writer_close(s->writer);
    s->writer = NULL;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    if (s->temp_path != NULL)
        unlink(s->temp_path);
    file_host->free(s->temp_path);
    s->temp_path = NULL;
    for (size_t k = 0; k < s->nparts; k++) {
        unlink(s->parts[k]);
        file_host->free(s->parts[k]);
    }
    s->nparts = 0;
    s->rows_pending = 0;
}

static void sink_close(void *state)
{
    file_sink *s = state;
    if (s == NULL)
        return;
    sink_abort(s);
    file_host->free(s->parts);
    file_host->free(s->dir);
    file_host->free(s->prefix);
    file_host->free(s->extension);
    file_host->free(s->buffer);
    file_host->free(s->last_partition);
    file_host->free(s);
}

static const etl_sink_vtable sink_vtable = {
    .struct_size = sizeof(etl_sink_vtable),
    .open = sink_open,
    .write = sink_write,
    .commit = sink_commit,
    .abort = sink_abort,
    .close = sink_close,
};

static const etl_option_spec sink_options[] = {
    {.key = "path", .type = ETL_OPT_STRING, .flags = ETL_OPT_REQUIRED,
     .doc = "directory the files are written to (created if missing), e.g. out/products"},
    {.key = "format", .type = ETL_OPT_ANY, .default_value = "ndjson",
     .doc = "a format name (ndjson, csv, parquet) or a mapping such as "
            "{type: parquet, compression: zstd}"},
    {.key = "file_prefix", .type = ETL_OPT_STRING,
     .doc = "start of each file name (<prefix>-<partition>-<seq>.<ext>); "
            "default: the pipeline name"},
    {.key = "roll_size", .type = ETL_OPT_SIZE, .default_value = "256MB",
     .doc = "start another file once one reaches this size (parts get -000, -001 ...)"},
    {.key = NULL},
};

const etl_connector file_sink_connector = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_SINK,
    .name = "file",
    .summary = "Writes files into a local directory, visible only once committed",
    .options = sink_options,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &sink_vtable,
};
