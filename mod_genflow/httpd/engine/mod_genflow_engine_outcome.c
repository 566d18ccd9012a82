/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_outcome.c: what an attempt leaves behind. A completed
 * attempt's picture goes to the store (or the fallback store); then one
 * guarded statement records the outcome — scheduled again, or finalised
 * with the charge or the refund in the same statement — retried while the
 * database is away; then the metrics and the log line of what it did.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_general.h>

#include "httpd/engine/mod_genflow_engine_int.h"
#include "core/gf_error.h"
#include "core/gf_sql.h"
#include "httpd/engine/mod_genflow_engine_run.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/io/mod_genflow_metrics.h"
#include "httpd/limits/mod_genflow_limits.h"
#include "httpd/limits/mod_genflow_router.h"
#include "httpd/config/mod_genflow_config.h"
#include "net/gf_loop.h"
#include "core/gf_json.h"
#include "image/gf_image.h"

#define OUTCOME_RETRY_WAIT apr_time_from_msec(500)
/* A poll due sooner than the workers' half-second look for rows due by
 * time: a worker is asked to look then. */
#define SHORT_POLL apr_time_from_msec(500)

/* A key nobody can guess: the URL of a picture is given to its owner only. */
const char *gf_engine_object_key(apr_pool_t *p, const char *folder, const char *id,
                                 const char *ext)
{
    unsigned char b[8];
    char hex[17];
    int i;
    if (apr_generate_random_bytes(b, sizeof(b)) != APR_SUCCESS) {
        apr_uint64_t t = (apr_uint64_t)apr_time_now();
        memcpy(b, &t, sizeof(b));
    }
    for (i = 0; i < 8; i++) apr_snprintf(hex + 2 * i, 3, "%02x", b[i]);
    return apr_pstrcat(p, folder, "/", id, "-", hex, ext, NULL);
}

/* One guarded statement that records the attempt's outcome. */
static gf_db_status_t record_outcome(server_rec *s, apr_pool_t *p, ap_dbd_t *dbd,
                                     const gf_claim_t *c, const gf_decision_t *d,
                                     const char *provider, const char *model, const char *url,
                                     const char *images, const gf_provider_result_t *res,
                                     gf_db_rows_t **rowsp)
{
    const gf_type_t *t = c->type;
    const char *attempt = apr_ltoa(p, c->attempts);
    gf_decision_t dd = *d;
    gf_db_status_t st;
    gf_db_rows_t *rows;

    switch (dd.next) {
    case GF_NEXT_COMPLETE:
        st = gf_db_pselect(s, p, dbd, t->labels[GF_SQL_COMPLETE], &rows, 7, c->id, url, images,
                           provider, model, c->lease_owner, attempt);
        break;
    case GF_NEXT_MORE:
        st = gf_db_pselect(s, p, dbd, t->labels[GF_SQL_MORE], &rows, 6, images, provider, model,
                           c->id, c->lease_owner, attempt);
        break;
    case GF_NEXT_FAIL:
        st = gf_db_pselect(s, p, dbd, t->labels[GF_SQL_FAIL], &rows, 9, c->id,
                           dd.cancelled ? "cancelled" : "failed",
                           dd.code, dd.message ? dd.message : dd.code, provider, model,
                           c->lease_owner, attempt, NULL);
        break;
    default: {
        const char *a[GF_SCHEDULE_ARGS];
        int index = c->chain_index, retry = c->retry_count, polls = c->poll_count;
        int poll_errors = 0;
        const char *job_id = NULL, *state = NULL;
        if (dd.next == GF_NEXT_POLL) {
            polls++;
            /* A failed poll keeps the accepted job: the next attempt polls
             * it again, it is never submitted again. */
            poll_errors = dd.poll_failed ? c->poll_errors + 1 : 0;
            job_id = res->provider_job_id ? res->provider_job_id : c->provider_job_id;
            state = res->provider_state ? res->provider_state : c->provider_state;
        }
        else if (dd.next == GF_NEXT_RETRY) {
            retry++;
        }
        else { /* fallback */
            index++;
            retry = 0;
            polls = 0;
        }
        a[GF_SCHEDULE_DELAY_MS] = apr_ltoa(p, (long)apr_time_as_msec(dd.delay));
        a[GF_SCHEDULE_CHAIN_INDEX] = apr_ltoa(p, index);
        a[GF_SCHEDULE_RETRY_COUNT] = apr_ltoa(p, retry);
        a[GF_SCHEDULE_POLL_COUNT] = apr_ltoa(p, polls);
        a[GF_SCHEDULE_POLL_ERRORS] = apr_ltoa(p, poll_errors);
        a[GF_SCHEDULE_PROVIDER_JOB_ID] = job_id;
        a[GF_SCHEDULE_PROVIDER_STATE] = state;
        a[GF_SCHEDULE_PROVIDER] = provider;
        a[GF_SCHEDULE_MODEL] = model;
        a[GF_SCHEDULE_ID] = c->id;
        a[GF_SCHEDULE_LEASE_OWNER] = c->lease_owner;
        a[GF_SCHEDULE_ATTEMPT] = attempt;
        st = gf_db_pselectv(s, p, dbd, t->labels[GF_SQL_SCHEDULE], &rows, GF_SCHEDULE_ARGS, a);
        break;
    }
    }
    *rowsp = rows;
    return st;
}

