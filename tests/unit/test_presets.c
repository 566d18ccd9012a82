/* SPDX-License-Identifier: Apache-2.0 */
/* test_presets.c: the weekly rotation is deterministic and fair. */
#include "test_core.h"
#include "core/gf_presets.h"

START_TEST(iso_weeks)
{
    /* 2026-11-22 is a Sunday in ISO week 47; 2027-01-01 (Friday) is in
     * 2026-W53; 2024-12-30 (Monday) is in 2025-W01. */
    ck_assert_str_eq(gf_presets_iso_week(test_pool, apr_time_from_sec(1795355110)), "2026-W47");
    ck_assert_str_eq(gf_presets_iso_week(test_pool, apr_time_from_sec(1798761600)), "2026-W53");
    ck_assert_str_eq(gf_presets_iso_week(test_pool, apr_time_from_sec(1735516800)), "2025-W01");
    /* Monday and Sunday of one week share a serial; the next Monday does not. */
    ck_assert_int_eq(gf_presets_week_serial(apr_time_from_sec(1794787200)),      /* Mon 16 Nov */
                     gf_presets_week_serial(apr_time_from_sec(1795391999)));     /* Sun 22 Nov */
    ck_assert_int_eq(gf_presets_week_serial(apr_time_from_sec(1795392000)),      /* Mon 23 Nov */
                     gf_presets_week_serial(apr_time_from_sec(1794787200)) + 1);
}
END_TEST

START_TEST(rotation)
{
    int w, i, active, seen[9] = { 0 };
    for (w = 0; w < 9; w++) {
        active = 0;
        for (i = 0; i < 9; i++) {
            if (gf_presets_is_active(w, 9, 6, i)) {
                active++;
                seen[i]++;
            }
        }
        ck_assert_int_eq(active, 6);                 /* exactly n each week */
    }
    for (i = 0; i < 9; i++) ck_assert_int_eq(seen[i], 6);   /* everyone gets turns */
    ck_assert(gf_presets_is_active(5, 4, 6, 3));   /* fewer presets than n: all */
    ck_assert(!gf_presets_is_active(5, 4, 6, 4));
    ck_assert(gf_presets_is_active(7, 9, 6, 0) == gf_presets_is_active(7, 9, 6, 0));
    ck_assert(!gf_presets_is_active(1, 0, 6, 0));
}
END_TEST

Suite *presets_suite(void)
{
    Suite *s = suite_create("presets");
    TCase *tc = tcase_create("rotation");
    tcase_add_test(tc, iso_weeks);
    tcase_add_test(tc, rotation);
    suite_add_tcase(s, tc);
    return s;
}
