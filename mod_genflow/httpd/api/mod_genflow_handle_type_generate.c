/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_handle_type_generate.c: the endpoints that start or stop a
 * generation (see mod_genflow_handle_int.h): POST {base}/generate and
 * {base}/retry/{id} hand a pending generation to the workers and answer
 * when it is done or the wait is over; POST {base}/cancel/{id} cancels and
 * refunds it.
 */
#include <string.h>
#include <apr_strings.h>

#include "httpd/api/mod_genflow_handle_int.h"
#include "httpd/watch/mod_genflow_watch.h"
#include "httpd/limits/mod_genflow_budgets.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/engine/mod_genflow_engine.h"
#include "httpd/io/mod_genflow_http.h"
#include "httpd/gates/mod_genflow_lines.h"
#include "httpd/io/mod_genflow_metrics.h"
#include "httpd/gates/mod_genflow_policy.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/config/mod_genflow_request.h"
#include "httpd/limits/mod_genflow_router.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/io/mod_genflow_trace.h"
#include "core/gf_error.h"
#include "core/gf_json.h"
#include "core/gf_route.h"
#include "core/gf_sql.h"
#include "core/gf_job.h"
#include "core/gf_answer.h"
#include "core/gf_create.h"

/* The wait a client asked for (Prefer: wait=N), else the location's. */
int gf_type_requested_wait(request_rec *r, const gf_dir_conf_t *dc)
{
    int wait = gf_conf_wait_default(dc);
    if (gf_prefer_wait(apr_table_get(r->headers_in, "Prefer"), GF_PREFER_WAIT_MAX, &wait)) {
        apr_table_setn(r->headers_out, "Preference-Applied",
                       apr_psprintf(r->pool, "wait=%d", wait));
    }
    return wait;
}

typedef struct {
    const gf_dir_conf_t *dc;
    const char *id;
} generate_wait_t;

/* 200 + the status object once terminal; 202 + where to poll when the
 * wait is over (or there is no room to wait). */
static int generate_step(request_rec *r, void *ctx, int woke)
{
    generate_wait_t *gw = ctx;
    gf_type_snap_t snap;
    json_object *status;
    gf_db_status_t st = gf_type_snapshot(r, gw->dc, gw->id, woke != 0, &snap);

    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    if (!snap.json) return gf_type_no_such_generation(r);
    if (!snap.terminal && !(woke & (GF_WOKE_DEADLINE | GF_WOKE_STOP | GF_WOKE_FULL))) {
        return GF_WATCH_AGAIN;
    }
    status = gf_type_parse_status(r, snap.json);
    if (!status) return gf_send_db_error(r, GF_DB_ERROR);
    if (snap.terminal) {
        /* Compact, as every answer of generate and retry. */
        return gf_send_json(r, HTTP_OK, gf_json_dump(r->pool, status));
    }
    apr_table_setn(r->headers_out, "Retry-After",
                   apr_itoa(r->pool, gf_job_client_retry_after(apr_time_now() - r->request_time)));
    apr_table_setn(r->headers_out, "Location", gf_type_status_url(r, gw->dc, gw->id));
    return gf_send_json(r, HTTP_ACCEPTED, gf_answer_accepted(
        r->pool, gw->id, json_object_get_string(gf_type_status_field(status, "status")),
        gf_type_status_url(r, gw->dc, gw->id), gf_type_events_url(r, gw->dc, gw->id)));
}

/* Answer with the generation's state once it is terminal or wait_secs have
 * passed: 200 + status object, or 202 + where to poll. The request holds
 * no database connection while it waits, and no thread where it can park
 * (mod_genflow_watch.h); it is woken when the listener hears that this
 * generation changed (NOTIFY from any child or server). */
int gf_type_answer_when_done(request_rec *r, const gf_dir_conf_t *dc, const char *id,
                             int wait_secs)
{
    generate_wait_t *gw = apr_pcalloc(r->pool, sizeof(*gw));
    gf_watch_t w;

    gf_db_release(r);
    gw->dc = dc;
    gw->id = apr_pstrdup(r->pool, id);  /* the caller's may not outlive a park */
    memset(&w, 0, sizeof(w));
    w.id = gw->id;
    w.deadline = r->request_time + apr_time_from_sec(wait_secs);
    w.step = generate_step;
    w.ctx = gw;
    if (wait_secs <= 0) {
        /* No wait asked: one look. */
        return generate_step(r, gw, GF_WOKE_DEADLINE);
    }
    return gf_watch_run(r, &w);
}

