#include "aimd.h"

/* Latency counts as "rising" above this multiple of the baseline. */
#define LATENCY_FACTOR 2.0
#define DECREASE 0.5
/* Cuts are spaced so that one burst of errors halves the rate once, not
 * once per failed request. */
#define CUT_COOLDOWN_US 1000000
/* Recovery: +5 % of the cap (or of the rate before cuts) per second. */
#define RAISE_INTERVAL_US 1000000
#define BASELINE_SAMPLES 20

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

static void track_latency(aimd *a, int64_t latency_us, bool overloaded)
{
    if (overloaded)
        return;
    double l = (double)latency_us;
    a->samples++;
    a->recent_us = a->samples == 1 ? l : a->recent_us * 0.8 + l * 0.2;
    /* The baseline learns from the first healthy requests, then only
     * moves down (a faster source) or slowly up, so a slow period does
     * not become the new normal. */
    if (a->samples <= BASELINE_SAMPLES)
        a->baseline_us = a->samples == 1 ? l : a->baseline_us * 0.8 + l * 0.2;
    else if (l < a->baseline_us)
        a->baseline_us = a->baseline_us * 0.9 + l * 0.1;
    else
        a->baseline_us = a->baseline_us * 0.999 + l * 0.001;
}

bool aimd_record(aimd *a, int64_t latency_us, bool overloaded, int64_t now_us)
{
    observe_rate(a, now_us);
    track_latency(a, latency_us, overloaded);
    bool slow = a->samples > BASELINE_SAMPLES && a->recent_us > LATENCY_FACTOR * a->baseline_us;
    if ((overloaded || slow) && now_us - a->last_cut_us >= CUT_COOLDOWN_US) {
        double from = a->rate > 0 ? a->rate : a->observed_rate;
        if (from <= 0)
            from = 1.0 / ((double)(latency_us > 0 ? latency_us : 1000) / 1e6);
        double cut = from * DECREASE;
        a->rate = cut < a->min_rate ? a->min_rate : cut;
        a->last_cut_us = now_us;
        a->last_raise_us = now_us;
        return true;
    }
    if (!overloaded && !slow && a->rate > 0 && now_us - a->last_raise_us >= RAISE_INTERVAL_US) {
        double cap = a->max_rate > 0 ? a->max_rate : 0;
        double step = (cap > 0 ? cap : a->rate) * 0.05;
        if (step < 0.5)
            step = 0.5;
        a->last_raise_us = now_us;
        a->rate += step;
        if (cap > 0 && a->rate >= cap) {
            a->rate = cap;
        } else if (cap == 0 && a->rate >= a->observed_rate * 4 && a->observed_rate > 0) {
            a->rate = 0; /* no cap configured and well clear of the load: unlimited again */
        }
        return true;
    }
    return false;
}
