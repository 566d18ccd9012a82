/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_config.h: the module's settings: the records of servers,
 * locations and types, their defaults, and the getters that apply them.
 * The directives that fill them are all here (mod_genflow_config*.c), so
 * no other concern of the glue is needed to read a configuration.
 */
#ifndef MOD_GENFLOW_CONFIG_H
#define MOD_GENFLOW_CONFIG_H

#include <httpd.h>
#include <http_config.h>
#include <mod_auth.h>
#include <ap_expr.h>

#include "httpd/config/mod_genflow_config_settings.h"
#include "core/gf_policy.h"
#include "core/gf_sql.h"
#include "providers/gf_provider.h"
#include "storage/gf_storage.h"

/* Per-location settings of the genflow-cache authn provider
 * (gf_dir_conf_t.authn_cache; mod_genflow_authn_cache.c uses them). */
struct gf_authn_cache_dir {
    const char *provider_name;       /* GenFlowAuthnCacheProvider */
    const authn_provider *provider;
    const char *context;             /* the section that named the provider */
    int ttl;                         /* GF_UNSET → GF_AUTHN_CACHE_TTL_DEFAULT */
    apr_array_header_t *watch;       /* const char * paths; NULL → inherited */
};

/* A generation type mounted with GenFlowType. Module-wide: the same type
 * may be mounted at several locations and shares its table. */
typedef struct {
    const char *name;            /* "neo-glitch" */
    const char *table;           /* "neo_glitch_media" */
    const char *labels[GF_SQL_TYPE_OPS]; /* prepared statement labels */
    int priority;                /* GenFlowPriority: higher is claimed first */
    apr_hash_t *providers;       /* names in its locations' chains (startup) */
    const char *priority_where;  /* the directive that set it, or NULL */
} gf_type_t;

/* GenFlowAdministrators: who the admin API and the metrics answer, checked
 * by their handlers besides the site's Require (mod_genflow_handle_admin.c).
 * Neither set: nobody. */
typedef struct {
    apr_array_header_t *users;   /* user names (const char *), or NULL */
    const ap_expr_info_t *expr;  /* an ap_expr over the request, or NULL */
    const char *where;           /* "file:line" */
} gf_admins_t;

/* Server (module-wide) settings. */
typedef struct {
    apr_hash_t *providers;       /* name → gf_provider_t* */
    const gf_provider_t *builtin_local; /* the undeclared `local` of this record */
    GF_SERVER_SETTINGS(GF_SETTING_FIELD)
    const char *storage_dir;
    const char *storage_url;
    gf_storage_t *storage;       /* where pictures go first (post_config) */
    gf_storage_t *fallback_storage; /* the local directory when Cloudinary is first */
    gf_storage_t *cloudinary;    /* GenFlowCloudinary, or NULL */
    gf_storage_t *s3;            /* GenFlowS3, or NULL */
    /* GenFlowWebhookSecretFile: "whsec_…" secrets, newest first, or NULL */
    apr_array_header_t *webhook_secrets;
    const char *server_name;       /* a virtual host's "host:port" (post_config); NULL for
                                  * the main server, and where no type is mounted */
    int unnamed_statements;      /* GF_UNSET → 0; GenFlowPreparedStatements unnamed */
    const char *listen_params;   /* GenFlowListenParams; NULL → the pool's parameters */
    /* GenFlowEventsSecretFile's keys (const char *), newest first: the
     * first makes tokens, each checks them; NULL without */
    apr_array_header_t *events_keys;
    const char *authn_socache;   /* GenFlowAuthnCache (main server), or NULL → shmcb */
    apr_size_t authn_socache_size; /* GenFlowAuthnCacheSize (main server), or 0 → default */
    int events_host;             /* GenFlowEventsHost (a virtual host's): 1, 0, GF_UNSET
                                  * (the host GenFlowEventsBase names, mod_genflow_site.c) */
    const gf_admins_t *admins;   /* GenFlowAdministrators, or NULL: nobody */
} gf_server_conf_t;

/* A GenFlowEventsBase other than none, where it was given. */
typedef struct {
    const char *url;             /* scheme://host[:port][/path] */
    server_rec *s;               /* the server whose configuration has it */
    const char *where;           /* "file:line" */
} gf_events_base_t;

/* One GenFlowPromptPolicy line (mod_genflow_config_policy.c, read at startup: a
 * graceful restart reads the deny list again; mod_genflow_policy.c applies it). */
struct gf_policy_conf {
    int off;                         /* "off": no policy here (a parent's is not inherited) */
    const gf_policy_list_t *deny;    /* deny_list=FILE, or NULL */
    const char *deny_file;
    const char *moderation_url;      /* moderation=URL, or NULL */
    const char *key;                 /* key_file= / key_env=: Bearer, or NULL */
    const char *model;               /* model=, or NULL (the endpoint's default) */
    long timeout_ms;                 /* timeout= (default 2000) */
    int on_error_allow;              /* on_error=allow (default deny: 503) */
    int insecure_loopback;           /* insecure_loopback=on: http to loopback (tests) */
    int images;                      /* images=on: the create's pictures go to moderation too */
    apr_array_header_t *categories;  /* categories=a,b: only these refuse; NULL: flagged */
    const char *where;               /* "file:line" */
};

