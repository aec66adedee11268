#include "es_cursor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_span(ej_span v)
{
    char *p = malloc(v.n + 1);
    if (p) {
        memcpy(p, v.p, v.n);
        p[v.n] = '\0';
    }
    return p;
}

bool es_cursor_init(es_cursor *c, const char *const *keys, size_t nkeys)
{
    *c = (es_cursor){0};
    if (nkeys > ES_MAX_KEYS)
        return false;
    for (size_t i = 0; i < nkeys; i++) {
        c->keys[i] = strdup(keys[i]);
        if (c->keys[i] == NULL) {
            es_cursor_free(c);
            return false;
        }
    }
    c->nkeys = nkeys;
    return true;
}

static void clear_position(es_cursor *c)
{
    for (size_t i = 0; i < ES_MAX_KEYS; i++) {
        free(c->after[i]);
        c->after[i] = NULL;
    }
    free(c->pit);
    free(c->shard_doc);
    c->pit = c->shard_doc = NULL;
    c->has_after = false;
}

void es_cursor_free(es_cursor *c)
{
    clear_position(c);
    for (size_t i = 0; i < ES_MAX_KEYS; i++)
        free(c->keys[i]);
    *c = (es_cursor){0};
}

/* A sort value is a scalar: number, string, boolean or null. */
static bool scalar(ej_span v)
{
    ej_kind k = ej_kind_of(v);
    return k != EJ_INVALID && k != EJ_OBJECT && k != EJ_ARRAY;
}

bool es_cursor_take(es_cursor *c, ej_span sort, const char *pit)
{
    ej_iter it;
    ej_span v;
    ej_span values[ES_MAX_KEYS + 1];
    size_t want = c->nkeys + (pit != NULL), n = 0;
    if (!ej_elements(sort, &it))
        return false;
    while (ej_next_element(&it, &v)) {
        if (n == want || !scalar(v))
            return false;
        values[n++] = v;
    }
    if (it.failed || n != want)
        return false;
    clear_position(c);
    for (size_t i = 0; i < c->nkeys; i++)
        if ((c->after[i] = dup_span(values[i])) == NULL)
            return false;
    if (pit) {
        c->pit = strdup(pit);
        c->shard_doc = dup_span(values[c->nkeys]);
        if (c->pit == NULL || c->shard_doc == NULL)
            return false;
    }
    c->has_after = true;
    return true;
}

void es_cursor_encode(const es_cursor *c, es_str *out)
{
    es_str_cat(out, "{\"v\":1,\"keys\":[");
    for (size_t i = 0; i < c->nkeys; i++) {
        if (i)
            es_str_add(out, ",", 1);
        es_str_json_string(out, c->keys[i], strlen(c->keys[i]));
    }
    es_str_add(out, "]", 1);
    if (c->has_after) {
        es_str_cat(out, ",\"after\":[");
        for (size_t i = 0; i < c->nkeys; i++) {
            if (i)
                es_str_add(out, ",", 1);
            es_str_cat(out, c->after[i]);
        }
        es_str_add(out, "]", 1);
        if (c->pit && c->shard_doc) {
            es_str_cat(out, ",\"pit\":");
            es_str_json_string(out, c->pit, strlen(c->pit));
            es_str_printf(out, ",\"shard_doc\":%s", c->shard_doc);
        }
    }
    if (c->has_upper)
        es_str_printf(out, ",\"upper\":%lld", (long long)c->upper_ms);
    es_str_printf(out, ",\"end\":%s}", c->end ? "true" : "false");
}

static bool fail(char *error, size_t cap, const char *what)
{
    snprintf(error, cap, "%s", what);
    return false;
}

static bool decode_keys(ej_span keys, es_cursor *c, char *error, size_t cap)
{
    ej_iter it;
    ej_span v;
    if (!ej_elements(keys, &it))
        return fail(error, cap, "'keys' is not an array");
    while (ej_next_element(&it, &v)) {
        if (c->nkeys == ES_MAX_KEYS)
            return fail(error, cap, "'keys' has too many keys");
        if ((c->keys[c->nkeys] = ej_string_dup(v)) == NULL)
            return fail(error, cap, "'keys' holds something other than strings");
        c->nkeys++;
    }
    return it.failed ? fail(error, cap, "'keys' is malformed") : true;
}

static bool decode_after(ej_span after, es_cursor *c, char *error, size_t cap)
{
    ej_iter it;
    ej_span v;
    size_t n = 0;
    if (!ej_elements(after, &it))
        return fail(error, cap, "'after' is not an array");
    while (ej_next_element(&it, &v)) {
        if (n == c->nkeys || !scalar(v))
            return fail(error, cap, "'after' does not match 'keys'");
        if ((c->after[n++] = dup_span(v)) == NULL)
            return fail(error, cap, "out of memory");
    }
    if (it.failed || n != c->nkeys)
        return fail(error, cap, "'after' does not match 'keys'");
    c->has_after = true;
    return true;
}

