/* SPDX-License-Identifier: Apache-2.0 */
/* test_limit_gate.c: a provider's gate over its shared slot
 * (core/gf_limit_gate.h): what a claim may do, what its answer leaves,
 * who is woken, the pause of a 429, the slots' assignment. */
#include <string.h>
#include <apr_strings.h>

#include "test_core.h"
#include "core/gf_error.h"
#include "core/gf_limit_gate.h"

#define SEC(s) apr_time_from_sec(s)
#define MS(s) apr_time_from_msec(s)

/* Process 99 is dead, every other alive. */
static int alive(apr_int32_t pid, void *baton)
{
    (void)baton;
    return pid != 99;
}

static gf_limit_slot_t *new_slot(const char *key)
{
    gf_limit_slot_t *slot = apr_pcalloc(test_pool, sizeof(*slot));
    apr_cpystrn(slot->key, key, sizeof(slot->key));
    return slot;
}

static gf_limit_who_t who_is(apr_int32_t pid)
{
    gf_limit_who_t w;
    w.pid = pid;
    w.alive = alive;
    w.baton = NULL;
    return w;
}

START_TEST(gate_per_node_takes_places)
{
    gf_limit_conf_t c;
    gf_limit_slot_t *slot = new_slot("/a");
    gf_limit_who_t me = who_is(10), dead = who_is(99);
    int taken = 0;

    memset(&c, 0, sizeof(c));
    c.max_concurrent = 2;
    c.per_node = 1;
    ck_assert(!gf_limit_per_site(&c));
    /* Up to want places, no more than the cap. */
    ck_assert(gf_limit_gate_decide(slot, &c, SEC(100), 0, 5, &me, &taken));
    ck_assert_int_eq(taken, 2);
    ck_assert_int_eq(gf_limit_gate_room(&c, taken, 5), 2);
    ck_assert_int_eq(gf_limit_gate_room(&c, taken, 1), 1);
    taken = 0;
    ck_assert(!gf_limit_gate_decide(slot, &c, SEC(100), 0, 1, &me, &taken));
    ck_assert_int_eq(taken, 0);
    ck_assert(!gf_limit_slot_may_wake(slot, &c, SEC(100)));
    /* A dead holder's places come back, at most once a second. */
    gf_limit_give(&slot->st, 10);
    gf_limit_give(&slot->st, 10);
    ck_assert(gf_limit_slot_take(&c, &slot->st, SEC(101), &dead));
    ck_assert(gf_limit_slot_take(&c, &slot->st, SEC(101), &dead));
    ck_assert(gf_limit_slot_take(&c, &slot->st, SEC(101), &me));   /* the dead one's freed */
    ck_assert(slot->st.reaped_at == SEC(101));
    ck_assert(gf_limit_slot_take(&c, &slot->st, SEC(101), &me));
    ck_assert(!gf_limit_slot_take(&c, &slot->st, SEC(101), &me));
    gf_limit_give(&slot->st, 10);
    gf_limit_give(&slot->st, 10);
    ck_assert(gf_limit_slot_take(&c, &slot->st, SEC(101), &dead));
    ck_assert(gf_limit_slot_take(&c, &slot->st, SEC(101), &dead));
    /* Not again within the second. */
    ck_assert(!gf_limit_slot_take(&c, &slot->st, SEC(101) + MS(999), &me));
    ck_assert(gf_limit_slot_take(&c, &slot->st, SEC(102), &me));
}
END_TEST

