/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_config_authn.c: the directives of the genflow-cache authn
 * provider (mod_genflow_authn_cache.c runs it): the server-wide cache
 * (GenFlowAuthnCache, GenFlowAuthnCacheSize, main server only) and each
 * section's wrapped provider, TTL and watched files.
 */
#include <string.h>
#include <apr_strings.h>
#include <ap_provider.h>
#include <http_core.h>

#include "httpd/config/mod_genflow_process.h"
#include "httpd/config/mod_genflow_config_int.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_authn_cache.h"

/* Does some section of the configuration name a wrapped provider? The
 * process record's member, gone with the configuration. */
struct gf_authn_state {
    int used;
};
const apr_size_t gf_authn_state_size = sizeof(struct gf_authn_state);

int gf_conf_authn_cache_used(void)
{
    return GF_PROCESS_STATE(authn)->used;
}

static struct gf_authn_cache_dir *dir_settings(cmd_parms *cmd, void *dcv)
{
    gf_dir_conf_t *dc = dcv;
    if (!dc->authn_cache) {
        dc->authn_cache = apr_pcalloc(cmd->pool, sizeof(*dc->authn_cache));
        dc->authn_cache->ttl = GF_UNSET;
    }
    return dc->authn_cache;
}

const char *gf_authn_cache_set_socache(cmd_parms *cmd, void *dcv, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dcv;
    if (err || (err = gf_authn_cache_check_socache(arg)) != NULL) return err;
    /* Looked up in post_config, so the order of LoadModule lines does not
     * matter; a provider that is not loaded then stops the startup. */
    gf_server_conf(cmd->server)->authn_socache = arg;
    return NULL;
}

const char *gf_authn_cache_set_size(cmd_parms *cmd, void *dcv, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    (void)dcv;
    if (err) return err;
    if ((err = gf_authn_cache_parse_size(cmd->temp_pool, arg,
                                          &gf_server_conf(cmd->server)->authn_socache_size)) != NULL) {
        return apr_psprintf(cmd->pool, "GenFlowAuthnCacheSize %s", err);
    }
    return NULL;
}

const char *gf_authn_cache_set_provider(cmd_parms *cmd, void *dcv, const char *arg)
{
    struct gf_authn_cache_dir *ac = dir_settings(cmd, dcv);
    const authn_provider *prov;
    const char *err = gf_authn_cache_check_wrap(arg);

    if (err) return err;
    /* As mod_auth_basic does for AuthBasicProvider: providers register in
     * their modules' register_hooks, which ran at their LoadModule. */
    prov = ap_lookup_provider(AUTHN_PROVIDER_GROUP, arg, AUTHN_PROVIDER_VERSION);
    if (!prov) {
        return apr_psprintf(cmd->pool, "GenFlowAuthnCacheProvider: unknown authn provider '%s' "
                            "(is its module loaded, e.g. mod_authn_%s?)", arg, arg);
    }
    if (!prov->check_password) {
        return apr_psprintf(cmd->pool, "GenFlowAuthnCacheProvider: the authn provider '%s' "
                            "does not support Basic authentication", arg);
    }
    ac->provider_name = arg;
    ac->provider = prov;
    /* Entries of one section never serve another: the section is part of
     * every key. */
    ac->context = cmd->path ? cmd->path : "(server)";
    GF_PROCESS_STATE(authn)->used = 1;
    return NULL;
}

const char *gf_authn_cache_set_ttl(cmd_parms *cmd, void *dcv, const char *arg)
{
    struct gf_authn_cache_dir *ac = dir_settings(cmd, dcv);
    const char *err = gf_authn_cache_parse_ttl(arg, &ac->ttl);

    return err ? apr_psprintf(cmd->pool, "GenFlowAuthnCacheTTL %s", err) : NULL;
}

const char *gf_authn_cache_add_watch(cmd_parms *cmd, void *dcv, const char *arg)
{
    struct gf_authn_cache_dir *ac = dir_settings(cmd, dcv);
    const char *path = ap_server_root_relative(cmd->pool, arg);

    if (!path) {
        return apr_psprintf(cmd->pool, "GenFlowAuthnCacheWatch: invalid path '%s'", arg);
    }
    if (!ac->watch) {
        ac->watch = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(ac->watch, const char *) = path;
    return NULL;
}
