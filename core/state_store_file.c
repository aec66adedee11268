/* The host's built-in state store: one JSON file per key in a local
 * directory. Writes are atomic (temporary file, fsync, rename, fsync of the
 * directory), files are mode 0600, compare-and-swap runs under an flock so
 * it is atomic against other processes, and the lease is an flock on a
 * separate file, so it ends the moment its holder dies (even by SIGKILL).
 * Registered as the connector `file` of kind state store, in the built-in
 * plugin "etl". */
#include "state_store_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "context.h"
#include "options.h"
#include "strutil.h"

#define MAX_LEASES 8

typedef struct held_lease {
    char *key;
    char *owner;
    int fd;
} held_lease;

typedef struct file_store {
    etl_ctx *ctx;
    char *dir;
    held_lease leases[MAX_LEASES];
} file_store;

/* Keys are "pipeline/partition": anything but [A-Za-z0-9._-] becomes '~'. */
static void key_path(const file_store *s, const char *key, const char *suffix, etl_buf *out)
{
    buf_printf(out, "%s/", s->dir);
    for (const char *c = key; *c; c++) {
        bool plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                     (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-';
        buf_append_char(out, plain ? *c : '~');
    }
    buf_append_str(out, suffix);
}

static int mkdir_p(const char *path)
{
    char *copy = xstrdup(path);
    for (char *p = copy + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(copy, 0700) != 0 && errno != EEXIST) {
                free(copy);
                return -1;
            }
            *p = '/';
        }
    }
    int rc = mkdir(copy, 0700) != 0 && errno != EEXIST ? -1 : 0;
    free(copy);
    return rc;
}

static etl_status store_open(etl_ctx *ctx, const etl_options *opts, void **state)
{
    const char *dir = options_string(opts, "path");
    if (dir == NULL || *dir == '\0')
        dir = ".etl-state";
    if (mkdir_p(dir) != 0)
        return ctx_set_error(ctx, ETL_ERR_IO, errno, "cannot create state directory %s: %s", dir,
                             strerror(errno));
    file_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return ctx_set_error(ctx, ETL_ERR_NOMEM, 0, "out of memory");
    s->ctx = ctx;
    s->dir = xstrdup(dir);
    for (int i = 0; i < MAX_LEASES; i++)
        s->leases[i].fd = -1;
    *state = s;
    return ETL_OK;
}

/* FNV-1a of the content: the version of a value is what it holds, so no
 * counter must be kept beside it. */
static void content_version(const char *data, size_t len, etl_buf *out)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)data[i];
        h *= 1099511628211ULL;
    }
    buf_printf(out, "%016llx-%zu", (unsigned long long)h, len);
}

/* ETL_END when the file does not exist. */
static etl_status read_file(file_store *s, const char *path, etl_buf *value)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        if (errno == ENOENT)
            return ETL_END;
        return ctx_set_error(s->ctx, ETL_ERR_IO, errno, "cannot read state file %s: %s", path,
                             strerror(errno));
    }
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(value, chunk, n);
    bool failed = ferror(f);
    fclose(f);
    if (failed)
        return ctx_set_error(s->ctx, ETL_ERR_IO, errno, "cannot read state file %s", path);
    buf_cstr(value);
    return ETL_OK;
}

static etl_status store_get(void *state, const char *key, etl_buf *value, etl_buf *version)
{
    file_store *s = state;
    etl_buf path = {0};
    key_path(s, key, ".state.json", &path);
    size_t start = value->len;
    etl_status st = read_file(s, buf_cstr(&path), value);
    if (st == ETL_OK && version)
        content_version(value->data + start, value->len - start, version);
    buf_free(&path);
    return st;
}

