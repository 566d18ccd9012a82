/* mod_genflow_worker.c: background workers inside every httpd child.
 *
 * child_init starts GenFlowWorkers threads and one listener thread.
 *
 * Workers loop over the mounted types, claiming due generations from
 * PostgreSQL (gf_run_one). With nothing to do they sleep until work is
 * announced or an idle interval passes (retries scheduled for later are
 * found then).
 *
 * The listener holds the child's one connection of its own (not from
 * mod_dbd's pool) and LISTENs to the notifications the type tables' trigger
 * sends (sql/007): genflow_work (work became due now: wake a worker, so a
 * job queued on any child or server is picked up at once) and
 * genflow_change (a generation's visible state changed: wake the requests
 * waiting on that id — Prefer: wait and the events stream). While it has no
 * connection, waiters and workers fall back to short polls. It also beats
 * the heart of every running attempt of the child: a renewed lease follows
 * an attempt however long its provider takes, and an attempt whose row was
 * taken over or ended (cancelled) learns it is lost and writes nothing.
 *
 * All state lives in the database: a child that exits or is killed loses
 * nothing, because an unfinished attempt's lease expires and any worker of
 * any server takes the row again. At child exit (a pre-cleanup of the
 * child pool, before mod_dbd's pool is gone) the workers stop claiming,
 * running attempts get a short grace to finish, then their network calls
 * are aborted and their rows released for rescue: exit takes seconds, not
 * the length of a provider call.
 */
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>
#include <apr_network_io.h>
#include <libpq-fe.h>

#include "httpd/mod_genflow_private.h"
#include "net/gf_http.h"
#include "core/gf_status_cache.h"

#define IDLE_WAIT        apr_time_from_msec(500)
#define TROUBLE_WAIT     apr_time_from_sec(1)
#define SWEEP_INTERVAL   apr_time_from_sec(2)
#define LISTEN_TICK_MS   250          /* the listener checks for stop this often */
#define RECONNECT_WAIT   apr_time_from_sec(1)
#define EXIT_GRACE       apr_time_from_sec(3)   /* running attempts may finish */
/* Waiters re-read at least this often: the backstop of NOTIFY. */
#define BACKSTOP_LISTENING apr_time_from_sec(2)
#define BACKSTOP_DEAF      apr_time_from_msec(250)

typedef struct waiter_t {
    const char *id;
    apr_thread_cond_t *cond;
    struct waiter_t *next;
} waiter_t;

/* The last generation ids notified, so a waiter that read the row just
 * before a notification arrived does not sleep through it. */
#define RECENT 128
typedef struct {
    char id[40];
    apr_uint64_t seq;
} recent_t;

typedef struct {
    server_rec *s;
    recent_t recent[RECENT];
    apr_uint64_t seq;            /* notifications seen */
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *work;     /* signalled when work was queued */
    int wake_pending;
    volatile int stopping;
    volatile int abort;          /* network calls and simulated latency stop */
    volatile int listening;      /* the listener's LISTEN is in force */
    apr_thread_t **threads;
    gf_attempt_t *slots;         /* the attempt each worker runs, for heartbeats */
    int nthreads;
    apr_thread_t *listener;
    waiter_t *waiters;
    const char *node;            /* host:pid, the prefix of lease owners */
    apr_interval_time_t heartbeat;
    gf_status_cache_t *cache;    /* finished status answers; NULL: off */
} workers_t;

static workers_t *W;   /* this child's workers; NULL in the parent */

/* ---- attempts and their heartbeat ------------------------------------ */

void gf_attempt_begin(gf_attempt_t *a, const gf_type_t *t, const char *id, const char *owner,
                      int attempt)
{
    if (!W || !a) return;
    apr_thread_mutex_lock(W->mutex);
    apr_cpystrn(a->id, id, sizeof(a->id));
    apr_cpystrn(a->owner, owner, sizeof(a->owner));
    a->type = t;
    a->attempt = attempt;
    a->lost = 0;
    a->active = 1;
    apr_thread_mutex_unlock(W->mutex);
}

void gf_attempt_end(gf_attempt_t *a)
{
    if (!W || !a) return;
    apr_thread_mutex_lock(W->mutex);
    a->active = 0;
    apr_thread_mutex_unlock(W->mutex);
}

int gf_attempt_lost(const gf_attempt_t *a)
{
    return a && a->lost;
}

int gf_workers_aborting(void)
{
    return W && W->abort;
}

int gf_workers_stopping(void)
{
    return W && W->stopping;
}

