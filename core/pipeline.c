#include "pipeline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "exit_status.h"
#include "format.h"
#include "options.h"
#include "state_store_file.h"
#include "strutil.h"

/* Settings sections are validated with the same machinery as connector
 * options, through schemas the host declares for itself. */
static const etl_option_spec batch_spec[] = {
    {"records", ETL_OPT_INT, "1000", "records per batch (the source's page size)", 0, NULL},
    {"bytes", ETL_OPT_SIZE, "8MiB", "a batch ends early once it holds this many bytes", 0, NULL},
    {"prefetch", ETL_OPT_INT, "1",
     "batches read ahead on a second thread while the sink writes (0: read inline; at most 4)",
     0, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};
static const etl_option_spec throttle_spec[] = {
    {"requests_per_second", ETL_OPT_DOUBLE, "0", "cap on source requests per second (0: none)", 0, NULL},
    {"records_per_second", ETL_OPT_DOUBLE, "0", "cap on records read per second (0: none)", 0, NULL},
    {"max_in_flight", ETL_OPT_INT, "1", "cap on concurrent source requests", 0, NULL},
    {"adaptive", ETL_OPT_BOOL, "true",
     "lower the request rate when the source answers 429/503 or slows down, raise it back "
     "when calm (AIMD); false keeps exactly the configured rate", 0, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};
static const etl_option_spec retry_spec[] = {
    {"max_attempts", ETL_OPT_INT, "6", "attempts of a retryable call before the run fails", 0, NULL},
    {"base_delay", ETL_OPT_DURATION, "200ms", "first backoff delay (doubles each retry, jittered)", 0, NULL},
    {"max_delay", ETL_OPT_DURATION, "20s", "cap on one backoff delay", 0, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

static const etl_option_spec checkpoint_spec[] = {
    {"every", ETL_OPT_LIST, "10000 records",
     "commit and save the state every N records, a duration (30s) or a size (64MB); "
     "several may be given", 0, NULL},
    {"store", ETL_OPT_ANY, "file",
     "the state store: a name, or a mapping {type: file, path: .etl-state}", 0, NULL},
    {NULL, 0, NULL, NULL, 0, NULL},
};

#define SETTINGS_CONNECTOR(var, section, spec)                                                  \
    static const etl_connector var = {.struct_size = sizeof(etl_connector),                    \
                                      .kind = ETL_KIND_SOURCE,                                  \
                                      .name = section,                                          \
                                      .options = spec,                                          \
                                      .option_spec_size = sizeof(etl_option_spec)}
SETTINGS_CONNECTOR(batch_settings, "batch", batch_spec);
SETTINGS_CONNECTOR(throttle_settings, "throttle", throttle_spec);
SETTINGS_CONNECTOR(retry_settings, "retry", retry_spec);
SETTINGS_CONNECTOR(checkpoint_settings, "checkpoint", checkpoint_spec);

static const char *const top_level_keys[] = {
    "pipeline", "source", "transforms", "sink", "batch", "throttle", "retry", "rejects",
    "plugin_path", "checkpoint", "budget", "catalog", "partitions", "schema_policy",
};
/* Keys of the design that later versions implement: refused, not ignored. */
static const char *const not_yet_supported[] = {
    "catalog", "partitions", "schema_policy",
};


#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct loader {
    pipeline *p;
    etl_buf *errors;
    int status;                  /* the first failure class seen */
} loader;

static void fail(loader *l, int status, const ynode *at, const char *fmt, ...) ETL_PRINTF(4, 5);
static void fail(loader *l, int status, const ynode *at, const char *fmt, ...)
{
    char where[256];
    if (l->errors->len && l->errors->data[l->errors->len - 1] != '\n')
        buf_append_char(l->errors, '\n');
    if (at)
        buf_printf(l->errors, "%s: ", ynode_where(at, where, sizeof where));
    else
        buf_printf(l->errors, "%s: ", l->p->path);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(l->errors, fmt, ap);
    va_end(ap);
    buf_append_char(l->errors, '\n');
    if (l->status == EXIT_OK)
        l->status = status;
}

static bool contains(const char *const *list, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], key) == 0)
            return true;
    return false;
}

