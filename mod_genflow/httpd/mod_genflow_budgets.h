/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_budgets.h: providers' budgets (budget=, core/gf_budget.h),
 * held in PostgreSQL for every node of a database (sql/042): the gate
 * before a submission, and what the health answer, the metrics and
 * server-status show of them (mod_genflow_budgets.c).
 */
#ifndef MOD_GENFLOW_BUDGETS_H
#define MOD_GENFLOW_BUDGETS_H

#include "core/gf_job.h"
#include "core/gf_json.h"
#include "providers/gf_provider.h"

/* Before a submission to prov: 0 when it may go (no budget, or room for
 * its expected cost); 1 when the period's budget is spent and d says what
 * happens instead: the chain's next entry now (more), or a failure
 * (BUDGET_EXHAUSTED, refunded); -1 when the database could not say (the
 * caller puts the row back for later: no call is made on an unknown
 * spend). */
int gf_budgets_gate(server_rec *s, apr_pool_t *p, const gf_provider_t *prov, int more,
                    gf_decision_t *d);
/* genflow-health: prov's budget and its period's spend, or NULL without
 * a budget. */
json_object *gf_budgets_health(request_rec *r, const gf_provider_t *prov);
/* genflow-metrics (genflow_provider_budget, genflow_provider_spent) and
 * mod_status. */
void gf_budgets_metrics(request_rec *r);
void gf_budgets_status(request_rec *r, int flags);

#endif
