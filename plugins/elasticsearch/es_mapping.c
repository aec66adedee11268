#include "es_mapping.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ types */

etl_type es_mapping_type(const char *t)
{
    static const struct {
        const char *name;
        etl_type type;
    } table[] = {
        {"long", ETL_TYPE_INT64},           {"integer", ETL_TYPE_INT32},
        {"short", ETL_TYPE_INT32},          {"byte", ETL_TYPE_INT32},
        {"token_count", ETL_TYPE_INT32},    {"double", ETL_TYPE_DOUBLE},
        {"float", ETL_TYPE_DOUBLE},         {"half_float", ETL_TYPE_DOUBLE},
        {"scaled_float", ETL_TYPE_DOUBLE},  {"boolean", ETL_TYPE_BOOL},
        {"keyword", ETL_TYPE_STRING},       {"text", ETL_TYPE_STRING},
        {"wildcard", ETL_TYPE_STRING},      {"match_only_text", ETL_TYPE_STRING},
        {"constant_keyword", ETL_TYPE_STRING}, {"ip", ETL_TYPE_STRING},
        {"version", ETL_TYPE_STRING},       {"binary", ETL_TYPE_STRING},
        {"search_as_you_type", ETL_TYPE_STRING},
        {"date", ETL_TYPE_TIMESTAMP_US},    {"date_nanos", ETL_TYPE_TIMESTAMP_US},
        {"object", ETL_TYPE_STRUCT},        {"nested", ETL_TYPE_STRUCT},
    };
    for (size_t i = 0; t && i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, t) == 0)
            return table[i].type;
    return ETL_TYPE_NULL;
}

static bool is_iso_format(const char *f, size_t n)
{
    static const char *const names[] = {
        "strict_date_optional_time", "date_optional_time", "strict_date_optional_time_nanos",
        "strict_date_time", "date_time", "strict_date_time_no_millis", "date_time_no_millis",
        "strict_date", "date", "strict_date_hour_minute_second", "date_hour_minute_second",
        "strict_date_hour_minute_second_millis", "date_hour_minute_second_millis",
        "strict_date_hour_minute_second_fraction", "date_hour_minute_second_fraction",
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && memcmp(names[i], f, n) == 0)
            return true;
    return false;
}

es_date_kind es_date_format_kind(const char *format)
{
    if (format == NULL || *format == '\0')
        return ES_DATE_MILLIS;           /* the default: strict_date_optional_time||epoch_millis */
    es_date_kind kind = ES_DATE_TEXT;
    bool epoch_seen = false;
    for (const char *p = format; *p;) {
        size_t n = strcspn(p, "|");
        if (n == 12 && memcmp(p, "epoch_millis", 12) == 0) {
            if (!epoch_seen)
                kind = ES_DATE_MILLIS;
            epoch_seen = true;
        } else if (n == 12 && memcmp(p, "epoch_second", 12) == 0) {
            if (!epoch_seen)
                kind = ES_DATE_SECONDS;
            epoch_seen = true;
        } else if (!is_iso_format(p, n)) {
            return ES_DATE_NONE;
        }
        p += n;
        while (*p == '|')
            p++;
    }
    return kind;
}

/* ------------------------------------------------------------------ parsing */

static void field_free(es_field *f)
{
    for (size_t i = 0; i < f->count; i++)
        field_free(&f->children[i]);
    free(f->children);
    free(f->name);
    *f = (es_field){0};
}

void es_mapping_free(es_mapping *m)
{
    for (size_t i = 0; i < m->epoch_count; i++)
        free(m->epoch_names[i]);
    free(m->epoch_names);
    field_free(&m->root);
    *m = (es_mapping){0};
}

static es_field *child_named(const es_field *parent, const char *name, size_t len)
{
    for (size_t i = 0; i < parent->count; i++)
        if (strlen(parent->children[i].name) == len && memcmp(parent->children[i].name, name, len) == 0)
            return &parent->children[i];
    return NULL;
}

static es_field *add_child(es_field *parent, const char *name)
{
    es_field *grown = realloc(parent->children, (parent->count + 1) * sizeof *grown);
    if (grown == NULL)
        return NULL;
    parent->children = grown;
    es_field *f = &grown[parent->count];
    *f = (es_field){0};
    f->name = strdup(name);
    if (f->name == NULL)
        return NULL;
    parent->count++;
    return f;
}

static bool parse_properties(es_mapping *m, es_field *parent, ej_span props, int depth);

static bool remember_epoch_name(es_mapping *m, const char *name)
{
    for (size_t i = 0; i < m->epoch_count; i++)
        if (strcmp(m->epoch_names[i], name) == 0)
            return true;
    char **grown = realloc(m->epoch_names, (m->epoch_count + 1) * sizeof *grown);
    if (grown == NULL)
        return false;
    m->epoch_names = grown;
    if ((grown[m->epoch_count] = strdup(name)) == NULL)
        return false;
    m->epoch_count++;
    return true;
}

