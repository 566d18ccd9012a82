/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_config.c: the GenFlow* directives: the command table and
 * its handlers, and the registry of the types that GenFlowType mounts.
 *
 * Server scope: providers, storage, credits. Location scope: which type is
 * served there and how (chain, cost, limits). The numeric settings come
 * from their lines in mod_genflow_config_settings.h, one setter for all.
 * "Unset" sentinels let a merge tell "not configured" from zero; defaults
 * are applied by the getters (mod_genflow_config_defaults.c). conf/genflow.conf documents every
 * directive of gf_cmds[] and tests/check_conf_reference.sh keeps the two in
 * step.
 */
#include <string.h>
#include <apr_strings.h>
#include <http_core.h>

#include <libpq-fe.h>

#include "httpd/config/mod_genflow_process.h"
#include "httpd/config/mod_genflow_config_int.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_chain_spec.h"
#include "core/gf_conf_parse.h"
#include "core/gf_cors.h"
#include "core/gf_prompt.h"
#include "core/gf_sql.h"
#include "core/gf_secret.h"
#include "core/gf_stream_token.h"
#include "webhooks/gf_webhook.h"

/* Types mounted anywhere in the configuration, and the locations that
 * mount them, for the statement registration and the startup checks: the
 * process record's member, gone with the configuration. */
struct gf_config_state {
    apr_array_header_t *types;    /* gf_type_t* */
    apr_array_header_t *mounts;   /* gf_mount_t */
    apr_array_header_t *events_bases; /* gf_events_base_t */
    apr_array_header_t *line_names;   /* const char *, each once */
};
const apr_size_t gf_config_state_size = sizeof(struct gf_config_state);

apr_array_header_t *gf_registered_types(void)
{
    return GF_PROCESS_STATE(config)->types;
}

apr_array_header_t *gf_conf_mounts(void)
{
    return GF_PROCESS_STATE(config)->mounts;
}

apr_array_header_t *gf_conf_type_bases(apr_pool_t *p)
{
    apr_array_header_t *mounts = gf_conf_mounts(), *out = apr_array_make(p, 8, sizeof(char *));
    int i;
    for (i = 0; mounts && i < mounts->nelts; i++) {
        const char *b = APR_ARRAY_IDX(mounts, i, gf_mount_t).dc->base;
        if (gf_conf_plain_path(b)) APR_ARRAY_PUSH(out, const char *) = b;
    }
    return out;
}

apr_array_header_t *gf_conf_events_bases(void)
{
    return GF_PROCESS_STATE(config)->events_bases;
}

apr_array_header_t *gf_conf_line_names(void)
{
    return GF_PROCESS_STATE(config)->line_names;
}

void gf_conf_line_name_add(apr_pool_t *p, const char *name)
{
    struct gf_config_state *reg = GF_PROCESS_STATE(config);
    int i;
    if (!reg->line_names) reg->line_names = apr_array_make(p, 4, sizeof(const char *));
    for (i = 0; i < reg->line_names->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(reg->line_names, i, const char *), name)) return;
    }
    APR_ARRAY_PUSH(reg->line_names, const char *) = name;
}

/* ---- directive handlers ------------------------------------------------- */

/* GenFlowPreparedStatements named|unnamed (mod_genflow_db.c says why
 * unnamed ones exist: a transaction-pooling PgBouncer). */
static const char *set_statements(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err = gf_conf_parse_statements(cmd->pool, arg,
                                               &gf_server_conf(cmd->server)->unnamed_statements);
    (void)dummy;
    return err ? apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL) : NULL;
}

/* GenFlowListenParams: checked with libpq's own parser now, so a typo
 * fails the configuration test instead of leaving every child deaf. */
static const char *set_listen_params(cmd_parms *cmd, void *dummy, const char *arg)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(arg, &err);
    (void)dummy;
    if (!opts) {
        const char *msg = apr_psprintf(cmd->pool, "%s: %s", cmd->cmd->name,
                                       err ? err : "not a libpq connection string");
        if (err) PQfreemem(err);
        return msg;
    }
    PQconninfoFree(opts);
    gf_server_conf(cmd->server)->listen_params = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

