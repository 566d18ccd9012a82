/* SPDX-License-Identifier: Apache-2.0 */
/* test_keep.c: the polls a child keeps (core/gf_keep.h): the heap's
 * order by due time, a change that makes one due at once, the release's
 * walk, the packing of a record's strings, and the rules of which poll
 * may be kept and when its lease is written. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "test_core.h"
#include "core/gf_keep.h"

static gf_kept_t *kept(const char *id, apr_time_t due)
{
    gf_kept_t *r = apr_pcalloc(test_pool, sizeof(*r));
    r->id = apr_pstrdup(test_pool, id);
    r->due = due;
    r->at = -1;
    return r;
}

START_TEST(keep_heap_order)
{
    volatile int count = -1;
    gf_keep_heap_t *k = gf_keep_heap_create(test_pool, 8, &count);
    apr_time_t dues[] = { 50, 10, 40, 10, 30, 70, 20, 60 };
    apr_time_t last = 0;
    int i;

    for (i = 0; i < 8; i++) {
        ck_assert_int_eq(gf_keep_heap_push(k, kept(apr_itoa(test_pool, i), dues[i])), 1);
    }
    ck_assert_int_eq(count, 8);
    ck_assert(gf_keep_heap_full(k));
    /* Full: the ninth is refused, nothing overwritten. */
    ck_assert_int_eq(gf_keep_heap_push(k, kept("x", 1)), 0);
    ck_assert_int_eq(gf_keep_heap_count(k), 8);
    /* Nothing due before the soonest. */
    ck_assert_ptr_null(gf_keep_heap_pop_due(k, 9));
    ck_assert(gf_keep_heap_wait(k, 0, 1000) == 10);
    ck_assert(gf_keep_heap_wait(k, 5, 3) == 3);
    ck_assert(gf_keep_heap_wait(k, 100, 1000) == 0);
    for (i = 0; i < 8; i++) {
        gf_kept_t *r = gf_keep_heap_pop_due(k, 1000);
        ck_assert_ptr_nonnull(r);
        ck_assert(r->due >= last);
        ck_assert_int_eq(r->at, -1);
        last = r->due;
    }
    ck_assert(last == 70);
    ck_assert_int_eq(count, 0);
    ck_assert_ptr_null(gf_keep_heap_pop_due(k, 1000));
    ck_assert(gf_keep_heap_wait(k, 0, 1000) == 1000);
}
END_TEST

START_TEST(keep_heap_changed)
{
    gf_keep_heap_t *k = gf_keep_heap_create(test_pool, 4, NULL);
    gf_kept_t *a = kept("a", 100), *b = kept("b", 200), *c = kept("c", 300);

    gf_keep_heap_push(k, a);
    gf_keep_heap_push(k, b);
    gf_keep_heap_push(k, c);
    ck_assert_ptr_null(gf_keep_heap_changed(k, "nobody"));
    ck_assert_ptr_null(gf_keep_heap_changed(k, NULL));
    /* A change heard: the latest becomes due at once, first out. */
    ck_assert_ptr_eq(gf_keep_heap_changed(k, "c"), c);
    ck_assert_int_eq(c->changed, 1);
    ck_assert(c->due == 0);
    ck_assert_ptr_eq(gf_keep_heap_at(k, 0), c);
    ck_assert_ptr_eq(gf_keep_heap_pop_due(k, 0), c);
    ck_assert_int_eq(a->changed, 0);
    /* Once popped, it is no longer found by its id. */
    ck_assert_ptr_null(gf_keep_heap_changed(k, "c"));
    ck_assert_ptr_eq(gf_keep_heap_pop_due(k, 150), a);
    ck_assert_ptr_null(gf_keep_heap_pop_due(k, 150));
}
END_TEST

START_TEST(keep_heap_release_walk)
{
    gf_keep_heap_t *k = gf_keep_heap_create(test_pool, 16, NULL);
    int seen[16], i, n = 0;

    memset(seen, 0, sizeof(seen));
    for (i = 0; i < 10; i++) gf_keep_heap_push(k, kept(apr_itoa(test_pool, i), (i * 7) % 10));
    ck_assert_ptr_null(gf_keep_heap_at(k, 10));
    ck_assert_ptr_null(gf_keep_heap_at(k, -1));
    /* A walk from the last down taking every other one sees each record
     * once, and what it leaves is still there. */
    for (i = gf_keep_heap_count(k) - 1; i >= 0; i--) {
        gf_kept_t *r = gf_keep_heap_at(k, i);
        int id = atoi(r->id);
        ck_assert_int_eq(seen[id], 0);
        seen[id] = 1;
        if (id % 2 == 0) {
            gf_keep_heap_drop_at(k, i);
            n++;
        }
    }
    ck_assert_int_eq(n, 5);
    ck_assert_int_eq(gf_keep_heap_count(k), 5);
    for (i = 0; i < 5; i++) ck_assert_int_eq(atoi(gf_keep_heap_at(k, i)->id) % 2, 1);
    ck_assert_ptr_null(gf_keep_heap_changed(k, "4"));
    ck_assert_ptr_nonnull(gf_keep_heap_changed(k, "3"));
}
END_TEST

