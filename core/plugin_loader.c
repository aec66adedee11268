/* Finds, loads and checks plugins.
 *
 * A plugin is trusted only after its descriptor has been checked against the
 * load rules of include/etl/plugin.h: same ABI major, host minor at least
 * the plugin's minimum, every struct read no further than the smaller of the
 * host's and the plugin's size, every required callback present. What the
 * rest of the host sees afterwards is never the plugin's own structs but
 * registry-owned copies of the host's size ("normalized"): fields the plugin
 * did not have read as zero, and optional callbacks it lacks are filled with
 * host defaults, so that no caller has to think about struct sizes again. */
#include "plugin_loader.h"

#include "buf.h"
#include "host_api.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <ltdl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bounds on arrays a plugin terminates itself, so that a missing terminator
 * is refused instead of read off the end of the plugin's data. */
#define MAX_CONNECTORS 256
#define MAX_OPTIONS 1024

typedef union any_vtable {
    etl_source_vtable source;
    etl_transform_vtable transform;
    etl_sink_vtable sink;
    etl_format_vtable format;
    etl_state_store_vtable state_store;
} any_vtable;

/* A connector as the host sees it: host-sized copies of the plugin's
 * connector, vtable and option schema. */
typedef struct norm_connector {
    etl_connector conn;          /* conn.vtable -> &vt, conn.options -> options */
    any_vtable vt;
    etl_option_spec *options;
} norm_connector;

typedef struct plugin_entry {
    loaded_plugin pub;           /* pub.desc -> &desc */
    etl_plugin_descriptor desc;  /* desc.connectors -> conn_ptrs */
    norm_connector **conns;
    const etl_connector **conn_ptrs;     /* NULL-terminated */
    size_t n_conns;
} plugin_entry;

struct plugin_registry {
    plugin_entry **items;
    size_t count;
    size_t cap;
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */

static etl_status refuse(char *err, size_t err_len, const char *path, const char *fmt, ...)
    ETL_PRINTF(4, 5);

/* Writes "<path>: <reason>" to err and returns the refusal status. */
static etl_status refuse(char *err, size_t err_len, const char *path, const char *fmt, ...)
{
    if (err == NULL || err_len == 0)
        return ETL_ERR_PERMANENT;
    int n = snprintf(err, err_len, "%s: ", path);
    if (n < 0 || (size_t)n >= err_len)
        return ETL_ERR_PERMANENT;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, err_len - (size_t)n, fmt, ap);
    va_end(ap);
    return ETL_ERR_PERMANENT;
}

/* Copies a plugin struct of `their_size` bytes into a zeroed host struct of
 * `our_size` bytes: never reads past either. */
static void copy_sized(void *ours, size_t our_size, const void *theirs, size_t their_size)
{
    memset(ours, 0, our_size);
    memcpy(ours, theirs, their_size < our_size ? their_size : our_size);
}

const char *connector_kind_name(etl_connector_kind kind)
{
    switch (kind) {
    case ETL_KIND_SOURCE:
        return "source";
    case ETL_KIND_TRANSFORM:
        return "transform";
    case ETL_KIND_SINK:
        return "sink";
    case ETL_KIND_FORMAT:
        return "format";
    case ETL_KIND_STATE_STORE:
        return "state store";
    }
    return "unknown";
}

/* ------------------------------------------------------------------------ */
/* Host defaults for optional callbacks                                      */
/* ------------------------------------------------------------------------ */

static void default_sink_abort(void *state)
{
    (void)state;
}

/* "Unknown": a format that does not count its bytes cannot roll files by
 * size, and the caller treats -1 as "never roll". */
