/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_process.h: the process's state, one record, as mod_md's
 * md_mod_conf_t (mod_genflow_process.c).
 *
 * Made in pre_config in the configuration's pool and gone with it, so that
 * everything a configuration built (the types it mounts, its statements,
 * the shared memory it attached, its handler table) is rebuilt with the
 * next one and nothing outlives it by accident. Each concern with state has
 * a member whose fields only its own file knows; this file is below every
 * concern, so each reaches its member without calling up.
 */
#ifndef MOD_GENFLOW_PROCESS_H
#define MOD_GENFLOW_PROCESS_H

#include <apr_pools.h>

/* The members made, zeroed, with the record (pre_config, in the parent),
 * so that no child thread ever allocates from the configuration's pool:
 * X(member, struct tag); the concern's file defines the struct and
 * `const apr_size_t <tag>_size`, which mod_genflow.c passes down (docs/architecture.md, "A new concern with
 * state"). */
#define GF_PROCESS_MEMBERS(X)                                              \
    X(config, gf_config_state)              /* mod_genflow_config.c */     \
    X(authn, gf_authn_state)                /* mod_genflow_config_authn.c */ \
    X(authn_cache, gf_authn_cache_state)    /* mod_genflow_authn_cache.c */ \
    X(db, gf_db_state)                      /* mod_genflow_db.c */         \
    X(http, gf_http_state)                  /* mod_genflow_http.c */       \
    X(metrics, gf_metrics_state)            /* mod_genflow_metrics.c */    \
    X(servers, gf_servers_state)            /* mod_genflow_servers.c */    \
    X(breaker, gf_breaker_state)            /* mod_genflow_breaker.c */    \
    X(limits, gf_limits_state)              /* mod_genflow_limits.c */     \
    X(engine_shared, gf_engine_shared)      /* mod_genflow_engine_changes.c */ \
    X(doorbell, gf_engine_doorbell)         /* mod_genflow_engine_doorbell.c */ \
    X(duty, gf_engine_duty)                 /* mod_genflow_engine_duty.c */ \
    X(site, gf_site_state)                  /* mod_genflow_site.c */       \
    X(site_chains, gf_site_chains_state)    /* mod_genflow_site_chains.c */ \
    X(watch, gf_watch_state)                /* mod_genflow_watch.c */      \
    X(watch_users, gf_watch_users_state)    /* mod_genflow_watch_users.c */ \
    X(watch_previews, gf_watch_previews_state) /* mod_genflow_watch_previews.c */ \
    X(discovery, gf_discovery_state)                /* mod_genflow_handle_discovery.c */ \
    X(creates, gf_creates_state)            /* mod_genflow_handle_type_create_batch.c */

#define GF_PROCESS_MEMBER_(m, tag) struct tag *m;
#define GF_PROCESS_SIZE_(m, tag) extern const apr_size_t tag##_size;
#define GF_PROCESS_SIZE_OF_(m, tag) &tag##_size,
GF_PROCESS_MEMBERS(GF_PROCESS_SIZE_)

typedef struct gf_process_t {
    apr_pool_t *pconf;
    GF_PROCESS_MEMBERS(GF_PROCESS_MEMBER_)
    struct gf_engine_t *engine;  /* the child's engine (mod_genflow_engine.c); NULL in the parent */
    const char *node;            /* this httpd's name (gf_process_name) */
} gf_process_t;

/* pre_config: a new record for the configuration being read, its members
 * of the sizes given in the list's order (the module's hooks, which see
 * every concern, pass them: GF_PROCESS_MEMBERS(GF_PROCESS_SIZE_OF_)). */
void gf_process_create(apr_pool_t *pconf, const apr_size_t *const *sizes);

/* post_config: this httpd's name for the other nodes of its databases,
 * its host and 48 random bits ("host:0123456789ab"), made once in the
 * parent process and kept in its pool (proc), so that it lasts through
 * graceful restarts and two httpds never share one, even on one host name
 * with the same pids (containers that each run httpd as pid 1 on the
 * host's network). Its children's lease owners and the rows of calls open
 * to a group's members carry it. */
void gf_process_name(apr_pool_t *proc);

/* The record of the configuration being read or run. */
gf_process_t *gf_process(void);

/* A concern's member: GF_PROCESS_STATE(breaker). */
#define GF_PROCESS_STATE(m) (gf_process()->m)

#endif
