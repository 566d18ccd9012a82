/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_handlers.c: the module's content handlers, each named once.
 *
 * One ap_hook_handler, the module's only one, runs the entry whose name
 * the request's handler is, after it made the request's trace
 * (mod_genflow_trace.h) and the CORS steps (a preflight answered, a
 * cross-site write refused);
 * the CORS preflights take an entry's methods and the request metrics its
 * endpoint label from the same table (gf_handler_of). A new handler is
 * one line here and its function.
 */
#include <string.h>

#include "httpd/api/mod_genflow_handlers.h"
#include "httpd/gates/mod_genflow_cors.h"
#include "httpd/io/mod_genflow_http.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/config/mod_genflow_site.h"
#include "httpd/io/mod_genflow_trace.h"
#include "core/gf_error.h"
#include "core/gf_utf8.h"
#include <apr_strings.h>
#include <http_protocol.h>
#include <apu.h>
#include <apr_optional_hooks.h>
#include <mod_status.h>

static const gf_handler_t handlers[] = {
    /* fixups sets it in a GenFlowType location; the route decides the rest. */
    { .name = GF_TYPE_HANDLER,      .handle = gf_type_handler, .below = 1 },
    { .name = "genflow-quota",    .handle = gf_quota_handler,   .allow = "GET, HEAD",
      .metric = "quota" },
    { .name = "genflow-webhook",  .handle = gf_webhook_handler, .allow = "POST",
      .metric = "webhook", .from_servers = 1, .below = 1 },
    { .name = "genflow-admin",    .handle = gf_admin_handler,   .allow_at = gf_admin_allow,
      .metric = "admin", .below = 1 },
    { .name = "genflow-health",   .handle = gf_health_handler,  .allow = "GET, HEAD",
      .metric = "health" },
    { .name = "genflow-metrics",  .handle = gf_metrics_handler, .allow = "GET, HEAD",
      .metric = "metrics" },
    /* Answers only paths that are no endpoint: a JSON 404 for any method. */
    { .name = "genflow-api",      .handle = gf_api_handler,
      .allow = "GET, HEAD, POST, DELETE", .metric = "not_found", .below = 1 },
    { .name = "genflow-uploads",  .handle = gf_uploads_handler, .allow = "POST",
      .metric = "uploads" },
    { .name = "genflow-types",    .handle = gf_discovery_handler,   .allow = "GET, HEAD",
      .metric = "types" },
    { .name = NULL }
};

/* A handler of one path answers that path alone: "/api/quota/x",
 * "/api/metrics/events/x" are no endpoint, and neither is a path whose
 * handler no <Location> set (gf_site_rest). */
static int beside_location(request_rec *r, const gf_handler_t *h)
{
    const char *rest;
    if (h->below) return 0;
    rest = gf_site_rest(r);
    return !rest || *rest;
}

/* The module's one handler: for a request whose handler is one of the
 * table's, a CORS preflight is answered, a cross-site write refused, a
 * path that is not the handler's refused, and anything else goes to the
 * entry's function. */
static int dispatch(request_rec *r)
{
    const gf_handler_t *h = gf_handler_named(r->handler);
    int rc;
    if (!h) return DECLINED;
    gf_trace_request(r);   /* GENFLOW_TRACE_ID for the access log */
    if ((rc = gf_cors_preflight(r)) != GF_CONTINUE) return rc;
    if ((rc = gf_cors_refuse_cross_site(r)) != GF_CONTINUE) return rc;
    if (beside_location(r, h)) {
        return gf_send_error(r, HTTP_NOT_FOUND, GF_ERR_NOT_FOUND,
                             apr_psprintf(r->pool, "no endpoint %s here",
                                          gf_utf8_clean(r->pool, r->uri, strlen(r->uri), 200)));
    }
    return h->handle(r);
}

void gf_handlers_pre_config(void)
{
    gf_http_set_handlers(handlers);
}

void gf_handlers_register_hooks(void)
{
    /* Really first, as the CORS steps always ran: a preflight or a
     * cross-site write never reaches another module's handler first. */
    ap_hook_handler(dispatch, NULL, NULL, APR_HOOK_REALLY_FIRST);
    /* An events host's requests, before any access rule. */
    gf_gate_register_hooks();
    APR_OPTIONAL_HOOK(ap, status_hook, gf_metrics_status_section, NULL, NULL, APR_HOOK_MIDDLE);
}
