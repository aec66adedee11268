/* FileMetaData and PageHeader, to and from Thrift compact (parquet.thrift
 * field ids in the comments' order). */
#include "parquet_metadata.h"

#include "thrift_compact.h"

#include <stdio.h>

/* ==== writing ======================================================== */

static void write_logical_type(tc_writer *w, const pq_logical_type *lt)
{
    tc_field_struct(w, 10);
    tc_field_struct(w, (int16_t)lt->kind);
    switch (lt->kind) {
    case PQ_LT_DECIMAL:
        tc_field_i32(w, 1, lt->scale);
        tc_field_i32(w, 2, lt->precision);
        break;
    case PQ_LT_TIMESTAMP: case PQ_LT_TIME:
        tc_field_bool(w, 1, lt->utc);
        tc_field_struct(w, 2);           /* TimeUnit union */
        tc_field_struct(w, (int16_t)lt->unit);
        tc_struct_end(w);
        tc_struct_end(w);
        break;
    case PQ_LT_INTEGER:
        /* bitWidth is an i8: a raw byte after its header. */
        pq_buf_byte(w->out, (uint8_t)(1 << 4 | TC_I8));
        pq_buf_byte(w->out, (uint8_t)lt->bit_width);
        w->last_id[w->depth] = 1;
        tc_field_bool(w, 2, lt->is_signed);
        break;
    default:
        break;                           /* STRING, LIST, DATE, UNKNOWN: empty structs */
    }
    tc_struct_end(w);
    tc_struct_end(w);
}

static void write_schema_element(tc_writer *w, const pq_schema_element *e)
{
    tc_list_struct(w);
    if (e->type != PQ_UNSET)
        tc_field_i32(w, 1, e->type);
    if (e->type_length != PQ_UNSET)
        tc_field_i32(w, 2, e->type_length);
    if (e->repetition != PQ_UNSET)
        tc_field_i32(w, 3, e->repetition);
    tc_field_string(w, 4, e->name);
    if (e->num_children != PQ_UNSET)
        tc_field_i32(w, 5, e->num_children);
    if (e->converted_type != PQ_UNSET)
        tc_field_i32(w, 6, e->converted_type);
    if (e->scale != PQ_UNSET)
        tc_field_i32(w, 7, e->scale);
    if (e->precision != PQ_UNSET)
        tc_field_i32(w, 8, e->precision);
    if (e->logical.kind != PQ_LT_NONE)
        write_logical_type(w, &e->logical);
    tc_struct_end(w);
}

static void write_statistics(tc_writer *w, int16_t id, const pq_statistics *s)
{
    tc_field_struct(w, id);
    if (s->has_null_count)
        tc_field_i64(w, 3, s->null_count);
    if (s->has_min_max) {
        tc_field_binary(w, 5, s->max.data, s->max.len);
        tc_field_binary(w, 6, s->min.data, s->min.len);
        tc_field_bool(w, 7, true);
        tc_field_bool(w, 8, true);
    }
    if (s->has_nan_count)
        tc_field_i64(w, 9, s->nan_count);
    tc_struct_end(w);
}

static void write_column_meta(tc_writer *w, const pq_column_meta *c)
{
    tc_field_struct(w, 3);
    tc_field_i32(w, 1, c->type);
    tc_field_list(w, 2, TC_I32, c->n_encodings);
    for (size_t i = 0; i < c->n_encodings; i++)
        tc_list_i32(w, c->encodings[i]);
    tc_field_list(w, 3, TC_BINARY, c->path_len);
    for (size_t i = 0; i < c->path_len; i++)
        tc_list_binary(w, c->path[i], strlen(c->path[i]));
    tc_field_i32(w, 4, c->codec);
    tc_field_i64(w, 5, c->num_values);
    tc_field_i64(w, 6, c->total_uncompressed_size);
    tc_field_i64(w, 7, c->total_compressed_size);
    tc_field_i64(w, 9, c->data_page_offset);
    if (c->dictionary_page_offset != PQ_UNSET)
        tc_field_i64(w, 11, c->dictionary_page_offset);
    if (c->has_stats)
        write_statistics(w, 12, &c->stats);
    if (c->n_enc_stats > 0) {
        tc_field_list(w, 13, TC_STRUCT, c->n_enc_stats);
        for (size_t i = 0; i < c->n_enc_stats; i++) {
            tc_list_struct(w);
            tc_field_i32(w, 1, c->enc_stats[i].page_type);
            tc_field_i32(w, 2, c->enc_stats[i].encoding);
            tc_field_i32(w, 3, c->enc_stats[i].count);
            tc_struct_end(w);
        }
    }
    tc_struct_end(w);
}

