/* etl-conformance: the checks every plugin must pass, as TAP.
 *
 *   etl-conformance [--fixture FILE.yaml] [--no-fork] PLUGIN.so
 *   etl-conformance [--fixture FILE.yaml] [--no-fork] --builtin
 *
 * --builtin runs the suite on the connectors built into the host (the
 * `file` state store), registered as etl registers them.
 *
 * The plugin is loaded through the host's registry, exactly as etl loads it,
 * and each connector is driven through its vtable with the host's own
 * services (builders, batches, options). Every check runs in a child
 * process, so that a crash, a hang or a leak (under LeakSanitizer) fails
 * that one check instead of the whole suite.
 *
 * The fixture (YAML) says how to drive each connector:
 *
 *   files:                  # created in the scratch directory first
 *     in/a.ndjson: |
 *       {"id": 1}
 *   batch:                  # JSON records for sinks, transforms, formats
 *     - '{"id": 1, "name": "a"}'
 *   source:                 # then one section per kind, by connector name
 *     file:
 *       options: {path: in/a.ndjson}
 *       bad_options: {compression: lz4}   # must fail schema validation
 *       bad_open: {path: missing.ndjson}  # valid schema, open must fail
 *       expect_records: 1
 *   sink:
 *     file: {options: {...}, expect_files: [out/...]}
 *   transform:
 *     select: {options: {...}, expect_rows: 3, expect_first_row: '{"id":1}'}
 *   format:
 *     csv: {options: {...}, roundtrip: rows}   # exact (default) or rows
 *
 * All paths are relative to a scratch directory the program works in. */
#include "buf.h"
#include "builder.h"
#include "context.h"
#include "format.h"
#include "host_api.h"
#include "options.h"
#include "plugin_loader.h"
#include "state_store_file.h"
#include "strutil.h"
#include "yaml_doc.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <ltdl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK_TIMEOUT_S 60
#define READ_CHUNK 7             /* odd, so that batches end mid-file */
#define MAX_IDLE_READS 1000      /* ETL_OK with nothing read, in a row */
#define OPEN_CLOSE_ROUNDS 100

/* ------------------------------------------------------------------------ */
/* Results and TAP                                                           */
/* ------------------------------------------------------------------------ */

typedef enum cf_outcome { CF_PASS, CF_FAIL, CF_SKIP } cf_outcome;

typedef struct cf_result {
    cf_outcome outcome;
    char message[2048];
} cf_result;

static void cf_fail(cf_result *r, const char *fmt, ...) ETL_PRINTF(2, 3);
static void cf_skip(cf_result *r, const char *fmt, ...) ETL_PRINTF(2, 3);

