/* mod_genflow_config.c: the GenFlow* directives, their defaults and merges.
 *
 * Server scope: providers, storage, credits. Location scope: which type is
 * served there and how (chain, cost, limits). "Unset" sentinels let a merge
 * tell "not configured" from zero; defaults are applied by the getters.
 * conf/genflow.conf documents every directive of gf_cmds[] and
 * tests/check_conf_reference.sh keeps the two in step.
 */
#include <string.h>
#include <apr_strings.h>
#include <http_core.h>

#include "httpd/mod_genflow_private.h"
#include "core/gf_credits.h"
#include "core/gf_input.h"
#include "core/gf_prompt.h"
#include "core/gf_sql.h"

/* Types mounted anywhere in the configuration, and the locations that
 * mount them, for the statement registration and the startup checks. They
 * live in pconf and are forgotten when the configuration is re-read. */
typedef struct {
    gf_dir_conf_t *dc;
    server_rec *s;
    const char *where;           /* "file:line" for error messages */
} gf_mount_t;

/* A setting, or its default when it was never given. */
#define OR_DEFAULT(v, def) ((v) != GF_UNSET ? (v) : (def))

static apr_array_header_t *registered_types;   /* gf_type_t* */
static apr_array_header_t *mounts;             /* gf_mount_t */

static apr_status_t forget_registry(void *unused)
{
    (void)unused;
    registered_types = NULL;
    mounts = NULL;
    return APR_SUCCESS;
}

apr_array_header_t *gf_registered_types(void)
{
    return registered_types;
}

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
    sc->starting_credits = GF_UNSET;
    sc->daily_limit = GF_UNSET;
    sc->workers = GF_UNSET;
    sc->status_cache = GF_UNSET;
    sc->lease_secs = GF_UNSET;
    sc->max_active = GF_UNSET;
    sc->pending_ttl = GF_UNSET;
    sc->retention = GF_UNSET;
    sc->presets_per_week = GF_UNSET;
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
    MERGE_NUM(sc, starting_credits);
    MERGE_NUM(sc, daily_limit);
    MERGE_PTR(sc, storage_dir);
    MERGE_PTR(sc, storage_url);
    MERGE_PTR(sc, cloudinary);
    MERGE_NUM(sc, workers);
    MERGE_NUM(sc, status_cache);
    MERGE_NUM(sc, lease_secs);
    MERGE_NUM(sc, max_active);
    MERGE_NUM(sc, pending_ttl);
    MERGE_NUM(sc, retention);
    MERGE_NUM(sc, presets_per_week);
    return sc;
}

long gf_conf_starting_credits(const gf_server_conf_t *sc)
{
    return OR_DEFAULT(sc->starting_credits, GF_DEFAULT_STARTING_CREDITS);
}

long gf_conf_daily_limit(const gf_server_conf_t *sc)
{
    return OR_DEFAULT(sc->daily_limit, GF_DEFAULT_DAILY_LIMIT);
}

int gf_conf_workers(const gf_server_conf_t *sc)
{
    return OR_DEFAULT(sc->workers, GF_DEFAULT_WORKERS);
}

long gf_conf_status_cache(const gf_server_conf_t *sc)
{
    return OR_DEFAULT(sc->status_cache, GF_DEFAULT_STATUS_CACHE);
}

int gf_conf_lease_secs(const gf_server_conf_t *sc)
{
    return OR_DEFAULT(sc->lease_secs, GF_DEFAULT_LEASE_SECS);
}

int gf_conf_deadline_secs(const gf_dir_conf_t *dc)
{
    return OR_DEFAULT(dc->deadline_secs, GF_DEFAULT_DEADLINE_SECS);
}

long gf_conf_max_active(const gf_server_conf_t *sc)
{
    return OR_DEFAULT(sc->max_active, GF_DEFAULT_MAX_ACTIVE);
}

long gf_conf_pending_ttl(const gf_server_conf_t *sc)
{
    return OR_DEFAULT(sc->pending_ttl, GF_DEFAULT_PENDING_TTL);
}

long gf_conf_presets_per_week(const gf_server_conf_t *sc)
{
    return OR_DEFAULT(sc->presets_per_week, GF_DEFAULT_PRESETS_PER_WEEK);
}

long gf_conf_upload_max_bytes(const gf_dir_conf_t *dc)
{
    return OR_DEFAULT(dc->upload_max_bytes, GF_DEFAULT_UPLOAD_MAX_BYTES);
}