static void write_row_group(tc_writer *w, const pq_row_group *rg)
{
    tc_list_struct(w);
    tc_field_list(w, 1, TC_STRUCT, rg->n_columns);
    for (size_t i = 0; i < rg->n_columns; i++) {
        tc_list_struct(w);
        /* Deprecated but required: Thrift-generated readers reject a
         * ColumnChunk without it. */
        tc_field_i64(w, 2, 0);
        write_column_meta(w, &rg->columns[i]);
        tc_struct_end(w);
    }
    tc_field_i64(w, 2, rg->total_byte_size);
    tc_field_i64(w, 3, rg->num_rows);
    tc_field_i64(w, 5, rg->file_offset);
    tc_field_i64(w, 6, rg->total_compressed_size);
    tc_struct_end(w);
}

size_t pq_schema_leaves(const pq_file_meta *m)
{
    size_t n = 0;
    for (size_t i = 1; i < m->n_schema; i++)
        n += m->schema[i].num_children == PQ_UNSET || m->schema[i].num_children == 0;
    return n;
}

void pq_file_meta_write(const pq_file_meta *m, pq_buf *out)
{
    tc_writer w;
    tc_writer_init(&w, out);
    tc_field_i32(&w, 1, m->version);
    tc_field_list(&w, 2, TC_STRUCT, m->n_schema);
    for (size_t i = 0; i < m->n_schema; i++)
        write_schema_element(&w, &m->schema[i]);
    tc_field_i64(&w, 3, m->num_rows);
    tc_field_list(&w, 4, TC_STRUCT, m->n_row_groups);
    for (size_t i = 0; i < m->n_row_groups; i++)
        write_row_group(&w, &m->row_groups[i]);
    if (m->n_kv > 0) {
        tc_field_list(&w, 5, TC_STRUCT, m->n_kv);
        for (size_t i = 0; i < m->n_kv; i++) {
            tc_list_struct(&w);
            tc_field_string(&w, 1, m->kv[i].key);
            if (m->kv[i].value != NULL)
                tc_field_string(&w, 2, m->kv[i].value);
            tc_struct_end(&w);
        }
    }
    if (m->created_by != NULL)
        tc_field_string(&w, 6, m->created_by);
    if (m->column_orders) {
        /* TYPE_ORDER for every leaf: min_value/max_value then have a
         * defined meaning for readers. */
        size_t leaves = pq_schema_leaves(m);
        tc_field_list(&w, 7, TC_STRUCT, leaves);
        for (size_t i = 0; i < leaves; i++) {
            tc_list_struct(&w);
            tc_field_struct(&w, 1);
            tc_struct_end(&w);
            tc_struct_end(&w);
        }
    }
    tc_message_end(&w);
}

void pq_page_header_write(const pq_page_header *h, pq_buf *out)
{
    tc_writer w;
    tc_writer_init(&w, out);
    tc_field_i32(&w, 1, h->type);
    tc_field_i32(&w, 2, h->uncompressed_size);
    tc_field_i32(&w, 3, h->compressed_size);
    if (h->type == PQ_PAGE_DATA) {
        tc_field_struct(&w, 5);
        tc_field_i32(&w, 1, h->num_values);
        tc_field_i32(&w, 2, h->encoding);
        tc_field_i32(&w, 3, h->def_encoding);
        tc_field_i32(&w, 4, h->rep_encoding);
        tc_struct_end(&w);
    } else if (h->type == PQ_PAGE_DICTIONARY) {
        tc_field_struct(&w, 7);
        tc_field_i32(&w, 1, h->num_values);
        tc_field_i32(&w, 2, h->encoding);
        tc_struct_end(&w);
    }
    tc_message_end(&w);
}

/* ==== reading ======================================================== */

static char *dup_bytes(const uint8_t *p, size_t len)
{
    char *s = malloc(len + 1);
    if (s != NULL) {
        if (len > 0)
            memcpy(s, p, len);
        s[len] = '\0';
    }
    return s;
}

static char *read_string(tc_reader *r)
{
    size_t len;
    const uint8_t *p = tc_read_binary(r, &len);
    if (r->error)
        return NULL;
    char *s = dup_bytes(p, len);
    if (s == NULL)
        tc_fail(r, "out of memory");
    return s;
}

