/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_claim.c: a worker's turn at one type: claim due rows
 * under a lease (new work first, then a batch of due polls), each with a
 * place of its provider's limits, and launch each on the child's loop (or
 * run it here when the loop does not take it).
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "httpd/engine/mod_genflow_engine_int.h"
#include "core/gf_round.h"
#include "core/gf_sql.h"
#include "httpd/limits/mod_genflow_limits.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/engine/mod_genflow_engine.h"
#include "httpd/io/mod_genflow_metrics.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/limits/mod_genflow_router.h"
#include "httpd/config/mod_genflow_site.h"

/* Run one claimed row under its slot (heartbeats follow it), with the
 * settings of the server (virtual host) that created it, and the place of
 * its provider's limits the claim took for it (hold), which goes back
 * when the attempt made no call. */
static int run_row(const gf_database_t *e, apr_pool_t *p, const gf_type_t *t,
                   const char *const *row, const char *lease_owner, gf_attempt_t *slot,
                   gf_limits_hold_t *hold)
{
    gf_claim_t c;
    server_rec *s = gf_engine_row_fill(e, t, row, lease_owner, hold, &c, slot);
    int rc;
    gf_engine_slot_begin(slot, s, t, c.id, lease_owner, c.attempts, gf_engine_row_trace(&c));
    rc = gf_engine_attempt_run(s, p, &c, slot, hold);
    gf_engine_slot_end(slot);
    if (hold->prov) gf_limits_unused(s, hold);
    return rc;
}

/* A claimed row in flight on the child's loop: everything it uses lives
 * in its own pool, which one thread at a time uses (the loop's, or a
 * worker's while the fiber waits for a statement). */
typedef struct {
    apr_pool_t *pool;
    const gf_database_t *e;
    const gf_type_t *t;
    const char **row;
    const char *lease_owner;
    gf_attempt_t slot;
    gf_limits_hold_t hold;
} flight_t;

static void flight_main(void *baton)
{
    flight_t *f = baton;
    run_row(f->e, f->pool, f->t, f->row, f->lease_owner, &f->slot, &f->hold);
    apr_pool_destroy(f->pool);
    free(f);
    gf_engine_landed();
}

/* Launch a claimed row on the loop; 0 when the loop took it. */
static int launch(const gf_database_t *e, const gf_type_t *t, const gf_db_rows_t *rows, int i,
                  const char *lease_owner, const gf_limits_hold_t *hold)
{
    flight_t *f = calloc(1, sizeof(*f));
    int k;

    if (!f) return -1;
    if (gf_engine_pool(&f->pool, "genflow_attempt") != APR_SUCCESS) {
        free(f);
        return -1;
    }
    f->e = e;
    f->t = t;
    f->lease_owner = apr_pstrdup(f->pool, lease_owner);
    f->hold = *hold;
    f->row = apr_pcalloc(f->pool, sizeof(char *) * (apr_size_t)rows->ncols);
    for (k = 0; k < rows->ncols; k++) {
        f->row[k] = rows->rows[i][k] ? apr_pstrdup(f->pool, rows->rows[i][k]) : NULL;
    }
    if (gf_engine_launch(flight_main, f) != 0) {
        apr_pool_destroy(f->pool);
        free(f);
        return -1;
    }
    return 0;
}

/* Give back the claimed polls from row `from` on, which this worker will
 * not run: due now, free for any worker, and their places free. */
static void release_rest(server_rec *s, apr_pool_t *p, const gf_type_t *t, gf_db_rows_t *rows,
                         int from, const char *lease_owner, gf_limits_gate_t *g)
{
    const char *ids = "";
    gf_db_rows_t *res;
    ap_dbd_t *dbd;
    int i;

    for (i = from; i < rows->nrows; i++) {
        gf_limits_hold_t hold;
        ids = apr_pstrcat(p, ids, i > from ? "," : "", rows->rows[i][GF_CLAIM_ID], NULL);
        gf_limits_gate_assign(g, rows->rows[i][GF_CLAIM_PLACE], rows->rows[i][GF_CLAIM_ID],
                              atoi(rows->rows[i][GF_CLAIM_ATTEMPTS]), &hold);
        gf_limits_unused(s, &hold);
    }
    if (!*ids || !(dbd = gf_db_open(p, s))) return;   /* else the leases just expire */
    gf_db_pselect(s, p, dbd, t->labels[GF_SQL_RELEASE_REST], &res, 2, ids, lease_owner);
    gf_db_close(s, dbd);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, GF_LOGNO(1409)
                 "type=%s: gave back %d claimed polls not run in time", t->name,
                 rows->nrows - from);
}

