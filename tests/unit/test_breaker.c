/* SPDX-License-Identifier: Apache-2.0 */
/* test_breaker.c: the circuit breaker's rules (core/gf_breaker.h). */
#include <string.h>

#include "test_core.h"
#include "core/gf_breaker.h"
#include "core/gf_error.h"

#define SEC(n) apr_time_from_sec(n)
#define T0 SEC(1000000)

static void conf3(gf_breaker_conf_t *c)
{
    gf_breaker_conf_default(c);
    c->failures = 3;
    c->window = SEC(60);
    c->cooldown = SEC(30);
    c->probe_ttl = SEC(30);
}

static void fail_n(gf_breaker_t *b, const gf_breaker_conf_t *c, apr_time_t at, int n)
{
    int i;
    for (i = 0; i < n; i++) gf_breaker_record(b, c, at, 0, GF_BREAKER_FAILURE);
}

START_TEST(test_defaults_and_options)
{
    gf_breaker_conf_t c;
    const char *err;

    gf_breaker_conf_default(&c);
    ck_assert_int_eq(c.enabled, 1);
    ck_assert_int_eq(c.failures, 5);
    ck_assert(c.window == SEC(60));
    ck_assert(c.cooldown == SEC(30));
    ck_assert_int_eq(gf_breaker_option(&c, "breaker", "off", &err), 1);
    ck_assert_ptr_null(err);
    ck_assert_int_eq(c.enabled, 0);
    ck_assert_int_eq(gf_breaker_option(&c, "breaker_failures", "2", &err), 1);
    ck_assert_ptr_null(err);
    ck_assert_int_eq(c.failures, 2);
    ck_assert_int_eq(gf_breaker_option(&c, "breaker_window", "90s", &err), 1);
    ck_assert_ptr_null(err);
    ck_assert(c.window == SEC(90));
    ck_assert_int_eq(gf_breaker_option(&c, "breaker_cooldown", "4", &err), 1);
    ck_assert(c.cooldown == SEC(4));
    /* Bad values are refused with a message; other keys are not ours. */
    gf_breaker_option(&c, "breaker", "maybe", &err);
    ck_assert_ptr_nonnull(err);
    gf_breaker_option(&c, "breaker_failures", "0", &err);
    ck_assert_ptr_nonnull(err);
    gf_breaker_option(&c, "breaker_failures", "101", &err);
    ck_assert_ptr_nonnull(err);
    gf_breaker_option(&c, "breaker_window", "-1", &err);
    ck_assert_ptr_nonnull(err);
    gf_breaker_option(&c, "breaker_cooldown", "10m", &err);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(gf_breaker_option(&c, "latency", "10", &err), 0);
}
END_TEST

START_TEST(test_opens_after_n_failures_in_window)
{
    gf_breaker_conf_t c;
    gf_breaker_t b;
    apr_uint32_t probe;

    conf3(&c);
    gf_breaker_init(&b);
    fail_n(&b, &c, T0, 2);
    ck_assert_int_eq(gf_breaker_state(&b), GF_BREAKER_CLOSED);
    ck_assert_int_eq(gf_breaker_failures(&b, &c, T0), 2);
    ck_assert_int_eq(gf_breaker_admit(&b, &c, T0, &probe), GF_BREAKER_ALLOW);
    ck_assert_int_eq(gf_breaker_record(&b, &c, T0 + SEC(59), 0, GF_BREAKER_FAILURE),
                     GF_BREAKER_OPEN);
    ck_assert(b.opened_at == T0 + SEC(59));
    ck_assert(b.retry_at == T0 + SEC(89));
    ck_assert_int_eq((int)b.opened, 1);
}
END_TEST