/* Renew the lease of every running attempt of this child. */
static void beat(apr_pool_t *p)
{
    gf_server_conf_t *sc = gf_server_conf(W->s);
    const char *secs = apr_itoa(p, gf_conf_lease_secs(sc));
    ap_dbd_t *dbd = NULL;
    int i;

    for (i = 0; i < W->nthreads; i++) {
        gf_attempt_t a;
        gf_db_rows_t *rows;
        apr_thread_mutex_lock(W->mutex);
        a = W->slots[i];
        apr_thread_mutex_unlock(W->mutex);
        if (!a.active) continue;
        if (!dbd && !(dbd = gf_db_open(p, W->s))) return;
        if (gf_db_pselect(W->s, p, dbd, a.type->labels[GF_SQL_RENEW], &rows, 4, secs, a.id,
                          a.owner, apr_itoa(p, a.attempt)) != GF_DB_OK) {
            continue;   /* database trouble: the lease may lapse, the guards hold */
        }
        if (rows->nrows == 0) {
            apr_thread_mutex_lock(W->mutex);
            if (W->slots[i].active && !strcmp(W->slots[i].id, a.id)
                && W->slots[i].attempt == a.attempt) {
                W->slots[i].lost = 1;
            }
            apr_thread_mutex_unlock(W->mutex);
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, W->s, GF_LOGNO(1605)
                         "type=%s id=%s attempt=%d: the lease is no longer this attempt's "
                         "(taken over, or the generation ended); its result will be dropped",
                         a.type->name, a.id, a.attempt);
        }
    }
    if (dbd) gf_db_close(W->s, dbd);
}

/* ---- waiting for changes ---------------------------------------------- */

apr_uint64_t gf_workers_change_seq(void)
{
    apr_uint64_t seq;
    if (!W) return 0;
    apr_thread_mutex_lock(W->mutex);
    seq = W->seq;
    apr_thread_mutex_unlock(W->mutex);
    return seq;
}

/* Under the mutex: was id notified after since? */
static int notified_since(const char *id, apr_uint64_t since)
{
    int i;
    if (W->seq - since >= RECENT) return 1;   /* too much happened: look again */
    for (i = 0; i < RECENT; i++) {
        if (W->recent[i].seq > since && !strcmp(W->recent[i].id, id)) return 1;
    }
    return 0;
}

void gf_workers_wait_change(apr_pool_t *p, const char *id, apr_uint64_t since,
                            apr_interval_time_t timeout)
{
    waiter_t me, **pp;
    apr_interval_time_t cap;

    if (!W) {
        apr_sleep(timeout < BACKSTOP_DEAF ? timeout : BACKSTOP_DEAF);
        return;
    }
    cap = W->listening ? BACKSTOP_LISTENING : BACKSTOP_DEAF;
    if (timeout > cap) timeout = cap;
    memset(&me, 0, sizeof(me));
    me.id = id;
    if (apr_thread_cond_create(&me.cond, p) != APR_SUCCESS) {
        apr_sleep(timeout);
        return;
    }
    apr_thread_mutex_lock(W->mutex);
    me.next = W->waiters;
    W->waiters = &me;
    if (!W->stopping && !notified_since(id, since)) {
        apr_thread_cond_timedwait(me.cond, W->mutex, timeout);
    }
    for (pp = &W->waiters; *pp; pp = &(*pp)->next) {
        if (*pp == &me) {
            *pp = me.next;
            break;
        }
    }
    apr_thread_mutex_unlock(W->mutex);
    apr_thread_cond_destroy(me.cond);
}

/* Wake the waiters of id, or all of them (id NULL), and forget what the
 * status cache holds of it. */
static void announce_change(const char *id)
{
    waiter_t *w;
    if (!W) return;
    apr_thread_mutex_lock(W->mutex);
    W->seq++;
    if (W->cache) {
        if (id) gf_status_cache_forget(W->cache, id);
        else gf_status_cache_clear(W->cache);
    }
    if (id) {
        recent_t *slot = &W->recent[W->seq % RECENT];
        apr_cpystrn(slot->id, id, sizeof(slot->id));
        slot->seq = W->seq;
    }
    else {
        /* Everything may have changed: every "since" is now stale. */
        W->seq += RECENT;
    }
    for (w = W->waiters; w; w = w->next) {
        if (!id || !strcmp(w->id, id)) {
            apr_thread_cond_signal(w->cond);
        }
    }
    apr_thread_mutex_unlock(W->mutex);
}

/* ---- finished status answers ------------------------------------------ */

/* The cache is consulted only while the listener hears notifications: a
 * deletion (the only change a finished row can see) is announced by NOTIFY,
 * and a deaf child could serve a deleted generation. */
