/* SPDX-License-Identifier: Apache-2.0 */
/* test_limit.c: a provider's limits (core/gf_limit.h). */
#include <string.h>
#include <stdlib.h>

#include "test_core.h"
#include "core/gf_limit.h"

#define SEC(s) apr_time_from_sec(s)

START_TEST(options)
{
    gf_limit_conf_t c;
    memset(&c, 0, sizeof(c));
    ck_assert(!gf_limit_any(&c));
    ck_assert_ptr_null(gf_limit_option(test_pool, &c, "max_concurrent", "10"));
    ck_assert_int_eq(c.max_concurrent, 10);
    ck_assert_ptr_null(gf_limit_option(test_pool, &c, "rate", "150/10"));
    ck_assert_int_eq(c.rate_n, 150);
    ck_assert(c.rate_window == SEC(10));
    ck_assert(gf_limit_any(&c));
    ck_assert_ptr_nonnull(strstr(gf_limit_option(test_pool, &c, "max_concurrent", "0"), "1..100000"));
    ck_assert_ptr_nonnull(gf_limit_option(test_pool, &c, "max_concurrent", "ten"));
    ck_assert_ptr_nonnull(gf_limit_option(test_pool, &c, "max_concurrent", ""));
    /* max_jobs=: an asynchronous provider's jobs in flight, not a limit
     * of the shared-memory state (gf_limit_any does not count it). */
    ck_assert_ptr_null(gf_limit_option(test_pool, &c, "max_jobs", "24"));
    ck_assert_int_eq(c.max_jobs, 24);
    ck_assert_ptr_nonnull(strstr(gf_limit_option(test_pool, &c, "max_jobs", "0"), "1..100000"));
    ck_assert_ptr_nonnull(gf_limit_option(test_pool, &c, "max_jobs", "100001"));
    ck_assert_ptr_nonnull(gf_limit_option(test_pool, &c, "max_jobs", "2x"));
    {
        gf_limit_conf_t j;
        memset(&j, 0, sizeof(j));
        j.max_jobs = 3;
        ck_assert(!gf_limit_any(&j));
    }
    ck_assert_ptr_nonnull(strstr(gf_limit_option(test_pool, &c, "rate", "5"), "N/S"));
    ck_assert_ptr_nonnull(gf_limit_option(test_pool, &c, "rate", "0/1"));
    ck_assert_ptr_nonnull(gf_limit_option(test_pool, &c, "rate", "1001/1"));
    ck_assert_ptr_nonnull(gf_limit_option(test_pool, &c, "rate", "5/0"));
    ck_assert_ptr_nonnull(gf_limit_option(test_pool, &c, "rate", "5/x"));
    ck_assert_ptr_eq(gf_limit_option(test_pool, &c, "timeout", "5"), GF_LIMIT_NOT_MINE);
    /* A refused value leaves the setting as it was. */
    ck_assert_int_eq(c.max_concurrent, 10);
    ck_assert_int_eq(c.rate_n, 150);
    /* Counted in the database for every node, unless a site says node. */
    ck_assert_int_eq(c.per_node, 0);
    ck_assert_ptr_null(gf_limit_option(test_pool, &c, "limits", "node"));
    ck_assert_int_eq(c.per_node, 1);
    ck_assert_ptr_null(gf_limit_option(test_pool, &c, "limits", "site"));
    ck_assert_int_eq(c.per_node, 0);
    ck_assert_ptr_nonnull(strstr(gf_limit_option(test_pool, &c, "limits", "cluster"), "site"));
    ck_assert_int_eq(c.per_node, 0);
}
END_TEST

/* The database spaces a rate's starts S/N apart, rounded up to the
 * microsecond: never more than N in any window of S seconds, and no
 * millisecond lost per start (3/1 at 334 ms would be 2.994 a second). */