/* Passes of the queue statement before a refusal by the limit is final. */
#define QUEUE_PASSES 3

int gf_type_queue(request_rec *r, ap_dbd_t *dbd, const gf_dir_conf_t *dc, const char *id,
                  int strict, int cancel_after)
{
    gf_server_conf_t *sc = gf_server_conf(r->server);
    gf_req_t *rq = gf_req(r);
    gf_db_rows_t *rows, *now, *acct;
    gf_db_status_t st;
    long max_active = gf_conf_max_active(sc), active;
    const gf_line_t *line = gf_line_of(r, dc);
    int pass;

    for (pass = 0;; pass++) {
        st = gf_db_select(r, dbd, gf_type_label(dc, GF_SQL_QUEUE), &rows, 8, id, r->user,
                          strict ? rq->idem_key : NULL, strict ? rq->idem_owner : NULL,
                          apr_ltoa(r->pool, max_active), apr_itoa(r->pool, cancel_after),
                          apr_itoa(r->pool, GF_LINE_WEIGHT(line)), GF_LINE_NAME(line));
        if (st != GF_DB_OK) return gf_send_db_error(r, st);
        if (rows->nrows == 1) {
            rq->idem_linked = rq->idem_linked || (strict && rq->idem_key != NULL);
            ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GF_LOGNO(1302)
                          "queued type=%s id=%s user=%s trace=%s", dc->type->name, id, r->user,
                          gf_answer_trace_id(gf_type_parse_status(r, rows->rows[0][0])));
            /* Committed: the client's next read, on whichever child, sees
             * it queued (a child that kept its created answer has not
             * always heard the NOTIFY by then). */
            gf_engine_status_changed(id);
            gf_engine_wake();
            return GF_CONTINUE;
        }
        /* Nothing written. The generation was not the caller's created
         * one, or it was queued already (by a first run of this statement
         * before a lost connection, or by another request), or the user's
         * active generations fill the limit. */
        st = gf_db_select(r, dbd, gf_type_label(dc, GF_SQL_GET), &now, 2, id, r->user);
        if (st != GF_DB_OK) return gf_send_db_error(r, st);
        if (now->nrows == 0) return gf_type_no_such_generation(r);
        if (!strcmp(now->rows[0][3], "1") || strcmp(now->rows[0][1], "pending")) {
            if (!strict || (rows->rerun && !strcmp(now->rows[0][3], "1"))) {
                if (strict) rq->idem_linked = rq->idem_key != NULL;
                return GF_CONTINUE;
            }
            return gf_send_error(r, HTTP_CONFLICT, GF_ERR_INVALID_STATUS,
                                 gf_answer_not_startable(r->pool, now->rows[0][1]));
        }
        st = gf_db_select(r, dbd, GF_SQL_ACCOUNT_STATE, &acct, 2,
                          apr_ltoa(r->pool, gf_conf_daily_limit(sc)), r->user);
        if (st != GF_DB_OK) return gf_send_db_error(r, st);
        active = acct->nrows == 1 ? (long)apr_atoi64(acct->rows[0][3]) : 0;
        if ((max_active > 0 && active >= max_active) || pass + 1 >= QUEUE_PASSES) {
            /* The generation stays created: the client may start it later. */
            return gf_type_send_active_limit(r, active, max_active);
        }
        /* A generation finished in between: there is room now. */
    }
}

/* Hand the owner's created generation to the workers and answer as
 * generate does; 404, 409 or 429 when it cannot be started. */
static int queue_and_answer(request_rec *r, ap_dbd_t *dbd, const gf_dir_conf_t *dc,
                            const char *id, int wait, int cancel_after)
{
    int rc = gf_type_queue(r, dbd, dc, id, 1, cancel_after);
    if (rc != GF_CONTINUE) return rc;
    return gf_type_answer_when_done(r, dc, id, wait);
}

