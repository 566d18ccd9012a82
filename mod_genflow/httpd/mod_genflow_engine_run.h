/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_run.h: what the attempt runner's files share: the claim
 * (mod_genflow_engine_claim.c), the attempt (mod_genflow_engine_attempt.c, with
 * mod_genflow_engine_source.c for an upload source) and its outcome
 * (mod_genflow_engine_outcome.c). */
#ifndef MOD_GENFLOW_ENGINE_RUN_H
#define MOD_GENFLOW_ENGINE_RUN_H

#include "httpd/mod_genflow_engine_int.h"
#include "core/gf_job.h"
#include "core/gf_sql.h"
#include "httpd/mod_genflow_limits.h"

/* Run one claimed row: the core's rules before any call, the gates of
 * the provider's limits and circuit, the call, the decision, its outcome.
 * 1 when done (whatever happened to the generation), -1 when its outcome
 * could not be written. */
int gf_run_claimed(server_rec *s, apr_pool_t *p, gf_claim_t *c, gf_attempt_t *slot,
                   gf_limits_hold_t *hold);

/* Store what the attempt made (for a completion) and record the decision
 * d in one guarded statement; the metrics and the log say what it did.
 * 1, or -1 when the database could not take it within a lease. */
int gf_run_apply(server_rec *s, apr_pool_t *p, const gf_claim_t *c, const gf_decision_t *d,
                 const gf_provider_t *prov, const gf_provider_result_t *res);

/* Keep the attempt c in this child for its next poll instead of writing
 * the schedule d (mod_genflow_engine_keep.c): 1 when kept, nothing more to
 * write; 0 when the caller writes it. */
int gf_run_keep(server_rec *s, apr_pool_t *p, const gf_claim_t *c, const gf_provider_t *prov,
                const gf_provider_result_t *res, const gf_decision_t *d);

/* One guarded statement of this attempt (RENEW: is the lease still ours?
 * RELEASE: give the row back; certain: no request went out), run where
 * statements may block. 1 matched, 0 did not, -1 the database could not say. */
int gf_run_statement(server_rec *s, apr_pool_t *p, const gf_claim_t *c, gf_sql_type_op_t op,
                     int certain);

/* The log line of an attempt's transition; detail is escaped. */
void gf_run_log(server_rec *s, apr_pool_t *p, int level, const gf_claim_t *c,
                const char *provider, const char *what, const char *code, const char *detail);

/* An "upload:<id>" source: the upload's bytes (and, for the local
 * provider, its pixels) into job. 1 when the job has them; else 0 and res
 * says why: a transient STORAGE_ERROR (retried), or a permanent one when
 * the upload is gone or no longer what it was. */
int gf_run_resolve_upload(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                          const gf_provider_t *prov, gf_job_t *job, gf_provider_result_t *res);

#endif
