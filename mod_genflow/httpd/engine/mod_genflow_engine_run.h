/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_run.h: the steps of an attempt (row, source,
 * outcome, keep, standby, attempt, claim), for the engine's own files. */
#ifndef MOD_GENFLOW_ENGINE_RUN_H
#define MOD_GENFLOW_ENGINE_RUN_H

#include "httpd/engine/mod_genflow_engine_int.h"
#include "core/gf_job.h"
#include "core/gf_sql.h"
#include "httpd/limits/mod_genflow_limits.h"
#include "httpd/config/mod_genflow_config.h"

/* The steps of an attempt, from the bottom up: each file calls only
 * those above it in this header (tests/glue_layers.sh). */

/* Run one claimed row under its slot and place (gf_engine_attempt_run).
 * The steps below the attempt that run another row (a kept poll, a
 * standby) are given it by the caller, so that none of them calls up. */
typedef int gf_engine_run_fn(server_rec *s, apr_pool_t *p, gf_claim_t *c, gf_attempt_t *slot,
                             gf_limits_hold_t *hold);

/* ---- mod_genflow_engine_row.c: a claimed row ---------------------------- */

/* A claimed row as its attempt reads it (c, from row, which it points
 * into), its server (returned), and its slot, not yet begun, with the
 * place it calls under (hold, if any). */
server_rec *gf_engine_row_fill(const gf_database_t *e, const gf_type_t *t, const char *const *row,
                               const char *lease_owner, const gf_limits_hold_t *hold, gf_claim_t *c,
                               gf_attempt_t *slot);
/* One guarded statement of this attempt (RENEW: is the lease still ours?
 * RELEASE: give the row back; certain: no request went out), run where
 * statements may block. 1 matched, 0 did not, -1 the database could not say. */
int gf_engine_row_statement(server_rec *s, apr_pool_t *p, const gf_claim_t *c, gf_sql_type_op_t op,
                            int certain);

/* The trace id a log line of the row names, or "-" (a row made before
 * its trace was kept). */
const char *gf_engine_row_trace(const gf_claim_t *c);
/* The log line of an attempt's transition; detail is escaped. */
void gf_engine_row_log(server_rec *s, apr_pool_t *p, int level, const gf_claim_t *c,
                const char *provider, const char *what, const char *code, const char *detail);

/* ---- mod_genflow_engine_source.c -------------------------------------------- */

/* The uploads an attempt names: an "upload:<id>" source's bytes (and,
 * for the local provider, its pixels), an edit's mask and references,
 * into job. 1 when the job has them; else 0 and res says why: a
 * transient STORAGE_ERROR (retried), or a permanent one when an upload is
 * gone or no longer what it was. */
int gf_engine_source_resolve(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                             const gf_provider_t *prov, gf_job_t *job, gf_provider_result_t *res);

/* ---- mod_genflow_engine_outcome.c ------------------------------------------- */

/* A call's cost, recorded as soon as the call ends (before its place in
 * the provider's limits is given back: a budget's gate then sees every
 * call that no longer holds a place), whatever becomes of its result. */
void gf_engine_outcome_cost(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                            const gf_provider_t *prov, const gf_provider_result_t *res);
/* Store what the attempt made (for a completion) and record the decision
 * d in one guarded statement; the metrics and the log say what it did.
 * 1, or -1 when the database could not take it within a lease. */
int gf_engine_outcome_apply(server_rec *s, apr_pool_t *p, const gf_claim_t *c, const gf_decision_t *d,
                            const gf_provider_t *prov, const gf_provider_result_t *res);

/* ---- mod_genflow_engine_preview.c ------------------------------------------- */

/* Previews of pictures being drawn. The hook's state, one per attempt:
 * its server and generation, and when it last took a picture. */
typedef struct {
    server_rec *s;
    const char *id;
    apr_time_t last;
} gf_preview_hook_t;
/* Does s's store take previews? It is its database's first server's
 * (the one the sweep looks through) and it can list and remove. */
int gf_engine_previews_on(server_rec *s);
/* gf_job_t.preview and preview_wanted, with a gf_preview_hook_t as
 * their baton. */
int gf_engine_preview_wanted(void *baton);
void gf_engine_preview_hook(void *baton, const unsigned char *bytes, apr_size_t len,
                            const char *content_type);
/* Previews older than GenFlowPreviewKeep removed from the store of
 * database e's first server, a page at most once a keep time (scan). */
void gf_engine_previews_sweep(const gf_database_t *e, apr_pool_t *p, gf_previews_scan_t *scan);

/* ---- mod_genflow_engine_progress.c ------------------------------------------ */

/* A poll of c found its job running, with the fraction its provider
 * reported (res->has_progress): written for the watchers when it grew and
 * a second has passed since the last write (c remembers it). */
void gf_engine_progress_note(server_rec *s, apr_pool_t *p, gf_claim_t *c,
                             const gf_provider_result_t *res, const gf_decision_t *d);

/* ---- mod_genflow_engine_keep.c ---------------------------------------------- */

/* Keep the attempt c in this child for its next poll instead of writing
 * the schedule d (mod_genflow_engine_keep.c): 1 when kept, nothing more to
 * write; 0 when the caller writes it. */
int gf_engine_keep_put(server_rec *s, apr_pool_t *p, const gf_claim_t *c, const gf_provider_t *prov,
                       const gf_provider_result_t *res, const gf_decision_t *d);

