/* SPDX-License-Identifier: Apache-2.0 */
/* test_stream_token.c: the tokens of events URLs (core/gf_stream_token.h). */
#include <check.h>
#include <string.h>
#include <apr_pools.h>
#include <apr_strings.h>

#include "test_core.h"
#include "core/gf_stream_token.h"

static const unsigned char KEY[] = "0123456789abcdef0123456789abcdef";
static const unsigned char OTHER[] = "fedcba9876543210fedcba9876543210";
#define KLEN (sizeof(KEY) - 1)
#define ID "01a217c5-c2f3-7cb9-93ba-04f6ccbf00bb"

START_TEST(round_trip)
{
    apr_pool_t *p;
    const char *t, *why, *u;
    apr_pool_create(&p, NULL);
    t = gf_stream_token_make(p, KEY, KLEN, "neo-glitch", ID, "alice", 2000);
    ck_assert_ptr_nonnull(t);
    ck_assert(!strchr(t, '+') && !strchr(t, '/') && !strchr(t, '=') && !strchr(t, '&'));
    u = gf_stream_token_user(p, KEY, KLEN, "neo-glitch", ID, t, 1999, &why);
    ck_assert_str_eq(u, "alice");
    ck_assert_ptr_null(why);
    /* A user with bytes base64 turns into + and / (base64url here). */
    t = gf_stream_token_make(p, KEY, KLEN, "neo-glitch", ID, "b\xfb\xff?>~", 2000);
    u = gf_stream_token_user(p, KEY, KLEN, "neo-glitch", ID, t, 1000, &why);
    ck_assert_str_eq(u, "b\xfb\xff?>~");
    apr_pool_destroy(p);
}
END_TEST

START_TEST(refused)
{
    apr_pool_t *p;
    const char *t, *why;
    char *bad;
    char user[300];
    apr_pool_create(&p, NULL);
    t = gf_stream_token_make(p, KEY, KLEN, "neo-glitch", ID, "alice", 2000);
    /* Expired, at the second. */
    ck_assert_ptr_null(gf_stream_token_user(p, KEY, KLEN, "neo-glitch", ID, t, 2000, &why));
    ck_assert(strstr(why, "expired") != NULL);
    /* Another id, another type, another key. */
    ck_assert_ptr_null(gf_stream_token_user(p, KEY, KLEN, "neo-glitch",
                                            "01a217c5-c2f3-7cb9-93ba-04f6ccbf00bc", t, 1, &why));
    ck_assert(strstr(why, "not one this site made") != NULL);
    ck_assert_ptr_null(gf_stream_token_user(p, KEY, KLEN, "presets", ID, t, 1, &why));
    ck_assert_ptr_null(gf_stream_token_user(p, OTHER, KLEN, "neo-glitch", ID, t, 1, &why));
    /* A later expiry or another user with the same MAC. */
    bad = apr_pstrdup(p, t);
    bad[0] = '3';
    ck_assert_ptr_null(gf_stream_token_user(p, KEY, KLEN, "neo-glitch", ID, bad, 1, &why));
    bad = apr_pstrcat(p, "2000.Ym9i", strrchr(t, '.'), NULL);   /* "bob" */
    ck_assert_ptr_null(gf_stream_token_user(p, KEY, KLEN, "neo-glitch", ID, bad, 1, &why));
    /* Malformed. */
    ck_assert_ptr_null(gf_stream_token_user(p, KEY, KLEN, "neo-glitch", ID, "", 1, &why));
    ck_assert_ptr_null(gf_stream_token_user(p, KEY, KLEN, "neo-glitch", ID, "2000", 1, &why));
    ck_assert_ptr_null(gf_stream_token_user(p, KEY, KLEN, "neo-glitch", ID, "2000..", 1, &why));
    ck_assert_ptr_null(gf_stream_token_user(p, KEY, KLEN, "neo-glitch", ID, "x.YQ.YQ", 1, &why));
    ck_assert_ptr_null(gf_stream_token_user(p, KEY, KLEN, "neo-glitch", ID, "2000.Y*Q.YQ", 1, &why));
    ck_assert_ptr_null(gf_stream_token_user(p, KEY, KLEN, "neo-glitch", ID, NULL, 1, &why));
    ck_assert_ptr_null(gf_stream_token_user(p, NULL, 0, "neo-glitch", ID, t, 1, &why));
    /* A user with a NUL byte (base64url of "a\0b"). */
    ck_assert_ptr_null(gf_stream_token_user(p, KEY, KLEN, "neo-glitch", ID,
                                            apr_pstrcat(p, "2000.YQBi", strrchr(t, '.'), NULL),
                                            1, &why));
    /* No token for a user the module would not accept, or without a key. */
    memset(user, 'u', sizeof(user) - 1);
    user[sizeof(user) - 1] = '\0';
    ck_assert_ptr_null(gf_stream_token_make(p, KEY, KLEN, "neo-glitch", ID, user, 2000));
    ck_assert_ptr_null(gf_stream_token_make(p, KEY, KLEN, "neo-glitch", ID, "", 2000));
    ck_assert_ptr_null(gf_stream_token_make(p, NULL, 0, "neo-glitch", ID, "alice", 2000));
    apr_pool_destroy(p);
}
END_TEST

