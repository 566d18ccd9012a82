/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_webhooks.c: deliveries of the webhook outbox (sql/021)
 * to the site's backend, part of worker 0's sweeps.
 *
 * Every few seconds the due rows are taken under a lease (locked rows,
 * another child's, are skipped), and each goes out as a fiber of the
 * child's loop: its HTTP exchange holds no thread and no pooled
 * connection, and no job waits for it. Where the loop is full the rest
 * waits for the next sweep; without a loop a delivery runs on worker 0.
 *
 * A delivery is a POST of the payload signed as Standard Webhooks says
 * (webhook-id, webhook-timestamp, webhook-signature "v1,…" with the
 * server's GenFlowWebhookSecretFile), to the URL the create gave (on an
 * origin its location allowed), never following a redirect, connecting to
 * public addresses only (or loopback for an http origin the site allowed),
 * with a 10 s timeout and a 64 KiB cap on the answer. It carries one
 * signature per secret of the file (newest first), so the backend can
 * rotate. A 2xx delivers it; a 410 Gone fails it at once (the receiver's
 * "stop sending"); anything else is tried again after
 * GenFlowWebhookFirstRetry seconds, doubling up to 2 h, each wait
 * spread to 80..120 % so that deliveries failing together do not return
 * together, until GenFlowWebhookRetryPeriod has passed: then it is failed,
 * for the admin API to list and redeliver. Delivered
 * and failed rows leave the outbox after GenFlowRetention. Only a
 * server with GenFlowWebhookSecretFile drains the outbox. A child
 * killed during a delivery leaves the lease to run out; the row is then
 * delivered again with the same webhook-id.
 */
#include <string.h>
#include <stdlib.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "httpd/engine/mod_genflow_engine_int.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_delivery.h"
#include "core/gf_sql.h"
#include "net/gf_http.h"
#include "net/gf_loop.h"
#include "webhooks/gf_webhook.h"

#define BATCH        32
#define LEASE_SECS   20                      /* over a delivery's timeout */
#define TIMEOUT_MS   10000L
#define MAX_ANSWER   (64 * 1024)
#define MAX_DELAY    7200L                   /* the doubling stops here (then spread) */

/* One delivery, in a pool of its own (the fiber outlives the sweep's). */
typedef struct {
    apr_pool_t *pool;
    server_rec *s;
    const char *id, *webhook_id, *url, *payload;
    const char *trace_id;                    /* the generation's, or "-" */
    int attempt;
    int on_loop;                             /* took a place of the loop */
} delivery_t;

/* One statement on a pooled connection, given back at once: on a worker
 * thread (gf_loop_blocking), never on the loop. */
typedef struct {
    server_rec *s;
    apr_pool_t *p;
    const char *label;
    int nargs;
    const char *const *args;
    gf_db_status_t st;
} statement_t;

static void statement_now(void *baton)
{
    statement_t *q = baton;
    gf_db_rows_t *rows;
    q->st = gf_db_select_once(q->s, q->p, q->label, &rows, q->nargs, q->args);
}

static void record(delivery_t *d, int status, const char *error)
{
    gf_server_conf_t *sc = gf_server_conf(d->s);
    statement_t q;
    const char *args[GF_DELIVERY_ARGS];
    apr_uint32_t rnd = 0;
    long delay = 0;                          /* ms */
    int delivered = status >= 200 && status < 300;

    if (!delivered) {
        apr_generate_random_bytes((unsigned char *)&rnd, sizeof(rnd));
        delay = gf_webhook_retry_delay_ms(gf_conf_webhook_first_retry(sc), d->attempt,
                                          MAX_DELAY, rnd);
    }
    memset(&q, 0, sizeof(q));
    q.s = d->s;
    q.p = d->pool;
    q.args = args;
    q.label = gf_delivery_statement(d->pool, status, error, d->id, d->attempt, delay,
                                    gf_conf_webhook_retry_period(sc), args, &q.nargs);
    if (status == GF_DELIVERY_GONE) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, d->s, GF_LOGNO(1419)
                     "webhook %s (trace=%s) answered 410 Gone: no more attempts",
                     d->webhook_id, d->trace_id);
    }
    else if (!delivered) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, d->s, GF_LOGNO(1416)
                     "webhook %s (trace=%s) attempt %d not delivered: %s", d->webhook_id,
                     d->trace_id, d->attempt, ap_escape_logitem(d->pool, error));
    }
    gf_loop_blocking(statement_now, &q);
}

