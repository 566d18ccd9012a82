/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_outcome.c: what an attempt leaves behind. A completed
 * attempt's picture goes to the store (or the fallback store); then one
 * guarded statement records the outcome — scheduled again, or finalised
 * with the charge or the refund in the same statement — retried while the
 * database is away; then the metrics and the log line of what it did.
 */
#include <string.h>
#include <apr_strings.h>

#include "httpd/engine/mod_genflow_engine_int.h"
#include "core/gf_settle.h"
#include "core/gf_sql.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/io/mod_genflow_metrics.h"
#include "httpd/limits/mod_genflow_limits.h"
#include "httpd/limits/mod_genflow_router.h"
#include "httpd/config/mod_genflow_config.h"
#include "net/gf_loop.h"
#include "image/gf_image.h"

#define OUTCOME_RETRY_WAIT apr_time_from_msec(500)

/* The outcome's statement with a connection held only for it (on a
 * worker: gf_loop_blocking). st GF_DB_UNAVAILABLE when no connection came. */
typedef struct {
    server_rec *s;
    apr_pool_t *p;
    const char *label;
    const char *args[GF_SETTLE_ARGS_MAX];
    int nargs;
    gf_db_rows_t *rows;
    gf_db_status_t st;
} outcome_t;

static void outcome_now(void *baton)
{
    outcome_t *o = baton;
    o->st = gf_db_select_once(o->s, o->p, o->label, &o->rows, o->nargs, o->args);
}


/* One picture into the store: 1 with *url where it is (and *store, *key
 * when a store of ours holds it), 0 when no store took its bytes and the
 * provider gave no URL to keep. */
static int store_picture(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                         const gf_picture_t *pic, const char **url,
                         const gf_storage_t **store, const char **key)
{
    gf_server_conf_t *sc = gf_server_conf(s);
    const char *err = NULL;
    apr_status_t rv;

    *store = NULL;
    *key = NULL;
    *url = pic->image_url;
    if (!pic->image) return pic->image_url != NULL;
    *key = gf_settle_picture_key(p, c->type->name, c->id);
    rv = gf_storage_put(sc->storage, p, *key, pic->image, pic->image_len, pic->content_type,
                        url, &err);
    *store = sc->storage;
    /* When the primary store fails, keep the provider's URL (saying so);
     * only bytes without one go to the store of last resort. */
    if (rv != APR_SUCCESS && pic->image_url) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(1406)
                     "%s storage failed for type=%s id=%s trace=%s (%s); keeping the "
                     "provider's temporary URL", sc->storage->backend, c->type->name, c->id,
                     gf_engine_row_trace(c), ap_escape_logitem(p, err));
        *url = pic->image_url;
        *store = NULL;
        return 1;
    }
    if (rv != APR_SUCCESS && sc->fallback_storage) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(1405)
                     "%s storage failed for type=%s id=%s trace=%s (%s); trying %s",
                     sc->storage->backend, c->type->name, c->id, gf_engine_row_trace(c),
                     ap_escape_logitem(p, err), sc->fallback_storage->backend);
        rv = gf_storage_put(sc->fallback_storage, p, *key, pic->image, pic->image_len,
                            pic->content_type, url, &err);
        *store = sc->fallback_storage;
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, GF_LOGNO(1402)
                     "storage failed for type=%s trace=%s id=%s: %s", c->type->name,
                     gf_engine_row_trace(c), c->id, ap_escape_logitem(p, err));
        *store = NULL;
        *url = NULL;
        return 0;
    }
    return 1;
}

/* A completed attempt's pictures into the store, at most what its call
 * asked for (the count, or what it still lacked: never more than was
 * reserved). A picture no store took is left out; when none was taken
 * the decision becomes STORAGE_ERROR. 0 when the generation is no longer
 * this attempt's: nothing is stored. */
static int store_result(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                        const gf_provider_result_t *res, gf_decision_t *dd,
                        gf_settle_pictures_t *out)
{
    int i, n;

    n = gf_settle_pictures_begin(p, res, c->count, c->stored, c->asked, out);
    /* Past the claim's own lease, a generation no longer this attempt's
     * (taken over, cancelled, expired) gets nothing stored: its late
     * picture is discarded here. Within it, and for URLs alone, the
     * outcome's guard is enough (core/gf_settle.c). */
    if (gf_settle_renew_first(res, n, apr_time_now(), c->lease_end)
        && gf_engine_row_statement(s, p, c, GF_SQL_RENEW, 1) == 0) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        gf_picture_t pic = gf_settle_picture(res, i);
        const gf_storage_t *store;
        const char *url, *key;
        unsigned w = 0, h = 0;
        int sized;
        if (!store_picture(s, p, c, &pic, &url, &store, &key)) continue;
        /* Its size, when its bytes say it. */
        sized = pic.image && gf_image_measure(pic.image, pic.image_len, NULL, &w, &h);
        gf_settle_pictures_add(out, &pic, url, store, key, sized, w, h);
    }
    gf_settle_pictures_end(out, dd);
    return 1;
}

