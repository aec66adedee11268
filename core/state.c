#include "state.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "buf.h"
#include "context.h"
#include "strutil.h"

void utc_now_iso(char *out, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void state_point_free(state_point *p)
{
    free(p->cursor);
    free(p->schema);
    free(p->committed_at);
    memset(p, 0, sizeof *p);
}

static char *dup_or_null(const char *s) { return s ? xstrdup(s) : NULL; }

void state_point_copy(state_point *dst, const state_point *src)
{
    *dst = *src;
    dst->cursor = dup_or_null(src->cursor);
    dst->schema = dup_or_null(src->schema);
    dst->committed_at = dup_or_null(src->committed_at);
}

void state_free(run_state *st)
{
    free(st->pipeline);
    free(st->partition);
    free(st->source_type);
    free(st->sink_type);
    free(st->run_id);
    state_point_free(&st->current);
    for (size_t i = 0; i < st->history_count; i++)
        state_point_free(&st->history[i]);
    memset(st, 0, sizeof *st);
}

void state_push_history(run_state *st)
{
    if (st->history_count == STATE_HISTORY_MAX)
        state_point_free(&st->history[--st->history_count]);
    memmove(&st->history[1], &st->history[0], st->history_count * sizeof st->history[0]);
    state_point_copy(&st->history[0], &st->current);
    st->history_count++;
}

static cJSON *point_json(const state_point *p)
{
    cJSON *o = cJSON_CreateObject();
    /* Sequence and counters stay far below 2^53: doubles hold them exactly. */
    cJSON_AddNumberToObject(o, "commit_sequence", (double)p->commit_sequence);
    if (p->cursor)
        cJSON_AddStringToObject(o, "cursor", p->cursor);
    else
        cJSON_AddNullToObject(o, "cursor");
    if (p->schema)
        cJSON_AddStringToObject(o, "schema", p->schema);
    cJSON_AddNumberToObject(o, "records_read", (double)p->records_read);
    cJSON_AddNumberToObject(o, "records_written", (double)p->records_written);
    cJSON_AddNumberToObject(o, "records_rejected", (double)p->records_rejected);
    if (p->committed_at)
        cJSON_AddStringToObject(o, "committed_at", p->committed_at);
    return o;
}

etl_status state_serialize(const run_state *st, etl_buf *out)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "format", STATE_FORMAT);
    cJSON_AddStringToObject(o, "pipeline", st->pipeline);
    cJSON_AddStringToObject(o, "partition", st->partition);
    cJSON_AddStringToObject(o, "source", st->source_type);
    cJSON_AddStringToObject(o, "sink", st->sink_type);
    if (st->run_id)
        cJSON_AddStringToObject(o, "run_id", st->run_id);
    cJSON_AddBoolToObject(o, "done", st->done);
    cJSON_AddItemToObject(o, "current", point_json(&st->current));
    cJSON *history = cJSON_AddArrayToObject(o, "history");
    for (size_t i = 0; i < st->history_count; i++)
        cJSON_AddItemToArray(history, point_json(&st->history[i]));
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (text == NULL)
        return ETL_ERR_NOMEM;
    etl_status result = buf_append_str(out, text);
    buf_append_char(out, '\n');
    free(text);
    return result;
}

typedef struct parse_ctx {
    const char *where;
    etl_ctx *ctx;
    etl_status status;
} parse_ctx;

static const char *text_field(parse_ctx *pc, const cJSON *o, const char *key, bool required)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsString(v))
        return v->valuestring;
    if ((v == NULL || cJSON_IsNull(v)) && !required)
        return NULL;
    if (pc->status == ETL_OK)
        pc->status = ctx_set_error(pc->ctx, ETL_ERR_DATA, 0,
                                   "%s: state is corrupt: '%s' is missing or not a string",
                                   pc->where, key);
    return NULL;
}

