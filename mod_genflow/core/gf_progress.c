/* SPDX-License-Identifier: Apache-2.0 */
/* gf_progress.c: progress reports in providers' logs and estimates from
 * job times (see gf_progress.h). */
#include "core/gf_progress.h"

/* At most this many digits in a bar's numbers: tqdm's totals are steps. */
#define NUM_DIGITS_MAX 9

double gf_progress_step(double fraction)
{
    long steps;
    if (!(fraction > 0)) return 0;          /* also NaN */
    if (fraction >= 1) return 1;
    steps = (long)(fraction * GF_PROGRESS_STEPS + 1e-9);
    return (double)steps / GF_PROGRESS_STEPS;
}

/* Digits at s[*i..] (at most NUM_DIGITS_MAX) as *v, *i past them; 0 when
 * there are none or too many. */
static int number_at(const char *s, apr_size_t len, apr_size_t *i, long *v)
{
    int n = 0;
    *v = 0;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        if (++n > NUM_DIGITS_MAX) return 0;
        *v = *v * 10 + (s[*i] - '0');
        (*i)++;
    }
    return n > 0;
}

/* Digits ending just before s[end] (with an optional ".d" fraction, as
 * tqdm prints with a format of its own), as a percentage 0..100: 1 and
 * *pct, else 0. */
static int percent_before(const char *s, apr_size_t start, apr_size_t end, double *pct)
{
    apr_size_t b = end, i;
    long whole = 0, frac = 0, scale = 1;
    int seen_dot = 0, digits = 0;

    while (b > start && ((s[b - 1] >= '0' && s[b - 1] <= '9') || s[b - 1] == '.')
           && end - b < NUM_DIGITS_MAX) {
        b--;
    }
    if (b == end || s[b] == '.') return 0;
    if (b > start && s[b - 1] != ' ' && s[b - 1] != '\t' && s[b - 1] != ':') return 0;
    for (i = b; i < end; i++) {
        if (s[i] == '.') {
            if (seen_dot++) return 0;
            continue;
        }
        digits++;
        if (seen_dot) {
            frac = frac * 10 + (s[i] - '0');
            scale *= 10;
        }
        else {
            whole = whole * 10 + (s[i] - '0');
        }
    }
    if (!digits || s[end - 1] == '.') return 0;
    *pct = (double)whole + (double)frac / (double)scale;
    return *pct <= 100;
}

/* The bar of the line s[start..end), if it is one: "P%|…| n/total …". */
static int bar_of_line(const char *s, apr_size_t start, apr_size_t end, double *fraction)
{
    apr_size_t i;
    for (i = start; i + 1 < end; i++) {
        double pct;
        apr_size_t j;
        long n, total;
        if (s[i] != '%' || s[i + 1] != '|' || !percent_before(s, start, i, &pct)) continue;
        /* The bar's closing '|', then " n/total" when tqdm knows the total. */
        for (j = i + 2; j < end && s[j] != '|'; j++) ;
        if (j < end) {
            j++;
            while (j < end && s[j] == ' ') j++;
            if (number_at(s, end, &j, &n) && j < end && s[j] == '/') {
                j++;
                if (number_at(s, end, &j, &total) && total > 0 && n <= total) {
                    *fraction = gf_progress_step((double)n / (double)total);
                    return 1;
                }
            }
        }
        *fraction = gf_progress_step(pct / 100.0);
        return 1;
    }
    return 0;
}

int gf_progress_scan(const char *text, apr_size_t len, double *fraction)
{
    apr_size_t end, start;

    if (!text) return 0;
    if (len > GF_PROGRESS_SCAN_MAX) {
        text += len - GF_PROGRESS_SCAN_MAX;
        len = GF_PROGRESS_SCAN_MAX;
    }
    /* From the end: the newest line with a bar is the report. */
    end = len;
    while (end > 0) {
        start = end;
        while (start > 0 && text[start - 1] != '\n' && text[start - 1] != '\r') start--;
        if (bar_of_line(text, start, end, fraction)) return 1;
        if (start == 0) break;
        end = start - 1;
    }
    return 0;
}

int gf_progress_estimate(apr_time_t started, apr_interval_time_t typical, apr_time_t now,
                         double *fraction, apr_time_t *finish)
{
    double f;
    if (started <= 0 || typical <= 0) return 0;
    f = now > started ? (double)(now - started) / (double)typical : 0;
    if (f > GF_PROGRESS_ESTIMATE_MAX) f = GF_PROGRESS_ESTIMATE_MAX;
    *fraction = gf_progress_step(f);
    *finish = started + typical > now ? started + typical : 0;
    return 1;
}
