/* SPDX-License-Identifier: Apache-2.0 */
/* gf_sql.h: every SQL statement the module runs, as (label, text) pairs.
 *
 * Statements are built once at configuration time from the configured type
 * and table names (validated identifiers), never from request data, and
 * run as mod_dbd prepared statements with %s/%d parameters. Each money
 * movement is a single statement: the account update, the ledger row and
 * the generation row change together or not at all.
 */
#ifndef GF_SQL_H
#define GF_SQL_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef struct {
    const char *label;   /* unique prepared-statement name */
    const char *sql;
    int rerun_safe;      /* may run again after a lost connection (see gf_sql.c) */
} gf_sql_stmt_t;

/* Statement operations of one type table. */
typedef enum {
    GF_SQL_CREATE = 0,   /* reserve credits + insert pending row + ledger (not active) */
    GF_SQL_QUEUE,        /* the owner's pending row → queued + active, within the limit */
    GF_SQL_GET,          /* status object of the owner's generation: json, status, age ms,
                          * queued, place, provider, job start ms (no report) */
    GF_SQL_CLAIM,        /* a worker takes one due row of a provider under a lease */
    GF_SQL_SCHEDULE,     /* a worker puts its row back for a later attempt */
    GF_SQL_COMPLETE,     /* → completed + charge */
    GF_SQL_FAIL,         /* → failed/cancelled + refund */
    GF_SQL_INPUT,        /* status and stored input of the owner's generation */
    GF_SQL_EXPIRE,       /* sweep: never-started pending rows → EXPIRED + refund */
    GF_SQL_PRUNE,        /* sweep: delete old failed/cancelled rows */
    GF_SQL_WAKE,         /* a webhook: poll the provider's job now */
    GF_SQL_HISTORY,      /* the owner's generations, newest first, a page */
    GF_SQL_ADMIN_LIST,   /* admin: generations by status/user, newest first */
    GF_SQL_ADMIN_DELETE, /* admin: delete terminal rows older than N s */
    GF_SQL_METRICS,      /* generations per status (Prometheus endpoint) */
    GF_SQL_RENEW,        /* heartbeat: extend the lease of a running attempt */
    GF_SQL_RELEASE,      /* an abandoned attempt gives its row back, due now */
    GF_SQL_ACCEPTED,     /* record a provider job id the moment it is accepted */
    GF_SQL_CLAIM_POLLS,  /* a worker takes up to N due polls of accepted jobs */
    GF_SQL_RELEASE_REST, /* gives back the claimed polls it will not run */
    GF_SQL_CREATE_QUEUED, /* CREATE, inserted queued + active, within the limit */
    GF_SQL_HISTORY_AFTER, /* the owner's generations after a cursor, a page */
    GF_SQL_ADMIN_LIST_STATUS, /* admin: generations of one status, newest first */
    GF_SQL_ADMIN_LIST_USER, /* admin: one user's generations (of one status), newest first */
    GF_SQL_EXPIRE_QUEUED, /* sweep: queued, never claimed within the TTL → QUEUE_TIMEOUT */
    GF_SQL_EXPIRE_OVERDUE, /* sweep: started, unclaimed past the deadline → TIMEOUT */
    GF_SQL_LINE_PROVIDERS, /* providers of queued rows that the chains no longer name */
    GF_SQL_KEEP,         /* a poll kept by its child: the lease to cover the next polls */
    GF_SQL_ABORT,        /* sweep: never started by its Cancel-After → cancelled/ABORTED */
    GF_SQL_GET_LINE,     /* status objects of several owners' generations (the watched
                          * generations of a line): GET's columns but the last,
                          * id, user, then GET's last */
    GF_SQL_PROGRESS,     /* the progress a provider reported for a running job */
    GF_SQL_MORE,         /* a call's pictures stored on the row, the rest of the
                          * count asked by the next call */
    GF_SQL_COMPLETE_BATCH, /* COMPLETE of several attempts in one statement */
    GF_SQL_CREATE_BATCH, /* CREATE of several requests in one statement */
    GF_SQL_TYPE_OPS
} gf_sql_type_op_t;

/* The arguments of CREATE and CREATE_QUEUED, by name: the glue fills an
 * array of GF_CREATE_ARGS strings at these places. */
