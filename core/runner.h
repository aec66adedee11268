/* Runs a pipeline: source, then transforms, then sink, in batches, with
 * throttling, retries, rejects and progress. */
#ifndef ETL_CORE_RUNNER_H
#define ETL_CORE_RUNNER_H

#include <etl/plugin.h>

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
    int64_t in_flight;
    int64_t deadline_us;         /* monotonic; 0: no budget */
    progress progress;
    rejects rejects;
    int64_t records_read;
    int64_t records_written;
    int64_t bytes_read;
    int64_t retries;
    run_metric metrics[RUN_MAX_METRICS];
    size_t metric_count;
    volatile int *interrupted;
};

typedef struct run_options {
    bool quiet;
    bool progress_on_terminal;
} run_options;

/* Returns an exit status (core/exit_status.h). */
int run_pipeline(const pipeline *p, const run_options *options);

/* Set by the SIGINT/SIGTERM handler. */
extern volatile int run_interrupted;

void run_metric_add(struct run *run, const char *name, int64_t delta);

#endif
