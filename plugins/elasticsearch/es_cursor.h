/* The source's cursor: where a read resumes, as stored in checkpoints.
 *
 * A position is the sort values of the last record returned. The sort is
 * the pipeline's stable keys (incremental field, then tiebreaker: unique
 * together) followed, under a point in time, by _shard_doc. _shard_doc
 * values belong to one PIT, so the cursor also names that PIT: a resumed
 * run that finds the PIT alive continues inside the same snapshot; when the
 * PIT has expired (404 search_context_missing_exception) it opens a new one
 * and continues after the stable keys alone, with _shard_doc set to its
 * maximum so that the last record is not read again. Without stable keys
 * the cursor only survives as long as its PIT.
 *
 *   {"v":1,"keys":["updated_at","id"],"after":[1704067200000,"123"],
 *    "pit":"...","shard_doc":4294967298,"upper":1704070000000,"end":false}
 *
 * Sort values are kept as the exact JSON text the server sent. Pure code. */
#ifndef ES_CURSOR_H
#define ES_CURSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "es_json.h"

#define ES_MAX_KEYS 2
#define ES_SHARD_DOC_MAX "9223372036854775807"

typedef struct es_cursor {
    size_t nkeys;
    char *keys[ES_MAX_KEYS];     /* the sort fields the values belong to */
    bool has_after;              /* false before the first record */
    char *after[ES_MAX_KEYS];    /* JSON text of each key's value in the last record */
    char *pit;                   /* the PIT shard_doc belongs to, or NULL */
    char *shard_doc;             /* JSON text of the last record's _shard_doc, or NULL */
    bool has_upper;
    int64_t upper_ms;            /* incremental: the run's fixed upper bound */
    bool end;                    /* the run that wrote it read everything */
} es_cursor;

/* A cursor for these sort keys (0 to ES_MAX_KEYS), before any record. */
bool es_cursor_init(es_cursor *c, const char *const *keys, size_t nkeys);
void es_cursor_free(es_cursor *c);

/* Takes the position of a hit from its "sort" array: the first nkeys
 * values, then _shard_doc when `pit` is not NULL. False on a sort array of
 * the wrong shape. */
bool es_cursor_take(es_cursor *c, ej_span sort, const char *pit);

void es_cursor_encode(const es_cursor *c, es_str *out);
/* Parses a cursor written by es_cursor_encode; false with `error` filled
 * when it is malformed. Keys are not checked here (es_cursor_same_keys). */
bool es_cursor_decode(const char *json, size_t len, es_cursor *c, char *error, size_t cap);
bool es_cursor_same_keys(const es_cursor *a, const es_cursor *b);

/* The search_after array of the next request: the key values, then the
 * _shard_doc of the same PIT, or its maximum in another PIT. Writes
 * nothing and returns false when there is no position to continue from
 * (no record yet, or no stable key and another PIT). */
bool es_cursor_search_after(const es_cursor *c, bool with_shard_doc, bool same_pit, es_str *out);

/* A query matching the documents strictly after the position in key order
 * (keyset pagination, for scroll, which has no search_after). Keys flagged
 * in is_date compare as epoch milliseconds. False without a position. */
bool es_cursor_keyset_query(const es_cursor *c, const bool *is_date, es_str *out);

#endif
