/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_cors.c: cross-origin requests (GenFlowCORSOrigins).
 *
 * In every location the module serves (a GenFlowType location or a
 * SetHandler genflow-* one) whose GenFlowCORSOrigins allows the request's
 * Origin:
 *  - header_parser (before any authentication): an actual request gets
 *    Access-Control-Allow-Origin, -Allow-Credentials and -Expose-Headers in
 *    r->err_headers_out, so they are on every answer, a 401 from
 *    mod_auth_basic or a JSON error of the module included;
 *  - a preflight (OPTIONS with Origin and Access-Control-Request-Method)
 *    is marked there; the access_checker_ex hook then grants it, which
 *    makes httpd skip authentication and Require (ap_process_request_internal
 *    runs check_user_id and auth_checker only when every access_checker_ex
 *    declines), and the module's one handler answers it 204 with the
 *    endpoint's methods (gf_cors_preflight, its first step). A browser never sends credentials with a preflight, so it
 *    could not pass them. The answer reveals nothing but the endpoint's
 *    methods and the allowed headers.
 * Any other origin gets no CORS header at all, and its preflight goes
 * through authentication like any request (401). Every answer of a
 * location with CORS carries Vary: Origin.
 *
 * Cross-site writes: CORS only decides which pages may read answers. A
 * form or a simple fetch on any site can still send a POST with the
 * user's credentials and no preflight. The handler's second step
 * (gf_cors_refuse_cross_site) refuses every state-changing request that a browser says comes from a page other
 * than the site's own or a listed origin (gf_cors_cross_site) with 403,
 * before any handler reads its body or the database; clients that are
 * not browsers send neither Origin nor Sec-Fetch-Site and go on (so do
 * browsers too old to send either: docs/api.md "Cross-site writes"). The JSON
 * endpoints require Content-Type application/json besides, which no page
 * can send to another site without a preflight.
 */
#include <string.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>

#include "httpd/gates/mod_genflow_cors.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_http.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/config/mod_genflow_request.h"
#include "core/gf_cors.h"
#include "core/gf_error.h"
#include "core/gf_route.h"
#include "core/gf_utf8.h"

/* The location's CORS settings when the module serves it and they allow
 * something; else NULL. */
static const gf_cors_conf_t *served_cors(request_rec *r)
{
    gf_dir_conf_t *dc = gf_dir_conf(r);

    if (!dc || !gf_cors_enabled(dc->cors)) {
        return NULL;
    }
    if (!dc->type && !gf_handler_of(r)) {
        return NULL;
    }
    return dc->cors;
}

/* header_parser: runs for main requests (initial ones and internal
 * redirects) after the final location walk, before authentication. */
static int cors_header_parser(request_rec *r)
{
    const gf_cors_conf_t *conf = served_cors(r);
    const char *origin, *allow;

    if (!conf) {
        return DECLINED;
    }
    /* The answer depends on Origin, for every client (caches). */
    apr_table_mergen(r->err_headers_out, "Vary", "Origin");
    origin = apr_table_get(r->headers_in, "Origin");
    if (!(allow = gf_cors_allow_origin(conf, origin))) {
        return DECLINED;
    }
    if (r->method_number == M_OPTIONS && !r->prev
        && apr_table_get(r->headers_in, "Access-Control-Request-Method")) {
        gf_req(r)->cors_preflight = 1;
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r, "CORS preflight from %s", origin);
        return DECLINED;
    }
    gf_cors_actual_headers(conf, allow, r->err_headers_out);
    return DECLINED;
}

/* check_access_ex, first: a marked preflight needs no user. Only an
 * initial request is ever marked (never a subrequest or an internal
 * redirect, whose request_config is their own), so registering it
 * AP_AUTH_INTERNAL_PER_CONF, as mod_authz_core does, keeps httpd's
 * shortcut for subrequests of an unchanged configuration. */
static int cors_access(request_rec *r)
{
    const gf_req_t *rq = ap_get_module_config(r->request_config, &genflow_module);
    return rq && rq->cors_preflight ? OK : DECLINED;
}

/* The methods of the endpoint a preflight asks about. */
static const char *endpoint_methods(request_rec *r)
{
    gf_dir_conf_t *dc = gf_dir_conf(r);
    const gf_handler_t *h;

    if (dc && dc->type) {
        const gf_route_t *route = gf_req_route(r, dc->base);
        /* No such endpoint: let the real request through to its JSON 404. */
        return route->allow ? route->allow : GF_CORS_DEFAULT_METHODS;
    }
    h = gf_handler_of(r);
    if (h && h->allow_at) return h->allow_at(r);
    return h && h->allow ? h->allow : GF_CORS_DEFAULT_METHODS;
}

int gf_cors_preflight(request_rec *r)
{
    const gf_req_t *rq = ap_get_module_config(r->request_config, &genflow_module);
    const gf_cors_conf_t *conf;
    const char *origin, *allow;

    if (!rq || !rq->cors_preflight || !(conf = served_cors(r))) {
        return GF_CONTINUE;
    }
    origin = apr_table_get(r->headers_in, "Origin");
    if (!(allow = gf_cors_allow_origin(conf, origin))) {
        return GF_CONTINUE;   /* cannot happen: header_parser checked it */
    }
    ap_discard_request_body(r);
    gf_cors_preflight_headers(r->pool, conf, allow, endpoint_methods(r),
                              apr_table_get(r->headers_in, "Access-Control-Request-Headers"),
                              r->headers_out);
    r->status = HTTP_NO_CONTENT;
    return OK;
}

int gf_cors_refuse_cross_site(request_rec *r)
{
    gf_dir_conf_t *dc;
    const gf_handler_t *h;
    const char *why, *origin, *fetch_site;

    if (r->method_number == M_GET || r->method_number == M_OPTIONS) {
        return GF_CONTINUE;
    }
    dc = gf_dir_conf(r);
    h = gf_handler_of(r);
    if ((!dc || !dc->type) && (!h || h->from_servers)) {
        return GF_CONTINUE;
    }
    origin = apr_table_get(r->headers_in, "Origin");
    fetch_site = apr_table_get(r->headers_in, "Sec-Fetch-Site");
    why = gf_cors_cross_site(dc ? dc->cors : NULL, origin, fetch_site,
                             apr_table_get(r->headers_in, "Host"));
    if (!why) {
        return GF_CONTINUE;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, GF_LOGNO(1203)
                  "refused a cross-site %s (Origin: %s, Sec-Fetch-Site: %s)", r->method,
                  origin ? gf_utf8_clean(r->pool, origin, strlen(origin), 128) : "-",
                  fetch_site ? gf_utf8_clean(r->pool, fetch_site, strlen(fetch_site), 32) : "-");
    return gf_send_error(r, HTTP_FORBIDDEN, GF_ERR_FORBIDDEN, why);
}

void gf_cors_register_hooks(void)
{
    ap_hook_header_parser(cors_header_parser, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_check_access_ex(cors_access, NULL, NULL, APR_HOOK_FIRST,
                            AP_AUTH_INTERNAL_PER_CONF);

}