static int64_t default_bytes_written(void *state)
{
    (void)state;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Checking and normalizing one connector                                    */
/* ------------------------------------------------------------------------ */

typedef struct callback_check {
    const char *name;
    bool present;
} callback_check;

#define CB(field, value) {field, (value) != NULL}

static etl_status require_callbacks(const char *path, const etl_connector *c,
                                    const callback_check *cbs, size_t n, char *err,
                                    size_t err_len)
{
    for (size_t i = 0; i < n; i++) {
        if (!cbs[i].present)
            return refuse(err, err_len, path,
                          "connector '%s' (%s) lacks the required callback '%s': "
                          "the plugin is incomplete; fix it and rebuild",
                          c->name, connector_kind_name(c->kind), cbs[i].name);
    }
    return ETL_OK;
}

static uint32_t vtable_size_of(etl_connector_kind kind)
{
    switch (kind) {
    case ETL_KIND_SOURCE:
        return sizeof(etl_source_vtable);
    case ETL_KIND_TRANSFORM:
        return sizeof(etl_transform_vtable);
    case ETL_KIND_SINK:
        return sizeof(etl_sink_vtable);
    case ETL_KIND_FORMAT:
        return sizeof(etl_format_vtable);
    case ETL_KIND_STATE_STORE:
        return sizeof(etl_state_store_vtable);
    }
    return 0;
}

static etl_status check_source(const char *path, const etl_connector *c,
                               etl_source_vtable *vt, char *err, size_t err_len)
{
    const callback_check cbs[] = {CB("open", vt->open), CB("read", vt->read),
                                  CB("close", vt->close)};
    /* checkpoint/restore stay NULL when absent: their absence is what tells
     * the host that the source cannot be resumed. */
    return require_callbacks(path, c, cbs, sizeof cbs / sizeof cbs[0], err, err_len);
}

static etl_status check_transform(const char *path, const etl_connector *c,
                                  etl_transform_vtable *vt, char *err, size_t err_len)
{
    const callback_check cbs[] = {CB("open", vt->open), CB("process", vt->process),
                                  CB("close", vt->close)};
    return require_callbacks(path, c, cbs, sizeof cbs / sizeof cbs[0], err, err_len);
}

static etl_status check_sink(const char *path, const etl_connector *c, etl_sink_vtable *vt,
                             char *err, size_t err_len)
{
    const callback_check cbs[] = {CB("open", vt->open), CB("write", vt->write),
                                  CB("commit", vt->commit), CB("close", vt->close)};
    etl_status st = require_callbacks(path, c, cbs, sizeof cbs / sizeof cbs[0], err, err_len);
    if (st == ETL_OK && vt->abort == NULL)
        vt->abort = default_sink_abort;
    return st;
}

static etl_status check_format(const char *path, const etl_connector *c,
                               etl_format_vtable *vt, char *err, size_t err_len)
{
    const callback_check cbs[] = {CB("writer_open", vt->writer_open), CB("write", vt->write),
                                  CB("finish", vt->finish),
                                  CB("writer_close", vt->writer_close)};
    etl_status st = require_callbacks(path, c, cbs, sizeof cbs / sizeof cbs[0], err, err_len);
    if (st != ETL_OK)
        return st;
    int readers = (vt->reader_open != NULL) + (vt->read != NULL) + (vt->reader_close != NULL);
    if (readers != 0 && readers != 3)
        return refuse(err, err_len, path,
                      "connector '%s' (format) has a partial reader: reader_open, read and "
                      "reader_close must be all present or all absent; fix the plugin",
                      c->name);
    if (vt->bytes_written == NULL)
        vt->bytes_written = default_bytes_written;
    return ETL_OK;
}

static etl_status check_state_store(const char *path, const etl_connector *c,
                                    etl_state_store_vtable *vt, char *err, size_t err_len)
{
    const callback_check cbs[] = {CB("open", vt->open), CB("get", vt->get), CB("put", vt->put),
                                  CB("remove", vt->remove), CB("lease_acquire", vt->lease_acquire),
                                  CB("lease_release", vt->lease_release), CB("close", vt->close)};
    return require_callbacks(path, c, cbs, sizeof cbs / sizeof cbs[0], err, err_len);
}

static etl_status check_vtable(const char *path, norm_connector *nc, char *err, size_t err_len)
{
    etl_connector *c = &nc->conn;
    const uint32_t *their_size = c->vtable;
    if (*their_size < sizeof(uint32_t))
        return refuse(err, err_len, path,
                      "connector '%s' (%s): vtable struct_size %u is too small; "
                      "the plugin must set struct_size = sizeof(its vtable)",
                      c->name, connector_kind_name(c->kind), (unsigned)*their_size);
    uint32_t ours = vtable_size_of(c->kind);
    copy_sized(&nc->vt, ours, c->vtable, *their_size);
    nc->vt.source.struct_size = ours;    /* every vtable starts with struct_size */
    c->vtable = &nc->vt;
    switch (c->kind) {
    case ETL_KIND_SOURCE:
        return check_source(path, c, &nc->vt.source, err, err_len);
    case ETL_KIND_TRANSFORM:
        return check_transform(path, c, &nc->vt.transform, err, err_len);
    case ETL_KIND_SINK:
        return check_sink(path, c, &nc->vt.sink, err, err_len);
    case ETL_KIND_FORMAT:
        return check_format(path, c, &nc->vt.format, err, err_len);
    case ETL_KIND_STATE_STORE:
        return check_state_store(path, c, &nc->vt.state_store, err, err_len);
    }
    return ETL_ERR_PERMANENT;
}

/* Copies the option schema with the plugin's stride into host-sized specs. */
static etl_status copy_options(const char *path, norm_connector *nc, char *err, size_t err_len)
{
    etl_connector *c = &nc->conn;
    const char *theirs = (const char *)c->options;
    size_t stride = c->option_spec_size;
    size_t min_stride = offsetof(etl_option_spec, type) + sizeof(etl_option_type);
    if (theirs != NULL && stride < min_stride)
        return refuse(err, err_len, path,
                      "connector '%s' (%s): option_spec_size %zu is too small (at least %zu); "
                      "set it to sizeof(etl_option_spec)",
                      c->name, connector_kind_name(c->kind), stride, min_stride);
    size_t n = 0;
    while (theirs != NULL && ((const etl_option_spec *)(theirs + n * stride))->key != NULL) {
        if (++n > MAX_OPTIONS)
            return refuse(err, err_len, path,
                          "connector '%s' (%s): more than %d options, or the option array "
                          "lacks its terminating {NULL} entry; fix the plugin",
                          c->name, connector_kind_name(c->kind), MAX_OPTIONS);
    }
    nc->options = calloc(n + 1, sizeof *nc->options);
    if (nc->options == NULL)
        return refuse(err, err_len, path, "out of memory");
    for (size_t i = 0; i < n; i++)
        copy_sized(&nc->options[i], sizeof nc->options[i], theirs + i * stride, stride);
    c->options = nc->options;
    c->option_spec_size = sizeof(etl_option_spec);
    return ETL_OK;
}

static bool kind_is_known(etl_connector_kind kind)
{
    return kind >= ETL_KIND_SOURCE && kind <= ETL_KIND_STATE_STORE;
}

static void norm_connector_free(norm_connector *nc)
{
    if (nc == NULL)
        return;
    free(nc->options);
    free(nc);
}

static etl_status normalize_connector(const char *path, const etl_connector *theirs, size_t index,
                                      norm_connector **out, char *err, size_t err_len)
{
    if (theirs->struct_size < offsetof(etl_connector, vtable) + sizeof(void *))
        return refuse(err, err_len, path,
                      "connector #%zu: struct_size %u is smaller than the ABI 1.0 minimum %zu; "
                      "the plugin must set struct_size = sizeof(etl_connector)",
                      index + 1, (unsigned)theirs->struct_size,
                      offsetof(etl_connector, vtable) + sizeof(void *));
    norm_connector *nc = calloc(1, sizeof *nc);
    if (nc == NULL)
        return refuse(err, err_len, path, "out of memory");
    copy_sized(&nc->conn, sizeof nc->conn, theirs, theirs->struct_size);
    nc->conn.struct_size = sizeof nc->conn;
    etl_connector *c = &nc->conn;
    etl_status st = ETL_OK;
    if (c->name == NULL || c->name[0] == '\0')
        st = refuse(err, err_len, path, "connector #%zu has no name; fix the plugin", index + 1);
    else if (!kind_is_known(c->kind))
        st = refuse(err, err_len, path,
                    "connector '%s' has unknown kind %d: the plugin needs a newer etl; "
                    "upgrade etl", c->name, (int)c->kind);
    else if (c->vtable == NULL)
        st = refuse(err, err_len, path, "connector '%s' (%s) has no vtable; fix the plugin",
                    c->name, connector_kind_name(c->kind));
    if (st == ETL_OK)
        st = check_vtable(path, nc, err, err_len);
    if (st == ETL_OK)
        st = copy_options(path, nc, err, err_len);
    if (st != ETL_OK) {
        norm_connector_free(nc);
        return st;
    }
    *out = nc;
    return ETL_OK;
}

/* ------------------------------------------------------------------------ */
/* Checking and normalizing a descriptor                                     */
/* ------------------------------------------------------------------------ */

static void entry_free(plugin_entry *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->n_conns; i++)
        norm_connector_free(e->conns[i]);
    free(e->conns);
    free(e->conn_ptrs);
    free(e->pub.path);
    if (e->pub.handle)
        lt_dlclose((lt_dlhandle)e->pub.handle);
    free(e);
}

