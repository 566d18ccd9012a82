/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_watch.c: waiting for a generation without a thread (see
 * mod_genflow_watch.h).
 *
 * Parked requests live in this child's watcher: a record of our own per
 * request (malloc'd, never r->pool: a timed callback cannot be cancelled),
 * kept by the queue of core/gf_park.c (indexed by generation id, due in
 * order, with its timers), and one thread that
 *  - hears the listener's news (gf_watch_announce) and the timers of each
 *    request (deadline, heartbeat, the backstop re-read),
 *  - watches the parked sockets with its own epoll (EPOLLRDHUP): the MPM
 *    does not poll a suspended connection, so a client that leaves would
 *    otherwise hold its descriptor until the deadline,
 *  - hands due requests to the MPM with a timed callback dated in the past
 *    (a future one does not fire on an idle event MPM), at most
 *    GF_PARK_WAKE_BATCH every GF_PARK_WAKE_GAP_MS so that a thousand wakes
 *    do not starve other clients, and only once the MPM is done with the
 *    connection (gf_park_settled: before it the MPM's thread still writes
 *    to it).
 * A record is either parked (the watcher's) or handed (one callback's):
 * never both, so exactly one of wake, deadline, disconnect and shutdown
 * finishes a request.
 *
 * httpd 2.4 cannot resume a suspended connection: after the answer the
 * connection is closed by us (lingering close, then its pool destroyed,
 * with the MPM's suspended state so its counters stay right). A parked
 * request therefore answers with Connection: close.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <ap_mpm.h>
#include <http_connection.h>
#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>

#include "httpd/config/mod_genflow_process.h"
#include "httpd/watch/mod_genflow_watch.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/engine/mod_genflow_engine.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/config/mod_genflow_request.h"
#include "core/gf_park.h"

/* The hand-over's timed callbacks are dated a second in the past. The
 * event MPM's listener takes its poll timeout only from a timer that has
 * expired when it looks, and wakes for a new timer only when it is due
 * 10 ms before the earliest one it knows: a timer dated now + 1 us that
 * the listener saw a moment before it was due became that earliest time
 * while the listener waited on nothing, and every later hand-over, not
 * 10 ms earlier, waited with it until some socket woke the listener
 * (t/32 saw parked answers 3 s to minutes late under load). A past date
 * has expired whenever the listener looks, and is earlier than anything
 * it knows. The probe uses the same date, so an MPM that refused it
 * would block instead of park. */
#define HAND_OVER_AT     (-apr_time_from_sec(1))

/* The queue's reasons are the watch's. */
#if GF_PARK_WOKE_CHANGE != GF_WOKE_CHANGE || GF_PARK_WOKE_DEADLINE != GF_WOKE_DEADLINE \
    || GF_PARK_WOKE_BEAT != GF_WOKE_BEAT || GF_PARK_WOKE_STOP != GF_WOKE_STOP \
    || (GF_PARK_WOKE_GONE & (GF_WOKE_CHANGE | GF_WOKE_DEADLINE | GF_WOKE_BEAT | GF_WOKE_STOP \
                             | GF_WOKE_FULL))
#error "the parked queue's reasons differ from the watch's GF_WOKE_*"
#endif

/* A parked request: the queue's record (core/gf_park.h) first, then what
 * only this file's side knows. */
typedef struct {
    gf_park_rec_t q;
    request_rec *r;
    gf_watch_t w;
    int fd;
} parked_t;

typedef struct {
    gf_park_t q;                 /* the records, under mutex */
    server_rec *s;
    apr_pool_t *pool;
    apr_thread_mutex_t *mutex;
    apr_thread_t *thread;
    int epfd, evfd;
    int mpm_parks;               /* -1 not probed, 0 no, 1 yes */
    volatile int quit;
} park_t;

/* The process record's member. */
struct gf_watch_state {
    park_t *park;   /* this child's watcher; NULL in the parent */
};

const apr_size_t gf_watch_state_size = sizeof(struct gf_watch_state);

static struct gf_watch_state *watch(void)
{
    return GF_PROCESS_STATE(watch);
}

static void noop_callback(void *baton)
{
    (void)baton;
}

static void poke(park_t *k)
{
    apr_uint64_t one = 1;
    if (write(k->evfd, &one, sizeof(one)) < 0) {
        /* The counter is full: the watcher is awake anyway. */
    }
}

/* The queue's question (gf_park_settled): has the event MPM's
 * notify_suspend() made its first write after the suspend hook
 * (c->sbh = NULL)? Its thread is then two stores from letting the
 * connection go. */
static int mpm_released(const gf_park_rec_t *q)
{
    const parked_t *p = (const parked_t *)q;
    return *(void *volatile *)&p->r->connection->sbh == NULL;
}

static apr_interval_time_t backstop(void)
{
    return gf_park_backstop(gf_engine_listening());
}

/* ---- the MPM's side ---------------------------------------------------- */

/* Under the event MPM, on HTTP/1.x, with room, in a child whose watcher
 * runs. prefork and worker refuse timed callbacks (APR_ENOTIMPL): probed
 * once per child, at its first request (the MPM's timer list exists only
 * after child_init). An HTTP/2 stream (a secondary connection) is reset by
 * the MPM when suspended, and the later callback crashes the child. */
static int can_park(park_t *k, request_rec *r)
{
    int ok;
    if (!k || !k->thread || k->q.stopping || k->q.park_max <= 0) return 0;
    if (r->connection->master || !r->connection->cs || r->proto_num >= 2000) return 0;
    /* An internal redirect (ErrorDocument, a rewrite with [PT], Action)
     * or a subrequest: whoever made it finishes the request once we
     * return, and a parked record would outlive it. */
    if (r->main || r->prev) return 0;
    apr_thread_mutex_lock(k->mutex);
    if (k->mpm_parks < 0) {
        int async = 0;
        k->mpm_parks = ap_mpm_query(AP_MPMQ_IS_ASYNC, &async) == APR_SUCCESS && async
                       && ap_mpm_register_timed_callback(HAND_OVER_AT, noop_callback, NULL) == APR_SUCCESS;
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, k->s, GF_LOGNO(5001)
                     "waits in this child %s", k->mpm_parks
                     ? "park (event MPM)" : "block a thread (the MPM cannot park requests)");
    }
    ok = k->mpm_parks && k->q.parked < k->q.park_max;
    apr_thread_mutex_unlock(k->mutex);
    return ok;
}

/* Close a connection the MPM left suspended: send what is buffered, FIN,
 * read what the client still sent without blocking, and free it as the MPM
 * would (its pool's cleanups close the socket and count it out of the
 * suspended connections). Leans on the event MPM's internals (no resume
 * in httpd 2.4); t/ pins it. */
static void close_suspended(conn_rec *c)
{
    apr_socket_t *csd = ap_get_conn_socket(c);
    if (csd && !ap_start_lingering_close(c)) {
        char buf[512];
        int i;
        apr_socket_timeout_set(csd, 0);
        for (i = 0; i < 16; i++) {
            apr_size_t len = sizeof(buf);
            if (apr_socket_recv(csd, buf, &len) != APR_SUCCESS || len == 0) break;
        }
    }
    if (c->cs) c->cs->state = CONN_STATE_SUSPENDED;
    apr_pool_destroy(c->pool);
}

/* The answer is composed (or the client left): finish the request and
 * its connection. Called with r->invoke_mtx held unless gone. */
static void finish(park_t *k, parked_t *p, int rc, int gone)
{
    request_rec *r = p->r;
    conn_rec *c = r->connection;
    gf_req_t *rq = gf_req(r);

    /* Out of the watcher's epoll first: once the answer is out (ap_die
     * below sends it) the client may close at once, and an event for this
     * socket reported after the record is freed (the watcher frees dead
     * records before each epoll_wait) would be a pointer to freed memory.
     * After this, only an epoll_wait already running can still report it,
     * and the watcher frees nothing until that one's events are handled. */
    epoll_ctl(k->epfd, EPOLL_CTL_DEL, p->fd, NULL);
    if (rq->answered) {
        void (*answered)(request_rec *) = rq->answered;
        rq->answered = NULL;
        answered(r);
    }
    if (gone) {
        c->aborted = 1;
    }
    else {
        ap_die(rc == DONE ? OK : rc, r);
        apr_thread_mutex_unlock(r->invoke_mtx);
    }
    /* Freed by the watcher before its next epoll_wait: an event of this
     * socket may be in its hands now (from a wait that began before the
     * EPOLL_CTL_DEL above). */
    apr_thread_mutex_lock(k->mutex);
    gf_park_remove(&k->q, &p->q);
    apr_thread_mutex_unlock(k->mutex);
    /* p may be freed from here on. */
    ap_set_module_config(c->conn_config, &genflow_module, NULL);
    ap_process_request_after_handler(r);
    /* r and r->pool may be gone now. */
    close_suspended(c);
}

static apr_interval_time_t look_of(const gf_watch_t *w)
{
    return w->look ? *w->look : 0;
}

static void repark(park_t *k, parked_t *p, unsigned woke)
{
    apr_interval_time_t look_in = gf_park_look_in(look_of(&p->w), backstop());
    apr_thread_mutex_lock(k->mutex);
    if (gf_park_repark(&k->q, &p->q, woke, look_in, apr_time_now())) poke(k);
    apr_thread_mutex_unlock(k->mutex);
}

/* A worker thread of the MPM, handed one record by the watcher. */
static void park_callback(void *baton)
{
    parked_t *p = baton;
    park_t *k = watch()->park;
    request_rec *r = p->r;
    unsigned woke;
    int rc;

    apr_thread_mutex_lock(k->mutex);
    woke = p->q.handed;
    apr_thread_mutex_unlock(k->mutex);
    if (woke & GF_PARK_WOKE_GONE) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GF_LOGNO(5002)
                      "the client of a parked request for %s left", p->q.id);
        finish(k, p, OK, 1);
        return;
    }
    apr_thread_mutex_lock(r->invoke_mtx);
    rc = p->w.step(r, p->w.ctx, (int)woke);
    if (rc == GF_WATCH_AGAIN && !r->connection->aborted) {
        apr_thread_mutex_unlock(r->invoke_mtx);
        repark(k, p, woke);
        return;
    }
    finish(k, p, rc == GF_WATCH_AGAIN ? OK : rc, 0);
}

