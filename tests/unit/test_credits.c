/* SPDX-License-Identifier: Apache-2.0 */
/* test_credits.c: the credit rules shown to clients. */
#include "test_core.h"
#include "core/gf_credits.h"
#include "core/gf_error.h"

START_TEST(remaining_is_min_of_balance_and_day)
{
    ck_assert_int_eq(gf_credits_remaining(10, 100, 0), 10);
    ck_assert_int_eq(gf_credits_remaining(10, 5, 2), 3);
    ck_assert_int_eq(gf_credits_remaining(10, 5, 9), 0);     /* never negative */
    ck_assert_int_eq(gf_credits_remaining(-3, 5, 0), 0);
    ck_assert_int_eq(gf_credits_remaining(7, 0, 1000), 7);   /* 0 = no daily limit */
}
END_TEST

START_TEST(reservation_rule)
{
    ck_assert(gf_credits_can_reserve(2, 100, 0, 2));
    ck_assert(!gf_credits_can_reserve(1, 100, 0, 2));
    ck_assert(!gf_credits_can_reserve(50, 10, 9, 2));
    ck_assert(gf_credits_can_reserve(0, 10, 0, 0));           /* free types */
}
END_TEST

START_TEST(refusal_messages_say_why)
{
    ck_assert_str_eq(gf_credits_refusal(test_pool, 1, 100, 0, 2),
                     "this generation costs 2 credits and the balance is 1; it can be created "
                     "once the account has more credits (an administrator grants them)");
    ck_assert_str_eq(gf_credits_refusal(test_pool, 0, 100, 0, 1),
                     "this generation costs 1 credit and the balance is 0; it can be created "
                     "once the account has more credits (an administrator grants them)");
    ck_assert_str_eq(gf_credits_refusal(test_pool, 50, 10, 9, 2),
                     "this generation costs 2 credits and only 1 credit of the daily limit "
                     "of 10 remains today; retry after midnight UTC (the quota's "
                     "dailyReset)");
    ck_assert_str_eq(gf_credits_refusal(test_pool, 50, 10, 10, 1),
                     "this generation costs 1 credit and only 0 credits of the daily limit "
                     "of 10 remain today; retry after midnight UTC (the quota's "
                     "dailyReset)");
    ck_assert_str_eq(gf_count(test_pool, 1, "credit", "credits"), "1 credit");
    ck_assert_str_eq(gf_count(test_pool, 0, "credit", "credits"), "0 credits");
    ck_assert_str_eq(gf_count(test_pool, 21, "upload", "uploads"), "21 uploads");
}
END_TEST

START_TEST(refusal_kinds)
{
    /* The active limit counts only for a statement that queues. */
    ck_assert_int_eq(gf_credits_refused_why(10, 100, 0, 2, 1, 3, 3), GF_REFUSED_ACTIVE);
    ck_assert_int_eq(gf_credits_refused_why(10, 100, 0, 2, 1, 4, 3), GF_REFUSED_ACTIVE);
    ck_assert_int_eq(gf_credits_refused_why(10, 100, 0, 2, 0, 3, 3), GF_REFUSED_NOT);
    ck_assert_int_eq(gf_credits_refused_why(1, 100, 0, 2, 0, 3, 3), GF_REFUSED_CREDITS);
    /* Both: the limit is named first. */
    ck_assert_int_eq(gf_credits_refused_why(1, 100, 0, 2, 1, 3, 3), GF_REFUSED_ACTIVE);
    /* Room again since the statement ran: run it again. */
    ck_assert_int_eq(gf_credits_refused_why(10, 100, 0, 2, 1, 2, 3), GF_REFUSED_NOT);
    /* 0 = no limit; a queue of a created generation reserves nothing. */
    ck_assert_int_eq(gf_credits_refused_why(10, 100, 0, 2, 1, 500, 0), GF_REFUSED_NOT);
    ck_assert_int_eq(gf_credits_refused_why(0, 100, 100, 0, 1, 0, 3), GF_REFUSED_NOT);
    ck_assert_int_eq(gf_credits_refused_why(50, 10, 9, 2, 1, 0, 3), GF_REFUSED_CREDITS);
}
END_TEST

START_TEST(active_refusal_says_what_counts)
{
    ck_assert_str_eq(gf_credits_active_refusal(test_pool, 3, 3),
                     "3 generations of this user are queued or processing (limit 3); created "
                     "but not started generations do not count; retry when one has finished");
    ck_assert_str_eq(gf_credits_active_refusal(test_pool, 1, 1),
                     "1 generation of this user is queued or processing (limit 1); created "
                     "but not started generations do not count; retry when one has finished");
    /* Refused at the limit, read below it afterwards: no count that
     * contradicts the limit. */
    ck_assert_str_eq(gf_credits_active_refusal(test_pool, 2, 3),
                     "this user's generations queued or processing were at the limit of 3 "
                     "while this request ran (2 now); retry");
}
END_TEST

START_TEST(daily_reset_is_next_utc_midnight)
{
    /* 2026-11-22T13:45:10Z → 2026-11-23T00:00:00Z */
    apr_time_t t = apr_time_from_sec(1795355110);
    ck_assert_str_eq(gf_time_rfc3339(test_pool, t), "2026-11-22T13:45:10Z");
    ck_assert_str_eq(gf_time_rfc3339(test_pool, gf_next_utc_midnight(t)), "2026-11-23T00:00:00Z");
    /* Exactly midnight → the following midnight. */
    ck_assert_str_eq(gf_time_rfc3339(test_pool, gf_next_utc_midnight(apr_time_from_sec(1795305600))),
                     "2026-11-23T00:00:00Z");
}
END_TEST

START_TEST(config_amounts)
{
    long v;
    ck_assert_ptr_null(gf_parse_amount(test_pool, "25", 100, &v));
    ck_assert_int_eq(v, 25);
    ck_assert_ptr_nonnull(gf_parse_amount(test_pool, "-1", 100, &v));
    ck_assert_ptr_nonnull(gf_parse_amount(test_pool, "101", 100, &v));
    ck_assert_ptr_nonnull(gf_parse_amount(test_pool, "12abc", 100, &v));
    ck_assert_ptr_nonnull(gf_parse_amount(test_pool, "", 100, &v));
}
END_TEST

Suite *credits_suite(void)
{
    Suite *s = suite_create("credits");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, remaining_is_min_of_balance_and_day);
    tcase_add_test(tc, reservation_rule);
    tcase_add_test(tc, refusal_messages_say_why);
    tcase_add_test(tc, refusal_kinds);
    tcase_add_test(tc, active_refusal_says_what_counts);
    tcase_add_test(tc, daily_reset_is_next_utc_midnight);
    tcase_add_test(tc, config_amounts);
    suite_add_tcase(s, tc);
    return s;
}
