/* SPDX-License-Identifier: Apache-2.0 */
/* gf_breaker.h: the circuit breaker of one provider, without httpd.
 *
 * closed ──(failures within window)──▶ open ──(cool-down over)──▶ half-open
 *   ▲                                   ▲                          │
 *   └──────── the probe succeeded ──────┼──── the probe failed ────┘
 *
 * closed:    every submission goes to the provider; a counted failure is
 *            remembered with its time, a success forgets them all.
 * open:      no submission goes to the provider until retry_at; the chain
 *            falls through to its next entry at once.
 * half-open: one submission at a time (the probe) goes through; its success
 *            closes the circuit, its failure opens it for another cool-down.
 *            A probe whose result never comes (a killed child) holds the
 *            slot only until probe_until: then the next submission probes.
 *
 * gf_breaker_t is a plain struct with no pointers: the glue keeps one per
 * provider in shared memory and calls these functions under a global
 * mutex, with the time passed in (so every rule is unit-tested).
 */
#ifndef GF_BREAKER_H
#define GF_BREAKER_H

#include <apr_pools.h>
#include <apr_time.h>
#include <json-c/json.h>

#include "core/gf_job.h"
#include "core/gf_outcome.h"

/* The most failures a window can require (the ring's size). */
#define GF_BREAKER_MAX_FAILURES 100

#define GF_BREAKER_DEFAULT_FAILURES 5
#define GF_BREAKER_DEFAULT_WINDOW   apr_time_from_sec(60)
#define GF_BREAKER_DEFAULT_COOLDOWN apr_time_from_sec(30)

/* One provider's settings (GenFlowProvider … breaker=… options). */
typedef struct {
    int enabled;                   /* 0: never opens (breaker=off) */
    int failures;                  /* N: failures within window that open it */
    apr_interval_time_t window;
    apr_interval_time_t cooldown;  /* open this long before a probe */
    apr_interval_time_t probe_ttl; /* a probe's slot expires after this */
} gf_breaker_conf_t;

typedef enum {
    GF_BREAKER_CLOSED = 0,
    GF_BREAKER_OPEN = 1,
    GF_BREAKER_HALF_OPEN = 2
} gf_breaker_state_t;

/* The shared state of one provider. */
typedef struct {
    apr_uint32_t state;            /* gf_breaker_state_t */
    apr_uint32_t nfail;            /* failure times kept in the ring */
    apr_uint32_t head;             /* where the next one goes */
    apr_uint32_t probe_seq;        /* the running probe's number (0: none yet) */
    apr_time_t opened_at;          /* when it last opened (0: never) */
    apr_time_t retry_at;           /* open: when the cool-down ends */
    apr_time_t probe_until;        /* half-open: the probe's slot expires (0: free) */
    apr_uint64_t skipped;          /* submissions not made because it was open */
    apr_uint64_t opened;           /* times it opened */
    apr_time_t fail_at[GF_BREAKER_MAX_FAILURES];
} gf_breaker_t;

/* What a submission may do. */
typedef enum {
    GF_BREAKER_ALLOW = 0,          /* call the provider */
    GF_BREAKER_PROBE,              /* call it: this call is the probe */
    GF_BREAKER_SKIP                /* do not call it (counted in skipped) */
} gf_breaker_admit_t;

/* How one call counts. */
typedef enum {
    GF_BREAKER_NEUTRAL = 0,        /* says nothing about the provider's health */
    GF_BREAKER_SUCCESS,
    GF_BREAKER_FAILURE,
    GF_BREAKER_EXHAUSTED           /* the account is out of credits: every call
                                    * would fail alike until someone pays, so
                                    * the circuit opens at once */
} gf_breaker_outcome_t;

/* The defaults: on, 5 failures within 60 s, 30 s cool-down, the probe's
 * slot held for the cool-down. */
void gf_breaker_conf_default(gf_breaker_conf_t *conf);

/* "key=value" of a GenFlowProvider line when key is breaker,
 * breaker_failures, breaker_window or breaker_cooldown: 1 and *err set
 * (NULL when fine) when it was one of them, 0 when key is not ours.
 * Seconds may end in "s". *err is static text or in no pool: a literal. */
