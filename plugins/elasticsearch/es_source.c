/* The elasticsearch source: reads an index with a point in time (PIT) and
 * search_after, one page per read() of the host's batch size, or with
 * scroll where PIT is not available. Sliced, filtered (query, _source),
 * incremental over a timestamp field, and resumable from a tie-safe cursor
 * (es_cursor.h) even after its PIT has expired. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "es_client.h"
#include "es_cursor.h"
#include "es_internal.h"
#include "es_mapping.h"
#include "es_page.h"

#define MAX_PAGE 10000           /* index.max_result_window */
#define REOPEN_ATTEMPTS 3

typedef enum es_api { ES_API_AUTO, ES_API_PIT, ES_API_SCROLL } es_api;

typedef struct es_source {
    etl_ctx *ctx;
    const etl_options *opts;
    es_conn conn;
    char *index_path;            /* "/products" (URL-encoded) */
    char *query;                 /* the pipeline's query DSL (JSON), or NULL */
    char *source_filter;         /* the "_source" value, or NULL */
    char *id_field;              /* column that receives each hit's _id, or NULL */
    char *shared_pit;            /* a PIT given in the options: used, never closed */
    es_mapping mapping;
    etl_builder *declared_for;
    /* the sort: stable keys (incremental field, tiebreaker), then _shard_doc */
    bool key_is_date[ES_MAX_KEYS];
    char *inc_field;
    int64_t lag_ms;
    bool sliced;
    int64_t slice_id, slice_max;
    es_api api;
    bool scroll;                 /* reading with scroll (chosen or fallen back to) */
    char keep_alive[32];
    /* position */
    es_cursor cur;               /* after the last record returned by read() */
    int64_t upper_ms;            /* incremental: fixed when the run starts */
    char *pit_id;
    char *scroll_id;
    bool same_pit;               /* cur.shard_doc belongs to pit_id */
    /* the current page */
    etl_http_response page;
    bool page_held;
    es_page_scan scan;           /* its hits */
    size_t next;                 /* the next hit to return */
    bool last_page;              /* no page after this one */
    bool ended;                  /* read() returned ETL_END */
    bool position_pending;       /* hits[next-1] is newer than cur */
    es_str scratch, body;
    /* the next page, asked for as soon as this one came (option prefetch):
     * the cluster works on it while this page is decoded */
    bool prefetch;
    es_request ahead;
    es_page_scan ahead_scan;     /* filled on the HTTP thread when it arrives */
    bool ahead_scanned;
    es_str ahead_body;
    char ahead_path[64];
    int64_t ahead_size;
} es_source;

/* ------------------------------------------------------------------ helpers */

static etl_status nomem(es_source *s)
{
    return es_host->set_error(s->ctx, ETL_ERR_NOMEM, 0, "out of memory");
}

