/* The state object of a pipeline (DESIGN.md section 5): where its source
 * stopped, how far its sink committed, its counters and schema, and a short
 * history for `etl state rewind`. Kept in a state store as JSON. The cursor
 * and schema are stored as JSON text inside strings, so that the numbers in
 * a connector's cursor stay exact (cJSON, used for this control-plane
 * object, keeps numbers as doubles). */
#ifndef ETL_CORE_STATE_H
#define ETL_CORE_STATE_H

#include <etl/plugin.h>

#define STATE_FORMAT "etl-state/1"
#define STATE_HISTORY_MAX 20

typedef struct state_point {
    uint64_t commit_sequence;
    char *cursor;                /* the source's cursor (JSON text), NULL at the start */
    char *schema;                /* builder schema snapshot (JSON text) */
    int64_t records_read;
    int64_t records_written;
    int64_t records_rejected;
    char *committed_at;          /* ISO 8601 UTC */
} state_point;

typedef struct run_state {
    char *pipeline;
    char *partition;
    char *source_type;
    char *sink_type;
    char *run_id;                /* the run that wrote it */
    bool done;                   /* the source reached its end */
    state_point current;
    state_point history[STATE_HISTORY_MAX];   /* older points, newest first */
    size_t history_count;
} run_state;

/* Parses a stored state; on corruption returns ETL_ERR_DATA with a message
 * naming `where` and what is wrong. */
etl_status state_parse(const char *json, size_t len, const char *where, run_state *out,
                       etl_ctx *ctx);
etl_status state_serialize(const run_state *st, etl_buf *out);
/* Moves `current` into the history (dropping the oldest) before a new point. */
void state_push_history(run_state *st);
void state_point_free(state_point *p);
void state_point_copy(state_point *dst, const state_point *src);
void state_free(run_state *st);
/* "2026-11-25T08:00:00Z" */
void utc_now_iso(char *out, size_t len);

#endif
