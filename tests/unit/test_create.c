/* SPDX-License-Identifier: Apache-2.0 */
/* test_create.c: a create's ids and checks (core/gf_create.h). */
#include <string.h>

#include "test_core.h"
#include "core/gf_create.h"
#include "core/gf_create_batch.h"
#include "core/gf_sql.h"
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

/* A create's arguments, as the glue fills them (gf_sql.h's places). */
static void create_args(const char **a, const char *id)
{
    memset(a, 0, GF_CREATE_ARGS * sizeof(*a));
    a[GF_CREATE_USER] = "ann";
    a[GF_CREATE_COST] = "2";
    a[GF_CREATE_DAY_LIMIT] = "0";
    a[GF_CREATE_PROMPT] = "a \"quoted\" prompt\n";
    a[GF_CREATE_USER_PROMPT] = "a prompt";
    a[GF_CREATE_SEED] = "4294967294";
    a[GF_CREATE_INPUT] = "{\"prompt\":\"a prompt\"}";
    a[GF_CREATE_MAX_RETRIES] = "3";
    a[GF_CREATE_CHAIN] = "local";
    a[GF_CREATE_DEADLINE_SECS] = "120";
    a[GF_CREATE_MAX_ACTIVE] = "0";
    a[GF_CREATE_ID] = id;
    a[GF_CREATE_SERVER_NAME] = "localhost:80";
}

/* Which creates join a batch: not with an Idempotency-Key, nor with an
 * upload as the source; a URL source does. */
START_TEST(batch_joins)
{
    const char *a[GF_CREATE_ARGS];
    create_args(a, "id-a");
    ck_assert_int_eq(gf_create_batch_joins(a), 1);
    a[GF_CREATE_SOURCE_IMAGE] = "https://img.test/a.png";
    ck_assert_int_eq(gf_create_batch_joins(a), 1);
    a[GF_CREATE_SOURCE_IMAGE] = "upload:0190a1b2-c3d4-4e5f-8a6b-7c8d9e0f1a2b";
    ck_assert_int_eq(gf_create_batch_joins(a), 0);
    a[GF_CREATE_SOURCE_IMAGE] = NULL;
    a[GF_CREATE_IDEM_KEY] = "k";
    a[GF_CREATE_IDEM_OWNER] = "o";
    ck_assert_int_eq(gf_create_batch_joins(a), 0);
}
END_TEST

/* The statement's argument: one object each, numbers as numbers, NULL as
 * null, the input as text, each with its place; refused when one may not
 * join or a number is not one, or out of range. */
START_TEST(batch_json)
{
    const char *a[GF_CREATE_ARGS], *b[GF_CREATE_ARGS];
    const char *const *sets[GF_CREATE_BATCH_MAX + 1];
    const char *json, *err;
    json_object *arr, *o, *v;
    int i;

    create_args(a, "id-a");
    create_args(b, "id-b");
    b[GF_CREATE_TRACEPARENT] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    sets[0] = a;
    sets[1] = b;
    json = gf_create_batch_json(test_pool, sets, 2);
    ck_assert_ptr_nonnull(json);
    arr = gf_json_parse(test_pool, json, strlen(json), &err);
    ck_assert_ptr_nonnull(arr);
    ck_assert_int_eq(json_object_array_length(arr), 2);
    o = json_object_array_get_idx(arr, 1);
    ck_assert(json_object_object_get_ex(o, "n", &v) && json_object_get_int(v) == 1);
    ck_assert(json_object_object_get_ex(o, "id", &v));
    ck_assert_str_eq(json_object_get_string(v), "id-b");
    ck_assert(json_object_object_get_ex(o, "seed", &v) && json_object_is_type(v, json_type_int));
    ck_assert(json_object_get_int64(v) == 4294967294LL);
    ck_assert(json_object_object_get_ex(o, "cost", &v) && json_object_get_int(v) == 2);
    ck_assert(json_object_object_get_ex(o, "input", &v) && json_object_is_type(v, json_type_string));
    ck_assert_str_eq(json_object_get_string(v), "{\"prompt\":\"a prompt\"}");
    ck_assert(json_object_object_get_ex(o, "prompt", &v));
    ck_assert_str_eq(json_object_get_string(v), "a \"quoted\" prompt\n");
    ck_assert(json_object_object_get_ex(o, "preset", &v) && v == NULL);
    o = json_object_array_get_idx(arr, 0);
    ck_assert(json_object_object_get_ex(o, "traceparent", &v) && v == NULL);

    b[GF_CREATE_SEED] = "12x";
    ck_assert_ptr_null(gf_create_batch_json(test_pool, sets, 2));
    b[GF_CREATE_SEED] = "1";
    b[GF_CREATE_IDEM_KEY] = "k";
    ck_assert_ptr_null(gf_create_batch_json(test_pool, sets, 2));
    b[GF_CREATE_IDEM_KEY] = NULL;
    b[GF_CREATE_ID] = NULL;
    ck_assert_ptr_null(gf_create_batch_json(test_pool, sets, 2));
    ck_assert_ptr_null(gf_create_batch_json(test_pool, sets, 0));
    for (i = 0; i <= GF_CREATE_BATCH_MAX; i++) sets[i] = a;
    ck_assert_ptr_nonnull(gf_create_batch_json(test_pool, sets, GF_CREATE_BATCH_MAX));
    ck_assert_ptr_null(gf_create_batch_json(test_pool, sets, GF_CREATE_BATCH_MAX + 1));
}
END_TEST

/* Each create's row in the answer, by its id (PostgreSQL's lower case). */
START_TEST(batch_row)
{
    const char *r1[GF_CREATED_COLS] = { "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b", "2", "p", "t" };
    const char *r2[GF_CREATED_COLS] = { "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2c", "4", "q", "u" };
    const char *const *rows[] = { r1, r2 };
    const char *const *row;

    row = gf_create_batch_row(rows, 2, "0190A1B2-C3D4-7E5F-8A6B-7C8D9E0F1A2C");
    ck_assert_ptr_nonnull(row);
    ck_assert_str_eq(row[GF_CREATED_COST], "4");
    ck_assert_ptr_eq(gf_create_batch_row(rows, 2, r1[0]), r1);
    ck_assert_ptr_null(gf_create_batch_row(rows, 2, "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2d"));
    ck_assert_ptr_null(gf_create_batch_row(rows, 2, NULL));
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
    tcase_add_test(tc, batch_joins);
    tcase_add_test(tc, batch_json);
    tcase_add_test(tc, batch_row);
    suite_add_tcase(s, tc);
    return s;
}
