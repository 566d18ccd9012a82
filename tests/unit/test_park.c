/* SPDX-License-Identifier: Apache-2.0 */
/* test_park.c: the queue of parked requests and its timing
 * (core/gf_park.h), with the MPM played by two flags. */
#include <stdlib.h>
#include <string.h>

#include "test_core.h"
#include "core/gf_park.h"

#define SEC(n) apr_time_from_sec(n)
#define MS(n)  apr_time_from_msec(n)

static int released_all = 1;      /* the MPM let every connection go */
static int hand_ok = 1;           /* the MPM takes timed callbacks */
static int handed_count;
static gf_park_rec_t *handed_last;

static int released(const gf_park_rec_t *p)
{
    (void)p;
    return released_all;
}

static int hand(gf_park_rec_t *p)
{
    if (!hand_ok) return 0;
    handed_count++;
    handed_last = p;
    return 1;
}

static void setup_queue(gf_park_t *k, int park_max, int blocking_cap)
{
    released_all = 1;
    hand_ok = 1;
    handed_count = 0;
    handed_last = NULL;
    gf_park_init(k, test_pool, park_max, blocking_cap, released, hand);
}

/* A parked record of id, suspended long enough ago to be settled. */
static gf_park_rec_t *parked(gf_park_t *k, const char *id, apr_time_t now, apr_time_t deadline,
                             apr_interval_time_t beat, apr_interval_time_t look)
{
    gf_park_rec_t *p = gf_park_rec_new(sizeof(*p) + 16, id, deadline, beat, look,
                                       gf_park_backstop(1), now);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(gf_park_add(k, p), 1);
    p->suspended_at = now - SEC(1);
    return p;
}

static void teardown_queue(gf_park_t *k)
{
    while (k->all) gf_park_remove(k, k->all);
    gf_park_free_dead(k, 1);
}

START_TEST(spread_in_second_half)
{
    ck_assert_int_eq(gf_park_spread(0, 12345), 0);
    ck_assert_int_eq(gf_park_spread(1, 12345), 1);
    ck_assert_int_eq(gf_park_spread(10, 0), 5);
    ck_assert_int_eq(gf_park_spread(10, 4), 9);
    ck_assert_int_eq(gf_park_spread(10, 5), 5);
    ck_assert_int_eq(gf_park_spread(SEC(30), 0), SEC(15));
    {
        int i;
        for (i = 0; i < 100; i++) {
            apr_interval_time_t t = gf_park_spread_random(SEC(2));
            ck_assert(t >= SEC(1) && t < SEC(2));
        }
    }
}
END_TEST

START_TEST(backstop_and_look)
{
    ck_assert_int_eq(gf_park_backstop(1), SEC(30));
    ck_assert_int_eq(gf_park_backstop(0), SEC(2));
    ck_assert_int_eq(gf_park_look_in(0, SEC(30)), SEC(30));
    ck_assert_int_eq(gf_park_look_in(-5, SEC(30)), SEC(30));
    ck_assert_int_eq(gf_park_look_in(SEC(1), SEC(30)), SEC(1));
}
END_TEST

/* The first beat and re-read fall in the second half of their period; a
 * look the step asked for is taken as it is. */
START_TEST(first_times)
{
    apr_time_t now = SEC(1000);
    gf_park_rec_t *p = gf_park_rec_new(sizeof(*p), "g1", now + SEC(60), SEC(10), 0, SEC(30), now);
    ck_assert_str_eq(p->id, "g1");
    ck_assert(p->next_beat >= now + SEC(5) && p->next_beat < now + SEC(10));
    ck_assert(p->next_look >= now + SEC(15) && p->next_look < now + SEC(30));
    ck_assert_int_eq(gf_park_first_time(p), p->next_beat);
    free(p);
    p = gf_park_rec_new(sizeof(*p), "g1", now + SEC(60), 0, SEC(1), SEC(30), now);
    ck_assert_int_eq(p->next_look, now + SEC(1));
    ck_assert_int_eq(gf_park_first_time(p), now + SEC(1));
    /* Without a beat its time does not count. */
    p->next_beat = now;
    ck_assert_int_eq(gf_park_first_time(p), now + SEC(1));
    p->deadline = now + MS(500);
    ck_assert_int_eq(gf_park_first_time(p), now + MS(500));
    free(p);
    ck_assert_ptr_null(gf_park_rec_new(sizeof(*p) - 1, "g", 0, 0, 0, 0, 0));
}
END_TEST

