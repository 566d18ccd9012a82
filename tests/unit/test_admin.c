/* SPDX-License-Identifier: Apache-2.0 */
/* test_admin.c: the admin API's and the health endpoint's rules
 * (core/gf_admin.h), with the answers byte for byte. */
#include <string.h>
#include <apr_strings.h>

#include "test_core.h"
#include "core/gf_admin.h"
#include "core/gf_json.h"

static json_object *parse(const char *s)
{
    const char *err;
    json_object *o = gf_json_parse(test_pool, s, strlen(s), &err);
    ck_assert_ptr_nonnull(o);
    return o;
}

START_TEST(statuses)
{
    ck_assert(gf_admin_valid_status("pending", 0));
    ck_assert(gf_admin_valid_status("processing", 0));
    ck_assert(gf_admin_valid_status("completed", 0));
    ck_assert(!gf_admin_valid_status("queued", 0));
    ck_assert(!gf_admin_valid_status("pending", 1));
    ck_assert(!gf_admin_valid_status("processing", 1));
    ck_assert(gf_admin_valid_status("completed", 1));
    ck_assert(gf_admin_valid_status("failed", 1));
    ck_assert(gf_admin_valid_status("cancelled", 1));
}
END_TEST

START_TEST(limits)
{
    long limit = 0;

    ck_assert_ptr_null(gf_admin_limit(test_pool, NULL, &limit));
    ck_assert_int_eq(limit, GF_ADMIN_DEFAULT_LIMIT);
    ck_assert_ptr_null(gf_admin_limit(test_pool, "1", &limit));
    ck_assert_int_eq(limit, 1);
    ck_assert_ptr_null(gf_admin_limit(test_pool, "500", &limit));
    ck_assert_int_eq(limit, 500);
    ck_assert_str_eq(gf_admin_limit(test_pool, "501", &limit), "limit must be 1..500");
    ck_assert_str_eq(gf_admin_limit(test_pool, "0", &limit), "limit must be 1..500");
    ck_assert_str_eq(gf_admin_limit(test_pool, "ten", &limit), "limit must be 1..500");
}
END_TEST

START_TEST(delete_args)
{
    long secs = -1;

    ck_assert_ptr_null(gf_admin_delete_args(test_pool, NULL, "0", &secs));
    ck_assert_int_eq(secs, 0);
    ck_assert_ptr_null(gf_admin_delete_args(test_pool, "failed", "315360000", &secs));
    ck_assert_int_eq(secs, 315360000);
    ck_assert_str_eq(gf_admin_delete_args(test_pool, "pending", "10", &secs),
                     "status must be completed, failed or cancelled: only terminal generations "
                     "can be deleted");
    ck_assert_str_eq(gf_admin_delete_args(test_pool, "failed", NULL, &secs),
                     "olderThan (seconds) is required");
    ck_assert_str_eq(gf_admin_delete_args(test_pool, NULL, "315360001", &secs),
                     "olderThan must be a whole number of seconds from 0 to 315360000");
    ck_assert_str_eq(gf_admin_delete_args(test_pool, NULL, "-1", &secs),
                     "olderThan must be a whole number of seconds from 0 to 315360000");
}
END_TEST

START_TEST(webhook_state)
{
    const char *state = NULL;

    ck_assert_ptr_null(gf_admin_webhook_state(&state));
    ck_assert_str_eq(state, "failed");
    state = "delivered";
    ck_assert_ptr_null(gf_admin_webhook_state(&state));
    state = "pending";
    ck_assert_ptr_null(gf_admin_webhook_state(&state));
    state = "sent";
    ck_assert_str_eq(gf_admin_webhook_state(&state), "state must be failed, pending or delivered");
}
END_TEST