START_TEST(test_failures_outside_window_forgotten)
{
    gf_breaker_conf_t c;
    gf_breaker_t b;

    conf3(&c);
    gf_breaker_init(&b);
    fail_n(&b, &c, T0, 2);
    /* 60 s later the first two are out of the window. */
    ck_assert_int_eq(gf_breaker_record(&b, &c, T0 + SEC(60), 0, GF_BREAKER_FAILURE),
                     GF_BREAKER_CLOSED);
    ck_assert_int_eq(gf_breaker_failures(&b, &c, T0 + SEC(60)), 1);
    ck_assert_int_eq(gf_breaker_record(&b, &c, T0 + SEC(61), 0, GF_BREAKER_FAILURE),
                     GF_BREAKER_CLOSED);
    ck_assert_int_eq(gf_breaker_record(&b, &c, T0 + SEC(62), 0, GF_BREAKER_FAILURE),
                     GF_BREAKER_OPEN);
}
END_TEST

START_TEST(test_success_and_neutral)
{
    gf_breaker_conf_t c;
    gf_breaker_t b;

    conf3(&c);
    gf_breaker_init(&b);
    fail_n(&b, &c, T0, 2);
    /* A success forgets the failures; neutral results do not count. */
    gf_breaker_record(&b, &c, T0 + SEC(1), 0, GF_BREAKER_SUCCESS);
    ck_assert_int_eq(gf_breaker_failures(&b, &c, T0 + SEC(1)), 0);
    fail_n(&b, &c, T0 + SEC(2), 2);
    gf_breaker_record(&b, &c, T0 + SEC(3), 0, GF_BREAKER_NEUTRAL);
    gf_breaker_record(&b, &c, T0 + SEC(3), 0, GF_BREAKER_NEUTRAL);
    ck_assert_int_eq(gf_breaker_state(&b), GF_BREAKER_CLOSED);
    ck_assert_int_eq(gf_breaker_failures(&b, &c, T0 + SEC(3)), 2);
    /* breaker=off: never opens. */
    c.enabled = 0;
    fail_n(&b, &c, T0 + SEC(4), 10);
    ck_assert_int_eq(gf_breaker_state(&b), GF_BREAKER_CLOSED);
}
END_TEST

/* An account out of credits opens the circuit at its first answer, and
 * a probe that finds it still empty opens it again. */
START_TEST(test_exhausted_opens_at_once)
{
    gf_breaker_conf_t c;
    gf_breaker_t b;
    apr_uint32_t probe = 0;

    conf3(&c);
    gf_breaker_init(&b);
    ck_assert_int_eq(gf_breaker_record(&b, &c, T0, 0, GF_BREAKER_EXHAUSTED), GF_BREAKER_OPEN);
    ck_assert_int_eq(gf_breaker_admit(&b, &c, T0 + SEC(1), &probe), GF_BREAKER_SKIP);
    ck_assert_int_eq(gf_breaker_admit(&b, &c, T0 + c.cooldown + SEC(1), &probe), GF_BREAKER_PROBE);
    ck_assert_int_eq(gf_breaker_record(&b, &c, T0 + c.cooldown + SEC(1), probe, GF_BREAKER_EXHAUSTED),
                     GF_BREAKER_OPEN);
    /* breaker=off: an empty account does not open it either. */
    gf_breaker_init(&b);
    c.enabled = 0;
    ck_assert_int_eq(gf_breaker_record(&b, &c, T0, 0, GF_BREAKER_EXHAUSTED), GF_BREAKER_CLOSED);
}
END_TEST

