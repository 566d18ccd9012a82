/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_idempotency.c: the Idempotency-Key header.
 *
 * On create, generate and retry: the first request for (user, key) inserts
 * a "running" record under an owner token it chose — the primary key makes
 * concurrent duplicates collide there, before any generation or
 * reservation exists — runs, and stores its answer when it did something
 * (a 2xx). Later requests with the key get that answer again with
 * "Idempotent-Replayed: true"; with a different method, path or body they
 * get 422, and while the first is still running 409 (both
 * IDEMPOTENCY_CONFLICT). Bodies are compared by their meaning: the
 * fingerprint is taken over the canonical JSON (gf_json_canonical), so
 * the same members in another order or with other spacing are the same
 * request.
 *
 * Failures lose nothing and block nothing for long:
 *  - the create (or queue) writes its generation id into the record in the
 *    same transaction, so whatever happens afterwards, the key stays bound
 *    to that one generation;
 *  - an answer that did nothing (bad input, not enough credits, the
 *    per-user limit, a generation in the wrong state, the database
 *    unavailable before any write) and bound no generation drops the
 *    record: the key can be used again once the cause is fixed;
 *  - a request that fails after its generation was created (database
 *    trouble) releases the record, and one that dies (a killed child, a
 *    lost connection) leaves it "running" with a claim that ages: the next
 *    request with the key takes the record over — at once when released,
 *    after GenFlowLeaseSeconds otherwise — and answers for the generation
 *    that was created, or runs afresh when none was;
 *  - the owner token makes each statement safe to run again after a lost
 *    connection: a re-run finds its own record.
 * Records are pruned after 24 h.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_uuid.h>
#include <http_protocol.h>

#include "httpd/gates/mod_genflow_idempotency.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/io/mod_genflow_http.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/config/mod_genflow_request.h"
#include "core/gf_error.h"
#include "core/gf_idempotency.h"
#include "core/gf_job.h"
#include "core/gf_sql.h"

static const char *new_token(apr_pool_t *p)
{
    apr_uuid_t u;
    char buf[APR_UUID_FORMATTED_LENGTH + 1];
    apr_uuid_get(&u);
    apr_uuid_format(buf, &u);
    return apr_pstrdup(p, buf);
}

int gf_idempotency_still_owned(request_rec *r)
{
    gf_req_t *rq = gf_req(r);
    gf_db_rows_t *rows;
    const char *stale = apr_itoa(r->pool, gf_conf_lease_secs(gf_server_conf(r->server)));
    if (!rq->idem_key) return 1;
    return gf_db_select1(r, GF_SQL_IDEM_GET, &rows, 3, stale, r->user, rq->idem_key) == GF_DB_OK
           && rows->nrows == 1 && gf_idem_owned(rows->rows[0], rq->idem_owner);
}

/* Record what the owner answered (rq->capture holds it): keep a replayable
 * answer, free the key when nothing was created, else release it. */
static void record_answer(request_rec *r)
{
    gf_req_t *rq = gf_req(r);
    gf_db_rows_t *rows;
    gf_db_status_t st;
    const char *key = rq->idem_key, *token = rq->idem_owner;

    rq->capture = 0;
    switch (gf_idem_ending(rq->body != NULL, rq->status, rq->idem_linked)) {
    case GF_IDEM_SAVE:
        st = gf_db_select1(r, GF_SQL_IDEM_SAVE, &rows, 6, apr_itoa(r->pool, rq->status),
                           rq->body, rq->location, r->user, key, token);
        break;
    case GF_IDEM_DROP:
        st = gf_db_select1(r, GF_SQL_IDEM_DROP, &rows, 3, r->user, key, token);
        break;
    default:
        st = gf_db_select1(r, GF_SQL_IDEM_RELEASE, &rows, 3, r->user, key, token);
        break;
    }
    if (st != GF_DB_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GF_LOGNO(1801)
                      "could not record the answer for an Idempotency-Key; the record is "
                      "taken over after GenFlowLeaseSeconds");
    }
}

/* Run the request as the record's owner, then record what it answered:
 * at once, or, for a request parked while it waits, when its answer is
 * composed. */
static int run_owned(request_rec *r, const char *key, const char *token,
                     int (*run)(request_rec *, void *),
                     int (*resume)(request_rec *, void *, const char *), void *baton,
                     const char *generation_id)
{
    gf_req_t *rq = gf_req(r);
    int rc;

    rq->capture = 1;
    rq->idem_key = key;
    rq->idem_owner = token;
    rq->idem_linked = generation_id != NULL;
    rc = generation_id ? resume(r, baton, generation_id) : run(r, baton);
    if (rc == SUSPENDED) {
        rq->answered = record_answer;
        return rc;
    }
    record_answer(r);
    return rc;
}