static etl_status check_abi(const char *path, const etl_plugin_descriptor *d, char *err,
                            size_t err_len)
{
    if (d->abi_major != ETL_ABI_MAJOR)
        return refuse(err, err_len, path,
                      "built for plugin ABI %u.%u, this etl speaks %d.%d: "
                      "rebuild the plugin against etl's headers",
                      (unsigned)d->abi_major, (unsigned)d->abi_minor, ETL_ABI_MAJOR,
                      ETL_ABI_MINOR);
    if (d->min_host_minor > ETL_ABI_MINOR)
        return refuse(err, err_len, path,
                      "requires host ABI minor >= %u, this etl has %d.%d: upgrade etl",
                      (unsigned)d->min_host_minor, ETL_ABI_MAJOR, ETL_ABI_MINOR);
    return ETL_OK;
}

/* The descriptor's header (struct_size and the three versions) is the one
 * part every ABI major shares; read it before trusting anything else. */
static etl_status copy_descriptor(const char *path, const etl_plugin_descriptor *theirs,
                                  etl_plugin_descriptor *d, char *err, size_t err_len)
{
    size_t header = offsetof(etl_plugin_descriptor, min_host_minor) + sizeof(uint16_t);
    if (theirs->struct_size < header)
        return refuse(err, err_len, path,
                      "descriptor struct_size %u is too small to be an etl plugin; "
                      "rebuild the plugin against etl's headers",
                      (unsigned)theirs->struct_size);
    copy_sized(d, sizeof *d, theirs, header);
    etl_status st = check_abi(path, d, err, err_len);
    if (st != ETL_OK)
        return st;
    size_t minimum = offsetof(etl_plugin_descriptor, connectors) + sizeof(void *);
    if (theirs->struct_size < minimum)
        return refuse(err, err_len, path,
                      "descriptor struct_size %u is smaller than the ABI 1.0 minimum %zu; "
                      "the plugin must set struct_size = sizeof(etl_plugin_descriptor)",
                      (unsigned)theirs->struct_size, minimum);
    copy_sized(d, sizeof *d, theirs, theirs->struct_size);
    d->struct_size = sizeof *d;
    if (d->name == NULL || d->name[0] == '\0')
        return refuse(err, err_len, path, "the descriptor has no plugin name; fix the plugin");
    if (d->version == NULL)
        d->version = "";
    if (d->summary == NULL)
        d->summary = "";
    if (d->connectors == NULL)
        return refuse(err, err_len, path,
                      "plugin '%s' has no connector list; fix the plugin", d->name);
    return ETL_OK;
}