START_TEST(grant_args)
{
    const char *user, *reason, *too_long_user, *too_long_reason;
    apr_int64_t amount;
    char name[300], why[600];

    ck_assert_ptr_null(gf_admin_grant_args(parse("{\"user\":\"ann\",\"amount\":5}"), &user,
                                           &amount, &reason));
    ck_assert_str_eq(user, "ann");
    ck_assert_int_eq(amount, 5);
    ck_assert_ptr_null(reason);
    ck_assert_ptr_null(gf_admin_grant_args(parse("{\"user\":\"ann\",\"amount\":1000000000,"
                                                 "\"reason\":\"promo\"}"),
                                           &user, &amount, &reason));
    ck_assert_str_eq(reason, "promo");
    ck_assert_str_eq(gf_admin_grant_args(parse("{\"amount\":5}"), &user, &amount, &reason),
                     "user must be a user name");
    ck_assert_str_eq(gf_admin_grant_args(parse("{\"user\":\"\",\"amount\":5}"), &user, &amount,
                                         &reason), "user must be a user name");
    memset(name, 'u', 256);
    name[256] = '\0';
    too_long_user = apr_psprintf(test_pool, "{\"user\":\"%s\",\"amount\":5}", name);
    ck_assert_str_eq(gf_admin_grant_args(parse(too_long_user), &user, &amount, &reason),
                     "user must be a user name");
    ck_assert_str_eq(gf_admin_grant_args(parse("{\"user\":\"ann\",\"amount\":0}"), &user,
                                         &amount, &reason),
                     "amount must be a whole number from 1 to 1000000000");
    ck_assert_str_eq(gf_admin_grant_args(parse("{\"user\":\"ann\",\"amount\":1000000001}"), &user,
                                         &amount, &reason),
                     "amount must be a whole number from 1 to 1000000000");
    ck_assert_str_eq(gf_admin_grant_args(parse("{\"user\":\"ann\",\"amount\":5.0}"), &user,
                                         &amount, &reason),
                     "amount must be a whole number from 1 to 1000000000");
    ck_assert_str_eq(gf_admin_grant_args(parse("{\"user\":\"ann\",\"amount\":\"5\"}"), &user,
                                         &amount, &reason),
                     "amount must be a whole number from 1 to 1000000000");
    memset(why, 'r', 501);
    why[501] = '\0';
    too_long_reason = apr_psprintf(test_pool, "{\"user\":\"ann\",\"amount\":5,\"reason\":\"%s\"}",
                                   why);
    ck_assert_str_eq(gf_admin_grant_args(parse(too_long_reason), &user, &amount, &reason),
                     "reason is too long");
    why[500] = '\0';
    too_long_reason = apr_psprintf(test_pool, "{\"user\":\"ann\",\"amount\":5,\"reason\":\"%s\"}",
                                   why);
    ck_assert_ptr_null(gf_admin_grant_args(parse(too_long_reason), &user, &amount, &reason));

    ck_assert_str_eq(gf_admin_grant_reason(test_pool, "root", "promo"), "admin root: promo");
    ck_assert_str_eq(gf_admin_grant_reason(test_pool, "root", NULL), "admin root");
    ck_assert_str_eq(gf_admin_grant_reason(test_pool, NULL, NULL), "admin -");
}
END_TEST

/* Every type's rows merged newest first, at most the limit; an item that
 * does not parse still takes its place. */
START_TEST(job_list)
{
    gf_admin_list_t *l = gf_admin_list_make(test_pool);
    static const char *r0[] = { "{\"id\": 1}" }, *r1[] = { "{\"id\": 2}" }, *r2[] = { "[" };
    const char *const *rows[] = { r0, r2, r1 };

    gf_admin_list_add(l, "{\"id\": \"a\"}", "2026-11-01 10:00:00.5+00");
    gf_admin_list_add(l, "{\"id\": \"b\"}", "2026-11-03 10:00:00+00");
    gf_admin_list_add(l, "not json", "2026-11-04 10:00:00+00");
    gf_admin_list_add(l, "{\"id\": \"c\"}", "2026-11-02 10:00:00+00");
    ck_assert_str_eq(gf_admin_list_json(l, 500),
                     "{\"items\":[{\"id\":\"b\"},{\"id\":\"c\"},{\"id\":\"a\"}]}");
    ck_assert_str_eq(gf_admin_list_json(l, 2), "{\"items\":[{\"id\":\"b\"}]}");
    ck_assert_str_eq(gf_admin_list_json(gf_admin_list_make(test_pool), 50), "{\"items\":[]}");
    ck_assert_str_eq(gf_admin_items(test_pool, rows, 3), "{\"items\":[{\"id\":1},{\"id\":2}]}");
}
END_TEST