int gf_workers_status_cached(apr_pool_t *p, const gf_type_t *t, const char *id,
                             const char *user, const char **json, const char **etag)
{
    int hit = 0;
    if (!W || !W->cache || !W->listening) return 0;
    apr_thread_mutex_lock(W->mutex);
    hit = gf_status_cache_get(W->cache, t, id, user, p, json, etag);
    apr_thread_mutex_unlock(W->mutex);
    return hit;
}

/* Remember a finished generation's answer, read from the database after
 * change number since: unless id was notified after since (it may have been
 * deleted after the read), or the listener missed anything since. */
void gf_workers_status_store(const gf_type_t *t, const char *id, const char *user,
                             const char *json, const char *etag, apr_uint64_t since)
{
    if (!W || !W->cache || !W->listening) return;
    apr_thread_mutex_lock(W->mutex);
    if (W->listening && !notified_since(id, since)) {
        gf_status_cache_put(W->cache, t, id, user, json, etag);
    }
    apr_thread_mutex_unlock(W->mutex);
}

static void wake_workers(int all)
{
    if (!W) return;
    apr_thread_mutex_lock(W->mutex);
    W->wake_pending++;
    if (all) apr_thread_cond_broadcast(W->work);
    else apr_thread_cond_signal(W->work);
    apr_thread_mutex_unlock(W->mutex);
}

void gf_workers_wake(void)
{
    wake_workers(0);
}

int gf_workers_running(void)
{
    return W ? W->nthreads : 0;
}

int gf_workers_listening(void)
{
    return W && W->listening;
}

static void sleep_for_work(apr_interval_time_t timeout)
{
    apr_thread_mutex_lock(W->mutex);
    if (!W->stopping && !W->wake_pending) {
        apr_thread_cond_timedwait(W->work, W->mutex, timeout);
    }
    if (W->wake_pending > 0) W->wake_pending--;
    apr_thread_mutex_unlock(W->mutex);
}

/* ---- the listener ------------------------------------------------------ */

/* The connection parameters of mod_dbd's connections (DBDParams), read off
 * one of them, so the listener needs no configuration of its own. */
static PGconn *listener_connect(apr_pool_t *p)
{
    ap_dbd_t *dbd = gf_db_open(p, W->s);
    PQconninfoOption *opts, *o;
    const char **keys, **vals;
    PGconn *conn = NULL, *pooled;
    int n = 0;

    if (!dbd) return NULL;
    pooled = apr_dbd_native_handle(dbd->driver, dbd->handle);
    opts = pooled ? PQconninfo(pooled) : NULL;
    gf_db_close(W->s, dbd);
    if (!opts) return NULL;
    for (o = opts; o->keyword; o++) n++;
    keys = apr_pcalloc(p, sizeof(char *) * (apr_size_t)(n + 2));
    vals = apr_pcalloc(p, sizeof(char *) * (apr_size_t)(n + 2));
    n = 0;
    for (o = opts; o->keyword; o++) {
        if (o->val && *o->val) {
            keys[n] = apr_pstrdup(p, o->keyword);
            vals[n] = apr_pstrdup(p, o->val);
            n++;
        }
    }
    keys[n] = "application_name";
    vals[n] = "mod_genflow listener";
    PQconninfoFree(opts);
    conn = PQconnectdbParams(keys, vals, 0);
    if (PQstatus(conn) != CONNECTION_OK) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, W->s, GF_LOGNO(1603)
                     "genflow listener cannot connect: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    {
        PGresult *res = PQexec(conn, "LISTEN genflow_work; LISTEN genflow_change");
        int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (!ok) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, W->s, GF_LOGNO(1604)
                         "genflow listener: LISTEN failed: %s", PQerrorMessage(conn));
            PQfinish(conn);
            return NULL;
        }
    }
    return conn;
}