static etl_status normalize_connectors(const char *path, plugin_entry *e, char *err,
                                       size_t err_len)
{
    const etl_connector *const *theirs = e->desc.connectors;
    size_t n = 0;
    while (theirs[n] != NULL) {
        if (++n > MAX_CONNECTORS)
            return refuse(err, err_len, path,
                          "more than %d connectors, or the connector list lacks its "
                          "terminating NULL; fix the plugin", MAX_CONNECTORS);
    }
    e->conns = calloc(n + 1, sizeof *e->conns);
    e->conn_ptrs = calloc(n + 1, sizeof *e->conn_ptrs);
    if (e->conns == NULL || e->conn_ptrs == NULL)
        return refuse(err, err_len, path, "out of memory");
    for (size_t i = 0; i < n; i++) {
        etl_status st = normalize_connector(path, theirs[i], i, &e->conns[i], err, err_len);
        if (st != ETL_OK)
            return st;
        e->n_conns = i + 1;
        e->conn_ptrs[i] = &e->conns[i]->conn;
    }
    e->desc.connectors = e->conn_ptrs;
    return ETL_OK;
}

/* Validates `theirs` and builds the registry's normalized entry for it. */
static etl_status entry_from_descriptor(const char *path, const etl_plugin_descriptor *theirs,
                                        plugin_entry **out, char *err, size_t err_len)
{
    plugin_entry *e = calloc(1, sizeof *e);
    if (e == NULL)
        return refuse(err, err_len, path, "out of memory");
    e->pub.path = strdup(path);
    e->pub.desc = &e->desc;
    etl_status st = e->pub.path ? ETL_OK : refuse(err, err_len, path, "out of memory");
    if (st == ETL_OK)
        st = copy_descriptor(path, theirs, &e->desc, err, err_len);
    if (st == ETL_OK)
        st = normalize_connectors(path, e, err, err_len);
    if (st != ETL_OK) {
        entry_free(e);
        return st;
    }
    *out = e;
    return ETL_OK;
}

