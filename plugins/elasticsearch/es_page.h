/* A search reply's hits and status, read in one pass over its bytes. Pure
 * parsing (no host calls): it may run on the host's HTTP thread, on a page
 * that arrived ahead (http_start's prepare). */
#ifndef ES_PAGE_H
#define ES_PAGE_H

#include "es_json.h"
#include "es_mapping.h"

typedef struct es_hit {
    ej_span id, source, sort;
    bool epoch_numbers;          /* _source may hold epoch dates as numbers */
} es_hit;

typedef struct es_page_scan {
    es_hit *hits;                /* spans into the reply's body */
    size_t nhits, cap;
    ej_span timed_out, shards, pit, scroll;
    bool valid;                  /* the reply is a search result */
} es_page_scan;

/* Reads a 200 reply: its hits (each _source skipped once, and watched for
 * epoch dates written as numbers when the mapping has such fields) and the
 * members that say whether it is complete. Keeps the hits array's memory
 * from scan to scan. */
void es_page_scan_run(es_page_scan *scan, const char *body, size_t len, const es_mapping *mapping);
void es_page_scan_free(es_page_scan *scan);

#endif
