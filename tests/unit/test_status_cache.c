/* SPDX-License-Identifier: Apache-2.0 */
/* test_status_cache.c: the per-child table of status answers. */
#include <string.h>
#include <apr_strings.h>

#include "test_core.h"
#include "core/gf_status_cache.h"

static const int TYPE_A = 1, TYPE_B = 2;
#define ID1 "0b6f6c3e-8d1e-4c37-9a55-7d9c1f0e2a11"
#define ID2 "7f1d2c3b-4a59-4e68-8b77-6c5d4e3f2a10"

START_TEST(test_hit_needs_scope_id_and_user)
{
    gf_status_cache_t *c = gf_status_cache_create(test_pool, 64);
    const char *json = NULL, *etag = NULL;

    ck_assert_int_eq(gf_status_cache_get(c, &TYPE_A, ID1, "alice", test_pool, &json, &etag, NULL, NULL), 0);
    gf_status_cache_put(c, &TYPE_A, ID1, "alice", "{\"status\":\"completed\"}", "\"e1\"", 0, 0, gf_status_cache_version(c, ID1));
    ck_assert_int_eq(gf_status_cache_get(c, &TYPE_A, ID1, "alice", test_pool, &json, &etag, NULL, NULL), 1);
    ck_assert_str_eq(json, "{\"status\":\"completed\"}");
    ck_assert_str_eq(etag, "\"e1\"");
    /* Another user's request for the same id, or the id under another
     * type, never gets alice's answer. */
    ck_assert_int_eq(gf_status_cache_get(c, &TYPE_A, ID1, "bob", test_pool, &json, &etag, NULL, NULL), 0);
    ck_assert_int_eq(gf_status_cache_get(c, &TYPE_B, ID1, "alice", test_pool, &json, &etag, NULL, NULL), 0);
    ck_assert_int_eq(gf_status_cache_get(c, &TYPE_A, ID2, "alice", test_pool, &json, &etag, NULL, NULL), 0);
    ck_assert_int_eq(gf_status_cache_count(c), 1);
}
END_TEST

/* An answer dressed for its reader is kept with the entry under its key,
 * given only under that key, and goes with the answer it was made from:
 * a new read, a forget, another user. */