/* ------------------------------------------------------------------------ */
/* The registry                                                              */
/* ------------------------------------------------------------------------ */

plugin_registry *registry_new(void)
{
    plugin_registry *reg = calloc(1, sizeof *reg);
    if (reg == NULL)
        return NULL;
    /* lt_dlinit and lt_dlexit count their calls: one pair per registry. */
    if (lt_dlinit() != 0) {
        free(reg);
        return NULL;
    }
    return reg;
}

void registry_free(plugin_registry *reg)
{
    if (reg == NULL)
        return;
    for (size_t i = reg->count; i-- > 0;)
        entry_free(reg->items[i]);
    free(reg->items);
    free(reg);
    lt_dlexit();
}

size_t registry_count(const plugin_registry *reg)
{
    return reg ? reg->count : 0;
}

const loaded_plugin *registry_at(const plugin_registry *reg, size_t i)
{
    return reg && i < reg->count ? &reg->items[i]->pub : NULL;
}

static const plugin_entry *find_plugin(const plugin_registry *reg, const char *name)
{
    for (size_t i = 0; i < reg->count; i++) {
        if (strcmp(reg->items[i]->desc.name, name) == 0)
            return reg->items[i];
    }
    return NULL;
}

static etl_status append_entry(plugin_registry *reg, plugin_entry *e)
{
    if (reg->count == reg->cap) {
        size_t cap = reg->cap ? reg->cap * 2 : 8;
        plugin_entry **items = realloc(reg->items, cap * sizeof *items);
        if (items == NULL)
            return ETL_ERR_NOMEM;
        reg->items = items;
        reg->cap = cap;
    }
    reg->items[reg->count++] = e;
    return ETL_OK;
}

/* Adds a checked entry unless a plugin of that name is loaded already. */
static etl_status add_entry(plugin_registry *reg, plugin_entry *e, char *err, size_t err_len)
{
    const plugin_entry *other = find_plugin(reg, e->desc.name);
    etl_status st = ETL_OK;
    if (other != NULL)
        st = refuse(err, err_len, e->pub.path,
                    "skipped: plugin '%s' is already loaded from %s (the first one found wins)",
                    e->desc.name, other->pub.path);
    else if (append_entry(reg, e) != ETL_OK)
        st = refuse(err, err_len, e->pub.path, "out of memory");
    if (st != ETL_OK)
        entry_free(e);
    return st;
}

etl_status registry_add_descriptor(plugin_registry *reg, const char *origin,
                                   const etl_plugin_descriptor *desc, char *err, size_t err_len)
{
    if (desc == NULL)
        return refuse(err, err_len, origin, "no descriptor");
    plugin_entry *e = NULL;
    etl_status st = entry_from_descriptor(origin, desc, &e, err, err_len);
    if (st != ETL_OK)
        return st;
    return add_entry(reg, e, err, err_len);
}

/* ------------------------------------------------------------------------ */
/* Loading files                                                             */
/* ------------------------------------------------------------------------ */

static char *parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

static etl_status refuse_world_writable(const char *path, bool is_dir, char *err,
                                        size_t err_len)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return refuse(err, err_len, path, "cannot read: %s", strerror(errno));
    if ((st.st_mode & S_IWOTH) == 0)
        return ETL_OK;
    return refuse(err, err_len, path,
                  "refusing to load a plugin from a world-writable %s (mode %04o): anyone "
                  "could replace the code etl runs; fix it with chmod o-w %s",
                  is_dir ? "directory" : "file", (unsigned)(st.st_mode & 07777), path);
}

