/* SPDX-License-Identifier: Apache-2.0 */
/* gf_loop.h: one thread drives every provider exchange of a child.
 *
 * The loop runs on a thread of its own (gf_loop_run). Work reaches it from
 * any thread with gf_loop_spawn: the function given runs in a fiber (a
 * small stack of its own, switched with glibc's ucontext) on the loop
 * thread. Inside a fiber, the calls of the core that would block do not
 * block the thread:
 *   - gf_http_perform adds its transfer to the loop's libcurl multi handle
 *     and the fiber sleeps until the transfer ends;
 *   - gf_loop_sleep sleeps on a timer of the loop;
 *   - gf_loop_await sleeps until another thread (one that runs a database
 *     statement for the fiber) calls gf_loop_wake.
 * Meanwhile the loop runs the other fibers, so that thousands of exchanges
 * are in flight on one thread while the provider adapters stay written as
 * straight-line code. Outside a fiber (the unit tests, any other thread)
 * the same calls block as they always did.
 *
 * Rules for fibers: they never move between threads (thread-locals stay
 * valid), they are never pre-empted (a fiber runs until it waits or
 * returns), and they must not block the thread otherwise: no database
 * statement, no long computation. Every wait ends when the abort flag
 * (gf_abort_set_flag) is raised, except gf_loop_await, whose waker
 * must always call gf_loop_wake.
 *
 * The connections of the multi handle are shared by every transfer of the
 * loop: a provider host's open connections (and their TLS state) serve the
 * next exchange whichever fiber makes it.
 */
#ifndef GF_LOOP_H
#define GF_LOOP_H

#include <apr_pools.h>
#include <apr_time.h>
#include <curl/curl.h>

typedef struct gf_loop_t gf_loop_t;

/* What runs in a fiber. */
typedef void (*gf_loop_fn)(void *baton);

typedef struct gf_loop_wait_t gf_loop_wait_t;

/* Where a fiber's blocking work goes (gf_loop_blocking): the loop's owner
 * runs fn(baton) on another thread, then calls gf_loop_wake(wait). */
typedef void (*gf_loop_offload_fn)(void *owner, gf_loop_wait_t *wait,
                                   void (*fn)(void *baton), void *baton);

typedef struct {
    gf_loop_offload_fn offload; /* NULL: blocking work runs on the loop thread */
    void *offload_owner;
    apr_size_t stack_size;     /* bytes of each fiber's stack (reserved, touched
                                * as used); 0: GF_LOOP_STACK_DEFAULT */
    int idle_stacks;           /* stacks kept for reuse when their fiber ends */
    long idle_connections;     /* idle connections the multi handle keeps open */
} gf_loop_conf_t;

#define GF_LOOP_STACK_DEFAULT (256 * 1024)

/* A loop whose memory hangs off p (the multi handle and the stacks are
 * released by a cleanup of p). NULL when the multi handle cannot be made. */
gf_loop_t *gf_loop_create(apr_pool_t *p, const gf_loop_conf_t *conf);

/* The loop thread's body: runs fibers until gf_loop_stop was called and
 * no fiber is left. */
void gf_loop_run(gf_loop_t *loop);

/* Any thread: run fn(baton) in a new fiber on the loop thread. Returns
 * non-zero when the loop is stopping (fn will not run). */
int gf_loop_spawn(gf_loop_t *loop, gf_loop_fn fn, void *baton);

/* Any thread: no new fibers; gf_loop_run returns once the fibers running
 * now have ended (raise the abort flag to end their waits promptly). */
void gf_loop_stop(gf_loop_t *loop);

/* Fibers alive (started or queued), and transfers in flight: for
 * /api/health and the metrics. Any thread; a snapshot. */
int gf_loop_fibers(gf_loop_t *loop);
int gf_loop_transfers(gf_loop_t *loop);

/* Is the calling code running in a fiber? */
int gf_loop_in_fiber(void);

/* Sleep for d, or less when the abort flag is raised or (in a fiber) its
 * end (gf_loop_until) comes first: on a timer in a fiber, else on this
 * thread in short steps. 1 when aborted or cut at the fiber's end. */
int gf_loop_sleep(apr_interval_time_t d);

/* In a fiber: the time its waits end (0: never), like the abort flag but
 * for this fiber alone: gf_loop_sleep returns 1 there, and gf_http cuts a
 * transfer's total timeout to it. An attempt sets its generation's
 * deadline (the nearer of GenFlowDeadline and the request's
 * Cancel-After), so that a call under way ends with it. Returns the
 * previous value; outside a fiber, nothing and 0. */
apr_time_t gf_loop_until(apr_time_t until);

/* The time left before the calling fiber's end (0 when it has come or
 * the fiber was cut), or -1 when it has none or the caller is not a
 * fiber. */
apr_interval_time_t gf_loop_left(void);

/* The calling fiber, as a handle for gf_loop_cut (NULL outside a fiber). */
gf_loop_wait_t *gf_loop_self(void);

/* Any thread: fiber f's end comes now, as if its gf_loop_until had
 * passed: a transfer under way ends (CURLE_OPERATION_TIMEDOUT, its
 * connection closed), a gf_loop_sleep returns 1, and every later wait of
 * f ends at once (a gf_loop_await still waits for its wake). The caller
 * makes sure f has not ended (the engine cuts only attempts in its
 * registry, which leave it before their fiber ends). */
void gf_loop_cut(gf_loop_wait_t *f);

/* In a fiber: was it cut, or has its end (gf_loop_until) come? Then a
 * call that just ended was cut off by the fiber's end, not by the other
 * side. 0 outside a fiber. */
int gf_loop_was_cut(void);

/* In a fiber: run easy's transfer on the loop's multi handle and return
 * its result (CURLE_ABORTED_BY_CALLBACK when the abort flag ended it). */
CURLcode gf_loop_transfer(CURL *easy);

/* In a fiber: start(wait, baton) hands something to another thread, which
 * calls gf_loop_wake(wait) when it is done; the fiber sleeps until then.
 * The wake may come before start returns. */
void gf_loop_await(void (*start)(gf_loop_wait_t *wait, void *baton), void *baton);
void gf_loop_wake(gf_loop_wait_t *wait);

/* Run fn(baton), which may block (a database statement, a long
 * computation): in a fiber of a loop with an offload, on the owner's
 * thread while the fiber sleeps; anywhere else, right here. */
void gf_loop_blocking(void (*fn)(void *baton), void *baton);

#endif
