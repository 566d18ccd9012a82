/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_handle_discovery.c: SetHandler genflow-types (docs/api.md).
 *
 * GET answers the type locations of the request's server (virtual host):
 * those of the main server, which apply to every host, then the host's
 * own, in configuration order, each with the settings a request there
 * gets (GenFlowRequire, GenFlowCost, GenFlowWait inherited from enclosing
 * <Location>s). The list does not change while the configuration does
 * not, so post_config builds each server's answer and its strong ETag
 * once; a client that sends the ETag back in If-None-Match gets 304.
 *
 * The settings are merged the way httpd's location walk merges them for
 * a request to the type's path: every <Location> (not <LocationMatch> or
 * a wildcard, which GenFlowType cannot sensibly use) whose path is a
 * prefix of it at a '/' boundary, in order, then onto the server's
 * defaults.
 */
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_fnmatch.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>

#include "httpd/config/mod_genflow_process.h"
#include "httpd/api/mod_genflow_handlers.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_http.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_discovery.h"
#include "core/gf_error.h"

typedef struct {
    const char *json;
    const char *etag;
} types_answer_t;

/* Each server's answer: the process record's member, rebuilt with each
 * configuration. */
struct gf_discovery_state {
    apr_hash_t *answers;   /* server_rec * → types_answer_t * */
};

const apr_size_t gf_discovery_state_size = sizeof(struct gf_discovery_state);

static struct gf_discovery_state *discovery(void)
{
    return GF_PROCESS_STATE(discovery);
}

/* Does the <Location> section cd apply to a request for uri? (As
 * ap_location_walk decides for a literal, fnmatch or regex section.) */
static int section_matches(const core_dir_config *cd, const char *uri)
{
    if (!cd || !cd->d) return 0;
    if (cd->r) return ap_regexec(cd->r, uri, 0, NULL, 0) == 0;
    if (cd->d_is_fnmatch) return apr_fnmatch(cd->d, uri, APR_FNM_PATHNAME) == APR_SUCCESS;
    return gf_discovery_location_matches(cd->d, uri);
}

/* The module's settings of a request for uri on server s. */
static gf_dir_conf_t *effective_conf(apr_pool_t *p, server_rec *s, const char *uri)
{
    core_server_config *csc = ap_get_core_module_config(s->module_config);
    ap_conf_vector_t **sec = (ap_conf_vector_t **)csc->sec_url->elts;
    gf_dir_conf_t *acc = NULL, *defaults;
    int i;

    for (i = 0; i < csc->sec_url->nelts; i++) {
        gf_dir_conf_t *dc = ap_get_module_config(sec[i], &genflow_module);
        if (dc && section_matches(ap_get_core_module_config(sec[i]), uri)) {
            acc = acc ? gf_merge_dir_conf(p, acc, dc) : dc;
        }
    }
    defaults = ap_get_module_config(s->lookup_defaults, &genflow_module);
    if (!acc) return defaults;
    return defaults ? gf_merge_dir_conf(p, defaults, acc) : acc;
}

static types_answer_t *build_answer(apr_pool_t *p, server_rec *s)
{
    core_server_config *csc = ap_get_core_module_config(s->module_config);
    ap_conf_vector_t **sec = (ap_conf_vector_t **)csc->sec_url->elts;
    apr_array_header_t *list = apr_array_make(p, 8, sizeof(gf_discovery_type_t));
    apr_hash_t *seen = apr_hash_make(p);
    types_answer_t *a = apr_pcalloc(p, sizeof(*a));
    int i;

    for (i = 0; i < csc->sec_url->nelts; i++) {
        gf_dir_conf_t *own = ap_get_module_config(sec[i], &genflow_module), *dc;
        core_dir_config *cd = ap_get_core_module_config(sec[i]);
        gf_discovery_type_t *t;

        if (!own || !own->type || !cd || !cd->d || cd->r || cd->d_is_fnmatch
            || apr_hash_get(seen, own->base, APR_HASH_KEY_STRING)) {
            continue;
        }
        apr_hash_set(seen, own->base, APR_HASH_KEY_STRING, own);
        dc = effective_conf(p, s, own->base);
        if (!dc || !dc->type) continue;
        t = apr_array_push(list);
        t->type = dc->type->name;
        t->base = dc->base;
        t->needs = gf_conf_needs(dc);
        t->cost = gf_conf_cost(dc);
        t->wait = gf_conf_wait_default(dc);
        t->max_count = gf_conf_max_count(dc);
        t->accepts = gf_conf_accepts(dc);
        t->max_references = gf_conf_max_references(dc);
    }
    a->json = gf_discovery_json(p, (const gf_discovery_type_t *)list->elts, list->nelts);
    a->etag = gf_json_etag(p, a->json);
    return a;
}

void gf_discovery_post_config(apr_pool_t *pconf, server_rec *s)
{
    server_rec *sp;

    discovery()->answers = apr_hash_make(pconf);
    for (sp = s; sp; sp = sp->next) {
        types_answer_t *a = build_answer(pconf, sp);
        server_rec **key = apr_palloc(pconf, sizeof(*key));
        *key = sp;
        apr_hash_set(discovery()->answers, key, sizeof(*key), a);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, sp, GF_LOGNO(3701)
                     "genflow-types for %s: %s", sp->server_hostname ? sp->server_hostname : "-",
                     a->json);
    }
}

int gf_discovery_handler(request_rec *r)
{
    server_rec *s = r->server;
    types_answer_t *a;

    if (r->method_number != M_GET) {
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD");
        return gf_send_error(r, HTTP_METHOD_NOT_ALLOWED, GF_ERR_METHOD,
                             apr_psprintf(r->pool, "%s is not allowed here; use GET", r->method));
    }
    a = discovery()->answers ? apr_hash_get(discovery()->answers, &s, sizeof(s)) : NULL;
    if (!a) {
        a = build_answer(r->pool, s);   /* not built at startup: build it now */
    }
    return gf_send_json_validated(r, a->json, a->etag);
}