static void check_top_level_keys(loader *l, const ynode *root)
{
    for (size_t i = 0; i < root->count; i++) {
        const ynode *key = root->keys[i];
        if (contains(not_yet_supported, COUNT(not_yet_supported), key->value)) {
            fail(l, EXIT_UNSUPPORTED, key,
                 "'%s' is not supported by this version of etl yet (see docs/pipelines.md)",
                 key->value);
        } else if (!contains(top_level_keys, COUNT(top_level_keys), key->value)) {
            const char *hint = closest_match(key->value, top_level_keys, COUNT(top_level_keys));
            if (hint)
                fail(l, EXIT_CONFIG, key, "unknown key '%s' (did you mean '%s'?)", key->value,
                     hint);
            else
                fail(l, EXIT_CONFIG, key,
                     "unknown key '%s' (known: pipeline, source, transforms, sink, batch, "
                     "throttle, retry, rejects, checkpoint, budget, plugin_path)",
                     key->value);
        }
    }
}

static const char *scalar_at(loader *l, const ynode *map, const char *key, bool required)
{
    const ynode *node = ynode_get(map, key);
    if (node == NULL) {
        if (required)
            fail(l, EXIT_CONFIG, map, "missing '%s'", key);
        return NULL;
    }
    if (node->kind != YNODE_SCALAR) {
        fail(l, EXIT_CONFIG, node, "'%s' must be a single value, not a %s", key,
             ynode_kind_name(node->kind));
        return NULL;
    }
    return node->value;
}

static void unknown_connector(loader *l, const ynode *at, etl_connector_kind kind,
                              const char *name)
{
    const char **names = registry_connector_names(l->p->registry, kind);
    size_t n = 0;
    etl_buf known = {0};
    for (; names && names[n]; n++)
        buf_printf(&known, "%s%s", n ? ", " : "", names[n]);
    const char *hint = closest_match(name, names, n);
    etl_buf hint_text = {0};
    if (hint)
        buf_printf(&hint_text, " (did you mean '%s'?)", hint);
    fail(l, EXIT_PLUGIN, at,
         "no %s connector named '%s'%s; %s connectors loaded: %s. Run 'etl plugins' to see "
         "where etl looked.",
         connector_kind_name(kind), name, hint_text.len ? buf_cstr(&hint_text) : "",
         connector_kind_name(kind), known.len ? buf_cstr(&known) : "none");
    buf_free(&hint_text);
    buf_free(&known);
    free(names);
}

/* Sources and sinks name a format under `format:` (a name, or a mapping
 * with `type`); its options are checked here so `etl validate` sees them. */
static void check_stage_format(loader *l, const ynode *stage_node)
{
    const ynode *format = ynode_get(stage_node, "format");
    if (format == NULL)
        return;
    const ynode *name_node = format->kind == YNODE_MAP ? ynode_get(format, "type") : format;
    if (name_node == NULL || name_node->kind != YNODE_SCALAR) {
        fail(l, EXIT_CONFIG, format, "format needs a 'type' (for example: format: {type: ndjson})");
        return;
    }
    if (strcmp(name_node->value, "auto") == 0)
        return;
    const etl_connector *conn =
        registry_find(l->p->registry, ETL_KIND_FORMAT, name_node->value, NULL);
    if (conn == NULL) {
        unknown_connector(l, name_node, ETL_KIND_FORMAT, name_node->value);
        return;
    }
    if (format->kind == YNODE_MAP) {
        static const char *const skip[] = {"type", NULL};
        etl_options *checked = options_from_node(conn, format, skip, l->errors);
        if (checked == NULL && l->status == EXIT_OK)
            l->status = EXIT_CONFIG;
        options_free(checked);
    }
}

