/* mod_genflow_metrics.c: operational metrics (docs/api.md, docs/operations.md).
 *
 *   SetHandler genflow-metrics   Prometheus text exposition format 0.0.4
 *   mod_status (server-status)   a "mod_genflow" section, ?auto friendly
 *
 * Counters and histograms (gf_metrics.c) live in one anonymous shared
 * memory segment that post_config creates in the parent before the
 * children fork, the way httpd keeps its scoreboard: every child and every
 * worker thread adds to the same 64-bit slots with atomic adds, so any
 * child answers with the totals of the whole server. The segment belongs
 * to the parent's process pool, so graceful (and plain) restarts keep the
 * counts; it is made anew, and the counts start from zero, when httpd
 * itself is started again, or when a restart changes the set of mounted
 * types or declared providers (the slot layout depends on them).
 *
 * The log_transaction hook counts every request of the module's locations:
 * those its handlers answered and those httpd refused there itself (401,
 * 403, 413 before a handler ran). The gauges (generations by status, jobs
 * due) are read from PostgreSQL at every scrape.
 */
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_shm.h>
#include <apr_hash.h>
#include <http_core.h>
#include <http_protocol.h>

#include "httpd/mod_genflow_private.h"
#include "httpd/mod_genflow_limits.h"
#include <apu.h>
#include <apr_optional_hooks.h>
#include <mod_status.h>
#include "core/gf_error.h"
#include "core/gf_metrics.h"
#include "core/gf_route.h"
#include "core/gf_sql.h"

#define SHM_KEY "mod_genflow_metrics_shm"

static gf_metrics_t *M;   /* set in post_config, inherited by the children */

gf_metrics_t *gf_metrics(void)
{
    return M;
}

void gf_metrics_post_config(apr_pool_t *pconf, server_rec *s)
{
    apr_array_header_t *types = gf_registered_types();
    apr_array_header_t *tnames = apr_array_make(pconf, 8, sizeof(const char *));
    apr_array_header_t *pnames = apr_array_make(pconf, 8, sizeof(const char *));
    apr_pool_t *proc = s->process->pool;
    apr_shm_t *shm = NULL;
    gf_metrics_t *m;
    server_rec *sv;
    apr_status_t rv;
    int i;

    M = NULL;
    for (i = 0; types && i < types->nelts; i++) {
        APR_ARRAY_PUSH(tnames, const char *) = APR_ARRAY_IDX(types, i, gf_type_t *)->name;
    }
    for (sv = s; sv; sv = sv->next) {
        gf_server_conf_t *sc = gf_server_conf(sv);
        apr_hash_index_t *hi;
        for (hi = sc && sc->providers ? apr_hash_first(pconf, sc->providers) : NULL; hi;
             hi = apr_hash_next(hi)) {
            const void *key;
            apr_hash_this(hi, &key, NULL, NULL);
            APR_ARRAY_PUSH(pnames, const char *) = key;
        }
    }
    m = gf_metrics_layout(pconf, (const char *const *)tnames->elts, tnames->nelts,
                          (const char *const *)pnames->elts, pnames->nelts);

    apr_pool_userdata_get((void **)&shm, SHM_KEY, proc);
    if (shm && apr_shm_size_get(shm) >= gf_metrics_bytes(m)
        && gf_metrics_matches(m, apr_shm_baseaddr_get(shm))) {
        gf_metrics_attach(m, apr_shm_baseaddr_get(shm), 0, 0);
        M = m;
        return;
    }
    if (shm) {
        /* Another layout (types or providers changed): start again. The
         * children of the previous generation keep their own mapping. */
        apr_pool_userdata_set(NULL, SHM_KEY, apr_pool_cleanup_null, proc);
        apr_shm_destroy(shm);
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, GF_LOGNO(2601)
                     "the mounted types or declared providers changed: the metrics counters "
                     "start from zero");
    }
    rv = apr_shm_create(&shm, gf_metrics_bytes(m), NULL, proc);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, GF_LOGNO(2602)
                     "cannot create the shared memory of the metrics counters (%"
                     APR_SIZE_T_FMT " bytes); genflow-metrics serves the gauges only",
                     gf_metrics_bytes(m));
        return;
    }
    apr_pool_userdata_set(shm, SHM_KEY, apr_pool_cleanup_null, proc);
    gf_metrics_attach(m, apr_shm_baseaddr_get(shm), 1, apr_time_now());
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, GF_LOGNO(2603)
                 "metrics counters: %" APR_SIZE_T_FMT " bytes of shared memory for %s and %s",
                 gf_metrics_bytes(m), gf_count(pconf, m->ntypes, "type", "types"),
                 gf_count(pconf, m->nproviders, "provider", "providers"));
    M = m;
}

