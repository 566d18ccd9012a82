/* SPDX-License-Identifier: Apache-2.0 */
/* test_round.c: which row (type, provider) a worker's claim takes next
 * and when a worker looks again (core/gf_round.h). */
#include <string.h>

#include "test_core.h"
#include "core/gf_round.h"

#define MS(m) apr_time_from_msec(m)
#define SEC(s) apr_time_from_sec(s)

static void skip_set(gf_skip_t *s, const char *names)
{
    s->names[0] = '\0';
    gf_round_skip_add(s, names);
}

START_TEST(skip_list)
{
    gf_skip_t s;
    char big[GF_SKIP_MAX];
    const char *names[GF_ROUND_NAMES_MAX];
    int n;

    skip_set(&s, "fal\nreplicate");
    ck_assert_str_eq(s.names, "fal\nreplicate");
    ck_assert(gf_round_skip_has(&s, "fal"));
    ck_assert(gf_round_skip_has(&s, "replicate"));
    /* Whole names only: a prefix or a longer name is another provider. */
    ck_assert(!gf_round_skip_has(&s, "fa"));
    ck_assert(!gf_round_skip_has(&s, "replicate2"));
    ck_assert(!gf_round_skip_has(&s, ""));
    /* Added once each, in order, empty lines dropped. */
    gf_round_skip_add(&s, "local\n\nfal\nlocal");
    ck_assert_str_eq(s.names, "fal\nreplicate\nlocal");
    gf_round_skip_add(&s, NULL);
    gf_round_skip_add(&s, "");
    ck_assert_str_eq(s.names, "fal\nreplicate\nlocal");
    /* What does not fit is left out, the list stays whole. */
    memset(big, 'x', sizeof(big) - 10);
    big[sizeof(big) - 10] = '\0';
    gf_round_skip_add(&s, big);
    ck_assert_str_eq(s.names, "fal\nreplicate\nlocal");
    skip_set(&s, big);
    ck_assert_uint_eq(strlen(s.names), sizeof(big) - 10);
    gf_round_skip_add(&s, "abcdefghi");
    ck_assert_uint_eq(strlen(s.names), sizeof(big) - 10);
    gf_round_skip_add(&s, "abcdefg");
    ck_assert_uint_eq(strlen(s.names), sizeof(big) - 2);
    ck_assert(gf_round_skip_has(&s, "abcdefg"));

    skip_set(&s, "a\nb\nc");
    n = gf_round_split_names(test_pool, &s, names);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(names[0], "a");
    ck_assert_str_eq(names[2], "c");
    /* The list itself is left as it was. */
    ck_assert_str_eq(s.names, "a\nb\nc");
    s.names[0] = '\0';
    ck_assert_int_eq(gf_round_split_names(test_pool, &s, names), 0);
}
END_TEST

START_TEST(providers_in_rotation)
{
    const char *names[] = { "a", "b", "c" };
    gf_skip_t skip;
    skip.names[0] = '\0';
    /* The visit starts at the rotate-th and wraps. */
    ck_assert_str_eq(gf_round_provider(names, 3, 0, 0, &skip), "a");
    ck_assert_str_eq(gf_round_provider(names, 3, 0, 4, &skip), "b");
    ck_assert_str_eq(gf_round_provider(names, 3, 2, 4, &skip), "a");
    /* A provider found without a place this round is passed over. */
    skip_set(&skip, "b");
    ck_assert_ptr_null(gf_round_provider(names, 3, 1, 0, &skip));
    ck_assert_str_eq(gf_round_provider(names, 3, 2, 0, &skip), "c");
    ck_assert_ptr_null(gf_round_provider(names, 0, 0, 0, &skip));
}
END_TEST

START_TEST(due_rows)
{
    gf_due_t d;
    memset(&d, 0, sizeof(d));
    gf_round_due_mark(&d, "fal", "new");
    gf_round_due_mark(&d, "fal", "poll");
    gf_round_due_mark(&d, "local", "anything");
    gf_round_due_mark(&d, "fal", "new");
    ck_assert_int_eq(d.any, 1);
    ck_assert_str_eq(d.fresh.names, "fal\nlocal");
    ck_assert_str_eq(d.polls.names, "fal");
}
END_TEST