long gf_conf_upload_max_pixels(const gf_dir_conf_t *dc)
{
    return OR_DEFAULT(dc->upload_max_pixels, GF_DEFAULT_UPLOAD_MAX_PIXELS);
}

long gf_conf_retention(const gf_server_conf_t *sc)
{
    return OR_DEFAULT(sc->retention, GF_DEFAULT_RETENTION);
}

/* ---- directory config --------------------------------------------------- */

void *gf_create_dir_conf(apr_pool_t *p, char *dir)
{
    gf_dir_conf_t *dc = apr_pcalloc(p, sizeof(*dc));
    dc->base = dir ? apr_pstrdup(p, dir) : NULL;
    dc->cost = GF_UNSET;
    dc->max_body = GF_UNSET;
    dc->wait_default = GF_UNSET;
    dc->max_retries = GF_UNSET;
    dc->deadline_secs = GF_UNSET;
    dc->upload_max_bytes = GF_UNSET;
    dc->upload_max_pixels = GF_UNSET;
    return dc;
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
    MERGE_NUM(dc, cost);
    MERGE_NUM(dc, max_body);
    MERGE_NUM(dc, wait_default);
    dc->needs_set = add->needs_set || base->needs_set;
    dc->needs = add->needs_set ? add->needs : base->needs;
    MERGE_PTR(dc, prompt_template);
    MERGE_NUM(dc, max_retries);
    MERGE_NUM(dc, deadline_secs);
    MERGE_NUM(dc, upload_max_bytes);
    MERGE_NUM(dc, upload_max_pixels);
    dc->authn_cache = gf_authn_cache_merge_dir(p, base->authn_cache, add->authn_cache);
    MERGE_PTR(dc, cors);         /* "none" is a list of its own: it overrides */
    return dc;
}

/* The shipped types and what they cost and need. */
typedef struct {
    const char *name;
    long cost;
    unsigned needs;
} builtin_type_t;

static const builtin_type_t BUILTIN_TYPES[] = {
    { "neo-glitch",      1, GF_NEED_PROMPT },
    { "emotion-mask",    2, GF_NEED_SOURCE_IMAGE },
    { "presets",         2, GF_NEED_PRESET },
    { "ghibli-reaction", 2, GF_NEED_SOURCE_IMAGE },
    { "custom-prompt",   2, GF_NEED_PROMPT },
    { NULL, 0, 0 }
};

static const builtin_type_t *builtin_type(const char *name)
{
    const builtin_type_t *b;
    for (b = BUILTIN_TYPES; b->name; b++) {
        if (!strcmp(b->name, name)) return b;
    }
    return NULL;
}

long gf_conf_cost(const gf_dir_conf_t *dc)
{
    const builtin_type_t *b;
    if (dc->cost != GF_UNSET) return dc->cost;
    b = builtin_type(dc->type->name);
    return b ? b->cost : 1;
}

unsigned gf_conf_needs(const gf_dir_conf_t *dc)
{
    const builtin_type_t *b;
    if (dc->needs_set) return dc->needs;
    b = builtin_type(dc->type->name);
    return b ? b->needs : GF_NEED_PROMPT;
}

long gf_conf_max_body(const gf_dir_conf_t *dc)
{
    return OR_DEFAULT(dc->max_body, GF_DEFAULT_MAX_BODY);
}

const char *gf_conf_prompt_template(const gf_dir_conf_t *dc)
{
    return dc->prompt_template ? dc->prompt_template
                               : gf_prompt_default_template(dc->type->name);
}

int gf_conf_max_retries(const gf_dir_conf_t *dc)
{
    return OR_DEFAULT(dc->max_retries, GF_DEFAULT_MAX_RETRIES);
}

const char *gf_conf_chain_text(apr_pool_t *p, const gf_dir_conf_t *dc)
{
    const char *text = NULL;
    int i;

    if (!dc->chain) {
        return "local";
    }
    for (i = 0; i < dc->chain->nelts; i++) {
        const gf_chain_entry_t *e = &APR_ARRAY_IDX(dc->chain, i, gf_chain_entry_t);
        const char *item = e->model ? apr_pstrcat(p, e->provider, ":", e->model, NULL)
                                    : e->provider;
        text = text ? apr_pstrcat(p, text, ",", item, NULL) : item;
    }
    return text;
}