static void resolve_stage(loader *l, const ynode *node, etl_connector_kind kind, const char *what,
                          size_t index, stage *out)
{
    if (node == NULL)
        return;
    if (node->kind != YNODE_MAP) {
        fail(l, EXIT_CONFIG, node, "%s must be a mapping with a 'type' (for example {type: file})",
             what);
        return;
    }
    const char *type = scalar_at(l, node, "type", true);
    if (type == NULL)
        return;
    out->connector = registry_find(l->p->registry, kind, type, &out->plugin);
    if (out->connector == NULL) {
        unknown_connector(l, ynode_get(node, "type"), kind, type);
        return;
    }
    if (kind == ETL_KIND_TRANSFORM)
        snprintf(out->label, sizeof out->label, "transform %s#%zu", type, index + 1);
    else
        snprintf(out->label, sizeof out->label, "%s %s", what, type);
    static const char *const skip[] = {"type", NULL};
    size_t errors_before = l->errors->len;
    out->options = options_from_node(out->connector, node, skip, l->errors);
    if (out->options == NULL && l->status == EXIT_OK)
        l->status = EXIT_CONFIG;
    if (l->errors->len == errors_before)
        check_stage_format(l, node);
}

static etl_options *settings(loader *l, const ynode *root, const char *key,
                             const etl_connector *schema)
{
    etl_options *o = options_from_node(schema, ynode_get(root, key), NULL, l->errors);
    if (o == NULL && l->status == EXIT_OK)
        l->status = EXIT_CONFIG;
    return o;
}

static void read_settings(loader *l, const ynode *root)
{
    pipeline *p = l->p;
    etl_options *batch = settings(l, root, "batch", &batch_settings);
    etl_options *throttle = settings(l, root, "throttle", &throttle_settings);
    etl_options *retry = settings(l, root, "retry", &retry_settings);
    if (batch) {
        options_int(batch, "records", &p->batch_records);
        options_size(batch, "bytes", &p->batch_bytes);
        options_int(batch, "prefetch", &p->batch_prefetch);
        if (p->batch_prefetch < 0 || p->batch_prefetch > 4)
            fail(l, EXIT_CONFIG, ynode_get(root, "batch"), "batch.prefetch must be 0 to 4");
        if (p->batch_records <= 0)
            fail(l, EXIT_CONFIG, ynode_get(root, "batch"), "batch.records must be at least 1");
    }
    if (throttle) {
        options_double(throttle, "requests_per_second", &p->requests_per_second);
        options_double(throttle, "records_per_second", &p->records_per_second);
        options_int(throttle, "max_in_flight", &p->max_in_flight);
        options_bool(throttle, "adaptive", &p->throttle_adaptive);
    }
    if (retry) {
        options_int(retry, "max_attempts", &p->retry_max_attempts);
        options_duration_ms(retry, "base_delay", &p->retry_base_ms);
        options_duration_ms(retry, "max_delay", &p->retry_max_ms);
        if (p->retry_max_attempts < 1)
            fail(l, EXIT_CONFIG, ynode_get(root, "retry"), "retry.max_attempts must be at least 1");
    }
    options_free(batch);
    options_free(throttle);
    options_free(retry);
}

/* "50000 records", "30s", "64MB": one checkpoint trigger. */
static bool parse_trigger(pipeline *p, const char *text)
{
    char *end = NULL;
    long long n = strtoll(text, &end, 10);
    while (end && *end == ' ')
        end++;
    if (end && end != text && n > 0 &&
        (strcmp(end, "records") == 0 || strcmp(end, "record") == 0)) {
        p->checkpoint_every_records = n;
        return true;
    }
    int64_t value;
    if (parse_duration_ms(text, &value) && strpbrk(text, "hms") && !strpbrk(text, "BbKkGg")) {
        p->checkpoint_every_ms = value;
        return true;
    }
    if (parse_size_bytes(text, &value) && value > 0 && strpbrk(text, "BbKkMmGgTt")) {
        p->checkpoint_every_bytes = value;
        return true;
    }
    return false;
}

static void read_checkpoint(loader *l, const ynode *root)
{
    pipeline *p = l->p;
    const ynode *node = ynode_get(root, "checkpoint");
    const ynode *budget = ynode_get(root, "budget");
    if (budget) {
        if (budget->kind != YNODE_SCALAR || !parse_duration_ms(budget->value, &p->budget_ms) ||
            p->budget_ms <= 0)
            fail(l, EXIT_CONFIG, budget, "budget must be a duration such as 14m30s or 900s");
    }
    if (node == NULL && budget == NULL)
        return;
    p->checkpointing = true;
    etl_options *o = settings(l, root, "checkpoint", &checkpoint_settings);
    if (o == NULL)
        return;
    for (size_t i = 0; i < options_list_count(o, "every"); i++) {
        const char *text = options_list_item(o, "every", i);
        if (!parse_trigger(p, text))
            fail(l, EXIT_CONFIG, ynode_get(node, "every") ? ynode_get(node, "every") : node,
                 "checkpoint.every: '%s' is not 'N records', a duration (30s) or a size (64MB)",
                 text);
    }
    options_free(o);
}

