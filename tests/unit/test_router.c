/* SPDX-License-Identifier: Apache-2.0 */
/* test_router.c: groups of equivalent providers: the chain entry's form
 * (providers/gf_provider.h) and the choice (core/gf_router.h). */
#include <string.h>

#include "test_core.h"
#include "core/gf_router.h"
#include "providers/gf_provider.h"
#include "core/gf_sql.h"
#include <apr_strings.h>

START_TEST(group_entries)
{
    gf_chain_entry_t e, again;
    const gf_chain_member_t *m;
    const char *stored;
    ck_assert_ptr_null(gf_chain_entry_parse(test_pool, "{fal:fal-ai/flux replicate=3}@latency", &e));
    ck_assert_int_eq(e.policy, GF_GROUP_LATENCY);
    ck_assert_int_eq(e.members->nelts, 2);
    m = &APR_ARRAY_IDX(e.members, 0, gf_chain_member_t);
    ck_assert_str_eq(m->provider, "fal");
    ck_assert_str_eq(m->model, "fal-ai/flux");
    ck_assert_int_eq(m->weight, 1);
    m = &APR_ARRAY_IDX(e.members, 1, gf_chain_member_t);
    ck_assert_str_eq(m->provider, "replicate");
    ck_assert_ptr_null(m->model);
    ck_assert_int_eq(m->weight, 3);
    /* The row's form: no ',' (the chain's separator), its key first (the
     * table's trigger takes a row's cur_provider up to the first ':'), a
     * name SQL takes as it is; read back the same. */
    ck_assert_int_eq(strncmp(e.text, "group.", 6), 0);
    ck_assert_int_eq(strlen(e.provider), 16);
    ck_assert_str_eq(e.text + 17, "{fal:fal-ai/flux|replicate=3}@latency");
    ck_assert_int_eq(e.text[16], ':');
    ck_assert_int_eq(strncmp(e.text, e.provider, 16), 0);
    ck_assert_ptr_null(gf_chain_entry_parse(test_pool, e.text, &again));
    ck_assert_str_eq(again.text, e.text);
    ck_assert_str_eq(again.provider, e.provider);
    ck_assert_int_eq(again.members->nelts, 2);
    ck_assert_int_eq(APR_ARRAY_IDX(again.members, 1, gf_chain_member_t).weight, 3);
    ck_assert(gf_sql_valid_provider(e.provider));
    /* The same group, the same key; another group, another. */
    ck_assert_ptr_null(gf_chain_entry_parse(test_pool, "{fal:fal-ai/flux replicate=3}@latency", &again));
    ck_assert_str_eq(again.provider, e.provider);
    ck_assert_ptr_null(gf_chain_entry_parse(test_pool, "{fal:fal-ai/flux replicate=3}@cost", &again));
    ck_assert_str_ne(again.provider, e.provider);
    stored = e.text;
    ck_assert_ptr_null(gf_chain_entry_parse(test_pool, "local", &e));
    ck_assert_int_eq(e.policy, GF_GROUP_NONE);
    ck_assert_ptr_null(e.members);
    ck_assert_str_eq(e.text, "local");
    {
        apr_array_header_t *chain;
        const char *err = NULL;
        chain = gf_chain_parse(test_pool, apr_pstrcat(test_pool, stored, ",local", NULL), &err);
        ck_assert_ptr_nonnull(chain);
        ck_assert_int_eq(chain->nelts, 2);
        ck_assert_int_eq(APR_ARRAY_IDX(chain, 0, gf_chain_entry_t).policy, GF_GROUP_LATENCY);
    }
}
END_TEST

START_TEST(group_entries_refused)
{
    static const char *const bad[] = {
        "{a b}", "{a b}@fastest", "{a}@latency", "{a a}@latency", "{a b}@", "{a b@latency",
        "{a b=0}@latency", "{a b=1001}@latency", "{a b=x}@latency", "{a b=}@latency",
        "{a b/c}@latency", "{a b:}@latency", "{a b:m m}@latency extra", "{}@latency",
        "{a b c d e f g h i j k l m n o p q}@shuffle", "{a b}@latency,c",
        "group.x:{a}@latency", "group.x:{a|b}", "group.x y:{a|b}@cost", "group.x",
        "group.x:model", NULL
    };
    int i;
    for (i = 0; bad[i]; i++) {
        gf_chain_entry_t e;
        ck_assert_msg(gf_chain_entry_parse(test_pool, bad[i], &e) != NULL, "%s accepted", bad[i]);
    }
}
END_TEST

