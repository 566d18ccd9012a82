/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_servers.h: the servers (main, virtual hosts) that mount types,
 * and how they share databases.
 */
#ifndef MOD_GENFLOW_SERVERS_H
#define MOD_GENFLOW_SERVERS_H
#include "httpd/config/mod_genflow_config.h"


/* mod_genflow_servers.c: the servers (main, virtual hosts) that mount types */
typedef struct {
    const char *name;            /* "host:port", recorded with each generation;
                                  * NULL for the main server */
    server_rec *s;
    apr_array_header_t *types;   /* gf_type_t *: the types its requests reach */
    const char *due_label;       /* its due-work statement (mod_genflow_db.c) */
} gf_server_t;
/* Build the list (post_config, after gf_conf_check); refuse two servers of
 * one name and a storage directory the children cannot write. */
int gf_servers_post_config(apr_pool_t *pconf, server_rec *s);
apr_array_header_t *gf_servers(void);              /* gf_server_t *, or NULL */
/* One due-work statement (gf_sql_stmt_t) per distinct set of types that
 * servers mount, each server's due_label set to its own; after
 * gf_servers_post_config, for gf_db_register_statements. */
apr_array_header_t *gf_servers_due_statements(apr_pool_t *p);
/* The name of a virtual host, "host:port": its ServerName and the port it
 * names, or the port of its first address (the one rule for generations'
 * server names and the providers' keys). */
const char *gf_server_label(apr_pool_t *p, server_rec *s);

/* Every declared provider once (a virtual host's own declaration of a name
 * is its own; one it inherits is the main server's), in a stable order (by
 * server, then name), with the key by which the shared states of its
 * circuit breaker and its limits find it: "host:port/name", "/name" for
 * the main server's. The one owner of the providers' keys. */
typedef struct {
    gf_provider_t *prov;
    const char *server;          /* gf_server_label, "" for the main server */
    const char *key;
} gf_provider_key_t;
/* Made once per configuration, in pconf, on the first call of
 * post_config (s: the main server); later calls (p, s: NULL) read it. */
apr_array_header_t *gf_servers_provider_keys(apr_pool_t *pconf, server_rec *s);

/* Where the look for stored uploads without a row stands: when it runs
 * next, and after which key of each store (main, fallback) it goes on. */
typedef struct {
    apr_time_t at;
    char after[2][128];
} gf_uploads_scan_t;

/* Where the sweep of old previews stands: when it looks next, and after
 * which key of the store (its database's first server's). */
typedef struct {
    apr_time_t at;
    char after[128];
} gf_previews_scan_t;

/* mod_genflow_servers_db.c: the child's servers grouped by database: what
 * the engine's workers claim from, sweep and listen to, one database each */
typedef struct {
    server_rec *s;               /* its first server's server: claims, sweeps, listener */
    const char *db;              /* where its connections go, or NULL: not known at start */
    const char *names;           /* its virtual hosts' names, newline-separated: the
                                  * generations it claims are theirs or the main server's */
    apr_array_header_t *servers;   /* gf_server_t * on this database */
    apr_array_header_t *types;   /* gf_type_t *: the types its servers mount */
    apr_array_header_t *due_labels; /* const char *: its distinct due-work statements */
    gf_uploads_scan_t uploads;   /* worker 0's look for orphaned uploads */
    gf_previews_scan_t previews; /* and for old previews */
} gf_database_t;
/* child_init: group the servers by database (gf_database_t *). */
apr_array_header_t *gf_databases_build(apr_pool_t *pchild);
/* The server whose settings a row of database e gets, by the server name it
 * recorded; NULL for the main server's rows (use e->s). */
server_rec *gf_database_server_for(const gf_database_t *e, const char *server_name);
/* Database e's types that name provider, highest priority first (the
 * order of e->types among equals), into out (at most max); and the
 * database of databases that serves server s (NULL: none). */
int gf_database_types_of(const gf_database_t *e, const char *provider, const gf_type_t **out,
                         int max);
const gf_database_t *gf_database_of(const apr_array_header_t *databases, server_rec *s);

#endif