static void cf_fail(cf_result *r, const char *fmt, ...)
{
    if (r->outcome == CF_FAIL)
        return;                          /* keep the first reason */
    r->outcome = CF_FAIL;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

static void cf_skip(cf_result *r, const char *fmt, ...)
{
    r->outcome = CF_SKIP;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

static int tap_count;
static int tap_failed;

static void tap_print(const char *description, const cf_result *r)
{
    tap_count++;
    if (r->outcome == CF_SKIP) {
        printf("ok %d - %s # SKIP %s\n", tap_count, description, r->message);
    } else if (r->outcome == CF_PASS) {
        printf("ok %d - %s\n", tap_count, description);
    } else {
        tap_failed++;
        printf("not ok %d - %s\n", tap_count, description);
        for (const char *line = r->message; *line;) {
            const char *nl = strchr(line, '\n');
            int len = nl ? (int)(nl - line) : (int)strlen(line);
            printf("#   %.*s\n", len, line);
            line = nl ? nl + 1 : line + len;
        }
    }
    fflush(stdout);
}

/* ------------------------------------------------------------------------ */
/* The environment of every check                                            */
/* ------------------------------------------------------------------------ */

typedef struct cf_env {
    const etl_host_api *host;
    plugin_registry *reg;
    const loaded_plugin *plugin;
    const etl_plugin_descriptor *raw;    /* the plugin's own descriptor */
    const ynode *fixture;                /* the fixture root, or NULL */
    bool fork_checks;
} cf_env;

/* One connector under test: the host's normalized view and the plugin's
 * own struct (for size checks). */
typedef struct cf_subject {
    const etl_connector *conn;
    const etl_connector *raw;
    const ynode *fx;                     /* its fixture section, or NULL */
    char label[160];                     /* "source file" */
} cf_subject;

typedef void (*cf_plugin_check)(const cf_env *env, cf_result *r);
typedef void (*cf_connector_check)(const cf_env *env, const cf_subject *s, cf_result *r);

/* Runs fn in a child; the result comes back through a pipe. */
static void run_isolated(const cf_env *env, void (*call)(const cf_env *, const void *, cf_result *),
                         const void *arg, cf_result *r)
{
    memset(r, 0, sizeof *r);
    if (!env->fork_checks) {
        call(env, arg, r);
        return;
    }
    int fds[2];
    if (pipe(fds) != 0) {
        cf_fail(r, "pipe: %s", strerror(errno));
        return;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        cf_fail(r, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        alarm(CHECK_TIMEOUT_S);
        cf_result mine;
        memset(&mine, 0, sizeof mine);
        call(env, arg, &mine);
        ssize_t w = write(fds[1], &mine, sizeof mine);
        close(fds[1]);
        /* exit(), not _exit(): LeakSanitizer checks at exit and turns a
         * leak into a non-zero status. */
        exit(w == (ssize_t)sizeof mine ? 0 : 3);
    }
    close(fds[1]);
    ssize_t got = 0, n;
    while (got < (ssize_t)sizeof *r &&
           (n = read(fds[0], (char *)r + got, sizeof *r - (size_t)got)) > 0)
        got += n;
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        memset(r, 0, sizeof *r);
        cf_fail(r, "the check crashed: signal %d (%s)%s", sig, strsignal(sig),
                sig == SIGALRM ? ", it took longer than 60 s" : "");
    } else if (got != (ssize_t)sizeof *r) {
        memset(r, 0, sizeof *r);
        cf_fail(r, "the check died before reporting (exit status %d)", WEXITSTATUS(status));
    } else if (WEXITSTATUS(status) != 0 && r->outcome != CF_FAIL) {
        cf_fail(r, "the check passed but its process exited with status %d: a leak or an "
                   "error reported by the sanitizers (see stderr)", WEXITSTATUS(status));
    }
}

/* ------------------------------------------------------------------------ */
/* Fixture helpers                                                           */
/* ------------------------------------------------------------------------ */

static const ynode *fx_get(const ynode *map, const char *key)
{
    return map && map->kind == YNODE_MAP ? ynode_get(map, key) : NULL;
}

static const char *fx_scalar(const ynode *map, const char *key)
{
    const ynode *n = fx_get(map, key);
    return n && n->kind == YNODE_SCALAR ? n->value : NULL;
}

static bool fx_int(const ynode *map, const char *key, int64_t *out)
{
    const char *text = fx_scalar(map, key);
    return text != NULL && parse_int64(text, out);
}

static const ynode *fixture_for(const ynode *root, const etl_connector *c)
{
    return fx_get(fx_get(root, connector_kind_name(c->kind)), c->name);
}

/* Validates a fixture mapping of options; NULL node means "no options". */
static etl_options *make_options(const etl_connector *c, const ynode *node, etl_buf *errors)
{
    static const char *const skip[] = {"type", NULL};
    return options_from_node(c, node, skip, errors);
}

/* ------------------------------------------------------------------------ */
/* Driving connectors                                                        */
/* ------------------------------------------------------------------------ */

/* An in-memory byte sink and source, for formats. */
typedef struct mem_bytes {
    const etl_host_api *host;
    etl_buf buf;
    size_t pos;
} mem_bytes;

static etl_status mem_write(void *user, const void *data, size_t len)
{
    mem_bytes *m = user;
    return m->host->buf_append(&m->buf, data, len);
}

static int64_t mem_read(void *user, void *out, size_t cap)
{
    mem_bytes *m = user;
    size_t left = m->buf.len - m->pos;
    size_t n = left < cap ? left : cap;
    if (n)
        memcpy(out, m->buf.data + m->pos, n);
    m->pos += n;
    return (int64_t)n;
}

typedef struct instance {
    const etl_host_api *host;
    const etl_connector *conn;
    etl_ctx *ctx;
    etl_options *opts;
    void *state;
    bool is_open;
    mem_bytes out;               /* formats write here */
    etl_byte_sink sink;
} instance;

static void instance_init(instance *in, const etl_host_api *host, const etl_connector *c,
                          const char *label)
{
    memset(in, 0, sizeof *in);
    in->host = host;
    in->conn = c;
    in->ctx = ctx_new(label, NULL);
    in->out.host = host;
    in->sink = (etl_byte_sink){.struct_size = sizeof in->sink, .user = &in->out,
                               .name = "memory", .write = mem_write};
}

static etl_status instance_open(instance *in)
{
    const etl_connector *c = in->conn;
    etl_status st = ETL_ERR_UNSUPPORTED;
    switch (c->kind) {
    case ETL_KIND_SOURCE:
        st = ((const etl_source_vtable *)c->vtable)->open(in->ctx, in->opts, &in->state);
        break;
    case ETL_KIND_TRANSFORM:
        st = ((const etl_transform_vtable *)c->vtable)->open(in->ctx, in->opts, &in->state);
        break;
    case ETL_KIND_SINK:
        st = ((const etl_sink_vtable *)c->vtable)->open(in->ctx, in->opts, &in->state);
        break;
    case ETL_KIND_FORMAT:
        st = ((const etl_format_vtable *)c->vtable)
                 ->writer_open(in->ctx, in->opts, &in->sink, &in->state);
        break;
    case ETL_KIND_STATE_STORE:
        st = ((const etl_state_store_vtable *)c->vtable)->open(in->ctx, in->opts, &in->state);
        break;
    }
    in->is_open = st == ETL_OK;
    return st;
}

static void instance_close(instance *in)
{
    if (!in->is_open)
        return;
    const etl_connector *c = in->conn;
    switch (c->kind) {
    case ETL_KIND_SOURCE:
        ((const etl_source_vtable *)c->vtable)->close(in->state);
        break;
    case ETL_KIND_TRANSFORM:
        ((const etl_transform_vtable *)c->vtable)->close(in->state);
        break;
    case ETL_KIND_SINK:
        ((const etl_sink_vtable *)c->vtable)->close(in->state);
        break;
    case ETL_KIND_FORMAT:
        ((const etl_format_vtable *)c->vtable)->writer_close(in->state);
        break;
    case ETL_KIND_STATE_STORE:
        ((const etl_state_store_vtable *)c->vtable)->close(in->state);
        break;
    }
    in->is_open = false;
    in->state = NULL;
}

static void instance_free(instance *in)
{
    instance_close(in);
    options_free(in->opts);
    in->opts = NULL;
    ctx_free(in->ctx);
    in->ctx = NULL;
    in->host->buf_free(&in->out.buf);
}

/* Validates the fixture's options and opens; on failure says why in r. */
static bool open_with_fixture(instance *in, const cf_subject *s, cf_result *r)
{
    etl_buf errors = {0};
    in->opts = make_options(s->conn, fx_get(s->fx, "options"), &errors);
    if (in->opts == NULL) {
        cf_fail(r, "the fixture's options do not validate:\n%s", buf_cstr(&errors));
        buf_free(&errors);
        return false;
    }
    buf_free(&errors);
    etl_status st = instance_open(in);
    if (st != ETL_OK) {
        cf_fail(r, "open returned %d: %s", (int)st, ctx_error_message(in->ctx));
        return false;
    }
    return true;
}

/* Appends row i of batch as JSON plus "\n" to lines. */
static bool encode_rows(const etl_host_api *host, const etl_batch *batch, etl_buf *lines,
                        cf_result *r)
{
    for (int64_t i = 0; i < batch->num_rows; i++) {
        etl_status st = host->json_write_row(batch, i, lines);
        if (st != ETL_OK) {
            cf_fail(r, "json_write_row failed on row %lld: %s", (long long)i,
                    ctx_error_message(NULL));
            return false;
        }
        buf_append_char(lines, '\n');
    }
    return true;
}

/* The batch the fixture describes (or a built-in one), as the host's
 * builder makes it. */
static etl_batch *make_batch(const cf_env *env, const cf_subject *s, etl_ctx *ctx, cf_result *r)
{
    static const char *const builtin[] = {
        "{\"id\": 1, \"name\": \"alpha\", \"price\": 1.5, \"active\": true}",
        "{\"id\": 2, \"name\": \"beta\", \"price\": 2.25, \"active\": false}",
        "{\"id\": 3, \"name\": \"gamma\", \"price\": null, \"active\": true}",
    };
    const ynode *list = fx_get(s->fx, "batch");
    if (list == NULL)
        list = fx_get(env->fixture, "batch");
    size_t n = list && list->kind == YNODE_SEQ ? list->count : sizeof builtin / sizeof *builtin;
    etl_builder *b = env->host->builder_new(ctx);
    for (size_t i = 0; b != NULL && i < n; i++) {
        const char *text = list ? list->items[i]->value : builtin[i];
        if (text == NULL || env->host->json_append_record(b, text, strlen(text)) != ETL_OK) {
            cf_fail(r, "fixture batch record %zu is not a JSON object: %s", i + 1,
                    ctx_error_message(ctx));
            env->host->builder_free(b);
            return NULL;
        }
    }
    etl_batch *batch = NULL;
    if (b == NULL || env->host->builder_finish(b, &batch) != ETL_OK)
        cf_fail(r, "could not build the test batch: %s", ctx_error_message(ctx));
    if (b)
        env->host->builder_free(b);
    return batch;
}

/* Reads from an open source up to `limit` records (-1: to the end),
 * appending them as JSON lines. */
typedef struct read_state {
    int64_t count;
    bool ended;
} read_state;

static bool read_records(const etl_host_api *host, instance *in, etl_builder *b, int64_t limit,
                         etl_buf *lines, read_state *rs, cf_result *r)
{
    const etl_source_vtable *vt = in->conn->vtable;
    int idle = 0;
    while (!rs->ended && (limit < 0 || rs->count < limit)) {
        int64_t want = READ_CHUNK;
        if (limit >= 0 && limit - rs->count < want)
            want = limit - rs->count;
        etl_status st = vt->read(in->state, b, want, INT64_C(1) << 30);
        if (ETL_STATUS_IS_FAILURE(st)) {
            cf_fail(r, "read returned %d after %lld records: %s", (int)st,
                    (long long)rs->count, ctx_error_message(in->ctx));
            return false;
        }
        int64_t rows = host->builder_rows(b);
        if (rows > want) {
            cf_fail(r, "read appended %lld records though max_records was %lld", (long long)rows,
                    (long long)want);
            return false;
        }
        etl_batch *batch = NULL;
        if (host->builder_finish(b, &batch) != ETL_OK) {
            cf_fail(r, "builder_finish failed: %s", ctx_error_message(in->ctx));
            return false;
        }
        bool ok = encode_rows(host, batch, lines, r);
        host->batch_release(batch);
        if (!ok)
            return false;
        rs->count += rows;
        rs->ended = st == ETL_END;
        idle = rows == 0 && !rs->ended ? idle + 1 : 0;
        if (idle > MAX_IDLE_READS) {
            cf_fail(r, "read returned ETL_OK with no records %d times in a row", idle);
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* Plugin-level checks                                                       */
/* ------------------------------------------------------------------------ */

static void check_handshake(const cf_env *env, cf_result *r)
{
    static etl_host_api other;           /* static: a plugin may keep the pointer */
    if (env->plugin->handle == NULL) {
        cf_skip(r, "built into the host: no entry point to call");
        return;
    }
    lt_dlhandle h = (lt_dlhandle)env->plugin->handle;
    void *sym = lt_dlsym(h, ETL_PLUGIN_ENTRY_SYMBOL);
    if (sym == NULL) {
        cf_fail(r, "the entry point %s is gone", ETL_PLUGIN_ENTRY_SYMBOL);
        return;
    }
    etl_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry);
    other = *env->host;
    other.abi_major = ETL_ABI_MAJOR + 1;
    if (entry(&other) != NULL)
        cf_fail(r, "the entry point accepted a host of ABI %d.x: it must return NULL when the "
                   "host's major differs (ETL_PLUGIN_DEFINE does this)", ETL_ABI_MAJOR + 1);
    const etl_plugin_descriptor *again = entry(env->host);
    if (again != env->raw)
        cf_fail(r, "the entry point returned another descriptor when called again");
}

static void check_descriptor(const cf_env *env, cf_result *r)
{
    const etl_plugin_descriptor *d = env->raw;
    size_t minimum = offsetof(etl_plugin_descriptor, connectors) + sizeof(void *);
    if (d->struct_size < minimum)
        cf_fail(r, "struct_size %u < %zu", (unsigned)d->struct_size, minimum);
    if (d->abi_major != ETL_ABI_MAJOR)
        cf_fail(r, "abi_major %u, host %d", (unsigned)d->abi_major, ETL_ABI_MAJOR);
    if (d->min_host_minor > d->abi_minor)
        cf_fail(r, "min_host_minor %u is newer than the ABI it was built with (%u.%u)",
                (unsigned)d->min_host_minor, (unsigned)d->abi_major, (unsigned)d->abi_minor);
    if (d->name == NULL || d->name[0] == '\0')
        cf_fail(r, "the plugin name is empty");
    if (d->version == NULL || d->version[0] == '\0')
        cf_fail(r, "the plugin version is empty");
    if (d->summary == NULL || d->summary[0] == '\0')
        cf_fail(r, "the plugin summary is empty");
    if (d->connectors == NULL || d->connectors[0] == NULL)
        cf_fail(r, "the plugin provides no connector");
}

static void check_unique_names(const cf_env *env, cf_result *r)
{
    const etl_connector *const *cs = env->plugin->desc->connectors;
    for (size_t i = 0; cs[i] != NULL; i++) {
        for (size_t j = 0; j < i; j++) {
            if (cs[i]->kind == cs[j]->kind && strcmp(cs[i]->name, cs[j]->name) == 0)
                cf_fail(r, "two %s connectors are named '%s'", connector_kind_name(cs[i]->kind),
                        cs[i]->name);
        }
        if (cs[i]->summary == NULL || cs[i]->summary[0] == '\0')
            cf_fail(r, "%s '%s' has no summary", connector_kind_name(cs[i]->kind), cs[i]->name);
    }
}

/* ------------------------------------------------------------------------ */
/* Per-connector checks                                                      */
/* ------------------------------------------------------------------------ */

static size_t vtable_minimum(etl_connector_kind kind)
{
    switch (kind) {
    case ETL_KIND_SOURCE:
        return offsetof(etl_source_vtable, close) + sizeof(void *);
    case ETL_KIND_TRANSFORM:
        return offsetof(etl_transform_vtable, close) + sizeof(void *);
    case ETL_KIND_SINK:
        return offsetof(etl_sink_vtable, close) + sizeof(void *);
    case ETL_KIND_FORMAT:
        return offsetof(etl_format_vtable, writer_close) + sizeof(void *);
    case ETL_KIND_STATE_STORE:
        return offsetof(etl_state_store_vtable, close) + sizeof(void *);
    }
    return 0;
}

static void check_sizes(const cf_env *env, const cf_subject *s, cf_result *r)
{
    const etl_connector *raw = s->raw;
    size_t conn_min = offsetof(etl_connector, vtable) + sizeof(void *);
    if (raw->struct_size < conn_min)
        cf_fail(r, "connector struct_size %u < %zu", (unsigned)raw->struct_size, conn_min);
    uint32_t vt_size = *(const uint32_t *)raw->vtable;
    if (vt_size < vtable_minimum(raw->kind))
        cf_fail(r, "vtable struct_size %u < %zu: set it to sizeof(the vtable)", (unsigned)vt_size,
                vtable_minimum(raw->kind));
    size_t spec_min = offsetof(etl_option_spec, doc) + sizeof(void *);
    if (raw->options != NULL && raw->option_spec_size < spec_min)
        cf_fail(r, "option_spec_size %u < %zu: set it to sizeof(etl_option_spec)",
                (unsigned)raw->option_spec_size, spec_min);
}

static bool choice_listed(const char *choices, const char *value)
{
    size_t n = strlen(value);
    for (const char *p = choices; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, value, n) == 0)
            return true;
        p = bar ? bar + 1 : NULL;
    }
    return false;
}

static bool default_parses(const etl_option_spec *o)
{
    const char *v = o->default_value;
    int64_t i;
    double d;
    bool b;
    switch (o->type) {
    case ETL_OPT_INT:
        return parse_int64(v, &i);
    case ETL_OPT_DOUBLE:
        return parse_double(v, &d);
    case ETL_OPT_BOOL:
        return parse_bool(v, &b);
    case ETL_OPT_DURATION:
        return parse_duration_ms(v, &i);
    case ETL_OPT_SIZE:
        return parse_size_bytes(v, &i);
    case ETL_OPT_ENUM:
        return choice_listed(o->choices, v);
    default:
        return true;
    }
}

static void check_option(const cf_subject *s, const etl_option_spec *o, cf_result *r)
{
    if (o->key[0] == '\0')
        cf_fail(r, "an option has an empty key");
    if (o->type < ETL_OPT_STRING || o->type > ETL_OPT_ANY)
        cf_fail(r, "option '%s' has unknown type %d", o->key, (int)o->type);
    if (o->doc == NULL || o->doc[0] == '\0')
        cf_fail(r, "option '%s' has no doc", o->key);
    if (o->type == ETL_OPT_ENUM && (o->choices == NULL || o->choices[0] == '\0'))
        cf_fail(r, "enum option '%s' has no choices", o->key);
    if (o->default_value && !default_parses(o))
        cf_fail(r, "the default of option '%s' ('%s') is not a valid %s", o->key,
                o->default_value,
                o->type == ETL_OPT_ENUM ? "choice" : "value of its type");
    if ((o->flags & ETL_OPT_REQUIRED) && o->default_value)
        cf_fail(r, "option '%s' is required and has a default: pick one", o->key);
}

static void check_schema(const cf_env *env, const cf_subject *s, cf_result *r)
{
    const etl_option_spec *opts = s->conn->options;
    if (opts == NULL) {
        cf_fail(r, "no option schema (an empty one is {{NULL}})");
        return;
    }
    for (size_t i = 0; opts[i].key != NULL; i++) {
        check_option(s, &opts[i], r);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(opts[i].key, opts[j].key) == 0)
                cf_fail(r, "option '%s' is declared twice", opts[i].key);
        }
    }
}