/* ---- directive handlers ------------------------------------------------- */

#define DIRECTIVE_ERROR(cmd, msg) \
    apr_psprintf((cmd)->pool, "%s: %s", (cmd)->directive->directive, (msg))

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
    apr_hash_set(sc->providers, prov->name, APR_HASH_KEY_STRING, prov);
    return NULL;
}

static const char *set_server_amount(cmd_parms *cmd, void *dummy, const char *arg)
{
    gf_server_conf_t *sc = gf_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    long v;

    (void)dummy;
    if (err) return err;
    if ((err = gf_parse_amount(cmd->pool, arg, GF_CREDITS_MAX, &v)) != NULL) {
        return DIRECTIVE_ERROR(cmd, err);
    }
    if (!strcasecmp(cmd->cmd->name, "GenFlowStartingCredits")) sc->starting_credits = v;
    else sc->daily_limit = v;
    return NULL;
}

static const char *set_limit(cmd_parms *cmd, void *dummy, const char *arg)
{
    gf_server_conf_t *sc = gf_server_conf(cmd->server);
    const char *name = cmd->cmd->name;
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    long v;

    (void)dummy;
    if (err) return err;
    if ((!strcasecmp(name, "GenFlowPendingTTL") || !strcasecmp(name, "GenFlowRetention"))
        && (err = gf_refuse_in_vhost(cmd, "the sweeps run once per database, for all servers "
                                          "on it"))) {
        return err;
    }
    if ((err = gf_parse_amount(cmd->pool, arg, 10L * 365 * 86400, &v)) != NULL) {
        return DIRECTIVE_ERROR(cmd, err);
    }
    if (!strcasecmp(name, "GenFlowPresetsPerWeek")) {
        if (v < 1 || v > 1000) return DIRECTIVE_ERROR(cmd, "must be 1..1000");
        sc->presets_per_week = v;
    }
    else if (!strcasecmp(name, "GenFlowMaxActive")) sc->max_active = v;
    else if (!strcasecmp(name, "GenFlowPendingTTL")) sc->pending_ttl = v;
    else sc->retention = v;
    return NULL;
}

static const char *set_engine_number(cmd_parms *cmd, void *dummy, const char *arg)
{
    gf_server_conf_t *sc = gf_server_conf(cmd->server);
    const char *name = cmd->cmd->name;
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);
    long v;

    (void)dummy;
    if (err) return err;
    if (!strcasecmp(name, "GenFlowWorkers")) {
        if ((err = gf_refuse_in_vhost(cmd, "a child's worker threads serve all of its servers")))
            return err;
        if ((err = gf_parse_amount(cmd->pool, arg, 64, &v)) != NULL)
            return DIRECTIVE_ERROR(cmd, err);
        sc->workers = (int)v;
    }
    else if (!strcasecmp(name, "GenFlowStatusCache")) {
        if ((err = gf_refuse_in_vhost(cmd, "a child keeps one cache for all of its servers")))
            return err;
        if ((err = gf_parse_amount(cmd->pool, arg, 1000000, &v)) != NULL)
            return DIRECTIVE_ERROR(cmd, err);
        sc->status_cache = v;
    }
    else if (!strcasecmp(name, "GenFlowLeaseSeconds")) {
        if ((err = gf_parse_amount(cmd->pool, arg, 3600, &v)) != NULL)
            return DIRECTIVE_ERROR(cmd, err);
        if (v < 2) return DIRECTIVE_ERROR(cmd, "must be at least 2 seconds");
        sc->lease_secs = (int)v;
    }
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

static const char *set_storage_url(cmd_parms *cmd, void *dummy, const char *arg)
{
    gf_server_conf_t *sc = gf_server_conf(cmd->server);
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_LOC_FILE);

    (void)dummy;
    if (err) return err;
    if (arg[0] != '/' && strncmp(arg, "https://", 8) && strncmp(arg, "http://", 7)) {
        return DIRECTIVE_ERROR(cmd, "must be a path such as /media or an http(s) URL prefix");
    }
    sc->storage_url = arg;
    return NULL;
}

