/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow.c: the module's declaration and hooks, the top of the glue:
 * it alone sees every concern, and wires them together.
 *
 * How the module comes up:
 *  1. Directives (mod_genflow_config.c) declare providers and mount types
 *     at <Location>s; each GenFlowType registers its type module-wide.
 *  2. check_config (also under apache2ctl -t): which virtual hosts are
 *     events hosts, and warnings about the access rules around them and
 *     around the admin and metrics locations (mod_genflow_site.c).
 *     post_config, ordered before mod_dbd's: check the configuration as a
 *     whole and build every type's SQL; each pooled connection prepares a
 *     statement the first time it runs it (mod_genflow_db.c).
 *     The providers' circuit breakers get their shared memory and global
 *     mutex (mod_genflow_breaker.c; the Mutex is registered in pre_config),
 *     and their limits theirs, kept from the parent's start to its end
 *     (mod_genflow_limits.c); the children's status caches share marks
 *     of the changes each made (mod_genflow_engine_changes.c).
 *  3. child_init: re-attach both mutexes, start the child's engine
 *     (mod_genflow_engine_worker.c: its worker threads, loop and listener).
 *     translate_name + map_to_storage: a request inside a GenFlowType
 *     location names no file, so httpd's filesystem walk is skipped.
 *     post_perdir_config + check_authn: an events host answers its event
 *     streams alone, each authenticated by its token
 *     (mod_genflow_handle_gate.c).
 *     header_parser + check_access_ex: CORS headers before authentication,
 *     and a preflight from an allowed origin needs none (mod_genflow_cors.c).
 *     fixups: a request of a type location gets our handler.
 *  4. handler, the module's one (mod_genflow_handlers.c): a CORS preflight
 *     answered, a cross-site write refused, then the table's entry: route,
 *     authenticate (r->user from any Apache auth), answer JSON
 *     (mod_genflow_handle_type.c, mod_genflow_handle_quota.c, …).
 *  5. insert_error_filter: httpd's own errors in our locations become JSON.
 *  6. log_transaction: every request of our locations is counted in the
 *     shared metrics (mod_genflow_metrics.c; post_config creates them).
 */
#include <string.h>
#include <http_core.h>
#include <http_request.h>
#include <http_protocol.h>
#include <ap_release.h>

#include <mpm_common.h>

#include "httpd/config/mod_genflow_process.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/io/mod_genflow_http.h"
#include "httpd/io/mod_genflow_metrics.h"
#include "httpd/servers/mod_genflow_servers.h"
#include "httpd/servers/mod_genflow_breaker.h"
#include "httpd/gates/mod_genflow_cors.h"
#include "httpd/gates/mod_genflow_authn_cache.h"
#include "httpd/limits/mod_genflow_limits.h"
#include "httpd/limits/mod_genflow_router.h"
#include "httpd/engine/mod_genflow_engine.h"
#include "httpd/watch/mod_genflow_watch.h"
#include "httpd/api/mod_genflow_handlers.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/config/mod_genflow_request.h"
#include "httpd/config/mod_genflow_site.h"
#include "httpd/io/mod_genflow_schema.h"
#include "net/gf_http.h"
#include "core/gf_log.h"

/* The sizes of the process record's members, in its list's order. */
static const apr_size_t *const member_sizes[] = { GF_PROCESS_MEMBERS(GF_PROCESS_SIZE_OF_) };

/* A new record for each configuration read: nothing of the last one's
 * state is seen by this one's. */
static int gf_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    gf_process_create(pconf, member_sizes);
    gf_handlers_pre_config();
    return OK;
}

static int log_enabled(void *baton, gf_log_level_t level)
{
    server_rec *s = baton;
    return APLOG_IS_LEVEL(s, (int)level);
}

static void log_print(void *baton, gf_log_level_t level, const char *msg)
{
    server_rec *s = baton;
    ap_log_error(APLOG_MARK, (int)level, 0, s, GF_LOGNO(1501) "%s", msg);
}

/* The whole configuration is read, the virtual hosts set up: find the
 * events hosts and check the access rules around them; this runs under
 * apache2ctl -t too, which post_config does not. */
