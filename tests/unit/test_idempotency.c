/* SPDX-License-Identifier: Apache-2.0 */
/* test_idempotency.c: the Idempotency-Key rules (gf_idempotency.c): the
 * key's length, the fingerprints, what a record found under a key means,
 * and what its owner does with it after answering. */
#include <string.h>
#include <apr_strings.h>

#include "test_core.h"
#include "core/gf_idempotency.h"
#include "core/gf_sql.h"

START_TEST(key_length)
{
    char key[GF_IDEM_KEY_MAX + 2];

    memset(key, 'k', sizeof(key));
    key[GF_IDEM_KEY_MAX] = '\0';
    ck_assert(gf_idem_key_valid(key));
    key[GF_IDEM_KEY_MAX] = 'k';
    key[GF_IDEM_KEY_MAX + 1] = '\0';
    ck_assert(!gf_idem_key_valid(key));
    ck_assert(!gf_idem_key_valid(""));
    ck_assert(gf_idem_key_valid("k"));
}
END_TEST

START_TEST(fingerprints)
{
    const char *fp, *fpb, *fp2, *fpb2;
    static const char a[] = "{\"prompt\":\"cat\",\"n\":1}";
    static const char b[] = "{ \"n\": 1,\n \"prompt\": \"cat\" }";
    static const char nul[] = "ab\0cd";

    gf_idem_fingerprints(test_pool, "POST", "/gen/create", a, strlen(a), &fp, &fpb);
    ck_assert(!strncmp(fp, "{SHA}", 5));
    ck_assert_int_eq((int)strlen(fp), 5 + 28);
    /* The same members in another order and spacing: the same request,
     * but not the same bytes. */
    gf_idem_fingerprints(test_pool, "POST", "/gen/create", b, strlen(b), &fp2, &fpb2);
    ck_assert_str_eq(fp, fp2);
    ck_assert_str_ne(fpb, fpb2);
    ck_assert_str_ne(fp, fpb);
    /* Another path or method is another request. */
    gf_idem_fingerprints(test_pool, "POST", "/gen/generate", a, strlen(a), &fp2, &fpb2);
    ck_assert_str_ne(fp, fp2);
    gf_idem_fingerprints(test_pool, "PUT", "/gen/create", a, strlen(a), &fp2, &fpb2);
    ck_assert_str_ne(fp, fp2);
    /* No body, or not JSON: both are the bytes' (SHA-1 of "POST /r\n"). */
    gf_idem_fingerprints(test_pool, "POST", "/r", NULL, 0, &fp, &fpb);
    ck_assert_str_eq(fp, fpb);
    ck_assert_str_eq(fp, "{SHA}ah18j7I1YUjOGf4jUq7uNA9LAnA=");
    /* Bytes after a NUL count. */
    gf_idem_fingerprints(test_pool, "POST", "/r", nul, 5, &fp, &fpb);
    ck_assert_str_eq(fp, fpb);
    gf_idem_fingerprints(test_pool, "POST", "/r", nul, 3, &fp2, &fpb2);
    ck_assert_str_ne(fpb, fpb2);
}
END_TEST

/* A record as IDEM_GET returns it. */
static void record(const char **rec, const char *fp, const char *state, const char *status,
                   const char *body, const char *owner, const char *free_)
{
    memset(rec, 0, sizeof(*rec) * GF_IDEM_COLS);
    rec[GF_IDEM_FINGERPRINT] = fp;
    rec[GF_IDEM_STATE] = state;
    rec[GF_IDEM_STATUS] = status;
    rec[GF_IDEM_BODY] = body;
    rec[GF_IDEM_OWNER] = owner;
    rec[GF_IDEM_FREE] = free_;
}

START_TEST(judge)
{
    const char *rec[GF_IDEM_COLS];

    record(rec, "fp", "running", NULL, NULL, NULL, NULL);
    ck_assert(!gf_idem_owned(rec, "tok"));
    record(rec, "fp", "running", NULL, NULL, "tok2", NULL);
    ck_assert(!gf_idem_owned(rec, "tok"));
    ck_assert(gf_idem_owned(rec, "tok2"));
    /* Our own BEGIN, whatever else the record says. */
    record(rec, "other", "running", NULL, NULL, "tok", "0");
    ck_assert_int_eq(gf_idem_judge(rec, "tok", "fp", "fpb"), GF_IDEM_RUN_OWN);
    record(rec, "other", "done", "201", "{}", "them", NULL);
    ck_assert_int_eq(gf_idem_judge(rec, "tok", "fp", "fpb"), GF_IDEM_OTHER_REQUEST);
    /* Either fingerprint matches. */
    record(rec, "fpb", "done", "201", "{}", "them", NULL);
    ck_assert_int_eq(gf_idem_judge(rec, "tok", "fp", "fpb"), GF_IDEM_REPLAY);
    record(rec, "fp", "done", "201", "{}", NULL, NULL);
    ck_assert_int_eq(gf_idem_judge(rec, "tok", "fp", "fpb"), GF_IDEM_REPLAY);
    /* Done without a kept answer is no replay. */
    record(rec, "fp", "done", NULL, "{}", NULL, NULL);
    ck_assert_int_eq(gf_idem_judge(rec, "tok", "fp", "fpb"), GF_IDEM_STILL_RUNNING);
    record(rec, "fp", "running", NULL, NULL, "them", "1");
    ck_assert_int_eq(gf_idem_judge(rec, "tok", "fp", "fpb"), GF_IDEM_TAKE_OVER);
    record(rec, "fp", "running", NULL, NULL, "them", "0");
    ck_assert_int_eq(gf_idem_judge(rec, "tok", "fp", "fpb"), GF_IDEM_STILL_RUNNING);
    record(rec, "fp", "running", NULL, NULL, "them", NULL);
    ck_assert_int_eq(gf_idem_judge(rec, "tok", "fp", "fpb"), GF_IDEM_STILL_RUNNING);
}
END_TEST

START_TEST(ending)
{
    ck_assert_int_eq(gf_idem_ending(1, 200, 0), GF_IDEM_SAVE);
    ck_assert_int_eq(gf_idem_ending(1, 202, 1), GF_IDEM_SAVE);
    ck_assert_int_eq(gf_idem_ending(1, 299, 1), GF_IDEM_SAVE);
    ck_assert_int_eq(gf_idem_ending(1, 300, 0), GF_IDEM_DROP);
    ck_assert_int_eq(gf_idem_ending(1, 199, 0), GF_IDEM_DROP);
    ck_assert_int_eq(gf_idem_ending(1, 402, 0), GF_IDEM_DROP);
    ck_assert_int_eq(gf_idem_ending(0, 201, 0), GF_IDEM_DROP);
    ck_assert_int_eq(gf_idem_ending(0, 201, 1), GF_IDEM_RELEASE);
    ck_assert_int_eq(gf_idem_ending(1, 503, 1), GF_IDEM_RELEASE);
}
END_TEST

Suite *idempotency_suite(void)
{
    Suite *s = suite_create("idempotency");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, key_length);
    tcase_add_test(tc, fingerprints);
    tcase_add_test(tc, judge);
    tcase_add_test(tc, ending);
    suite_add_tcase(s, tc);
    return s;
}