static void deliver(delivery_t *d)
{
    gf_server_conf_t *sc = gf_server_conf(d->s);
    const char *ts = apr_psprintf(d->pool, "%" APR_TIME_T_FMT, apr_time_sec(apr_time_now()));
    const char *sig;
    gf_http_request_t req;
    gf_http_response_t hr;
    const char *origin;
    int http;

    if (!(sig = gf_webhook_sign_all(d->pool, sc->webhook_secrets, d->webhook_id, ts,
                                    d->payload, strlen(d->payload)))) {
        record(d, 0, "no GenFlowWebhookSecretFile to sign with");
        return;
    }
    if (!(origin = gf_delivery_origin(d->pool, d->url, &http))) {
        record(d, 0, "not a URL");
        return;
    }
    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = d->url;
    req.headers = apr_table_make(d->pool, 5);
    apr_table_setn(req.headers, "Content-Type", "application/json");
    apr_table_setn(req.headers, "webhook-id", d->webhook_id);
    apr_table_setn(req.headers, "webhook-timestamp", ts);
    apr_table_setn(req.headers, "webhook-signature", sig);
    req.body = d->payload;
    req.body_len = strlen(d->payload);
    req.connect_timeout_ms = 5000;
    req.timeout_ms = TIMEOUT_MS;
    req.max_response = MAX_ANSWER;
    req.origin = origin;
    req.public_only = 1;
    req.allow_loopback_http = http;
    gf_http_perform(d->pool, &req, &hr);
    record(d, hr.error ? 0 : hr.status, gf_delivery_error(d->pool, hr.error, hr.status));
}

static void delivery_main(void *baton)
{
    delivery_t *d = baton;
    int on_loop = d->on_loop;
    deliver(d);
    apr_pool_destroy(d->pool);
    free(d);
    if (on_loop) gf_engine_landed();
}

static delivery_t *delivery_of(server_rec *s, const char *const *row)
{
    delivery_t *d = calloc(1, sizeof(*d));
    if (!d) return NULL;
    if (gf_engine_pool(&d->pool, "genflow_webhook") != APR_SUCCESS) {
        free(d);
        return NULL;
    }
    d->s = s;
    d->id = apr_pstrdup(d->pool, row[0]);
    d->webhook_id = apr_pstrdup(d->pool, row[1]);
    d->url = apr_pstrdup(d->pool, row[2]);
    d->payload = apr_pstrdup(d->pool, row[3]);
    d->attempt = atoi(row[4]);
    /* A span of its own of the generation's trace, under its pool. */
    d->trace_id = gf_delivery_trace(d->pool, row[5]);
    return d;
}

void gf_engine_webhooks_deliver(server_rec *s, apr_pool_t *p)
{
    gf_db_rows_t *rows;
    ap_dbd_t *dbd;
    int i, places;
    gf_db_status_t st;

    /* Only a server that can sign delivers: another node on the database
     * without the secret leaves the outbox to those that have it. */
    if (!gf_server_conf(s)->webhook_secrets) return;
    if ((places = gf_engine_reserve(BATCH)) <= 0) return;   /* the loop is full */
    if (!(dbd = gf_db_open(p, s))) {
        while (places-- > 0) gf_engine_landed();
        return;
    }
    if (gf_conf_retention(gf_server_conf(s)) > 0) {
        gf_db_pselect(s, p, dbd, GF_SQL_WEBHOOK_PRUNE, &rows, 1,
                      apr_ltoa(p, gf_conf_retention(gf_server_conf(s))));
    }
    st = gf_db_pselect(s, p, dbd, GF_SQL_WEBHOOK_CLAIM, &rows, 2, apr_itoa(p, LEASE_SECS),
                       apr_itoa(p, places));
    gf_db_close(s, dbd);
    for (i = 0; st == GF_DB_OK && i < rows->nrows; i++) {
        delivery_t *d = delivery_of(s, (const char *const *)rows->rows[i]);
        if (!d) continue;       /* its lease runs out; the next sweep takes it */
        d->on_loop = 1;
        if (gf_engine_launch(delivery_main, d) != 0) {
            /* No loop: here, on worker 0. */
            d->on_loop = 0;
            deliver(d);
            apr_pool_destroy(d->pool);
            free(d);
            gf_engine_landed();
        }
        places--;
    }
    while (places-- > 0) gf_engine_landed();
}
