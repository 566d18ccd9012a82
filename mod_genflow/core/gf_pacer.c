/* SPDX-License-Identifier: Apache-2.0 */
/* gf_pacer.c: the rules of gf_pacer.h. */
#include <string.h>

#include "core/gf_error.h"
#include "core/gf_pacer.h"
#include "core/gf_sql.h"

gf_pace_t *gf_pacer_pace_of(gf_pace_t *table, const char *provider)
{
    int i;
    gf_pace_t *free_one = NULL;
    for (i = 0; i < GF_PACE_MAX; i++) {
        if (table[i].provider && !strcmp(table[i].provider, provider)) return &table[i];
        if (!table[i].provider && !free_one) free_one = &table[i];
    }
    if (free_one) {
        memset(free_one, 0, sizeof(*free_one));
        free_one->provider = provider;
    }
    return free_one;
}

void gf_pacer_average(apr_interval_time_t *avg, apr_interval_time_t v)
{
    *avg = *avg ? (*avg * 7 + v) / 8 : v;
}

/* A standby sleeps until the call may end at the soonest: timed on an
 * average, it slept past the end of every call shorter than the average
 * (on a busy machine, most), and the place went the long way. Claimed
 * early, its row waits a little longer. */
void gf_pacer_low(apr_interval_time_t *lo, apr_interval_time_t v)
{
    *lo = !*lo || v < *lo ? v : *lo + (v - *lo) / 16;
}

/* A rate's standby is claimed this long before its start at least:
 * timed on twice the average, a claim slowed by a busy machine or
 * database came after the start it was to take, and the call went late. */
void gf_pacer_high(apr_interval_time_t *hi, apr_interval_time_t v)
{
    *hi = v > *hi ? v : *hi - (*hi - v) / 16;
}

void gf_pacer_claimed(gf_pace_t *pace, apr_interval_time_t took)
{
    gf_pacer_average(&pace->claim, took);
    gf_pacer_high(&pace->claim_high, took);
}

void gf_pacer_called(gf_pace_t *pace, apr_interval_time_t took)
{
    gf_pacer_low(&pace->call, took);
}

apr_interval_time_t gf_pacer_spacing(const gf_limit_conf_t *limit)
{
    apr_interval_time_t spacing;
    if (limit->per_node || limit->max_concurrent) return 0;
    spacing = gf_limit_spacing(limit);
    return spacing > 0 ? spacing : 0;
}

apr_interval_time_t gf_pacer_lead(const gf_pace_t *pace, apr_interval_time_t spacing)
{
    apr_interval_time_t claim = pace ? pace->claim : 0, high = pace ? pace->claim_high : 0;
    /* A claim as slow as the slowest of late still takes its start
     * before it comes. */
    apr_interval_time_t lead = 2 * claim;
    if (lead < high + GF_PACER_LEAD_MIN) lead = high + GF_PACER_LEAD_MIN;
    if (lead > spacing / 2) lead = spacing / 2;
    if (lead > apr_time_from_msec(GF_CLAIM_RATE_AHEAD_MS) / 2) {
        lead = apr_time_from_msec(GF_CLAIM_RATE_AHEAD_MS) / 2;
    }
    return lead;
}

apr_time_t gf_pacer_wake_at(apr_time_t slot, apr_time_t now, apr_interval_time_t spacing,
                            apr_interval_time_t lead)
{
    return (slot ? slot : now) + spacing - lead;
}

int gf_pacer_standby_applies(const gf_limit_conf_t *limit, int place)
{
    return place > 0 && limit->max_concurrent && gf_limit_spacing(limit) <= 0;
}

apr_interval_time_t gf_pacer_standby_lead(const gf_pace_t *pace)
{
    apr_interval_time_t margin = 2 * pace->claim + apr_time_from_msec(2);
    if (margin < pace->call / 4) margin = pace->call / 4;
    if (margin > GF_PACER_MARGIN_MAX) margin = GF_PACER_MARGIN_MAX;
    return pace->call > margin ? pace->call - margin : 0;
}

int gf_pacer_passable(int place, int stopping, const char *error_code, apr_time_t place_until,
                      apr_time_t now)
{
    if (place <= 0 || stopping) return 0;
    if (error_code && !strcmp(error_code, GF_JOB_RATE_LIMIT)) return 0;
    /* place_until is two seconds short of the lease the database holds,
     * and the next beat renews it well before that. */
    return place_until > now;
}