static const char *set_type(cmd_parms *cmd, void *dcv, const char *name, const char *table)
{
    gf_dir_conf_t *dc = dcv;
    gf_type_t *type = NULL, **tp;
    gf_mount_t *mount;
    int i, op;

    if (!cmd->path) {
        return DIRECTIVE_ERROR(cmd, "belongs in a <Location> block");
    }
    if (!gf_sql_valid_type(name)) {
        return DIRECTIVE_ERROR(cmd, apr_psprintf(cmd->pool, "type name '%s' must be lower-case "
                               "letters, digits and '-', starting with a letter", name));
    }
    if (!table) {
        char *t = apr_pstrcat(cmd->pool, name, "_media", NULL), *c;
        for (c = t; *c; c++) if (*c == '-') *c = '_';
        table = t;
    }
    if (strlen(table) > GF_SQL_TABLE_MAX) {
        return DIRECTIVE_ERROR(cmd, apr_psprintf(cmd->pool, "table name '%s' is longer than %d "
                               "characters (PostgreSQL cuts the names of its indexes at 63); "
                               "give a shorter one as the second argument: GenFlowType %s TABLE",
                               table, GF_SQL_TABLE_MAX, name));
    }
    if (!gf_sql_valid_table(table)) {
        return DIRECTIVE_ERROR(cmd, apr_psprintf(cmd->pool, "table name '%s' must be lower-case "
                               "letters, digits and '_'", table));
    }
    if (!registered_types) {
        registered_types = apr_array_make(cmd->pool, 8, sizeof(gf_type_t *));
        mounts = apr_array_make(cmd->pool, 8, sizeof(gf_mount_t));
        apr_pool_cleanup_register(cmd->pool, NULL, forget_registry, apr_pool_cleanup_null);
    }
    for (i = 0; i < registered_types->nelts; i++) {
        gf_type_t *t = APR_ARRAY_IDX(registered_types, i, gf_type_t *);
        if (!strcmp(t->name, name)) {
            if (strcmp(t->table, table)) {
                return DIRECTIVE_ERROR(cmd, apr_psprintf(cmd->pool, "type '%s' is already "
                                       "mounted with table '%s'", name, t->table));
            }
            type = t;
        }
        else if (!strcmp(t->table, table)) {
            return DIRECTIVE_ERROR(cmd, apr_psprintf(cmd->pool, "table '%s' already belongs "
                                   "to type '%s'", table, t->name));
        }
    }
    if (!type) {
        type = apr_pcalloc(cmd->pool, sizeof(*type));
        type->name = apr_pstrdup(cmd->pool, name);
        type->table = apr_pstrdup(cmd->pool, table);
        for (op = 0; op < GF_SQL_TYPE_OPS; op++) {
            type->labels[op] = gf_sql_type_label(cmd->pool, table, (gf_sql_type_op_t)op);
        }
        tp = apr_array_push(registered_types);
        *tp = type;
    }
    dc->type = type;
    dc->base = apr_pstrdup(cmd->pool, cmd->path);
    mount = apr_array_push(mounts);
    mount->dc = dc;
    mount->s = cmd->server;
    mount->where = apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                                cmd->directive->line_num);
    return NULL;
}

static const char *set_chain(cmd_parms *cmd, void *dcv, int argc, char *const argv[])
{
    gf_dir_conf_t *dc = dcv;
    const char *err;
    int i;

    if (argc < 1) {
        return DIRECTIVE_ERROR(cmd, "needs at least one provider");
    }
    dc->chain = apr_array_make(cmd->pool, argc, sizeof(gf_chain_entry_t));
    for (i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "->") || !strcmp(argv[i], "\xe2\x86\x92")) {
            continue;  /* "stability -> aiml" reads well; the arrows are optional */
        }
        if ((err = gf_chain_entry_parse(cmd->pool, argv[i], apr_array_push(dc->chain))) != NULL) {
            return DIRECTIVE_ERROR(cmd, err);
        }
    }
    if (dc->chain->nelts == 0) {
        return DIRECTIVE_ERROR(cmd, "needs at least one provider");
    }
    return NULL;
}