typedef enum {
    GF_CREATE_USER = 0, GF_CREATE_COST, GF_CREATE_DAY_LIMIT, GF_CREATE_PROMPT,
    GF_CREATE_USER_PROMPT, GF_CREATE_PRESET, GF_CREATE_SOURCE_IMAGE, GF_CREATE_ASPECT_RATIO,
    GF_CREATE_SEED, GF_CREATE_INPUT, GF_CREATE_MAX_RETRIES, GF_CREATE_CHAIN,
    GF_CREATE_DEADLINE_SECS, GF_CREATE_MAX_ACTIVE, GF_CREATE_ID, GF_CREATE_IDEM_KEY,
    GF_CREATE_IDEM_OWNER, GF_CREATE_SERVER_NAME, GF_CREATE_TRACEPARENT, GF_CREATE_WEIGHT,
    GF_CREATE_LINE,
    GF_CREATE_ARGS
} gf_sql_create_arg_t;

/* ... and the columns of the row they return. */
typedef enum {
    GF_CREATED_ID = 0, GF_CREATED_COST, GF_CREATED_PROMPT, GF_CREATED_AT,
    GF_CREATED_COLS
} gf_sql_created_col_t;

/* The arguments of CLAIM and CLAIM_POLLS. */
typedef enum {
    GF_CLAIM_ARG_OWNER = 0, GF_CLAIM_ARG_LEASE, GF_CLAIM_ARG_NAMES, GF_CLAIM_ARG_PROVIDER,
    GF_CLAIM_ARG_MAX_CONCURRENT, GF_CLAIM_ARG_SPACING_US, GF_CLAIM_ARG_BATCH,
    GF_CLAIM_ARG_HELD_PLACE, GF_CLAIM_ARG_HELD_ID, GF_CLAIM_ARG_HELD_ATTEMPT,
    GF_CLAIM_ARG_STANDBY,
    GF_CLAIM_ARGS
} gf_sql_claim_arg_t;

/* GF_CLAIM_ARG_STANDBY: 0, an ordinary claim; 1, a place's standby (the
 * row waits in the child for the place's call to end); 2, a rate's
 * standby: it may take the rate's next start up to GF_CLAIM_RATE_AHEAD_MS
 * ahead, and its row waits in the child until that start. */
#define GF_CLAIM_RATE_AHEAD_MS 250
#define GF_SQL_STRINGIFY_(x) #x
#define GF_SQL_STRINGIFY(x) GF_SQL_STRINGIFY_(x)

/* The columns of a claimed row (CLAIM, CLAIM_POLLS): GF_CLAIM_GATE_UNTIL
 * is then the rate's start it took (ms since the epoch, rounded up; NULL
 * without a rate), when its call may go. When none was claimed, one row
 * whose GF_CLAIM_ID is NULL, with the gate's state ("open": nothing due;
 * "full", "busy", "rate", "paused") and, for the last two, until when (ms
 * since the epoch). */
typedef enum {
    GF_CLAIM_ID = 0, GF_CLAIM_USER, GF_CLAIM_PROMPT, GF_CLAIM_SOURCE_IMAGE,
    GF_CLAIM_ASPECT_RATIO, GF_CLAIM_SEED, GF_CLAIM_CHAIN, GF_CLAIM_CHAIN_INDEX,
    GF_CLAIM_RETRY_COUNT, GF_CLAIM_MAX_RETRIES, GF_CLAIM_POLL_COUNT, GF_CLAIM_PROVIDER_JOB_ID,
    GF_CLAIM_ATTEMPTS, GF_CLAIM_DEADLINE_MS, GF_CLAIM_PROVIDER_STATE, GF_CLAIM_POLL_ERRORS,
    GF_CLAIM_RESCUED, GF_CLAIM_STARTED_MS, GF_CLAIM_PRESET, GF_CLAIM_STRENGTH,
    GF_CLAIM_SERVER_NAME, GF_CLAIM_CANCEL_MS, GF_CLAIM_TRACEPARENT, GF_CLAIM_LINE,
    GF_CLAIM_JOB_STARTED_MS, GF_CLAIM_ACCEPTED_BY, GF_CLAIM_PLACE, GF_CLAIM_GATE, GF_CLAIM_GATE_UNTIL,
    GF_CLAIM_STEPS, GF_CLAIM_COUNT, GF_CLAIM_MASK, GF_CLAIM_REFERENCES, GF_CLAIM_STORED,
    GF_CLAIM_COLS
} gf_sql_claim_col_t;