/* The saved answer of a finished request with this key, sent again. */
static int replay(request_rec *r, const char *const *rec)
{
    int status = atoi(rec[GF_IDEM_STATUS]);
    apr_table_setn(r->headers_out, "Idempotent-Replayed", "true");
    if (rec[GF_IDEM_LOCATION]) {
        apr_table_setn(r->headers_out, "Location", rec[GF_IDEM_LOCATION]);
    }
    if (status == HTTP_ACCEPTED) {
        /* The poll answer's hint; a replay comes later than the first. */
        apr_table_setn(r->headers_out, "Retry-After",
                       apr_itoa(r->pool, gf_job_client_retry_after(0)));
    }
    return gf_send_json(r, status, rec[GF_IDEM_BODY]);
}

static int still_running(request_rec *r)
{
    apr_table_setn(r->headers_out, "Retry-After", "1");
    return gf_send_error(r, HTTP_CONFLICT, GF_ERR_IDEMPOTENCY,
                         "the first request with this Idempotency-Key is still running; retry "
                         "after Retry-After seconds to get its answer");
}

int gf_idempotent(request_rec *r, long max_body, int (*run)(request_rec *, void *),
                  int (*resume)(request_rec *, void *, const char *), void *baton)
{
    const char *key = apr_table_get(r->headers_in, "Idempotency-Key");
    char *body = NULL;
    const char *fp, *fp_bytes;
    apr_size_t len = 0;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    const char *token, *stale;
    const char *const *rec;
    int took_over_tried = 0;
    int rc;

    if (!key) {
        return run(r, baton);
    }
    if (!gf_idem_key_valid(key)) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                             "Idempotency-Key must be 1 to 255 characters");
    }
    if ((rc = gf_read_json_body(r, max_body, &body, &len)) != GF_CONTINUE) {
        return rc;
    }
    gf_idem_fingerprints(r->pool, r->method, r->uri, body, len, &fp, &fp_bytes);
    token = new_token(r->pool);
    stale = apr_itoa(r->pool, gf_conf_lease_secs(gf_server_conf(r->server)));

    st = gf_db_select1(r, GF_SQL_IDEM_BEGIN, &rows, 4, r->user, key, fp, token);
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    if (rows->nrows == 1) {
        return run_owned(r, key, token, run, resume, baton, NULL);
    }
read_record:
    st = gf_db_select1(r, GF_SQL_IDEM_GET, &rows, 3, stale, r->user, key);
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    if (rows->nrows == 0) {
        /* Dropped by its owner a moment ago (it was refused and kept no
         * answer): sent again, the request runs afresh. */
        return gf_send_error(r, HTTP_CONFLICT, GF_ERR_IDEMPOTENCY,
                             "a request with this Idempotency-Key just ended without an answer "
                             "to keep; send it again");
    }
    rec = rows->rows[0];
    switch (gf_idem_judge(rec, token, fp, fp_bytes)) {
    case GF_IDEM_RUN_OWN:
        return run_owned(r, key, token, run, resume, baton, NULL);
    case GF_IDEM_OTHER_REQUEST:
        return gf_send_error(r, 422, GF_ERR_IDEMPOTENCY,
                             "this Idempotency-Key was used with a different request; use a "
                             "new key for a new request");
    case GF_IDEM_REPLAY:
        return replay(r, rec);
    case GF_IDEM_TAKE_OVER:
        /* Its owner released it or is gone: this request takes over. */
        st = gf_db_select1(r, GF_SQL_IDEM_TAKEOVER, &rows, 4, token, r->user, key, stale);
        if (st != GF_DB_OK) return gf_send_db_error(r, st);
        if (rows->nrows == 1) {
            const char *gen = rows->rows[0][0];
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, GF_LOGNO(1802)
                          "took over an Idempotency-Key whose first request ended without "
                          "an answer (%s)", *gen ? "its generation is answered for"
                                                 : "nothing was created; running afresh");
            return run_owned(r, key, token, run, resume, baton, *gen ? gen : NULL);
        }
        if (!took_over_tried) {
            /* The takeover waited for the first owner's statement and
             * found the record changed: most often its answer was just
             * saved, which is replayed now rather than a 409. */
            took_over_tried = 1;
            goto read_record;
        }
        return still_running(r);
    default:
        return still_running(r);
    }
}
