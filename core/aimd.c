#include "aimd.h"

/* Latency counts as "rising" above twice the baseline and at least this
 * much above it: sub-millisecond sources jitter by multiples of their
 * latency without being in trouble. */
#define LATENCY_FACTOR 2.0
#define LATENCY_SLACK_US 20000.0
#define DECREASE 0.5
/* Cuts are spaced so that one burst of errors halves the rate once, not
 * once per failed request. */
#define CUT_COOLDOWN_US 1000000
/* Recovery: +10 % of the target rate per second (about 10 s from the floor). */
#define RAISE_INTERVAL_US 1000000
#define RAISE_FRACTION 0.10
#define WARMUP_SAMPLES 20

void aimd_init(aimd *a, double max_rate, int64_t now_us)
{
    *a = (aimd){0};
    a->max_rate = max_rate;
    a->rate = max_rate;
    a->min_rate = 0.5;
    a->window_start_us = now_us;
    a->last_raise_us = now_us;
}

static void observe_rate(aimd *a, int64_t now_us)
{
    a->window_requests++;
    int64_t span = now_us - a->window_start_us;
    if (span >= 1000000) {
        a->observed_rate = (double)a->window_requests * 1e6 / (double)span;
        a->window_start_us = now_us;
        a->window_requests = 0;
    }
}

bool aimd_is_slow(const aimd *a)
{
    return a->samples > WARMUP_SAMPLES && a->recent_us > LATENCY_FACTOR * a->baseline_us &&
           a->recent_us - a->baseline_us > LATENCY_SLACK_US;
}

/* `recent` follows each response quickly (a few fast answers end a slow
 * spell); the baseline is the typical healthy latency: a slow average that
 * barely moves while the source is slow, so a slow period does not become
 * the new normal at once. */
static void track_latency(aimd *a, int64_t latency_us)
{
    double l = (double)latency_us;
    a->recent_us = a->samples == 0 ? l : a->recent_us * 0.5 + l * 0.5;
    if (a->samples < WARMUP_SAMPLES)
        a->baseline_us = a->samples == 0 ? l : a->baseline_us * 0.8 + l * 0.2;
    else if (aimd_is_slow(a))
        a->baseline_us = a->baseline_us * 0.995 + l * 0.005;
    else
        a->baseline_us = a->baseline_us * 0.98 + l * 0.02;
    a->samples++;
}

static bool set_rate(aimd *a, double rate)
{
    bool changed = rate != a->rate;
    a->rate = rate;
    return changed;
}

bool aimd_record(aimd *a, int64_t latency_us, bool overloaded, int64_t now_us)
{
    observe_rate(a, now_us);
    if (!overloaded)
        track_latency(a, latency_us);
    bool slow = aimd_is_slow(a);
    if ((overloaded || slow) && now_us - a->last_cut_us >= CUT_COOLDOWN_US) {
        double from = a->rate > 0 ? a->rate : a->observed_rate;
        if (from <= 0)
            from = 1e6 / (double)(latency_us > 0 ? latency_us : 1000);
        /* Uncapped: recovery aims back at the rate the source took before. */
        if (a->rate == 0 && a->max_rate == 0)
            a->ceiling = from;
        double cut = from * DECREASE;
        a->last_cut_us = now_us;
        a->last_raise_us = now_us;
        return set_rate(a, cut < a->min_rate ? a->min_rate : cut);
    }
    if (!overloaded && !slow && a->rate > 0 && now_us - a->last_raise_us >= RAISE_INTERVAL_US) {
        double target = a->max_rate > 0 ? a->max_rate : a->ceiling;
        double step = target * RAISE_FRACTION;
        a->last_raise_us = now_us;
        double next = a->rate + (step < 0.5 ? 0.5 : step);
        if (next >= target) {
            next = a->max_rate > 0 ? a->max_rate : 0; /* uncapped: unlimited again */
            a->ceiling = a->max_rate > 0 ? a->ceiling : 0;
        }
        return set_rate(a, next);
    }
    return false;
}
