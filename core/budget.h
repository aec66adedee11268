/* The time budget: when to stop so that the stop itself (flush, commit,
 * state write) still ends before the deadline. The decision is predictive:
 * it uses the measured durations of the steps it must still take. */
#ifndef ETL_CORE_BUDGET_H
#define ETL_CORE_BUDGET_H

#include <stdbool.h>
#include <stdint.h>

typedef struct budget {
    int64_t deadline_us;         /* monotonic; 0: no budget */
    int64_t margin_us;           /* kept free at the end, for exit and slack */
    int64_t batch_us_max;        /* slowest read+transform+write seen (decayed) */
    int64_t commit_us_max;       /* slowest commit+state write seen (decayed) */
    int batches_seen;
} budget;

/* `total_us` is the whole budget, starting at `started_us`. */
void budget_init(budget *b, int64_t started_us, int64_t total_us);
void budget_init_deadline(budget *b, int64_t deadline_us);
bool budget_active(const budget *b);
void budget_record_batch(budget *b, int64_t us);
void budget_record_commit(budget *b, int64_t us);
/* True when one more batch (plus the throttle's wait), then a commit, would
 * not fit before the deadline. */
bool budget_should_stop(const budget *b, int64_t now_us, int64_t expected_wait_us);
/* What a plugin may spend before the host needs the rest (remaining_ms). */
int64_t budget_remaining_for_plugins_us(const budget *b, int64_t now_us);

#endif