START_TEST(gate_without_limits_and_paused)
{
    gf_limit_conf_t c;
    gf_limit_slot_t *slot = new_slot("/a");
    gf_limit_who_t me = who_is(10);
    apr_time_t next;
    int taken = 0;

    memset(&c, 0, sizeof(c));
    ck_assert(gf_limit_gate_decide(slot, &c, SEC(100), 0, 3, &me, &taken));
    ck_assert_int_eq(taken, 0);
    ck_assert_int_eq(gf_limit_gate_room(&c, 0, 3), 3);
    ck_assert(gf_limit_slot_hold(&c, &slot->st, SEC(100), &me, &next));
    /* A pause shuts every gate, extends, never shortens. */
    ck_assert(gf_limit_slot_pause(slot, SEC(130)));
    ck_assert(!gf_limit_slot_pause(slot, SEC(120)));
    ck_assert(slot->st.paused_until == SEC(130));
    ck_assert(slot->blocked_until == SEC(130));
    ck_assert(!gf_limit_gate_decide(slot, &c, SEC(100), 1, 3, &me, &taken));
    ck_assert(!gf_limit_slot_may_wake(slot, &c, SEC(129)));
    ck_assert(gf_limit_slot_may_wake(slot, &c, SEC(130)));
    ck_assert(!gf_limit_slot_hold(&c, &slot->st, SEC(100), &me, &next));
    ck_assert(next == SEC(130));
    /* The row waits until the pause ends, at least a second, at most
     * GF_LIMIT_PAUSE_MAX. */
    ck_assert(gf_limit_hold_defer(0, next, SEC(100)) == SEC(30));
    ck_assert(gf_limit_hold_defer(0, SEC(100) + MS(200), SEC(100)) == SEC(1));
    ck_assert(gf_limit_hold_defer(1, next, SEC(100)) == SEC(1));
    ck_assert(gf_limit_hold_defer(0, SEC(100) + SEC(1000), SEC(100)) == GF_LIMIT_PAUSE_MAX);
}
END_TEST

START_TEST(gate_per_site_remembers)
{
    gf_limit_conf_t c;
    gf_limit_slot_t *slot = new_slot("/a");
    gf_limit_who_t me = who_is(10);
    apr_time_t until, now = SEC(1000);
    int taken = 0;

    memset(&c, 0, sizeof(c));
    c.max_concurrent = 4;
    ck_assert(gf_limit_per_site(&c));
    ck_assert(gf_limit_gate_decide(slot, &c, now, 0, 3, &me, &taken));
    ck_assert_int_eq(taken, 0);   /* the claim statement takes them */
    ck_assert_int_eq(gf_limit_gate_room(&c, 0, 3), 3);
    /* "full" shuts it for a second, unless a call ends here (hand_on). */
    ck_assert_int_eq(gf_limit_gate_said("full", NULL, now, &until), GF_LIMIT_SAID_FULL);
    gf_limit_slot_note(slot, GF_LIMIT_SAID_FULL, until, now);
    ck_assert(!gf_limit_gate_decide(slot, &c, now + MS(999), 0, 1, &me, &taken));
    ck_assert(gf_limit_gate_decide(slot, &c, now + MS(999), 1, 1, &me, &taken));
    ck_assert(gf_limit_gate_decide(slot, &c, now + SEC(1), 0, 1, &me, &taken));
    /* Once it lapsed, one look for the whole httpd. */
    ck_assert(!gf_limit_slot_may_wake(slot, &c, now + MS(500)));
    ck_assert(gf_limit_slot_may_wake(slot, &c, now + SEC(1)));
    ck_assert(!gf_limit_slot_may_wake(slot, &c, now + SEC(1) + MS(10)));
    ck_assert(gf_limit_slot_may_wake(slot, &c, now + SEC(2)));
    /* "open" forgets the full and the look. */
    ck_assert_int_eq(gf_limit_gate_said("open", NULL, now, &until), GF_LIMIT_SAID_OPEN);
    gf_limit_slot_note(slot, GF_LIMIT_SAID_OPEN, 0, now);
    ck_assert(slot->full_until == 0 && slot->look_until == 0);
    ck_assert(gf_limit_slot_may_wake(slot, &c, now));
    /* A rate's next start: shut until then, never shortened. */
    ck_assert_int_eq(gf_limit_gate_said("rate", "1000500", now, &until), GF_LIMIT_SAID_BLOCKED);
    ck_assert(until == MS(1000500));
    gf_limit_slot_note(slot, GF_LIMIT_SAID_BLOCKED, until, now);
    gf_limit_slot_note(slot, GF_LIMIT_SAID_BLOCKED, now + MS(100), now);
    ck_assert(slot->blocked_until == MS(1000500));
    ck_assert(!gf_limit_gate_decide(slot, &c, now, 0, 1, &me, &taken));
    ck_assert(!gf_limit_slot_may_wake(slot, &c, now));
    ck_assert(gf_limit_slots_next_unblock(slot, 1, now) == MS(1000500));
    ck_assert(gf_limit_slots_next_unblock(slot, 1, MS(1000500)) == 0);
    /* A start that passed: very soon; one too far: capped. */
    gf_limit_gate_said("paused", "5", now, &until);
    ck_assert(until == now + MS(2));
    gf_limit_gate_said("paused", NULL, now, &until);
    ck_assert(until == now + MS(2));
    gf_limit_gate_said("rate", "999999999999", now, &until);
    ck_assert(until == now + GF_LIMIT_PAUSE_MAX);
    ck_assert_int_eq(gf_limit_gate_said("busy", NULL, now, &until), GF_LIMIT_SAID_BLOCKED);
    ck_assert(until == now + GF_LIMIT_BUSY_AGAIN);
    ck_assert_int_eq(gf_limit_gate_said("what", NULL, now, &until), GF_LIMIT_SAID_NOTHING);
    ck_assert_int_eq(gf_limit_gate_said(NULL, NULL, now, &until), GF_LIMIT_SAID_NOTHING);
}
END_TEST