START_TEST(test_dressed_answer_goes_with_its_entry)
{
    gf_status_cache_t *c = gf_status_cache_create(test_pool, 64);
    const char *json = NULL, *etag = NULL;

    gf_status_cache_put(c, &TYPE_A, ID1, "alice", "{\"s\":1}", "\"e1\"", 0, 0, gf_status_cache_version(c, ID1));
    ck_assert_int_eq(gf_status_cache_get_dressed(c, &TYPE_A, ID1, "alice", "k1", test_pool, &json, &etag, NULL, NULL), 1);
    ck_assert_str_eq(json, "{\"s\":1}");
    /* Made from another answer than the entry's: not kept. */
    ck_assert_int_eq(gf_status_cache_dress(c, &TYPE_A, ID1, "alice", "\"old\"", "k1", "{\"s\":0,\"u\":1}", "\"d0\""), 0);
    ck_assert_int_eq(gf_status_cache_dress(c, &TYPE_A, ID1, "bob", "\"e1\"", "k1", "{\"s\":1,\"u\":1}", "\"d1\""), 0);
    ck_assert_int_eq(gf_status_cache_dress(c, &TYPE_A, ID1, "alice", "\"e1\"", "k1", "{\"s\":1,\"u\":1}", "\"d1\""), 1);
    ck_assert_int_eq(gf_status_cache_get_dressed(c, &TYPE_A, ID1, "alice", "k1", test_pool, &json, &etag, NULL, NULL), 2);
    ck_assert_str_eq(json, "{\"s\":1,\"u\":1}");
    ck_assert_str_eq(etag, "\"d1\"");
    /* Another key (tomorrow's token, another mount): the plain answer. */
    ck_assert_int_eq(gf_status_cache_get_dressed(c, &TYPE_A, ID1, "alice", "k2", test_pool, &json, &etag, NULL, NULL), 1);
    ck_assert_str_eq(etag, "\"e1\"");
    ck_assert_int_eq(gf_status_cache_get(c, &TYPE_A, ID1, "alice", test_pool, &json, &etag, NULL, NULL), 1);
    ck_assert_str_eq(etag, "\"e1\"");
    ck_assert_int_eq(gf_status_cache_get_dressed(c, &TYPE_A, ID1, "bob", "k1", test_pool, &json, &etag, NULL, NULL), 0);
    /* The next dressing replaces it. */
    ck_assert_int_eq(gf_status_cache_dress(c, &TYPE_A, ID1, "alice", "\"e1\"", "k2", "{\"s\":1,\"u\":2}", "\"d2\""), 1);
    ck_assert_int_eq(gf_status_cache_get_dressed(c, &TYPE_A, ID1, "alice", "k1", test_pool, &json, &etag, NULL, NULL), 1);
    ck_assert_int_eq(gf_status_cache_get_dressed(c, &TYPE_A, ID1, "alice", "k2", test_pool, &json, &etag, NULL, NULL), 2);
    ck_assert_str_eq(etag, "\"d2\"");
    /* A new answer read: its old dressing is gone. */
    gf_status_cache_put(c, &TYPE_A, ID1, "alice", "{\"s\":2}", "\"e2\"", 0, 0, gf_status_cache_version(c, ID1));
    ck_assert_int_eq(gf_status_cache_get_dressed(c, &TYPE_A, ID1, "alice", "k2", test_pool, &json, &etag, NULL, NULL), 1);
    ck_assert_str_eq(json, "{\"s\":2}");
    ck_assert_int_eq(gf_status_cache_dress(c, &TYPE_A, ID1, "alice", "\"e2\"", "k2", "{\"s\":2,\"u\":2}", "\"d3\""), 1);
    gf_status_cache_forget(c, ID1);
    ck_assert_int_eq(gf_status_cache_get_dressed(c, &TYPE_A, ID1, "alice", "k2", test_pool, &json, &etag, NULL, NULL), 0);
    ck_assert_int_eq(gf_status_cache_dress(c, &TYPE_A, ID1, "alice", "\"e2\"", "k2", "{}", "\"d4\""), 0);
}
END_TEST

START_TEST(test_forget_and_clear)
{
    gf_status_cache_t *c = gf_status_cache_create(test_pool, 64);
    const char *json, *etag;

    gf_status_cache_put(c, &TYPE_A, ID1, "alice", "{}", "\"a\"", 0, 0, gf_status_cache_version(c, ID1));
    gf_status_cache_put(c, &TYPE_A, ID2, "alice", "{}", "\"b\"", 0, 0, gf_status_cache_version(c, ID2));
    ck_assert_int_eq(gf_status_cache_count(c), 2);
    gf_status_cache_forget(c, ID1);
    ck_assert_int_eq(gf_status_cache_get(c, &TYPE_A, ID1, "alice", test_pool, &json, &etag, NULL, NULL), 0);
    ck_assert_int_eq(gf_status_cache_get(c, &TYPE_A, ID2, "alice", test_pool, &json, &etag, NULL, NULL), 1);
    gf_status_cache_forget(c, ID1);   /* twice: nothing happens */
    ck_assert_int_eq(gf_status_cache_count(c), 1);
    gf_status_cache_clear(c);
    ck_assert_int_eq(gf_status_cache_count(c), 0);
    ck_assert_int_eq(gf_status_cache_get(c, &TYPE_A, ID2, "alice", test_pool, &json, &etag, NULL, NULL), 0);
}
END_TEST

/* A change heard between the read and the put (a forget of the id, or a
 * clear) refuses the put, so a stale answer is never stored; a change of
 * another id in another slot does not. */
