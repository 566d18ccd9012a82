/* SPDX-License-Identifier: Apache-2.0 */
/* test_conf_check.c: the plain decisions of the startup checks across
 * directives (gf_conf_check.c): mod_dbd's pool order, where pictures go,
 * and which events base lacks its key. */
#include <string.h>

#include "test_core.h"
#include "core/gf_conf_check.h"

START_TEST(dbd_pool)
{
    gf_conf_dbd_pool_t pool;

    gf_conf_dbd_pool_default(&pool);
    ck_assert_int_eq(gf_conf_dbd_pool_bad(&pool), -1);
    ck_assert_str_eq(pool.where[2], "default");
    gf_conf_dbd_pool_take(test_pool, &pool, "dbdkeep", "20", "a.conf", 7);
    ck_assert_int_eq(pool.n[1], 20);
    ck_assert_str_eq(pool.where[1], "a.conf:7");
    /* DBDKeep 20 above DBDMax 10. */
    ck_assert_int_eq(gf_conf_dbd_pool_bad(&pool), 1);
    ck_assert_str_eq(GF_CONF_DBD_POOL[1], "DBDKeep");
    ck_assert_str_eq(GF_CONF_DBD_POOL[2], "DBDMax");
    gf_conf_dbd_pool_take(test_pool, &pool, "DBDMin", "30", "a.conf", 8);
    ck_assert_int_eq(gf_conf_dbd_pool_bad(&pool), 0);     /* the first found is named */
    gf_conf_dbd_pool_take(test_pool, &pool, "DBDMax", "30", "b.conf", 1);
    gf_conf_dbd_pool_take(test_pool, &pool, "DBDKeep", "30", "b.conf", 2);
    ck_assert_int_eq(gf_conf_dbd_pool_bad(&pool), -1);    /* equal is fine */
    /* Other directives and ones without arguments change nothing. */
    gf_conf_dbd_pool_take(test_pool, &pool, "DBDParams", "1", "b.conf", 3);
    gf_conf_dbd_pool_take(test_pool, &pool, "DBDMin", NULL, "b.conf", 4);
    ck_assert_int_eq(pool.n[0], 30);
    ck_assert_str_eq(pool.where[0], "a.conf:8");
}
END_TEST

START_TEST(storage)
{
    ck_assert_int_eq(gf_conf_storage_check(1, 1, 0, 0), GF_CONF_STORAGE_OK);
    ck_assert_int_eq(gf_conf_storage_check(0, 0, 1, 0), GF_CONF_STORAGE_OK);
    ck_assert_int_eq(gf_conf_storage_check(0, 0, 0, 1), GF_CONF_STORAGE_OK);
    ck_assert_int_eq(gf_conf_storage_check(1, 1, 1, 0), GF_CONF_STORAGE_OK);
    ck_assert_int_eq(gf_conf_storage_check(0, 0, 0, 0), GF_CONF_STORAGE_NONE);
    /* Half of the local pair, even beside a bucket. */
    ck_assert_int_eq(gf_conf_storage_check(1, 0, 0, 1), GF_CONF_STORAGE_NONE);
    ck_assert_int_eq(gf_conf_storage_check(0, 1, 1, 0), GF_CONF_STORAGE_NONE);
    ck_assert_int_eq(gf_conf_storage_check(0, 0, 1, 1), GF_CONF_STORAGE_TWO);
    ck_assert_int_eq(gf_conf_storage_check(1, 1, 1, 1), GF_CONF_STORAGE_TWO);
}
END_TEST

START_TEST(events_key)
{
    ck_assert_ptr_null(gf_conf_events_key_missing(NULL, NULL, 0));
    ck_assert_ptr_null(gf_conf_events_key_missing("", "https://ev.example", 0));
    ck_assert_str_eq(gf_conf_events_key_missing(NULL, "https://ev.example", 0),
                     "https://ev.example");
    ck_assert_str_eq(gf_conf_events_key_missing("https://a.example", "https://b.example", 0),
                     "https://a.example");
    ck_assert_ptr_null(gf_conf_events_key_missing("https://a.example", NULL, 1));
}
END_TEST

Suite *conf_check_suite(void)
{
    Suite *s = suite_create("conf_check");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, dbd_pool);
    tcase_add_test(tc, storage);
    tcase_add_test(tc, events_key);
    suite_add_tcase(s, tc);
    return s;
}