/* The queue's hand-over (gf_park_hand_over): a timed callback of the MPM
 * runs the record on a worker. */
static int hand_to_mpm(gf_park_rec_t *q)
{
    return ap_mpm_register_timed_callback(HAND_OVER_AT, park_callback, q) == APR_SUCCESS;
}

/* ---- the watcher thread ------------------------------------------------- */

static void *APR_THREAD_FUNC parker_main(apr_thread_t *thread, void *data)
{
    park_t *k = data;
    struct epoll_event ev[64];
    (void)thread;

    while (!k->quit) {
        int n, i, timeout_ms;
        apr_time_t now;

        apr_thread_mutex_lock(k->mutex);
        gf_park_free_dead(&k->q, 0);
        timeout_ms = gf_park_timeout_ms(&k->q, apr_time_now());
        apr_thread_mutex_unlock(k->mutex);
        n = epoll_wait(k->epfd, ev, 64, timeout_ms);
        apr_thread_mutex_lock(k->mutex);
        for (i = 0; i < n; i++) {
            parked_t *p = ev[i].data.ptr;
            if (!p) {
                apr_uint64_t count;
                if (read(k->evfd, &count, sizeof(count)) < 0) {
                    /* EAGAIN: another read took it. */
                }
                continue;
            }
            gf_park_gone(&k->q, &p->q);
        }
        now = apr_time_now();
        if (k->q.all && (now >= k->q.next_time || k->q.stopping)) gf_park_scan(&k->q, now);
        gf_park_hand_over(&k->q, apr_time_now());
        apr_thread_mutex_unlock(k->mutex);
    }
    return NULL;
}

