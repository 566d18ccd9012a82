/* SPDX-License-Identifier: Apache-2.0 */
/* test_utf8.c: strict UTF-8 (RFC 3629) for untrusted text, and the JSON
 * parser's refusal of strings that are not. */
#include <string.h>

#include "test_core.h"
#include "core/gf_loopback.h"
#include "core/gf_utf8.h"
#include "core/gf_json.h"
#include "core/gf_route.h"

#define VALID(lit) gf_utf8_valid(lit, sizeof(lit) - 1)

START_TEST(utf8_accepts_every_plane)
{
    ck_assert(VALID("plain ascii"));
    ck_assert(VALID("\xc3\xa9"));               /* é */
    ck_assert(VALID("\xe2\x82\xac"));           /* € */
    ck_assert(VALID("\xed\x9f\xbf"));           /* U+D7FF, just below the surrogates */
    ck_assert(VALID("\xee\x80\x80"));           /* U+E000, just above them */
    ck_assert(VALID("\xf0\x9f\x98\x80"));       /* 😀 */
    ck_assert(VALID("\xf4\x8f\xbf\xbf"));       /* U+10FFFF */
    ck_assert(VALID(""));
}
END_TEST

START_TEST(utf8_refuses_what_postgres_refuses)
{
    ck_assert(!VALID("\xed\xa0\x80"));          /* surrogate U+D800 */
    ck_assert(!VALID("\xed\xbf\xbf"));          /* surrogate U+DFFF */
    ck_assert(!VALID("\xc0\x80"));              /* overlong NUL */
    ck_assert(!VALID("\xc1\xbf"));              /* overlong */
    ck_assert(!VALID("\xe0\x80\xaf"));          /* overlong '/' */
    ck_assert(!VALID("\xf0\x8f\xbf\xbf"));      /* overlong 4-byte */
    ck_assert(!VALID("\xf4\x90\x80\x80"));      /* above U+10FFFF */
    ck_assert(!VALID("\xf5\x80\x80\x80"));
    ck_assert(!VALID("\xff"));
    ck_assert(!VALID("\x80"));                  /* stray continuation */
    ck_assert(!VALID("\xe2\x82"));              /* truncated */
    ck_assert(!VALID("a\0b"));                  /* NUL */
    ck_assert(gf_utf8_valid_str(NULL));
}
END_TEST

START_TEST(utf8_clean_cuts_on_a_boundary)
{
    char *s = gf_utf8_clean(test_pool, "ab\xe2\x82\xac", 5, 4);
    ck_assert_str_eq(s, "ab");                  /* the euro would not fit whole */
    s = gf_utf8_clean(test_pool, "x\xff\ny\xed\xa0\x80", 7, 200);
    ck_assert_str_eq(s, "x??y???");
    ck_assert(gf_utf8_valid_str(s));
    ck_assert_str_eq(gf_utf8_clean(test_pool, NULL, 0, 10), "");
}
END_TEST

static const char *parse_err(const char *body)
{
    const char *err = NULL;
    json_object *o = gf_json_parse(test_pool, body, strlen(body), &err);
    return o ? NULL : err;
}

START_TEST(json_names_the_field_with_bad_text)
{
    const char *err = parse_err("{\"prompt\":\"a\xed\xa0\x80\"}");
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "prompt"));
    err = parse_err("{\"parameters\":{\"x\":\"\xc0\x80\"}}");
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "parameters.x"));
    err = parse_err("{\"user\":\"a\\u0000b\"}");   /* an escaped NUL */
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "user"));
    err = parse_err("{\"a\":[\"ok\",\"\xf4\x90\x80\x80\"]}");
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "a[1]"));
    ck_assert_ptr_null(parse_err("{\"prompt\":\"caf\xc3\xa9 \\u00e9\"}"));
}
END_TEST

START_TEST(json_says_what_a_bare_value_is)
{
    const char *err = parse_err("null");
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "null"));
    ck_assert_ptr_null(parse_err("123"));          /* a number is JSON; the caller wants an object */
    ck_assert_ptr_nonnull(strstr(parse_err("{\"a\":"), "truncated"));
}
END_TEST

