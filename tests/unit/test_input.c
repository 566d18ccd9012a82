/* SPDX-License-Identifier: Apache-2.0 */
/* test_input.c: create-field validation names the offending field. */
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>

#include "test_core.h"
#include "core/gf_input.h"
#include "core/gf_json.h"

static json_object *parse(const char *s)
{
    const char *err = NULL;
    json_object *o = gf_json_parse(test_pool, s, strlen(s), &err);
    ck_assert_msg(o != NULL, "parse failed: %s", err);
    return o;
}

/* Expect rejection naming field. */
static void rejects(const char *body, unsigned needs, const char *field)
{
    gf_input_t in;
    gf_input_error_t err;
    ck_assert_msg(!gf_input_parse(test_pool, parse(body), needs, &in, &err),
                  "accepted: %s", body);
    ck_assert_str_eq(err.field, field);
    ck_assert_msg(strstr(err.message, field) != NULL, "message '%s' lacks '%s'",
                  err.message, field);
}

/* The message of a refused body. */
static const char *refusal(const char *body)
{
    gf_input_t in;
    gf_input_error_t err;
    if (gf_input_parse(test_pool, parse(body), 0, &in, &err)) return "(accepted)";
    return err.message;
}

START_TEST(messages_say_what_is_wrong)
{
    ck_assert_ptr_nonnull(strstr(refusal("{\"parameters\":{\"seed\":4294967295}}"),
                                 "between 0 and 4294967294"));
    ck_assert_ptr_nonnull(strstr(refusal("{\"parameters\":{\"strength\":2}}"), "between 0 and 1"));
    ck_assert_ptr_nonnull(strstr(refusal("{\"sourceImage\":\"https://user:pw@example.com/\"}"),
                                 "user name or password"));
    ck_assert_ptr_nonnull(strstr(refusal("{\"sourceImage\":\"http://example.com/a.png\"}"),
                                 "https URL"));
    ck_assert_ptr_nonnull(strstr(refusal("{\"sourceImage\":\"https://a b/\"}"), "space"));
    ck_assert_ptr_nonnull(strstr(refusal("{\"sourceImage\":\"https://\"}"), "host name"));
}
END_TEST

/* sourceImage names an upload as "upload:<uuid>" (stored lower-cased). */
START_TEST(source_image_may_be_an_upload)
{
    gf_input_t in;
    gf_input_error_t err;

    ck_assert(gf_input_parse(test_pool, parse("{\"sourceImage\":"
                             "\"upload:0B5E4CF4-3c43-4bd4-9a39-5dcd5a6a1a2b\"}"),
                             GF_NEED_SOURCE_IMAGE, &in, &err));
    ck_assert_str_eq(in.source_image, "upload:0b5e4cf4-3c43-4bd4-9a39-5dcd5a6a1a2b");
    ck_assert_str_eq(gf_input_upload_id(in.source_image), "0b5e4cf4-3c43-4bd4-9a39-5dcd5a6a1a2b");
    ck_assert_ptr_null(gf_input_upload_id("https://example.com/a.png"));
    ck_assert_ptr_null(gf_input_upload_id(NULL));
    rejects("{\"sourceImage\":\"upload:\"}", 0, "sourceImage");
    rejects("{\"sourceImage\":\"upload:x' OR '1'='1\"}", 0, "sourceImage");
    rejects("{\"sourceImage\":\"upload:0b5e4cf4-3c43-4bd4-9a39-5dcd5a6a1a2b0\"}", 0, "sourceImage");
    ck_assert_ptr_nonnull(strstr(refusal("{\"sourceImage\":\"ftp://x/y\"}"),
                                 "upload reference"));
}
END_TEST