START_TEST(gates)
{
    ck_assert_str_eq(gf_round_gate_label(NULL), "other");
    ck_assert_str_eq(gf_round_gate_label("open"), "empty");
    ck_assert_str_eq(gf_round_gate_label("full"), "full");
    ck_assert_str_eq(gf_round_gate_label("busy"), "busy");
    /* Any word but "open" leaves the provider alone for the round. */
    ck_assert(!gf_round_gate_skips(NULL));
    ck_assert(!gf_round_gate_skips("open"));
    ck_assert(gf_round_gate_skips("full"));
    ck_assert(gf_round_gate_skips("rate"));
    ck_assert(gf_round_gate_skips("busy"));
    ck_assert(gf_round_gate_busy("busy"));
    ck_assert(!gf_round_gate_busy("full"));
    ck_assert(!gf_round_gate_busy(NULL));
    /* 1, 2, 4 ... 64 ms: seven waits, 127 ms in all, then the rows stand. */
    {
        apr_interval_time_t sum = 0, w;
        int tries;
        for (tries = 1; (w = gf_round_busy_again("busy", tries, 0)) != 0; tries++) {
            ck_assert(w == MS(1) << (tries - 1));
            sum += w;
        }
        ck_assert_int_eq(tries, GF_ROUND_BUSY_TRIES);
        ck_assert(sum == MS(127));
    }
    ck_assert(gf_round_busy_again("full", 1, 0) == 0);
    ck_assert(gf_round_busy_again(NULL, 1, 0) == 0);
    ck_assert(gf_round_busy_again("busy", 1, 1) == 0);
}
END_TEST

START_TEST(claimed_batch)
{
    apr_time_t now = SEC(1000), stop = gf_round_stop_by(now, 60);
    /* Half of the lease. */
    ck_assert(stop == now + SEC(30));
    ck_assert(gf_round_stop_by(now, 1) == now + MS(500));
    /* The first row run here always runs; later ones until half the
     * lease or the child stops. */
    ck_assert(!gf_round_give_back(3, 3, stop + SEC(5), stop, 1));
    ck_assert(!gf_round_give_back(4, 3, stop - 1, stop, 0));
    ck_assert(gf_round_give_back(4, 3, stop, stop, 0));
    ck_assert(gf_round_give_back(4, 3, now, stop, 1));
    ck_assert_int_eq(gf_round_batch_result(1, 1), 1);
    ck_assert_int_eq(gf_round_batch_result(0, 1), -1);
    ck_assert_int_eq(gf_round_batch_result(0, 0), 0);
    /* How many rows a claim asks for: polls up to 16, new work 16 or 8
     * with a loop for a plain provider, one when handed on, for a group,
     * a provider with limits or without a loop; never more than the
     * places free, none when none is. */
    ck_assert_int_eq(gf_round_claim_want(1, 40, 1, 0, 1), GF_ROUND_POLL_BATCH);
    ck_assert_int_eq(gf_round_claim_want(1, 3, 0, 1, 0), 3);
    ck_assert_int_eq(GF_ROUND_FRESH_BATCH, 16);
    ck_assert_int_eq(GF_ROUND_FRESH_SMALL, 8);
    /* A worker reserves GF_ROUND_POLL_BATCH places for a claim: a batch
     * larger than that would never be asked for. */
    ck_assert_int_le(GF_ROUND_FRESH_BATCH, GF_ROUND_POLL_BATCH);
    ck_assert_int_eq(gf_round_claim_want(0, 40, 1, 0, 1), 16);
    ck_assert_int_eq(gf_round_claim_want(0, 16, 1, 0, 1), 16);
    ck_assert_int_eq(gf_round_claim_want(0, 15, 1, 0, 1), 8);  /* the small batch */
    ck_assert_int_eq(gf_round_claim_want(0, 8, 1, 0, 1), 8);
    ck_assert_int_eq(gf_round_claim_want(0, 7, 1, 0, 1), 1);   /* a batch whole or one */
    ck_assert_int_eq(gf_round_claim_want(0, 5, 1, 0, 1), 1);
    ck_assert_int_eq(gf_round_claim_want(0, 40, 0, 0, 1), 1);
    ck_assert_int_eq(gf_round_claim_want(0, 40, 1, 1, 1), 1);
    ck_assert_int_eq(gf_round_claim_want(0, 40, 1, 0, 0), 1);
    ck_assert_int_eq(gf_round_claim_want(0, 0, 1, 0, 1), 0);
    ck_assert_int_eq(gf_round_claim_want(1, 0, 1, 0, 1), 0);
}
END_TEST