START_TEST(spacing)
{
    gf_limit_conf_t c;
    memset(&c, 0, sizeof(c));
    ck_assert_int_eq(gf_limit_spacing(&c), 0);
    ck_assert_ptr_null(gf_limit_option(test_pool, &c, "rate", "150/10"));
    ck_assert_int_eq(gf_limit_spacing(&c), 66667);     /* 66,666.7 us, up */
    ck_assert_int_eq(150 * gf_limit_spacing(&c) >= apr_time_from_sec(10), 1);
    ck_assert_ptr_null(gf_limit_option(test_pool, &c, "rate", "600/60"));
    ck_assert_int_eq(gf_limit_spacing(&c), 100000);
    ck_assert_ptr_null(gf_limit_option(test_pool, &c, "rate", "3/1"));
    ck_assert_int_eq(gf_limit_spacing(&c), 333334);
    ck_assert_int_eq(3 * gf_limit_spacing(&c) >= apr_time_from_sec(1), 1);
    ck_assert_int_eq(3 * gf_limit_spacing(&c) - apr_time_from_sec(1) < 3, 1);
    ck_assert_ptr_null(gf_limit_option(test_pool, &c, "rate", "1000/1"));
    ck_assert_int_eq(gf_limit_spacing(&c), 1000);
    ck_assert_ptr_null(gf_limit_option(test_pool, &c, "rate", "1/3600"));
    ck_assert_int_eq(gf_limit_spacing(&c), APR_INT64_C(3600000000));  /* past 32 bits */
}
END_TEST

START_TEST(concurrency_cap)
{
    gf_limit_conf_t c = { 2, 0, 0, 1, 0 };
    gf_limit_state_t *st = calloc(1, sizeof(*st));
    apr_time_t next = 1;
    ck_assert(gf_limit_take(&c, st, SEC(1), 7, &next));
    ck_assert(gf_limit_take(&c, st, SEC(1), 7, &next));
    ck_assert(!gf_limit_room(&c, st, SEC(1)));
    ck_assert(!gf_limit_take(&c, st, SEC(100), 7, &next));
    ck_assert(next == 0);   /* only a call's end frees room */
    ck_assert_uint_eq(st->calls.open, 2);
    gf_limit_give(st, 7);
    ck_assert(gf_limit_room(&c, st, SEC(1)));
    ck_assert_uint_eq(st->calls.open, 1);   /* room() took nothing */
    ck_assert(gf_limit_take(&c, st, SEC(1), 7, &next));
    gf_limit_give(st, 7);
    gf_limit_give(st, 7);
    gf_limit_give(st, 7);                /* never below zero */
    ck_assert_uint_eq(st->calls.open, 0);
    free(st);
}
END_TEST

START_TEST(rate_window)
{
    gf_limit_conf_t c = { 0, 3, SEC(10), 1, 0 };
    gf_limit_state_t *st = calloc(1, sizeof(*st));
    apr_time_t next;
    ck_assert(gf_limit_take(&c, st, SEC(100), 7, &next));
    ck_assert(gf_limit_take(&c, st, SEC(101), 7, &next));
    ck_assert(gf_limit_take(&c, st, SEC(102), 7, &next));
    ck_assert(!gf_limit_take(&c, st, SEC(103), 7, &next));
    ck_assert(next == SEC(110));      /* when the start at 100 leaves the window */
    ck_assert(!gf_limit_room(&c, st, SEC(109)));
    ck_assert(gf_limit_room(&c, st, SEC(110)));
    ck_assert(gf_limit_take(&c, st, SEC(110), 7, &next));
    ck_assert(!gf_limit_take(&c, st, SEC(110), 7, &next));
    ck_assert(next == SEC(111));
    free(st);
}
END_TEST

START_TEST(rate_never_exceeded)
{
    /* Random arrivals against rate=7/3: no window of 3 s ever holds more
     * than 7 starts, and every refusal names a time that is honoured. */
    gf_limit_conf_t c = { 0, 7, SEC(3), 1, 0 };
    gf_limit_state_t *st = calloc(1, sizeof(*st));
    apr_time_t *starts = calloc(20000, sizeof(apr_time_t)), now = SEC(1000), next;
    int n = 0, i, j;
    srand(42);
    for (i = 0; i < 20000 && n < 20000; i++) {
        now += (apr_time_t)(rand() % 400000);
        if (gf_limit_take(&c, st, now, 7, &next)) starts[n++] = now;
        else ck_assert(next > now);
    }
    ck_assert_int_gt(n, 100);
    for (i = 0; i < n; i++) {
        int in = 0;
        for (j = i; j < n && starts[j] < starts[i] + SEC(3); j++) in++;
        ck_assert_int_le(in, 7);
    }
    free(starts);
    free(st);
}
END_TEST

