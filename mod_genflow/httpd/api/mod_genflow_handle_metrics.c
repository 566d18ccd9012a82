/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_handle_metrics.c: what the counters (mod_genflow_metrics.c),
 * the circuit breakers, the provider limits and this child's engine show.
 *
 *   SetHandler genflow-metrics   Prometheus text exposition format 0.0.4, to
 *                                an authenticated user only (a scraper logs in)
 *   mod_status (server-status)   a "mod_genflow" section, ?auto friendly
 *
 * The gauges of generations by status and of jobs due are read from
 * PostgreSQL at every scrape.
 */
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <http_protocol.h>
#include <mod_status.h>

#include "httpd/api/mod_genflow_handlers.h"
#include "httpd/limits/mod_genflow_limits.h"
#include "httpd/limits/mod_genflow_budgets.h"
#include "httpd/servers/mod_genflow_breaker.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/engine/mod_genflow_engine.h"
#include "httpd/io/mod_genflow_http.h"
#include "httpd/io/mod_genflow_metrics.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_error.h"
#include "core/gf_sql.h"
#include "core/gf_schema.h"

/* The gauges read from PostgreSQL, appended to db: generations by type
 * and status, jobs due, the longest wait, those near their deadline, and
 * the webhook outbox. Each family's samples must be contiguous, so each
 * per-type family is gathered apart and written after the others. 1 when
 * the database answered. */
static int database_gauges(request_rec *r, apr_array_header_t *types, gf_mtext_t *db)
{
    gf_mtext_t due, oldest, near;
    ap_dbd_t *dbd = gf_db_acquire(r);
    gf_db_rows_t *rows;
    int i, j, up = dbd != NULL;

    gf_mtext_init(&due, r->pool);
    gf_mtext_init(&oldest, r->pool);
    gf_mtext_init(&near, r->pool);
    gf_mtext_family(db, "genflow_generations", "gauge",
                    "Generations in the database by type and status.");
    gf_mtext_family(&due, "genflow_jobs_due", "gauge",
                    "Queued generations whose next attempt is due now, by type.");
    gf_mtext_family(&oldest, "genflow_queue_oldest_seconds", "gauge",
                    "How long the longest-waiting due generation has waited for a worker, "
                    "by type (0: none due).");
    gf_mtext_family(&near, "genflow_generations_near_deadline", "gauge",
                    "Open generations within 15 s of their deadline (GenFlowDeadline), by type.");
    for (i = 0; up && i < types->nelts; i++) {
        const gf_type_t *ty = APR_ARRAY_IDX(types, i, gf_type_t *);
        apr_int64_t n_due = 0, n_near = 0, age = 0;
        if (gf_db_select(r, dbd, ty->labels[GF_SQL_METRICS], &rows, 1, "x") != GF_DB_OK) {
            up = 0;
            break;
        }
        for (j = 0; j < rows->nrows; j++) {
            const char *const *row = rows->rows[j];
            gf_mtext_sample(db, "genflow_generations",
                            apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                         apr_atoi64(row[GF_METRICS_COUNT])),
                            "type", ty->name, "status", row[GF_METRICS_STATUS], NULL);
            n_due += apr_atoi64(row[GF_METRICS_DUE]);
            if (apr_atoi64(row[GF_METRICS_OLDEST]) > age) age = apr_atoi64(row[GF_METRICS_OLDEST]);
            n_near += apr_atoi64(row[GF_METRICS_NEAR]);
        }
        gf_mtext_sample(&due, "genflow_jobs_due", apr_psprintf(r->pool, "%" APR_INT64_T_FMT, n_due),
                        "type", ty->name, NULL);
        gf_mtext_sample(&oldest, "genflow_queue_oldest_seconds",
                        apr_psprintf(r->pool, "%" APR_INT64_T_FMT, age), "type", ty->name, NULL);
        gf_mtext_sample(&near, "genflow_generations_near_deadline",
                        apr_psprintf(r->pool, "%" APR_INT64_T_FMT, n_near), "type", ty->name, NULL);
    }
    /* The webhook outbox: one query, whatever the types. */
    if (up && gf_db_select(r, dbd, GF_SQL_WEBHOOK_BACKLOG, &rows, 1, "x") == GF_DB_OK
        && rows->nrows == 1) {
        gf_mtext_family(&near, "genflow_webhooks_pending", "gauge",
                        "Webhook deliveries to the site's backend waiting to go out or to be "
                        "tried again.");
        gf_mtext_sample(&near, "genflow_webhooks_pending", rows->rows[0][0], NULL);
        gf_mtext_family(&near, "genflow_webhooks_oldest_pending_seconds", "gauge",
                        "Age of the oldest waiting webhook delivery (0: none).");
        gf_mtext_sample(&near, "genflow_webhooks_oldest_pending_seconds", rows->rows[0][1], NULL);
        gf_mtext_family(&near, "genflow_webhooks_failed", "gauge",
                        "Webhook deliveries that failed for good (the admin API lists them).");
        gf_mtext_sample(&near, "genflow_webhooks_failed", rows->rows[0][2], NULL);
    }
    else up = 0;
    if (dbd) gf_db_release(r);
    gf_mtext_append(db, &due);
    gf_mtext_append(db, &oldest);
    gf_mtext_append(db, &near);
    return up;
}