START_TEST(visit_order)
{
    int prio[] = { 0, 5, 0, 5, 1 }, order[5], i;
    /* Higher first; within a priority the rotation's order, stable. */
    gf_round_visit_order(prio, 5, 0, order);
    ck_assert_int_eq(order[0], 1);
    ck_assert_int_eq(order[1], 3);
    ck_assert_int_eq(order[2], 4);
    ck_assert_int_eq(order[3], 0);
    ck_assert_int_eq(order[4], 2);
    gf_round_visit_order(prio, 5, 2, order);
    ck_assert_int_eq(order[0], 3);
    ck_assert_int_eq(order[1], 1);
    ck_assert_int_eq(order[2], 4);
    ck_assert_int_eq(order[3], 2);
    ck_assert_int_eq(order[4], 0);
    /* One priority: a plain rotation, every type first in turn. */
    {
        int same[] = { 0, 0, 0 }, o[3];
        for (i = 0; i < 6; i++) {
            gf_round_visit_order(same, 3, i, o);
            ck_assert_int_eq(o[0], i % 3);
            ck_assert_int_eq(o[1], (i + 1) % 3);
            ck_assert_int_eq(o[2], (i + 2) % 3);
        }
    }
}
END_TEST

/* A round of three types: 0 of priority 1, 1 and 2 of priority 0. */
static void round_of_three(gf_round_t *r, int start)
{
    ck_assert(gf_round_alloc(r, 3));
    r->priority[0] = 1;
    r->priority[1] = 0;
    r->priority[2] = 0;
    r->due[0].any = r->due[1].any = r->due[2].any = 1;
    gf_round_begin(r, 3, start, 1);
}

START_TEST(round_visit)
{
    gf_round_t r;
    int k;

    round_of_three(&r, 0);
    /* The higher type first, never asked about types above it. */
    ck_assert_int_eq(k = gf_round_next(&r), 0);
    ck_assert(!gf_round_asks_higher(&r, k));
    ck_assert_int_eq(gf_round_claimed(&r, k, 0), 0);
    ck_assert_int_eq(k = gf_round_next(&r), 1);
    /* Below the top, with a higher type: the glue probes again. */
    ck_assert(gf_round_asks_higher(&r, k));
    ck_assert(!gf_round_higher_due(&r, k));
    /* Queued meanwhile: the higher type is due again, tried once. */
    r.due[0].any = 1;
    ck_assert(gf_round_higher_due(&r, k));
    gf_round_top(&r);
    ck_assert_int_eq(k = gf_round_next(&r), 0);
    ck_assert_int_eq(gf_round_claimed(&r, k, 0), 0);
    /* Twice without work: not again this round, however due. */
    r.due[0].any = 1;
    ck_assert(!gf_round_higher_due(&r, 1));
    ck_assert_int_eq(k = gf_round_next(&r), 1);
    /* A claim that took work: from the top again. */
    ck_assert_int_eq(gf_round_claimed(&r, k, 1), 1);
    ck_assert_int_eq(k = gf_round_next(&r), 1);
    ck_assert_int_eq(gf_round_claimed(&r, k, -1), 0);
    ck_assert_int_eq(k = gf_round_next(&r), 2);
    ck_assert_int_eq(gf_round_claimed(&r, k, 0), 0);
    ck_assert_int_eq(gf_round_next(&r), -1);
    /* Worked, with trouble on the way: worked. */
    ck_assert_int_eq(gf_round_result(&r), 1);
    gf_round_free(&r);
}
END_TEST

