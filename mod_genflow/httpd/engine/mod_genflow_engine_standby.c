/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_standby.c: the next row of a place, claimed while
 * the place's call is in flight.
 *
 * A provider driven at its max_concurrent= (limits=site, the places kept
 * in the database) would otherwise have each place idle for a round trip
 * after every call: the call ends, a worker thread runs the hand-on claim
 * (mod_genflow_engine_handon.c), the loop launches the row it took. With
 * short calls that round trip is a large part of each place's time. So
 * the row that follows a call is claimed while the call is open (its
 * standby), and when the call ends the place goes to it in the loop, with
 * no statement in between:
 *
 *  - when a call under a place kept in the database starts, a standby
 *    fiber is spawned. It sleeps until the call may end at the soonest
 *    (less a margin: gf_pacer_standby_lead, core/gf_pacer.c), then
 *    claims one due row of the provider without a place of its own
 *    (the place's holder and its lease are checked; nothing is
 *    taken or freed: CLAIM with standby=1), and waits. The row is leased
 *    to this child and its lease is renewed by the heartbeat meanwhile.
 *  - when the call ends (gf_engine_standby_settle), the standby row runs at
 *    once under the same place. The place's holder in the database stays
 *    the generation and attempt that claimed it: the heartbeat of the row
 *    that calls under it renews the place's lease with that holder, and
 *    whoever calls under it last frees it or hands it on with that holder
 *    (one call at a time holds it in the child, so never twice).
 *  - the place is not passed when the call ended with a 429 (the provider
 *    is paused for every node), when the child is stopping, or when the
 *    place's lease is not known to run for a while (the heartbeat could
 *    not renew it: another node may have taken it). The standby row then
 *    goes back to the queue, due now, certain that nothing was sent, and
 *    the place goes the usual way.
 * A call that ends while its standby is being claimed waits for that
 * claim (on its way already: sooner than a new one); one that ends while
 * the standby still sleeps, or when nothing was due, hands on the usual
 * way. Only for providers without rate= (a rate's start is taken by the
 * claim that starts the call), and only rows without an accepted job (the
 * standby claim is CLAIM's): the due polls of a provider are left to the
 * hand-on.
 *
 * Everything here runs on the loop's thread (the fibers of the call and
 * of its standby), but the claim's statement, on a worker thread.
 */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>

#include "httpd/engine/mod_genflow_engine_int.h"
#include "core/gf_pacer.h"
#include "core/gf_round.h"
#include "core/gf_sql.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/limits/mod_genflow_limits.h"
#include "httpd/io/mod_genflow_metrics.h"
#include "httpd/servers/mod_genflow_servers.h"

typedef enum { SB_LEAD, SB_CLAIMING, SB_READY, SB_EMPTY } sb_state_t;
typedef enum { SB_PENDING, SB_PASS, SB_DROP } sb_verdict_t;

struct gf_standby_t {
    int refs;                    /* the call's and the standby fiber's */
    sb_state_t state;
    sb_verdict_t verdict;        /* the call's word, when it ended */
    gf_loop_wait_t *caller;      /* the call's fiber, waiting for the claim */
    gf_loop_wait_t *self;        /* the standby's fiber, waiting for the word */
    apr_pool_t *pool;
    const gf_database_t *e;
    gf_limits_hold_t hold;       /* the place: its holder; the call's at the pass */
    gf_engine_run_fn *run;       /* runs the row at the pass (the caller's attempt) */
    apr_time_t place_until;      /* the place's lease, as the call's heartbeat saw it */
    apr_interval_time_t lead;    /* sleep before the claim */
    const char *owner;
    const gf_type_t *t;          /* the row claimed (SB_READY) */
    server_rec *s;
    gf_claim_t c;
    gf_attempt_t slot;
};

static void unref(gf_standby_t *sb)
{
    if (--sb->refs > 0) return;
    apr_pool_destroy(sb->pool);
    free(sb);
}

/* One standby row of q's provider (CLAIM with standby = q->kind), a type
 * at a time: 1 with the row filled in q, 0 when none was due (or the
 * place is no longer held's; or the rate's next start is further ahead
 * than a standby may take it), -1 on database trouble. */