/* The outcome statement with a connection held only for it (on a worker:
 * gf_loop_blocking). st GF_DB_UNAVAILABLE when no connection came. */
typedef struct {
    server_rec *s;
    apr_pool_t *p;
    const gf_claim_t *c;
    const gf_decision_t *d;
    const char *provider, *model, *url, *images;
    const gf_provider_result_t *res;
    gf_db_rows_t *rows;
    gf_db_status_t st;
} outcome_t;

static void outcome_now(void *baton)
{
    outcome_t *o = baton;
    ap_dbd_t *dbd = gf_db_open(o->p, o->s);
    o->st = GF_DB_UNAVAILABLE;
    if (!dbd) return;
    o->st = record_outcome(o->s, o->p, dbd, o->c, o->d, o->provider, o->model, o->url,
                           o->images, o->res, &o->rows);
    gf_db_close(o->s, dbd);
}

/* The pictures of a completed attempt as they were stored: the first's
 * URL, all of them as the row's images (JSON), and what our stores hold
 * (to take back when the row turned out not to be this attempt's). */
typedef struct {
    const char *url;
    const char *images;
    int n;
    const gf_storage_t *stored[GF_PICTURES_MAX];
    const char *keys[GF_PICTURES_MAX];
    int n_stored;
} stored_t;

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
    *key = gf_engine_object_key(p, c->type->name, c->id, ".png");
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

/* The i-th picture of res (0: the result's own). */
static gf_picture_t picture_of(const gf_provider_result_t *res, int i)
{
    gf_picture_t pic;
    if (i > 0) return res->more[i - 1];
    memset(&pic, 0, sizeof(pic));
    pic.image = res->image;
    pic.image_len = res->image_len;
    pic.content_type = res->content_type;
    pic.image_url = res->image_url;
    pic.has_seed = res->has_seed;
    pic.seed = res->seed;
    return pic;
}

/* A picture's member of the row's images: its URL, its size when its
 * bytes say it, its seed when the provider said it. */
static json_object *image_entry(const gf_picture_t *pic, const char *url)
{
    json_object *o = json_object_new_object();
    unsigned w, h;
    int sized = pic->image && gf_image_measure(pic->image, pic->image_len, NULL, &w, &h);
    json_object_object_add(o, "url", json_object_new_string(url));
    json_object_object_add(o, "width", sized ? json_object_new_int64(w) : NULL);
    json_object_object_add(o, "height", sized ? json_object_new_int64(h) : NULL);
    json_object_object_add(o, "seed", pic->has_seed ? json_object_new_int64((int64_t)pic->seed)
                                                    : NULL);
    return o;
}

