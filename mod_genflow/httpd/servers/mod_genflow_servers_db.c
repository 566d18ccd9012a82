/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_servers_db.c: one engine per database the child's servers use.
 *
 * Servers that mount types (mod_genflow_servers.c) may each have a
 * database of their own (DBDParams in a <VirtualHost>), or share one, as
 * every virtual host that sets no DBDParams shares the main server's
 * connection pool. An engine is one database and the servers on it: the
 * workers claim from it with its first server's connection pool and lease,
 * ask its due-work statements (one per distinct set of types its servers
 * mount) which types have work, run its sweeps, and the listener holds
 * one connection to it. A claimed generation is then worked with the
 * settings of the server that created it (gf_database_server_for).
 *
 * Which servers share a database is learnt at child_init from the
 * connection parameters of a pooled connection of each server, without
 * the password. A server whose database cannot be reached then gets an
 * engine of its own: correct (a generation is worked by its own server's
 * settings whichever engine claims it), it only asks that database twice.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <libpq-fe.h>

#include "httpd/servers/mod_genflow_servers.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/io/mod_genflow_db.h"

/* The identity of a server's database: the parameters of one of its pooled
 * connections that say where it goes (not the password), or NULL. */
static const char *database_of(apr_pool_t *p, server_rec *s)
{
    PQconninfoOption *opts = gf_db_conninfo(p, s), *o;
    const char *id = "";

    if (!opts) return NULL;
    for (o = opts; o->keyword; o++) {
        if (o->val && *o->val && strcmp(o->keyword, "password")
            && strcmp(o->keyword, "application_name")) {
            id = apr_pstrcat(p, id, o->keyword, "=", o->val, " ", NULL);
        }
    }
    PQconninfoFree(opts);
    return id;
}

static void add_server(apr_pool_t *p, gf_database_t *e, gf_server_t *server)
{
    int i, j;
    APR_ARRAY_PUSH(e->servers, gf_server_t *) = server;
    if (server->name) {
        e->names = *e->names ? apr_pstrcat(p, e->names, "\n", server->name, NULL)
                             : apr_pstrdup(p, server->name);
    }
    for (i = 0; i < server->types->nelts; i++) {
        gf_type_t *t = APR_ARRAY_IDX(server->types, i, gf_type_t *);
        for (j = 0; j < e->types->nelts; j++) {
            if (APR_ARRAY_IDX(e->types, j, gf_type_t *) == t) break;
        }
        if (j == e->types->nelts) APR_ARRAY_PUSH(e->types, gf_type_t *) = t;
    }
    for (j = 0; j < e->due_labels->nelts; j++) {
        if (!strcmp(APR_ARRAY_IDX(e->due_labels, j, const char *), server->due_label)) return;
    }
    APR_ARRAY_PUSH(e->due_labels, const char *) = server->due_label;
}

apr_array_header_t *gf_databases_build(apr_pool_t *pchild)
{
    apr_array_header_t *servers = gf_servers(), *databases;
    apr_hash_t *by_db = apr_hash_make(pchild);
    int i;

    databases = apr_array_make(pchild, 2, sizeof(gf_database_t *));
    for (i = 0; servers && i < servers->nelts; i++) {
        gf_server_t *server = APR_ARRAY_IDX(servers, i, gf_server_t *);
        const char *db = database_of(pchild, server->s);
        gf_database_t *e = db ? apr_hash_get(by_db, db, APR_HASH_KEY_STRING) : NULL;
        if (!e) {
            e = apr_pcalloc(pchild, sizeof(*e));
            e->s = server->s;
            e->db = db;
            e->names = "";
            e->servers = apr_array_make(pchild, 4, sizeof(gf_server_t *));
            e->types = apr_array_make(pchild, 8, sizeof(gf_type_t *));
            e->due_labels = apr_array_make(pchild, 1, sizeof(const char *));
            APR_ARRAY_PUSH(databases, gf_database_t *) = e;
            if (db) apr_hash_set(by_db, db, APR_HASH_KEY_STRING, e);
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, server->s, GF_LOGNO(1610)
                         "genflow database %d: %s", databases->nelts - 1,
                         db ? db : "(not reachable now: a database of its own)");
        }
        add_server(pchild, e, server);
    }
    return databases;
}

server_rec *gf_database_server_for(const gf_database_t *e, const char *server_name)
{
    int i;
    if (!server_name) return NULL;
    for (i = 0; i < e->servers->nelts; i++) {
        const gf_server_t *server = APR_ARRAY_IDX(e->servers, i, gf_server_t *);
        if (server->name && !strcmp(server->name, server_name)) return server->s;
    }
    return NULL;
}

int gf_database_types_of(const gf_database_t *e, const char *provider, const gf_type_t **out,
                         int max)
{
    int n = 0, i, j;
    for (i = 0; i < e->types->nelts && n < max; i++) {
        const gf_type_t *t = APR_ARRAY_IDX(e->types, i, gf_type_t *);
        if (!t->providers || !apr_hash_get(t->providers, provider, APR_HASH_KEY_STRING)) continue;
        for (j = n; j > 0 && out[j - 1]->priority < t->priority; j--) out[j] = out[j - 1];
        out[j] = t;
        n++;
    }
    return n;
}

const gf_database_t *gf_database_of(const apr_array_header_t *databases, server_rec *s)
{
    int j, k;
    for (j = 0; j < databases->nelts; j++) {
        const gf_database_t *e = APR_ARRAY_IDX(databases, j, gf_database_t *);
        if (e->s == s) return e;
        for (k = 0; k < e->servers->nelts; k++) {
            if (APR_ARRAY_IDX(e->servers, k, gf_server_t *)->s == s) return e;
        }
    }
    return NULL;
}