/* The state store is a connector like any other (the host's own `file`,
 * or a plugin's). */
static void resolve_state_store(loader *l, const ynode *root)
{
    pipeline *p = l->p;
    snprintf(p->state_key, sizeof p->state_key, "%s/0", p->name);
    const ynode *checkpoint = ynode_get(root, "checkpoint");
    const ynode *store = checkpoint ? ynode_get(checkpoint, "store") : NULL;
    const char *type = "file";
    const ynode *options = NULL;
    if (store && store->kind == YNODE_SCALAR) {
        type = store->value;
    } else if (store && store->kind == YNODE_MAP) {
        const ynode *t = ynode_get(store, "type");
        if (t == NULL || t->kind != YNODE_SCALAR) {
            fail(l, EXIT_CONFIG, store, "checkpoint.store needs a 'type' (for example file)");
            return;
        }
        type = t->value;
        options = store;
    }
    p->state_store.connector =
        registry_find(p->registry, ETL_KIND_STATE_STORE, type, &p->state_store.plugin);
    if (p->state_store.connector == NULL) {
        unknown_connector(l, store ? store : checkpoint ? checkpoint : root, ETL_KIND_STATE_STORE,
                          type);
        return;
    }
    snprintf(p->state_store.label, sizeof p->state_store.label, "state store %s", type);
    static const char *const skip[] = {"type", NULL};
    p->state_store.options = options_from_node(p->state_store.connector, options, skip, l->errors);
    if (p->state_store.options == NULL && l->status == EXIT_OK)
        l->status = EXIT_CONFIG;
}

static char *default_pipeline_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char *name = xstrdup(base);
    char *dot = strrchr(name, '.');
    if (dot && dot != name)
        *dot = '\0';
    return name;
}

static bool valid_pipeline_name(const char *name)
{
    if (*name == '\0')
        return false;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '_' || *c == '.'))
            return false;
    return true;
}

static void load_plugins(loader *l, const ynode *root, const char *cli_plugin_path)
{
    const char *from_file = scalar_at(l, root, "plugin_path", false);
    etl_buf extra = {0};
    if (cli_plugin_path)
        buf_append_str(&extra, cli_plugin_path);
    if (from_file) {
        /* Relative plugin paths are relative to the pipeline file. */
        if (extra.len)
            buf_append_char(&extra, ':');
        if (from_file[0] != '/' && strchr(l->p->path, '/')) {
            const char *slash = strrchr(l->p->path, '/');
            buf_append(&extra, l->p->path, (size_t)(slash - l->p->path + 1));
        }
        buf_append_str(&extra, from_file);
    }
    char **dirs = registry_search_path(extra.len ? buf_cstr(&extra) : NULL);
    size_t n = 0;
    while (dirs[n])
        n++;
    etl_buf report = {0};
    l->p->registry = registry_new();
    registry_load_dirs(l->p->registry, (const char *const *)dirs, n, &report);
    size_t loaded_from_dirs = registry_count(l->p->registry);
    char builtin_error[256];
    registry_add_descriptor(l->p->registry, "(built into etl)", builtin_plugin_descriptor(),
                            builtin_error, sizeof builtin_error);
    if (loaded_from_dirs == 0)
        fail(l, EXIT_PLUGIN, NULL, "no plugins could be loaded. Tried:\n%s",
             report.len ? buf_cstr(&report) : "(no directories)");
    buf_free(&report);
    buf_free(&extra);
    registry_free_search_path(dirs);
    format_use_registry(l->p->registry);
}

