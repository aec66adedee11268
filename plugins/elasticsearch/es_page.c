#include "es_page.h"

#include <stdlib.h>
#include <string.h>

static bool grow_hits(es_page_scan *scan)
{
    if (scan->nhits < scan->cap)
        return true;
    size_t cap = scan->cap ? scan->cap * 2 : 256;
    es_hit *grown = realloc(scan->hits, cap * sizeof *grown);
    if (grown == NULL)
        return false;
    scan->hits = grown;
    scan->cap = cap;
    return true;
}

static bool watch_epoch_name(void *mapping, const char *name, size_t len)
{
    return es_mapping_is_epoch_name(mapping, name, len);
}

/* One hit, read member by member. */
static bool read_hit(es_page_scan *scan, ej_iter *array, const es_mapping *mapping)
{
    ej_iter it;
    ej_span key, value;
    if (!grow_hits(scan) || !ej_descend(array, '{', &it))
        return false;
    es_hit *h = &scan->hits[scan->nhits];
    memset(h, 0, sizeof *h);
    bool watch = mapping->has_numeric_dates;
    while (ej_next_key(&it, &key)) {
        bool is_source = ej_key_is(key, "_source");
        bool taken = is_source && watch
                         ? ej_take_value_watching(&it, &value, watch_epoch_name,
                                                  (void *)(uintptr_t)mapping, &h->epoch_numbers)
                         : ej_take_value(&it, &value);
        if (!taken)
            break;
        if (is_source)
            h->source = value;
        else if (ej_key_is(key, "sort"))
            h->sort = value;
        else if (ej_key_is(key, "_id"))
            h->id = value;
    }
    if (!ej_ascend(array, &it))
        return false;
    scan->nhits++;
    return true;
}

/* "hits": {"total": ..., "max_score": ..., "hits": [...]} */
static bool read_hits(es_page_scan *scan, ej_iter *root, const es_mapping *mapping)
{
    ej_iter hits, array;
    ej_span key, value;
    bool found = false;
    if (!ej_descend(root, '{', &hits))
        return false;
    while (ej_next_key(&hits, &key)) {
        if (ej_key_is(key, "hits") && ej_peek(&hits) == '[') {
            if (!ej_descend(&hits, '[', &array))
                return false;
            while (ej_next_slot(&array))
                if (!read_hit(scan, &array, mapping))
                    return false;
            if (!ej_ascend(&hits, &array))
                return false;
            found = true;
        } else if (!ej_take_value(&hits, &value)) {
            return false;
        }
    }
    return ej_ascend(root, &hits) && found;
}

void es_page_scan_run(es_page_scan *scan, const char *body, size_t len, const es_mapping *mapping)
{
    ej_span root = {body, len}, key, value;
    ej_iter it;
    scan->nhits = 0;
    scan->timed_out = scan->shards = scan->pit = scan->scroll = (ej_span){0};
    bool hits = false;
    while (root.n && strchr(" \r\n\t", root.p[root.n - 1]))
        root.n--;
    while (root.n && strchr(" \r\n\t", root.p[0])) {
        root.p++;
        root.n--;
    }
    bool ok = root.p != NULL && ej_members(root, &it);
    while (ok && ej_next_key(&it, &key)) {
        if (ej_key_is(key, "hits") && ej_peek(&it) == '{') {
            ok = read_hits(scan, &it, mapping);
            hits = ok;
            continue;
        }
        ok = ej_take_value(&it, &value);
        if (ej_key_is(key, "timed_out"))
            scan->timed_out = value;
        else if (ej_key_is(key, "_shards"))
            scan->shards = value;
        else if (ej_key_is(key, "pit_id"))
            scan->pit = value;
        else if (ej_key_is(key, "_scroll_id"))
            scan->scroll = value;
    }
    scan->valid = ok && !it.failed && hits;
    if (!scan->valid)
        scan->nhits = 0;
}

void es_page_scan_free(es_page_scan *scan)
{
    free(scan->hits);
    memset(scan, 0, sizeof *scan);
}
