/* mod_genflow_sites.h: the servers (main, virtual hosts) that mount types,
 * and how they share databases.
 */
#ifndef MOD_GENFLOW_SITES_H
#define MOD_GENFLOW_SITES_H

#include "httpd/mod_genflow_db.h"

/* mod_genflow_sites.c: the servers (main, virtual hosts) that mount types */
typedef struct {
    const char *name;            /* "host:port", recorded with each generation;
                                  * NULL for the main server */
    server_rec *s;
    apr_array_header_t *types;   /* gf_type_t *: the types its requests reach */
    const char *due_label;       /* its due-work statement (mod_genflow_db.c) */
} gf_site_t;
/* Build the list (post_config, after gf_conf_check); refuse two sites of
 * one name and a storage directory the children cannot write. */
int gf_sites_post_config(apr_pool_t *pconf, server_rec *s);
apr_array_header_t *gf_sites(void);              /* gf_site_t *, or NULL */
/* One due-work statement (gf_sql_stmt_t) per distinct set of types that
 * sites mount, each site's due_label set to its own; after
 * gf_sites_post_config, for gf_db_register_statements. */
apr_array_header_t *gf_sites_due_statements(apr_pool_t *p);

/* mod_genflow_sites_db.c: the child's sites grouped by database, one
 * engine each */
typedef struct {
    server_rec *s;               /* its first site's server: claims, sweeps, listener */
    const char *db;              /* where its connections go, or NULL: not known at start */
    const char *names;           /* its virtual hosts' names, newline-separated: the
                                  * generations it claims are theirs or the main server's */
    apr_array_header_t *sites;   /* gf_site_t * on this database */
    apr_array_header_t *types;   /* gf_type_t *: the types its sites mount */
    apr_array_header_t *due_labels; /* const char *: its distinct due-work statements */
} gf_engine_t;
/* child_init: group the sites by database (gf_engine_t *). */
apr_array_header_t *gf_engines_build(apr_pool_t *pchild);
/* The server whose settings a row of engine e gets, by the site name it
 * recorded; NULL for the main server's rows (use e->s). */
server_rec *gf_engine_server_for(const gf_engine_t *e, const char *site_name);

#endif
