/* Pipeline files: libyaml events into a ynode tree that remembers positions.
 *
 * Decisions:
 *  - One document per file; an empty file (or one with only comments) is an
 *    error, because a pipeline with nothing in it is always a mistake.
 *  - ${VAR}, ${VAR:-default} and $$ are substituted in every scalar value,
 *    whatever its quoting (write $$ for a literal dollar). Keys are taken
 *    as written: they are option names, never configuration. As in the
 *    shell, ${VAR:-default} also uses the default when VAR is set but
 *    empty. The default runs to the matching } and is taken literally
 *    (${A:-${B}} gives "${B}" when A is unset). A $ not followed by { or $
 *    is an ordinary character.
 *  - `quoted` is set for every scalar that is not plain (quoted, literal |
 *    or folded >) and for explicit !!str tags: YAML resolves all of those
 *    to strings, so "123" stays a string.
 *  - Aliases are supported by deep-copying the anchored node; positions
 *    stay those of the anchored text (that is where a bad value is
 *    written). Aliases to an anchor that is not complete yet (a node
 *    containing its own alias) are undefined, hence an error. The total
 *    node count is capped so that alias bombs fail instead of eating
 *    memory, and nesting depth is capped so that the recursive builder
 *    cannot overflow the stack.
 *  - Errors are "file:line:col: message"; when `err` already holds text, a
 *    newline separates the new message from it.
 */
#include "yaml_doc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "buf.h"
#include "strutil.h"

#define YDOC_MAX_DEPTH 200
#define YDOC_MAX_NODES 200000

typedef struct anchor {
    char *name;
    const ynode *node;   /* borrowed: owned by the tree being built */
} anchor;

typedef struct yreader {
    yaml_parser_t parser;
    const char *file;
    const unsigned char *input;
    size_t input_len;
    etl_buf *err;
    anchor *anchors;
    size_t anchor_count;
    size_t anchor_cap;
    size_t nodes;
    int depth;
} yreader;

/* ---------------------------------------------------------------- errors */

static void err_vappend(etl_buf *err, const char *fmt, va_list ap)
{
    if (err == NULL)
        return;
    if (err->len > 0 && err->data[err->len - 1] != '\n')
        buf_append_char(err, '\n');
    buf_vprintf(err, fmt, ap);
}

static void err_append(etl_buf *err, const char *fmt, ...) ETL_PRINTF(2, 3);
static void err_append(etl_buf *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vappend(err, fmt, ap);
    va_end(ap);
}

/* "file:line:col: " + message, with a 0-based libyaml mark. */
static void yerr_at(yreader *yr, yaml_mark_t mark, const char *fmt, ...) ETL_PRINTF(3, 4);
static void yerr_at(yreader *yr, yaml_mark_t mark, const char *fmt, ...)
{
    if (yr->err == NULL)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_append(yr->err, "%s:%zu:%zu: %s", yr->file, mark.line + 1, mark.column + 1, msg);
}

static void yerr_node(yreader *yr, const ynode *node, const char *fmt, ...) ETL_PRINTF(3, 4);
static void yerr_node(yreader *yr, const ynode *node, const char *fmt, ...)
{
    if (yr->err == NULL)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_append(yr->err, "%s:%d:%d: %s", yr->file, node->line, node->column, msg);
}

static void yerr_nomem(yreader *yr)
{
    err_append(yr->err, "%s: out of memory", yr->file);
}

/* Line and column (1-based) of a byte offset, for reader errors, which
 * libyaml reports by offset only. */
