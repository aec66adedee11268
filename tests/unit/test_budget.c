/* The time budget (core/budget.c) as pure arithmetic on given times: the
 * margins, the predictive stop, the decay of the slowest step, what plugins
 * may spend (remaining_ms); and bucket_peek (core/throttle.h), the wait the
 * stop decision adds for a throttled source. */
#include <stdint.h>
#include <stdlib.h>

#include "budget.h"
#include "tap_runner.h"
#include "throttle.h"

#define MS INT64_C(1000)
#define S INT64_C(1000000)
/* What budget.c assumes for a commit before one is measured (50 ms), times
 * its safety factor 3/2. */
/* No commit measured (or one faster than the 100 ms floor): 1.5 x 100 ms. */
#define FIRST_COMMIT_COST (150 * MS)

/* Token arithmetic is in doubles: a wait may come out 1 us short. */
#define ck_assert_us_near(a, b) ck_assert_int_le(llabs((long long)(a) - (long long)(b)), 1)

/* The first instant at which budget_should_stop says stop, searched over
 * [from, to] (it must be monotonic in now). */
static int64_t first_stop(const budget *b, int64_t from, int64_t to, int64_t wait)
{
    ck_assert(!budget_should_stop(b, from, wait));
    ck_assert(budget_should_stop(b, to, wait));
    while (to - from > 1) {
        int64_t mid = from + (to - from) / 2;
        if (budget_should_stop(b, mid, wait))
            to = mid;
        else
            from = mid;
    }
    return to;
}

START_TEST(no_budget_never_stops)
{
    budget b;
    budget_init(&b, 5 * S, 0);
    ck_assert(!budget_active(&b));
    budget_record_batch(&b, 10 * S);
    budget_record_commit(&b, 10 * S);
    ck_assert(!budget_should_stop(&b, INT64_MAX / 2, 10 * S));
    ck_assert_int_eq(budget_remaining_for_plugins_us(&b, 123), INT64_MAX);
    budget_init(&b, 5 * S, -1);
    ck_assert(!budget_active(&b));
}
END_TEST

START_TEST(margins)
{
    budget b;
    /* 2 % of the budget, at least 250 ms, at most 5 s. */
    budget_init(&b, 0, 1 * S);
    ck_assert_int_eq(b.deadline_us, 1 * S);
    ck_assert_int_eq(b.margin_us, 250 * MS);
    budget_init(&b, 0, 2500 * MS);
    ck_assert_int_eq(b.margin_us, 250 * MS);
    budget_init(&b, 0, 20 * S);
    ck_assert_int_eq(b.margin_us, 400 * MS);
    budget_init(&b, 0, 100 * S);
    ck_assert_int_eq(b.margin_us, 2 * S);
    budget_init(&b, 7 * S, 870 * S);   /* a 14m30s Lambda slice */
    ck_assert_int_eq(b.deadline_us, 877 * S);
    ck_assert_int_eq(b.margin_us, 5 * S);
    budget_init(&b, 0, 3600 * S);
    ck_assert_int_eq(b.margin_us, 5 * S);
    /* An absolute deadline (Lambda-Runtime-Deadline-Ms): 250 ms margin. */
    budget_init_deadline(&b, 42 * S);
    ck_assert(budget_active(&b));
    ck_assert_int_eq(b.deadline_us, 42 * S);
    ck_assert_int_eq(b.margin_us, 250 * MS);
    ck_assert_int_eq(b.batch_us_max, 0);
    ck_assert_int_eq(b.batches_seen, 0);
}
END_TEST

START_TEST(stop_before_any_measurement)
{
    budget b;
    budget_init(&b, 0, 1 * S);
    /* Nothing measured: only the first-commit guess and the margin. */
    ck_assert_int_eq(first_stop(&b, 0, 1 * S, 0), 1 * S - FIRST_COMMIT_COST - 250 * MS);
    /* Waiting for the throttle moves the stop earlier by the wait. */
    ck_assert_int_eq(first_stop(&b, 0, 1 * S, 200 * MS),
                     1 * S - 200 * MS - FIRST_COMMIT_COST - 250 * MS);
    /* A budget smaller than its fixed costs stops at once. */
    budget_init(&b, 0, 100 * MS);
    ck_assert(budget_should_stop(&b, 0, 0));
}
END_TEST

