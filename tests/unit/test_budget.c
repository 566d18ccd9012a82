/* SPDX-License-Identifier: Apache-2.0 */
/* test_budget.c: providers' budgets (core/gf_budget.h). */
#include <string.h>

#include "test_core.h"
#include "core/gf_budget.h"

START_TEST(budget_options)
{
    gf_budget_conf_t b;
    memset(&b, 0, sizeof(b));
    ck_assert_ptr_null(gf_budget_option(test_pool, &b, "budget", "100/day"));
    ck_assert(b.amount == 100 && b.period == GF_BUDGET_DAY);
    ck_assert_ptr_null(gf_budget_option(test_pool, &b, "budget", "2.5/hour"));
    ck_assert(b.amount == 2.5 && b.period == GF_BUDGET_HOUR);
    ck_assert_ptr_null(gf_budget_option(test_pool, &b, "budget", "3000/month"));
    ck_assert_str_eq(gf_budget_period_name(b.period), "month");
    ck_assert_ptr_null(gf_budget_option(test_pool, &b, "budget_tz", "Europe/Berlin"));
    ck_assert_str_eq(b.tz, "Europe/Berlin");
    ck_assert_ptr_null(gf_budget_option(test_pool, &b, "budget_tz", "America/Argentina/Buenos_Aires"));
    ck_assert_ptr_null(gf_budget_option(test_pool, &b, "budget_tz", "Etc/GMT+5"));
    ck_assert(gf_budget_option(test_pool, &b, "model", "x") == GF_BUDGET_NOT_MINE);
}
END_TEST

START_TEST(budget_options_refused)
{
    static const char *const bad[][2] = {
        { "budget", "100" }, { "budget", "/day" }, { "budget", "0/day" }, { "budget", "-5/day" },
        { "budget", "100/week" }, { "budget", "100/days" }, { "budget", "1e10/day" },
        { "budget", "abc/day" }, { "budget", "100/" }, { "budget", "nan/day" },
        { "budget_tz", "" }, { "budget_tz", "/etc/passwd" }, { "budget_tz", "../../etc/passwd" },
        { "budget_tz", "Europe//Berlin" }, { "budget_tz", "Europe/Berlin/" },
        { "budget_tz", "Europe Berlin" }, { "budget_tz", "UTC'; DROP TABLE x; --" },
        { "budget_hold", "" }, { "budget_hold", "0" }, { "budget_hold", "-1" },
        { "budget_hold", "1e10" }, { "budget_hold", "2 " }, { "budget_hold", "nan" },
    };
    gf_budget_conf_t b;
    apr_size_t i;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *err;
        memset(&b, 0, sizeof(b));
        err = gf_budget_option(test_pool, &b, bad[i][0], bad[i][1]);
        ck_assert_msg(err && err != GF_BUDGET_NOT_MINE, "%s=%s was taken", bad[i][0], bad[i][1]);
        ck_assert(b.period == GF_BUDGET_NONE && !b.tz && b.hold == 0);
    }
}
END_TEST

START_TEST(budget_rule)
{
    gf_budget_conf_t b = { 10, GF_BUDGET_DAY, NULL, 0 }, none = { 0, GF_BUDGET_NONE, NULL, 0 };
    /* The next call's cost: the price per picture, else the average so far. */
    ck_assert(gf_budget_next_cost(1.5, 9, 3) == 1.5);
    ck_assert(gf_budget_next_cost(0, 9, 3) == 3);
    ck_assert(gf_budget_next_cost(0, 0, 0) == 0);
    /* A call starts while the spend and its cost stay within the budget. */
    ck_assert(gf_budget_allows(&b, 9, 1));
    ck_assert(!gf_budget_allows(&b, 9, 1.01));
    ck_assert(gf_budget_allows(&b, 0.1 + 0.2 + 9.7 - 1, 1));   /* 10 in floating point */
    ck_assert(!gf_budget_allows(&b, 10, 0.0001));
    ck_assert(gf_budget_allows(&none, 1e12, 1));
    ck_assert(gf_budget_allows(NULL, 1e12, 1));
}
END_TEST

START_TEST(budget_hold_amount)
{
    gf_budget_conf_t b;
    memset(&b, 0, sizeof(b));
    ck_assert_ptr_null(gf_budget_option(test_pool, &b, "budget_hold", "0.25"));
    ck_assert(b.hold == 0.25);
    /* budget_hold= wins: a usage price's worst cost, as the site knows it. */
    ck_assert(gf_budget_hold_amount(&b, 1, 0.01) == 0.25);
    b.hold = 0;
    /* A price per picture alone: the job holds what it will cost. */
    ck_assert(gf_budget_hold_amount(&b, 1.5, 0) == 1.5);
    /* A usage price without budget_hold=: the period's average decides. */
    ck_assert(gf_budget_hold_amount(&b, 1.5, 0.01) < 0);
    ck_assert(gf_budget_hold_amount(&b, 0, 0) == 0);
    ck_assert(gf_budget_hold_amount(NULL, 2, 0) == 2);
}
END_TEST

