/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_db.h: statements on mod_dbd's connections (mod_genflow_db.c
 * says how they are prepared and repaired).
 */
#ifndef MOD_GENFLOW_DB_H
#define MOD_GENFLOW_DB_H

#include <apr_dbd.h>
#include <mod_dbd.h>


typedef enum {
    GF_DB_OK = 0,
    GF_DB_UNAVAILABLE,           /* no connection: answer 503 */
    GF_DB_ERROR                  /* the statement failed: answer 500 */
} gf_db_status_t;

typedef struct {
    int nrows;
    int ncols;
    const char ***rows;          /* rows[i][j]; NULL for SQL NULL */
    int rerun;                   /* the statement ran twice (a lost connection):
                                  * its first run may have committed */
} gf_db_rows_t;

/* Every statement of the configuration: the module's, each type's, and
 * more (the servers' due-work statements); post_config. */
void gf_db_register_statements(apr_pool_t *p, const apr_array_header_t *more);
int gf_db_bind_optional_fns(server_rec *s);
/* The request's pooled connection, until gf_db_release (call it before
 * any wait or network call) or the end of the request. */
ap_dbd_t *gf_db_acquire(request_rec *r);
void gf_db_release(request_rec *r);
/* One statement on a connection held only for its duration (or on the
 * one the request holds already). */
gf_db_status_t gf_db_select1(request_rec *r, const char *label, gf_db_rows_t **rows,
                             int nargs, ...);
ap_dbd_t *gf_db_open(apr_pool_t *p, server_rec *s);
/* The same outside a request (the engine's reads and writes beside a
 * claim): one statement on a pooled connection of s, given back at once;
 * GF_DB_UNAVAILABLE without a connection. */
gf_db_status_t gf_db_select_once(server_rec *s, apr_pool_t *p, const char *label,
                                 gf_db_rows_t **rows, int nargs, const char *const *args);
void gf_db_close(server_rec *s, ap_dbd_t *dbd);
/* The connection parameters (DBDParams, as libpq resolved them) of one of
 * s's pooled connections, or NULL; free with PQconninfoFree. For the
 * connections the module opens itself (the listener) and to tell which
 * servers share a database. */
struct _PQconninfoOption *gf_db_conninfo(apr_pool_t *p, server_rec *s);
/* Run a prepared statement; every argument is a const char * (or NULL). */
gf_db_status_t gf_db_select(request_rec *r, ap_dbd_t *dbd, const char *label,
                            gf_db_rows_t **rows, int nargs, ...);
gf_db_status_t gf_db_pselect(server_rec *s, apr_pool_t *p, ap_dbd_t *dbd, const char *label,
                             gf_db_rows_t **rows, int nargs, ...);
/* The same with the arguments in an array, filled at named places (the
 * GF_*_ARGS enums of core/gf_sql.h). */
gf_db_status_t gf_db_pselectv(server_rec *s, apr_pool_t *p, ap_dbd_t *dbd, const char *label,
                              gf_db_rows_t **rows, int nargs, const char *const *args);

#endif