/* A generation created queued (generate with the create fields, retry):
 * the workers were told by its insert; answer as generate does. */
static int created_queued(request_rec *r, const gf_dir_conf_t *dc, const char *id, int wait)
{
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GF_LOGNO(4501)
                  "created queued type=%s id=%s user=%s wait=%d trace=%s", dc->type->name, id,
                  r->user, wait, gf_trace_request(r)->trace_id);
    gf_engine_wake();
    return gf_type_answer_when_done(r, dc, id, wait);
}

/* generate of a created generation: {"generationId"} and at most its own
 * deadline (cancelAfter, or the Cancel-After header). GF_CONTINUE with
 * *cancel_after set, or the 400 sent. */
static int generate_by_id_args(request_rec *r, const gf_dir_conf_t *dc, json_object *body,
                               int *cancel_after)
{
    const char *err = gf_create_by_id_args(r->pool, body, cancel_after);
    if (err) return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION, err);
    return gf_type_cancel_after(r, dc, cancel_after);
}

/* generate: {"generationId": "..."} alone, or the create fields. */
int gf_type_handle_generate(request_rec *r, const gf_dir_conf_t *dc)
{
    json_object *body = NULL, *idv = NULL;
    ap_dbd_t *dbd;
    const char *id;
    int rc, wait, by_id, cancel_after = 0;

    if ((rc = gf_type_check_json_request(r, dc, &body)) != GF_CONTINUE) return rc;
    wait = gf_type_requested_wait(r, dc);
    by_id = json_object_is_type(body, json_type_object)
            && json_object_object_get_ex(body, "generationId", &idv);
    /* The create fields' pictures are fetched and pass the policy before a
     * pooled connection is taken: both may ask the network. */
    if (!by_id && (rc = gf_type_import_pictures(r, dc, body)) != GF_CONTINUE) return rc;
    if (!by_id && (rc = gf_policy_check(r, dc, body)) != GF_CONTINUE) return rc;
    if (!(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);

    if (by_id) {
        if ((rc = generate_by_id_args(r, dc, body, &cancel_after)) != GF_CONTINUE) return rc;
        if (!json_object_is_type(idv, json_type_string)
            || !gf_uuid_valid(json_object_get_string(idv))) {
            return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                                 "generationId must be a generation id (a UUID string)");
        }
        id = json_object_get_string(idv);
    }
    else {
        /* Created and queued in one statement: refused by the active
         * limit, nothing is created or reserved (429). */
        gf_created_t created;
        if ((rc = gf_type_create_generation(r, dbd, dc, body, 1, &created)) != GF_CONTINUE) {
            return rc;
        }
        return created_queued(r, dc, created.id, wait);
    }

    return queue_and_answer(r, dbd, dc, id, wait, cancel_after);
}

/* POST {base}/retry/{id}: a failed or cancelled generation → a NEW one
 * with the same input (new id, new reservation), started like generate. */
