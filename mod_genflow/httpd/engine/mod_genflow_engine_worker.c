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
#include "httpd/engine/mod_genflow_engine_run.h"
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

#define IDLE_WAIT        apr_time_from_msec(500)    /* the look for work due by time */
#define IDLE_WAIT_OTHERS apr_time_from_sec(2)       /* the others, while work comes */
#define IDLE_QUIET       apr_time_from_sec(30)      /* the others, when none came */
#define BUSY_FOR         apr_time_from_sec(5)       /* "while work comes" */
#define TROUBLE_WAIT     apr_time_from_sec(1)
#define SWEEP_INTERVAL   apr_time_from_sec(2)
#define TIDY_INTERVAL    apr_time_from_sec(10)
#define OPEN_INTERVAL    apr_time_from_msec(500)     /* calls open, for the other nodes */
#define ROUND_CLAIMS     64     /* claims in one round of a worker */
#define EXIT_GRACE       apr_time_from_sec(3)   

/* Sleep until something is handed to the workers or timeout passes. 1
 * when a wake asked for a round (gf_engine_wake, a landing in a full
 * loop): a worker woken only for the fibers' statements runs them and
 * sleeps on, without a round of due probes and claims of its own. */
static int sleep_for_work(apr_interval_time_t timeout)
{
    gf_engine_t *W = gf_engine();
    int woken = 0;
    apr_thread_mutex_lock(W->mutex);
    /* Not past a moment a worker was asked to look at (read under the
     * mutex its asker signals under: none is missed). */
    if (W->looks_again && !W->stopping) {
        apr_interval_time_t due = W->look_again[0] - apr_time_now();
        if (due < timeout) timeout = due > 0 ? due : 0;
    }
    if (!W->hops && !W->wake_pending && !W->handon.names[0] && timeout > 0) {
        apr_thread_cond_timedwait(W->work, W->mutex, timeout);
    }
    if (W->wake_pending > 0) {
        W->wake_pending--;
        woken = 1;
    }
    apr_thread_mutex_unlock(W->mutex);
    return woken;
}

/* ---- workers ----------------------------------------------------------- */

/* The order in which a round visits database e's types: higher
 * GenFlowPriority first; among types of one priority, a different one
 * first each round (start), so that none of them starves. */
static void visit_order(const gf_database_t *e, int start, int *order)
{
    int ntypes = e->types->nelts, i, j;
    for (i = 0; i < ntypes; i++) order[i] = (start + i) % ntypes;
    /* Insertion sort, stable: the rotation stays within each priority. */
    for (i = 1; i < ntypes; i++) {
        int k = order[i];
        int pk = APR_ARRAY_IDX(e->types, k, gf_type_t *)->priority;
        for (j = i; j > 0 && APR_ARRAY_IDX(e->types, order[j - 1], gf_type_t *)->priority < pk;
             j--) {
            order[j] = order[j - 1];
        }
        order[j] = k;
    }
}

/* Is a type of a higher priority than type k due (queued since the
 * round's probe, or a place freed since its claim found none)? Asked
 * before a claim of a lower priority, so that it does not take the place
 * a higher one waits for; free when every type has the same priority.
 * Each type is tried at most twice a round (tried), so a higher type that
 * cannot be served does not hold the lower ones up. */
static int higher_due(const gf_database_t *e, apr_pool_t *pool, int k, gf_due_t *due,
                      const int *tried)
{
    int pk = APR_ARRAY_IDX(e->types, k, gf_type_t *)->priority, i, any = 0;
    for (i = 0; i < e->types->nelts; i++) {
        if (APR_ARRAY_IDX(e->types, i, gf_type_t *)->priority > pk) any = 1;
    }
    if (!any || gf_engine_claim_due_types(e, pool, due) < 0) return 0;
    for (i = 0; i < e->types->nelts; i++) {
        if (due[i].any && tried[i] < 2 && APR_ARRAY_IDX(e->types, i, gf_type_t *)->priority > pk) {
            return 1;
        }
    }
    return 0;
}

/* What a worker keeps through one round of a database, sized for the
 * child's largest one and outliving the per-round clears of its pool:
 * which types have work due, the order of the visit, how often each type
 * was tried, and the providers each type found full. */
typedef struct {
    gf_due_t *due;
    int *order, *tried;
    gf_skip_t *found;
} round_t;

