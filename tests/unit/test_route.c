/* SPDX-License-Identifier: Apache-2.0 */
/* test_route.c: paths, ids and request headers of the per-type API. */
#include "test_core.h"
#include "core/gf_route.h"
#include "core/gf_vhost.h"

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

/* The admin API routes exactly: a path that only ends like an endpoint,
 * or has a segment more or less, is none. */
START_TEST(admin_routes)
{
    gf_admin_route_t a;
    gf_admin_route_parse("/jobs", &a);
    ck_assert_int_eq(a.kind, GF_ADMIN_JOBS);
    ck_assert_str_eq(a.allow, "GET, DELETE");
    gf_admin_route_parse("/credits", &a);
    ck_assert_int_eq(a.kind, GF_ADMIN_CREDITS);
    ck_assert_str_eq(a.allow, "POST");
    gf_admin_route_parse("/webhooks", &a);
    ck_assert_int_eq(a.kind, GF_ADMIN_WEBHOOKS);
    gf_admin_route_parse("/webhooks/42/redeliver", &a);
    ck_assert_int_eq(a.kind, GF_ADMIN_REDELIVER);
    ck_assert_str_eq(a.id, "42");
    gf_admin_route_parse("/webhooks/123456789012345678/redeliver", &a);
    ck_assert_int_eq(a.kind, GF_ADMIN_REDELIVER);
    gf_admin_route_parse("/providers", &a);
    ck_assert_int_eq(a.kind, GF_ADMIN_PROVIDERS);
    ck_assert_str_eq(a.allow, "GET");
    {
        static const char *const none[] = {
            "", "/", "/jobs/", "/jobs/x", "/events/jobs", "/x/credits", "/credits;x", "/jobs;x",
            "//jobs", "/JOBS", "/webhooks/", "/webhooks/x/redeliver", "/webhooks//redeliver",
            "/webhooks/1234567890123456789/redeliver", "/webhooks/1/redeliver/",
            "/webhooks/1/redeliverx", "/a/webhooks/1/redeliver", "/webhooks/1%2Fredeliver",
            "/providers/", "/providers/fal", "/Providers", "/providersx", NULL
        };
        int i;
        for (i = 0; none[i]; i++) {
            gf_admin_route_parse(none[i], &a);
            ck_assert_msg(a.kind == GF_ADMIN_NONE && !a.allow, "%s routed", none[i]);
        }
    }
}
END_TEST

START_TEST(one_segment)
{
    ck_assert_str_eq(gf_route_segment("/rephook"), "rephook");
    ck_assert_ptr_null(gf_route_segment(""));
    ck_assert_ptr_null(gf_route_segment("/"));
    ck_assert_ptr_null(gf_route_segment("/a/rephook"));
    ck_assert_ptr_null(gf_route_segment("/rephook/"));
    ck_assert_ptr_null(gf_route_segment("rephook"));
}
END_TEST

/* Which virtual host an events URL names: by name or address, on a port
 * it listens on; by name alone behind a proxy; never another. */
START_TEST(vhost_names)
{
    static const char *const events_names[] = { "events.example.com", "*.events.example.net",
                                                NULL };
    static const gf_vhost_addr_t any443[] = { { NULL, 443 } };
    static const gf_vhost_addr_t local[] = { { "127.0.0.1", 8081 }, { "::1", 8081 } };
    static const gf_vhost_addr_t anyport[] = { { NULL, 0 } };
    static const char *const localhost[] = { "localhost", NULL };
    gf_vhost_t named = { events_names, any443, 1 };
    gf_vhost_t by_addr = { localhost, local, 2 };
    gf_vhost_t wild = { events_names, anyport, 1 };

    ck_assert_int_eq(gf_vhost_match("events.example.com", 443, &named), GF_VHOST_EXACT);
    ck_assert_int_eq(gf_vhost_match("EVENTS.example.COM", 443, &named), GF_VHOST_EXACT);
    ck_assert_int_eq(gf_vhost_match("a.events.example.net", 443, &named), GF_VHOST_EXACT);
    ck_assert_int_eq(gf_vhost_match("events.example.com", 8443, &named), GF_VHOST_NAME);
    ck_assert_int_eq(gf_vhost_match("www.example.com", 443, &named), GF_VHOST_NO);
    ck_assert_int_eq(gf_vhost_match("example.net", 443, &named), GF_VHOST_NO);
    ck_assert_int_eq(gf_vhost_match("127.0.0.1", 8081, &by_addr), GF_VHOST_EXACT);
    ck_assert_int_eq(gf_vhost_match("::1", 8081, &by_addr), GF_VHOST_EXACT);
    /* An address names its own port only; the main server's port is another host. */
    ck_assert_int_eq(gf_vhost_match("127.0.0.1", 8080, &by_addr), GF_VHOST_NO);
    ck_assert_int_eq(gf_vhost_match("localhost", 8081, &by_addr), GF_VHOST_EXACT);
    ck_assert_int_eq(gf_vhost_match("events.example.com", 8080, &wild), GF_VHOST_EXACT);
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
    tcase_add_test(tc, admin_routes);
    tcase_add_test(tc, one_segment);
    tcase_add_test(tc, vhost_names);
    suite_add_tcase(s, tc);
    return s;
}
