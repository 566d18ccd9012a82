/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_schema.c: the database schema's version read when httpd
 * starts (mod_genflow_schema.h), judged by core/gf_schema.c.
 *
 * check_config runs before mod_dbd has any connection (and apache2ctl -t
 * runs nothing later), so the parameters are read off the configuration
 * tree, as the site wrote them (Include files and <IfModule> bodies already
 * in place), and one short libpq connection per distinct DBDParams asks.
 * The apr_dbd pgsql driver hands DBDParams to libpq as they are, so libpq
 * reads them here exactly as mod_dbd's connections will.
 */
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <util_cfgtree.h>

#include "httpd/io/mod_genflow_schema.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_schema.h"

/* A database that cannot answer in this time is left to the runtime. */
#define CHECK_CONNECT_TIMEOUT "3"
#define CHECK_STATEMENT_TIMEOUT "-c statement_timeout=3000"

/* Every DBDParams whose DBDriver (in its server, else the main server's)
 * is pgsql, by its text. */
static void collect(apr_pool_t *p, const ap_directive_t *d, const char *driver, apr_hash_t *out)
{
    const ap_directive_t *c;
    const char *params = NULL;

    for (c = d; c; c = c->next) {
        const char *args = c->args;
        if (!strcasecmp(c->directive, "DBDriver")) driver = ap_getword_conf(p, &args);
    }
    for (c = d; c; c = c->next) {
        const char *args = c->args;
        if (!strcasecmp(c->directive, "DBDParams")) params = ap_getword_conf(p, &args);
        else if (!strcasecmp(c->directive, "<VirtualHost") && c->first_child) {
            collect(p, c->first_child, driver, out);
        }
    }
    if (params && driver && !strcasecmp(driver, "pgsql")) apr_hash_set(out, params, APR_HASH_KEY_STRING, "");
}

static int query_long(PGconn *conn, const char *sql, long *out)
{
    PGresult *res = PQexec(conn, sql);
    int ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
    if (ok) *out = PQgetisnull(res, 0, 0) ? 0 : atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    return ok;
}

/* What the database says; 0 when it could not be asked. */
static int read_schema(PGconn *conn, gf_schema_seen_t *seen)
{
    long has_version, has_floor, needs;

    if (!query_long(conn, "SELECT (to_regclass('genflow_schema_version') IS NOT NULL)::int",
                    &has_version)
        || !query_long(conn, "SELECT (to_regclass('genflow_schema_floor') IS NOT NULL)::int",
                       &has_floor)) {
        return 0;
    }
    memset(seen, 0, sizeof(*seen));
    seen->has_table = has_version != 0;
    if (!seen->has_table) return 1;
    if (!query_long(conn, "SELECT max(version) FROM genflow_schema_version", &seen->newest)
        || !query_long(conn, "SELECT count(*) FROM genflow_schema_version WHERE version = "
                             APR_STRINGIFY(GF_SCHEMA_NEEDS), &needs)
        || (has_floor && !query_long(conn, "SELECT max(needs_at_least) FROM genflow_schema_floor",
                                     &seen->floor))) {
        return 0;
    }
    seen->needs_applied = needs > 0;
    return 1;
}

/* One database: 0 when its schema refuses this module. */
static int check_one(apr_pool_t *p, server_rec *s, const char *params)
{
    const char *const keys[] = { "connect_timeout", "options", "dbname", NULL };
    const char *const vals[] = { CHECK_CONNECT_TIMEOUT, CHECK_STATEMENT_TIMEOUT, params, NULL };
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    gf_schema_seen_t seen;
    const char *msg;
    gf_schema_verdict_t v;
    int ok;

    if (PQstatus(conn) != CONNECTION_OK) {
        /* Not the password: libpq's message names the host and the cause. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(5301)
                     "could not check the database schema at startup (%s); the module will "
                     "answer 503 until the database is reachable",
                     gf_schema_one_line(p, PQerrorMessage(conn)));
        PQfinish(conn);
        return 1;
    }
    ok = read_schema(conn, &seen);
    PQfinish(conn);
    if (!ok) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(5302)
                     "could not read the database schema's version at startup");
        return 1;
    }
    v = gf_schema_judge(p, &seen, GF_SCHEMA_NEEDS, &msg);
    if (v != GF_SCHEMA_OK) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, GF_LOGNO(5303) "%s", msg);
        return 0;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, GF_LOGNO(5304) "%s", msg);
    return 1;
}

int gf_schema_check_config(apr_pool_t *ptemp, server_rec *s)
{
    apr_hash_t *all = apr_hash_make(ptemp);
    apr_hash_index_t *hi;
    int ok = 1;

    if (!gf_registered_types()) return OK;   /* loaded but unused: no database */
    collect(ptemp, ap_conftree, NULL, all);
    for (hi = apr_hash_first(ptemp, all); hi; hi = apr_hash_next(hi)) {
        ok &= check_one(ptemp, s, apr_hash_this_key(hi));
    }
    return ok ? OK : HTTP_INTERNAL_SERVER_ERROR;
}

void gf_schema_log_startup(server_rec *s)
{
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, GF_LOGNO(5305)
                 "mod_genflow/%s configured (needs database schema %d)", GF_VERSION,
                 GF_SCHEMA_NEEDS);
}
