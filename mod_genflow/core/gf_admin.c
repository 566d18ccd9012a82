/* SPDX-License-Identifier: Apache-2.0 */
/* gf_admin.c: the admin API's rules over plain values (see gf_admin.h). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_tables.h>

#include "core/gf_admin.h"
#include "core/gf_credits.h"
#include "core/gf_error.h"
#include "core/gf_json.h"

int gf_admin_valid_status(const char *s, int terminal_only)
{
    return !strcmp(s, "completed") || !strcmp(s, "failed") || !strcmp(s, "cancelled")
           || (!terminal_only && (!strcmp(s, "pending") || !strcmp(s, "processing")));
}

const char *gf_admin_limit(apr_pool_t *p, const char *arg, long *limit)
{
    *limit = GF_ADMIN_DEFAULT_LIMIT;
    if (arg && (gf_parse_amount(p, arg, GF_ADMIN_MAX_LIMIT, limit) || *limit < 1)) {
        return "limit must be 1..500";
    }
    return NULL;
}

const char *gf_admin_delete_args(apr_pool_t *p, const char *status, const char *older,
                                 long *secs)
{
    if (status && !gf_admin_valid_status(status, 1)) {
        return "status must be completed, failed or cancelled: only terminal generations can "
               "be deleted";
    }
    if (!older) return "olderThan (seconds) is required";
    if (gf_parse_amount(p, older, 10L * 365 * 86400, secs)) {
        return "olderThan must be a whole number of seconds from 0 to 315360000";
    }
    return NULL;
}

const char *gf_admin_webhook_state(const char **state)
{
    if (!*state) *state = "failed";
    if (strcmp(*state, "failed") && strcmp(*state, "pending") && strcmp(*state, "delivered")) {
        return "state must be failed, pending or delivered";
    }
    return NULL;
}

const char *gf_admin_grant_args(json_object *doc, const char **user, apr_int64_t *amount,
                                const char **reason)
{
    json_object *amount_v;

    *user = gf_json_str(doc, "user");
    *reason = gf_json_str(doc, "reason");
    if (!*user || !**user || strlen(*user) > 255) return "user must be a user name";
    if (!json_object_object_get_ex(doc, "amount", &amount_v)
        || !json_object_is_type(amount_v, json_type_int)
        || (*amount = json_object_get_int64(amount_v)) < 1 || *amount > GF_CREDITS_MAX) {
        return "amount must be a whole number from 1 to 1000000000";
    }
    if (*reason && strlen(*reason) > 500) return "reason is too long";
    return NULL;
}

const char *gf_admin_grant_reason(apr_pool_t *p, const char *admin, const char *reason)
{
    return apr_pstrcat(p, "admin ", admin ? admin : "-", reason ? ": " : "",
                       reason ? reason : "", NULL);
}

typedef struct {
    const char *created;
    const char *item;
} listed_t;

struct gf_admin_list_t {
    apr_pool_t *p;
    apr_array_header_t *all;     /* listed_t */
};

gf_admin_list_t *gf_admin_list_make(apr_pool_t *p)
{
    gf_admin_list_t *l = apr_palloc(p, sizeof(*l));
    l->p = p;
    l->all = apr_array_make(p, 64, sizeof(listed_t));
    return l;
}

void gf_admin_list_add(gf_admin_list_t *l, const char *item, const char *created)
{
    listed_t *e = apr_array_push(l->all);
    e->item = item;
    e->created = created;
}

static int newest_first(const void *a, const void *b)
{
    return strcmp(((const listed_t *)b)->created, ((const listed_t *)a)->created);
}

/* Item text into items, when it parses. */
static void add_parsed(apr_pool_t *p, json_object *items, const char *text)
{
    const char *err;
    json_object *it = gf_json_parse(p, text, strlen(text), &err);
    if (it) json_object_array_add(items, json_object_get(it));
}

const char *gf_admin_list_json(gf_admin_list_t *l, long limit)
{
    json_object *out = gf_json_pool_own(l->p, json_object_new_object());
    json_object *items = json_object_new_array();
    int i;

    qsort(l->all->elts, (size_t)l->all->nelts, sizeof(listed_t), newest_first);
    for (i = 0; i < l->all->nelts && i < limit; i++) {
        add_parsed(l->p, items, APR_ARRAY_IDX(l->all, i, listed_t).item);
    }
    json_object_object_add(out, "items", items);
    return gf_json_dump(l->p, out);
}