static char *dup_opt(const etl_options *opts, const char *key)
{
    const char *v = es_host->opt_string(opts, key);
    return v && *v ? strdup(v) : NULL;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Index names and patterns go into the path: everything but unreserved
 * characters and the pattern's ',' and '*' is percent-encoded. */
static char *index_path(const char *index)
{
    es_str out = {0};
    es_str_add(&out, "/", 1);
    for (const unsigned char *p = (const unsigned char *)index; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-_.~,*", *p))
            es_str_add(&out, (const char *)p, 1);
        else
            es_str_printf(&out, "%%%02X", *p);
    }
    if (!es_str_ok(&out)) {
        es_str_free(&out);
        return NULL;
    }
    es_str_cstr(&out);
    return out.p;
}

static void format_keep_alive(int64_t ms, char *out, size_t cap)
{
    if (ms % 60000 == 0)
        snprintf(out, cap, "%lldm", (long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(out, cap, "%llds", (long long)(ms / 1000));
    else
        snprintf(out, cap, "%lldms", (long long)ms);
}

/* Short timeout for courtesy requests (closing a PIT): never past the budget. */
static bool time_for_courtesy(es_source *s)
{
    return es_host->remaining_ms(s->ctx) > 1500;
}

/* ------------------------------------------------------------------ options */

static etl_status json_option(es_source *s, const char *key, char **out)
{
    const char *text = es_host->opt_string(s->opts, key);
    ej_span root;
    if (text == NULL || *text == '\0')
        return ETL_OK;
    if (!ej_root(text, strlen(text), &root) || ej_kind_of(root) != EJ_OBJECT)
        return es_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                  "%s: %s must be a JSON object, such as "
                                  "'{\"term\": {\"active\": true}}' (quote it in YAML)",
                                  es_host->opt_where(s->opts, key), key);
    *out = strdup(text);
    return *out ? ETL_OK : nomem(s);
}

static void json_list(es_source *s, const char *key, es_str *out)
{
    size_t n = es_host->opt_list_count(s->opts, key);
    es_str_add(out, "[", 1);
    for (size_t i = 0; i < n; i++) {
        const char *item = es_host->opt_list_item(s->opts, key, i);
        if (i)
            es_str_add(out, ",", 1);
        es_str_json_string(out, item ? item : "", item ? strlen(item) : 0);
    }
    es_str_add(out, "]", 1);
}

/* Fields the _source filter leaves out are not declared as columns. */
static etl_status prune_mapping(es_source *s)
{
    size_t ninc = es_host->opt_list_count(s->opts, "source_includes");
    size_t nexc = es_host->opt_list_count(s->opts, "source_excludes");
    if (ninc + nexc == 0)
        return ETL_OK;
    const char **lists = calloc(ninc + nexc, sizeof *lists);
    if (lists == NULL)
        return nomem(s);
    for (size_t i = 0; i < ninc; i++)
        lists[i] = es_host->opt_list_item(s->opts, "source_includes", i);
    for (size_t i = 0; i < nexc; i++)
        lists[ninc + i] = es_host->opt_list_item(s->opts, "source_excludes", i);
    for (size_t i = 0; i < ninc + nexc; i++)
        if (lists[i] == NULL)
            lists[i] = "";
    es_mapping_filter(&s->mapping, lists, ninc, lists + ninc, nexc);
    free(lists);
    return ETL_OK;
}

/* "_source": includes/excludes from the options; with unmapped: drop and
 * no includes, only mapped fields. */
static etl_status source_filter(es_source *s)
{
    bool includes = es_host->opt_list_count(s->opts, "source_includes") > 0;
    bool excludes = es_host->opt_list_count(s->opts, "source_excludes") > 0;
    const char *unmapped = es_host->opt_string(s->opts, "unmapped");
    bool drop = unmapped && strcmp(unmapped, "drop") == 0;
    if (!includes && !excludes && !drop)
        return ETL_OK;
    es_str f = {0};
    es_str_cat(&f, "{\"includes\":");
    if (includes)
        json_list(s, "source_includes", &f);
    else if (drop)
        es_mapping_leaf_paths(&s->mapping, &f);
    else
        es_str_cat(&f, "[]");
    es_str_cat(&f, ",\"excludes\":");
    json_list(s, "source_excludes", &f);
    es_str_add(&f, "}", 1);
    if (!es_str_ok(&f)) {
        es_str_free(&f);
        return nomem(s);
    }
    es_str_cstr(&f);
    s->source_filter = f.p;
    return ETL_OK;
}

static etl_status read_incremental(es_source *s)
{
    const etl_options *inc = es_host->opt_map(s->opts, "incremental");
    if (inc == NULL)
        return ETL_OK;
    const char *field = es_host->opt_string(inc, "field");
    if (field == NULL || *field == '\0')
        return es_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                  "%s: incremental needs a field, as in incremental: {field: "
                                  "updated_at, lag: 30s}",
                                  es_host->opt_where(s->opts, "incremental"));
    const char *lag = es_host->opt_string(inc, "lag");
    s->lag_ms = 30000;
    if (lag && !es_host->opt_duration_ms(inc, "lag", &s->lag_ms))
        return es_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                  "%s: incremental.lag must be a duration such as 30s, not '%s'",
                                  es_host->opt_where(inc, "lag"), lag);
    const es_field *f = es_mapping_find(&s->mapping, field);
    if (f == NULL || strncmp(f->es_type, "date", 4) != 0)
        return es_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                  "%s: incremental.field '%s' must be a date field of the index "
                                  "(its mapping says %s)",
                                  es_host->opt_where(inc, "field"), field,
                                  f ? f->es_type : "nothing: it is not mapped");
    s->inc_field = strdup(field);
    return s->inc_field ? ETL_OK : nomem(s);
}

/* The stable sort keys: [incremental field,] tiebreaker. */
static etl_status sort_keys(es_source *s)
{
    const char *keys[ES_MAX_KEYS];
    size_t n = 0;
    const char *tiebreaker = es_host->opt_string(s->opts, "tiebreaker");
    if (s->inc_field) {
        if (tiebreaker == NULL || *tiebreaker == '\0')
            return es_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                      "%s: incremental needs a tiebreaker: a field unique per "
                                      "document (tiebreaker: id), so that records sharing a "
                                      "timestamp are neither lost nor repeated",
                                      es_host->opt_where(s->opts, "incremental"));
        s->key_is_date[n] = true;
        keys[n++] = s->inc_field;
    }
    if (tiebreaker && *tiebreaker) {
        const es_field *f = es_mapping_find(&s->mapping, tiebreaker);
        if (f == NULL || f->type == ETL_TYPE_STRUCT || strcmp(f->es_type, "text") == 0)
            return es_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                      "%s: tiebreaker '%s' must be a mapped keyword, numeric or "
                                      "date field unique per document (its mapping says %s)",
                                      es_host->opt_where(s->opts, "tiebreaker"), tiebreaker,
                                      f ? f->es_type : "nothing: it is not mapped");
        s->key_is_date[n] = strncmp(f->es_type, "date", 4) == 0;
        keys[n++] = tiebreaker;
    }
    return es_cursor_init(&s->cur, keys, n) ? ETL_OK : nomem(s);
}

