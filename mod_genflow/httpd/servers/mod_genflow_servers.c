/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_servers.c: the servers (main and virtual hosts) that mount
 * types, and what a generation records of them.
 *
 * Each <VirtualHost> may set its own providers, storage, lease and
 * database (DBDParams). A request there creates its generation with the
 * name of its server, "host:port" (sql/015, server_name), and the workers,
 * which serve every server of the child, work it with that server's
 * settings (gf_database_server_for). The name is what stays true across
 * restarts and across httpd nodes that share a database; a server_rec
 * pointer would not.
 *
 * post_config builds the list once per (re)start, refuses two servers
 * with types under one name (their generations could not be told apart),
 * and checks that every local storage directory exists and that the user
 * httpd's children run as can write it: otherwise every job would fail
 * with STORAGE_ERROR and nothing would say why.
 */
#include <errno.h>
#include <stdlib.h>
#include <grp.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <http_core.h>
#include <unixd.h>

#include "httpd/config/mod_genflow_process.h"
#include "httpd/servers/mod_genflow_servers.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_server.h"

/* The servers that mount types: the process record's member, rebuilt
 * with each configuration. */
struct gf_servers_state {
    apr_array_header_t *servers;   /* gf_server_t * */
    apr_hash_t *by_name;
    apr_array_header_t *provider_keys; /* gf_provider_key_t, once made */
};

const apr_size_t gf_servers_state_size = sizeof(struct gf_servers_state);

static struct gf_servers_state *servers_state(void)
{
    return GF_PROCESS_STATE(servers);
}

apr_array_header_t *gf_servers(void)
{
    return servers_state()->servers;
}

/* Does virtual host s work generations differently from the main server:
 * its own providers, storage or lease? (What a worker takes from the
 * server; request-time settings such as credits and limits do not matter
 * to it.) A host that inherits all of them is worked exactly as the main
 * server, whatever database it uses: its generations live in that
 * database, where only that database's engine can claim them. */
static int own_worker_settings(apr_pool_t *p, server_rec *main_s, server_rec *s)
{
    gf_server_conf_t *m = gf_server_conf(main_s), *v = gf_server_conf(s);
    apr_hash_index_t *hi;

    if (v->storage_dir != m->storage_dir || v->storage_url != m->storage_url
        || v->cloudinary != m->cloudinary || v->s3 != m->s3
        || gf_conf_lease_secs(v) != gf_conf_lease_secs(m)
        || apr_hash_count(v->providers) != apr_hash_count(m->providers)) {
        return 1;
    }
    for (hi = apr_hash_first(p, v->providers); hi; hi = apr_hash_next(hi)) {
        const char *name = apr_hash_this_key(hi);
        if (apr_hash_get(m->providers, name, APR_HASH_KEY_STRING) != apr_hash_this_val(hi)) {
            return 1;
        }
    }
    return 0;
}

const char *gf_server_label(apr_pool_t *p, server_rec *s)
{
    apr_port_t port = s->port;
    if (!port && s->addrs) port = s->addrs->host_port;
    return gf_server_label_of(p, s->server_hostname, port);
}

/* What a generation records of the server that created it: a virtual
 * host with worker settings of its own is named by its label. The main
 * server, and every host worked exactly as it is, have no name: every
 * httpd node has a main server, so any node on the database may work
 * those generations (nodes on one database run the same configuration). */
static const char *server_name(apr_pool_t *p, server_rec *main_s, server_rec *s)
{
    if (!s->is_virtual || !own_worker_settings(p, main_s, s)) return NULL;
    return gf_server_label(p, s);
}

static int cmp_provider(const void *a, const void *b)
{
    return strcmp((*(gf_provider_t *const *)a)->name, (*(gf_provider_t *const *)b)->name);
}

/* The providers sv declares itself (not those it inherits from a server
 * already seen), by name. */
static apr_array_header_t *declared_by(apr_pool_t *p, server_rec *sv, apr_hash_t *seen)
{
    gf_server_conf_t *sc = gf_server_conf(sv);
    apr_array_header_t *provs = apr_array_make(p, 16, sizeof(gf_provider_t *));
    apr_hash_index_t *hi;

    for (hi = sc && sc->providers ? apr_hash_first(p, sc->providers) : NULL; hi;
         hi = apr_hash_next(hi)) {
        void *v;
        apr_hash_this(hi, NULL, NULL, &v);
        if (apr_hash_get(seen, &v, sizeof(v))) continue;
        apr_hash_set(seen, apr_pmemdup(p, &v, sizeof(v)), sizeof(v), v);
        APR_ARRAY_PUSH(provs, gf_provider_t *) = v;
    }
    qsort(provs->elts, (size_t)provs->nelts, sizeof(gf_provider_t *), cmp_provider);
    return provs;
}