/* GenFlowCORSOrigins: parsed once here, kept per location. */
static const char *set_cors_origins(cmd_parms *cmd, void *dcv, int argc, char *const argv[])
{
    gf_dir_conf_t *dc = dcv;
    gf_cors_conf_t *conf;
    const char *err = gf_cors_parse(cmd->pool, argc, argv, &conf);

    if (err) {
        return apr_psprintf(cmd->pool, "%s: %s", cmd->directive->directive, err);
    }
    dc->cors = conf;
    return NULL;
}


#define DIRECTIVE_ERROR(cmd, msg) \
    apr_psprintf((cmd)->pool, "%s: %s", (cmd)->directive->directive, (msg))

/* A list of origins (gf_conf_parse_origins). */
static const char *parse_origins(cmd_parms *cmd, int argc, char *const argv[],
                                 apr_array_header_t **out)
{
    const char *err = gf_conf_parse_origins(cmd->pool, argc, argv, out);
    return err ? DIRECTIVE_ERROR(cmd, err) : NULL;
}

/* GenFlowWebhookOrigins: where a create's webhook may point. */
static const char *set_webhook_origins(cmd_parms *cmd, void *dcv, int argc, char *const argv[])
{
    return parse_origins(cmd, argc, argv, &((gf_dir_conf_t *)dcv)->webhook_origins);
}

/* GenFlowPictureOrigins: where an edit's pictures may be fetched from. */
static const char *set_picture_origins(cmd_parms *cmd, void *dcv, int argc, char *const argv[])
{
    return parse_origins(cmd, argc, argv, &((gf_dir_conf_t *)dcv)->picture_origins);
}

static const char *set_trace_trust(cmd_parms *cmd, void *dcv, int on)
{
    (void)cmd;
    ((gf_dir_conf_t *)dcv)->trace_trust_inbound = on;
    return NULL;
}

/* The text of a secret file a server-wide directive names (its path
 * relative to ServerRoot), or the error. */
static const char *secret_file_text(cmd_parms *cmd, const char *arg, const char **path,
                                    const char **text)
{
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    if (err) return err;
    *path = ap_server_root_relative(cmd->pool, arg);
    return gf_secret_text_from_file(cmd->pool, cmd->directive->directive, *path, text);
}

static const char *set_webhook_secret(cmd_parms *cmd, void *dummy, const char *arg)
{
    gf_server_conf_t *sc = gf_server_conf(cmd->server);
    const char *err, *text, *path;
    (void)dummy;
    if ((err = secret_file_text(cmd, arg, &path, &text)) != NULL) return err;
    /* Several lines, newest first: every delivery is signed with each, so
     * the site's backend can move to a new secret without losing one. */
    if (!(sc->webhook_secrets = gf_webhook_secrets_parse(cmd->pool, text, &err))) {
        return DIRECTIVE_ERROR(cmd, apr_pstrcat(cmd->pool, path, ": ", err, NULL));
    }
    return NULL;
}

/* GenFlowEventsBase: where browsers follow this location's generations
 * (scheme://host[:port][/path]), https, or http to a loopback host only
 * (the token in its URLs must not cross a network in the clear); "none"
 * for the same host. */
static const char *set_events_base(cmd_parms *cmd, void *dcv, const char *arg)
{
    gf_dir_conf_t *dc = dcv;
    const char *base, *err = gf_conf_parse_events_base(cmd->pool, arg, &base);

    if (err) return DIRECTIVE_ERROR(cmd, err);
    dc->events_base = base;
    if (*base) {
        /* Where it names, for the events host's search (mod_genflow_site.c). */
        struct gf_config_state *reg = GF_PROCESS_STATE(config);
        gf_events_base_t *eb;
        if (!reg->events_bases) {
            reg->events_bases = apr_array_make(cmd->pool, 4, sizeof(gf_events_base_t));
        }
        eb = apr_array_push(reg->events_bases);
        eb->url = base;
        eb->s = cmd->server;
        eb->where = apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                                 cmd->directive->line_num);
    }
    return NULL;
}

