/* mod_genflow_private.h: what the httpd glue files share.
 *
 * The glue (httpd/mod_genflow*.c) is thin: directives, hooks, handlers,
 * the mod_dbd access and the workers. Everything that can be tested
 * without httpd lives in the other folders of mod_genflow/ (the gf_*.c
 * core library; docs/architecture.md).
 */
#ifndef MOD_GENFLOW_PRIVATE_H
#define MOD_GENFLOW_PRIVATE_H

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <apr_dbd.h>
#include <mod_dbd.h>

#include "core/gf_job.h"
#include "core/gf_json.h"
#include "core/gf_metrics.h"
#include "providers/gf_provider.h"
#include "core/gf_sql.h"
#include "storage/gf_storage.h"

extern module AP_MODULE_DECLARE_DATA genflow_module;
APLOG_USE_MODULE(genflow);

/* Module-owned log tags: "GF" + a unique number (httpd's AH namespace is
 * not ours). tests/check_lognos.sh keeps the numbers unique. */
#define GF_LOGNO(n) "GF" #n ": "

/* Handler names. */
#define GF_TYPE_HANDLER   "genflow-type"     /* set by fixups in a GenFlowType location */
#define GF_QUOTA_HANDLER  "genflow-quota"    /* SetHandler genflow-quota */
#define GF_WEBHOOK_HANDLER "genflow-webhook" /* SetHandler genflow-webhook */
#define GF_ADMIN_HANDLER  "genflow-admin"    /* SetHandler genflow-admin */
#define GF_HEALTH_HANDLER "genflow-health"   /* SetHandler genflow-health */
#define GF_METRICS_HANDLER "genflow-metrics" /* SetHandler genflow-metrics */
#define GF_API_HANDLER    "genflow-api"      /* SetHandler genflow-api: JSON 404 under the prefix */
#define GF_UPLOADS_HANDLER "genflow-uploads" /* SetHandler genflow-uploads: POST an image */
#define GF_TYPES_HANDLER  "genflow-types"    /* SetHandler genflow-types: the type list */

#define GF_UNSET (-1)

/* Returned by request helpers that answered nothing: the handler goes on.
 * Any other value means an answer was sent and is the handler's result. */
#define GF_CONTINUE (-1000)

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

/* mod_genflow_config*.c (mod_genflow_config.h says which file has what) */
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
/* GenFlowCreatedTTL; without it GenFlowPendingTTL when that was given (its
 * meaning before sql/016), else 900 s. */
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

/* mod_genflow_sites.c: the servers (main, virtual hosts) that mount types */
typedef struct {
    const char *name;            /* "host:port", recorded with each generation;
                                  * NULL for the main server */
    server_rec *s;
    apr_array_header_t *types;   /* gf_type_t *: the types its requests reach */
    const char *due_label;       /* its due-work statement (mod_genflow_db.c) */
} gf_site_t;
/* Build the list (post_config, after gf_conf_check); refuse two sites of
 * one name and a storage directory the children cannot write. */
int gf_sites_post_config(apr_pool_t *pconf, server_rec *s);
apr_array_header_t *gf_sites(void);              /* gf_site_t *, or NULL */
/* For a directive that holds for a whole child or database: the error
 * when it stands in a <VirtualHost>, saying why; else NULL. */
const char *gf_refuse_in_vhost(cmd_parms *cmd, const char *why);

/* mod_genflow_engine.c: one engine per database the child's sites use */
typedef struct {
    server_rec *s;               /* its first site's server: claims, sweeps, listener */
    const char *db;              /* where its connections go, or NULL: not known at start */
    const char *names;           /* its virtual hosts' names, newline-separated: the
                                  * generations it claims are theirs or the main server's */
    apr_array_header_t *sites;   /* gf_site_t * on this database */
    apr_array_header_t *types;   /* gf_type_t *: the types its sites mount */
    apr_array_header_t *due_labels; /* const char *: its distinct due-work statements */
} gf_engine_t;
/* child_init: group the sites by database (gf_engine_t *). */
apr_array_header_t *gf_engines_build(apr_pool_t *pchild);
/* The server whose settings a row of engine e gets, by the site name it
 * recorded; NULL for the main server's rows (use e->s). */
server_rec *gf_engine_server_for(const gf_engine_t *e, const char *site_name);

/* mod_genflow_db.c */
typedef enum {
    GF_DB_OK = 0,
    GF_DB_UNAVAILABLE,           /* no connection: answer 503 */
    GF_DB_ERROR                  /* the statement failed: answer 500 */
} gf_db_status_t;

typedef struct {
    int nrows;
    int ncols;
    const char ***rows;          /* rows[i][j]; NULL for SQL NULL */
    int rerun;                   /* the statement ran twice (a lost connection):
                                  * its first run may have committed */
} gf_db_rows_t;

