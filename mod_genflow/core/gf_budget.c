/* SPDX-License-Identifier: Apache-2.0 */
/* gf_budget.c: a provider's budget (see gf_budget.h). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "core/gf_budget.h"
#include "core/gf_credits.h"
#include "core/gf_error.h"

static const char *const PERIODS[] = { NULL, "hour", "day", "month" };

const char *gf_budget_period_name(gf_budget_period_t period)
{
    return period > GF_BUDGET_NONE && period <= GF_BUDGET_MONTH ? PERIODS[period] : NULL;
}

/* An IANA zone name: letters, digits and + - _ / in parts, no "..", no
 * leading "/" (it names a file under the zone database). */
static int zone_syntax(const char *z)
{
    apr_size_t n = strlen(z), i;
    if (n == 0 || n > GF_BUDGET_TZ_MAX || z[0] == '/' || z[n - 1] == '/' || strstr(z, "..")
        || strstr(z, "//")) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        char c = z[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '_' || c == '-' || c == '+' || c == '/')) {
            return 0;
        }
    }
    return 1;
}

const char *gf_budget_option(apr_pool_t *p, gf_budget_conf_t *b, const char *key,
                             const char *value)
{
    if (!strcmp(key, "budget")) {
        const char *slash = strchr(value, '/');
        char *end;
        double v;
        int i;
        if (!slash) {
            return apr_psprintf(p, "provider option budget=%s: AMOUNT/PERIOD, the period hour, "
                                "day or month (budget=100/day)", value);
        }
        v = strtod(apr_pstrmemdup(p, value, (apr_size_t)(slash - value)), &end);
        if (slash == value || *end || !(v > 0 && v <= GF_BUDGET_MAX)) {
            return apr_psprintf(p, "provider option budget=%s: the amount is a number above 0, "
                                "at most 1000000000 (the site's money unit of cost=)", value);
        }
        for (i = GF_BUDGET_HOUR; i <= GF_BUDGET_MONTH; i++) {
            if (!strcmp(slash + 1, PERIODS[i])) break;
        }
        if (i > GF_BUDGET_MONTH) {
            return apr_psprintf(p, "provider option budget=%s: the period is hour, day or month",
                                value);
        }
        b->amount = v;
        b->period = (gf_budget_period_t)i;
        return NULL;
    }
    if (!strcmp(key, "budget_hold")) {
        char *end;
        double v = strtod(value, &end);
        if (!*value || *end || !(v > 0 && v <= GF_BUDGET_MAX)) {
            return apr_psprintf(p, "provider option budget_hold=%s: what one job may cost at "
                                "most, a number above 0 (the site's money unit of cost=)", value);
        }
        b->hold = v;
        return NULL;
    }
    if (!strcmp(key, "budget_tz")) {
        if (!zone_syntax(value)) {
            return apr_psprintf(p, "provider option budget_tz=%s: a time zone name such as UTC "
                                "or Europe/Berlin", value);
        }
        b->tz = apr_pstrdup(p, value);
        return NULL;
    }
    return GF_BUDGET_NOT_MINE;
}

double gf_budget_next_cost(double cost_per_call, double spent, long calls)
{
    if (cost_per_call > 0) return cost_per_call;
    return calls > 0 && spent > 0 ? spent / (double)calls : 0;
}

double gf_budget_hold_amount(const gf_budget_conf_t *b, double cost_per_call,
                             double cost_per_unit)
{
    if (b && b->hold > 0) return b->hold;
    if (cost_per_unit > 0) return -1;
    return cost_per_call > 0 ? cost_per_call : 0;
}

int gf_budget_allows(const gf_budget_conf_t *b, double spent, double next)
{
    if (!b || b->period == GF_BUDGET_NONE) return 1;
    /* A hair of slack: sums of decimal prices in binary floating point. */
    return spent + next <= b->amount + 1e-9;
}

const char *gf_budget_zone(const gf_budget_conf_t *b)
{
    return b->tz ? b->tz : "UTC";
}