/* A completed attempt's pictures into the store, at most what its call
 * asked for (the count, or what it still lacked: never more than was
 * reserved). A picture no store took is left out; when none was taken
 * the decision becomes STORAGE_ERROR. 0 when the generation is no longer
 * this attempt's: nothing is stored. */
static int store_result(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                        const gf_provider_result_t *res, gf_decision_t *dd, stored_t *out)
{
    json_object *images;
    int i, n = 1 + (res->more ? res->n_more : 0);
    int asked = c->asked > 0 ? c->asked : c->count - c->stored;

    memset(out, 0, sizeof(*out));
    /* A cancelled or expired generation gets nothing stored: its late
     * picture is discarded here. */
    if (gf_engine_row_statement(s, p, c, GF_SQL_RENEW, 1) == 0) return 0;
    if (n > asked) n = asked;
    if (n > GF_PICTURES_MAX) n = GF_PICTURES_MAX;
    images = gf_json_pool_own(p, json_object_new_array());
    for (i = 0; i < n; i++) {
        gf_picture_t pic = picture_of(res, i);
        const gf_storage_t *store;
        const char *url, *key;
        if (!store_picture(s, p, c, &pic, &url, &store, &key)) continue;
        if (store) {
            out->stored[out->n_stored] = store;
            out->keys[out->n_stored++] = key;
        }
        if (!out->url) out->url = url;
        json_object_array_add(images, image_entry(&pic, url));
        out->n++;
    }
    if (out->n == 0) {
        dd->next = GF_NEXT_FAIL;
        dd->code = GF_JOB_STORAGE;
        dd->message = n > 1 ? "none of the images could be stored" : "the image could not be stored";
        return 1;
    }
    out->images = gf_json_dump(p, images);
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
                                    const stored_t *pictures, const gf_provider_result_t *res,
                                    gf_db_rows_t **rows, int *maybe_applied)
{
    apr_time_t until = apr_time_now()
                       + apr_time_from_sec(gf_conf_lease_secs(gf_server_conf(s)));
    outcome_t o;

    *maybe_applied = 0;
    for (;;) {
        memset(&o, 0, sizeof(o));
        o.s = s;
        o.p = p;
        o.c = c;
        o.d = dd;
        o.provider = provider;
        o.model = res ? res->model : NULL;
        o.url = pictures->url;
        o.images = pictures->images;
        o.res = res;
        gf_loop_blocking(outcome_now, &o);
        if (o.st != GF_DB_OK || o.rows->rerun) *maybe_applied = 1;
        if (o.st == GF_DB_OK || apr_time_now() >= until || gf_engine_aborting()) break;
        /* A timer of the loop in a fiber: no thread waits for the database. */
        gf_loop_sleep(OUTCOME_RETRY_WAIT);
    }
    /* A job polled at a short pace (poll=) is looked for when its poll is
     * due, not at the next half-second look for rows due by time. */
    if (o.st == GF_DB_OK && dd->next == GF_NEXT_POLL && dd->delay < SHORT_POLL) {
        gf_engine_look_again(apr_time_now() + dd->delay);
    }
    *rows = o.rows;
    return o.st;
}

/* Why a retry or a fallback happened, for the log: the provider's own
 * words (the user's answer carries only the code), and when the next
 * call comes. */
static const char *outcome_detail(apr_pool_t *p, const gf_decision_t *dd,
                                  const gf_provider_result_t *res)
{
    const char *why = res && res->error_code ? res->error_message : NULL;
    const char *when = dd->delay ? apr_psprintf(p, "in %" APR_TIME_T_FMT " ms",
                                                apr_time_as_msec(dd->delay)) : NULL;
    if (why && when) return apr_pstrcat(p, why, " (", when, ")", NULL);
    return why ? why : when;
}

/* What a recorded outcome did, for the metrics (it matched, so it ran
 * once) and the log. */