void gf_db_register_statements(apr_pool_t *p, server_rec *s);
int gf_db_bind_optional_fns(server_rec *s);
/* GenFlowPreparedStatements named|unnamed, GenFlowListenParams */
const char *gf_db_set_statements(cmd_parms *cmd, void *dummy, const char *arg);
const char *gf_db_set_listen_params(cmd_parms *cmd, void *dummy, const char *arg);
/* The request's pooled connection, until gf_db_release (call it before
 * any wait or network call) or the end of the request. */
ap_dbd_t *gf_db_acquire(request_rec *r);
void gf_db_release(request_rec *r);
/* One statement on a connection held only for its duration (or on the
 * one the request holds already). */
gf_db_status_t gf_db_select1(request_rec *r, const char *label, gf_db_rows_t **rows,
                             int nargs, ...);
ap_dbd_t *gf_db_open(apr_pool_t *p, server_rec *s);
void gf_db_close(server_rec *s, ap_dbd_t *dbd);
/* The connection parameters (DBDParams, as libpq resolved them) of one of
 * s's pooled connections, or NULL; free with PQconninfoFree. For the
 * connections the module opens itself (the listener) and to tell which
 * servers share a database. */
struct _PQconninfoOption *gf_db_conninfo(apr_pool_t *p, server_rec *s);
/* Run a prepared statement; every argument is a const char * (or NULL). */
gf_db_status_t gf_db_select(request_rec *r, ap_dbd_t *dbd, const char *label,
                            gf_db_rows_t **rows, int nargs, ...);
gf_db_status_t gf_db_pselect(server_rec *s, apr_pool_t *p, ap_dbd_t *dbd, const char *label,
                             gf_db_rows_t **rows, int nargs, ...);

/* Per-request state of the module (r->request_config). */
typedef struct {
    int capture;                 /* record the answer (Idempotency-Key owner) */
    int status;
    const char *body;
    const char *location;
    int has_body;                /* the body was read already */
    char *req_body;
    apr_size_t req_len;
    ap_dbd_t *dbd;               /* the pooled connection held, or NULL */
    int dbd_cleanup;             /* its release is registered on r->pool */
    const char *idem_key;        /* Idempotency-Key owned by this request, */
    const char *idem_owner;      /* and its owner token (NULL without) */
    int idem_linked;             /* a generation was linked to the key */
    int routed;                  /* the type handler routed it: route_kind is set */
    int route_kind;              /* its gf_route_kind_t, for the metrics */
    int not_a_file;              /* in a type's location: no filesystem walk */
    int cors_preflight;          /* a CORS preflight from an allowed origin */
    void (*answered)(request_rec *r); /* runs once a parked request's answer is
                                       * composed (the Idempotency-Key's record) */
} gf_req_t;
gf_req_t *gf_req(request_rec *r);

/* mod_genflow_http.c */
int gf_send_json(request_rec *r, int status, const char *json);
const char *gf_json_etag(apr_pool_t *p, const char *json);
int gf_send_json_validated(request_rec *r, const char *json, const char *etag);
int gf_send_error(request_rec *r, int status, const char *code, const char *message);
int gf_send_db_error(request_rec *r, gf_db_status_t st);
/* 400 for a query parameter gf_query_arg found unusable (GF_QUERY_BAD). */
int gf_send_bad_query(request_rec *r, const char *name);
int gf_read_json_body(request_rec *r, long max_body, char **body, apr_size_t *len);
void gf_register_error_filter(void);
void gf_insert_error_filter(request_rec *r);

/* The genflow-* handler a location sets (SetHandler), also when httpd
 * refused the request before applying it (an auth failure); else NULL. */
const char *gf_site_handler(request_rec *r);

/* SetHandler genflow-api: JSON 404 NOT_FOUND for unknown paths under the
 * API prefix. */
int gf_api_handler(request_rec *r);

/* mod_genflow_idempotency.c: run(r, baton) under the request's
 * Idempotency-Key, if it has one; resume(r, baton, id) answers for the
 * generation id that an earlier request with the key created before it
 * died. */
int gf_idempotent(request_rec *r, long max_body, int (*run)(request_rec *, void *),
                  int (*resume)(request_rec *, void *, const char *), void *baton);
/* Does this request still own its Idempotency-Key's record? */
int gf_idempotency_still_owned(request_rec *r);

/* mod_genflow_type.c (the endpoints' files share mod_genflow_type.h) */
int gf_type_handler(request_rec *r);
int gf_type_resume(request_rec *r, void *baton, const char *id);

