/* Connector options: one YAML mapping checked against a connector's schema,
 * then read by the connector through the opt_* entries of the host API.
 *
 * Ownership: an etl_options owns everything it reads. options_from_node()
 * deep-copies the mapping (with its own copy of the file name), so the
 * caller may free its ynode tree right away; options_from_string() keeps
 * the tree it parsed. Child options (options_map) borrow nodes from their
 * parent's tree, are built together with the parent (so the getters never
 * allocate and are safe to call from several threads) and are freed by
 * options_free() of the parent.
 *
 * A value written as nothing (`key:`), `~` or `null`, unquoted, counts as
 * absent: the getters return the schema default and a required option is
 * still missing. So `endpoint: ${S3_ENDPOINT:-}` means "use the default".
 *
 * Typed options accept quoted text ("9200" for an INT): people quote
 * numbers, and the schema already says what the value is.
 */
#include "options.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "plugin_loader.h"
#include "strutil.h"

/* Guards against a plugin whose option array lacks its terminator. */
#define OPTIONS_MAX_SPECS 4096

typedef struct options_child {
    const char *key;        /* borrowed from the parent's nodes or specs */
    etl_options *opts;
} options_child;

struct etl_options {
    const etl_connector *connector;     /* NULL: no schema */
    char label[160];                    /* "source 'file'" */
    ynode *tree;                        /* owned, may be NULL */
    const ynode *map;                   /* the mapping read (in tree or a parent's) */
    etl_option_spec *specs;             /* host-sized copies of the schema */
    size_t spec_count;
    ynode **defaults;                   /* per spec, owned; NULL: no default */
    char **key_where;                   /* per key of map: "file:line:col" */
    char *map_where;
    options_child *children;
    size_t child_count;
};

static const char NO_OPTIONS_WHERE[] = "(no options)";
static const char DEFAULT_FILE[] = "(default)";

/* ---------------------------------------------------------------- errors */

static void opt_error(etl_buf *errors, const ynode *at, const char *fmt, ...) ETL_PRINTF(3, 4);
static void opt_error(etl_buf *errors, const ynode *at, const char *fmt, ...)
{
    if (errors == NULL)
        return;
    if (errors->len > 0 && errors->data[errors->len - 1] != '\n')
        buf_append_char(errors, '\n');
    if (at)
        buf_printf(errors, "%s:%d:%d: ", at->file ? at->file : "?", at->line, at->column);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(errors, fmt, ap);
    va_end(ap);
}

/* ---------------------------------------------------------------- nodes */