static void read_binary_into(tc_reader *r, pq_buf *b)
{
    size_t len;
    const uint8_t *p = tc_read_binary(r, &len);
    pq_buf_reset(b);
    pq_buf_append(b, p, len);
    if (b->failed)
        tc_fail(r, "out of memory");
}

/* Allocates an array of n zeroed elements for a list just read. */
static void *alloc_list(tc_reader *r, size_t n, size_t size)
{
    if (n == 0)
        return NULL;
    void *p = calloc(n, size);
    if (p == NULL)
        tc_fail(r, "out of memory");
    return p;
}

static void read_time_unit(tc_reader *r, pq_logical_type *lt)
{
    int16_t id;
    uint8_t type;
    tc_struct_begin(r);
    while (tc_next_field(r, &id, &type)) {
        lt->unit = id;
        tc_skip(r, type);
    }
    tc_struct_end_read(r);
}

static void read_logical_member(tc_reader *r, pq_logical_type *lt)
{
    int16_t id;
    uint8_t type;
    tc_struct_begin(r);
    while (tc_next_field(r, &id, &type)) {
        if (lt->kind == PQ_LT_DECIMAL && id == 1 && type == TC_I32)
            lt->scale = tc_read_i32(r);
        else if (lt->kind == PQ_LT_DECIMAL && id == 2 && type == TC_I32)
            lt->precision = tc_read_i32(r);
        else if ((lt->kind == PQ_LT_TIMESTAMP || lt->kind == PQ_LT_TIME) && id == 1)
            lt->utc = tc_read_bool(r, type);
        else if ((lt->kind == PQ_LT_TIMESTAMP || lt->kind == PQ_LT_TIME) && id == 2 &&
                 type == TC_STRUCT)
            read_time_unit(r, lt);
        else if (lt->kind == PQ_LT_INTEGER && id == 1 && type == TC_I8)
            lt->bit_width = (int8_t)(r->p < r->end ? *r->p++ : 0);
        else if (lt->kind == PQ_LT_INTEGER && id == 2)
            lt->is_signed = tc_read_bool(r, type);
        else
            tc_skip(r, type);
    }
    tc_struct_end_read(r);
}

static void read_logical_type(tc_reader *r, pq_logical_type *lt)
{
    int16_t id;
    uint8_t type;
    tc_struct_begin(r);
    while (tc_next_field(r, &id, &type)) {
        if (type == TC_STRUCT) {
            lt->kind = id;
            read_logical_member(r, lt);
        } else {
            tc_skip(r, type);
        }
    }
    tc_struct_end_read(r);
}

static void read_schema_element(tc_reader *r, pq_schema_element *e)
{
    *e = (pq_schema_element){.type = PQ_UNSET, .type_length = PQ_UNSET,
                             .repetition = PQ_UNSET, .num_children = PQ_UNSET,
                             .converted_type = PQ_UNSET, .scale = PQ_UNSET,
                             .precision = PQ_UNSET};
    int16_t id;
    uint8_t type;
    tc_struct_begin(r);
    while (tc_next_field(r, &id, &type)) {
        int key = type == TC_I32 && id != 4 && id != 10 ? id
                  : type == TC_BINARY && id == 4   ? 4
                  : type == TC_STRUCT && id == 10  ? 10
                                                   : 0;
        switch (key) {
        case 1: e->type = tc_read_i32(r); break;
        case 2: e->type_length = tc_read_i32(r); break;
        case 3: e->repetition = tc_read_i32(r); break;
        case 4: free(e->name); e->name = read_string(r); break;
        case 5: e->num_children = tc_read_i32(r); break;
        case 6: e->converted_type = tc_read_i32(r); break;
        case 7: e->scale = tc_read_i32(r); break;
        case 8: e->precision = tc_read_i32(r); break;
        case 10: read_logical_type(r, &e->logical); break;
        default: tc_skip(r, type);
        }
    }
    tc_struct_end_read(r);
    if (!r->error && e->name == NULL)
        tc_fail(r, "a schema element has no name");
}