/* GenFlowEventsHost On|Off, in a <VirtualHost>: it is (or is not) the
 * events host, whatever GenFlowEventsBase names; for an events host that
 * the URL does not name as httpd sees it (a proxy in front that changes
 * the host name), or one of another node's configuration. */
static const char *set_events_host(cmd_parms *cmd, void *dummy, int on)
{
    (void)dummy;
    if (!cmd->server->is_virtual) {
        return DIRECTIVE_ERROR(cmd, "belongs in the events host's <VirtualHost>: on the main "
                               "server every request would be an event stream's");
    }
    gf_server_conf(cmd->server)->events_host = on;
    return NULL;
}

/* GenFlowEventsSecretFile: the keys of the events URLs' tokens, newest
 * first (a rotation puts the new one first and drops the old one a day or
 * two later); every host and node that makes or checks them reads the
 * same file. */
static const char *set_events_secret(cmd_parms *cmd, void *dummy, const char *arg)
{
    gf_server_conf_t *sc = gf_server_conf(cmd->server);
    const char *err, *text, *path;
    (void)dummy;
    if ((err = secret_file_text(cmd, arg, &path, &text)) != NULL) return err;
    if (!(sc->events_keys = gf_stream_keys_parse(cmd->pool, text, &err))) {
        return DIRECTIVE_ERROR(cmd, apr_pstrcat(cmd->pool, path, ": ", err, NULL));
    }
    return NULL;
}

/* GenFlowAdministrators user NAME... | expr "EXPR" | none: who is an
 * administrator, as the module itself checks it in the admin and metrics
 * handlers, whatever a section written later grants (a virtual host has
 * its own or the main server's). */
static const char *set_admins(cmd_parms *cmd, void *dummy, int argc, char *const argv[])
{
    gf_server_conf_t *sc = gf_server_conf(cmd->server);
    gf_admins_t *a = apr_pcalloc(cmd->pool, sizeof(*a));
    const char *expr, *err = gf_conf_parse_admins(cmd->pool, argc, argv, &expr, &a->users);
    (void)dummy;

    if (err) return DIRECTIVE_ERROR(cmd, err);
    a->where = apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                            cmd->directive->line_num);
    if (expr && (!(a->expr = ap_expr_parse_cmd(cmd, expr, 0, &err, NULL)) || err)) {
        return DIRECTIVE_ERROR(cmd, apr_psprintf(cmd->pool, "the expression does not "
                                                 "parse: %s", err ? err : "?"));
    }
    sc->admins = a;
    return NULL;
}

static const char *set_provider(cmd_parms *cmd, void *dummy, int argc, char *const argv[])
{
    gf_server_conf_t *sc = gf_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    gf_provider_t *prov;
    int i;

    (void)dummy;
    if (err) return err;
    if (argc < 2) {
        return DIRECTIVE_ERROR(cmd, "usage: GenFlowProvider NAME KIND [key=value ...]");
    }
    prov = gf_provider_create(cmd->pool, argv[0], argv[1], &err);
    if (!prov) return DIRECTIVE_ERROR(cmd, err);
    for (i = 2; i < argc; i++) {
        if ((err = gf_provider_option(cmd->pool, prov, argv[i])) != NULL) {
            return DIRECTIVE_ERROR(cmd, err);
        }
    }
    if ((err = gf_conf_check_budget(cmd->pool, &prov->budget, GF_ZONEINFO_DIR)) != NULL
        || (err = gf_conf_check_max_jobs(cmd->pool, prov->limit.max_jobs != 0,
                                         prov->kind->poll != NULL, argv[1])) != NULL) {
        return DIRECTIVE_ERROR(cmd, err);
    }
    apr_hash_set(sc->providers, prov->name, APR_HASH_KEY_STRING, prov);
    return NULL;
}