START_TEST(round_ends)
{
    gf_round_t r;
    int k, i;

    /* A failed probe: trouble, nothing due. */
    round_of_three(&r, 0);
    gf_round_begin(&r, 3, 0, 0);
    ck_assert_int_eq(gf_round_next(&r), -1);
    ck_assert_int_eq(gf_round_result(&r), -1);
    gf_round_free(&r);
    /* Nothing taken, no trouble: 0. */
    round_of_three(&r, 1);
    while ((k = gf_round_next(&r)) >= 0) gf_round_claimed(&r, k, 0);
    ck_assert_int_eq(gf_round_result(&r), 0);
    /* The rotation within a priority: start 2 visits type 2 before 1. */
    gf_round_begin(&r, 3, 2, 1);
    r.due[0].any = 0;
    r.due[1].any = r.due[2].any = 1;
    ck_assert_int_eq(gf_round_next(&r), 2);
    /* A long queue: GF_ROUND_CLAIMS claims end the round, more due. */
    for (i = 1; i < GF_ROUND_CLAIMS; i++) ck_assert_int_eq(gf_round_claimed(&r, 2, 1), 1);
    ck_assert_int_eq(gf_round_claimed(&r, 2, 1), -1);
    ck_assert_int_eq(gf_round_result(&r), 2);
    gf_round_free(&r);
}
END_TEST

START_TEST(round_found_full)
{
    gf_round_t r;
    gf_skip_t skip;
    apr_size_t before;

    round_of_three(&r, 0);
    /* The higher type found fal full: a lower claim leaves fal to it. */
    before = gf_round_skip_of_higher(&r, 0, &skip);
    ck_assert_uint_eq(before, 0);
    gf_round_skip_add(&skip, "fal");
    gf_round_found(&r, 0, &skip, before);
    ck_assert_str_eq(r.found[0].names, "fal");
    before = gf_round_skip_of_higher(&r, 1, &skip);
    ck_assert_str_eq(skip.names, "fal");
    ck_assert_uint_eq(before, 3);
    /* What the lower claim found (after what it was given) is its own,
     * and not passed on within its priority. */
    gf_round_skip_add(&skip, "local");
    gf_round_found(&r, 1, &skip, before);
    ck_assert_str_eq(r.found[1].names, "local");
    gf_round_skip_of_higher(&r, 2, &skip);
    ck_assert_str_eq(skip.names, "fal");
    gf_round_skip_of_higher(&r, 0, &skip);
    ck_assert_str_eq(skip.names, "");
    /* A new round forgets it. */
    gf_round_begin(&r, 3, 0, 1);
    ck_assert_str_eq(r.found[0].names, "");
    gf_round_free(&r);
}
END_TEST

START_TEST(looks)
{
    gf_round_looks_t l;
    int i;
    memset(&l, 0, sizeof(l));
    ck_assert(gf_round_looks_take(&l, SEC(100)) == 0);
    ck_assert(gf_round_looks_sleep(&l, SEC(1), SEC(5)) == SEC(5));
    /* Earliest first; only a new earliest wakes a sleeper. */
    ck_assert_int_eq(gf_round_looks_add(&l, SEC(20)), 1);
    ck_assert_int_eq(gf_round_looks_add(&l, SEC(30)), 0);
    ck_assert_int_eq(gf_round_looks_add(&l, SEC(10)), 1);
    ck_assert_int_eq(gf_round_looks_add(&l, SEC(20)), 0);   /* asked already */
    ck_assert_int_eq(l.n, 3);
    /* A sleep is cut short to the earliest, never below 0. */
    ck_assert(gf_round_looks_sleep(&l, SEC(8), SEC(5)) == SEC(2));
    ck_assert(gf_round_looks_sleep(&l, SEC(8), SEC(1)) == SEC(1));
    ck_assert(gf_round_looks_sleep(&l, SEC(12), SEC(1)) == 0);
    /* Taken only when come, earliest first. */
    ck_assert(gf_round_looks_take(&l, SEC(9)) == 0);
    ck_assert(gf_round_looks_take(&l, SEC(25)) == SEC(10));
    ck_assert(gf_round_looks_take(&l, SEC(25)) == SEC(20));
    ck_assert(gf_round_looks_take(&l, SEC(25)) == 0);
    ck_assert(gf_round_looks_take(&l, APR_INT64_MAX) == SEC(30));
    ck_assert_int_eq(l.n, 0);
    /* Full: the latest gives way to a sooner one, a later one is dropped. */
    for (i = 0; i < GF_LOOK_AGAIN_MAX; i++) gf_round_looks_add(&l, SEC(100 + i));
    ck_assert_int_eq(l.n, GF_LOOK_AGAIN_MAX);
    ck_assert_int_eq(gf_round_looks_add(&l, SEC(100 + GF_LOOK_AGAIN_MAX)), 0);
    ck_assert_int_eq(gf_round_looks_add(&l, SEC(100 + GF_LOOK_AGAIN_MAX - 1)), 0);
    ck_assert_int_eq(gf_round_looks_add(&l, SEC(150) + 1), 0);
    ck_assert_int_eq(l.n, GF_LOOK_AGAIN_MAX);
    ck_assert(l.at[GF_LOOK_AGAIN_MAX - 1] == SEC(100 + GF_LOOK_AGAIN_MAX - 2));
    ck_assert_int_eq(gf_round_looks_add(&l, SEC(1)), 1);
    ck_assert(l.at[0] == SEC(1));
    ck_assert(l.at[GF_LOOK_AGAIN_MAX - 1] == SEC(100 + GF_LOOK_AGAIN_MAX - 3));
}
END_TEST

