/* SPDX-License-Identifier: Apache-2.0 */
/* gf_credits.h: credit rules that do not need the database (docs/operations.md).
 *
 * The authoritative arithmetic happens in single SQL statements (see
 * gf_sql.c) so concurrent requests cannot race; this file holds the rules
 * the module states to clients: what "remaining" means and when the daily
 * allowance resets.
 */
#ifndef GF_CREDITS_H
#define GF_CREDITS_H

#include <apr_pools.h>
#include <apr_time.h>

/* Largest cost a type may have and largest starting balance or limit. */
#define GF_CREDITS_MAX 1000000000L

/* remaining = min(balance, daily_limit − daily_used), never below zero.
 * A daily_limit of 0 means "no daily limit". */
long gf_credits_remaining(long balance, long daily_limit, long daily_used);

/* Can a generation of this cost be reserved now? 1 yes, 0 no. */
int gf_credits_can_reserve(long balance, long daily_limit, long daily_used, long cost);

/* Why a reservation was refused, for the 402 message. */
const char *gf_credits_refusal(apr_pool_t *p, long balance, long daily_limit,
                               long daily_used, long cost);

/* Why a statement that reserves credits, or counts a generation active
 * (queues it), wrote nothing, judged from the account read right after.
 * GF_REFUSED_NOT: the account allows it now (another request finished
 * in between): the caller runs the statement again. */
typedef enum {
    GF_REFUSED_ACTIVE,   /* GenFlowMaxActive generations queued or processing: 429 */
    GF_REFUSED_CREDITS,  /* balance or daily allowance: 402 */
    GF_REFUSED_NOT
} gf_refusal_t;

/* queues: the statement also queues (counts active); cost 0 when it
 * reserves nothing. active: the user's generations queued or processing;
 * max_active 0 = no limit. The active limit is named first. */
gf_refusal_t gf_credits_refused_why(long balance, long daily_limit, long daily_used, long cost,
                                    int queues, long active, long max_active);

/* The 429 message: what was counted, and what was not. */
const char *gf_credits_active_refusal(apr_pool_t *p, long active, long max_active);

/* The next UTC midnight strictly after now. */
apr_time_t gf_next_utc_midnight(apr_time_t now);

/* RFC 3339 UTC with seconds, e.g. 2026-11-22T00:00:00Z. */
const char *gf_time_rfc3339(apr_pool_t *p, apr_time_t t);

/* Parse a non-negative integer config value no larger than max; NULL on
 * success, else an error message. */
const char *gf_parse_amount(apr_pool_t *p, const char *arg, long max, long *out);

#endif