START_TEST(test_open_skips_then_one_probe)
{
    gf_breaker_conf_t c;
    gf_breaker_t b;
    apr_uint32_t probe, p2;

    conf3(&c);
    gf_breaker_init(&b);
    fail_n(&b, &c, T0, 3);
    ck_assert_int_eq(gf_breaker_admit(&b, &c, T0 + SEC(1), &probe), GF_BREAKER_SKIP);
    ck_assert_int_eq(gf_breaker_admit(&b, &c, T0 + SEC(29), &probe), GF_BREAKER_SKIP);
    ck_assert_int_eq((int)b.skipped, 2);
    /* Late results of calls admitted before it opened change nothing. */
    gf_breaker_record(&b, &c, T0 + SEC(2), 0, GF_BREAKER_SUCCESS);
    ck_assert_int_eq(gf_breaker_state(&b), GF_BREAKER_OPEN);
    /* Cool-down over: exactly one probe, everyone else still skips. */
    ck_assert_int_eq(gf_breaker_admit(&b, &c, T0 + SEC(30), &probe), GF_BREAKER_PROBE);
    ck_assert_uint_ne(probe, 0);
    ck_assert_int_eq(gf_breaker_state(&b), GF_BREAKER_HALF_OPEN);
    ck_assert_int_eq(gf_breaker_admit(&b, &c, T0 + SEC(31), &p2), GF_BREAKER_SKIP);
    ck_assert_int_eq(gf_breaker_admit(&b, &c, T0 + SEC(40), &p2), GF_BREAKER_SKIP);
    ck_assert_uint_eq(p2, 0);
    /* A non-probe result while half-open changes nothing. */
    gf_breaker_record(&b, &c, T0 + SEC(41), 0, GF_BREAKER_SUCCESS);
    ck_assert_int_eq(gf_breaker_state(&b), GF_BREAKER_HALF_OPEN);
    /* The probe succeeds: closed, everything goes through again. */
    ck_assert_int_eq(gf_breaker_record(&b, &c, T0 + SEC(42), probe, GF_BREAKER_SUCCESS),
                     GF_BREAKER_CLOSED);
    ck_assert_int_eq(gf_breaker_admit(&b, &c, T0 + SEC(43), &p2), GF_BREAKER_ALLOW);
    ck_assert_int_eq(gf_breaker_failures(&b, &c, T0 + SEC(43)), 0);
}
END_TEST

START_TEST(test_probe_failure_reopens)
{
    gf_breaker_conf_t c;
    gf_breaker_t b;
    apr_uint32_t probe, p2;

    conf3(&c);
    gf_breaker_init(&b);
    fail_n(&b, &c, T0, 3);
    ck_assert_int_eq(gf_breaker_admit(&b, &c, T0 + SEC(30), &probe), GF_BREAKER_PROBE);
    ck_assert_int_eq(gf_breaker_record(&b, &c, T0 + SEC(31), probe, GF_BREAKER_FAILURE),
                     GF_BREAKER_OPEN);
    ck_assert(b.retry_at == T0 + SEC(61));
    ck_assert_int_eq((int)b.opened, 2);
    ck_assert_int_eq(gf_breaker_admit(&b, &c, T0 + SEC(60), &p2), GF_BREAKER_SKIP);
    ck_assert_int_eq(gf_breaker_admit(&b, &c, T0 + SEC(61), &p2), GF_BREAKER_PROBE);
    ck_assert_uint_ne(p2, probe);
}
END_TEST

START_TEST(test_stale_probe_expires)
{
    gf_breaker_conf_t c;
    gf_breaker_t b;
    apr_uint32_t probe, p2, p3;

    conf3(&c);
    c.probe_ttl = SEC(45);
    gf_breaker_init(&b);
    fail_n(&b, &c, T0, 3);
    ck_assert_int_eq(gf_breaker_admit(&b, &c, T0 + SEC(30), &probe), GF_BREAKER_PROBE);
    /* Its worker died: no result. The slot is held until it expires... */
    ck_assert_int_eq(gf_breaker_admit(&b, &c, T0 + SEC(74), &p2), GF_BREAKER_SKIP);
    /* ...then another probe may run. */
    ck_assert_int_eq(gf_breaker_admit(&b, &c, T0 + SEC(75), &p2), GF_BREAKER_PROBE);
    ck_assert_uint_ne(p2, probe);
    /* The first probe's late answer no longer speaks for the provider. */
    gf_breaker_record(&b, &c, T0 + SEC(76), probe, GF_BREAKER_SUCCESS);
    ck_assert_int_eq(gf_breaker_state(&b), GF_BREAKER_HALF_OPEN);
    /* A neutral answer of the current probe frees the slot at once. */
    gf_breaker_record(&b, &c, T0 + SEC(77), p2, GF_BREAKER_NEUTRAL);
    ck_assert_int_eq(gf_breaker_state(&b), GF_BREAKER_HALF_OPEN);
    ck_assert_int_eq(gf_breaker_admit(&b, &c, T0 + SEC(78), &p3), GF_BREAKER_PROBE);
    ck_assert_int_eq(gf_breaker_record(&b, &c, T0 + SEC(79), p3, GF_BREAKER_SUCCESS),
                     GF_BREAKER_CLOSED);
}
END_TEST