START_TEST(pause_429)
{
    gf_limit_conf_t c = { 0, 0, 0, 1, 0 };
    gf_limit_state_t *st = calloc(1, sizeof(*st));
    apr_time_t next;
    /* Even a provider without limits honours a pause. */
    gf_limit_pause(st, SEC(5));
    ck_assert(!gf_limit_room(&c, st, SEC(4)));
    ck_assert(!gf_limit_take(&c, st, SEC(4), 7, &next));
    ck_assert(next == SEC(5));
    gf_limit_pause(st, SEC(3));       /* an earlier end does not shorten it */
    ck_assert(!gf_limit_take(&c, st, SEC(4), 7, &next));
    ck_assert(gf_limit_take(&c, st, SEC(5), 7, &next));
    free(st);
}
END_TEST

static int alive_odd(apr_int32_t pid, void *baton)
{
    (void)baton;
    return pid % 2 == 1;
}

START_TEST(holders_reaped)
{
    /* A process that died with calls open gives them back when reaped;
     * the living keep theirs, and a give after the reap counts nothing. */
    gf_limit_conf_t c = { 5, 0, 0, 1, 0 };
    gf_limit_state_t *st = calloc(1, sizeof(*st));
    apr_time_t next;
    ck_assert(gf_limit_take(&c, st, SEC(1), 11, &next));
    ck_assert(gf_limit_take(&c, st, SEC(1), 12, &next));
    ck_assert(gf_limit_take(&c, st, SEC(1), 12, &next));
    ck_assert(gf_limit_take(&c, st, SEC(1), 12, &next));
    ck_assert(gf_limit_take(&c, st, SEC(1), 13, &next));
    ck_assert(!gf_limit_take(&c, st, SEC(1), 13, &next));
    ck_assert_int_eq(gf_limit_reap(&st->calls, alive_odd, NULL), 3);   /* 12 is gone */
    ck_assert_uint_eq(st->calls.open, 2);
    gf_limit_give(st, 12);            /* nothing of 12's is counted any more */
    ck_assert_uint_eq(st->calls.open, 2);
    ck_assert(gf_limit_take(&c, st, SEC(1), 13, &next));
    /* A new process of an old pid starts from nothing. */
    gf_limit_hello(&st->calls, 13);
    ck_assert_uint_eq(st->calls.open, 1);
    gf_limit_give(st, 13);
    ck_assert_uint_eq(st->calls.open, 1);
    gf_limit_give(st, 11);
    ck_assert_uint_eq(st->calls.open, 0);
    free(st);
}
END_TEST

START_TEST(holders_alone)
{
    /* The count of calls open without limits (a group's least-busy
     * measure): per process, a dead process's calls counted out by the
     * reap, a full table counting nothing rather than a wrong pid. */
    gf_limit_holders_t *h = calloc(1, sizeof(*h));
    apr_int32_t pid;
    ck_assert(gf_limit_hold(h, 11));
    ck_assert(gf_limit_hold(h, 12));
    ck_assert(gf_limit_hold(h, 12));
    ck_assert_uint_eq(h->open, 3);
    gf_limit_unhold(h, 99);               /* not a holder: nothing */
    ck_assert_uint_eq(h->open, 3);
    ck_assert_int_eq(gf_limit_reap(h, alive_odd, NULL), 2);   /* 12 was killed mid-call */
    ck_assert_uint_eq(h->open, 1);
    gf_limit_unhold(h, 11);
    gf_limit_unhold(h, 11);               /* never below zero */
    ck_assert_uint_eq(h->open, 0);
    for (pid = 1; pid <= GF_LIMIT_HOLDERS; pid++) ck_assert(gf_limit_hold(h, pid));
    ck_assert(!gf_limit_hold(h, GF_LIMIT_HOLDERS + 1));
    ck_assert_uint_eq(h->open, GF_LIMIT_HOLDERS);
    ck_assert(gf_limit_hold(h, 7));       /* a holder already: counted */
    ck_assert_int_eq(gf_limit_reap(h, alive_odd, NULL), GF_LIMIT_HOLDERS / 2);
    ck_assert(gf_limit_hold(h, GF_LIMIT_HOLDERS + 1));   /* the dead's entries are free */
    free(h);
}
END_TEST

