/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_config_merge.c: the module's configuration records (see
 * mod_genflow_config.h): a server's and a location's, as httpd creates
 * them for each context, merges them down to the request's, and the
 * module looks them up.
 */
#include <apr_strings.h>

#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_private.h"

gf_server_conf_t *gf_server_conf(server_rec *s)
{
    return ap_get_module_config(s->module_config, &genflow_module);
}

gf_dir_conf_t *gf_dir_conf(request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &genflow_module);
}

/* ---- server config ------------------------------------------------------ */

void *gf_create_server_conf(apr_pool_t *p, server_rec *s)
{
    gf_server_conf_t *sc = apr_pcalloc(p, sizeof(*sc));
    const char *err;
    gf_provider_t *local = gf_provider_create(p, "local", "local", &err);

    (void)s;
    sc->providers = apr_hash_make(p);
    /* The built-in provider needs no declaration. */
    apr_hash_set(sc->providers, local->name, APR_HASH_KEY_STRING, local);
    sc->builtin_local = local;
#define UNSET(getter, type, field, ...) sc->field = GF_UNSET;
    GF_SERVER_SETTINGS(UNSET)
#undef UNSET
    sc->unnamed_statements = GF_UNSET;
    sc->events_host = GF_UNSET;
    return sc;
}

/* The more specific setting wins when it was given (mod_md's DEF_VAL
 * pattern): numbers use GF_UNSET, pointers NULL. */
#define MERGE_NUM(to, f) ((to)->f = add->f != GF_UNSET ? add->f : base->f)
#define MERGE_PTR(to, f) ((to)->f = add->f ? add->f : base->f)

void *gf_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    gf_server_conf_t *base = basev, *add = addv;
    gf_server_conf_t *sc = apr_pcalloc(p, sizeof(*sc));

    sc->providers = apr_hash_overlay(p, add->providers, base->providers);
    /* A virtual host's built-in `local` does not hide a `local` the main
     * server declared (GenFlowProvider local local latency=…). */
    if (apr_hash_get(add->providers, "local", APR_HASH_KEY_STRING) == add->builtin_local) {
        apr_hash_set(sc->providers, "local", APR_HASH_KEY_STRING,
                     apr_hash_get(base->providers, "local", APR_HASH_KEY_STRING));
    }
    sc->builtin_local = base->builtin_local;
#define MERGE(getter, type, field, ...) MERGE_NUM(sc, field);
    GF_SERVER_SETTINGS(MERGE)
#undef MERGE
    MERGE_PTR(sc, storage_dir);
    MERGE_PTR(sc, storage_url);
    MERGE_PTR(sc, cloudinary);
    MERGE_PTR(sc, s3);
    MERGE_PTR(sc, webhook_secrets);
    MERGE_PTR(sc, events_keys);
    MERGE_NUM(sc, unnamed_statements);
    MERGE_PTR(sc, listen_params);
    MERGE_NUM(sc, events_host);
    MERGE_PTR(sc, admins);
    return sc;
}

/* ---- directory config --------------------------------------------------- */

void *gf_create_dir_conf(apr_pool_t *p, char *dir)
{
    gf_dir_conf_t *dc = apr_pcalloc(p, sizeof(*dc));
    dc->base = dir ? apr_pstrdup(p, dir) : NULL;
#define UNSET(getter, type, field, ...) dc->field = GF_UNSET;
    GF_DIR_SETTINGS(UNSET)
    dc->trace_trust_inbound = GF_UNSET;
#undef UNSET
    return dc;
}

/* A section's genflow-cache settings over its parent's (merged here, with
 * the rest of the record, so that the merge calls nothing of the files
 * that set them: they call the merge's look-ups). */
static struct gf_authn_cache_dir *merge_authn_cache(apr_pool_t *p,
                                                   struct gf_authn_cache_dir *base,
                                                   struct gf_authn_cache_dir *add)
{
    struct gf_authn_cache_dir *m;

    if (!base || !add) {
        return add ? add : base;
    }
    m = apr_pcalloc(p, sizeof(*m));
    if (add->provider) {
        m->provider_name = add->provider_name;
        m->provider = add->provider;
        m->context = add->context;
    }
    else {
        m->provider_name = base->provider_name;
        m->provider = base->provider;
        m->context = base->context;
    }
    m->ttl = add->ttl != GF_UNSET ? add->ttl : base->ttl;
    m->watch = add->watch ? add->watch : base->watch;
    return m;
}

void *gf_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    gf_dir_conf_t *base = basev, *add = addv;
    gf_dir_conf_t *dc = apr_pcalloc(p, sizeof(*dc));

    /* The base path of a type is where GenFlowType was given, so a nested
     * <Location> keeps routing relative to the type's mount point. */
    dc->base = add->type ? add->base : (base->type ? base->base : add->base);
    MERGE_PTR(dc, type);
    MERGE_PTR(dc, chain);
#define MERGE(getter, type, field, ...) MERGE_NUM(dc, field);
    GF_DIR_SETTINGS(MERGE)
#undef MERGE
    dc->needs_set = add->needs_set || base->needs_set;
    dc->needs = add->needs_set ? add->needs : base->needs;
    dc->accepts_set = add->accepts_set || base->accepts_set;
    dc->accepts = add->accepts_set ? add->accepts : base->accepts;
    MERGE_PTR(dc, prompt_template);
    dc->authn_cache = merge_authn_cache(p, base->authn_cache, add->authn_cache);
    MERGE_PTR(dc, cors);
    MERGE_PTR(dc, webhook_origins);         /* "none" is a list of its own: it overrides */
    MERGE_PTR(dc, picture_origins);
    MERGE_NUM(dc, trace_trust_inbound);
    MERGE_PTR(dc, events_base);
    MERGE_PTR(dc, lines);                   /* a location's own list replaces its parent's */
    MERGE_PTR(dc, policy);                  /* "off" is a record of its own: it overrides */
    return dc;
}