static void offset_position(const yreader *yr, size_t offset, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < offset && i < yr->input_len; i++) {
        if (yr->input[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static void report_libyaml_error(yreader *yr)
{
    const yaml_parser_t *p = &yr->parser;
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->error == YAML_MEMORY_ERROR) {
        yerr_nomem(yr);
    } else if (p->error == YAML_READER_ERROR) {
        size_t line, col;
        offset_position(yr, p->problem_offset, &line, &col);
        err_append(yr->err, "%s:%zu:%zu: %s (byte 0x%02x; pipeline files must be UTF-8 text)",
                   yr->file, line, col, problem, (unsigned)(p->problem_value & 0xff));
    } else {
        size_t index = p->problem_mark.index;
        bool tab = index < yr->input_len && yr->input[index] == '\t';
        /* An unclosed bracket or quote is found far from where it opened. */
        char started[64] = "";
        if (p->context && p->context_mark.line != p->problem_mark.line)
            snprintf(started, sizeof started, " started at line %zu, column %zu",
                     p->context_mark.line + 1, p->context_mark.column + 1);
        err_append(yr->err, "%s:%zu:%zu: %s%s%s%s%s", yr->file, p->problem_mark.line + 1,
                   p->problem_mark.column + 1, problem, p->context ? " " : "",
                   p->context ? p->context : "", started,
                   tab ? " (tabs are not allowed for indentation: use spaces)" : "");
    }
}

static bool next_event(yreader *yr, yaml_event_t *event)
{
    if (yaml_parser_parse(&yr->parser, event))
        return true;
    report_libyaml_error(yr);
    return false;
}

/* ---------------------------------------------------------------- nodes */

static ynode *node_new(yreader *yr, ynode_kind kind, yaml_mark_t mark)
{
    if (++yr->nodes > YDOC_MAX_NODES) {
        yerr_at(yr, mark, "the document has more than %d nodes (are aliases expanding "
                          "without bound?)", YDOC_MAX_NODES);
        return NULL;
    }
    ynode *n = calloc(1, sizeof *n);
    if (n == NULL) {
        yerr_nomem(yr);
        return NULL;
    }
    n->kind = kind;
    n->file = yr->file;
    n->line = (int)mark.line + 1;
    n->column = (int)mark.column + 1;
    return n;
}

void ynode_free(ynode *node)
{
    if (node == NULL)
        return;
    for (size_t i = 0; i < node->count; i++) {
        ynode_free(node->items[i]);
        if (node->keys)
            ynode_free(node->keys[i]);
    }
    free(node->items);
    free(node->keys);
    free(node->value);
    free(node->file_owned);
    free(node);
}

/* Capacity is implicit: 4, then doubling at each power of two. */
static bool grow_if_full(ynode ***array, size_t count)
{
    if (count != 0 && (count < 4 || (count & (count - 1)) != 0))
        return true;
    size_t cap = count == 0 ? 4 : count * 2;
    ynode **grown = realloc(*array, cap * sizeof *grown);
    if (grown == NULL)
        return false;
    *array = grown;
    return true;
}

static bool node_push(ynode *parent, ynode *key, ynode *value)
{
    if (!grow_if_full(&parent->items, parent->count))
        return false;
    if (parent->kind == YNODE_MAP && !grow_if_full(&parent->keys, parent->count))
        return false;
    parent->items[parent->count] = value;
    if (parent->kind == YNODE_MAP)
        parent->keys[parent->count] = key;
    parent->count++;
    return true;
}

static ynode *node_copy(yreader *yr, const ynode *src)
{
    yaml_mark_t mark = {.line = (size_t)src->line - 1, .column = (size_t)src->column - 1};
    ynode *copy = node_new(yr, src->kind, mark);
    if (copy == NULL)
        return NULL;
    copy->quoted = src->quoted;
    if (src->value && (copy->value = xstrdup(src->value)) == NULL)
        goto nomem;
    for (size_t i = 0; i < src->count; i++) {
        ynode *key = NULL;
        if (src->kind == YNODE_MAP && (key = node_copy(yr, src->keys[i])) == NULL)
            goto fail;
        ynode *value = node_copy(yr, src->items[i]);
        if (value == NULL) {
            ynode_free(key);
            goto fail;
        }
        if (!node_push(copy, key, value)) {
            ynode_free(key);
            ynode_free(value);
            goto nomem;
        }
    }
    return copy;
nomem:
    yerr_nomem(yr);
fail:
    ynode_free(copy);
    return NULL;
}

/* ---------------------------------------------------------------- ${VAR} */

static bool is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

/* Offset of the } closing the ${ whose body starts at `from`, or 0. */
static size_t matching_brace(const char *s, size_t len, size_t from)
{
    int depth = 1;
    for (size_t i = from; i < len; i++) {
        if (s[i] == '{')
            depth++;
        else if (s[i] == '}' && --depth == 0)
            return i;
    }
    return 0;
}

static bool append_or_report(yreader *yr, etl_buf *out, const char *data, size_t len)
{
    if (buf_append(out, data, len) == ETL_OK)
        return true;
    yerr_nomem(yr);
    return false;
}

/* Appends the expansion of the reference body (NAME or NAME:-default).
 * Every failure is reported. */
static bool expand_reference(yreader *yr, const ynode *at, const char *body, size_t len,
                             etl_buf *out)
{
    size_t name_len = 0;
    if (len > 0 && is_name_start(body[0]))
        while (name_len < len && is_name_char(body[name_len]))
            name_len++;
    bool has_default = name_len + 2 <= len && body[name_len] == ':' && body[name_len + 1] == '-';
    if (name_len == 0 || (name_len != len && !has_default)) {
        yerr_node(yr, at, "bad variable reference '${%.*s}' (write ${NAME} or "
                          "${NAME:-default}; $$ is a literal $)",
                  (int)(len > 200 ? 200 : len), body);
        return false;
    }
    char name[256];
    if (name_len >= sizeof name) {
        yerr_node(yr, at, "variable name '%.40s...' is too long", body);
        return false;
    }
    memcpy(name, body, name_len);
    name[name_len] = '\0';
    const char *value = getenv(name);
    if (has_default && (value == NULL || *value == '\0'))
        return append_or_report(yr, out, body + name_len + 2, len - name_len - 2);
    if (value == NULL) {
        yerr_node(yr, at, "environment variable %s is not set (write ${%s:-default} to give "
                          "a default)", name, name);
        return false;
    }
    return append_or_report(yr, out, value, strlen(value));
}

/* The scalar text with references replaced, NUL-terminated; NULL after
 * reporting an error. */
static char *substitute(yreader *yr, const ynode *at, const char *raw, size_t len)
{
    etl_buf out = {0};
    bool ok = append_or_report(yr, &out, "", 0);
    for (size_t i = 0; ok && i < len; i++) {
        if (raw[i] != '$' || i + 1 == len || (raw[i + 1] != '$' && raw[i + 1] != '{')) {
            ok = append_or_report(yr, &out, raw + i, 1);
        } else if (raw[i + 1] == '$') {
            ok = append_or_report(yr, &out, "$", 1);
            i++;
        } else {
            size_t close = matching_brace(raw, len, i + 2);
            if (close == 0) {
                yerr_node(yr, at, "unterminated ${ in '%.200s' (close it with }, or write $$ "
                                  "for a literal $)", raw);
                ok = false;
            } else {
                ok = expand_reference(yr, at, raw + i + 2, close - i - 2, &out);
                i = close;
            }
        }
    }
    if (!ok) {
        buf_free(&out);
        return NULL;
    }
    return out.data;
}

/* ---------------------------------------------------------------- building */

static void remember_anchor(yreader *yr, const char *name, const ynode *node)
{
    if (name == NULL)
        return;
    /* A redefined anchor replaces the earlier one for later aliases. */
    for (size_t i = 0; i < yr->anchor_count; i++) {
        if (strcmp(yr->anchors[i].name, name) == 0) {
            yr->anchors[i].node = node;
            return;
        }
    }
    if (yr->anchor_count == yr->anchor_cap) {
        size_t cap = yr->anchor_cap ? yr->anchor_cap * 2 : 8;
        anchor *grown = realloc(yr->anchors, cap * sizeof *grown);
        if (grown == NULL)
            return;     /* a later alias reports it as undefined */
        yr->anchors = grown;
        yr->anchor_cap = cap;
    }
    char *copy = xstrdup(name);
    if (copy == NULL)
        return;
    yr->anchors[yr->anchor_count++] = (anchor){copy, node};
}

static ynode *resolve_alias(yreader *yr, const yaml_event_t *event)
{
    const char *name = (const char *)event->data.alias.anchor;
    for (size_t i = yr->anchor_count; i-- > 0;) {
        if (strcmp(yr->anchors[i].name, name) == 0)
            return node_copy(yr, yr->anchors[i].node);
    }
    yerr_at(yr, event->start_mark, "alias *%s refers to no anchor defined before it "
                                   "(define &%s first; a node cannot contain itself)", name, name);
    return NULL;
}

static ynode *build_scalar(yreader *yr, const yaml_event_t *event, bool is_key)
{
    ynode *node = node_new(yr, YNODE_SCALAR, event->start_mark);
    if (node == NULL)
        return NULL;
    const char *raw = (const char *)event->data.scalar.value;
    size_t len = event->data.scalar.length;
    const char *tag = (const char *)event->data.scalar.tag;
    node->quoted = event->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
                   (tag && strcmp(tag, YAML_STR_TAG) == 0);
    if (memchr(raw, '\0', len)) {
        yerr_node(yr, node, "a NUL character (\\0) cannot appear in a value");
        ynode_free(node);
        return NULL;
    }
    node->value = is_key ? xstrdup(raw) : substitute(yr, node, raw, len);
    if (node->value == NULL) {
        if (is_key)
            yerr_nomem(yr);     /* substitute() reports its own errors */
        ynode_free(node);
        return NULL;
    }
    remember_anchor(yr, (const char *)event->data.scalar.anchor, node);
    return node;
}

static ynode *build_node(yreader *yr, yaml_event_t *event, bool is_key);

static ynode *build_sequence(yreader *yr, ynode *seq)
{
    for (;;) {
        yaml_event_t event;
        if (!next_event(yr, &event))
            return NULL;
        if (event.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&event);
            return seq;
        }
        ynode *item = build_node(yr, &event, false);
        if (item == NULL)
            return NULL;
        if (!node_push(seq, NULL, item)) {
            ynode_free(item);
            yerr_nomem(yr);
            return NULL;
        }
    }
}

typedef struct key_ref {
    const ynode *key;
    size_t index;
} key_ref;

static int compare_key_refs(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;
    int c = strcmp(x->key->value, y->key->value);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Reports the first repeated key in file order; sorting keeps large
 * mappings from costing n^2. */
static bool check_duplicate_keys(yreader *yr, const ynode *map)
{
    if (map->count < 2)
        return true;
    key_ref *refs = malloc(map->count * sizeof *refs);
    if (refs == NULL) {
        yerr_nomem(yr);
        return false;
    }
    for (size_t i = 0; i < map->count; i++)
        refs[i] = (key_ref){map->keys[i], i};
    qsort(refs, map->count, sizeof *refs, compare_key_refs);
    const key_ref *first = NULL, *dup = NULL;
    size_t group = 0;
    for (size_t i = 1; i < map->count; i++) {
        if (strcmp(refs[i].key->value, refs[group].key->value) != 0) {
            group = i;
            continue;
        }
        if (dup == NULL || refs[i].index < dup->index) {
            dup = &refs[i];
            first = &refs[group];
        }
    }
    if (dup)
        yerr_node(yr, dup->key, "duplicate key '%s' (first defined at %s:%d:%d; remove one)",
                  dup->key->value, yr->file, first->key->line, first->key->column);
    free(refs);
    return dup == NULL;
}

static ynode *build_mapping(yreader *yr, ynode *map)
{
    for (;;) {
        yaml_event_t event;
        if (!next_event(yr, &event))
            return NULL;
        if (event.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&event);
            return check_duplicate_keys(yr, map) ? map : NULL;
        }
        ynode *key = build_node(yr, &event, true);
        if (key == NULL)
            return NULL;
        if (key->kind != YNODE_SCALAR) {
            yerr_node(yr, key, "a key must be a plain name, not a %s", ynode_kind_name(key->kind));
            ynode_free(key);
            return NULL;
        }
        if (!next_event(yr, &event)) {
            ynode_free(key);
            return NULL;
        }
        ynode *value = build_node(yr, &event, false);
        if (value == NULL || !node_push(map, key, value)) {
            if (value)
                yerr_nomem(yr);
            ynode_free(key);
            ynode_free(value);
            return NULL;
        }
    }
}

static ynode *build_collection(yreader *yr, yaml_event_t *event, ynode_kind kind)
{
    const char *anchor_name = kind == YNODE_MAP ? (const char *)event->data.mapping_start.anchor
                                                : (const char *)event->data.sequence_start.anchor;
    char *anchor_copy = NULL;
    if (anchor_name && (anchor_copy = xstrdup(anchor_name)) == NULL) {
        yerr_nomem(yr);
        return NULL;
    }
    ynode *node = NULL;
    if (yr->depth >= YDOC_MAX_DEPTH) {
        yerr_at(yr, event->start_mark, "nesting deeper than %d levels", YDOC_MAX_DEPTH);
    } else if ((node = node_new(yr, kind, event->start_mark)) != NULL) {
        yr->depth++;
        ynode *done = kind == YNODE_MAP ? build_mapping(yr, node) : build_sequence(yr, node);
        yr->depth--;
        if (done == NULL) {
            ynode_free(node);
            node = NULL;
        } else {
            remember_anchor(yr, anchor_copy, node);
        }
    }
    free(anchor_copy);
    return node;
}

/* Builds the node that starts with `event`, which it consumes. */
static ynode *build_node(yreader *yr, yaml_event_t *event, bool is_key)
{
    ynode *node = NULL;
    switch (event->type) {
    case YAML_SCALAR_EVENT:
        node = build_scalar(yr, event, is_key);
        break;
    case YAML_ALIAS_EVENT:
        node = resolve_alias(yr, event);
        break;
    case YAML_SEQUENCE_START_EVENT:
        node = build_collection(yr, event, YNODE_SEQ);
        break;
    case YAML_MAPPING_START_EVENT:
        node = build_collection(yr, event, YNODE_MAP);
        break;
    default:
        yerr_at(yr, event->start_mark, "unexpected YAML structure");
        break;
    }
    yaml_event_delete(event);
    return node;
}

/* ---------------------------------------------------------------- documents */

/* Expects an event of `type` next; reports `what` otherwise. */
static bool expect_event(yreader *yr, yaml_event_type_t type, const char *what)
{
    yaml_event_t event;
    if (!next_event(yr, &event))
        return false;
    bool ok = event.type == type;
    if (!ok)
        yerr_at(yr, event.start_mark, "%s", what);
    yaml_event_delete(&event);
    return ok;
}

static bool is_empty_scalar(const ynode *node)
{
    return node->kind == YNODE_SCALAR && !node->quoted && node->value[0] == '\0';
}

static ynode *read_document(yreader *yr)
{
    yaml_event_t event;
    if (!expect_event(yr, YAML_STREAM_START_EVENT, "not a YAML stream"))
        return NULL;
    if (!next_event(yr, &event))
        return NULL;
    if (event.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&event);
        err_append(yr->err, "%s: empty pipeline file", yr->file);
        return NULL;
    }
    yaml_event_delete(&event);      /* the document start */
    if (!next_event(yr, &event))
        return NULL;
    ynode *root = build_node(yr, &event, false);
    if (root == NULL)
        return NULL;
    if (is_empty_scalar(root)) {
        err_append(yr->err, "%s: empty pipeline file", yr->file);
        ynode_free(root);
        return NULL;
    }
    if (!expect_event(yr, YAML_DOCUMENT_END_EVENT, "unexpected content after the document") ||
        !expect_event(yr, YAML_STREAM_END_EVENT,
                      "a second YAML document: a pipeline file holds one document (remove "
                      "the '---' and what follows, or put it in its own file)")) {
        ynode_free(root);
        return NULL;
    }
    return root;
}

