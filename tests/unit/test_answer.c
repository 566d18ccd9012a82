/* SPDX-License-Identifier: Apache-2.0 */
/* test_answer.c: a type's answers from plain values (core/gf_answer.h),
 * byte for byte, as the integration suite and the OpenAPI tests read them. */
#include <string.h>

#include "test_core.h"
#include "core/gf_answer.h"
#include "core/gf_json.h"

/* 2023-11-14T22:13:20Z */
#define T0 apr_time_from_sec(1700000000)

static json_object *parse(const char *s)
{
    const char *err;
    json_object *o = gf_json_parse(test_pool, s, strlen(s), &err);
    ck_assert_ptr_nonnull(o);
    return o;
}

START_TEST(terminal_states)
{
    ck_assert(gf_answer_is_terminal("completed"));
    ck_assert(gf_answer_is_terminal("failed"));
    ck_assert(gf_answer_is_terminal("cancelled"));
    ck_assert(!gf_answer_is_terminal("pending"));
    ck_assert(!gf_answer_is_terminal("processing"));
    ck_assert(!gf_answer_is_terminal("Completed"));
    ck_assert(!gf_answer_is_terminal(NULL));
}
END_TEST

START_TEST(in_line)
{
    ck_assert_str_eq(gf_answer_in_line(test_pool, "{\"status\": \"pending\"}", 3, -1, T0),
                     "{\"status\":\"pending\",\"queuePosition\":3,\"estimatedStartAt\":null}");
    ck_assert_str_eq(gf_answer_in_line(test_pool, "{\"status\":\"pending\"}", 0,
                                       apr_time_from_sec(5), T0),
                     "{\"status\":\"pending\",\"queuePosition\":0,"
                     "\"estimatedStartAt\":\"2023-11-14T22:13:25Z\"}");
    /* No wait: now, rounded up to the estimate's step (5 s). */
    ck_assert_str_eq(gf_answer_in_line(test_pool, "{}", 1, 0, T0 + 1),
                     "{\"queuePosition\":1,\"estimatedStartAt\":\"2023-11-14T22:13:25Z\"}");
    ck_assert_str_eq(gf_answer_in_line(test_pool, "{}", 1, 0, T0),
                     "{\"queuePosition\":1,\"estimatedStartAt\":\"2023-11-14T22:13:20Z\"}");
    ck_assert_str_eq(gf_answer_in_line(test_pool, "not json", 1, 0, T0), "not json");
}
END_TEST

START_TEST(estimated)
{
    const char *started = "1700000000000", *json = "{\"status\":\"processing\"}";
    int moving = -1;

    ck_assert_str_eq(gf_answer_estimated(test_pool, json, started, apr_time_from_sec(10),
                                         T0 + apr_time_from_msec(2500), &moving),
                     "{\"status\":\"processing\",\"progress\":0.25,"
                     "\"estimatedFinishAt\":\"2023-11-14T22:13:30Z\"}");
    ck_assert_int_eq(moving, 1);
    /* The end rounded up to a whole second. */
    ck_assert_str_eq(gf_answer_estimated(test_pool, json, "1700000000500", apr_time_from_sec(10),
                                         T0 + apr_time_from_sec(1), &moving),
                     "{\"status\":\"processing\",\"progress\":0.05,"
                     "\"estimatedFinishAt\":\"2023-11-14T22:13:31Z\"}");
    /* Past the typical time: held at the cap, no end, no longer moving. */
    ck_assert_str_eq(gf_answer_estimated(test_pool, json, started, apr_time_from_sec(10),
                                         T0 + apr_time_from_sec(60), &moving),
                     "{\"status\":\"processing\",\"progress\":0.99,\"estimatedFinishAt\":null}");
    ck_assert_int_eq(moving, 0);
    /* Nothing to estimate from. */
    moving = -1;
    ck_assert_str_eq(gf_answer_estimated(test_pool, json, NULL, apr_time_from_sec(10), T0,
                                         &moving), json);
    ck_assert_int_eq(moving, 0);
    ck_assert_str_eq(gf_answer_estimated(test_pool, json, started, 0, T0, &moving), json);
    ck_assert_str_eq(gf_answer_estimated(test_pool, "[", started, apr_time_from_sec(10),
                                         T0 + 1, &moving), "[");
    ck_assert_int_eq(moving, 0);
}
END_TEST

