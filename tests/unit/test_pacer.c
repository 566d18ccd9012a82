/* SPDX-License-Identifier: Apache-2.0 */
/* test_pacer.c: the timing of the rows claimed ahead of their call: the
 * pacer's lead and wake time, a standby's lead, the claim and call
 * statistics, and whether a place goes to its standby
 * (core/gf_pacer.h). */
#include <stdio.h>
#include <string.h>

#include "test_core.h"
#include "core/gf_error.h"
#include "core/gf_pacer.h"
#include "core/gf_sql.h"

#define MS(m) apr_time_from_msec(m)
#define SEC(s) apr_time_from_sec(s)

START_TEST(pace_table)
{
    gf_pace_t table[GF_PACE_MAX];
    char names[GF_PACE_MAX + 1][8];
    gf_pace_t *fal;
    int i;

    memset(table, 0, sizeof(table));
    fal = gf_pacer_pace_of(table, "fal");
    ck_assert_ptr_nonnull(fal);
    ck_assert_str_eq(fal->provider, "fal");
    fal->call = MS(300);
    /* The same entry by name, not by pointer. */
    ck_assert_ptr_eq(gf_pacer_pace_of(table, "fal"), fal);
    ck_assert(gf_pacer_pace_of(table, "fal")->call == MS(300));
    ck_assert_ptr_ne(gf_pacer_pace_of(table, "local"), fal);
    /* Full: NULL, the others kept. */
    for (i = 0; i < GF_PACE_MAX + 1; i++) {
        sprintf(names[i], "p%d", i);
        if (i < GF_PACE_MAX - 2) ck_assert_ptr_nonnull(gf_pacer_pace_of(table, names[i]));
    }
    ck_assert_ptr_null(gf_pacer_pace_of(table, names[GF_PACE_MAX]));
    ck_assert_ptr_eq(gf_pacer_pace_of(table, "fal"), fal);
    /* A freed entry is taken again, zeroed. */
    fal->provider = NULL;
    fal->claim = MS(9);
    ck_assert_ptr_eq(gf_pacer_pace_of(table, "again"), fal);
    ck_assert(fal->claim == 0 && fal->call == 0);
}
END_TEST

START_TEST(statistics)
{
    apr_interval_time_t v = 0;
    gf_pace_t pace;
    /* The average: the first value as is, then an eighth of each. */
    gf_pacer_average(&v, MS(80));
    ck_assert(v == MS(80));
    gf_pacer_average(&v, MS(160));
    ck_assert(v == MS(90));
    /* low: a shorter one at once, a longer one a sixteenth of the way. */
    v = 0;
    gf_pacer_low(&v, MS(320));
    ck_assert(v == MS(320));
    gf_pacer_low(&v, MS(480));
    ck_assert(v == MS(330));
    gf_pacer_low(&v, MS(100));
    ck_assert(v == MS(100));
    /* high: a longer one at once, a shorter one a sixteenth of the way
     * down. */
    v = 0;
    gf_pacer_high(&v, MS(20));
    ck_assert(v == MS(20));
    gf_pacer_high(&v, MS(4));
    ck_assert(v == MS(19));
    gf_pacer_high(&v, MS(50));
    ck_assert(v == MS(50));
    memset(&pace, 0, sizeof(pace));
    gf_pacer_claimed(&pace, MS(8));
    gf_pacer_claimed(&pace, MS(16));
    ck_assert(pace.claim == MS(9));
    ck_assert(pace.claim_high == MS(16));
    ck_assert(pace.call == 0);
    gf_pacer_called(&pace, MS(200));
    ck_assert(pace.call == MS(200));
}
END_TEST

START_TEST(pacer_applies)
{
    gf_limit_conf_t l;
    memset(&l, 0, sizeof(l));
    ck_assert(gf_pacer_spacing(&l) == 0);
    l.rate_n = 4;
    l.rate_window = SEC(1);
    ck_assert(gf_pacer_spacing(&l) == MS(250));
    /* Not for a rate counted by each node, nor beside max_concurrent=. */
    l.per_node = 1;
    ck_assert(gf_pacer_spacing(&l) == 0);
    l.per_node = 0;
    l.max_concurrent = 2;
    ck_assert(gf_pacer_spacing(&l) == 0);
}
END_TEST