static etl_status read_slice(es_source *s)
{
    bool has_id = es_host->opt_is_set(s->opts, "slice_id");
    bool has_max = es_host->opt_is_set(s->opts, "slice_max");
    if (!has_id && !has_max)
        return ETL_OK;
    es_host->opt_int(s->opts, "slice_id", &s->slice_id);
    es_host->opt_int(s->opts, "slice_max", &s->slice_max);
    if (!has_id || !has_max || s->slice_max < 2 || s->slice_max > 1024 || s->slice_id < 0 ||
        s->slice_id >= s->slice_max)
        return es_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                  "%s: slice_id and slice_max go together, with 2 <= slice_max "
                                  "<= 1024 and 0 <= slice_id < slice_max (got %lld of %lld)",
                                  es_host->opt_where(s->opts, has_id ? "slice_id" : "slice_max"),
                                  (long long)s->slice_id, (long long)s->slice_max);
    s->sliced = true;
    return ETL_OK;
}

static etl_status read_api(es_source *s)
{
    const char *api = es_host->opt_string(s->opts, "search_api");
    s->api = api && strcmp(api, "pit") == 0 ? ES_API_PIT
             : api && strcmp(api, "scroll") == 0 ? ES_API_SCROLL
                                                 : ES_API_AUTO;
    s->scroll = s->api == ES_API_SCROLL;
    int64_t keep = 300000;
    es_host->opt_duration_ms(s->opts, "keep_alive", &keep);
    if (keep < 1000 || keep > 24 * 3600000)
        return es_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                  "%s: keep_alive must be between 1s and 24h",
                                  es_host->opt_where(s->opts, "keep_alive"));
    format_keep_alive(keep, s->keep_alive, sizeof s->keep_alive);
    s->shared_pit = dup_opt(s->opts, "pit_id");
    if (s->shared_pit && s->scroll)
        return es_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                  "%s: pit_id cannot be used with search_api: scroll",
                                  es_host->opt_where(s->opts, "pit_id"));
    return ETL_OK;
}

/* ------------------------------------------------------------------ mapping */

static etl_status load_mapping(es_source *s)
{
    es_str path = {0};
    es_str_cat(&path, s->index_path);
    es_str_cat(&path, "/_mapping");
    etl_http_response r;
    etl_status st = es_send(&s->conn, "GET", es_str_cstr(&path), NULL, 0, ETL_HTTP_RETRY, &r);
    if (st == ETL_OK && r.status != 200)
        st = es_fail(&s->conn, "GET", es_str_cstr(&path), &r);
    char error[200];
    if (st == ETL_OK && !es_mapping_parse(r.body.data, r.body.len, &s->mapping, error, sizeof error))
        st = es_host->set_error(s->ctx, ETL_ERR_PERMANENT, 0, "GET %s%s: %s", s->conn.base,
                                es_str_cstr(&path), error);
    es_host->http_response_free(&r);
    es_str_free(&path);
    for (size_t i = 0; st == ETL_OK && i < es_host->opt_list_count(s->opts, "array_fields"); i++) {
        const char *field = es_host->opt_list_item(s->opts, "array_fields", i);
        if (field == NULL || !es_mapping_mark_list(&s->mapping, field))
            st = es_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                    "%s: array_fields names '%s', which the index does not map",
                                    es_host->opt_where(s->opts, "array_fields"),
                                    field ? field : "");
    }
    return st;
}

/* ------------------------------------------------------------------ requests */

/* The query: the pipeline's, the incremental window and, for scroll, the
 * keyset after the cursor, all as filters. */
static void put_query(es_source *s, es_str *b)
{
    es_str parts[3];
    memset(parts, 0, sizeof parts);
    size_t n = 0;
    if (s->query)
        es_str_cat(&parts[n++], s->query);
    if (s->inc_field) {
        es_str *r = &parts[n++];
        es_str_cat(r, "{\"range\":{");
        es_str_json_string(r, s->inc_field, strlen(s->inc_field));
        es_str_add(r, ":{", 2);
        /* The lower bound only narrows the search; search_after decides. */
        if (s->cur.has_after)
            es_str_printf(r, "\"gte\":%s,", s->cur.after[0]);
        es_str_printf(r, "\"lte\":%lld,\"format\":\"epoch_millis\"}}}", (long long)s->upper_ms);
    }
    if (s->scroll && es_cursor_keyset_query(&s->cur, s->key_is_date, &parts[n]))
        n++;
    if (n == 1) {
        es_str_cat(b, ",\"query\":");
        es_str_add(b, parts[0].p, parts[0].n);
    } else if (n > 1) {
        es_str_cat(b, ",\"query\":{\"bool\":{\"filter\":[");
        for (size_t i = 0; i < n; i++) {
            if (i)
                es_str_add(b, ",", 1);
            es_str_add(b, parts[i].p, parts[i].n);
        }
        es_str_cat(b, "]}}");
    }
    for (size_t i = 0; i < 3; i++)
        es_str_free(&parts[i]);
}

