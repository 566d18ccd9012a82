/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_handle_admin.c: the site-wide admin and health endpoints (docs/api.md).
 *
 *   SetHandler genflow-admin  (who reaches it is Apache's Require; the handler
 *                              answers only a user GenFlowAdministrators names)
 *     GET    {loc}/jobs?type=&status=&user=&limit=   {"items": [...]}
 *     DELETE {loc}/jobs?status=&olderThan=SECONDS     {"deleted": N}
 *     POST   {loc}/credits {"user","amount","reason"} {"user","currentBalance"}
 *     GET    {loc}/webhooks?state=&limit=                {"items": [...]}
 *     POST   {loc}/webhooks/{id}/redeliver               {"id","webhookId","state"}
 *     GET    {loc}/providers                             {"items": [...]}
 *   SetHandler genflow-health
 *     GET    → 200 {"status":"ok","database":"ok","workers":{…},"waiters":{…}} or 503
 */
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_uuid.h>
#include <http_protocol.h>

#include "httpd/api/mod_genflow_handlers.h"
#include "httpd/limits/mod_genflow_limits.h"
#include "httpd/servers/mod_genflow_breaker.h"
#include "httpd/limits/mod_genflow_budgets.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/engine/mod_genflow_engine.h"
#include "httpd/io/mod_genflow_http.h"
#include "httpd/watch/mod_genflow_watch.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/config/mod_genflow_request.h"
#include "httpd/config/mod_genflow_site.h"
#include "core/gf_admin.h"
#include "core/gf_utf8.h"
#include "core/gf_error.h"
#include "core/gf_json.h"
#include "core/gf_route.h"
#include "core/gf_sql.h"

static const gf_type_t *find_type(const char *name)
{
    apr_array_header_t *types = gf_registered_types();
    int i;
    for (i = 0; types && i < types->nelts; i++) {
        const gf_type_t *t = APR_ARRAY_IDX(types, i, gf_type_t *);
        if (!strcmp(t->name, name)) return t;
    }
    return NULL;
}

static int list_jobs(request_rec *r, ap_dbd_t *dbd)
{
    const char *type = gf_query_arg(r->pool, r->args, "type");
    const char *status = gf_query_arg(r->pool, r->args, "status");
    const char *user = gf_query_arg(r->pool, r->args, "user");
    const char *limit_arg = gf_query_arg(r->pool, r->args, "limit");
    apr_array_header_t *types = gf_registered_types();
    gf_admin_list_t *all = gf_admin_list_make(r->pool);
    const char *err;
    long limit;
    int i, j;

    if (type == GF_QUERY_BAD) return gf_send_bad_query(r, "type");
    if (status == GF_QUERY_BAD) return gf_send_bad_query(r, "status");
    if (user == GF_QUERY_BAD) return gf_send_bad_query(r, "user");
    if (limit_arg == GF_QUERY_BAD) return gf_send_bad_query(r, "limit");
    if (type && !find_type(type)) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                             "type: no such type here; give a type's name as its GenFlowType "
                             "names it");
    }
    if (status && !gf_admin_valid_status(status, 0)) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                             "status must be pending, processing, completed, failed or cancelled");
    }
    if ((err = gf_admin_limit(r->pool, limit_arg, &limit)) != NULL) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION, err);
    }
    for (i = 0; types && i < types->nelts; i++) {
        const gf_type_t *t = APR_ARRAY_IDX(types, i, gf_type_t *);
        gf_db_rows_t *rows;
        gf_db_status_t st;
        if (type && strcmp(type, t->name)) continue;
        /* Each filter read from its own index (sql/022). */
        if (user) {
            st = gf_db_select(r, dbd, t->labels[GF_SQL_ADMIN_LIST_USER], &rows, 3, user, status,
                              apr_ltoa(r->pool, limit));
        }
        else if (status) {
            st = gf_db_select(r, dbd, t->labels[GF_SQL_ADMIN_LIST_STATUS], &rows, 2, status,
                              apr_ltoa(r->pool, limit));
        }
        else {
            st = gf_db_select(r, dbd, t->labels[GF_SQL_ADMIN_LIST], &rows, 1,
                              apr_ltoa(r->pool, limit));
        }
        if (st != GF_DB_OK) return gf_send_db_error(r, st);
        for (j = 0; j < rows->nrows; j++) gf_admin_list_add(all, rows->rows[j][0], rows->rows[j][1]);
    }
    return gf_send_json(r, HTTP_OK, gf_admin_list_json(all, limit));
}

