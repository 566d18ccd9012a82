/* SPDX-License-Identifier: Apache-2.0 */
/* gf_conf_parse.c: the rules of gf_conf_parse.h, the directive values'
 * syntax and checks, out of the handlers so they are tested and fuzzed
 * without httpd. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_cstr.h>
#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <apr_uri.h>

#include "core/gf_conf_parse.h"
#include "core/gf_credits.h"
#include "core/gf_input.h"
#include "core/gf_loopback.h"
#include "core/gf_sql.h"
#include "core/gf_utf8.h"

const char GF_CONF_POLICY_READ[] = "read by the handler";

/* https, or http to a loopback host: the one rule of every URL the module
 * sends a secret or a token to. */
static int secure_or_loopback(const apr_uri_t *u)
{
    return !strcasecmp(u->scheme, "https")
           || (!strcasecmp(u->scheme, "http") && gf_loopback_host(u->hostname));
}

const char *gf_conf_parse_origins(apr_pool_t *p, int argc, char *const argv[],
                                  apr_array_header_t **out)
{
    int i;

    *out = apr_array_make(p, argc, sizeof(const char *));
    for (i = 0; i < argc; i++) {
        apr_uri_t u;
        if (!strcmp(argv[i], "none") && argc == 1) return NULL;
        if (apr_uri_parse(p, argv[i], &u) != APR_SUCCESS || !u.scheme || !u.hostname
            || (u.path && strcmp(u.path, "") && strcmp(u.path, "/")) || u.query || u.user) {
            return apr_psprintf(p, "'%s' is not scheme://host[:port]", argv[i]);
        }
        if (!secure_or_loopback(&u)) {
            return apr_psprintf(p, "'%s': https, or http to a loopback host only", argv[i]);
        }
        APR_ARRAY_PUSH(*out, const char *) =
            apr_psprintf(p, "%s://%s:%u", u.scheme, u.hostname,
                         u.port ? u.port : apr_uri_port_of_scheme(u.scheme));
    }
    return NULL;
}

const char *gf_conf_parse_events_base(apr_pool_t *p, const char *arg, const char **base)
{
    apr_uri_t u;
    char *b;
    apr_size_t n;

    if (!strcmp(arg, "none")) {
        *base = "";
        return NULL;
    }
    if (apr_uri_parse(p, arg, &u) != APR_SUCCESS || !u.scheme || !u.hostname
        || u.query || u.fragment || u.user || u.password || strpbrk(arg, "\"<>\\ ")) {
        return apr_psprintf(p, "'%s' is not scheme://host[:port][/path]", arg);
    }
    if (!secure_or_loopback(&u)) {
        return apr_psprintf(p, "'%s': https, or http to a loopback host only (its URLs carry "
                            "a token)", arg);
    }
    b = apr_pstrdup(p, arg);
    n = strlen(b);
    while (n > 0 && b[n - 1] == '/') b[--n] = '\0';
    *base = b;
    return NULL;
}

const char *gf_conf_parse_admins(apr_pool_t *p, int argc, char *const argv[],
                                 const char **expr, apr_array_header_t **users)
{
    int i;

    *expr = NULL;
    *users = NULL;
    if (argc == 1 && !strcmp(argv[0], "none")) return NULL;
    if (argc == 2 && !strcmp(argv[0], "expr")) {
        *expr = argv[1];
        return NULL;
    }
    if (argc < 2 || strcmp(argv[0], "user")) return "use user NAME..., expr \"EXPR\" or none";
    *users = apr_array_make(p, argc - 1, sizeof(const char *));
    for (i = 1; i < argc; i++) {
        if (!*argv[i]) return "an empty user name";
        APR_ARRAY_PUSH(*users, const char *) = apr_pstrdup(p, argv[i]);
    }
    return NULL;
}

const char *gf_conf_check_budget(apr_pool_t *p, const gf_budget_conf_t *b,
                                 const char *zoneinfo_dir)
{
    apr_finfo_t fi;

    if (b->hold > 0 && b->period == GF_BUDGET_NONE) {
        return "provider option budget_hold= needs budget=AMOUNT/PERIOD";
    }
    if (!b->tz) return NULL;
    if (b->period == GF_BUDGET_NONE) return "provider option budget_tz= needs budget=AMOUNT/PERIOD";
    if (strcmp(b->tz, "UTC") && apr_stat(&fi, apr_pstrcat(p, zoneinfo_dir, "/", b->tz, NULL),
                                         APR_FINFO_TYPE, p) != APR_SUCCESS) {
        return apr_psprintf(p, "provider option budget_tz=%s: no such time zone in %s", b->tz,
                            zoneinfo_dir);
    }
    return NULL;
}

const char *gf_conf_check_max_jobs(apr_pool_t *p, int max_jobs, int asynchronous,
                                   const char *kind)
{
    if (!max_jobs || asynchronous) return NULL;
    /* A synchronous call is its job: max_concurrent= counts them. */
    return apr_psprintf(p, "max_jobs= is for a provider whose jobs run asynchronously; %s "
                        "answers each call with its picture: use max_concurrent=", kind);
}