START_TEST(untake_forgets_the_start)
{
    /* A take no call followed frees its place and its start in the
     * window, and only its own: the others' starts stay counted. */
    gf_limit_conf_t c = { 0, 3, SEC(10), 1, 0 };
    gf_limit_state_t *st = calloc(1, sizeof(*st));
    apr_time_t next;
    ck_assert(gf_limit_take(&c, st, SEC(100), 7, &next));
    ck_assert(gf_limit_take(&c, st, SEC(101), 8, &next));
    ck_assert(gf_limit_take(&c, st, SEC(102), 7, &next));
    ck_assert(!gf_limit_room(&c, st, SEC(103)));
    gf_limit_untake(st, 8, SEC(101));
    ck_assert_uint_eq(st->calls.open, 2);
    ck_assert(gf_limit_take(&c, st, SEC(103), 8, &next));
    ck_assert(!gf_limit_take(&c, st, SEC(104), 8, &next));
    ck_assert(next == SEC(110));      /* 100 is still the oldest start */
    ck_assert(gf_limit_take(&c, st, SEC(110), 8, &next));
    ck_assert(!gf_limit_take(&c, st, SEC(111), 8, &next));
    ck_assert(next == SEC(112));      /* then 102: 101 was given back */
    free(st);
}
END_TEST

START_TEST(wait_estimate)
{
    /* max_concurrent=2, calls of 4 s: a place frees every 2 s. */
    gf_limit_conf_t c = { 2, 0, 0, 0, 0 };
    gf_limit_conf_t none = { 0, 0, 0, 0, 0 };
    gf_limit_conf_t rate = { 0, 2, SEC(1), 0, 0 };
    gf_limit_conf_t both = { 1, 1, SEC(10), 0, 0 };
    ck_assert(gf_limit_wait(&c, 0, SEC(4)) == SEC(4));
    ck_assert(gf_limit_wait(&c, 1, SEC(4)) == SEC(4));
    ck_assert(gf_limit_wait(&c, 11, SEC(4)) == SEC(24));
    ck_assert(gf_limit_wait(&c, 11, 0) == -1);         /* no call measured yet */
    ck_assert(gf_limit_wait(&none, 11, SEC(4)) == -1); /* no limit: unknown */
    ck_assert(gf_limit_wait(&c, -1, SEC(4)) == -1);
    ck_assert(gf_limit_wait(NULL, 1, SEC(4)) == -1);
    /* rate=2/1: a start every 0.5 s, with or without call times. */
    ck_assert(gf_limit_wait(&rate, 0, 0) == 0);
    ck_assert(gf_limit_wait(&rate, 12, 0) == apr_time_from_msec(6000));
    /* Both: the longer (10 s a start against 3 s a call). */
    ck_assert(gf_limit_wait(&both, 3, SEC(3)) == SEC(30));
    /* Capped at a day, without overflow. */
    ck_assert(gf_limit_wait(&c, APR_INT64_C(4000000000000), SEC(4)) == SEC(86400));
    ck_assert(gf_limit_wait(&rate, APR_INT64_C(4000000000000000), 0) == SEC(86400));
    /* The estimate sits on a 5 s grid, never before now. */
    ck_assert(gf_limit_start_estimate(SEC(100), 0) == SEC(100));
    ck_assert(gf_limit_start_estimate(SEC(100) + 1, 0) == SEC(105));
    ck_assert(gf_limit_start_estimate(SEC(101), SEC(3)) == SEC(105));
    ck_assert(gf_limit_start_estimate(SEC(101), -1) == SEC(105));
    ck_assert(gf_limit_start_estimate(SEC(102), SEC(3)) == SEC(105));
    ck_assert(gf_limit_start_estimate(SEC(103), SEC(3)) == SEC(110));
    /* The average: the first call as it is, then a quarter each. */
    ck_assert(gf_limit_call_average(0, SEC(4)) == SEC(4));
    ck_assert(gf_limit_call_average(SEC(4), SEC(8)) == SEC(5));
    ck_assert(gf_limit_call_average(SEC(4), -5) == SEC(3));
}
END_TEST

Suite *limit_suite(void)
{
    Suite *s = suite_create("limit");
    TCase *tc = tcase_create("limit");
    tcase_add_test(tc, options);
    tcase_add_test(tc, spacing);
    tcase_add_test(tc, concurrency_cap);
    tcase_add_test(tc, rate_window);
    tcase_add_test(tc, rate_never_exceeded);
    tcase_add_test(tc, pause_429);
    tcase_add_test(tc, holders_reaped);
    tcase_add_test(tc, holders_alone);
    tcase_add_test(tc, untake_forgets_the_start);
    tcase_add_test(tc, wait_estimate);
    suite_add_tcase(s, tc);
    return s;
}
