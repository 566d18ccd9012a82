/* SPDX-License-Identifier: Apache-2.0 */
/* test_server.c: the servers' and providers' names and a directory's write
 * permission (core/gf_server.h). */
#include <string.h>
#include <sys/stat.h>

#include "test_core.h"
#include "core/gf_server.h"

START_TEST(server_labels_and_keys)
{
    apr_hash_t *keys = apr_hash_make(test_pool), *provs = apr_hash_make(test_pool);
    const char *k;

    ck_assert_str_eq(gf_server_label_of(test_pool, "img.example", 8443), "img.example:8443");
    ck_assert_str_eq(gf_server_label_of(test_pool, "img.example", 0), "img.example");
    ck_assert_str_eq(gf_server_label_of(test_pool, NULL, 80), ":80");
    ck_assert_str_eq(gf_server_label_of(test_pool, NULL, 0), "");
    /* The main server's, then a host's; the same name and port twice:
     * told apart by order. */
    k = gf_server_provider_key(test_pool, keys, "", "fal");
    ck_assert_str_eq(k, "/fal");
    apr_hash_set(keys, k, APR_HASH_KEY_STRING, k);
    k = gf_server_provider_key(test_pool, keys, "a:80", "fal");
    ck_assert_str_eq(k, "a:80/fal");
    apr_hash_set(keys, k, APR_HASH_KEY_STRING, k);
    k = gf_server_provider_key(test_pool, keys, "a:80", "fal");
    ck_assert_str_eq(k, "a:80/fal#2");
    apr_hash_set(keys, k, APR_HASH_KEY_STRING, k);
    ck_assert_str_eq(gf_server_provider_key(test_pool, keys, "a:80", "fal"), "a:80/fal#3");
    ck_assert_str_eq(gf_server_provider_key(test_pool, keys, "a:80", "local"), "a:80/local");
    /* A type's providers, sorted. */
    ck_assert_str_eq(gf_server_sorted_keys(test_pool, NULL), "");
    ck_assert_str_eq(gf_server_sorted_keys(test_pool, provs), "");
    apr_hash_set(provs, "replicate", APR_HASH_KEY_STRING, "");
    apr_hash_set(provs, "fal", APR_HASH_KEY_STRING, "");
    apr_hash_set(provs, "local", APR_HASH_KEY_STRING, "");
    ck_assert_str_eq(gf_server_sorted_keys(test_pool, provs), "fal\nlocal\nreplicate");
}
END_TEST

START_TEST(server_write_permission)
{
    gid_t groups[2] = { 20, 30 };
    /* Root may; the owner by the owner's bits alone (not the others'). */
    ck_assert(gf_server_may_write(0, 5, 5, 0, NULL, 0));
    ck_assert(gf_server_may_write(S_IWUSR | S_IXUSR, 100, 30, 100, groups, 2));
    ck_assert(!gf_server_may_write(S_IWUSR | S_IRWXG | S_IRWXO, 100, 30, 100, groups, 2));
    /* A member of its group by the group's bits; write needs enter too. */
    ck_assert(gf_server_may_write(S_IWGRP | S_IXGRP, 1, 30, 100, groups, 2));
    ck_assert(!gf_server_may_write(S_IWGRP | S_IRWXO, 1, 30, 100, groups, 2));
    /* Anyone else by the others' bits. */
    ck_assert(gf_server_may_write(S_IWOTH | S_IXOTH, 1, 40, 100, groups, 2));
    ck_assert(!gf_server_may_write(S_IRWXU | S_IRWXG | S_IXOTH, 1, 40, 100, groups, 2));
    /* The groups are looked up only when they decide: not for root, not
     * for the owner (the owner's answer is the same without them). */
    ck_assert(!gf_server_needs_groups(5, 0));
    ck_assert(!gf_server_needs_groups(100, 100));
    ck_assert(gf_server_needs_groups(1, 100));
    ck_assert(gf_server_may_write(S_IWUSR | S_IXUSR, 100, 30, 100, NULL, 0));
    ck_assert(!gf_server_may_write(S_IWGRP | S_IXGRP, 100, 30, 100, groups, 2));
}
END_TEST

Suite *server_suite(void)
{
    Suite *s = suite_create("server");
    TCase *tc = tcase_create("server");
    tcase_add_test(tc, server_labels_and_keys);
    tcase_add_test(tc, server_write_permission);
    suite_add_tcase(s, tc);
    return s;
}
