#include "json_span.h"

#include <stdlib.h>

#include "buf.h"
#include "context.h"
#include "json_tokenizer.h"

static const char *skip_separators(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',' ||
                       *p == ':'))
        p++;
    return p;
}

static etl_json_type type_of(jt_token tok)
{
    switch (tok) {
    case JT_OBJECT_BEGIN: return ETL_JSON_OBJECT;
    case JT_ARRAY_BEGIN: return ETL_JSON_ARRAY;
    case JT_STRING: return ETL_JSON_STRING;
    case JT_INT:
    case JT_BIG_NUMBER:
    case JT_DOUBLE: return ETL_JSON_NUMBER;
    case JT_TRUE:
    case JT_FALSE: return ETL_JSON_BOOL;
    default: return ETL_JSON_NULL;
    }
}

/* The tokenizer has just returned value token `tok`, which began at or
 * after `from`: consume the rest of it (a container's insides) and record
 * its span. */
static jt_token take_value(jt_tokenizer *t, jt_token tok, const char *from, etl_json_span *out)
{
    const char *start = skip_separators(from, t->end);
    if (tok == JT_OBJECT_BEGIN || tok == JT_ARRAY_BEGIN) {
        int depth = jt_depth(t);
        jt_token inner;
        while ((inner = jt_next(t)) > JT_END && jt_depth(t) >= depth)
            ;
        if (inner <= JT_END) /* an error, or the text ended inside the value */
            return JT_ERROR;
    }
    if (out) {
        out->ptr = start;
        out->len = (size_t)(t->p - start);
        out->type = type_of(tok);
    }
    return tok;
}

static etl_status syntax_error(etl_ctx *ctx, const jt_tokenizer *t)
{
    char msg[256];
    jt_format_error(t, msg, sizeof msg);
    return ctx_set_error(ctx, ETL_ERR_DATA, 0, "invalid JSON: %s", msg);
}

/* Descends one level: in the container just opened, finds member `name`
 * (objects) or element number `name` (arrays). Leaves the tokenizer on the
 * found value's first token and returns it; JT_END when absent. */
static jt_token enter(jt_tokenizer *t, bool is_object, const char *name, size_t name_len,
                      const char **value_from)
{
    long index = -1;
    if (!is_object) {
        char *end = NULL;
        char digits[24];
        if (name_len == 0 || name_len >= sizeof digits)
            return JT_END;
        memcpy(digits, name, name_len);
        digits[name_len] = '\0';
        index = strtol(digits, &end, 10);
        if (*end != '\0' || index < 0)
            return JT_END;
    }
    int depth = jt_depth(t);
    for (long i = 0;; i++) {
        const char *before = t->p;
        jt_token tok = jt_next(t);
        if (tok == JT_ERROR)
            return JT_ERROR;
        if ((tok == JT_OBJECT_END || tok == JT_ARRAY_END) && jt_depth(t) < depth)
            return JT_END;
        bool match;
        if (is_object) {
            match = tok == JT_KEY && t->len == name_len && memcmp(t->str, name, name_len) == 0;
            before = t->p;
            tok = jt_next(t);
            if (tok == JT_ERROR)
                return JT_ERROR;
        } else {
            match = i == index;
        }
        if (match) {
            *value_from = before;
            return tok;
        }
        if (take_value(t, tok, before, NULL) == JT_ERROR)
            return JT_ERROR;
    }
}

etl_status json_span_find(etl_ctx *ctx, const char *json, size_t len, const char *path,
                          etl_json_span *out)
{
    jt_tokenizer t;
    jt_init(&t);
    jt_reset(&t, json, len);
    const char *from = t.p;
    jt_token tok = jt_next(&t);
    etl_status st = ETL_OK;
    const char *segment = path ? path : "";
    while (tok > JT_END && *segment) {
        const char *dot = strchr(segment, '.');
        size_t seg_len = dot ? (size_t)(dot - segment) : strlen(segment);
        if (tok != JT_OBJECT_BEGIN && tok != JT_ARRAY_BEGIN) {
            tok = JT_END; /* a scalar has no members */
            break;
        }
        tok = enter(&t, tok == JT_OBJECT_BEGIN, segment, seg_len, &from);
        segment = dot ? dot + 1 : segment + seg_len;
    }
    if (tok > JT_END)
        tok = take_value(&t, tok, from, out);
    if (tok == JT_ERROR)
        st = syntax_error(ctx, &t);
    else if (tok == JT_END)
        st = ETL_END;
    jt_free(&t);
    return st;
}