static void read_statistics(tc_reader *r, pq_statistics *s)
{
    int16_t id;
    uint8_t type;
    bool min = false, max = false;
    tc_struct_begin(r);
    while (tc_next_field(r, &id, &type)) {
        if (id == 3 && type == TC_I64) {
            s->null_count = tc_read_i64(r);
            s->has_null_count = true;
        } else if (id == 5 && type == TC_BINARY) {
            read_binary_into(r, &s->max);
            max = true;
        } else if (id == 6 && type == TC_BINARY) {
            read_binary_into(r, &s->min);
            min = true;
        } else if (id == 9 && type == TC_I64) {
            s->nan_count = tc_read_i64(r);
            s->has_nan_count = true;
        } else {
            tc_skip(r, type);
        }
    }
    tc_struct_end_read(r);
    s->has_min_max = min && max;
}

static void read_i32_list(tc_reader *r, int32_t *out, size_t cap, size_t *n)
{
    uint8_t et;
    size_t size;
    *n = 0;
    if (!tc_read_list(r, &et, &size))
        return;
    for (size_t i = 0; i < size && !r->error; i++) {
        if (et != TC_I32) {
            tc_skip(r, et);
            continue;
        }
        int32_t v = tc_read_i32(r);
        if (*n < cap)
            out[(*n)++] = v;
    }
}

static void read_path(tc_reader *r, pq_column_meta *c)
{
    uint8_t et;
    size_t size;
    if (!tc_read_list(r, &et, &size) || et != TC_BINARY) {
        tc_fail(r, "path_in_schema is not a list of strings");
        return;
    }
    if (c->path != NULL) {
        tc_fail(r, "path_in_schema appears twice");
        return;
    }
    c->path = alloc_list(r, size, sizeof *c->path);
    for (size_t i = 0; i < size && !r->error; i++) {
        c->path[i] = read_string(r);
        c->path_len = i + 1;
    }
}

static void read_encoding_stats(tc_reader *r, pq_column_meta *c)
{
    uint8_t et;
    size_t size;
    if (!tc_read_list(r, &et, &size))
        return;
    for (size_t i = 0; i < size && !r->error; i++) {
        if (et != TC_STRUCT) {
            tc_skip(r, et);
            continue;
        }
        pq_page_encoding_stats st = {0};
        int16_t id;
        uint8_t type;
        tc_struct_begin(r);
        while (tc_next_field(r, &id, &type)) {
            if (type == TC_I32 && id >= 1 && id <= 3) {
                int32_t v = tc_read_i32(r);
                *(id == 1 ? &st.page_type : id == 2 ? &st.encoding : &st.count) = v;
            } else {
                tc_skip(r, type);
            }
        }
        tc_struct_end_read(r);
        if (c->n_enc_stats < sizeof c->enc_stats / sizeof c->enc_stats[0])
            c->enc_stats[c->n_enc_stats++] = st;
    }
}

static void read_column_meta(tc_reader *r, pq_column_meta *c)
{
    int16_t id;
    uint8_t type;
    tc_struct_begin(r);
    while (tc_next_field(r, &id, &type)) {
        if (id == 1 && type == TC_I32) c->type = tc_read_i32(r);
        else if (id == 2 && type == TC_LIST) read_i32_list(r, c->encodings, 8, &c->n_encodings);
        else if (id == 3 && type == TC_LIST) read_path(r, c);
        else if (id == 4 && type == TC_I32) c->codec = tc_read_i32(r);
        else if (id == 5 && type == TC_I64) c->num_values = tc_read_i64(r);
        else if (id == 6 && type == TC_I64) c->total_uncompressed_size = tc_read_i64(r);
        else if (id == 7 && type == TC_I64) c->total_compressed_size = tc_read_i64(r);
        else if (id == 9 && type == TC_I64) c->data_page_offset = tc_read_i64(r);
        else if (id == 11 && type == TC_I64) c->dictionary_page_offset = tc_read_i64(r);
        else if (id == 12 && type == TC_STRUCT) {
            read_statistics(r, &c->stats);
            c->has_stats = true;
        } else if (id == 13 && type == TC_LIST) read_encoding_stats(r, c);
        else tc_skip(r, type);
    }
    tc_struct_end_read(r);
}

static void read_column_chunk(tc_reader *r, pq_column_meta *c)
{
    int16_t id;
    uint8_t type;
    bool has_meta = false;
    c->dictionary_page_offset = PQ_UNSET;
    tc_struct_begin(r);
    while (tc_next_field(r, &id, &type)) {
        if (id == 3 && type == TC_STRUCT) {
            read_column_meta(r, c);
            has_meta = true;
        } else {
            tc_skip(r, type);
        }
    }
    tc_struct_end_read(r);
    if (!r->error && !has_meta)
        tc_fail(r, "a column chunk has no meta_data (column data in other files is not supported)");
}