static int64_t count_field(parse_ctx *pc, const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9007199254740992.0)
        return (int64_t)v->valuedouble;
    if (pc->status == ETL_OK)
        pc->status = ctx_set_error(pc->ctx, ETL_ERR_DATA, 0,
                                   "%s: state is corrupt: '%s' is missing or not a count",
                                   pc->where, key);
    return 0;
}

static void parse_point(parse_ctx *pc, const cJSON *o, state_point *p)
{
    if (!cJSON_IsObject(o)) {
        if (pc->status == ETL_OK)
            pc->status = ctx_set_error(pc->ctx, ETL_ERR_DATA, 0,
                                       "%s: state is corrupt: a commit point is not an object",
                                       pc->where);
        return;
    }
    p->commit_sequence = (uint64_t)count_field(pc, o, "commit_sequence");
    p->cursor = dup_or_null(text_field(pc, o, "cursor", false));
    p->schema = dup_or_null(text_field(pc, o, "schema", false));
    p->records_read = count_field(pc, o, "records_read");
    p->records_written = count_field(pc, o, "records_written");
    p->records_rejected = count_field(pc, o, "records_rejected");
    p->committed_at = dup_or_null(text_field(pc, o, "committed_at", false));
}

etl_status state_parse(const char *json, size_t len, const char *where, run_state *out,
                       etl_ctx *ctx)
{
    memset(out, 0, sizeof *out);
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithLengthOpts(json, len, &end, false);
    /* Bytes after the object mean the file is not what etl wrote. */
    while (o && end && end < json + len && (*end == ' ' || *end == '\n' || *end == '\r' ||
                                            *end == '\t'))
        end++;
    if (o && end && end < json + len && *end != '\0') {
        cJSON_Delete(o);
        return ctx_set_error(ctx, ETL_ERR_DATA, 0,
                             "%s: state is corrupt (unexpected bytes after the JSON object at "
                             "byte %zu); restore it from a backup or start over with 'etl state "
                             "reset'",
                             where, (size_t)(end - json));
    }
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return ctx_set_error(ctx, ETL_ERR_DATA, 0,
                             "%s: state is corrupt (not a JSON object%s); restore it from a "
                             "backup or start over with 'etl state reset'",
                             where, len == 0 ? ", the file is empty" : "");
    }
    parse_ctx pc = {.where = where, .ctx = ctx, .status = ETL_OK};
    const char *format = text_field(&pc, o, "format", true);
    if (format && strcmp(format, STATE_FORMAT) != 0 && pc.status == ETL_OK)
        pc.status = ctx_set_error(ctx, ETL_ERR_DATA, 0,
                                  "%s: state format '%s' is not '%s' (written by another "
                                  "version of etl?)",
                                  where, format, STATE_FORMAT);
    out->pipeline = dup_or_null(text_field(&pc, o, "pipeline", true));
    out->partition = dup_or_null(text_field(&pc, o, "partition", true));
    out->source_type = dup_or_null(text_field(&pc, o, "source", true));
    out->sink_type = dup_or_null(text_field(&pc, o, "sink", true));
    out->run_id = dup_or_null(text_field(&pc, o, "run_id", false));
    const cJSON *done = cJSON_GetObjectItemCaseSensitive(o, "done");
    if (!cJSON_IsBool(done) && pc.status == ETL_OK)
        pc.status = ctx_set_error(ctx, ETL_ERR_DATA, 0,
                                  "%s: state is corrupt: 'done' is missing or not a boolean",
                                  where);
    out->done = cJSON_IsTrue(done);
    parse_point(&pc, cJSON_GetObjectItemCaseSensitive(o, "current"), &out->current);
    const cJSON *history = cJSON_GetObjectItemCaseSensitive(o, "history");
    const cJSON *item;
    cJSON_ArrayForEach(item, history)
    {
        if (out->history_count == STATE_HISTORY_MAX)
            break;
        parse_point(&pc, item, &out->history[out->history_count++]);
    }
    cJSON_Delete(o);
    if (pc.status != ETL_OK)
        state_free(out);
    return pc.status;
}
