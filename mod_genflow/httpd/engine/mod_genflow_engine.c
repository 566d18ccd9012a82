/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine.c: the child's engine, the object every other file
 * of the engine works through (mod_genflow_engine_int.h).
 *
 * What it is: the record made at child_init (gf_engine_create), the
 * registry of running attempts whose leases the listener's heartbeat
 * renews (gf_engine_slot_*), the places of the loop (reserve, launch,
 * landed), the queue of statements the loop's fibers hand to the worker
 * threads (offload, gf_engine_run_hops), the pools of attempts, the
 * wakes of idle workers, and whether the child is stopping. It calls
 * nothing of the engine's other files: the workers (threads and rounds,
 * mod_genflow_engine_worker.c) sit above everything, and the attempts
 * (claim, attempt, outcome) between them and this.
 */
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_shm.h>

#include "httpd/config/mod_genflow_process.h"
#include "httpd/engine/mod_genflow_engine_int.h"
#include "httpd/io/mod_genflow_metrics.h"
#include "httpd/servers/mod_genflow_servers.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/engine/mod_genflow_engine.h"
#include "core/gf_round.h"

/* The blocks of the attempts' pools kept this far for the next ones:
 * about a thousand attempts' worth. */
#define FLIGHTS_MAX_FREE (16 * 1024 * 1024)

gf_engine_t *gf_engine(void)
{
    gf_process_t *P = gf_process();
    return P ? P->engine : NULL;
}

/* ---- attempts (the listener renews their leases) ----------------------- */

void gf_engine_slot_begin(gf_attempt_t *a, server_rec *s, const gf_type_t *t, const char *id,
                          const char *owner, int attempt, const char *trace_id)
{
    gf_engine_t *W = gf_engine();
    if (!W || !a) return;
    apr_thread_mutex_lock(W->mutex);
    apr_cpystrn(a->id, id, sizeof(a->id));
    apr_cpystrn(a->owner, owner, sizeof(a->owner));
    apr_cpystrn(a->trace_id, trace_id ? trace_id : "-", sizeof(a->trace_id));
    a->s = s;
    a->type = t;
    a->attempt = attempt;
    a->lost = 0;
    a->cancelled = 0;
    a->in_call = 0;
    a->fiber = gf_loop_self();
    a->active = 1;
    a->prev = NULL;
    a->next = W->attempts;
    if (W->attempts) W->attempts->prev = a;
    W->attempts = a;
    apr_thread_mutex_unlock(W->mutex);
}

/* running attempts may finish */

void gf_engine_slot_place_set(gf_attempt_t *a, apr_time_t until)
{
    gf_engine_t *W = gf_engine();
    if (!W || !a) return;
    apr_thread_mutex_lock(W->mutex);
    a->place_until = until;
    apr_thread_mutex_unlock(W->mutex);
}

apr_time_t gf_engine_slot_place_until(gf_attempt_t *a)
{
    gf_engine_t *W = gf_engine();
    apr_time_t until;
    if (!W || !a) return 0;
    apr_thread_mutex_lock(W->mutex);
    until = a->place_until;
    apr_thread_mutex_unlock(W->mutex);
    return until;
}

void gf_engine_slot_end(gf_attempt_t *a)
{
    gf_engine_t *W = gf_engine();
    if (!W || !a || !a->active) return;
    apr_thread_mutex_lock(W->mutex);
    a->active = 0;
    if (a->prev) a->prev->next = a->next;
    else W->attempts = a->next;
    if (a->next) a->next->prev = a->prev;
    a->prev = a->next = NULL;
    apr_thread_mutex_unlock(W->mutex);
}

int gf_engine_cut(const char *id)
{
    gf_engine_t *W = gf_engine();
    gf_attempt_t *a;
    int n = 0;
    if (!W || !id) return 0;
    apr_thread_mutex_lock(W->mutex);
    for (a = W->attempts; a; a = a->next) {
        if (strcmp(a->id, id)) continue;
        a->lost = a->cancelled = 1;
        /* Registered attempts leave the list before their fiber ends. */
        if (a->fiber && a->in_call) gf_loop_cut(a->fiber);
        n++;
    }
    apr_thread_mutex_unlock(W->mutex);
    return n;
}