static const char *set_dir_number(cmd_parms *cmd, void *dcv, const char *arg)
{
    gf_dir_conf_t *dc = dcv;
    const char *name = cmd->cmd->name, *err;
    long v;

    if (!strcasecmp(name, "GenFlowCost")) {
        if ((err = gf_parse_amount(cmd->pool, arg, GF_CREDITS_MAX, &v)) != NULL)
            return DIRECTIVE_ERROR(cmd, err);
        dc->cost = v;
    }
    else if (!strcasecmp(name, "GenFlowMaxBody")) {
        if ((err = gf_parse_amount(cmd->pool, arg, GF_MAX_BODY_LIMIT, &v)) != NULL)
            return DIRECTIVE_ERROR(cmd, err);
        if (v < 256) return DIRECTIVE_ERROR(cmd, "must be at least 256 bytes");
        dc->max_body = v;
    }
    else if (!strcasecmp(name, "GenFlowWait")) {
        if ((err = gf_parse_amount(cmd->pool, arg, GF_PREFER_WAIT_MAX, &v)) != NULL)
            return DIRECTIVE_ERROR(cmd, err);
        dc->wait_default = (int)v;
    }
    else if (!strcasecmp(name, "GenFlowDeadline")) {
        if ((err = gf_parse_amount(cmd->pool, arg, 86400, &v)) != NULL)
            return DIRECTIVE_ERROR(cmd, err);
        if (v < 1) return DIRECTIVE_ERROR(cmd, "must be at least 1 second");
        dc->deadline_secs = (int)v;
    }
    else {
        if ((err = gf_parse_amount(cmd->pool, arg, 10, &v)) != NULL)
            return DIRECTIVE_ERROR(cmd, err);
        dc->max_retries = (int)v;
    }
    return NULL;
}

/* GenFlowUploadMaxBytes, GenFlowUploadMaxPixels: server or <Location>. */
static const char *set_upload_limit(cmd_parms *cmd, void *dcv, const char *arg)
{
    gf_dir_conf_t *dc = dcv;
    const char *err;
    long v;

    if (!strcasecmp(cmd->cmd->name, "GenFlowUploadMaxBytes")) {
        if ((err = gf_parse_amount(cmd->pool, arg, GF_UPLOAD_MAX_BYTES_LIMIT, &v)) != NULL)
            return DIRECTIVE_ERROR(cmd, err);
        if (v < 1024) return DIRECTIVE_ERROR(cmd, "must be at least 1024 bytes");
        dc->upload_max_bytes = v;
    }
    else {
        if ((err = gf_parse_amount(cmd->pool, arg, GF_UPLOAD_MAX_PIXELS_LIMIT, &v)) != NULL)
            return DIRECTIVE_ERROR(cmd, err);
        if (v < 1) return DIRECTIVE_ERROR(cmd, "must be at least 1 pixel");
        dc->upload_max_pixels = v;
    }
    return NULL;
}

static const char *set_require(cmd_parms *cmd, void *dcv, int argc, char *const argv[])
{
    gf_dir_conf_t *dc = dcv;
    int i;

    dc->needs_set = 1;
    dc->needs = 0;
    for (i = 0; i < argc; i++) {
        unsigned need;
        if (!strcasecmp(argv[i], "none")) continue;
        if (!gf_input_need_from_word(argv[i], &need)) {
            return DIRECTIVE_ERROR(cmd, apr_psprintf(cmd->pool, "unknown field '%s' "
                                   "(prompt, sourceImage, preset or none)", argv[i]));
        }
        dc->needs |= need;
    }
    return NULL;
}

static const char *set_prompt_template(cmd_parms *cmd, void *dcv, const char *arg)
{
    gf_dir_conf_t *dc = dcv;
    const char *err = gf_prompt_check_template(cmd->pool, arg);

    if (err) return DIRECTIVE_ERROR(cmd, err);
    dc->prompt_template = arg;
    return NULL;
}

