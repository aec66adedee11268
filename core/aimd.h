/* The closed loop that protects a source: it watches each request's outcome
 * and latency and sets the request rate the token bucket lets through.
 * Overload (429, 503, rejected executions) or latency well above the
 * baseline cuts the rate multiplicatively; calm periods raise it additively
 * back towards the configured cap (AIMD, as TCP does). */
#ifndef ETL_CORE_AIMD_H
#define ETL_CORE_AIMD_H

#include <stdbool.h>
#include <stdint.h>

typedef struct aimd {
    double max_rate;             /* requests/s configured; 0: no cap */
    double rate;                 /* current allowed rate; 0: unlimited */
    double min_rate;             /* never below this */
    double ceiling;              /* uncapped: the rate before the first cut, recovered to */
    double baseline_us;          /* typical latency when healthy */
    double recent_us;            /* EWMA of recent latency */
    int64_t samples;
    int64_t last_cut_us;         /* one cut per cooldown at most */
    int64_t last_raise_us;
    int64_t window_start_us;     /* for the observed rate */
    int64_t window_requests;
    double observed_rate;
} aimd;

void aimd_init(aimd *a, double max_rate, int64_t now_us);
/* Latency is rising: well above the healthy baseline. */
bool aimd_is_slow(const aimd *a);
/* Feeds one finished request; returns true when the allowed rate changed
 * (the new one is a->rate; 0 means unlimited). */
bool aimd_record(aimd *a, int64_t latency_us, bool overloaded, int64_t now_us);

#endif