START_TEST(settled_waits_for_the_mpm)
{
    gf_park_t k;
    gf_park_rec_t r;
    apr_time_t now = SEC(100);

    setup_queue(&k, 4, 4);
    memset(&r, 0, sizeof(r));
    ck_assert_int_eq(gf_park_settled(&k, &r, now), 0);          /* never suspended */
    r.suspended_at = now - GF_PARK_SETTLE_GAP + 1;
    ck_assert_int_eq(gf_park_settled(&k, &r, now), 0);          /* too soon */
    r.suspended_at = now - GF_PARK_SETTLE_GAP;
    ck_assert_int_eq(gf_park_settled(&k, &r, now), 1);
    released_all = 0;
    ck_assert_int_eq(gf_park_settled(&k, &r, now), 0);          /* its write not seen */
    r.suspended_at = now - 10 * GF_PARK_SETTLE_GAP + 1;
    ck_assert_int_eq(gf_park_settled(&k, &r, now), 0);
    r.suspended_at = now - 10 * GF_PARK_SETTLE_GAP;
    ck_assert_int_eq(gf_park_settled(&k, &r, now), 1);          /* not forever */
}
END_TEST

START_TEST(add_up_to_the_limit)
{
    gf_park_t k;
    apr_time_t now = SEC(100);
    gf_park_rec_t *a, *b, *c;

    setup_queue(&k, 2, 0);
    a = parked(&k, "g1", now, now + SEC(5), 0, SEC(3));
    ck_assert_int_eq(k.next_time, now + SEC(3));
    b = parked(&k, "g1", now, now + SEC(2), 0, SEC(3));
    ck_assert_int_eq(k.next_time, now + SEC(2));
    ck_assert_int_eq(k.parked, 2);
    c = gf_park_rec_new(sizeof(*c), "g2", now + SEC(1), 0, 0, SEC(30), now);
    ck_assert_int_eq(gf_park_add(&k, c), 0);                    /* full */
    gf_park_remove(&k, a);
    ck_assert_int_eq(a->state, GF_PARK_DEAD);
    ck_assert_int_eq(k.parked, 1);
    ck_assert_ptr_eq(k.all, b);
    k.stopping = 1;
    ck_assert_int_eq(gf_park_add(&k, c), 0);                    /* stopping */
    k.stopping = 0;
    ck_assert_int_eq(gf_park_add(&k, c), 1);
    gf_park_free_dead(&k, 0);
    ck_assert_ptr_null(k.dead);
    teardown_queue(&k);
}
END_TEST

/* News of one generation wakes its records only, each once, in order. */
START_TEST(changed_by_id)
{
    gf_park_t k;
    apr_time_t now = SEC(100);
    gf_park_rec_t *a, *b, *c;

    setup_queue(&k, 8, 0);
    a = parked(&k, "g1", now, now + SEC(60), 0, SEC(30));
    b = parked(&k, "g2", now, now + SEC(60), 0, SEC(30));
    c = parked(&k, "g1", now, now + SEC(60), 0, SEC(30));
    ck_assert_int_eq(gf_park_changed(&k, "g3"), 0);
    ck_assert_ptr_null(k.due_head);
    ck_assert_int_eq(gf_park_changed(&k, "g1"), 1);
    ck_assert_int_eq(gf_park_changed(&k, "g1"), 1);
    ck_assert(a->queued && c->queued && !b->queued);
    ck_assert_int_eq(a->woke, GF_PARK_WOKE_CHANGE);
    ck_assert_ptr_eq(k.due_head->due_next, k.due_tail);
    ck_assert_ptr_null(k.due_tail->due_next);
    ck_assert_int_eq(gf_park_changed(&k, NULL), 1);
    ck_assert(b->queued);
    ck_assert_ptr_eq(k.due_tail, b);
    /* One that left is due too, once; a dead one is not. */
    gf_park_gone(&k, b);
    ck_assert_int_eq(b->woke, GF_PARK_WOKE_CHANGE | GF_PARK_WOKE_GONE);
    teardown_queue(&k);
    ck_assert_int_eq(k.parked, 0);
}
END_TEST