/* How often each member is picked over the whole range of draws. */
static void shares(gf_group_policy_t pol, const gf_group_member_t *m, int n, int *count)
{
    apr_uint32_t r;
    int i;
    for (i = 0; i < n; i++) count[i] = 0;
    for (r = 0; r < 1000; r++) {
        int k = gf_router_pick(pol, m, n, (apr_uint32_t)((double)r / 1000 * 4294967295.0));
        ck_assert(k >= 0 && k < n);
        count[k]++;
    }
}

START_TEST(group_choice)
{
    gf_group_member_t m[3];
    int c[3];
    memset(m, 0, sizeof(m));
    m[0] = (gf_group_member_t){ 1, 1, 100, 2, 0, 0 };
    m[1] = (gf_group_member_t){ 1, 1, 500, 1, 3, 0 };
    m[2] = (gf_group_member_t){ 1, 2, 500, 1, 3, 0 };
    /* latency: weight / t^2: 1/101^2 against 1/501^2 and 2/501^2. */
    shares(GF_GROUP_LATENCY, m, 3, c);
    ck_assert_msg(c[0] > 850 && c[2] > c[1] && c[1] > 0, "%d %d %d", c[0], c[1], c[2]);
    /* cost: the cheapest, ties by weight (1 : 2). */
    shares(GF_GROUP_COST, m, 3, c);
    ck_assert_msg(c[0] == 0 && c[1] > 250 && c[1] < 420 && c[2] > 580, "%d %d %d", c[0], c[1], c[2]);
    /* least-busy: the fewest open. */
    shares(GF_GROUP_LEAST_BUSY, m, 3, c);
    ck_assert_int_eq(c[0], 1000);
    /* shuffle: weight alone, 1 : 1 : 2. */
    shares(GF_GROUP_SHUFFLE, m, 3, c);
    ck_assert_msg(c[0] > 200 && c[0] < 300 && c[2] > 450 && c[2] < 550, "%d %d %d", c[0], c[1], c[2]);
    /* An unavailable member is left out while another is available. */
    m[0].available = 0;
    shares(GF_GROUP_LEAST_BUSY, m, 3, c);
    ck_assert(c[0] == 0 && c[1] + c[2] == 1000);
    /* None available: all are considered (the gates decide). */
    m[1].available = m[2].available = 0;
    shares(GF_GROUP_LEAST_BUSY, m, 3, c);
    ck_assert_int_eq(c[0], 1000);
    /* ... but a full member is worth waiting for and a broken one is
     * not: with none available, a member whose circuit is open is left
     * out while another's is closed, even the least busy ... */
    m[0].down = 1;
    shares(GF_GROUP_LEAST_BUSY, m, 3, c);
    ck_assert_msg(c[0] == 0 && c[1] + c[2] == 1000, "%d %d %d", c[0], c[1], c[2]);
    /* ... and an available member goes before both. */
    m[1].available = 1;
    shares(GF_GROUP_LEAST_BUSY, m, 3, c);
    ck_assert_int_eq(c[1], 1000);
    /* Every circuit open: all are considered (the chain moves on). */
    m[1].available = 0;
    m[0].down = m[1].down = m[2].down = 1;
    shares(GF_GROUP_LEAST_BUSY, m, 3, c);
    ck_assert_int_eq(c[0], 1000);
    m[0].down = m[1].down = m[2].down = 0;
    /* Not measured yet: tried first. */
    m[0].available = m[1].available = m[2].available = 1;
    m[2].latency_ms = -1;
    shares(GF_GROUP_LATENCY, m, 3, c);
    ck_assert_int_eq(c[2], 1000);
    m[1].cost = -1;
    shares(GF_GROUP_COST, m, 3, c);
    ck_assert_int_eq(c[1], 1000);
    ck_assert_int_eq(gf_router_pick(GF_GROUP_SHUFFLE, m, 0, 0), -1);
    ck_assert_int_eq(gf_router_pick(GF_GROUP_SHUFFLE, m, 3, 0xffffffffu), 2);
}
END_TEST