static int delete_jobs(request_rec *r, ap_dbd_t *dbd)
{
    const char *status = gf_query_arg(r->pool, r->args, "status");
    const char *older = gf_query_arg(r->pool, r->args, "olderThan");
    apr_array_header_t *types = gf_registered_types();
    const char *err;
    long secs, total = 0;
    int i;

    if (status == GF_QUERY_BAD) return gf_send_bad_query(r, "status");
    if (older == GF_QUERY_BAD) return gf_send_bad_query(r, "olderThan");
    if ((err = gf_admin_delete_args(r->pool, status, older, &secs)) != NULL) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION, err);
    }
    for (i = 0; types && i < types->nelts; i++) {
        const gf_type_t *t = APR_ARRAY_IDX(types, i, gf_type_t *);
        gf_db_rows_t *rows;
        gf_db_status_t st = gf_db_select(r, dbd, t->labels[GF_SQL_ADMIN_DELETE], &rows, 3,
                                         status, status, apr_ltoa(r->pool, secs));
        if (st != GF_DB_OK) return gf_send_db_error(r, st);
        if (rows->nrows == 1) total += atol(rows->rows[0][0]);
    }
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, GF_LOGNO(1901)
                  "admin %s deleted %s (status=%s, older than %ld s)",
                  r->user ? r->user : "-",
                  gf_count(r->pool, total, "terminal generation", "terminal generations"),
                  status ? status : "any", secs);
    return gf_send_json(r, HTTP_OK, apr_psprintf(r->pool, "{\"deleted\":%ld}", total));
}

static int grant_credits(request_rec *r, ap_dbd_t *dbd)
{
    gf_server_conf_t *sc = gf_server_conf(r->server);
    char *body;
    apr_size_t len;
    const char *err, *user, *reason;
    json_object *doc;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    apr_int64_t amount;
    int rc;

    if (!gf_content_type_is_json(apr_table_get(r->headers_in, "Content-Type"))) {
        return gf_send_error(r, HTTP_UNSUPPORTED_MEDIA_TYPE, GF_ERR_UNSUPPORTED_MEDIA,
                             "send the body as JSON, with Content-Type: application/json");
    }
    if ((rc = gf_read_json_body(r, 4096, &body, &len)) != GF_CONTINUE) return rc;
    if (!(doc = gf_json_parse(r->pool, body, len, &err))) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION, err);
    }
    if ((err = gf_admin_grant_args(doc, &user, &amount, &reason)) != NULL) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION, err);
    }
    /* The account may not exist yet: open it as first use would. */
    st = gf_db_select(r, dbd, GF_SQL_ACCOUNT_ENSURE, &rows, 2, user,
                      apr_ltoa(r->pool, gf_conf_starting_credits(sc)));
    if (st == GF_DB_OK) {
        /* The grant's id is chosen here: run again after a lost
         * connection, the statement grants nothing the second time. */
        apr_uuid_t u;
        char op[APR_UUID_FORMATTED_LENGTH + 1];
        apr_uuid_get(&u);
        apr_uuid_format(op, &u);
        st = gf_db_select(r, dbd, GF_SQL_ADMIN_GRANT, &rows, 4, user,
                          apr_psprintf(r->pool, "%" APR_INT64_T_FMT, amount),
                          gf_admin_grant_reason(r->pool, r->user, reason), op);
        if (st == GF_DB_OK && rows->nrows == 0 && rows->rerun) {
            /* The first run committed; report the balance it left. */
            st = gf_db_select(r, dbd, GF_SQL_ACCOUNT_STATE, &rows, 2, "0", user);
        }
    }
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    if (rows->nrows != 1) return gf_send_db_error(r, GF_DB_ERROR);
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, GF_LOGNO(1902)
                  "admin %s granted %" APR_INT64_T_FMT " credits to %s",
                  r->user ? r->user : "-", amount, user);
    return gf_send_json(r, HTTP_OK, gf_admin_granted(r->pool, user, rows->rows[0][0]));
}

/* GET {admin}/webhooks?state=&limit=: the deliveries that failed for good
 * (or those waiting, or delivered), newest first. */
static int list_webhooks(request_rec *r, ap_dbd_t *dbd)
{
    const char *limit_arg = gf_query_arg(r->pool, r->args, "limit");
    const char *state = gf_query_arg(r->pool, r->args, "state"), *err;
    long limit;
    gf_db_rows_t *rows;
    gf_db_status_t st;

    if (limit_arg == GF_QUERY_BAD) return gf_send_bad_query(r, "limit");
    if (state == GF_QUERY_BAD) return gf_send_bad_query(r, "state");
    if ((err = gf_admin_limit(r->pool, limit_arg, &limit)) != NULL
        || (err = gf_admin_webhook_state(&state)) != NULL) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION, err);
    }
    st = gf_db_select(r, dbd, GF_SQL_WEBHOOK_FAILED, &rows, 2, state, apr_ltoa(r->pool, limit));
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    return gf_send_json(r, HTTP_OK, gf_admin_items(r->pool, (const char *const *const *)rows->rows,
                                                   rows->nrows));
}