/* The outcome must reach the database: an accepted job's id, above all,
 * or the job would be submitted again after a rescue. While the database
 * is away (a restart) the write is tried again for up to a lease. That is
 * safe: each statement is guarded by (lease owner, attempt), which no
 * other worker can hold until this lease expired and the row was claimed
 * again, and a repeat after a lost answer matches nothing. *maybe_applied:
 * an earlier run of the statement may have committed. */
static gf_db_status_t write_outcome(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                                    const gf_decision_t *dd, const char *provider,
                                    const gf_settle_pictures_t *pics,
                                    const gf_provider_result_t *res, gf_db_rows_t **rows,
                                    int *maybe_applied)
{
    apr_time_t until = apr_time_now()
                       + apr_time_from_sec(gf_conf_lease_secs(gf_server_conf(s)));
    gf_settle_row_t row;
    outcome_t o;

    row.id = c->id;
    row.lease_owner = c->lease_owner;
    row.attempts = c->attempts;
    row.chain_index = c->chain_index;
    row.retry_count = c->retry_count;
    row.poll_count = c->poll_count;
    row.poll_errors = c->poll_errors;
    row.provider_job_id = c->provider_job_id;
    row.provider_state = c->provider_state;
    memset(&o, 0, sizeof(o));
    o.s = s;
    o.p = p;
    /* One guarded statement records the outcome: which, and with what,
     * is the decision's (core/gf_settle.c). */
    o.label = c->type->labels[gf_settle_statement(p, &row, dd, res, provider,
                                                  res ? res->model : NULL, pics->url, pics->json,
                                                  o.args, &o.nargs)];
    *maybe_applied = 0;
    /* A completion with pictures of its own shares its statement with
     * the child's others (one that completes with what earlier calls
     * kept is rare, and written alone, as the model has it). */
    if (o.label == c->type->labels[GF_SQL_COMPLETE] && pics->n > 0) {
        int b = gf_engine_batch_complete(s, p, c->type, o.args, rows);
        /* A statement run twice (a lost connection) may have committed
         * its first run: no row then is not a stale attempt's. */
        if (b > 0) {
            *maybe_applied = (*rows)->rerun;
            return GF_DB_OK;
        }
        if (b < 0) *maybe_applied = 1;
    }
    for (;;) {
        o.rows = NULL;
        gf_loop_blocking(outcome_now, &o);
        if (o.st != GF_DB_OK || o.rows->rerun) *maybe_applied = 1;
        if (o.st == GF_DB_OK || apr_time_now() >= until || gf_engine_aborting()) break;
        /* A timer of the loop in a fiber: no thread waits for the database. */
        gf_loop_sleep(OUTCOME_RETRY_WAIT);
    }
    /* A job polled at a short pace (poll=) is looked for when its poll is
     * due, not at the next half-second look for rows due by time. */
    if (o.st == GF_DB_OK && gf_settle_looks_again(dd)) {
        gf_engine_look_again(apr_time_now() + dd->delay);
    }
    *rows = o.rows;
    return o.st;
}

/* What a recorded outcome did, for the metrics (it matched, so it ran
 * once) and the log. */
static void count_outcome(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                          const gf_decision_t *dd, const char *provider,
                          const gf_provider_result_t *res, const gf_db_rows_t *rows)
{
    const char *name = c->type->name;
    gf_settle_report_t r;

    gf_settle_report(p, dd, res, &r);
    if (r.count == GF_SETTLE_COUNT_RETRY) gf_metrics_retry(gf_metrics(), name);
    else if (r.count == GF_SETTLE_COUNT_FALLBACK) gf_metrics_fallback(gf_metrics(), name);
    /* The status object: the charge or refund and the duration. */
    else if (r.count == GF_SETTLE_COUNT_TERMINAL) {
        gf_metrics_terminal(gf_metrics(), p, name, rows->rows[0][0]);
    }
    gf_engine_row_log(s, p, r.info ? APLOG_INFO : APLOG_DEBUG, c, provider, r.what, r.code,
                      r.detail);
}

/* What one call cost, for cost_now: on a worker thread (gf_loop_blocking). */
typedef struct {
    server_rec *s;
    apr_pool_t *p;
    const gf_claim_t *c;
    const gf_provider_t *prov;
    const char *provider;
    const gf_provider_result_t *res;
    double cost;
} call_cost_t;

