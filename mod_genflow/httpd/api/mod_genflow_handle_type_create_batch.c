/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_handle_type_create_batch.c: the creates of a child written
 * several to a statement.
 *
 * A create was a statement and a commit of its own: the reservation on the
 * account, the row, its ledger row. Creates that arrive in one child for
 * one type while another create's statement runs now wait for it and then
 * share one (GF_SQL_CREATE_BATCH), as a group commit does: a create that
 * finds no statement running writes its own at once, as before; those
 * that arrive meanwhile queue; when the statement returns, the first of
 * the queue leads: it writes every create that waits (at most
 * GF_CREATE_BATCH_MAX) in one statement and wakes each with its own row.
 * Nothing ever waits for more to come: a batch forms only while a
 * statement runs anyway.
 *
 * Each create keeps its own reservation with its own guard, so one that
 * the account refuses is left out while the others are made, and is then
 * refused as it would have been alone. The statement is one transaction:
 * a child killed before its commit makes none of them, and each client
 * gets the failure it would have got alone. A statement that fails (an
 * error in one row rolls back all) lets each create write its own, as if
 * it had arrived alone. Only creates without an Idempotency-Key and
 * without an upload as their source join (gf_create_batch_joins).
 *
 * A create that waits holds no pooled connection: POST create takes none
 * before its statement, and one it holds (to read a preset or an
 * upload) goes back before the wait; the leader takes one. A pool
 * smaller than the crowd of creates is then no limit on the batch.
 * The queues are the child's, one for each (server, type), made at
 * child_init with their locks.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>

#include "httpd/api/mod_genflow_handle_int.h"
#include "httpd/api/mod_genflow_handlers.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/config/mod_genflow_process.h"
#include "httpd/io/mod_genflow_db.h"
#include "core/gf_create_batch.h"
#include "core/gf_sql.h"

/* The (server, type) pairs a child keeps a queue for; creates of more
 * are written alone. */
#define QUEUES 32

enum { MEMBER_WAITS = 0, MEMBER_LEADS, MEMBER_WRITTEN, MEMBER_ALONE };

typedef struct member_t {
    struct member_t *next;
    request_rec *r;              /* its request: the answer is copied to its pool */
    const char *const *args;     /* its CREATE's */
    int state;
    struct member_t *batch;      /* MEMBER_LEADS: the creates it writes, itself first */
    const char *const *row;      /* MEMBER_WRITTEN: its row; NULL: left out */
    int rerun;                   /* the statement ran twice (a lost connection) */
} member_t;

typedef struct {
    server_rec *s;
    const gf_type_t *type;
    apr_thread_cond_t *cond;     /* a member's state changed */
    int busy;                    /* a create's statement runs */
    member_t *head, **tail;
} queue_t;

struct gf_creates_state {
    apr_thread_mutex_t *lock;    /* this child's; NULL in the parent */
    int used;
    queue_t q[QUEUES];
};
const apr_size_t gf_creates_state_size = sizeof(struct gf_creates_state);

static struct gf_creates_state *creates(void)
{
    return GF_PROCESS_STATE(creates);
}

void gf_create_batch_child_init(apr_pool_t *pchild)
{
    struct gf_creates_state *c = creates();
    int i;

    memset(c, 0, sizeof(*c));
    if (apr_thread_mutex_create(&c->lock, APR_THREAD_MUTEX_DEFAULT, pchild) != APR_SUCCESS) {
        c->lock = NULL;
        return;
    }
    for (i = 0; i < QUEUES; i++) {
        if (apr_thread_cond_create(&c->q[i].cond, pchild) != APR_SUCCESS) break;
        c->q[i].tail = &c->q[i].head;
    }
}

/* The queue of (s, t), under the lock; NULL when the child keeps as many
 * as it can. */
static queue_t *queue_of(struct gf_creates_state *c, server_rec *s, const gf_type_t *t)
{
    int i;
    for (i = 0; i < c->used; i++) {
        if (c->q[i].s == s && c->q[i].type == t) return &c->q[i];
    }
    if (c->used == QUEUES || !c->q[c->used].cond) return NULL;
    c->q[c->used].s = s;
    c->q[c->used].type = t;
    return &c->q[c->used++];
}

/* The statement has returned: the first create that waits leads the next
 * with all that wait, or the queue is idle. Under the lock. */
static void hand_on(queue_t *q)
{
    member_t *m = q->head, *last = NULL;
    int n = 0;

    if (!m) {
        q->busy = 0;
        return;
    }
    while (q->head && n < GF_CREATE_BATCH_MAX) {
        last = q->head;
        q->head = q->head->next;
        n++;
    }
    last->next = NULL;
    if (!q->head) q->tail = &q->head;
    m->batch = m;
    m->state = MEMBER_LEADS;
    apr_thread_cond_broadcast(q->cond);
}

/* CREATE alone, on r's connection (taken again if it was given back). */
static gf_db_status_t alone(request_rec *r, ap_dbd_t **dbd, const gf_dir_conf_t *dc,
                            const char *const *a, gf_db_rows_t **rows)
{
    if (!*dbd && !(*dbd = gf_db_acquire(r))) return GF_DB_UNAVAILABLE;
    return gf_db_pselectv(r->server, r->pool, *dbd, gf_type_label(dc, GF_SQL_CREATE), rows,
                          GF_CREATE_ARGS, a);
}

/* A member's answer, in its own pool: its row or none. */
static void answer(member_t *m, const char *const *row, int rerun, int ncols)
{
    m->rerun = rerun;
    m->row = NULL;
    if (row) {
        const char **copy = apr_palloc(m->r->pool, ncols * sizeof(*copy));
        int j;
        for (j = 0; j < ncols; j++) copy[j] = row[j] ? apr_pstrdup(m->r->pool, row[j]) : NULL;
        m->row = copy;
    }
}

