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

/* Has prov room in its budget for its next call? 1 (or no budget), 0
 * when spent, -1 when the database could not say. A look for a group's
 * choice; the gate decides. Where statements may block. */
int gf_budgets_room(server_rec *s, apr_pool_t *p, const gf_provider_t *prov);
/* Before a submission of generation id (of type, asking for count
 * pictures) to prov: 0 when it may go (nothing to hold, or what the job
 * needs now held until `until`, its deadline and a lease: its expected
 * cost, count times a picture's, a job slot of max_jobs=); 1
 * when spent + held leave no room and d says what happens instead: the
 * chain's next entry now (more), or a failure (BUDGET_EXHAUSTED,
 * refunded); 2 when every job slot is taken (the caller puts the row back,
 * due in a second, as a full max_concurrent= does); -1 when the database
 * could not say (the caller puts the row back for later: no call is made
 * on an unknown spend). A submission tried again holds once. */
int gf_budgets_gate(server_rec *s, apr_pool_t *p, const gf_provider_t *prov, const char *id,
                    const char *type, int count, apr_time_t until, int more, gf_decision_t *d);
/* The attempt ended generation id's job at prov without a cost record
 * (or after it): its hold, if any, is released. Where statements may
 * block; best effort (the tidy sweep releases it past its deadline). */
void gf_budgets_release(server_rec *s, apr_pool_t *p, const gf_provider_t *prov, const char *id);
/* genflow-health and GET {admin}/providers: prov's budget and its
 * period's spend (read on the request's connection), or NULL without a
 * budget. */
json_object *gf_budgets_health(request_rec *r, const gf_provider_t *prov);
/* genflow-metrics (genflow_provider_budget, genflow_provider_spent) and
 * mod_status. */
void gf_budgets_metrics(request_rec *r);
void gf_budgets_status(request_rec *r, int flags);

#endif
