/* SPDX-License-Identifier: Apache-2.0 */
/* test_outcome.c: what an attempt's outcome writes (core/gf_settle.h):
 * the statement each decision picks and its arguments (a retry counted,
 * a fallback moving on with its counts at 0, a poll keeping its job), a
 * completion's pictures as the row's images, the log line's parts and
 * the cost record's arguments. */
#include <string.h>
#include <apr_strings.h>

#include "test_core.h"
#include "core/gf_settle.h"
#include "core/gf_settle_batch.h"
#include "core/gf_error.h"
#include <json-c/json.h>

static gf_settle_row_t row_of(void)
{
    gf_settle_row_t r;
    memset(&r, 0, sizeof(r));
    r.id = "gen";
    r.lease_owner = "node:w1";
    r.attempts = 4;
    r.chain_index = 1;
    r.retry_count = 2;
    r.poll_count = 5;
    r.poll_errors = 3;
    r.provider_job_id = "job-row";
    r.provider_state = "{\"row\":1}";
    return r;
}

START_TEST(outcome_statement_terminal)
{
    gf_settle_row_t row = row_of();
    gf_decision_t d;
    gf_provider_result_t res;
    const char *a[GF_SETTLE_ARGS_MAX];
    int n = 0;

    memset(&d, 0, sizeof(d));
    memset(&res, 0, sizeof(res));
    d.next = GF_NEXT_COMPLETE;
    ck_assert_int_eq(gf_settle_statement(test_pool, &row, &d, &res, "fal", "flux", "/u/1.png",
                                         "[{}]", a, &n), GF_SQL_COMPLETE);
    ck_assert_int_eq(n, 7);
    ck_assert_str_eq(a[0], "gen");
    ck_assert_str_eq(a[1], "/u/1.png");
    ck_assert_str_eq(a[2], "[{}]");
    ck_assert_str_eq(a[3], "fal");
    ck_assert_str_eq(a[4], "flux");
    ck_assert_str_eq(a[5], "node:w1");
    ck_assert_str_eq(a[6], "4");

    d.next = GF_NEXT_MORE;
    ck_assert_int_eq(gf_settle_statement(test_pool, &row, &d, &res, "fal", NULL, NULL, "[1]", a,
                                         &n), GF_SQL_MORE);
    ck_assert_int_eq(n, 6);
    ck_assert_str_eq(a[0], "[1]");
    ck_assert_ptr_null(a[2]);
    ck_assert_str_eq(a[3], "gen");
    ck_assert_str_eq(a[5], "4");

    d.next = GF_NEXT_FAIL;
    d.code = GF_JOB_TIMEOUT;
    ck_assert_int_eq(gf_settle_statement(test_pool, &row, &d, &res, "fal", "m", NULL, NULL, a,
                                         &n), GF_SQL_FAIL);
    ck_assert_int_eq(n, 9);
    ck_assert_str_eq(a[1], "failed");
    ck_assert_str_eq(a[2], GF_JOB_TIMEOUT);
    ck_assert_str_eq(a[3], GF_JOB_TIMEOUT);      /* no message: the code */
    ck_assert_str_eq(a[6], "node:w1");
    ck_assert_ptr_null(a[8]);
    d.cancelled = 1;
    d.message = "past Cancel-After";
    gf_settle_statement(test_pool, &row, &d, &res, "fal", "m", NULL, NULL, a, &n);
    ck_assert_str_eq(a[1], "cancelled");
    ck_assert_str_eq(a[3], "past Cancel-After");
}
END_TEST