START_TEST(scan_marks_by_time)
{
    gf_park_t k;
    apr_time_t now = SEC(100);
    gf_park_rec_t *a, *b, *c;

    setup_queue(&k, 8, 0);
    a = parked(&k, "g1", now, now + SEC(1), 0, SEC(30));
    b = parked(&k, "g2", now, now + SEC(60), SEC(4), SEC(30));
    c = parked(&k, "g3", now, now + SEC(60), 0, MS(300));
    b->next_beat = now + SEC(4);
    gf_park_scan(&k, now);
    ck_assert_ptr_null(k.due_head);
    /* The earliest of the next times, within a second. */
    ck_assert_int_eq(k.next_time, now + MS(300));
    gf_park_scan(&k, now + MS(300));
    ck_assert(c->queued);
    ck_assert_int_eq(c->woke, GF_PARK_WOKE_CHANGE);
    /* No sooner than the scan gap. */
    ck_assert_int_eq(k.next_time, now + SEC(1));
    gf_park_scan(&k, now + MS(1250));
    ck_assert_int_eq(a->woke, GF_PARK_WOKE_DEADLINE);
    ck_assert(!b->queued);
    ck_assert_int_eq(k.next_time, now + MS(1250) + SEC(1));
    gf_park_scan(&k, now + SEC(4));
    ck_assert_int_eq(b->woke, GF_PARK_WOKE_BEAT);
    ck_assert_int_eq(k.next_time, now + SEC(5));
    teardown_queue(&k);

    /* A stopping child marks every record. */
    setup_queue(&k, 8, 0);
    a = parked(&k, "g1", now, now + SEC(60), 0, SEC(30));
    k.stopping = 1;
    gf_park_scan(&k, now);
    ck_assert_int_eq(a->woke, GF_PARK_WOKE_STOP);
    teardown_queue(&k);
}
END_TEST

START_TEST(hand_over_in_batches)
{
    gf_park_t k;
    apr_time_t now = SEC(100);
    gf_park_rec_t *recs[GF_PARK_WAKE_BATCH + 5];
    int i;

    setup_queue(&k, 100, 0);
    for (i = 0; i < GF_PARK_WAKE_BATCH + 5; i++) {
        recs[i] = parked(&k, "g1", now, now + SEC(60), 0, SEC(30));
    }
    gf_park_changed(&k, "g1");
    gf_park_hand_over(&k, now);
    ck_assert_int_eq(handed_count, GF_PARK_WAKE_BATCH);
    ck_assert_int_eq(handed_last->state, GF_PARK_HANDED);
    ck_assert_int_eq(handed_last->handed, GF_PARK_WOKE_CHANGE);
    ck_assert_int_eq(handed_last->woke, 0);
    ck_assert_int_eq(handed_last->queued, 0);
    ck_assert_ptr_nonnull(k.due_head);
    gf_park_hand_over(&k, now);
    ck_assert_int_eq(handed_count, GF_PARK_WAKE_BATCH + 5);
    ck_assert_ptr_null(k.due_head);
    ck_assert_ptr_null(k.due_tail);
    for (i = 0; i < GF_PARK_WAKE_BATCH + 5; i++) ck_assert_int_eq(recs[i]->state, GF_PARK_HANDED);
    teardown_queue(&k);
}
END_TEST

/* A record the MPM still holds waits at the head, before the others; a
 * refused hand-over is queued again and ends the round. */
START_TEST(hand_over_waits_and_retries)
{
    gf_park_t k;
    apr_time_t now = SEC(100);
    gf_park_rec_t *a, *b, *c;

    setup_queue(&k, 8, 0);
    a = parked(&k, "g1", now, now + SEC(60), 0, SEC(30));
    b = parked(&k, "g2", now, now + SEC(60), 0, SEC(30));
    c = parked(&k, "g3", now, now + SEC(60), 0, SEC(30));
    a->suspended_at = 0;
    gf_park_changed(&k, "g1");
    gf_park_changed(&k, "g2");
    gf_park_hand_over(&k, now);
    ck_assert_int_eq(handed_count, 1);
    ck_assert_ptr_eq(handed_last, b);
    ck_assert_ptr_eq(k.due_head, a);
    ck_assert_ptr_eq(k.due_tail, a);
    ck_assert_int_eq(gf_park_timeout_ms(&k, now), GF_PARK_WAKE_GAP_MS);
    gf_park_changed(&k, "g3");
    ck_assert_ptr_eq(k.due_head->due_next, c);
    hand_ok = 0;
    a->suspended_at = now - SEC(1);
    gf_park_hand_over(&k, now);
    ck_assert_int_eq(a->state, GF_PARK_PARKED);
    ck_assert_int_eq(a->woke, GF_PARK_WOKE_CHANGE);
    ck_assert(a->queued);
    ck_assert_ptr_eq(k.due_head, c);
    ck_assert_ptr_eq(k.due_tail, a);
    hand_ok = 1;
    /* One the stopping path took meanwhile is only dropped from the queue. */
    c->state = GF_PARK_HANDED;
    gf_park_hand_over(&k, now);
    ck_assert_int_eq(handed_count, 2);
    ck_assert_ptr_eq(handed_last, a);
    ck_assert_int_eq(c->queued, 0);
    teardown_queue(&k);
}
END_TEST