apr_array_header_t *gf_servers_provider_keys(apr_pool_t *pconf, server_rec *s)
{
    apr_array_header_t *out;
    apr_hash_t *seen, *keys;
    server_rec *sv;

    if (servers_state()->provider_keys || !pconf || !s) return servers_state()->provider_keys;
    out = apr_array_make(pconf, 16, sizeof(gf_provider_key_t));
    seen = apr_hash_make(pconf);
    keys = apr_hash_make(pconf);
    for (sv = s; sv; sv = sv->next) {
        apr_array_header_t *provs = declared_by(pconf, sv, seen);
        int i;
        for (i = 0; i < provs->nelts; i++) {
            gf_provider_key_t *pk = apr_array_push(out);
            pk->prov = APR_ARRAY_IDX(provs, i, gf_provider_t *);
            pk->server = sv == s ? "" : gf_server_label(pconf, sv);
            pk->key = gf_server_provider_key(pconf, keys, pk->server, pk->prov->name);
            apr_hash_set(keys, pk->key, APR_HASH_KEY_STRING, pk);
        }
    }
    servers_state()->provider_keys = out;
    return out;
}

static const char *where(apr_pool_t *p, const server_rec *s)
{
    return s->is_virtual && s->defn_name
        ? apr_psprintf(p, "virtual host %s, <VirtualHost> at %s:%u",
                       s->server_hostname ? s->server_hostname : "?", s->defn_name,
                       s->defn_line_number)
        : "the main server";
}

/* The types a request on s can reach: every <Location> of s (those of the
 * main server are part of each virtual host's list) that sets GenFlowType. */
static apr_array_header_t *mounted_types(apr_pool_t *p, server_rec *s)
{
    core_server_config *csc = ap_get_core_module_config(s->module_config);
    ap_conf_vector_t **sec = (ap_conf_vector_t **)csc->sec_url->elts;
    apr_array_header_t *types = apr_array_make(p, 8, sizeof(gf_type_t *));
    apr_hash_t *seen = apr_hash_make(p);
    int i;

    for (i = 0; i < csc->sec_url->nelts; i++) {
        gf_dir_conf_t *dc = ap_get_module_config(sec[i], &genflow_module);
        if (!dc || !dc->type || apr_hash_get(seen, dc->type->name, APR_HASH_KEY_STRING)) continue;
        apr_hash_set(seen, dc->type->name, APR_HASH_KEY_STRING, dc->type);
        APR_ARRAY_PUSH(types, gf_type_t *) = dc->type;
    }
    return types;
}

/* Can uid (with primary group gid, named user) write and enter a
 * directory of mode st? (gf_server_may_write, with user's groups.) */
static int user_may_write(const struct stat *st, uid_t uid, gid_t gid, const char *user)
{
    gid_t groups[64];
    int n = (int)(sizeof(groups) / sizeof(groups[0]));

    /* The group list only when it decides: root and the owner need none,
     * and the lookup may go to a directory service. */
    if (!gf_server_needs_groups(st->st_uid, uid)) n = 0;
    else if (user && getgrouplist(user, gid, groups, &n) < 0) n = 0;
    if (!user && n) {
        groups[0] = gid;
        n = 1;
    }
    return gf_server_may_write(st->st_mode, st->st_uid, st->st_gid, uid, groups, n);
}