START_TEST(outcome_statement_schedule)
{
    gf_settle_row_t row = row_of();
    gf_decision_t d;
    gf_provider_result_t res;
    const char *a[GF_SETTLE_ARGS_MAX];
    int n = 0;

    memset(&d, 0, sizeof(d));
    memset(&res, 0, sizeof(res));
    /* A retry: counted, the chain and the polls as they were, no job. */
    d.next = GF_NEXT_RETRY;
    d.delay = apr_time_from_msec(2500);
    ck_assert_int_eq(gf_settle_statement(test_pool, &row, &d, &res, "fal", "m", NULL, NULL, a, &n),
                     GF_SQL_SCHEDULE);
    ck_assert_int_eq(n, GF_SCHEDULE_ARGS);
    ck_assert_str_eq(a[GF_SCHEDULE_DELAY_MS], "2500");
    ck_assert_str_eq(a[GF_SCHEDULE_CHAIN_INDEX], "1");
    ck_assert_str_eq(a[GF_SCHEDULE_RETRY_COUNT], "3");
    ck_assert_str_eq(a[GF_SCHEDULE_POLL_COUNT], "5");
    ck_assert_str_eq(a[GF_SCHEDULE_POLL_ERRORS], "0");
    ck_assert_ptr_null(a[GF_SCHEDULE_PROVIDER_JOB_ID]);
    ck_assert_ptr_null(a[GF_SCHEDULE_PROVIDER_STATE]);
    ck_assert_str_eq(a[GF_SCHEDULE_ID], "gen");
    ck_assert_str_eq(a[GF_SCHEDULE_LEASE_OWNER], "node:w1");
    ck_assert_str_eq(a[GF_SCHEDULE_ATTEMPT], "4");
    ck_assert_str_eq(a[GF_SCHEDULE_PROVIDER], "fal");
    ck_assert_str_eq(a[GF_SCHEDULE_MODEL], "m");
    /* A fallback: the next entry, its retries and polls at 0. */
    d.next = GF_NEXT_FALLBACK;
    d.delay = 0;
    gf_settle_statement(test_pool, &row, &d, &res, "fal", "m", NULL, NULL, a, &n);
    ck_assert_str_eq(a[GF_SCHEDULE_DELAY_MS], "0");
    ck_assert_str_eq(a[GF_SCHEDULE_CHAIN_INDEX], "2");
    ck_assert_str_eq(a[GF_SCHEDULE_RETRY_COUNT], "0");
    ck_assert_str_eq(a[GF_SCHEDULE_POLL_COUNT], "0");
    ck_assert_ptr_null(a[GF_SCHEDULE_PROVIDER_JOB_ID]);
    /* A poll: counted, the row's job kept, its failures at 0. */
    d.next = GF_NEXT_POLL;
    d.delay = apr_time_from_msec(500);
    gf_settle_statement(test_pool, &row, &d, &res, "fal", "m", NULL, NULL, a, &n);
    ck_assert_str_eq(a[GF_SCHEDULE_CHAIN_INDEX], "1");
    ck_assert_str_eq(a[GF_SCHEDULE_RETRY_COUNT], "2");
    ck_assert_str_eq(a[GF_SCHEDULE_POLL_COUNT], "6");
    ck_assert_str_eq(a[GF_SCHEDULE_POLL_ERRORS], "0");
    ck_assert_str_eq(a[GF_SCHEDULE_PROVIDER_JOB_ID], "job-row");
    ck_assert_str_eq(a[GF_SCHEDULE_PROVIDER_STATE], "{\"row\":1}");
    /* A failed poll counts its failure and keeps the job; a new job id
     * and state from the call win over the row's. */
    d.poll_failed = 1;
    res.provider_job_id = "job-new";
    res.provider_state = "{\"new\":1}";
    gf_settle_statement(test_pool, &row, &d, &res, "fal", "m", NULL, NULL, a, &n);
    ck_assert_str_eq(a[GF_SCHEDULE_POLL_ERRORS], "4");
    ck_assert_str_eq(a[GF_SCHEDULE_PROVIDER_JOB_ID], "job-new");
    ck_assert_str_eq(a[GF_SCHEDULE_PROVIDER_STATE], "{\"new\":1}");
}
END_TEST