START_TEST(answers)
{
    ck_assert_str_eq(gf_admin_granted(test_pool, "ann", "1500"),
                     "{\"user\":\"ann\",\"currentBalance\":1500}");
    ck_assert_str_eq(gf_admin_redelivered(test_pool, "42", "msg_1"),
                     "{\"id\":42,\"webhookId\":\"msg_1\",\"state\":\"pending\"}");
}
END_TEST

START_TEST(provider_item)
{
    gf_admin_provider_t v;
    json_object *circuit = gf_json_pool_own(test_pool, json_object_new_object());
    json_object *it;

    json_object_object_add(circuit, "state", json_object_new_string("closed"));
    v.name = "sdxl";
    v.kind = "stability";
    v.model = NULL;
    v.cost = 0;
    v.cost_per_unit = 0;
    v.poll_every = 0;
    it = gf_json_pool_own(test_pool, gf_admin_provider_item(&v, circuit, NULL,
                                                            json_object_new_int(3)));
    ck_assert_str_eq(gf_json_dump(test_pool, it),
                     "{\"name\":\"sdxl\",\"kind\":\"stability\",\"model\":null,\"cost\":null,"
                     "\"costPerUnit\":null,\"pollMs\":null,\"circuit\":{\"state\":\"closed\"},"
                     "\"limits\":null,\"budget\":3}");
    v.model = "sd3";
    v.cost = 0.25;
    v.cost_per_unit = 0.5;
    v.poll_every = apr_time_from_msec(1500);
    it = gf_json_pool_own(test_pool, gf_admin_provider_item(&v, circuit, NULL, NULL));
    ck_assert_str_eq(gf_json_dump(test_pool, it),
                     "{\"name\":\"sdxl\",\"kind\":\"stability\",\"model\":\"sd3\",\"cost\":0.25,"
                     "\"costPerUnit\":0.5,\"pollMs\":1500,\"circuit\":{\"state\":\"closed\"},"
                     "\"limits\":null,\"budget\":null}");
}
END_TEST

START_TEST(health)
{
    gf_admin_health_t h;

    memset(&h, 0, sizeof(h));
    h.ok = 1;
    h.per_child = 4;
    h.running = 4;
    h.pid = 1234;
    h.listening = 1;
    h.in_flight = 2;
    h.max_in_flight = 500;
    h.exchanges = 3;
    h.kept_polls = 1;
    h.parked = 7;
    h.blocking = 1;
    h.types = 5;
    h.providers = json_object_new_object();
    ck_assert_str_eq(gf_admin_health(test_pool, &h),
                     "{\"status\":\"ok\",\"database\":\"ok\",\"workers\":{\"perChild\":4,"
                     "\"running\":4,\"pid\":1234,\"listening\":true,\"inFlight\":2,"
                     "\"maxInFlight\":500,\"exchanges\":3,\"keptPolls\":1},"
                     "\"waiters\":{\"parked\":7,\"blocking\":1},\"types\":5,\"providers\":{}}");
    h.ok = 0;
    h.listening = 0;
    h.providers = NULL;
    ck_assert_str_eq(gf_admin_health(test_pool, &h),
                     "{\"status\":\"unavailable\",\"database\":\"unreachable\",\"workers\":"
                     "{\"perChild\":4,\"running\":4,\"pid\":1234,\"listening\":false,"
                     "\"inFlight\":2,\"maxInFlight\":500,\"exchanges\":3,\"keptPolls\":1},"
                     "\"waiters\":{\"parked\":7,\"blocking\":1},\"types\":5,\"providers\":null,"
                     "\"error\":{\"code\":\"SERVICE_UNAVAILABLE\","
                     "\"message\":\"the database is unreachable\"}}");
}
END_TEST

Suite *admin_suite(void)
{
    Suite *s = suite_create("admin");
    TCase *tc = tcase_create("admin");
    tcase_add_test(tc, statuses);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, delete_args);
    tcase_add_test(tc, webhook_state);
    tcase_add_test(tc, grant_args);
    tcase_add_test(tc, job_list);
    tcase_add_test(tc, answers);
    tcase_add_test(tc, provider_item);
    tcase_add_test(tc, health);
    suite_add_tcase(s, tc);
    return s;
}
