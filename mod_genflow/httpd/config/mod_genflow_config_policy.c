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
#include <apr_file_io.h>
#include <apr_strings.h>

#include "httpd/config/mod_genflow_config_int.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_secret.h"
#include "core/gf_utf8.h"
#include "net/gf_http.h"

#define POLICY_ERROR(cmd, msg) \
    apr_psprintf((cmd)->pool, "%s: %s", (cmd)->directive->directive, (msg))

/* The deny list file's text (relative to ServerRoot), or why not. */
static const char *read_list(cmd_parms *cmd, const char *arg, struct gf_policy_conf *pc)
{
    const char *path = ap_server_root_relative(cmd->pool, arg), *err;
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t n;
    char *buf;

    if (!path || apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, cmd->temp_pool)
                     != APR_SUCCESS
        || apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "deny_list=%s: cannot read the file", arg);
    }
    if (fi.size > GF_POLICY_LIST_MAX_BYTES) {
        apr_file_close(f);
        return apr_psprintf(cmd->pool, "deny_list=%s: larger than %d bytes", path,
                            GF_POLICY_LIST_MAX_BYTES);
    }
    n = (apr_size_t)fi.size;
    buf = apr_palloc(cmd->temp_pool, n + 1);
    if (n && apr_file_read_full(f, buf, n, &n) != APR_SUCCESS) {
        apr_file_close(f);
        return apr_psprintf(cmd->pool, "deny_list=%s: cannot read the file", path);
    }
    apr_file_close(f);
    if (!(pc->deny = gf_policy_list_parse(cmd->pool, buf, n, &err))) {
        return apr_psprintf(cmd->pool, "deny_list=%s: %s", path, err);
    }
    if (!gf_policy_list_size(pc->deny)) {
        /* Allowed (a list kept empty for now), but likely a mistake. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, cmd->server, GF_LOGNO(5404)
                     "GenFlowPromptPolicy at %s:%d: deny_list=%s has no entry: it refuses nothing",
                     cmd->directive->filename, cmd->directive->line_num, path);
    }
    pc->deny_file = path;
    return NULL;
}

static const char *set_categories(apr_pool_t *p, struct gf_policy_conf *pc, const char *value)
{
    char *copy = apr_pstrdup(p, value), *last = NULL, *tok;
    pc->categories = apr_array_make(p, 4, sizeof(const char *));
    for (tok = apr_strtok(copy, ",", &last); tok; tok = apr_strtok(NULL, ",", &last)) {
        APR_ARRAY_PUSH(pc->categories, const char *) = tok;
    }
    return pc->categories->nelts ? NULL : "categories= names at least one category";
}

static const char *set_number(apr_pool_t *p, const char *key, const char *value, long min,
                              long max, long *out)
{
    char *end;
    long v = strtol(value, &end, 10);
    if (!*value || *end || v < min || v > max) {
        return apr_psprintf(p, "%s=%s: a whole number from %ld to %ld", key, value, min, max);
    }
    *out = v;
    return NULL;
}

static const char *set_option(cmd_parms *cmd, struct gf_policy_conf *pc, const char *key,
                              const char *value)
{
    apr_pool_t *p = cmd->pool;
    if (!strcmp(key, "deny_list")) return read_list(cmd, value, pc);
    if (!strcmp(key, "moderation")) {
        pc->moderation_url = apr_pstrdup(p, value);
        return NULL;
    }
    if (!strcmp(key, "key_file")) {
        return gf_secret_from_file(p, "key_file", ap_server_root_relative(p, value), &pc->key);
    }
    if (!strcmp(key, "key_env")) return gf_secret_from_env(p, "key_env", value, &pc->key);
    if (!strcmp(key, "model")) {
        if (!*value || strlen(value) > 100 || strpbrk(value, "\"\\")) {
            return "model= is a model name (at most 100 characters)";
        }
        pc->model = apr_pstrdup(p, value);
        return NULL;
    }
    if (!strcmp(key, "timeout")) return set_number(p, key, value, 100, 30000, &pc->timeout_ms);
    if (!strcmp(key, "on_error")) {
        if (strcmp(value, "allow") && strcmp(value, "deny")) return "on_error= is allow or deny";
        pc->on_error_allow = !strcmp(value, "allow");
        return NULL;
    }
    if (!strcmp(key, "categories")) return set_categories(p, pc, value);
    if (!strcmp(key, "insecure_loopback")) {
        if (strcmp(value, "on") && strcmp(value, "off")) return "insecure_loopback= is on or off";
        pc->insecure_loopback = !strcmp(value, "on");
        return NULL;
    }
    if (!strcmp(key, "images")) {
        if (strcmp(value, "on") && strcmp(value, "off")) return "images= is on or off";
        pc->images = !strcmp(value, "on");
        return NULL;
    }
    return apr_psprintf(p, "no option '%s' (deny_list=, moderation=, key_file=, key_env=, "
                        "model=, timeout=, on_error=, categories=, images=, insecure_loopback=)",
                        key);
}

/* What the options say together. */
static const char *check_whole(cmd_parms *cmd, const struct gf_policy_conf *pc, int moderation_opts)
{
    const char *why;
    if (!pc->deny && !pc->moderation_url) {
        return "give deny_list=FILE, moderation=URL or both (or off)";
    }
    if (!pc->moderation_url && moderation_opts) {
        return "key_file=, key_env=, model=, timeout=, on_error=, categories= and images= go "
               "with moderation=URL";
    }
    if (pc->moderation_url
        && (why = gf_http_check_url(cmd->pool, pc->moderation_url, pc->insecure_loopback))) {
        return apr_psprintf(cmd->pool, "moderation=%s: %s", pc->moderation_url, why);
    }
    return NULL;
}

const char *gf_conf_set_policy(cmd_parms *cmd, void *dcv, int argc, char *const argv[])
{
    gf_dir_conf_t *dc = dcv;
    struct gf_policy_conf *pc;
    int i, moderation_opts = 0;
    const char *err;

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
    for (i = 0; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        const char *key;
        if (!eq || eq == argv[i] || !eq[1] || !gf_utf8_printable_str(argv[i])) {
            return POLICY_ERROR(cmd, apr_psprintf(cmd->pool, "'%s' is not key=value",
                                                  gf_utf8_printable_str(argv[i]) ? argv[i]
                                                  : "(not text)"));
        }
        key = apr_pstrmemdup(cmd->temp_pool, argv[i], (apr_size_t)(eq - argv[i]));
        if ((err = set_option(cmd, pc, key, eq + 1)) != NULL) return POLICY_ERROR(cmd, err);
        moderation_opts |= strcmp(key, "deny_list") && strcmp(key, "moderation")
                           && strcmp(key, "insecure_loopback");
    }
    if ((err = check_whole(cmd, pc, moderation_opts)) != NULL) return POLICY_ERROR(cmd, err);
    dc->policy = pc;
    return NULL;
}