static void put_sort(es_source *s, es_str *b)
{
    es_str_cat(b, ",\"sort\":[");
    for (size_t i = 0; i < s->cur.nkeys; i++) {
        es_str_add(b, "{", 1);
        es_str_json_string(b, s->cur.keys[i], strlen(s->cur.keys[i]));
        es_str_cat(b, ":\"asc\"},");
    }
    es_str_cat(b, s->scroll ? (s->cur.nkeys ? "" : "\"_doc\",") : "{\"_shard_doc\":\"asc\"},");
    b->n--;                      /* the last comma */
    es_str_add(b, "]", 1);
}

static void build_search(es_source *s, int64_t size, es_str *b)
{
    es_str_reset(b);
    /* Scroll always counts hits (and refuses track_total_hits: false). */
    es_str_printf(b, "{\"size\":%lld%s", (long long)size,
                  s->scroll ? "" : ",\"track_total_hits\":false");
    if (!s->scroll) {
        es_str_cat(b, ",\"pit\":{\"id\":");
        es_str_json_string(b, s->pit_id, strlen(s->pit_id));
        es_str_printf(b, ",\"keep_alive\":\"%s\"}", s->keep_alive);
    }
    put_sort(s, b);
    if (!s->scroll) {
        size_t mark = b->n;
        es_str_cat(b, ",\"search_after\":");
        if (!es_cursor_search_after(&s->cur, true, s->same_pit, b))
            b->n = mark;
    }
    put_query(s, b);
    if (s->source_filter) {
        es_str_cat(b, ",\"_source\":");
        es_str_cat(b, s->source_filter);
    }
    if (s->sliced)
        es_str_printf(b, ",\"slice\":{\"id\":%lld,\"max\":%lld}", (long long)s->slice_id,
                      (long long)s->slice_max);
    es_str_add(b, "}", 1);
}

/* The body that asks a scroll for its next page. */
static void build_scroll_next(es_source *s, es_str *b)
{
    es_str_reset(b);
    es_str_printf(b, "{\"scroll\":\"%s\",\"scroll_id\":", s->keep_alive);
    es_str_json_string(b, s->scroll_id, strlen(s->scroll_id));
    es_str_add(b, "}", 1);
}

static bool pit_unsupported(const etl_http_response *r)
{
    es_error e;
    es_error_parse(r->body.data, r->body.len, r->status, &e);
    return (r->status == 400 || r->status == 404 || r->status == 405) &&
           strcmp(e.type, "index_not_found_exception") != 0;
}

static etl_status open_pit(es_source *s)
{
    if (s->shared_pit) {
        s->pit_id = strdup(s->shared_pit);
        return s->pit_id ? ETL_OK : nomem(s);
    }
    es_str path = {0};
    es_str_printf(&path, "%s/_pit?keep_alive=%s", s->index_path, s->keep_alive);
    etl_http_response r;
    etl_status st = es_send(&s->conn, "POST", es_str_cstr(&path), NULL, 0, ETL_HTTP_RETRY, &r);
    ej_span root, id;
    if (st == ETL_OK && r.status != 200) {
        if (s->api == ES_API_AUTO && pit_unsupported(&r)) {
            es_host->log(s->ctx, ETL_LOG_INFO,
                         "POST %s%s: HTTP %d: no point in time here (Elasticsearch < 7.10 or "
                         "OpenSearch); reading with scroll",
                         s->conn.base, es_str_cstr(&path), r.status);
            s->scroll = true;
        } else {
            st = es_fail(&s->conn, "POST", es_str_cstr(&path), &r);
        }
    } else if (st == ETL_OK) {
        if (!ej_root(r.body.data, r.body.len, &root) || !ej_get(root, "id", &id) ||
            (s->pit_id = ej_string_dup(id)) == NULL)
            st = es_host->set_error(s->ctx, ETL_ERR_PERMANENT, 200, "POST %s%s: no PIT id in the reply",
                                    s->conn.base, es_str_cstr(&path));
        else
            es_host->metric_add(s->ctx, "es_pits_opened", 1);
    }
    es_host->http_response_free(&r);
    es_str_free(&path);
    return st;
}

static void close_pit(es_source *s)
{
    if (s->pit_id && !s->shared_pit && time_for_courtesy(s)) {
        es_str body = {0};
        es_str_cat(&body, "{\"id\":");
        es_str_json_string(&body, s->pit_id, strlen(s->pit_id));
        es_str_add(&body, "}", 1);
        etl_http_response r;
        es_send(&s->conn, "DELETE", "/_pit", body.p, body.n, ETL_HTTP_NO_THROTTLE, &r);
        es_host->http_response_free(&r);
        es_str_free(&body);
    }
    free(s->pit_id);
    s->pit_id = NULL;
}

