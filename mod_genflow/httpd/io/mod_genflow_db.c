/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_db.c: the module's use of mod_dbd (docs/architecture.md,
 * "Threads and connections").
 *
 * Statements are prepared on a connection when it first runs them (not
 * with ap_dbd_prepare, which would prepare every one on every new
 * connection), or, with GenFlowPreparedStatements unnamed, run as the
 * protocol's unnamed statement each time, so that a pooler in transaction
 * mode sees no session state. Arguments are always parameters, never SQL
 * text. After a PostgreSQL restart a handle is repaired in place and the
 * statement runs once more, only when that is safe (it never reached the
 * server, or gf_sql.c marks it safe to repeat); the caller learns of the
 * re-run (rows->rerun). While the database is down callers get
 * GF_DB_UNAVAILABLE and answer 503. A request gives its connection back
 * (gf_db_release) before anything that waits.
 */
#include <stdarg.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_dbd.h>
#include <libpq-fe.h>

#include "httpd/config/mod_genflow_process.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/config/mod_genflow_request.h"
#include "core/gf_sql.h"

/* mod_dbd's functions; every (label, sql) pair the module prepares, for
 * the repair path, and label → the statement, for its re-run rule; label →
 * the key of its unnamed form in a connection's table. The process
 * record's member, rebuilt with each configuration. */
struct gf_db_state {
    APR_OPTIONAL_FN_TYPE(ap_dbd_acquire) *dbd_acquire_fn;
    APR_OPTIONAL_FN_TYPE(ap_dbd_open) *dbd_open_fn;
    APR_OPTIONAL_FN_TYPE(ap_dbd_close) *dbd_close_fn;
    apr_array_header_t *statements;
    apr_hash_t *by_label;
    apr_hash_t *unnamed_keys;
};
const apr_size_t gf_db_state_size = sizeof(struct gf_db_state);

static struct gf_db_state *db(void)
{
    return GF_PROCESS_STATE(db);
}

int gf_db_bind_optional_fns(server_rec *s)
{
    db()->dbd_acquire_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_acquire);
    db()->dbd_open_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    db()->dbd_close_fn = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
    if (!db()->dbd_acquire_fn || !db()->dbd_open_fn || !db()->dbd_close_fn) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, GF_LOGNO(1101)
                     "mod_dbd is required: LoadModule dbd_module and configure DBDriver pgsql");
        return 0;
    }
    return 1;
}

void gf_db_register_statements(apr_pool_t *p, const apr_array_header_t *more)
{
    apr_array_header_t *types = gf_registered_types();
    int i;

    db()->statements = apr_array_make(p, 32, sizeof(gf_sql_stmt_t));
    gf_sql_global_statements(p, db()->statements);
    for (i = 0; types && i < types->nelts; i++) {
        gf_type_t *t = APR_ARRAY_IDX(types, i, gf_type_t *);
        gf_sql_type_statements(p, t->name, t->table, db()->statements);
    }
    if (more) apr_array_cat(db()->statements, more);
    db()->by_label = apr_hash_make(p);
    db()->unnamed_keys = apr_hash_make(p);
    for (i = 0; i < db()->statements->nelts; i++) {
        gf_sql_stmt_t *st = &APR_ARRAY_IDX(db()->statements, i, gf_sql_stmt_t);
        apr_hash_set(db()->by_label, st->label, APR_HASH_KEY_STRING, st);
        apr_hash_set(db()->unnamed_keys, st->label, APR_HASH_KEY_STRING,
                     apr_pstrcat(p, "~", st->label, NULL));
    }
}

static const char **collect_args(apr_pool_t *p, int nargs, va_list ap);
static gf_db_status_t run_select(server_rec *s, apr_pool_t *p, ap_dbd_t *dbd,
                                 const char *label, gf_db_rows_t **out, int nargs,
                                 const char **args);

static apr_status_t release_cleanup(void *data)
{
    request_rec *r = data;
    gf_req_t *rq = gf_req(r);
    if (rq->dbd) {
        db()->dbd_close_fn(r->server, rq->dbd);
        rq->dbd = NULL;
    }
    return APR_SUCCESS;
}

/* The request's connection: taken from mod_dbd's pool on first use, held
 * until gf_db_release or the end of the request, whichever comes first. */
