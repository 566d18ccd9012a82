/* mod_genflow_config_defaults.c: the settings as the module uses them
 * (see mod_genflow_config.h): what a directive gave, or its default when it
 * was never given; a type's cost and required fields default to those of
 * the shipped type of its name.
 */
#include <string.h>
#include <apr_strings.h>

#include "httpd/mod_genflow_config_int.h"
#include "core/gf_input.h"
#include "core/gf_prompt.h"

/* A setting, or its default when it was never given. */
#define OR_DEFAULT(v, def) ((v) != GF_UNSET ? (v) : (def))

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

long gf_conf_max_in_flight(const gf_server_conf_t *sc)
{
    return OR_DEFAULT(sc->max_in_flight, GF_DEFAULT_MAX_IN_FLIGHT);
}

long gf_conf_park_max(const gf_server_conf_t *sc)
{
    return OR_DEFAULT(sc->park_max, GF_DEFAULT_PARK_MAX);
}

long gf_conf_blocking_waiters(const gf_server_conf_t *sc, int threads_per_child)
{
    return OR_DEFAULT(sc->blocking_waiters, threads_per_child / 2);
}

long gf_conf_events_per_user(const gf_server_conf_t *sc)
{
    return OR_DEFAULT(sc->events_per_user, GF_DEFAULT_EVENTS_PER_USER);
}

int gf_conf_events_max_secs(const gf_dir_conf_t *dc)
{
    return OR_DEFAULT(dc->events_max_secs, GF_DEFAULT_EVENTS_MAX_SECS);
}

int gf_conf_events_heartbeat(const gf_dir_conf_t *dc)
{
    return OR_DEFAULT(dc->events_heartbeat, GF_DEFAULT_EVENTS_HEARTBEAT);
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

long gf_conf_created_ttl(const gf_server_conf_t *sc)
{
    /* A configuration written before GenFlowCreatedTTL existed keeps what
     * its GenFlowPendingTTL meant for created generations. */
    if (sc->created_ttl != GF_UNSET) return sc->created_ttl;
    return OR_DEFAULT(sc->pending_ttl, GF_DEFAULT_CREATED_TTL);
}

long gf_conf_presets_per_week(const gf_server_conf_t *sc)
{
    return OR_DEFAULT(sc->presets_per_week, GF_DEFAULT_PRESETS_PER_WEEK);
}

int gf_conf_unnamed_statements(const gf_server_conf_t *sc)
{
    return OR_DEFAULT(sc->unnamed_statements, 0);
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