static int claim_row(gf_standby_claim_t *q, const gf_type_t *t)
{
    server_rec *s = q->e->s;
    gf_server_conf_t *sc = gf_server_conf(s);
    const gf_limits_hold_t *held = q->kind == 1 ? q->held : NULL;
    apr_pool_t *p = q->pool;
    const char *args[GF_CLAIM_ARGS];
    const char **row;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    ap_dbd_t *dbd;
    int k;

    args[GF_CLAIM_ARG_OWNER] = q->owner;
    args[GF_CLAIM_ARG_LEASE] = apr_ltoa(p, gf_conf_lease_secs(sc));
    args[GF_CLAIM_ARG_NAMES] = q->e->names;
    args[GF_CLAIM_ARG_PROVIDER] = q->prov->name;
    args[GF_CLAIM_ARG_MAX_CONCURRENT] = held ? apr_itoa(p, q->prov->limit.max_concurrent) : "0";
    args[GF_CLAIM_ARG_SPACING_US] = held ? "0" : apr_psprintf(p, "%" APR_TIME_T_FMT, gf_limit_spacing(&q->prov->limit));
    args[GF_CLAIM_ARG_BATCH] = "1";
    args[GF_CLAIM_ARG_HELD_PLACE] = apr_itoa(p, held ? held->place : 0);
    args[GF_CLAIM_ARG_HELD_ID] = held ? held->id : NULL;
    args[GF_CLAIM_ARG_HELD_ATTEMPT] = apr_itoa(p, held ? held->attempt : 0);
    args[GF_CLAIM_ARG_STANDBY] = held ? "1" : "2";
    if (!(dbd = gf_db_open(p, s))) return -1;
    st = gf_db_pselectv(s, p, dbd, t->labels[GF_SQL_CLAIM], &rows, GF_CLAIM_ARGS, args);
    gf_db_close(s, dbd);
    if (st != GF_DB_OK || rows->ncols != GF_CLAIM_COLS) return -1;
    if (rows->nrows == 0 || !rows->rows[0][GF_CLAIM_ID]) {
        const char *gate = rows->nrows ? rows->rows[0][GF_CLAIM_GATE] : NULL;
        gf_metrics_claim(gf_metrics(), gf_round_gate_label(gate));
        return 0;
    }
    gf_metrics_claim(gf_metrics(), "claimed");
    row = apr_pcalloc(p, sizeof(char *) * (apr_size_t)rows->ncols);
    for (k = 0; k < rows->ncols; k++) row[k] = rows->rows[0][k];
    q->t = t;
    q->s = gf_engine_row_fill(q->e, t, row, q->owner, held, q->c, q->slot);
    return 1;
}

/* The standby claim, on a worker thread: the highest type first. */
static void claim_now(void *baton)
{
    gf_standby_claim_t *q = baton;
    const gf_type_t *types[64];
    int n = gf_database_types_of(q->e, q->prov->name, types, 64), i;
    for (i = 0; i < n && claim_row(q, types[i]) == 0; i++) {
    }
}

void gf_engine_standby_claim(gf_standby_claim_t *q)
{
    gf_engine_t *W = gf_engine();
    apr_time_t t0 = apr_time_now();
    gf_pace_t *pace;
    q->t = NULL;
    gf_loop_blocking(claim_now, q);
    if ((pace = gf_pacer_pace_of(W->pace, q->prov->name)) != NULL) {
        gf_pacer_claimed(pace, apr_time_now() - t0);
    }
}

static void await_caller(gf_loop_wait_t *wait, void *baton)
{
    ((gf_standby_t *)baton)->caller = wait;
}

static void await_self(gf_loop_wait_t *wait, void *baton)
{
    ((gf_standby_t *)baton)->self = wait;
}

/* Claim the standby row (after the lead, unless the call ended first);
 * SB_READY with the row begun (its lease renewed by the heartbeat) and a
 * place of the loop reserved for it, else SB_EMPTY. */
static void claim_standby(gf_standby_t *sb)
{
    gf_engine_t *W = gf_engine();
    if ((sb->lead > 0 && gf_loop_sleep(sb->lead)) || sb->verdict != SB_PENDING || W->stopping
        || gf_engine_aborting() || gf_engine_reserve(1) == 0) {
        sb->state = SB_EMPTY;
        return;
    }
    sb->state = SB_CLAIMING;
    {
        gf_standby_claim_t q;
        memset(&q, 0, sizeof(q));
        q.e = sb->e;
        q.pool = sb->pool;
        q.prov = sb->hold.prov;
        q.kind = 1;
        q.held = &sb->hold;
        q.owner = sb->owner;
        q.c = &sb->c;
        q.slot = &sb->slot;
        gf_engine_standby_claim(&q);
        sb->t = q.t;
        sb->s = q.s;
    }
    if (!sb->t) {
        gf_engine_unreserve(1);
        sb->state = SB_EMPTY;
        return;
    }
    gf_engine_slot_begin(&sb->slot, sb->s, sb->t, sb->c.id, sb->owner, sb->c.attempts,
                         gf_engine_row_trace(&sb->c));
    sb->state = SB_READY;
}

