/* A small, non-allocating JSON scanner for Elasticsearch responses, and a
 * growable string for building requests.
 *
 * Responses are read in place: a value is a span of the response text, and
 * record data (each hit's _source, its sort values) is handed on as the
 * exact text it arrived as, never through a double. Every function checks
 * its bounds and never reads past the span, so malformed input fails
 * cleanly. Pure code: no host services, no global state. */
#ifndef ES_JSON_H
#define ES_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ej_span {
    const char *p;
    size_t n;
} ej_span;

typedef enum ej_kind {
    EJ_INVALID = 0,
    EJ_OBJECT,
    EJ_ARRAY,
    EJ_STRING,
    EJ_NUMBER,
    EJ_TRUE,
    EJ_FALSE,
    EJ_NULL
} ej_kind;

/* The kind of a value span (from its first byte). */
ej_kind ej_kind_of(ej_span v);

/* Past one value starting at p (after whitespace); NULL when malformed or
 * truncated. Containers are skipped without recursion, so depth is no
 * danger. */
const char *ej_skip(const char *p, const char *end);

/* The single value of a document, whitespace trimmed; false when the text
 * is not one well-delimited value. */
bool ej_root(const char *text, size_t len, ej_span *root);

/* Iteration over an object's members or an array's elements. An iterator
 * made from a span knows where its container ends; one made by ej_descend
 * streams: it finds its closing bracket as it goes, so that a large value
 * (a page of hits) is read in one pass instead of being skipped first. */
typedef struct ej_iter {
    const char *p, *end;
    char close;                  /* '}' or ']' */
    bool started;
    bool closed;                 /* a streaming iterator met its closing bracket */
    bool failed;                 /* malformed container */
} ej_iter;

bool ej_members(ej_span object, ej_iter *it);
/* key is the raw string token, quotes included. */
bool ej_next_member(ej_iter *it, ej_span *key, ej_span *value);
bool ej_elements(ej_span array, ej_iter *it);
bool ej_next_element(ej_iter *it, ej_span *value);

/* Streaming steps: ej_next_key stops before the member's value, ej_next_slot
 * before the next element; then either ej_take_value skips the value and
 * returns it, or ej_descend iterates inside it (the value must start with
 * `open`) and ej_ascend continues after it once the child is closed. */
bool ej_next_key(ej_iter *it, ej_span *key);
bool ej_next_slot(ej_iter *it);
bool ej_take_value(ej_iter *it, ej_span *value);
/* Asked, while a value is skipped, about each object member whose value is
 * a number or an array that starts with one: the member's raw name (between
 * its quotes). True means "seen what I was looking for": no more calls. */
typedef bool (*ej_number_watch)(void *arg, const char *name, size_t len);
/* ej_take_value that watches the members of the value it skips, in the
 * same pass; *seen says whether the watcher answered true. */
bool ej_take_value_watching(ej_iter *it, ej_span *value, ej_number_watch fn, void *arg,
                            bool *seen);
/* The first byte of the value at the iterator ('\0' at the end). */
char ej_peek(const ej_iter *it);
bool ej_descend(ej_iter *it, char open, ej_iter *child);
bool ej_ascend(ej_iter *it, const ej_iter *child);

/* A raw key token equals `name` (escapes decoded). */
bool ej_key_is(ej_span key, const char *name);
/* The value of the first member named `name` of an object. */
bool ej_get(ej_span object, const char *name, ej_span *value);
/* ej_get along a dotted path of object members: "error.root_cause". */
bool ej_get_path(ej_span object, const char *path, ej_span *value);

/* A string value, unescaped into out (NUL-terminated, truncated to cap-1
 * bytes at a UTF-8 boundary). False when v is not a valid string. */
bool ej_string(ej_span v, char *out, size_t cap);
/* The same, into new malloc'd memory (NULL on failure). */
char *ej_string_dup(ej_span v);
bool ej_string_is(ej_span v, const char *s);
/* An integer value (no fraction, no exponent) that fits int64. */
bool ej_int64(ej_span v, int64_t *out);

/* ------------------------------------------------------------------ */
/* A growable string (malloc). After an allocation failure it stays
 * failed: writes are dropped and es_str_ok() is false. */
typedef struct es_str {
    char *p;
    size_t n, cap;
    bool failed;
} es_str;

void es_str_add(es_str *s, const char *data, size_t len);
void es_str_cat(es_str *s, const char *text);
void es_str_printf(es_str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* `text` as a JSON string literal, quotes included. */
void es_str_json_string(es_str *s, const char *text, size_t len);
void es_str_reset(es_str *s);
bool es_str_ok(const es_str *s);
/* The text (NUL-terminated; "" when empty). */
const char *es_str_cstr(es_str *s);
void es_str_free(es_str *s);

#endif
