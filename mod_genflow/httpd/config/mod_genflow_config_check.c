/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_config_check.c: the checks across directives once the whole
 * configuration is read (post_config, see mod_genflow_config.h): every
 * network provider is usable, every chain names declared providers, every
 * server has somewhere to keep the pictures, mod_dbd's pool can be made,
 * and how the slowest attempt compares with the lease.
 */
#include <apr_hash.h>
#include <apr_strings.h>

#include "httpd/config/mod_genflow_config_int.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_conf_check.h"
#include <ap_mpm.h>

/* The longest one attempt can take (the slowest provider's longest path
 * plus storing the picture with every retry), against the lease. Longer
 * than the lease is fine by design — the listener renews it every third
 * of a lease while the attempt runs — but an administrator should know,
 * because a child that cannot renew (database gone) loses such attempts. */
static void log_worst_attempt(apr_pool_t *p, server_rec *s)
{
    gf_server_conf_t *sc = gf_server_conf(s);
    apr_interval_time_t worst = 0, store = 0;
    const char *slowest = "none";
    apr_hash_index_t *hi;
    long lease = gf_conf_lease_secs(sc);

    for (hi = apr_hash_first(p, sc->providers); hi; hi = apr_hash_next(hi)) {
        const gf_provider_t *prov = apr_hash_this_val(hi);
        apr_interval_time_t w = gf_provider_worst_attempt(prov);
        if (w > worst) {
            worst = w;
            slowest = prov->name;
        }
    }
    if (sc->storage) store += sc->storage->worst_put;
    if (sc->fallback_storage) store += sc->fallback_storage->worst_put;
    worst += store;
    if (worst > apr_time_from_sec(lease)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(1004)
                     "the worst attempt (%" APR_TIME_T_FMT " ms: provider %s plus %"
                     APR_TIME_T_FMT " ms of storage) exceeds GenFlowLeaseSeconds %ld by "
                     "design; the lease is renewed every %ld ms while an attempt runs",
                     apr_time_as_msec(worst), slowest, apr_time_as_msec(store), lease,
                     lease * 1000 / 3);
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, GF_LOGNO(1005)
                     "the worst attempt takes %" APR_TIME_T_FMT " ms (provider %s), within "
                     "GenFlowLeaseSeconds %ld", apr_time_as_msec(worst), slowest, lease);
    }
}

/* mod_dbd's pool settings, as written: mod_dbd keeps its record to
 * itself, so they are read off the configuration tree (the top level for
 * the main server, each <VirtualHost>'s own over those). */
static void dbd_read(apr_pool_t *p, const ap_directive_t *d, gf_conf_dbd_pool_t *pool)
{
    for (; d; d = d->next) {
        gf_conf_dbd_pool_take(p, pool, d->directive, d->args, d->filename, d->line_num);
    }
}

/* apr_reslist_create refuses min > keep > max, and mod_dbd then answers
 * every request that needs a connection with an error (our 503) while
 * the log says only "DBD: failed to initialise". Stop at startup
 * instead, naming both values. */
static int dbd_check(server_rec *s, const gf_conf_dbd_pool_t *pool, const char *server)
{
    int i = gf_conf_dbd_pool_bad(pool);
    if (i < 0) return 1;
    ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, GF_LOGNO(1006)
                 "%s %ld (%s) is above %s %ld (%s)%s%s: mod_dbd cannot make its "
                 "connection pool, and every request that needs the database would "
                 "answer 503; make %s at most %s", GF_CONF_DBD_POOL[i], pool->n[i],
                 pool->where[i], GF_CONF_DBD_POOL[i + 1], pool->n[i + 1], pool->where[i + 1],
                 server ? " for the virtual host " : "", server ? server : "",
                 GF_CONF_DBD_POOL[i], GF_CONF_DBD_POOL[i + 1]);
    return 0;
}

static int check_dbd_pools(apr_pool_t *p, server_rec *s)
{
    gf_conf_dbd_pool_t main_pool;
    const ap_directive_t *d;
    int threaded = 0;

    /* Only a threaded MPM's mod_dbd keeps a pool of these sizes. */
    if (ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded) != APR_SUCCESS || !threaded) return 1;
    gf_conf_dbd_pool_default(&main_pool);
    dbd_read(p, ap_conftree, &main_pool);
    if (!dbd_check(s, &main_pool, NULL)) return 0;
    for (d = ap_conftree; d; d = d->next) {
        gf_conf_dbd_pool_t vhost = main_pool;
        if (strcasecmp(d->directive, "<VirtualHost")) continue;
        dbd_read(p, d->first_child, &vhost);
        /* The section's arguments end with its '>'. */
        if (!dbd_check(s, &vhost, d->args ? apr_pstrndup(p, d->args, strcspn(d->args, ">"))
                                          : "?")) {
            return 0;
        }
    }
    return 1;
}

