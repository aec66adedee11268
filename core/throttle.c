#include "throttle.h"

#include <stdlib.h>
#include <time.h>

int64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void bucket_init(token_bucket *b, double rate, double burst)
{
    b->rate = rate;
    b->burst = burst > 0 ? burst : (rate > 1 ? rate : 1);
    /* Start with one token, not a full bucket, so a configured rate holds
     * from the first second instead of allowing an initial burst. */
    b->tokens = 1;
    b->last_us = monotonic_us();
}

int64_t bucket_take(token_bucket *b, double n, int64_t now_us)
{
    if (b->rate <= 0)
        return 0;
    double elapsed_s = (double)(now_us - b->last_us) / 1e6;
    b->last_us = now_us;
    b->tokens += elapsed_s * b->rate;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
    b->tokens -= n;
    if (b->tokens >= 0)
        return 0;
    return (int64_t)(-b->tokens / b->rate * 1e6);
}

void bucket_set_rate(token_bucket *b, double rate, int64_t now_us)
{
    if (b->rate > 0) {
        /* Settle what was earned at the old rate first. */
        b->tokens += (double)(now_us - b->last_us) / 1e6 * b->rate;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
    } else {
        b->tokens = 1;
    }
    b->last_us = now_us;
    b->rate = rate;
    b->burst = rate > 1 ? rate : 1;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
}

int64_t bucket_peek(const token_bucket *b, double n, int64_t now_us)
{
    if (b->rate <= 0)
        return 0;
    double tokens = b->tokens + (double)(now_us - b->last_us) / 1e6 * b->rate;
    if (tokens > b->burst)
        tokens = b->burst;
    tokens -= n;
    return tokens >= 0 ? 0 : (int64_t)(-tokens / b->rate * 1e6);
}

int64_t backoff_delay_ms(int attempt, int64_t base_ms, int64_t cap_ms, int64_t retry_after_ms)
{
    int64_t ceiling = base_ms;
    for (int i = 1; i < attempt && ceiling < cap_ms; i++)
        ceiling *= 2;
    if (ceiling > cap_ms)
        ceiling = cap_ms;
    /* Full jitter spreads retries of many clients; half of the ceiling as a
     * floor keeps a retry from coming back immediately. */
    int64_t delay = ceiling / 2 + (ceiling > 1 ? (int64_t)(random() % (ceiling / 2 + 1)) : 0);
    if (delay < retry_after_ms)
        delay = retry_after_ms;
    return delay;
}

void sleep_us_interruptible(int64_t us, volatile const int *interrupted)
{
    const int64_t slice = 50000;
    while (us > 0 && !(interrupted && *interrupted)) {
        int64_t step = us < slice ? us : slice;
        struct timespec ts = {.tv_sec = step / 1000000, .tv_nsec = (step % 1000000) * 1000};
        nanosleep(&ts, NULL);
        us -= step;
    }
}
