/* SPDX-License-Identifier: Apache-2.0 */
/* test_schema.c: the database schema's version judged against the
 * module's (core/gf_schema.c): each verdict and what it tells the
 * administrator to run. */
#include <string.h>

#include "test_core.h"
#include "core/gf_schema.h"

START_TEST(schema_verdicts)
{
    gf_schema_seen_t seen = { 0, 0, 0, 0 };
    const char *msg;

    /* A database never migrated. */
    ck_assert_int_eq(gf_schema_judge(test_pool, &seen, 34, &msg), GF_SCHEMA_TOO_OLD);
    ck_assert_ptr_nonnull(strstr(msg, "genflow-migrate DATABASE_URI"));
    ck_assert_ptr_nonnull(strstr(msg, "version 34"));
    /* Migrated up to an older release. */
    seen.has_table = 1;
    seen.newest = 21;
    ck_assert_int_eq(gf_schema_judge(test_pool, &seen, 34, &msg), GF_SCHEMA_TOO_OLD);
    ck_assert_ptr_nonnull(strstr(msg, "at version 21"));
    ck_assert_ptr_nonnull(strstr(msg, "genflow-migrate --phase expand"));
    ck_assert_ptr_nonnull(strstr(msg, GF_VERSION));
    /* Its migration applied, later ones too, no floor: it runs. */
    seen.needs_applied = 1;
    seen.newest = 40;
    ck_assert_int_eq(gf_schema_judge(test_pool, &seen, 34, &msg), GF_SCHEMA_OK);
    ck_assert_ptr_nonnull(strstr(msg, "at version 40"));
    /* A floor at or below what it needs: it runs. */
    seen.floor = 34;
    ck_assert_int_eq(gf_schema_judge(test_pool, &seen, 34, &msg), GF_SCHEMA_OK);
    /* Contracted past it. */
    seen.floor = 35;
    ck_assert_int_eq(gf_schema_judge(test_pool, &seen, 34, &msg), GF_SCHEMA_TOO_NEW);
    ck_assert_ptr_nonnull(strstr(msg, "version 35 or later"));
    ck_assert_ptr_nonnull(strstr(msg, "genflow-migrate --status"));
}
END_TEST

START_TEST(schema_one_line)
{
    ck_assert_str_eq(gf_schema_one_line(test_pool, "could not connect\n\tIs the server "
                                                   "running?\r\n"),
                     "could not connect \tIs the server running?  ");
    ck_assert_str_eq(gf_schema_one_line(test_pool, ""), "");
}
END_TEST

Suite *schema_suite(void)
{
    Suite *s = suite_create("schema");
    TCase *tc = tcase_create("verdicts");
    tcase_add_test(tc, schema_verdicts);
    tcase_add_test(tc, schema_one_line);
    suite_add_tcase(s, tc);
    return s;
}