static void count_outcome(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                          const gf_decision_t *dd, const char *provider,
                          const gf_provider_result_t *res, const gf_db_rows_t *rows)
{
    const char *name = c->type->name;
    int terminal = dd->next == GF_NEXT_COMPLETE || dd->next == GF_NEXT_FAIL;

    if (dd->next == GF_NEXT_RETRY) gf_metrics_retry(gf_metrics(), name);
    else if (dd->next == GF_NEXT_FALLBACK) gf_metrics_fallback(gf_metrics(), name);
    /* The status object: the charge or refund and the duration. */
    else if (terminal) gf_metrics_terminal(gf_metrics(), p, name, rows->rows[0][0]);
    /* A fallback is the chain moving on: worth a line at info, with why. */
    gf_engine_row_log(s, p, terminal || dd->next == GF_NEXT_FALLBACK || dd->next == GF_NEXT_MORE
                            ? APLOG_INFO : APLOG_DEBUG,
                      c, provider,
                      gf_job_next_name(dd->next),
                      dd->next == GF_NEXT_FAIL ? dd->code : (res ? res->error_code : NULL),
                      dd->next == GF_NEXT_FAIL ? dd->message : outcome_detail(p, dd, res));
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
    const char *args[9];
    const gf_budget_conf_t *b = &k->prov->budget;
    args[0] = k->c->id;
    args[1] = k->c->type->name;
    args[2] = apr_itoa(k->p, k->c->attempts);
    args[3] = k->provider;
    args[4] = k->res->usage > 0 ? apr_psprintf(k->p, "%.6f", k->res->usage) : NULL;
    args[5] = k->res->usage > 0 ? k->res->usage_unit : NULL;
    args[6] = apr_psprintf(k->p, "%.6f", k->cost);
    /* With a budget, the cost counts against its period (sql/042). */
    args[7] = gf_budget_period_name(b->period);
    args[8] = args[7] ? (b->tz ? b->tz : "UTC") : NULL;
    if (gf_db_select_once(k->s, k->p, GF_SQL_COST_RECORD, &rows, 9, args) != GF_DB_OK) {
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
    const char *job = res && res->provider_job_id ? res->provider_job_id : c->provider_job_id;
    const char *state = res && res->provider_state ? res->provider_state : c->provider_state;

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
    stored_t stored;
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
    if (dd.next == GF_NEXT_COMPLETE && gf_job_wants_more(c->count, c->stored, c->asked, stored.n)) {
        dd.next = GF_NEXT_MORE;   /* the rest of the count by the next call */
    }
    else if (gf_job_keeps_stored(&dd, c->stored)) {
        /* Failed for good after earlier calls stored some: completed with
         * those, charged for them alone (the log line names the failure). */
        stored.images = "[]";
        stored.url = NULL;
    }
    st = write_outcome(s, p, c, &dd, provider, &stored, res, &rows, &maybe_applied);
    if (st == GF_DB_OK && rows->nrows == 0 && !maybe_applied) {
        /* Cancelled between the check and the completion: the pictures
         * must not stay behind a generation that has none. (When an
         * earlier run may have completed it, they stay.) */
        for (i = 0; i < stored.n_stored; i++) {
            gf_storage_remove(stored.stored[i], p, stored.keys[i]);
        }
    }
    if (st != GF_DB_OK) return -1;
    if (rows->nrows == 0) {
        /* The lease was taken over (we were too slow) or the generation was
         * cancelled meanwhile: our result is dropped, nothing is charged.
         * Or a run whose answer was lost had recorded it already. */
        gf_engine_row_log(s, p, APLOG_WARNING, c, provider, "stale", gf_job_next_name(dd.next),
                          maybe_applied ? "nothing to change: recorded by a run whose answer was "
                          "lost, or the row changed under this attempt"
                          : "the row changed under this attempt; result dropped");
        return 1;
    }
    count_outcome(s, p, c, &dd, provider, res, rows);
    /* How long its jobs take: a processing generation's estimate without
     * a report of its provider's. */
    if ((dd.next == GF_NEXT_COMPLETE || dd.next == GF_NEXT_MORE) && stored.n > 0 && prov
        && c->job_started > 0) {
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