static void standby_main(void *baton)
{
    gf_standby_t *sb = baton;

    claim_standby(sb);
    /* The call ended while this was claimed: it waits for the answer. */
    if (sb->caller) gf_loop_wake(sb->caller);
    if (sb->state == SB_READY) {
        if (sb->verdict == SB_PENDING) gf_loop_await(await_self, sb);
        if (sb->verdict == SB_PASS) {
            gf_engine_slot_place_set(&sb->slot, sb->place_until);
            gf_metrics_engine(gf_metrics(), GF_ENGINE_STANDBY);
            sb->run(sb->s, sb->pool, &sb->c, &sb->slot, &sb->hold);
            gf_engine_slot_end(&sb->slot);
            if (sb->hold.prov) gf_limits_unused(sb->s, &sb->hold);
        }
        else {
            /* Not passed: back to the queue, due now; nothing was sent. */
            gf_engine_slot_end(&sb->slot);
            sb->c.defer = 0;
            gf_engine_row_statement(sb->s, sb->pool, &sb->c, GF_SQL_RELEASE, 1);
        }
        gf_engine_landed();
    }
    unref(sb);
}

gf_standby_t *gf_engine_standby_begin(server_rec *s, const gf_limits_hold_t *hold,
                                      gf_engine_run_fn *run)
{
    gf_engine_t *W = gf_engine();
    const gf_provider_t *prov = hold->prov;
    const gf_database_t *e;
    gf_standby_t *sb;
    gf_pace_t *pace;

    if (!W || !W->loop || !gf_loop_in_fiber() || W->stopping || !prov
        || !gf_pacer_standby_applies(&prov->limit, hold->place)
        || !(e = gf_database_of(W->databases, s))) {
        return NULL;
    }
    /* Until a call of it ended here, nothing says when the next will:
     * no standby (it would wait a whole call, its deadline running). */
    if (!(pace = gf_pacer_pace_of(W->pace, prov->name)) || !pace->call) return NULL;
    if (!(sb = calloc(1, sizeof(*sb)))) return NULL;
    if (gf_engine_pool(&sb->pool, "genflow_standby") != APR_SUCCESS) {
        free(sb);
        return NULL;
    }
    sb->refs = 2;
    sb->e = e;
    sb->run = run;
    sb->hold = *hold;
    sb->lead = gf_pacer_standby_lead(pace);
    sb->owner = apr_pstrcat(sb->pool, W->node, ":s", NULL);
    if (gf_engine_launch(standby_main, sb) != 0) {
        apr_pool_destroy(sb->pool);
        free(sb);
        return NULL;
    }
    return sb;
}

/* May the place go to the standby (gf_pacer_passable)? */
static int passable(gf_attempt_t *slot, const gf_limits_hold_t *hold,
                    const gf_provider_result_t *res)
{
    return gf_pacer_passable(hold->prov ? hold->place : 0,
                             gf_engine()->stopping || gf_engine_aborting(),
                             res ? res->error_code : NULL, gf_engine_slot_place_until(slot),
                             apr_time_now());
}

int gf_engine_standby_settle(gf_standby_t *sb, gf_attempt_t *slot, gf_limits_hold_t *hold,
                             const gf_provider_result_t *res, apr_interval_time_t took)
{
    gf_engine_t *W = gf_engine();
    int passed = 0;

    /* The pace is the loop's (a row run on a worker thread, without the
     * loop, leaves it alone). */
    if (W && hold->prov && gf_loop_in_fiber()) {
        gf_pace_t *pace = gf_pacer_pace_of(W->pace, hold->prov->name);
        if (pace) gf_pacer_called(pace, took);
    }
    if (!sb) return 0;
    if (sb->state == SB_CLAIMING) gf_loop_await(await_caller, sb);
    if (sb->state == SB_READY && passable(slot, hold, res)) {
        sb->hold = *hold;
        sb->place_until = gf_engine_slot_place_until(slot);
        memset(hold, 0, sizeof(*hold));
        sb->verdict = SB_PASS;
        passed = 1;
    }
    else {
        sb->verdict = SB_DROP;
    }
    if (sb->self) gf_loop_wake(sb->self);
    unref(sb);
    return passed;
}
