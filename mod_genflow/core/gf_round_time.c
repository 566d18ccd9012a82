/* SPDX-License-Identifier: Apache-2.0 */
/* gf_round_time.c: the rules of gf_round.h that say when a worker looks
 * again: the moments it was asked to, its idle wait, whether a round may
 * run now, and the loop's places. The order of a round is gf_round.c's.
 */
#include <string.h>

#include "core/gf_round.h"

int gf_round_looks_add(gf_round_looks_t *l, apr_time_t at)
{
    int i, earliest;
    for (i = 0; i < l->n; i++) {
        if (l->at[i] == at) return 0;   /* asked already (a gate's lapse) */
    }
    earliest = !l->n || at < l->at[0];
    if (l->n == GF_LOOK_AGAIN_MAX) {
        /* Full: the latest gives way when this one is sooner (the
         * half-second look finds its rows anyway). */
        if (at >= l->at[GF_LOOK_AGAIN_MAX - 1]) return 0;
        l->n--;
    }
    for (i = l->n; i > 0 && l->at[i - 1] > at; i--) {
        l->at[i] = l->at[i - 1];
    }
    l->at[i] = at;
    l->n++;
    return earliest;
}

apr_time_t gf_round_looks_take(gf_round_looks_t *l, apr_time_t now)
{
    apr_time_t at = 0;
    if (l->n && l->at[0] <= now) {
        at = l->at[0];
        memmove(l->at, l->at + 1, sizeof(apr_time_t) * (apr_size_t)--l->n);
    }
    return at;
}

apr_interval_time_t gf_round_looks_sleep(const gf_round_looks_t *l, apr_time_t now,
                                         apr_interval_time_t timeout)
{
    /* Not past a moment a worker was asked to look at. */
    if (l->n) {
        apr_interval_time_t due = l->at[0] - now;
        if (due < timeout) timeout = due > 0 ? due : 0;
    }
    return timeout;
}

int gf_round_wakes_add(int *pending, int nthreads, int all)
{
    int added = nthreads - *pending;
    if (added <= 0) return 0;
    if (!all) added = 1;
    *pending += added;
    return added;
}

int gf_round_wakes_take(int *pending)
{
    if (*pending <= 0) return 0;
    (*pending)--;
    return 1;
}

const char *gf_round_work_payload(const char *payload, apr_size_t *type_len)
{
    const char *nl = strchr(payload, '\n');
    *type_len = nl ? (apr_size_t)(nl - payload) : strlen(payload);
    return nl && nl[1] ? nl + 1 : NULL;
}

apr_time_t gf_round_sooner(apr_time_t a, apr_time_t b)
{
    if (!a) return b;
    if (!b) return a;
    return a < b ? a : b;
}

int gf_round_loop_room(gf_round_loop_t *l)
{
    int n = l->max_in_flight - l->in_flight;
    if (n > 0) return n;
    l->was_full = 1;
    return 0;
}

int gf_round_loop_take(gf_round_loop_t *l, int want)
{
    int n = gf_round_loop_room(l);
    if (n > want) n = want;
    if (n <= 0) {
        l->was_full = 1;
        return 0;
    }
    l->in_flight += n;
    return n;
}

int gf_round_loop_give(gf_round_loop_t *l, int n)
{
    l->in_flight -= n;
    if (!l->was_full) return 0;
    l->was_full = 0;
    return 1;
}

/* From now until at, a millisecond at least. */
static apr_interval_time_t until(apr_time_t now, apr_time_t at)
{
    return at - now > apr_time_from_msec(1) ? at - now : apr_time_from_msec(1);
}

/* Workers 0 and 1 wake at the moment a provider without a place may have
 * one again (a rate's next start: a limit driven at its rate is claimed
 * at the start it allows, not a tick later; two, so that worker 0's
 * sweeps never delay that start); worker 0 looks every half second; the
 * others, woken when there is work for them, join a round every 2 s while
 * work comes (a drain takes every worker) and look only now and then
 * when none came: an idle site costs a look per half second per httpd
 * (one child of it looks, mod_genflow_engine_duty.c), not a round per
 * worker. A claim that found a free place locked by another statement
 * through all its tries has the next idle worker ask again
 * GF_LIMITS_BUSY_AGAIN later, whatever its number. */
apr_interval_time_t gf_round_idle_wait(gf_round_clock_t *c, const gf_round_ops_t *ops)
{
    apr_time_t now = ops->now(), next = ops->take_look_again();
    c->look = 0;
    /* A claim found a free place busy: this worker asks again. */
    if (next) return until(now, next);
    if (c->index <= 1) {
        next = ops->next_unblock(now);
        if (next && next - now < GF_ROUND_IDLE_WAIT) return until(now, next);
    }
    c->look = 1;
    if (c->index == 0) return GF_ROUND_IDLE_WAIT;
    if (now - ops->worked_at() < GF_ROUND_BUSY_FOR) {
        c->look = 0;
        return GF_ROUND_IDLE_WAIT_OTHERS;
    }
    return GF_ROUND_IDLE_QUIET;
}

/* The statements the fibers hand over wake workers too, and a round after
 * each would probe for due work a few times per attempt: a round runs
 * only at its time or when a wake asked for one. */
int gf_round_due(gf_round_clock_t *c, const gf_round_ops_t *ops)
{
    apr_time_t now = ops->now();

    if (now < c->round_at) {
        apr_time_t wake = c->round_at;
        /* Rows came due sooner (a job polled at a short pace): this
         * worker looks now (its sleep wakes it for the next). */
        if (ops->take_due_look(now)) {
            c->round_at = now;
            c->look = 0;
            return 0;
        }
        if (c->index == 0 && c->next_sweep < wake) wake = c->next_sweep;
        if (ops->sleep(wake > now ? wake - now : 0)) c->round_at = c->look = 0;
        return 0;
    }
    /* A look for work due by time: this child's turn, or the next. */
    if (c->look && ops->room() > 0) {
        apr_time_t next_look;
        if (!ops->take_look(&next_look)) {
            c->round_at = c->index == 0 ? next_look : now + GF_ROUND_IDLE_QUIET;
            return 0;
        }
    }
    c->look = 0;
    if (ops->room() == 0) {
        /* A landing wakes it for a round (the loop was full). */
        c->round_at = ops->now() + GF_ROUND_IDLE_WAIT;
        return 0;
    }
    return 1;
}

/* At once after work, later when there was none, a while after database
 * trouble (the fibers' statements still wake it: no spinning). */
void gf_round_ended(gf_round_clock_t *c, const gf_round_ops_t *ops, int worked, int trouble)
{
    apr_interval_time_t wait;
    if (worked) {
        c->round_at = 0;
        return;
    }
    if (trouble) {
        c->round_at = ops->now() + GF_ROUND_TROUBLE_WAIT;
        return;
    }
    wait = gf_round_idle_wait(c, ops);
    c->round_at = ops->now() + wait;
}
