/* SPDX-License-Identifier: Apache-2.0 */
/* gf_limit.h: a provider's limits as pure rules: how many calls may be
 * open at once (max_concurrent=N), how many may start in any window of
 * S seconds (rate=N/S), and the pause a 429 with Retry-After asks for.
 *
 * The state is plain data of fixed size, so that the httpd glue can keep
 * one per provider in shared memory and apply these rules under its
 * mutex for every child at once. The rate is exact: a ring of the last N
 * starts, so that no window of S seconds ever holds more than N (a token
 * bucket would let 2N through across a window's edge).
 *
 * Open calls are counted per process (holders), so that the calls of a
 * process that died without giving them back can be found and freed
 * (gf_limit_reap): a killed child must not shrink a provider's cap for
 * good, nor leave a provider counted busier than it is.
 */
#ifndef GF_LIMIT_H
#define GF_LIMIT_H

#include <apr_pools.h>
#include <apr_time.h>

#include "core/gf_outcome.h"

/* The largest N of rate=N/S (the ring's size). */
#define GF_LIMIT_RATE_MAX 1000
/* The most processes that hold calls of one provider at once. */
#define GF_LIMIT_HOLDERS 1024
/* The longest pause a provider's Retry-After may ask for. */
#define GF_LIMIT_PAUSE_MAX apr_time_from_sec(300)

typedef struct {
    int max_concurrent;              /* 0: no cap on open calls (exchanges) */
    int rate_n;                      /* 0: no rate */
    apr_interval_time_t rate_window; /* S */
    int per_node;                    /* limits=node: counted by each httpd alone (this
                                      * state, in its shared memory); else (limits=site)
                                      * in the database, for every node together */
    int max_jobs;                    /* max_jobs=: 0, or the cap on an asynchronous
                                      * provider's jobs accepted and not finished, for
                                      * every node (sql/045; not in gf_limit_any: the
                                      * engine's hold gate counts them) */
} gf_limit_conf_t;

typedef struct {
    apr_int32_t pid;                 /* 0: a free entry */
    apr_uint32_t open;               /* calls of that process open now */
} gf_limit_holder_t;

/* Calls open, counted per process: plain data of fixed size, for shared
 * memory, used under the caller's mutex. */
typedef struct {
    apr_uint32_t open;               /* the holders' sum */
    gf_limit_holder_t each[GF_LIMIT_HOLDERS];
} gf_limit_holders_t;

typedef struct {
    gf_limit_holders_t calls;        /* calls open now, per process */
    apr_uint32_t head, count;        /* the ring of starts: oldest, how many */
    apr_time_t paused_until;         /* no start before (a 429's Retry-After) */
    apr_time_t reaped_at;            /* the last look for dead holders */
    apr_time_t starts[GF_LIMIT_RATE_MAX];
} gf_limit_state_t;

/* One option of GenFlowProvider: max_concurrent=N (1..100000), rate=N/S
 * (N 1..GF_LIMIT_RATE_MAX, S 1..3600 seconds), max_jobs=N (1..100000) or
 * limits=site|node. NULL
 * when applied, GF_LIMIT_NOT_MINE when the key is another's, else the
 * error. */
extern const char GF_LIMIT_NOT_MINE[];
const char *gf_limit_option(apr_pool_t *p, gf_limit_conf_t *c, const char *key,
                            const char *value);

/* Does the provider have any limit? */
int gf_limit_any(const gf_limit_conf_t *c);

/* The rate as the database keeps it (limits=site): starts spaced evenly,
 * this far apart at least (S/N, rounded up to the microsecond, so that
 * no window of S seconds holds more than N; to the millisecond, 3/1
 * would run at 2.994 a second, and a line 20 starts long would end 13 ms
 * behind the rate); 0 without a rate. */
apr_interval_time_t gf_limit_spacing(const gf_limit_conf_t *c);

/* How long until a generation with `ahead` generations before it in the
 * provider's line may start, from its limits and how long its calls took
 * lately (recent_call, 0: unknown): with max_concurrent=N a place frees
 * every recent_call / N, so the row waits (ahead / N + 1) calls; with
 * rate=N/S it waits `ahead` starts of S/N; with both, the longer. -1 when
 * they say nothing: no limit (the row is taken as soon as a worker is
 * free), or only max_concurrent= and no call measured yet. At most a
 * day. */
apr_interval_time_t gf_limit_wait(const gf_limit_conf_t *c, apr_int64_t ahead,
                                  apr_interval_time_t recent_call);

/* The start a wait gives, from now, rounded up to the next multiple of 5 s
 * since the epoch: an estimate that moves with the clock would change with
 * every read (and an event stream would send it every second). */
apr_time_t gf_limit_start_estimate(apr_time_t now, apr_interval_time_t wait);

/* The running average of a provider's call times after one more call
 * (old 0: none yet): each call weighs a quarter. */
apr_interval_time_t gf_limit_call_average(apr_interval_time_t old, apr_interval_time_t took);

/* May a call of process pid start at now? 1: it may, and it is counted
 * (one more open, one start in the window). 0: not now; *next is when a
 * start could be allowed by the rate or the pause, or 0 when only a
 * call's end frees room (or no holder entry is free). */
int gf_limit_take(const gf_limit_conf_t *c, gf_limit_state_t *st, apr_time_t now,
                  apr_int32_t pid, apr_time_t *next);

/* The same question without taking: for choosing what to claim. */
int gf_limit_room(const gf_limit_conf_t *c, const gf_limit_state_t *st, apr_time_t now);

/* A call taken with gf_limit_take by pid ended. */
void gf_limit_give(gf_limit_state_t *st, apr_int32_t pid);

/* A take of pid at `started` that no call followed: the place and the
 * start in the window are both given back. */
void gf_limit_untake(gf_limit_state_t *st, apr_int32_t pid, apr_time_t started);

/* One more call of process pid open: 1, or 0 when no holder entry is
 * free (nothing counted). */
int gf_limit_hold(gf_limit_holders_t *h, apr_int32_t pid);

/* A call of pid counted by gf_limit_hold ended (a holder reaped
 * meanwhile counts nothing; never below 0). */
void gf_limit_unhold(gf_limit_holders_t *h, apr_int32_t pid);

/* A process starts using the holders: whatever an earlier process of the
 * same pid left is forgotten (it cannot have calls open any more). */
void gf_limit_hello(gf_limit_holders_t *h, apr_int32_t pid);

/* Free the calls of every holder that alive() says is gone; the number
 * of calls freed. */
int gf_limit_reap(gf_limit_holders_t *h, int (*alive)(apr_int32_t pid, void *baton),
                  void *baton);

/* The provider asked for a pause (429 with Retry-After): no start before
 * until (a later pause extends it, an earlier one does not shorten it).
 * The caller caps it (GF_LIMIT_PAUSE_MAX). */
void gf_limit_pause(gf_limit_state_t *st, apr_time_t until);

/* When a call's result pauses its provider: now + Retry-After (at most
 * GF_LIMIT_PAUSE_MAX) for a RATE_LIMIT answer that gave one, else 0. */
apr_time_t gf_limit_pause_of(const gf_provider_result_t *res, apr_time_t now);

#endif