/* The arguments of SCHEDULE. */
typedef enum {
    GF_SCHEDULE_DELAY_MS = 0, GF_SCHEDULE_CHAIN_INDEX, GF_SCHEDULE_RETRY_COUNT,
    GF_SCHEDULE_POLL_COUNT, GF_SCHEDULE_POLL_ERRORS, GF_SCHEDULE_PROVIDER_JOB_ID,
    GF_SCHEDULE_PROVIDER_STATE, GF_SCHEDULE_PROVIDER, GF_SCHEDULE_MODEL, GF_SCHEDULE_ID,
    GF_SCHEDULE_LEASE_OWNER, GF_SCHEDULE_ATTEMPT,
    GF_SCHEDULE_ARGS
} gf_sql_schedule_arg_t;

/* The columns of METRICS: a row per status; the due, oldest and near
 * columns are on the pending row (0 on the others). */
typedef enum {
    GF_METRICS_STATUS = 0, GF_METRICS_COUNT, GF_METRICS_DUE, GF_METRICS_OLDEST, GF_METRICS_NEAR,
    GF_METRICS_COLS
} gf_sql_metrics_col_t;

/* The columns of UPLOAD_READ. */
enum {
    GF_UPLOAD_READ_ID = 0, GF_UPLOAD_READ_STORAGE, GF_UPLOAD_READ_KEY, GF_UPLOAD_READ_URL,
    GF_UPLOAD_READ_CONTENT_TYPE, GF_UPLOAD_READ_WIDTH, GF_UPLOAD_READ_HEIGHT,
    GF_UPLOAD_READ_BYTES, GF_UPLOAD_READ_COLS
};

/* The columns of UPLOAD_EDIT. */
enum {
    GF_UPLOAD_EDIT_ID = 0, GF_UPLOAD_EDIT_CONTENT_TYPE, GF_UPLOAD_EDIT_WIDTH,
    GF_UPLOAD_EDIT_HEIGHT, GF_UPLOAD_EDIT_COLS
};

/* The columns of UPLOAD_GET. */
typedef enum {
    GF_UPLOAD_STORAGE = 0, GF_UPLOAD_KEY, GF_UPLOAD_URL, GF_UPLOAD_CONTENT_TYPE,
    GF_UPLOAD_WIDTH, GF_UPLOAD_HEIGHT, GF_UPLOAD_BYTES, GF_UPLOAD_CREATED_AT,
    GF_UPLOAD_COLS
} gf_sql_upload_col_t;

/* The columns of IDEM_GET. */
typedef enum {
    GF_IDEM_FINGERPRINT = 0, GF_IDEM_STATE, GF_IDEM_STATUS, GF_IDEM_BODY, GF_IDEM_LOCATION,
    GF_IDEM_OWNER, GF_IDEM_GENERATION, GF_IDEM_FREE,
    GF_IDEM_COLS
} gf_sql_idem_col_t;