START_TEST(test_outcome_classification)
{
    gf_provider_result_t r;
    unsigned char png[1] = { 0 };

    memset(&r, 0, sizeof(r));
    r.image = png;
    ck_assert_int_eq(gf_breaker_outcome(&r), GF_BREAKER_SUCCESS);
    memset(&r, 0, sizeof(r));
    r.provider_job_id = "job-1";
    ck_assert_int_eq(gf_breaker_outcome(&r), GF_BREAKER_SUCCESS);
    memset(&r, 0, sizeof(r));
    r.error_code = GF_JOB_RATE_LIMIT;
    r.transient = 1;
    ck_assert_int_eq(gf_breaker_outcome(&r), GF_BREAKER_FAILURE);
    r.transient = 0;   /* counted by its code too, not only as transient */
    ck_assert_int_eq(gf_breaker_outcome(&r), GF_BREAKER_FAILURE);
    r.error_code = GF_JOB_NETWORK;
    r.transient = 0;   /* a permanent network error still says the provider is down */
    ck_assert_int_eq(gf_breaker_outcome(&r), GF_BREAKER_FAILURE);
    r.error_code = GF_JOB_TIMEOUT;
    ck_assert_int_eq(gf_breaker_outcome(&r), GF_BREAKER_FAILURE);
    r.error_code = GF_JOB_API;
    ck_assert_int_eq(gf_breaker_outcome(&r), GF_BREAKER_FAILURE);
    r.error_code = GF_JOB_CONTENT_FILTERED;
    ck_assert_int_eq(gf_breaker_outcome(&r), GF_BREAKER_NEUTRAL);
    r.error_code = GF_JOB_VALIDATION;
    ck_assert_int_eq(gf_breaker_outcome(&r), GF_BREAKER_NEUTRAL);
    r.error_code = GF_JOB_PROVIDER_AUTH;
    ck_assert_int_eq(gf_breaker_outcome(&r), GF_BREAKER_NEUTRAL);
    r.error_code = GF_JOB_PROVIDER_CREDITS;
    ck_assert_int_eq(gf_breaker_outcome(&r), GF_BREAKER_EXHAUSTED);
    ck_assert_str_eq(gf_breaker_state_name(GF_BREAKER_HALF_OPEN), "half_open");
}
END_TEST

/* A state copied from another generation's shared memory is used only
 * when its fields are in range (the ring index above all). */
START_TEST(test_sane)
{
    gf_breaker_t b;
    gf_breaker_init(&b);
    ck_assert(gf_breaker_sane(&b));
    b.head = GF_BREAKER_MAX_FAILURES;
    ck_assert(!gf_breaker_sane(&b));
    gf_breaker_init(&b);
    b.state = 7;
    ck_assert(!gf_breaker_sane(&b));
    gf_breaker_init(&b);
    b.nfail = GF_BREAKER_MAX_FAILURES + 1;
    ck_assert(!gf_breaker_sane(&b));
}
END_TEST

