#include "budget.h"

/* A commit is never assumed faster than this: fsyncs that took 5 ms a
 * moment ago take 200 ms when another process floods the disk. */
#define COMMIT_FLOOR_US 100000
/* Predictions take the slowest recent step, times this safety factor. */
#define SAFETY_NUM 3
#define SAFETY_DEN 2

static int64_t clamp(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

void budget_init(budget *b, int64_t started_us, int64_t total_us)
{
    *b = (budget){0};
    if (total_us <= 0)
        return;
    b->deadline_us = started_us + total_us;
    /* 2 % of the budget, at least 250 ms, at most 5 s: process exit, the
     * continuation token, scheduling jitter and a disk that is suddenly
     * slow (measured: single fsyncs of 200 ms under contention). */
    b->margin_us = clamp(total_us / 50, 250000, 5000000);
}

void budget_init_deadline(budget *b, int64_t deadline_us)
{
    *b = (budget){0};
    b->deadline_us = deadline_us;
    b->margin_us = 250000;
}

bool budget_active(const budget *b) { return b->deadline_us != 0; }

/* The slowest step dominates the risk, but one slow outlier should not
 * shrink every later slice: the maximum decays by 1/8 per new sample. */
static void record(int64_t *slowest, int64_t us)
{
    int64_t decayed = *slowest - *slowest / 8;
    *slowest = us > decayed ? us : decayed;
}

void budget_record_batch(budget *b, int64_t us)
{
    record(&b->batch_us_max, us);
    b->batches_seen++;
}

void budget_record_commit(budget *b, int64_t us) { record(&b->commit_us_max, us); }

static int64_t commit_cost(const budget *b)
{
    int64_t commit = b->commit_us_max > COMMIT_FLOOR_US ? b->commit_us_max : COMMIT_FLOOR_US;
    return commit * SAFETY_NUM / SAFETY_DEN;
}

bool budget_should_stop(const budget *b, int64_t now_us, int64_t expected_wait_us)
{
    if (!budget_active(b))
        return false;
    int64_t next_batch = b->batch_us_max * SAFETY_NUM / SAFETY_DEN + expected_wait_us;
    return now_us + next_batch + commit_cost(b) + b->margin_us >= b->deadline_us;
}

int64_t budget_remaining_for_plugins_us(const budget *b, int64_t now_us)
{
    if (!budget_active(b))
        return INT64_MAX;
    int64_t left = b->deadline_us - now_us - commit_cost(b) - b->margin_us;
    return left > 0 ? left : 0;
}