static bool is_null_value(const ynode *v)
{
    if (v == NULL || v->kind != YNODE_SCALAR || v->quoted)
        return false;
    const char *s = v->value;
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

/* The value of `key` in the mapping unless it is absent or null. */
static const ynode *present_value(const ynode *map, const char *key)
{
    const ynode *v = ynode_get(map, key);
    return is_null_value(v) ? NULL : v;
}

static ynode *scalar_node(const char *value, const char *file, int line, int column)
{
    ynode *n = calloc(1, sizeof *n);
    if (n == NULL)
        return NULL;
    n->kind = YNODE_SCALAR;
    n->value = xstrdup(value);
    n->file = file;
    n->line = line;
    n->column = column;
    if (n->value == NULL) {
        free(n);
        return NULL;
    }
    return n;
}

static ynode *tree_copy(const ynode *src, const char *file)
{
    ynode *n = calloc(1, sizeof *n);
    if (n == NULL)
        return NULL;
    *n = (ynode){.kind = src->kind, .quoted = src->quoted, .file = file, .line = src->line,
                 .column = src->column, .count = src->count};
    bool ok = src->value == NULL || (n->value = xstrdup(src->value)) != NULL;
    if (ok && src->count) {
        n->items = calloc(src->count, sizeof *n->items);
        ok = n->items != NULL;
        if (ok && src->keys) {
            n->keys = calloc(src->count, sizeof *n->keys);
            ok = n->keys != NULL;
        }
    }
    for (size_t i = 0; ok && i < src->count; i++) {
        ok = (n->items[i] = tree_copy(src->items[i], file)) != NULL &&
             (src->keys == NULL || (n->keys[i] = tree_copy(src->keys[i], file)) != NULL);
    }
    if (!ok) {
        if (n->items == NULL || (src->keys && n->keys == NULL))
            n->count = 0;           /* nothing to walk in ynode_free */
        ynode_free(n);
        return NULL;
    }
    return n;
}

/* A deep copy that owns its own file name. */
static ynode *tree_copy_root(const ynode *src)
{
    char *file = xstrdup(src->file ? src->file : "?");
    if (file == NULL)
        return NULL;
    ynode *copy = tree_copy(src, file);
    if (copy == NULL) {
        free(file);
        return NULL;
    }
    copy->file_owned = file;
    return copy;
}

/* {type: <scalar>}, positioned at the scalar, for `format: ndjson`. */
static ynode *type_mapping(const ynode *scalar)
{
    ynode *map = calloc(1, sizeof *map);
    ynode **keys = calloc(1, sizeof *keys);
    ynode **items = calloc(1, sizeof *items);
    ynode *key = scalar_node("type", scalar->file, scalar->line, scalar->column);
    ynode *value = scalar_node(scalar->value, scalar->file, scalar->line, scalar->column);
    if (map == NULL || keys == NULL || items == NULL || key == NULL || value == NULL) {
        free(map);
        free(keys);
        free(items);
        ynode_free(key);
        ynode_free(value);
        return NULL;
    }
    value->quoted = scalar->quoted;
    keys[0] = key;
    items[0] = value;
    *map = (ynode){.kind = YNODE_MAP, .file = scalar->file, .line = scalar->line,
                   .column = scalar->column, .count = 1, .items = items, .keys = keys};
    return map;
}

/* ---------------------------------------------------------------- schema */

/* Copies the plugin's option array, whose entries are option_spec_size
 * bytes apart (the plugin's sizeof), into host-sized entries, reading only
 * the bytes both sides know. Fields the plugin lacks stay zero. */
static bool load_specs(etl_options *o, etl_buf *errors)
{
    const etl_connector *c = o->connector;
    if (c->options == NULL)
        return true;
    size_t stride = c->option_spec_size ? c->option_spec_size : sizeof(etl_option_spec);
    size_t minimum = offsetof(etl_option_spec, type) + sizeof(etl_option_type);
    if (stride < minimum) {
        opt_error(errors, NULL, "%s declares option_spec_size %zu, less than the %zu bytes of "
                                "an option's key and type (rebuild the plugin against "
                                "etl/plugin.h)",
                  o->label, stride, minimum);
        return false;
    }
    size_t copy_len = stride < sizeof(etl_option_spec) ? stride : sizeof(etl_option_spec);
    const unsigned char *base = (const unsigned char *)c->options;
    size_t count = 0;
    while (count < OPTIONS_MAX_SPECS) {
        const char *key;
        memcpy(&key, base + count * stride + offsetof(etl_option_spec, key), sizeof key);
        if (key == NULL)
            break;
        count++;
    }
    if (count == 0)
        return true;
    o->specs = calloc(count, sizeof *o->specs);
    if (o->specs == NULL) {
        opt_error(errors, NULL, "out of memory");
        return false;
    }
    for (size_t i = 0; i < count; i++)
        memcpy(&o->specs[i], base + i * stride, copy_len);
    o->spec_count = count;
    return true;
}

static const etl_option_spec *find_spec(const etl_options *o, const char *key, size_t *index)
{
    for (size_t i = 0; i < o->spec_count; i++) {
        if (strcmp(o->specs[i].key, key) == 0) {
            if (index)
                *index = i;
            return &o->specs[i];
        }
    }
    return NULL;
}

static bool is_structured(etl_option_type type)
{
    return type == ETL_OPT_LIST || type == ETL_OPT_MAP || type == ETL_OPT_ANY;
}

/* The default as a node: scalars as written, lists and mappings parsed as
 * YAML flow text ("[a, b]", "{type: ndjson}"). A default that does not
 * parse is a plugin bug; the option then has no default. */
static ynode *default_node(const etl_option_spec *spec)
{
    const char *text = spec->default_value;
    if (text == NULL || (spec->flags & ETL_OPT_REQUIRED))
        return NULL;
    const char *p = text + strspn(text, " ");
    if (is_structured(spec->type) && (*p == '[' || *p == '{')) {
        char origin[192];
        snprintf(origin, sizeof origin, "default of option '%s'", spec->key);
        etl_buf ignored = {0};
        ynode *n = ydoc_load_string(text, strlen(text), origin, &ignored);
        buf_free(&ignored);
        return n;
    }
    return scalar_node(text, DEFAULT_FILE, 0, 0);
}

static bool build_defaults(etl_options *o)
{
    if (o->spec_count == 0)
        return true;
    o->defaults = calloc(o->spec_count, sizeof *o->defaults);
    if (o->defaults == NULL)
        return false;
    for (size_t i = 0; i < o->spec_count; i++) {
        if (o->specs[i].default_value && !(o->specs[i].flags & ETL_OPT_REQUIRED) &&
            (o->defaults[i] = default_node(&o->specs[i])) == NULL &&
            !is_structured(o->specs[i].type))
            return false;       /* only a scalar default failing means no memory */
    }
    return true;
}

/* ---------------------------------------------------------------- checking */

static void value_text(const etl_option_spec *spec, const ynode *v, char *buf, size_t len)
{
    if (spec->flags & ETL_OPT_SECRET)
        snprintf(buf, len, "a value (hidden: the option is secret)");
    else if (v->kind == YNODE_SCALAR)
        snprintf(buf, len, "'%.200s'", v->value);
    else
        snprintf(buf, len, "a %s", ynode_kind_name(v->kind));
}

static void wrong_value(const etl_options *o, const etl_option_spec *spec, const ynode *v,
                        const char *expected, etl_buf *errors)
{
    char got[256];
    value_text(spec, v, got, sizeof got);
    opt_error(errors, v, "option '%s' of %s expects %s, got %s", spec->key, o->label, expected,
              got);
}

/* The choice equal to `value` in "a|b|c"; fills `names` with the choices
 * (NUL-separated in `storage`) for messages. */
static size_t split_choices(const char *choices, char *storage, size_t len, const char **names,
                            size_t max)
{
    snprintf(storage, len, "%s", choices ? choices : "");
    size_t n = 0;
    for (char *p = storage; n < max;) {
        names[n++] = p;
        char *bar = strchr(p, '|');
        if (bar == NULL)
            break;
        *bar = '\0';
        p = bar + 1;
    }
    return n;
}

static void check_enum(const etl_options *o, const etl_option_spec *spec, const ynode *v,
                       etl_buf *errors)
{
    char storage[1024];
    const char *names[64];
    size_t n = split_choices(spec->choices, storage, sizeof storage, names, 64);
    for (size_t i = 0; i < n; i++)
        if (strcmp(v->value, names[i]) == 0)
            return;
    etl_buf list = {0};
    for (size_t i = 0; i < n; i++)
        buf_printf(&list, "%s%s", i ? ", " : "", names[i]);
    const char *near = closest_match(v->value, names, n);
    char got[256];
    value_text(spec, v, got, sizeof got);
    opt_error(errors, v, "option '%s' of %s must be one of %s, got %s%s%s%s", spec->key,
              o->label, buf_cstr(&list), got, near ? " (did you mean '" : "", near ? near : "",
              near ? "'?)" : "");
    buf_free(&list);
}

static void check_list(const etl_options *o, const etl_option_spec *spec, const ynode *v,
                       etl_buf *errors)
{
    if (v->kind == YNODE_SCALAR)
        return;
    if (v->kind != YNODE_SEQ) {
        wrong_value(o, spec, v, "a list like [a, b]", errors);
        return;
    }
    for (size_t i = 0; i < v->count; i++) {
        const ynode *item = v->items[i];
        if (item->kind != YNODE_SCALAR)
            opt_error(errors, item, "option '%s' of %s expects a list of plain values; item %zu "
                                    "is a %s", spec->key, o->label, i + 1,
                      ynode_kind_name(item->kind));
    }
}

static void check_scalar(const etl_options *o, const etl_option_spec *spec, const ynode *v,
                         etl_buf *errors)
{
    int64_t i64;
    double d;
    bool b;
    const char *s = v->value;
    switch (spec->type) {
    case ETL_OPT_INT:
        if (!parse_int64(s, &i64))
            wrong_value(o, spec, v, "an integer (like 42)", errors);
        break;
    case ETL_OPT_DOUBLE:
        if (!parse_double(s, &d))
            wrong_value(o, spec, v, "a number (like 0.5)", errors);
        break;
    case ETL_OPT_BOOL:
        if (!parse_bool(s, &b))
            wrong_value(o, spec, v, "true or false (or yes/no, on/off)", errors);
        break;
    case ETL_OPT_DURATION:
        if (!parse_duration_ms(s, &i64))
            wrong_value(o, spec, v, "a duration like 250ms, 30s, 14m30s or 2h", errors);
        break;
    case ETL_OPT_SIZE:
        if (!parse_size_bytes(s, &i64))
            wrong_value(o, spec, v, "a size like 512 (bytes), 64KB, 64MB or 512KiB", errors);
        break;
    case ETL_OPT_ENUM:
        check_enum(o, spec, v, errors);
        break;
    default:
        break;
    }
}

static const char *expected_kind(etl_option_type type)
{
    switch (type) {
    case ETL_OPT_MAP:
        return "a mapping like {key: value}";
    case ETL_OPT_ANY:
        return "a value or a mapping";
    case ETL_OPT_STRING:
        return "a string";
    default:
        return "a single value";
    }
}

static void check_value(const etl_options *o, const etl_option_spec *spec, const ynode *v,
                        etl_buf *errors)
{
    switch (spec->type) {
    case ETL_OPT_LIST:
        check_list(o, spec, v, errors);
        return;
    case ETL_OPT_MAP:
        if (v->kind != YNODE_MAP)
            wrong_value(o, spec, v, expected_kind(spec->type), errors);
        return;
    case ETL_OPT_ANY:
        if (v->kind == YNODE_SEQ)
            wrong_value(o, spec, v, expected_kind(spec->type), errors);
        return;
    case ETL_OPT_STRING:
    case ETL_OPT_INT:
    case ETL_OPT_DOUBLE:
    case ETL_OPT_BOOL:
    case ETL_OPT_DURATION:
    case ETL_OPT_SIZE:
    case ETL_OPT_ENUM:
        if (v->kind != YNODE_SCALAR)
            wrong_value(o, spec, v, expected_kind(spec->type), errors);
        else
            check_scalar(o, spec, v, errors);
        return;
    }
    /* A type newer than this host: the connector checks it itself. */
}

static bool is_skipped(const char *key, const char *const *skip_keys)
{
    for (size_t i = 0; skip_keys && skip_keys[i]; i++)
        if (strcmp(skip_keys[i], key) == 0)
            return true;
    return false;
}

static void unknown_key(const etl_options *o, const ynode *key, const char *const *skip_keys,
                        etl_buf *errors)
{
    size_t skip_count = 0;
    while (skip_keys && skip_keys[skip_count])
        skip_count++;
    const char **names = calloc(o->spec_count + skip_count + 1, sizeof *names);
    if (names == NULL) {
        opt_error(errors, key, "unknown option '%s' for %s", key->value, o->label);
        return;
    }
    for (size_t i = 0; i < o->spec_count; i++)
        names[i] = o->specs[i].key;
    for (size_t i = 0; i < skip_count; i++)
        names[o->spec_count + i] = skip_keys[i];
    const char *near = closest_match(key->value, names, o->spec_count + skip_count);
    if (near) {
        opt_error(errors, key, "unknown option '%s' for %s (did you mean '%s'?)", key->value,
                  o->label, near);
    } else if (o->spec_count == 0) {
        opt_error(errors, key, "unknown option '%s' for %s (it takes no options)", key->value,
                  o->label);
    } else {
        etl_buf list = {0};
        for (size_t i = 0; i < o->spec_count; i++)
            buf_printf(&list, "%s%s", i ? ", " : "", names[i]);
        opt_error(errors, key, "unknown option '%s' for %s (valid options: %s)", key->value,
                  o->label, buf_cstr(&list));
        buf_free(&list);
    }
    free(names);
}

static bool validate_into(const etl_options *o, const char *const *skip_keys, etl_buf *errors);

/* Appends every problem; true when there was none. */
static bool validate(const etl_options *o, const char *const *skip_keys, etl_buf *errors)
{
    if (errors)
        return validate_into(o, skip_keys, errors);
    etl_buf scratch = {0};
    bool ok = validate_into(o, skip_keys, &scratch);
    buf_free(&scratch);
    return ok;
}

static bool validate_into(const etl_options *o, const char *const *skip_keys, etl_buf *errors)
{
    size_t before = errors->len;
    bool failed = false;
    const ynode *map = o->map;
    for (size_t i = 0; map && i < map->count; i++) {
        const ynode *key = map->keys[i];
        if (is_skipped(key->value, skip_keys))
            continue;
        const etl_option_spec *spec = find_spec(o, key->value, NULL);
        if (spec == NULL && is_skipped("*", skip_keys))
            continue;
        if (spec == NULL) {
            unknown_key(o, key, skip_keys, errors);
            failed = true;
        } else if (!is_null_value(map->items[i])) {
            check_value(o, spec, map->items[i], errors);
        }
    }
    for (size_t i = 0; i < o->spec_count; i++) {
        const etl_option_spec *spec = &o->specs[i];
        if (!(spec->flags & ETL_OPT_REQUIRED) || present_value(map, spec->key))
            continue;
        failed = true;
        if (spec->doc && spec->doc[0])
            opt_error(errors, map, "%s needs option '%s' (%s)", o->label, spec->key, spec->doc);
        else
            opt_error(errors, map, "%s needs option '%s'", o->label, spec->key);
    }
    return !failed && errors->len == before;
}

/* ---------------------------------------------------------------- building */

static char *where_string(const ynode *n)
{
    char buf[600];
    return xstrdup(ynode_where(n, buf, sizeof buf));
}

static bool build_where(etl_options *o)
{
    if (o->map == NULL)
        return true;
    if ((o->map_where = where_string(o->map)) == NULL)
        return false;
    if (o->map->count == 0)
        return true;
    if ((o->key_where = calloc(o->map->count, sizeof *o->key_where)) == NULL)
        return false;
    for (size_t i = 0; i < o->map->count; i++)
        if ((o->key_where[i] = where_string(o->map->keys[i])) == NULL)
            return false;
    return true;
}

static etl_options *options_build(const etl_connector *connector, const ynode *map, ynode *tree,
                                  bool with_children, etl_buf *errors);

/* A child for a mapping (borrowed) or a scalar ({type: scalar}, owned). */
static etl_options *child_for(const ynode *v)
{
    if (v->kind == YNODE_MAP)
        return options_build(NULL, v, NULL, true, NULL);
    ynode *synth = type_mapping(v);
    if (synth == NULL)
        return NULL;
    return options_build(NULL, synth, synth, false, NULL);
}

static bool add_child(etl_options *o, const char *key, const ynode *v)
{
    if (v == NULL || v->kind == YNODE_SEQ)
        return true;
    etl_options *child = child_for(v);
    if (child == NULL)
        return false;
    o->children[o->child_count++] = (options_child){key, child};
    return true;
}

static bool build_children(etl_options *o)
{
    size_t max = (o->map ? o->map->count : 0) + o->spec_count;
    if (max == 0)
        return true;
    if ((o->children = calloc(max, sizeof *o->children)) == NULL)
        return false;
    for (size_t i = 0; o->map && i < o->map->count; i++) {
        const ynode *v = o->map->items[i];
        if (!is_null_value(v) && !add_child(o, o->map->keys[i]->value, v))
            return false;
    }
    for (size_t i = 0; i < o->spec_count; i++) {
        const etl_option_spec *spec = &o->specs[i];
        if (is_structured(spec->type) && !present_value(o->map, spec->key) &&
            !add_child(o, spec->key, o->defaults[i]))
            return false;
    }
    return true;
}

/* Takes ownership of `tree` (may be NULL) in every case. */
static etl_options *options_build(const etl_connector *connector, const ynode *map, ynode *tree,
                                  bool with_children, etl_buf *errors)
{
    etl_options *o = calloc(1, sizeof *o);
    if (o == NULL) {
        ynode_free(tree);
        opt_error(errors, NULL, "out of memory");
        return NULL;
    }
    o->connector = connector;
    o->tree = tree;
    o->map = map;
    if (connector)
        snprintf(o->label, sizeof o->label, "%s '%s'", connector_kind_name(connector->kind),
                 connector->name ? connector->name : "?");
    else
        snprintf(o->label, sizeof o->label, "options");
    if (map && map->kind != YNODE_MAP) {
        opt_error(errors, map, "the options of %s must be a mapping (key: value), not a %s",
                  o->label, ynode_kind_name(map->kind));
        options_free(o);
        return NULL;
    }
    if (connector && !load_specs(o, errors)) {
        options_free(o);
        return NULL;
    }
    bool ok = build_defaults(o) && build_where(o) && (!with_children || build_children(o));
    if (!ok) {
        opt_error(errors, NULL, "out of memory");
        options_free(o);
        return NULL;
    }
    return o;
}

/* ---------------------------------------------------------------- API */

etl_options *options_from_node(const etl_connector *connector, const ynode *node,
                               const char *const *skip_keys, etl_buf *errors)
{
    ynode *tree = NULL;
    if (node && (tree = tree_copy_root(node)) == NULL) {
        opt_error(errors, NULL, "out of memory");
        return NULL;
    }
    etl_options *o = options_build(connector, tree, tree, true, errors);
    if (o && connector && !validate(o, skip_keys, errors)) {
        options_free(o);
        return NULL;
    }
    return o;
}

static bool is_blank(const char *text)
{
    return text == NULL || text[strspn(text, " \t\r\n")] == '\0';
}

etl_options *options_from_string(const etl_connector *connector, const char *yaml_text,
                                 const char *origin, etl_buf *errors)
{
    if (is_blank(yaml_text))
        return options_from_node(connector, NULL, NULL, errors);
    ynode *tree = ydoc_load_string(yaml_text, strlen(yaml_text), origin, errors);
    if (tree == NULL)
        return NULL;
    etl_options *o = options_build(connector, tree, tree, true, errors);
    if (o && connector && !validate(o, NULL, errors)) {
        options_free(o);
        return NULL;
    }
    return o;
}

const ynode *options_node(const etl_options *o)
{
    return o ? o->map : NULL;
}

void options_free(etl_options *o)
{
    if (o == NULL)
        return;
    for (size_t i = 0; i < o->child_count; i++)
        options_free(o->children[i].opts);
    free(o->children);
    for (size_t i = 0; o->defaults && i < o->spec_count; i++)
        ynode_free(o->defaults[i]);
    free(o->defaults);
    for (size_t i = 0; o->key_where && i < o->map->count; i++)
        free(o->key_where[i]);
    free(o->key_where);
    free(o->map_where);
    free(o->specs);
    ynode_free(o->tree);
    free(o);
}

/* The YAML value if present, else the schema default, else NULL. */
static const ynode *lookup(const etl_options *o, const char *key)
{
    if (o == NULL || key == NULL)
        return NULL;
    const ynode *v = present_value(o->map, key);
    if (v)
        return v;
    size_t index;
    if (o->defaults && find_spec(o, key, &index))
        return o->defaults[index];
    return NULL;
}

static const char *lookup_scalar(const etl_options *o, const char *key)
{
    const ynode *v = lookup(o, key);
    return v && v->kind == YNODE_SCALAR ? v->value : NULL;
}

const char *options_string(const etl_options *o, const char *key)
{
    return lookup_scalar(o, key);
}

bool options_int(const etl_options *o, const char *key, int64_t *out)
{
    const char *s = lookup_scalar(o, key);
    return s && parse_int64(s, out);
}

bool options_double(const etl_options *o, const char *key, double *out)
{
    const char *s = lookup_scalar(o, key);
    return s && parse_double(s, out);
}

bool options_bool(const etl_options *o, const char *key, bool *out)
{
    const char *s = lookup_scalar(o, key);
    return s && parse_bool(s, out);
}

bool options_duration_ms(const etl_options *o, const char *key, int64_t *out)
{
    const char *s = lookup_scalar(o, key);
    return s && parse_duration_ms(s, out);
}

bool options_size(const etl_options *o, const char *key, int64_t *out)
{
    const char *s = lookup_scalar(o, key);
    return s && parse_size_bytes(s, out);
}

bool options_is_set(const etl_options *o, const char *key)
{
    return o && key && present_value(o->map, key) != NULL;
}

size_t options_list_count(const etl_options *o, const char *key)
{
    const ynode *v = lookup(o, key);
    if (v == NULL)
        return 0;
    if (v->kind == YNODE_SEQ)
        return v->count;
    return v->kind == YNODE_SCALAR ? 1 : 0;
}

const char *options_list_item(const etl_options *o, const char *key, size_t i)
{
    const ynode *v = lookup(o, key);
    if (v == NULL)
        return NULL;
    if (v->kind == YNODE_SCALAR)
        return i == 0 ? v->value : NULL;
    if (v->kind == YNODE_SEQ && i < v->count && v->items[i]->kind == YNODE_SCALAR)
        return v->items[i]->value;
    return NULL;
}

const etl_options *options_map(const etl_options *o, const char *key)
{
    if (o == NULL || key == NULL)
        return NULL;
    for (size_t i = 0; i < o->child_count; i++)
        if (strcmp(o->children[i].key, key) == 0)
            return o->children[i].opts;
    return NULL;
}

size_t options_map_count(const etl_options *o)
{
    return o && o->map ? o->map->count : 0;
}

const char *options_map_key(const etl_options *o, size_t i)
{
    return i < options_map_count(o) ? o->map->keys[i]->value : NULL;
}

const char *options_map_value(const etl_options *o, size_t i)
{
    if (i >= options_map_count(o) || o->map->items[i]->kind != YNODE_SCALAR)
        return NULL;
    return o->map->items[i]->value;
}

const char *options_where(const etl_options *o, const char *key)
{
    if (o == NULL || o->map == NULL)
        return NO_OPTIONS_WHERE;
    for (size_t i = 0; key && i < o->map->count; i++)
        if (strcmp(o->map->keys[i]->value, key) == 0)
            return o->key_where[i];
    return o->map_where;
}