static void *APR_THREAD_FUNC listener_main(apr_thread_t *thread, void *data)
{
    apr_allocator_t *allocator;
    apr_pool_t *pool;
    PGconn *conn = NULL;
    apr_time_t next_beat = apr_time_now() + W->heartbeat, next_connect = 0;
    (void)data;

    apr_allocator_create(&allocator);
    apr_allocator_max_free_set(allocator, 1);
    apr_pool_create_unmanaged_ex(&pool, NULL, allocator);
    apr_allocator_owner_set(allocator, pool);
    apr_pool_tag(pool, "genflow_listener");

    while (!W->stopping) {
        struct pollfd pfd;
        PGnotify *note;

        if (!conn && apr_time_now() >= next_connect) {
            conn = listener_connect(pool);
            apr_pool_clear(pool);
            next_connect = apr_time_now() + RECONNECT_WAIT;
            if (conn) {
                W->listening = 1;
                /* Anything that happened while deaf: look now. */
                wake_workers(1);
                announce_change(NULL);
            }
        }
        if (conn) {
            pfd.fd = PQsocket(conn);
            pfd.events = POLLIN;
            pfd.revents = 0;
            if (poll(&pfd, 1, LISTEN_TICK_MS) > 0) {
                if (!PQconsumeInput(conn)) {
                    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, W->s, GF_LOGNO(1606)
                                 "genflow listener lost its connection: %s; polling until "
                                 "it is back", PQerrorMessage(conn));
                    PQfinish(conn);
                    conn = NULL;
                    W->listening = 0;
                    announce_change(NULL);
                }
            }
            while (conn && (note = PQnotifies(conn)) != NULL) {
                if (!strcmp(note->relname, "genflow_work")) {
                    wake_workers(0);
                }
                else if (!strcmp(note->relname, "genflow_change")) {
                    /* "*": rows were deleted (sql/012); any id may be gone. */
                    announce_change(strcmp(note->extra, "*") ? note->extra : NULL);
                }
                PQfreemem(note);
            }
        }
        else {
            apr_sleep(apr_time_from_msec(LISTEN_TICK_MS));
        }
        if (apr_time_now() >= next_beat && !W->stopping) {
            beat(pool);
            apr_pool_clear(pool);
            next_beat = apr_time_now() + W->heartbeat;
        }
    }
    if (conn) PQfinish(conn);
    W->listening = 0;
    apr_pool_destroy(pool);
    /* Return, not apr_thread_exit(): pthread_exit unwinds the stack by
     * force, and APR 1.7's apr_thread_exit destroys the thread's subpool
     * of pchild from this thread. stop_workers joins us; the subpool goes
     * with pchild. */
    return NULL;
}

/* ---- workers ----------------------------------------------------------- */

static void *APR_THREAD_FUNC worker_main(apr_thread_t *thread, void *data)
{
    long index = (long)(apr_uintptr_t)data;
    apr_array_header_t *types = gf_registered_types();
    apr_allocator_t *allocator;
    apr_pool_t *pool;
    const char *owner;
    int start = 0, *due;
    apr_time_t next_sweep = apr_time_now() + SWEEP_INTERVAL;

    /* A thread of its own needs a pool with an allocator of its own: the
     * child's pool is not safe to allocate from concurrently. */
    apr_allocator_create(&allocator);
    apr_allocator_max_free_set(allocator, 1);
    apr_pool_create_unmanaged_ex(&pool, NULL, allocator);
    apr_allocator_owner_set(allocator, pool);
    apr_pool_tag(pool, "genflow_worker");
    owner = apr_psprintf(pool, "%s:%ld", W->node, index);

    /* Outlives the per-round clears of pool. */
    due = calloc((apr_size_t)types->nelts, sizeof(int));
    if (!due) {
        apr_pool_destroy(pool);
        return NULL;
    }
    while (!W->stopping) {
        int i, worked = 0, trouble = 0;
        /* One query says which types have work due; an idle engine costs
         * that query per round, not a claim per type. */
        if (gf_run_due_types(W->s, pool, due) < 0) {
            trouble = 1;
            for (i = 0; i < types->nelts; i++) due[i] = 0;
        }
        apr_pool_clear(pool);
        owner = apr_psprintf(pool, "%s:%ld", W->node, index);
        for (i = 0; i < types->nelts && !W->stopping; i++) {
            /* Start at a different type each round so no type starves. */
            int k = (start + i) % types->nelts;
            gf_type_t *t = APR_ARRAY_IDX(types, k, gf_type_t *);
            int rc;
            if (!due[k]) continue;
            rc = gf_run_one(W->s, pool, t, owner, &W->slots[index]);
            apr_pool_clear(pool);
            owner = apr_psprintf(pool, "%s:%ld", W->node, index);
            if (rc > 0) {
                worked = 1;
            }
            else if (rc < 0) {
                trouble = 1;
            }
        }
        start++;
        /* Worker 0 of each child runs the sweeps; they are set-based and
         * skip locked rows, so children and servers never collide. */
        if (index == 0 && apr_time_now() >= next_sweep && !W->stopping) {
            for (i = 0; i < types->nelts && !W->stopping; i++) {
                gf_run_sweep(W->s, pool, APR_ARRAY_IDX(types, i, gf_type_t *));
                apr_pool_clear(pool);
            }
            gf_run_sweep_global(W->s, pool);
            apr_pool_clear(pool);
            owner = apr_psprintf(pool, "%s:%ld", W->node, index);
            next_sweep = apr_time_now() + SWEEP_INTERVAL;
        }
        if (!W->listening && worked) {
            announce_change(NULL);   /* no NOTIFY: tell local waiters directly */
        }
        if (trouble && !worked) {
            apr_sleep(TROUBLE_WAIT);   /* database down: do not spin */
        }
        else if (!worked) {
            sleep_for_work(IDLE_WAIT);
        }
    }
    gf_http_thread_cleanup();
    free(due);
    apr_pool_destroy(pool);
    return NULL;   /* as listener_main: return, never apr_thread_exit() */
}

