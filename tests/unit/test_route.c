/* SPDX-License-Identifier: Apache-2.0 */
/* test_route.c: paths, ids and request headers of the per-type API. */
#include "test_core.h"
#include "core/gf_route.h"

START_TEST(routes)
{
    gf_route_t r;
    gf_route_parse("/create", &r);
    ck_assert_int_eq(r.kind, GF_ROUTE_CREATE);
    ck_assert_str_eq(r.allow, "POST");
    gf_route_parse("/generate", &r);
    ck_assert_int_eq(r.kind, GF_ROUTE_GENERATE);
    gf_route_parse("/status/0b7c6a52-2f5e-4f1a-9a53-4b6f0d0c7e11", &r);
    ck_assert_int_eq(r.kind, GF_ROUTE_STATUS);
    ck_assert(r.id_valid);
    ck_assert_str_eq(r.id, "0b7c6a52-2f5e-4f1a-9a53-4b6f0d0c7e11");
    gf_route_parse("/status/not-a-uuid", &r);
    ck_assert_int_eq(r.kind, GF_ROUTE_STATUS);
    ck_assert(!r.id_valid);
    gf_route_parse("/cancel/0b7c6a52-2f5e-4f1a-9a53-4b6f0d0c7e11", &r);
    ck_assert_int_eq(r.kind, GF_ROUTE_CANCEL);
    ck_assert_str_eq(r.allow, "POST");
    gf_route_parse("/retry/0b7c6a52-2f5e-4f1a-9a53-4b6f0d0c7e11", &r);
    ck_assert_int_eq(r.kind, GF_ROUTE_RETRY);
    gf_route_parse("/events/0b7c6a52-2f5e-4f1a-9a53-4b6f0d0c7e11", &r);
    ck_assert_int_eq(r.kind, GF_ROUTE_EVENTS);
    ck_assert_str_eq(r.allow, "GET");
    gf_route_parse("/status/", &r);
    ck_assert_int_eq(r.kind, GF_ROUTE_NONE);
    gf_route_parse("/status/a/b", &r);
    ck_assert_int_eq(r.kind, GF_ROUTE_NONE);
    gf_route_parse("/create/", &r);
    ck_assert_int_eq(r.kind, GF_ROUTE_NONE);
    gf_route_parse("", &r);
    ck_assert_int_eq(r.kind, GF_ROUTE_NONE);
}
END_TEST

START_TEST(uuids)
{
    ck_assert(gf_uuid_valid("0B7C6A52-2F5E-4F1A-9A53-4B6F0D0C7E11"));
    ck_assert(!gf_uuid_valid("0b7c6a52-2f5e-4f1a-9a53-4b6f0d0c7e1"));
    ck_assert(!gf_uuid_valid("0b7c6a52-2f5e-4f1a-9a53-4b6f0d0c7e111"));
    ck_assert(!gf_uuid_valid("0b7c6a52x2f5e-4f1a-9a53-4b6f0d0c7e11"));
    ck_assert(!gf_uuid_valid("'; DROP TABLE x; --'aaaaaaaaaaaaaaaaaaaa"));
}
END_TEST

START_TEST(prefer_wait)
{
    int s = -1;
    ck_assert(gf_prefer_wait("wait=10", 60, &s) && s == 10);
    ck_assert(gf_prefer_wait("respond-async, wait=5", 60, &s) && s == 5);
    ck_assert(gf_prefer_wait("handling=lenient; x=y, wait = 7", 60, &s) && s == 7);
    ck_assert(gf_prefer_wait("wait=600", 60, &s) && s == 60);   /* clamped */
    ck_assert(gf_prefer_wait("wait=\"3\"", 60, &s) && s == 3);
    ck_assert(!gf_prefer_wait("wait=abc", 60, &s));
    ck_assert(!gf_prefer_wait("respond-async", 60, &s));
    ck_assert(!gf_prefer_wait(NULL, 60, &s));
    ck_assert(!gf_prefer_wait("waiting=3", 60, &s));
}
END_TEST

/* Cancel-After: whole seconds, or Replicate's h/m/s durations in order;
 * anything else (units repeated or out of order, fractions, signs, more
 * than a day) is refused. */
START_TEST(cancel_after_header)
{
    long s = -1;
    ck_assert(gf_cancel_after("90", &s) && s == 90);
    ck_assert(gf_cancel_after(" 5 ", &s) && s == 5);
    ck_assert(gf_cancel_after("1m30s", &s) && s == 90);
    ck_assert(gf_cancel_after("2h", &s) && s == 7200);
    ck_assert(gf_cancel_after("1h0m5s", &s) && s == 3605);
    ck_assert(gf_cancel_after("0", &s) && s == 0);             /* the caller's range */
    ck_assert(gf_cancel_after("86400", &s) && s == 86400);
    ck_assert(!gf_cancel_after("86401", &s));
    ck_assert(!gf_cancel_after("25h", &s));
    ck_assert(!gf_cancel_after("99999999999999999999", &s));
    ck_assert(!gf_cancel_after("1m30", &s));
    ck_assert(!gf_cancel_after("30s1m", &s));
    ck_assert(!gf_cancel_after("1s1s", &s));
    ck_assert(!gf_cancel_after("1.5", &s));
    ck_assert(!gf_cancel_after("-3", &s));
    ck_assert(!gf_cancel_after("5 m", &s));
    ck_assert(!gf_cancel_after("", &s));
    ck_assert(!gf_cancel_after("s", &s));
    ck_assert(!gf_cancel_after(NULL, &s));
}
END_TEST

START_TEST(json_content_types)
{
    ck_assert(gf_content_type_is_json("application/json"));
    ck_assert(gf_content_type_is_json("Application/JSON; charset=utf-8"));
    ck_assert(!gf_content_type_is_json("application/jsonp"));
    ck_assert(!gf_content_type_is_json("text/plain"));
    ck_assert(!gf_content_type_is_json(NULL));
}
END_TEST

Suite *route_suite(void)
{
    Suite *s = suite_create("route");
    TCase *tc = tcase_create("paths-and-headers");
    tcase_add_test(tc, routes);
    tcase_add_test(tc, uuids);
    tcase_add_test(tc, prefer_wait);
    tcase_add_test(tc, cancel_after_header);
    tcase_add_test(tc, json_content_types);
    suite_add_tcase(s, tc);
    return s;
}