static etl_status fsync_dir(file_store *s)
{
    int fd = open(s->dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return ctx_set_error(s->ctx, ETL_ERR_IO, errno, "cannot open %s: %s", s->dir,
                             strerror(errno));
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? ETL_OK
                   : ctx_set_error(s->ctx, ETL_ERR_IO, errno, "cannot sync %s: %s", s->dir,
                                   strerror(errno));
}

static etl_status write_atomically(file_store *s, const char *path, const char *value, size_t len)
{
    etl_buf temp = {0};
    buf_printf(&temp, "%s.tmp-%ld", path, (long)getpid());
    int fd = open(buf_cstr(&temp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    etl_status st = ETL_OK;
    if (fd < 0) {
        st = ctx_set_error(s->ctx, ETL_ERR_IO, errno, "cannot write %s: %s", buf_cstr(&temp),
                           strerror(errno));
        goto out;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, value + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            st = ctx_set_error(s->ctx, ETL_ERR_IO, errno, "cannot write %s: %s",
                               buf_cstr(&temp), strerror(errno));
            break;
        }
        done += (size_t)n;
    }
    if (st == ETL_OK && fsync(fd) != 0)
        st = ctx_set_error(s->ctx, ETL_ERR_IO, errno, "cannot sync %s: %s", buf_cstr(&temp),
                           strerror(errno));
    if (close(fd) != 0 && st == ETL_OK)
        st = ctx_set_error(s->ctx, ETL_ERR_IO, errno, "cannot write %s: %s", buf_cstr(&temp),
                           strerror(errno));
    if (st == ETL_OK && rename(buf_cstr(&temp), path) != 0)
        st = ctx_set_error(s->ctx, ETL_ERR_IO, errno, "cannot rename %s to %s: %s",
                           buf_cstr(&temp), path, strerror(errno));
    if (st != ETL_OK)
        unlink(buf_cstr(&temp));
    else
        st = fsync_dir(s);
out:
    buf_free(&temp);
    return st;
}

/* Serialises compare-and-swap across processes. */
static int lock_key(file_store *s, const char *key, etl_buf *path)
{
    key_path(s, key, ".cas", path);
    int fd = open(buf_cstr(path), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static etl_status store_put(void *state, const char *key, const char *value, size_t len,
                            const char *expected_version, etl_buf *new_version)
{
    file_store *s = state;
    etl_buf lock_path = {0}, path = {0}, current = {0}, version = {0};
    int lock_fd = lock_key(s, key, &lock_path);
    etl_status st;
    if (lock_fd < 0) {
        st = ctx_set_error(s->ctx, ETL_ERR_IO, errno, "cannot lock %s: %s", buf_cstr(&lock_path),
                           strerror(errno));
        goto out;
    }
    key_path(s, key, ".state.json", &path);
    st = read_file(s, buf_cstr(&path), &current);
    if (st == ETL_END) {
        if (expected_version != NULL) {
            st = ctx_set_error(s->ctx, ETL_ERR_CONFLICT, 0,
                               "state %s was removed by someone else since it was read",
                               buf_cstr(&path));
            goto out;
        }
    } else if (st == ETL_OK) {
        content_version(current.data, current.len, &version);
        if (expected_version == NULL || strcmp(expected_version, buf_cstr(&version)) != 0) {
            st = ctx_set_error(s->ctx, ETL_ERR_CONFLICT, 0,
                               expected_version == NULL
                                   ? "state %s already exists"
                                   : "state %s was changed by someone else since it was read",
                               buf_cstr(&path));
            goto out;
        }
    } else {
        goto out;
    }
    st = write_atomically(s, buf_cstr(&path), value, len);
    if (st == ETL_OK && new_version) {
        buf_reset(new_version);
        content_version(value, len, new_version);
    }
out:
    if (lock_fd >= 0)
        close(lock_fd);
    buf_free(&lock_path);
    buf_free(&path);
    buf_free(&current);
    buf_free(&version);
    return st;
}

static etl_status store_remove(void *state, const char *key)
{
    file_store *s = state;
    etl_buf path = {0};
    key_path(s, key, ".state.json", &path);
    etl_status st = ETL_OK;
    if (unlink(buf_cstr(&path)) == 0)
        st = fsync_dir(s);
    else if (errno != ENOENT)
        st = ctx_set_error(s->ctx, ETL_ERR_IO, errno, "cannot remove %s: %s", buf_cstr(&path),
                           strerror(errno));
    buf_free(&path);
    return st;
}

static held_lease *find_lease(file_store *s, const char *key)
{
    for (int i = 0; i < MAX_LEASES; i++)
        if (s->leases[i].key && strcmp(s->leases[i].key, key) == 0)
            return &s->leases[i];
    return NULL;
}

static etl_status store_lease_acquire(void *state, const char *key, const char *owner,
                                      int64_t ttl_ms)
{
    (void)ttl_ms; /* an flock lasts as long as its holder; no expiry needed */
    file_store *s = state;
    held_lease *held = find_lease(s, key);
    if (held)
        return strcmp(held->owner, owner) == 0
                   ? ETL_OK
                   : ctx_set_error(s->ctx, ETL_ERR_CONFLICT, 0, "the lease on %s is held by %s",
                                   key, held->owner);
    held_lease *slot = NULL;
    for (int i = 0; i < MAX_LEASES && !slot; i++)
        if (s->leases[i].key == NULL)
            slot = &s->leases[i];
    if (slot == NULL)
        return ctx_set_error(s->ctx, ETL_ERR_PERMANENT, 0, "too many leases held at once");
    etl_buf path = {0};
    key_path(s, key, ".lease", &path);
    etl_status st = ETL_OK;
    int fd = open(buf_cstr(&path), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        st = ctx_set_error(s->ctx, ETL_ERR_IO, errno, "cannot open %s: %s", buf_cstr(&path),
                           strerror(errno));
    } else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char holder[256] = "";
        ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        st = ctx_set_error(s->ctx, ETL_ERR_CONFLICT, 0,
                           "another run of this pipeline holds the lease on its state (%s%s%s); "
                           "wait for it to finish",
                           buf_cstr(&path), holder[0] ? ": " : "", holder);
        close(fd);
    } else {
        char info[320];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        int len = snprintf(info, sizeof info, "%s, pid %ld, since %04d-%02d-%02dT%02d:%02d:%02dZ\n",
                           owner, (long)getpid(), tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                           tm.tm_hour, tm.tm_min, tm.tm_sec);
        if (ftruncate(fd, 0) != 0 || pwrite(fd, info, (size_t)len, 0) != len) {
            /* The note on who holds the lease is a courtesy; the flock is the lease. */
        }
        slot->fd = fd;
        slot->key = xstrdup(key);
        slot->owner = xstrdup(owner);
    }
    buf_free(&path);
    return st;
}

static void release(held_lease *l)
{
    if (l->key == NULL)
        return;
    flock(l->fd, LOCK_UN);
    close(l->fd);
    free(l->key);
    free(l->owner);
    l->key = l->owner = NULL;
    l->fd = -1;
}

static void store_lease_release(void *state, const char *key, const char *owner)
{
    held_lease *l = find_lease(state, key);
    if (l && strcmp(l->owner, owner) == 0)
        release(l);
}

static void store_close(void *state)
{
    file_store *s = state;
    for (int i = 0; i < MAX_LEASES; i++)
        release(&s->leases[i]);
    free(s->dir);
    free(s);
}

static const etl_option_spec file_store_options[] = {
    {"path", ETL_OPT_STRING, ".etl-state", "directory of the state files (created, mode 0700)", 0,
     NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

static const etl_state_store_vtable file_store_vtable = {
    .struct_size = sizeof(etl_state_store_vtable),
    .open = store_open,
    .get = store_get,
    .put = store_put,
    .remove = store_remove,
    .lease_acquire = store_lease_acquire,
    .lease_release = store_lease_release,
    .close = store_close,
};

static const etl_connector file_store_connector = {
    .struct_size = sizeof(etl_connector),
    .kind = ETL_KIND_STATE_STORE,
    .name = "file",
    .summary = "state files in a local directory (atomic, mode 0600, flock lease)",
    .options = file_store_options,
    .option_spec_size = sizeof(etl_option_spec),
    .vtable = &file_store_vtable,
};

static const etl_connector *const builtin_connectors[] = {&file_store_connector, NULL};

static const etl_plugin_descriptor builtin_descriptor = {
    .struct_size = sizeof(etl_plugin_descriptor),
    .abi_major = ETL_ABI_MAJOR,
    .abi_minor = ETL_ABI_MINOR,
    .min_host_minor = ETL_ABI_MINOR,
    .name = "etl",
    .version = PACKAGE_VERSION,
    .summary = "connectors built into the host",
    .connectors = builtin_connectors,
};

const etl_plugin_descriptor *builtin_plugin_descriptor(void) { return &builtin_descriptor; }
