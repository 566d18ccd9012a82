/* SPDX-License-Identifier: Apache-2.0 */
/* test_trace.c: W3C Trace Context: what traceparent headers are taken,
 * the ids made for a new trace and its children, and the trace a pool
 * hands down to its subpools. */
#include <string.h>

#include "test_core.h"
#include "core/gf_trace.h"

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

START_TEST(traceparent_parse)
{
    static const char *const bad[] = {
        "", "00", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",          /* upper case */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",          /* no trace */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",          /* no span */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",          /* version ff */
        TP "-extra",                                                        /* 00 is exact */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
    };
    gf_trace_t t;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(!gf_trace_parse(bad[i], &t), "took %s", bad[i]);
    }
    ck_assert(!gf_trace_parse(NULL, &t));
    ck_assert(gf_trace_parse(TP, &t));
    ck_assert_str_eq(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    ck_assert_str_eq(t.span_id, "00f067aa0ba902b7");
    ck_assert_int_eq(t.flags, 1);
    ck_assert_str_eq(gf_trace_header(test_pool, &t), TP);
    /* A later version is read as 00 reads it; what follows is ignored. */
    ck_assert(gf_trace_parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what", &t));
    ck_assert_int_eq(t.flags, 0);
}
END_TEST

START_TEST(traces_made_here)
{
    unsigned char r24[24], r8[8];
    gf_trace_t parent, child, zero, otel;

    memset(r24, 0xab, sizeof(r24));
    gf_trace_new(r24, &parent);
    ck_assert_str_eq(parent.trace_id, "abababababababababababababababab");
    ck_assert_str_eq(parent.span_id, "abababababababab");
    ck_assert_int_eq(parent.flags, 1);
    memset(r8, 0x01, sizeof(r8));
    gf_trace_child(&parent, r8, &child);
    ck_assert_str_eq(child.trace_id, parent.trace_id);
    ck_assert_str_eq(child.span_id, "0101010101010101");
    ck_assert_str_eq(gf_trace_header(test_pool, &child),
                     "00-abababababababababababababababab-0101010101010101-01");
    /* All-zero random bytes still make valid ids. */
    memset(r24, 0, sizeof(r24));
    gf_trace_new(r24, &zero);
    ck_assert(gf_trace_parse(gf_trace_header(test_pool, &zero), &zero));
    /* mod_otel's environment. */
    ck_assert(gf_trace_from_ids("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", &otel));
    ck_assert_str_eq(gf_trace_header(test_pool, &otel), TP);
    ck_assert(!gf_trace_from_ids("4bf92f3577b34da6a3ce929d0e0e47", "00f067aa0ba902b7", &otel));
    ck_assert(!gf_trace_from_ids(NULL, "00f067aa0ba902b7", &otel));
    /* A span of its own in a trace named by its id (a status's traceId). */
    ck_assert(gf_trace_in("4bf92f3577b34da6a3ce929d0e0e4736", r8, &child));
    ck_assert_str_eq(gf_trace_header(test_pool, &child),
                     "00-4bf92f3577b34da6a3ce929d0e0e4736-0101010101010101-01");
    ck_assert(!gf_trace_in("-", r8, &child));
    ck_assert(!gf_trace_in(NULL, r8, &child));
}
END_TEST

START_TEST(trace_of_a_pool)
{
    apr_pool_t *work, *sub;
    gf_trace_t t;

    ck_assert(gf_trace_parse(TP, &t));
    apr_pool_create(&work, test_pool);
    apr_pool_create(&sub, work);
    ck_assert_ptr_null(gf_trace_of(sub));
    gf_trace_attach(work, &t);
    ck_assert_ptr_nonnull(gf_trace_of(sub));
    ck_assert_str_eq(gf_trace_of(sub)->trace_id, t.trace_id);
    ck_assert_ptr_null(gf_trace_of(test_pool));
    apr_pool_destroy(work);
}
END_TEST

Suite *trace_suite(void)
{
    Suite *s = suite_create("trace");
    TCase *tc = tcase_create("traceparent");
    tcase_add_test(tc, traceparent_parse);
    tcase_add_test(tc, traces_made_here);
    tcase_add_test(tc, trace_of_a_pool);
    suite_add_tcase(s, tc);
    return s;
}
