/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_listener.c: the listener thread of every child.
 *
 * It holds one connection of its own (not from mod_dbd's pool) to each
 * database the child's servers use (GenFlowListenParams, or else DBDParams: it must reach
 * PostgreSQL itself, not a pooler) and LISTENs to the notifications the type tables'
 * trigger sends (sql/007): genflow_work (work became due now: wake a
 * worker, so a job queued on any child or server is picked up at once) and
 * genflow_change (a generation's visible state changed: wake the requests
 * waiting on that id — Prefer: wait and the events stream); and, from the
 * module's own statements, genflow_progress (a provider's report),
 * genflow_cancel (a user's cancel: a call under way here is cut) and
 * genflow_preview (a picture being drawn, for the event streams). While a
 * database's connection is down, waiters and workers fall back to short
 * polls.
 *
 * It also beats the heart of every running attempt of the child: a
 * renewed lease follows an attempt however long its provider takes, and an
 * attempt whose row was taken over or ended (cancelled) learns it is lost
 * and writes nothing.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <libpq-fe.h>

#include "httpd/engine/mod_genflow_engine_int.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/limits/mod_genflow_limits.h"
#include "core/gf_previews.h"
#include "core/gf_round.h"

#define LISTEN_TICK_MS   250          /* the listener checks for stop this often */
#define RECONNECT_WAIT   apr_time_from_sec(1)


/* The child heard that id changed (NULL: any may have): its waiters
 * wake and the status cache forgets it (mod_genflow_engine_changes.c), a
 * kept poll of it is due now (a webhook's wake, a cancel:
 * mod_genflow_engine_keep.c), and the concern above the engine hears it
 * (on_change: the parked waits). */
void gf_engine_heard(const char *id)
{
    gf_engine_t *W = gf_engine();
    if (!W) return;
    gf_engine_announce_change(id);
    gf_engine_keep_changed(id);
    if (W->on_change) W->on_change(id);
}

/* A picture of generation id being drawn (genflow_preview,
 * mod_genflow_engine_preview.c): on the watchers' board, and its waiters
 * woken, parked and blocking, as for a change (a status answer cached is
 * dropped: one more read a second at most). */
static void heard_preview(gf_engine_t *W, const char *payload)
{
    char id[GF_PREVIEW_ID_MAX], url[GF_PREVIEW_URL_MAX];
    apr_time_t stamp;
    if (!W->on_preview || !gf_previews_parse(payload, id, &stamp, url)) return;
    if (!W->on_preview(id, stamp, url)) return;
    gf_engine_announce_change(id);
    if (W->on_change) W->on_change(id);
}

/* Its provider reported how far generation id has come (genflow_progress,
 * mod_genflow_engine_progress.c): its watchers read it again, and nothing
 * else hears of it (a kept poll of it is not made due, nor is a wait for
 * its end woken). */
static void heard_progress(const char *id)
{
    gf_engine_t *W = gf_engine();
    if (!W) return;
    gf_engine_announce_progress(id);
    if (W->on_change) W->on_change(id);
}

/* The place's lease of attempt a, if it still runs (the record live, the
 * same attempt). */
static void renewed_place(gf_engine_t *W, const gf_attempt_t *live, const gf_attempt_t *a,
                          apr_time_t until)
{
    gf_attempt_t *x;
    apr_thread_mutex_lock(W->mutex);
    for (x = W->attempts; x; x = x->next) {
        if (x == live && !strcmp(x->id, a->id) && x->attempt == a->attempt) {
            x->place_until = until;
            break;
        }
    }
    apr_thread_mutex_unlock(W->mutex);
}

/* Renew the lease of every running attempt of this child, each with its
 * server's lease and on its server's database: one pooled connection per
 * run of attempts of the same server (usually one for the whole beat),
 * given back before the next server's is taken, so the beat never holds
 * two of a small pool. */
static void beat(gf_engine_t *W, apr_pool_t *p)
{
    ap_dbd_t *dbd = NULL;
    server_rec *dbd_s = NULL;
    /* A copy of the running attempts (the list changes while the
     * statements run), each with the record it came from. */
    struct { gf_attempt_t copy; const gf_attempt_t *live; } *seen;
    gf_attempt_t *a;
    int i, n = 0;

    apr_thread_mutex_lock(W->mutex);
    for (a = W->attempts; a; a = a->next) n++;
    seen = apr_palloc(p, sizeof(*seen) * (apr_size_t)(n ? n : 1));
    for (i = 0, a = W->attempts; a && i < n; a = a->next, i++) {
        seen[i].copy = *a;
        seen[i].live = a;
    }
    apr_thread_mutex_unlock(W->mutex);
    for (i = 0; i < n; i++) {
        gf_db_rows_t *rows;
        gf_db_status_t st;
        a = &seen[i].copy;
        if (!a->s) continue;
        if (dbd && dbd_s != a->s) {
            gf_db_close(dbd_s, dbd);
            dbd = NULL;
        }
        /* No connection: the lease may lapse, the statements' guards hold. */
        if (!dbd && !(dbd = gf_db_open(p, a->s))) continue;
        dbd_s = a->s;
        {
            int lease = gf_conf_lease_secs(gf_server_conf(a->s));
            apr_time_t t0 = apr_time_now();
            st = gf_db_pselect(a->s, p, dbd, a->type->labels[GF_SQL_RENEW], &rows, 6,
                               apr_itoa(p, lease), a->id, a->owner, apr_itoa(p, a->attempt),
                               a->place_id[0] ? a->place_id : NULL,
                               apr_itoa(p, a->place_attempt));
            if (st == GF_DB_OK && rows->nrows == 1 && a->place_id[0]) {
                /* The place's lease runs a lease from the statement's
                 * start (less a margin for clocks), or it is no longer
                 * its holder's. */
                renewed_place(W, seen[i].live, a,
                              rows->rows[0][0] && atoi(rows->rows[0][0]) > 0
                              ? t0 + apr_time_from_sec(lease) - apr_time_from_sec(2) : 0);
            }
        }
        if (st != GF_DB_OK || rows->nrows != 0) continue;
        apr_thread_mutex_lock(W->mutex);
        {
            /* Still running (in the list, the same attempt)? Mark it. */
            gf_attempt_t *live;
            for (live = W->attempts; live; live = live->next) {
                if (live == seen[i].live && !strcmp(live->id, a->id)
                    && live->attempt == a->attempt) {
                    live->lost = 1;
                    break;
                }
            }
        }
        apr_thread_mutex_unlock(W->mutex);
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, a->s, GF_LOGNO(1605)
                     "type=%s id=%s attempt=%d trace=%s: the lease is no longer this "
                     "attempt's (taken over, or the generation ended); its result will be "
                     "dropped", a->type->name, a->id, a->attempt, a->trace_id);
    }
    if (dbd) gf_db_close(dbd_s, dbd);
}