static int round_alloc(round_t *r, int maxtypes)
{
    r->due = calloc((apr_size_t)maxtypes, sizeof(gf_due_t));
    r->order = calloc((apr_size_t)maxtypes, sizeof(int));
    r->tried = calloc((apr_size_t)maxtypes, sizeof(int));
    r->found = calloc((apr_size_t)maxtypes, sizeof(gf_skip_t));
    return r->due && r->order && r->tried && r->found;
}

static void round_free(round_t *r)
{
    free(r->due);
    free(r->order);
    free(r->tried);
    free(r->found);
}

/* The providers a claim of type k leaves to the types above it: those
 * that any type of a higher priority found full at any time of the round,
 * so that a place freed a moment later goes to the higher type, even
 * after that type was tried its two times and the visit went on without
 * it (its next round takes the place). Not passed on within a priority. */
static void skip_of_higher(const gf_database_t *e, const round_t *r, int k, gf_skip_t *skip)
{
    int pk = APR_ARRAY_IDX(e->types, k, gf_type_t *)->priority, i;
    skip->names[0] = '\0';
    for (i = 0; i < e->types->nelts; i++) {
        if (APR_ARRAY_IDX(e->types, i, gf_type_t *)->priority > pk) {
            gf_engine_claim_skip_add(skip, r->found[i].names);
        }
    }
}

/* Work database e's due types once. 1: something was worked; 2: as many
 * claims as a round makes, so more is due; -1: database trouble only; 0:
 * nothing due. After each claim that took work the visit
 * starts again from the highest priority: a type of lower priority gets a
 * claim only when every type above it had nothing it could take. */
static int work_database(const gf_database_t *e, apr_pool_t *pool, long index, int start,
                       round_t *r)
{
    gf_engine_t *W = gf_engine();
    int ntypes = e->types->nelts, i, worked = 0, trouble = 0, claims = 0, capped = 0;

    gf_metrics_engine(gf_metrics(), GF_ENGINE_ROUND);
    /* One query says which types have work due; an idle engine costs
     * that query per round, not a claim per type. */
    if (gf_engine_claim_due_types(e, pool, r->due) < 0) {
        trouble = 1;
        for (i = 0; i < ntypes; i++) r->due[i].any = 0;
    }
    apr_pool_clear(pool);
    visit_order(e, start, r->order);
    for (i = 0; i < ntypes; i++) {
        r->tried[i] = 0;
        r->found[i].names[0] = '\0';
    }
    /* The fibers' statements go first: they hold attempts in flight. */
    gf_engine_run_hops();
    for (i = 0; i < ntypes && !W->stopping; i++) {
        int k = r->order[i], rc, places;
        apr_size_t before;
        gf_skip_t skip;
        /* Twice without work this round is enough (higher_due may have
         * marked it due again). */
        if (!r->due[k].any || r->tried[k] >= 2) continue;
        if (i > 0 && higher_due(e, pool, k, r->due, r->tried)) {
            apr_pool_clear(pool);
            i = -1;
            continue;
        }
        if ((places = gf_engine_reserve(GF_POLL_BATCH)) == 0) break;
        skip_of_higher(e, r, k, &skip);
        before = strlen(skip.names);
        rc = gf_engine_claim_one(e, pool, APR_ARRAY_IDX(e->types, k, gf_type_t *),
                                 apr_psprintf(pool, "%s:%ld", W->node, index), &places, &skip,
                                 &r->due[k], start);
        /* What this claim found full: skip now ends with it. */
        {
            const char *found = skip.names + before;
            if (*found == '\n') found++;
            gf_engine_claim_skip_add(&r->found[k], found);
        }
        gf_engine_unreserve(places);
        apr_pool_clear(pool);
        if (rc > 0) {
            worked = 1;
            /* From the top again; a long queue still ends the round now
             * and then, for the sweeps and the next due probe. */
            if (++claims >= ROUND_CLAIMS) {
                capped = 1;
                break;
            }
            gf_engine_run_hops();
            i = -1;
        }
        else {
            r->tried[k]++;
            r->due[k].any = 0;      /* nothing it could take this round */
            if (rc < 0) trouble = 1;
        }
    }
    return worked ? 1 + capped : trouble ? -1 : 0;
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
    if (next_open < next_tidy) next_tidy = next_open;
    if (*first) ensure_places(pool);
    if (sweep) gf_metrics_engine(gf_metrics(), GF_ENGINE_SWEEP);
    if (sweep || tidy) {
        for (j = 0; j < W->databases->nelts && !W->stopping; j++) {
            sweep_database(APR_ARRAY_IDX(W->databases, j, gf_database_t *), pool, owner, sweep,
                         tidy);
        }
        *first = 0;
    }
    return next_sweep < next_tidy ? next_sweep : next_tidy;
}