START_TEST(accepts_full_body)
{
    gf_input_t in;
    gf_input_error_t err;
    const char *body = "{\"prompt\":\"a cat\",\"style\":\"minimal\",\"quality\":\"high\","
                       "\"aspectRatio\":\"16:9\",\"sourceImage\":\"https://example.com/a.png\","
                       "\"customPrompt\":\"neon\",\"preset\":\"p1\","
                       "\"parameters\":{\"guidance_scale\":7.5,\"num_inference_steps\":30,"
                       "\"strength\":0.5,\"seed\":4294967294}}";
    ck_assert(gf_input_parse(test_pool, parse(body), GF_NEED_PROMPT | GF_NEED_SOURCE_IMAGE,
                             &in, &err));
    ck_assert_str_eq(in.prompt, "a cat");
    ck_assert_str_eq(in.style, "minimal");
    ck_assert_str_eq(in.aspect_ratio, "16:9");
    ck_assert(in.has_seed && in.seed == 4294967294ULL);
    ck_assert(in.has_num_inference_steps && in.num_inference_steps == 30);
    ck_assert(in.has_strength && in.strength == 0.5);
}
END_TEST

START_TEST(rejects_bad_fields)
{
    rejects("{\"prompt\":\"x\",\"colour\":\"red\"}", 0, "colour");
    rejects("{\"prompt\":5}", 0, "prompt");
    rejects("{\"prompt\":\"\"}", 0, "prompt");
    rejects("{\"prompt\":\"  \\t\\n \"}", 0, "prompt");   /* blank */
    rejects("{\"style\":\"cubist\"}", 0, "style");
    rejects("{\"quality\":\"ultra\"}", 0, "quality");
    rejects("{\"aspectRatio\":\"5:4\"}", 0, "aspectRatio");
    rejects("{\"sourceImage\":\"http://example.com/a.png\"}", 0, "sourceImage");
    rejects("{\"sourceImage\":\"https://\"}", 0, "sourceImage");
    rejects("{\"sourceImage\":\"https://user:pw@example.com/\"}", 0, "sourceImage");
    rejects("{\"parameters\":{\"seed\":4294967295}}", 0, "parameters.seed");
    rejects("{\"parameters\":{\"seed\":-1}}", 0, "parameters.seed");
    rejects("{\"parameters\":{\"seed\":1.5}}", 0, "parameters.seed");
    rejects("{\"parameters\":{\"seed\":99999999999999999999}}", 0, "parameters.seed");
    rejects("{\"parameters\":{\"guidance_scale\":20.5}}", 0, "parameters.guidance_scale");
    rejects("{\"parameters\":{\"num_inference_steps\":0}}", 0, "parameters.num_inference_steps");
    rejects("{\"parameters\":{\"strength\":1.01}}", 0, "parameters.strength");
    rejects("{\"parameters\":{\"eta\":1}}", 0, "parameters.eta");
    rejects("{\"parameters\":[1]}", 0, "parameters");
    rejects("[1,2]", 0, "body");
    rejects("{\"cancelAfter\":0}", 0, "cancelAfter");
    rejects("{\"cancelAfter\":1.5}", 0, "cancelAfter");
    rejects("{\"cancelAfter\":\"30\"}", 0, "cancelAfter");
    rejects("{\"cancelAfter\":86401}", 0, "cancelAfter");
    rejects("{\"count\":0}", 0, "count");
    rejects("{\"count\":11}", 0, "count");
    rejects("{\"count\":2.5}", 0, "count");
    rejects("{\"count\":\"2\"}", 0, "count");
    rejects("{\"count\":true}", 0, "count");
}
END_TEST

START_TEST(prompt_length_counts_characters)
{
    char *ok = apr_palloc(test_pool, 2000 * 2 + 20);
    char *p;
    int i;
    gf_input_t in;
    gf_input_error_t err;

    /* 2000 two-byte characters are 2000 characters, not 4000. */
    p = ok;
    p += sprintf(p, "{\"prompt\":\"");
    for (i = 0; i < 2000; i++) { *p++ = (char)0xC3; *p++ = (char)0xA9; }
    strcpy(p, "\"}");
    ck_assert(gf_input_parse(test_pool, parse(ok), GF_NEED_PROMPT, &in, &err));
    ck_assert_uint_eq(gf_utf8_length(in.prompt), 2000);

    strcpy(p, "x\"}");
    rejects(ok, 0, "prompt");
}
END_TEST

START_TEST(required_fields_per_type)
{
    rejects("{\"style\":\"minimal\"}", GF_NEED_PROMPT, "prompt");
    rejects("{\"prompt\":\"x\"}", GF_NEED_SOURCE_IMAGE, "sourceImage");
    rejects("{\"prompt\":\"x\"}", GF_NEED_PRESET, "preset");
}
END_TEST

