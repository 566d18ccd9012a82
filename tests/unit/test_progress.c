/* SPDX-License-Identifier: Apache-2.0 */
/* test_progress.c: progress bars in providers' logs and estimates from
 * job times (core/gf_progress.h). */
#include <string.h>

#include "test_core.h"
#include "core/gf_progress.h"

static double scan(const char *s)
{
    double f = -1;
    if (!gf_progress_scan(s, strlen(s), &f)) return -1;
    return f;
}

/* Replicate's logs of a diffusion model, as a prediction carries them. */
static const char REPLICATE_LOGS[] =
    "Using seed: 42069\nPrompt: a studio photo of a rainbow colored corgi\ntxt2img mode\n"
    "  0%|          | 0/50 [00:00<?, ?it/s]\n"
    "  4%|\xe2\x96\x8d         | 2/50 [00:00<00:02, 16.47it/s]\n"
    " 50%|\xe2\x96\x88\xe2\x96\x88\xe2\x96\x88\xe2\x96\x88\xe2\x96\x88     | 25/50 [00:01<00:01, 17.10it/s]\n"
    " 52%|\xe2\x96\x88\xe2\x96\x88\xe2\x96\x88\xe2\x96\x88\xe2\x96\x88\xe2\x96\x8f    | 26/50 [00:01<00:01, 17.10it/s]";

START_TEST(scan_reads_the_last_bar)
{
    ck_assert(scan(REPLICATE_LOGS) == 0.52);
    /* n/total is more exact than the rounded percentage */
    ck_assert(scan(" 33%|###       | 1/3 [00:01<00:02]") == 0.33);
    ck_assert(scan(" 67%|######    | 2/3 [00:01<00:02]") == 0.66);
    /* without a total, the percentage */
    ck_assert(scan("Sampling: 40%|####      |") == 0.40);
    ck_assert(scan("100%|##########| 50/50 [00:02<00:00]") == 1.0);
    ck_assert(scan(" 12.5%|#") == 0.12);
    /* tqdm redraws with \r: the last drawing counts */
    ck_assert(scan("  10%|#  | 5/50\r  20%|## | 10/50\r  30%|###| 15/50") == 0.30);
    /* a line after the bar that is not one does not hide it */
    ck_assert(scan(" 80%|######## | 40/50\nSaving the image\n") == 0.80);
}
END_TEST

START_TEST(scan_ignores_what_is_not_a_bar)
{
    ck_assert(scan("") == -1);
    ck_assert(scan("Prompt: 50% off, a sale poster") == -1);   /* echoed prompt */
    ck_assert(scan("a50%|") == -1);                              /* glued to a word */
    ck_assert(scan(" 150%|###") == -1);                          /* over 100 */
    ck_assert(scan(" %|###") == -1);
    ck_assert(scan(" 5.%|###") == -1);
    ck_assert(scan(" 1.2.3%|###") == -1);
    ck_assert(scan(" 1234567890%|") == -1);
    /* a count that is past its total falls back to the percentage */
    ck_assert(scan(" 40%|####| 60/50") == 0.40);
    ck_assert(scan(" 40%|####| 6/0") == 0.40);
    ck_assert(gf_progress_scan(NULL, 0, NULL) == 0);
}
END_TEST

START_TEST(scan_reads_only_the_end_of_long_logs)
{
    apr_size_t n = GF_PROGRESS_SCAN_MAX + 100;
    char *s = apr_palloc(test_pool, n + 1);
    double f = -1;
    memset(s, 'x', n);
    memcpy(s, " 90%|#########| 9/10\n", 21);                 /* out of reach */
    s[n] = '\0';
    ck_assert(!gf_progress_scan(s, n, &f));
    memcpy(s + n - 20, "\n 70%|#######| 7/10", 19);
    ck_assert(gf_progress_scan(s, n - 1, &f) && f == 0.70);
}
END_TEST

START_TEST(step_keeps_hundredths)
{
    ck_assert(gf_progress_step(-1) == 0);
    ck_assert(gf_progress_step(0.0 / 0.0) == 0);
    ck_assert(gf_progress_step(0.999) == 0.99);
    ck_assert(gf_progress_step(0.58) == 0.58);
    ck_assert(gf_progress_step(2) == 1);
}
END_TEST

START_TEST(estimate_from_job_times)
{
    apr_time_t t0 = apr_time_from_sec(1000), finish = -1;
    double f = -1;
    ck_assert(!gf_progress_estimate(0, apr_time_from_sec(10), t0, &f, &finish));
    ck_assert(!gf_progress_estimate(t0, 0, t0, &f, &finish));
    ck_assert(gf_progress_estimate(t0, apr_time_from_sec(10), t0 + apr_time_from_sec(4), &f,
                                   &finish));
    ck_assert(f == 0.40);
    ck_assert(finish == t0 + apr_time_from_sec(10));
    /* overdue: held short of the end, and the end unknown */
    ck_assert(gf_progress_estimate(t0, apr_time_from_sec(10), t0 + apr_time_from_sec(30), &f,
                                   &finish));
    ck_assert(f == GF_PROGRESS_ESTIMATE_MAX);
    ck_assert(finish == 0);
    /* a clock behind the start */
    ck_assert(gf_progress_estimate(t0, apr_time_from_sec(10), t0 - 5, &f, &finish));
    ck_assert(f == 0);
}
END_TEST

Suite *progress_suite(void)
{
    Suite *s = suite_create("progress");
    TCase *tc = tcase_create("progress");
    tcase_add_test(tc, scan_reads_the_last_bar);
    tcase_add_test(tc, scan_ignores_what_is_not_a_bar);
    tcase_add_test(tc, scan_reads_only_the_end_of_long_logs);
    tcase_add_test(tc, step_keeps_hundredths);
    tcase_add_test(tc, estimate_from_job_times);
    suite_add_tcase(s, tc);
    return s;
}