START_TEST(group_average)
{
    double a = gf_router_average(-1, 1000);
    int i;
    ck_assert(a == 1000);
    /* A provider that became 10x faster: 97 % of the change after 10 calls. */
    for (i = 0; i < 10; i++) a = gf_router_average(a, 100);
    ck_assert_msg(a < 100 + 0.03 * 900 + 1 && a > 100, "%f", a);
    ck_assert_int_eq(gf_group_policy_parse("least-busy"), GF_GROUP_LEAST_BUSY);
    ck_assert_int_eq(gf_group_policy_parse("busy"), GF_GROUP_NONE);
    ck_assert_str_eq(gf_group_policy_name(GF_GROUP_SHUFFLE), "shuffle");
}
END_TEST

START_TEST(group_measures_cache)
{
    gf_router_measures_t cache[3], m;
    const char *names[] = { "fal", "replicate", "local" };
    const char *row1[] = { "replicate", "812.5", "0.004", "3", NULL };
    const char *row2[] = { "local", NULL, NULL, NULL, "2" };
    const char *row3[] = { "other", "1", "1", "1", "1" };
    int slot, oldest;

    memset(cache, 0, sizeof(cache));
    gf_router_measures_init(&m);
    ck_assert(m.latency[0] == -1 && m.cost[5] == -1 && m.others[2] == 0 && m.jobs[15] == -1);
    gf_router_measures_row(&m, names, 3, row1);
    gf_router_measures_row(&m, names, 3, row2);
    gf_router_measures_row(&m, names, 3, row3);
    ck_assert(m.latency[0] == -1);
    ck_assert(m.latency[1] == 812.5 && m.cost[1] == 0.004);
    ck_assert_int_eq(m.others[1], 3);
    ck_assert_int_eq(m.jobs[1], -1);
    ck_assert(m.latency[2] == -1 && m.cost[2] == -1);
    ck_assert_int_eq(m.others[2], 0);
    ck_assert_int_eq(m.jobs[2], 2);
    ck_assert_str_eq(gf_router_join(test_pool, names, 3), "fal|replicate|local");
    ck_assert_ptr_null(gf_router_join(test_pool, names, 0));
    /* Kept for half a second, then read again in its own entry. */
    ck_assert(!gf_router_measures_find(cache, 3, "{a b}", 1000, &slot, &oldest));
    ck_assert_int_eq(slot, -1);
    ck_assert(gf_router_measures_stamp(&m, "{a b}", apr_time_from_sec(10)));
    cache[1] = m;
    cache[0].read_at = apr_time_from_sec(9);
    cache[2].read_at = apr_time_from_sec(8);
    ck_assert(gf_router_measures_find(cache, 3, "{a b}", apr_time_from_sec(10) + 499999, &slot,
                                      &oldest));
    ck_assert_int_eq(slot, 1);
    ck_assert(!gf_router_measures_find(cache, 3, "{a b}", apr_time_from_sec(10) + 500000, &slot,
                                       &oldest));
    ck_assert_int_eq(slot, 1);
    /* A group not kept goes where the oldest copy was. */
    ck_assert(!gf_router_measures_find(cache, 3, "{c d}", apr_time_from_sec(10), &slot, &oldest));
    ck_assert_int_eq(slot, -1);
    ck_assert_int_eq(oldest, 2);
    gf_router_measures_forget(cache, 3);
    ck_assert(!gf_router_measures_find(cache, 3, "{a b}", apr_time_from_sec(10), &slot, &oldest));
    /* A group's text too long to keep is not kept. */
    ck_assert(!gf_router_measures_stamp(&m, apr_psprintf(test_pool, "%01300d", 0), 1));
}
END_TEST