START_TEST(gate_no_room_and_freed)
{
    gf_limit_slot_t *slot = new_slot("/a");
    gf_limit_conf_t c;
    memset(&c, 0, sizeof(c));
    c.max_concurrent = 1;
    /* With a rate: until its next start may have come. */
    gf_limit_slot_no_room(slot, MS(300), SEC(10));
    ck_assert(slot->blocked_until == SEC(10) + MS(300));
    ck_assert(slot->full_until == 0);
    gf_limit_slot_no_room(slot, MS(100), SEC(10));
    ck_assert(slot->blocked_until == SEC(10) + MS(300));
    /* Without: full for a second. */
    gf_limit_slot_no_room(slot, 0, SEC(20));
    ck_assert(slot->full_until == SEC(21));
    ck_assert(!gf_limit_slot_may_wake(slot, &c, SEC(20)));
    gf_limit_slot_freed(slot);
    ck_assert(slot->full_until == 0);
    ck_assert(gf_limit_slot_may_wake(slot, &c, SEC(20)));
    /* Free slots do not count for the next unblock. */
    slot->key[0] = '\0';
    ck_assert(gf_limit_slots_next_unblock(slot, 1, SEC(1)) == 0);
}
END_TEST

START_TEST(pause_of_a_result)
{
    gf_provider_result_t res;
    memset(&res, 0, sizeof(res));
    ck_assert(gf_limit_pause_of(NULL, SEC(5)) == 0);
    ck_assert(gf_limit_pause_of(&res, SEC(5)) == 0);
    res.error_code = GF_JOB_RATE_LIMIT;
    ck_assert(gf_limit_pause_of(&res, SEC(5)) == 0);   /* no Retry-After */
    res.retry_after = SEC(7);
    ck_assert(gf_limit_pause_of(&res, SEC(5)) == SEC(12));
    res.retry_after = SEC(7000);
    ck_assert(gf_limit_pause_of(&res, SEC(5)) == SEC(5) + GF_LIMIT_PAUSE_MAX);
    res.error_code = GF_JOB_API;
    ck_assert(gf_limit_pause_of(&res, SEC(5)) == 0);
}
END_TEST

START_TEST(averages_and_reaps)
{
    gf_limit_slot_t *slot = new_slot("/a");
    gf_limit_who_t me = who_is(10);
    gf_limit_average_in(&slot->call_ms, SEC(4));
    ck_assert_uint_eq(slot->call_ms, 4000);
    gf_limit_average_in(&slot->call_ms, SEC(8));
    ck_assert_uint_eq(slot->call_ms, 5000);
    /* Never 0 once written: 0 means none yet. */
    gf_limit_average_in(&slot->job_ms, 0);
    ck_assert_uint_eq(slot->job_ms, 1);
    /* The dead holders' calls go, at most once a second. */
    ck_assert(gf_limit_hold(&slot->calls, 99));
    ck_assert(gf_limit_hold(&slot->calls, 10));
    slot->calls_reaped_at = SEC(10);
    gf_limit_slot_calls_reap(slot, SEC(10) + MS(999), &me);
    ck_assert_uint_eq(slot->calls.open, 2);
    gf_limit_slot_calls_reap(slot, SEC(11), &me);
    ck_assert_uint_eq(slot->calls.open, 1);
    ck_assert(slot->calls_reaped_at == SEC(11));
}
END_TEST

