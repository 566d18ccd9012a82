/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_sweep.c: the set-based sweeps worker 0 of one child runs
 * every few seconds, per database: created, never started
 * generations expire after GenFlowCreatedTTL and are refunded, queued ones
 * that waited longer than GenFlowPendingTTL for a place fail with
 * QUEUE_TIMEOUT, started ones that no attempt took past their deadline
 * with TIMEOUT (or CANCEL_AFTER, when it was their own), ones whose own
 * Cancel-After passed before they started are cancelled (ABORTED), old failed and cancelled rows go after GenFlowRetention,
 * generations no worker takes in time expire (genflow_expire_orphans),
 * users' turns and Idempotency-Key records go after a day, and the counts
 * of finished generations are folded. Each statement
 * reads an index range of the rows it changes and skips locked rows, so
 * children and nodes never collide and a long queue costs nothing.
 */
#include <string.h>
#include <apr_strings.h>

#include "httpd/engine/mod_genflow_engine_int.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_sql.h"
#include "core/gf_sweep.h"

/* How long past its deadline a started generation that no attempt took
 * stays open before the sweep fails it (an attempt fails it first when
 * one is claimed). */
#define OVERDUE_GRACE "10"

/* A sweep statement changes a batch of rows at most (100; the prune 500):
 * it runs again while it fills its batch, up to this many times a sweep,
 * so that a queue of 100,000 expiring at once is done in a minute, each
 * statement short. */
#define SWEEP_BATCH      100
#define SWEEP_BATCH_TEXT "100"
#define SWEEP_REPEAT     20
/* The counts' fold takes this many deltas a statement (20 a sweep: two
 * million, a second or two of PostgreSQL's time). */
#define FOLD_BATCH       100000
/* The lines' fold takes this many shard rows a statement, up to 500 a
 * sweep (500,000): short statements, because a writer (a queue, a claim)
 * that adds to a shard row the fold is taking waits for the fold's
 * commit. At 100,000 a statement, a claim of a rate= provider waited
 * 190-220 ms every 10 s (bench/scale, the limits part: its call reached
 * the provider that late, right beside the next start's); at 5,000, a
 * statement took 258 ms on average while 100,000 drained beside it, at
 * 1,000, 58 ms. */
#define LINE_FOLD_BATCH  1000
#define LINE_FOLD_REPEAT 500

/* One sweep statement that returns how many rows it changed, run again
 * while it changed a whole batch (at least batch rows); the count when it
 * changed any, else NULL. arg2: a second argument, or NULL. */
static const char *swept_by(server_rec *s, apr_pool_t *p, ap_dbd_t *dbd, const char *label,
                            apr_int64_t batch, int repeat, const char *arg, const char *arg2)
{
    gf_db_rows_t *rows;
    apr_int64_t total = 0;
    int i;
    for (i = 0; i < repeat; i++) {
        if (gf_db_pselect(s, p, dbd, label, &rows, arg2 ? 2 : 1, arg, arg2) != GF_DB_OK
            || rows->nrows != 1 || !gf_sweep_again(rows->rows[0][0], batch, &total)) {
            break;
        }
    }
    return gf_sweep_total(p, total);
}

static const char *swept(server_rec *s, apr_pool_t *p, ap_dbd_t *dbd, const char *label,
                         const char *arg, const char *arg2)
{
    return swept_by(s, p, dbd, label, SWEEP_BATCH, SWEEP_REPEAT, arg, arg2);
}

void gf_engine_sweep_type(server_rec *s, apr_pool_t *p, const gf_type_t *t, const char *names)
{
    gf_server_conf_t *sc = gf_server_conf(s);
    long queued_ttl = gf_sweep_queued_ttl(gf_conf_pending_ttl(sc));
    const char *n;
    ap_dbd_t *dbd;

    if (!(dbd = gf_db_open(p, s))) {
        return;
    }
    if (gf_conf_created_ttl(sc) > 0
        && (n = swept(s, p, dbd, t->labels[GF_SQL_EXPIRE], apr_ltoa(p, gf_conf_created_ttl(sc)), NULL))) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, GF_LOGNO(1403)
                     "expired type=%s count=%s (created, never started within %lds; refunded)",
                     t->name, n, gf_conf_created_ttl(sc));
    }
    /* Queued longer than GenFlowPendingTTL without a claim: the line was
     * longer than the provider's limits could serve in that time. */
    if ((n = swept(s, p, dbd, t->labels[GF_SQL_EXPIRE_QUEUED], apr_ltoa(p, queued_ttl), names))) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(1410)
                     "type=%s: %s generations waited longer than %lds in the queue without "
                     "a free place of their provider (QUEUE_TIMEOUT, refunded): the queue is "
                     "longer than the providers' limits serve in GenFlowPendingTTL",
                     t->name, n, queued_ttl);
    }
    if ((n = swept(s, p, dbd, t->labels[GF_SQL_EXPIRE_OVERDUE], OVERDUE_GRACE, NULL))) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(1411)
                     "type=%s: %s started generations passed their deadline waiting for a "
                     "place of their provider (TIMEOUT, refunded)", t->name, n);
    }
    /* Their own Cancel-After passed before any provider took them. */
    if ((n = swept(s, p, dbd, t->labels[GF_SQL_ABORT], SWEEP_BATCH_TEXT, NULL))) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, GF_LOGNO(1421)
                     "type=%s: %s generations not started before their Cancel-After "
                     "(cancelled, ABORTED, refunded)", t->name, n);
    }
    if (gf_conf_retention(sc) > 0
        && (n = swept(s, p, dbd, t->labels[GF_SQL_PRUNE], apr_ltoa(p, gf_conf_retention(sc)), NULL))) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, GF_LOGNO(1404)
                     "pruned type=%s count=%s (failed/cancelled older than %lds)",
                     t->name, n, gf_conf_retention(sc));
    }
    gf_db_close(s, dbd);
}

