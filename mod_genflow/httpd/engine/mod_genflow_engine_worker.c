/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_worker.c: background workers inside every httpd child.
 *
 * child_init starts GenFlowWorkers threads, one listener thread
 * (mod_genflow_engine_listener.c) and one loop thread (net/gf_loop.h).
 *
 * Workers loop over the databases the child's servers use (gf_database_t,
 * mod_genflow_servers_db.c), and over each one's types, claiming due
 * generations from PostgreSQL (gf_engine_claim_one), each worked with the settings
 * of the server that created it. A claimed attempt runs in a fiber of the
 * loop thread, which drives every provider exchange of the child at once
 * (libcurl's multi interface), up to GenFlowMaxInFlight attempts: a
 * provider that takes seconds holds no worker. The fibers' database
 * statements come back to the workers (gf_loop_blocking → offload), which
 * run them before they claim more: the loop thread never waits for the
 * database, and no connection is held across a provider exchange. With
 * nothing to do the workers sleep until work is announced or an idle
 * interval passes (retries scheduled for later are found then).
 *
 * All state lives in the database: a child that exits or is killed loses
 * nothing, because an unfinished attempt's lease expires and any worker of
 * any server takes the row again. At child exit (a pre-cleanup of the
 * child pool, before mod_dbd's pool is gone) the workers stop claiming,
 * running attempts get a short grace to finish, then their network calls
 * are aborted and their rows released for rescue: exit takes seconds, not
 * the length of a provider call.
 */
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_network_io.h>

#include "httpd/engine/mod_genflow_engine_int.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/engine/mod_genflow_engine.h"
#include "httpd/limits/mod_genflow_limits.h"
#include "httpd/io/mod_genflow_metrics.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/limits/mod_genflow_router.h"
#include "httpd/servers/mod_genflow_servers.h"
#include "httpd/config/mod_genflow_site.h"
#include "net/gf_abort.h"
#include "net/gf_http.h"

#define SWEEP_INTERVAL   apr_time_from_sec(2)
#define TIDY_INTERVAL    apr_time_from_sec(10)
#define OPEN_INTERVAL    apr_time_from_msec(500)     /* calls open, for the other nodes */
#define EXIT_GRACE       apr_time_from_sec(3)   

/* Sleep until something is handed to the workers or timeout passes. 1
 * when a wake asked for a round (gf_engine_wake, a landing in a full
 * loop): a worker woken only for the fibers' statements runs them and
 * sleeps on, without a round of due probes and claims of its own. */
static int sleep_for_work(apr_interval_time_t timeout)
{
    gf_engine_t *W = gf_engine();
    int woken;
    apr_thread_mutex_lock(W->mutex);
    /* Read under the mutex its asker signals under: none is missed. */
    if (!W->stopping) timeout = gf_round_looks_sleep(&W->looks, apr_time_now(), timeout);
    if (!W->hops && !W->wake_pending && !W->handon.names[0] && timeout > 0) {
        apr_thread_cond_timedwait(W->work, W->mutex, timeout);
    }
    woken = gf_round_wakes_take(&W->wake_pending);
    apr_thread_mutex_unlock(W->mutex);
    return woken;
}

/* ---- workers ----------------------------------------------------------- */

/* Work database e's due types once, in the order of gf_round.h: 1:
 * something was worked; 2: as many claims as a round makes, so more is
 * due; -1: database trouble only; 0: nothing due. */
static int work_database(const gf_database_t *e, apr_pool_t *pool, long index, int start,
                         gf_round_t *r)
{
    gf_engine_t *W = gf_engine();
    int i, k, probed;

    gf_metrics_engine(gf_metrics(), GF_ENGINE_ROUND);
    for (i = 0; i < e->types->nelts; i++) {
        r->priority[i] = APR_ARRAY_IDX(e->types, i, gf_type_t *)->priority;
    }
    /* One query says which types have work due; an idle engine costs
     * that query per round, not a claim per type. */
    probed = gf_engine_claim_due_types(e, pool, r->due) == 0;
    apr_pool_clear(pool);
    gf_round_begin(r, e->types->nelts, start, probed);
    /* The fibers' statements go first: they hold attempts in flight. */
    gf_engine_run_hops();
    while (!W->stopping && (k = gf_round_next(r)) >= 0) {
        int rc, places;
        apr_size_t before;
        gf_skip_t skip;
        if (gf_round_asks_higher(r, k) && gf_engine_claim_due_types(e, pool, r->due) == 0
            && gf_round_higher_due(r, k)) {
            apr_pool_clear(pool);
            gf_round_top(r);
            continue;
        }
        if ((places = gf_engine_reserve(GF_POLL_BATCH)) == 0) break;
        before = gf_round_skip_of_higher(r, k, &skip);
        rc = gf_engine_claim_one(e, pool, APR_ARRAY_IDX(e->types, k, gf_type_t *),
                                 apr_psprintf(pool, "%s:%ld", W->node, index), &places, &skip,
                                 &r->due[k], start);
        gf_round_found(r, k, &skip, before);
        gf_engine_unreserve(places);
        apr_pool_clear(pool);
        if ((rc = gf_round_claimed(r, k, rc)) < 0) break;
        if (rc > 0) gf_engine_run_hops();
    }
    return gf_round_result(r);
}

/* Rows of providers that no chain of type t names any more (written
 * under an earlier configuration): a few claims each sweep, without
 * limits; their attempts fail over to the chain's next entry. A row of a
 * provider that some chain of the configuration does name is, unless
 * the type's chains changed since the row was made, the engine's fault:
 * it should have been watched (t->providers, mod_genflow_site_chains.c)
 * and was found only by this tick; said (GF1620) and counted
 * (genflow_engine_events_total{event="stray"}). */
static void claim_strays(const gf_database_t *e, apr_pool_t *pool, const gf_type_t *t,
                         const char *lease_owner)
{
    gf_engine_t *W = gf_engine();
    char *names = apr_pstrdup(pool, gf_engine_sweep_strays(e->s, pool, t)), *last, *name;
    for (name = apr_strtok(names, "\n", &last); name && !W->stopping;
         name = apr_strtok(NULL, "\n", &last)) {
        int polls, n, named = gf_site_chain_named(name);
        for (polls = 0; polls < 2; polls++) {
            for (n = 0; n < GF_POLL_BATCH; n++) {
                gf_skip_t skip;
                int places = gf_engine_reserve(polls ? GF_POLL_BATCH : 1), rc;
                skip.names[0] = '\0';
                if (places == 0) return;
                rc = gf_engine_claim(e, pool, t, name, polls, 0, lease_owner, &places, &skip);
                gf_engine_unreserve(places);
                if (rc <= 0) break;
                if (named) {
                    gf_metrics_engine(gf_metrics(), GF_ENGINE_STRAY);
                    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, e->s, GF_LOGNO(1620)
                                 "type=%s provider=%s: a row the engine did not watch was "
                                 "claimed by the tidy sweep, though a chain of this "
                                 "configuration names its provider: unless the type's chains "
                                 "changed since the row was made, a bug of the module (please "
                                 "report it with the configuration)", t->name, name);
                }
            }
        }
    }
}

/* The sweeps of database e: set-based and skipping locked rows, so children
 * and servers never collide. sweep (every 2 s): what users and the site's
 * backend wait for (expiry, retention, webhook deliveries, orphaned
 * uploads); tidy (every 10 s): what only ages by the hour (rows of
 * providers no chain names, types mounted nowhere, old turns and
 * Idempotency-Key records) and the rows of the providers' limits. */
static void sweep_database(gf_database_t *e, apr_pool_t *pool, const char *lease_owner,
                         int sweep, int tidy)
{
    gf_engine_t *W = gf_engine();
    int i;
    for (i = 0; i < e->types->nelts && !W->stopping; i++) {
        const gf_type_t *t = APR_ARRAY_IDX(e->types, i, gf_type_t *);
        if (sweep) gf_engine_sweep_type(e->s, pool, t, e->names);
        apr_pool_clear(pool);
        if (tidy) claim_strays(e, pool, t, lease_owner);
        apr_pool_clear(pool);
    }
    if (tidy) {
        /* The rows of the providers' limits kept in the database. */
        for (i = 0; i < e->servers->nelts && !W->stopping; i++) {
            gf_limits_ensure(APR_ARRAY_IDX(e->servers, i, gf_server_t *)->s, pool);
            apr_pool_clear(pool);
        }
        gf_engine_sweep_global(e->s, pool);
        apr_pool_clear(pool);
    }
    if (!sweep) return;
    gf_engine_uploads_sweep(e->s, pool, &e->uploads);
    apr_pool_clear(pool);
    gf_engine_previews_sweep(e, pool, &e->previews);
    apr_pool_clear(pool);
    gf_engine_webhooks_deliver(e->s, pool);
    apr_pool_clear(pool);
}

/* The rows of the providers' limits kept in the database, for every
 * server of every database, then a round for every worker: a claim
 * before them found no place, and the generations that came meanwhile
 * (a server's first second) start now rather than at the next look. */
static void ensure_places(apr_pool_t *pool)
{
    gf_engine_t *W = gf_engine();
    int i, j;
    for (j = 0; j < W->databases->nelts && !W->stopping; j++) {
        gf_database_t *e = APR_ARRAY_IDX(W->databases, j, gf_database_t *);
        for (i = 0; i < e->servers->nelts && !W->stopping; i++) {
            gf_limits_ensure(APR_ARRAY_IDX(e->servers, i, gf_server_t *)->s, pool);
            apr_pool_clear(pool);
        }
    }
    gf_engine_wake_all(1);
}

/* This httpd's calls open to the members of groups, written for the
 * other nodes' least-busy choices (mod_genflow_router.c), into every
 * database. */
static void publish_open(apr_pool_t *pool)
{
    gf_engine_t *W = gf_engine();
    int i, j;
    for (j = 0; j < W->databases->nelts && !W->stopping; j++) {
        gf_database_t *e = APR_ARRAY_IDX(W->databases, j, gf_database_t *);
        server_rec **servers = apr_palloc(pool, sizeof(server_rec *) * (e->servers->nelts + 1));
        for (i = 0; i < e->servers->nelts; i++) {
            servers[i] = APR_ARRAY_IDX(e->servers, i, gf_server_t *)->s;
        }
        if (e->servers->nelts) gf_router_publish(servers, e->servers->nelts, pool);
        apr_pool_clear(pool);
    }
}

/* Worker 0's sweeps, when their time has come and no other child of the
 * httpd took them (mod_genflow_engine_duty.c); a child's first sweep is
 * whole, its providers' places made first. The next time to ask. */
static apr_time_t sweep_if_due(apr_pool_t *pool, const char *owner, int *first)
{
    gf_engine_t *W = gf_engine();
    apr_time_t next_sweep, next_tidy, next_open;
    int sweep = gf_engine_duty_take(GF_DUTY_SWEEP, SWEEP_INTERVAL, &next_sweep) || *first;
    int tidy = gf_engine_duty_take(GF_DUTY_TIDY, TIDY_INTERVAL, &next_tidy) || *first;
    int j;
    if (gf_engine_duty_take(GF_DUTY_OPEN, OPEN_INTERVAL, &next_open)) publish_open(pool);
    next_tidy = gf_round_sooner(next_tidy, next_open);
    if (*first) ensure_places(pool);
    if (sweep) gf_metrics_engine(gf_metrics(), GF_ENGINE_SWEEP);
    if (sweep || tidy) {
        for (j = 0; j < W->databases->nelts && !W->stopping; j++) {
            sweep_database(APR_ARRAY_IDX(W->databases, j, gf_database_t *), pool, owner, sweep,
                         tidy);
        }
        *first = 0;
    }
    return gf_round_sooner(next_sweep, next_tidy);
}

/* When a worker last took work (gf_round_ops_t.worked_at). */
static apr_time_t worked_at(void)
{
    gf_engine_t *W = gf_engine();
    apr_time_t at;
    apr_thread_mutex_lock(W->mutex);
    at = W->worked_at;
    apr_thread_mutex_unlock(W->mutex);
    return at;
}

/* The half-second look for work due by time: one child of the httpd
 * looks (mod_genflow_engine_duty.c). */
static int take_look(apr_time_t *next)
{
    return gf_engine_duty_take(GF_DUTY_LOOK, GF_ROUND_IDLE_WAIT, next);
}

/* What the worker's clock (core/gf_round.h) asks of the child. */
static const gf_round_ops_t clock_ops = {
    apr_time_now, gf_engine_take_due_look, gf_engine_take_look_again, gf_limits_next_unblock,
    worked_at, sleep_for_work, take_look, gf_engine_room
};

/* What a worker thread is given: the child's engine and its number. */
typedef struct {
    gf_engine_t *W;
    long index;
} worker_arg_t;

/* A worker thread's own state, from one round to the next. */
typedef struct {
    gf_engine_t *W;
    long index;
    apr_pool_t *pool;            /* cleared after each step */
    gf_round_t round;
    int start;                   /* the rotation of the types' visit */
    gf_round_clock_t clock;      /* its index, next round and worker 0's sweep */
    int first_sweep;
    char owner[320];             /* lease_owner: host:tag:pid:worker */
} worker_t;

/* One round over every database the child's servers use, in turn, and
 * when the next is due (gf_round_ended). */
static void work_round(worker_t *wk)
{
    gf_engine_t *W = wk->W;
    int worked = 0, trouble = 0, j;

    for (j = 0; j < W->databases->nelts && !W->stopping; j++) {
        int rc = work_database(APR_ARRAY_IDX(W->databases, j, gf_database_t *), wk->pool,
                               wk->index, wk->start, &wk->round);
        if (rc > worked) worked = rc;
        else if (rc < 0) trouble = 1;
    }
    wk->start++;
    if (!gf_engine_listening() && worked) {
        /* no NOTIFY from some database: tell local waiters directly */
        gf_engine_heard(NULL);
    }
    if (worked) {
        apr_thread_mutex_lock(W->mutex);
        W->worked_at = apr_time_now();
        /* A queue longer than a round: one more worker joins (each
         * that fills a round asks the next, so a drain takes them
         * all within a few rounds; idle ones look only now and then). */
        if (worked > 1) gf_engine_wake_round(W);
        apr_thread_mutex_unlock(W->mutex);
    }
    gf_round_ended(&wk->clock, &clock_ops, worked, trouble);
}

/* The worker's pool (a thread of its own needs an allocator of its own:
 * the child's pool is not safe to allocate from concurrently) and its
 * round's memory, sized for the child's largest database; 0 without. */
static int worker_init(worker_t *wk, gf_engine_t *W, long index)
{
    apr_allocator_t *allocator;
    int maxtypes = 1, j;

    memset(wk, 0, sizeof(*wk));
    wk->W = W;
    wk->index = index;
    /* The first sweep at once: it makes the rows of the providers' limits
     * kept in the database (gf_limits_ensure) before the first claims. */
    wk->clock.index = index;
    wk->clock.next_sweep = apr_time_now();
    wk->first_sweep = 1;
    apr_snprintf(wk->owner, sizeof(wk->owner), "%s:%ld", W->node, index);
    apr_allocator_create(&allocator);
    apr_allocator_max_free_set(allocator, 1);
    apr_pool_create_unmanaged_ex(&wk->pool, NULL, allocator);
    apr_allocator_owner_set(allocator, wk->pool);
    apr_pool_tag(wk->pool, "genflow_worker");
    for (j = 0; j < W->databases->nelts; j++) {
        const gf_database_t *e = APR_ARRAY_IDX(W->databases, j, gf_database_t *);
        if (e->types->nelts > maxtypes) maxtypes = e->types->nelts;
    }
    if (!gf_round_alloc(&wk->round, maxtypes)) {
        gf_round_free(&wk->round);
        apr_pool_destroy(wk->pool);
        return 0;
    }
    return 1;
}

static void *APR_THREAD_FUNC worker_main(apr_thread_t *thread, void *data)
{
    const worker_arg_t *arg = data;
    gf_engine_t *W = arg->W;
    worker_t wk;
    (void)thread;

    if (!worker_init(&wk, W, arg->index)) return NULL;
    /* A stopping child's workers go on serving the fibers' statements
     * (their rows are released through them) until none is in flight. */
    while (!W->stopping || gf_engine_in_flight() > 0) {
        if (gf_engine_run_hops()) continue;
        if (W->stopping) {
            sleep_for_work(GF_ROUND_IDLE_WAIT);
            continue;
        }
        /* A place freed here goes to the next due row of its provider
         * before anything else. */
        if (gf_engine_hand_on(W, wk.pool, wk.owner)) {
            apr_pool_clear(wk.pool);
            continue;
        }
        apr_pool_clear(wk.pool);
        /* Worker 0 of each child runs the sweeps, however full the loop
         * is: expiry and retention never wait for room. */
        if (wk.index == 0 && apr_time_now() >= wk.clock.next_sweep) {
            wk.clock.next_sweep = sweep_if_due(wk.pool, wk.owner, &wk.first_sweep);
        }
        if (gf_round_due(&wk.clock, &clock_ops)) work_round(&wk);
    }
    gf_http_thread_cleanup();
    gf_round_free(&wk.round);
    apr_pool_destroy(wk.pool);
    return NULL;   /* as gf_engine_listener_main: return, never apr_thread_exit() */
}

static apr_status_t stop_workers(void *data)
{
    gf_engine_t *W = gf_engine();
    int i;
    apr_status_t rv;
    apr_time_t t0 = apr_time_now(), grace_end = t0 + EXIT_GRACE;
    (void)data;

    if (!W) return APR_SUCCESS;
    apr_thread_mutex_lock(W->mutex);
    W->stopping = 1;
    apr_thread_cond_broadcast(W->work);
    apr_thread_mutex_unlock(W->mutex);
    gf_engine_heard(NULL);
    /* Attempts in flight get a short grace (a submission that is being
     * answered should record its job id rather than be lost), then their
     * network calls and simulated waits are aborted and each releases its
     * row for rescue. Exit never waits out a provider call. */
    while (gf_engine_slots_running() > 0 && apr_time_now() < grace_end) {
        apr_sleep(apr_time_from_msec(50));
    }
    W->abort = 1;
    if (W->loop) {
        /* The fibers' waits end; each releases its row (a statement the
         * workers run) and ends; then the loop returns. */
        gf_loop_stop(W->loop);
        apr_thread_join(&rv, W->loop_thread);
    }
    /* The polls kept for later go back to the queue, due now, while the
     * database connections are still there. */
    if (W->keep) {
        apr_pool_t *p;
        if (apr_pool_create(&p, NULL) == APR_SUCCESS) {
            gf_engine_keep_release(W, p);
            apr_pool_destroy(p);
        }
    }
    apr_thread_mutex_lock(W->mutex);
    apr_thread_cond_broadcast(W->work);
    apr_thread_mutex_unlock(W->mutex);
    for (i = 0; i < W->nthreads; i++) {
        apr_thread_join(&rv, W->threads[i]);
    }
    if (W->listener) {
        apr_thread_join(&rv, W->listener);
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, W->s, GF_LOGNO(1607)
                 "genflow workers of %s stopped in %" APR_TIME_T_FMT " ms", W->node,
                 apr_time_as_msec(apr_time_now() - t0));
    gf_abort_set_flag(NULL);
    gf_engine_forget();
    return APR_SUCCESS;
}

void gf_engine_child_init(apr_pool_t *pchild, server_rec *s,
                          void (*on_change)(const char *id),
                          int (*on_preview)(const char *id, apr_time_t stamp, const char *url))
{
    gf_engine_t *W = gf_engine();
    gf_server_conf_t *sc = gf_server_conf(s);
    apr_array_header_t *servers = gf_servers();
    int i, n = gf_conf_workers(sc), lease = gf_conf_lease_secs(sc);
    apr_status_t rv;

    if (!servers || servers->nelts == 0) {
        return;
    }
    /* The shortest lease of any server sets the heartbeat. */
    for (i = 0; i < servers->nelts; i++) {
        int l = gf_conf_lease_secs(gf_server_conf(APR_ARRAY_IDX(servers, i, gf_server_t *)->s));
        if (l < lease) lease = l;
    }
    W = gf_engine_create(pchild, s, lease, n, gf_conf_max_in_flight(sc), on_change);
    W->on_preview = on_preview;
    if (gf_conf_status_cache(sc) > 0) {
        W->cache = gf_engine_cache_create(pchild, (apr_size_t)gf_conf_status_cache(sc));
    }
    gf_abort_set_flag(&W->abort);
    if (n > 0) gf_engine_start_loop(pchild, s);
    gf_engine_keep_start(W, pchild, gf_conf_kept_polls(sc), gf_engine_attempt_run);
    for (i = 0; i < n; i++) {
        worker_arg_t *arg = apr_palloc(pchild, sizeof(*arg));
        arg->W = W;
        arg->index = W->nthreads;
        rv = apr_thread_create(&W->threads[W->nthreads], NULL, worker_main, arg, pchild);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, GF_LOGNO(1601)
                         "cannot start genflow worker thread %d", i);
            continue;
        }
        W->nthreads++;
    }
    rv = apr_thread_create(&W->listener, NULL, gf_engine_listener_main, W, pchild);
    if (rv != APR_SUCCESS) {
        W->listener = NULL;
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, GF_LOGNO(1608)
                     "cannot start the genflow listener thread; waits fall back to polling "
                     "and leases are not renewed");
    }
    /* A pre-cleanup: it runs before pchild's subpools are destroyed, and
     * mod_dbd keeps its connection pool in such a subpool. An ordinary
     * cleanup would join the workers after their connections are gone. */
    apr_pool_pre_cleanup_register(pchild, NULL, stop_workers);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, GF_LOGNO(1602)
                 "%d genflow workers started in %s for %d servers on %d databases",
                 W->nthreads, W->node, servers->nelts, W->databases->nelts);
}