void gf_engine_slot_calling(gf_attempt_t *a, int on)
{
    gf_engine_t *W = gf_engine();
    if (!W || !a || !a->active) return;
    apr_thread_mutex_lock(W->mutex);
    a->in_call = on;
    if (on && a->cancelled && a->fiber) gf_loop_cut(a->fiber);
    apr_thread_mutex_unlock(W->mutex);
}

int gf_engine_slot_lost(const gf_attempt_t *a)
{
    return a && a->lost;
}

int gf_engine_slots_running(void)
{
    gf_engine_t *W = gf_engine();
    int n = 0;
    gf_attempt_t *a;
    apr_thread_mutex_lock(W->mutex);
    for (a = W->attempts; a; a = a->next) n++;
    apr_thread_mutex_unlock(W->mutex);
    return n;
}

int gf_engine_aborting(void)
{
    gf_engine_t *W = gf_engine();
    return W && W->abort;
}

int gf_engine_stopping(void)
{
    gf_engine_t *W = gf_engine();
    return W && W->stopping;
}

/* ---- wakes of the workers ---------------------------------------------- */

/* Ask one more worker for a round (the caller holds the mutex). */
void gf_engine_wake_round(gf_engine_t *W)
{
    gf_round_wakes_add(&W->wake_pending, W->nthreads, 0);
    apr_thread_cond_signal(W->work);
}

void gf_engine_look_again(apr_time_t at)
{
    gf_engine_t *W = gf_engine();
    if (!W) return;
    apr_thread_mutex_lock(W->mutex);
    /* A sleeping worker wakes to wait for the new earliest moment. */
    if (gf_round_looks_add(&W->looks, at)) apr_thread_cond_signal(W->work);
    apr_thread_mutex_unlock(W->mutex);
}

apr_time_t gf_engine_take_due_look(apr_time_t now)
{
    gf_engine_t *W = gf_engine();
    apr_time_t at;
    apr_thread_mutex_lock(W->mutex);
    at = gf_round_looks_take(&W->looks, now);
    apr_thread_mutex_unlock(W->mutex);
    return at;
}

apr_time_t gf_engine_take_look_again(void)
{
    return gf_engine_take_due_look(APR_INT64_MAX);
}

/* At most one round pending per worker (gf_round_wakes_add). */
void gf_engine_wake_all(int all)
{
    gf_engine_t *W = gf_engine();
    int woke;
    if (!W) return;
    apr_thread_mutex_lock(W->mutex);
    woke = gf_round_wakes_add(&W->wake_pending, W->nthreads, all) > 0;
    if (all) apr_thread_cond_broadcast(W->work);
    else if (woke) apr_thread_cond_signal(W->work);
    apr_thread_mutex_unlock(W->mutex);
    if (woke) gf_metrics_engine(gf_metrics(), GF_ENGINE_WAKE);
}

void gf_engine_wake(void)
{
    gf_engine_wake_all(0);
}

/* ---- attempts in flight on the loop ------------------------------------ */

/* gf_loop_conf_t.offload: a fiber's database statement goes to the
 * workers, which run it before they claim anything more. */
static void offload(void *owner, gf_loop_wait_t *wait, void (*fn)(void *), void *baton)
{
    gf_engine_t *w = owner;
    gf_hop_t *h = malloc(sizeof(*h));

    if (!h) {
        fn(baton);   /* no memory for the hand-over: run it here, late but done */
        gf_loop_wake(wait);
        return;
    }
    h->wait = wait;
    h->fn = fn;
    h->baton = baton;
    h->next = NULL;
    apr_thread_mutex_lock(w->mutex);
    *w->hops_tail = h;
    w->hops_tail = &h->next;
    apr_thread_cond_signal(w->work);
    apr_thread_mutex_unlock(w->mutex);
}

/* Run the fibers' waiting statements; 1 when there was any. */
int gf_engine_run_hops(void)
{
    gf_engine_t *W = gf_engine();
    int ran = 0;
    for (;;) {
        gf_hop_t *h;
        gf_loop_wait_t *wait;
        apr_thread_mutex_lock(W->mutex);
        if ((h = W->hops) != NULL) {
            W->hops = h->next;
            if (!W->hops) W->hops_tail = &W->hops;
        }
        apr_thread_mutex_unlock(W->mutex);
        if (!h) return ran;
        h->fn(h->baton);
        wait = h->wait;
        free(h);
        gf_loop_wake(wait);
        ran = 1;
    }
}