static void check_bad_options(const cf_env *env, const cf_subject *s, cf_result *r)
{
    etl_buf errors = {0};
    /* The host rejects unknown keys for every connector. */
    ynode *unknown = ydoc_load_string("no_such_option_xyz: 1\n", 22, "conformance", &errors);
    etl_options *o = unknown ? make_options(s->conn, unknown, &errors) : NULL;
    if (o != NULL || errors.len == 0)
        cf_fail(r, "an unknown option key was accepted");
    options_free(o);
    ynode_free(unknown);
    buf_reset(&errors);

    const ynode *bad = fx_get(s->fx, "bad_options");
    if (bad == NULL) {
        if (r->outcome == CF_PASS)
            cf_skip(r, "no bad_options in the fixture (unknown keys are refused)");
        buf_free(&errors);
        return;
    }
    o = make_options(s->conn, bad, &errors);
    if (o != NULL)
        cf_fail(r, "the fixture's bad_options validated; they must fail with ETL_ERR_CONFIG");
    else if (errors.len == 0)
        cf_fail(r, "bad_options were refused without an error message");
    options_free(o);
    buf_free(&errors);
}

static void check_bad_open(const cf_env *env, const cf_subject *s, cf_result *r)
{
    const ynode *bad = fx_get(s->fx, "bad_open");
    if (bad == NULL) {
        cf_skip(r, "no bad_open in the fixture");
        return;
    }
    instance in;
    instance_init(&in, env->host, s->conn, s->label);
    etl_buf errors = {0};
    in.opts = make_options(s->conn, bad, &errors);
    if (in.opts == NULL) {
        cf_fail(r, "bad_open must pass schema validation (it is about values open() checks):\n%s",
                buf_cstr(&errors));
    } else {
        etl_status st = instance_open(&in);
        if (!ETL_STATUS_IS_FAILURE(st))
            cf_fail(r, "open with bad_open options returned %d, not a failure", (int)st);
        else if (ctx_error_status(in.ctx) == ETL_OK || in.ctx->message[0] == '\0')
            cf_fail(r, "open failed (%d) without setting the error record (set_error)", (int)st);
        else if (ctx_error_status(in.ctx) != st)
            cf_fail(r, "open returned %d but set_error recorded %d", (int)st,
                    (int)ctx_error_status(in.ctx));
    }
    buf_free(&errors);
    instance_free(&in);
}