START_TEST(places_and_moments)
{
    gf_round_loop_t l;
    memset(&l, 0, sizeof(l));
    l.max_in_flight = 10;
    l.in_flight = 3;
    ck_assert_int_eq(gf_round_loop_room(&l), 7);
    ck_assert_int_eq(gf_round_loop_take(&l, 2), 2);
    ck_assert_int_eq(l.in_flight, 5);
    ck_assert_int_eq(gf_round_loop_take(&l, 16), 5);
    ck_assert_int_eq(l.in_flight, 10);
    ck_assert_int_eq(l.was_full, 0);
    /* Full: nothing taken, and the next place given back wakes a
     * worker, once. */
    ck_assert_int_eq(gf_round_loop_take(&l, 1), 0);
    ck_assert_int_eq(l.in_flight, 10);
    ck_assert_int_eq(l.was_full, 1);
    ck_assert_int_eq(gf_round_loop_give(&l, 1), 1);
    ck_assert_int_eq(gf_round_loop_give(&l, 2), 0);
    ck_assert_int_eq(l.in_flight, 7);
    /* Found full by a look at the room alone, too. */
    l.in_flight = 12;
    ck_assert_int_eq(gf_round_loop_room(&l), 0);
    ck_assert_int_eq(l.was_full, 1);
    ck_assert_int_eq(gf_round_loop_give(&l, 3), 1);
    ck_assert_int_eq(gf_round_loop_room(&l), 1);
    ck_assert_int_eq(l.was_full, 0);
    ck_assert(gf_round_sooner(0, 0) == 0);
    ck_assert(gf_round_sooner(0, 5) == 5);
    ck_assert(gf_round_sooner(5, 0) == 5);
    ck_assert(gf_round_sooner(7, 5) == 5);
    ck_assert(gf_round_sooner(5, 7) == 5);
}
END_TEST

START_TEST(wakes)
{
    int pending = 0;
    /* One at a time, at most one per worker. */
    ck_assert_int_eq(gf_round_wakes_add(&pending, 3, 0), 1);
    ck_assert_int_eq(gf_round_wakes_add(&pending, 3, 0), 1);
    ck_assert_int_eq(pending, 2);
    /* All: the rest at once. */
    ck_assert_int_eq(gf_round_wakes_add(&pending, 3, 1), 1);
    ck_assert_int_eq(pending, 3);
    ck_assert_int_eq(gf_round_wakes_add(&pending, 3, 0), 0);
    ck_assert_int_eq(gf_round_wakes_add(&pending, 3, 1), 0);
    ck_assert_int_eq(pending, 3);
    ck_assert_int_eq(gf_round_wakes_take(&pending), 1);
    ck_assert_int_eq(pending, 2);
    pending = 0;
    ck_assert_int_eq(gf_round_wakes_take(&pending), 0);
    ck_assert_int_eq(pending, 0);
    ck_assert_int_eq(gf_round_wakes_add(&pending, 4, 1), 4);
    /* No workers: nothing to wake. */
    pending = 0;
    ck_assert_int_eq(gf_round_wakes_add(&pending, 0, 0), 0);
}
END_TEST