/* The leader writes its batch (itself first): one statement, each
 * member's row copied to it. 0 when the statement did not run or
 * failed: then each member writes its own. */
static int write_batch(request_rec *r, ap_dbd_t **dbd, const gf_dir_conf_t *dc, member_t *lead,
                       int n)
{
    const char **list = apr_palloc(r->pool, n * sizeof(*list));
    const char *const **args = apr_palloc(r->pool, n * sizeof(*args));
    gf_db_rows_t *rows;
    gf_db_status_t st;
    member_t *m;
    int i = 0;

    for (m = lead; m; m = m->next) args[i++] = m->args;
    list[0] = gf_create_batch_json(r->pool, args, n);
    if (!list[0] || (!*dbd && !(*dbd = gf_db_acquire(r)))) return 0;
    st = gf_db_pselectv(r->server, r->pool, *dbd, gf_type_label(dc, GF_SQL_CREATE_BATCH), &rows,
                        1, list);
    if (st != GF_DB_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, GF_LOGNO(1307)
                      "a statement of %d creates of %s failed; each is written alone", n,
                      dc->type->name);
        return 0;
    }
    for (m = lead; m; m = m->next) {
        answer(m, gf_create_batch_row((const char *const *const *)rows->rows, rows->nrows, m->args[GF_CREATE_ID]),
               rows->rerun, GF_CREATED_COLS);
    }
    return 1;
}

/* The result of CREATE for member m, as its own statement would give it. */
static gf_db_status_t result_of(request_rec *r, const member_t *m, gf_db_rows_t **rows)
{
    gf_db_rows_t *out = apr_pcalloc(r->pool, sizeof(*out));
    out->ncols = GF_CREATED_COLS;
    out->rerun = m->rerun;
    if (m->row) {
        out->nrows = 1;
        out->rows = apr_palloc(r->pool, sizeof(*out->rows));
        out->rows[0] = (const char **)m->row;
    }
    *rows = out;
    return GF_DB_OK;
}

/* What a member that waited returns: its row, or none with its connection
 * taken again for what the caller asks next (why the account refused). */
static gf_db_status_t done(request_rec *r, ap_dbd_t **dbd, const member_t *m, gf_db_rows_t **rows)
{
    result_of(r, m, rows);
    if (!m->row && !*dbd && !(*dbd = gf_db_acquire(r))) return GF_DB_UNAVAILABLE;
    return GF_DB_OK;
}

/* The leader's turn: its batch written (or each of it alone when the
 * statement fails), its members woken, the queue handed on. */
static gf_db_status_t lead(request_rec *r, ap_dbd_t **dbd, const gf_dir_conf_t *dc,
                           struct gf_creates_state *c, queue_t *q, member_t *me,
                           gf_db_rows_t **rows)
{
    member_t *m, *next;
    gf_db_status_t st = GF_DB_OK;
    int n = 0, written;

    for (m = me->batch; m; m = m->next) n++;
    /* Alone in its batch: its own statement, while later ones queue. */
    if (n == 1) st = alone(r, dbd, dc, me->args, rows);
    written = n > 1 && write_batch(r, dbd, dc, me->batch, n);
    apr_thread_mutex_lock(c->lock);
    for (m = me->batch->next; m; m = next) {
        next = m->next;        /* m is gone once it wakes */
        m->state = written ? MEMBER_WRITTEN : MEMBER_ALONE;
    }
    hand_on(q);
    apr_thread_cond_broadcast(q->cond);
    apr_thread_mutex_unlock(c->lock);
    if (n == 1) return st;
    return written ? done(r, dbd, me, rows) : alone(r, dbd, dc, me->args, rows);
}

gf_db_status_t gf_type_create_batched(request_rec *r, ap_dbd_t **dbd, const gf_dir_conf_t *dc,
                                      const char *const *a, gf_db_rows_t **rows)
{
    struct gf_creates_state *c = creates();
    member_t me;
    gf_db_status_t st;
    queue_t *q;

    if (!c->lock || !gf_create_batch_joins(a)) return alone(r, dbd, dc, a, rows);
    apr_thread_mutex_lock(c->lock);
    if (!(q = queue_of(c, r->server, dc->type))) {
        apr_thread_mutex_unlock(c->lock);
        return alone(r, dbd, dc, a, rows);
    }
    if (!q->busy) {
        /* No statement runs: this one, at once. */
        q->busy = 1;
        apr_thread_mutex_unlock(c->lock);
        st = alone(r, dbd, dc, a, rows);
        apr_thread_mutex_lock(c->lock);
        hand_on(q);
        apr_thread_mutex_unlock(c->lock);
        return st;
    }
    memset(&me, 0, sizeof(me));
    me.r = r;
    me.args = a;
    *q->tail = &me;
    q->tail = &me.next;
    apr_thread_mutex_unlock(c->lock);
    /* No connection while it waits; the leader takes one. */
    gf_db_release(r);
    *dbd = NULL;
    apr_thread_mutex_lock(c->lock);
    while (me.state == MEMBER_WAITS) apr_thread_cond_wait(q->cond, c->lock);
    apr_thread_mutex_unlock(c->lock);
    if (me.state == MEMBER_WRITTEN) return done(r, dbd, &me, rows);
    if (me.state == MEMBER_ALONE) return alone(r, dbd, dc, a, rows);
    return lead(r, dbd, dc, c, q, &me, rows);
}
