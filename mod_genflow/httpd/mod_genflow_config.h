/* mod_genflow_config.h: the module's settings: the records of servers,
 * locations and types, their defaults, and the getters that apply them.
 * The directives that fill them are all here (mod_genflow_config*.c), so
 * no other concern of the glue is needed to read a configuration.
 */
#ifndef MOD_GENFLOW_CONFIG_H
#define MOD_GENFLOW_CONFIG_H

#include <mod_auth.h>

#include "httpd/mod_genflow_private.h"
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

/* Server (module-wide) settings. */
typedef struct {
    apr_hash_t *providers;       /* name → gf_provider_t* */
    const gf_provider_t *builtin_local; /* the undeclared `local` of this record */
    long starting_credits;       /* GF_UNSET → default */
    long daily_limit;            /* GF_UNSET → default; 0 = none */
    const char *storage_dir;
    const char *storage_url;
    gf_storage_t *storage;       /* where pictures go first (post_config) */
    gf_storage_t *fallback_storage; /* the local directory when Cloudinary is first */
    gf_storage_t *cloudinary;    /* GenFlowCloudinary, or NULL */
    int workers;                 /* GF_UNSET → default; threads per child */
    int lease_secs;              /* GF_UNSET → default */
    long status_cache;           /* GF_UNSET → default; finished answers per child, 0 = off */
    long max_active;             /* GF_UNSET → default; 0 = no limit */
    long pending_ttl;            /* GF_UNSET → default; queued, never claimed; 0 = an hour */
    long created_ttl;            /* GF_UNSET → pending_ttl if set, else default; 0 = as
                                  * pending_ttl for the orphan sweep only */
    long retention;              /* GF_UNSET → default; 0 = keep forever */
    long presets_per_week;       /* GF_UNSET → default */
    const char *site_name;       /* a virtual host's "host:port" (post_config); NULL for
                                  * the main server, and where no type is mounted */
    int unnamed_statements;      /* GF_UNSET → 0; GenFlowPreparedStatements unnamed */
    const char *listen_params;   /* GenFlowListenParams; NULL → the pool's parameters */
    long park_max;               /* GF_UNSET → default; parked waits per child, 0 = never park */
    long max_in_flight;          /* GF_UNSET → default; attempts a child runs at once */
    long blocking_waiters;       /* GF_UNSET → half of ThreadsPerChild */
    long events_per_user;        /* GF_UNSET → default; open streams per user and child, 0 = no cap */
    const char *authn_socache;   /* GenFlowAuthnCache (main server), or NULL → shmcb */
    apr_size_t authn_socache_size; /* GenFlowAuthnCacheSize (main server), or 0 → default */
} gf_server_conf_t;

/* Per-location settings. */
typedef struct {
    const char *base;            /* the <Location> path */
    gf_type_t *type;             /* NULL outside a GenFlowType location */
    apr_array_header_t *chain;   /* gf_chain_entry_t; NULL → unset */
    long cost;                   /* GF_UNSET → default of the type */
    long max_body;               /* GF_UNSET → GF_DEFAULT_MAX_BODY */
    int wait_default;            /* GF_UNSET → 0 */
    int needs_set;
    unsigned needs;              /* GF_NEED_* */
    const char *prompt_template; /* NULL → built-in */
    int max_retries;             /* GF_UNSET → 3 */
    int deadline_secs;           /* GF_UNSET → GF_DEFAULT_DEADLINE_SECS */
    struct gf_authn_cache_dir *authn_cache; /* GenFlowAuthnCache* here, or NULL */
    long upload_max_bytes;       /* GF_UNSET → GF_DEFAULT_UPLOAD_MAX_BYTES */
    long upload_max_pixels;      /* GF_UNSET → GF_DEFAULT_UPLOAD_MAX_PIXELS */
    struct gf_cors_conf *cors;   /* GenFlowCORSOrigins; NULL → inherited (none) */
    int events_max_secs;         /* GF_UNSET → GF_DEFAULT_EVENTS_MAX_SECS */
    int events_heartbeat;        /* GF_UNSET → GF_DEFAULT_EVENTS_HEARTBEAT */
} gf_dir_conf_t;