/* A pace of the standby claims lately: average claim, longest high. */
static const gf_pace_t *claims(apr_interval_time_t claim, apr_interval_time_t high)
{
    static gf_pace_t pace;
    memset(&pace, 0, sizeof(pace));
    pace.claim = claim;
    pace.claim_high = high;
    return &pace;
}

START_TEST(pacer_lead)
{
    apr_interval_time_t cap = MS(GF_CLAIM_RATE_AHEAD_MS) / 2;
    /* Twice the average claim... */
    ck_assert(gf_pacer_lead(claims(MS(10), MS(12)), SEC(1)) == MS(20));
    /* ... but no less than the longest lately with the least lead. */
    ck_assert(gf_pacer_lead(claims(MS(10), MS(30)), SEC(1)) == MS(30) + GF_PACER_LEAD_MIN);
    ck_assert(gf_pacer_lead(claims(0, 0), SEC(1)) == GF_PACER_LEAD_MIN);
    ck_assert(gf_pacer_lead(NULL, SEC(1)) == GF_PACER_LEAD_MIN);
    /* At most half the spacing, and half of how far ahead a standby may
     * take a start. */
    ck_assert(gf_pacer_lead(claims(MS(10), MS(12)), MS(30)) == MS(15));
    ck_assert(gf_pacer_lead(claims(MS(400), MS(500)), SEC(10)) == cap);
    ck_assert(gf_pacer_lead(claims(MS(400), MS(500)), MS(100)) == MS(50));
    /* The claim a lead before the start a spacing after this call's. */
    ck_assert(gf_pacer_wake_at(SEC(100), SEC(50), MS(250), MS(20)) == SEC(100) + MS(230));
    ck_assert(gf_pacer_wake_at(0, SEC(50), MS(250), MS(20)) == SEC(50) + MS(230));
}
END_TEST

START_TEST(standby)
{
    gf_limit_conf_t l;
    gf_pace_t pace;
    memset(&l, 0, sizeof(l));
    l.max_concurrent = 3;
    ck_assert(gf_pacer_standby_applies(&l, 1));
    ck_assert(!gf_pacer_standby_applies(&l, 0));
    l.rate_n = 10;
    l.rate_window = SEC(1);
    ck_assert(!gf_pacer_standby_applies(&l, 1));
    l.rate_n = 0;
    l.max_concurrent = 0;
    ck_assert(!gf_pacer_standby_applies(&l, 1));

    memset(&pace, 0, sizeof(pace));
    /* A quarter of the call when that is longer than two claims... */
    pace.call = MS(400);
    pace.claim = MS(10);
    ck_assert(gf_pacer_standby_lead(&pace) == MS(300));
    /* ... two claims and 2 ms when longer... */
    pace.claim = MS(60);
    ck_assert(gf_pacer_standby_lead(&pace) == MS(400) - MS(122));
    /* ... at most 250 ms before the end... */
    pace.call = SEC(4);
    pace.claim = MS(10);
    ck_assert(gf_pacer_standby_lead(&pace) == SEC(4) - GF_PACER_MARGIN_MAX);
    /* ... and at once when the call is shorter than the margin. */
    pace.call = MS(10);
    ck_assert(gf_pacer_standby_lead(&pace) == 0);
    pace.call = MS(22);
    ck_assert(gf_pacer_standby_lead(&pace) == 0);
}
END_TEST

START_TEST(passable)
{
    apr_time_t now = SEC(1000);
    ck_assert(gf_pacer_passable(2, 0, NULL, now + 1, now));
    ck_assert(gf_pacer_passable(2, 0, GF_JOB_NETWORK, now + 1, now));
    ck_assert(!gf_pacer_passable(0, 0, NULL, now + 1, now));
    ck_assert(!gf_pacer_passable(2, 1, NULL, now + 1, now));
    ck_assert(!gf_pacer_passable(2, 0, GF_JOB_RATE_LIMIT, now + 1, now));
    /* The place's lease must be known to run past now. */
    ck_assert(!gf_pacer_passable(2, 0, NULL, now, now));
    ck_assert(!gf_pacer_passable(2, 0, NULL, 0, now));
}
END_TEST

Suite *pacer_suite(void)
{
    Suite *s = suite_create("pacer");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, pace_table);
    tcase_add_test(tc, statistics);
    tcase_add_test(tc, pacer_applies);
    tcase_add_test(tc, pacer_lead);
    tcase_add_test(tc, standby);
    tcase_add_test(tc, passable);
    suite_add_tcase(s, tc);
    return s;
}