ynode *ydoc_load_string(const char *text, size_t len, const char *origin, etl_buf *err)
{
    char *file = xstrdup(origin ? origin : "<string>");
    if (file == NULL) {
        err_append(err, "out of memory");
        return NULL;
    }
    yreader yr = {.file = file, .input = (const unsigned char *)(text ? text : ""),
                  .input_len = text ? len : 0, .err = err};
    if (!yaml_parser_initialize(&yr.parser)) {
        yerr_nomem(&yr);
        free(file);
        return NULL;
    }
    yaml_parser_set_input_string(&yr.parser, yr.input, yr.input_len);
    ynode *root = read_document(&yr);
    yaml_parser_delete(&yr.parser);
    for (size_t i = 0; i < yr.anchor_count; i++)
        free(yr.anchors[i].name);
    free(yr.anchors);
    if (root == NULL) {
        free(file);
        return NULL;
    }
    root->file_owned = file;
    return root;
}

static bool read_whole_file(const char *path, char **data, size_t *len, etl_buf *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        err_append(err, "%s: %s", path, strerror(errno));
        return false;
    }
    etl_buf content = {0};
    char chunk[8192];
    size_t n;
    bool ok = true;
    while (ok && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        ok = buf_append(&content, chunk, n) == ETL_OK;
    if (ok && ferror(f)) {
        err_append(err, "%s: %s", path, strerror(errno ? errno : EIO));
        ok = false;
    } else if (!ok) {
        err_append(err, "%s: out of memory", path);
    }
    fclose(f);
    if (!ok) {
        buf_free(&content);
        return false;
    }
    *len = content.len;
    *data = content.data;
    return true;
}

ynode *ydoc_load_file(const char *path, etl_buf *err)
{
    char *data = NULL;
    size_t len = 0;
    if (path == NULL) {
        err_append(err, "no pipeline file given");
        return NULL;
    }
    if (!read_whole_file(path, &data, &len, err))
        return NULL;
    ynode *root = ydoc_load_string(data, len, path, err);
    free(data);
    return root;
}

/* ---------------------------------------------------------------- queries */

const ynode *ynode_get(const ynode *map, const char *key)
{
    if (map == NULL || key == NULL || map->kind != YNODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->count; i++)
        if (strcmp(map->keys[i]->value, key) == 0)
            return map->items[i];
    return NULL;
}

const char *ynode_where(const ynode *node, char *buf, size_t len)
{
    if (buf == NULL || len == 0)
        return "";
    if (node == NULL)
        snprintf(buf, len, "?");
    else
        snprintf(buf, len, "%s:%d:%d", node->file ? node->file : "?", node->line, node->column);
    return buf;
}

const char *ynode_kind_name(ynode_kind kind)
{
    switch (kind) {
    case YNODE_SCALAR:
        return "scalar";
    case YNODE_MAP:
        return "mapping";
    case YNODE_SEQ:
        return "sequence";
    }
    return "node";
}