static void clear_scroll(es_source *s)
{
    if (s->scroll_id && time_for_courtesy(s)) {
        es_str body = {0};
        es_str_cat(&body, "{\"scroll_id\":");
        es_str_json_string(&body, s->scroll_id, strlen(s->scroll_id));
        es_str_add(&body, "}", 1);
        etl_http_response r;
        es_send(&s->conn, "DELETE", "/_search/scroll", body.p, body.n, ETL_HTTP_NO_THROTTLE, &r);
        es_host->http_response_free(&r);
        es_str_free(&body);
    }
    free(s->scroll_id);
    s->scroll_id = NULL;
}

/* ------------------------------------------------------------------ pages */

static void release_page(es_source *s)
{
    if (s->page_held)
        es_host->http_response_free(&s->page);
    s->page_held = false;
    s->scan.nhits = s->next = 0;
}

/* The cursor moves to the last record returned before its page goes. */
static etl_status settle_position(es_source *s)
{
    if (!s->position_pending)
        return ETL_OK;
    const es_hit *h = &s->scan.hits[s->next - 1];
    const char *pit = s->scroll ? NULL : s->pit_id;
    if (s->scroll && s->cur.nkeys == 0) {
        /* Sorted by _doc: no position outlives the scroll (checkpoint says so). */
        s->cur.has_after = true;
        s->position_pending = false;
        return ETL_OK;
    }
    if (!es_cursor_take(&s->cur, h->sort, pit))
        return es_host->set_error(s->ctx, ETL_ERR_PERMANENT, 0,
                                  "a hit's sort values do not match the sort asked for "
                                  "(%zu keys%s): cannot keep a cursor",
                                  s->cur.nkeys, pit ? " and _shard_doc" : "");
    s->same_pit = pit != NULL;
    s->position_pending = false;
    return ETL_OK;
}

/* Takes a 200 reply: scanned already on the HTTP thread when it was asked
 * for ahead, else now, in one pass (the documents are not scanned twice). */
static etl_status take_page(es_source *s, const char *what, int64_t size)
{
    if (s->ahead_scanned) {
        es_page_scan current = s->scan;
        s->scan = s->ahead_scan;
        s->ahead_scan = current;             /* keeps its memory for the next page */
        s->ahead_scanned = false;
    } else {
        es_page_scan_run(&s->scan, s->page.body.data, s->page.body.len, &s->mapping);
    }
    ej_span timed_out = s->scan.timed_out, shards = s->scan.shards, pit = s->scan.pit,
            scroll = s->scan.scroll;
    char why[300];
    if (!s->scan.valid) {
        return es_host->set_error(s->ctx, ETL_ERR_RETRY, 200, "%s: the reply is not a search "
                                  "result (truncated?)", what);
    }
    if (es_check_complete(timed_out, shards, why, sizeof why) != ETL_OK) {
        s->scan.nhits = 0;
        es_host->metric_add(s->ctx, "es_partial_replies", 1);
        return es_host->set_error(s->ctx, ETL_ERR_RETRY, 200, "%s: %s", what, why);
    }
    char *new_id = NULL;
    if (pit.p && (new_id = ej_string_dup(pit)) != NULL) {
        free(s->pit_id);         /* the id may change between calls: keep the latest */
        s->pit_id = new_id;
    }
    if (scroll.p && (new_id = ej_string_dup(scroll)) != NULL) {
        free(s->scroll_id);
        s->scroll_id = new_id;
    }
    /* A sorted search_after page shorter than asked is the last one; scroll
     * ends with an empty page. */
    s->last_page = s->scroll ? s->scan.nhits == 0 : (int64_t)s->scan.nhits < size;
    es_host->metric_add(s->ctx, "es_pages", 1);
    return ETL_OK;
}

/* The request for the page after this one, built as if its last hit had
 * been returned (which it will have been when the page is needed). */
static bool build_ahead(es_source *s, int64_t size)
{
    es_str_reset(&s->ahead_body);
    if (s->scroll) {
        if (s->scroll_id == NULL)
            return false;
        snprintf(s->ahead_path, sizeof s->ahead_path, "/_search/scroll");
        build_scroll_next(s, &s->ahead_body);
        return es_str_ok(&s->ahead_body);
    }
    es_cursor next;
    if (s->pit_id == NULL || !es_cursor_init(&next, (const char *const *)s->cur.keys, s->cur.nkeys))
        return false;
    bool ok = es_cursor_take(&next, s->scan.hits[s->scan.nhits - 1].sort, s->pit_id);
    if (ok) {
        es_cursor current = s->cur;
        bool same_pit = s->same_pit;
        s->cur = next;
        s->same_pit = true;
        build_search(s, size, &s->ahead_body);
        next = s->cur;
        s->cur = current;
        s->same_pit = same_pit;
        snprintf(s->ahead_path, sizeof s->ahead_path, "/_search");
    }
    es_cursor_free(&next);
    return ok && es_str_ok(&s->ahead_body);
}

/* On the HTTP thread: the page asked for ahead is scanned as it arrives,
 * off the reader's thread. Touches only ahead_scan and ahead_scanned, which
 * the reader leaves alone until the request is collected. */
