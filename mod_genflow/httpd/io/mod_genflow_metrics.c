/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_metrics.c: the counters of operational metrics (docs/api.md,
 * docs/operations.md); mod_genflow_handle_metrics.c shows them
 * (SetHandler genflow-metrics, and a section of mod_status).
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

#include "httpd/config/mod_genflow_process.h"
#include "httpd/io/mod_genflow_metrics.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_http.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/config/mod_genflow_request.h"
#include "core/gf_error.h"
#include "core/gf_route.h"

#define SHM_KEY "mod_genflow_metrics_shm"

/* The counters, the process record's member. */
struct gf_metrics_state {
    gf_metrics_t *M;   /* in shared memory: set in post_config, inherited by the children */
};

const apr_size_t gf_metrics_state_size = sizeof(struct gf_metrics_state);

static struct gf_metrics_state *metrics(void)
{
    return GF_PROCESS_STATE(metrics);
}

gf_metrics_t *gf_metrics(void)
{
    return metrics()->M;
}

/* The endpoint labels of genflow_requests_total: a type's endpoints (and
 * not_found), then the handler table's, so a handler added to the table
 * is counted under its own label (core/gf_metrics.c adds "other"). */
static apr_array_header_t *endpoint_labels(apr_pool_t *p)
{
    apr_array_header_t *a = gf_metrics_endpoint_labels(p);
    const gf_handler_t *h;
    for (h = gf_http_handlers(); h && h->name; h++) {
        if (h->metric) APR_ARRAY_PUSH(a, const char *) = h->metric;
    }
    return a;
}

void gf_metrics_post_config(apr_pool_t *pconf, server_rec *s)
{
    apr_array_header_t *types = gf_registered_types();
    apr_array_header_t *tnames = apr_array_make(pconf, 8, sizeof(const char *));
    apr_array_header_t *pnames = apr_array_make(pconf, 8, sizeof(const char *));
    apr_array_header_t *labels = endpoint_labels(pconf), *lnames;
    apr_pool_t *proc = s->process->pool;
    apr_shm_t *shm = NULL;
    gf_metrics_t *m;
    server_rec *sv;
    apr_status_t rv;
    int i;

    metrics()->M = NULL;
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
    lnames = gf_conf_line_names();
    m = gf_metrics_layout(pconf, (const char *const *)tnames->elts, tnames->nelts,
                          (const char *const *)pnames->elts, pnames->nelts,
                          (const char *const *)labels->elts, labels->nelts,
                          lnames ? (const char *const *)lnames->elts : NULL,
                          lnames ? lnames->nelts : 0);

    apr_pool_userdata_get((void **)&shm, SHM_KEY, proc);
    if (shm && apr_shm_size_get(shm) >= gf_metrics_bytes(m)
        && gf_metrics_matches(m, apr_shm_baseaddr_get(shm))) {
        gf_metrics_attach(m, apr_shm_baseaddr_get(shm), 0, 0);
        metrics()->M = m;
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
    metrics()->M = m;
}

/* ---- counting requests ---------------------------------------------------- */

/* The endpoint of a request in a GenFlowType location: as gf_type_handler
 * routed it, or routed the same way when httpd refused it before (401,
 * 413). */
static const char *type_endpoint(request_rec *r, const gf_dir_conf_t *dc)
{
    return gf_metrics_route_endpoint(gf_req_route(r, dc->base)->kind);
}

static int log_request(request_rec *r)
{
    gf_dir_conf_t *dc;
    const gf_handler_t *h;
    const char *type = NULL, *endpoint;
    request_rec *last = r;

    if (!metrics()->M) return DECLINED;
    dc = gf_dir_conf(r);
    if (dc && dc->type) {
        type = dc->type->name;
        endpoint = type_endpoint(r, dc);
    }
    else if ((h = gf_handler_of(r)) && h->metric) {
        endpoint = h->metric;
    }
    else {
        return DECLINED;
    }
    /* The status the client got: that of the last internal redirect. */
    while (last->next) last = last->next;
    gf_metrics_request(metrics()->M, type, endpoint, last->status, apr_time_now() - r->request_time);
    return DECLINED;
}

void gf_metrics_register_hooks(void)
{
    ap_hook_log_transaction(log_request, NULL, NULL, APR_HOOK_MIDDLE);
}