/* Run claimed rows on the loop (each with its place); rows the loop
 * would not take (it is stopping, or there is none) run here, one after
 * the other, sharing one lease, and those not reached within half of it
 * go back. 1 when something was done, -1 when only trouble. */
static int run_claimed_rows(const gf_database_t *e, apr_pool_t *p, const gf_type_t *t,
                            gf_db_rows_t *rows, const char *lease_owner, int *places,
                            gf_limits_gate_t *g)
{
    server_rec *s = e->s;
    apr_time_t stop_by;
    int i, from, worked, trouble = 0;
    gf_limits_hold_t first;

    for (i = 0; i < rows->nrows; i++) {
        gf_limits_hold_t hold;
        gf_limits_gate_assign(g, rows->rows[i][GF_CLAIM_PLACE], rows->rows[i][GF_CLAIM_ID],
                              atoi(rows->rows[i][GF_CLAIM_ATTEMPTS]), &hold);
        if (launch(e, t, rows, i, lease_owner, &hold) != 0) {
            first = hold;   /* the row runs here, with its place */
            break;
        }
        (*places)--;   /* the attempt keeps it until it lands */
    }
    if (i == rows->nrows) return 1;
    worked = i > 0;
    stop_by = gf_round_stop_by(apr_time_now(), gf_conf_lease_secs(gf_server_conf(s)));
    for (from = i; i < rows->nrows; i++) {
        gf_attempt_t slot;
        gf_limits_hold_t hold;
        if (gf_round_give_back(i, from, apr_time_now(), stop_by,
                               gf_engine_aborting() || gf_engine_stopping())) {
            release_rest(s, p, t, rows, i, lease_owner, g);
            break;
        }
        memset(&slot, 0, sizeof(slot));
        if (i == from) hold = first;
        else gf_limits_gate_assign(g, rows->rows[i][GF_CLAIM_PLACE], rows->rows[i][GF_CLAIM_ID],
                                   atoi(rows->rows[i][GF_CLAIM_ATTEMPTS]), &hold);
        if (run_row(e, p, t, rows->rows[i], lease_owner, &slot, &hold) < 0) trouble = 1;
        else worked = 1;
    }
    return gf_round_batch_result(worked, trouble);
}

/* Run claim statement label; its rows, or NULL on trouble. A 'busy'
 * gate is asked again a moment later (gf_round_busy_again). */
static gf_db_rows_t *claim_statement(server_rec *s, apr_pool_t *p, const char *label,
                                     const char **args)
{
    apr_interval_time_t wait;
    int tries;
    for (tries = 1; ; tries++) {
        gf_db_rows_t *rows;
        gf_db_status_t st;
        const char *gate;
        ap_dbd_t *dbd = gf_db_open(p, s);
        if (!dbd) return NULL;
        st = gf_db_pselectv(s, p, dbd, label, &rows, GF_CLAIM_ARGS, args);
        gf_db_close(s, dbd);
        if (st != GF_DB_OK || rows->ncols != GF_CLAIM_COLS) return NULL;
        gate = rows->nrows && !rows->rows[0][GF_CLAIM_ID] ? rows->rows[0][GF_CLAIM_GATE] : NULL;
        if (!(wait = gf_round_busy_again(gate, tries, gf_engine_stopping()))) return rows;
        gf_metrics_claim(gf_metrics(), "busy");
        apr_sleep(wait);
    }
}

/* Does a member of group have a declaration on s? */
static int group_declared(server_rec *s, const gf_chain_entry_t *group)
{
    apr_hash_t *providers = gf_server_conf(s)->providers;
    int i;
    for (i = 0; group->members && i < group->members->nelts; i++) {
        if (apr_hash_get(providers, APR_ARRAY_IDX(group->members, i, gf_chain_member_t).provider,
                         APR_HASH_KEY_STRING)) {
            return 1;
        }
    }
    return 0;
}

/* May a new row of line provider (a provider, a group's key) be claimed,
 * as this child knows of job slots (max_jobs=)? 0 while, on every server
 * of the database that declares it (a virtual host may have providers of
 * its own), its provider, or each member of its group, is known to have
 * none: a worker looks again when that knowledge lapses, and at once when
 * a job of it ends here. */
