/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_private.h: what every glue file needs: the module record,
 * the log setup and the few macros the handlers' conventions rest on.
 *
 * The glue (httpd/mod_genflow*.c) is thin: directives, hooks, handlers,
 * the mod_dbd access and the job engine. Everything that can be tested
 * without httpd lives in the other folders of mod_genflow/. Each glue
 * concern has a header of its own, and headers include only those of the
 * concerns below them (docs/architecture.md "How the code is laid out";
 * tests/check_includes.sh keeps the order).
 */
#ifndef MOD_GENFLOW_PRIVATE_H
#define MOD_GENFLOW_PRIVATE_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

extern module AP_MODULE_DECLARE_DATA genflow_module;
APLOG_USE_MODULE(genflow);

/* Module-owned log tags: "GF" + a unique number (httpd's AH namespace is
 * not ours). tests/check_lognos.sh keeps the numbers unique. */
#define GF_LOGNO(n) "GF" #n ": "

/* A setting not given: a merge tells it from zero, a getter applies the
 * default. */
#define GF_UNSET (-1)

/* Returned by request helpers that answered nothing: the handler goes on.
 * Any other value means an answer was sent and is the handler's result. */
#define GF_CONTINUE (-1000)

/* The process's state, one record (mod_genflow.c), as mod_md's
 * md_mod_conf_t: made in pre_config in the configuration's pool and gone
 * with it, so that everything a configuration built (the types it mounts,
 * its statements, the shared memory it attached, its handler table) is
 * rebuilt with the next one and nothing outlives it by accident. Each
 * concern has a member whose fields only its own file knows; the engine's
 * member is the child's engine (NULL in the parent). */
typedef struct gf_process_t {
    apr_pool_t *pconf;
    struct gf_config_state *config;        /* mod_genflow_config.c */
    struct gf_authn_state *authn;          /* mod_genflow_config_authn.c */
    struct gf_authn_cache_state *authn_cache;  /* mod_genflow_authn_cache.c */
    struct gf_db_state *db;                /* mod_genflow_db.c */
    struct gf_http_state *http;            /* mod_genflow_http.c */
    struct gf_metrics_state *metrics;      /* mod_genflow_metrics.c */
    struct gf_servers_state *servers;      /* mod_genflow_servers.c */
    struct gf_breaker_state *breaker;      /* mod_genflow_breaker.c */
    struct gf_limits_state *limits;        /* mod_genflow_limits.c */
    struct gf_engine_t *workers;          /* mod_genflow_engine_worker.c, per child */
    struct gf_engine_shared *engine_shared; /* mod_genflow_engine_changes.c, before the fork */
    struct gf_engine_doorbell *doorbell;   /* mod_genflow_engine_doorbell.c, before the fork */
    struct gf_engine_duty *duty;           /* mod_genflow_engine_duty.c, before the fork */
    struct gf_watch_state *watch;          /* mod_genflow_watch.c, per child */
    struct gf_types_state *types;          /* mod_genflow_handle_types.c */
} gf_process_t;

/* The record of the configuration being read or run. */
gf_process_t *gf_process(void);

/* A concern's member: GF_PROCESS_STATE(breaker). Every member is made,
 * zeroed, with the record (pre_config, in the parent), so that no child
 * thread ever allocates from the configuration's pool; each concern's
 * file gives its member's size. */
#define GF_PROCESS_STATE(m) (gf_process()->m)
extern const apr_size_t gf_config_state_size, gf_authn_state_size, gf_authn_cache_state_size,
    gf_db_state_size, gf_http_state_size, gf_metrics_state_size, gf_servers_state_size,
    gf_breaker_state_size, gf_limits_state_size, gf_watch_state_size, gf_types_state_size,
    gf_engine_shared_size, gf_engine_doorbell_size, gf_engine_duty_size;

#endif