START_TEST(test_put_refused_after_change)
{
    gf_status_cache_t *c = gf_status_cache_create(test_pool, 64);
    const char *json, *etag;
    apr_time_t born = 0;
    apr_uint64_t v1 = gf_status_cache_version(c, ID1);

    gf_status_cache_forget(c, ID1);
    ck_assert_int_eq(gf_status_cache_put(c, &TYPE_A, ID1, "alice", "{\"status\":\"pending\"}",
                                         "\"p\"", 5, 0, v1), 0);
    ck_assert_int_eq(gf_status_cache_get(c, &TYPE_A, ID1, "alice", test_pool, &json, &etag,
                                         NULL, NULL), 0);
    v1 = gf_status_cache_version(c, ID1);
    gf_status_cache_clear(c);
    ck_assert_int_eq(gf_status_cache_put(c, &TYPE_A, ID1, "alice", "{}", "\"p\"", 5, 0, v1), 0);
    v1 = gf_status_cache_version(c, ID1);
    gf_status_cache_forget(c, ID2);     /* another slot (both fit at once, above) */
    ck_assert_int_eq(gf_status_cache_put(c, &TYPE_A, ID1, "alice", "{}", "\"p\"", 5, 0, v1), 1);
    ck_assert_int_eq(gf_status_cache_get(c, &TYPE_A, ID1, "alice", test_pool, &json, &etag,
                                         &born, NULL), 1);
    ck_assert_int_eq(born, 5);
}
END_TEST

/* The memory bound: however many ids go in, no more entries than slots. */
START_TEST(test_bounded_by_slots)
{
    gf_status_cache_t *c = gf_status_cache_create(test_pool, 8);
    int i, hits = 0;
    const char *json, *etag;

    for (i = 0; i < 1000; i++) {
        const char *id = apr_psprintf(test_pool, "id-%d", i);
        gf_status_cache_put(c, &TYPE_A, id, "u", "{}", "\"x\"", 0, 0, gf_status_cache_version(c, id));
        ck_assert_uint_le(gf_status_cache_count(c), 8);
    }
    for (i = 0; i < 1000; i++) {
        hits += gf_status_cache_get(c, &TYPE_A, apr_psprintf(test_pool, "id-%d", i), "u",
                                    test_pool, &json, &etag, NULL, NULL);
    }
    ck_assert_int_le(hits, 8);
    ck_assert_int_ge(hits, 1);
    /* A replaced entry answers with the new value. */
    gf_status_cache_put(c, &TYPE_A, "id-999", "u", "{\"v\":2}", "\"y\"", 0, 0, gf_status_cache_version(c, "id-999"));
    ck_assert_int_eq(gf_status_cache_get(c, &TYPE_A, "id-999", "u", test_pool, &json, &etag, NULL, NULL), 1);
    ck_assert_str_eq(json, "{\"v\":2}");
}
END_TEST

START_TEST(test_oversized_entry_not_cached)
{
    gf_status_cache_t *c = gf_status_cache_create(test_pool, 8);
    char *big = apr_palloc(test_pool, GF_STATUS_CACHE_ENTRY_MAX + 1);
    const char *json, *etag;

    memset(big, 'x', GF_STATUS_CACHE_ENTRY_MAX);
    big[GF_STATUS_CACHE_ENTRY_MAX] = '\0';
    gf_status_cache_put(c, &TYPE_A, ID1, "u", big, "\"x\"", 0, 0, gf_status_cache_version(c, ID1));
    ck_assert_int_eq(gf_status_cache_get(c, &TYPE_A, ID1, "u", test_pool, &json, &etag, NULL, NULL), 0);
    ck_assert_int_eq(gf_status_cache_count(c), 0);
}
END_TEST

/* An answer kept until a time (a place in line, which no notification
 * announces) is served until then, with its time, and missed after. */