const char *gf_engine_sweep_strays(server_rec *s, apr_pool_t *p, const gf_type_t *t)
{
    const char *known = gf_sweep_names(p, t->providers);
    gf_db_rows_t *rows;
    const char *out = "";
    int i;

    if (gf_db_select_once(s, p, t->labels[GF_SQL_LINE_PROVIDERS], &rows, 1, &known) != GF_DB_OK) {
        return "";
    }
    for (i = 0; i < rows->nrows; i++) {
        if (rows->rows[i][0]) out = apr_pstrcat(p, out, *out ? "\n" : "", rows->rows[i][0], NULL);
    }
    return out;
}

void gf_engine_sweep_global(server_rec *s, apr_pool_t *p)
{
    gf_server_conf_t *sc = gf_server_conf(s);
    long queued_ttl = gf_sweep_queued_ttl(gf_conf_pending_ttl(sc));
    gf_db_rows_t *rows;
    const char *n;
    ap_dbd_t *dbd;

    if (!(dbd = gf_db_open(p, s))) {
        return;
    }
    /* Generations of types no worker here serves: mounted nowhere any
     * more, they would hold their reservation forever. Queued ones go
     * after GenFlowPendingTTL (an hour when that is 0), created ones after
     * GenFlowCreatedTTL (the same when that is 0). */
    if (gf_db_pselect(s, p, dbd, GF_SQL_ORPHANS, &rows, 2, apr_ltoa(p, queued_ttl),
                      apr_ltoa(p, gf_sweep_created_ttl(gf_conf_created_ttl(sc), queued_ttl)))
            == GF_DB_OK
        && rows->nrows == 1 && rows->rows[0][0] && strcmp(rows->rows[0][0], "0")) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(1408)
                     "expired %s generations that no worker took in time (a type mounted "
                     "nowhere?); refunded", rows->rows[0][0]);
    }
    /* Users' turns in the lines, forgotten a day after the longest wait. */
    if (gf_db_pselect(s, p, dbd, GF_SQL_TURNS_PRUNE, &rows, 1, apr_ltoa(p, queued_ttl + 86400))
            == GF_DB_OK
        && rows->nrows == 1 && strcmp(rows->rows[0][0], "0")) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, GF_LOGNO(1417)
                     "pruned %s users' turns unused for a day", rows->rows[0][0]);
    }
    /* The finished generations' counts, folded (sql/024, sql/025): the
     * metrics' gauges read a few rows, even after a million were loaded at
     * once. */
    if ((n = swept_by(s, p, dbd, GF_SQL_COUNTS_FOLD, FOLD_BATCH, SWEEP_REPEAT,
                      apr_ltoa(p, FOLD_BATCH), NULL))) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, GF_LOGNO(1418)
                     "folded %s counts of finished generations", n);
    }
    /* The lines' counts (sql/031), folded: a place in line sums about
     * one row per bucket however many claims and queues wrote to it. */
    if ((n = swept_by(s, p, dbd, GF_SQL_LINE_FOLD, LINE_FOLD_BATCH, LINE_FOLD_REPEAT,
                      apr_ltoa(p, LINE_FOLD_BATCH), NULL))) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, GF_LOGNO(1422)
                     "folded %s shard rows of the lines' counts", n);
    }
    /* Rows of calls open that a node stopped writing (it died with calls
     * open): a reader no longer counts them after 3 s. */
    if (gf_db_pselect(s, p, dbd, GF_SQL_GROUP_OPEN_PRUNE, &rows, 0) == GF_DB_OK
        && rows->nrows == 1 && strcmp(rows->rows[0][0], "0")) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, GF_LOGNO(4902)
                     "pruned %s rows of calls open that their nodes stopped writing",
                     rows->rows[0][0]);
    }
    /* Jobs' holds (budget, job slots) past their deadline (sql/045): a
     * child killed with the job, a generation cancelled or expired while
     * it ran. */
    if (gf_db_pselect(s, p, dbd, GF_SQL_HOLDS_EXPIRE, &rows, 0) == GF_DB_OK
        && rows->nrows == 1 && strcmp(rows->rows[0][0], "0")) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, GF_LOGNO(4903)
                     "released what %s jobs held past their deadlines", rows->rows[0][0]);
    }
    /* Idempotency records are replayed for 24 h. */
    if (gf_db_pselect(s, p, dbd, GF_SQL_IDEM_PRUNE, &rows, 1, "86400") == GF_DB_OK
        && rows->nrows == 1 && strcmp(rows->rows[0][0], "0")) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, GF_LOGNO(1407)
                     "pruned %s idempotency records older than 24 h", rows->rows[0][0]);
    }
    gf_db_close(s, dbd);
}