START_TEST(dead_records_freed_off_the_queue)
{
    gf_park_t k;
    apr_time_t now = SEC(100);
    gf_park_rec_t *a, *b;

    setup_queue(&k, 8, 0);
    a = parked(&k, "g1", now, now + SEC(60), 0, SEC(30));
    b = parked(&k, "g2", now, now + SEC(60), 0, SEC(30));
    gf_park_changed(&k, "g1");
    gf_park_remove(&k, a);
    gf_park_remove(&k, b);
    gf_park_free_dead(&k, 0);
    ck_assert_ptr_eq(k.dead, a);                                /* still queued */
    ck_assert_ptr_null(a->next);
    gf_park_hand_over(&k, now);
    ck_assert_int_eq(handed_count, 0);
    gf_park_free_dead(&k, 0);
    ck_assert_ptr_null(k.dead);
    ck_assert_ptr_null(k.all);
    ck_assert_int_eq(k.parked, 0);
}
END_TEST

START_TEST(repark_sets_the_clock)
{
    gf_park_t k;
    apr_time_t now = SEC(100);
    gf_park_rec_t *a;

    setup_queue(&k, 8, 0);
    a = parked(&k, "g1", now, now + SEC(60), SEC(5), SEC(30));
    a->state = GF_PARK_HANDED;
    a->next_look = now + SEC(30);
    k.next_time = now + SEC(10);
    /* A heartbeat: the next one a period on; the look not later. */
    ck_assert_int_eq(gf_park_repark(&k, a, GF_PARK_WOKE_BEAT, SEC(30), now + SEC(2)), 1);
    ck_assert_int_eq(a->state, GF_PARK_PARKED);
    ck_assert_int_eq(a->next_beat, now + SEC(7));
    ck_assert_int_eq(a->next_look, now + SEC(30));
    ck_assert_int_eq(k.next_time, now + SEC(7));
    /* A read: the next one from now, and sooner than the scan, a poke. */
    ck_assert_int_eq(gf_park_repark(&k, a, GF_PARK_WOKE_CHANGE, MS(500), now + SEC(2)), 1);
    ck_assert_int_eq(a->next_look, now + SEC(2) + MS(500));
    ck_assert_int_eq(k.next_time, now + SEC(2) + MS(500));
    /* A look asked for sooner than the one set, without a read. */
    ck_assert_int_eq(gf_park_repark(&k, a, GF_PARK_WOKE_BEAT, MS(100), now + SEC(2)), 1);
    ck_assert_int_eq(a->next_look, now + SEC(2) + MS(100));
    /* Nothing sooner than the scan: no poke. */
    ck_assert_int_eq(gf_park_repark(&k, a, 0, SEC(30), now + SEC(2)), 0);
    ck_assert_int_eq(a->next_look, now + SEC(2) + MS(100));
    /* News heard while it was handed: due at once. */
    a->woke = GF_PARK_WOKE_CHANGE;
    ck_assert_int_eq(gf_park_repark(&k, a, 0, SEC(30), now + SEC(3)), 1);
    ck_assert(a->queued);
    a->queued = 0;
    a->woke = 0;
    k.due_head = k.due_tail = NULL;
    k.stopping = 1;
    ck_assert_int_eq(gf_park_repark(&k, a, 0, SEC(30), now + SEC(3)), 1);
    ck_assert_int_eq(a->woke, GF_PARK_WOKE_STOP);
    teardown_queue(&k);
}
END_TEST

START_TEST(timeout_of_the_poll)
{
    gf_park_t k;
    apr_time_t now = SEC(100);

    setup_queue(&k, 8, 0);
    ck_assert_int_eq(gf_park_timeout_ms(&k, now), 1000);       /* nothing parked */
    parked(&k, "g1", now, now + SEC(60), 0, SEC(30));
    k.next_time = now + MS(250);
    ck_assert_int_eq(gf_park_timeout_ms(&k, now), 251);
    k.next_time = now;
    ck_assert_int_eq(gf_park_timeout_ms(&k, now), 0);
    k.next_time = now + SEC(5);
    ck_assert_int_eq(gf_park_timeout_ms(&k, now), 1000);
    teardown_queue(&k);
}
END_TEST