START_TEST(null_means_absent)
{
    gf_input_t in;
    gf_input_error_t err;
    ck_assert(gf_input_parse(test_pool, parse("{\"prompt\":\"x\",\"style\":null}"),
                             GF_NEED_PROMPT, &in, &err));
    ck_assert_ptr_null(in.style);
}
END_TEST

START_TEST(json_parser_rejects_malformed)
{
    const char *err = NULL;
    ck_assert_ptr_null(gf_json_parse(test_pool, "{\"a\":", 5, &err));
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_null(gf_json_parse(test_pool, "{}x", 3, &err));
    ck_assert_ptr_null(gf_json_parse(test_pool, "", 0, &err));
    ck_assert_ptr_null(gf_json_parse(test_pool, "{\"a\":\"\xff\"}", 8, &err));
    ck_assert_ptr_null(gf_json_parse(test_pool, "{\"a\":1}\0", 8, &err));
    ck_assert_ptr_nonnull(gf_json_parse(test_pool, "{\"a\":1}\r\n", 9, &err));
    /* Nesting deeper than GF_JSON_MAX_DEPTH is refused, not recursed into. */
    ck_assert_ptr_null(gf_json_parse(test_pool,
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", 65, &err));
}
END_TEST

START_TEST(canonical_json_round_trips)
{
    gf_input_t in, again;
    gf_input_error_t err;
    const char *j;
    ck_assert(gf_input_parse(test_pool, parse("{\"prompt\":\"a \\\"quoted\\\" cat\","
                             "\"parameters\":{\"seed\":7}}"), 0, &in, &err));
    j = gf_input_to_json(test_pool, &in);
    ck_assert(gf_input_parse(test_pool, parse(j), 0, &again, &err));
    ck_assert_str_eq(again.prompt, "a \"quoted\" cat");
    ck_assert(again.has_seed && again.seed == 7);
    ck_assert_int_eq(again.cancel_after, 0);
    /* cancelAfter is kept with the input: a retry asks for the same. */
    ck_assert(gf_input_parse(test_pool, parse("{\"prompt\":\"x\",\"cancelAfter\":45}"), 0,
                             &in, &err));
    ck_assert(gf_input_parse(test_pool, parse(gf_input_to_json(test_pool, &in)), 0, &again, &err));
    ck_assert_int_eq(again.cancel_after, 45);
    /* So is count; one picture, the count of every input before it, is
     * not written, so such an input reads as it always did. */
    ck_assert_int_eq(in.count, 1);
    ck_assert_ptr_null(strstr(gf_input_to_json(test_pool, &in), "count"));
    ck_assert(gf_input_parse(test_pool, parse("{\"prompt\":\"x\",\"count\":10}"), 0, &in, &err));
    ck_assert_int_eq(in.count, 10);
    ck_assert(gf_input_parse(test_pool, parse(gf_input_to_json(test_pool, &in)), 0, &again, &err));
    ck_assert_int_eq(again.count, 10);
}
END_TEST

/* The canonical text of a body, as an Idempotency-Key compares requests. */
static const char *canon(const char *text)
{
    const char *err = NULL;
    json_object *o = gf_json_parse(test_pool, text, strlen(text), &err);
    ck_assert_msg(o != NULL, "%s: %s", text, err);
    return gf_json_canonical(test_pool, o);
}

START_TEST(canonical_json_compares_meaning)
{
    /* Key order, whitespace, escapes and a number's spelling do not count. */
    ck_assert_str_eq(canon("{ \"b\" : 1,\n\t\"a\": \"x\" }"), "{\"a\":\"x\",\"b\":1}");
    ck_assert_str_eq(canon("{\"a\":\"\\u0078\",\"b\":1.0}"), "{\"a\":\"x\",\"b\":1.0}");
    ck_assert_str_eq(canon("{\"b\":1e0,\"a\":\"x\"}"), canon("{\"a\":\"x\",\"b\":1.00}"));
    ck_assert_str_eq(canon("[0.5, 5e-1, 0.50, -0.0, 1e300, 0.1, 1e20, 2.5e1]"),
                     "[0.5,0.5,0.5,0.0,1e+300,0.1,1e+20,25.0]");
    ck_assert_str_eq(canon("{\"p\":{\"z\":[true,false,null],\"y\":\"\\u00e9/\"}}"),
                     "{\"p\":{\"y\":\"\u00e9/\",\"z\":[true,false,null]}}");
    ck_assert_str_eq(canon("{\"seed\":4294967294,\"big\":18446744073709551615}"),
                     "{\"big\":18446744073709551615,\"seed\":4294967294}");
    /* Names sort bytewise on their decoded bytes. */
    ck_assert_str_eq(canon("{\"\\u00e9\":1,\"z\":2,\"Z\":3,\"\":4}"),
                     "{\"\":4,\"Z\":3,\"z\":2,\"\u00e9\":1}");
    /* Values and their types do count. */
    ck_assert_str_ne(canon("{\"a\":1}"), canon("{\"a\":\"1\"}"));
    ck_assert_str_ne(canon("{\"a\":null}"), canon("{}"));
    ck_assert_str_ne(canon("[1,2]"), canon("[2,1]"));
    ck_assert_str_ne(canon("{\"a\":1.5}"), canon("{\"a\":1}"));
    /* An integer and a fraction are other values: seed takes 7, not 7.0. */
    ck_assert_str_ne(canon("{\"seed\":7}"), canon("{\"seed\":7.0}"));
    ck_assert_str_ne(canon("{\"a\":true}"), canon("{\"a\":1}"));
    /* It is itself JSON that reads back to the same canonical text. */
    {
        const char *c = canon("{\"q\":[{\"y\":0.30000000000000004,\"x\":\"a\\\"b\\\\c\\n\"}]}");
        ck_assert_str_eq(canon(c), c);
    }
}
END_TEST

START_TEST(json_member_added_to_composed_text)
{
    apr_pool_t *p;
    json_object *o;
    const char *out;
    apr_pool_create(&p, NULL);
    /* PostgreSQL's spacing, json-c's, an empty object, trailing space. */
    out = gf_json_add_string(p, "{\"a\" : 1, \"b\" : null}", "eventsUrl", "/x/events/1?token=a.b.c");
    ck_assert_str_eq(out, "{\"a\" : 1, \"b\" : null,\"eventsUrl\":\"/x/events/1?token=a.b.c\"}");
    ck_assert_str_eq(gf_json_add_string(p, "{\"a\":1}\n", "k", "v"), "{\"a\":1,\"k\":\"v\"}");
    ck_assert_str_eq(gf_json_add_string(p, "{ }", "k", "v"), "{ \"k\":\"v\"}");
    /* The value is escaped; the result parses. */
    out = gf_json_add_string(p, "{\"a\":1}", "k", "q\"\\\n");
    o = json_tokener_parse(out);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(json_object_get_string(json_object_object_get(o, "k")), "q\"\\\n");
    json_object_put(o);
    /* Not an object. */
    ck_assert_ptr_null(gf_json_add_string(p, "[1]", "k", "v"));
    ck_assert_ptr_null(gf_json_add_string(p, "", "k", "v"));
    ck_assert_ptr_null(gf_json_add_string(p, NULL, "k", "v"));
    ck_assert_ptr_null(gf_json_add_string(p, "{", "k", "v"));
    apr_pool_destroy(p);
}
END_TEST

Suite *input_suite(void)
{
    Suite *s = suite_create("input");
    TCase *tc = tcase_create("validation");
    tcase_add_test(tc, accepts_full_body);
    tcase_add_test(tc, messages_say_what_is_wrong);
    tcase_add_test(tc, rejects_bad_fields);
    tcase_add_test(tc, prompt_length_counts_characters);
    tcase_add_test(tc, required_fields_per_type);
    tcase_add_test(tc, null_means_absent);
    tcase_add_test(tc, json_parser_rejects_malformed);
    tcase_add_test(tc, canonical_json_round_trips);
    tcase_add_test(tc, canonical_json_compares_meaning);
    tcase_add_test(tc, source_image_may_be_an_upload);
    tcase_add_test(tc, json_member_added_to_composed_text);
    suite_add_tcase(s, tc);
    return s;
}