pipeline *pipeline_load(const char *path, const char *plugin_path, etl_buf *errors,
                        int *exit_status)
{
    pipeline *p = calloc(1, sizeof *p);
    loader l = {.p = p, .errors = errors, .status = EXIT_OK};
    p->path = xstrdup(path);
    p->batch_records = 1000;
    p->batch_bytes = 8 << 20;
    p->batch_prefetch = 1;
    p->max_in_flight = 1;
    p->throttle_adaptive = true;
    p->retry_max_attempts = 6;
    p->retry_base_ms = 200;
    p->retry_max_ms = 20000;

    p->doc = ydoc_load_file(path, errors);
    if (p->doc == NULL) {
        struct stat st;
        *exit_status = stat(path, &st) == 0 ? EXIT_CONFIG : EXIT_IO;
        pipeline_free(p);
        return NULL;
    }
    const ynode *root = p->doc;
    if (root->kind != YNODE_MAP) {
        fail(&l, EXIT_CONFIG, root, "a pipeline file is a mapping (pipeline:, source:, sink: ...)");
        goto done;
    }
    check_top_level_keys(&l, root);
    const char *name = scalar_at(&l, root, "pipeline", false);
    p->name = name ? xstrdup(name) : default_pipeline_name(path);
    if (!valid_pipeline_name(p->name))
        fail(&l, EXIT_CONFIG, ynode_get(root, "pipeline") ? ynode_get(root, "pipeline") : root,
             "pipeline name '%s' may only use letters, digits, '-', '_' and '.'", p->name);
    const char *rejects = scalar_at(&l, root, "rejects", false);
    if (rejects)
        p->rejects_path = xstrdup(rejects);
    read_settings(&l, root);
    read_checkpoint(&l, root);

    const ynode *source = ynode_get(root, "source");
    const ynode *sink = ynode_get(root, "sink");
    if (source == NULL)
        fail(&l, EXIT_CONFIG, root, "missing 'source' (for example source: {type: file, path: in.ndjson})");
    if (sink == NULL)
        fail(&l, EXIT_CONFIG, root, "missing 'sink' (for example sink: {type: file, path: out})");
    if (l.status != EXIT_OK)
        goto done;

    load_plugins(&l, root, plugin_path);
    if (l.status != EXIT_OK)
        goto done;
    resolve_stage(&l, source, ETL_KIND_SOURCE, "source", 0, &p->source);
    const ynode *transforms = ynode_get(root, "transforms");
    if (transforms && transforms->kind != YNODE_SEQ && !(transforms->kind == YNODE_SCALAR &&
                                                         transforms->value[0] == '\0')) {
        fail(&l, EXIT_CONFIG, transforms, "'transforms' must be a list (- {type: select, ...})");
    } else if (transforms && transforms->kind == YNODE_SEQ) {
        p->transforms = calloc(transforms->count ? transforms->count : 1, sizeof(stage));
        p->transform_count = transforms->count;
        for (size_t i = 0; i < transforms->count; i++)
            resolve_stage(&l, transforms->items[i], ETL_KIND_TRANSFORM, "transform", i,
                          &p->transforms[i]);
    }
    resolve_stage(&l, sink, ETL_KIND_SINK, "sink", 0, &p->sink);
    /* Resolved even without checkpoints, for 'etl state'. */
    if (l.status == EXIT_OK)
        resolve_state_store(&l, root);
    if (p->checkpointing && l.status == EXIT_OK) {
        const etl_source_vtable *svt = p->source.connector->vtable;
        if (svt->checkpoint == NULL || svt->restore == NULL)
            fail(&l, EXIT_UNSUPPORTED, ynode_get(source, "type"),
                 "source '%s' cannot be resumed (it has no checkpoint/restore), so it cannot run "
                 "with checkpoint: or budget: (not supported)",
                 p->source.connector->name);
    }

done:
    if (l.status != EXIT_OK) {
        *exit_status = l.status;
        pipeline_free(p);
        return NULL;
    }
    *exit_status = EXIT_OK;
    return p;
}

static void stage_free(stage *s) { options_free(s->options); }

void pipeline_free(pipeline *p)
{
    if (p == NULL)
        return;
    stage_free(&p->source);
    for (size_t i = 0; i < p->transform_count; i++)
        stage_free(&p->transforms[i]);
    free(p->transforms);
    stage_free(&p->sink);
    stage_free(&p->state_store);
    if (p->registry) {
        format_use_registry(NULL);
        registry_free(p->registry);
    }
    ynode_free(p->doc);
    free(p->name);
    free(p->path);
    free(p->rejects_path);
    free(p);
}