/* One field of `properties`. A name already present (from another index)
 * keeps its type only if both agree. */
static bool parse_field(es_mapping *m, es_field *parent, const char *name, ej_span spec, int depth)
{
    ej_span v, props;
    char type[32] = "object";
    if (ej_get(spec, "type", &v) && !ej_string(v, type, sizeof type))
        return false;
    if (strcmp(type, "alias") == 0)
        return true;                     /* not in _source */
    bool has_props = ej_get(spec, "properties", &props);
    etl_type et = es_mapping_type(type);
    es_date_kind date = ES_DATE_NONE;
    if (et == ETL_TYPE_TIMESTAMP_US) {
        char format[256] = "";
        if (ej_get(spec, "format", &v))
            ej_string(v, format, sizeof format);
        date = es_date_format_kind(format);
        if (date == ES_DATE_NONE)
            et = ETL_TYPE_STRING;        /* a custom pattern: kept as the text it is */
        if (date == ES_DATE_MILLIS || date == ES_DATE_SECONDS) {
            m->has_numeric_dates = true;
            if (!remember_epoch_name(m, name))
                return false;
        }
    }
    if (ej_get(spec, "enabled", &v) && ej_kind_of(v) == EJ_FALSE)
        et = ETL_TYPE_NULL;              /* an object kept as is, never parsed by ES */
    es_field *f = child_named(parent, name, strlen(name));
    if (f == NULL) {
        f = add_child(parent, name);
        if (f == NULL)
            return false;
        snprintf(f->es_type, sizeof f->es_type, "%s", type);
        f->type = et;
        f->date = date;
        f->list = strcmp(type, "nested") == 0;
    } else if (f->type != et || f->date != date) {
        f->type = ETL_TYPE_NULL;         /* the indices disagree: infer */
        f->date = ES_DATE_NONE;
    }
    if (has_props && et == ETL_TYPE_STRUCT)
        return parse_properties(m, f, props, depth + 1);
    return true;
}

static bool parse_properties(es_mapping *m, es_field *parent, ej_span props, int depth)
{
    if (depth > 64 || ej_kind_of(props) != EJ_OBJECT)
        return false;
    ej_iter it;
    ej_span key, spec;
    ej_members(props, &it);
    while (ej_next_member(&it, &key, &spec)) {
        char *name = ej_string_dup(key);
        bool ok = name && ej_kind_of(spec) == EJ_OBJECT && parse_field(m, parent, name, spec, depth);
        free(name);
        if (!ok)
            return false;
    }
    return !it.failed;
}

/* 7.x replies may still have a type level: {"mappings": {"_doc": {...}}}. */
static bool find_properties(ej_span mappings, ej_span *props)
{
    if (ej_get(mappings, "properties", props))
        return true;
    ej_iter it;
    ej_span key, value;
    if (!ej_members(mappings, &it))
        return false;
    while (ej_next_member(&it, &key, &value))
        if (ej_kind_of(value) == EJ_OBJECT && ej_get(value, "properties", props))
            return true;
    return false;
}

bool es_mapping_parse(const char *json, size_t len, es_mapping *m, char *error, size_t cap)
{
    *m = (es_mapping){0};
    m->root.name = strdup("");
    snprintf(m->root.es_type, sizeof m->root.es_type, "object");
    m->root.type = ETL_TYPE_STRUCT;
    ej_span root, key, index, mappings, props;
    ej_iter it;
    if (m->root.name == NULL || !ej_root(json, len, &root) || !ej_members(root, &it)) {
        snprintf(error, cap, "the _mapping reply is not a JSON object");
        es_mapping_free(m);
        return false;
    }
    size_t indices = 0;
    while (ej_next_member(&it, &key, &index)) {
        indices++;
        if (!ej_get(index, "mappings", &mappings)) {
            snprintf(error, cap, "the _mapping reply has no 'mappings' for an index");
            es_mapping_free(m);
            return false;
        }
        if (!find_properties(mappings, &props))
            continue;                    /* an index without fields yet */
        if (!parse_properties(m, &m->root, props, 0)) {
            snprintf(error, cap, "the _mapping reply has malformed 'properties'");
            es_mapping_free(m);
            return false;
        }
    }
    if (it.failed || indices == 0) {
        snprintf(error, cap, it.failed ? "the _mapping reply is malformed" : "no index matched");
        es_mapping_free(m);
        return false;
    }
    return true;
}