static etl_status check_permissions(const char *path, char *err, size_t err_len)
{
    struct stat file_stat;
    if (stat(path, &file_stat) != 0)
        return refuse(err, err_len, path, "cannot read the plugin file: %s", strerror(errno));
    char *dir = parent_dir(path);
    if (dir == NULL)
        return refuse(err, err_len, path, "out of memory");
    etl_status st = refuse_world_writable(dir, true, err, err_len);
    free(dir);
    if (st != ETL_OK)
        return st;
    return refuse_world_writable(path, false, err, err_len);
}

/* libltdl reports most dlopen failures as "file not found"; the system's
 * own reason ("undefined symbol: x", "wrong ELF class") is what the user
 * needs, so ask dlopen once more just for its message. */
static bool dlopen_reason(const char *path, char *out, size_t len)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h != NULL) {
        dlclose(h);
        return false;
    }
    const char *why = dlerror();
    if (why == NULL)
        return false;
    snprintf(out, len, "%s", why);
    return true;
}

static lt_dlhandle open_module(const char *path, char *err, size_t err_len)
{
    lt_dladvise advise;
    if (lt_dladvise_init(&advise) != 0) {
        refuse(err, err_len, path, "cannot initialize libltdl: %s", lt_dlerror());
        return NULL;
    }
    /* Local: two plugins may define the same internal symbol names.
     * Ext: "plugins/file" finds file.la or file.so. */
    lt_dladvise_local(&advise);
    lt_dladvise_ext(&advise);
    lt_dlhandle h = lt_dlopenadvise(path, advise);
    if (h == NULL) {
        const char *why = lt_dlerror();
        char detail[512];
        refuse(err, err_len, path, "cannot load: %s; is it an etl plugin built for this system?",
               dlopen_reason(path, detail, sizeof detail) ? detail
               : why                                       ? why
                                                           : "unknown error");
    }
    lt_dladvise_destroy(&advise);
    return h;
}

static const etl_plugin_descriptor *call_entry(lt_dlhandle h, const char *path, char *err,
                                               size_t err_len)
{
    /* libltdl tries "<module>_LTX_etl_plugin_entry" first, then the plain
     * name. */
    void *sym = lt_dlsym(h, ETL_PLUGIN_ENTRY_SYMBOL);
    if (sym == NULL) {
        refuse(err, err_len, path,
               "no entry point %s (looked for <module>_LTX_%s too): not an etl plugin, or "
               "the file was renamed after it was built with ETL_PLUGIN_DEFINE",
               ETL_PLUGIN_ENTRY_SYMBOL, ETL_PLUGIN_ENTRY_SYMBOL);
        return NULL;
    }
    etl_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry);  /* object to function pointer, as dlsym(3) says */
    const etl_plugin_descriptor *d = entry(host_api());
    if (d == NULL)
        refuse(err, err_len, path,
               "the plugin refused this etl (its entry returned no descriptor): it was "
               "probably built for another plugin ABI than %d.%d; rebuild it against etl's "
               "headers", ETL_ABI_MAJOR, ETL_ABI_MINOR);
    return d;
}

etl_status registry_load_file(plugin_registry *reg, const char *path, char *err, size_t err_len)
{
    if (err && err_len)
        err[0] = '\0';
    if (reg == NULL || path == NULL)
        return refuse(err, err_len, path ? path : "(null)", "no registry or path");
    etl_status st = check_permissions(path, err, err_len);
    if (st != ETL_OK)
        return st;
    lt_dlhandle h = open_module(path, err, err_len);
    if (h == NULL)
        return ETL_ERR_PERMANENT;
    const etl_plugin_descriptor *d = call_entry(h, path, err, err_len);
    plugin_entry *e = NULL;
    if (d != NULL)
        st = entry_from_descriptor(path, d, &e, err, err_len);
    if (d == NULL || st != ETL_OK) {
        lt_dlclose(h);
        return ETL_ERR_PERMANENT;
    }
    e->pub.handle = h;
    return add_entry(reg, e, err, err_len);
}

/* ------------------------------------------------------------------------ */
/* Directories                                                               */
/* ------------------------------------------------------------------------ */

