/* SPDX-License-Identifier: Apache-2.0 */
/* gf_metrics.h: the module's counters and histograms, without httpd.
 *
 * The numbers live in one block of 64-bit slots that the httpd glue
 * (mod_genflow_metrics.c) places in anonymous shared memory before the
 * children fork, so every child and every worker thread adds to the same
 * slots (atomic adds) and any child renders the server-wide totals. The
 * block is sized once from what the configuration knows (the mounted
 * types, the declared providers) and fixed lists (endpoints, HTTP
 * statuses, job error codes, outcomes); anything outside a list is counted
 * under "other", so no client input can grow the label set.
 *
 * This file also renders the Prometheus text exposition format 0.0.4: one
 * HELP and one TYPE line per family, its samples contiguous, label values
 * escaped, cumulative histogram buckets ending with le="+Inf", _sum and
 * _count. The glue adds its database gauges with the same text helpers.
 */
#ifndef GF_METRICS_H
#define GF_METRICS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "core/gf_outcome.h"

/* Where credits moved (genflow_credits_total{movement}). */
typedef enum {
    GF_CREDITS_RESERVED = 0,   /* a create reserved the cost */
    GF_CREDITS_CHARGED,        /* a completion charged it */
    GF_CREDITS_REFUNDED,       /* a failure or a cancel refunded it */
    GF_CREDITS_MOVEMENTS
} gf_credit_movement_t;

/* The layout of the slots and the names behind their indexes. The names
 * are the process's own copies; only the slots are shared. */
typedef struct {
    int ntypes;
    const char **types;        /* mounted types, in configuration order */
    int nproviders;
    const char **providers;    /* declared providers, sorted */
    int nendpoints;
    const char **endpoints;    /* request endpoint labels, "other" last */
    int nlines;
    const char **lines;        /* "standard", the GenFlowLine names, "other" last */
    apr_uint64_t signature;    /* of the layout: a block is reused only with the same one */
    apr_size_t nslots;
    apr_uint64_t *slots;       /* NULL until attached: every update is then a no-op */
} gf_metrics_t;

/* The most providers (lines) that get a label of their own; more are
 * "other". */
#define GF_METRICS_MAX_PROVIDERS 128
#define GF_METRICS_MAX_LINES 32

/* A layout for these types, providers, request endpoint labels and
 * GenFlowLine names (copied into p; duplicates and providers or lines
 * beyond the maximum are dropped; "other", for any label not given, is
 * added last; the lines start with "standard", the starts of no line).
 * Not attached yet. */
gf_metrics_t *gf_metrics_layout(apr_pool_t *p, const char *const *types, int ntypes,
                                const char *const *providers, int nproviders,
                                const char *const *endpoints, int nendpoints,
                                const char *const *lines, int nlines);

/* Bytes the slots of m need. */
apr_size_t gf_metrics_bytes(const gf_metrics_t *m);

/* Does mem (gf_metrics_bytes(m) bytes) hold a block of exactly m's layout? */
int gf_metrics_matches(const gf_metrics_t *m, const void *mem);

/* Use mem for m's slots. fresh: zero it and stamp the layout and now as
 * the start time; otherwise it must match (the counts go on). */
void gf_metrics_attach(gf_metrics_t *m, void *mem, int fresh, apr_time_t now);

/* When the counts started (the block was created). */
apr_time_t gf_metrics_start_time(const gf_metrics_t *m);

/* ---- updates (thread- and process-safe; m NULL or unattached: no-op) ---- */

/* A request a handler of the module answered (or httpd refused in one of
 * its locations). type NULL: a site-wide handler ("-"). */
void gf_metrics_request(gf_metrics_t *m, const char *type, const char *endpoint,
                        int http_status, apr_interval_time_t duration);

/* What calls to a provider cost (the provider's reported usage at the
 * configured prices, plus cost= per call), counted in millionths of the
 * site's money unit (genflow_provider_cost_total{provider}). */
#define GF_METRICS_COST_UNIT 1000000.0
void gf_metrics_provider_cost(gf_metrics_t *m, const char *provider, double cost);

/* One provider attempt: outcome and code as gf_metrics_classify gives. */
void gf_metrics_provider_call(gf_metrics_t *m, const char *provider, const char *outcome,
                              const char *code, apr_interval_time_t duration);

/* A claim's result: "claimed", "empty" (nothing due), "full", "busy",
 * "rate", "paused" (the provider's gate). */
void gf_metrics_claim(gf_metrics_t *m, const char *result);

/* What the job engine of a child did (genflow_engine_events_total{event}). */
typedef enum {
    GF_ENGINE_WAKE = 0,      /* a worker woken for work (NOTIFY, a queue here, a landing) */
    GF_ENGINE_ROUND,         /* a worker's round over a database's due work */
    GF_ENGINE_HAND_ON,       /* a freed place claimed for at once */
    GF_ENGINE_DOORBELL,      /* another child's freed place answered here */
    GF_ENGINE_SWEEP,         /* the sweeps of the databases (one child of the httpd a tick) */
    GF_ENGINE_STANDBY,       /* a place passed in the child to the row claimed to follow its call */
    GF_ENGINE_STRAY,         /* a row of a provider some chain names, found only by the tidy sweep */
    GF_ENGINE_PACED          /* a row claimed just before its rate's start, started at it */
} gf_engine_event_t;
void gf_metrics_engine(gf_metrics_t *m, gf_engine_event_t ev);

