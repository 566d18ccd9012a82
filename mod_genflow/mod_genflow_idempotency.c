/* mod_genflow_idempotency.c: the Idempotency-Key header (SPEC §3.1).
 *
 * On create, generate and retry: the first request for (user, key) inserts
 * a "running" record — the primary key makes concurrent duplicates collide
 * there, before any generation or reservation exists — runs, and stores
 * its answer. Later requests with the key get that answer again with
 * "Idempotent-Replayed: true"; with a different method, path or body they
 * get 422, and while the first is still running 409 (both
 * IDEMPOTENCY_CONFLICT). Answers that did nothing (bad input, database
 * trouble, the per-user limit) are not stored, so the key can be retried.
 * Records are pruned after 24 h.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_sha1.h>
#include <http_protocol.h>

#include "mod_genflow_private.h"
#include "gf_error.h"
#include "gf_sql.h"

#define IDEMPOTENCY_KEY_MAX 255

static int worth_replaying(int status)
{
    return status == 200 || status == 201 || status == 202 || status == 402 || status == 404
           || status == 409;
}

int gf_idempotent(request_rec *r, long max_body, int (*run)(request_rec *, void *), void *baton)
{
    const char *key = apr_table_get(r->headers_in, "Idempotency-Key");
    gf_req_t *rq = gf_req(r);
    char *body = NULL, fp[APR_SHA1PW_IDLEN + APR_SHA1PW_IDLEN];
    apr_size_t len = 0;
    ap_dbd_t *dbd;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    const char *material;
    int rc;

    if (!key) {
        return run(r, baton);
    }
    if (!*key || strlen(key) > IDEMPOTENCY_KEY_MAX) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                             "Idempotency-Key must be 1 to 255 characters");
    }
    if ((rc = gf_read_json_body(r, max_body, &body, &len)) != GF_CONTINUE) {
        return rc;
    }
    /* The fingerprint: same endpoint and same body, byte for byte. */
    material = apr_pstrcat(r->pool, r->method, " ", r->uri, "\n",
                           apr_pstrmemdup(r->pool, body ? body : "", len), NULL);
    apr_sha1_base64(material, (int)strlen(material), fp);

    if (!(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);
    st = gf_db_select(r, dbd, GF_SQL_IDEM_BEGIN, &rows, 3, r->user, key, fp);
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    if (rows->nrows == 1) {
        /* This request owns the key. */
        rq->capture = 1;
        rc = run(r, baton);
        rq->capture = 0;
        if (rq->body && worth_replaying(rq->status)) {
            st = gf_db_select(r, dbd, GF_SQL_IDEM_SAVE, &rows, 5, apr_itoa(r->pool, rq->status),
                              rq->body, rq->location, r->user, key);
        }
        else {
            st = gf_db_select(r, dbd, GF_SQL_IDEM_DROP, &rows, 2, r->user, key);
        }
        if (st != GF_DB_OK) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GF_LOGNO(1801)
                          "could not record the answer for an Idempotency-Key");
        }
        return rc;
    }
    st = gf_db_select(r, dbd, GF_SQL_IDEM_GET, &rows, 2, r->user, key);
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    if (rows->nrows == 0) {
        /* Dropped by its owner a moment ago: the client may simply retry. */
        return gf_send_error(r, HTTP_CONFLICT, GF_ERR_IDEMPOTENCY,
                             "a request with this Idempotency-Key just ended; retry");
    }
    if (strcmp(rows->rows[0][0], fp)) {
        return gf_send_error(r, 422, GF_ERR_IDEMPOTENCY,
                             "this Idempotency-Key was used with a different request");
    }
    if (strcmp(rows->rows[0][1], "done") || !rows->rows[0][2] || !rows->rows[0][3]) {
        apr_table_setn(r->headers_out, "Retry-After", "1");
        return gf_send_error(r, HTTP_CONFLICT, GF_ERR_IDEMPOTENCY,
                             "the first request with this Idempotency-Key is still running");
    }
    apr_table_setn(r->headers_out, "Idempotent-Replayed", "true");
    if (rows->rows[0][4]) {
        apr_table_setn(r->headers_out, "Location", rows->rows[0][4]);
    }
    return gf_send_json(r, atoi(rows->rows[0][2]), rows->rows[0][3]);
}
