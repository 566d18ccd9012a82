/* SPDX-License-Identifier: Apache-2.0 */
/* gf_budget.c: a provider's budget (see gf_budget.h). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "core/gf_budget.h"

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