#define GF_DEFAULT_STARTING_CREDITS 10
#define GF_DEFAULT_DAILY_LIMIT      100
#define GF_DEFAULT_MAX_BODY         (64 * 1024)
#define GF_MAX_BODY_LIMIT           (16 * 1024 * 1024)
#define GF_DEFAULT_MAX_RETRIES      3
#define GF_PREFER_WAIT_MAX          60
#define GF_RETRY_AFTER_UNAVAILABLE  "5"
#define GF_DEFAULT_WORKERS          2
#define GF_DEFAULT_STATUS_CACHE     4096
#define GF_DEFAULT_LEASE_SECS       30
#define GF_DEFAULT_DEADLINE_SECS    120
#define GF_DEFAULT_MAX_ACTIVE       10
#define GF_DEFAULT_PENDING_TTL      3600
#define GF_DEFAULT_CREATED_TTL      900
#define GF_DEFAULT_RETENTION        (30L * 86400)
#define GF_DEFAULT_PARK_MAX         10000
#define GF_DEFAULT_MAX_IN_FLIGHT    500
#define GF_DEFAULT_EVENTS_PER_USER  16
#define GF_DEFAULT_EVENTS_MAX_SECS  600
#define GF_DEFAULT_EVENTS_HEARTBEAT 15
#define GF_DEFAULT_PRESETS_PER_WEEK 6
#define GF_DEFAULT_UPLOAD_MAX_BYTES (10L * 1024 * 1024)
#define GF_UPLOAD_MAX_BYTES_LIMIT   (100L * 1024 * 1024)
#define GF_DEFAULT_UPLOAD_MAX_PIXELS 25000000L
#define GF_UPLOAD_MAX_PIXELS_LIMIT  100000000L

/* mod_genflow_config*.c (mod_genflow_config_int.h says which file has what) */
extern const command_rec gf_cmds[];
void *gf_create_server_conf(apr_pool_t *p, server_rec *s);
void *gf_merge_server_conf(apr_pool_t *p, void *base, void *add);
void *gf_create_dir_conf(apr_pool_t *p, char *dir);
void *gf_merge_dir_conf(apr_pool_t *p, void *base, void *add);
gf_server_conf_t *gf_server_conf(server_rec *s);
gf_dir_conf_t *gf_dir_conf(request_rec *r);
apr_array_header_t *gf_registered_types(void);   /* gf_type_t* of every mounted type */
long gf_conf_starting_credits(const gf_server_conf_t *sc);
long gf_conf_daily_limit(const gf_server_conf_t *sc);
long gf_conf_cost(const gf_dir_conf_t *dc);
long gf_conf_max_body(const gf_dir_conf_t *dc);
unsigned gf_conf_needs(const gf_dir_conf_t *dc);
const char *gf_conf_prompt_template(const gf_dir_conf_t *dc);
int gf_conf_max_retries(const gf_dir_conf_t *dc);
int gf_conf_workers(const gf_server_conf_t *sc);
long gf_conf_status_cache(const gf_server_conf_t *sc);
long gf_conf_park_max(const gf_server_conf_t *sc);
long gf_conf_max_in_flight(const gf_server_conf_t *sc);
/* GenFlowBlockingWaiters, else half of the child's threads (0 under prefork). */
long gf_conf_blocking_waiters(const gf_server_conf_t *sc, int threads_per_child);
long gf_conf_events_per_user(const gf_server_conf_t *sc);
int gf_conf_events_max_secs(const gf_dir_conf_t *dc);
int gf_conf_events_heartbeat(const gf_dir_conf_t *dc);
int gf_conf_lease_secs(const gf_server_conf_t *sc);
int gf_conf_deadline_secs(const gf_dir_conf_t *dc);
long gf_conf_max_active(const gf_server_conf_t *sc);
long gf_conf_pending_ttl(const gf_server_conf_t *sc);
/* GenFlowCreatedTTL; without it GenFlowPendingTTL when that was given (a
 * site that set only that one keeps the orphan sweep it chose), else 900 s. */
long gf_conf_created_ttl(const gf_server_conf_t *sc);
long gf_conf_retention(const gf_server_conf_t *sc);
long gf_conf_presets_per_week(const gf_server_conf_t *sc);
int gf_conf_unnamed_statements(const gf_server_conf_t *sc);
long gf_conf_upload_max_bytes(const gf_dir_conf_t *dc);
long gf_conf_upload_max_pixels(const gf_dir_conf_t *dc);
/* The chain as stored with a generation: "a,b:model". */
const char *gf_conf_chain_text(apr_pool_t *p, const gf_dir_conf_t *dc);
/* Cross-directive checks after the whole config is read. */
int gf_conf_check(apr_pool_t *p, server_rec *s);
/* Does some section of the configuration read last name a provider for
 * genflow-cache to wrap (GenFlowAuthnCacheProvider)? */
int gf_conf_authn_cache_used(void);

#endif