/* Checks that open something skip when the connector has required options
 * and the fixture says nothing about it. */
static bool lacks_fixture(const cf_subject *s, cf_result *r)
{
    if (fx_get(s->fx, "options") != NULL)
        return false;
    for (const etl_option_spec *o = s->conn->options; o && o->key; o++) {
        if (o->flags & ETL_OPT_REQUIRED) {
            cf_skip(r, "option '%s' is required and the fixture gives no options", o->key);
            return true;
        }
    }
    return false;
}

static void check_open_close(const cf_env *env, const cf_subject *s, cf_result *r)
{
    if (lacks_fixture(s, r))
        return;
    for (int i = 0; i < OPEN_CLOSE_ROUNDS && r->outcome == CF_PASS; i++) {
        instance in;
        instance_init(&in, env->host, s->conn, s->label);
        open_with_fixture(&in, s, r);
        instance_free(&in);
    }
}

/* ---- sources ----------------------------------------------------------- */

static bool read_all(const cf_env *env, const cf_subject *s, etl_buf *lines, int64_t *count,
                     cf_result *r)
{
    instance in;
    instance_init(&in, env->host, s->conn, s->label);
    etl_builder *b = env->host->builder_new(in.ctx);
    read_state rs = {0};
    bool ok = b != NULL && open_with_fixture(&in, s, r) &&
              read_records(env->host, &in, b, -1, lines, &rs, r);
    if (b)
        env->host->builder_free(b);
    instance_free(&in);
    *count = rs.count;
    return ok;
}

static void check_read_all(const cf_env *env, const cf_subject *s, cf_result *r)
{
    int64_t expect;
    if (!fx_int(s->fx, "expect_records", &expect)) {
        cf_skip(r, "no expect_records in the fixture");
        return;
    }
    etl_buf lines = {0};
    int64_t count = 0;
    if (read_all(env, s, &lines, &count, r) && count != expect)
        cf_fail(r, "read %lld records, the fixture expects %lld", (long long)count,
                (long long)expect);
    buf_free(&lines);
}

/* Reads k records, checkpoints, closes; then restores a fresh instance and
 * reads the rest into `lines`. */
static bool read_resumed(const cf_env *env, const cf_subject *s, int64_t k, etl_buf *lines,
                         cf_result *r)
{
    const etl_source_vtable *vt = s->conn->vtable;
    etl_buf cursor = {0};
    instance in;
    instance_init(&in, env->host, s->conn, s->label);
    etl_builder *b = env->host->builder_new(in.ctx);
    read_state rs = {0};
    bool ok = b != NULL && open_with_fixture(&in, s, r) &&
              read_records(env->host, &in, b, k, lines, &rs, r);
    if (ok && rs.count != k) {
        cf_fail(r, "the source ended after %lld records, before %lld", (long long)rs.count,
                (long long)k);
        ok = false;
    }
    if (ok && vt->checkpoint(in.state, &cursor) != ETL_OK) {
        cf_fail(r, "checkpoint after %lld records failed: %s", (long long)k,
                ctx_error_message(in.ctx));
        ok = false;
    }
    if (b)
        env->host->builder_free(b);
    instance_free(&in);
    if (!ok) {
        env->host->buf_free(&cursor);
        return false;
    }

    instance_init(&in, env->host, s->conn, s->label);
    b = env->host->builder_new(in.ctx);
    rs = (read_state){0};
    ok = b != NULL && open_with_fixture(&in, s, r);
    if (ok && vt->restore(in.state, cursor.data ? cursor.data : "", cursor.len) != ETL_OK) {
        cf_fail(r, "restore from cursor %.*s failed: %s", (int)cursor.len,
                cursor.data ? cursor.data : "", ctx_error_message(in.ctx));
        ok = false;
    }
    ok = ok && read_records(env->host, &in, b, -1, lines, &rs, r);
    if (b)
        env->host->builder_free(b);
    instance_free(&in);
    env->host->buf_free(&cursor);
    return ok;
}

/* The first line where two JSON-lines texts differ, for the message. */
static void describe_difference(const char *want, const char *got, int64_t k, cf_result *r)
{
    int line = 1;
    const char *w = want, *g = got;
    while (*w && *w == *g) {
        if (*w == '\n') {
            line++;
            want = w + 1;
            got = g + 1;
        }
        w++;
        g++;
    }
    const char *wn = strchr(want, '\n'), *gn = strchr(got, '\n');
    cf_fail(r, "resumed after %lld records, record %d differs:\n  full read: %.*s\n  resumed:   %.*s",
            (long long)k, line, wn ? (int)(wn - want) : (int)strlen(want), want,
            gn ? (int)(gn - got) : (int)strlen(got), got);
}

static void check_checkpoint(const cf_env *env, const cf_subject *s, cf_result *r)
{
    const etl_source_vtable *vt = s->conn->vtable;
    if (vt->checkpoint == NULL || vt->restore == NULL) {
        cf_skip(r, "the source has no checkpoint/restore (not resumable)");
        return;
    }
    int64_t expect;
    if (!fx_int(s->fx, "expect_records", &expect)) {
        cf_skip(r, "no expect_records in the fixture");
        return;
    }
    etl_buf full = {0};
    int64_t total = 0;
    if (!read_all(env, s, &full, &total, r)) {
        buf_free(&full);
        return;
    }
    int64_t ks[] = {0, 1, total / 2, total - 1, total};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0] && r->outcome == CF_PASS; i++) {
        if (ks[i] < 0 || ks[i] > total || (i > 0 && ks[i] == ks[i - 1]))
            continue;
        etl_buf lines = {0};
        if (read_resumed(env, s, ks[i], &lines, r) &&
            strcmp(buf_cstr(&lines), buf_cstr(&full)) != 0)
            describe_difference(buf_cstr(&full), buf_cstr(&lines), ks[i], r);
        buf_free(&lines);
    }
    buf_free(&full);
}

/* ---- kill and resume ------------------------------------------------------ */

/* A reader child reports each read as one frame on a pipe: the rows it got
 * (JSON lines), then the source's cursor and the builder's schema after that
 * read, the same pair the host stores at a checkpoint. It is SIGKILLed at a
 * random point; the parent resumes from the last frame that arrived whole. */
#define KILL_ROUNDS 8
#define KILL_CHUNK 3             /* small reads: many frames, many kill points */
#define FRAME_MAGIC 0x45544c46u  /* "ETLF" */

typedef struct frame_header {
    uint32_t magic;
    uint32_t rows_len;
    uint32_t cursor_len;
    uint32_t schema_len;
    uint32_t ended;              /* the read returned ETL_END */
} frame_header;