static bool has_so_suffix(const char *name)
{
    size_t n = strlen(name);
    return n > 3 && strcmp(name + n - 3, ".so") == 0;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* The *.so names in `dir`, sorted so that "first one wins" is
 * deterministic. */
static etl_status list_plugins(const char *dir, char ***out, size_t *count, etl_buf *report)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (report && errno == ENOENT)
            buf_printf(report, "%s: no such directory\n", dir);
        else if (report)
            buf_printf(report, "%s: cannot open the plugin directory: %s\n", dir,
                       strerror(errno));
        return ETL_ERR_IO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    etl_status st = ETL_OK;
    struct dirent *de;
    while (st == ETL_OK && (de = readdir(d)) != NULL) {
        if (!has_so_suffix(de->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **grown = realloc(names, cap * sizeof *grown);
            if (grown == NULL) {
                st = ETL_ERR_NOMEM;
                break;
            }
            names = grown;
        }
        names[n] = strdup(de->d_name);
        st = names[n] ? ETL_OK : ETL_ERR_NOMEM;
        n += names[n] != NULL;
    }
    closedir(d);
    if (st != ETL_OK) {
        free_strings(names, n);
        return st;
    }
    qsort(names, n, sizeof *names, compare_strings);
    *out = names;
    *count = n;
    return ETL_OK;
}

static etl_status load_dir(plugin_registry *reg, const char *dir, etl_buf *report)
{
    char **names = NULL;
    size_t n = 0;
    etl_status st = list_plugins(dir, &names, &n, report);
    if (st == ETL_ERR_IO)
        return ETL_OK;                   /* reported; other directories may do */
    if (st != ETL_OK)
        return st;
    if (n == 0 && report)
        buf_printf(report, "%s: no plugins (*.so) in this directory\n", dir);
    etl_status worst = ETL_OK;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX];
        char err[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (registry_load_file(reg, path, err, sizeof err) == ETL_OK)
            continue;
        if (strstr(err, ": skipped: ") == NULL)
            worst = ETL_ERR_PERMANENT;
        if (report)
            buf_printf(report, "%s\n", err);
    }
    free_strings(names, n);
    return worst;
}

etl_status registry_load_dirs(plugin_registry *reg, const char *const *dirs, size_t n_dirs,
                              etl_buf *report)
{
    etl_status worst = ETL_OK;
    for (size_t i = 0; reg != NULL && i < n_dirs; i++) {
        if (dirs[i] == NULL || dirs[i][0] == '\0')
            continue;
        etl_status st = load_dir(reg, dirs[i], report);
        if (st == ETL_ERR_NOMEM)
            return st;
        if (st != ETL_OK)
            worst = st;
    }
    return worst;
}

/* ------------------------------------------------------------------------ */
/* The search path                                                           */
/* ------------------------------------------------------------------------ */

typedef struct str_list {
    char **items;
    size_t count;
    size_t cap;
    bool failed;
} str_list;

static void list_add(str_list *l, const char *s, size_t len)
{
    if (l->failed || len == 0)
        return;
    for (size_t i = 0; i < l->count; i++) {
        if (strlen(l->items[i]) == len && strncmp(l->items[i], s, len) == 0)
            return;                      /* searching a directory twice finds nothing new */
    }
    if (l->count + 2 > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **grown = realloc(l->items, cap * sizeof *grown);
        if (grown == NULL) {
            l->failed = true;
            return;
        }
        l->items = grown;
        l->cap = cap;
    }
    char *copy = strndup(s, len);
    if (copy == NULL) {
        l->failed = true;
        return;
    }
    l->items[l->count++] = copy;
    l->items[l->count] = NULL;
}

static void list_add_colon_separated(str_list *l, const char *value)
{
    while (value != NULL && *value) {
        const char *colon = strchr(value, ':');
        size_t len = colon ? (size_t)(colon - value) : strlen(value);
        list_add(l, value, len);
        value = colon ? colon + 1 : NULL;
    }
}

static char *self_exe(void)
{
    return realpath("/proc/self/exe", NULL);
}

