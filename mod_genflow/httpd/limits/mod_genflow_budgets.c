/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_budgets.c: providers' budgets (see mod_genflow_budgets.h).
 *
 * What a provider cost in the current period is the database's
 * (genflow_provider_spend, sql/042): every node adds each call's cost as it
 * records it (COST_RECORD). Before each submission the job holds its
 * expected cost in the period's row, and one of the provider's job slots
 * where it has max_jobs= (PROVIDER_HOLD, sql/045: conditional updates by
 * the rows' keys, on every node), and the hold goes when its cost is
 * recorded (the same statement as the record), when the attempt ends its
 * job at the provider any other way (gf_budgets_release), or past its
 * deadline (the tidy sweep's HOLDS_EXPIRE). Nothing is kept in memory: a
 * node that starts, or one of several, sees what all of them spent and
 * hold. Each statement runs on a pooled connection given back before the
 * call; only providers with budget= pay them, and a poll of an accepted
 * job never does (that job holds already).
 */
#include <string.h>
#include <apr_strings.h>
#include <http_protocol.h>
#include <mod_status.h>

#include "httpd/limits/mod_genflow_budgets.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/servers/mod_genflow_servers.h"
#include "core/gf_credits.h"
#include "core/gf_metrics.h"
#include "core/gf_sql.h"
#include "net/gf_loop.h"

typedef gf_budget_spend_t spend_t;

typedef struct {
    server_rec *s;
    apr_pool_t *p;
    const gf_provider_t *prov;
    spend_t *out;
    int ok;
} spend_read_t;

static void spend_args(const gf_provider_t *prov, const char *args[3])
{
    args[0] = prov->name;
    args[1] = gf_budget_period_name(prov->budget.period);
    args[2] = gf_budget_zone(&prov->budget);
}

static int spend_parse(gf_db_status_t st, gf_db_rows_t *rows, spend_t *out)
{
    if (st != GF_DB_OK || rows->nrows != 1) return 0;
    gf_budget_spend_parse((const char *const *)rows->rows[0], out);
    return 1;
}

static void spend_now(void *baton)
{
    spend_read_t *x = baton;
    const char *args[3];
    gf_db_rows_t *rows = NULL;
    gf_db_status_t st;

    spend_args(x->prov, args);
    st = gf_db_select_once(x->s, x->p, GF_SQL_BUDGET_SPENT, &rows, 3, args);
    x->ok = spend_parse(st, rows, x->out);
}

/* The period's spend of prov for the engine: 1, or 0 when the database
 * could not say. A connection of the pool for this one statement, given
 * back before the call it gates; where statements may block
 * (gf_loop_blocking). */
static int spend_of(server_rec *s, apr_pool_t *p, const gf_provider_t *prov, spend_t *out)
{
    spend_read_t x;
    memset(&x, 0, sizeof(x));
    memset(out, 0, sizeof(*out));
    x.s = s;
    x.p = p;
    x.prov = prov;
    x.out = out;
    gf_loop_blocking(spend_now, &x);
    return x.ok;
}

/* The same for a request that shows it (health, admin, metrics,
 * server-status): on the request's own connection, which its other
 * statements share. */
static int spend_for(request_rec *r, const gf_provider_t *prov, spend_t *out)
{
    ap_dbd_t *dbd = gf_db_acquire(r);
    const char *args[3];
    gf_db_rows_t *rows = NULL;
    gf_db_status_t st;

    memset(out, 0, sizeof(*out));
    if (!dbd) return 0;
    spend_args(prov, args);
    st = gf_db_pselectv(r->server, r->pool, dbd, GF_SQL_BUDGET_SPENT, &rows, 3, args);
    return spend_parse(st, rows, out);
}

/* The providers with a budget, each name once (a name declared in several
 * servers is one budget). */
static apr_array_header_t *budgeted(apr_pool_t *p)
{
    apr_array_header_t *keys = gf_servers_provider_keys(NULL, NULL);
    apr_array_header_t *out = apr_array_make(p, 4, sizeof(const gf_provider_t *));
    apr_hash_t *seen = apr_hash_make(p);
    int i;

    for (i = 0; keys && i < keys->nelts; i++) {
        const gf_provider_t *prov = APR_ARRAY_IDX(keys, i, gf_provider_key_t).prov;
        if (prov->budget.period == GF_BUDGET_NONE
            || apr_hash_get(seen, prov->name, APR_HASH_KEY_STRING)) {
            continue;
        }
        apr_hash_set(seen, prov->name, APR_HASH_KEY_STRING, prov);
        APR_ARRAY_PUSH(out, const gf_provider_t *) = prov;
    }
    return out;
}

int gf_budgets_room(server_rec *s, apr_pool_t *p, const gf_provider_t *prov)
{
    spend_t sp;
    if (prov->budget.period == GF_BUDGET_NONE) return 1;
    if (!spend_of(s, p, prov, &sp)) return -1;
    return gf_budget_room(&prov->budget, prov->cost_per_call, prov->cost_per_unit, &sp);
}

typedef struct {
    server_rec *s;
    apr_pool_t *p;
    const char *label;
    const char *args[9];
    int nargs;
    const char *answer;          /* the one column of the one row, or NULL */
    int ok;
} budget_stmt_t;

static void budget_stmt_now(void *baton)
{
    budget_stmt_t *x = baton;
    gf_db_rows_t *rows = NULL;
    x->ok = gf_db_select_once(x->s, x->p, x->label, &rows, x->nargs, x->args) == GF_DB_OK
            && rows->nrows == 1;
    x->answer = x->ok ? rows->rows[0][0] : NULL;
}

/* Does prov hold anything per job (a budget, job slots)? */
static int holds_jobs(const gf_provider_t *prov)
{
    return prov && gf_budget_holds_jobs(&prov->budget, prov->limit.max_jobs);
}

/* Hold what the job needs until its deadline (sql/045): "held", "jobs"
 * (no job slot), "budget" (no room), or NULL when the database could not
 * say. */
static const char *hold(server_rec *s, apr_pool_t *p, const gf_provider_t *prov, const char *id,
                        const char *type, apr_time_t until, int count)
{
    const gf_budget_conf_t *b = &prov->budget;
    budget_stmt_t x;

    memset(&x, 0, sizeof(x));
    x.s = s;
    x.p = p;
    x.label = GF_SQL_PROVIDER_HOLD;
    x.nargs = 9;
    x.args[0] = prov->name;
    x.args[1] = apr_itoa(p, prov->limit.max_jobs);
    x.args[2] = gf_budget_period_name(b->period);
    x.args[3] = gf_budget_zone(b);
    x.args[4] = apr_psprintf(p, "%.9f", b->amount);
    x.args[5] = gf_budget_hold_arg(p, b, prov->cost_per_call, prov->cost_per_unit, count);
    x.args[6] = id;
    x.args[7] = type;
    x.args[8] = apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)apr_time_as_msec(until));
    gf_loop_blocking(budget_stmt_now, &x);
    return x.ok ? x.answer : NULL;
}