START_TEST(stop_hands_the_settled)
{
    gf_park_t k;
    apr_time_t now = SEC(100);
    gf_park_rec_t *a, *b, *c, *mine;

    setup_queue(&k, 8, 0);
    a = parked(&k, "g1", now, now + SEC(60), 0, SEC(30));
    b = parked(&k, "g2", now, now + SEC(60), 0, SEC(30));
    c = parked(&k, "g3", now, now + SEC(60), 0, SEC(30));
    b->suspended_at = 0;
    c->state = GF_PARK_HANDED;
    k.next_time = now + SEC(1);
    mine = gf_park_stop(&k, now);
    ck_assert(k.stopping);
    ck_assert_int_eq(k.next_time, 0);
    ck_assert_ptr_eq(mine, a);
    ck_assert_ptr_null(mine->stop_next);
    ck_assert_int_eq(a->state, GF_PARK_HANDED);
    ck_assert_int_eq(a->handed, GF_PARK_WOKE_STOP);
    ck_assert_int_eq(b->state, GF_PARK_PARKED);
    ck_assert_int_eq(b->woke, GF_PARK_WOKE_STOP);
    ck_assert_int_eq(c->woke, 0);
    teardown_queue(&k);
}
END_TEST

START_TEST(blocking_waits)
{
    gf_park_t k;
    apr_time_t now = SEC(100), next_beat = now + SEC(5);
    unsigned woke;

    setup_queue(&k, 0, 2);
    ck_assert_int_eq(gf_park_blocking_enter(&k), 1);
    ck_assert_int_eq(gf_park_blocking_enter(&k), 1);
    ck_assert_int_eq(gf_park_blocking_enter(&k), 0);
    gf_park_blocking_leave(&k);
    k.stopping = 1;
    ck_assert_int_eq(gf_park_blocking_enter(&k), 0);
    ck_assert_int_eq(k.blocking, 1);

    ck_assert_int_eq(gf_park_blocking_until(now, now + SEC(60), 0, next_beat, 0), now + SEC(60));
    ck_assert_int_eq(gf_park_blocking_until(now, now + SEC(60), SEC(5), next_beat, 0),
                     now + SEC(5));
    ck_assert_int_eq(gf_park_blocking_until(now, now + SEC(60), SEC(5), next_beat, SEC(1)),
                     now + SEC(1));
    ck_assert_int_eq(gf_park_blocking_until(now, now + MS(10), SEC(5), next_beat, SEC(1)),
                     now + MS(10));

    woke = gf_park_blocking_woke(now + SEC(1), now + SEC(60), SEC(5), &next_beat, 0);
    ck_assert_int_eq(woke, GF_PARK_WOKE_CHANGE);
    ck_assert_int_eq(next_beat, now + SEC(5));
    woke = gf_park_blocking_woke(now + SEC(5), now + SEC(60), SEC(5), &next_beat, 0);
    ck_assert_int_eq(woke, GF_PARK_WOKE_CHANGE | GF_PARK_WOKE_BEAT);
    ck_assert_int_eq(next_beat, now + SEC(10));
    woke = gf_park_blocking_woke(now + SEC(60), now + SEC(60), 0, &next_beat, 1);
    ck_assert_int_eq(woke, GF_PARK_WOKE_CHANGE | GF_PARK_WOKE_DEADLINE | GF_PARK_WOKE_STOP);
}
END_TEST

Suite *park_suite(void)
{
    Suite *s = suite_create("park");
    TCase *tc = tcase_create("park");
    tcase_add_test(tc, spread_in_second_half);
    tcase_add_test(tc, backstop_and_look);
    tcase_add_test(tc, first_times);
    tcase_add_test(tc, settled_waits_for_the_mpm);
    tcase_add_test(tc, add_up_to_the_limit);
    tcase_add_test(tc, changed_by_id);
    tcase_add_test(tc, scan_marks_by_time);
    tcase_add_test(tc, hand_over_in_batches);
    tcase_add_test(tc, hand_over_waits_and_retries);
    tcase_add_test(tc, dead_records_freed_off_the_queue);
    tcase_add_test(tc, repark_sets_the_clock);
    tcase_add_test(tc, timeout_of_the_poll);
    tcase_add_test(tc, stop_hands_the_settled);
    tcase_add_test(tc, blocking_waits);
    suite_add_tcase(s, tc);
    return s;
}