/* ---- counting requests ---------------------------------------------------- */

static const char *route_endpoint(gf_route_kind_t kind)
{
    switch (kind) {
    case GF_ROUTE_CREATE:   return "create";
    case GF_ROUTE_GENERATE: return "generate";
    case GF_ROUTE_STATUS:   return "status";
    case GF_ROUTE_CANCEL:   return "cancel";
    case GF_ROUTE_RETRY:    return "retry";
    case GF_ROUTE_EVENTS:   return "events";
    case GF_ROUTE_HISTORY:  return "history";
    case GF_ROUTE_PRESETS:  return "presets";
    default:                return "not_found";
    }
}

/* The endpoint of a request in a GenFlowType location: as gf_type_handler
 * routed it, or routed the same way when httpd refused it before (401,
 * 413). */
static const char *type_endpoint(request_rec *r, const gf_dir_conf_t *dc)
{
    const gf_req_t *rq = ap_get_module_config(r->request_config, &genflow_module);
    gf_route_t route;
    apr_size_t n;
    const char *path;

    if (rq && rq->routed) return route_endpoint((gf_route_kind_t)rq->route_kind);
    n = strlen(dc->base);
    if (n && dc->base[n - 1] == '/') n--;
    path = strncmp(r->uri, dc->base, n) == 0 ? r->uri + n : "";
    gf_route_parse(path, &route);
    return route_endpoint(route.kind);
}

static const char *site_endpoint(const char *h)
{
    if (!h) return NULL;
    if (!strcmp(h, GF_QUOTA_HANDLER)) return "quota";
    if (!strcmp(h, GF_ADMIN_HANDLER)) return "admin";
    if (!strcmp(h, GF_HEALTH_HANDLER)) return "health";
    if (!strcmp(h, GF_METRICS_HANDLER)) return "metrics";
    if (!strcmp(h, GF_WEBHOOK_HANDLER)) return "webhook";
    if (!strcmp(h, GF_UPLOADS_HANDLER)) return "uploads";
    if (!strcmp(h, GF_TYPES_HANDLER)) return "other";
    /* The API prefix's own handler answers only paths that are no endpoint. */
    if (!strcmp(h, GF_API_HANDLER)) return "not_found";
    return NULL;
}

static int log_request(request_rec *r)
{
    gf_dir_conf_t *dc;
    const char *type = NULL, *endpoint;
    request_rec *last = r;

    if (!M) return DECLINED;
    dc = gf_dir_conf(r);
    if (dc && dc->type) {
        type = dc->type->name;
        endpoint = type_endpoint(r, dc);
    }
    else if (!(endpoint = site_endpoint(gf_site_handler(r)))) {
        return DECLINED;
    }
    /* The status the client got: that of the last internal redirect. */
    while (last->next) last = last->next;
    gf_metrics_request(M, type, endpoint, last->status, apr_time_now() - r->request_time);
    return DECLINED;
}

/* ---- the scrape ------------------------------------------------------------ */