START_TEST(budget_spend_and_room)
{
    gf_budget_conf_t b;
    gf_budget_spend_t sp;
    const char *row[] = { "9.5", "19", "3600000", "0.25" };

    memset(&b, 0, sizeof(b));
    ck_assert_str_eq(gf_budget_zone(&b), "UTC");
    b.tz = "Europe/Berlin";
    ck_assert_str_eq(gf_budget_zone(&b), "Europe/Berlin");
    gf_budget_spend_parse(row, &sp);
    ck_assert(sp.spent == 9.5 && sp.calls == 19 && sp.held == 0.25);
    ck_assert(sp.start == apr_time_from_sec(3600));
    /* Nothing to hold without a budget or job slots. */
    ck_assert(!gf_budget_holds_jobs(&b, 0));
    ck_assert(gf_budget_holds_jobs(&b, 2));
    ck_assert_ptr_null(gf_budget_option(test_pool, &b, "budget", "10/day"));
    ck_assert(gf_budget_holds_jobs(&b, 0));
    /* A job holds cost=, else the period's average (9.5 / 19). */
    ck_assert(gf_budget_job_hold(&b, 0.2, 0, &sp) == 0.2);
    ck_assert(gf_budget_job_hold(&b, 0, 0.001, &sp) == 0.5);
    /* 9.5 spent + 0.25 held + 0.2 is within 10; + 0.5 is not. */
    ck_assert(gf_budget_room(&b, 0.2, 0, &sp));
    ck_assert(gf_budget_room(&b, 0.25, 0, &sp));
    ck_assert(!gf_budget_room(&b, 0, 0.001, &sp));
    b.hold = 0.1;
    ck_assert(gf_budget_room(&b, 0, 0.001, &sp));
    /* The hold statement's amount: each picture's, times the count. */
    ck_assert_str_eq(gf_budget_hold_arg(test_pool, &b, 0, 0.001, 3), "0.300000000");
    b.hold = 0;
    ck_assert_str_eq(gf_budget_hold_arg(test_pool, &b, 0.2, 0, 0), "0.200000000");
    ck_assert_ptr_null(gf_budget_hold_arg(test_pool, &b, 0, 0.001, 2));
    ck_assert_int_eq(gf_budget_held("held"), 0);
    ck_assert_int_eq(gf_budget_held("jobs"), 2);
    ck_assert_int_eq(gf_budget_held("budget"), 1);
}
END_TEST

START_TEST(budget_refusal_and_shown)
{
    gf_budget_conf_t b;
    gf_budget_spend_t sp;
    gf_decision_t d;
    json_object *o;

    memset(&b, 0, sizeof(b));
    ck_assert_ptr_null(gf_budget_option(test_pool, &b, "budget", "10/day"));
    sp.spent = 9.5;
    sp.calls = 3;
    sp.start = apr_time_from_sec(86400);
    sp.held = 0.25;
    gf_budget_refusal(test_pool, "fal", &b, 1, &sp, &d);
    ck_assert_int_eq(d.next, GF_NEXT_FALLBACK);
    ck_assert_ptr_null(d.message);
    gf_budget_refusal(test_pool, "fal", &b, 0, &sp, &d);
    ck_assert_int_eq(d.next, GF_NEXT_FAIL);
    ck_assert_str_eq(d.code, "BUDGET_EXHAUSTED");
    ck_assert_str_eq(d.message, "provider 'fal' has spent its budget of 10 per day (9.5000 since "
                     "1970-01-02T00:00:00Z, 0.2500 more held by jobs in flight); no new request "
                     "before the next day or before those end");
    o = gf_budget_health_json(test_pool, &b, 1, &sp);
    ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                     "{\"amount\":10.0,\"period\":\"day\",\"timeZone\":\"UTC\",\"periodStart\":"
                     "\"1970-01-02T00:00:00Z\",\"spent\":9.5,\"held\":0.25,\"left\":0.25}");
    json_object_put(o);
    sp.spent = 11;
    o = gf_budget_health_json(test_pool, &b, 1, &sp);
    ck_assert(json_object_get_double(json_object_object_get(o, "left")) == 0);
    json_object_put(o);
    o = gf_budget_health_json(test_pool, &b, 0, &sp);
    ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                     "{\"amount\":10.0,\"period\":\"day\",\"timeZone\":\"UTC\",\"periodStart\":"
                     "null,\"spent\":null,\"held\":null,\"left\":null}");
    json_object_put(o);
    ck_assert_str_eq(gf_budget_status_short(test_pool, "fal", &b, 1, &sp),
                     "GenFlowBudget_fal: spent 11.0000 of 10 per day\n"
                     "GenFlowBudgetHeld_fal: 0.2500\n");
    ck_assert_str_eq(gf_budget_status_short(test_pool, "fal", &b, 0, &sp),
                     "GenFlowBudget_fal: unknown 0.0000 of 10 per day\n");
}
END_TEST

Suite *budget_suite(void)
{
    Suite *s = suite_create("budget");
    TCase *tc = tcase_create("budget");
    tcase_add_test(tc, budget_options);
    tcase_add_test(tc, budget_options_refused);
    tcase_add_test(tc, budget_rule);
    tcase_add_test(tc, budget_hold_amount);
    tcase_add_test(tc, budget_spend_and_room);
    tcase_add_test(tc, budget_refusal_and_shown);
    suite_add_tcase(s, tc);
    return s;
}