static void read_row_group(tc_reader *r, pq_row_group *rg)
{
    int16_t id;
    uint8_t type;
    tc_struct_begin(r);
    while (tc_next_field(r, &id, &type)) {
        if (id == 1 && type == TC_LIST) {
            uint8_t et;
            size_t size;
            if (!tc_read_list(r, &et, &size) || et != TC_STRUCT) {
                tc_fail(r, "row group columns are not a list of structs");
                break;
            }
            if (rg->columns != NULL) {
                tc_fail(r, "a row group's columns appear twice");
                break;
            }
            rg->columns = alloc_list(r, size, sizeof *rg->columns);
            for (size_t i = 0; i < size && !r->error; i++) {
                rg->n_columns = i + 1;
                read_column_chunk(r, &rg->columns[i]);
            }
        } else if (id == 2 && type == TC_I64) rg->total_byte_size = tc_read_i64(r);
        else if (id == 3 && type == TC_I64) rg->num_rows = tc_read_i64(r);
        else if (id == 5 && type == TC_I64) rg->file_offset = tc_read_i64(r);
        else if (id == 6 && type == TC_I64) rg->total_compressed_size = tc_read_i64(r);
        else tc_skip(r, type);
    }
    tc_struct_end_read(r);
}

static void read_key_values(tc_reader *r, pq_file_meta *m)
{
    uint8_t et;
    size_t size;
    if (!tc_read_list(r, &et, &size) || et != TC_STRUCT) {
        tc_fail(r, "key_value_metadata is not a list of structs");
        return;
    }
    if (m->kv != NULL) {
        tc_fail(r, "key_value_metadata appears twice");
        return;
    }
    m->kv = alloc_list(r, size, sizeof *m->kv);
    for (size_t i = 0; i < size && !r->error; i++) {
        pq_key_value *kv = &m->kv[i];
        m->n_kv = i + 1;
        int16_t id;
        uint8_t type;
        tc_struct_begin(r);
        while (tc_next_field(r, &id, &type)) {
            if ((id == 1 || id == 2) && type == TC_BINARY) {
                char **slot = id == 1 ? &kv->key : &kv->value;
                free(*slot);
                *slot = read_string(r);
            } else {
                tc_skip(r, type);
            }
        }
        tc_struct_end_read(r);
        if (!r->error && kv->key == NULL)
            tc_fail(r, "a key/value entry has no key");
    }
}

static void read_schema(tc_reader *r, pq_file_meta *m)
{
    uint8_t et;
    size_t size;
    if (!tc_read_list(r, &et, &size) || et != TC_STRUCT) {
        tc_fail(r, "schema is not a list of structs");
        return;
    }
    if (m->schema != NULL) {
        tc_fail(r, "the schema appears twice");
        return;
    }
    m->schema = alloc_list(r, size, sizeof *m->schema);
    for (size_t i = 0; i < size && !r->error; i++) {
        m->n_schema = i + 1;
        read_schema_element(r, &m->schema[i]);
    }
}

static void read_row_groups(tc_reader *r, pq_file_meta *m)
{
    uint8_t et;
    size_t size;
    if (!tc_read_list(r, &et, &size) || et != TC_STRUCT) {
        tc_fail(r, "row_groups is not a list of structs");
        return;
    }
    if (m->row_groups != NULL) {
        tc_fail(r, "row_groups appears twice");
        return;
    }
    m->row_groups = alloc_list(r, size, sizeof *m->row_groups);
    for (size_t i = 0; i < size && !r->error; i++) {
        m->n_row_groups = i + 1;
        read_row_group(r, &m->row_groups[i]);
    }
}

