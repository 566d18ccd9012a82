/* SPDX-License-Identifier: Apache-2.0 */
/* gf_pacer.h: the timing of the rows a child claims ahead of their call,
 * as plain rules over plain data.
 *
 * Two kinds of such rows (the glue's mod_genflow_engine_pacer.c and
 * mod_genflow_engine_standby.c): a rate's next start, claimed a moment
 * before it comes by the pacer (rate= kept in the database), and the row
 * that follows a call under a place kept in the database, claimed while
 * the call is in flight (its standby, max_concurrent=). How early each
 * is claimed comes from what this child measured lately of the
 * provider: its calls (the shortest lately) and its standby claims (a
 * moving average and the longest lately). Here are those statistics, the
 * lead before a start or a call's end, the pacer's wake time, and
 * whether a place may go to its standby. Unit-tested in
 * tests/unit/test_pacer.c; the SQL part (standby = 1 and 2 of CLAIM_SQL,
 * CLAIM_GATES) is core/gf_sql.c's.
 */
#ifndef GF_PACER_H
#define GF_PACER_H

#include <apr_time.h>

#include "core/gf_limit.h"

/* A provider's recent times in this child: its calls, low (the shortest
 * lately: when the next may end at the soonest), and the standby claims
 * for it, a moving average and high (the longest lately). The glue keeps
 * a table of GF_PACE_MAX, touched on the loop's thread only. */
#define GF_PACE_MAX 16
typedef struct {
    const char *provider;        /* NULL: a free entry */
    apr_interval_time_t call, claim, claim_high;
} gf_pace_t;

/* The entry of provider in table (GF_PACE_MAX entries), a free one made
 * its own (zeroed; provider must live as long as the table) when it has
 * none; NULL when the table is full. */
gf_pace_t *gf_pacer_pace_of(gf_pace_t *table, const char *provider);

/* A moving average (an eighth of the new value), the first value as is. */
void gf_pacer_average(apr_interval_time_t *avg, apr_interval_time_t v);
/* The shortest lately: a shorter value at once, a longer one a sixteenth
 * of the way. */
void gf_pacer_low(apr_interval_time_t *lo, apr_interval_time_t v);
/* The longest lately: a longer value at once, a shorter one a sixteenth
 * of the way down. */
void gf_pacer_high(apr_interval_time_t *hi, apr_interval_time_t v);
/* A standby claim for pace's provider took took; a call of it took took. */
void gf_pacer_claimed(gf_pace_t *pace, apr_interval_time_t took);
void gf_pacer_called(gf_pace_t *pace, apr_interval_time_t took);

/* ---- the pacer (rate=) --------------------------------------------------- */

/* The least lead before a start: a claim's round trip, and the timer's
 * millisecond. */
#define GF_PACER_LEAD_MIN apr_time_from_msec(5)
/* The spacing of a provider's starts when the pacer takes them (a rate
 * kept in the database, no max_concurrent=), else 0. */
apr_interval_time_t gf_pacer_spacing(const gf_limit_conf_t *limit);
/* How long before the next start its row is claimed, from the
 * provider's standby claims lately (pace; NULL: none measured): twice
 * their average, and not less than the longest with the least lead
 * beside it; at most half the spacing and half of how far ahead a
 * standby may take a start (GF_CLAIM_RATE_AHEAD_MS). */
apr_interval_time_t gf_pacer_lead(const gf_pace_t *pace, apr_interval_time_t spacing);
/* When the pacer claims: a lead before the next start, a spacing after
 * this call's (slot: the start its claim took; 0: now, for a row claimed
 * before the slots were returned). */
apr_time_t gf_pacer_wake_at(apr_time_t slot, apr_time_t now, apr_interval_time_t spacing,
                            apr_interval_time_t lead);

/* ---- a place's standby (max_concurrent=) --------------------------------- */

/* How long before its call's expected end a standby is claimed, at most
 * (a longer call's end is less exact than that anyway, and its place's
 * idle round trip matters less; the standby row waits, its deadline
 * running). */
#define GF_PACER_MARGIN_MAX apr_time_from_msec(250)
/* Does a call under place (0: none) of a provider with limit get a
 * standby? Places kept in the database (max_concurrent=), no rate (a
 * rate's start is taken by the claim that starts the call). */
int gf_pacer_standby_applies(const gf_limit_conf_t *limit, int place);
/* How long a standby sleeps before its claim: until the call may end at
 * the soonest (the shortest call lately), less a quarter of it or twice
 * a standby claim's (and 2 ms), whichever is longer, but no more than
 * GF_PACER_MARGIN_MAX; 0 when that is already past. */
apr_interval_time_t gf_pacer_standby_lead(const gf_pace_t *pace);
/* May the place go to the standby when the call ends? Not without a
 * place, when the child stops, when the call ended with a 429
 * (error_code GF_JOB_RATE_LIMIT: the provider is paused for every node),
 * nor when the place's lease is not known to run past now (place_until:
 * as the heartbeat saw it, two seconds short of the database's). */
int gf_pacer_passable(int place, int stopping, const char *error_code, apr_time_t place_until,
                      apr_time_t now);

#endif
