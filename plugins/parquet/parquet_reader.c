/* Footer and schema reader (see parquet_reader.h). */
#include "parquet_reader.h"

#include <stdio.h>

int64_t pq_footer_length(const uint8_t tail[8])
{
    if (memcmp(tail + 4, "PAR1", 4) != 0)
        return -1;
    return (int64_t)((uint32_t)tail[0] | (uint32_t)tail[1] << 8 | (uint32_t)tail[2] << 16 |
                     (uint32_t)tail[3] << 24);
}

bool pq_read_footer(const uint8_t *file, size_t len, pq_file_meta *m, char *err,
                    size_t err_size)
{
    *m = (pq_file_meta){0};
    if (len < 12 || memcmp(file, "PAR1", 4) != 0) {
        snprintf(err, err_size, "not a Parquet file (it does not start with PAR1)");
        return false;
    }
    int64_t footer = pq_footer_length(file + len - 8);
    if (footer < 0) {
        snprintf(err, err_size, "no Parquet footer (the file does not end with PAR1: it may "
                                "be incomplete)");
        return false;
    }
    if ((uint64_t)footer > len - 12) {
        snprintf(err, err_size, "the footer length %lld is larger than the file",
                 (long long)footer);
        return false;
    }
    return pq_file_meta_read(file + len - 8 - footer, (size_t)footer, m, err, err_size);
}

typedef struct schema_walk {
    const pq_file_meta *m;
    size_t next;                 /* the next element to read */
    pq_buf *out;
    int depth;
    const char *why;
} schema_walk;

static void json_string(pq_buf *b, const char *s)
{
    pq_buf_byte(b, '"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            pq_buf_byte(b, '\\');
            pq_buf_byte(b, ch);
        } else if (ch < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", ch);
            pq_buf_append(b, esc, 6);
        } else {
            pq_buf_byte(b, ch);
        }
    }
    pq_buf_byte(b, '"');
}

static void leaf_type_name(const pq_schema_element *e, char *out, size_t size)
{
    const pq_logical_type *lt = &e->logical;
    static const char *const units[] = {"", "ms", "us", "ns"};
    if (lt->kind == PQ_LT_STRING || e->converted_type == PQ_CT_UTF8 || lt->kind == PQ_LT_JSON ||
        lt->kind == PQ_LT_ENUM)
        snprintf(out, size, "string");
    else if (lt->kind == PQ_LT_DECIMAL)
        snprintf(out, size, "decimal(%d,%d)", (int)lt->precision, (int)lt->scale);
    else if (e->converted_type == PQ_CT_DECIMAL)
        snprintf(out, size, "decimal(%d,%d)", (int)e->precision, (int)e->scale);
    else if (lt->kind == PQ_LT_TIMESTAMP && lt->unit >= 1 && lt->unit <= 3)
        snprintf(out, size, "timestamp_%s", units[lt->unit]);
    else if (e->converted_type == 9 || e->converted_type == PQ_CT_TIMESTAMP_MICROS)
        snprintf(out, size, "timestamp_%s", e->converted_type == 9 ? "ms" : "us");
    else if (lt->kind == PQ_LT_DATE || e->converted_type == PQ_CT_DATE)
        snprintf(out, size, "date");
    else if (e->type == PQ_BOOLEAN)
        snprintf(out, size, "bool");
    else if (e->type == PQ_INT32)
        snprintf(out, size, "int32");
    else if (e->type == PQ_INT64)
        snprintf(out, size, "int64");
    else if (e->type == PQ_INT96)
        snprintf(out, size, "int96");
    else if (e->type == PQ_FLOAT)
        snprintf(out, size, "float");
    else if (e->type == PQ_DOUBLE)
        snprintf(out, size, "double");
    else if (e->type == PQ_FIXED_LEN_BYTE_ARRAY)
        snprintf(out, size, "fixed[%d]", (int)e->type_length);
    else
        snprintf(out, size, "binary");
}

static bool walk_node(schema_walk *w, bool named);

/* The children of a group, as a JSON array. */
static bool walk_children(schema_walk *w, int32_t n)
{
    pq_buf_byte(w->out, '[');
    for (int32_t i = 0; i < n; i++) {
        if (i > 0)
            pq_buf_byte(w->out, ',');
        if (!walk_node(w, true))
            return false;
    }
    pq_buf_byte(w->out, ']');
    return true;
}

static bool walk_node(schema_walk *w, bool named)
{
    if (w->next >= w->m->n_schema) {
        w->why = "the schema ends before all the children announced";
        return false;
    }
    if (++w->depth > 200) {
        w->why = "the schema nests too deep";
        return false;
    }
    const pq_schema_element *e = &w->m->schema[w->next++];
    pq_buf_byte(w->out, '{');
    if (named) {
        pq_buf_append(w->out, "\"name\":", 7);
        json_string(w->out, e->name != NULL ? e->name : "");
        pq_buf_byte(w->out, ',');
    }
    bool group = e->num_children != PQ_UNSET && e->num_children >= 0 && e->type == PQ_UNSET;
    bool ok = true;
    char text[64];
    if (!group) {
        leaf_type_name(e, text, sizeof text);
        pq_buf_append(w->out, "\"type\":\"", 8);
        pq_buf_append(w->out, text, strlen(text));
        pq_buf_byte(w->out, '"');
    } else if ((e->logical.kind == PQ_LT_LIST || e->converted_type == PQ_CT_LIST) &&
               e->num_children == 1) {
        /* LIST { repeated group list { element } }, or the legacy two-level
         * form where the repeated child is the element itself. */
        pq_buf_append(w->out, "\"type\":\"list\",\"element\":", 24);
        const pq_schema_element *rep = w->next < w->m->n_schema ? &w->m->schema[w->next] : NULL;
        if (rep != NULL && rep->num_children == 1 && rep->type == PQ_UNSET) {
            w->next++;
            ok = walk_node(w, false);
        } else {
            ok = walk_node(w, false);
        }
    } else if (e->logical.kind == PQ_LT_MAP || e->converted_type == 1 || e->converted_type == 2) {
        pq_buf_append(w->out, "\"type\":\"map\",\"fields\":", 22);
        ok = walk_children(w, e->num_children);
    } else {
        pq_buf_append(w->out, "\"type\":\"struct\",\"fields\":", 25);
        ok = walk_children(w, e->num_children);
    }
    snprintf(text, sizeof text, ",\"nullable\":%s}", e->repetition == PQ_REQUIRED ? "false"
                                                                                 : "true");
    pq_buf_append(w->out, text, strlen(text));
    w->depth--;
    return ok;
}

bool pq_schema_json(const pq_file_meta *m, pq_buf *out, char *err, size_t err_size)
{
    schema_walk w = {.m = m, .next = 1, .out = out};
    bool ok = m->n_schema > 0 && m->schema[0].num_children >= 0;
    if (!ok)
        w.why = "the schema has no root";
    else
        ok = walk_children(&w, m->schema[0].num_children);
    if (ok && w.next != m->n_schema) {
        ok = false;
        w.why = "the schema has elements no group announces";
    }
    if (ok && out->failed) {
        ok = false;
        w.why = "out of memory";
    }
    if (!ok)
        snprintf(err, err_size, "malformed Parquet schema: %s", w.why);
    return ok;
}