/* ---- attempts in flight on the loop ------------------------------------ */

int gf_engine_launch(void (*fn)(void *baton), void *baton)
{
    gf_engine_t *W = gf_engine();
    if (!W || !W->loop) return -1;
    return gf_loop_spawn(W->loop, fn, baton) == 0 ? 0 : -1;
}

void gf_engine_landed(void)
{
    gf_engine_t *W = gf_engine();
    if (!W || !W->loop) return;
    apr_thread_mutex_lock(W->mutex);
    /* Room for one more: a worker that found the loop full claims again. */
    if (gf_round_loop_give(&W->places, 1)) gf_engine_wake_round(W);
    apr_thread_mutex_unlock(W->mutex);
}

/* Take up to want places in the loop for the rows a claim is about to
 * return, under the mutex; each row launched keeps its place until it
 * lands, the others are given back (gf_engine_unreserve). */
int gf_engine_reserve(int want)
{
    gf_engine_t *W = gf_engine();
    int n;
    if (!W->loop) return want;
    apr_thread_mutex_lock(W->mutex);
    n = gf_round_loop_take(&W->places, want);
    apr_thread_mutex_unlock(W->mutex);
    return n;
}

void gf_engine_unreserve(int n)
{
    gf_engine_t *W = gf_engine();
    if (!W->loop || n <= 0) return;
    apr_thread_mutex_lock(W->mutex);
    if (gf_round_loop_give(&W->places, n)) gf_engine_wake_round(W);
    apr_thread_mutex_unlock(W->mutex);
}

/* Attempts the workers may still start. */
int gf_engine_room(void)
{
    gf_engine_t *W = gf_engine();
    int n;
    if (!W->loop) return 1;
    apr_thread_mutex_lock(W->mutex);
    n = gf_round_loop_room(&W->places);
    apr_thread_mutex_unlock(W->mutex);
    return n;
}

int gf_engine_in_flight(void)
{
    gf_engine_t *W = gf_engine();
    int n;
    apr_thread_mutex_lock(W->mutex);
    n = W->places.in_flight;
    apr_thread_mutex_unlock(W->mutex);
    return n;
}

static void *APR_THREAD_FUNC loop_main(apr_thread_t *thread, void *data)
{
    (void)thread;
    gf_loop_run(data);
    return NULL;
}

/* The loop thread of the child's attempts. Without it (no memory, no
 * thread) each attempt runs on the worker that claimed it, as it always
 * could. */
void gf_engine_start_loop(apr_pool_t *pchild, server_rec *s)
{
    gf_engine_t *W = gf_engine();
    gf_loop_conf_t conf;
    apr_status_t rv;

    memset(&conf, 0, sizeof(conf));
    conf.offload = offload;
    conf.offload_owner = W;
    /* Idle connections to the providers' hosts, shared by every attempt. */
    conf.idle_connections = W->places.max_in_flight < 64 ? 64 : W->places.max_in_flight;
    if (!(W->loop = gf_loop_create(pchild, &conf))) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, GF_LOGNO(1609)
                     "cannot create the genflow loop; each attempt holds a worker thread");
        return;
    }
    rv = apr_thread_create(&W->loop_thread, NULL, loop_main, W->loop, pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, GF_LOGNO(1611)
                     "cannot start the genflow loop thread; each attempt holds a worker "
                     "thread");
        W->loop = NULL;
    }
}

/* ---- the child's engine ------------------------------------------------ */

/* The allocator of every attempt's and delivery's pool. One each cost a
 * mapping and an unmapping of its blocks per attempt (Debian's APR maps
 * every block, APR_ALLOCATOR_USES_MMAP), and an unmapping in a threaded
 * process interrupts every core that runs one of its threads to flush
 * its TLB: a seventh of the child's CPU with 10,000 polls held
 * (bench/scale). Shared, its freed blocks serve the next attempt. It
 * lives as long as the child (an attempt's pool may still be given back
 * while the child's pool is cleaned up). NULL: each pool gets its own. */