START_TEST(born_and_retry_after)
{
    int hint = 0;

    ck_assert_int_eq(gf_answer_born(T0, "1500"), T0 - apr_time_from_msec(1500));
    ck_assert_int_eq(gf_answer_born(apr_time_from_sec(1), "5000"), 1);
    ck_assert_int_eq(gf_answer_born(apr_time_from_sec(1), "1000"), 1);

    ck_assert_int_eq(gf_answer_retry_after(parse("{\"status\":\"completed\"}"), T0, &hint), 0);
    ck_assert_int_eq(gf_answer_retry_after(parse("{\"status\":\"pending\"}"), T0, &hint), 1);
    ck_assert_int_eq(hint, 1);
    ck_assert_int_eq(gf_answer_retry_after(parse("{\"status\":\"processing\",\"createdAt\":"
                                                 "\"2023-11-14T22:12:50.123Z\"}"), T0, &hint), 1);
    ck_assert_int_eq(hint, 7);                                  /* 30 s old */
    ck_assert_int_eq(gf_answer_retry_after(parse("{\"createdAt\":\"2023-11-14T20:00:00Z\"}"),
                                           T0, &hint), 1);
    ck_assert_int_eq(hint, 10);
    ck_assert_int_eq(gf_answer_retry_after(parse("{\"createdAt\":\"yesterday\"}"), T0, &hint), 1);
    ck_assert_int_eq(hint, 1);
}
END_TEST

START_TEST(trace_and_urls)
{
    ck_assert_str_eq(gf_answer_trace_id(parse("{\"traceId\":\"abc\"}")), "abc");
    ck_assert_str_eq(gf_answer_trace_id(parse("{\"traceId\":null}")), "-");
    ck_assert_str_eq(gf_answer_trace_id(NULL), "-");
    ck_assert_str_eq(gf_answer_type_url(test_pool, "/api/x", "status", "id1"), "/api/x/status/id1");
    ck_assert_str_eq(gf_answer_type_url(test_pool, "/api/x/", "events", "id1"),
                     "/api/x/events/id1");
    ck_assert_str_eq(gf_answer_type_url(test_pool, "/", "status", "id1"), "/status/id1");
    ck_assert_str_eq(gf_answer_type_url(test_pool, "", "status", "id1"), "/status/id1");
}
END_TEST

START_TEST(created_and_accepted)
{
    const char *id, *prompt, *at;
    apr_int64_t cost;

    ck_assert_str_eq(gf_answer_created(test_pool, "g1", "neo", 20, "a cat", "2023-11-14T22:13:20Z",
                                       "/api/neo/status/g1", "/api/neo/events/g1"),
                     "{\"generationId\":\"g1\",\"type\":\"neo\",\"status\":\"pending\","
                     "\"estimatedCost\":20,\"prompt\":\"a cat\","
                     "\"createdAt\":\"2023-11-14T22:13:20Z\",\"statusUrl\":\"/api/neo/status/g1\","
                     "\"eventsUrl\":\"/api/neo/events/g1\"}");
    ck_assert_str_eq(gf_answer_created(test_pool, "g1", "neo", 0, NULL, NULL, "/s", "/e"),
                     "{\"generationId\":\"g1\",\"type\":\"neo\",\"status\":\"pending\","
                     "\"estimatedCost\":0,\"prompt\":null,\"createdAt\":null,\"statusUrl\":\"/s\","
                     "\"eventsUrl\":\"/e\"}");
    ck_assert(gf_answer_created_fields(parse("{\"generationId\":\"g2\",\"estimatedCost\":7,"
                                             "\"prompt\":\"p\",\"createdAt\":\"t\"}"),
                                       &id, &cost, &prompt, &at));
    ck_assert_str_eq(id, "g2");
    ck_assert_int_eq(cost, 7);
    ck_assert_str_eq(prompt, "p");
    ck_assert_str_eq(at, "t");
    ck_assert(!gf_answer_created_fields(parse("{\"estimatedCost\":7}"), &id, &cost, &prompt, &at));
    ck_assert_ptr_null(prompt);

    ck_assert_str_eq(gf_answer_accepted(test_pool, "g1", "processing", "/s", "/e"),
                     "{\"generationId\":\"g1\",\"status\":\"processing\",\"pollUrl\":\"/s\","
                     "\"eventsUrl\":\"/e\"}");
    ck_assert_str_eq(gf_answer_accepted(test_pool, "g1", NULL, "/s", "/e"),
                     "{\"generationId\":\"g1\",\"status\":\"pending\",\"pollUrl\":\"/s\","
                     "\"eventsUrl\":\"/e\"}");
}
END_TEST