static apr_status_t stop_parker(void *data)
{
    park_t *k = data;
    apr_status_t rv;
    k->quit = 1;
    poke(k);
    if (k->thread) apr_thread_join(&rv, k->thread);
    gf_park_free_dead(&k->q, 1);
    close(k->epfd);
    close(k->evfd);
    watch()->park = NULL;
    return APR_SUCCESS;
}

/* The pool the queue's index grows in, from worker threads (under
 * k->mutex): a pool and an allocator of its own, never pchild's, which
 * other threads of the child may use meanwhile (APR pools are not
 * thread-safe). */
static apr_pool_t *index_pool(apr_pool_t *pchild)
{
    apr_allocator_t *a = NULL;
    apr_pool_t *hp = NULL;
    if (apr_allocator_create(&a) == APR_SUCCESS
        && apr_pool_create_ex(&hp, pchild, NULL, a) == APR_SUCCESS) {
        apr_allocator_owner_set(a, hp);
        return hp;
    }
    if (a) apr_allocator_destroy(a);
    return pchild;
}

void gf_watch_child_init(apr_pool_t *pchild, server_rec *s)
{
    gf_server_conf_t *sc = gf_server_conf(s);
    park_t *k = apr_pcalloc(pchild, sizeof(*k));
    struct epoll_event ev;
    int threads = 0;

    k->s = s;
    k->pool = pchild;
    k->mpm_parks = -1;
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    gf_park_init(&k->q, index_pool(pchild), (int)gf_conf_park_max(sc),
                 (int)gf_conf_blocking_waiters(sc, threads), mpm_released, hand_to_mpm);
    apr_thread_mutex_create(&k->mutex, APR_THREAD_MUTEX_DEFAULT, pchild);
    k->epfd = epoll_create1(EPOLL_CLOEXEC);
    k->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    watch()->park = k;
    if (k->epfd < 0 || k->evfd < 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, s, GF_LOGNO(5003)
                     "cannot create the watcher's epoll; waits block a thread");
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    epoll_ctl(k->epfd, EPOLL_CTL_ADD, k->evfd, &ev);
    if (apr_thread_create(&k->thread, NULL, parker_main, k, pchild) != APR_SUCCESS) {
        k->thread = NULL;
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, GF_LOGNO(5004)
                     "cannot start the watcher thread; waits block a thread");
    }
    apr_pool_pre_cleanup_register(pchild, k, stop_parker);
}