/* GenFlowStorageDir of a server: a directory the children can write. */
static int check_storage_dir(apr_pool_t *p, const gf_server_t *server)
{
    const char *dir = gf_server_conf(server->s)->storage_dir;
    struct stat st;
    const char *user;
    uid_t uid;
    gid_t gid;

    if (!dir) return OK;
    /* Started as root, the children switch to User/Group; else they keep
     * the identity httpd was started with. */
    if (geteuid() == 0) {
        uid = ap_unixd_config.user_id;
        gid = ap_unixd_config.group_id;
        user = ap_unixd_config.user_name;
    }
    else {
        uid = geteuid();
        gid = getegid();
        user = NULL;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        int err = errno;
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, server->s, GF_LOGNO(1010)
                     "GenFlowStorageDir %s (%s) %s; create it, writable by the user httpd "
                     "runs as (%s, uid %ld), e.g. install -d -o %s %s",
                     dir, where(p, server->s),
                     stat(dir, &st) != 0 ? apr_psprintf(p, "does not exist (%s)", strerror(err))
                                         : "is not a directory",
                     user ? user : "the user who started httpd", (long)uid,
                     user ? user : apr_ltoa(p, (long)uid), dir);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (user ? !user_may_write(&st, uid, gid, user) : access(dir, W_OK | X_OK) != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, server->s, GF_LOGNO(1011)
                     "GenFlowStorageDir %s (%s) is not writable by %s (uid %ld), the user "
                     "httpd's children run as: every generation would fail with STORAGE_ERROR; "
                     "e.g. chown %s %s",
                     dir, where(p, server->s),
                     user ? user : "the user who started httpd", (long)uid,
                     user ? user : apr_ltoa(p, (long)uid), dir);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

int gf_servers_post_config(apr_pool_t *pconf, server_rec *s)
{
    server_rec *sp;
    int i;

    servers_state()->servers = apr_array_make(pconf, 4, sizeof(gf_server_t *));
    servers_state()->by_name = apr_hash_make(pconf);
    for (sp = s; sp; sp = sp->next) {
        apr_array_header_t *types = mounted_types(pconf, sp);
        gf_server_t *server, *other;
        if (types->nelts == 0) continue;
        server = apr_pcalloc(pconf, sizeof(*server));
        APR_ARRAY_PUSH(servers_state()->servers, gf_server_t *) = server;
        server->name = server_name(pconf, s, sp);
        server->s = sp;
        server->types = types;
        gf_server_conf(sp)->server_name = server->name;
        if (!server->name) continue;
        if ((other = apr_hash_get(servers_state()->by_name, server->name, APR_HASH_KEY_STRING)) != NULL) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sp, GF_LOGNO(1012)
                         "%s and %s both mount GenFlowTypes as server \"%s\": a generation "
                         "records the server that created it by that name, so the workers "
                         "could not tell whose providers, storage and database apply; give "
                         "one of them its own ServerName", where(pconf, other->s),
                         where(pconf, sp), server->name);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        apr_hash_set(servers_state()->by_name, server->name, APR_HASH_KEY_STRING, server);
    }
    for (i = 0; i < servers_state()->servers->nelts; i++) {
        if (check_storage_dir(pconf, APR_ARRAY_IDX(servers_state()->servers, i, gf_server_t *)) != OK) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

/* One due-work statement per distinct set of types that servers mount:
 * a database that serves only some types may have only their tables, and
 * the usual case (every virtual host inherits the main server's types)
 * needs one statement, not one per host. */
apr_array_header_t *gf_servers_due_statements(apr_pool_t *p)
{
    apr_array_header_t *statements = apr_array_make(p, 2, sizeof(gf_sql_stmt_t));
    apr_hash_t *by_set = apr_hash_make(p);
    int i, j;

    for (i = 0; servers_state()->servers && i < servers_state()->servers->nelts; i++) {
        gf_server_t *server = APR_ARRAY_IDX(servers_state()->servers, i, gf_server_t *);
        int n = server->types->nelts;
        const char **names = apr_pcalloc(p, sizeof(char *) * (apr_size_t)(n + 1));
        const char **tables = apr_pcalloc(p, sizeof(char *) * (apr_size_t)(n + 1));
        const char **providers = apr_pcalloc(p, sizeof(char *) * (apr_size_t)(n + 1));
        const char *set = "";
        for (j = 0; j < n; j++) {
            gf_type_t *t = APR_ARRAY_IDX(server->types, j, gf_type_t *);
            names[j] = t->name;
            tables[j] = t->table;
            /* The providers t's chains name, sorted, newline-separated. */
            providers[j] = gf_server_sorted_keys(p, t->providers);
            set = apr_pstrcat(p, set, t->name, "\n", NULL);
        }
        server->due_label = apr_hash_get(by_set, set, APR_HASH_KEY_STRING);
        if (!server->due_label) {
            server->due_label = apr_psprintf(p, "%s_%u", GF_SQL_DUE_TYPES,
                                           apr_hash_count(by_set));
            /* Provider names are validated where they are declared. */
            if (!gf_sql_due_types_statement(p, server->due_label, names, tables, providers, n,
                                            statements)) {
                return NULL;
            }
            apr_hash_set(by_set, set, APR_HASH_KEY_STRING, server->due_label);
        }
    }
    return statements;
}