/* Skips a string starting at its opening quote; returns the byte after it. */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return end;
}

/* Skips one (already validated) value; returns the byte after it. */
static const char *skip_value(const char *p, const char *end)
{
    if (*p == '"')
        return skip_string(p, end);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        while (p < end) {
            char c = *p;
            if (c == '"') {
                p = skip_string(p, end);
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if (c == '}' || c == ']')
                depth--;
            p++;
            if (depth == 0)
                return p;
        }
        return end;
    }
    while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' &&
           *p != '\t' && *p != '\r')
        p++;
    return p;
}

static etl_json_type type_at(const char *p)
{
    switch (*p) {
    case '{': return ETL_JSON_OBJECT;
    case '[': return ETL_JSON_ARRAY;
    case '"': return ETL_JSON_STRING;
    case 't':
    case 'f': return ETL_JSON_BOOL;
    case 'n': return ETL_JSON_NULL;
    default: return ETL_JSON_NUMBER;
    }
}

/* Containers found by json_span_find were validated whole, so walking them
 * needs no tokenizer: a structural scan, resumable at *position. */
etl_status json_span_next(const etl_json_span *container, size_t *position, etl_json_span *key,
                          etl_json_span *value)
{
    if (container->type != ETL_JSON_ARRAY && container->type != ETL_JSON_OBJECT)
        return ETL_END;
    const char *begin = container->ptr;
    const char *end = begin + container->len;
    const char *p = begin + (*position ? *position : 1);
    p = skip_separators(p, end);
    if (p >= end || *p == '}' || *p == ']')
        return ETL_END;
    if (container->type == ETL_JSON_OBJECT) {
        const char *key_end = skip_string(p, end);
        if (key) {
            key->ptr = p;
            key->len = (size_t)(key_end - p);
            key->type = ETL_JSON_STRING;
        }
        p = skip_separators(key_end, end);
    } else if (key) {
        key->ptr = NULL;
        key->len = 0;
        key->type = ETL_JSON_NULL;
    }
    const char *value_end = skip_value(p, end);
    value->ptr = p;
    value->len = (size_t)(value_end - p);
    value->type = type_at(p);
    *position = (size_t)(value_end - begin);
    return ETL_OK;
}

static jt_token scalar(const etl_json_span *v, jt_tokenizer *t)
{
    jt_init(t);
    jt_reset(t, v->ptr, v->len);
    return jt_next(t);
}

bool json_span_int64(const etl_json_span *v, int64_t *out)
{
    if (v->type != ETL_JSON_NUMBER)
        return false;
    jt_tokenizer t;
    jt_token tok = scalar(v, &t);
    bool ok = tok == JT_INT;
    if (ok)
        *out = t.i;
    jt_free(&t);
    return ok;
}

bool json_span_double(const etl_json_span *v, double *out)
{
    if (v->type != ETL_JSON_NUMBER)
        return false;
    jt_tokenizer t;
    jt_token tok = scalar(v, &t);
    bool ok = tok == JT_INT || tok == JT_DOUBLE || tok == JT_BIG_NUMBER;
    if (ok)
        *out = tok == JT_INT ? (double)t.i : t.d;
    jt_free(&t);
    return ok;
}

bool json_span_bool(const etl_json_span *v, bool *out)
{
    if (v->type != ETL_JSON_BOOL)
        return false;
    *out = v->ptr[0] == 't';
    return true;
}

etl_status json_span_string(const etl_json_span *v, etl_buf *out)
{
    if (v->type != ETL_JSON_STRING)
        return ETL_ERR_DATA;
    jt_tokenizer t;
    jt_token tok = scalar(v, &t);
    etl_status st = tok == JT_STRING ? buf_append(out, t.str, t.len) : ETL_ERR_DATA;
    jt_free(&t);
    return st;
}