/* True when `path` is `dir` or inside it. */
static bool path_is_under(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

static void add_build_tree_dir(str_list *l, const char *exe)
{
#ifdef ETL_ABS_BUILDDIR
    char *builddir = realpath(ETL_ABS_BUILDDIR, NULL);
    if (exe != NULL && builddir != NULL && path_is_under(exe, builddir)) {
        const char *suffix = "/plugins/.libs";
        size_t len = strlen(builddir) + strlen(suffix) + 1;
        char *dir = malloc(len);
        if (dir != NULL) {
            snprintf(dir, len, "%s%s", builddir, suffix);
            list_add(l, dir, strlen(dir));
        }
        free(dir);
    }
    free(builddir);
#else
    (void)l;
    (void)exe;
    (void)path_is_under;
#endif
}

/* Relocatable installs: <prefix>/bin/etl finds <prefix>/lib/etl/plugins. */
static void add_exe_relative_dir(str_list *l, const char *exe)
{
    const char *slash = exe ? strrchr(exe, '/') : NULL;
    if (slash == NULL)
        return;
    const char *prefix_end = slash;              /* strip "/etl", then "/bin" */
    while (prefix_end > exe && prefix_end[-1] != '/')
        prefix_end--;
    if (prefix_end > exe)
        prefix_end--;
    const char *suffix = "/lib/etl/plugins";
    size_t len = (size_t)(prefix_end - exe) + strlen(suffix) + 1;
    char *dir = malloc(len);
    if (dir == NULL)
        return;
    snprintf(dir, len, "%.*s%s", (int)(prefix_end - exe), exe, suffix);
    bool same = false;
#ifdef PKGPLUGINDIR
    char *resolved = realpath(dir, NULL);
    char *installed = realpath(PKGPLUGINDIR, NULL);
    same = strcmp(dir, PKGPLUGINDIR) == 0 ||
           (resolved != NULL && installed != NULL && strcmp(resolved, installed) == 0);
    free(installed);
    free(resolved);
#endif
    if (!same)
        list_add(l, dir, strlen(dir));
    free(dir);
}

char **registry_search_path(const char *extra)
{
    str_list l = {0};
    list_add_colon_separated(&l, extra);
    list_add_colon_separated(&l, getenv("ETL_PLUGIN_PATH"));
    char *exe = self_exe();
    add_build_tree_dir(&l, exe);
#ifdef PKGPLUGINDIR
    list_add(&l, PKGPLUGINDIR, strlen(PKGPLUGINDIR));
#endif
    add_exe_relative_dir(&l, exe);
    free(exe);
    if (l.failed) {
        free_strings(l.items, l.count);
        return NULL;
    }
    return l.items ? l.items : calloc(1, sizeof *l.items);
}

void registry_free_search_path(char **dirs)
{
    if (dirs == NULL)
        return;
    for (size_t i = 0; dirs[i] != NULL; i++)
        free(dirs[i]);
    free(dirs);
}

/* ------------------------------------------------------------------------ */
/* Lookups                                                                   */
/* ------------------------------------------------------------------------ */

const etl_connector *registry_find(const plugin_registry *reg, etl_connector_kind kind,
                                   const char *name, const loaded_plugin **owner)
{
    if (owner)
        *owner = NULL;
    if (reg == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < reg->count; i++) {
        const plugin_entry *e = reg->items[i];
        for (size_t j = 0; j < e->n_conns; j++) {
            const etl_connector *c = &e->conns[j]->conn;
            if (c->kind == kind && strcmp(c->name, name) == 0) {
                if (owner)
                    *owner = &e->pub;
                return c;
            }
        }
    }
    return NULL;
}

static bool name_listed(const char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0)
            return true;
    }
    return false;
}

const char **registry_connector_names(const plugin_registry *reg, etl_connector_kind kind)
{
    size_t total = 0;
    for (size_t i = 0; reg != NULL && i < reg->count; i++)
        total += reg->items[i]->n_conns;
    const char **names = calloc(total + 1, sizeof *names);
    if (names == NULL)
        return NULL;
    size_t n = 0;
    for (size_t i = 0; reg != NULL && i < reg->count; i++) {
        const plugin_entry *e = reg->items[i];
        for (size_t j = 0; j < e->n_conns; j++) {
            const etl_connector *c = &e->conns[j]->conn;
            if (c->kind == kind && !name_listed(names, n, c->name))
                names[n++] = c->name;
        }
    }
    return names;
}
