/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_handle_webhook.c: POST {location}/{provider-name}, SetHandler
 * genflow-webhook (no Apache authentication: the signature is the proof).
 *
 * A signed notification that an asynchronous provider job ended wakes the
 * generation's poll at once; the poll then completes it through the usual
 * guarded statements, so a forged, replayed or duplicated delivery can
 * change nothing by itself. Bad or stale signatures → 401, nothing changes.
 */
#include <string.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "httpd/api/mod_genflow_handlers.h"
#include "httpd/config/mod_genflow_site.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/engine/mod_genflow_engine.h"
#include "httpd/io/mod_genflow_http.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_error.h"
#include "core/gf_route.h"
#include "core/gf_json.h"
#include "providers/gf_provider_net.h"
#include "core/gf_sql.h"

/* Provider notifications are small JSON documents; anything larger than
 * 1 MiB is refused with 413 (JSON, from gf_read_json_body, before reading
 * it) so an unauthenticated sender cannot make us buffer and MAC more. */
#define WEBHOOK_MAX_BODY (1024 * 1024)

int gf_webhook_handler(request_rec *r)
{
    gf_server_conf_t *sc;
    const gf_provider_t *prov;
    const gf_net_settings_t *ns;
    const char *name, *err = NULL, *job_id = NULL, *perr;
    char *body;
    apr_size_t len;
    json_object *doc;
    apr_array_header_t *types = gf_registered_types();
    ap_dbd_t *dbd;
    int rc, i, woken = 0;

    if (strcmp(r->method, "POST")) {
        apr_table_setn(r->headers_out, "Allow", "POST");
        return gf_send_error(r, HTTP_METHOD_NOT_ALLOWED, GF_ERR_METHOD, "use POST");
    }
    sc = gf_server_conf(r->server);
    /* {location}/{provider}: one segment, nothing more or less. */
    name = gf_site_rest(r);
    name = name ? gf_route_segment(name) : NULL;
    prov = name ? apr_hash_get(sc->providers, name, APR_HASH_KEY_STRING) : NULL;
    ns = prov ? prov->impl : NULL;
    if (!prov || !ns || (!ns->webhook_secret && !ns->webhook_keys)) {
        return gf_send_error(r, HTTP_NOT_FOUND, GF_ERR_NOT_FOUND,
                             "no provider with a webhook secret or keys here");
    }
    if ((rc = gf_read_json_body(r, WEBHOOK_MAX_BODY, &body, &len)) != GF_CONTINUE) {
        return rc;
    }
    /* The body is untrusted bytes (it may hold NULs) until a signature over
     * its exact length has been verified: nothing parses it before that. */
    err = prov->kind->webhook_verify
          ? prov->kind->webhook_verify(r->pool, prov, r->headers_in, body, len, apr_time_now())
          : "this provider kind sends no webhooks";
    if (err) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, GF_LOGNO(1701)
                      "webhook for provider %s refused: %s", prov->name, err);
        return gf_send_error(r, HTTP_UNAUTHORIZED, GF_ERR_UNAUTHORIZED,
                             apr_psprintf(r->pool, "webhook signature refused: %s", err));
    }
    doc = gf_json_parse(r->pool, body, len, &perr);
    job_id = gf_json_str(doc, prov->kind->webhook_job_field ? prov->kind->webhook_job_field : "id");
    if (!job_id) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                             "the notification names no job");
    }
    if (!(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);
    for (i = 0; types && i < types->nelts; i++) {
        gf_type_t *t = APR_ARRAY_IDX(types, i, gf_type_t *);
        gf_db_rows_t *rows;
        gf_db_status_t st = gf_db_select(r, dbd, t->labels[GF_SQL_WAKE], &rows, 1, job_id);
        if (st != GF_DB_OK) return gf_send_db_error(r, st);
        woken += rows->nrows;
    }
    if (woken) gf_engine_wake();
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, GF_LOGNO(1702)
                  "webhook provider=%s job=%s woke %d generation(s)", prov->name,
                  ap_escape_logitem(r->pool, job_id), woken);
    return gf_send_json(r, HTTP_OK, apr_psprintf(r->pool, "{\"received\":true,\"woken\":%d}",
                                                 woken));
}