START_TEST(test_kept_until_a_time)
{
    gf_status_cache_t *c = gf_status_cache_create(test_pool, 8);
    const char *json, *etag;
    apr_time_t until = 0, soon = apr_time_now() + apr_time_from_sec(60);

    ck_assert_int_eq(gf_status_cache_put(c, &TYPE_A, ID1, "u", "{\"queuePosition\":3}", "\"q\"", 7,
                                         soon, gf_status_cache_version(c, ID1)), 1);
    ck_assert_int_eq(gf_status_cache_get(c, &TYPE_A, ID1, "u", test_pool, &json, &etag, NULL,
                                         &until), 1);
    ck_assert(until == soon);
    /* A put read before a change is refused, and takes the id's entry
     * (stored meanwhile by a later read) with it: nothing older stays. */
    {
        apr_uint64_t old = gf_status_cache_version(c, ID1), now_v;
        gf_status_cache_forget(c, ID1);
        now_v = gf_status_cache_version(c, ID1);
        ck_assert_int_eq(gf_status_cache_put(c, &TYPE_A, ID1, "u", "{\"queuePosition\":8}", "\"s\"",
                                             7, soon, now_v), 1);
        ck_assert_int_eq(gf_status_cache_put(c, &TYPE_A, ID1, "u", "{\"queuePosition\":9}", "\"t\"",
                                             7, soon, old), 0);
        ck_assert_int_eq(gf_status_cache_get(c, &TYPE_A, ID1, "u", test_pool, &json, &etag, NULL,
                                             &until), 0);
    }
    /* Past its time: the first get misses (it reads again), the next ones
     * meanwhile are given the old answer, not sent to read too. */
    ck_assert_int_eq(gf_status_cache_put(c, &TYPE_A, ID1, "u", "{\"queuePosition\":2}", "\"r\"", 7,
                                         apr_time_now() - 1, gf_status_cache_version(c, ID1)), 1);
    ck_assert_int_eq(gf_status_cache_get(c, &TYPE_A, ID1, "u", test_pool, &json, &etag, NULL,
                                         &until), 0);
    ck_assert_int_eq(gf_status_cache_get(c, &TYPE_A, ID1, "u", test_pool, &json, &etag, NULL,
                                         &until), 1);
    ck_assert_str_eq(etag, "\"r\"");
    /* Long past it (the reader never came back): gone. */
    ck_assert_int_eq(gf_status_cache_put(c, &TYPE_A, ID1, "u", "{\"queuePosition\":2}", "\"r\"", 7,
                                         apr_time_now() - GF_STATUS_CACHE_REFRESH - 1,
                                         gf_status_cache_version(c, ID1)), 1);
    ck_assert_int_eq(gf_status_cache_get(c, &TYPE_A, ID1, "u", test_pool, &json, &etag, NULL,
                                         &until), 0);
    ck_assert_int_eq(gf_status_cache_count(c), 0);
}
END_TEST

/* Answers with a place in one line: the watched ones of that line are
 * listed together (and marked as being read), other lines and scopes, and
 * answers nobody looked at lately, are not. */