static int declared_ab(const char *key, void *baton)
{
    (void)baton;
    return !strcmp(key, "/a") || !strcmp(key, "/b");
}

START_TEST(slots_assigned)
{
    gf_limit_slot_t *slots = apr_pcalloc(test_pool, 3 * sizeof(*slots));
    gf_limit_who_t me = who_is(10);
    ck_assert_int_eq(gf_limit_slot_for(slots, 3, "/a", declared_ab, NULL, &me), 0);
    ck_assert_int_eq(gf_limit_slot_for(slots, 3, "/old", declared_ab, NULL, &me), 1);
    ck_assert_int_eq(gf_limit_slot_for(slots, 3, "/a", declared_ab, NULL, &me), 0);
    slots[0].calls_told = 7;
    ck_assert_int_eq(gf_limit_slot_for(slots, 3, "/b", declared_ab, NULL, &me), 2);
    /* Full: "/old" is no longer declared, but a call of it is open. */
    ck_assert(gf_limit_hold(&slots[1].calls, 10));
    ck_assert_int_eq(gf_limit_slot_for(slots, 3, "/c", declared_ab, NULL, &me), -1);
    /* Its holder died: the slot is "/c"'s now, emptied. */
    gf_limit_unhold(&slots[1].calls, 10);
    ck_assert(gf_limit_hold(&slots[1].st.calls, 99));
    ck_assert_int_eq(gf_limit_slot_for(slots, 3, "/c", declared_ab, NULL, &me), 1);
    ck_assert_str_eq(slots[1].key, "/c");
    ck_assert_uint_eq(slots[1].st.calls.open, 0);
    /* A slot of its own keeps its state. */
    ck_assert_uint_eq(slots[0].calls_told, 7);
}
END_TEST

START_TEST(health_json)
{
    gf_limit_conf_t c;
    json_object *o;
    memset(&c, 0, sizeof(c));
    c.max_concurrent = 3;
    c.rate_n = 10;
    c.rate_window = SEC(60);
    o = gf_limit_health_json(test_pool, &c, 2, SEC(100), SEC(50));
    ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                     "{\"maxConcurrent\":3,\"maxJobs\":null,\"rate\":\"10\\/60\",\"scope\":"
                     "\"site\",\"open\":2,\"pausedUntil\":\"1970-01-01T00:01:40Z\"}");
    json_object_put(o);
    c.per_node = 1;
    c.max_concurrent = 0;
    c.rate_n = 0;
    c.max_jobs = 4;
    o = gf_limit_health_json(test_pool, &c, 0, SEC(100), SEC(100));
    ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                     "{\"maxConcurrent\":null,\"maxJobs\":4,\"rate\":null,\"scope\":\"node\","
                     "\"open\":0,\"pausedUntil\":null}");
    json_object_put(o);
    ck_assert_str_eq(gf_limit_paused_text(test_pool, SEC(12) + MS(250), SEC(10)), "2.250");
    ck_assert_str_eq(gf_limit_paused_text(test_pool, SEC(10), SEC(10)), "0.000");
}
END_TEST

Suite *limit_gate_suite(void)
{
    Suite *s = suite_create("limit_gate");
    TCase *tc = tcase_create("limit_gate");
    tcase_add_test(tc, gate_per_node_takes_places);
    tcase_add_test(tc, gate_without_limits_and_paused);
    tcase_add_test(tc, gate_per_site_remembers);
    tcase_add_test(tc, gate_no_room_and_freed);
    tcase_add_test(tc, pause_of_a_result);
    tcase_add_test(tc, averages_and_reaps);
    tcase_add_test(tc, slots_assigned);
    tcase_add_test(tc, health_json);
    suite_add_tcase(s, tc);
    return s;
}
