/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_handle_type.c: the per-type endpoints (docs/api.md), routed.
 *
 *   POST {base}/create       validate, build the prompt, reserve, insert
 *   POST {base}/generate     start a pending generation, or create+start
 *   GET  {base}/status/{id}  the caller's generation
 *   and cancel/{id}, retry/{id}, events/{id}, history, presets
 *
 * This file takes a request to its endpoint: the route, the method, the
 * authenticated user, and for the endpoints that create a generation the
 * Idempotency-Key. The endpoints are in the files mod_genflow_handle_int.h lists.
 *
 * Handlers only validate, call single-statement SQL and format answers;
 * the money rules live in those statements (gf_sql.c). Reservations and
 * cancels are counted in the shared metrics (gf_metrics.h); requests are
 * counted at their log entry (mod_genflow_metrics.c).
 */
#include <string.h>
#include <apr_strings.h>
#include <http_protocol.h>
#include <http_request.h>

#include "httpd/api/mod_genflow_handle_int.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/io/mod_genflow_http.h"
#include "httpd/gates/mod_genflow_idempotency.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/config/mod_genflow_request.h"
#include "httpd/api/mod_genflow_handlers.h"
#include "httpd/config/mod_genflow_site.h"
#include "core/gf_error.h"
#include "core/gf_route.h"
#include "core/gf_sql.h"

/* The endpoints an Idempotency-Key covers. */
typedef struct {
    const gf_dir_conf_t *dc;
    const gf_route_t *route;
} idem_call_t;

/* An Idempotency-Key whose first request died after creating generation
 * id: answer for that generation the way the endpoint would have. */
static int type_resume(request_rec *r, void *baton, const char *id)
{
    idem_call_t *call = baton;
    const gf_dir_conf_t *dc = call->dc;
    gf_db_rows_t *rows;

    if (gf_db_select1(r, gf_type_label(dc, GF_SQL_GET), &rows, 2, id, r->user) != GF_DB_OK) {
        return gf_send_db_error(r, GF_DB_UNAVAILABLE);
    }
    if (rows->nrows == 0) return gf_type_no_such_generation(r);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, GF_LOGNO(1306)
                  "Idempotency-Key taken over: answering for generation %s", id);
    if (call->route->kind == GF_ROUTE_CREATE) {
        gf_created_t created;
        if (!gf_type_created_from_status(r, rows->rows[0][0], &created)) {
            return gf_send_db_error(r, GF_DB_ERROR);
        }
        return gf_type_send_created(r, dc, &created);
    }
    /* generate/retry: start it if its first request died before that
     * (within the active limit: 429 otherwise, and it stays created). */
    {
        ap_dbd_t *dbd = gf_db_acquire(r);
        int rc;
        if (!dbd) return gf_send_db_error(r, GF_DB_UNAVAILABLE);
        if ((rc = gf_type_queue(r, dbd, dc, id, 0, 0)) != GF_CONTINUE) return rc;
    }
    return gf_type_answer_when_done(r, dc, id, gf_type_requested_wait(r, dc));
}

static int run_idempotent(request_rec *r, void *baton)
{
    idem_call_t *call = baton;
    switch (call->route->kind) {
    case GF_ROUTE_CREATE:   return gf_type_handle_create(r, call->dc);
    case GF_ROUTE_GENERATE: return gf_type_handle_generate(r, call->dc);
    default:                return gf_type_handle_retry(r, call->dc, call->route);
    }
}

/* By r->method_number, which httpd sets from the exact method token
 * (HEAD is M_GET; anything unknown is M_INVALID): never by a substring of
 * the Allow list, where "OS" would match "POST". */
static int method_allowed(request_rec *r, const char *allow)
{
    if (r->method_number == M_POST) return strstr(allow, "POST") != NULL;
    if (r->method_number == M_GET) return strstr(allow, "GET") != NULL;
    return 0;
}

int gf_type_handler(request_rec *r)
{
    gf_dir_conf_t *dc;
    gf_route_t route;

    dc = gf_dir_conf(r);
    if (!dc || !dc->type) {
        return DECLINED;
    }
    route = *gf_req_route(r, dc->base);
    if (route.kind == GF_ROUTE_NONE) {
        return gf_send_error(r, HTTP_NOT_FOUND, GF_ERR_NOT_FOUND,
                             apr_psprintf(r->pool, "no endpoint %s here; a type has create, "
                                          "generate, status/{id}, retry/{id}, cancel/{id}, "
                                          "events/{id}, history and presets", r->uri));
    }
    if (!method_allowed(r, route.allow)) {
        apr_table_setn(r->headers_out, "Allow", route.allow);
        return gf_send_error(r, HTTP_METHOD_NOT_ALLOWED, GF_ERR_METHOD,
                             apr_psprintf(r->pool, "%s is not allowed here; use %s",
                                          r->method, route.allow));
    }
    if (gf_site_events_host(r->server)) {
        /* An events host: its streams alone, each opened by its token
         * (the gate let nothing else through; a login does not count). */
        int rc;
        if (route.kind != GF_ROUTE_EVENTS) return gf_send_events_host_404(r);
        if ((rc = gf_type_events_token(r, dc, &route)) != GF_CONTINUE) return rc;
    }
    if (!r->user || !*r->user) {
        return gf_send_error(r, HTTP_UNAUTHORIZED, GF_ERR_UNAUTHORIZED,
                             GF_MSG_NO_USER);
    }
    if (strlen(r->user) > 255) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION, GF_MSG_USER_TOO_LONG);
    }
    if (route.kind == GF_ROUTE_CREATE || route.kind == GF_ROUTE_GENERATE
        || route.kind == GF_ROUTE_RETRY) {
        idem_call_t call;
        call.dc = dc;
        call.route = &route;
        return gf_idempotent(r, gf_conf_max_body(dc), run_idempotent, type_resume, &call);
    }
    switch (route.kind) {
    case GF_ROUTE_STATUS:   return gf_type_handle_status(r, dc, &route);
    case GF_ROUTE_CANCEL:   return gf_type_handle_cancel(r, dc, &route);
    case GF_ROUTE_EVENTS:   return gf_type_handle_events(r, dc, &route);
    case GF_ROUTE_HISTORY:  return gf_type_handle_history(r, dc);
    case GF_ROUTE_PRESETS:  return gf_type_handle_presets(r, dc);
    default:                return DECLINED;
    }
}
