/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_config_policy.c: GenFlowPromptPolicy, read at startup.
 *
 *   GenFlowPromptPolicy off
 *   GenFlowPromptPolicy [deny_list=FILE] [moderation=URL [key_file=PATH |
 *       key_env=NAME] [model=NAME] [timeout=MS] [on_error=allow|deny]
 *       [categories=a,b,…] [images=on] [insecure_loopback=on]]
 *
 * In the server, a virtual host or a <Location>; a location inherits its
 * parent's line unless it has its own ("off" included). The deny list is
 * read when the configuration is (a graceful restart reads it again); a
 * file that does not parse stops the start with its line number.
 */
#include <string.h>
#include <apr_strings.h>

#include "httpd/config/mod_genflow_config_int.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_conf_parse.h"
#include "core/gf_secret.h"
#include "net/gf_http.h"

#define POLICY_ERROR(cmd, msg) \
    apr_psprintf((cmd)->pool, "%s: %s", (cmd)->directive->directive, (msg))

/* The deny list file (relative to ServerRoot), read and parsed. */
static const char *read_list(cmd_parms *cmd, const char *arg, struct gf_policy_conf *pc)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    const char *err = gf_conf_policy_list_read(cmd->pool, cmd->temp_pool, path, arg, &pc->deny);

    if (err) return err;
    if (!gf_policy_list_size(pc->deny)) {
        /* Allowed (a list kept empty for now), but likely a mistake. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server, GF_LOGNO(5404)
                     "GenFlowPromptPolicy at %s:%d: deny_list=%s has no entry: it refuses nothing",
                     cmd->directive->filename, cmd->directive->line_num, path);
    }
    pc->deny_file = path;
    return NULL;
}

/* The options that read a file or the environment (GF_CONF_POLICY_READ). */
static const char *read_option(cmd_parms *cmd, struct gf_policy_conf *pc, const char *key,
                               const char *value)
{
    apr_pool_t *p = cmd->pool;
    if (!strcmp(key, "deny_list")) return read_list(cmd, value, pc);
    if (!strcmp(key, "key_file")) {
        return gf_secret_from_file(p, "key_file", ap_server_root_relative(p, value), &pc->key);
    }
    return gf_secret_from_env(p, "key_env", value, &pc->key);
}

/* The options' values, checked, into the record, and what they say
 * together. */
static const char *settle(cmd_parms *cmd, struct gf_policy_conf *pc,
                          const gf_conf_policy_opts_t *o)
{
    const char *why = gf_conf_policy_whole(pc->deny != NULL, o);
    if (why) return why;
    if (o->moderation_url
        && (why = gf_http_check_url(cmd->pool, o->moderation_url, o->insecure_loopback))) {
        return apr_psprintf(cmd->pool, "moderation=%s: %s", o->moderation_url, why);
    }
    pc->moderation_url = o->moderation_url;
    pc->model = o->model;
    pc->timeout_ms = o->timeout_ms;
    pc->on_error_allow = o->on_error_allow;
    pc->insecure_loopback = o->insecure_loopback;
    pc->images = o->images;
    pc->categories = o->categories;
    return NULL;
}

const char *gf_conf_set_policy(cmd_parms *cmd, void *dcv, int argc, char *const argv[])
{
    gf_dir_conf_t *dc = dcv;
    struct gf_policy_conf *pc;
    gf_conf_policy_opts_t o;
    int i;
    const char *err, *key, *value;

    if (dc->policy) return POLICY_ERROR(cmd, "given twice in one context; put every option on "
                                        "one line");
    if (argc < 1) return POLICY_ERROR(cmd, "off, or deny_list=FILE and/or moderation=URL");
    pc = apr_pcalloc(cmd->pool, sizeof(*pc));
    pc->timeout_ms = GF_POLICY_TIMEOUT_MS;
    pc->where = apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                             cmd->directive->line_num);
    if (argc == 1 && !strcasecmp(argv[0], "off")) {
        pc->off = 1;
        dc->policy = pc;
        return NULL;
    }
    memset(&o, 0, sizeof(o));
    o.timeout_ms = GF_POLICY_TIMEOUT_MS;
    for (i = 0; i < argc; i++) {
        if ((err = gf_conf_key_value(cmd->temp_pool, argv[i], &key, &value)) == NULL
            && (err = gf_conf_policy_option(cmd->pool, &o, key, value)) == GF_CONF_POLICY_READ) {
            err = read_option(cmd, pc, key, value);
        }
        if (err) return POLICY_ERROR(cmd, err);
    }
    if ((err = settle(cmd, pc, &o)) != NULL) return POLICY_ERROR(cmd, err);
    dc->policy = pc;
    return NULL;
}
