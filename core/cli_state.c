/* etl state show|reset|rewind: look at and repair a pipeline's state. */
#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "cli.h"
#include "context.h"
#include "exit_status.h"
#include "log.h"
#include "state.h"

typedef struct state_session {
    const pipeline *p;
    const etl_state_store_vtable *vt;
    etl_ctx *ctx;
    void *store;
    bool leased;
} state_session;

static const char owner[] = "etl state command";

static int session_open(state_session *s, const pipeline *p, bool lease)
{
    memset(s, 0, sizeof *s);
    s->p = p;
    s->vt = p->state_store.connector->vtable;
    s->ctx = ctx_new(p->state_store.label, NULL);
    etl_status st = s->vt->open(s->ctx, p->state_store.options, &s->store);
    if (st != ETL_OK) {
        log_msg(ETL_LOG_ERROR, s->ctx->label, "%s", ctx_error_message(s->ctx));
        ctx_free(s->ctx);
        s->ctx = NULL;
        return st == ETL_ERR_IO ? EXIT_IO : EXIT_FAILURE_RUNTIME;
    }
    if (lease) {
        st = s->vt->lease_acquire(s->store, p->state_key, owner, 60000);
        if (st != ETL_OK) {
            log_msg(ETL_LOG_ERROR, s->ctx->label, "%s", ctx_error_message(s->ctx));
            return EXIT_STATE;
        }
        s->leased = true;
    }
    return EXIT_OK;
}

static void session_close(state_session *s)
{
    if (s->store) {
        if (s->leased)
            s->vt->lease_release(s->store, s->p->state_key, owner);
        s->vt->close(s->store);
    }
    ctx_free(s->ctx);
}

/* Reads and parses; EXIT_OK with *found false when there is no state. */
static int read_state(state_session *s, run_state *st, etl_buf *version, bool *found)
{
    etl_buf text = {0};
    etl_status rc = s->vt->get(s->store, s->p->state_key, &text, version);
    *found = rc == ETL_OK;
    int status = EXIT_OK;
    if (rc == ETL_OK) {
        char where[320];
        snprintf(where, sizeof where, "state '%s'", s->p->state_key);
        if (state_parse(text.data, text.len, where, st, s->ctx) != ETL_OK) {
            log_msg(ETL_LOG_ERROR, s->ctx->label, "%s", ctx_error_message(s->ctx));
            status = EXIT_STATE;
        }
    } else if (rc != ETL_END) {
        log_msg(ETL_LOG_ERROR, s->ctx->label, "%s", ctx_error_message(s->ctx));
        status = EXIT_IO;
    }
    buf_free(&text);
    return status;
}

static int state_show(const pipeline *p)
{
    state_session s;
    int status = session_open(&s, p, false);
    if (status != EXIT_OK)
        return status;
    etl_buf text = {0};
    etl_status rc = s.vt->get(s.store, p->state_key, &text, NULL);
    if (rc == ETL_OK) {
        fputs(buf_cstr(&text), stdout);
        if (text.len && text.data[text.len - 1] != '\n')
            fputc('\n', stdout);
    } else if (rc == ETL_END) {
        log_msg(ETL_LOG_INFO, "etl", "no state for '%s' yet (key %s in %s)", p->name,
                p->state_key, p->state_store.label);
    } else {
        log_msg(ETL_LOG_ERROR, s.ctx->label, "%s", ctx_error_message(s.ctx));
        status = EXIT_IO;
    }
    buf_free(&text);
    session_close(&s);
    return status;
}

static int state_reset(const pipeline *p)
{
    state_session s;
    int status = session_open(&s, p, true);
    if (status == EXIT_OK) {
        if (s.vt->remove(s.store, p->state_key) != ETL_OK) {
            log_msg(ETL_LOG_ERROR, s.ctx->label, "%s", ctx_error_message(s.ctx));
            status = EXIT_IO;
        } else {
            log_msg(ETL_LOG_INFO, "etl",
                    "state of '%s' removed: the next run starts from the beginning", p->name);
        }
    }
    session_close(&s);
    return status;
}

/* Makes an earlier checkpoint current again. Outputs of later checkpoints
 * stay where they are and are overwritten as the next run re-creates them. */
static int state_rewind(const pipeline *p, long long to_sequence, long long steps)
{
    state_session s;
    int status = session_open(&s, p, true);
    run_state st = {0};
    etl_buf version = {0};
    bool found = false;
    if (status == EXIT_OK)
        status = read_state(&s, &st, &version, &found);
    if (status == EXIT_OK && !found) {
        log_msg(ETL_LOG_ERROR, "etl", "no state for '%s': nothing to rewind", p->name);
        status = EXIT_STATE;
    }
    if (status == EXIT_OK) {
        uint64_t target = to_sequence >= 0 ? (uint64_t)to_sequence
                          : st.current.commit_sequence >= (uint64_t)steps
                              ? st.current.commit_sequence - (uint64_t)steps
                              : 0;
        size_t index = st.history_count;
        for (size_t i = 0; i < st.history_count; i++)
            if (st.history[i].commit_sequence == target)
                index = i;
        if (target == st.current.commit_sequence) {
            log_msg(ETL_LOG_INFO, "etl", "'%s' is already at checkpoint %llu", p->name,
                    (unsigned long long)target);
        } else if (index == st.history_count) {
            etl_buf known = {0};
            for (size_t i = 0; i < st.history_count; i++)
                buf_printf(&known, "%s%llu", i ? ", " : "",
                           (unsigned long long)st.history[i].commit_sequence);
            log_msg(ETL_LOG_ERROR, "etl",
                    "checkpoint %llu is not in the history of '%s' (current %llu; kept: %s)",
                    (unsigned long long)target, p->name,
                    (unsigned long long)st.current.commit_sequence,
                    known.len ? buf_cstr(&known) : "none");
            buf_free(&known);
            status = EXIT_USAGE;
        } else {
            state_point_free(&st.current);
            state_point_copy(&st.current, &st.history[index]);
            for (size_t i = 0; i <= index; i++)
                state_point_free(&st.history[i]);
            memmove(&st.history[0], &st.history[index + 1],
                    (st.history_count - index - 1) * sizeof st.history[0]);
            st.history_count -= index + 1;
            st.done = false;
            etl_buf text = {0};
            state_serialize(&st, &text);
            if (s.vt->put(s.store, p->state_key, text.data, text.len, buf_cstr(&version), NULL) !=
                ETL_OK) {
                log_msg(ETL_LOG_ERROR, s.ctx->label, "%s", ctx_error_message(s.ctx));
                status = EXIT_STATE;
            } else {
                log_msg(ETL_LOG_INFO, "etl",
                        "'%s' rewound to checkpoint %llu (%lld records read); the next run "
                        "continues from there",
                        p->name, (unsigned long long)target,
                        (long long)st.current.records_read);
            }
            buf_free(&text);
        }
    }
    state_free(&st);
    buf_free(&version);
    session_close(&s);
    return status;
}

int cli_state(const pipeline *p, const char *action, long long to_sequence, long long steps)
{
    if (strcmp(action, "show") == 0)
        return state_show(p);
    if (strcmp(action, "reset") == 0)
        return state_reset(p);
    if (strcmp(action, "rewind") == 0)
        return state_rewind(p, to_sequence, steps);
    fprintf(stderr, "etl: state: unknown action '%s' (show, reset, rewind)\n", action);
    return EXIT_USAGE;
}