START_TEST(expiry)
{
    /* The end of the next UTC day: the same token all day. */
    ck_assert(gf_stream_token_expiry(0) == 2 * 86400);
    ck_assert(gf_stream_token_expiry(86399) == 2 * 86400);
    ck_assert(gf_stream_token_expiry(86400) == 3 * 86400);
}
END_TEST

/* A key file of several keys: the first makes tokens, each checks them,
 * so a rotation keeps the tokens of the old key working for their life. */
START_TEST(rotation)
{
    apr_pool_t *p;
    apr_array_header_t *keys;
    const char *err = NULL, *why, *t_old, *t_new;
    apr_pool_create(&p, NULL);
    keys = gf_stream_keys_parse(p, "# rotated 2026-11-26\n  fedcba9876543210fedcba9876543210 \n\n"
                                   "0123456789abcdef0123456789abcdef\n", &err);
    ck_assert_ptr_nonnull(keys);
    ck_assert_int_eq(keys->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(keys, 0, const char *), "fedcba9876543210fedcba9876543210");
    t_old = gf_stream_token_make(p, KEY, KLEN, "neo-glitch", ID, "alice", 2000);
    t_new = gf_stream_token_make(p, OTHER, KLEN, "neo-glitch", ID, "alice", 2000);
    ck_assert_str_eq(gf_stream_token_user_any(p, keys, "neo-glitch", ID, t_old, 1, &why), "alice");
    ck_assert_str_eq(gf_stream_token_user_any(p, keys, "neo-glitch", ID, t_new, 1, &why), "alice");
    /* Expired under the old key: said so, whichever key is tried last. */
    ck_assert_ptr_null(gf_stream_token_user_any(p, keys, "neo-glitch", ID, t_old, 2000, &why));
    ck_assert(strstr(why, "expired") != NULL);
    /* Once the old key is gone, its tokens are not taken. */
    keys = gf_stream_keys_parse(p, "fedcba9876543210fedcba9876543210\n", &err);
    ck_assert_ptr_null(gf_stream_token_user_any(p, keys, "neo-glitch", ID, t_old, 1, &why));
    ck_assert(strstr(why, "not one this site made") != NULL);
    /* Short keys, no key, too many keys. */
    ck_assert_ptr_null(gf_stream_keys_parse(p, "0123456789abcdef0123456789abcdef\nshort\n", &err));
    ck_assert(strstr(err, "line 2") != NULL);
    ck_assert_ptr_null(gf_stream_keys_parse(p, "# nothing\n\n", &err));
    ck_assert_ptr_null(gf_stream_keys_parse(p, apr_pstrcat(p, KEY, "\n", KEY, "\n", KEY, "\n",
                                                           KEY, "\n", KEY, NULL), &err));
    apr_pool_destroy(p);
}
END_TEST

Suite *stream_token_suite(void)
{
    Suite *s = suite_create("stream_token");
    TCase *tc = tcase_create("stream_token");
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, refused);
    tcase_add_test(tc, expiry);
    tcase_add_test(tc, rotation);
    suite_add_tcase(s, tc);
    return s;
}