void gf_watch_suspended(conn_rec *c, request_rec *r)
{
    parked_t *p = ap_get_module_config(c->conn_config, &genflow_module);
    park_t *k = watch()->park;
    (void)r;
    /* The MPM announces other suspensions too (write completion,
     * keep-alive): only a parked request's own counts. */
    if (!p || !k || !c->cs || c->cs->state != CONN_STATE_SUSPENDED) return;
    apr_thread_mutex_lock(k->mutex);
    p->q.suspended_at = apr_time_now();
    if (p->q.queued) poke(k);
    apr_thread_mutex_unlock(k->mutex);
}

/* Graceful or not, every parked request answers now, from this hook
 * (the MPM's listener or signal thread): a stopping child's timed
 * callbacks may never run once its workers leave, and a new generation of
 * children may need this one's scoreboard slot. A record handed to a
 * callback already is finished by it; one not yet suspended is marked and
 * goes the usual way. */
void gf_watch_child_stopping(apr_pool_t *pchild, int graceful)
{
    park_t *k = watch()->park;
    gf_park_rec_t *mine;
    (void)pchild;
    (void)graceful;
    if (!k) return;
    apr_thread_mutex_lock(k->mutex);
    mine = gf_park_stop(&k->q, apr_time_now());
    poke(k);
    apr_thread_mutex_unlock(k->mutex);
    while (mine) {
        gf_park_rec_t *q = mine;
        mine = q->stop_next;
        park_callback(q);
    }
}

void gf_watch_announce(const char *id)
{
    park_t *k = watch()->park;

    if (!k) return;
    apr_thread_mutex_lock(k->mutex);
    if (gf_park_changed(&k->q, id)) poke(k);
    apr_thread_mutex_unlock(k->mutex);
}

/* ---- parking and blocking ---------------------------------------------- */