START_TEST(history_pages)
{
    static const char *r0[] = { "{\"generationId\": \"a\"}", "ca" };
    static const char *r1[] = { "not json", "cb" };
    static const char *r2[] = { "{\"generationId\": \"c\"}", "cc" };
    const char *const *rows[] = { r0, r1, r2 };

    /* One row more than asked: a next page, from the last row shown. */
    ck_assert_str_eq(gf_answer_history(test_pool, rows, 3, 2),
                     "{\"items\":[{\"generationId\":\"a\"}],\"next\":\"cb\"}");
    ck_assert_str_eq(gf_answer_history(test_pool, rows, 3, 3),
                     "{\"items\":[{\"generationId\":\"a\"},{\"generationId\":\"c\"}],"
                     "\"next\":null}");
    ck_assert_str_eq(gf_answer_history(test_pool, rows, 0, 20), "{\"items\":[],\"next\":null}");
}
END_TEST

START_TEST(presets_page)
{
    static const char *r0[] = { "k0", "Zero", "words 0", "the first" };
    static const char *r1[] = { "k1", "One", "words 1", "the second" };
    const char *const *rows[] = { r0, r1 };
    int active[] = { 0, 1 };

    ck_assert_str_eq(gf_answer_presets(test_pool, "2023-W46", rows, active, 2),
                     "{\"week\":\"2023-W46\",\"presets\":[{\"key\":\"k1\",\"name\":\"One\","
                     "\"description\":\"the second\"}]}");
    ck_assert_str_eq(gf_answer_presets(test_pool, "2023-W46", rows, active, 0),
                     "{\"week\":\"2023-W46\",\"presets\":[]}");
}
END_TEST

START_TEST(refusals)
{
    ck_assert_str_eq(gf_answer_state_refusal(test_pool, "{\"status\": \"completed\"}",
                                             "pending or processing", "cancelled"),
                     "the generation is completed; only a pending or processing generation can "
                     "be cancelled");
    ck_assert_str_eq(gf_answer_state_refusal(test_pool, "{", "pending", "cancelled"),
                     "the generation is in another state; only a pending generation can be "
                     "cancelled");
    ck_assert_str_eq(gf_answer_not_startable(test_pool, "pending"),
                     "the generation is started already; only a created generation (pending, "
                     "never started) can be started");
    ck_assert_str_eq(gf_answer_not_startable(test_pool, "failed"),
                     "the generation is failed; only a created generation (pending, never "
                     "started) can be started");
    ck_assert_ptr_null(gf_answer_retry_refusal(test_pool, "failed"));
    ck_assert_ptr_null(gf_answer_retry_refusal(test_pool, "cancelled"));
    ck_assert_str_eq(gf_answer_retry_refusal(test_pool, "completed"),
                     "the generation is completed; only a failed or cancelled generation can be "
                     "retried");
}
END_TEST