static void cost_now(void *baton)
{
    call_cost_t *k = baton;
    gf_db_rows_t *rows;
    const char *args[GF_SETTLE_COST_ARGS];
    const gf_budget_conf_t *b = &k->prov->budget;
    gf_settle_cost_args(k->p, k->c->id, k->c->type->name, k->c->attempts, k->provider,
                        k->res->usage, k->res->usage_unit, k->cost,
                        gf_budget_period_name(b->period), b->tz, args);
    if (gf_db_select_once(k->s, k->p, GF_SQL_COST_RECORD, &rows, GF_SETTLE_COST_ARGS, args)
        != GF_DB_OK) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, k->s, GF_LOGNO(1415)
                     "the cost of type=%s id=%s attempt=%d at %s was not recorded (trace=%s)",
                     k->c->type->name, k->c->id, k->c->attempts, k->provider,
                     gf_engine_row_trace(k->c));
    }
}

/* The call was made and cost what it cost, whatever becomes of its
 * result: counted (genflow_provider_cost_total) and recorded per attempt
 * (genflow_provider_costs, and its budget period's spend) when the
 * provider reported a usage or has a price. */
void gf_engine_outcome_cost(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                            const gf_provider_t *prov, const gf_provider_result_t *res)
{
    call_cost_t k;
    memset(&k, 0, sizeof(k));
    k.cost = gf_provider_attempt_cost(prov, res);
    if (!(k.cost > 0) && !(res->usage > 0)) return;
    gf_metrics_provider_cost(gf_metrics(), prov->name, k.cost);
    k.s = s;
    k.p = p;
    k.c = c;
    k.prov = prov;
    k.provider = prov->name;
    k.res = res;
    gf_loop_blocking(cost_now, &k);
}

/* A generation ended at its deadline (or its Cancel-After) while its
 * provider held an accepted job: the job is cancelled there, as a user's
 * cancel does, so that it stops costing. After the row is final and with
 * no pooled connection held; best effort (a job that finishes anyway is
 * dropped: nothing collects it). */
static void cancel_job(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                       const gf_provider_t *prov, const gf_provider_result_t *res)
{
    const char *job, *state;

    gf_settle_job(res, c->provider_job_id, c->provider_state, &job, &state);
    if (!job || !prov || !prov->kind->cancel) return;
    prov->kind->cancel(prov, job, state, p);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, GF_LOGNO(1420)
                 "type=%s id=%s trace=%s: cancelled job %s at %s (its deadline passed)",
                 c->type->name, c->id, gf_engine_row_trace(c), ap_escape_logitem(p, job),
                 prov->name);
}

int gf_engine_outcome_apply(server_rec *s, apr_pool_t *p, const gf_claim_t *c, const gf_decision_t *d,
                            const gf_provider_t *prov, const gf_provider_result_t *res)
{
    gf_settle_pictures_t stored;
    const char *provider = prov ? prov->name : NULL;
    gf_decision_t dd = *d;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    int maybe_applied, i;

    memset(&stored, 0, sizeof(stored));
    if (dd.next == GF_NEXT_COMPLETE && !store_result(s, p, c, res, &dd, &stored)) {
        gf_engine_row_log(s, p, APLOG_INFO, c, provider, "discarded", NULL,
                          "the generation is no longer this attempt's (cancelled, expired or taken "
                          "over); its result is not stored");
        return 1;
    }
    /* The rest of the count by the next call (MORE), or a failure that
     * completes with what earlier calls stored. */
    gf_settle_after_store(&dd, c->count, c->stored, c->asked, &stored);
    st = write_outcome(s, p, c, &dd, provider, &stored, res, &rows, &maybe_applied);
    if (st == GF_DB_OK && rows->nrows == 0 && !maybe_applied) {
        /* Cancelled between the check and the completion: the pictures
         * must not stay behind a generation that has none. (When an
         * earlier run may have completed it, they stay.) */
        for (i = 0; i < stored.n_kept; i++) gf_storage_remove(stored.stores[i], p, stored.keys[i]);
    }
    if (st != GF_DB_OK) return -1;
    if (rows->nrows == 0) {
        /* The lease was taken over (we were too slow) or the generation was
         * cancelled meanwhile: our result is dropped, nothing is charged.
         * Or a run whose answer was lost had recorded it already. */
        gf_engine_row_log(s, p, APLOG_WARNING, c, provider, "stale", gf_job_next_name(dd.next),
                          gf_settle_stale(maybe_applied));
        return 1;
    }
    count_outcome(s, p, c, &dd, provider, res, rows);
    /* How long its jobs take: a processing generation's estimate without
     * a report of its provider's. */
    if (prov && gf_settle_took(&dd, stored.n, c->job_started)) {
        gf_limits_job_took(prov, apr_time_now() - c->job_started);
        /* And, for a group's member, for every node's choice. */
        gf_router_record(s, p, prov, apr_time_now() - c->job_started,
                         gf_provider_attempt_cost(prov, res));
    }
    if (dd.cancel_job && (dd.next == GF_NEXT_FAIL || dd.next == GF_NEXT_COMPLETE)) {
        cancel_job(s, p, c, prov, res);
    }
    return 1;
}