/* A premium line (GenFlowLine NAME EXPR [weight=N]): a request for which
 * expr is true queues its generation in line name, whose user takes
 * weight turns of a provider's line for one of a standard user's. */
typedef struct {
    const char *name;
    const ap_expr_info_t *expr;
    int weight;
    const char *where;               /* "file:line" */
} gf_line_t;

#define GF_LINE_WEIGHT_DEFAULT 2
#define GF_LINE_WEIGHT_MAX 16

/* The timeout of a moderation call by default, and the largest answer read. */
#define GF_POLICY_TIMEOUT_MS 2000
#define GF_POLICY_ANSWER_MAX (64 * 1024)

/* Per-location settings. */
typedef struct {
    const char *base;            /* the <Location> path */
    gf_type_t *type;             /* NULL outside a GenFlowType location */
    apr_array_header_t *chain;   /* gf_chain_entry_t; NULL → unset */
    GF_DIR_SETTINGS(GF_SETTING_FIELD)
    int needs_set;
    unsigned needs;              /* GF_NEED_* */
    int accepts_set;
    unsigned accepts;            /* GF_ACCEPT_* (GenFlowAccept; none unset) */
    const char *prompt_template; /* NULL → built-in */
    struct gf_authn_cache_dir *authn_cache; /* GenFlowAuthnCache* here, or NULL */
    struct gf_cors_conf *cors;   /* GenFlowCORSOrigins; NULL → inherited (none) */
    apr_array_header_t *webhook_origins; /* GenFlowWebhookOrigins (const char *
                                  * scheme://host:port); NULL → inherited (none) */
    apr_array_header_t *picture_origins; /* GenFlowPictureOrigins, the same; NULL →
                                  * inherited (none) */
    int trace_trust_inbound;     /* GenFlowTraceTrustInbound: 1, 0, GF_UNSET (off) */
    const char *events_base;     /* GenFlowEventsBase scheme://host[:port][/path], "" for
                                  * none (overrides), NULL → inherited (none) */
    struct gf_policy_conf *policy; /* GenFlowPromptPolicy here; NULL → inherited (none) */
    apr_array_header_t *lines;   /* gf_line_t of GenFlowLine here, in order; NULL →
                                  * inherited (none); empty: "GenFlowLine none" */
} gf_dir_conf_t;

#define GF_RETRY_AFTER_UNAVAILABLE  "5"

/* mod_genflow_config*.c (mod_genflow_config_int.h says which file has what) */
extern const command_rec gf_cmds[];
void *gf_create_server_conf(apr_pool_t *p, server_rec *s);
void *gf_merge_server_conf(apr_pool_t *p, void *base, void *add);
void *gf_create_dir_conf(apr_pool_t *p, char *dir);
void *gf_merge_dir_conf(apr_pool_t *p, void *base, void *add);
gf_server_conf_t *gf_server_conf(server_rec *s);
gf_dir_conf_t *gf_dir_conf(request_rec *r);
apr_array_header_t *gf_registered_types(void);   /* gf_type_t* of every mounted type */
/* The name of every GenFlowLine of the configuration (const char *, each
 * once), or NULL. */
apr_array_header_t *gf_conf_line_names(void);
/* Every GenFlowEventsBase URL of the configuration (gf_events_base_t), or NULL. */
apr_array_header_t *gf_conf_events_bases(void);
/* The paths of the <Location>s that mount a type (const char *; not the
 * patterns of a <LocationMatch>), in p. */
apr_array_header_t *gf_conf_type_bases(apr_pool_t *p);
/* The getters of the settings' PLAIN lines: what was given, or the default. */
GF_SERVER_SETTINGS(GF_SETTING_SERVER_GETTER)
GF_DIR_SETTINGS(GF_SETTING_DIR_GETTER)
/* A type's cost: GenFlowCost, else the shipped type's of that name, else 1. */
long gf_conf_cost(const gf_dir_conf_t *dc);
unsigned gf_conf_needs(const gf_dir_conf_t *dc);
unsigned gf_conf_accepts(const gf_dir_conf_t *dc);
/* The store of this server that keeps objects of backend (the name an
 * upload's row keeps): the main store or the local fallback; NULL when
 * this server has no such store any more. */
const gf_storage_t *gf_conf_store_named(const gf_server_conf_t *sc, const char *backend);
const char *gf_conf_prompt_template(const gf_dir_conf_t *dc);
/* GenFlowBlockingWaiters, else half of the child's threads (0 under prefork). */
long gf_conf_blocking_waiters(const gf_server_conf_t *sc, int threads_per_child);
/* GenFlowCreatedTTL; without it GenFlowPendingTTL when that was given (a
 * site that set only that one keeps the orphan sweep it chose), else 900 s. */
long gf_conf_created_ttl(const gf_server_conf_t *sc);
int gf_conf_unnamed_statements(const gf_server_conf_t *sc);
/* The chain as stored with a generation: "a,b:model". */
const char *gf_conf_chain_text(apr_pool_t *p, const gf_dir_conf_t *dc);
/* Cross-directive checks after the whole config is read. */
int gf_conf_check(apr_pool_t *p, server_rec *s);
/* Does some section of the configuration read last name a provider for
 * genflow-cache to wrap (GenFlowAuthnCacheProvider)? */
int gf_conf_authn_cache_used(void);

#endif