/* mod_genflow_worker.c: background workers and the listener in every child */
void gf_workers_child_init(apr_pool_t *pchild, server_rec *s);
/* Wake one of this child's idle workers: new work was queued. */
void gf_workers_wake(void);
/* Worker threads running in this child. */
int gf_workers_running(void);
/* This child's attempts in flight on its loop, their cap
 * (GenFlowMaxInFlight), and the HTTP exchanges open now; zeros without a
 * loop. */
void gf_workers_flights(int *in_flight, int *max_in_flight, int *transfers);
/* Is the child's listener connected (NOTIFY in force)? */
int gf_workers_listening(void);
/* Waiting for a generation to change: take the sequence BEFORE reading the
 * row, then sleep until a notification for id came after it, or timeout
 * (capped: a short backstop poll while the listener is down). Holds no
 * database connection. */
apr_uint64_t gf_workers_change_seq(void);
/* Was id announced after change number since? */
int gf_workers_changed_since(const char *id, apr_uint64_t since);
/* Status answers of this child (GenFlowStatusCache): the cached answer of
 * (type, id, user), 1 on a hit (*born: when the running generation was
 * created, 0 for a finished one); the version of id to take before
 * reading its row; and remember an answer read after taking version. */
int gf_workers_status_cached(apr_pool_t *p, const gf_type_t *t, const char *id,
                             const char *user, const char **json, const char **etag,
                             apr_time_t *born);
apr_uint64_t gf_workers_status_version(const char *id);
void gf_workers_status_store(const gf_type_t *t, const char *id, const char *user,
                             const char *json, const char *etag, apr_time_t born,
                             apr_uint64_t version);
void gf_workers_wait_change(apr_pool_t *p, const char *id, apr_uint64_t since,
                            apr_interval_time_t timeout);
/* The child is stopping: abandon the attempt, release its row. */
int gf_workers_aborting(void);
/* Is this child's engine stopping (no new attempts)? */
int gf_workers_stopping(void);
/* Run fn(baton) as an attempt in flight on the child's loop, where its
 * provider exchanges hold no thread, in a place the worker reserved
 * before its claim; 0, or -1 when there is no loop or it is stopping (the
 * caller runs it itself and keeps the place). fn calls
 * gf_workers_landed() last, which frees the place. */
int gf_workers_launch(void (*fn)(void *baton), void *baton);
void gf_workers_landed(void);

/* One running attempt, renewed by the listener's heartbeat while it is
 * in the child's list (between gf_attempt_begin and gf_attempt_end). */
typedef struct gf_attempt_t {
    struct gf_attempt_t *prev, *next;
    server_rec *s;               /* whose lease and database */
    const gf_type_t *type;
    char id[40];
    char owner[320];
    int attempt;
    volatile int active;
    volatile int lost;           /* the lease is gone: write nothing */
} gf_attempt_t;
void gf_attempt_begin(gf_attempt_t *a, server_rec *s, const gf_type_t *t, const char *id,
                      const char *owner, int attempt);
void gf_attempt_end(gf_attempt_t *a);
int gf_attempt_lost(const gf_attempt_t *a);

/* mod_genflow_run.c: one attempt of one claimed generation */
typedef struct {
    const gf_type_t *type;
    const char *id, *user, *prompt, *source_image, *aspect_ratio;
    apr_uint64_t seed;
    const char *chain;
    int chain_index, retry_count, max_retries, poll_count, poll_errors, attempts;
    const char *provider_job_id;
    const char *provider_state;
    apr_time_t deadline;
    apr_time_t started;          /* the first attempt's start */
    const char *lease_owner;
    int rescued;                 /* the previous attempt ended without an outcome */
    const char *preset;          /* the create's preset key, or NULL */
    const char *strength;        /* parameters.strength as stored, or NULL */
    const char *site;            /* the server that created it ("host:port"), or NULL */
    apr_interval_time_t defer;   /* no place of its provider: due again after this */
} gf_claim_t;
/* Polls of accepted jobs a worker claims at once (GF_SQL_CLAIM_POLLS). */
#define GF_POLL_BATCH 16
/* Providers a claim leaves alone, newline-separated: those whose limits
 * have no place now (the claim adds them), and those a type of a higher
 * priority found full in the same round (the worker passes them on, so
 * that a place freed a moment later goes to the higher type). */
#define GF_SKIP_MAX 1024
typedef struct {
    char names[GF_SKIP_MAX];
} gf_skip_t;
/* Add the newline-separated names of list to skip (as many as fit). */
void gf_skip_add(gf_skip_t *skip, const char *list);
/* Work type t on engine e's database: one due generation without an
 * accepted provider job (new work goes first), else a batch of at most
 * *places due polls (places the worker reserved in the loop), each with
 * its own server's settings. Each claimed row becomes an attempt in
 * flight on the child's loop (gf_workers_launch), taking one place off
 * *places, or, without a loop, is run here. Returns 1 when something was
 * claimed, 0 when nothing was due, -1 on database trouble. */