START_TEST(uploads)
{
    ck_assert(gf_answer_upload_accepts(test_pool, "image/png"));
    ck_assert(gf_answer_upload_accepts(test_pool, "Image/JPEG; charset=x"));
    ck_assert(gf_answer_upload_accepts(test_pool, " \timage/webp \t;q=1"));
    ck_assert(!gf_answer_upload_accepts(test_pool, "image/gif"));
    ck_assert(!gf_answer_upload_accepts(test_pool, "image/pngx"));
    ck_assert(!gf_answer_upload_accepts(test_pool, ""));
    ck_assert(!gf_answer_upload_accepts(test_pool, NULL));
    ck_assert_str_eq(gf_answer_upload(test_pool, "u1", "/files/uploads/u1.png", "image/png", 640,
                                      480, 12345, "2023-11-14T22:13:20Z"),
                     "{\"uploadId\":\"u1\",\"sourceImage\":\"upload:u1\","
                     "\"url\":\"/files/uploads/u1.png\",\"contentType\":\"image/png\","
                     "\"width\":640,\"height\":480,\"bytes\":12345,"
                     "\"createdAt\":\"2023-11-14T22:13:20Z\"}");
}
END_TEST

START_TEST(event_ids)
{
    char id[GF_ANSWER_EVENT_ID_MAX], longer[100];

    gf_answer_event_id("\"abc\"", id);
    ck_assert_str_eq(id, "abc");
    gf_answer_event_id("abc", id);
    ck_assert_str_eq(id, "abc");
    gf_answer_event_id("\"\"", id);
    ck_assert_str_eq(id, "");
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    gf_answer_event_id(longer, id);
    ck_assert_uint_eq(strlen(id), GF_ANSWER_EVENT_ID_MAX - 1);

    ck_assert(gf_answer_event_id_plausible("abc-123"));
    ck_assert(gf_answer_event_id_plausible(""));
    ck_assert(!gf_answer_event_id_plausible("a b"));
    ck_assert(!gf_answer_event_id_plausible("a\x7f"));
    longer[GF_ANSWER_EVENT_ID_MAX - 1] = '\0';                  /* 63 characters */
    ck_assert(gf_answer_event_id_plausible(longer));
    longer[GF_ANSWER_EVENT_ID_MAX - 1] = 'x';
    longer[GF_ANSWER_EVENT_ID_MAX] = '\0';                      /* 64 */
    ck_assert(!gf_answer_event_id_plausible(longer));
}
END_TEST

START_TEST(previews)
{
    apr_interval_time_t look = 0, every = apr_time_from_sec(1);

    ck_assert(gf_answer_preview_due(T0, 0, every, &look));      /* none sent yet */
    ck_assert(gf_answer_preview_due(T0, T0 - every, every, &look));
    ck_assert_int_eq(look, 0);
    ck_assert(!gf_answer_preview_due(T0, T0 - apr_time_from_msec(300), every, &look));
    ck_assert_int_eq(look, apr_time_from_msec(700));
    look = apr_time_from_msec(200);                             /* a sooner look stays */
    ck_assert(!gf_answer_preview_due(T0, T0 - apr_time_from_msec(300), every, &look));
    ck_assert_int_eq(look, apr_time_from_msec(200));
    ck_assert(gf_answer_preview_due(T0, T0 + apr_time_from_sec(5), every, &look));  /* clock back */
    ck_assert_str_eq(gf_answer_preview_event(test_pool, "g1", "/p/g1.png"),
                     "event: preview\ndata: {\"generationId\":\"g1\",\"url\":\"/p/g1.png\"}\n\n");
}
END_TEST

Suite *answer_suite(void)
{
    Suite *s = suite_create("answer");
    TCase *tc = tcase_create("answer");
    tcase_add_test(tc, terminal_states);
    tcase_add_test(tc, in_line);
    tcase_add_test(tc, estimated);
    tcase_add_test(tc, born_and_retry_after);
    tcase_add_test(tc, trace_and_urls);
    tcase_add_test(tc, created_and_accepted);
    tcase_add_test(tc, history_pages);
    tcase_add_test(tc, presets_page);
    tcase_add_test(tc, refusals);
    tcase_add_test(tc, uploads);
    tcase_add_test(tc, event_ids);
    tcase_add_test(tc, previews);
    suite_add_tcase(s, tc);
    return s;
}