void gf_budget_spend_parse(const char *const *row, gf_budget_spend_t *out)
{
    out->spent = strtod(row[0], NULL);
    out->calls = atol(row[1]);
    out->start = apr_time_from_msec(apr_atoi64(row[2]));
    out->held = strtod(row[3], NULL);
}

double gf_budget_job_hold(const gf_budget_conf_t *b, double cost_per_call, double cost_per_unit,
                          const gf_budget_spend_t *sp)
{
    double h = gf_budget_hold_amount(b, cost_per_call, cost_per_unit);
    return h >= 0 ? h : gf_budget_next_cost(cost_per_call, sp->spent, sp->calls);
}

int gf_budget_room(const gf_budget_conf_t *b, double cost_per_call, double cost_per_unit,
                   const gf_budget_spend_t *sp)
{
    return gf_budget_allows(b, sp->spent + sp->held,
                            gf_budget_job_hold(b, cost_per_call, cost_per_unit, sp));
}

int gf_budget_holds_jobs(const gf_budget_conf_t *b, int max_jobs)
{
    return b->period != GF_BUDGET_NONE || max_jobs > 0;
}

const char *gf_budget_hold_arg(apr_pool_t *p, const gf_budget_conf_t *b, double cost_per_call,
                               double cost_per_unit, int count)
{
    double h = gf_budget_hold_amount(b, cost_per_call, cost_per_unit);
    /* A job of several pictures (count) holds what each costs. Without a
     * price, the period's average per call stands (sql/045). */
    return h >= 0 ? apr_psprintf(p, "%.9f", h * (count > 1 ? count : 1)) : NULL;
}

int gf_budget_held(const char *answer)
{
    if (!strcmp(answer, "held")) return 0;
    if (!strcmp(answer, "jobs")) return 2;
    return 1;
}

void gf_budget_refusal(apr_pool_t *p, const char *name, const gf_budget_conf_t *b, int more,
                       const gf_budget_spend_t *sp, gf_decision_t *d)
{
    memset(d, 0, sizeof(*d));
    if (more) {
        d->next = GF_NEXT_FALLBACK;
        return;
    }
    /* The chain's last entry: fail now, refunded like any failure. */
    d->next = GF_NEXT_FAIL;
    d->code = GF_JOB_BUDGET;
    d->message = apr_psprintf(p, "provider '%s' has spent its budget of %g per %s "
                              "(%.4f since %s, %.4f more held by jobs in flight); no new "
                              "request before the next %s or before those end",
                              name, b->amount, gf_budget_period_name(b->period), sp->spent,
                              gf_time_rfc3339(p, sp->start), sp->held,
                              gf_budget_period_name(b->period));
}

json_object *gf_budget_health_json(apr_pool_t *p, const gf_budget_conf_t *b, int known,
                                   const gf_budget_spend_t *sp)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "amount", json_object_new_double(b->amount));
    json_object_object_add(o, "period", json_object_new_string(gf_budget_period_name(b->period)));
    json_object_object_add(o, "timeZone", json_object_new_string(gf_budget_zone(b)));
    json_object_object_add(o, "periodStart", known ? json_object_new_string(
        gf_time_rfc3339(p, sp->start)) : NULL);
    json_object_object_add(o, "spent", known ? json_object_new_double(sp->spent) : NULL);
    json_object_object_add(o, "held", known ? json_object_new_double(sp->held) : NULL);
    json_object_object_add(o, "left", known ? json_object_new_double(
        b->amount > sp->spent + sp->held ? b->amount - sp->spent - sp->held : 0) : NULL);
    return o;
}

const char *gf_budget_status_short(apr_pool_t *p, const char *name, const gf_budget_conf_t *b,
                                   int known, const gf_budget_spend_t *sp)
{
    const char *out = apr_psprintf(p, "GenFlowBudget_%s: %s %.4f of %g per %s\n", name,
                                   known ? "spent" : "unknown", known ? sp->spent : 0.0,
                                   b->amount, gf_budget_period_name(b->period));
    return known ? apr_psprintf(p, "%sGenFlowBudgetHeld_%s: %.4f\n", out, name, sp->held) : out;
}
