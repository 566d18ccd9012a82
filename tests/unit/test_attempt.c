/* SPDX-License-Identifier: Apache-2.0 */
/* test_attempt.c: what an attempt does around its call
 * (core/gf_attempt.h): each gate's verdict (back to the queue and when,
 * a decision instead of the call, or the call), and what a stopping
 * child, a cancel or a lost lease leave. */
#include <string.h>

#include "test_core.h"
#include "core/gf_attempt.h"
#include "core/gf_error.h"

START_TEST(attempt_no_place)
{
    gf_gate_verdict_t v;

    gf_attempt_no_place(0, &v);
    ck_assert_int_eq(v.gate, GF_GATE_DEFERRED);
    ck_assert_int_eq(v.set_defer, 0);            /* the limits' own wait stands */
    ck_assert_int_eq(v.warn, 0);
    ck_assert_str_eq(v.what, "deferred");
    ck_assert_str_eq(v.detail, "the provider's limits are full; the row is back in the queue");
    gf_attempt_no_place(1, &v);                  /* another member may take it: now */
    ck_assert_int_eq(v.gate, GF_GATE_DEFERRED);
    ck_assert_int_eq(v.set_defer, 1);
    ck_assert(v.defer == 0);
}
END_TEST

START_TEST(attempt_budget)
{
    gf_gate_verdict_t v;
    apr_time_t now = apr_time_from_sec(5000);

    ck_assert(gf_attempt_hold_until(0, now, 30) == now + apr_time_from_sec(3600 + 30));
    ck_assert(gf_attempt_hold_until(now + 7, now, 30) == now + 7 + apr_time_from_sec(30));

    gf_attempt_budget(-1, 0, 0, &v);
    ck_assert_int_eq(v.gate, GF_GATE_DEFERRED);
    ck_assert_int_eq(v.set_defer, 1);
    ck_assert(v.defer == apr_time_from_sec(1));
    ck_assert_int_eq(v.warn, 1);
    ck_assert_str_eq(v.detail, "the provider's spend in its budget period could not be read");
    gf_attempt_budget(2, 0, 3, &v);
    ck_assert_int_eq(v.gate, GF_GATE_DEFERRED);
    ck_assert(v.set_defer && v.defer == 0);      /* due at once: another member may take it */
    ck_assert_int_eq(v.job_began, 0);
    ck_assert_int_eq(v.warn, 0);
    ck_assert(strstr(v.detail, "max_jobs=") != NULL);
    gf_attempt_budget(2, 1, 3, &v);              /* known full already: a second */
    ck_assert(v.defer == apr_time_from_sec(1));
    gf_attempt_budget(1, 0, 3, &v);
    ck_assert_int_eq(v.gate, GF_GATE_DECIDED);
    ck_assert_int_eq(v.set_defer, 0);
    ck_assert_int_eq(v.job_began, 0);
    ck_assert_str_eq(v.what, "skipped");
    ck_assert_str_eq(v.detail, "the provider's budget for the period is spent; not submitting "
                               "to it");
    gf_attempt_budget(0, 0, 3, &v);
    ck_assert_int_eq(v.gate, GF_GATE_OPEN);
    ck_assert_int_eq(v.job_began, 1);
    gf_attempt_budget(0, 0, 0, &v);
    ck_assert_int_eq(v.gate, GF_GATE_OPEN);
    ck_assert_int_eq(v.job_began, 0);

    gf_attempt_circuit(0, &v);
    ck_assert_int_eq(v.gate, GF_GATE_OPEN);
    gf_attempt_circuit(1, &v);
    ck_assert_int_eq(v.gate, GF_GATE_DECIDED);
    ck_assert_str_eq(v.detail, "the provider's circuit is open; not submitting to it");
}
END_TEST

START_TEST(attempt_left_behind)
{
    gf_gate_verdict_t v;
    gf_decision_t d;

    gf_attempt_left_behind(0, 0, 0, 0, &v);
    ck_assert_int_eq(v.gate, GF_GATE_OPEN);
    /* Stopping comes first, whatever else happened. */
    gf_attempt_left_behind(1, 1, 1, 1, &v);
    ck_assert_int_eq(v.gate, GF_GATE_DECIDED);
    ck_assert_str_eq(v.what, "abandoned");
    ck_assert_str_eq(v.detail, "the server is stopping; the row is released for another worker");
    gf_attempt_left_behind(1, 0, 0, 0, &v);
    ck_assert_str_eq(v.detail, "the server is stopping");
    gf_attempt_left_behind(0, 0, 1, 1, &v);
    ck_assert_str_eq(v.what, "stale");
    ck_assert_int_eq(v.warn, 0);
    ck_assert(strstr(v.detail, "cancelled during the call") == v.detail);
    gf_attempt_left_behind(0, 0, 0, 1, &v);
    ck_assert_str_eq(v.what, "stale");
    ck_assert_int_eq(v.warn, 1);
    ck_assert(strstr(v.detail, "the lease was taken over") == v.detail);

    memset(&d, 0, sizeof(d));
    d.next = GF_NEXT_POLL;
    ck_assert(!gf_attempt_ends_job(&d));
    d.next = GF_NEXT_RETRY;
    ck_assert(gf_attempt_ends_job(&d));
    d.next = GF_NEXT_COMPLETE;
    ck_assert(gf_attempt_ends_job(&d));
}
END_TEST

