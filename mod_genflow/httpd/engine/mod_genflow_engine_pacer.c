/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_pacer.c: a rate's next start, taken a moment
 * before it comes.
 *
 * A provider with rate= (kept in the database, limits=site) starts its
 * calls 1/N of its window apart. Without this file, a generation that
 * waits for the next start is claimed when that start has come: a worker
 * wakes at the time the last claim was told ('rate'), runs the claim,
 * and the call goes a millisecond or two late. The claim's start is its
 * own time, and the rate's next start is counted from it, so in a busy
 * line every start inherits the lateness of all the starts before it: 30
 * starts in a row 1.6 ms late each put the 30th 48 ms behind the pace the
 * provider allows.
 *
 * So the call that takes a start launches a fiber that sleeps until a
 * little before the next start (two of this child's recent standby
 * claims, and at least the longest of late plus GF_PACER_LEAD_MIN:
 * gf_pacer_lead, core/gf_pacer.c), then claims the first due row of the line
 * with that start (CLAIM with standby = 2: the rate's next start even up
 * to GF_CLAIM_RATE_AHEAD_MS ahead, the row's started_at that start, the
 * start after it counted from it, on the same grid). The row is leased to
 * this child (the heartbeat renews it) and waits on a timer of the loop
 * until its start, then runs as any claimed row; its call, in turn,
 * launches the next. Nothing due, or the next start already taken (by
 * another child or node), or further ahead than a standby may take it:
 * the fiber ends, and the line goes the usual way.
 *
 * The call never goes before its start: the claim returns the start
 * rounded up to the millisecond, and the wait ends there. A child that
 * stops while a row waits gives it back, due now (nothing was sent); the
 * start it took is lost, which only leaves the provider a call short; so
 * does one whose provider a 429 paused meanwhile. A user's cancel
 * meanwhile is found when the row runs (its slot lost): no call.
 */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>

#include "httpd/engine/mod_genflow_engine_int.h"
#include "httpd/limits/mod_genflow_limits.h"
#include "httpd/io/mod_genflow_metrics.h"
#include "httpd/servers/mod_genflow_servers.h"
#include "core/gf_pacer.h"
#include "core/gf_sql.h"

typedef struct {
    apr_pool_t *pool;
    const gf_database_t *e;
    const gf_provider_t *prov;
    gf_engine_run_fn *run;
    apr_time_t wake_at;          /* the claim's time: a lead before the next start */
    const char *owner;
    gf_claim_t c;
    gf_attempt_t slot;
} rate_standby_t;

/* Claim the row of the next start and wait for it; 1 with the row begun
 * (its lease renewed by the heartbeat, a place of the loop reserved for
 * it) and its start come, 0 when there is nothing to run. */
static int claim_and_wait(rate_standby_t *rs, const gf_type_t **t, server_rec **s)
{
    gf_engine_t *W = gf_engine();
    gf_standby_claim_t q;
    apr_time_t now = apr_time_now();

    if ((rs->wake_at > now && gf_loop_sleep(rs->wake_at - now)) || W->stopping
        || gf_engine_aborting() || gf_engine_reserve(1) == 0) {
        return 0;
    }
    memset(&q, 0, sizeof(q));
    q.e = rs->e;
    q.pool = rs->pool;
    q.prov = rs->prov;
    q.kind = 2;
    q.owner = rs->owner;
    q.c = &rs->c;
    q.slot = &rs->slot;
    gf_engine_standby_claim(&q);
    if (!q.t) {
        gf_engine_unreserve(1);
        return 0;
    }
    *t = q.t;
    *s = q.s;
    gf_engine_slot_begin(&rs->slot, q.s, q.t, rs->c.id, rs->owner, rs->c.attempts,
                         gf_engine_row_trace(&rs->c));
    now = apr_time_now();
    if ((rs->c.slot > now && gf_loop_sleep(rs->c.slot - now)) || gf_limits_paused(rs->prov)) {
        /* The child stops, or a 429 paused the provider meanwhile: back
         * to the queue, due now (its claims wait for the pause's end);
         * nothing was sent. */
        gf_engine_slot_end(&rs->slot);
        rs->c.defer = 0;
        gf_engine_row_statement(q.s, rs->pool, &rs->c, GF_SQL_RELEASE, 1);
        gf_engine_landed();
        return 0;
    }
    return 1;
}

static void pacer_main(void *baton)
{
    rate_standby_t *rs = baton;
    const gf_type_t *t = NULL;
    server_rec *s = NULL;

    if (claim_and_wait(rs, &t, &s)) {
        gf_limits_hold_t hold;
        memset(&hold, 0, sizeof(hold));
        gf_metrics_engine(gf_metrics(), GF_ENGINE_PACED);
        rs->run(s, rs->pool, &rs->c, &rs->slot, &hold);
        gf_engine_slot_end(&rs->slot);
        if (hold.prov) gf_limits_unused(s, &hold);
        gf_engine_landed();
    }
    apr_pool_destroy(rs->pool);
    free(rs);
}

void gf_engine_pacer_begin(server_rec *s, const gf_provider_t *prov, const gf_claim_t *c,
                                  gf_engine_run_fn *run)
{
    gf_engine_t *W = gf_engine();
    const gf_database_t *e;
    apr_interval_time_t spacing, lead;
    rate_standby_t *rs;

    if (!W || !W->loop || !gf_loop_in_fiber() || W->stopping || !prov
        || (spacing = gf_pacer_spacing(&prov->limit)) <= 0
        || !(e = gf_database_of(W->databases, s))) {
        return;
    }
    /* The pace is the loop's, and this is a fiber of it. */
    lead = gf_pacer_lead(gf_pacer_pace_of(W->pace, prov->name), spacing);
    if (!(rs = calloc(1, sizeof(*rs)))) return;
    if (gf_engine_pool(&rs->pool, "genflow_pacer") != APR_SUCCESS) {
        free(rs);
        return;
    }
    rs->e = e;
    rs->prov = prov;
    rs->run = run;
    rs->wake_at = gf_pacer_wake_at(c->slot, apr_time_now(), spacing, lead);
    rs->owner = apr_pstrcat(rs->pool, W->node, ":r", NULL);
    if (gf_engine_launch(pacer_main, rs) != 0) {
        apr_pool_destroy(rs->pool);
        free(rs);
    }
}