/* The parameters of mod_dbd's connections (DBDParams), read off one of
 * them, with this connection's own application_name. */
static int pool_params(apr_pool_t *p, const gf_database_t *e, const char ***keys,
                       const char ***vals)
{
    PQconninfoOption *opts = gf_db_conninfo(p, e->s), *o;
    int n = 0;

    if (!opts) return 0;
    for (o = opts; o->keyword; o++) n++;
    *keys = apr_pcalloc(p, sizeof(char *) * (apr_size_t)(n + 2));
    *vals = apr_pcalloc(p, sizeof(char *) * (apr_size_t)(n + 2));
    n = 0;
    for (o = opts; o->keyword; o++) {
        if (o->val && *o->val && strcmp(o->keyword, "application_name")) {
            (*keys)[n] = apr_pstrdup(p, o->keyword);
            (*vals)[n] = apr_pstrdup(p, o->val);
            n++;
        }
    }
    (*keys)[n] = "application_name";
    (*vals)[n] = "mod_genflow listener";
    PQconninfoFree(opts);
    return 1;
}

/* Is conn a session of PostgreSQL itself? 1 yes, 0 no, -1 no answer. A
 * pooler such as PgBouncer answers the startup with a process id of its
 * own making, which then differs from the server's pg_backend_pid().
 * Through a pooler in transaction mode a LISTEN stays on a server
 * connection the listener no longer has, the notifications never come,
 * and the child would trust its status cache and long backstop polls
 * while deaf: such a connection is not used (GenFlowListenParams gives a
 * direct one). */