START_TEST(json_refuses_duplicate_members)
{
    const char *err = parse_err("{\"user\":\"a\",\"amount\":1,\"amount\":1000}");
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "\"amount\" twice"));
    /* The same name spelled with an escape is the same name. */
    ck_assert_ptr_nonnull(parse_err("{\"prompt\":\"x\",\"\\u0070rompt\":\"y\"}"));
    /* Nested objects: each has its own names. */
    ck_assert_ptr_nonnull(parse_err("{\"parameters\":{\"seed\":1,\"seed\":2}}"));
    ck_assert_ptr_null(parse_err("{\"a\":{\"a\":{\"a\":1}},\"b\":[{\"a\":1},{\"a\":2}]}"));
    /* A string value that looks like a name does not count. */
    ck_assert_ptr_null(parse_err("{\"a\":\"b\",\"b\":\"a\",\"c\":[\"a\",\"a\"]}"));
    ck_assert_ptr_null(parse_err("{\"a\\\"b\":1,\"a\":2}"));
    /* json-c takes 'single-quoted' strings even in strict mode: refused,
     * or {'amount':1,'amount':1000} would slip past the check above. */
    ck_assert_ptr_nonnull(strstr(parse_err("{'amount':1,'amount':1000}"), "single-quoted"));
    ck_assert_ptr_nonnull(parse_err("{\"a\":'x'}"));
    ck_assert_ptr_null(parse_err("{\"it's\":\"don't\"}"));
}
END_TEST

START_TEST(query_args_never_turn_bad_into_absent)
{
    ck_assert_ptr_eq(gf_query_arg(test_pool, "user=%ED%A0%80", "user"), GF_QUERY_BAD);
    ck_assert_ptr_eq(gf_query_arg(test_pool, "user=a%00b", "user"), GF_QUERY_BAD);
    ck_assert_ptr_eq(gf_query_arg(test_pool, "user=%zz", "user"), GF_QUERY_BAD);
    ck_assert_str_eq(gf_query_arg(test_pool, "user=caf%C3%A9&x=1", "user"), "caf\xc3\xa9");
    ck_assert_ptr_null(gf_query_arg(test_pool, "x=1", "user"));
}
END_TEST

/* The loopback rule of insecure_loopback and GenFlowWebhookOrigins. */
START_TEST(loopback_hosts_are_one_rule)
{
    static const char *const local[] = { "localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3",
                                         "::1", "[::1]", "bucket.localhost", "a.b.LocalHost" };
    static const char *const remote[] = { "example.com", "128.0.0.1", "localhost.example",
                                          "1270.0.0.1", "::2", "x-localhost", ".localhost",
                                          "", "10.0.0.1" };
    size_t i;
    for (i = 0; i < sizeof(local) / sizeof(local[0]); i++) {
        ck_assert_msg(gf_loopback_host(local[i]), "%s is loopback", local[i]);
    }
    for (i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
        ck_assert_msg(!gf_loopback_host(remote[i]), "%s is not loopback", remote[i]);
    }
    ck_assert(!gf_loopback_host(NULL));
}
END_TEST

Suite *utf8_suite(void)
{
    Suite *s = suite_create("utf8");
    TCase *tc = tcase_create("utf8");
    tcase_add_test(tc, utf8_accepts_every_plane);
    tcase_add_test(tc, utf8_refuses_what_postgres_refuses);
    tcase_add_test(tc, utf8_clean_cuts_on_a_boundary);
    tcase_add_test(tc, json_names_the_field_with_bad_text);
    tcase_add_test(tc, json_says_what_a_bare_value_is);
    tcase_add_test(tc, query_args_never_turn_bad_into_absent);
    tcase_add_test(tc, json_refuses_duplicate_members);
    tcase_add_test(tc, loopback_hosts_are_one_rule);
    suite_add_tcase(s, tc);
    return s;
}