START_TEST(test_gate_and_health)
{
    gf_breaker_conf_t c;
    gf_breaker_t b;
    gf_decision_t d;
    apr_uint32_t probe;
    json_object *o;

    conf3(&c);
    gf_breaker_init(&b);
    ck_assert(gf_breaker_closed_at(&b, T0));
    ck_assert(gf_breaker_probe_ttl(&c, SEC(10)) == SEC(30));
    ck_assert(gf_breaker_probe_ttl(&c, SEC(90)) == SEC(90));
    o = gf_breaker_health_json(test_pool, &c, &b, T0);
    ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                     "{\"enabled\":true,\"state\":\"closed\",\"failures\":0,\"threshold\":3,"
                     "\"openedAt\":null,\"retryAt\":null,\"skipped\":0,\"opened\":0}");
    json_object_put(o);
    gf_breaker_record(&b, &c, SEC(10), 0, GF_BREAKER_EXHAUSTED);
    ck_assert(!gf_breaker_closed_at(&b, SEC(39)));
    ck_assert(gf_breaker_closed_at(&b, SEC(40)));   /* cool-down over: a probe may go */
    ck_assert(gf_breaker_retry_at(&b) == SEC(40));
    o = gf_breaker_health_json(test_pool, &c, &b, SEC(20));
    ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                     "{\"enabled\":true,\"state\":\"open\",\"failures\":0,\"threshold\":3,"
                     "\"openedAt\":\"1970-01-01T00:00:10Z\",\"retryAt\":\"1970-01-01T00:00:40Z\","
                     "\"skipped\":0,\"opened\":1}");
    json_object_put(o);
    ck_assert_int_eq(gf_breaker_admit(&b, &c, SEC(41), &probe), GF_BREAKER_PROBE);
    ck_assert(gf_breaker_retry_at(&b) == SEC(71));   /* the probe's slot */
    o = gf_breaker_health_json(test_pool, &c, &b, SEC(41));
    ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "retryAt")),
                     "1970-01-01T00:01:11Z");
    json_object_put(o);
    gf_breaker_refusal(test_pool, "fal", 1, SEC(40), &d);
    ck_assert_int_eq(d.next, GF_NEXT_FALLBACK);
    ck_assert_ptr_null(d.code);
    gf_breaker_refusal(test_pool, "fal", 0, SEC(40), &d);
    ck_assert_int_eq(d.next, GF_NEXT_FAIL);
    ck_assert_str_eq(d.code, GF_JOB_API);
    ck_assert_str_eq(d.message, "provider 'fal' is unavailable: its circuit breaker is open "
                     "after failures (no new request before 1970-01-01T00:00:40Z)");
}
END_TEST

START_TEST(test_news)
{
    ck_assert_int_eq(gf_breaker_news(GF_BREAKER_HALF_OPEN, GF_BREAKER_OPEN, 1, GF_BREAKER_EXHAUSTED),
                     GF_BREAKER_NEWS_REOPENED);
    ck_assert_int_eq(gf_breaker_news(GF_BREAKER_CLOSED, GF_BREAKER_OPEN, 1, GF_BREAKER_EXHAUSTED),
                     GF_BREAKER_NEWS_EXHAUSTED);
    ck_assert_int_eq(gf_breaker_news(GF_BREAKER_CLOSED, GF_BREAKER_OPEN, 1, GF_BREAKER_FAILURE),
                     GF_BREAKER_NEWS_OPENED);
    ck_assert_int_eq(gf_breaker_news(GF_BREAKER_HALF_OPEN, GF_BREAKER_CLOSED, 0, GF_BREAKER_SUCCESS),
                     GF_BREAKER_NEWS_CLOSED);
    ck_assert_int_eq(gf_breaker_news(GF_BREAKER_CLOSED, GF_BREAKER_CLOSED, 0, GF_BREAKER_FAILURE),
                     GF_BREAKER_NEWS_NONE);
    ck_assert_int_eq(gf_breaker_news(GF_BREAKER_HALF_OPEN, GF_BREAKER_HALF_OPEN, 0,
                                     GF_BREAKER_NEUTRAL), GF_BREAKER_NEWS_NONE);
}
END_TEST

Suite *breaker_suite(void)
{
    Suite *s = suite_create("breaker");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_defaults_and_options);
    tcase_add_test(tc, test_opens_after_n_failures_in_window);
    tcase_add_test(tc, test_failures_outside_window_forgotten);
    tcase_add_test(tc, test_success_and_neutral);
    tcase_add_test(tc, test_exhausted_opens_at_once);
    tcase_add_test(tc, test_open_skips_then_one_probe);
    tcase_add_test(tc, test_probe_failure_reopens);
    tcase_add_test(tc, test_stale_probe_expires);
    tcase_add_test(tc, test_outcome_classification);
    tcase_add_test(tc, test_sane);
    tcase_add_test(tc, test_gate_and_health);
    tcase_add_test(tc, test_news);
    suite_add_tcase(s, tc);
    return s;
}