START_TEST(group_job_marks)
{
    gf_router_marks_t *marks = apr_pcalloc(test_pool, sizeof(*marks));
    apr_time_t t = apr_time_from_sec(100), until = 0;
    int i;

    ck_assert(gf_router_mark_room(marks, "gpu", t, &until));
    /* A hold found it full: no room for a second, or until a job ends. */
    ck_assert(!gf_router_mark_deferred(marks, "gpu", "g1", t));
    ck_assert(!gf_router_mark_room(marks, "gpu", t + 999999, &until));
    ck_assert(until == t + apr_time_from_sec(1));
    ck_assert(gf_router_mark_room(marks, "gpu", t + apr_time_from_sec(1), NULL));
    ck_assert(gf_router_mark_room(marks, "gpu", t - 1, NULL));   /* the clock stepped back */
    /* The same row back within 100 ms: it waits out the mark. */
    ck_assert(gf_router_mark_deferred(marks, "gpu", "g1", t + 99999));
    ck_assert(!gf_router_mark_deferred(marks, "gpu", "g2", t + 100000));
    ck_assert(!gf_router_mark_deferred(marks, "gpu", "g2", t + 300000));
    gf_router_mark_ended(marks, "gpu");
    ck_assert(gf_router_mark_room(marks, "gpu", t + 300000, NULL));
    gf_router_mark_ended(marks, "cpu");
    /* No entry free: no mark, and the row waits out the second. */
    for (i = 1; i < GF_ROUTER_MARKS_MAX; i++) {
        ck_assert_ptr_nonnull(gf_router_mark_full(marks, apr_itoa(test_pool, i), t));
    }
    ck_assert_ptr_null(gf_router_mark_full(marks, "one-more", t));
    ck_assert(gf_router_mark_deferred(marks, "one-more", "g3", t));
    ck_assert(gf_router_mark_room(marks, "one-more", t, NULL));
}
END_TEST

START_TEST(group_members_from_inputs)
{
    gf_router_measures_t ms;
    gf_router_input_t in[3];
    gf_group_member_t m[3];
    int i;

    gf_router_measures_init(&ms);
    memset(in, 0, sizeof(in));
    ms.cost[0] = 0.5;
    ms.others[0] = 4;
    ms.jobs[1] = 2;
    ms.latency[2] = 30;
    in[0].declared = in[1].declared = 1;
    in[0].weight = 2;
    in[0].available = in[0].closed = 1;
    in[0].calls_open = 1;
    in[1].available = in[1].closed = 1;
    in[1].max_jobs = 2;
    in[1].cost_per_call = 0.25;
    in[1].calls_open = 9;
    in[2].weight = 5;
    in[2].cost_per_call = 9;
    for (i = 0; i < 3; i++) gf_router_member(&m[i], &in[i], &ms, i);
    /* Calls open here and elsewhere; the measured cost without cost=. */
    ck_assert_int_eq(m[0].busy, 5);
    ck_assert(m[0].cost == 0.5 && m[0].available && !m[0].down && m[0].weight == 2);
    /* Jobs running fill its two slots: as busy as its jobs, not available. */
    ck_assert_int_eq(m[1].busy, 2);
    ck_assert(!m[1].available && m[1].cost == 0.25);
    /* Undeclared: down, its measures only. */
    ck_assert(m[2].down && !m[2].available && m[2].cost == -1 && m[2].latency_ms == 30);
    ck_assert(!gf_router_none_available(m, 3));
    ck_assert(gf_router_slots_taken(&in[1], &ms, 1));
    ck_assert(!gf_router_slots_taken(&in[0], &ms, 0));
    ck_assert(!gf_router_slots_taken(&in[2], &ms, 2));
    m[0].available = 0;
    ck_assert(gf_router_none_available(m, 3));
    /* Without a count, a member with max_jobs= is as busy as its calls. */
    ms.jobs[1] = -1;
    gf_router_member(&m[1], &in[1], &ms, 1);
    ck_assert_int_eq(m[1].busy, 9);
    ck_assert(m[1].available);
    /* Never an undeclared member while a declared one is. */
    memset(m, 0, sizeof(m));
    for (i = 0; i < 3; i++) m[i].weight = 1;
    m[0].down = m[1].down = 1;
    in[0].declared = in[1].declared = 0;
    in[2].declared = 1;
    ck_assert_int_eq(gf_router_pick_declared(GF_GROUP_SHUFFLE, m, in, 3, 0), 2);
    m[2].down = 1;
    m[0].down = 0;
    ck_assert_int_eq(gf_router_pick_declared(GF_GROUP_SHUFFLE, m, in, 3, 0), 2);
    ck_assert_int_eq(gf_router_pick_declared(GF_GROUP_SHUFFLE, m, in, 0, 0), -1);
    in[2].declared = 0;
    ck_assert_int_eq(gf_router_pick_declared(GF_GROUP_SHUFFLE, m, in, 3, 0), -1);
}
END_TEST

