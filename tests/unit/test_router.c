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

Suite *router_suite(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("router");
    tcase_add_test(tc, group_entries);
    tcase_add_test(tc, group_entries_refused);
    tcase_add_test(tc, group_choice);
    tcase_add_test(tc, group_average);
    suite_add_tcase(s, tc);
    return s;
}
