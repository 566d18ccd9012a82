/* mod_genflow_metrics.c: operational metrics (docs/api.md).
 *
 *   SetHandler genflow-metrics   Prometheus text exposition format 0.0.4
 *   mod_status (server-status)   a "mod_genflow" section, ?auto friendly
 */
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "mod_genflow_private.h"
#include <apu.h>
#include <apr_optional_hooks.h>
#include <mod_status.h>
#include "gf_error.h"
#include "gf_sql.h"

int gf_metrics_handler(request_rec *r)
{
    apr_array_header_t *types = gf_registered_types();
    ap_dbd_t *dbd;
    int i, j, up;
    const char *out;

    if (!r->handler || strcmp(r->handler, GF_METRICS_HANDLER)) {
        return DECLINED;
    }
    if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD");
        return gf_send_error(r, HTTP_METHOD_NOT_ALLOWED, GF_ERR_METHOD, "use GET");
    }
    dbd = gf_db_acquire(r);
    up = dbd != NULL;
    out = "# HELP genflow_generations Generations by type and status.\n"
          "# TYPE genflow_generations gauge\n";
    for (i = 0; up && types && i < types->nelts; i++) {
        const gf_type_t *t = APR_ARRAY_IDX(types, i, gf_type_t *);
        gf_db_rows_t *rows;
        long due = 0;
        if (gf_db_select(r, dbd, t->labels[GF_SQL_METRICS], &rows, 1, "x") != GF_DB_OK) {
            up = 0;
            break;
        }
        for (j = 0; j < rows->nrows; j++) {
            out = apr_psprintf(r->pool, "%sgenflow_generations{type=\"%s\",status=\"%s\"} %s\n",
                               out, t->name, rows->rows[j][0], rows->rows[j][1]);
            due += apr_atoi64(rows->rows[j][2]);
        }
        out = apr_psprintf(r->pool, "%sgenflow_jobs_due{type=\"%s\"} %ld\n", out, t->name, due);
    }
    out = apr_psprintf(r->pool,
                       "%s# HELP genflow_database_up 1 when PostgreSQL answered.\n"
                       "# TYPE genflow_database_up gauge\n"
                       "genflow_database_up %d\n"
                       "# HELP genflow_workers_running Worker threads in the child that answered.\n"
                       "# TYPE genflow_workers_running gauge\n"
                       "genflow_workers_running{pid=\"%d\"} %d\n",
                       out, up, (int)getpid(), gf_workers_running());
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only) ap_rputs(out, r);
    return OK;
}

/* mod_status: one section per child that serves server-status. */
static int status_section(request_rec *r, int flags)
{
    apr_array_header_t *types = gf_registered_types();
    if (!types) return OK;
    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "GenFlowTypes: %d\nGenFlowWorkersRunning: %d\n", types->nelts,
                   gf_workers_running());
        return OK;
    }
    ap_rprintf(r, "<hr />\n<h2>mod_genflow</h2>\n<dl><dt>Types: %d</dt>"
               "<dt>Worker threads in this child (pid %d): %d</dt></dl>\n",
               types->nelts, (int)getpid(), gf_workers_running());
    return OK;
}

void gf_metrics_register_hooks(void)
{
    APR_OPTIONAL_HOOK(ap, status_hook, status_section, NULL, NULL, APR_HOOK_MIDDLE);
}