START_TEST(attempt_row_columns)
{
    int count = -1, stored = -1;
    double strength = -1;

    ck_assert(gf_attempt_ms(NULL) == 0);
    ck_assert(gf_attempt_lease_end(apr_time_from_sec(100), 30) == apr_time_from_sec(128));
    ck_assert(gf_attempt_ms("1500") == apr_time_from_msec(1500));
    gf_attempt_counts(NULL, NULL, &count, &stored);
    ck_assert_int_eq(count, 1);
    ck_assert_int_eq(stored, 0);
    gf_attempt_counts("4", "2", &count, &stored);
    ck_assert_int_eq(count, 4);
    ck_assert_int_eq(stored, 2);
    gf_attempt_counts("0", "0", &count, &stored);          /* out of range: one */
    ck_assert_int_eq(count, 1);
    gf_attempt_counts("11", "3", &count, &stored);
    ck_assert_int_eq(count, 1);
    ck_assert_int_eq(stored, 0);                             /* less than the count */
    gf_attempt_counts("10", "10", &count, &stored);
    ck_assert_int_eq(count, 10);
    ck_assert_int_eq(stored, 9);
    gf_attempt_counts("3", "-2", &count, &stored);
    ck_assert_int_eq(stored, 0);

    ck_assert_int_eq(gf_attempt_strength(NULL, &strength), 0);
    ck_assert(strength == -1);
    ck_assert_int_eq(gf_attempt_strength("0.35", &strength), 1);
    ck_assert(strength > 0.349 && strength < 0.351);

    /* Nothing of the user's: no read. */
    ck_assert(!gf_attempt_reads_uploads(NULL, NULL, NULL, NULL, 0));
    ck_assert(!gf_attempt_reads_uploads("https://x/a.png", NULL, NULL, NULL, 1));
    /* A submission reads them; a poll only for a kind that draws. */
    ck_assert(gf_attempt_reads_uploads("upload:" "0a1b2c3d-0000-4000-8000-00000000aaaa", NULL,
                                       NULL, NULL, 0));
    ck_assert(gf_attempt_reads_uploads(NULL, "upload:m", NULL, NULL, 0));
    ck_assert(gf_attempt_reads_uploads(NULL, NULL, "[]", NULL, 0));
    ck_assert(!gf_attempt_reads_uploads(NULL, "upload:m", NULL, "job", 0));
    ck_assert(gf_attempt_reads_uploads(NULL, "upload:m", NULL, "job", 1));
}
END_TEST

START_TEST(attempt_lease_statements)
{
    const char *a[GF_ATTEMPT_LEASE_ARGS];
    gf_decision_t d;
    gf_provider_result_t res;
    int n = 0;

    gf_attempt_lease_args(test_pool, 1, 30, "gen", "node:w1", 3, NULL, 0, 0, a, &n);
    ck_assert_int_eq(n, 6);
    ck_assert_str_eq(a[0], "30");
    ck_assert_str_eq(a[1], "gen");
    ck_assert_str_eq(a[2], "node:w1");
    ck_assert_str_eq(a[3], "3");
    ck_assert_ptr_null(a[4]);
    ck_assert_str_eq(a[5], "0");
    /* A submission cut off may have been accepted: the next claim is a
     * rescue. */
    gf_attempt_lease_args(test_pool, 0, 30, "gen", "node:w1", 3, NULL, 0,
                          apr_time_from_sec(9), a, &n);
    ck_assert_int_eq(n, 5);
    ck_assert_str_eq(a[0], "1");
    ck_assert_str_eq(a[1], "0");                  /* due now, whatever the deferral */
    ck_assert_str_eq(a[2], "gen");
    ck_assert_str_eq(a[4], "3");
    /* A poll's job is known; a deferral sent nothing and waits. */
    gf_attempt_lease_args(test_pool, 0, 30, "gen", "o", 3, "job", 0, apr_time_from_sec(9), a, &n);
    ck_assert_str_eq(a[0], "0");
    gf_attempt_lease_args(test_pool, 0, 30, "gen", "o", 3, NULL, 1, apr_time_from_msec(1500), a,
                          &n);
    ck_assert_str_eq(a[0], "0");
    ck_assert_str_eq(a[1], "1500");

    memset(&d, 0, sizeof(d));
    gf_attempt_unparsed("bad chain", &d);
    ck_assert_int_eq(d.next, GF_NEXT_FAIL);
    ck_assert_str_eq(d.code, GF_JOB_API);
    ck_assert_str_eq(d.message, "bad chain");
    memset(&res, 0, sizeof(res));
    gf_attempt_unconfigured(test_pool, "fal", &res);
    ck_assert_str_eq(res.error_code, GF_JOB_API);
    ck_assert_int_eq(res.transient, 0);
    ck_assert_str_eq(res.error_message, "provider 'fal' is not configured");
}
END_TEST

Suite *attempt_suite(void)
{
    Suite *s = suite_create("attempt");
    TCase *tc = tcase_create("attempt");
    tcase_add_test(tc, attempt_no_place);
    tcase_add_test(tc, attempt_budget);
    tcase_add_test(tc, attempt_left_behind);
    tcase_add_test(tc, attempt_row_columns);
    tcase_add_test(tc, attempt_lease_statements);
    suite_add_tcase(s, tc);
    return s;
}
