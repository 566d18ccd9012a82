/* SPDX-License-Identifier: Apache-2.0 */
/* gf_admin.h: the admin API's and the health endpoint's rules over plain
 * values (httpd/api/mod_genflow_handle_admin.c reads the request, the
 * database and the shared memory, and sends what these return): the
 * filters and limits it accepts, each refusal's message, the job list
 * merged from every type newest first, and the JSON of its answers.
 */
#ifndef GF_ADMIN_H
#define GF_ADMIN_H

#include <apr_pools.h>
#include <apr_time.h>
#include <json-c/json.h>

#define GF_ADMIN_DEFAULT_LIMIT 50
#define GF_ADMIN_MAX_LIMIT 500

/* A generation status the job list filters by (terminal_only: one a
 * delete accepts, which removes finished generations only). */
int gf_admin_valid_status(const char *s, int terminal_only);

/* A list's limit=: *limit, GF_ADMIN_DEFAULT_LIMIT without arg. NULL, or
 * the 400's message. */
const char *gf_admin_limit(apr_pool_t *p, const char *arg, long *limit);

/* A delete's status= (NULL: any) and olderThan= (required, seconds up to
 * ten years): *secs. NULL, or the 400's message. */
const char *gf_admin_delete_args(apr_pool_t *p, const char *status, const char *older,
                                 long *secs);

/* The webhook list's state= (NULL: failed): *state. NULL, or the 400's
 * message. */
const char *gf_admin_webhook_state(const char **state);

/* A grant's body: user (a name of 1..255 bytes), amount (a whole number
 * 1..GF_CREDITS_MAX) and an optional reason (at most 500 bytes). NULL, or
 * the 400's message. */
const char *gf_admin_grant_args(json_object *doc, const char **user, apr_int64_t *amount,
                                const char **reason);

/* The ledger's reason of a grant by admin (NULL "-"). */
const char *gf_admin_grant_reason(apr_pool_t *p, const char *admin, const char *reason);

/* The job list, gathered from every type's rows, then answered newest
 * first (by their creation time's text, which sorts as the time). */
typedef struct gf_admin_list_t gf_admin_list_t;
gf_admin_list_t *gf_admin_list_make(apr_pool_t *p);
/* One row: its status object's text and its creation time's. */
void gf_admin_list_add(gf_admin_list_t *l, const char *item, const char *created);
/* {"items": [...]}: the newest limit of the items that parse. */
const char *gf_admin_list_json(gf_admin_list_t *l, long limit);

/* {"items": [...]}: rows[i][0] in their order, those that parse. */
const char *gf_admin_items(apr_pool_t *p, const char *const *const *rows, int nrows);

/* The answers of a grant ({"user","currentBalance"}) and of a redelivery
 * ({"id","webhookId","state":"pending"}). */
const char *gf_admin_granted(apr_pool_t *p, const char *user, const char *balance);
const char *gf_admin_redelivered(apr_pool_t *p, const char *id, const char *webhook_id);

/* A provider as the provider list shows it. */
typedef struct {
    const char *name, *kind;
    const char *model;           /* its default model; NULL none */
    double cost, cost_per_unit;  /* its prices; 0 none */
    apr_interval_time_t poll_every; /* poll=; 0 the growing schedule */
} gf_admin_provider_t;

/* A provider's item: its settings, then circuit (borrowed: a reference is
 * taken), limits and budget (taken). */
json_object *gf_admin_provider_item(const gf_admin_provider_t *v, json_object *circuit,
                                    json_object *limits, json_object *budget);

/* What the health endpoint tells of a child. */
typedef struct {
    int ok;                      /* the database answered */
    int per_child, running, pid, listening;
    int in_flight, max_in_flight, exchanges, kept_polls;
    int parked, blocking;        /* requests waiting: parked, blocking a thread */
    int types;
    json_object *providers;      /* taken */
} gf_admin_health_t;

/* The health answer's JSON (with its error object when not ok). */
const char *gf_admin_health(apr_pool_t *p, const gf_admin_health_t *h);

#endif