ap_dbd_t *gf_db_acquire(request_rec *r)
{
    gf_req_t *rq = gf_req(r);

    if (rq->dbd) return rq->dbd;
    /* No GenFlowType anywhere: post_config never bound mod_dbd's functions
     * (a site handler such as genflow-health can still be mounted). */
    rq->dbd = db()->dbd_open_fn ? db()->dbd_open_fn(r->pool, r->server) : NULL;
    if (!rq->dbd) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GF_LOGNO(1102)
                      "no database connection from mod_dbd; answering 503");
        return NULL;
    }
    if (!rq->dbd_cleanup) {
        apr_pool_cleanup_register(r->pool, r, release_cleanup, apr_pool_cleanup_null);
        rq->dbd_cleanup = 1;
    }
    return rq->dbd;
}

void gf_db_release(request_rec *r)
{
    release_cleanup(r);
}

gf_db_status_t gf_db_select1(request_rec *r, const char *label, gf_db_rows_t **rows,
                             int nargs, ...)
{
    const char **args;
    gf_db_status_t st;
    ap_dbd_t *dbd;
    va_list ap;
    int held = gf_req(r)->dbd != NULL;

    va_start(ap, nargs);
    args = collect_args(r->pool, nargs, ap);
    va_end(ap);
    if (!(dbd = gf_db_acquire(r))) return GF_DB_UNAVAILABLE;
    st = run_select(r->server, r->pool, dbd, label, rows, nargs, args);
    if (!held) gf_db_release(r);
    return st;
}

gf_db_status_t gf_db_select_once(server_rec *s, apr_pool_t *p, const char *label,
                                 gf_db_rows_t **rows, int nargs, const char *const *args)
{
    ap_dbd_t *dbd = gf_db_open(p, s);
    gf_db_status_t st;
    if (!dbd) return GF_DB_UNAVAILABLE;
    st = gf_db_pselectv(s, p, dbd, label, rows, nargs, args);
    gf_db_close(s, dbd);
    return st;
}

/* Outside a request (workers): a pooled connection that must be closed. */
ap_dbd_t *gf_db_open(apr_pool_t *p, server_rec *s)
{
    return db()->dbd_open_fn ? db()->dbd_open_fn(p, s) : NULL;
}

/* PQconninfo gives the parameters the connection was opened with, not
 * only the host it reached: a multi-host DBDParams keeps its whole host
 * and port lists and target_session_attrs, so a connection opened from
 * them (the listener's) finds the primary after a failover as mod_dbd's
 * own reconnects do (t/29_failover.t). */
PQconninfoOption *gf_db_conninfo(apr_pool_t *p, server_rec *s)
{
    ap_dbd_t *dbd = gf_db_open(p, s);
    PGconn *conn;
    PQconninfoOption *opts;

    if (!dbd) return NULL;
    conn = apr_dbd_native_handle(dbd->driver, dbd->handle);
    opts = conn ? PQconninfo(conn) : NULL;
    gf_db_close(s, dbd);
    return opts;
}

void gf_db_close(server_rec *s, ap_dbd_t *dbd)
{
    db()->dbd_close_fn(s, dbd);
}

static int connection_lost(ap_dbd_t *dbd)
{
    PGconn *conn = apr_dbd_native_handle(dbd->driver, dbd->handle);
    return !conn || PQstatus(conn) != CONNECTION_OK;
}

/* The session is on a server that takes no writes: a hot standby (a
 * DBDParams without target_session_attrs=read-write, or a session opened
 * on a server that has since become a standby: an old primary brought
 * back as one). PostgreSQL 14 and later
 * report both settings to the client on every change, so this needs no
 * round trip and no parsing of a translated error message; an older
 * server reports neither and its "read-only transaction" error stays an
 * internal error. */
static int read_only_server(ap_dbd_t *dbd)
{
    PGconn *conn = apr_dbd_native_handle(dbd->driver, dbd->handle);
    const char *standby = conn ? PQparameterStatus(conn, "in_hot_standby") : NULL;
    const char *ro = conn ? PQparameterStatus(conn, "default_transaction_read_only") : NULL;
    return (standby && !strcmp(standby, "on")) || (ro && !strcmp(ro, "on"));
}

static int statement_missing(const char *msg)
{
    return msg && strstr(msg, "prepared statement") && strstr(msg, "does not exist");
}

/* Reconnect if needed and forget the handle's prepared statements: a new
 * session has none, and the next use of each label prepares it again. */
static gf_db_status_t repair(server_rec *s, apr_pool_t *p, ap_dbd_t *dbd)
{
    if (apr_dbd_check_conn(dbd->driver, p, dbd->handle) != APR_SUCCESS
        || connection_lost(dbd)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, GF_LOGNO(1103)
                     "database connection lost and not re-established");
        return GF_DB_UNAVAILABLE;
    }
    apr_hash_clear(dbd->prepared);
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(1104)
                 "database session was reset; its statements are prepared again as used");
    return GF_DB_OK;
}