/* mod_genflow_engine_keep.c: polls of accepted jobs kept by this child
 * (gf_engine_keep_put keeps one). Start keeping (up to max; a keeper fiber on
 * the loop runs each with run when it is due); a change heard for id makes
 * its poll due now; and, when the child stops, every kept
 * row back to the queue, due now. */
void gf_engine_keep_start(gf_engine_t *W, apr_pool_t *pchild, long max, gf_engine_run_fn *run);
void gf_engine_keep_changed(const char *id);
void gf_engine_keep_release(gf_engine_t *W, apr_pool_t *p);

/* ---- mod_genflow_engine_standby.c ------------------------------------------- */

/* mod_genflow_engine_standby.c: the row a call under a place kept in the
 * database hands its place to when it ends, claimed while the call is in
 * flight. begin: before the call (NULL: no standby for it); settle: after
 * it, with its result: 1 when the place went to the standby (the hold is
 * then empty), 0 when the place is the caller's to give back or hand on
 * (and any standby row went back to the queue). run runs the standby
 * row (the caller's gf_engine_attempt_run). */
typedef struct gf_standby_t gf_standby_t;
gf_standby_t *gf_engine_standby_begin(server_rec *s, const gf_limits_hold_t *hold,
                                      gf_engine_run_fn *run);
int gf_engine_standby_settle(gf_standby_t *sb, gf_attempt_t *slot, gf_limits_hold_t *hold,
                             const gf_provider_result_t *res, apr_interval_time_t took);

/* A standby's claim (mod_genflow_engine_standby.c), from a fiber of the
 * loop, its statement on a worker thread: one due row of prov without an
 * accepted job, the highest type first, leased to owner. kind 1: a
 * place's standby (held: the place, its call still open); kind 2: a
 * rate's (the rate's next start, up to GF_CLAIM_RATE_AHEAD_MS ahead). On
 * return t is the row's type (NULL: none claimed), s its server, c and
 * slot filled (c->slot: the rate's start taken). */
typedef struct {
    const gf_database_t *e;
    apr_pool_t *pool;
    const gf_provider_t *prov;
    int kind;
    const gf_limits_hold_t *held;
    const char *owner;
    const gf_type_t *t;
    server_rec *s;
    gf_claim_t *c;
    gf_attempt_t *slot;
} gf_standby_claim_t;
/* Its time goes into prov's pace (gf_pacer_claimed), which the pacer
 * reads. */
void gf_engine_standby_claim(gf_standby_claim_t *q);

/* ---- mod_genflow_engine_pacer.c --------------------------------------------- */

/* mod_genflow_engine_pacer.c: the row that takes a rate's next
 * start, claimed a moment before that start by a fiber that the call
 * under the current start launches (for a provider with rate= kept in
 * the database and no max_concurrent=); it waits in the child and its
 * call goes at its start. c is the claim of the call that begins. run
 * runs the row (the caller's gf_engine_attempt_run). */
void gf_engine_pacer_begin(server_rec *s, const gf_provider_t *prov, const gf_claim_t *c,
                                  gf_engine_run_fn *run);

/* ---- mod_genflow_engine_attempt.c ------------------------------------------- */

/* Run one claimed row: the core's rules before any call, the gates of
 * the provider's limits and circuit, the call, the decision, its outcome.
 * 1 when done (whatever happened to the generation), -1 when its outcome
 * could not be written. */
int gf_engine_attempt_run(server_rec *s, apr_pool_t *p, gf_claim_t *c, gf_attempt_t *slot,
                          gf_limits_hold_t *hold);

/* ---- mod_genflow_engine_claim.c --------------------------------------------- */

/* Claim rows of type t and provider on database e: one due
 * generation without an accepted provider job, or (polls) a batch of at
 * most *places due polls (places the worker reserved in the loop), each
 * with its provider's place and its own server's settings, if the
 * provider's limits let a call start (hand_on: a place of it was just
 * freed in this child: ask the database whatever it said last). Each
 * claimed row becomes an attempt in flight on the child's loop
 * (gf_engine_launch), taking one place off *places, or, without a loop,
 * is run here. A provider without a place now is added to skip. 1 when
 * something was claimed, 0 when nothing, -1 on database trouble. */
int gf_engine_claim(const gf_database_t *e, apr_pool_t *p, const gf_type_t *t, const char *provider,
                    int polls, int hand_on, const char *lease_owner, int *places, gf_skip_t *skip);
/* The same, for the place a call that just ended holds (held: kept in
 * the database): the claimed row takes that very place, or, when none
 * is claimed, the claim frees it. */
int gf_engine_claim_held(const gf_database_t *e, apr_pool_t *p, const gf_type_t *t,
                         const char *provider, int polls, int hand_on, const gf_limits_hold_t *held,
                         const char *lease_owner, int *places, gf_skip_t *skip);
/* Work type t on database e: its due providers (due, from the
 * probe), new work first, starting at the rotate-th provider, leaving
 * those of skip alone; one claim at most. As gf_engine_claim. */
int gf_engine_claim_one(const gf_database_t *e, apr_pool_t *p, const gf_type_t *t,
                        const char *lease_owner, int *places, gf_skip_t *skip, const gf_due_t *due,
                        int rotate);
/* Which of database e's types have work due now, of which providers
 * (usually one query): due[i] for e->types[i]. 0, or -1 on database
 * trouble. */
int gf_engine_claim_due_types(const gf_database_t *e, apr_pool_t *p, gf_due_t *due);
#endif