START_TEST(outcome_pictures)
{
    gf_provider_result_t res;
    gf_picture_t more[12], pic;
    gf_settle_pictures_t pics;
    gf_decision_t d;
    unsigned char bytes[1] = { 0 };

    memset(&res, 0, sizeof(res));
    memset(more, 0, sizeof(more));
    res.image = bytes;
    res.image_len = 1;
    res.content_type = "image/png";
    res.has_seed = 1;
    res.seed = 42;
    /* One picture, asked for one. */
    ck_assert_int_eq(gf_settle_pictures_begin(test_pool, &res, 1, 0, 1, &pics), 1);
    pic = gf_settle_picture(&res, 0);
    ck_assert_ptr_eq(pic.image, bytes);
    ck_assert(pic.has_seed && pic.seed == 42);
    /* Several: never more than asked, else than the count lacks, nor
     * than GF_PICTURES_MAX. */
    more[0].image_url = "https://p/2.png";
    res.more = more;
    res.n_more = 11;
    ck_assert_int_eq(gf_settle_pictures_begin(test_pool, &res, 4, 0, 3, &pics), 3);
    ck_assert_int_eq(gf_settle_pictures_begin(test_pool, &res, 4, 1, 0, &pics), 3);
    ck_assert_int_eq(gf_settle_pictures_begin(test_pool, &res, 20, 0, 20, &pics), GF_PICTURES_MAX);
    ck_assert_str_eq(gf_settle_picture(&res, 1).image_url, "https://p/2.png");
    /* Bytes to store: the first has them; URLs only when none has. */
    ck_assert_int_eq(gf_settle_pictures_bytes(&res, 3), 1);
    res.image = NULL;
    ck_assert_int_eq(gf_settle_pictures_bytes(&res, 3), 0);
    more[1].image = bytes;
    ck_assert_int_eq(gf_settle_pictures_bytes(&res, 2), 0);
    ck_assert_int_eq(gf_settle_pictures_bytes(&res, 3), 1);
    /* The row asked first only for bytes, and only once the claim's
     * own lease may have run out. */
    ck_assert_int_eq(gf_settle_renew_first(&res, 3, 100, 200), 0);
    ck_assert_int_eq(gf_settle_renew_first(&res, 3, 200, 200), 1);
    ck_assert_int_eq(gf_settle_renew_first(&res, 2, 300, 200), 0);
    more[1].image = NULL;
    res.image = bytes;
    /* Stored: the first's URL, each with its size when known. */
    gf_settle_pictures_add(&pics, &pic, "/m/a.png", NULL, NULL, 1, 64, 32);
    pic = gf_settle_picture(&res, 1);
    gf_settle_pictures_add(&pics, &pic, "https://p/2.png", NULL, NULL, 0, 0, 0);
    memset(&d, 0, sizeof(d));
    ck_assert_int_eq(gf_settle_pictures_end(&pics, &d), 1);
    ck_assert_int_eq(pics.n, 2);
    ck_assert_str_eq(pics.url, "/m/a.png");
    ck_assert_str_eq(pics.json, "[{\"url\":\"/m/a.png\",\"width\":64,\"height\":32,\"seed\":42},"
                                "{\"url\":\"https://p/2.png\",\"width\":null,\"height\":null,"
                                "\"seed\":null}]");
    ck_assert_int_eq(d.next, GF_NEXT_COMPLETE);
    ck_assert_int_eq(pics.n_kept, 0);             /* no store of the site holds them */
    /* What the site's stores hold is kept, to take back. */
    gf_settle_pictures_begin(test_pool, &res, 4, 0, 3, &pics);
    gf_settle_pictures_add(&pics, &pic, "https://p/2.png", NULL, NULL, 0, 0, 0);
    gf_settle_pictures_add(&pics, &pic, "/m/b.png", &res, "neo/gen-1.png", 0, 0, 0);
    ck_assert_int_eq(pics.n, 2);
    ck_assert_int_eq(pics.n_kept, 1);
    ck_assert_ptr_eq(pics.stores[0], &res);
    ck_assert_str_eq(pics.keys[0], "neo/gen-1.png");
    ck_assert_str_eq(pics.url, "https://p/2.png");
    /* None stored: a failure, worded by how many were tried. */
    gf_settle_pictures_begin(test_pool, &res, 4, 0, 3, &pics);
    ck_assert_int_eq(gf_settle_pictures_end(&pics, &d), 0);
    ck_assert_int_eq(d.next, GF_NEXT_FAIL);
    ck_assert_str_eq(d.code, GF_JOB_STORAGE);
    ck_assert_str_eq(d.message, "none of the images could be stored");
    res.more = NULL;
    gf_settle_pictures_begin(test_pool, &res, 1, 0, 1, &pics);
    gf_settle_pictures_end(&pics, &d);
    ck_assert_str_eq(d.message, "the image could not be stored");
}
END_TEST