const es_field *es_mapping_find(const es_mapping *m, const char *path)
{
    const es_field *f = &m->root;
    while (f && *path) {
        size_t n = strcspn(path, ".");
        f = child_named(f, path, n);
        path += n;
        if (*path == '.')
            path++;
    }
    return f == &m->root ? NULL : f;
}

bool es_mapping_mark_list(es_mapping *m, const char *path)
{
    es_field *f = (es_field *)es_mapping_find(m, path);
    if (f == NULL)
        return false;
    f->list = true;
    return true;
}

/* '*' matches any run of characters, dots included. */
static bool glob(const char *p, const char *s)
{
    while (*p && *p != '*') {
        if (*p != *s)
            return false;
        p++;
        s++;
    }
    if (*p == '\0')
        return *s == '\0';
    while (*p == '*')
        p++;
    for (;; s++) {
        if (glob(p, s))
            return true;
        if (*s == '\0')
            return false;
    }
}

typedef enum inclusion { INCLUDE_NONE, INCLUDE_PART, INCLUDE_ALL } inclusion;

static inclusion included(const char *path, const char *const *inc, size_t n)
{
    if (n == 0)
        return INCLUDE_ALL;
    size_t len = strlen(path);
    inclusion how = INCLUDE_NONE;
    for (size_t i = 0; i < n; i++) {
        if (glob(inc[i], path))
            return INCLUDE_ALL;
        /* An include below this path ("brand.name" under "brand"). */
        if ((strncmp(inc[i], path, len) == 0 && inc[i][len] == '.') || strchr(inc[i], '*'))
            how = INCLUDE_PART;
    }
    return how;
}

static void filter_children(es_field *f, es_str *prefix, const char *const *inc, size_t ninc,
                            const char *const *exc, size_t nexc)
{
    size_t kept = 0;
    for (size_t i = 0; i < f->count; i++) {
        es_field *c = &f->children[i];
        size_t mark = prefix->n;
        if (prefix->n)
            es_str_add(prefix, ".", 1);
        es_str_cat(prefix, c->name);
        const char *path = es_str_cstr(prefix);
        bool keep = true;
        for (size_t j = 0; j < nexc && keep; j++)
            keep = !glob(exc[j], path);
        inclusion how = keep ? included(path, inc, ninc) : INCLUDE_NONE;
        if (how == INCLUDE_PART && c->count == 0)
            how = INCLUDE_NONE;
        if (how != INCLUDE_NONE) {
            filter_children(c, prefix, how == INCLUDE_ALL ? NULL : inc,
                            how == INCLUDE_ALL ? 0 : ninc, exc, nexc);
            if (how == INCLUDE_PART && c->count == 0)
                how = INCLUDE_NONE;
        }
        prefix->n = mark;
        if (how == INCLUDE_NONE) {
            field_free(c);
        } else {
            f->children[kept++] = *c;
        }
    }
    f->count = kept;
}

void es_mapping_filter(es_mapping *m, const char *const *includes, size_t ninc,
                       const char *const *excludes, size_t nexc)
{
    es_str prefix = {0};
    filter_children(&m->root, &prefix, includes, ninc, excludes, nexc);
    es_str_free(&prefix);
}

static void leaf_paths(const es_field *f, es_str *prefix, es_str *out, bool *first)
{
    for (size_t i = 0; i < f->count; i++) {
        const es_field *c = &f->children[i];
        size_t mark = prefix->n;
        if (prefix->n)
            es_str_add(prefix, ".", 1);
        es_str_cat(prefix, c->name);
        if (c->count > 0) {
            leaf_paths(c, prefix, out, first);
        } else {
            if (!*first)
                es_str_add(out, ",", 1);
            *first = false;
            es_str_json_string(out, prefix->p, prefix->n);
        }
        prefix->n = mark;
    }
}

void es_mapping_leaf_paths(const es_mapping *m, es_str *json_array)
{
    es_str prefix = {0};
    bool first = true;
    es_str_add(json_array, "[", 1);
    leaf_paths(&m->root, &prefix, json_array, &first);
    es_str_add(json_array, "]", 1);
    es_str_free(&prefix);
}

/* ------------------------------------------------------------------ declaring */

static etl_status declare_field(const es_field *f, const etl_host_api *host, etl_builder *b,
                                int32_t parent);

static etl_status declare_children(const es_field *f, const etl_host_api *host, etl_builder *b,
                                   int32_t parent)
{
    for (size_t i = 0; i < f->count; i++) {
        etl_status st = declare_field(&f->children[i], host, b, parent);
        if (st != ETL_OK)
            return st;
    }
    return ETL_OK;
}