START_TEST(stop_uses_measured_steps)
{
    budget b;
    budget_init(&b, 1 * S, 10 * S);    /* deadline 11 s, margin 250 ms */
    budget_record_batch(&b, 100 * MS);
    budget_record_commit(&b, 20 * MS);
    ck_assert_int_eq(b.batches_seen, 1);
    /* next batch 150 ms + commit (floored at 100 ms) 150 ms + margin 250 ms before 11 s. */
    ck_assert_int_eq(first_stop(&b, 1 * S, 11 * S, 0), 11 * S - 150 * MS - 150 * MS - 250 * MS);
    ck_assert_int_eq(first_stop(&b, 1 * S, 11 * S, 1 * S),
                     11 * S - 1 * S - 150 * MS - 150 * MS - 250 * MS);
    /* A slower batch moves the stop earlier at once. */
    budget_record_batch(&b, 2 * S);
    ck_assert_int_eq(b.batches_seen, 2);
    ck_assert_int_eq(first_stop(&b, 1 * S, 11 * S, 0), 11 * S - 3 * S - 150 * MS - 250 * MS);
    /* A slow commit too. */
    budget_record_commit(&b, 1 * S);
    ck_assert_int_eq(first_stop(&b, 1 * S, 11 * S, 0), 11 * S - 3 * S - 1500 * MS - 250 * MS);
    /* Past the deadline: stop. */
    ck_assert(budget_should_stop(&b, 20 * S, 0));
}
END_TEST

START_TEST(slowest_step_decays)
{
    budget b;
    budget_init(&b, 0, 60 * S);
    budget_record_batch(&b, 800 * MS);
    ck_assert_int_eq(b.batch_us_max, 800 * MS);
    /* Faster batches lower the maximum by 1/8 each, not at once. */
    budget_record_batch(&b, 1 * MS);
    ck_assert_int_eq(b.batch_us_max, 700 * MS);
    budget_record_batch(&b, 1 * MS);
    ck_assert_int_eq(b.batch_us_max, 612500);
    /* A sample above the decayed maximum replaces it. */
    budget_record_batch(&b, 650 * MS);
    ck_assert_int_eq(b.batch_us_max, 650 * MS);
    /* Many fast batches bring it down to their own duration. */
    for (int i = 0; i < 200; i++)
        budget_record_batch(&b, 10 * MS);
    ck_assert_int_eq(b.batch_us_max, 10 * MS);
    ck_assert_int_eq(b.batches_seen, 204);
    /* Same rule for commits. */
    budget_record_commit(&b, 400 * MS);
    budget_record_commit(&b, 0);
    ck_assert_int_eq(b.commit_us_max, 350 * MS);
}
END_TEST

START_TEST(remaining_for_plugins)
{
    budget b;
    budget_init(&b, 0, 10 * S);        /* margin 250 ms, commit floor 150 ms */
    ck_assert_int_eq(budget_remaining_for_plugins_us(&b, 0), 10 * S - FIRST_COMMIT_COST - 250 * MS);
    ck_assert_int_eq(budget_remaining_for_plugins_us(&b, 4 * S),
                     6 * S - FIRST_COMMIT_COST - 250 * MS);
    budget_record_commit(&b, 200 * MS);
    ck_assert_int_eq(budget_remaining_for_plugins_us(&b, 4 * S), 6 * S - 300 * MS - 250 * MS);
    /* The batch estimate is not reserved: the plugin's call is that batch. */
    budget_record_batch(&b, 3 * S);
    ck_assert_int_eq(budget_remaining_for_plugins_us(&b, 4 * S), 6 * S - 300 * MS - 250 * MS);
    /* Never negative. */
    ck_assert_int_eq(budget_remaining_for_plugins_us(&b, 10 * S - 100 * MS), 0);
    ck_assert_int_eq(budget_remaining_for_plugins_us(&b, 30 * S), 0);
}
END_TEST