/* How long an idle worker sleeps when nothing wakes it, and whether its
 * round then is the look for work due by time (*look: one child of the
 * httpd looks per half second, mod_genflow_engine_duty.c). Workers 0
 * and 1 wake at the moment a provider without a place may have one again
 * (a rate's next start: a limit driven at its rate is claimed at the
 * start it allows, not a tick later; two, so that worker 0's sweeps never
 * delay that start); worker 0 looks every half second; the others, woken
 * when there is work for them, join a round every 2 s while work comes
 * (a drain takes every worker) and look only now and then when none
 * came: an idle site costs a look per half second per httpd, not a
 * round per worker. A claim that found a free place locked by another
 * statement through all its tries has the next idle worker ask again
 * GF_LIMITS_BUSY_AGAIN later, whatever its number. */
static apr_interval_time_t idle_wait(gf_engine_t *W, long index, int *look)
{
    apr_time_t now = apr_time_now(), next = gf_engine_take_look_again(), worked_at;
    *look = 0;
    if (next) {
        /* A claim found a free place busy: this worker asks again. */
        return next - now > apr_time_from_msec(1) ? next - now : apr_time_from_msec(1);
    }
    if (index <= 1) {
        next = gf_limits_next_unblock(now);
        if (next && next - now < IDLE_WAIT) {
            return next - now > apr_time_from_msec(1) ? next - now : apr_time_from_msec(1);
        }
    }
    *look = 1;
    if (index == 0) return IDLE_WAIT;
    apr_thread_mutex_lock(W->mutex);
    worked_at = W->worked_at;
    apr_thread_mutex_unlock(W->mutex);
    if (now - worked_at < BUSY_FOR) {
        *look = 0;
        return IDLE_WAIT_OTHERS;
    }
    return IDLE_QUIET;
}

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
    round_t round;
    int start;                   /* the rotation of the types' visit */
    apr_time_t next_sweep;       /* worker 0's */
    apr_time_t round_at;         /* no round before (0: at once) */
    int first_sweep, look;
    char owner[320];             /* lease_owner: host:tag:pid:worker */
} worker_t;

/* May a round run now? Else sleep until one is asked for (a wake) or its
 * time comes, 0. The statements the fibers hand over wake workers too,
 * and a round after each would probe for due work a few times per
 * attempt. */
static int round_due(worker_t *wk)
{
    apr_time_t now = apr_time_now();

    if (now < wk->round_at) {
        apr_time_t until = wk->round_at;
        /* Rows came due sooner (a job polled at a short pace): this
         * worker looks now (sleep_for_work wakes it for the next). */
        if (gf_engine_take_due_look(now)) {
            wk->round_at = now;
            wk->look = 0;
            return 0;
        }
        if (wk->index == 0 && wk->next_sweep < until) until = wk->next_sweep;
        if (sleep_for_work(until > now ? until - now : 0)) wk->round_at = wk->look = 0;
        return 0;
    }
    /* A look for work due by time: this child's turn, or the next. */
    if (wk->look && gf_engine_room() > 0) {
        apr_time_t next_look;
        if (!gf_engine_duty_take(GF_DUTY_LOOK, IDLE_WAIT, &next_look)) {
            wk->round_at = wk->index == 0 ? next_look : now + IDLE_QUIET;
            return 0;
        }
    }
    wk->look = 0;
    if (gf_engine_room() == 0) {
        /* A landing wakes it for a round (the loop was full). */
        wk->round_at = apr_time_now() + IDLE_WAIT;
        return 0;
    }
    return 1;
}

/* One round over every database the child's servers use, in turn, and
 * when the next is due: at once after work, later when there was none,
 * a while after database trouble (the fibers' statements still wake it:
 * no spinning). */
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
        wk->round_at = 0;
    }
    else if (trouble) wk->round_at = apr_time_now() + TROUBLE_WAIT;
    else wk->round_at = apr_time_now() + idle_wait(W, wk->index, &wk->look);
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
    wk->next_sweep = apr_time_now();
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
    if (!round_alloc(&wk->round, maxtypes)) {
        round_free(&wk->round);
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
            sleep_for_work(IDLE_WAIT);
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
        if (wk.index == 0 && apr_time_now() >= wk.next_sweep) {
            wk.next_sweep = sweep_if_due(wk.pool, wk.owner, &wk.first_sweep);
        }
        if (round_due(&wk)) work_round(&wk);
    }
    gf_http_thread_cleanup();
    round_free(&wk.round);
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