/* The content policy's checks of a create's prompt
 * (genflow_prompt_policy_checks_total{check,outcome}) and how long the
 * moderation endpoint took to answer (genflow_moderation_duration_seconds). */
typedef enum { GF_POLICY_DENY_LIST = 0, GF_POLICY_MODERATION, GF_POLICY_CHECKS } gf_policy_check_t;
typedef enum { GF_POLICY_ALLOWED = 0, GF_POLICY_REFUSED, GF_POLICY_ERROR,
               GF_POLICY_OUTCOMES } gf_policy_outcome_t;
void gf_metrics_policy(gf_metrics_t *m, gf_policy_check_t check, gf_policy_outcome_t outcome);
void gf_metrics_moderation_time(gf_metrics_t *m, apr_interval_time_t duration);

/* A generation of type started (its first claim) that was queued in
 * line (GenFlowLine; NULL: standard) (genflow_line_starts_total). */
void gf_metrics_line_start(gf_metrics_t *m, const char *type, const char *line);

void gf_metrics_retry(gf_metrics_t *m, const char *type);
void gf_metrics_fallback(gf_metrics_t *m, const char *type);
void gf_metrics_credits(gf_metrics_t *m, gf_credit_movement_t movement, long amount);

/* A generation reached a terminal status (completed, failed, cancelled)
 * after duration since its creation. */
void gf_metrics_generation(gf_metrics_t *m, const char *type, const char *status,
                           apr_interval_time_t duration);

/* A terminal status object (docs/api.md) that this process just wrote:
 * counts the charge (completed: creditsCharged) or the refund (failed,
 * cancelled: estimatedCost) and the createdAt → finishedAt duration.
 * Returns 0 when the JSON is not a terminal status object (nothing
 * counted). */
int gf_metrics_terminal(gf_metrics_t *m, apr_pool_t *p, const char *type,
                        const char *status_json);

/* The outcome and code labels of a provider attempt's result: ok (an
 * image; code "none"), pending (a job accepted or still running; "none"),
 * transient or permanent (the job error code; an answer with neither
 * image nor job is permanent API_ERROR, as gf_job_decide treats it). */
void gf_metrics_classify(const gf_provider_result_t *res, const char **outcome,
                         const char **code);

/* ---- helpers, exposed for the unit tests ---- */

/* The bucket of v: the first i with v <= bounds[i], or n (+Inf). */
int gf_metrics_bucket(const double *bounds, int n, double v);

/* A label value escaped for the text format (\\, \", \n). */
const char *gf_metrics_escape(apr_pool_t *p, const char *v);

/* "2026-11-22T12:00:00.123Z" → *t. 0 when not of that form. */
int gf_metrics_parse_time(const char *s, apr_time_t *t);

/* ---- text exposition ---- */

typedef struct {
    apr_pool_t *p;
    char *buf;
    apr_size_t len, cap;
} gf_mtext_t;

void gf_mtext_init(gf_mtext_t *t, apr_pool_t *p);
/* HELP and TYPE of a family (type: counter, gauge, histogram). */
void gf_mtext_family(gf_mtext_t *t, const char *name, const char *type, const char *help);
/* name{k1="v1",…} value: label pairs, NULL-terminated; values escaped here. */
void gf_mtext_sample(gf_mtext_t *t, const char *name, const char *value, ...);
/* The text so far (NUL-terminated, in t->p). */
const char *gf_mtext_str(gf_mtext_t *t);
/* The text of other at the end of t (families gathered apart). */
void gf_mtext_append(gf_mtext_t *t, const gf_mtext_t *other);

/* Every counter and histogram family of m, and the start time gauge. */
void gf_metrics_render(const gf_metrics_t *m, gf_mtext_t *t);

/* The endpoint label of genflow_requests_total for a type's route
 * ("not_found" for GF_ROUTE_NONE), and every such label: the type's
 * endpoints in route order, then "not_found" (the handler table's follow,
 * the glue's). */
const char *gf_metrics_route_endpoint(int route_kind);
apr_array_header_t *gf_metrics_endpoint_labels(apr_pool_t *p);

/* genflow_build_info: the release and the schema version it needs. */
const char *gf_metrics_build_info(apr_pool_t *p);

/* What the child that answered a scrape runs: its worker threads, the
 * attempts in flight, its open exchanges and kept polls (by its pid). */
const char *gf_metrics_engine_text(apr_pool_t *p, int pid, int running, int in_flight,
                                   int exchanges, int kept_polls);

/* mod_status's section of a child: ?auto's lines (brief), or HTML. */
const char *gf_metrics_status_text(apr_pool_t *p, int brief, int types, int pid, int running);

/* The gauges read from the database at a scrape, appended to db: the
 * generations by type and status, then (each family's samples contiguous)
 * the jobs due, the longest wait and those near their deadline by type,
 * and the webhook outbox. */
typedef struct {
    gf_mtext_t *db;
    gf_mtext_t due, oldest, near;
} gf_mgauges_t;

/* The families' HELP and TYPE. */
void gf_mgauges_init(gf_mgauges_t *g, gf_mtext_t *db, apr_pool_t *p);
/* A type's rows of its metrics statement (GF_METRICS_* columns). */
void gf_mgauges_type(gf_mgauges_t *g, const char *type, const char *const *const *rows,
                     int nrows);
/* The webhook outbox's row: pending, the oldest pending's age, failed. */
void gf_mgauges_webhooks(gf_mgauges_t *g, const char *const *row);
/* The per-type families after the others, in db. */
void gf_mgauges_finish(gf_mgauges_t *g);

#endif
