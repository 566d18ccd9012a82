/* SPDX-License-Identifier: Apache-2.0 */
/* gf_budget.h: a provider's budget (GenFlowProvider … budget=AMOUNT/PERIOD
 * budget_tz=ZONE), without httpd.
 *
 * A budget caps what the site spends on one provider in a period: an hour,
 * a day or a calendar month, each starting on the hour, at midnight or on
 * the 1st in the stated time zone (default UTC), in the site's money unit
 * of cost= and cost_per_unit=. What was spent is kept in PostgreSQL for
 * every node of the database together (sql/042, genflow_provider_spend):
 * each call's cost is added as it is recorded.
 *
 * Every job holds its expected cost from the moment it is submitted until
 * its cost is known (sql/045): a synchronous call until it answers, an
 * asynchronous job (fal, Replicate past wait=, local async=) until the
 * poll that finishes it, a killed child's until its deadline. A
 * submission starts only when spent + held + its own hold stays within the
 * budget, in one conditional update of the period's row on every node
 * (gf_budget_hold_amount says what it holds); otherwise the provider is
 * skipped as an open circuit is.
 *
 * The bound: spend passes the budget by at most what the jobs in flight
 * when it ran out cost beyond what they held, each at its own worst cost.
 * With a price per picture (cost=) and no usage price, a job costs what it
 * held, and the spend never passes the budget. With cost_per_unit= a job
 * holds budget_hold= (its worst cost, when the site sets it: then the
 * spend never passes the budget either) or else the period's average so
 * far, and each job in flight may pass by its cost above that.
 */
#ifndef GF_BUDGET_H
#define GF_BUDGET_H

#include <apr_pools.h>
#include <apr_time.h>
#include <json-c/json.h>

#include "core/gf_job.h"

typedef enum {
    GF_BUDGET_NONE = 0,
    GF_BUDGET_HOUR,
    GF_BUDGET_DAY,
    GF_BUDGET_MONTH
} gf_budget_period_t;

#define GF_BUDGET_MAX 1e9          /* the largest amount a budget may have */
#define GF_BUDGET_TZ_MAX 64        /* the longest time zone name */

typedef struct {
    double amount;                 /* in the site's money unit; 0 with NONE */
    gf_budget_period_t period;
    const char *tz;                /* an IANA zone name ("Europe/Berlin") or "UTC" */
    double hold;                   /* budget_hold=: what a job holds (its worst cost), or 0 */
} gf_budget_conf_t;

/* Returned by gf_budget_option for a key that is not a budget's. */
#define GF_BUDGET_NOT_MINE ((const char *)-1)

/* budget=AMOUNT/PERIOD (hour, day, month), budget_tz=ZONE or
 * budget_hold=AMOUNT: NULL, an error, or GF_BUDGET_NOT_MINE. A zone is its name's syntax here; the glue
 * checks it against the time zones the system knows. */
const char *gf_budget_option(apr_pool_t *p, gf_budget_conf_t *b, const char *key,
                             const char *value);

/* "hour", "day", "month" (PostgreSQL's date_trunc field), or NULL. */
const char *gf_budget_period_name(gf_budget_period_t period);

/* What the next call is expected to cost: the price per picture (cost=)
 * when there is one, else what the period's calls cost on average so far
 * (cost_per_unit=), 0 when nothing is known yet. */
double gf_budget_next_cost(double cost_per_call, double spent, long calls);

/* May a call start with spent of the period gone (and held by jobs in
 * flight) and next to come? */
int gf_budget_allows(const gf_budget_conf_t *b, double spent, double next);

/* What a job holds of the budget when it is submitted: budget_hold= when
 * set, else the price per picture (cost=) plus nothing for usage; a
 * negative value when the period's average must decide (usage prices
 * without budget_hold=: the database knows it). */
double gf_budget_hold_amount(const gf_budget_conf_t *b, double cost_per_call,
                             double cost_per_unit);

/* What the database says of a budget's current period (sql/042, sql/045):
 * spent, the calls priced, when it began, what jobs in flight hold. */
typedef struct {
    double spent;
    long calls;
    apr_time_t start;
    double held;
} gf_budget_spend_t;

/* The budget's time zone: budget_tz=, else "UTC". */
const char *gf_budget_zone(const gf_budget_conf_t *b);

/* The spend statement's one row (spent, calls, the period's start in ms
 * since the epoch, held) into *out. */
void gf_budget_spend_parse(const char *const *row, gf_budget_spend_t *out);

/* What a job of a provider holds: budget_hold=, cost=, or the period's
 * average so far (the database's, given the calls priced). */
double gf_budget_job_hold(const gf_budget_conf_t *b, double cost_per_call, double cost_per_unit,
                          const gf_budget_spend_t *sp);

/* Has the budget room for the next job, with sp spent and held? */
int gf_budget_room(const gf_budget_conf_t *b, double cost_per_call, double cost_per_unit,
                   const gf_budget_spend_t *sp);

/* Does a provider hold anything per job: a budget, or job slots
 * (max_jobs=)? */
int gf_budget_holds_jobs(const gf_budget_conf_t *b, int max_jobs);

/* The hold statement's amount for a job of count pictures: what each
 * holds times count (at least one), or NULL when the period's average
 * must stand (usage prices without budget_hold=). */
const char *gf_budget_hold_arg(apr_pool_t *p, const gf_budget_conf_t *b, double cost_per_call,
                               double cost_per_unit, int count);

/* What the hold statement answered: 0 "held" (the call goes), 2 "jobs"
 * (no job slot: the row waits), 1 anything else (the budget has no room). */
int gf_budget_held(const char *answer);

/* The budget of provider name has no room: d is what happens instead,
 * the chain's next entry (more) or a failure (BUDGET_EXHAUSTED) whose
 * message says what was spent and held (sp: zeros when unknown). */
void gf_budget_refusal(apr_pool_t *p, const char *name, const gf_budget_conf_t *b, int more,
                       const gf_budget_spend_t *sp, gf_decision_t *d);

/* What /api/health shows of a budget: its terms, and its period's spend
 * when known (else nulls). */
json_object *gf_budget_health_json(apr_pool_t *p, const gf_budget_conf_t *b, int known,
                                   const gf_budget_spend_t *sp);

/* server-status's short lines of provider name's budget. */
const char *gf_budget_status_short(apr_pool_t *p, const char *name, const gf_budget_conf_t *b,
                                   int known, const gf_budget_spend_t *sp);

#endif
