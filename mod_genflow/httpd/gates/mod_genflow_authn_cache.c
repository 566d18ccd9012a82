/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_authn_cache.c: the genflow-cache authn provider.
 *
 *     AuthBasicProvider genflow-cache
 *     GenFlowAuthnCacheProvider file
 *     AuthUserFile /etc/genflow/htpasswd
 *     GenFlowAuthnCacheWatch /etc/genflow/htpasswd
 *
 * A wrapper around another authn provider (Basic only: check_password).
 * A (user, password) pair the wrapped provider granted is remembered in a
 * mod_socache cache that every child shares, so the next requests of that
 * user skip the wrapped provider, and with it bcrypt, until the entry's TTL
 * runs out. Refusals are never remembered. gf_authn_cache.h explains the
 * lookup key (an HMAC under a secret that only lives in memory) and why a
 * watched password file that changes voids every entry at once.
 *
 * The wrapped provider runs in the same request, so it reads its own
 * per-directory settings (AuthUserFile, AuthDBDUserPWQuery, ...) exactly as
 * if it had been named in AuthBasicProvider itself.
 *
 * Its directives are the configuration's (mod_genflow_config_authn.c).
 * Lifecycle, like mod_authn_socache: pre_config registers the mutex type;
 * post_config (in the parent, before the fork) draws the secret and
 * creates the cache and its mutex when some location uses the provider;
 * child_init attaches the mutex.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_global_mutex.h>
#include <ap_provider.h>
#include <ap_socache.h>
#include <http_core.h>
#include <http_request.h>
#include <mod_auth.h>
#include <util_mutex.h>
#include <openssl/crypto.h>

#include "httpd/config/mod_genflow_process.h"
#include "httpd/gates/mod_genflow_authn_cache.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_authn_cache.h"

#define PROVIDER_NAME GF_AUTHN_CACHE_PROVIDER
#define MUTEX_TYPE    "genflow-authn-cache"

/* Server-wide state (the process record's member), rebuilt with each
 * configuration (ac_post_config) and gone with it. */
struct gf_authn_cache_state {
    const ap_socache_provider_t *socache;
    ap_socache_instance_t *instance;
    apr_global_mutex_t *mutex;     /* only for providers that are not MP-safe */
    server_rec *s;                 /* the main server, for the instance's destroy */
    /* The keyed HMAC. Its secret is drawn in the parent at every
     * configuration load and inherited by the children: never written to
     * disk, shared memory or the log, so the cache's contents are useless
     * without a process's memory. */
    gf_authn_hmac_t *hmac;
};

const apr_size_t gf_authn_cache_state_size = sizeof(struct gf_authn_cache_state);

static struct gf_authn_cache_state *cache(void)
{
    return GF_PROCESS_STATE(authn_cache);
}

/* ---- lifecycle ----------------------------------------------------------- */

/* The cache's resources go with the configuration's pool; the record's
 * member goes with it too. */
static apr_status_t destroy_cache(void *data)
{
    struct gf_authn_cache_state *st = data;
    if (st->instance && st->socache) {
        st->socache->destroy(st->instance, st->s);
    }
    gf_authn_cache_hmac_free(st->hmac);
    st->hmac = NULL;
    st->instance = NULL;
    return APR_SUCCESS;
}

/* Every hit takes the mutex. A process-shared pthread mutex costs nothing
 * uncontended; a file lock (fcntl, Debian's "Mutex file:... default") is
 * two system calls per lookup and measurably slows the hits (bench/auth),
 * so pthread is this type's default where APR has it. A "Mutex ... default"
 * line still overrides it; "Mutex pthread genflow-authn-cache" restores it. */
#if APR_HAS_PROC_PTHREAD_SERIALIZE
#define MUTEX_MECH APR_LOCK_PROC_PTHREAD
#else
#define MUTEX_MECH APR_LOCK_DEFAULT
#endif