static int direct_session(PGconn *conn)
{
    PGresult *res = PQexec(conn, "SELECT pg_backend_pid()");
    int direct = -1;             /* the question itself failed */

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        direct = atoi(PQgetvalue(res, 0, 0)) == PQbackendPID(conn);
    }
    PQclear(res);
    return direct;
}

/* A connection of database e's own: GenFlowListenParams of
 * the database's first server when given (PgBouncer in front of the pool),
 * else the pool's parameters. *warned: the "not direct" warning was
 * logged for this engine already. */
static PGconn *listener_connect(apr_pool_t *p, const gf_database_t *e, int *warned)
{
    const char *own = gf_server_conf(e->s)->listen_params;
    const char **keys, **vals;
    PGconn *conn = NULL;
    int direct;

    if (own) {
        /* dbname holding a whole connection string is expanded (the
         * expand_dbname argument); application_name, later, wins. */
        keys = apr_pcalloc(p, sizeof(char *) * 3);
        vals = apr_pcalloc(p, sizeof(char *) * 3);
        keys[0] = "dbname";
        vals[0] = own;
        keys[1] = "application_name";
        vals[1] = "mod_genflow listener";
    }
    else if (!pool_params(p, e, &keys, &vals)) {
        return NULL;
    }
    conn = PQconnectdbParams(keys, vals, own != NULL);
    if (PQstatus(conn) != CONNECTION_OK) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, e->s, GF_LOGNO(1603)
                     "genflow listener cannot connect: %s", PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    direct = direct_session(conn);
    if (direct < 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, e->s, GF_LOGNO(4602)
                     "genflow listener cannot ask its session's process id: %s",
                     PQerrorMessage(conn));
        PQfinish(conn);
        return NULL;
    }
    if (!direct) {
        if (!*warned) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, e->s, GF_LOGNO(4601)
                         "genflow listener: the connection %s does not reach PostgreSQL "
                         "directly (a pooler such as PgBouncer?), where LISTEN cannot be "
                         "trusted; polling instead. Set GenFlowListenParams to a direct "
                         "connection", own ? "of GenFlowListenParams" : "of DBDParams");
            *warned = 1;
        }
        PQfinish(conn);
        return NULL;
    }
    {
        PGresult *res = PQexec(conn, "LISTEN genflow_work; LISTEN genflow_change; "
                                     "LISTEN genflow_cancel; LISTEN genflow_progress; "
                                     "LISTEN genflow_preview");
        int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        PQclear(res);
        if (!ok) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, e->s, GF_LOGNO(1604)
                         "genflow listener: LISTEN failed: %s", PQerrorMessage(conn));
            PQfinish(conn);
            return NULL;
        }
    }
    return conn;
}

static void lost(gf_engine_t *W, PGconn **conn, const gf_database_t *e)
{
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, e->s, GF_LOGNO(1606)
                 "genflow listener lost its connection: %s; polling until it is back",
                 PQerrorMessage(*conn));
    PQfinish(*conn);
    *conn = NULL;
    W->listening--;
    gf_engine_heard(NULL);
}

/* Connect to every database not listened to yet. A connection found not
 * to be direct stays so until the configuration changes: no new attempt
 * every second. */
