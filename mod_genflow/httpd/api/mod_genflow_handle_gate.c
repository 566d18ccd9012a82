/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_handle_gate.c: an events host (mod_genflow_site.h) answers
 * the event streams of the types and nothing else, whatever its access
 * rules say.
 *
 * The virtual host inherits every <Location> of the main server: the
 * admin API, the metrics, every type's writes, and whatever else the site
 * serves. Its own access rule for the streams (they need no login there)
 * replaces, under httpd's default AuthMerging Off, the Require of every
 * section it covers; a pattern one character too wide then opens the
 * admin API to anyone. So the module closes the host itself, before any
 * access rule runs (post_perdir_config): a request that is not the events
 * route of a type's location is a JSON 404 here. And the stream's token
 * is the credential there (check_authn, first): a valid one makes its
 * owner the user, so a host that keeps the site's Require valid-user
 * needs no rule of its own; anything else is a 401, a login included.
 */
#include <apr_strings.h>
#include <http_protocol.h>
#include <http_request.h>
#include <mod_auth.h>

#include "httpd/api/mod_genflow_handlers.h"
#include "httpd/api/mod_genflow_handle_int.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_http.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/config/mod_genflow_request.h"
#include "httpd/config/mod_genflow_site.h"
#include "core/gf_error.h"
#include "core/gf_route.h"

int gf_send_events_host_404(request_rec *r)
{
    return gf_send_error(r, HTTP_NOT_FOUND, GF_ERR_NOT_FOUND,
                         "this host serves event streams only: GET {type}/events/{id}?token=, "
                         "the eventsUrl of a generation");
}

/* The type location of r when r is a stream a token may open: GET (or
 * its CORS preflight) of a type's events route with a generation id.
 * Anything else of that shape (a POST, "events/create") is no stream. */
static const gf_dir_conf_t *events_route(request_rec *r, const gf_route_t **route)
{
    const gf_dir_conf_t *dc = gf_dir_conf(r);
    if (!dc || !dc->type) return NULL;
    *route = gf_req_route(r, dc->base);
    if ((*route)->kind != GF_ROUTE_EVENTS || !(*route)->id_valid) return NULL;
    return r->method_number == M_GET || r->method_number == M_OPTIONS ? dc : NULL;
}

static int gate(request_rec *r)
{
    const gf_route_t *route;
    if (!gf_site_events_host(r->server) || events_route(r, &route)) return DECLINED;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GF_LOGNO(1210)
                  "events host: %s %s is no event stream: 404",
                  r->method, ap_escape_logitem(r->pool, r->uri));
    /* No answer reads the body: drop the connection after this one. */
    r->connection->keepalive = AP_CONN_CLOSE;
    gf_send_events_host_404(r);
    return DONE;
}

static int token_authn(request_rec *r)
{
    const gf_dir_conf_t *dc;
    const gf_route_t *route;
    if (!gf_site_events_host(r->server) || !(dc = events_route(r, &route))) return DECLINED;
    if (gf_type_events_token(r, dc, route) != GF_CONTINUE) return DONE;   /* 401, answered */
    r->ap_auth_type = "genflow-events-token";
    return OK;
}

void gf_gate_register_hooks(void)
{
    ap_hook_post_perdir_config(gate, NULL, NULL, APR_HOOK_REALLY_FIRST);
    /* Before mod_auth_basic and every other authentication: on an events
     * host's stream the token is the credential. */
    ap_hook_check_authn(token_authn, NULL, NULL, APR_HOOK_REALLY_FIRST,
                        AP_AUTH_INTERNAL_PER_CONF);
}