START_TEST(outcome_report)
{
    gf_decision_t d;
    gf_provider_result_t res;
    gf_settle_report_t r;

    memset(&d, 0, sizeof(d));
    memset(&res, 0, sizeof(res));
    res.error_code = GF_JOB_PROVIDER_AUTH;
    res.error_message = "overloaded";
    d.next = GF_NEXT_RETRY;
    d.delay = apr_time_from_msec(4000);
    gf_settle_report(test_pool, &d, &res, &r);
    ck_assert_int_eq(r.count, GF_SETTLE_COUNT_RETRY);
    ck_assert_int_eq(r.info, 0);
    ck_assert_str_eq(r.what, "retry");
    ck_assert_str_eq(r.code, GF_JOB_PROVIDER_AUTH);
    ck_assert_str_eq(r.detail, "overloaded (in 4000 ms)");
    d.next = GF_NEXT_FALLBACK;
    d.delay = 0;
    gf_settle_report(test_pool, &d, &res, &r);
    ck_assert_int_eq(r.count, GF_SETTLE_COUNT_FALLBACK);
    ck_assert_int_eq(r.info, 1);
    ck_assert_str_eq(r.detail, "overloaded");
    d.next = GF_NEXT_POLL;
    d.delay = apr_time_from_msec(750);
    gf_settle_report(test_pool, &d, NULL, &r);
    ck_assert_int_eq(r.count, GF_SETTLE_COUNT_NONE);
    ck_assert_int_eq(r.info, 0);
    ck_assert_ptr_null(r.code);
    ck_assert_str_eq(r.detail, "in 750 ms");
    d.next = GF_NEXT_MORE;
    d.delay = 0;
    gf_settle_report(test_pool, &d, NULL, &r);
    ck_assert_int_eq(r.count, GF_SETTLE_COUNT_NONE);
    ck_assert_int_eq(r.info, 1);
    ck_assert_ptr_null(r.detail);
    d.next = GF_NEXT_FAIL;
    d.code = GF_JOB_TIMEOUT;
    d.message = "deadline passed";
    gf_settle_report(test_pool, &d, &res, &r);
    ck_assert_int_eq(r.count, GF_SETTLE_COUNT_TERMINAL);
    ck_assert_str_eq(r.code, GF_JOB_TIMEOUT);
    ck_assert_str_eq(r.detail, "deadline passed");
    d.next = GF_NEXT_COMPLETE;
    gf_settle_report(test_pool, &d, NULL, &r);
    ck_assert_int_eq(r.count, GF_SETTLE_COUNT_TERMINAL);
    ck_assert_int_eq(r.info, 1);
    ck_assert_str_eq(gf_settle_stale(0), "the row changed under this attempt; result dropped");
    ck_assert(strstr(gf_settle_stale(1), "answer was lost") != NULL);
}
END_TEST

START_TEST(outcome_small_rules)
{
    gf_decision_t d;
    gf_provider_result_t res;
    const char *args[GF_SETTLE_COST_ARGS], *job, *state;
    const char *key = gf_settle_object_key(test_pool, "neo", "gen", ".jpg"), *key2;

    /* "<folder>/<id>-<16 hex><ext>", a new one each time. */
    ck_assert_int_eq((int)strlen(key), (int)strlen("neo/gen-") + 16 + 4);
    ck_assert(!strncmp(key, "neo/gen-", 8));
    ck_assert_str_eq(key + strlen(key) - 4, ".jpg");
    ck_assert_uint_eq(strspn(key + 8, "0123456789abcdef"), 16);
    key2 = gf_settle_object_key(test_pool, "neo", "gen", ".jpg");
    ck_assert_str_ne(key, key2);
    /* A picture's: "<type>/<hh>/<id>-<16 hex>.png", hh the first two of the 16. */
    key = gf_settle_picture_key(test_pool, "neo", "gen");
    ck_assert_int_eq((int)strlen(key), (int)strlen("neo/hh/gen-") + 16 + 4);
    ck_assert(!strncmp(key, "neo/", 4));
    ck_assert(!strncmp(key + 6, "/gen-", 5));
    ck_assert_str_eq(key + strlen(key) - 4, ".png");
    ck_assert_uint_eq(strspn(key + 11, "0123456789abcdef"), 16);
    ck_assert(!strncmp(key + 4, key + 11, 2));
    ck_assert_str_ne(key, gf_settle_picture_key(test_pool, "neo", "gen"));

    memset(&d, 0, sizeof(d));
    d.next = GF_NEXT_POLL;
    d.delay = GF_SETTLE_SHORT_POLL - 1;
    ck_assert(gf_settle_looks_again(&d));
    d.delay = GF_SETTLE_SHORT_POLL;
    ck_assert(!gf_settle_looks_again(&d));
    d.next = GF_NEXT_RETRY;
    d.delay = 0;
    ck_assert(!gf_settle_looks_again(&d));

    memset(&res, 0, sizeof(res));
    gf_settle_job(NULL, "j", "s", &job, &state);
    ck_assert_str_eq(job, "j");
    ck_assert_str_eq(state, "s");
    res.provider_state = "s2";
    gf_settle_job(&res, "j", "s", &job, &state);
    ck_assert_str_eq(job, "j");
    ck_assert_str_eq(state, "s2");

    gf_settle_cost_args(test_pool, "gen", "neo", 3, "aiml", 0, "credits", 0.25, NULL, "Europe/Paris",
                        args);
    ck_assert_str_eq(args[2], "3");
    ck_assert_ptr_null(args[4]);
    ck_assert_ptr_null(args[5]);
    ck_assert_str_eq(args[6], "0.250000");
    ck_assert_ptr_null(args[7]);
    ck_assert_ptr_null(args[8]);
    gf_settle_cost_args(test_pool, "gen", "neo", 3, "aiml", 1.5, "credits", 0, "day", NULL, args);
    ck_assert_str_eq(args[4], "1.500000");
    ck_assert_str_eq(args[5], "credits");
    ck_assert_str_eq(args[7], "day");
    ck_assert_str_eq(args[8], "UTC");
}
END_TEST