/* What this child's engine is doing. */
static void engine_gauges(request_rec *r)
{
    int in_flight, max_in_flight, transfers, kept;
    ap_rprintf(r, "# HELP genflow_workers_running Worker threads in the child that "
                  "answered this scrape.\n"
                  "# TYPE genflow_workers_running gauge\n"
                  "genflow_workers_running{pid=\"%d\"} %d\n",
               (int)getpid(), gf_engine_running());
    gf_engine_flights(&in_flight, &max_in_flight, &transfers, &kept);
    ap_rprintf(r, "# HELP genflow_attempts_in_flight Attempts the child that answered "
                  "this scrape runs at once (GenFlowMaxInFlight caps them).\n"
                  "# TYPE genflow_attempts_in_flight gauge\n"
                  "genflow_attempts_in_flight{pid=\"%d\"} %d\n"
                  "# HELP genflow_provider_exchanges_open HTTP exchanges with "
                  "providers and stores open in that child now.\n"
                  "# TYPE genflow_provider_exchanges_open gauge\n"
                  "genflow_provider_exchanges_open{pid=\"%d\"} %d\n"
                  "# HELP genflow_polls_kept Polls of accepted jobs that child keeps "
                  "for their next poll (GenFlowKeptPolls caps them).\n"
                  "# TYPE genflow_polls_kept gauge\n"
                  "genflow_polls_kept{pid=\"%d\"} %d\n",
               (int)getpid(), in_flight, (int)getpid(), transfers, (int)getpid(), kept);
}

int gf_metrics_handler(request_rec *r)
{
    apr_array_header_t *types = gf_registered_types();
    gf_mtext_t t, db;
    int up = 0, has_db, rc;

    if ((rc = gf_refuse_unless_admin(r)) != GF_CONTINUE) return rc;
    if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD");
        return gf_send_error(r, HTTP_METHOD_NOT_ALLOWED, GF_ERR_METHOD, "use GET");
    }
    gf_mtext_init(&t, r->pool);
    gf_metrics_render(gf_metrics(), &t);
    /* Without a mounted type the module never bound mod_dbd: no query. */
    gf_mtext_init(&db, r->pool);
    has_db = types && types->nelts > 0;
    if (has_db) up = database_gauges(r, types, &db);
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only) {
        ap_rprintf(r, "# HELP genflow_build_info The module's release and the database schema "
                      "version it needs (always 1).\n"
                      "# TYPE genflow_build_info gauge\n"
                      "genflow_build_info{version=\"%s\",schema=\"%d\"} 1\n",
                   GF_VERSION, GF_SCHEMA_NEEDS);
        ap_rputs(gf_mtext_str(&t), r);
        ap_rputs(gf_mtext_str(&db), r);
        gf_breaker_metrics(r);
        gf_limits_metrics(r);
        gf_budgets_metrics(r);
        ap_rputs("# HELP genflow_database_up 1 when PostgreSQL answered this scrape.\n"
                 "# TYPE genflow_database_up gauge\n", r);
        if (has_db) ap_rprintf(r, "genflow_database_up %d\n", up);
        engine_gauges(r);
    }
    return OK;
}

/* mod_status: one section per child that serves server-status. */
int gf_metrics_status_section(request_rec *r, int flags)
{
    apr_array_header_t *types = gf_registered_types();
    if (!types) return OK;
    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "GenFlowVersion: %s\nGenFlowSchemaNeeds: %d\n"
                   "GenFlowTypes: %d\nGenFlowWorkersRunning: %d\n", GF_VERSION, GF_SCHEMA_NEEDS,
                   types->nelts, gf_engine_running());
        gf_breaker_status(r, flags);
        gf_budgets_status(r, flags);
        return OK;
    }
    ap_rprintf(r, "<hr />\n<h2>mod_genflow %s</h2>\n<dl><dt>Database schema needed: %d</dt>"
               "<dt>Types: %d</dt><dt>Worker threads in this child (pid %d): %d</dt></dl>\n",
               GF_VERSION, GF_SCHEMA_NEEDS, types->nelts, (int)getpid(), gf_engine_running());
    gf_breaker_status(r, flags);
    gf_budgets_status(r, flags);
    return OK;
}