const char *gf_admin_items(apr_pool_t *p, const char *const *const *rows, int nrows)
{
    json_object *out = gf_json_pool_own(p, json_object_new_object());
    json_object *items = json_object_new_array();
    int i;

    for (i = 0; i < nrows; i++) add_parsed(p, items, rows[i][0]);
    json_object_object_add(out, "items", items);
    return gf_json_dump(p, out);
}

const char *gf_admin_granted(apr_pool_t *p, const char *user, const char *balance)
{
    json_object *out = gf_json_pool_own(p, json_object_new_object());
    json_object_object_add(out, "user", json_object_new_string(user));
    json_object_object_add(out, "currentBalance", json_object_new_int64(apr_atoi64(balance)));
    return gf_json_dump(p, out);
}

const char *gf_admin_redelivered(apr_pool_t *p, const char *id, const char *webhook_id)
{
    json_object *out = gf_json_pool_own(p, json_object_new_object());
    json_object_object_add(out, "id", json_object_new_int64(apr_atoi64(id)));
    json_object_object_add(out, "webhookId", json_object_new_string(webhook_id));
    json_object_object_add(out, "state", json_object_new_string("pending"));
    return gf_json_dump(p, out);
}

static json_object *cost_or_null(double v)
{
    return v > 0 ? json_object_new_double(v) : NULL;
}

json_object *gf_admin_provider_item(const gf_admin_provider_t *v, json_object *circuit,
                                    json_object *limits, json_object *budget)
{
    json_object *it = json_object_new_object();

    json_object_object_add(it, "name", json_object_new_string(v->name));
    json_object_object_add(it, "kind", json_object_new_string(v->kind));
    json_object_object_add(it, "model", v->model ? json_object_new_string(v->model) : NULL);
    json_object_object_add(it, "cost", cost_or_null(v->cost));
    json_object_object_add(it, "costPerUnit", cost_or_null(v->cost_per_unit));
    /* poll=: the pace of its jobs' polls, or the growing schedule. */
    json_object_object_add(it, "pollMs", v->poll_every > 0
                           ? json_object_new_int64(apr_time_as_msec(v->poll_every)) : NULL);
    json_object_object_add(it, "circuit", json_object_get(circuit));
    json_object_object_add(it, "limits", limits);
    json_object_object_add(it, "budget", budget);
    return it;
}

const char *gf_admin_health(apr_pool_t *p, const gf_admin_health_t *h)
{
    json_object *out = gf_json_pool_own(p, json_object_new_object());
    json_object *workers = json_object_new_object(), *waiters = json_object_new_object();

    json_object_object_add(out, "status", json_object_new_string(h->ok ? "ok" : "unavailable"));
    json_object_object_add(out, "database",
                           json_object_new_string(h->ok ? "ok" : "unreachable"));
    json_object_object_add(workers, "perChild", json_object_new_int(h->per_child));
    json_object_object_add(workers, "running", json_object_new_int(h->running));
    json_object_object_add(workers, "pid", json_object_new_int(h->pid));
    json_object_object_add(workers, "listening", json_object_new_boolean(h->listening));
    json_object_object_add(workers, "inFlight", json_object_new_int(h->in_flight));
    json_object_object_add(workers, "maxInFlight", json_object_new_int(h->max_in_flight));
    json_object_object_add(workers, "exchanges", json_object_new_int(h->exchanges));
    json_object_object_add(workers, "keptPolls", json_object_new_int(h->kept_polls));
    json_object_object_add(out, "workers", workers);
    json_object_object_add(waiters, "parked", json_object_new_int(h->parked));
    json_object_object_add(waiters, "blocking", json_object_new_int(h->blocking));
    json_object_object_add(out, "waiters", waiters);
    json_object_object_add(out, "types", json_object_new_int(h->types));
    json_object_object_add(out, "providers", h->providers);
    if (!h->ok) {
        json_object *err = json_object_new_object();
        json_object_object_add(err, "code", json_object_new_string(GF_ERR_UNAVAILABLE));
        json_object_object_add(err, "message", json_object_new_string("the database is unreachable"));
        json_object_object_add(out, "error", err);
    }
    return gf_json_dump(p, out);
}
