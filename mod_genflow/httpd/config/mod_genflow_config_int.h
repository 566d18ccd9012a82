/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_config_int.h: what the files of the configuration share
 * (mod_genflow_config*.c only; the rest of the module sees the records and
 * their getters in mod_genflow_config.h).
 *
 *   mod_genflow_config.c           the GenFlow* directives (gf_cmds[])
 *   mod_genflow_config_authn.c     the directives of genflow-cache
 *   mod_genflow_config_policy.c    GenFlowPromptPolicy (mod_genflow_policy.h)
 *   mod_genflow_config_lines.c     GenFlowLine (mod_genflow_lines.h)
 *   mod_genflow_config_merge.c     the records: create, merge, look up
 *   mod_genflow_config_defaults.c  the getters that apply the defaults
 *   mod_genflow_config_check.c     the checks across directives at startup
 */
#ifndef MOD_GENFLOW_CONFIG_INT_H
#define MOD_GENFLOW_CONFIG_INT_H

#include "httpd/config/mod_genflow_config.h"

/* A location that GenFlowType mounts a type at. */
typedef struct {
    gf_dir_conf_t *dc;
    server_rec *s;
    const char *where;           /* "file:line" for error messages */
} gf_mount_t;

/* Every mount of the configuration read last (gf_mount_t), or NULL when
 * no location mounts a type. */
apr_array_header_t *gf_conf_mounts(void);

/* mod_genflow_config_authn.c */
const char *gf_authn_cache_set_socache(cmd_parms *cmd, void *dc, const char *arg);
const char *gf_authn_cache_set_size(cmd_parms *cmd, void *dc, const char *arg);
const char *gf_authn_cache_set_provider(cmd_parms *cmd, void *dc, const char *arg);
const char *gf_authn_cache_set_ttl(cmd_parms *cmd, void *dc, const char *arg);
const char *gf_authn_cache_add_watch(cmd_parms *cmd, void *dc, const char *arg);

/* mod_genflow_config_policy.c */
const char *gf_conf_set_policy(cmd_parms *cmd, void *dcv, int argc, char *const argv[]);

/* mod_genflow_config_lines.c; the names for the metrics' labels are kept
 * by mod_genflow_config.c (gf_conf_line_names). */
const char *gf_conf_add_line(cmd_parms *cmd, void *dcv, int argc, char *const argv[]);
void gf_conf_line_name_add(apr_pool_t *p, const char *name);

#endif
