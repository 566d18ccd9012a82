/* SPDX-License-Identifier: Apache-2.0 */
/* gf_credits.c: credit rules and times shown to clients (see gf_credits.h). */
#include <errno.h>
#include <stdlib.h>
#include <apr_strings.h>

#include "core/gf_credits.h"
#include "core/gf_error.h"

long gf_credits_remaining(long balance, long daily_limit, long daily_used)
{
    long by_day;

    if (balance < 0) {
        balance = 0;
    }
    if (daily_limit <= 0) {
        return balance;
    }
    by_day = daily_limit - daily_used;
    if (by_day < 0) {
        by_day = 0;
    }
    return balance < by_day ? balance : by_day;
}

int gf_credits_can_reserve(long balance, long daily_limit, long daily_used, long cost)
{
    return cost <= gf_credits_remaining(balance, daily_limit, daily_used);
}

const char *gf_credits_refusal(apr_pool_t *p, long balance, long daily_limit,
                               long daily_used, long cost)
{
    long left = gf_credits_remaining(balance, daily_limit, daily_used);

    if (balance < cost) {
        return apr_psprintf(p, "this generation costs %s and the balance is %ld; it can be "
                            "created once the account has more credits (an administrator "
                            "grants them)", gf_count(p, cost, "credit", "credits"), balance);
    }
    return apr_psprintf(p, "this generation costs %s and only %s of the daily limit of %ld "
                        "%s today; retry after midnight UTC (the quota's dailyReset)",
                        gf_count(p, cost, "credit", "credits"),
                        gf_count(p, left, "credit", "credits"), daily_limit,
                        left == 1 ? "remains" : "remain");
}

gf_refusal_t gf_credits_refused_why(long balance, long daily_limit, long daily_used, long cost,
                                    int queues, long active, long max_active)
{
    if (queues && max_active > 0 && active >= max_active) {
        return GF_REFUSED_ACTIVE;
    }
    if (cost > 0 && !gf_credits_can_reserve(balance, daily_limit, daily_used, cost)) {
        return GF_REFUSED_CREDITS;
    }
    return GF_REFUSED_NOT;
}

const char *gf_credits_active_refusal(apr_pool_t *p, long active, long max_active)
{
    if (active < max_active) {
        /* Refused while the count was at the limit, read below it after:
         * other requests of the user came and went in between. */
        return apr_psprintf(p, "this user's generations queued or processing were at the "
                            "limit of %ld while this request ran (%ld now); retry", max_active,
                            active);
    }
    return apr_psprintf(p, "%s of this user %s queued or processing (limit %ld); created but "
                        "not started generations do not count; retry when one has finished",
                        gf_count(p, active, "generation", "generations"),
                        active == 1 ? "is" : "are", max_active);
}

apr_time_t gf_next_utc_midnight(apr_time_t now)
{
    apr_time_t day = apr_time_from_sec(86400);
    return (now / day + 1) * day;
}

const char *gf_time_rfc3339(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t tm;
    apr_time_exp_gmt(&tm, t);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

const char *gf_parse_amount(apr_pool_t *p, const char *arg, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < 0 || v > max) {
        return apr_psprintf(p, "'%s' is not a whole number between 0 and %ld", arg, max);
    }
    *out = v;
    return NULL;
}