static void scan_ahead(void *arg, const etl_http_response *resp)
{
    es_source *s = arg;
    if (resp->status != 200)
        return;
    es_page_scan_run(&s->ahead_scan, resp->body.data, resp->body.len, &s->mapping);
    s->ahead_scanned = true;
}

static void start_ahead(es_source *s, int64_t size)
{
    if (!s->prefetch || s->last_page || s->scan.nhits == 0 || !build_ahead(s, size))
        return;
    s->ahead_size = size;
    /* A failure to start only means the next page is asked for when needed. */
    s->ahead_scanned = false;
    es_start(&s->conn, &s->ahead, "POST", s->ahead_path, s->ahead_body.p, s->ahead_body.n,
             ETL_HTTP_RETRY, scan_ahead, s);
}

/* Drops the page asked for ahead (a restore moved the cursor, or the
 * source closes). */
static void cancel_ahead(es_source *s)
{
    if (!s->ahead.started)
        return;
    etl_http_response dropped;
    es_wait(&s->conn, &s->ahead, &dropped);
    es_host->http_response_free(&dropped);
    s->ahead_scanned = false;
}

/* Sends the request for the next page, or collects the one sent ahead. */
static etl_status send_page_request(es_source *s, int64_t *size, char *path, size_t cap)
{
    if (s->ahead.started) {
        snprintf(path, cap, "%s", s->ahead_path);
        *size = s->ahead_size;
        release_page(s);
        return es_wait(&s->conn, &s->ahead, &s->page);
    }
    if (!s->scroll && s->pit_id == NULL) {
        etl_status st = open_pit(s);
        if (st != ETL_OK)
            return st;
        if (!s->scroll)
            s->same_pit = false;
    }
    if (s->scroll && s->scroll_id) {
        snprintf(path, cap, "/_search/scroll");
        build_scroll_next(s, &s->body);
    } else {
        if (s->scroll)
            snprintf(path, cap, "%s/_search?scroll=%s", s->index_path, s->keep_alive);
        else
            snprintf(path, cap, "/_search");
        build_search(s, *size, &s->body);
    }
    if (!es_str_ok(&s->body))
        return nomem(s);
    release_page(s);
    return es_send(&s->conn, "POST", path, s->body.p, s->body.n, ETL_HTTP_RETRY, &s->page);
}

/* One request; on 404 search_context_missing_exception the context is
 * reopened (a PIT) or restarted (a scroll) after the cursor. */
static etl_status request_page(es_source *s, int64_t size)
{
    for (int attempt = 1;; attempt++) {
        const char *method = "POST";
        char path[512];
        etl_status st = send_page_request(s, &size, path, sizeof path);
        s->page_held = true;
        if (st != ETL_OK)
            return st;
        char what[600];
        snprintf(what, sizeof what, "%s %s%s", method, s->conn.base, path);
        if (s->page.status == 200) {
            st = take_page(s, what, size);
            if (st == ETL_OK)
                start_ahead(s, size);
            return st;
        }
        es_error e;
        es_error_parse(s->page.body.data, s->page.body.len, s->page.status, &e);
        if (!es_error_is_context_missing(&e) || attempt >= REOPEN_ATTEMPTS)
            return es_fail(&s->conn, method, path, &s->page);
        bool resumable = !s->cur.has_after || s->cur.nkeys > 0;
        if (!resumable)
            return es_host->set_error(s->ctx, ETL_ERR_PERMANENT, 404,
                                      "%s: the %s expired (%s) and the sort has no stable key to "
                                      "continue from: set tiebreaker to a field unique per "
                                      "document, or a longer keep_alive",
                                      what, s->scroll ? "scroll" : "point in time", e.reason);
        es_host->log(s->ctx, ETL_LOG_WARN, "%s: the %s expired (%s): opening a new one and "
                     "continuing after the last record read", what,
                     s->scroll ? "scroll" : "point in time", e.reason);
        es_host->metric_add(s->ctx, "es_contexts_reopened", 1);
        free(s->scroll_id);
        s->scroll_id = NULL;
        free(s->pit_id);
        s->pit_id = NULL;
        if (s->shared_pit) {
            free(s->shared_pit);         /* the shared one is gone: use our own */
            s->shared_pit = NULL;
        }
    }
}

static etl_status fetch_page(es_source *s, int64_t size)
{
    etl_status st = settle_position(s);
    if (st != ETL_OK)
        return st;
    if (size > MAX_PAGE)
        size = MAX_PAGE;
    if (size < 1)
        size = 1;
    return request_page(s, size);
}

/* ------------------------------------------------------------------ records */

/* The _source with each hit's _id added as the first member. */
static void with_id(es_source *s, const es_hit *h, const char *text, size_t len, es_str *out)
{
    es_str_reset(out);
    es_str_add(out, "{", 1);
    es_str_json_string(out, s->id_field, strlen(s->id_field));
    es_str_add(out, ":", 1);
    es_str_add(out, h->id.n ? h->id.p : "null", h->id.n ? h->id.n : 4);
    size_t i = 1;
    while (i < len && strchr(" \t\r\n", text[i]))
        i++;
    if (i < len && text[i] != '}')
        es_str_add(out, ",", 1);
    es_str_add(out, text + 1, len - 1);
}