START_TEST(outcome_after_store)
{
    gf_settle_pictures_t pics;
    gf_provider_result_t res;
    gf_decision_t d;
    gf_picture_t pic;

    memset(&res, 0, sizeof(res));
    memset(&d, 0, sizeof(d));
    res.image_url = "https://p/1.png";
    /* Asked for 2 of 4, both came: the rest by the next call. */
    gf_settle_pictures_begin(test_pool, &res, 4, 0, 2, &pics);
    pic = gf_settle_picture(&res, 0);
    gf_settle_pictures_add(&pics, &pic, "u1", NULL, NULL, 0, 0, 0);
    gf_settle_pictures_add(&pics, &pic, "u2", NULL, NULL, 0, 0, 0);
    d.next = GF_NEXT_COMPLETE;
    gf_settle_after_store(&d, 4, 0, 2, &pics);
    ck_assert_int_eq(d.next, GF_NEXT_MORE);
    /* Fewer than asked: completes with what it has. */
    gf_settle_pictures_begin(test_pool, &res, 4, 0, 2, &pics);
    gf_settle_pictures_add(&pics, &pic, "u1", NULL, NULL, 0, 0, 0);
    d.next = GF_NEXT_COMPLETE;
    gf_settle_after_store(&d, 4, 0, 2, &pics);
    ck_assert_int_eq(d.next, GF_NEXT_COMPLETE);
    ck_assert_str_eq(pics.url, "u1");
    /* A failure after earlier calls stored some completes with those. */
    d.next = GF_NEXT_FAIL;
    d.code = GF_JOB_TIMEOUT;
    pics.json = "[{}]";
    gf_settle_after_store(&d, 4, 2, 2, &pics);
    ck_assert_int_eq(d.next, GF_NEXT_COMPLETE);
    ck_assert_str_eq(pics.json, "[]");
    ck_assert_ptr_null(pics.url);
    /* A cancel charges nothing: it stays a failure. */
    memset(&d, 0, sizeof(d));
    d.next = GF_NEXT_FAIL;
    d.cancelled = 1;
    gf_settle_after_store(&d, 4, 2, 2, &pics);
    ck_assert_int_eq(d.next, GF_NEXT_FAIL);

    d.next = GF_NEXT_COMPLETE;
    ck_assert(gf_settle_took(&d, 1, 5));
    ck_assert(!gf_settle_took(&d, 0, 5));
    ck_assert(!gf_settle_took(&d, 1, 0));
    d.next = GF_NEXT_MORE;
    ck_assert(gf_settle_took(&d, 2, 5));
    d.next = GF_NEXT_POLL;
    ck_assert(!gf_settle_took(&d, 2, 5));

    ck_assert_str_eq(gf_settle_preview(test_pool, "0a1b2c3d-0000-4000-8000-00000000aaaa", 12,
                                       "/m/previews/x.jpg"),
                     "0a1b2c3d-0000-4000-8000-00000000aaaa 12 /m/previews/x.jpg");
    ck_assert_ptr_null(gf_settle_preview(test_pool, "0a1b2c3d-0000-4000-8000-00000000aaaa", 12,
                                         "/a b.jpg"));
    ck_assert_ptr_null(gf_settle_preview(test_pool, "0a1b2c3d-0000-4000-8000-00000000aaaa", 12,
                                         NULL));
    /* At most one preview a second; a clock that went back takes one. */
    ck_assert(gf_settle_preview_due(0, 5));
    ck_assert(!gf_settle_preview_due(apr_time_from_sec(10), apr_time_from_sec(10)));
    ck_assert(!gf_settle_preview_due(apr_time_from_sec(10),
                                     apr_time_from_sec(11) - 1));
    ck_assert(gf_settle_preview_due(apr_time_from_sec(10), apr_time_from_sec(11)));
    ck_assert(gf_settle_preview_due(apr_time_from_sec(10), apr_time_from_sec(9)));
}
END_TEST

