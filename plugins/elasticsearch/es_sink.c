/* The elasticsearch sink: _bulk `create` with a deterministic _id, so that a
 * batch written again after a crash is recognised (409: already written)
 * instead of duplicated. Each record gets its own outcome from the item
 * statuses: 429 and 5xx are retried alone, mapping errors are rejected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "es_client.h"
#include "es_internal.h"

typedef struct es_sink {
    etl_ctx *ctx;
    es_conn conn;
    char *index;
    char *bulk_path;
    char *id_field;
    bool create;                 /* else index (overwrite) */
    bool refresh;
    int64_t bulk_bytes;
    es_str body;
    etl_buf row;
    int64_t *rows;               /* batch row of each item in the body */
    size_t nrows, rows_cap;
} es_sink;

static etl_status nomem(es_sink *s)
{
    return es_host->set_error(s->ctx, ETL_ERR_NOMEM, 0, "out of memory");
}

static void sink_free(es_sink *s)
{
    es_conn_close(&s->conn);
    free(s->index);
    free(s->bulk_path);
    free(s->id_field);
    free(s->rows);
    es_str_free(&s->body);
    es_host->buf_free(&s->row);
    free(s);
}

static etl_status es_sink_open(etl_ctx *ctx, const etl_options *opts, void **state)
{
    es_sink *s = calloc(1, sizeof *s);
    if (s == NULL)
        return es_host->set_error(ctx, ETL_ERR_NOMEM, 0, "out of memory");
    s->ctx = ctx;
    const char *index = es_host->opt_string(opts, "index");
    const char *action = es_host->opt_string(opts, "action");
    const char *id_field = es_host->opt_string(opts, "id_field");
    s->create = action == NULL || strcmp(action, "index") != 0;
    es_host->opt_bool(opts, "refresh", &s->refresh);
    s->bulk_bytes = 5 << 20;
    es_host->opt_size(opts, "bulk_bytes", &s->bulk_bytes);
    etl_status st = ETL_OK;
    if (index == NULL || *index == '\0' || strpbrk(index, "*,/ ?#\"") || index[0] == '_')
        st = es_host->set_error(ctx, ETL_ERR_CONFIG, 0, "%s: '%s' is not an index name to write to",
                                es_host->opt_where(opts, "index"), index ? index : "");
    else if ((s->index = strdup(index)) == NULL ||
             (id_field && *id_field && (s->id_field = strdup(id_field)) == NULL))
        st = nomem(s);
    if (st == ETL_OK) {
        es_str p = {0};
        es_str_printf(&p, "/%s/_bulk", index);
        es_str_cstr(&p);
        s->bulk_path = p.p;
        st = es_conn_open(&s->conn, ctx, opts);
    }
    if (st != ETL_OK) {
        sink_free(s);
        return st;
    }
    *state = s;
    return ETL_OK;
}

/* The _id of a row: its id_field value, or the SHA-256 of its JSON. */
static etl_status row_id(es_sink *s, const etl_batch *batch, int64_t row, char *out, size_t cap)
{
    if (s->id_field == NULL) {
        char hex[65];
        es_host->sha256_hex(s->row.data, s->row.len, hex);
        snprintf(out, cap, "%.40s", hex);
        return ETL_OK;
    }
    int32_t col = es_host->batch_column_index(batch, s->id_field);
    if (col < 0)
        return es_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                  "id_field '%s' is not a column of the records", s->id_field);
    const struct ArrowSchema *f = batch->schema->children[col];
    const struct ArrowArray *a = batch->array->children[col];
    if (!etl_arrow_is_valid(a, row))
        return es_host->set_error(s->ctx, ETL_ERR_DATA, 0, "id_field '%s' is null", s->id_field);
    size_t len;
    if (etl_format_is(f, "u")) {
        const char *p = etl_arrow_bytes(a, row, &len);
        if (len == 0 || len >= cap)
            return es_host->set_error(s->ctx, ETL_ERR_DATA, 0, "id_field '%s' is empty or longer "
                                      "than %zu bytes", s->id_field, cap - 1);
        memcpy(out, p, len);
        out[len] = '\0';
    } else if (etl_format_is(f, "l")) {
        snprintf(out, cap, "%lld", (long long)etl_arrow_int64(a, row));
    } else if (etl_format_is(f, "i")) {
        snprintf(out, cap, "%d", (int)etl_arrow_int32(a, row));
    } else {
        return es_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                  "id_field '%s' must be a string or integer column", s->id_field);
    }
    return ETL_OK;
}

static bool remember_row(es_sink *s, int64_t row)
{
    if (s->nrows == s->rows_cap) {
        size_t cap = s->rows_cap ? s->rows_cap * 2 : 256;
        int64_t *grown = realloc(s->rows, cap * sizeof *grown);
        if (grown == NULL)
            return false;
        s->rows = grown;
        s->rows_cap = cap;
    }
    s->rows[s->nrows++] = row;
    return true;
}

