/* SPDX-License-Identifier: Apache-2.0 */
/* gf_attempt.h: what an attempt does around its provider call, without
 * httpd, shared memory or a database.
 *
 * Before the call, the gates of the shared state (the provider's limits,
 * its budget and job slots, its circuit) each give an answer the glue
 * reads from memory or the database; what follows from each answer is
 * decided here: the row back in the queue and due again after a while, a
 * decision instead of the call (the chain's next entry, or a failure),
 * or the call. After the call, an attempt of a stopping child, a
 * cancelled generation or a lost lease writes nothing more. The glue
 * (mod_genflow_engine_attempt.c) releases the row and writes the log
 * line each verdict names.
 */
#ifndef GF_ATTEMPT_H
#define GF_ATTEMPT_H

#include <apr_pools.h>
#include <apr_time.h>

#include "core/gf_job.h"

typedef enum {
    GF_GATE_OPEN = 0,           /* the call goes ahead */
    GF_GATE_DEFERRED,           /* the row goes back to the queue, certain that
                                 * nothing was sent: no decision is written */
    GF_GATE_DECIDED             /* no call: the decision the gate made is written */
} gf_gate_t;

typedef struct {
    gf_gate_t gate;
    int set_defer;              /* DEFERRED: the row is due again after defer (else
                                 * after what the limits said) */
    apr_interval_time_t defer;
    int warn;                   /* the log line at warning, not info */
    const char *what;           /* its word: "deferred", "skipped", "abandoned", "stale" */
    const char *detail;
    int job_began;              /* the call takes a job slot (max_jobs=): count it */
} gf_gate_verdict_t;

/* The provider's limits had no place for the row: back to the queue, due
 * when a place may be free, or at once when another member of its group
 * may take it (other_room). */
void gf_attempt_no_place(int other_room, gf_gate_verdict_t *v);

/* When the budget's hold of a submission ends: the generation's
 * deadline (an hour from now without one) and a lease after it. */
apr_time_t gf_attempt_hold_until(apr_time_t deadline, apr_time_t now, long lease_secs);

/* The budget's gate said spent (-1 the spend could not be read, 0 room,
 * 1 spent: the gate's decision stands, 2 every job slot taken). jobs_full:
 * with 2, the row came back to a provider this child already knew was
 * full (it waits out the second); max_jobs: the provider counts its jobs. */
void gf_attempt_budget(int spent, int jobs_full, int max_jobs, gf_gate_verdict_t *v);

/* The circuit breaker's gate: open (it decided instead of the call). */
void gf_attempt_circuit(int open, gf_gate_verdict_t *v);

/* After the call, before any decision: DECIDED (nothing more is written
 * by this attempt) when the child is stopping (released: the row went
 * back), the generation was cancelled during the call, or its lease was
 * lost; OPEN otherwise. */
void gf_attempt_left_behind(int aborting, int released, int cancelled, int lost,
                            gf_gate_verdict_t *v);

/* A claimed row's column of milliseconds since the epoch: the time, 0
 * for NULL. */
apr_time_t gf_attempt_ms(const char *col);

/* Until when the lease of a row claimed now lasts at least (the lease,
 * less a margin for the time since the claim): kept polls extend it
 * from there. */
apr_time_t gf_attempt_lease_end(apr_time_t now, long lease_secs);

/* A claimed row's count and stored columns, as the attempt trusts them:
 * a count missing or outside 1..GF_COUNT_MAX is 1; stored is at least 0
 * and less than the count (a row is never written otherwise). */
void gf_attempt_counts(const char *count_col, const char *stored_col, int *count, int *stored);

/* parameters.strength as stored (NULL: not given): 1 with *strength, or
 * 0. */
int gf_attempt_strength(const char *col, double *strength);

/* Does the call read the user's uploads first (its source "upload:<id>",
 * a mask, references)? A submission does; a poll (job_id) only for a
 * kind that draws from the pixels itself (source_pixels). */
int gf_attempt_reads_uploads(const char *source_image, const char *mask, const char *references,
                             const char *job_id, int source_pixels);

/* The arguments of an attempt's guarded statement of its lease (args:
 * room for GF_ATTEMPT_LEASE_ARGS; *nargs): RENEW (renew: the lease for
 * lease_secs more, with the attempt's own place, if it claimed one: a
 * place passed on to it is the heartbeat's), or RELEASE: a submission
 * that may have gone out (no job id, not certain) leaves the row marked
 * as maybe accepted, so that the next claim is a rescue; a certain one (a
 * deferral: nothing was sent) is due again after defer. */
#define GF_ATTEMPT_LEASE_ARGS 6
void gf_attempt_lease_args(apr_pool_t *p, int renew, long lease_secs, const char *id,
                           const char *owner, int attempts, const char *job_id, int certain,
                           apr_interval_time_t defer, const char **args, int *nargs);

/* A row whose chain no longer parses (err says why) fails for good, with
 * API_ERROR, before any call. */
void gf_attempt_unparsed(const char *err, gf_decision_t *d);
/* Its entry's provider, declared when the row was created, is gone from
 * the configuration since: a permanent failure of this chain entry, as
 * if the provider had said so (res). */
void gf_attempt_unconfigured(apr_pool_t *p, const char *provider, gf_provider_result_t *res);

/* Does decision d end the attempt's job at its provider (whatever it
 * held of the budget and its job slot goes)? Any but another poll. */
int gf_attempt_ends_job(const gf_decision_t *d);

#endif