/* <Location>s of the main server apply to every virtual host, so once a
 * type is mounted anywhere every server needs somewhere to keep the
 * pictures (a vhost inherits the main server's storage by default): each
 * server's store and fallback. 0 (logged) when one has none or two. */
static int settle_storage(apr_pool_t *p, server_rec *s)
{
    server_rec *sp;
    for (sp = s; sp; sp = sp->next) {
        gf_server_conf_t *sc = gf_server_conf(sp);
        gf_storage_t *local = NULL;
        gf_conf_storage_t verdict = gf_conf_storage_check(sc->storage_dir != NULL,
                                                          sc->storage_url != NULL,
                                                          sc->cloudinary != NULL, sc->s3 != NULL);
        if (verdict == GF_CONF_STORAGE_NONE) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sp, GF_LOGNO(1002)
                         "GenFlowType is used but GenFlowStorageDir and GenFlowStorageURL "
                         "are not both set (nor GenFlowCloudinary, nor GenFlowS3) for server %s",
                         sp->server_hostname);
            return 0;
        }
        if (verdict == GF_CONF_STORAGE_TWO) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sp, GF_LOGNO(1007)
                         "GenFlowCloudinary and GenFlowS3 are both set for server %s: "
                         "results go to one store", sp->server_hostname);
            return 0;
        }
        if (sc->storage_dir) {
            local = gf_storage_local_create(p, sc->storage_dir, sc->storage_url);
        }
        /* Cloudinary first when configured, the local directory as the
         * place of last resort for bytes it would not take. A bucket has
         * no such fallback: it is what every node shares, and a picture in
         * one node's directory would answer 404 on the others. */
        sc->storage = sc->s3 ? sc->s3 : sc->cloudinary ? sc->cloudinary : local;
        sc->fallback_storage = sc->cloudinary ? local : NULL;
    }
    return 1;
}

/* A location whose streams are on a host of their own (GenFlowEventsBase,
 * there or for its whole server) signs their URLs: its server needs the
 * key. */
static int check_events_key(server_rec *sp, const gf_mount_t *m)
{
    const gf_dir_conf_t *server_dc = ap_get_module_config(sp->lookup_defaults, &genflow_module);
    const char *base = gf_conf_events_key_missing(m->dc->events_base,
                                                  server_dc ? server_dc->events_base : NULL,
                                                  gf_server_conf(sp)->events_keys != NULL);
    if (!base) return 1;
    ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sp, GF_LOGNO(1008)
                 "%s: GenFlowEventsBase %s needs GenFlowEventsSecretFile (the key of the "
                 "tokens in its events URLs)%s%s", m->where, base,
                 sp->is_virtual ? " for the virtual host " : "",
                 sp->is_virtual ? sp->server_hostname : "");
    return 0;
}

int gf_conf_check(apr_pool_t *p, server_rec *s)
{
    apr_array_header_t *mounts = gf_conf_mounts();
    int i;
    server_rec *sp;

    /* Each declared provider that talks to a network has a key and an
     * allowed base URL. */
    for (sp = s; sp; sp = sp->next) {
        apr_hash_index_t *hi;
        for (hi = apr_hash_first(p, gf_server_conf(sp)->providers); hi; hi = apr_hash_next(hi)) {
            const gf_provider_t *prov = apr_hash_this_val(hi);
            const char *err = prov->kind->check ? prov->kind->check(p, prov) : NULL;
            if (err) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sp, GF_LOGNO(1003) "GenFlowProvider: %s",
                             err);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }
    if (!check_dbd_pools(p, s)) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!mounts) {
        return OK;
    }
    /* Each type's providers (t->providers) and the chains' check against
     * each server's declarations are the site's layout's, read in
     * check_config (mod_genflow_site_chains.c). A <Location> of the main
     * server applies to every virtual host. */
    for (i = 0; i < mounts->nelts; i++) {
        gf_mount_t *m = &APR_ARRAY_IDX(mounts, i, gf_mount_t);
        for (sp = s; sp; sp = sp->next) {
            if (sp != m->s && m->s->is_virtual) continue;
            if (!check_events_key(sp, m)) return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    if (!settle_storage(p, s)) return HTTP_INTERNAL_SERVER_ERROR;
    log_worst_attempt(p, s);
    return OK;
}