START_TEST(test_line_watched)
{
    gf_status_cache_t *c = gf_status_cache_create(test_pool, 64);
    apr_array_header_t *ids = apr_array_make(test_pool, 4, sizeof(const char *));
    apr_array_header_t *users = apr_array_make(test_pool, 4, sizeof(const char *));
    apr_time_t soon = apr_time_now() + apr_time_from_sec(1);
    const char *json, *etag;

    ck_assert_int_eq(gf_status_cache_put_line(c, &TYPE_A, ID1, "u1", "{}", "\"a\"", 5, soon, "prov",
                                              gf_status_cache_version(c, ID1)), 1);
    ck_assert_int_eq(gf_status_cache_put_line(c, &TYPE_A, ID2, "u2", "{}", "\"b\"", 5, soon, "prov",
                                              gf_status_cache_version(c, ID2)), 1);
    ck_assert_int_eq(gf_status_cache_put_line(c, &TYPE_A, "id-other-line", "u3", "{}", "\"c\"", 5,
                                              soon, "elsewhere",
                                              gf_status_cache_version(c, "id-other-line")), 1);
    ck_assert_int_eq(gf_status_cache_put_line(c, &TYPE_B, "id-other-type", "u4", "{}", "\"d\"", 5,
                                              soon, "prov",
                                              gf_status_cache_version(c, "id-other-type")), 1);
    ck_assert_int_eq(gf_status_cache_put_line(c, &TYPE_A, "id-forgotten", "u5", "{}", "\"e\"", 5,
                                              apr_time_now() - GF_STATUS_CACHE_REFRESH - 1, "prov",
                                              gf_status_cache_version(c, "id-forgotten")), 1);
    ck_assert_str_eq(gf_status_cache_line(c, &TYPE_A, ID1, "u1", test_pool), "prov");
    ck_assert_ptr_null(gf_status_cache_line(c, &TYPE_A, ID1, "u2", test_pool));
    ck_assert_int_eq(gf_status_cache_line_watched(c, &TYPE_A, "prov", 10, test_pool, ids, users), 2);
    ck_assert_int_eq(ids->nelts, 2);
    ck_assert_int_eq(gf_status_cache_line_watched(c, &TYPE_A, "prov", 1, test_pool, ids, users), 1);
    /* An answer without a line (a running generation's) has none. */
    gf_status_cache_put(c, &TYPE_A, ID1, "u1", "{}", "\"f\"", 5, 0, gf_status_cache_version(c, ID1));
    ck_assert_ptr_null(gf_status_cache_line(c, &TYPE_A, ID1, "u1", test_pool));
    ck_assert_int_eq(gf_status_cache_get(c, &TYPE_A, ID1, "u1", test_pool, &json, &etag, NULL,
                                         NULL), 1);
}
END_TEST

/* A place one process read serves the others while it is young; an old
 * one, another id's in the slot, or none, does not. */
START_TEST(test_shared_places)
{
    static gf_status_place_t places[GF_STATUS_PLACES];
    gf_status_cache_t *a = gf_status_cache_create(test_pool, 8);
    gf_status_cache_t *b = gf_status_cache_create(test_pool, 8);
    apr_time_t now = apr_time_now(), one = apr_time_from_sec(1), two = apr_time_from_sec(2);
    long place = 0;
    const char *json, *line;
    apr_time_t born;

    ck_assert_int_eq(gf_status_cache_shared_place(b, ID1, now, 2, one, two, &place), 0);
    gf_status_cache_share_places(a, places);
    gf_status_cache_share_places(b, places);
    ck_assert_int_eq(gf_status_cache_shared_place(b, ID1, now, 2, one, two, &place), 0);
    /* Process 1 read it 1.5 s ago: another process takes it, 1 itself no
     * longer (its own reads serve it one look). */
    gf_status_cache_publish_place(a, ID1, 7, now - apr_time_from_msec(1500), 1);
    ck_assert_int_eq(gf_status_cache_shared_place(b, ID1, now, 2, one, two, &place), 1);
    ck_assert_int_eq(place, 7);
    ck_assert_int_eq(gf_status_cache_shared_place(a, ID1, now, 1, one, two, &place), 0);
    ck_assert_int_eq(gf_status_cache_shared_place(b, ID1, now, 2, one, apr_time_from_msec(1400),
                                                  &place), 0);
    ck_assert_int_eq(gf_status_cache_shared_place(b, ID2, now, 2, one, two, &place), 0);
    gf_status_cache_publish_place(a, ID1, -1, now, 1);
    ck_assert_int_eq(gf_status_cache_shared_place(b, ID1, now, 2, one, two, &place), 1);
    ck_assert_int_eq(place, -1);
    /* peek: an answer past its time is still there, with its line. */
    gf_status_cache_put_line(a, &TYPE_A, ID2, "u", "{}", "\"p\"", 9, now - 1, "prov",
                             gf_status_cache_version(a, ID2));
    ck_assert_int_eq(gf_status_cache_peek(a, &TYPE_A, ID2, "u", test_pool, &json, &born, &line), 1);
    ck_assert_str_eq(line, "prov");
    ck_assert(born == 9);
    ck_assert_int_eq(gf_status_cache_peek(a, &TYPE_A, ID2, "v", test_pool, &json, &born, &line), 0);
}
END_TEST

