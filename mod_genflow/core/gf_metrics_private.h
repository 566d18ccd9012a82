/* SPDX-License-Identifier: Apache-2.0 */
/* gf_metrics_private.h: the slot layout that counting (gf_metrics.c) and
 * rendering (gf_metrics_render.c) share, and the text writer's labelled
 * sample (gf_metrics_text.c). Included by gf_metrics*.c only; the public
 * interface is gf_metrics.h.
 *
 * The lists below are the layout: each names the slots of one dimension,
 * the last name of a list (or the missing last status) is "other", and
 * their sizes go into the layout's signature, so a block of shared memory
 * made with other lists is never reused. They are defined here, not in one
 * file, so that both files know their sizes when they compile.
 */
#ifndef GF_METRICS_PRIVATE_H
#define GF_METRICS_PRIVATE_H

#include <apr.h>

#include "core/gf_metrics.h"
#include "core/gf_error.h"

/* Slots before the first counter: the header gf_metrics_attach stamps. */
#define GF_HDR 8

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const int STATUSES[] = {
    200, 201, 202, 204, 301, 302, 304, 400, 401, 402, 403, 404, 405, 408, 409, 413, 415,
    422, 429, 500, 502, 503, 504
};                                       /* + "other" */
#define NSTATUS (N(STATUSES) + 1)
static const char *const OUTCOMES[] = { "ok", "pending", "transient", "permanent", "aborted",
                                        "other" };
static const char *const CODES[] = {
    "none", GF_JOB_TIMEOUT, GF_JOB_NETWORK, GF_JOB_API, GF_JOB_RATE_LIMIT, GF_JOB_VALIDATION,
    GF_JOB_MAX_RETRIES, GF_JOB_CONTENT_FILTERED, GF_JOB_PROVIDER_AUTH, GF_JOB_PROVIDER_CREDITS,
    GF_JOB_STORAGE, "other"
};
static const char *const GEN_STATUSES[] = { "completed", "failed", "cancelled" };
/* What a claim came to (genflow_claims_total{result}): rows taken; nothing
 * due; the provider's limits without a place, a free place locked by
 * another claim for the moment, its rate's next start not yet come, or
 * paused by a 429. */
static const char *const CLAIM_RESULTS[] = { "claimed", "empty", "full", "busy", "rate",
                                             "paused", "other" };
static const char *const ENGINE_EVENTS[] = { "wake", "round", "hand_on", "doorbell", "sweep",
                                             "standby", "stray", "paced" };

static const char *const POLICY_CHECKS[] = { "deny_list", "moderation" };
static const char *const POLICY_OUTCOMES[] = { "allowed", "refused", "error" };

static const double REQ_BOUNDS[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                                     30, 60 };
static const double PROV_BOUNDS[] = { 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120 };
static const double MOD_BOUNDS[] = { 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
static const double GEN_BOUNDS[] = { 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
                                     1800, 3600 };
#define HIST_WIDTH(b) (N(b) + 2)

typedef struct {
    apr_size_t req, req_dur, prov, prov_dur, prov_cost, retry, fallback, credits, gen_dur, claims,
        engine, policy, moderation, line_starts, total;
} offsets_t;

/* Where each kind of slot starts in m's block (the layout of gf_metrics.c). */
void gf_metrics_offsets(const gf_metrics_t *m, offsets_t *o);

/* A slot's value (any process may be adding to it). */
static inline apr_uint64_t gf_metrics_slot(const gf_metrics_t *m, apr_size_t slot)
{
    return __atomic_load_n(&m->slots[slot], __ATOMIC_RELAXED);
}

/* The most labels a sample has. */
#define MAX_LABELS 8

/* name{k1="v1",…} value for nlabels pairs at kv (values escaped here). */
void gf_mtext_sample_kv(gf_mtext_t *t, const char *name, const char *value,
                        const char *const *kv, int nlabels);

#endif
