/* mod_genflow_config_check.c: the checks across directives once the whole
 * configuration is read (post_config, see mod_genflow_config.h): every
 * network provider is usable, every chain names declared providers, every
 * server has somewhere to keep the pictures, and how the slowest attempt
 * compares with the lease.
 */
#include <apr_hash.h>

#include "httpd/mod_genflow_config.h"

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

int gf_conf_check(apr_pool_t *p, server_rec *s)
{
    apr_array_header_t *mounts = gf_conf_mounts();
    int i, j;
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
    if (!mounts) {
        return OK;
    }
    /* A generation is worked with the providers of the server its request
     * came to: a <Location> of the main server applies to every virtual
     * host, so each of them must have what its chain names. */
    for (i = 0; i < mounts->nelts; i++) {
        gf_mount_t *m = &APR_ARRAY_IDX(mounts, i, gf_mount_t);
        gf_type_t *t = m->dc->type;
        /* The providers the type's rows are made to call: those whose
         * limits a claim of the type takes places of. */
        if (!t->providers) t->providers = apr_hash_make(p);
        if (!m->dc->chain) {
            apr_hash_set(t->providers, "local", APR_HASH_KEY_STRING, "local");
            continue;
        }
        for (j = 0; j < m->dc->chain->nelts; j++) {
            const char *name = APR_ARRAY_IDX(m->dc->chain, j, gf_chain_entry_t).provider;
            apr_hash_set(t->providers, name, APR_HASH_KEY_STRING, name);
        }
        for (sp = s; sp; sp = sp->next) {
            gf_server_conf_t *sc = gf_server_conf(sp);
            if (sp != m->s && m->s->is_virtual) continue;
            for (j = 0; j < m->dc->chain->nelts; j++) {
                gf_chain_entry_t *e = &APR_ARRAY_IDX(m->dc->chain, j, gf_chain_entry_t);
                if (!apr_hash_get(sc->providers, e->provider, APR_HASH_KEY_STRING)) {
                    ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sp, GF_LOGNO(1001)
                                 "%s: GenFlowProviders names '%s', which no GenFlowProvider "
                                 "declares (built in: local)%s%s", m->where, e->provider,
                                 sp->is_virtual ? " for the virtual host " : "",
                                 sp->is_virtual ? sp->server_hostname : "");
                    return HTTP_INTERNAL_SERVER_ERROR;
                }
            }
        }
    }
    /* <Location>s of the main server apply to every virtual host, so once
     * a type is mounted anywhere every server needs somewhere to keep the
     * pictures (a vhost inherits the main server's storage by default). */
    for (sp = s; sp; sp = sp->next) {
        gf_server_conf_t *sc = gf_server_conf(sp);
        gf_storage_t *local = NULL;
        if ((sc->storage_dir != NULL) != (sc->storage_url != NULL)
            || (!sc->storage_dir && !sc->cloudinary)) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sp, GF_LOGNO(1002)
                         "GenFlowType is used but GenFlowStorageDir and GenFlowStorageURL "
                         "are not both set (nor GenFlowCloudinary) for server %s",
                         sp->server_hostname);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (sc->storage_dir) {
            local = gf_storage_local_create(p, sc->storage_dir, sc->storage_url);
        }
        /* Cloudinary first when configured, the local directory as the
         * place of last resort for bytes it would not take. */
        sc->storage = sc->cloudinary ? sc->cloudinary : local;
        sc->fallback_storage = sc->cloudinary ? local : NULL;
    }
    log_worst_attempt(p, s);
    return OK;
}
