/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_batch.c: the completions of a child written several to
 * a statement.
 *
 * A completion was a statement and a commit of its own: the row, its
 * charge row, its account, the type's counts. Those of the attempts
 * that complete at about the same time in one child (a claim of new work
 * launches up to sixteen together) now share one (GF_SQL_COMPLETE_BATCH), as a
 * group commit does: the first to arrive leads; it lets the fibers ready
 * in the same turn of the loop join, then writes every completion that
 * waits (at most GF_SETTLE_BATCH_MAX) and wakes each with its own row.
 * Those that arrive while its statement runs wait, and the first of them
 * leads the next. An attempt alone is written by COMPLETE as before,
 * after one turn of the loop: no timer waits for more, a batch forms only
 * from completions that are there already or arrive in those turns.
 *
 * Each row keeps its own guard (its lease owner and attempt), so a row
 * taken over or cancelled is left out while the others complete, and it
 * is stale as it would have been alone. The statement is one
 * transaction: a child killed before its commit writes none of them, and
 * their leases run out and are rescued as for an attempt killed before
 * its outcome. A statement that fails (an error in one row rolls back
 * all) hands every completion back to be written alone, with the retries
 * the outcome has while the database is away.
 *
 * Everything here runs on the loop's thread (fibers are never
 * pre-empted), but the statement, on a worker (gf_loop_blocking).
 */
#include <string.h>
#include <apr_strings.h>

#include "httpd/engine/mod_genflow_engine_int.h"
#include "core/gf_settle_batch.h"
#include "core/gf_sql.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/io/mod_genflow_db.h"
#include "net/gf_loop.h"

/* The turns of the loop a leader waits for more to join, at most. */
#define LEAD_TURNS 4

enum { WAITING = 0, WRITTEN, ALONE };

typedef struct gf_batch_member_t {
    struct gf_batch_member_t *next;
    apr_pool_t *p;               /* the attempt's: its answer is copied there */
    const char *const *args;     /* its COMPLETE's */
    const char *id;
    gf_loop_wait_t *wait;        /* its fiber, while it waits */
    int state;
    const char *status;          /* WRITTEN: its status object, NULL: left out */
    int rerun;                   /* the statement ran twice (a lost connection) */
} member_t;

typedef gf_batch_queue_t queue_t;

/* The queue of type t on s's database; NULL when the child has as many
 * as it keeps (then each completion is written alone). */
static queue_t *queue_of(gf_engine_t *W, server_rec *s, const gf_type_t *t)
{
    queue_t *q;
    int i;
    for (i = 0; i < W->batch_used; i++) {
        if (W->batch[i].s == s && W->batch[i].type == t) return &W->batch[i];
    }
    if (W->batch_used == GF_BATCH_QUEUES) return NULL;
    q = &W->batch[W->batch_used++];
    q->s = s;
    q->type = t;
    q->tail = &q->head;
    return q;
}

/* The statement, on a worker: COMPLETE for one, COMPLETE_BATCH_SQL for more. */
typedef struct {
    server_rec *s;
    apr_pool_t *p;
    const char *label;
    int nargs;
    const char *const *args;
    gf_db_rows_t *rows;
    gf_db_status_t st;
} write_t;

static void write_now(void *baton)
{
    write_t *x = baton;
    x->st = gf_db_select_once(x->s, x->p, x->label, &x->rows, x->nargs, x->args);
}

/* The leader's statement for the members at the head of q (the leader
 * first), and each one's answer. */
static void lead(queue_t *q, apr_pool_t *p, member_t *self)
{
    const char *const *sets[GF_SETTLE_BATCH_MAX];
    member_t *batch = q->head, **cut = &q->head, *m, *next;
    const char *json = NULL;
    write_t x;
    int n = 0;

    /* The first GF_SETTLE_BATCH_MAX are taken; the rest wait for the
     * next statement. */
    for (; *cut && n < GF_SETTLE_BATCH_MAX; cut = &(*cut)->next) sets[n++] = (*cut)->args;
    q->head = *cut;
    *cut = NULL;
    if (!q->head) q->tail = &q->head;
    q->waiting -= n;

    memset(&x, 0, sizeof(x));
    x.s = q->s;
    x.p = p;
    if (n > 1 && (json = gf_settle_batch_json(p, sets, n)) != NULL) {
        x.label = q->type->labels[GF_SQL_COMPLETE_BATCH];
        x.nargs = 1;
        x.args = &json;
    }
    else {
        /* One, or a batch the core would not write: the leader alone. */
        x.label = q->type->labels[GF_SQL_COMPLETE];
        x.nargs = GF_SETTLE_COMPLETE_ARGS;
        x.args = self->args;
    }
    gf_loop_blocking(write_now, &x);
    if (x.st != GF_DB_OK && json) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, q->s, GF_LOGNO(1423)
                     "type=%s: a statement of %d completions failed; each is written alone",
                     q->type->name, n);
    }
    for (m = batch; m; m = next) {
        next = m->next;
        if (x.st != GF_DB_OK || (!json && m != self)) {
            m->state = ALONE;
        }
        else {
            const char *st = json ? gf_settle_batch_status((const char *const *const *)x.rows->rows,
                                                           x.rows->nrows, m->id)
                                  : (x.rows->nrows ? x.rows->rows[0][0] : NULL);
            m->state = WRITTEN;
            m->status = st ? apr_pstrdup(m->p, st) : NULL;
            m->rerun = x.rows->rerun;
        }
        if (m != self) gf_loop_wake(m->wait);
    }
    /* The next statement is the first waiting one's to write: woken
     * still WAITING, it leads. */
    if (q->head) gf_loop_wake(q->head->wait);
    else q->busy = 0;
}

static void park(gf_loop_wait_t *wait, void *baton)
{
    ((member_t *)baton)->wait = wait;
}

/* To the end of the loop's turn: the fibers ready now run first. */
static void pass(gf_loop_wait_t *wait, void *baton)
{
    (void)baton;
    gf_loop_wake(wait);
}

int gf_engine_batch_complete(server_rec *s, apr_pool_t *p, const gf_type_t *t,
                             const char *const *args, gf_db_rows_t **rows)
{
    gf_engine_t *W = gf_engine();
    gf_db_rows_t *r;
    member_t m;
    queue_t *q;

    if (!W || !gf_loop_in_fiber()) return 0;
    if ((q = queue_of(W, s, t)) == NULL) return 0;
    memset(&m, 0, sizeof(m));
    m.p = p;
    m.args = args;
    m.id = args[0];
    *q->tail = &m;
    q->tail = &m.next;
    q->waiting++;
    if (!q->busy) {
        int turns = 0, was;
        q->busy = 1;
        /* The attempts a claim launched together reach here over a few
         * turns of the loop (the worker hands them over one by one): the
         * leader waits while each turn brings more, a few turns at most. */
        do {
            was = q->waiting;
            gf_loop_await(pass, NULL);
        } while (q->waiting > was && ++turns < LEAD_TURNS);
    }
    else {
        gf_loop_await(park, &m);
    }
    while (m.state == WAITING) {
        /* Led: by the first to come, or handed on by the last leader. */
        lead(q, p, &m);
    }
    if (m.state == ALONE) return -1;
    r = apr_pcalloc(p, sizeof(*r));
    r->ncols = 1;
    r->rerun = m.rerun;
    if (m.status) {
        r->nrows = 1;
        r->rows = apr_pcalloc(p, sizeof(*r->rows));
        r->rows[0] = apr_pcalloc(p, sizeof(**r->rows));
        r->rows[0][0] = m.status;
    }
    *rows = r;
    return 1;
}
