/* The closed loop over the request rate (core/aimd.c) and the token bucket
 * it drives (core/throttle.c). Times are given, not measured. */
#include <check.h>

#include "aimd.h"
#include "tap_runner.h"
#include "throttle.h"

#define SEC 1000000

START_TEST(overload_halves_the_rate_once_per_cooldown)
{
    aimd a;
    aimd_init(&a, 20, 0);
    ck_assert(aimd_record(&a, 10000, true, 2 * SEC));
    ck_assert_double_eq_tol(a.rate, 10, 1e-9);
    /* More errors of the same burst do not cut again. */
    ck_assert(!aimd_record(&a, 10000, true, 2 * SEC + 200000));
    ck_assert_double_eq_tol(a.rate, 10, 1e-9);
    ck_assert(aimd_record(&a, 10000, true, 3 * SEC + 1));
    ck_assert_double_eq_tol(a.rate, 5, 1e-9);
}
END_TEST

START_TEST(calm_raises_additively_up_to_the_cap)
{
    aimd a;
    aimd_init(&a, 20, 0);
    aimd_record(&a, 10000, true, SEC);
    ck_assert_double_eq_tol(a.rate, 10, 1e-9);
    int64_t t = SEC;
    for (int i = 0; i < 30; i++) {
        t += SEC;
        aimd_record(&a, 10000, false, t);
    }
    /* +10 % of the cap (2/s) per second: 10 -> 20 in 5 s, then held. */
    ck_assert_double_eq_tol(a.rate, 20, 1e-9);
}
END_TEST

START_TEST(rising_latency_cuts_after_a_baseline)
{
    aimd a;
    aimd_init(&a, 50, 0);
    int64_t t = 0;
    for (int i = 0; i < 40; i++) {
        t += 50000;
        ck_assert(!aimd_record(&a, 5000, false, t) || a.rate == 50);
    }
    ck_assert_double_eq_tol(a.rate, 50, 1e-9);
    bool cut = false;
    for (int i = 0; i < 20 && !cut; i++) {
        t += 50000;
        cut = aimd_record(&a, 40000, false, t) && a.rate < 50;
    }
    ck_assert_msg(cut, "latency 8x the baseline did not lower the rate");
    ck_assert_double_le(a.rate, 25);
}
END_TEST

START_TEST(uncapped_source_is_cut_from_its_observed_rate_and_freed_again)
{
    aimd a;
    aimd_init(&a, 0, 0);
    int64_t t = 0;
    for (int i = 0; i < 200; i++) { /* 100 requests/s for 2 s */
        t += 10000;
        aimd_record(&a, 2000, false, t);
    }
    ck_assert_double_eq_tol(a.rate, 0, 1e-9);
    ck_assert(aimd_record(&a, 2000, true, t + 10000));
    ck_assert_double_le(a.rate, 55);
    ck_assert_double_ge(a.rate, 45);
    for (int i = 0; i < 200 && a.rate != 0; i++) {
        t += 100000;
        aimd_record(&a, 2000, false, t);
    }
    ck_assert_msg(a.rate == 0, "the rate never went back to unlimited (%f)", a.rate);
}
END_TEST

START_TEST(jitter_of_a_fast_steady_source_is_not_a_slowdown)
{
    aimd a;
    aimd_init(&a, 20, 0);
    int64_t t = 0;
    uint32_t seed = 12345;
    for (int i = 0; i < 2000; i++) { /* 30 s at 20/s, 0.2 to 6 ms latencies */
        t += 50000;
        seed = seed * 1103515245u + 12345u;
        int64_t latency = 200 + (int64_t)(seed >> 16) % 5800;
        aimd_record(&a, latency, false, t);
        ck_assert_msg(a.rate == 20, "rate cut to %f at request %d", a.rate, i);
    }
}
END_TEST

START_TEST(latency_back_to_normal_ends_the_slow_spell_and_recovers)
{
    aimd a;
    aimd_init(&a, 20, 0);
    int64_t t = 0;
    for (int i = 0; i < 100; i++)
        aimd_record(&a, 2000, false, t += 50000);
    for (int i = 0; i < 20; i++)
        aimd_record(&a, 200000, false, t += 300000);
    ck_assert_double_le(a.rate, 10);
    for (int i = 0; i < 3; i++)
        aimd_record(&a, 2000, false, t += 100000);
    ck_assert(!aimd_is_slow(&a));
    for (int i = 0; i < 400 && a.rate < 20; i++)
        aimd_record(&a, 2000, false, t += 50000);
    ck_assert_double_eq_tol(a.rate, 20, 1e-9);
    /* At the cap, nothing changes any more: no report. */
    ck_assert(!aimd_record(&a, 2000, false, t += 2 * SEC));
}
END_TEST

START_TEST(bucket_paces_at_its_rate_and_peek_does_not_take)
{
    token_bucket b;
    bucket_init(&b, 10, 10);
    b.last_us = 0;
    b.tokens = 1;
    ck_assert_int_eq(bucket_take(&b, 1, 0), 0);
    ck_assert_int_eq(bucket_peek(&b, 1, 0), 100000);
    ck_assert_int_eq(bucket_peek(&b, 1, 0), 100000);
    ck_assert_int_eq(bucket_take(&b, 1, 0), 100000);
    bucket_set_rate(&b, 0, 0);
    ck_assert_int_eq(bucket_take(&b, 100, 0), 0);
}
END_TEST

START_TEST(backoff_is_capped_jittered_and_honours_retry_after)
{
    for (int attempt = 1; attempt < 12; attempt++) {
        int64_t d = backoff_delay_ms(attempt, 100, 2000, 0);
        int64_t ceiling = 100;
        for (int i = 1; i < attempt && ceiling < 2000; i++)
            ceiling *= 2;
        if (ceiling > 2000)
            ceiling = 2000;
        ck_assert_int_ge(d, ceiling / 2);
        ck_assert_int_le(d, ceiling);
    }
    ck_assert_int_ge(backoff_delay_ms(1, 100, 2000, 5000), 5000);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("aimd");
    TCase *tc = tcase_create("closed loop");
    tcase_add_test(tc, overload_halves_the_rate_once_per_cooldown);
    tcase_add_test(tc, calm_raises_additively_up_to_the_cap);
    tcase_add_test(tc, rising_latency_cuts_after_a_baseline);
    tcase_add_test(tc, uncapped_source_is_cut_from_its_observed_rate_and_freed_again);
    tcase_add_test(tc, jitter_of_a_fast_steady_source_is_not_a_slowdown);
    tcase_add_test(tc, latency_back_to_normal_ends_the_slow_spell_and_recovers);
    tcase_add_test(tc, bucket_paces_at_its_rate_and_peek_does_not_take);
    tcase_add_test(tc, backoff_is_capped_jittered_and_honours_retry_after);
    suite_add_tcase(s, tc);
    return run_suite_as_tap(s);
}