START_TEST(work_payload)
{
    apr_size_t n;
    ck_assert_str_eq(gf_round_work_payload("image\nfal", &n), "fal");
    ck_assert_uint_eq(n, 5);
    /* An older database: the type only. */
    ck_assert_ptr_null(gf_round_work_payload("image", &n));
    ck_assert_uint_eq(n, 5);
    ck_assert_ptr_null(gf_round_work_payload("image\n", &n));
    ck_assert_uint_eq(n, 5);
    ck_assert_ptr_null(gf_round_work_payload("", &n));
    ck_assert_uint_eq(n, 0);
}
END_TEST

/* A child as the worker's clock sees it. */
static apr_time_t t_now, t_due_look, t_look_again, t_unblock, t_worked, t_next_look;
static int t_woken, t_turn, t_room, t_unblock_asked, t_worked_asked, t_sleeps;
static apr_interval_time_t t_slept;

static apr_time_t f_now(void) { return t_now; }
static apr_time_t f_take_due_look(apr_time_t now)
{
    apr_time_t at = t_due_look && t_due_look <= now ? t_due_look : 0;
    if (at) t_due_look = 0;
    return at;
}
static apr_time_t f_take_look_again(void)
{
    apr_time_t at = t_look_again;
    t_look_again = 0;
    return at;
}
static apr_time_t f_next_unblock(apr_time_t now) { (void)now; t_unblock_asked++; return t_unblock; }
static apr_time_t f_worked_at(void) { t_worked_asked++; return t_worked; }
static int f_sleep(apr_interval_time_t timeout) { t_sleeps++; t_slept = timeout; return t_woken; }
static int f_take_look(apr_time_t *next) { *next = t_next_look; return t_turn; }
static int f_room(void) { return t_room; }

static const gf_round_ops_t ops = {
    f_now, f_take_due_look, f_take_look_again, f_next_unblock, f_worked_at, f_sleep, f_take_look,
    f_room
};

static void clock_reset(void)
{
    t_now = SEC(1000);
    t_due_look = t_look_again = t_unblock = t_worked = t_next_look = 0;
    t_woken = t_turn = 0;
    t_room = 4;
    t_unblock_asked = t_worked_asked = t_sleeps = 0;
    t_slept = -1;
}

START_TEST(idle_wait)
{
    gf_round_clock_t c;
    memset(&c, 0, sizeof(c));
    clock_reset();
    /* Worker 0: the half-second look. */
    ck_assert(gf_round_idle_wait(&c, &ops) == GF_ROUND_IDLE_WAIT);
    ck_assert_int_eq(c.look, 1);
    ck_assert_int_eq(t_worked_asked, 0);
    ck_assert_int_eq(t_unblock_asked, 1);
    t_unblock_asked = 0;
    /* A look asked for: whatever its number, at that moment (1 ms at
     * least), and not the timed look. */
    c.index = 7;
    t_look_again = t_now + MS(3);
    ck_assert(gf_round_idle_wait(&c, &ops) == MS(3));
    ck_assert_int_eq(c.look, 0);
    t_look_again = t_now - SEC(1);
    ck_assert(gf_round_idle_wait(&c, &ops) == MS(1));
    ck_assert_int_eq(t_unblock_asked, 0);
    /* Workers 0 and 1 wake when a place may come back, within the half
     * second; the others do not ask. */
    c.index = 1;
    t_unblock = t_now + MS(200);
    ck_assert(gf_round_idle_wait(&c, &ops) == MS(200));
    ck_assert_int_eq(c.look, 0);
    t_unblock = t_now + MS(500);
    t_worked = t_now - SEC(60);
    ck_assert(gf_round_idle_wait(&c, &ops) == GF_ROUND_IDLE_QUIET);
    ck_assert_int_eq(c.look, 1);
    c.index = 2;
    t_unblock = t_now + MS(100);
    t_unblock_asked = 0;
    /* The others: every 2 s while work comes (not a timed look)... */
    t_worked = t_now - SEC(5) + 1;
    ck_assert(gf_round_idle_wait(&c, &ops) == GF_ROUND_IDLE_WAIT_OTHERS);
    ck_assert_int_eq(c.look, 0);
    ck_assert_int_eq(t_unblock_asked, 0);
    /* ... now and then, a timed look, when none came. */
    t_worked = t_now - SEC(5);
    ck_assert(gf_round_idle_wait(&c, &ops) == GF_ROUND_IDLE_QUIET);
    ck_assert_int_eq(c.look, 1);
}
END_TEST