static etl_status emit(es_source *s, etl_builder *out, const es_hit *h)
{
    const char *text = h->source.n ? h->source.p : "{}";
    size_t len = h->source.n ? h->source.n : 2;
    es_str fixed = {0};
    if (h->epoch_numbers && es_mapping_fix_dates(&s->mapping, (ej_span){text, len}, &fixed)) {
        text = fixed.p;
        len = fixed.n;
    }
    if (s->id_field && len >= 2 && text[0] == '{') {
        with_id(s, h, text, len, &s->scratch);
        text = s->scratch.p;
        len = s->scratch.n;
    }
    etl_status st = es_host->json_append_record(out, text, len);
    if (st == ETL_ERR_DATA) {
        char where[300], id[200] = "?";
        ej_string(h->id, id, sizeof id);
        snprintf(where, sizeof where, "%s%s/_doc/%s", s->conn.base, s->index_path, id);
        st = es_host->reject(s->ctx, text, len, where, NULL);
        if (st != ETL_OK)
            es_host->log(s->ctx, ETL_LOG_ERROR,
                         "%s does not fit its columns; a field that holds arrays must be named "
                         "in array_fields, and rejects: keeps such records aside", where);
    }
    es_str_free(&fixed);
    return st;
}

/* ------------------------------------------------------------------ vtable */

static void source_free(es_source *s)
{
    cancel_ahead(s);
    es_request_free(&s->ahead);
    es_page_scan_free(&s->ahead_scan);
    es_page_scan_free(&s->scan);
    es_str_free(&s->ahead_body);
    release_page(s);
    es_cursor_free(&s->cur);
    es_mapping_free(&s->mapping);
    es_conn_close(&s->conn);
    free(s->index_path);
    free(s->query);
    free(s->source_filter);
    free(s->id_field);
    free(s->shared_pit);
    free(s->inc_field);
    free(s->pit_id);
    free(s->scroll_id);
    es_str_free(&s->scratch);
    es_str_free(&s->body);
    free(s);
}

static etl_status count_documents(es_source *s)
{
    bool wanted = true;
    es_host->opt_bool(s->opts, "count", &wanted);
    if (!wanted || s->sliced || s->inc_field)
        return ETL_OK;
    es_str path = {0}, body = {0};
    es_str_printf(&path, "%s/_count", s->index_path);
    if (s->query)
        es_str_printf(&body, "{\"query\":%s}", s->query);
    etl_http_response r;
    etl_status st = es_send(&s->conn, "POST", es_str_cstr(&path), body.p, body.n, ETL_HTTP_RETRY, &r);
    ej_span root, n;
    int64_t total;
    if (st == ETL_OK && r.status != 200)
        st = es_fail(&s->conn, "POST", es_str_cstr(&path), &r);
    else if (st == ETL_OK && ej_root(r.body.data, r.body.len, &root) && ej_get(root, "count", &n) &&
             ej_int64(n, &total))
        es_host->progress_total(s->ctx, total);
    es_host->http_response_free(&r);
    es_str_free(&path);
    es_str_free(&body);
    return st;
}

static etl_status source_setup(es_source *s)
{
    const char *index = es_host->opt_string(s->opts, "index");
    if (index == NULL || *index == '\0' || index[0] == '_')
        return es_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                  "%s: index must name an index, alias or pattern (products, "
                                  "logs-*), not '%s'",
                                  es_host->opt_where(s->opts, "index"), index ? index : "");
    s->index_path = index_path(index);
    s->id_field = dup_opt(s->opts, "id_field");
    bool prefetch = true;
    es_host->opt_bool(s->opts, "prefetch", &prefetch);
    s->prefetch = prefetch && es_can_start();
    if (s->index_path == NULL)
        return nomem(s);
    etl_status st = es_conn_open(&s->conn, s->ctx, s->opts);
    if (st == ETL_OK)
        st = json_option(s, "query", &s->query);
    if (st == ETL_OK)
        st = read_slice(s);
    if (st == ETL_OK)
        st = read_api(s);
    if (st == ETL_OK)
        st = load_mapping(s);
    if (st == ETL_OK)
        st = read_incremental(s);
    if (st == ETL_OK)
        st = sort_keys(s);
    if (st == ETL_OK)
        st = source_filter(s);
    if (st == ETL_OK)
        st = prune_mapping(s);
    if (st == ETL_OK)
        st = count_documents(s);
    if (s->inc_field) {
        s->upper_ms = wall_ms() - s->lag_ms;
        s->cur.has_upper = true;
        s->cur.upper_ms = s->upper_ms;
    }
    return st;
}