/* The handle's prepared statement for label, prepared now on first use.
 * dbd->pool lives as long as the connection, like mod_dbd's own prepared
 * statements. A session can still hold a statement the handle forgot (a
 * repair after "does not exist" for another one): it is deallocated and
 * prepared again, so the handle and the session agree. */
static apr_dbd_prepared_t *prepared(server_rec *s, ap_dbd_t *dbd, const char *label)
{
    /* Servers that share a connection pool may differ in
     * GenFlowPreparedStatements: an unnamed statement has a key of its own. */
    int unnamed = gf_conf_unnamed_statements(gf_server_conf(s));
    const char *key = unnamed && db()->unnamed_keys
                      ? apr_hash_get(db()->unnamed_keys, label, APR_HASH_KEY_STRING) : label;
    apr_dbd_prepared_t *stmt = key ? apr_hash_get(dbd->prepared, key, APR_HASH_KEY_STRING)
                                   : NULL;
    const gf_sql_stmt_t *def;
    int rc;

    if (stmt) return stmt;
    def = db()->by_label ? apr_hash_get(db()->by_label, label, APR_HASH_KEY_STRING) : NULL;
    if (!def || !key) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, GF_LOGNO(1105)
                     "statement %s is not one of the module's", label);
        return NULL;
    }
    if (unnamed) {
        /* No label: the driver sends nothing now and runs the SQL with
         * PQexecParams each time (the comment at the top). */
        rc = apr_dbd_prepare(dbd->driver, dbd->pool, dbd->handle, def->sql, NULL, &stmt);
        if (rc != 0) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, GF_LOGNO(4600)
                         "cannot parse statement %s (rc %d)", label, rc);
            return NULL;
        }
        apr_hash_set(dbd->prepared, key, APR_HASH_KEY_STRING, stmt);
        return stmt;
    }
    rc = apr_dbd_prepare(dbd->driver, dbd->pool, dbd->handle, def->sql, def->label, &stmt);
    if (rc != 0 && !connection_lost(dbd)) {
        int nrows = 0;
        /* The label is a validated identifier (gf_sql_type_label). */
        apr_dbd_query(dbd->driver, dbd->handle, &nrows,
                      apr_pstrcat(dbd->pool, "DEALLOCATE ", def->label, NULL));
        rc = apr_dbd_prepare(dbd->driver, dbd->pool, dbd->handle, def->sql, def->label, &stmt);
    }
    if (rc != 0) {
        const char *msg = apr_dbd_error(dbd->driver, dbd->handle, rc);
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, GF_LOGNO(1108)
                     "cannot prepare statement %s: %s", label, msg ? msg : "no message");
        return NULL;
    }
    apr_hash_set(dbd->prepared, def->label, APR_HASH_KEY_STRING, stmt);
    return stmt;
}

static void copy_rows(apr_pool_t *p, ap_dbd_t *dbd, apr_dbd_results_t *res,
                      gf_db_rows_t *out)
{
    apr_dbd_row_t *row = NULL;
    apr_array_header_t *rows = apr_array_make(p, 4, sizeof(const char **));
    int j;

    out->ncols = apr_dbd_num_cols(dbd->driver, res);
    /* Read to the end even when one row is wanted: apr_dbd requires it. */
    while (apr_dbd_get_row(dbd->driver, p, res, &row, -1) == 0) {
        const char **vals = apr_pcalloc(p, sizeof(char *) * (apr_size_t)out->ncols);
        for (j = 0; j < out->ncols; j++) {
            char *v = NULL;
            if (apr_dbd_datum_get(dbd->driver, row, j, APR_DBD_TYPE_STRING, &v) == APR_SUCCESS) {
                vals[j] = apr_pstrdup(p, v);
            }
        }
        *(const char ***)apr_array_push(rows) = vals;
    }
    out->nrows = rows->nelts;
    out->rows = (const char ***)rows->elts;
}