int gf_type_handle_retry(request_rec *r, const gf_dir_conf_t *dc, const gf_route_t *route)
{
    ap_dbd_t *dbd;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    json_object *input;
    gf_created_t created;
    const char *err, *id, *refusal;
    int rc, wait = gf_type_requested_wait(r, dc);

    if (!route->id_valid) {
        return gf_type_no_such_generation(r);
    }
    if (!(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);
    st = gf_db_select(r, dbd, gf_type_label(dc, GF_SQL_INPUT), &rows, 2, route->id, r->user);
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    if (rows->nrows == 0) {
        return gf_type_no_such_generation(r);
    }
    if ((refusal = gf_answer_retry_refusal(r->pool, rows->rows[0][0])) != NULL) {
        return gf_send_error(r, HTTP_CONFLICT, GF_ERR_INVALID_STATUS, refusal);
    }
    input = gf_json_parse(r->pool, rows->rows[0][1], strlen(rows->rows[0][1]), &err);
    if (!input) return gf_send_db_error(r, GF_DB_ERROR);
    /* A retry is a new generation, under the policy as it is now; the
     * connection goes back to the pool while the policy asks the network
     * (a deny list alone is read in memory, with the connection kept). */
    if (gf_policy_asks_network(dc)) {
        gf_db_release(r);
        if ((rc = gf_policy_check(r, dc, input)) != GF_CONTINUE) return rc;
        if (!(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);
    }
    else if ((rc = gf_policy_check(r, dc, input)) != GF_CONTINUE) {
        return rc;
    }
    /* The stored input is validated again: the rules may have changed. */
    if ((rc = gf_type_create_generation(r, dbd, dc, input, 1, &created)) != GF_CONTINUE) return rc;
    id = created.id;
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, GF_LOGNO(1304)
                  "retry type=%s of=%s new=%s user=%s trace=%s", dc->type->name, route->id, id,
                  r->user, gf_trace_request(r)->trace_id);
    return created_queued(r, dc, id, wait);
}

/* POST {base}/cancel/{id}: pending or processing → cancelled + refund, in
 * one statement; the provider's job is cancelled where it allows. A worker
 * still busy with the generation finds the row terminal and drops its
 * result, so nothing is charged. */
int gf_type_handle_cancel(request_rec *r, const gf_dir_conf_t *dc, const gf_route_t *route)
{
    gf_server_conf_t *sc = gf_server_conf(r->server);
    ap_dbd_t *dbd;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    json_object *status;
    const char *provider, *job_id, *trace_id;

    if (!route->id_valid) {
        return gf_type_no_such_generation(r);
    }
    if (!(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);
    st = gf_db_select(r, dbd, gf_type_label(dc, GF_SQL_FAIL), &rows, 9, route->id, "cancelled",
                      GF_JOB_CANCELLED, "cancelled by the user", NULL, NULL, NULL, NULL,
                      r->user);
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    /* Committed: the client's next read, on whichever child, sees it. */
    gf_engine_status_changed(route->id);
    if (rows->nrows == 0 && rows->rerun) {
        /* Run twice after a lost connection: did the first run cancel it? */
        gf_db_rows_t *now;
        if (gf_db_select(r, dbd, gf_type_label(dc, GF_SQL_GET), &now, 2, route->id, r->user)
                == GF_DB_OK && now->nrows == 1
            && (status = gf_type_parse_status(r, now->rows[0][0])) != NULL
            && !strcmp(json_object_get_string(gf_type_status_field(status, "status")),
                       "cancelled")) {
            return gf_type_send_status(r, HTTP_OK, now->rows[0][0]);
        }
    }
    if (rows->nrows == 0) {
        return gf_type_refused_by_state(r, dbd, dc, route->id, "pending or processing",
                                        "cancelled");
    }
    /* Metrics: the refund and the generation's duration. */
    gf_metrics_terminal(gf_metrics(), r->pool, dc->type->name, rows->rows[0][0]);
    /* The provider is called without holding a pooled connection. */
    gf_db_release(r);
    status = gf_type_parse_status(r, rows->rows[0][0]);
    provider = status ? json_object_get_string(gf_type_status_field(status, "provider")) : NULL;
    job_id = status ? json_object_get_string(gf_type_status_field(status, "providerJobId")) : NULL;
    trace_id = gf_answer_trace_id(status);
    if (provider) {
        gf_provider_t *prov = apr_hash_get(sc->providers, provider, APR_HASH_KEY_STRING);
        /* The cancel at the provider belongs to the generation's trace. */
        gf_trace_for_generation(r, trace_id);
        if (job_id && prov && prov->kind->cancel) {
            prov->kind->cancel(prov, job_id, rows->rows[0][1], r->pool);
        }
        /* Its job slot and budget hold go back now, not at its deadline:
         * a GPU with max_jobs=1 takes the next generation at once (this
         * child's workers are told; another's within a second). */
        gf_budgets_release(r->server, r->pool, prov, route->id);
        if (prov && prov->limit.max_jobs) {
            gf_router_job_ended(prov);
            gf_engine_wake();
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, GF_LOGNO(1303)
                  "cancelled type=%s id=%s user=%s provider=%s trace=%s", dc->type->name,
                  route->id, r->user, provider ? provider : "-", trace_id);
    return gf_type_send_status(r, HTTP_OK, rows->rows[0][0]);
}