/* POST {admin}/webhooks/{id}/redeliver: a delivery goes out again (a
 * waiting one: now), with the same webhook-id. */
static int redeliver_webhook(request_rec *r, ap_dbd_t *dbd, const char *id)
{
    gf_db_rows_t *rows;
    gf_db_status_t st = gf_db_select(r, dbd, GF_SQL_WEBHOOK_REDELIVER, &rows, 1, id);
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    if (rows->nrows != 1) {
        return gf_send_error(r, HTTP_NOT_FOUND, GF_ERR_NOT_FOUND,
                             "no webhook delivery has that id");
    }
    ap_log_rerror(APLOG_MARK, APLOG_NOTICE, 0, r, GF_LOGNO(1903)
                  "admin %s asked to redeliver webhook %s", r->user ? r->user : "-", rows->rows[0][0]);
    return gf_send_json(r, HTTP_ACCEPTED, gf_admin_redelivered(r->pool, id, rows->rows[0][0]));
}

/* GET {admin}/providers: what this server's providers are set to and
 * where they stand: the circuit (shared memory), the limits and the
 * budget's period spend (the database, for every node), by name. */
static int list_providers(request_rec *r)
{
    gf_server_conf_t *sc = gf_server_conf(r->server);
    /* By name: the circuits come sorted, one per provider of the server. */
    json_object *circuits = gf_breaker_health(r->pool, r->server);
    json_object *out = gf_json_pool_own(r->pool, json_object_new_object());
    json_object *items = json_object_new_array();

    json_object_object_foreach(circuits, name, circuit) {
        const gf_provider_t *prov = apr_hash_get(sc->providers, name, APR_HASH_KEY_STRING);
        gf_admin_provider_t v;
        if (!prov) continue;
        v.name = prov->name;
        v.kind = prov->kind->kind;
        v.model = prov->default_model;
        v.cost = prov->cost_per_call;
        v.cost_per_unit = prov->cost_per_unit;
        v.poll_every = prov->poll_every;
        json_object_array_add(items, gf_admin_provider_item(&v, circuit, gf_limits_health(r, prov),
                                                            gf_budgets_health(r, prov)));
    }
    json_object_object_add(out, "items", items);
    return gf_send_json(r, HTTP_OK, gf_json_dump(r->pool, out));
}

/* The admin endpoint r names, by the path below the admin location. */
static void admin_route(request_rec *r, gf_admin_route_t *route)
{
    const char *rest = gf_site_rest(r);
    gf_admin_route_parse(rest ? rest : "", route);
}

const char *gf_admin_allow(request_rec *r)
{
    gf_admin_route_t route;
    admin_route(r, &route);
    return route.allow;
}

/* Is the request's user an administrator (GenFlowAdministrators)? Only
 * someone Apache authenticated, never by an events host's token. */
int gf_request_is_admin(request_rec *r)
{
    const gf_admins_t *a = gf_server_conf(r->server)->admins;
    int i;

    if (!a || !r->user || !*r->user || gf_req(r)->events_token) return 0;
    for (i = 0; a->users && i < a->users->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(a->users, i, const char *), r->user)) return 1;
    }
    if (a->expr) {
        const char *err = NULL;
        int rc = ap_expr_exec(r, a->expr, &err);
        if (err) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GF_LOGNO(5106)
                          "GenFlowAdministrators (%s): the expression failed: %s; "
                          "%s is not taken for an administrator", a->where, err, r->user);
            return 0;
        }
        return rc > 0;
    }
    return 0;
}

/* The admin API and the metrics answer administrators only. Apache's
 * Require decides who reaches the handler; the module checks again, so
 * that a section written later (<Location /api> Require valid-user after
 * <Location /api/admin>) cannot open them to every user. */
int gf_refuse_unless_admin(request_rec *r)
{
    int rc = gf_refuse_without_user(r);
    if (rc != GF_CONTINUE) return rc;
    if (gf_request_is_admin(r)) return GF_CONTINUE;
    ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, GF_LOGNO(5107)
                  "%s is not an administrator (GenFlowAdministrators%s%s), though the access "
                  "rules of %s let them in: refused", r->user,
                  gf_server_conf(r->server)->admins ? " at " : ": not set, nobody is",
                  gf_server_conf(r->server)->admins ? gf_server_conf(r->server)->admins->where : "",
                  r->uri);
    return gf_send_error(r, HTTP_FORBIDDEN, GF_ERR_FORBIDDEN,
                         "this endpoint is for an administrator");
}

/* Who may call the admin API is Apache's Require and GenFlowAdministrators;
 * the handler wants someone it authenticated: a configuration that grants
 * the location to all (or an events host's token) gets no answer from it. */