static const char *set_storage_dir(cmd_parms *cmd, void *dummy, const char *arg)
{
    gf_server_conf_t *sc = gf_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);

    (void)dummy;
    if (err) return err;
    sc->storage_dir = ap_server_root_relative(cmd->pool, arg);
    if (!sc->storage_dir) return DIRECTIVE_ERROR(cmd, "invalid path");
    return NULL;
}

static const char *set_cloudinary(cmd_parms *cmd, void *dummy, int argc, char *const argv[])
{
    gf_server_conf_t *sc = gf_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);

    (void)dummy;
    if (err) return err;
    if ((err = gf_storage_cloudinary_create(cmd->pool, argc, argv, &sc->cloudinary)) != NULL) {
        return DIRECTIVE_ERROR(cmd, err);
    }
    return NULL;
}

static const char *set_s3(cmd_parms *cmd, void *dummy, int argc, char *const argv[])
{
    gf_server_conf_t *sc = gf_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);

    (void)dummy;
    if (err) return err;
    if ((err = gf_storage_s3_create(cmd->pool, argc, argv, &sc->s3)) != NULL) {
        return DIRECTIVE_ERROR(cmd, err);
    }
    return NULL;
}

static const char *set_storage_url(cmd_parms *cmd, void *dummy, const char *arg)
{
    gf_server_conf_t *sc = gf_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);

    (void)dummy;
    if (err) return err;
    if ((err = gf_conf_check_storage_url(arg)) != NULL) return DIRECTIVE_ERROR(cmd, err);
    sc->storage_url = arg;
    return NULL;
}

static const char *set_type(cmd_parms *cmd, void *dcv, const char *name, const char *table)
{
    gf_dir_conf_t *dc = dcv;
    struct gf_config_state *reg = GF_PROCESS_STATE(config);
    gf_type_t *type = NULL, **tp;
    gf_mount_t *mount;
    const char *err;
    int i, op, same;

    if (!cmd->path) {
        return DIRECTIVE_ERROR(cmd, "belongs in a <Location> block");
    }
    if ((err = gf_conf_type_table(cmd->pool, name, table, &table)) != NULL) {
        return DIRECTIVE_ERROR(cmd, err);
    }
    if (!reg->types) {
        reg->types = apr_array_make(cmd->pool, 8, sizeof(gf_type_t *));
        reg->mounts = apr_array_make(cmd->pool, 8, sizeof(gf_mount_t));
    }
    for (i = 0; i < reg->types->nelts; i++) {
        gf_type_t *t = APR_ARRAY_IDX(reg->types, i, gf_type_t *);
        if ((err = gf_conf_type_clash(cmd->pool, name, table, t->name, t->table, &same))) {
            return DIRECTIVE_ERROR(cmd, err);
        }
        if (same) type = t;
    }
    if (!type) {
        type = apr_pcalloc(cmd->pool, sizeof(*type));
        type->name = apr_pstrdup(cmd->pool, name);
        type->table = apr_pstrdup(cmd->pool, table);
        for (op = 0; op < GF_SQL_TYPE_OPS; op++) {
            type->labels[op] = gf_sql_type_label(cmd->pool, table, (gf_sql_type_op_t)op);
        }
        tp = apr_array_push(reg->types);
        *tp = type;
    }
    dc->type = type;
    dc->base = apr_pstrdup(cmd->pool, cmd->path);
    mount = apr_array_push(reg->mounts);
    mount->dc = dc;
    mount->s = cmd->server;
    mount->where = apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                                cmd->directive->line_num);
    return NULL;
}

/* GenFlowPriority N, after GenFlowType in its <Location>: the type's,
 * module-wide like the type itself, so two locations of one type must not
 * give it two priorities. */
static const char *set_priority(cmd_parms *cmd, void *dcv, const char *arg)
{
    gf_dir_conf_t *dc = dcv;
    const char *err;
    int n;

    if ((err = gf_conf_parse_priority(arg, &n)) != NULL) return DIRECTIVE_ERROR(cmd, err);
    if (!dc->type) {
        return DIRECTIVE_ERROR(cmd, "belongs after GenFlowType in the type's <Location>");
    }
    if ((err = gf_conf_priority_clash(cmd->pool, dc->type->name, dc->type->priority_where,
                                      dc->type->priority, n)) != NULL) {
        return DIRECTIVE_ERROR(cmd, err);
    }
    dc->type->priority = n;
    dc->type->priority_where = apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                                            cmd->directive->line_num);
    return NULL;
}

