/* Rate limits that protect sources: token buckets for requests and records
 * per second, a cap on requests in flight, and capped jittered backoff. */
#ifndef ETL_CORE_THROTTLE_H
#define ETL_CORE_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct token_bucket {
    double rate;                 /* tokens per second; <= 0 means unlimited */
    double burst;                /* bucket capacity */
    double tokens;
    int64_t last_us;             /* monotonic time of the last refill */
} token_bucket;

void bucket_init(token_bucket *b, double rate, double burst);
/* Microseconds to wait before `n` tokens are available (0: now). Takes the
 * tokens; the caller sleeps the returned time. Tokens may go negative, so
 * a large request is paid for by later waits. */
int64_t bucket_take(token_bucket *b, double n, int64_t now_us);

/* Changes the rate (0: unlimited) keeping the tokens already earned. */
void bucket_set_rate(token_bucket *b, double rate, int64_t now_us);

/* Microseconds `bucket_take` would make the caller wait for n tokens now,
 * without taking them. */
int64_t bucket_peek(const token_bucket *b, double n, int64_t now_us);

/* Delay before retry number `attempt` (1-based): full jitter over
 * min(cap, base * 2^(attempt-1)), and never less than retry_after_ms. */
int64_t backoff_delay_ms(int attempt, int64_t base_ms, int64_t cap_ms, int64_t retry_after_ms);

int64_t monotonic_us(void);
/* Sleeps, waking early if *interrupted becomes true. */
void sleep_us_interruptible(int64_t us, volatile const int *interrupted);

#endif