bool pq_file_meta_read(const uint8_t *data, size_t len, pq_file_meta *m, char *err,
                       size_t err_size)
{
    *m = (pq_file_meta){0};
    tc_reader r;
    tc_reader_init(&r, data, len);
    int16_t id;
    uint8_t type;
    bool version = false, schema = false, rows = false, groups = false;
    while (tc_next_field(&r, &id, &type)) {
        if (id == 1 && type == TC_I32) {
            m->version = tc_read_i32(&r);
            version = true;
        } else if (id == 2 && type == TC_LIST) {
            read_schema(&r, m);
            schema = true;
        } else if (id == 3 && type == TC_I64) {
            m->num_rows = tc_read_i64(&r);
            rows = true;
        } else if (id == 4 && type == TC_LIST) {
            read_row_groups(&r, m);
            groups = true;
        } else if (id == 5 && type == TC_LIST) {
            read_key_values(&r, m);
        } else if (id == 6 && type == TC_BINARY) {
            free(m->created_by);
            m->created_by = read_string(&r);
        } else if (id == 7 && type == TC_LIST) {
            m->column_orders = true;
            tc_skip(&r, type);
        } else {
            tc_skip(&r, type);
        }
    }
    if (!r.error && !(version && schema && rows && groups))
        tc_fail(&r, "FileMetaData lacks a required field (version, schema, num_rows or "
                    "row_groups)");
    if (!r.error && (m->n_schema == 0 || m->schema[0].num_children == PQ_UNSET))
        tc_fail(&r, "the schema has no root group");
    if (r.error)
        snprintf(err, err_size, "%s at byte %zu of the footer", r.why,
                 (size_t)(r.p - (const uint8_t *)data));
    return !r.error;
}

static void read_data_page_header(tc_reader *r, pq_page_header *h, bool v2)
{
    int16_t id;
    uint8_t type;
    tc_struct_begin(r);
    while (tc_next_field(r, &id, &type)) {
        if (type == TC_BOOL_TRUE || type == TC_BOOL_FALSE) {
            if (v2 && id == 7)
                h->is_compressed = tc_read_bool(r, type);
            continue;
        }
        if (type != TC_I32) {
            tc_skip(r, type);
            continue;
        }
        int32_t v = tc_read_i32(r);
        if (!v2) {
            if (id == 1) h->num_values = v;
            else if (id == 2) h->encoding = v;
            else if (id == 3) h->def_encoding = v;
            else if (id == 4) h->rep_encoding = v;
        } else {
            if (id == 1) h->num_values = v;
            else if (id == 2) h->num_nulls = v;
            else if (id == 3) h->num_rows = v;
            else if (id == 4) h->encoding = v;
            else if (id == 5) h->def_bytes = v;
            else if (id == 6) h->rep_bytes = v;
        }
    }
    tc_struct_end_read(r);
}

bool pq_page_header_read(const uint8_t *data, size_t len, pq_page_header *h, size_t *used,
                         char *err, size_t err_size)
{
    *h = (pq_page_header){.type = PQ_UNSET, .is_compressed = true};
    tc_reader r;
    tc_reader_init(&r, data, len);
    int16_t id;
    uint8_t type;
    while (tc_next_field(&r, &id, &type)) {
        if (id >= 1 && id <= 3 && type == TC_I32) {
            int32_t v = tc_read_i32(&r);
            *(id == 1 ? &h->type : id == 2 ? &h->uncompressed_size : &h->compressed_size) = v;
        } else if ((id == 5 || id == 8) && type == TC_STRUCT) {
            read_data_page_header(&r, h, id == 8);
        } else if (id == 7 && type == TC_STRUCT) {
            read_data_page_header(&r, h, false);   /* fields 1 and 2 match */
        } else {
            tc_skip(&r, type);
        }
    }
    if (!r.error && (h->type == PQ_UNSET || h->compressed_size < 0 || h->uncompressed_size < 0))
        tc_fail(&r, "page header lacks its type or sizes");
    if (r.error)
        snprintf(err, err_size, "%s in a page header", r.why);
    *used = (size_t)(r.p - data);
    return !r.error;
}

void pq_statistics_free(pq_statistics *s)
{
    pq_buf_free(&s->min);
    pq_buf_free(&s->max);
}

void pq_column_meta_free(pq_column_meta *c)
{
    for (size_t i = 0; i < c->path_len; i++)
        free(c->path[i]);
    free(c->path);
    pq_statistics_free(&c->stats);
}

void pq_file_meta_free(pq_file_meta *m)
{
    for (size_t i = 0; i < m->n_schema; i++)
        free(m->schema[i].name);
    free(m->schema);
    for (size_t g = 0; g < m->n_row_groups; g++) {
        for (size_t c = 0; c < m->row_groups[g].n_columns; c++)
            pq_column_meta_free(&m->row_groups[g].columns[c]);
        free(m->row_groups[g].columns);
    }
    free(m->row_groups);
    for (size_t i = 0; i < m->n_kv; i++) {
        free(m->kv[i].key);
        free(m->kv[i].value);
    }
    free(m->kv);
    free(m->created_by);
    *m = (pq_file_meta){0};
}