static const char *set_chain(cmd_parms *cmd, void *dcv, int argc, char *const argv[])
{
    gf_dir_conf_t *dc = dcv;
    apr_array_header_t *texts;
    const char *err = gf_chain_spec_split(cmd->temp_pool, argc, argv, &texts);
    int i;

    if (err) return DIRECTIVE_ERROR(cmd, err);
    dc->chain = apr_array_make(cmd->pool, texts->nelts, sizeof(gf_chain_entry_t));
    for (i = 0; i < texts->nelts && !err; i++) {
        err = gf_chain_entry_parse(cmd->pool, APR_ARRAY_IDX(texts, i, const char *),
                                   apr_array_push(dc->chain));
    }
    return err ? DIRECTIVE_ERROR(cmd, err) : NULL;
}

/* ---- the numeric settings (mod_genflow_config_settings.h) -------------- */

/* One line of the settings, as its directive's cmd->info. */
typedef struct {
    int server;            /* a field of the server record, else of the location's */
    apr_size_t offset;
    int is_long;           /* long, else int */
    long min, max;
    const char *unit;
    const char *vhost;     /* why a <VirtualHost> may not set it, or NULL */
} setting_t;

#define SERVER_SPEC(getter, type, field, directive, def, min, max, unit, vhost, ...) \
    { 1, APR_OFFSETOF(gf_server_conf_t, field), sizeof(type) == sizeof(long), min, max, \
      unit, vhost },
#define DIR_SPEC(getter, type, field, directive, def, min, max, unit, vhost, ...) \
    { 0, APR_OFFSETOF(gf_dir_conf_t, field), sizeof(type) == sizeof(long), min, max, \
      unit, vhost },
#define INDEX(getter, type, field, ...) SETTING_##field,

enum { GF_SERVER_SETTINGS(INDEX) GF_DIR_SETTINGS(INDEX) SETTINGS_N };
static const setting_t SETTINGS[] = {
    GF_SERVER_SETTINGS(SERVER_SPEC)
    GF_DIR_SETTINGS(DIR_SPEC)
};

static const char *set_setting(cmd_parms *cmd, void *dcv, const char *arg)
{
    const setting_t *st = cmd->info;
    char *rec = st->server ? (char *)gf_server_conf(cmd->server) : dcv;
    const char *err = st->server ? ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE) : NULL;
    long v;

    if (err) return err;
    if (st->vhost && cmd->server->is_virtual) {
        return gf_conf_vhost_refusal(cmd->pool, cmd->cmd->name, st->vhost);
    }
    if ((err = gf_conf_parse_setting(cmd->pool, arg, st->min, st->max, st->unit, &v)) != NULL) {
        return DIRECTIVE_ERROR(cmd, err);
    }
    if (st->is_long) *(long *)(void *)(rec + st->offset) = v;
    else *(int *)(void *)(rec + st->offset) = (int)v;
    return NULL;
}

static const char *set_require(cmd_parms *cmd, void *dcv, int argc, char *const argv[])
{
    gf_dir_conf_t *dc = dcv;
    const char *err = gf_conf_parse_needs(cmd->pool, argc, argv, &dc->needs);

    dc->needs_set = 1;
    return err ? DIRECTIVE_ERROR(cmd, err) : NULL;
}

static const char *set_accept(cmd_parms *cmd, void *dcv, int argc, char *const argv[])
{
    gf_dir_conf_t *dc = dcv;
    const char *err = gf_conf_parse_accepts(cmd->pool, argc, argv, &dc->accepts);

    dc->accepts_set = 1;
    return err ? DIRECTIVE_ERROR(cmd, err) : NULL;
}

