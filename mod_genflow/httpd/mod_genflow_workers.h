/* mod_genflow_workers.h: what the engine's files of one child share (the
 * worker threads, mod_genflow_worker.c; the listener and heartbeat,
 * mod_genflow_listener.c; waiting for changes and the status cache,
 * mod_genflow_changes.c). Nothing outside them includes it. */
#ifndef MOD_GENFLOW_WORKERS_H
#define MOD_GENFLOW_WORKERS_H

#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>

#include "httpd/mod_genflow_private.h"
#include "core/gf_status_cache.h"
#include "net/gf_loop.h"

/* Waiters re-read at least this often: the backstop of NOTIFY. */
#define GF_BACKSTOP_LISTENING apr_time_from_sec(2)
#define GF_BACKSTOP_DEAF      apr_time_from_msec(250)

typedef struct gf_waiter_t {
    const char *id;
    apr_thread_cond_t *cond;
    struct gf_waiter_t *next;
} gf_waiter_t;

/* The last generation ids notified, so a waiter that read the row just
 * before a notification arrived does not sleep through it. */
#define GF_RECENT 128
typedef struct {
    char id[40];
    apr_uint64_t seq;
} gf_recent_t;

/* Blocking work (a database statement) a fiber of the loop handed to the
 * worker threads (gf_loop_blocking). */
typedef struct gf_hop_t {
    gf_loop_wait_t *wait;
    void (*fn)(void *baton);
    void *baton;
    struct gf_hop_t *next;
} gf_hop_t;

typedef struct {
    server_rec *s;               /* the main server: for the child's own log lines */
    apr_array_header_t *engines; /* gf_engine_t *: one per database */
    gf_recent_t recent[GF_RECENT];
    apr_uint64_t seq;            /* notifications seen */
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *work;     /* signalled when work was queued */
    int wake_pending;
    volatile int stopping;
    volatile int abort;          /* network calls and simulated latency stop */
    volatile int listening;      /* engines whose listener's LISTEN is in force */
    apr_thread_t **threads;
    int nthreads;
    gf_attempt_t *attempts;      /* running attempts, for heartbeats */
    gf_loop_t *loop;             /* drives the attempts' provider exchanges; NULL:
                                  * each runs on the worker that claimed it */
    apr_thread_t *loop_thread;
    gf_hop_t *hops, **hops_tail; /* blocking work of the loop's fibers */
    int in_flight;               /* attempts launched and not landed */
    int max_in_flight;           /* GenFlowMaxInFlight */
    apr_thread_t *listener;
    gf_waiter_t *waiters;
    const char *node;            /* host:pid, the prefix of lease owners */
    apr_interval_time_t heartbeat;
    gf_status_cache_t *cache;    /* finished status answers; NULL: off */
} gf_workers_t;

/* This child's workers; NULL in the parent. */
extern gf_workers_t *gf_W;

/* mod_genflow_changes.c: wake the waiters of id (all: NULL) and forget
 * what the status cache holds of it; wake one (all) idle worker(s). */
void gf_workers_announce_change(const char *id);
void gf_workers_wake_all(int all);

/* mod_genflow_listener.c: the listener thread's body. */
void *APR_THREAD_FUNC gf_listener_main(apr_thread_t *thread, void *data);

#endif
