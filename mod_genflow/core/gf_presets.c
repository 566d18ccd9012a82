/* SPDX-License-Identifier: Apache-2.0 */
/* gf_presets.c: weekly preset rotation (see gf_presets.h). */
#include <apr_strings.h>

#include "core/gf_presets.h"

long gf_presets_week_serial(apr_time_t t)
{
    long days = (long)(apr_time_sec(t) / 86400);
    return (days - 4) / 7;   /* day 4 since the epoch was a Monday */
}

const char *gf_presets_iso_week(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t tm;
    int wday, thursday_yday, year, week;
    apr_time_t thursday;

    /* The ISO week belongs to the year of its Thursday. */
    apr_time_exp_gmt(&tm, t);
    wday = tm.tm_wday == 0 ? 7 : tm.tm_wday;             /* Monday 1 .. Sunday 7 */
    thursday = t + apr_time_from_sec((apr_time_t)(4 - wday) * 86400);
    apr_time_exp_gmt(&tm, thursday);
    year = tm.tm_year + 1900;
    thursday_yday = tm.tm_yday;                          /* 0-based */
    week = thursday_yday / 7 + 1;
    return apr_psprintf(p, "%04d-W%02d", year, week);
}

int gf_presets_is_active(long week, int m, int n, int index)
{
    int i;
    if (m <= 0 || index < 0 || index >= m) return 0;
    for (i = 0; i < n && i < m; i++) {
        if ((week * n + i) % m == index) return 1;
    }
    return 0;
}
