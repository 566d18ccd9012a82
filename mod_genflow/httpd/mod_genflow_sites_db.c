/* mod_genflow_sites_db.c: one engine per database the child's servers use.
 *
 * Servers that mount types (sites, mod_genflow_sites.c) may each have a
 * database of their own (DBDParams in a <VirtualHost>), or share one, as
 * every virtual host that sets no DBDParams shares the main server's
 * connection pool. An engine is one database and the sites on it: the
 * workers claim from it with its first site's connection pool and lease,
 * ask its due-work statements (one per distinct set of types its sites
 * mount) which types have work, run its sweeps, and the listener holds
 * one connection to it. A claimed generation is then worked with the
 * settings of the site that created it (gf_engine_server_for).
 *
 * Which sites share a database is learnt at child_init from the
 * connection parameters of a pooled connection of each site, without
 * the password. A site whose database cannot be reached then gets an
 * engine of its own: correct (a generation is worked by its own site's
 * settings whichever engine claims it), it only asks that database twice.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <libpq-fe.h>

#include "httpd/mod_genflow_sites.h"

/* The identity of a site's database: the parameters of one of its pooled
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

static void add_site(apr_pool_t *p, gf_engine_t *e, gf_site_t *site)
{
    int i, j;
    APR_ARRAY_PUSH(e->sites, gf_site_t *) = site;
    if (site->name) {
        e->names = *e->names ? apr_pstrcat(p, e->names, "\n", site->name, NULL)
                             : apr_pstrdup(p, site->name);
    }
    for (i = 0; i < site->types->nelts; i++) {
        gf_type_t *t = APR_ARRAY_IDX(site->types, i, gf_type_t *);
        for (j = 0; j < e->types->nelts; j++) {
            if (APR_ARRAY_IDX(e->types, j, gf_type_t *) == t) break;
        }
        if (j == e->types->nelts) APR_ARRAY_PUSH(e->types, gf_type_t *) = t;
    }
    for (j = 0; j < e->due_labels->nelts; j++) {
        if (!strcmp(APR_ARRAY_IDX(e->due_labels, j, const char *), site->due_label)) return;
    }
    APR_ARRAY_PUSH(e->due_labels, const char *) = site->due_label;
}

apr_array_header_t *gf_engines_build(apr_pool_t *pchild)
{
    apr_array_header_t *sites = gf_sites(), *engines;
    apr_hash_t *by_db = apr_hash_make(pchild);
    int i;

    engines = apr_array_make(pchild, 2, sizeof(gf_engine_t *));
    for (i = 0; sites && i < sites->nelts; i++) {
        gf_site_t *site = APR_ARRAY_IDX(sites, i, gf_site_t *);
        const char *db = database_of(pchild, site->s);
        gf_engine_t *e = db ? apr_hash_get(by_db, db, APR_HASH_KEY_STRING) : NULL;
        if (!e) {
            e = apr_pcalloc(pchild, sizeof(*e));
            e->s = site->s;
            e->db = db;
            e->names = "";
            e->sites = apr_array_make(pchild, 4, sizeof(gf_site_t *));
            e->types = apr_array_make(pchild, 8, sizeof(gf_type_t *));
            e->due_labels = apr_array_make(pchild, 1, sizeof(const char *));
            APR_ARRAY_PUSH(engines, gf_engine_t *) = e;
            if (db) apr_hash_set(by_db, db, APR_HASH_KEY_STRING, e);
            ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, site->s, GF_LOGNO(1610)
                         "genflow engine %d: database %s", engines->nelts - 1,
                         db ? db : "(not reachable now: an engine of its own)");
        }
        add_site(pchild, e, site);
    }
    return engines;
}

server_rec *gf_engine_server_for(const gf_engine_t *e, const char *site_name)
{
    int i;
    if (!site_name) return NULL;
    for (i = 0; i < e->sites->nelts; i++) {
        const gf_site_t *site = APR_ARRAY_IDX(e->sites, i, gf_site_t *);
        if (site->name && !strcmp(site->name, site_name)) return site->s;
    }
    return NULL;
}