static int attempts_running(void)
{
    int i, n = 0;
    apr_thread_mutex_lock(W->mutex);
    for (i = 0; i < W->nthreads; i++) n += W->slots[i].active;
    apr_thread_mutex_unlock(W->mutex);
    return n;
}

static apr_status_t stop_workers(void *data)
{
    int i;
    apr_status_t rv;
    apr_time_t t0 = apr_time_now(), grace_end = t0 + EXIT_GRACE;
    (void)data;

    if (!W) return APR_SUCCESS;
    apr_thread_mutex_lock(W->mutex);
    W->stopping = 1;
    apr_thread_cond_broadcast(W->work);
    apr_thread_mutex_unlock(W->mutex);
    announce_change(NULL);
    /* Attempts in flight get a short grace (a submission that is being
     * answered should record its job id rather than be lost), then their
     * network calls and simulated waits are aborted and each releases its
     * row for rescue. Exit never waits out a provider call. */
    while (attempts_running() > 0 && apr_time_now() < grace_end) {
        apr_sleep(apr_time_from_msec(50));
    }
    W->abort = 1;
    for (i = 0; i < W->nthreads; i++) {
        apr_thread_join(&rv, W->threads[i]);
    }
    if (W->listener) {
        apr_thread_join(&rv, W->listener);
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, W->s, GF_LOGNO(1607)
                 "genflow workers of %s stopped in %" APR_TIME_T_FMT " ms", W->node,
                 apr_time_as_msec(apr_time_now() - t0));
    gf_http_set_abort_flag(NULL);
    W = NULL;
    return APR_SUCCESS;
}

void gf_workers_child_init(apr_pool_t *pchild, server_rec *s)
{
    gf_server_conf_t *sc = gf_server_conf(s);
    apr_array_header_t *types = gf_registered_types();
    char host[APRMAXHOSTLEN + 1];
    int i, n = gf_conf_workers(sc), lease = gf_conf_lease_secs(sc);
    apr_status_t rv;

    if (!types || types->nelts == 0) {
        return;
    }
    W = apr_pcalloc(pchild, sizeof(*W));
    W->s = s;
    if (apr_gethostname(host, sizeof(host), pchild) != APR_SUCCESS) {
        apr_cpystrn(host, "localhost", sizeof(host));
    }
    W->node = apr_psprintf(pchild, "%s:%" APR_PID_T_FMT, host, getpid());
    /* Three beats per lease: one lost beat never lets a lease lapse. */
    W->heartbeat = apr_time_from_msec(lease * 1000L / 3);
    if (W->heartbeat < apr_time_from_msec(500)) W->heartbeat = apr_time_from_msec(500);
    apr_thread_mutex_create(&W->mutex, APR_THREAD_MUTEX_DEFAULT, pchild);
    apr_thread_cond_create(&W->work, pchild);
    if (gf_conf_status_cache(sc) > 0) {
        W->cache = gf_status_cache_create(pchild, (apr_size_t)gf_conf_status_cache(sc));
    }
    gf_http_set_abort_flag(&W->abort);
    W->threads = apr_pcalloc(pchild, sizeof(apr_thread_t *) * (apr_size_t)(n > 0 ? n : 1));
    W->slots = apr_pcalloc(pchild, sizeof(gf_attempt_t) * (apr_size_t)(n > 0 ? n : 1));
    for (i = 0; i < n; i++) {
        rv = apr_thread_create(&W->threads[W->nthreads], NULL, worker_main,
                               (void *)(apr_uintptr_t)W->nthreads, pchild);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, GF_LOGNO(1601)
                         "cannot start genflow worker thread %d", i);
            continue;
        }
        W->nthreads++;
    }
    rv = apr_thread_create(&W->listener, NULL, listener_main, NULL, pchild);
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
                 "%d genflow workers started in %s", W->nthreads, W->node);
}