/* Site-wide statements. */
#define GF_SQL_ACCOUNT_ENSURE  "gf_account_ensure"
#define GF_SQL_ACCOUNT_STATE   "gf_account_state"
#define GF_SQL_QUOTA           "gf_quota"
#define GF_SQL_PRESETS         "gf_presets"
#define GF_SQL_IDEM_BEGIN      "gf_idem_begin"
#define GF_SQL_IDEM_GET        "gf_idem_get"
#define GF_SQL_IDEM_SAVE       "gf_idem_save"
#define GF_SQL_IDEM_DROP       "gf_idem_drop"
#define GF_SQL_IDEM_TAKEOVER   "gf_idem_takeover"
#define GF_SQL_IDEM_RELEASE    "gf_idem_release"
#define GF_SQL_ORPHANS         "gf_orphans"
#define GF_SQL_IDEM_PRUNE      "gf_idem_prune"
#define GF_SQL_ADMIN_GRANT     "gf_admin_grant"
#define GF_SQL_PING            "gf_ping"
#define GF_SQL_DUE_TYPES       "gf_due_types"
#define GF_SQL_UPLOAD_INSERT   "gf_upload_insert"
#define GF_SQL_UPLOAD_GET      "gf_upload_get"
#define GF_SQL_UPLOAD_EXPIRE   "gf_upload_expire"
#define GF_SQL_UPLOAD_KNOWN    "gf_upload_known"
#define GF_SQL_UPLOAD_EDIT     "gf_upload_edit"
#define GF_SQL_UPLOAD_READ     "gf_upload_read"
#define GF_SQL_PREVIEW_NOTE    "gf_preview_note"
#define GF_SQL_COST_RECORD     "gf_cost_record"
#define GF_SQL_BUDGET_SPENT    "gf_budget_spent"
#define GF_SQL_PROVIDER_HOLD   "gf_provider_hold"
#define GF_SQL_PROVIDER_RELEASE "gf_provider_release"
#define GF_SQL_HOLDS_EXPIRE    "gf_holds_expire"
#define GF_SQL_GROUP_STATS     "gf_group_stats"
#define GF_SQL_PLACE_TAKE      "gf_place_take"
#define GF_SQL_GROUP_RECORD    "gf_group_record"
#define GF_SQL_GROUP_OPEN      "gf_group_open"
#define GF_SQL_GROUP_OPEN_PRUNE "gf_group_open_prune"
#define GF_SQL_WEBHOOK_CLAIM   "gf_webhook_claim"
#define GF_SQL_WEBHOOK_DONE    "gf_webhook_done"
#define GF_SQL_WEBHOOK_RETRY   "gf_webhook_retry"
#define GF_SQL_WEBHOOK_FAILED  "gf_webhook_failed"
#define GF_SQL_WEBHOOK_REDELIVER "gf_webhook_redeliver"
#define GF_SQL_WEBHOOK_BACKLOG "gf_webhook_backlog"
#define GF_SQL_WEBHOOK_PRUNE   "gf_webhook_prune"
#define GF_SQL_PLACES_ENSURE   "gf_places_ensure"
#define GF_SQL_PLACE_RELEASE   "gf_place_release"
#define GF_SQL_PROVIDER_PAUSE  "gf_provider_pause"
#define GF_SQL_PROVIDER_STATE  "gf_provider_state"
#define GF_SQL_TURNS_PRUNE     "gf_turns_prune"
#define GF_SQL_COUNTS_FOLD     "gf_counts_fold"
#define GF_SQL_LINE_FOLD       "gf_line_fold"

/* The longest table name: PostgreSQL names a type table's indexes after
 * it ("<table>_user_history", 13 more bytes) and cuts every name at 63
 * bytes, so a longer table would lose its indexes to the cut ("relation
 * already exists, skipping"). sql/009 checks the same bound. */
#define GF_SQL_TABLE_MAX 50

/* Is s usable as a table name ([a-z_][a-z0-9_]{0,49})? */
int gf_sql_valid_table(const char *s);
/* Is s usable as a type name ([a-z][a-z0-9-]{0,62})? */
int gf_sql_valid_type(const char *s);
/* Is s a provider name the SQL may carry as it is ([A-Za-z0-9._-]{1,64})? */
int gf_sql_valid_provider(const char *s);

/* The label of op for a table, e.g. "gf_neo_glitch_media_create". */
const char *gf_sql_type_label(apr_pool_t *p, const char *table, gf_sql_type_op_t op);

/* Append the type's statements to stmts (an array of gf_sql_stmt_t). */
void gf_sql_type_statements(apr_pool_t *p, const char *type, const char *table,
                            apr_array_header_t *stmts);

/* Append the site-wide statements. */
void gf_sql_global_statements(apr_pool_t *p, apr_array_header_t *stmts);

/* Append a due-work statement under label: one round trip that names the
 * (type, provider, kind) triples of the n types given (with their tables,
 * and the providers each type's chains name, newline-separated) that have
 * work due now, kind "new" (a first attempt, a retry, a fallback, a
 * rescue) or "poll", so that workers claim only there. The same tests as
 * the claims. Each set of types a database serves gets its own (label
 * GF_SQL_DUE_TYPES "_<n>"). 0 when a provider's name cannot be carried. */
int gf_sql_due_types_statement(apr_pool_t *p, const char *label, const char *const *types,
                               const char *const *tables, const char *const *providers, int n,
                               apr_array_header_t *stmts);

#endif