/* Two processes of one httpd: a change one of them made (its mark) is
 * seen by the other's next get, before any notification, and refuses an
 * answer the other read before it; ids of other buckets keep theirs. */
START_TEST(test_shared_marks_reach_the_other_processes)
{
    apr_uint32_t *marks = apr_pcalloc(test_pool, sizeof(apr_uint32_t) * GF_STATUS_MARKS);
    gf_status_cache_t *a = gf_status_cache_create(test_pool, 64);
    gf_status_cache_t *b = gf_status_cache_create(test_pool, 64);
    const char *json, *etag;
    apr_uint64_t v;

    gf_status_cache_share(a, marks);
    gf_status_cache_share(b, marks);
    gf_status_cache_put(a, &TYPE_A, ID1, "alice", "{\"status\":\"pending\"}", "\"p\"", 5, 0,
                        gf_status_cache_version(a, ID1));
    gf_status_cache_put(a, &TYPE_A, ID2, "alice", "{}", "\"q\"", 5, 0,
                        gf_status_cache_version(a, ID2));
    gf_status_cache_put(b, &TYPE_A, ID1, "alice", "{\"status\":\"pending\"}", "\"p\"", 5, 0,
                        gf_status_cache_version(b, ID1));
    ck_assert_int_eq(gf_status_cache_get(a, &TYPE_A, ID1, "alice", test_pool, &json, &etag, NULL, NULL), 1);

    gf_status_cache_mark(b, ID1);        /* b cancelled it */
    ck_assert_int_eq(gf_status_cache_get(b, &TYPE_A, ID1, "alice", test_pool, &json, &etag, NULL, NULL), 0);
    ck_assert_int_eq(gf_status_cache_get(a, &TYPE_A, ID1, "alice", test_pool, &json, &etag, NULL, NULL), 0);
    ck_assert_int_eq(gf_status_cache_count(a), 1);   /* dropped, not only skipped */
    ck_assert_int_eq(gf_status_cache_get(a, &TYPE_A, ID2, "alice", test_pool, &json, &etag, NULL, NULL), 1);

    /* Read by a before b's change, stored after it: refused. */
    v = gf_status_cache_version(a, ID1);
    gf_status_cache_mark(b, ID1);
    ck_assert_int_eq(gf_status_cache_put(a, &TYPE_A, ID1, "alice", "{}", "\"p\"", 5, 0, v), 0);
    /* Read after it: kept, and answered until the next change. */
    v = gf_status_cache_version(a, ID1);
    ck_assert_int_eq(gf_status_cache_put(a, &TYPE_A, ID1, "alice", "{\"status\":\"cancelled\"}",
                                         "\"c\"", 0, 0, v), 1);
    ck_assert_int_eq(gf_status_cache_get(a, &TYPE_A, ID1, "alice", test_pool, &json, &etag, NULL, NULL), 1);
    ck_assert_str_eq(etag, "\"c\"");
}
END_TEST

Suite *status_cache_suite(void)
{
    Suite *s = suite_create("status_cache");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_hit_needs_scope_id_and_user);
    tcase_add_test(tc, test_dressed_answer_goes_with_its_entry);
    tcase_add_test(tc, test_forget_and_clear);
    tcase_add_test(tc, test_put_refused_after_change);
    tcase_add_test(tc, test_bounded_by_slots);
    tcase_add_test(tc, test_oversized_entry_not_cached);
    tcase_add_test(tc, test_kept_until_a_time);
    tcase_add_test(tc, test_line_watched);
    tcase_add_test(tc, test_shared_places);
    tcase_add_test(tc, test_shared_marks_reach_the_other_processes);
    suite_add_tcase(s, tc);
    return s;
}
