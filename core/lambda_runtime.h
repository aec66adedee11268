/* `etl lambda`: a custom AWS Lambda runtime (the `bootstrap`). It speaks the
 * Runtime API (next, response, error, init/error), runs one slice of a
 * pipeline per invocation within the invocation's deadline, and either
 * answers {done, state_key, ...} for a Step Functions loop or invokes its
 * own function asynchronously with a hop counter (docs/lambda.md). */
#ifndef ETL_CORE_LAMBDA_RUNTIME_H
#define ETL_CORE_LAMBDA_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

/* Events above this size are refused (etl.BadEvent): the state travels by
 * reference, so an event is a few hundred bytes; 256 KiB is the smallest
 * async payload limit AWS has documented. */
#define LAMBDA_MAX_EVENT_BYTES (256 * 1024)
#define LAMBDA_DEFAULT_MAX_HOPS 100
#define LAMBDA_HARD_MAX_HOPS 1000
/* Time kept free after the run for posting the response; self-invoke mode
 * also needs time for the Invoke call. An event's budget_margin_ms wins. */
#define LAMBDA_DEFAULT_MARGIN_MS 200
#define LAMBDA_SELF_INVOKE_MARGIN_MS 1000
#define LAMBDA_MAX_MARGIN_MS 60000

typedef struct lambda_options {
    const char *plugin_path;     /* --plugin-path (may be NULL) */
    bool quiet;                  /* no per-run summary lines */
} lambda_options;

/* Serves invocations until the process is stopped. Returns an exit status
 * (core/exit_status.h): EXIT_USAGE when AWS_LAMBDA_RUNTIME_API is missing
 * or malformed, EXIT_FAILURE_RUNTIME after an init error or when the
 * Runtime API fails, EXIT_INTERRUPTED after SIGTERM/SIGINT during a run. */
int lambda_main(const lambda_options *options);

#endif