static int jobs_room(const gf_database_t *e, const char *provider)
{
    const gf_chain_entry_t *group = gf_site_group(provider);
    apr_time_t first = 0, until;
    int i, known = 0;
    for (i = 0; i < e->servers->nelts; i++) {
        server_rec *s = APR_ARRAY_IDX(e->servers, i, gf_server_t *)->s;
        const gf_provider_t *prov = NULL;
        if (group ? !group_declared(s, group)
                  : !(prov = apr_hash_get(gf_server_conf(s)->providers, provider,
                                          APR_HASH_KEY_STRING))) {
            continue;
        }
        known = 1;
        until = 0;
        if (group ? gf_router_group_room(s, group, &until) : gf_router_jobs_room(prov, &until)) {
            return 1;
        }
        first = gf_round_sooner(first, until);
    }
    if (!known) return 1;
    if (first) gf_engine_look_again(first);
    return 0;
}

/* A provider whose new work may be claimed several rows at once: no
 * group, no limits, no cap on its jobs, no budget (gf_round_claim_want). */
static int plain(const gf_provider_t *prov, const char *provider)
{
    return prov && !gf_site_group(provider) && !gf_limit_any(&prov->limit)
           && !prov->limit.max_jobs && prov->budget.period == GF_BUDGET_NONE;
}

int gf_engine_claim(const gf_database_t *e, apr_pool_t *p, const gf_type_t *t, const char *provider,
                    int polls, int hand_on, const char *lease_owner, int *places, gf_skip_t *skip)
{
    return gf_engine_claim_held(e, p, t, provider, polls, hand_on, NULL, lease_owner, places, skip);
}

int gf_engine_claim_held(const gf_database_t *e, apr_pool_t *p, const gf_type_t *t,
                         const char *provider, int polls, int hand_on, const gf_limits_hold_t *held,
                         const char *lease_owner, int *places, gf_skip_t *skip)
{
    server_rec *s = e->s;
    gf_server_conf_t *sc = gf_server_conf(s);
    const gf_provider_t *prov = apr_hash_get(sc->providers, provider, APR_HASH_KEY_STRING);
    int want = gf_round_claim_want(polls, *places, gf_engine()->loop != NULL, hand_on || held,
                                   plain(prov, provider)), rc;
    const char *args[GF_CLAIM_ARGS];
    gf_limits_gate_t g;
    gf_db_rows_t *rows;

    if (want <= 0) return 0;
    /* No job slot for a new row: not skipped for the rest of the round,
     * its accepted jobs are polled all the same. */
    if (!polls && !held && !jobs_room(e, provider)) return 0;
    /* A provider no chain of this server names any more (a row of an
     * earlier configuration) is claimed without limits: its attempt
     * fails over to the chain's next entry. With a place held, the
     * statement runs whatever this httpd knows (a 429 just paused the
     * provider here): it is what frees the place when nothing can take
     * it. */
    if (prov && !gf_limits_gate_open(prov, want, hand_on || held, &g) && !held) {
        gf_round_skip_add(skip, provider);
        return 0;
    }
    if (!prov) memset(&g, 0, sizeof(g));
    args[GF_CLAIM_ARG_OWNER] = lease_owner;
    args[GF_CLAIM_ARG_LEASE] = apr_ltoa(p, gf_conf_lease_secs(sc));
    args[GF_CLAIM_ARG_NAMES] = e->names;
    args[GF_CLAIM_ARG_PROVIDER] = provider;
    args[GF_CLAIM_ARG_MAX_CONCURRENT] = apr_itoa(p, g.max_concurrent);
    args[GF_CLAIM_ARG_SPACING_US] = apr_psprintf(p, "%" APR_TIME_T_FMT, g.spacing);
    args[GF_CLAIM_ARG_BATCH] = apr_itoa(p, gf_limits_gate_room(&g, held ? 1 : want));
    args[GF_CLAIM_ARG_HELD_PLACE] = apr_itoa(p, held ? held->place : 0);
    args[GF_CLAIM_ARG_HELD_ID] = held ? held->id : NULL;
    args[GF_CLAIM_ARG_HELD_ATTEMPT] = apr_itoa(p, held ? held->attempt : 0);
    args[GF_CLAIM_ARG_STANDBY] = "0";
    if (!(rows = claim_statement(s, p, t->labels[polls ? GF_SQL_CLAIM_POLLS : GF_SQL_CLAIM],
                                 args))) {
        gf_limits_gate_close(&g, NULL, NULL);
        return -1;
    }
    if (rows->nrows == 0 || !rows->rows[0][GF_CLAIM_ID]) {
        /* Nothing claimed: what the gate said is remembered, and a
         * provider without a place is left alone for the rest of the
         * round (and by the types below this one). */
        const char *gate = rows->nrows ? rows->rows[0][GF_CLAIM_GATE] : NULL;
        gf_limits_gate_close(&g, gate, rows->nrows ? rows->rows[0][GF_CLAIM_GATE_UNTIL] : NULL);
        if (gf_round_gate_busy(gate)) gf_engine_look_again(apr_time_now() + GF_LIMITS_BUSY_AGAIN);
        gf_metrics_claim(gf_metrics(), gf_round_gate_label(gate));
        if (gf_round_gate_skips(gate)) gf_round_skip_add(skip, provider);
        return 0;
    }
    gf_metrics_claim(gf_metrics(), "claimed");
    rc = run_claimed_rows(e, p, t, rows, lease_owner, places, &g);
    gf_limits_gate_close(&g, "open", NULL);
    return rc;
}