static int park_request(park_t *k, request_rec *r, const gf_watch_t *w, apr_uint64_t seq)
{
    conn_rec *c = r->connection;
    apr_socket_t *csd = ap_get_conn_socket(c);
    apr_os_sock_t fd;
    parked_t *p;
    struct epoll_event ev;

    if (!csd || apr_os_sock_get(&fd, csd) != APR_SUCCESS) return DECLINED;
    p = (parked_t *)gf_park_rec_new(sizeof(*p), w->id, w->deadline, w->beat, look_of(w),
                                    backstop(), apr_time_now());
    if (!p) return DECLINED;
    p->r = r;
    p->w = *w;
    p->fd = fd;
    p->w.id = p->q.id;
    /* No keep-alive after a parked answer: the connection cannot go back
     * to the MPM. */
    c->keepalive = AP_CONN_CLOSE;

    apr_thread_mutex_lock(k->mutex);
    if (!gf_park_add(&k->q, &p->q)) {
        apr_thread_mutex_unlock(k->mutex);
        free(p);
        return DECLINED;
    }
    ap_set_module_config(c->conn_config, &genflow_module, p);
    apr_thread_mutex_unlock(k->mutex);

    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLRDHUP | EPOLLONESHOT;
    ev.data.ptr = p;
    epoll_ctl(k->epfd, EPOLL_CTL_ADD, fd, &ev);
    /* A change heard between the first look and now. */
    if (gf_engine_changed_since(p->q.id, seq)) gf_watch_announce(p->q.id);
    else poke(k);
    return SUSPENDED;
}

static int blocking_enter(park_t *k)
{
    int ok;
    if (!k) return 0;
    apr_thread_mutex_lock(k->mutex);
    ok = gf_park_blocking_enter(&k->q);
    apr_thread_mutex_unlock(k->mutex);
    return ok;
}

static void blocking_leave(park_t *k)
{
    apr_thread_mutex_lock(k->mutex);
    gf_park_blocking_leave(&k->q);
    apr_thread_mutex_unlock(k->mutex);
}

/* The request's own thread waits, as one of at most blocking_cap. */
static int run_blocking(park_t *k, request_rec *r, const gf_watch_t *w, apr_uint64_t seq)
{
    apr_time_t now = apr_time_now(), next_beat = now + w->beat;
    int rc;

    if (!blocking_enter(k)) return w->step(r, w->ctx, GF_WOKE_FULL);
    for (;;) {
        apr_time_t until = gf_park_blocking_until(now, w->deadline, w->beat, next_beat,
                                                  look_of(w));
        int woke;
        if (until > now) gf_engine_wait_change(r->pool, w->id, seq, until - now);
        now = apr_time_now();
        woke = (int)gf_park_blocking_woke(now, w->deadline, w->beat, &next_beat,
                                          gf_engine_stopping() || k->q.stopping);
        seq = gf_engine_change_seq();
        rc = w->step(r, w->ctx, woke);
        if (rc != GF_WATCH_AGAIN) break;
        if (r->connection->aborted) {
            rc = OK;
            break;
        }
    }
    blocking_leave(k);
    return rc;
}

int gf_watch_run(request_rec *r, const gf_watch_t *w)
{
    park_t *k = watch()->park;
    int parkable = can_park(k, r), rc;
    apr_uint64_t seq;

    if (parkable && w->streams) r->connection->keepalive = AP_CONN_CLOSE;
    seq = gf_engine_change_seq();
    rc = w->step(r, w->ctx, 0);
    if (rc != GF_WATCH_AGAIN) return rc;
    /* No pooled connection is held while waiting. */
    gf_db_release(r);
    /* An aborted connection is never parked: the MPM closes it itself
     * after the handler (and would free it under the watcher). */
    if (r->connection->aborted) return OK;
    if (parkable && park_request(k, r, w, seq) == SUSPENDED) return SUSPENDED;
    return run_blocking(k, r, w, seq);
}

void gf_watch_counts(int *parked, int *blocking)
{
    park_t *k = watch()->park;
    *parked = *blocking = 0;
    if (!k) return;
    apr_thread_mutex_lock(k->mutex);
    *parked = k->q.parked;
    *blocking = k->q.blocking;
    apr_thread_mutex_unlock(k->mutex);
}
