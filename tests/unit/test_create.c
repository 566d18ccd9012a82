/* SPDX-License-Identifier: Apache-2.0 */
/* test_create.c: a create's ids and checks (core/gf_create.h). */
#include <string.h>

#include "test_core.h"
#include "core/gf_create.h"
#include "core/gf_json.h"
#include "core/gf_route.h"

static json_object *parse(const char *s)
{
    const char *err;
    json_object *o = gf_json_parse(test_pool, s, strlen(s), &err);
    ck_assert_ptr_nonnull(o);
    return o;
}

/* Version 7: the time first (so ids sort by creation), version and
 * variant bits set, the rest and the seed from the draw. */
START_TEST(id_v7)
{
    unsigned char draw[GF_CREATE_DRAW_BYTES];
    char id[APR_UUID_FORMATTED_LENGTH + 1], later[APR_UUID_FORMATTED_LENGTH + 1];
    apr_uint64_t seed;

    memset(draw, 0xff, sizeof(draw));
    gf_create_id_v7(id, 0x018bd3e2a5c1ULL, draw, &seed);
    ck_assert_str_eq(id, "018bd3e2-a5c1-7fff-bfff-ffffffffffff");
    /* 0xffffffff is past the range: it wraps to 0. */
    ck_assert_uint_eq(seed, 0);
    memset(draw, 0, sizeof(draw));
    draw[16] = 0x01;
    draw[19] = 0x02;
    gf_create_id_v7(later, 0x018bd3e2a5c2ULL, draw, &seed);
    ck_assert_str_eq(later, "018bd3e2-a5c2-7000-8000-000000000000");
    ck_assert_uint_eq(seed, 0x01000002ULL);
    ck_assert_int_lt(strcmp(id, later), 0);
    ck_assert(gf_uuid_valid(id));
}
END_TEST

START_TEST(drawn_ids)
{
    char a[APR_UUID_FORMATTED_LENGTH + 1], b[APR_UUID_FORMATTED_LENGTH + 1];
    apr_uint64_t seed;

    gf_create_draw_id(a, &seed);
    gf_create_draw_id(b, &seed);
    ck_assert(gf_uuid_valid(a));
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(a[14], '7');
    ck_assert_uint_lt(seed, 4294967295ULL);
    gf_create_draw_upload_id(a);
    gf_create_draw_upload_id(b);
    ck_assert(gf_uuid_valid(a));
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(a[14], '4');
    ck_assert(strchr("89ab", a[19]) != NULL);
}
END_TEST

START_TEST(upload_id_v4)
{
    unsigned char draw[16];
    char id[APR_UUID_FORMATTED_LENGTH + 1];

    memset(draw, 0xff, sizeof(draw));
    gf_create_upload_id_v4(id, draw);
    ck_assert_str_eq(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
    memset(draw, 0, sizeof(draw));
    gf_create_upload_id_v4(id, draw);
    ck_assert_str_eq(id, "00000000-0000-4000-8000-000000000000");
}
END_TEST

START_TEST(cancel_after)
{
    int s = 0;

    ck_assert_ptr_null(gf_create_cancel_after(test_pool, "90", 300, &s));
    ck_assert_int_eq(s, 90);
    ck_assert_ptr_null(gf_create_cancel_after(test_pool, "1m30s", 300, &s));
    ck_assert_int_eq(s, 90);
    ck_assert_ptr_null(gf_create_cancel_after(test_pool, "300", 300, &s));
    ck_assert_str_eq(gf_create_cancel_after(test_pool, "301", 300, &s),
                     "Cancel-After: at most 300 s, the type's deadline (GenFlowDeadline)");
    ck_assert_str_eq(gf_create_cancel_after(test_pool, "0", 300, &s),
                     "Cancel-After: give whole seconds (90) or a duration (1m30s), at least 1 s");
    ck_assert_str_eq(gf_create_cancel_after(test_pool, "soon", 300, &s),
                     "Cancel-After: give whole seconds (90) or a duration (1m30s), at least 1 s");
    /* Without the header: the body's value, checked against the deadline. */
    s = 0;
    ck_assert_ptr_null(gf_create_cancel_after(test_pool, NULL, 300, &s));
    ck_assert_int_eq(s, 0);
    s = 400;
    ck_assert_str_eq(gf_create_cancel_after(test_pool, NULL, 300, &s),
                     "cancelAfter: at most 300 s, the type's deadline (GenFlowDeadline)");
}
END_TEST

START_TEST(count)
{
    ck_assert_ptr_null(gf_create_count_refusal(test_pool, 4, 4));
    ck_assert_str_eq(gf_create_count_refusal(test_pool, 5, 4),
                     "count: at most 4 pictures for this type (GenFlowMaxCount)");
    ck_assert_str_eq(gf_create_count_refusal(test_pool, 2, 1),
                     "count: at most 1 picture for this type (GenFlowMaxCount)");
}
END_TEST

START_TEST(by_id_args)
{
    int ca = -1;
    const char *both = "generationId: give either generationId alone (with at most "
                       "cancelAfter) or the create fields, not both";

    ck_assert_ptr_null(gf_create_by_id_args(test_pool, parse("{\"generationId\":\"x\"}"), &ca));
    ck_assert_int_eq(ca, 0);
    ck_assert_ptr_null(gf_create_by_id_args(test_pool,
                                            parse("{\"generationId\":\"x\",\"cancelAfter\":60}"),
                                            &ca));
    ck_assert_int_eq(ca, 60);
    ck_assert_ptr_null(gf_create_by_id_args(
        test_pool, parse("{\"generationId\":\"x\",\"cancelAfter\":null}"), &ca));
    ck_assert_int_eq(ca, 0);
    ck_assert_str_eq(gf_create_by_id_args(test_pool,
                                          parse("{\"generationId\":\"x\",\"prompt\":\"p\"}"), &ca),
                     both);
    ck_assert_str_eq(gf_create_by_id_args(test_pool,
                                          parse("{\"generationId\":\"x\",\"cancelAfter\":1,"
                                                "\"prompt\":\"p\"}"), &ca), both);
    ck_assert_ptr_nonnull(gf_create_by_id_args(
        test_pool, parse("{\"generationId\":\"x\",\"cancelAfter\":\"soon\"}"), &ca));
}
END_TEST

Suite *create_suite(void)
{
    Suite *s = suite_create("create");
    TCase *tc = tcase_create("create");
    tcase_add_test(tc, id_v7);
    tcase_add_test(tc, drawn_ids);
    tcase_add_test(tc, upload_id_v4);
    tcase_add_test(tc, cancel_after);
    tcase_add_test(tc, count);
    tcase_add_test(tc, by_id_args);
    suite_add_tcase(s, tc);
    return s;
}