int gf_breaker_option(gf_breaker_conf_t *conf, const char *key, const char *value,
                      const char **err);

/* Empty and closed. */
void gf_breaker_init(gf_breaker_t *b);

/* Whether b's fields are in range (its ring index above all): a state
 * copied from another generation's shared memory is used only then. */
int gf_breaker_sane(const gf_breaker_t *b);

/* May a submission go to the provider now? For GF_BREAKER_PROBE, *probe
 * is the probe's number, to hand back to gf_breaker_record; else 0. */
gf_breaker_admit_t gf_breaker_admit(gf_breaker_t *b, const gf_breaker_conf_t *conf,
                                    apr_time_t now, apr_uint32_t *probe);

/* The result of a submission admitted with probe (0: not a probe). While
 * closed, a failure is counted and a success forgets the failures; while
 * open or half-open only the current probe's result counts (late results
 * of calls admitted before the circuit opened change nothing). A neutral
 * probe result frees the probe's slot for the next submission. Returns
 * the state after. */
gf_breaker_state_t gf_breaker_record(gf_breaker_t *b, const gf_breaker_conf_t *conf,
                                     apr_time_t now, apr_uint32_t probe,
                                     gf_breaker_outcome_t outcome);

/* How a submission's result counts: an image, an accepted or running job
 * is a success; a transient failure (connect, DNS, TLS, timeout, HTTP
 * 408/429/5xx) or API_ERROR is a failure; PROVIDER_CREDITS exhausts the
 * account (the circuit opens at once); anything else (content filtered,
 * validation, the provider's key) is neutral. */
gf_breaker_outcome_t gf_breaker_outcome(const gf_provider_result_t *res);

/* Failures within the window before now (closed), else 0. */
int gf_breaker_failures(const gf_breaker_t *b, const gf_breaker_conf_t *conf, apr_time_t now);

/* The state (open stays open past its cool-down until the next
 * submission comes and probes). */
gf_breaker_state_t gf_breaker_state(const gf_breaker_t *b);

/* "closed", "open", "half_open". */
const char *gf_breaker_state_name(gf_breaker_state_t state);

/* May a submission go at now, as b stands (a look only: no probe taken)?
 * 0 while it is open and cooling down. */
int gf_breaker_closed_at(const gf_breaker_t *b, apr_time_t now);

/* When the next submission may go: the cool-down's end (open), else when
 * the running probe's slot expires (0: none). */
apr_time_t gf_breaker_retry_at(const gf_breaker_t *b);

/* How long a probe's slot is held: the cool-down, or the longest attempt
 * the provider can take (worst) when that is longer. */
apr_interval_time_t gf_breaker_probe_ttl(const gf_breaker_conf_t *conf,
                                         apr_interval_time_t worst);

/* The circuit of provider name is open (retry_at: when it may be tried
 * again): d is what happens instead, the chain's next entry (more) or a
 * failure (API_ERROR), refunded like any. */
void gf_breaker_refusal(apr_pool_t *p, const char *name, int more, apr_time_t retry_at,
                        gf_decision_t *d);

/* What a recorded result changed, for the log: */
typedef enum {
    GF_BREAKER_NEWS_NONE = 0,
    GF_BREAKER_NEWS_REOPENED,      /* the probe failed: open again */
    GF_BREAKER_NEWS_EXHAUSTED,     /* out of credits: opened at once */
    GF_BREAKER_NEWS_OPENED,        /* failures within the window opened it */
    GF_BREAKER_NEWS_CLOSED         /* the probe succeeded */
} gf_breaker_news_t;
/* From the state before and after gf_breaker_record, whether it opened
 * (its count grew) and how the result counted. */
gf_breaker_news_t gf_breaker_news(gf_breaker_state_t before, gf_breaker_state_t after,
                                  int opened, gf_breaker_outcome_t outcome);

/* What /api/health shows of one provider's circuit at now. */
json_object *gf_breaker_health_json(apr_pool_t *p, const gf_breaker_conf_t *conf,
                                    const gf_breaker_t *b, apr_time_t now);

#endif