static void connect_missing(gf_engine_t *W, apr_pool_t *pool, PGconn **conns, int *warned)
{
    int i;
    for (i = 0; i < W->databases->nelts; i++) {
        if (conns[i] || warned[i]) continue;
        conns[i] = listener_connect(pool, APR_ARRAY_IDX(W->databases, i, gf_database_t *),
                                    &warned[i]);
        if (conns[i]) {
            W->listening++;
            /* Anything that happened while deaf: look now. */
            gf_engine_wake_all(1);
            gf_engine_heard(NULL);
        }
    }
}

/* Read what a database's connection has and act on its notifications. */
/* Can work announced by genflow_work start now on database e? Its payload
 * is "type\nprovider" (sql/022; an older database sends the type only):
 * not when that provider is known to have no place now (full, paused,
 * waiting for its rate: the place's end, the pause's end or the rate's
 * next start wakes the workers then). A type alone can start when any
 * provider its chains name is not known to be without a place; work of a
 * type or provider this node does not know wakes a worker. */
static int may_start(const gf_database_t *e, const char *payload)
{
    apr_hash_t *providers = gf_server_conf(e->s)->providers;
    apr_size_t tlen;
    const char *named = gf_round_work_payload(payload, &tlen);
    apr_hash_index_t *hi;
    apr_pool_t *p;
    int i, open = 0;
    if (named) {
        const gf_provider_t *prov = apr_hash_get(providers, named, APR_HASH_KEY_STRING);
        return !prov || gf_limits_may_wake(prov);
    }
    for (i = 0; i < e->types->nelts; i++) {
        const gf_type_t *t = APR_ARRAY_IDX(e->types, i, gf_type_t *);
        if (strlen(t->name) != tlen || strncmp(t->name, payload, tlen)) continue;
        if (!t->providers || apr_pool_create(&p, NULL) != APR_SUCCESS) return 1;
        for (hi = apr_hash_first(p, t->providers); hi && !open; hi = apr_hash_next(hi)) {
            const gf_provider_t *prov = apr_hash_get(providers, apr_hash_this_key(hi),
                                                     APR_HASH_KEY_STRING);
            open = !prov || gf_limits_may_wake(prov);
        }
        apr_pool_destroy(p);
        return open;
    }
    return 1;
}

static void hear(gf_engine_t *W, PGconn **conn, const gf_database_t *e)
{
    PGnotify *note;
    int work = 0;
    if (!PQconsumeInput(*conn)) {
        lost(W, conn, e);
        return;
    }
    while ((note = PQnotifies(*conn)) != NULL) {
        /* However many arrived together: one wake (below), and none for
         * work whose providers all have no place now (a freed place, a
         * rate's next start or a pause's end wakes the workers then). */
        if (!strcmp(note->relname, "genflow_work")) {
            if (!work && may_start(e, note->extra)) work = 1;
        }
        else if (!strcmp(note->relname, "genflow_change")) {
            /* "*": rows were deleted (sql/012); any id may be gone. */
            gf_engine_heard(strcmp(note->extra, "*") ? note->extra : NULL);
        }
        else if (!strcmp(note->relname, "genflow_progress")) {
            heard_progress(note->extra);
        }
        else if (!strcmp(note->relname, "genflow_preview")) {
            heard_preview(W, note->extra);
        }
        else if (!strcmp(note->relname, "genflow_cancel")) {
            /* A user cancelled it (FAIL, core/gf_sql.c): a call of it
             * under way here is cut. */
            gf_engine_cut(note->extra);
        }
        PQfreemem(note);
    }
    if (work) gf_engine_wake_all(0);
}

/* The listener's descriptors, outliving the per-round clears of its pool:
 * one connection per database, and the poll set (one more for the
 * doorbell, mod_genflow_engine_doorbell.c). */
typedef struct {
    PGconn **conns;
    struct pollfd *pfd;
    int *slot, *warned;
} listen_set_t;