/* Claim from the providers of list in turn, starting at the rotate-th,
 * leaving alone those of skip: 1 at the first claim, else 0, -1 when
 * only trouble. */
static int claim_from(const gf_database_t *e, apr_pool_t *p, const gf_type_t *t,
                      const gf_skip_t *list, int polls, int rotate, const char *lease_owner,
                      int *places, gf_skip_t *skip)
{
    const char *names[GF_ROUND_NAMES_MAX];
    int n = gf_round_split_names(p, list, names), i, trouble = 0;

    for (i = 0; i < n; i++) {
        const char *name = gf_round_provider(names, n, i, rotate, skip);
        int rc;
        if (!name) continue;
        rc = gf_engine_claim(e, p, t, name, polls, 0, lease_owner, places, skip);
        if (rc > 0) return 1;
        if (rc < 0) trouble = 1;
    }
    return trouble ? -1 : 0;
}

int gf_engine_claim_one(const gf_database_t *e, apr_pool_t *p, const gf_type_t *t,
                        const char *lease_owner, int *places, gf_skip_t *skip, const gf_due_t *due,
                        int rotate)
{
    /* New work goes ahead of the polls of accepted jobs. */
    int rc = claim_from(e, p, t, &due->fresh, 0, rotate, lease_owner, places, skip), rc2;
    if (rc > 0) return 1;
    rc2 = claim_from(e, p, t, &due->polls, 1, rotate, lease_owner, places, skip);
    if (rc2 > 0) return 1;
    return rc < 0 || rc2 < 0 ? -1 : 0;
}

int gf_engine_claim_due_types(const gf_database_t *e, apr_pool_t *p, gf_due_t *due)
{
    gf_db_rows_t *rows;
    gf_db_status_t st = GF_DB_OK;
    ap_dbd_t *dbd;
    int i, j, k;

    for (i = 0; i < e->types->nelts; i++) memset(&due[i], 0, sizeof(due[i]));
    if (!(dbd = gf_db_open(p, e->s))) return -1;
    /* Usually one statement: every server of the database mounts the same
     * types (the main server's, inherited). Each row: type, provider,
     * kind ("new" or "poll"). */
    for (k = 0; k < e->due_labels->nelts && st == GF_DB_OK; k++) {
        st = gf_db_pselect(e->s, p, dbd, APR_ARRAY_IDX(e->due_labels, k, const char *), &rows,
                           1, e->names);
        for (j = 0; st == GF_DB_OK && j < rows->nrows; j++) {
            const char *const *row = rows->rows[j];
            if (!row[0] || !row[1] || !row[2]) continue;
            for (i = 0; i < e->types->nelts; i++) {
                const gf_type_t *t = APR_ARRAY_IDX(e->types, i, gf_type_t *);
                if (!strcmp(row[0], t->name)) gf_round_due_mark(&due[i], row[1], row[2]);
            }
        }
    }
    gf_db_close(e->s, dbd);
    return st == GF_DB_OK ? 0 : -1;
}