const char *gf_conf_parse_statements(apr_pool_t *p, const char *arg, int *unnamed)
{
    if (!apr_cstr_casecmp(arg, "named")) *unnamed = 0;
    else if (!apr_cstr_casecmp(arg, "unnamed")) *unnamed = 1;
    else return apr_psprintf(p, "named or unnamed, not '%s'", arg);
    return NULL;
}

const char *gf_conf_check_storage_url(const char *arg)
{
    if (arg[0] != '/' && strncmp(arg, "https://", 8) && strncmp(arg, "http://", 7)) {
        return "must be a path such as /media or an http(s) URL prefix";
    }
    return NULL;
}

const char *gf_conf_type_table(apr_pool_t *p, const char *name, const char *table,
                               const char **out)
{
    if (!gf_sql_valid_type(name)) {
        return apr_psprintf(p, "type name '%s' must be lower-case letters, digits and '-', "
                            "starting with a letter", name);
    }
    if (!table) {
        char *t = apr_pstrcat(p, name, "_media", NULL), *c;
        for (c = t; *c; c++) if (*c == '-') *c = '_';
        table = t;
    }
    if (strlen(table) > GF_SQL_TABLE_MAX) {
        return apr_psprintf(p, "table name '%s' is longer than %d characters (PostgreSQL cuts "
                            "the names of its indexes at 63); give a shorter one as the second "
                            "argument: GenFlowType %s TABLE", table, GF_SQL_TABLE_MAX, name);
    }
    if (!gf_sql_valid_table(table)) {
        return apr_psprintf(p, "table name '%s' must be lower-case letters, digits and '_'",
                            table);
    }
    *out = table;
    return NULL;
}

const char *gf_conf_type_clash(apr_pool_t *p, const char *name, const char *table,
                               const char *t_name, const char *t_table, int *same)
{
    *same = 0;
    if (!strcmp(t_name, name)) {
        if (strcmp(t_table, table)) {
            return apr_psprintf(p, "type '%s' is already mounted with table '%s'", name,
                                t_table);
        }
        *same = 1;
    }
    else if (!strcmp(t_table, table)) {
        return apr_psprintf(p, "table '%s' already belongs to type '%s'", table, t_name);
    }
    return NULL;
}

const char *gf_conf_parse_priority(const char *arg, int *out)
{
    char *end;
    long n = strtol(arg, &end, 10);

    if (!*arg || *end || n < -1000 || n > 1000) {
        return "takes a whole number, -1000..1000 (higher is claimed first; default 0)";
    }
    *out = (int)n;
    return NULL;
}

const char *gf_conf_priority_clash(apr_pool_t *p, const char *name, const char *had_where,
                                   int had, int n)
{
    if (!had_where || had == n) return NULL;
    return apr_psprintf(p, "type '%s' already has priority %d (%s)", name, had, had_where);
}

const char *gf_conf_parse_setting(apr_pool_t *p, const char *arg, long min, long max,
                                  const char *unit, long *out)
{
    const char *err = gf_parse_amount(p, arg, max, out);

    if (err) return err;
    if (*out < min) {
        return apr_psprintf(p, "must be at least %ld%s%s%s", min, *unit ? " " : "", unit,
                            *unit && min != 1 ? "s" : "");
    }
    return NULL;
}

const char *gf_conf_vhost_refusal(apr_pool_t *p, const char *name, const char *why)
{
    return apr_psprintf(p, "%s cannot occur within <VirtualHost> section: %s; set it outside, "
                        "for every server", name, why);
}

const char *gf_conf_parse_needs(apr_pool_t *p, int argc, char *const argv[], unsigned *out)
{
    int i;

    *out = 0;
    for (i = 0; i < argc; i++) {
        unsigned need;
        if (!strcasecmp(argv[i], "none")) continue;
        if (!gf_input_need_from_word(argv[i], &need)) {
            return apr_psprintf(p, "unknown field '%s' (prompt, sourceImage, preset or none)",
                                argv[i]);
        }
        *out |= need;
    }
    return NULL;
}

const char *gf_conf_parse_accepts(apr_pool_t *p, int argc, char *const argv[], unsigned *out)
{
    int i;

    *out = 0;
    for (i = 0; i < argc; i++) {
        unsigned accept;
        if (!strcasecmp(argv[i], "none")) continue;
        if (!gf_input_accept_from_word(argv[i], &accept)) {
            return apr_psprintf(p, "unknown input '%s' (mask, referenceImages or none)",
                                argv[i]);
        }
        *out |= accept;
    }
    return NULL;
}

int gf_conf_plain_path(const char *path)
{
    return path && path[0] == '/' && !strpbrk(path, "^$()[]|+*?\\{}");
}

/* ---- GenFlowPromptPolicy ---- */