START_TEST(keep_pack)
{
    const char *a = "gen-1", *b = NULL, *c = "", *d = "lease:owner";
    const char **fields[] = { &a, &b, &c, &d };
    char buf[64];
    const char *orig_a = a;

    ck_assert_uint_eq(gf_keep_pack_size(fields, 4), 6 + 0 + 1 + 12);
    memset(buf, 'x', sizeof(buf));
    gf_keep_pack(buf, fields, 4);
    ck_assert_ptr_eq(a, buf);
    ck_assert_ptr_ne(a, orig_a);
    ck_assert_str_eq(a, "gen-1");
    ck_assert_ptr_null(b);
    ck_assert_ptr_eq(c, buf + 6);
    ck_assert_str_eq(c, "");
    ck_assert_ptr_eq(d, buf + 7);
    ck_assert_str_eq(d, "lease:owner");
    ck_assert_int_eq(buf[19], 'x');
}
END_TEST

START_TEST(keep_worth)
{
    gf_decision_t d;
    gf_provider_result_t res;

    memset(&d, 0, sizeof(d));
    memset(&res, 0, sizeof(res));
    d.next = GF_NEXT_POLL;
    ck_assert(gf_keep_worth(&d, &res, "job", NULL, 0));
    ck_assert(!gf_keep_worth(&d, &res, NULL, NULL, 0));          /* no job on the row */
    ck_assert(!gf_keep_worth(&d, &res, "job", NULL, 0.01));      /* a cost to record */
    res.usage = 2;
    ck_assert(!gf_keep_worth(&d, &res, "job", NULL, 0));         /* a usage to record */
    res.usage = 0;
    res.provider_job_id = "job";
    ck_assert(gf_keep_worth(&d, &res, "job", NULL, 0));
    res.provider_job_id = "other";
    ck_assert(!gf_keep_worth(&d, &res, "job", NULL, 0));         /* a new job id */
    res.provider_job_id = NULL;
    res.provider_state = "{\"a\":1}";
    ck_assert(!gf_keep_worth(&d, &res, "job", NULL, 0));         /* a state the row lacks */
    ck_assert(!gf_keep_worth(&d, &res, "job", "{\"a\":2}", 0));  /* a new state */
    ck_assert(gf_keep_worth(&d, &res, "job", "{\"a\":1}", 0));
    d.poll_failed = 1;
    ck_assert(!gf_keep_worth(&d, &res, "job", "{\"a\":1}", 0));  /* its failure is counted */
    d.poll_failed = 0;
    d.next = GF_NEXT_RETRY;
    ck_assert(!gf_keep_worth(&d, &res, "job", "{\"a\":1}", 0));
}
END_TEST

START_TEST(keep_plan)
{
    apr_time_t now = apr_time_from_sec(1000), due = 0;
    apr_interval_time_t lease = apr_time_from_sec(30);
    long secs = -1;

    /* A lease to now + 40 s covers a poll in 5 s with 15 s to spare. */
    ck_assert_int_eq(gf_keep_plan(now, apr_time_from_sec(5), 0, now + apr_time_from_sec(40),
                                  lease, &due, &secs), 0);
    ck_assert(due == now + apr_time_from_sec(5));
    ck_assert_int_eq(secs, 0);
    /* Exactly half a lease to spare is enough. */
    ck_assert_int_eq(gf_keep_plan(now, apr_time_from_sec(5), 0, now + apr_time_from_sec(20),
                                  lease, &due, &secs), 0);
    /* A moment less is not: three polls ahead and a lease, plus a second. */
    ck_assert_int_eq(gf_keep_plan(now, apr_time_from_sec(5), 0, now + apr_time_from_sec(20) - 1,
                                  lease, &due, &secs), 1);
    ck_assert_int_eq(secs, 3 * 5 + 30 + 1);
    /* A part of a second rounds down before the second added. */
    gf_keep_plan(now, apr_time_from_msec(500), 0, now, lease, &due, &secs);
    ck_assert_int_eq(secs, 32);
    /* Never past the deadline: the next attempt checks it. */
    ck_assert_int_eq(gf_keep_plan(now, apr_time_from_sec(5), now + apr_time_from_sec(2),
                                  now + apr_time_from_sec(60), lease, &due, &secs), 0);
    ck_assert(due == now + apr_time_from_sec(2));
}
END_TEST

Suite *keep_suite(void)
{
    Suite *s = suite_create("keep");
    TCase *tc = tcase_create("keep");
    tcase_add_test(tc, keep_heap_order);
    tcase_add_test(tc, keep_heap_changed);
    tcase_add_test(tc, keep_heap_release_walk);
    tcase_add_test(tc, keep_pack);
    tcase_add_test(tc, keep_worth);
    tcase_add_test(tc, keep_plan);
    suite_add_tcase(s, tc);
    return s;
}