const command_rec gf_cmds[] = {
    AP_INIT_TAKE_ARGV("GenFlowProvider", set_provider, NULL, RSRC_CONF,
        "Declare a provider: GenFlowProvider NAME KIND [key=value ...]"),
    AP_INIT_TAKE1("GenFlowStorageDir", set_storage_dir, NULL, RSRC_CONF,
        "Directory where result images are stored"),
    AP_INIT_TAKE1("GenFlowStorageURL", set_storage_url, NULL, RSRC_CONF,
        "URL prefix under which Apache serves GenFlowStorageDir"),
    AP_INIT_TAKE_ARGV("GenFlowCloudinary", set_cloudinary, NULL, RSRC_CONF,
        "Store results on Cloudinary: cloud= api_key= secret_file=|secret_env= [algorithm=sha1|sha256] ..."),
    AP_INIT_TAKE1("GenFlowStartingCredits", set_server_amount, NULL, RSRC_CONF,
        "Credits a new account starts with"),
    AP_INIT_TAKE1("GenFlowDailyLimit", set_server_amount, NULL, RSRC_CONF,
        "Credits a user may spend per UTC day (0 = no limit)"),
    AP_INIT_TAKE1("GenFlowWorkers", set_engine_number, NULL, RSRC_CONF,
        "Background worker threads per httpd child (0 = this server works no jobs)"),
    AP_INIT_TAKE1("GenFlowStatusCache", set_engine_number, NULL, RSRC_CONF,
        "Status answers of finished generations each child keeps (0 = none)"),
    AP_INIT_TAKE1("GenFlowLeaseSeconds", set_engine_number, NULL, RSRC_CONF,
        "How long a worker owns an attempt before another may rescue it"),
    AP_INIT_TAKE1("GenFlowDeadline", set_dir_number, NULL, RSRC_CONF | ACCESS_CONF,
        "Seconds after its start by which a generation must be terminal (TIMEOUT)"),
    AP_INIT_TAKE1("GenFlowPresetsPerWeek", set_limit, NULL, RSRC_CONF,
        "Presets of a type active in one ISO week (rotation)"),
    AP_INIT_TAKE1("GenFlowMaxActive", set_limit, NULL, RSRC_CONF,
        "Generations one user may have not yet terminal (0 = no limit); more → 429"),
    AP_INIT_TAKE1("GenFlowPendingTTL", set_limit, NULL, RSRC_CONF,
        "Seconds after which a created but never started generation expires (0 = never)"),
    AP_INIT_TAKE1("GenFlowRetention", set_limit, NULL, RSRC_CONF,
        "Seconds failed and cancelled generations are kept (0 = forever)"),
    AP_INIT_TAKE12("GenFlowType", set_type, NULL, ACCESS_CONF,
        "Serve a generation type at this location: GenFlowType NAME [TABLE]"),
    AP_INIT_TAKE_ARGV("GenFlowProviders", set_chain, NULL, ACCESS_CONF,
        "The type's provider chain, tried in order: NAME[:MODEL] ..."),
    AP_INIT_TAKE1("GenFlowCost", set_dir_number, NULL, ACCESS_CONF,
        "Credits one generation of this type costs"),
    AP_INIT_TAKE1("GenFlowMaxBody", set_dir_number, NULL, ACCESS_CONF,
        "Largest request body accepted, in bytes"),
    AP_INIT_TAKE1("GenFlowWait", set_dir_number, NULL, ACCESS_CONF,
        "Seconds generate waits for a result when the client sends no Prefer: wait"),
    AP_INIT_TAKE1("GenFlowMaxRetries", set_dir_number, NULL, ACCESS_CONF,
        "Retries of a transient provider failure before falling back"),
    AP_INIT_TAKE_ARGV("GenFlowRequire", set_require, NULL, ACCESS_CONF,
        "Create fields this type requires: prompt, sourceImage, preset, or none"),
    AP_INIT_TAKE1("GenFlowPromptTemplate", set_prompt_template, NULL, ACCESS_CONF,
        "Template of the final prompt, e.g. \"art, {prompt}, {style}\""),
    /* POST /api/uploads (mod_genflow_uploads.c). */
    AP_INIT_TAKE1("GenFlowUploadMaxBytes", set_upload_limit, NULL, RSRC_CONF | ACCESS_CONF,
        "Largest image an upload may be, in bytes (default 10485760)"),
    AP_INIT_TAKE1("GenFlowUploadMaxPixels", set_upload_limit, NULL, RSRC_CONF | ACCESS_CONF,
        "Most pixels (width x height) an uploaded image may have (default 25000000)"),
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
    /* Cross-origin requests (mod_genflow_cors.c). */
    AP_INIT_TAKE_ARGV("GenFlowCORSOrigins", gf_cors_set_origins, NULL, RSRC_CONF | ACCESS_CONF,
        "Origins (scheme://host[:port]) whose pages may call the API with credentials, or * or none"),
    AP_INIT_TAKE1(NULL, NULL, NULL, 0, NULL)
};

/* ---- startup checks ----------------------------------------------------- */

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
     * host, so each of them must declare what its chain names. */
    for (i = 0; i < mounts->nelts; i++) {
        gf_mount_t *m = &APR_ARRAY_IDX(mounts, i, gf_mount_t);
        if (!m->dc->chain) continue;
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