static bool decode_members(ej_span root, es_cursor *c, char *error, size_t cap)
{
    ej_span v;
    int64_t version = 0;
    if (!ej_get(root, "v", &v) || !ej_int64(v, &version) || version != 1)
        return fail(error, cap, "unknown cursor version (this etl writes v 1)");
    if (!ej_get(root, "keys", &v) || !decode_keys(v, c, error, cap))
        return error[0] ? false : fail(error, cap, "no 'keys'");
    if (ej_get(root, "after", &v) && ej_kind_of(v) != EJ_NULL && !decode_after(v, c, error, cap))
        return false;
    ej_span pit, shard_doc;
    if (ej_get(root, "pit", &pit) && ej_get(root, "shard_doc", &shard_doc)) {
        if (!c->has_after || ej_kind_of(shard_doc) != EJ_NUMBER ||
            (c->pit = ej_string_dup(pit)) == NULL || (c->shard_doc = dup_span(shard_doc)) == NULL)
            return fail(error, cap, "'pit' or 'shard_doc' is malformed");
    }
    if (ej_get(root, "upper", &v)) {
        if (!ej_int64(v, &c->upper_ms))
            return fail(error, cap, "'upper' is not an integer");
        c->has_upper = true;
    }
    c->end = ej_get(root, "end", &v) && ej_kind_of(v) == EJ_TRUE;
    return true;
}

bool es_cursor_decode(const char *json, size_t len, es_cursor *c, char *error, size_t cap)
{
    *c = (es_cursor){0};
    error[0] = '\0';
    ej_span root;
    if (!ej_root(json, len, &root) || ej_kind_of(root) != EJ_OBJECT) {
        fail(error, cap, "the cursor is not a JSON object");
        return false;
    }
    if (!decode_members(root, c, error, cap)) {
        es_cursor_free(c);
        return false;
    }
    return true;
}

bool es_cursor_same_keys(const es_cursor *a, const es_cursor *b)
{
    if (a->nkeys != b->nkeys)
        return false;
    for (size_t i = 0; i < a->nkeys; i++)
        if (strcmp(a->keys[i], b->keys[i]) != 0)
            return false;
    return true;
}

bool es_cursor_search_after(const es_cursor *c, bool with_shard_doc, bool same_pit, es_str *out)
{
    if (!c->has_after)
        return false;
    bool shard_doc_known = same_pit && c->shard_doc;
    if (with_shard_doc && c->nkeys == 0 && !shard_doc_known)
        return false;
    es_str_add(out, "[", 1);
    for (size_t i = 0; i < c->nkeys; i++) {
        if (i)
            es_str_add(out, ",", 1);
        es_str_cat(out, c->after[i]);
    }
    if (with_shard_doc) {
        if (c->nkeys)
            es_str_add(out, ",", 1);
        /* In another PIT the stable keys alone are unique, so the largest
         * _shard_doc puts the position right after the last record. */
        es_str_cat(out, shard_doc_known ? c->shard_doc : ES_SHARD_DOC_MAX);
    }
    es_str_add(out, "]", 1);
    return true;
}

static void range(es_str *out, const char *key, const char *op, const char *value, bool is_date)
{
    es_str_cat(out, "{\"range\":{");
    es_str_json_string(out, key, strlen(key));
    es_str_printf(out, ":{\"%s\":%s", op, value);
    if (is_date)
        es_str_cat(out, ",\"format\":\"epoch_millis\"");
    es_str_cat(out, "}}}");
}

static void equal(es_str *out, const char *key, const char *value, bool is_date)
{
    es_str_cat(out, "{\"range\":{");
    es_str_json_string(out, key, strlen(key));
    es_str_printf(out, ":{\"gte\":%s,\"lte\":%s", value, value);
    if (is_date)
        es_str_cat(out, ",\"format\":\"epoch_millis\"");
    es_str_cat(out, "}}}");
}

bool es_cursor_keyset_query(const es_cursor *c, const bool *is_date, es_str *out)
{
    if (!c->has_after || c->nkeys == 0)
        return false;
    if (c->nkeys == 1) {
        range(out, c->keys[0], "gt", c->after[0], is_date[0]);
        return true;
    }
    /* (k0 > v0) or (k0 = v0 and k1 > v1) */
    es_str_cat(out, "{\"bool\":{\"should\":[");
    range(out, c->keys[0], "gt", c->after[0], is_date[0]);
    es_str_cat(out, ",{\"bool\":{\"filter\":[");
    equal(out, c->keys[0], c->after[0], is_date[0]);
    es_str_add(out, ",", 1);
    range(out, c->keys[1], "gt", c->after[1], is_date[1]);
    es_str_cat(out, "]}}],\"minimum_should_match\":1}}");
    return true;
}