void gf_budgets_release(server_rec *s, apr_pool_t *p, const gf_provider_t *prov, const char *id)
{
    budget_stmt_t x;
    if (!holds_jobs(prov)) return;
    memset(&x, 0, sizeof(x));
    x.s = s;
    x.p = p;
    x.label = GF_SQL_PROVIDER_RELEASE;
    x.nargs = 2;
    x.args[0] = id;
    x.args[1] = prov->name;
    gf_loop_blocking(budget_stmt_now, &x);
    /* Not released now (the database away): the tidy sweep releases it
     * past the job's deadline. */
}

int gf_budgets_gate(server_rec *s, apr_pool_t *p, const gf_provider_t *prov, const char *id,
                    const char *type, int count, apr_time_t until, int more, gf_decision_t *d)
{
    const char *held;
    spend_t sp;
    int verdict;

    if (!holds_jobs(prov)) return 0;
    if (!(held = hold(s, p, prov, id, type, apr_time_now() > until ? apr_time_now() : until,
                      count))) {
        return -1;
    }
    if ((verdict = gf_budget_held(held)) != 1) return verdict;
    /* No room: what was spent and held, for the message. */
    if (!spend_of(s, p, prov, &sp)) memset(&sp, 0, sizeof(sp));
    gf_budget_refusal(p, prov->name, &prov->budget, more, &sp, d);
    return 1;
}