static etl_status es_source_open(etl_ctx *ctx, const etl_options *opts, void **state)
{
    es_source *s = calloc(1, sizeof *s);
    if (s == NULL)
        return es_host->set_error(ctx, ETL_ERR_NOMEM, 0, "out of memory");
    s->ctx = ctx;
    s->opts = opts;
    etl_status st = source_setup(s);
    if (st != ETL_OK) {
        source_free(s);
        return st;
    }
    *state = s;
    return ETL_OK;
}

static etl_status es_source_read(void *state, etl_builder *out, int64_t max_records,
                                 int64_t max_bytes)
{
    es_source *s = state;
    if (s->declared_for != out) {
        etl_status st = es_mapping_declare(&s->mapping, es_host, out);
        if (st != ETL_OK)
            return st;
        s->declared_for = out;
    }
    if (s->ended)
        return ETL_END;
    int64_t emitted = 0;
    while (emitted < max_records) {
        if (s->next >= s->scan.nhits) {
            /* One request per read: the host paces reads and pages alike. */
            if (s->last_page || emitted > 0)
                break;
            etl_status st = fetch_page(s, max_records);
            if (st != ETL_OK)
                return st;
            continue;
        }
        if (max_bytes > 0 && emitted > 0 && es_host->builder_bytes(out) >= max_bytes)
            return ETL_OK;
        etl_status st = emit(s, out, &s->scan.hits[s->next]);
        if (st != ETL_OK)
            return st;
        s->next++;
        s->position_pending = true;
        emitted++;
    }
    if (s->next >= s->scan.nhits && s->last_page) {
        s->ended = true;
        s->cur.end = true;
        return ETL_END;
    }
    return ETL_OK;
}

static etl_status es_source_checkpoint(void *state, etl_buf *cursor_json)
{
    es_source *s = state;
    etl_status st = settle_position(s);
    if (st != ETL_OK)
        return st;
    if (s->cur.has_after && s->cur.nkeys == 0 && (s->scroll || !s->cur.pit))
        return es_host->set_error(s->ctx, ETL_ERR_UNSUPPORTED, 0,
                                  "a scroll cannot be resumed without a stable sort: set "
                                  "tiebreaker to a field unique per document (id)");
    es_str text = {0};
    es_cursor_encode(&s->cur, &text);
    st = es_str_ok(&text) ? es_host->buf_append(cursor_json, text.p, text.n) : nomem(s);
    es_str_free(&text);
    return st;
}

static etl_status es_source_restore(void *state, const char *json, size_t len)
{
    es_source *s = state;
    es_cursor saved;
    char error[200];
    cancel_ahead(s);
    if (!es_cursor_decode(json, len, &saved, error, sizeof error))
        return es_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                                  "cannot resume from the checkpoint's cursor: %s; reset the "
                                  "state (etl state reset) to start again", error);
    if (!es_cursor_same_keys(&saved, &s->cur)) {
        es_host->set_error(s->ctx, ETL_ERR_CONFIG, 0,
                           "the checkpoint was written for another sort (%zu keys: %s%s%s), this "
                           "source sorts on %zu keys (incremental.field, tiebreaker): restore "
                           "those options, or reset the state (etl state reset)",
                           saved.nkeys, saved.nkeys ? saved.keys[0] : "",
                           saved.nkeys > 1 ? ", " : "", saved.nkeys > 1 ? saved.keys[1] : "",
                           s->cur.nkeys);
        es_cursor_free(&saved);
        return ETL_ERR_CONFIG;
    }
    if (saved.end || s->scroll) {
        /* A finished run's PIT is an old snapshot; a scroll is never reused. */
        free(saved.pit);
        free(saved.shard_doc);
        saved.pit = saved.shard_doc = NULL;
    }
    if (s->inc_field && saved.has_upper && !saved.end) {
        s->upper_ms = saved.upper_ms;    /* the interrupted run's window, exactly */
    } else {
        saved.has_upper = s->inc_field != NULL;
        saved.upper_ms = s->upper_ms;
    }
    saved.end = false;
    if (saved.pit && s->shared_pit == NULL) {
        s->pit_id = strdup(saved.pit);
        if (s->pit_id == NULL) {
            es_cursor_free(&saved);
            return nomem(s);
        }
        s->same_pit = true;
    }
    es_cursor_free(&s->cur);
    s->cur = saved;
    return ETL_OK;
}

static void es_source_close(void *state)
{
    es_source *s = state;
    cancel_ahead(s);
    /* A PIT that a checkpoint may name is left to expire (keep_alive), so
     * that the next run can continue in the same snapshot. */
    if (s->ended || !s->cur.has_after)
        close_pit(s);
    clear_scroll(s);
    source_free(s);
}

static bool es_source_incremental(void *state)
{
    es_source *s = state;
    return es_host->opt_is_set(s->opts, "incremental");
}

const etl_source_vtable es_source_vtable = {
    .struct_size = sizeof(etl_source_vtable),
    .open = es_source_open,
    .read = es_source_read,
    .checkpoint = es_source_checkpoint,
    .restore = es_source_restore,
    .close = es_source_close,
    .incremental = es_source_incremental,
};
