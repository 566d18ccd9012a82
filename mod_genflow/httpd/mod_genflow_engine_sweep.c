/* mod_genflow_engine_sweep.c: the set-based sweeps worker 0 of every child runs
 * every few seconds, per engine (database): created, never started
 * generations expire after GenFlowCreatedTTL and are refunded, old failed and
 * cancelled rows go after GenFlowRetention, generations no worker takes in
 * time expire (genflow_expire_orphans), Idempotency-Key records go after
 * 24 h. Each statement skips locked rows, so children and nodes never
 * collide.
 */
#include <string.h>
#include <apr_strings.h>

#include "httpd/mod_genflow_engine_int.h"
#include "core/gf_sql.h"

gf_db_status_t gf_run_select(server_rec *s, apr_pool_t *p, const char *label,
                             gf_db_rows_t **rows, int nargs, const char *const *args)
{
    ap_dbd_t *dbd = gf_db_open(p, s);
    gf_db_status_t st;
    if (!dbd) return GF_DB_UNAVAILABLE;
    st = gf_db_pselectv(s, p, dbd, label, rows, nargs, args);
    gf_db_close(s, dbd);
    return st;
}

void gf_run_sweep(server_rec *s, apr_pool_t *p, const gf_type_t *t)
{
    gf_server_conf_t *sc = gf_server_conf(s);
    gf_db_rows_t *rows;
    ap_dbd_t *dbd;

    if (!(dbd = gf_db_open(p, s))) {
        return;
    }
    if (gf_conf_created_ttl(sc) > 0
        && gf_db_pselect(s, p, dbd, t->labels[GF_SQL_EXPIRE], &rows, 1,
                         apr_ltoa(p, gf_conf_created_ttl(sc))) == GF_DB_OK
        && rows->nrows == 1 && strcmp(rows->rows[0][0], "0")) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, GF_LOGNO(1403)
                     "expired type=%s count=%s (created, never started within %lds; refunded)",
                     t->name, rows->rows[0][0], gf_conf_created_ttl(sc));
    }
    if (gf_conf_retention(sc) > 0
        && gf_db_pselect(s, p, dbd, t->labels[GF_SQL_PRUNE], &rows, 1,
                         apr_ltoa(p, gf_conf_retention(sc))) == GF_DB_OK
        && rows->nrows == 1 && strcmp(rows->rows[0][0], "0")) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, GF_LOGNO(1404)
                     "pruned type=%s count=%s (failed/cancelled older than %lds)",
                     t->name, rows->rows[0][0], gf_conf_retention(sc));
    }
    gf_db_close(s, dbd);
}

void gf_run_sweep_global(server_rec *s, apr_pool_t *p)
{
    gf_server_conf_t *sc = gf_server_conf(s);
    long queued_ttl = gf_conf_pending_ttl(sc) > 0 ? gf_conf_pending_ttl(sc) : 3600;
    gf_db_rows_t *rows;
    ap_dbd_t *dbd;

    if (!(dbd = gf_db_open(p, s))) {
        return;
    }
    /* Generations of types no worker here serves: mounted nowhere any
     * more, they would hold their reservation forever. Queued ones go
     * after GenFlowPendingTTL (an hour when that is 0), created ones after
     * GenFlowCreatedTTL (the same when that is 0). */
    if (gf_db_pselect(s, p, dbd, GF_SQL_ORPHANS, &rows, 2, apr_ltoa(p, queued_ttl),
                      apr_ltoa(p, gf_conf_created_ttl(sc) > 0 ? gf_conf_created_ttl(sc)
                                                              : queued_ttl))
            == GF_DB_OK
        && rows->nrows == 1 && rows->rows[0][0] && strcmp(rows->rows[0][0], "0")) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(1408)
                     "expired %s generations that no worker took in time (a type mounted "
                     "nowhere?); refunded", rows->rows[0][0]);
    }
    /* Idempotency records are replayed for 24 h. */
    if (gf_db_pselect(s, p, dbd, GF_SQL_IDEM_PRUNE, &rows, 1, "86400") == GF_DB_OK
        && rows->nrows == 1 && strcmp(rows->rows[0][0], "0")) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, GF_LOGNO(1407)
                     "pruned %s idempotency records older than 24 h", rows->rows[0][0]);
    }
    gf_db_close(s, dbd);
}