static const char *set_prompt_template(cmd_parms *cmd, void *dcv, const char *arg)
{
    gf_dir_conf_t *dc = dcv;
    const char *err = gf_prompt_check_template(cmd->pool, arg);

    if (err) return DIRECTIVE_ERROR(cmd, err);
    dc->prompt_template = arg;
    return NULL;
}

#define SERVER_DIRECTIVE(getter, type, field, directive, def, min, max, unit, vhost, where, help) \
    AP_INIT_TAKE1(directive, set_setting, (void *)&SETTINGS[SETTING_##field], where, help),
#define DIR_DIRECTIVE SERVER_DIRECTIVE

const command_rec gf_cmds[] = {
    GF_SERVER_SETTINGS(SERVER_DIRECTIVE)
    GF_DIR_SETTINGS(DIR_DIRECTIVE)
    AP_INIT_TAKE_ARGV("GenFlowProvider", set_provider, NULL, RSRC_CONF,
        "Declare a provider: GenFlowProvider NAME KIND [key=value ...]"),
    AP_INIT_TAKE_ARGV("GenFlowPictureOrigins", set_picture_origins, NULL, RSRC_CONF | ACCESS_CONF,
                      "Origins (scheme://host[:port]) an edit's mask, references and its "
                      "source under a mask may be fetched from, as URLs; or none"),
    AP_INIT_TAKE_ARGV("GenFlowWebhookOrigins", set_webhook_origins, NULL, RSRC_CONF | ACCESS_CONF,
        "Origins (scheme://host[:port]) a create's webhook may point at, or none"),
    AP_INIT_FLAG("GenFlowTraceTrustInbound", set_trace_trust, NULL, RSRC_CONF | ACCESS_CONF,
        "Take a client's traceparent header as this request's trace (default off: a new one)"),
    AP_INIT_TAKE1("GenFlowWebhookSecretFile", set_webhook_secret, NULL, RSRC_CONF,
        "File holding the whsec_ secret that signs webhook deliveries (Standard Webhooks)"),
    AP_INIT_TAKE1("GenFlowEventsBase", set_events_base, NULL, RSRC_CONF | ACCESS_CONF,
        "Where browsers follow generations: scheme://host[:port][/path] of a host of its own "
        "(eventsUrl), or none"),
    AP_INIT_FLAG("GenFlowEventsHost", set_events_host, NULL, RSRC_CONF,
        "This virtual host is (On) or is not (Off) the events host: event streams only, "
        "opened by their token (default: the host GenFlowEventsBase names)"),
    AP_INIT_TAKE_ARGV("GenFlowAdministrators", set_admins, NULL, RSRC_CONF,
                      "Who is an administrator of the admin API and the metrics: user NAME..., "
                      "expr \"EXPR\" (an ap_expr over the request) or none (the default)"),
    AP_INIT_TAKE1("GenFlowEventsSecretFile", set_events_secret, NULL, RSRC_CONF,
        "File holding the secret (32 characters or more) of the tokens in events URLs"),
    AP_INIT_TAKE_ARGV("GenFlowS3", set_s3, NULL, RSRC_CONF,
        "Store results and uploads in an S3-compatible bucket: bucket= region= endpoint= "
        "key_file=|key_env= secret_file=|secret_env= [style=path|virtual] [public_url=] ..."),
    AP_INIT_TAKE1("GenFlowStorageDir", set_storage_dir, NULL, RSRC_CONF,
        "Directory where result images are stored"),
    AP_INIT_TAKE1("GenFlowStorageURL", set_storage_url, NULL, RSRC_CONF,
        "URL prefix under which Apache serves GenFlowStorageDir"),
    AP_INIT_TAKE_ARGV("GenFlowCloudinary", set_cloudinary, NULL, RSRC_CONF,
        "Store results on Cloudinary: cloud= api_key= secret_file=|secret_env= [algorithm=sha1|sha256] ..."),
    AP_INIT_TAKE12("GenFlowType", set_type, NULL, ACCESS_CONF,
        "Serve a generation type at this location: GenFlowType NAME [TABLE]"),
    AP_INIT_TAKE1("GenFlowPriority", set_priority, NULL, ACCESS_CONF,
        "Claim this location's type ahead of types of a lower priority: -1000..1000, default 0"),
    AP_INIT_TAKE_ARGV("GenFlowProviders", set_chain, NULL, RSRC_CONF | ACCESS_CONF,
        "The provider chain of the types below, tried in order: NAME[:MODEL] ..., "
        "or a group {NAME[:MODEL][=WEIGHT] ...}@latency|cost|least-busy|shuffle"),
    AP_INIT_TAKE_ARGV("GenFlowRequire", set_require, NULL, ACCESS_CONF,
        "Create fields this type requires: prompt, sourceImage, preset, or none"),
    AP_INIT_TAKE_ARGV("GenFlowAccept", set_accept, NULL, RSRC_CONF | ACCESS_CONF,
        "Edit inputs this type takes beyond the usual fields: mask, referenceImages, or none "
        "(the default)"),
    AP_INIT_TAKE_ARGV("GenFlowLine", gf_conf_add_line, NULL, RSRC_CONF | ACCESS_CONF,
                      "A premium line: NAME \"EXPR\" [weight=N] (an ap_expr over the request; "
                      "its users take N turns for one of a standard user's), or none"),
    AP_INIT_TAKE_ARGV("GenFlowPromptPolicy", gf_conf_set_policy, NULL, RSRC_CONF | ACCESS_CONF,
                      "The content policy of the prompts of creates: off, or deny_list=FILE "
                      "and/or moderation=URL with key_file=|key_env=, model=, timeout=MS, "
                      "on_error=allow|deny, categories=a,b"),
    AP_INIT_TAKE1("GenFlowPromptTemplate", set_prompt_template, NULL, ACCESS_CONF,
        "Template of the final prompt, e.g. \"art, {prompt}, {style}\""),
    /* The genflow-cache authn provider (mod_genflow_authn_cache.c). */
    AP_INIT_TAKE1("GenFlowAuthnCache", gf_authn_cache_set_socache, NULL, RSRC_CONF,
        "Where genflow-cache keeps verified credentials: a socache provider[:args] (default shmcb)"),
    AP_INIT_TAKE1("GenFlowAuthnCacheSize", gf_authn_cache_set_size, NULL, RSRC_CONF,
        "Bytes of shared memory for genflow-cache with shmcb (default 1M)"),
    AP_INIT_TAKE1("GenFlowAuthnCacheProvider", gf_authn_cache_set_provider, NULL,
        RSRC_CONF | ACCESS_CONF, "The authn provider genflow-cache wraps, e.g. file"),
    AP_INIT_TAKE1("GenFlowAuthnCacheTTL", gf_authn_cache_set_ttl, NULL, RSRC_CONF | ACCESS_CONF,
        "Seconds a verified password is trusted without asking the provider (default 60, max 3600)"),
    AP_INIT_ITERATE("GenFlowAuthnCacheWatch", gf_authn_cache_add_watch, NULL,
        RSRC_CONF | ACCESS_CONF, "Password files whose change voids every cached entry at once"),
    /* The database (mod_genflow_db.c, mod_genflow_engine_listener.c). */
    AP_INIT_TAKE1("GenFlowPreparedStatements", set_statements, NULL, RSRC_CONF,
                  "named (PREPARE once per connection; the default) or unnamed "
                  "(every statement as an unnamed parameterised one: PgBouncer or "
                  "another pooler in transaction pooling)"),
    AP_INIT_TAKE1("GenFlowListenParams", set_listen_params, NULL, RSRC_CONF,
                  "libpq connection string of the listener's direct connection to "
                  "PostgreSQL (LISTEN/NOTIFY); default: DBDParams"),
    /* Cross-origin requests (mod_genflow_cors.c). */
    AP_INIT_TAKE_ARGV("GenFlowCORSOrigins", set_cors_origins, NULL, RSRC_CONF | ACCESS_CONF,
        "Origins (scheme://host[:port]) whose pages may call the API with credentials, or * or none"),
    AP_INIT_TAKE1(NULL, NULL, NULL, 0, NULL)
};
