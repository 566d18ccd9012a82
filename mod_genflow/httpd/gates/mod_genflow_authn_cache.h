/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_authn_cache.h: the genflow-cache authn provider
 * (mod_genflow_authn_cache.c; its directives are the configuration's, its
 * settings gf_dir_conf_t.authn_cache).
 */
#ifndef MOD_GENFLOW_AUTHN_CACHE_H
#define MOD_GENFLOW_AUTHN_CACHE_H


void gf_authn_cache_register_hooks(apr_pool_t *p);

#endif
