/* Runs a pipeline: source, then transforms, then sink, in batches, with
 * throttling, retries, rejects and progress. */
#ifndef ETL_CORE_RUNNER_H
#define ETL_CORE_RUNNER_H

#include <etl/plugin.h>
#include <pthread.h>

#include "aimd.h"
#include "budget.h"
#include "pipeline.h"
#include "progress.h"
#include "rejects.h"
#include "throttle.h"

#define RUN_MAX_METRICS 32

typedef struct run_metric {
    const char *name;            /* interned copy */
    int64_t value;
} run_metric;

struct run {
    const pipeline *pipeline;
    token_bucket request_bucket;
    token_bucket record_bucket;
    aimd aimd;                   /* closed loop over the request rate */
    bool source_counts_requests; /* the source paces its own requests */
    int64_t in_flight;
    budget budget;
    progress progress;
    rejects rejects;
    int64_t records_read;
    int64_t records_written;
    int64_t bytes_read;
    run_metric metrics[RUN_MAX_METRICS];
    size_t metric_count;
    volatile int *interrupted;
    uint64_t next_commit_sequence;   /* what the next sink commit will carry */
    /* Guards what the reader thread and the pipeline thread both touch:
     * metrics, the budget's measurements. */
    pthread_mutex_t lock;
    /* Guards the request bucket and the closed loop: a source's requests
     * may run on a host thread (http_start) beside its reader. */
    pthread_mutex_t throttle_lock;
};

typedef struct run_options {
    bool quiet;
    bool progress_on_terminal;
    int64_t budget_ms;           /* overrides the pipeline's budget when > 0 */
    int64_t started_us;          /* monotonic start the budget counts from (0: now) */
    int64_t deadline_unix_ms;    /* an absolute deadline (Lambda); 0: none */
} run_options;

/* What a run did, for the continuation token and `etl lambda`. */
typedef struct run_result {
    bool done;                   /* the source reached its end and all is committed */
    bool suspended;              /* stopped by the budget; resume to continue */
    uint64_t commit_sequence;
    int64_t records_read;        /* over the whole pipeline, all slices */
    int64_t records_written;
    int64_t records_rejected;
    int64_t slice_records;       /* read by this run alone */
    int64_t time_left_ms;        /* before the deadline, at the end (-1: no budget) */
} run_result;

/* Returns an exit status (core/exit_status.h); `result` may be NULL. */
int run_pipeline(const pipeline *p, const run_options *options, run_result *result);

/* {"pipeline":..,"state_key":..,"done":..,...}: what resumes the run. */
void run_result_token(const pipeline *p, const run_result *r, etl_buf *out);

/* Set by the SIGINT/SIGTERM handler. */
extern volatile int run_interrupted;

void run_metric_add(struct run *run, const char *name, int64_t delta);
int64_t run_metric_value(struct run *run, const char *name);
/* Microseconds a plugin may still spend (INT64_MAX without a budget); safe
 * from any thread. */
int64_t run_remaining_us(struct run *run);
/* Takes one request token and returns the microseconds to wait before
 * sending; marks the source as pacing its own requests. Any thread. */
int64_t run_request_slot(struct run *run);

/* Feeds one finished source request into the closed loop (AIMD) and
 * applies a new rate to the request bucket. */
void run_request_finished(struct run *run, const char *who, int64_t latency_us, bool overloaded);

#endif