static bool write_all_fd(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* Header and payload go out in separate writes, so a kill can fall between. */
static bool send_frame(int fd, const etl_buf *rows, const etl_buf *cursor, const etl_buf *schema,
                       bool ended)
{
    frame_header h = {FRAME_MAGIC, (uint32_t)rows->len, (uint32_t)cursor->len,
                      (uint32_t)schema->len, ended};
    return write_all_fd(fd, &h, sizeof h) && write_all_fd(fd, rows->data, rows->len) &&
           write_all_fd(fd, cursor->data, cursor->len) &&
           write_all_fd(fd, schema->data, schema->len);
}

/* The child: reads, frames, waits for the parent's go-ahead; never returns.
 * At the end of the source it waits to be killed. */
_Noreturn static void reader_child(const cf_env *env, const cf_subject *s, int out_fd, int ack_fd)
{
    alarm(CHECK_TIMEOUT_S);
    const etl_source_vtable *vt = s->conn->vtable;
    const etl_host_api *h = env->host;
    instance in;
    instance_init(&in, h, s->conn, s->label);
    cf_result r = {0};
    etl_builder *b = h->builder_new(in.ctx);
    if (b == NULL || !open_with_fixture(&in, s, &r)) {
        fprintf(stderr, "kill-and-resume reader: %s\n", r.message);
        _exit(4);
    }
    etl_buf rows = {0}, cursor = {0}, schema = {0};
    bool ended = false;
    for (;;) {
        if (!ended) {
            etl_status st = vt->read(in.state, b, KILL_CHUNK, INT64_C(1) << 30);
            if (ETL_STATUS_IS_FAILURE(st)) {
                fprintf(stderr, "kill-and-resume reader: read returned %d: %s\n", (int)st,
                        ctx_error_message(in.ctx));
                _exit(5);
            }
            ended = st == ETL_END;
            etl_batch *batch = NULL;
            buf_reset(&rows);
            buf_reset(&cursor);
            buf_reset(&schema);
            if (h->builder_finish(b, &batch) != ETL_OK || !encode_rows(h, batch, &rows, &r)) {
                fprintf(stderr, "kill-and-resume reader: cannot encode a batch: %s\n", r.message);
                _exit(6);
            }
            h->batch_release(batch);
            if (vt->checkpoint(in.state, &cursor) != ETL_OK) {
                fprintf(stderr, "kill-and-resume reader: checkpoint failed: %s\n",
                        ctx_error_message(in.ctx));
                _exit(7);
            }
            builder_schema_json(b, &schema);
            if (!send_frame(out_fd, &rows, &cursor, &schema, ended))
                _exit(0);                /* the parent has gone */
        }
        char go;
        if (read(ack_fd, &go, 1) != 1)
            _exit(0);
    }
}

/* What the parent got from a killed reader: the rows of the whole frames and
 * the cursor and schema of the last one (all empty when none arrived). */
typedef struct killed_read {
    etl_buf rows, cursor, schema;
    int frames;
    bool ended;                  /* the last whole frame was the source's end */
    bool partial;                /* bytes of an unfinished frame followed */
} killed_read;

static void parse_frames(const etl_buf *stream, killed_read *k, cf_result *r)
{
    size_t pos = 0;
    while (pos + sizeof(frame_header) <= stream->len) {
        frame_header h;
        memcpy(&h, stream->data + pos, sizeof h);
        if (h.magic != FRAME_MAGIC) {
            cf_fail(r, "kill-and-resume: frame %d is garbled", k->frames + 1);
            return;
        }
        size_t payload = (size_t)h.rows_len + h.cursor_len + h.schema_len;
        if (pos + sizeof h + payload > stream->len)
            break;
        const char *p = stream->data + pos + sizeof h;
        buf_append(&k->rows, p, h.rows_len);
        buf_reset(&k->cursor);
        buf_append(&k->cursor, p + h.rows_len, h.cursor_len);
        buf_reset(&k->schema);
        buf_append(&k->schema, p + h.rows_len + h.cursor_len, h.schema_len);
        k->frames++;
        k->ended = h.ended != 0;
        pos += sizeof h + payload;
    }
    k->partial = pos < stream->len;
}

/* Starts a reader, lets it make `frames_before_kill` reads, kills it. */
static bool run_killed_reader(const cf_env *env, const cf_subject *s, int frames_before_kill,
                              killed_read *k, cf_result *r)
{
    int data[2], ack[2];
    if (pipe(data) != 0 || pipe(ack) != 0) {
        cf_fail(r, "pipe: %s", strerror(errno));
        return false;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        cf_fail(r, "fork: %s", strerror(errno));
        return false;
    }
    if (pid == 0) {
        close(data[0]);
        close(ack[1]);
        reader_child(env, s, data[1], ack[0]);
    }
    close(data[1]);
    close(ack[0]);
    /* Let the reader go ahead once per frame; at the chosen one, kill it
     * right after the go-ahead, wherever its next read has got to. Zero:
     * before it has even opened the source. */
    etl_buf stream = {0};
    char chunk[4096];
    int seen = 0;
    bool killed = frames_before_kill == 0;
    if (killed)
        kill(pid, SIGKILL);
    ssize_t n;
    while ((n = read(data[0], chunk, sizeof chunk)) > 0) {
        buf_append(&stream, chunk, (size_t)n);
        killed_read probe = {0};
        parse_frames(&stream, &probe, r);
        int complete = probe.frames;
        bool at_end = probe.ended;
        buf_free(&probe.rows);
        buf_free(&probe.cursor);
        buf_free(&probe.schema);
        for (; !killed && seen < complete; seen++) {
            bool acked = write(ack[1], "g", 1) == 1;
            if (!acked || seen + 1 >= frames_before_kill || (at_end && seen + 1 == complete)) {
                kill(pid, SIGKILL);
                killed = true;
            }
        }
    }
    if (!killed)
        kill(pid, SIGKILL);
    close(data[0]);
    close(ack[1]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
        cf_fail(r, "kill-and-resume: the reader ended by itself (%s %d) before it was killed: "
                   "see stderr",
                WIFSIGNALED(status) ? "signal" : "exit status",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    } else {
        parse_frames(&stream, k, r);
    }
    buf_free(&stream);
    return r->outcome != CF_FAIL;
}

/* A fresh instance resumed from the killed reader's last cursor and schema
 * reads the rest into `rest`. */
static bool resume_after_kill(const cf_env *env, const cf_subject *s, const killed_read *k,
                              etl_buf *rest, cf_result *r)
{
    const etl_source_vtable *vt = s->conn->vtable;
    instance in;
    instance_init(&in, env->host, s->conn, s->label);
    etl_builder *b = env->host->builder_new(in.ctx);
    read_state rs = {0};
    bool ok = b != NULL && open_with_fixture(&in, s, r);
    if (ok && k->frames > 0 && k->schema.len > 0 &&
        builder_schema_restore(b, k->schema.data, k->schema.len) != ETL_OK) {
        cf_fail(r, "the builder refused the schema snapshot after %d reads: %s", k->frames,
                ctx_error_message(in.ctx));
        ok = false;
    }
    if (ok && k->frames > 0 &&
        vt->restore(in.state, k->cursor.data ? k->cursor.data : "", k->cursor.len) != ETL_OK) {
        cf_fail(r, "restore from cursor %.*s (after %d reads) failed: %s", (int)k->cursor.len,
                k->cursor.data ? k->cursor.data : "", k->frames, ctx_error_message(in.ctx));
        ok = false;
    }
    ok = ok && read_records(env->host, &in, b, -1, rest, &rs, r);
    if (b)
        env->host->builder_free(b);
    instance_free(&in);
    return ok;
}

static void check_kill_resume(const cf_env *env, const cf_subject *s, cf_result *r)
{
    signal(SIGPIPE, SIG_IGN);    /* a reader that died early must not kill the check */
    const etl_source_vtable *vt = s->conn->vtable;
    if (vt->checkpoint == NULL || vt->restore == NULL) {
        cf_skip(r, "the source has no checkpoint/restore (not resumable)");
        return;
    }
    if (lacks_fixture(s, r))
        return;
    etl_buf full = {0};
    int64_t total = 0;
    if (!read_all(env, s, &full, &total, r)) {
        buf_free(&full);
        return;
    }
    /* Kill points spread over every read the source can make: the first
     * (nothing received), each in between, and after its end. */
    int max_frames = (int)(total / KILL_CHUNK) + 2;
    unsigned seed = 20261125;
    for (int round = 0; round < KILL_ROUNDS && r->outcome == CF_PASS; round++) {
        int kill_at = round == 0 ? 0 : round == 1 ? max_frames : (int)(rand_r(&seed) % (unsigned)(max_frames + 1));
        killed_read k = {0};
        etl_buf rest = {0};
        if (run_killed_reader(env, s, kill_at, &k, r) && resume_after_kill(env, s, &k, &rest, r)) {
            etl_buf joined = {0};
            buf_append(&joined, k.rows.data, k.rows.len);
            buf_append(&joined, rest.data, rest.len);
            if (strcmp(buf_cstr(&joined), buf_cstr(&full)) != 0) {
                int64_t before = 0;
                for (size_t i = 0; i < k.rows.len; i++)
                    before += k.rows.data[i] == '\n';
                describe_difference(buf_cstr(&full), buf_cstr(&joined), before, r);
                char more[256];
                snprintf(more, sizeof more, "\n  (killed after %d whole reads%s, cursor %.120s)",
                         k.frames, k.partial ? " and part of another" : "",
                         k.cursor.len ? buf_cstr(&k.cursor) : "none");
                strncat(r->message, more, sizeof r->message - strlen(r->message) - 1);
            }
            buf_free(&joined);
        }
        buf_free(&k.rows);
        buf_free(&k.cursor);
        buf_free(&k.schema);
        buf_free(&rest);
    }
    buf_free(&full);
}

/* ---- sinks --------------------------------------------------------------- */

static void check_expected_files(const cf_subject *s, cf_result *r)
{
    const ynode *files = fx_get(s->fx, "expect_files");
    for (size_t i = 0; files && files->kind == YNODE_SEQ && i < files->count; i++) {
        struct stat st;
        const char *path = files->items[i]->value;
        if (path == NULL || stat(path, &st) != 0)
            cf_fail(r, "after commit, %s does not exist", path ? path : "(not a path)");
        else if (st.st_size == 0)
            cf_fail(r, "after commit, %s is empty", path);
    }
}

static bool outcome_is_valid(etl_outcome o)
{
    return o == ETL_OK || o == ETL_ERR_RETRY || o == ETL_ERR_DATA;
}

static void sink_write_commit(const cf_env *env, const cf_subject *s, instance *in,
                              cf_result *r)
{
    const etl_sink_vtable *vt = s->conn->vtable;
    etl_batch *batch = make_batch(env, s, in->ctx, r);
    if (batch == NULL)
        return;
    etl_outcome *outcomes = calloc((size_t)batch->num_rows + 1, sizeof *outcomes);
    etl_status st = vt->write(in->state, batch, outcomes);
    if (st != ETL_OK)
        cf_fail(r, "write returned %d: %s", (int)st, ctx_error_message(in->ctx));
    for (int64_t i = 0; st == ETL_OK && i < batch->num_rows; i++) {
        if (!outcome_is_valid(outcomes[i]))
            cf_fail(r, "outcome of record %lld is %d: must be ETL_OK, ETL_ERR_RETRY or "
                       "ETL_ERR_DATA", (long long)i, (int)outcomes[i]);
    }
    free(outcomes);
    env->host->batch_release(batch);
    etl_commit_info info = {.struct_size = sizeof info, .pipeline = "conformance",
                            .partition = "0", .sequence = 1};
    if (r->outcome == CF_PASS && (st = vt->commit(in->state, &info)) != ETL_OK)
        cf_fail(r, "commit returned %d: %s", (int)st, ctx_error_message(in->ctx));
    if (r->outcome == CF_PASS && (st = vt->commit(in->state, &info)) != ETL_OK)
        cf_fail(r, "a second commit with the same info returned %d (commit must be "
                   "idempotent): %s", (int)st, ctx_error_message(in->ctx));
    if (r->outcome == CF_PASS)
        check_expected_files(s, r);
}

static void check_sink(const cf_env *env, const cf_subject *s, cf_result *r)
{
    if (lacks_fixture(s, r))
        return;
    instance in;
    instance_init(&in, env->host, s->conn, s->label);
    if (open_with_fixture(&in, s, r))
        sink_write_commit(env, s, &in, r);
    instance_free(&in);
}

/* ---- state stores -------------------------------------------------------- */

/* get of an absent key, create-only put, compare-and-swap with the right
 * and a stale version, lease exclusivity between two owners, remove. */
static void check_state_store(const cf_env *env, const cf_subject *s, cf_result *r)
{
    if (lacks_fixture(s, r))
        return;
    const etl_state_store_vtable *vt = s->conn->vtable;
    const etl_host_api *h = env->host;
    instance in;
    instance_init(&in, h, s->conn, s->label);
    etl_buf value = {0}, v1 = {0}, v2 = {0}, scratch = {0};
    const char *key = "conformance/0";
    if (!open_with_fixture(&in, s, r))
        goto done;
    vt->remove(in.state, key);
    etl_status st = vt->get(in.state, key, &value, &scratch);
    if (st != ETL_END) {
        cf_fail(r, "get of an absent key returned %d, not ETL_END", (int)st);
        goto done;
    }
    if ((st = vt->put(in.state, key, "{\"a\":1}", 7, NULL, &v1)) != ETL_OK) {
        cf_fail(r, "create-only put returned %d: %s", (int)st, ctx_error_message(in.ctx));
        goto done;
    }
    if ((st = vt->put(in.state, key, "{\"a\":9}", 7, NULL, &scratch)) != ETL_ERR_CONFLICT) {
        cf_fail(r, "a second create-only put returned %d, not ETL_ERR_CONFLICT", (int)st);
        goto done;
    }
    if ((st = vt->put(in.state, key, "{\"a\":2}", 7, buf_cstr(&v1), &v2)) != ETL_OK) {
        cf_fail(r, "put with the current version returned %d: %s", (int)st, ctx_error_message(in.ctx));
        goto done;
    }
    if ((st = vt->put(in.state, key, "{\"a\":3}", 7, buf_cstr(&v1), &scratch)) != ETL_ERR_CONFLICT) {
        cf_fail(r, "put with a stale version returned %d, not ETL_ERR_CONFLICT", (int)st);
        goto done;
    }
    buf_reset(&value);
    if ((st = vt->get(in.state, key, &value, &scratch)) != ETL_OK || strcmp(buf_cstr(&value), "{\"a\":2}") != 0) {
        cf_fail(r, "get after the writes returned %d and '%s', wanted {\"a\":2}", (int)st, buf_cstr(&value));
        goto done;
    }
    if ((st = vt->lease_acquire(in.state, key, "owner-one", 60000)) != ETL_OK) {
        cf_fail(r, "lease_acquire returned %d: %s", (int)st, ctx_error_message(in.ctx));
        goto done;
    }
    if ((st = vt->lease_acquire(in.state, key, "owner-one", 60000)) != ETL_OK) {
        cf_fail(r, "renewing a lease by its owner returned %d", (int)st);
        goto done;
    }
    instance other;
    instance_init(&other, h, s->conn, s->label);
    if (open_with_fixture(&other, s, r)) {
        st = vt->lease_acquire(other.state, key, "owner-two", 60000);
        if (st != ETL_ERR_CONFLICT)
            cf_fail(r, "a second owner got a held lease (status %d)", (int)st);
    }
    instance_free(&other);
    vt->lease_release(in.state, key, "owner-one");
    if (r->outcome == CF_PASS && vt->remove(in.state, key) != ETL_OK)
        cf_fail(r, "remove failed: %s", ctx_error_message(in.ctx));
done:
    buf_free(&value);
    buf_free(&v1);
    buf_free(&v2);
    buf_free(&scratch);
    instance_free(&in);
}

/* ---- transforms ---------------------------------------------------------- */

static void check_transform(const cf_env *env, const cf_subject *s, cf_result *r)
{
    if (lacks_fixture(s, r))
        return;
    const etl_transform_vtable *vt = s->conn->vtable;
    instance in;
    instance_init(&in, env->host, s->conn, s->label);
    etl_batch *batch = NULL;
    if (open_with_fixture(&in, s, r))
        batch = make_batch(env, s, in.ctx, r);
    etl_batch *out = NULL;
    etl_status st = batch ? vt->process(in.state, batch, &out) : ETL_ERR_PERMANENT;
    if (batch && st != ETL_OK)
        cf_fail(r, "process returned %d: %s", (int)st, ctx_error_message(in.ctx));
    else if (batch && out == NULL)
        cf_fail(r, "process returned ETL_OK without an output batch");
    int64_t rows;
    if (out && fx_int(s->fx, "expect_rows", &rows) && out->num_rows != rows)
        cf_fail(r, "the output has %lld rows, the fixture expects %lld",
                (long long)out->num_rows, (long long)rows);
    const char *first = fx_scalar(s->fx, "expect_first_row");
    if (out && first) {
        etl_buf line = {0};
        if (out->num_rows == 0)
            cf_fail(r, "the output is empty; expected first row %s", first);
        else if (env->host->json_write_row(out, 0, &line) == ETL_OK &&
                 strcmp(buf_cstr(&line), first) != 0)
            cf_fail(r, "first output row:\n  got:      %s\n  expected: %s", line.data, first);
        buf_free(&line);
    }
    if (out)
        env->host->batch_release(out);
    instance_free(&in);
}

/* ---- formats ------------------------------------------------------------- */

static bool read_back(const cf_env *env, const cf_subject *s, instance *w, etl_buf *lines,
                      int64_t *rows, cf_result *r)
{
    const etl_format_vtable *vt = s->conn->vtable;
    mem_bytes src = {.host = env->host, .buf = w->out.buf};
    etl_byte_source in = {.struct_size = sizeof in, .user = &src, .name = "memory",
                          .read = mem_read};
    void *state = NULL;
    etl_status st = vt->reader_open(w->ctx, w->opts, &in, &state);
    if (st != ETL_OK) {
        cf_fail(r, "reader_open returned %d: %s", (int)st, ctx_error_message(w->ctx));
        return false;
    }
    etl_builder *b = env->host->builder_new(w->ctx);
    bool ok = b != NULL;
    int idle = 0;
    while (ok) {
        st = vt->read(state, b, READ_CHUNK, INT64_C(1) << 30);
        if (ETL_STATUS_IS_FAILURE(st)) {
            cf_fail(r, "read returned %d: %s", (int)st, ctx_error_message(w->ctx));
            ok = false;
            break;
        }
        int64_t n = env->host->builder_rows(b);
        etl_batch *batch = NULL;
        ok = env->host->builder_finish(b, &batch) == ETL_OK && encode_rows(env->host, batch, lines, r);
        if (batch)
            env->host->batch_release(batch);
        *rows += n;
        idle = n == 0 ? idle + 1 : 0;
        if (st == ETL_END)
            break;
        if (idle > MAX_IDLE_READS) {
            cf_fail(r, "the reader returned ETL_OK with no records %d times in a row", idle);
            ok = false;
        }
    }
    if (b)
        env->host->builder_free(b);
    vt->reader_close(state);
    return ok;
}

static void format_write_batch(const cf_env *env, const cf_subject *s, instance *in,
                               etl_batch *batch, cf_result *r)
{
    const etl_format_vtable *vt = s->conn->vtable;
    etl_status st = vt->write(in->state, batch);
    if (st != ETL_OK)
        cf_fail(r, "write returned %d: %s", (int)st, ctx_error_message(in->ctx));
    else if ((st = vt->finish(in->state)) != ETL_OK)
        cf_fail(r, "finish returned %d: %s", (int)st, ctx_error_message(in->ctx));
    else if (in->out.buf.len == 0)
        cf_fail(r, "writing a batch of %lld records produced no bytes", (long long)batch->num_rows);
    else if (vt->bytes_written(in->state) >= 0 &&
             vt->bytes_written(in->state) != (int64_t)in->out.buf.len)
        cf_fail(r, "bytes_written says %lld, the byte sink got %zu",
                (long long)vt->bytes_written(in->state), in->out.buf.len);
}

static void check_format(const cf_env *env, const cf_subject *s, cf_result *r)
{
    if (lacks_fixture(s, r))
        return;
    const etl_format_vtable *vt = s->conn->vtable;
    instance in;
    instance_init(&in, env->host, s->conn, s->label);
    etl_batch *batch = NULL;
    if (open_with_fixture(&in, s, r))
        batch = make_batch(env, s, in.ctx, r);
    etl_buf want = {0}, got = {0};
    if (batch) {
        encode_rows(env->host, batch, &want, r);
        format_write_batch(env, s, &in, batch, r);
    }
    int64_t rows = 0;
    if (r->outcome == CF_PASS && vt->reader_open == NULL) {
        cf_skip(r, "write only (no reader): wrote %zu bytes", in.out.buf.len);
    } else if (r->outcome == CF_PASS && read_back(env, s, &in, &got, &rows, r)) {
        const char *mode = fx_scalar(s->fx, "roundtrip");
        if (rows != batch->num_rows)
            cf_fail(r, "wrote %lld records, read back %lld", (long long)batch->num_rows,
                    (long long)rows);
        else if ((mode == NULL || strcmp(mode, "exact") == 0) &&
                 strcmp(buf_cstr(&want), buf_cstr(&got)) != 0)
            describe_difference(buf_cstr(&want), buf_cstr(&got), -1, r);
    }
    if (batch)
        env->host->batch_release(batch);
    buf_free(&want);
    buf_free(&got);
    instance_free(&in);
}

/* ------------------------------------------------------------------------ */
/* Running the checks                                                        */
/* ------------------------------------------------------------------------ */

typedef struct connector_call {
    cf_connector_check fn;
    const cf_subject *subject;
} connector_call;

static void call_plugin_check(const cf_env *env, const void *arg, cf_result *r)
{
    cf_plugin_check fn;
    memcpy(&fn, arg, sizeof fn);
    fn(env, r);
}

static void call_connector_check(const cf_env *env, const void *arg, cf_result *r)
{
    const connector_call *call = arg;
    call->fn(env, call->subject, r);
}

static void run_plugin_check(const cf_env *env, const char *what, cf_plugin_check fn)
{
    cf_result r;
    run_isolated(env, call_plugin_check, &fn, &r);
    tap_print(what, &r);
}

static void run_connector_check(const cf_env *env, const cf_subject *s, const char *what,
                                cf_connector_check fn)
{
    char description[256];
    snprintf(description, sizeof description, "%s: %s", s->label, what);
    connector_call call = {fn, s};
    cf_result r;
    run_isolated(env, call_connector_check, &call, &r);
    tap_print(description, &r);
}

static void run_connector(const cf_env *env, const cf_subject *s)
{
    run_connector_check(env, s, "struct sizes", check_sizes);
    run_connector_check(env, s, "option schema", check_schema);
    run_connector_check(env, s, "bad options are refused", check_bad_options);
    run_connector_check(env, s, "open with bad values fails cleanly", check_bad_open);
    run_connector_check(env, s, "open/close 100 times", check_open_close);
    switch (s->conn->kind) {
    case ETL_KIND_SOURCE:
        run_connector_check(env, s, "reads to its end", check_read_all);
        run_connector_check(env, s, "checkpoint then restore yields the rest", check_checkpoint);
        run_connector_check(env, s, "killed at random reads, resumed, reads exactly the rest",
                            check_kill_resume);
        break;
    case ETL_KIND_TRANSFORM:
        run_connector_check(env, s, "processes a batch", check_transform);
        break;
    case ETL_KIND_SINK:
        run_connector_check(env, s, "per-record outcomes, idempotent commit", check_sink);
        break;
    case ETL_KIND_FORMAT:
        run_connector_check(env, s, "writes a batch and reads it back", check_format);
        break;
    case ETL_KIND_STATE_STORE:
        run_connector_check(env, s, "compare-and-swap, lease, remove", check_state_store);
        break;
    }
}

static void run_all(const cf_env *env)
{
    cf_result loaded = {.outcome = CF_PASS};
    tap_print("plugin loads and passes the loader's checks", &loaded);
    run_plugin_check(env, "entry point handshake", check_handshake);
    run_plugin_check(env, "descriptor: sizes, ABI, name, version", check_descriptor);
    run_plugin_check(env, "connector names are unique per kind", check_unique_names);
    const etl_connector *const *cs = env->plugin->desc->connectors;
    for (size_t i = 0; cs[i] != NULL; i++) {
        cf_subject s = {.conn = cs[i], .raw = env->raw->connectors[i],
                        .fx = fixture_for(env->fixture, cs[i])};
        snprintf(s.label, sizeof s.label, "%s %s", connector_kind_name(cs[i]->kind),
                 cs[i]->name);
        run_connector(env, &s);
    }
}

/* ------------------------------------------------------------------------ */
/* The scratch directory and the fixture's files                             */
/* ------------------------------------------------------------------------ */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static bool safe_relative(const char *path)
{
    return path[0] != '/' && strstr(path, "..") == NULL;
}

static bool make_parents(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    for (char *p = strchr(dir, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return false;
        *p = '/';
    }
    return true;
}

static bool create_files(const ynode *files, char *err, size_t err_len)
{
    for (size_t i = 0; files && files->kind == YNODE_MAP && i < files->count; i++) {
        const char *path = files->keys[i]->value;
        const ynode *content = files->items[i];
        char where[128];
        if (!safe_relative(path) || content->kind != YNODE_SCALAR) {
            snprintf(err, err_len, "%s: files: '%s' must be a relative path (no ..) with text",
                     ynode_where(files->keys[i], where, sizeof where), path);
            return false;
        }
        FILE *f = make_parents(path) ? fopen(path, "wb") : NULL;
        bool ok = f && fwrite(content->value, 1, strlen(content->value), f) ==
                           strlen(content->value);
        if (f && fclose(f) != 0)
            ok = false;
        if (!ok) {
            snprintf(err, err_len, "cannot create %s: %s", path, strerror(errno));
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* main                                                                      */
/* ------------------------------------------------------------------------ */

static int usage(void)
{
    fprintf(stderr, "Usage: etl-conformance [--fixture FILE.yaml] [--no-fork] PLUGIN.so|--builtin\n");
    return 2;
}

/* Prints the refusal both as TAP and on stderr. */
static int fail_early(const char *what, const char *why)
{
    cf_result r = {.outcome = CF_FAIL};
    snprintf(r.message, sizeof r.message, "%s", why);
    tap_print(what, &r);
    printf("1..%d\n", tap_count);
    fprintf(stderr, "etl-conformance: %s\n", why);
    return 1;
}

static const etl_plugin_descriptor *raw_descriptor(const loaded_plugin *p,
                                                   const etl_host_api *host)
{
    void *sym = lt_dlsym((lt_dlhandle)p->handle, ETL_PLUGIN_ENTRY_SYMBOL);
    if (sym == NULL)
        return NULL;
    etl_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry);
    return entry(host);
}

typedef struct cf_args {
    const char *fixture;
    const char *plugin;
    bool builtin;                /* the host's own connectors, not a file */
    bool fork_checks;
} cf_args;

static bool parse_args(int argc, char **argv, cf_args *a)
{
    *a = (cf_args){.fork_checks = true};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--fixture") == 0 && i + 1 < argc)
            a->fixture = argv[++i];
        else if (strcmp(argv[i], "--no-fork") == 0)
            a->fork_checks = false;
        else if (strcmp(argv[i], "--builtin") == 0)
            a->builtin = true;
        else if (argv[i][0] == '-' || a->plugin != NULL)
            return false;
        else
            a->plugin = argv[i];
    }
    return (a->plugin != NULL) != a->builtin;
}

/* Loads the fixture, makes the scratch directory and moves into it. */
static int prepare(const cf_args *a, ynode **fixture, char *scratch, char *err, size_t err_len)
{
    if (a->fixture) {
        etl_buf errors = {0};
        *fixture = ydoc_load_file(a->fixture, &errors);
        if (*fixture == NULL)
            snprintf(err, err_len, "fixture %s: %s", a->fixture, buf_cstr(&errors));
        buf_free(&errors);
        if (*fixture == NULL)
            return 1;
    }
    if (mkdtemp(scratch) == NULL || chdir(scratch) != 0) {
        snprintf(err, err_len, "cannot make a scratch directory %s: %s", scratch,
                 strerror(errno));
        return 1;
    }
    return create_files(fx_get(*fixture, "files"), err, err_len) ? 0 : 1;
}

static int run_plugin(const cf_args *a, const ynode *fixture)
{
    char err[2048];
    cf_env env = {.host = host_api(), .fixture = fixture, .fork_checks = a->fork_checks};
    env.reg = registry_new();
    if (env.reg == NULL)
        return fail_early("plugin loads", "cannot initialize libltdl");
    int status = 1;
    etl_status loaded = a->builtin ? registry_add_descriptor(env.reg, "(built into etl)",
                                                             builtin_plugin_descriptor(), err,
                                                             sizeof err)
                                   : registry_load_file(env.reg, a->plugin, err, sizeof err);
    if (loaded != ETL_OK) {
        status = fail_early("plugin loads and passes the loader's checks", err);
    } else {
        format_use_registry(env.reg);
        env.plugin = registry_at(env.reg, 0);
        env.raw = a->builtin ? builtin_plugin_descriptor() : raw_descriptor(env.plugin, env.host);
        if (env.raw == NULL) {
            status = fail_early("plugin loads", "the entry point returned NULL the second time");
        } else {
            printf("# plugin %s %s from %s\n", env.plugin->desc->name, env.plugin->desc->version,
                   env.plugin->path);
            run_all(&env);
            printf("1..%d\n", tap_count);
            status = tap_failed ? 1 : 0;
        }
    }
    format_use_registry(NULL);
    registry_free(env.reg);
    return status;
}

int main(int argc, char **argv)
{
    cf_args a;
    if (!parse_args(argc, argv, &a))
        return usage();
    char plugin[PATH_MAX], fixture_path[PATH_MAX];
    if (!a.builtin && realpath(a.plugin, plugin) == NULL) {
        char why[PATH_MAX + 64];
        snprintf(why, sizeof why, "%s: %s", a.plugin, strerror(errno));
        return fail_early("plugin loads", why);
    }
    if (!a.builtin)
        a.plugin = plugin;
    if (a.fixture && realpath(a.fixture, fixture_path) != NULL)
        a.fixture = fixture_path;

    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == NULL)
        return fail_early("setup", strerror(errno));
    const char *tmp = getenv("TMPDIR");
    char scratch[PATH_MAX];
    snprintf(scratch, sizeof scratch, "%s/etl-conformance.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ynode *fixture = NULL;
    char err[PATH_MAX + 256];
    int status = prepare(&a, &fixture, scratch, err, sizeof err);
    if (status != 0)
        status = fail_early("fixture and scratch directory", err);
    else
        status = run_plugin(&a, fixture);
    ynode_free(fixture);
    if (chdir(cwd) == 0 && strstr(scratch, "XXXXXX") == NULL && getenv("ETL_KEEP_SCRATCH") == NULL)
        nftw(scratch, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return status;
}