int gf_metrics_handler(request_rec *r)
{
    apr_array_header_t *types = gf_registered_types();
    gf_mtext_t t, due;
    ap_dbd_t *dbd;
    int i, j, up, has_db;

    if (!r->handler || strcmp(r->handler, GF_METRICS_HANDLER)) {
        return DECLINED;
    }
    if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD");
        return gf_send_error(r, HTTP_METHOD_NOT_ALLOWED, GF_ERR_METHOD, "use GET");
    }
    gf_mtext_init(&t, r->pool);
    gf_metrics_render(M, &t);

    /* Gauges from the database. Each family's samples must be contiguous:
     * the jobs due are gathered apart and written after the generations.
     * Without a mounted type the module never bound mod_dbd: no query. */
    has_db = types && types->nelts > 0;
    dbd = has_db ? gf_db_acquire(r) : NULL;
    up = dbd != NULL;
    gf_mtext_init(&due, r->pool);
    gf_mtext_family(&t, "genflow_generations", "gauge",
                    "Generations in the database by type and status.");
    gf_mtext_family(&due, "genflow_jobs_due", "gauge",
                    "Queued generations whose next attempt is due now, by type.");
    for (i = 0; up && types && i < types->nelts; i++) {
        const gf_type_t *ty = APR_ARRAY_IDX(types, i, gf_type_t *);
        gf_db_rows_t *rows;
        apr_int64_t n_due = 0;
        if (gf_db_select(r, dbd, ty->labels[GF_SQL_METRICS], &rows, 1, "x") != GF_DB_OK) {
            up = 0;
            break;
        }
        for (j = 0; j < rows->nrows; j++) {
            gf_mtext_sample(&t, "genflow_generations",
                            apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                         apr_atoi64(rows->rows[j][1])),
                            "type", ty->name, "status", rows->rows[j][0], NULL);
            n_due += apr_atoi64(rows->rows[j][2]);
        }
        gf_mtext_sample(&due, "genflow_jobs_due", apr_psprintf(r->pool, "%" APR_INT64_T_FMT, n_due),
                        "type", ty->name, NULL);
    }
    if (dbd) gf_db_release(r);
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/plain; version=0.0.4; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    if (!r->header_only) {
        ap_rputs(gf_mtext_str(&t), r);
        ap_rputs(gf_mtext_str(&due), r);
        gf_breaker_metrics(r);
        gf_limits_metrics(r);
        ap_rputs("# HELP genflow_database_up 1 when PostgreSQL answered this scrape.\n"
                 "# TYPE genflow_database_up gauge\n", r);
        if (has_db) ap_rprintf(r, "genflow_database_up %d\n", up);
        ap_rprintf(r, "# HELP genflow_workers_running Worker threads in the child that "
                      "answered this scrape.\n"
                      "# TYPE genflow_workers_running gauge\n"
                      "genflow_workers_running{pid=\"%d\"} %d\n",
                   (int)getpid(), gf_workers_running());
        {
            int in_flight, max_in_flight, transfers;
            gf_workers_flights(&in_flight, &max_in_flight, &transfers);
            ap_rprintf(r, "# HELP genflow_attempts_in_flight Attempts the child that answered "
                          "this scrape runs at once (GenFlowMaxInFlight caps them).\n"
                          "# TYPE genflow_attempts_in_flight gauge\n"
                          "genflow_attempts_in_flight{pid=\"%d\"} %d\n"
                          "# HELP genflow_provider_exchanges_open HTTP exchanges with "
                          "providers and stores open in that child now.\n"
                          "# TYPE genflow_provider_exchanges_open gauge\n"
                          "genflow_provider_exchanges_open{pid=\"%d\"} %d\n",
                       (int)getpid(), in_flight, (int)getpid(), transfers);
        }
    }
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
        gf_breaker_status(r, flags);
        return OK;
    }
    ap_rprintf(r, "<hr />\n<h2>mod_genflow</h2>\n<dl><dt>Types: %d</dt>"
               "<dt>Worker threads in this child (pid %d): %d</dt></dl>\n",
               types->nelts, (int)getpid(), gf_workers_running());
    gf_breaker_status(r, flags);
    return OK;
}

void gf_metrics_register_hooks(void)
{
    APR_OPTIONAL_HOOK(ap, status_hook, status_section, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_log_transaction(log_request, NULL, NULL, APR_HOOK_MIDDLE);
}