static int ac_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    apr_status_t rv = ap_mutex_register(pconf, MUTEX_TYPE, NULL, MUTEX_MECH, 0);

    (void)ptemp;
    if (rv != APR_SUCCESS) {
        ap_log_perror(APLOG_MARK, APLOG_CRIT, rv, plog, GF_LOGNO(3101)
                      "genflow-cache: cannot register the %s mutex", MUTEX_TYPE);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static int ac_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    /* shmcb splits its memory into indexes (24 bytes each) and data (the
     * 32-byte id plus the 8-byte value) by these averages: an "object" of
     * 32 gives about as many indexes as the data area holds entries, some
     * 64 bytes per entry in all. */
    static struct ap_socache_hints hints = {
        GF_AUTHN_CACHE_KEY_LEN, 32, apr_time_from_sec(GF_AUTHN_CACHE_TTL_DEFAULT)
    };
    const gf_server_conf_t *sc = gf_server_conf(s);
    const char *spec = sc->authn_socache ? sc->authn_socache : GF_AUTHN_CACHE_SOCACHE_DEFAULT;
    const char *name, *args, *err;
    unsigned char secret[GF_AUTHN_CACHE_SECRET_LEN];
    ap_socache_instance_t *inst = NULL;
    const ap_socache_provider_t *prov;
    apr_status_t rv;

    (void)plog;
    if (!gf_conf_authn_cache_used()) {
        return OK;   /* nobody uses genflow-cache: no shared memory, no mutex */
    }
    gf_authn_cache_socache_spec(ptemp, spec, &name, &args);
    prov = ap_lookup_provider(AP_SOCACHE_PROVIDER_GROUP, name, AP_SOCACHE_PROVIDER_VERSION);
    if (!prov) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, GF_LOGNO(3102)
                     "GenFlowAuthnCache: the socache provider '%s' is not loaded; add "
                     "LoadModule socache_%s_module modules/mod_socache_%s.so "
                     "(genflow-cache keeps its entries there)", name, name, name);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!args && !strcmp(name, "shmcb")) {
        /* shmcb takes its size in the argument, after a file name it only
         * uses where anonymous shared memory is missing. */
        args = gf_authn_cache_shmcb_args(ptemp, ap_runtime_dir_relative(ptemp,
                                         "genflow-authn-cache"), sc->authn_socache_size);
    }
    if ((err = prov->create(&inst, args, ptemp, pconf)) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, GF_LOGNO(3103)
                     "GenFlowAuthnCache %s: %s", spec, err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (prov->flags & AP_SOCACHE_FLAG_NOTMPSAFE) {
        rv = ap_global_mutex_create(&cache()->mutex, NULL, MUTEX_TYPE, NULL, s, pconf, 0);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, GF_LOGNO(3104)
                         "genflow-cache: cannot create the %s mutex", MUTEX_TYPE);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    rv = prov->init(inst, "genflow-authn", &hints, s, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, GF_LOGNO(3105)
                     "genflow-cache: cannot initialise the %s cache", name);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = apr_generate_random_bytes(secret, sizeof(secret));
    cache()->hmac = rv == APR_SUCCESS ? gf_authn_cache_hmac_new(secret) : NULL;
    OPENSSL_cleanse(secret, sizeof(secret));
    if (!cache()->hmac) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, GF_LOGNO(3106)
                     "genflow-cache: no random bytes or no HMAC for the cache key");
        prov->destroy(inst, s);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    cache()->socache = prov;
    cache()->instance = inst;
    cache()->s = s;
    apr_pool_cleanup_register(pconf, cache(), destroy_cache, apr_pool_cleanup_null);
    return OK;
}

static void ac_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    if (!cache()->mutex) {
        return;
    }
    rv = apr_global_mutex_child_init(&cache()->mutex, apr_global_mutex_lockfile(cache()->mutex), pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, GF_LOGNO(3107)
                     "genflow-cache: cannot attach the %s mutex; the cache is off in this child",
                     MUTEX_TYPE);
        cache()->mutex = NULL;
        cache()->instance = NULL;
    }
}

/* ---- the provider --------------------------------------------------------- */

static apr_status_t cache_lock(request_rec *r)
{
    apr_status_t rv = cache()->mutex ? apr_global_mutex_lock(cache()->mutex) : APR_SUCCESS;
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, GF_LOGNO(3108)
                      "genflow-cache: cannot take the %s mutex", MUTEX_TYPE);
    }
    return rv;
}

static void cache_unlock(void)
{
    if (cache()->mutex) {
        apr_global_mutex_unlock(cache()->mutex);
    }
}

/* The wrapped provider's answer, under its own name in the notes (as
 * mod_auth_basic sets it) while it runs. */
static authn_status call_wrapped(request_rec *r, const struct gf_authn_cache_dir *ac,
                                 const char *user, const char *password)
{
    authn_status st;

    apr_table_setn(r->notes, AUTHN_PROVIDER_NAME_NOTE, ac->provider_name);
    st = ac->provider->check_password(r, user, password);
    apr_table_setn(r->notes, AUTHN_PROVIDER_NAME_NOTE, PROVIDER_NAME);
    return st;
}

/* The fields the entry's key is made of: the server and section, the
 * realm, the wrapped provider, the credentials, and the identity of each
 * watched file. 0 when a watched file cannot be read: which version of it
 * verified the password is not known, so no entry may be used or stored. */
