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

/* The gauges read from PostgreSQL, appended to db (gf_mgauges_*):
 * generations by type and status, jobs due, the longest wait, those near
 * their deadline, and the webhook outbox. 1 when the database answered. */
static int database_gauges(request_rec *r, apr_array_header_t *types, gf_mtext_t *db)
{
    gf_mgauges_t g;
    ap_dbd_t *dbd = gf_db_acquire(r);
    gf_db_rows_t *rows;
    int i, up = dbd != NULL;

    gf_mgauges_init(&g, db, r->pool);
    for (i = 0; up && i < types->nelts; i++) {
        const gf_type_t *ty = APR_ARRAY_IDX(types, i, gf_type_t *);
        if (gf_db_select(r, dbd, ty->labels[GF_SQL_METRICS], &rows, 1, "x") != GF_DB_OK) {
            up = 0;
            break;
        }
        gf_mgauges_type(&g, ty->name, (const char *const *const *)rows->rows, rows->nrows);
    }
    /* The webhook outbox: one query, whatever the types. */
    if (up && gf_db_select(r, dbd, GF_SQL_WEBHOOK_BACKLOG, &rows, 1, "x") == GF_DB_OK
        && rows->nrows == 1) {
        gf_mgauges_webhooks(&g, (const char *const *)rows->rows[0]);
    }
    else up = 0;
    if (dbd) gf_db_release(r);
    gf_mgauges_finish(&g);
    return up;
}

/* What this child's engine is doing. */
static void engine_gauges(request_rec *r)
{
    int in_flight, max_in_flight, transfers, kept;
    gf_engine_flights(&in_flight, &max_in_flight, &transfers, &kept);
    ap_rputs(gf_metrics_engine_text(r->pool, (int)getpid(), gf_engine_running(), in_flight,
                                    transfers, kept), r);
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
        ap_rputs(gf_metrics_build_info(r->pool), r);
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
    ap_rputs(gf_metrics_status_text(r->pool, (flags & AP_STATUS_SHORT) != 0, types->nelts,
                                    (int)getpid(), gf_engine_running()), r);
    gf_breaker_status(r, flags);
    gf_budgets_status(r, flags);
    return OK;
}