static gf_db_status_t run_select(server_rec *s, apr_pool_t *p, ap_dbd_t *dbd,
                                 const char *label, gf_db_rows_t **out, int nargs,
                                 const char **args)
{
    int attempt;

    *out = apr_pcalloc(p, sizeof(**out));
    for (attempt = 0; attempt < 2; attempt++) {
        apr_dbd_prepared_t *stmt = prepared(s, dbd, label);
        apr_dbd_results_t *res = NULL;
        const char *msg;
        int rc;

        if (!stmt) {
            if (attempt == 0 && connection_lost(dbd)) {
                /* The session died before this statement's first use. */
                if (repair(s, p, dbd) != GF_DB_OK) return GF_DB_UNAVAILABLE;
                continue;
            }
            return connection_lost(dbd) ? GF_DB_UNAVAILABLE : GF_DB_ERROR;
        }
        rc = apr_dbd_pselect(dbd->driver, p, dbd->handle, &res, stmt, 1, nargs, args);
        if (rc == 0) {
            int rerun = (*out)->rerun;
            copy_rows(p, dbd, res, *out);
            (*out)->rerun = rerun;
            return GF_DB_OK;
        }
        msg = apr_dbd_error(dbd->driver, dbd->handle, rc);
        if (attempt == 0 && (connection_lost(dbd) || statement_missing(msg))) {
            /* A missing statement never ran. A lost connection may have
             * lost only the answer of a committed statement: run it again
             * only if it is safe to (gf_sql.c), else report trouble. */
            const gf_sql_stmt_t *def = db()->by_label ? apr_hash_get(db()->by_label, label,
                                                               APR_HASH_KEY_STRING) : NULL;
            int again = statement_missing(msg) || (def && def->rerun_safe);
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, GF_LOGNO(1106)
                         "statement %s failed (%s); repairing the connection%s", label,
                         msg ? msg : "no message", again ? " and running it again" : "");
            if (repair(s, p, dbd) != GF_DB_OK || !again) {
                return GF_DB_UNAVAILABLE;
            }
            (*out)->rerun = !statement_missing(msg);
            continue;
        }
        if (connection_lost(dbd)) {
            return GF_DB_UNAVAILABLE;
        }
        if (read_only_server(dbd)) {
            /* The statement was refused, so nothing of it committed. A new
             * session walks DBDParams' host list again and, with
             * target_session_attrs=read-write, finds the primary (the
             * promoted standby after a failover), and the statement runs
             * there once more; until there is one the caller answers 503,
             * as for a database that is down. The reset waits for each
             * host up to connect_timeout (docs/operations.md: set it). */
            PGconn *conn = apr_dbd_native_handle(dbd->driver, dbd->handle);
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(4700)
                         "statement %s refused by a read-only server (a standby: %s); "
                         "reconnecting through DBDParams' host list", label,
                         msg ? msg : "no message");
            PQreset(conn);
            apr_hash_clear(dbd->prepared);
            if (attempt == 0 && !connection_lost(dbd) && !read_only_server(dbd)) {
                continue;   /* the new session takes writes: the request goes on */
            }
            return GF_DB_UNAVAILABLE;
        }
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, GF_LOGNO(1107)
                     "statement %s failed: %s", label, msg ? msg : "no message");
        return GF_DB_ERROR;
    }
    return GF_DB_ERROR;
}

static const char **collect_args(apr_pool_t *p, int nargs, va_list ap)
{
    const char **args = apr_pcalloc(p, sizeof(char *) * (apr_size_t)(nargs + 1));
    int i;
    for (i = 0; i < nargs; i++) {
        args[i] = va_arg(ap, const char *);
    }
    return args;
}

gf_db_status_t gf_db_select(request_rec *r, ap_dbd_t *dbd, const char *label,
                            gf_db_rows_t **rows, int nargs, ...)
{
    const char **args;
    va_list ap;

    va_start(ap, nargs);
    args = collect_args(r->pool, nargs, ap);
    va_end(ap);
    return run_select(r->server, r->pool, dbd, label, rows, nargs, args);
}

gf_db_status_t gf_db_pselect(server_rec *s, apr_pool_t *p, ap_dbd_t *dbd, const char *label,
                             gf_db_rows_t **rows, int nargs, ...)
{
    const char **args;
    va_list ap;

    va_start(ap, nargs);
    args = collect_args(p, nargs, ap);
    va_end(ap);
    return run_select(s, p, dbd, label, rows, nargs, args);
}

gf_db_status_t gf_db_pselectv(server_rec *s, apr_pool_t *p, ap_dbd_t *dbd, const char *label,
                              gf_db_rows_t **rows, int nargs, const char *const *args)
{
    const char **copy = apr_pcalloc(p, sizeof(char *) * (apr_size_t)(nargs + 1));
    memcpy(copy, args, sizeof(char *) * (apr_size_t)nargs);
    return run_select(s, p, dbd, label, rows, nargs, copy);
}