static int gf_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    int rc;
    (void)plog;
    if ((rc = gf_site_check_config(pconf, ptemp, s)) != OK) return rc;
    /* The database's schema, once per start or restart (httpd reads its
     * configuration twice when it first starts) and under apache2ctl -t. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG
        && ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_CONFIG_TEST) {
        return OK;
    }
    return gf_schema_check_config(ptemp, s);
}

static int gf_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    (void)plog;
    (void)ptemp;
    gf_log_set(log_enabled, log_print, s);
    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) gf_schema_log_startup(s);
    /* libcurl's global state, once, while the process is single-threaded. */
    gf_http_global_init();
    /* The metrics counters, in shared memory, before the children fork. */
    gf_metrics_post_config(pconf, s);
    /* Each server's genflow-types answer (empty without types). */
    gf_discovery_post_config(pconf, s);
    if (!gf_registered_types()) {
        return OK;  /* loaded but unused */
    }
    if (!gf_db_bind_optional_fns(s)) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (gf_conf_check(pconf, s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* Each provider's circuit breaker, in shared memory, before the fork. */
    if (gf_breaker_post_config(pconf, s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* Their limits, in shared memory that outlives restarts. */
    if (gf_limits_post_config(pconf, s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* Each user's watching requests, counted for every child. */
    if (gf_watch_users_post_config(pconf, s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    gf_process_name(s->process->pool);
    /* The status caches' marks, shared by the children. */
    gf_engine_post_config(pconf, s);
    gf_engine_doorbell_post_config(pconf, s);
    gf_engine_duty_post_config(pconf, s);
    /* The servers that mount types, by the name generations record. */
    if (gf_servers_post_config(pconf, s) != OK) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    gf_db_register_statements(pconf, gf_servers_due_statements(pconf));
    return OK;
}

/* What the limits tell the engine (passed down: see gf_child_init). */
static const gf_limits_engine_t engine_hooks = { gf_engine_place_freed, gf_engine_hand_on_place,
                                                  gf_engine_ring_doorbell };

static void gf_child_init(apr_pool_t *pchild, server_rec *s)
{
    gf_breaker_child_init(pchild, s);
    /* A place given back goes to the engine; a change it hears reaches the
     * parked waits: each is passed down, so neither concern calls up. */
    gf_limits_child_init(pchild, s, &engine_hooks);
    gf_router_child_init(pchild);
    gf_engine_child_init(pchild, s, gf_watch_announce, gf_watch_preview_heard);
    gf_watch_child_init(pchild, s);
    gf_watch_users_child_init(pchild, s);
    gf_watch_previews_child_init(pchild, s);
    gf_create_batch_child_init(pchild);
}

/* A GenFlowType location is not a directory: mark its requests while the
 * <Location> configuration is in place (translate_name runs after the
 * first location walk; map_to_storage does not see it). */
static int gf_translate_name(request_rec *r)
{
    gf_dir_conf_t *dc = gf_dir_conf(r);
    if (dc && dc->type) {
        gf_req(r)->not_a_file = 1;
    }
    return DECLINED;
}

/* Skip core's directory and file walk for those requests, as mod_proxy
 * does for its URLs: there is no file to find, and the walk costs a
 * stat() per path component and an open() per .htaccess candidate on
 * every status read and create. <Directory> sections and .htaccess files
 * therefore never apply to a type's location (nothing of it is on disk);
 * its access control belongs in the <Location>, which is walked again
 * after this hook. */
static int gf_map_to_storage(request_rec *r)
{
    gf_req_t *rq = ap_get_module_config(r->request_config, &genflow_module);
    return rq && rq->not_a_file ? OK : DECLINED;
}

static int gf_fixups(request_rec *r)
{
    gf_dir_conf_t *dc = gf_dir_conf(r);
    if (dc && dc->type && !r->main) {
        r->handler = GF_TYPE_HANDLER;
    }
    return DECLINED;
}

static void gf_register_hooks(apr_pool_t *p)
{
    /* Before mod_dbd's post_config: nothing here needs mod_dbd's to have
     * run (statements are prepared on first use, mod_genflow_db.c), and a
     * start that fails logs the module's configuration errors first. */
    static const char *const before_dbd[] = { "mod_dbd.c", NULL };

    ap_hook_pre_config(gf_pre_config, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_check_config(gf_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(gf_post_config, NULL, before_dbd, APR_HOOK_MIDDLE);
    /* After mod_dbd's child_init, which creates the connection pool the
     * workers use. */
    static const char *const after_dbd[] = { "mod_dbd.c", NULL };
    ap_hook_child_init(gf_child_init, after_dbd, NULL, APR_HOOK_MIDDLE);
    ap_hook_translate_name(gf_translate_name, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_map_to_storage(gf_map_to_storage, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_fixups(gf_fixups, NULL, NULL, APR_HOOK_LAST);
    gf_handlers_register_hooks();
    /* Parked requests (mod_genflow_watch.c): woken only once the MPM has
     * suspended their connection; answered when the child stops. */
    ap_hook_suspend_connection(gf_watch_suspended, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_stopping(gf_watch_child_stopping, NULL, NULL, APR_HOOK_MIDDLE);
    /* CORS: headers before authentication, preflights without it. */
    gf_cors_register_hooks();
    gf_metrics_register_hooks();
    gf_breaker_register_hooks();
    gf_limits_register_hooks();
    gf_watch_users_register_hooks();
    gf_authn_cache_register_hooks(p);
    ap_hook_insert_error_filter(gf_insert_error_filter, NULL, NULL, APR_HOOK_MIDDLE);
    gf_register_error_filter();
}

/* APLOG_USE_MODULE in the private header already declares the log index. */
module AP_MODULE_DECLARE_DATA genflow_module = {
    STANDARD20_MODULE_STUFF,
    gf_create_dir_conf,
    gf_merge_dir_conf,
    gf_create_server_conf,
    gf_merge_server_conf,
    gf_cmds,
    gf_register_hooks
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    , AP_MODULE_FLAG_NONE
#endif
};
