/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_watch.c: waiting for a generation without a thread (see
 * mod_genflow_watch.h).
 *
 * Parked requests live in this child's watcher: a record of our own per
 * request (malloc'd, never r->pool: a timed callback cannot be cancelled),
 * indexed by generation id, and one thread that
 *  - hears the listener's news (gf_watch_announce) and the timers of each
 *    request (deadline, heartbeat, the backstop re-read),
 *  - watches the parked sockets with its own epoll (EPOLLRDHUP): the MPM
 *    does not poll a suspended connection, so a client that leaves would
 *    otherwise hold its descriptor until the deadline,
 *  - hands due requests to the MPM with a timed callback dated in the past
 *    (a future one does not fire on an idle event MPM), at most
 *    WAKE_BATCH every WAKE_GAP_MS so that a thousand wakes do not starve
 *    other clients, and only once the MPM is done with the connection
 *    (settled(): before it the MPM's thread still writes to it).
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
#include <apr_general.h>
#include <apr_hash.h>
#include <apr_strings.h>
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

#define WAKE_BATCH       32
#define WAKE_BATCH_STOP  200
#define WAKE_GAP_MS      10
/* Timers are looked at this often at most: with thousands of records
 * whose heartbeats and deadlines fall a few ms apart, a scan per timer
 * would walk every record hundreds of times a second. */
#define SCAN_GAP         apr_time_from_msec(100)
/* How long after the suspend hook a connection is taken as the MPM's no
 * longer (settled()). */
#define SETTLE_GAP       apr_time_from_msec(WAKE_GAP_MS)
#define GF_WOKE_GONE     0x100      /* the client left: no answer */
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
/* Parked requests re-read at least this often: the backstop of NOTIFY
 * (which wakes them at once; a deaf listener clears and wakes everyone). */
#define PARK_BACKSTOP_LISTENING apr_time_from_sec(30)
#define PARK_BACKSTOP_DEAF      apr_time_from_sec(2)

enum { P_PARKED, P_HANDED, P_DEAD };

typedef struct parked_t parked_t;
struct parked_t {
    request_rec *r;
    gf_watch_t w;
    char id[40];
    int fd;
    int state;
    int queued;                  /* in the due queue */
    apr_time_t suspended_at;     /* when the MPM's suspend hook ran; 0 before */
    unsigned woke, handed;       /* reasons pending; reasons of the hand-off */
    apr_time_t next_beat, next_look;
    parked_t *prev, *next;       /* every record */
    parked_t *id_next;           /* the records of the same generation */
    parked_t *due_next;
    parked_t *stop_next;         /* the child-stopping hook's list */
};

typedef struct {
    char id[40];
    parked_t *first;
} id_bucket_t;

typedef struct {
    server_rec *s;
    apr_pool_t *pool;
    apr_thread_mutex_t *mutex;
    apr_thread_t *thread;
    int epfd, evfd;
    apr_hash_t *by_id;
    parked_t *all, *due_head, *due_tail, *dead;
    int parked, blocking;
    int park_max, blocking_cap;
    int mpm_parks;               /* -1 not probed, 0 no, 1 yes */
    apr_time_t next_time;
    volatile int stopping, quit;
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

/* Under the mutex. */
static void enqueue(park_t *k, parked_t *p)
{
    if (p->queued || p->state != P_PARKED) return;
    p->queued = 1;
    p->due_next = NULL;
    if (k->due_tail) k->due_tail->due_next = p;
    else k->due_head = p;
    k->due_tail = p;
}

static apr_time_t first_time(const parked_t *p)
{
    apr_time_t t = p->w.deadline;
    if (p->w.beat && p->next_beat < t) t = p->next_beat;
    if (p->next_look < t) t = p->next_look;
    return t;
}

/* Under the mutex: whether the MPM's thread is done with the connection,
 * so that another thread may answer it and free it. The suspend hook runs
 * inside the event MPM's notify_suspend(), which then still writes to the
 * connection (c->sbh = NULL, then its own state, in the connection's
 * pool) before the thread lets it go. So a record counts as settled once
 * the hook ran, that first write is seen, and SETTLE_GAP has passed: a
 * thread that is two stores from the end of a function for that long is
 * not expected. An MPM that no longer clears c->sbh there is waited for
 * ten times as long instead of forever. (httpd 2.4 offers no exact
 * signal: resuming a suspended connection is trunk's.) */
static int settled(const parked_t *p, apr_time_t now)
{
    apr_interval_time_t since = now - p->suspended_at;
    if (!p->suspended_at || since < SETTLE_GAP) return 0;
    return *(void *volatile *)&p->r->connection->sbh == NULL || since >= 10 * SETTLE_GAP;
}

static apr_interval_time_t backstop(void)
{
    return gf_engine_listening() ? PARK_BACKSTOP_LISTENING : PARK_BACKSTOP_DEAF;
}

/* A time in the second half of period, drawn at random. */
static apr_interval_time_t spread(apr_interval_time_t period)
{
    apr_uint32_t r = 0;
    if (period < 2) return period;
    if (apr_generate_random_bytes((unsigned char *)&r, sizeof(r)) != APR_SUCCESS) r = 0;
    return period / 2 + (apr_interval_time_t)(r % (apr_uint32_t)(period / 2));
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
    if (!k || !k->thread || k->stopping || k->park_max <= 0) return 0;
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
    ok = k->mpm_parks && k->parked < k->park_max;
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

static void unlink_record(park_t *k, parked_t *p)
{
    id_bucket_t *b = apr_hash_get(k->by_id, p->id, APR_HASH_KEY_STRING);
    parked_t **pp;

    if (b) {
        for (pp = &b->first; *pp; pp = &(*pp)->id_next) {
            if (*pp == p) {
                *pp = p->id_next;
                break;
            }
        }
        if (!b->first) {
            apr_hash_set(k->by_id, b->id, APR_HASH_KEY_STRING, NULL);
            free(b);
        }
    }
    if (p->prev) p->prev->next = p->next;
    else k->all = p->next;
    if (p->next) p->next->prev = p->prev;
    k->parked--;
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
    apr_thread_mutex_lock(k->mutex);
    unlink_record(k, p);
    p->state = P_DEAD;
    /* Freed by the watcher before its next epoll_wait: an event of this
     * socket may be in its hands now (from a wait that began before the
     * EPOLL_CTL_DEL above). */
    p->next = k->dead;
    k->dead = p;
    apr_thread_mutex_unlock(k->mutex);
    /* p may be freed from here on. */
    ap_set_module_config(c->conn_config, &genflow_module, NULL);
    ap_process_request_after_handler(r);
    /* r and r->pool may be gone now. */
    close_suspended(c);
}

/* When a watch reads again unprompted: as soon as its step asked, else
 * at the backstop. */
static apr_interval_time_t look_in(const gf_watch_t *w)
{
    return w->look && *w->look > 0 ? *w->look : backstop();
}

static void repark(park_t *k, parked_t *p, unsigned woke)
{
    apr_time_t now = apr_time_now();
    apr_thread_mutex_lock(k->mutex);
    p->state = P_PARKED;
    if (woke & GF_WOKE_BEAT) p->next_beat = now + p->w.beat;
    if ((woke & GF_WOKE_CHANGE) || now + look_in(&p->w) < p->next_look) {
        p->next_look = now + look_in(&p->w);
    }
    if (k->stopping) p->woke |= GF_WOKE_STOP;
    if (p->woke) {
        enqueue(k, p);
        poke(k);
    }
    else if (first_time(p) < k->next_time) {
        k->next_time = first_time(p);
        poke(k);
    }
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
    woke = p->handed;
    apr_thread_mutex_unlock(k->mutex);
    if (woke & GF_WOKE_GONE) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GF_LOGNO(5002)
                      "the client of a parked request for %s left", p->id);
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

/* ---- the watcher thread ------------------------------------------------- */

/* Under the mutex: mark what is due by time. */
static void scan(park_t *k, apr_time_t now)
{
    apr_time_t next = now + apr_time_from_sec(1);
    parked_t *p;

    for (p = k->all; p; p = p->next) {
        unsigned woke = 0;
        if (p->state != P_PARKED || p->queued) continue;
        if (now >= p->w.deadline) woke |= GF_WOKE_DEADLINE;
        if (p->w.beat && now >= p->next_beat) woke |= GF_WOKE_BEAT;
        if (now >= p->next_look) woke |= GF_WOKE_CHANGE;
        if (k->stopping) woke |= GF_WOKE_STOP;
        if (woke) {
            p->woke |= woke;
            enqueue(k, p);
        }
        else if (first_time(p) < next) {
            next = first_time(p);
        }
    }
    k->next_time = next < now + SCAN_GAP ? now + SCAN_GAP : next;
}

/* Under the mutex: give the MPM the next batch of due, suspended records. */
static void hand_over(park_t *k)
{
    int budget = k->stopping ? WAKE_BATCH_STOP : WAKE_BATCH;
    apr_time_t now = apr_time_now();
    parked_t *p, *waiting = NULL, *waiting_tail = NULL;

    while (budget > 0 && (p = k->due_head) != NULL) {
        k->due_head = p->due_next;
        if (!k->due_head) k->due_tail = NULL;
        if (p->state != P_PARKED) {
            /* Taken by the child-stopping hook meanwhile. */
            p->queued = 0;
            continue;
        }
        if (!settled(p, now)) {
            /* The MPM still has the connection: later. */
            p->due_next = NULL;
            if (waiting_tail) waiting_tail->due_next = p;
            else waiting = p;
            waiting_tail = p;
            continue;
        }
        p->queued = 0;
        p->state = P_HANDED;
        p->handed = p->woke;
        p->woke = 0;
        if (ap_mpm_register_timed_callback(HAND_OVER_AT, park_callback, p) != APR_SUCCESS) {
            /* Never seen: the probe said yes. Try again next round. */
            p->state = P_PARKED;
            p->woke = p->handed;
            enqueue(k, p);
            break;
        }
        budget--;
    }
    if (waiting) {
        waiting_tail->due_next = k->due_head;
        k->due_head = waiting;
        if (!k->due_tail) k->due_tail = waiting_tail;
    }
}

/* Under the mutex (or alone): free the finished records, but not one the
 * due queue still links (the child-stopping hook finishes records without
 * taking them off it): hand_over() unlinks it first, a later pass frees
 * it. */
static void free_dead(park_t *k, int all)
{
    parked_t **pp = &k->dead;
    while (*pp) {
        parked_t *p = *pp;
        if (p->queued && !all) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        free(p);
    }
}

static void *APR_THREAD_FUNC parker_main(apr_thread_t *thread, void *data)
{
    park_t *k = data;
    struct epoll_event ev[64];
    (void)thread;

    while (!k->quit) {
        int n, i, timeout_ms;
        apr_time_t now;

        apr_thread_mutex_lock(k->mutex);
        free_dead(k, 0);
        now = apr_time_now();
        if (k->due_head) timeout_ms = WAKE_GAP_MS;
        else if (!k->all) timeout_ms = 1000;
        else {
            apr_interval_time_t d = k->next_time - now;
            timeout_ms = d <= 0 ? 0 : d > apr_time_from_sec(1) ? 1000
                         : (int)apr_time_as_msec(d) + 1;
        }
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
            if (p->state == P_DEAD) continue;
            p->woke |= GF_WOKE_GONE;
            enqueue(k, p);
        }
        now = apr_time_now();
        if (k->all && (now >= k->next_time || k->stopping)) scan(k, now);
        hand_over(k);
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
    free_dead(k, 1);
    close(k->epfd);
    close(k->evfd);
    watch()->park = NULL;
    return APR_SUCCESS;
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
    k->park_max = (int)gf_conf_park_max(sc);
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    k->blocking_cap = (int)gf_conf_blocking_waiters(sc, threads);
    /* The hash grows from worker threads (under k->mutex): from a
     * pool and an allocator of their own, never pchild's, which other
     * threads of the child may use meanwhile (APR pools are not
     * thread-safe). */
    {
        apr_allocator_t *a = NULL;
        apr_pool_t *hp = NULL;
        if (apr_allocator_create(&a) == APR_SUCCESS
            && apr_pool_create_ex(&hp, pchild, NULL, a) == APR_SUCCESS) {
            apr_allocator_owner_set(a, hp);
        }
        else {
            if (a) apr_allocator_destroy(a);
            hp = NULL;
        }
        k->by_id = apr_hash_make(hp ? hp : pchild);
    }
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
    p->suspended_at = apr_time_now();
    if (p->queued) poke(k);
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
    parked_t *p, *mine = NULL;
    apr_time_t now;
    (void)pchild;
    (void)graceful;
    if (!k) return;
    apr_thread_mutex_lock(k->mutex);
    k->stopping = 1;
    k->next_time = 0;
    now = apr_time_now();
    for (p = k->all; p; p = p->next) {
        if (p->state != P_PARKED) continue;
        p->woke |= GF_WOKE_STOP;
        if (!settled(p, now)) continue;
        p->state = P_HANDED;
        p->handed = p->woke;
        p->woke = 0;
        p->stop_next = mine;      /* the due queue skips it: not parked */
        mine = p;
    }
    poke(k);
    apr_thread_mutex_unlock(k->mutex);
    while (mine) {
        p = mine;
        mine = p->stop_next;
        park_callback(p);
    }
}

void gf_watch_announce(const char *id)
{
    park_t *k = watch()->park;
    parked_t *p;
    int any = 0;

    if (!k) return;
    apr_thread_mutex_lock(k->mutex);
    if (id) {
        id_bucket_t *b = apr_hash_get(k->by_id, id, APR_HASH_KEY_STRING);
        for (p = b ? b->first : NULL; p; p = p->id_next) {
            p->woke |= GF_WOKE_CHANGE;
            enqueue(k, p);
            any = 1;
        }
    }
    else {
        for (p = k->all; p; p = p->next) {
            p->woke |= GF_WOKE_CHANGE;
            enqueue(k, p);
            any = 1;
        }
    }
    if (any) poke(k);
    apr_thread_mutex_unlock(k->mutex);
}

/* ---- parking and blocking ---------------------------------------------- */

static int park_request(park_t *k, request_rec *r, const gf_watch_t *w, apr_uint64_t seq)
{
    conn_rec *c = r->connection;
    apr_socket_t *csd = ap_get_conn_socket(c);
    apr_os_sock_t fd;
    parked_t *p;
    id_bucket_t *b;
    struct epoll_event ev;
    apr_time_t now = apr_time_now();

    if (!csd || apr_os_sock_get(&fd, csd) != APR_SUCCESS) return DECLINED;
    if (!(p = calloc(1, sizeof(*p)))) return DECLINED;
    p->r = r;
    p->w = *w;
    p->fd = fd;
    apr_cpystrn(p->id, w->id, sizeof(p->id));
    p->w.id = p->id;
    /* The first heartbeat and re-read fall anywhere in the second half of
     * their period: a crowd that arrived together would otherwise beat
     * together, a burst of callbacks every period. */
    p->next_beat = now + spread(w->beat);
    p->next_look = now + (w->look && *w->look > 0 ? *w->look : spread(backstop()));
    /* No keep-alive after a parked answer: the connection cannot go back
     * to the MPM. */
    c->keepalive = AP_CONN_CLOSE;

    apr_thread_mutex_lock(k->mutex);
    if (k->parked >= k->park_max || k->stopping) {
        apr_thread_mutex_unlock(k->mutex);
        free(p);
        return DECLINED;
    }
    b = apr_hash_get(k->by_id, p->id, APR_HASH_KEY_STRING);
    if (!b) {
        if (!(b = calloc(1, sizeof(*b)))) {
            apr_thread_mutex_unlock(k->mutex);
            free(p);
            return DECLINED;
        }
        apr_cpystrn(b->id, p->id, sizeof(b->id));
        apr_hash_set(k->by_id, b->id, APR_HASH_KEY_STRING, b);
    }
    p->id_next = b->first;
    b->first = p;
    p->next = k->all;
    if (k->all) k->all->prev = p;
    k->all = p;
    k->parked++;
    if (first_time(p) < k->next_time || !k->next_time) k->next_time = first_time(p);
    ap_set_module_config(c->conn_config, &genflow_module, p);
    apr_thread_mutex_unlock(k->mutex);

    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLRDHUP | EPOLLONESHOT;
    ev.data.ptr = p;
    epoll_ctl(k->epfd, EPOLL_CTL_ADD, fd, &ev);
    /* A change heard between the first look and now. */
    if (gf_engine_changed_since(p->id, seq)) gf_watch_announce(p->id);
    else poke(k);
    return SUSPENDED;
}

static int blocking_enter(park_t *k)
{
    int ok;
    if (!k) return 0;
    apr_thread_mutex_lock(k->mutex);
    ok = k->blocking < k->blocking_cap && !k->stopping;
    if (ok) k->blocking++;
    apr_thread_mutex_unlock(k->mutex);
    return ok;
}

static void blocking_leave(park_t *k)
{
    apr_thread_mutex_lock(k->mutex);
    k->blocking--;
    apr_thread_mutex_unlock(k->mutex);
}

/* The request's own thread waits, as one of at most blocking_cap. */
static int run_blocking(park_t *k, request_rec *r, const gf_watch_t *w, apr_uint64_t seq)
{
    apr_time_t now = apr_time_now(), next_beat = now + w->beat;
    int rc;

    if (!blocking_enter(k)) return w->step(r, w->ctx, GF_WOKE_FULL);
    for (;;) {
        apr_time_t until = w->deadline;
        int woke = GF_WOKE_CHANGE;
        if (w->beat && next_beat < until) until = next_beat;
        if (w->look && *w->look > 0 && now + *w->look < until) until = now + *w->look;
        if (until > now) gf_engine_wait_change(r->pool, w->id, seq, until - now);
        now = apr_time_now();
        if (now >= w->deadline) woke |= GF_WOKE_DEADLINE;
        if (w->beat && now >= next_beat) {
            woke |= GF_WOKE_BEAT;
            next_beat = now + w->beat;
        }
        if (gf_engine_stopping() || (k->stopping)) woke |= GF_WOKE_STOP;
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
    *parked = k->parked;
    *blocking = k->blocking;
    apr_thread_mutex_unlock(k->mutex);
}
