/* SPDX-License-Identifier: Apache-2.0 */
/* test_watchers.c: watchers per user across processes (core/gf_watchers.h). */
#include <string.h>

#include "test_core.h"
#include "core/gf_watchers.h"

#define NCELLS 128

static gf_watchers_cell_t cells[NCELLS];

/* Processes 1000..1999 are alive; 2000 and above are gone. */
static int alive(apr_int32_t pid, void *baton)
{
    (void)baton;
    return pid < 2000;
}

/* The cap holds for all processes together, and a close makes room. */
START_TEST(cap_across_processes)
{
    apr_uint64_t alice = gf_watchers_key("alice"), bob = gf_watchers_key("bob");
    int i;

    memset(cells, 0, sizeof(cells));
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(gf_watchers_open(cells, NCELLS, alice, 1000 + i, 6, alive, NULL),
                         GF_WATCHERS_OK);
        ck_assert_int_eq(gf_watchers_open(cells, NCELLS, alice, 1000 + i, 6, alive, NULL),
                         GF_WATCHERS_OK);
    }
    ck_assert_int_eq(gf_watchers_count(cells, NCELLS, alice), 6);
    ck_assert_int_eq(gf_watchers_open(cells, NCELLS, alice, 1003, 6, alive, NULL),
                     GF_WATCHERS_LIMIT);
    ck_assert_int_eq(gf_watchers_open(cells, NCELLS, alice, 1000, 6, alive, NULL),
                     GF_WATCHERS_LIMIT);
    /* Another user is not held up by alice. */
    ck_assert_int_eq(gf_watchers_open(cells, NCELLS, bob, 1000, 6, alive, NULL), GF_WATCHERS_OK);
    gf_watchers_close(cells, NCELLS, alice, 1001);
    ck_assert_int_eq(gf_watchers_count(cells, NCELLS, alice), 5);
    ck_assert_int_eq(gf_watchers_open(cells, NCELLS, alice, 1003, 6, alive, NULL),
                     GF_WATCHERS_OK);
    /* No cap (0): counted all the same. */
    ck_assert_int_eq(gf_watchers_open(cells, NCELLS, bob, 1001, 0, alive, NULL), GF_WATCHERS_OK);
    ck_assert_int_eq(gf_watchers_count(cells, NCELLS, bob), 2);
    /* A close of what was not opened changes nothing. */
    gf_watchers_close(cells, NCELLS, bob, 1999);
    ck_assert_int_eq(gf_watchers_count(cells, NCELLS, bob), 2);
}
END_TEST

/* A process that died with watchers open gives them back at the cap; a new
 * process with its pid starts with none. */
START_TEST(dead_processes)
{
    apr_uint64_t carol = gf_watchers_key("carol");
    int i;

    memset(cells, 0, sizeof(cells));
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(gf_watchers_open(cells, NCELLS, carol, 2001, 4, alive, NULL),
                         GF_WATCHERS_OK);
    }
    ck_assert_int_eq(gf_watchers_open(cells, NCELLS, carol, 1000, 4, alive, NULL),
                     GF_WATCHERS_OK);
    ck_assert_int_eq(gf_watchers_count(cells, NCELLS, carol), 1);
    gf_watchers_forget_pid(cells, NCELLS, 1000);
    ck_assert_int_eq(gf_watchers_count(cells, NCELLS, carol), 0);
}
END_TEST

/* A window full of other users' open cells: the watcher is not counted
 * (GF_WATCHERS_FULL), and nothing is overwritten. */
START_TEST(full_window)
{
    gf_watchers_cell_t small[GF_WATCHERS_PROBE];
    apr_uint64_t k;

    memset(small, 0, sizeof(small));
    for (k = 1; k <= GF_WATCHERS_PROBE; k++) {
        ck_assert_int_eq(gf_watchers_open(small, GF_WATCHERS_PROBE, k, 1000, 1, alive, NULL),
                         GF_WATCHERS_OK);
    }
    ck_assert_int_eq(gf_watchers_open(small, GF_WATCHERS_PROBE, 999, 1000, 1, alive, NULL),
                     GF_WATCHERS_FULL);
    for (k = 1; k <= GF_WATCHERS_PROBE; k++) {
        ck_assert_int_eq(gf_watchers_count(small, GF_WATCHERS_PROBE, k), 1);
    }
    ck_assert(gf_watchers_key("") != 0);
    ck_assert(gf_watchers_key("alice") != gf_watchers_key("alicf"));
}
END_TEST

/* The table's size: two cells per watcher possible, within its bounds. */
START_TEST(cells_wanted)
{
    ck_assert_uint_eq(gf_watchers_cells_wanted(4, 1000), 8000);
    ck_assert_uint_eq(gf_watchers_cells_wanted(0, 1000), 2000);     /* at least one child */
    ck_assert_uint_eq(gf_watchers_cells_wanted(-1, 1000), 2000);
    ck_assert_uint_eq(gf_watchers_cells_wanted(1, 10), GF_WATCHERS_CELLS_MIN);
    ck_assert_uint_eq(gf_watchers_cells_wanted(1, 512), 1024);
    ck_assert_uint_eq(gf_watchers_cells_wanted(1, 513), 1026);
    ck_assert_uint_eq(gf_watchers_cells_wanted(16, 10025), GF_WATCHERS_CELLS_MAX);
    ck_assert_uint_eq(gf_watchers_cells_wanted(1, 1L << 17), GF_WATCHERS_CELLS_MAX);
}
END_TEST

Suite *watchers_suite(void)
{
    Suite *s = suite_create("watchers");
    TCase *tc = tcase_create("watchers");
    tcase_add_test(tc, cap_across_processes);
    tcase_add_test(tc, dead_processes);
    tcase_add_test(tc, full_window);
    tcase_add_test(tc, cells_wanted);
    suite_add_tcase(s, tc);
    return s;
}