static apr_allocator_t *flights_allocator(apr_pool_t *pchild)
{
    apr_allocator_t *a;
    apr_thread_mutex_t *m;
    if (apr_allocator_create(&a) != APR_SUCCESS) return NULL;
    if (apr_thread_mutex_create(&m, APR_THREAD_MUTEX_DEFAULT, pchild) != APR_SUCCESS) {
        apr_allocator_destroy(a);
        return NULL;
    }
    apr_allocator_mutex_set(a, m);
    apr_allocator_max_free_set(a, FLIGHTS_MAX_FREE);
    return a;
}

apr_status_t gf_engine_pool(apr_pool_t **pool, const char *tag)
{
    gf_engine_t *W = gf_engine();
    apr_allocator_t *a = W ? W->flights : NULL;
    apr_status_t rv;

    if (a) {
        rv = apr_pool_create_unmanaged_ex(pool, NULL, a);
    }
    else {
        if ((rv = apr_allocator_create(&a)) != APR_SUCCESS) return rv;
        if ((rv = apr_pool_create_unmanaged_ex(pool, NULL, a)) != APR_SUCCESS) {
            apr_allocator_destroy(a);
            return rv;
        }
        apr_allocator_owner_set(a, *pool);
    }
    if (rv == APR_SUCCESS) apr_pool_tag(*pool, tag);
    return rv;
}

void *gf_engine_shm_zeroed(apr_pool_t *pconf, apr_size_t bytes, apr_status_t *rv)
{
    apr_shm_t *shm;
    void *base;
    if ((*rv = apr_shm_create(&shm, bytes, NULL, pconf)) != APR_SUCCESS) return NULL;
    base = apr_shm_baseaddr_get(shm);
    memset(base, 0, bytes);
    return base;
}

int gf_engine_running(void)
{
    gf_engine_t *W = gf_engine();
    return W ? W->nthreads : 0;
}

void gf_engine_flights(int *in_flight, int *max_in_flight, int *transfers, int *kept)
{
    gf_engine_t *W = gf_engine();
    *in_flight = *max_in_flight = *transfers = *kept = 0;
    if (!W || !W->loop) return;
    apr_thread_mutex_lock(W->mutex);
    *in_flight = W->places.in_flight;
    apr_thread_mutex_unlock(W->mutex);
    *max_in_flight = W->places.max_in_flight;
    *transfers = gf_loop_transfers(W->loop);
    *kept = W->kept;
}

/* The listener of every database is connected: every change is heard. */
int gf_engine_listening(void)
{
    gf_engine_t *W = gf_engine();
    return W && W->listening == W->databases->nelts;
}

gf_engine_t *gf_engine_create(apr_pool_t *pchild, server_rec *s, int lease_secs, int threads,
                              long max_in_flight, void (*on_change)(const char *id))
{
    gf_engine_t *W = gf_process()->engine = apr_pcalloc(pchild, sizeof(*W));

    W->s = s;
    W->on_change = on_change;
    W->databases = gf_databases_build(pchild);
    /* The httpd's name, not only its host: two httpds on one host name
     * may have children of the same pid (containers on the host's
     * network), and a lease is known by its owner. */
    W->node = apr_psprintf(pchild, "%s:%" APR_PID_T_FMT,
                           gf_process()->node ? gf_process()->node : "localhost:0", getpid());
    /* Three beats per lease: one lost beat never lets a lease lapse. */
    W->heartbeat = apr_time_from_msec(lease_secs * 1000L / 3);
    if (W->heartbeat < apr_time_from_msec(500)) W->heartbeat = apr_time_from_msec(500);
    apr_thread_mutex_create(&W->mutex, APR_THREAD_MUTEX_DEFAULT, pchild);
    apr_thread_cond_create(&W->work, pchild);
    W->threads = apr_pcalloc(pchild, sizeof(apr_thread_t *) * (apr_size_t)(threads > 0 ? threads : 1));
    W->hops_tail = &W->hops;
    W->places.max_in_flight = (int)max_in_flight;
    W->flights = flights_allocator(pchild);
    return W;
}

void gf_engine_forget(void)
{
    gf_process()->engine = NULL;
}