json_object *gf_budgets_health(request_rec *r, const gf_provider_t *prov)
{
    spend_t sp;
    int known;

    if (prov->budget.period == GF_BUDGET_NONE) return NULL;
    known = spend_for(r, prov, &sp);
    return gf_budget_health_json(r->pool, &prov->budget, known, &sp);
}

void gf_budgets_metrics(request_rec *r)
{
    apr_array_header_t *provs = budgeted(r->pool);
    gf_mtext_t budget, spent, held;
    int i;

    gf_mtext_init(&budget, r->pool);
    gf_mtext_init(&spent, r->pool);
    gf_mtext_init(&held, r->pool);
    gf_mtext_family(&held, "genflow_provider_held", "gauge",
                    "What the provider's jobs in flight hold of the current budget period "
                    "(their expected cost, until it is known), on every node of the database, "
                    "in the site's money unit.");
    gf_mtext_family(&budget, "genflow_provider_budget", "gauge",
                    "A provider's budget (budget=) per period, in the site's money unit.");
    gf_mtext_family(&spent, "genflow_provider_spent", "gauge",
                    "What the provider's calls cost in the current budget period, on every "
                    "node of the database, in the site's money unit.");
    for (i = 0; i < provs->nelts; i++) {
        const gf_provider_t *prov = APR_ARRAY_IDX(provs, i, const gf_provider_t *);
        const char *period = gf_budget_period_name(prov->budget.period);
        spend_t sp;
        gf_mtext_sample(&budget, "genflow_provider_budget",
                        apr_psprintf(r->pool, "%.6f", prov->budget.amount),
                        "provider", prov->name, "period", period, NULL);
        if (spend_for(r, prov, &sp)) {
            gf_mtext_sample(&spent, "genflow_provider_spent", apr_psprintf(r->pool, "%.6f", sp.spent),
                            "provider", prov->name, "period", period, NULL);
            gf_mtext_sample(&held, "genflow_provider_held", apr_psprintf(r->pool, "%.6f", sp.held),
                            "provider", prov->name, "period", period, NULL);
        }
    }
    ap_rputs(gf_mtext_str(&budget), r);
    ap_rputs(gf_mtext_str(&spent), r);
    ap_rputs(gf_mtext_str(&held), r);
}

void gf_budgets_status(request_rec *r, int flags)
{
    apr_array_header_t *provs = budgeted(r->pool);
    int i;

    for (i = 0; i < provs->nelts; i++) {
        const gf_provider_t *prov = APR_ARRAY_IDX(provs, i, const gf_provider_t *);
        const char *period = gf_budget_period_name(prov->budget.period);
        spend_t sp;
        int known = spend_for(r, prov, &sp);
        if (flags & AP_STATUS_SHORT) {
            ap_rputs(gf_budget_status_short(r->pool, prov->name, &prov->budget, known, &sp), r);
            continue;
        }
        if (i == 0) {
            ap_rputs("<h3>Provider budgets</h3>\n<table border=\"0\"><tr><th>provider</th>"
                     "<th>budget</th><th>period since</th><th>spent</th><th>held</th></tr>\n", r);
        }
        ap_rprintf(r, "<tr><td>%s</td><td>%g per %s (%s)</td><td>%s</td><td>%s</td><td>%s</td>"
                   "</tr>\n", ap_escape_html(r->pool, prov->name), prov->budget.amount, period,
                   ap_escape_html(r->pool, gf_budget_zone(&prov->budget)),
                   known ? gf_time_rfc3339(r->pool, sp.start) : "-",
                   known ? apr_psprintf(r->pool, "%.4f", sp.spent) : "unknown",
                   known ? apr_psprintf(r->pool, "%.4f", sp.held) : "unknown");
    }
    if (provs->nelts && !(flags & AP_STATUS_SHORT)) ap_rputs("</table>\n", r);
}