/* Several completions in one statement: COMPLETE's arguments of each
 * as the objects COMPLETE_BATCH reads, and each one's row in its answer. */
START_TEST(outcome_batch)
{
    const char *a[] = { "id-a", "/u/a.png", "[{\"url\":\"/u/a.png\"}]", "fal", NULL, "node:w1",
                        "4" };
    const char *b[] = { "id-b", NULL, "[]", NULL, NULL, "node:w\"2", "12" };
    const char *bad[] = { "id-c", NULL, "[]", NULL, NULL, "w", "4x" };
    const char *noid[] = { NULL, NULL, "[]", NULL, NULL, "w", "1" };
    const char *const *sets[GF_SETTLE_BATCH_MAX + 1];
    const char *row1[] = { "id-a", "{\"a\":1}" }, *row2[] = { "ID-B", "{\"b\":2}" };
    const char *const *rows[] = { row1, row2 };
    struct json_object *arr, *o, *v;
    const char *json;
    int i;

    sets[0] = a;
    sets[1] = b;
    json = gf_settle_batch_json(test_pool, sets, 2);
    ck_assert_ptr_nonnull(json);
    arr = json_tokener_parse(json);
    ck_assert_ptr_nonnull(arr);
    ck_assert_int_eq((int)json_object_array_length(arr), 2);
    o = json_object_array_get_idx(arr, 0);
    ck_assert(json_object_object_get_ex(o, "id", &v));
    ck_assert_str_eq(json_object_get_string(v), "id-a");
    /* The pictures as text, which the statement casts. */
    ck_assert(json_object_object_get_ex(o, "images", &v));
    ck_assert_str_eq(json_object_get_string(v), "[{\"url\":\"/u/a.png\"}]");
    ck_assert(json_object_object_get_ex(o, "model", &v));
    ck_assert_ptr_null(v);   /* SQL NULL as JSON null */
    ck_assert(json_object_object_get_ex(o, "attempts", &v));
    ck_assert_int_eq(json_object_get_int(v), 4);
    o = json_object_array_get_idx(arr, 1);
    ck_assert(json_object_object_get_ex(o, "lease_owner", &v));
    ck_assert_str_eq(json_object_get_string(v), "node:w\"2");   /* escaped, whole */
    ck_assert(json_object_object_get_ex(o, "image_url", &v));
    ck_assert_ptr_null(v);
    json_object_put(arr);

    /* What the statement cannot take: each is then written alone. */
    sets[1] = bad;
    ck_assert_ptr_null(gf_settle_batch_json(test_pool, sets, 2));
    sets[1] = noid;
    ck_assert_ptr_null(gf_settle_batch_json(test_pool, sets, 2));
    ck_assert_ptr_null(gf_settle_batch_json(test_pool, sets, 0));
    for (i = 0; i <= GF_SETTLE_BATCH_MAX; i++) sets[i] = a;
    ck_assert_ptr_nonnull(gf_settle_batch_json(test_pool, sets, GF_SETTLE_BATCH_MAX));
    ck_assert_ptr_null(gf_settle_batch_json(test_pool, sets, GF_SETTLE_BATCH_MAX + 1));

    /* Each one's row by its id; one the statement left out has none. */
    ck_assert_str_eq(gf_settle_batch_status(rows, 2, "id-a"), "{\"a\":1}");
    ck_assert_str_eq(gf_settle_batch_status(rows, 2, "id-b"), "{\"b\":2}");
    ck_assert_ptr_null(gf_settle_batch_status(rows, 2, "id-c"));
    ck_assert_ptr_null(gf_settle_batch_status(rows, 0, "id-a"));
    ck_assert_ptr_null(gf_settle_batch_status(rows, 2, NULL));
}
END_TEST

Suite *outcome_suite(void)
{
    Suite *s = suite_create("outcome");
    TCase *tc = tcase_create("outcome");
    tcase_add_test(tc, outcome_statement_terminal);
    tcase_add_test(tc, outcome_statement_schedule);
    tcase_add_test(tc, outcome_pictures);
    tcase_add_test(tc, outcome_report);
    tcase_add_test(tc, outcome_small_rules);
    tcase_add_test(tc, outcome_after_store);
    tcase_add_test(tc, outcome_batch);
    suite_add_tcase(s, tc);
    return s;
}