START_TEST(round_due)
{
    gf_round_clock_t c;
    memset(&c, 0, sizeof(c));
    clock_reset();
    /* Its time came, room in the loop, not a timed look: a round. */
    ck_assert_int_eq(gf_round_due(&c, &ops), 1);
    /* Not yet: it sleeps until then (worker 0: or its sweep). */
    c.round_at = t_now + MS(400);
    c.next_sweep = t_now + MS(100);
    ck_assert_int_eq(gf_round_due(&c, &ops), 0);
    ck_assert(t_slept == MS(100));
    ck_assert(c.round_at == t_now + MS(400));
    c.index = 3;
    c.look = 1;
    t_woken = 1;
    ck_assert_int_eq(gf_round_due(&c, &ops), 0);
    ck_assert(t_slept == MS(400));
    /* Woken for a round: at once, and not the timed look. */
    ck_assert(c.round_at == 0);
    ck_assert_int_eq(c.look, 0);
    /* A look asked for has come: now, without sleeping. */
    c.round_at = t_now + SEC(10);
    t_due_look = t_now - 1;
    t_sleeps = 0;
    ck_assert_int_eq(gf_round_due(&c, &ops), 0);
    ck_assert(c.round_at == t_now);
    ck_assert_int_eq(t_sleeps, 0);
    ck_assert_int_eq(gf_round_due(&c, &ops), 1);
    /* A timed look that another child took: worker 0 waits for the next
     * turn, the others a quiet while. */
    c.look = 1;
    c.index = 0;
    t_next_look = t_now + MS(300);
    ck_assert_int_eq(gf_round_due(&c, &ops), 0);
    ck_assert(c.round_at == t_now + MS(300));
    c.round_at = 0;
    c.index = 2;
    ck_assert_int_eq(gf_round_due(&c, &ops), 0);
    ck_assert(c.round_at == t_now + GF_ROUND_IDLE_QUIET);
    /* Its turn: a round, the look done. */
    c.round_at = 0;
    t_turn = 1;
    ck_assert_int_eq(gf_round_due(&c, &ops), 1);
    ck_assert_int_eq(c.look, 0);
    /* A full loop: no round, a landing wakes it (or the half second). */
    t_room = 0;
    c.look = 1;
    ck_assert_int_eq(gf_round_due(&c, &ops), 0);
    ck_assert(c.round_at == t_now + GF_ROUND_IDLE_WAIT);
    ck_assert_int_eq(c.look, 0);
}
END_TEST

START_TEST(round_ended)
{
    gf_round_clock_t c;
    memset(&c, 0, sizeof(c));
    clock_reset();
    c.round_at = 5;
    gf_round_ended(&c, &ops, 1, 1);
    ck_assert(c.round_at == 0);
    gf_round_ended(&c, &ops, 0, 1);
    ck_assert(c.round_at == t_now + GF_ROUND_TROUBLE_WAIT);
    gf_round_ended(&c, &ops, 0, 0);
    ck_assert(c.round_at == t_now + GF_ROUND_IDLE_WAIT);
    ck_assert_int_eq(c.look, 1);
}
END_TEST

Suite *round_suite(void)
{
    Suite *s = suite_create("round");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, skip_list);
    tcase_add_test(tc, providers_in_rotation);
    tcase_add_test(tc, due_rows);
    tcase_add_test(tc, gates);
    tcase_add_test(tc, claimed_batch);
    tcase_add_test(tc, visit_order);
    tcase_add_test(tc, round_visit);
    tcase_add_test(tc, round_ends);
    tcase_add_test(tc, round_found_full);
    tcase_add_test(tc, looks);
    tcase_add_test(tc, places_and_moments);
    tcase_add_test(tc, wakes);
    tcase_add_test(tc, work_payload);
    tcase_add_test(tc, idle_wait);
    tcase_add_test(tc, round_due);
    tcase_add_test(tc, round_ended);
    suite_add_tcase(s, tc);
    return s;
}