static void set_free(listen_set_t *ls)
{
    free(ls->conns);
    free(ls->pfd);
    free(ls->slot);
    free(ls->warned);
}

static int set_alloc(listen_set_t *ls, int ne)
{
    ls->conns = calloc((apr_size_t)ne, sizeof(*ls->conns));
    ls->pfd = calloc((apr_size_t)ne + 1, sizeof(*ls->pfd));
    ls->slot = calloc((apr_size_t)ne + 1, sizeof(*ls->slot));
    ls->warned = calloc((apr_size_t)ne, sizeof(*ls->warned));
    if (ls->conns && ls->pfd && ls->slot && ls->warned) return 1;
    set_free(ls);
    return 0;
}

/* Wait up to a tick for a notification on any connection or the doorbell,
 * and hear what came. */
static void listen_once(gf_engine_t *W, listen_set_t *ls)
{
    int ne = W->databases->nelts, nfd = 0, i, k;

    for (i = 0; i < ne; i++) {
        if (!ls->conns[i]) continue;
        ls->pfd[nfd].fd = PQsocket(ls->conns[i]);
        ls->pfd[nfd].events = POLLIN;
        ls->pfd[nfd].revents = 0;
        ls->slot[nfd++] = i;
    }
    if (gf_engine_doorbell_fd() >= 0) {
        ls->pfd[nfd].fd = gf_engine_doorbell_fd();
        ls->pfd[nfd].events = POLLIN;
        ls->pfd[nfd].revents = 0;
        ls->slot[nfd++] = -1;
    }
    if (nfd == 0) {
        apr_sleep(apr_time_from_msec(LISTEN_TICK_MS));
        return;
    }
    if (poll(ls->pfd, (nfds_t)nfd, LISTEN_TICK_MS) <= 0) return;
    for (k = 0; k < nfd; k++) {
        if (!ls->pfd[k].revents) continue;
        if (ls->slot[k] < 0) {
            gf_engine_doorbell_heard();
            continue;
        }
        hear(W, &ls->conns[ls->slot[k]],
             APR_ARRAY_IDX(W->databases, ls->slot[k], gf_database_t *));
    }
}

void *APR_THREAD_FUNC gf_engine_listener_main(apr_thread_t *thread, void *data)
{
    gf_engine_t *W = data;      /* the child's engine */
    int ne = W->databases->nelts, i;
    apr_allocator_t *allocator;
    apr_pool_t *pool;
    listen_set_t ls;
    apr_time_t next_beat = apr_time_now() + W->heartbeat, next_connect = 0;
    (void)thread;

    apr_allocator_create(&allocator);
    apr_allocator_max_free_set(allocator, 1);
    apr_pool_create_unmanaged_ex(&pool, NULL, allocator);
    apr_allocator_owner_set(allocator, pool);
    apr_pool_tag(pool, "genflow_listener");
    if (!set_alloc(&ls, ne)) {
        apr_pool_destroy(pool);
        return NULL;
    }
    while (!W->stopping) {
        if (W->listening < ne && apr_time_now() >= next_connect) {
            connect_missing(W, pool, ls.conns, ls.warned);
            apr_pool_clear(pool);
            next_connect = apr_time_now() + RECONNECT_WAIT;
        }
        listen_once(W, &ls);
        if (apr_time_now() >= next_beat && !W->stopping) {
            beat(W, pool);
            apr_pool_clear(pool);
            next_beat = apr_time_now() + W->heartbeat;
        }
    }
    for (i = 0; i < ne; i++) {
        if (ls.conns[i]) PQfinish(ls.conns[i]);
    }
    W->listening = 0;
    set_free(&ls);
    apr_pool_destroy(pool);
    /* Return, not apr_thread_exit(): pthread_exit unwinds the stack by
     * force, and APR 1.7's apr_thread_exit destroys the thread's subpool
     * of pchild from this thread. The workers' stop joins us; the subpool
     * goes with pchild. */
    return NULL;
}