/* One item's status as an outcome; 409 on create means already written. */
static etl_outcome item_outcome(es_sink *s, ej_span item, int64_t row)
{
    ej_iter it;
    ej_span action, body, v;
    int64_t status = 0;
    if (!ej_members(item, &it) || !ej_next_member(&it, &action, &body) ||
        !ej_get(body, "status", &v) || !ej_int64(v, &status))
        return ETL_ERR_RETRY;
    if (status >= 200 && status < 300)
        return ETL_OK;
    if (status == 409 && s->create)
        return ETL_OK;
    if (status == 429 || status >= 500)
        return ETL_ERR_RETRY;
    char type[96] = "", reason[300] = "";
    if (ej_get_path(body, "error.type", &v))
        ej_string(v, type, sizeof type);
    if (ej_get_path(body, "error.reason", &v))
        ej_string(v, reason, sizeof reason);
    es_host->set_error(s->ctx, ETL_ERR_DATA, status, "record %lld: _bulk item HTTP %lld %s: %s",
                       (long long)row, (long long)status, type, reason);
    return ETL_ERR_DATA;
}

static etl_status send_bulk(es_sink *s, etl_outcome *outcomes)
{
    if (s->nrows == 0)
        return ETL_OK;
    etl_http_response r;
    etl_status st = es_send(&s->conn, "POST", s->bulk_path, s->body.p, s->body.n,
                            ETL_HTTP_RETRY | ES_NDJSON, &r);
    if (st == ETL_OK && r.status != 200)
        st = es_fail(&s->conn, "POST", s->bulk_path, &r);
    ej_span root, items, item;
    ej_iter it;
    size_t n = 0;
    if (st == ETL_OK) {
        if (!ej_root(r.body.data, r.body.len, &root) || !ej_get(root, "items", &items) ||
            !ej_elements(items, &it)) {
            st = es_host->set_error(s->ctx, ETL_ERR_RETRY, 200, "POST %s%s: no items in the reply",
                                    s->conn.base, s->bulk_path);
        } else {
            while (n < s->nrows && ej_next_element(&it, &item)) {
                outcomes[s->rows[n]] = item_outcome(s, item, s->rows[n]);
                n++;
            }
            if (n != s->nrows)
                st = es_host->set_error(s->ctx, ETL_ERR_RETRY, 200,
                                        "POST %s%s: %zu items for %zu documents", s->conn.base,
                                        s->bulk_path, n, s->nrows);
        }
    }
    es_host->http_response_free(&r);
    es_str_reset(&s->body);
    s->nrows = 0;
    return st;
}

static etl_status add_row(es_sink *s, const etl_batch *batch, int64_t row, etl_outcome *outcomes)
{
    s->row.len = 0;
    etl_status st = es_host->json_write_row(batch, row, &s->row);
    char id[513];
    if (st == ETL_OK)
        st = row_id(s, batch, row, id, sizeof id);
    if (st == ETL_ERR_DATA) {
        outcomes[row] = ETL_ERR_DATA;
        return ETL_OK;
    }
    if (st != ETL_OK)
        return st;
    es_str_printf(&s->body, "{\"%s\":{\"_id\":", s->create ? "create" : "index");
    es_str_json_string(&s->body, id, strlen(id));
    es_str_cat(&s->body, "}}\n");
    es_str_add(&s->body, s->row.data, s->row.len);
    es_str_add(&s->body, "\n", 1);
    if (!es_str_ok(&s->body) || !remember_row(s, row))
        return nomem(s);
    return (int64_t)s->body.n >= s->bulk_bytes ? send_bulk(s, outcomes) : ETL_OK;
}

static etl_status es_sink_write(void *state, const etl_batch *batch, etl_outcome *outcomes)
{
    es_sink *s = state;
    es_str_reset(&s->body);
    s->nrows = 0;
    for (int64_t row = 0; row < batch->num_rows; row++) {
        etl_status st = add_row(s, batch, row, outcomes);
        if (st != ETL_OK)
            return st;
    }
    return send_bulk(s, outcomes);
}

static etl_status es_sink_commit(void *state, const etl_commit_info *info)
{
    es_sink *s = state;
    (void)info;
    if (!s->refresh)
        return ETL_OK;
    es_str path = {0};
    es_str_printf(&path, "/%s/_refresh", s->index);
    etl_http_response r;
    etl_status st = es_send(&s->conn, "POST", es_str_cstr(&path), NULL, 0, ETL_HTTP_RETRY, &r);
    if (st == ETL_OK && r.status != 200)
        st = es_fail(&s->conn, "POST", es_str_cstr(&path), &r);
    es_host->http_response_free(&r);
    es_str_free(&path);
    return st;
}

static void es_sink_close(void *state)
{
    sink_free(state);
}

const etl_sink_vtable es_sink_vtable = {
    .struct_size = sizeof(etl_sink_vtable),
    .open = es_sink_open,
    .write = es_sink_write,
    .commit = es_sink_commit,
    .close = es_sink_close,
};