static int key_fields(request_rec *r, const struct gf_authn_cache_dir *ac, const char *user,
                      const char *password, gf_authn_cache_fields_t *f)
{
    const char *path = NULL;
    int e;

    memset(f, 0, sizeof(*f));
    if ((e = gf_file_ids_read(r->pool, ac->watch, &f->files, &path)) != 0) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, e, r, GF_LOGNO(3110)
                      "genflow-cache: cannot stat the watched file %s; "
                      "verifying without the cache", path);
        return 0;
    }
    f->nfiles = f->files ? ac->watch->nelts : 0;
    f->context = gf_authn_cache_context(r->pool, r->server->server_hostname,
                                        (unsigned)r->server->port, ac->context);
    f->realm = ap_auth_name(r);
    f->provider = ac->provider_name;
    f->user = user;
    f->password = password;
    return 1;
}

/* A fresh entry under key? */
static int cached(request_rec *r, const unsigned char *key, apr_time_t now, int ttl,
                  const char *who)
{
    unsigned char val[GF_AUTHN_CACHE_VALUE_LEN + 8];
    unsigned int vallen = sizeof(val);
    apr_time_t expiry;
    apr_status_t rv;

    if (cache_lock(r) != APR_SUCCESS) return 0;
    rv = cache()->socache->retrieve(cache()->instance, r->server, key, GF_AUTHN_CACHE_KEY_LEN,
                                    val, &vallen, r->pool);
    cache_unlock();
    if (rv == APR_SUCCESS && gf_authn_cache_value_decode(val, vallen, &expiry)
        && gf_authn_cache_fresh(now, expiry, ttl)) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GF_LOGNO(3112)
                      "genflow-cache: hit for user %s (%" APR_TIME_T_FMT " s left)",
                      who, apr_time_sec(expiry - now));
        return 1;
    }
    return 0;
}

/* Remember a granted password under key for ttl seconds. */
static void remember(request_rec *r, const unsigned char *key, apr_time_t now, int ttl,
                     const char *who)
{
    unsigned char val[GF_AUTHN_CACHE_VALUE_LEN + 8];
    apr_time_t expiry = gf_authn_cache_expiry(now, ttl);
    apr_status_t rv;

    gf_authn_cache_value_encode(expiry, val);
    if (cache_lock(r) != APR_SUCCESS) return;
    rv = cache()->socache->store(cache()->instance, r->server, key, GF_AUTHN_CACHE_KEY_LEN,
                                 expiry, val, GF_AUTHN_CACHE_VALUE_LEN, r->pool);
    cache_unlock();
    if (rv == APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GF_LOGNO(3114)
                      "genflow-cache: stored user %s for %d s", who, ttl);
    }
    else {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r, GF_LOGNO(3115)
                      "genflow-cache: could not store user %s (cache full?)", who);
    }
}

static authn_status ac_check_password(request_rec *r, const char *user, const char *password)
{
    gf_dir_conf_t *dc = gf_dir_conf(r);
    const struct gf_authn_cache_dir *ac = dc ? dc->authn_cache : NULL;
    gf_authn_cache_fields_t f;
    unsigned char key[GF_AUTHN_CACHE_KEY_LEN];
    const char *who = ap_escape_logitem(r->pool, user);
    apr_time_t now;
    authn_status st;
    int ttl;

    if (!ac || !ac->provider) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GF_LOGNO(3109)
                      "genflow-cache is an AuthBasicProvider here, but no "
                      "GenFlowAuthnCacheProvider names the provider it wraps");
        return AUTH_GENERAL_ERROR;
    }
    if (!cache()->instance || !key_fields(r, ac, user, password, &f)) {
        return call_wrapped(r, ac, user, password);   /* the cache is off, or unusable */
    }
    if (!gf_authn_cache_key(cache()->hmac, &f, key)) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GF_LOGNO(3111)
                      "genflow-cache: HMAC failed; verifying without the cache");
        return call_wrapped(r, ac, user, password);
    }
    ttl = ac->ttl != GF_UNSET ? ac->ttl : GF_AUTHN_CACHE_TTL_DEFAULT;
    now = apr_time_now();
    if (cached(r, key, now, ttl, who)) return AUTH_GRANTED;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GF_LOGNO(3113)
                  "genflow-cache: miss for user %s, asking provider %s", who, ac->provider_name);
    st = call_wrapped(r, ac, user, password);
    /* Refusals and errors are never cached. */
    if (st == AUTH_GRANTED) remember(r, key, now, ttl, who);
    return st;
}

static const authn_provider cache_provider = {
    ac_check_password,
    NULL,   /* get_realm_hash: Digest is not supported */
};

void gf_authn_cache_register_hooks(apr_pool_t *p)
{
    ap_register_auth_provider(p, AUTHN_PROVIDER_GROUP, PROVIDER_NAME, AUTHN_PROVIDER_VERSION,
                              &cache_provider, AP_AUTH_INTERNAL_PER_CONF);
    ap_hook_pre_config(ac_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(ac_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(ac_child_init, NULL, NULL, APR_HOOK_MIDDLE);
}