START_TEST(group_room_of_members)
{
    gf_router_room_t r[3];
    apr_time_t until = 0;
    memset(r, 0, sizeof(r));
    ck_assert(gf_router_group_room_of(r, 0, &until));   /* nothing declared: goes on */
    r[0].declared = r[0].closed = 1;
    r[0].max_jobs = 1;
    r[0].lapse = 500;
    r[1].declared = r[1].closed = 1;
    r[1].max_jobs = 2;
    r[1].lapse = 300;
    r[2].declared = 1;              /* circuit open: no room, not full */
    ck_assert(!gf_router_group_room_of(r, 3, &until));
    ck_assert(until == 300);
    r[1].room = 1;
    ck_assert(gf_router_group_room_of(r, 3, NULL));
    r[1].room = 0;
    r[1].max_jobs = 0;              /* no slots to fill */
    ck_assert(gf_router_group_room_of(r, 3, NULL));
    r[0].closed = r[1].closed = 0;  /* every circuit open */
    ck_assert(gf_router_group_room_of(r, 3, NULL));
}
END_TEST

START_TEST(group_calls_told)
{
    gf_router_told_t told[2];
    int a = 0, b = 0, c = 0, d = 0, n = 0;
    const char *names, *opens;

    gf_router_count_in(told, &n, 2, "fal", &a, 0, 2, 2);
    gf_router_count_in(told, &n, 2, "fal", &b, 1, 3, 3);
    gf_router_count_in(told, &n, 2, "fal", &b, 1, 3, 3);   /* counted once */
    gf_router_count_in(told, &n, 2, "fal", &c, 0, 7, 0);   /* its slot was counted */
    gf_router_count_in(told, &n, 2, "local", &c, 2, 0, 4);
    gf_router_count_in(told, &n, 2, "third", &d, 3, 5, 5); /* no line left */
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(told[0].open, 5);
    ck_assert_int_eq(told[0].nprovs, 2);
    ck_assert(!told[0].changed);
    ck_assert(told[1].changed && told[1].open == 0);
    ck_assert_ptr_eq(told[0].ids[1], &b);
    ck_assert(gf_router_told_args(test_pool, told, n, &names, &opens));
    ck_assert_str_eq(names, "fal|local");
    ck_assert_str_eq(opens, "5|0");
    /* Nothing open and nothing changed: nothing to write. */
    told[0].open = 0;
    told[1].changed = 0;
    ck_assert(!gf_router_told_args(test_pool, told, n, &names, &opens));
    ck_assert_ptr_null(names);
}
END_TEST

Suite *router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("router");
    tcase_add_test(tc, group_entries);
    tcase_add_test(tc, group_entries_refused);
    tcase_add_test(tc, group_choice);
    tcase_add_test(tc, group_average);
    tcase_add_test(tc, group_measures_cache);
    tcase_add_test(tc, group_job_marks);
    tcase_add_test(tc, group_members_from_inputs);
    tcase_add_test(tc, group_room_of_members);
    tcase_add_test(tc, group_calls_told);
    suite_add_tcase(s, tc);
    return s;
}