const char *gf_conf_key_value(apr_pool_t *p, const char *arg, const char **key,
                              const char **value)
{
    const char *eq = strchr(arg, '=');

    if (!eq || eq == arg || !eq[1] || !gf_utf8_printable_str(arg)) {
        return apr_psprintf(p, "'%s' is not key=value",
                            gf_utf8_printable_str(arg) ? arg : "(not text)");
    }
    *key = apr_pstrmemdup(p, arg, (apr_size_t)(eq - arg));
    *value = eq + 1;
    return NULL;
}

static const char *policy_number(apr_pool_t *p, const char *key, const char *value, long min,
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

static const char *policy_categories(apr_pool_t *p, gf_conf_policy_opts_t *o, const char *value)
{
    char *copy = apr_pstrdup(p, value), *last = NULL, *tok;
    o->categories = apr_array_make(p, 4, sizeof(const char *));
    for (tok = apr_strtok(copy, ",", &last); tok; tok = apr_strtok(NULL, ",", &last)) {
        APR_ARRAY_PUSH(o->categories, const char *) = tok;
    }
    return o->categories->nelts ? NULL : "categories= names at least one category";
}

/* on|off into *flag, else the message. */
static const char *on_off(const char *value, int *flag, const char *msg)
{
    if (strcmp(value, "on") && strcmp(value, "off")) return msg;
    *flag = !strcmp(value, "on");
    return NULL;
}

static const char *policy_value(apr_pool_t *p, gf_conf_policy_opts_t *o, const char *key,
                                const char *value)
{
    if (!strcmp(key, "moderation")) {
        o->moderation_url = apr_pstrdup(p, value);
        return NULL;
    }
    if (!strcmp(key, "model")) {
        if (!*value || strlen(value) > 100 || strpbrk(value, "\"\\")) {
            return "model= is a model name (at most 100 characters)";
        }
        o->model = apr_pstrdup(p, value);
        return NULL;
    }
    if (!strcmp(key, "timeout")) return policy_number(p, key, value, 100, 30000, &o->timeout_ms);
    if (!strcmp(key, "on_error")) {
        if (strcmp(value, "allow") && strcmp(value, "deny")) return "on_error= is allow or deny";
        o->on_error_allow = !strcmp(value, "allow");
        return NULL;
    }
    if (!strcmp(key, "categories")) return policy_categories(p, o, value);
    if (!strcmp(key, "insecure_loopback")) {
        return on_off(value, &o->insecure_loopback, "insecure_loopback= is on or off");
    }
    if (!strcmp(key, "images")) return on_off(value, &o->images, "images= is on or off");
    return apr_psprintf(p, "no option '%s' (deny_list=, moderation=, key_file=, key_env=, "
                        "model=, timeout=, on_error=, categories=, images=, insecure_loopback=)",
                        key);
}

const char *gf_conf_policy_option(apr_pool_t *p, gf_conf_policy_opts_t *o, const char *key,
                                  const char *value)
{
    const char *err;

    if (!strcmp(key, "deny_list") || !strcmp(key, "key_file") || !strcmp(key, "key_env")) {
        err = GF_CONF_POLICY_READ;
    }
    else if ((err = policy_value(p, o, key, value)) != NULL) {
        return err;
    }
    /* Everything but the list, the URL and the loopback switch is about
     * the moderation call, and means nothing without it. */
    o->moderation_opts |= strcmp(key, "deny_list") && strcmp(key, "moderation")
                          && strcmp(key, "insecure_loopback");
    return err;
}

const char *gf_conf_policy_whole(int has_deny, const gf_conf_policy_opts_t *o)
{
    if (!has_deny && !o->moderation_url) {
        return "give deny_list=FILE, moderation=URL or both (or off)";
    }
    if (!o->moderation_url && o->moderation_opts) {
        return "key_file=, key_env=, model=, timeout=, on_error=, categories= and images= go "
               "with moderation=URL";
    }
    return NULL;
}

const char *gf_conf_policy_list_read(apr_pool_t *p, apr_pool_t *ptemp, const char *path,
                                     const char *arg, const gf_policy_list_t **list)
{
    const char *err;
    apr_file_t *f;
    apr_finfo_t fi;
    apr_size_t n;
    char *buf;

    if (!path || apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT, ptemp)
                     != APR_SUCCESS
        || apr_file_info_get(&fi, APR_FINFO_SIZE, f) != APR_SUCCESS) {
        return apr_psprintf(p, "deny_list=%s: cannot read the file", arg);
    }
    if (fi.size > GF_POLICY_LIST_MAX_BYTES) {
        apr_file_close(f);
        return apr_psprintf(p, "deny_list=%s: larger than %d bytes", path,
                            GF_POLICY_LIST_MAX_BYTES);
    }
    n = (apr_size_t)fi.size;
    buf = apr_palloc(ptemp, n + 1);
    if (n && apr_file_read_full(f, buf, n, &n) != APR_SUCCESS) {
        apr_file_close(f);
        return apr_psprintf(p, "deny_list=%s: cannot read the file", path);
    }
    apr_file_close(f);
    if (!(*list = gf_policy_list_parse(p, buf, n, &err))) {
        return apr_psprintf(p, "deny_list=%s: %s", path, err);
    }
    return NULL;
}