int gf_run_one(const gf_engine_t *e, apr_pool_t *p, const gf_type_t *t,
               const char *lease_owner, int *places, gf_skip_t *skip);
/* Which of engine e's types have work due now (usually one query):
 * due[i] for e->types[i]. 0, or -1 on database trouble. */
int gf_run_due_types(const gf_engine_t *e, apr_pool_t *p, int *due);
/* Expire never-started generations and prune old failures of type t. */
void gf_run_sweep(server_rec *s, apr_pool_t *p, const gf_type_t *t);
/* Sweeps that are not per type (idempotency records). */
void gf_run_sweep_global(server_rec *s, apr_pool_t *p);

/* mod_genflow_uploads.c: SetHandler genflow-uploads */
int gf_uploads_handler(request_rec *r);

/* mod_genflow_admin.c */
int gf_admin_handler(request_rec *r);
int gf_health_handler(request_rec *r);

/* mod_genflow_metrics.c */
int gf_metrics_handler(request_rec *r);
void gf_metrics_register_hooks(void);
/* Create (or keep, across restarts) the shared counters; post_config. */
void gf_metrics_post_config(apr_pool_t *pconf, server_rec *s);
/* The server's counters, for gf_metrics_* updates; NULL when there are
 * none (the updates are then no-ops). */
gf_metrics_t *gf_metrics(void);

/* mod_genflow_breaker.c: each provider's circuit breaker in shared memory */
void gf_breaker_register_hooks(void);
/* Create the shared states (keeping those of providers still declared
 * across a restart) and the global mutex; post_config. */
int gf_breaker_post_config(apr_pool_t *pconf, server_rec *s);
void gf_breaker_child_init(apr_pool_t *pchild, server_rec *s);
/* Before a submission to prov: 0 when it may go (*probe: hand it back to
 * gf_breaker_record_call), 1 when the circuit is open and d says what
 * happens instead: the chain's next entry now (more), or a failure. */
int gf_breaker_gate(server_rec *s, apr_pool_t *p, const gf_provider_t *prov, int more,
                    apr_uint32_t *probe, gf_decision_t *d);
/* After a submission admitted by gf_breaker_gate (res NULL: cut off, no
 * verdict). */
void gf_breaker_record_call(server_rec *s, const gf_provider_t *prov, apr_uint32_t probe,
                            const gf_provider_result_t *res);
/* genflow-health: the circuits of server s's providers, by name. */
json_object *gf_breaker_health(apr_pool_t *p, server_rec *s);
/* genflow-metrics and mod_status. */
void gf_breaker_metrics(request_rec *r);
void gf_breaker_status(request_rec *r, int flags);
/* Every provider of the configuration once, with its server's label
 * ("main" or "host:port") and the key its shared state is found by
 * (the provider limits keep theirs by the same key). */
void gf_breaker_each(void (*fn)(gf_provider_t *prov, const char *server, const char *key,
                                void *baton), void *baton);

/* mod_genflow_webhook.c */
int gf_webhook_handler(request_rec *r);

/* mod_genflow_authn_cache.c: the genflow-cache authn provider (its
 * directives sit in gf_cmds; their settings in gf_dir_conf_t.authn_cache). */
void gf_authn_cache_register_hooks(apr_pool_t *p);
struct gf_authn_cache_dir *gf_authn_cache_merge_dir(apr_pool_t *p,
                                                    struct gf_authn_cache_dir *base,
                                                    struct gf_authn_cache_dir *add);
const char *gf_authn_cache_set_socache(cmd_parms *cmd, void *dc, const char *arg);
const char *gf_authn_cache_set_size(cmd_parms *cmd, void *dc, const char *arg);
const char *gf_authn_cache_set_provider(cmd_parms *cmd, void *dc, const char *arg);
const char *gf_authn_cache_set_ttl(cmd_parms *cmd, void *dc, const char *arg);
const char *gf_authn_cache_add_watch(cmd_parms *cmd, void *dc, const char *arg);

/* mod_genflow_cors.c: GenFlowCORSOrigins and the CORS headers of every
 * location the module serves; a preflight from an allowed origin is
 * answered 204 without authentication. */
const char *gf_cors_set_origins(cmd_parms *cmd, void *dc, int argc, char *const argv[]);
void gf_cors_register_hooks(void);

/* mod_genflow_discovery.c: SetHandler genflow-types, the list of the
 * type locations of the request's server, built at startup. */
int gf_types_handler(request_rec *r);
void gf_discovery_post_config(apr_pool_t *pconf, server_rec *s);

/* mod_genflow_quota.c */
int gf_quota_handler(request_rec *r);
gf_db_status_t gf_account_ensure(request_rec *r, ap_dbd_t *dbd);

#endif