static etl_status declare_field(const es_field *f, const etl_host_api *host, etl_builder *b,
                                int32_t parent)
{
    if (f->list) {
        int32_t col = host->builder_declare(b, parent, f->name, ETL_TYPE_LIST, 0, 0);
        if (col < 0)
            return (etl_status)col;
        int32_t item = host->builder_list_item(b, col);
        if (item < 0)
            return (etl_status)item;
        /* Scalar elements keep the type of their first value. */
        return f->type == ETL_TYPE_STRUCT ? declare_children(f, host, b, item) : ETL_OK;
    }
    if (f->type == ETL_TYPE_NULL)
        return ETL_OK;                   /* appears, typed by its values, when first seen */
    int32_t col = host->builder_declare(b, parent, f->name, f->type, 0, 0);
    if (col < 0)
        return (etl_status)col;
    return f->type == ETL_TYPE_STRUCT ? declare_children(f, host, b, col) : ETL_OK;
}

etl_status es_mapping_declare(const es_mapping *m, const etl_host_api *host, etl_builder *b)
{
    return declare_children(&m->root, host, b, ETL_ROOT);
}

/* ------------------------------------------------------------------ dates */

typedef struct date_edit {
    ej_span number;
    int64_t ms;
} date_edit;

typedef struct edits {
    date_edit *items;
    size_t n, cap;
    bool failed;
} edits;

static void add_edit(edits *e, ej_span number, int64_t ms)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        date_edit *grown = realloc(e->items, cap * sizeof *grown);
        if (grown == NULL) {
            e->failed = true;
            return;
        }
        e->items = grown;
        e->cap = cap;
    }
    e->items[e->n++] = (date_edit){number, ms};
}

static bool has_epoch_dates(const es_field *f)
{
    if (f->date == ES_DATE_MILLIS || f->date == ES_DATE_SECONDS)
        return true;
    for (size_t i = 0; i < f->count; i++)
        if (has_epoch_dates(&f->children[i]))
            return true;
    return false;
}

static void scan_value(const es_field *f, ej_span v, edits *e, int depth);

static void scan_object(const es_field *f, ej_span obj, edits *e, int depth)
{
    ej_iter it;
    ej_span key, value;
    if (depth > 64 || !ej_members(obj, &it))
        return;
    while (ej_next_member(&it, &key, &value)) {
        if (key.n < 2)
            continue;
        const es_field *c = child_named(f, key.p + 1, key.n - 2);
        if (c && has_epoch_dates(c))
            scan_value(c, value, e, depth + 1);
    }
}

static void scan_value(const es_field *f, ej_span v, edits *e, int depth)
{
    switch (ej_kind_of(v)) {
    case EJ_NUMBER: {
        int64_t n;
        if ((f->date == ES_DATE_MILLIS || f->date == ES_DATE_SECONDS) && ej_int64(v, &n) &&
            (f->date == ES_DATE_MILLIS || (n < INT64_MAX / 1000 && n > INT64_MIN / 1000)))
            add_edit(e, v, f->date == ES_DATE_SECONDS ? n * 1000 : n);
        break;
    }
    case EJ_ARRAY: {
        ej_iter it;
        ej_span item;
        ej_elements(v, &it);
        while (ej_next_element(&it, &item))
            scan_value(f, item, e, depth + 1);
        break;
    }
    case EJ_OBJECT: scan_object(f, v, e, depth); break;
    default: break;
    }
}

static void days_to_civil(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void put_iso(es_str *out, int64_t ms)
{
    int64_t days = ms / 86400000, rest = ms % 86400000;
    if (rest < 0) {
        rest += 86400000;
        days--;
    }
    int64_t y;
    unsigned mo, d;
    days_to_civil(days, &y, &mo, &d);
    es_str_printf(out, "\"%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ\"", (long long)y, mo, d,
                  (int)(rest / 3600000), (int)(rest / 60000 % 60), (int)(rest / 1000 % 60),
                  (int)(rest % 1000));
}

bool es_mapping_is_epoch_name(const es_mapping *m, const char *name, size_t len)
{
    for (size_t i = 0; i < m->epoch_count; i++)
        if (m->epoch_names[i][len] == '\0' && memcmp(m->epoch_names[i], name, len) == 0)
            return true;
    return false;
}

bool es_mapping_fix_dates(const es_mapping *m, ej_span doc, es_str *out)
{
    if (!m->has_numeric_dates)
        return false;
    edits e = {0};
    scan_object(&m->root, doc, &e, 0);
    if (e.n == 0 || e.failed) {
        free(e.items);
        return false;
    }
    es_str_reset(out);
    const char *at = doc.p;
    for (size_t i = 0; i < e.n; i++) {
        es_str_add(out, at, (size_t)(e.items[i].number.p - at));
        put_iso(out, e.items[i].ms);
        at = e.items[i].number.p + e.items[i].number.n;
    }
    es_str_add(out, at, (size_t)(doc.p + doc.n - at));
    free(e.items);
    return es_str_ok(out);
}