START_TEST(peek_matches_take_without_taking)
{
    token_bucket b = {.rate = 10, .burst = 10, .tokens = 1, .last_us = 0};
    ck_assert_us_near(bucket_peek(&b, 1, 0), 0);
    /* Two tokens with one in the bucket: 1 more at 10/s is 100 ms. */
    ck_assert_us_near(bucket_peek(&b, 2, 0), 100 * MS);
    ck_assert_us_near(bucket_peek(&b, 2, 0), 100 * MS);      /* peeking took nothing */
    ck_assert(b.tokens == 1 && b.last_us == 0);
    ck_assert_us_near(bucket_peek(&b, 2, 50 * MS), 50 * MS); /* refilled half a token */
    /* Refill stops at the burst. */
    ck_assert_us_near(bucket_peek(&b, 10, 60 * S), 0);
    ck_assert_us_near(bucket_peek(&b, 15, 60 * S), 500 * MS);
    /* The wait peek predicts is the one take imposes. */
    token_bucket copy = b;
    int64_t predicted = bucket_peek(&copy, 3, 20 * MS);
    ck_assert_int_eq(bucket_take(&copy, 3, 20 * MS), predicted);
    /* After a take the bucket is in debt: peek sees it. */
    ck_assert_us_near(bucket_peek(&copy, 1, 20 * MS), predicted + 100 * MS);
    /* Unlimited. */
    token_bucket unlimited = {.rate = 0};
    ck_assert_us_near(bucket_peek(&unlimited, 1e9, 0), 0);
    unlimited.rate = -1;
    ck_assert_us_near(bucket_peek(&unlimited, 1e9, 0), 0);
}
END_TEST

START_TEST(throttled_stop_accounts_for_the_wait)
{
    /* The runner asks budget_should_stop with the request bucket's wait: a
     * source limited to 2 requests/s near the end of a 2 s budget stops
     * instead of sleeping past the deadline. */
    token_bucket requests = {.rate = 2, .burst = 2, .tokens = 0, .last_us = 0};
    budget b;
    budget_init(&b, 0, 2 * S);
    budget_record_batch(&b, 10 * MS);
    budget_record_commit(&b, 10 * MS);
    int64_t now = 400 * MS;
    int64_t wait = bucket_peek(&requests, 1, now);        /* 0.8 tokens: 100 ms */
    ck_assert_us_near(wait, 100 * MS);
    ck_assert(!budget_should_stop(&b, now, wait));
    now = 600 * MS;
    wait = bucket_peek(&requests, 1, now);                /* 1.2 tokens: no wait */
    ck_assert_us_near(wait, 0);
    ck_assert(!budget_should_stop(&b, now, wait));
    requests.tokens = -3;                                 /* in debt after a big take */
    wait = bucket_peek(&requests, 1, now);                /* -1.8 tokens: 1.4 s */
    ck_assert_us_near(wait, 1400 * MS);
    ck_assert(budget_should_stop(&b, now, wait));
}
END_TEST

static Suite *budget_suite(void)
{
    Suite *s = suite_create("budget");
    TCase *tc = tcase_create("budget");
    tcase_add_test(tc, no_budget_never_stops);
    tcase_add_test(tc, margins);
    tcase_add_test(tc, stop_before_any_measurement);
    tcase_add_test(tc, stop_uses_measured_steps);
    tcase_add_test(tc, slowest_step_decays);
    tcase_add_test(tc, remaining_for_plugins);
    tcase_add_test(tc, peek_matches_take_without_taking);
    tcase_add_test(tc, throttled_stop_accounts_for_the_wait);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return run_suite_as_tap(budget_suite()); }