int gf_refuse_without_user(request_rec *r)
{
    if (!r->user || !*r->user || gf_req(r)->events_token) {
        return gf_send_error(r, HTTP_UNAUTHORIZED, GF_ERR_UNAUTHORIZED,
                             "this endpoint is for an authenticated administrator; the "
                             "location lets anyone in, but the module does not answer them");
    }
    return GF_CONTINUE;
}

int gf_admin_handler(request_rec *r)
{
    gf_admin_route_t route;
    ap_dbd_t *dbd;
    int rc;

    admin_route(r, &route);
    if (route.kind == GF_ADMIN_NONE) {
        return gf_send_error(r, HTTP_NOT_FOUND, GF_ERR_NOT_FOUND,
                             apr_psprintf(r->pool, "no endpoint %s here; the admin API has "
                                          "jobs, credits, webhooks, "
                                          "webhooks/{id}/redeliver and providers",
                                          gf_utf8_clean(r->pool, r->uri, strlen(r->uri), 200)));
    }
    if ((rc = gf_refuse_unless_admin(r)) != GF_CONTINUE) return rc;
    if (!((r->method_number == M_GET && strstr(route.allow, "GET"))
          || (r->method_number == M_POST && strstr(route.allow, "POST"))
          || (r->method_number == M_DELETE && strstr(route.allow, "DELETE")))
        || (r->method_number == M_GET && r->header_only)) {
        apr_table_setn(r->headers_out, "Allow", route.allow);
        return gf_send_error(r, HTTP_METHOD_NOT_ALLOWED, GF_ERR_METHOD,
                             apr_psprintf(r->pool, "use %s", route.allow));
    }
    if (!(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);
    switch (route.kind) {
    case GF_ADMIN_CREDITS:   return grant_credits(r, dbd);
    case GF_ADMIN_WEBHOOKS:  return list_webhooks(r, dbd);
    case GF_ADMIN_REDELIVER: return redeliver_webhook(r, dbd, route.id);
    case GF_ADMIN_PROVIDERS: return list_providers(r);
    default:
        return r->method_number == M_GET ? list_jobs(r, dbd) : delete_jobs(r, dbd);
    }
}

/* The circuit breakers of this server's providers and, for an
 * administrator, their limits and budgets (shared by every child, the
 * budgets by every node: the same answer whichever child serves it), by
 * provider name. */
static json_object *providers_health(request_rec *r)
{
    gf_server_conf_t *sc = gf_server_conf(r->server);
    json_object *out = gf_breaker_health(r->pool, r->server);
    apr_hash_index_t *hi;
    int admin = gf_request_is_admin(r);

    for (hi = sc->providers ? apr_hash_first(r->pool, sc->providers) : NULL; hi;
         hi = apr_hash_next(hi)) {
        const gf_provider_t *prov;
        json_object *o;
        void *v;
        apr_hash_this(hi, NULL, NULL, &v);
        prov = v;
        /* Limits and money are an administrator's to see (and the budget
         * costs a read of the database): health is usually anonymous. */
        if (admin && json_object_object_get_ex(out, prov->name, &o)) {
            json_object_object_add(o, "limits", gf_limits_health(r, prov));
            json_object_object_add(o, "budget", gf_budgets_health(r, prov));
        }
    }
    return out;
}

int gf_health_handler(request_rec *r)
{
    ap_dbd_t *dbd;
    gf_db_rows_t *rows;
    gf_admin_health_t h;

    if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD");
        return gf_send_error(r, HTTP_METHOD_NOT_ALLOWED, GF_ERR_METHOD, "use GET");
    }
    dbd = gf_db_acquire(r);
    h.ok = dbd && gf_db_select(r, dbd, GF_SQL_PING, &rows, 1, "ok") == GF_DB_OK;
    h.per_child = gf_conf_workers(gf_server_conf(r->server));
    h.running = gf_engine_running();
    h.pid = (int)getpid();
    /* Whether this child's listener has its LISTEN connection: without it
     * waits and pickup fall back to short polls. */
    h.listening = gf_engine_listening();
    /* Attempts this child runs at once on its loop (their provider
     * exchanges hold no thread) and the exchanges open now. */
    gf_engine_flights(&h.in_flight, &h.max_in_flight, &h.exchanges, &h.kept_polls);
    /* Requests of this child waiting for a generation: parked (no thread)
     * and blocking a thread (mod_genflow_watch.c). */
    gf_watch_counts(&h.parked, &h.blocking);
    h.types = gf_registered_types() ? gf_registered_types()->nelts : 0;
    h.providers = json_object_get(providers_health(r));
    if (!h.ok) apr_table_setn(r->headers_out, "Retry-After", GF_RETRY_AFTER_UNAVAILABLE);
    return gf_send_json(r, h.ok ? HTTP_OK : HTTP_SERVICE_UNAVAILABLE, gf_admin_health(r->pool, &h));
}
