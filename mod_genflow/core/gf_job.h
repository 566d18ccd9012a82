/* SPDX-License-Identifier: Apache-2.0 */
/* gf_job.h: the job state machine of docs/operations.md, without httpd or SQL.
 *
 * A worker runs one attempt of a generation on the provider its chain
 * position names, then asks gf_job_decide what happens next: complete,
 * poll an accepted asynchronous job again, retry the same provider after
 * a backoff, fall back to the next provider, or fail. The glue turns the
 * decision into one conditional UPDATE; this file only decides, so every
 * rule is unit-tested.
 */
#ifndef GF_JOB_H
#define GF_JOB_H

#include <apr_pools.h>
#include <apr_time.h>

#include "core/gf_outcome.h"

#define GF_BACKOFF_BASE      apr_time_from_sec(2)   /* 2 s → 4 s → 8 s … */
#define GF_BACKOFF_CAP       apr_time_from_sec(30)
#define GF_POLL_FIRST        apr_time_from_msec(500)
#define GF_POLL_CAP          apr_time_from_sec(5)
/* A job running longer is polled every fifth of its age, up to this: its
 * answer is seen at most ~20 % of its run time late (a webhook wakes the
 * poll at once anyway), and 10,000 jobs held for minutes cost a few
 * hundred polls/s, not 2,000 (docs/operations.md). */
#define GF_POLL_LONG_CAP     apr_time_from_sec(60)
#define GF_POLL_AGE_DIVISOR  5

typedef enum {
    GF_NEXT_COMPLETE = 0,   /* store the image, charge */
    GF_NEXT_POLL,           /* asynchronous job accepted/running: poll after delay */
    GF_NEXT_RETRY,          /* same provider again after delay */
    GF_NEXT_FALLBACK,       /* next provider of the chain, now */
    GF_NEXT_FAIL,           /* terminal failure, refund */
    GF_NEXT_MORE            /* pictures stored, more of the count to ask for:
                             * the next call, now (gf_job_wants_more) */
} gf_next_t;

typedef struct {
    int chain_index;        /* position in the type's chain (0-based) */
    int chain_len;
    int retry_count;        /* retries already made on this provider */
    int max_retries;
    int poll_count;         /* polls already made of an accepted job */
    int polling;            /* this attempt polled an accepted job */
    int poll_errors;        /* consecutive failed polls of that job */
    int submit_once;        /* the provider keeps the jobs it accepts (it can be
                             * polled) and takes no idempotency key: a submission
                             * that may have reached it is not made again while
                             * the chain has a next entry */
    int rescued;            /* the previous attempt ended without a word (a killed
                             * child, a submission cut off at exit) */
    apr_time_t now;
    apr_time_t started;     /* the generation's first attempt (0: unknown) */
    apr_time_t deadline;    /* started_at + GenFlowDeadline, or cancel_at if nearer */
    apr_time_t cancel_at;   /* the request's own deadline (Cancel-After), 0: none */
    apr_interval_time_t poll_every; /* the provider's pace for a running job (poll=);
                             * 0: gf_job_poll_delay_at's schedule */
} gf_job_state_t;

typedef struct {
    gf_next_t next;
    apr_interval_time_t delay;  /* for POLL and RETRY */
    int poll_failed;            /* POLL after a failed poll: count it, keep the job */
    const char *code;           /* for FAIL: the job error code */
    const char *message;
    int cancelled;              /* FAIL as cancelled, not failed: the request's
                                 * Cancel-After ended it (CANCEL_AFTER) */
    int cancel_job;             /* FAIL at the deadline with a job accepted: cancel
                                 * it at the provider (best effort) */
} gf_decision_t;

/* What to do before any call, from the claimed row alone: 1 with d
 * filled in when the attempt makes no call (the chain is exhausted, the
 * deadline has passed, or a rescued submission to a provider that keeps
 * jobs but takes no idempotency key falls back: a second submission could
 * be a second paid job), 0 when the provider is to be called. The
 * shared-state gates (the provider's limits, its circuit) are the glue's,
 * after this. */
int gf_job_before_call(const gf_job_state_t *st, gf_decision_t *d);

/* What to do after an attempt produced res. rnd feeds the jitter.
 * An image is success, except one that came after the request's own
 * Cancel-After (then cancelled with CANCEL_AFTER, not stored).
 * A transient failure of a poll, or of any step after the provider
 * accepted the job (res carries its id: a result download, say), polls again with the retry backoff until the deadline: an accepted job
 * is never submitted again and never abandoned for a fallback while it
 * may still finish. */
void gf_job_decide(const gf_job_state_t *st, const gf_provider_result_t *res,
                   apr_uint32_t rnd, gf_decision_t *d);

/* Delay before retry number n (1-based): 2 s · 2^(n−1), capped at 30 s,
 * jittered to 80–120 %, and never shorter than the provider's Retry-After. */
apr_interval_time_t gf_job_backoff(int n, apr_interval_time_t retry_after, apr_uint32_t rnd);

/* Delay before poll number n (1-based) of an asynchronous job:
 * 0.5 s growing by half each poll up to 5 s. */
apr_interval_time_t gf_job_poll_delay(int n);

/* The same for a job running for `age`: never less than a fifth of its
 * age, and at most GF_POLL_LONG_CAP (or GF_POLL_CAP, whichever is more). */
apr_interval_time_t gf_job_poll_delay_at(int n, apr_interval_time_t age);

/* Is this HTTP status of a provider worth retrying (408, 429, 5xx)? */
int gf_job_http_transient(int status);

/* The Retry-After hint a client gets for a non-terminal generation of
 * this age: grows with age, 1..10 s. */
int gf_job_client_retry_after(apr_interval_time_t age);

const char *gf_job_next_name(gf_next_t next);

/* Several pictures (a create's count). How many one call asks for: what
 * the count still lacks after the stored ones, at most what the provider
 * brings in one call (max_per_call, gf_provider_max_count). */
int gf_job_call_count(int count, int stored, int max_per_call);

/* After a call asked for `asked` pictures and `got` of them were stored:
 * 1 when the generation asks for more (the call brought every one it was
 * asked for, and the count still lacks some: a provider that takes no
 * number, or a count beyond it), 0 when it completes now (with what it
 * has: a call that brought fewer than asked is not asked again). */
int gf_job_wants_more(int count, int stored, int asked, int got);

/* A failure decided while earlier calls stored pictures (stored > 0):
 * unless it is a cancel, the generation completes with them, charged for
 * them alone (d becomes COMPLETE; returns 1). A cancel (the request's
 * Cancel-After) charges nothing, like the user's own. */
int gf_job_keeps_stored(gf_decision_t *d, int stored);

#endif
