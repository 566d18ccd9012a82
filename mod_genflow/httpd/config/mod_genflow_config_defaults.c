/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_config_defaults.c: the settings as the module uses them
 * (see mod_genflow_config.h): what a directive gave, or its default when it
 * was never given; a type's cost and required fields default to those of
 * the shipped type of its name.
 */
#include <string.h>
#include <apr_strings.h>

#include "core/gf_builtin.h"
#include "core/gf_input.h"
#include "core/gf_prompt.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_private.h"

/* A setting, or its default when it was never given. */
#define OR_DEFAULT(v, def) ((v) != GF_UNSET ? (v) : (def))

/* The getters of the settings' PLAIN lines (mod_genflow_config_settings.h). */
#define GETTER_PLAIN(type, field, rec, def) \
    type gf_conf_##field(const rec *c) { return OR_DEFAULT(c->field, def); }
#define GETTER_OWN(type, field, rec, def)
#define SERVER_GETTER(getter, type, field, directive, def, ...) \
    GETTER_##getter(type, field, gf_server_conf_t, def)
#define DIR_GETTER(getter, type, field, directive, def, ...) \
    GETTER_##getter(type, field, gf_dir_conf_t, def)
GF_SERVER_SETTINGS(SERVER_GETTER)
GF_DIR_SETTINGS(DIR_GETTER)

long gf_conf_blocking_waiters(const gf_server_conf_t *sc, int threads_per_child)
{
    return OR_DEFAULT(sc->blocking_waiters, threads_per_child / 2);
}

long gf_conf_created_ttl(const gf_server_conf_t *sc)
{
    /* A site that sets only GenFlowPendingTTL chose its orphan sweep: it
     * holds for created generations too. */
    if (sc->created_ttl != GF_UNSET) return sc->created_ttl;
    return OR_DEFAULT(sc->pending_ttl, GF_DEFAULT_CREATED_TTL);
}

int gf_conf_unnamed_statements(const gf_server_conf_t *sc)
{
    return OR_DEFAULT(sc->unnamed_statements, 0);
}

long gf_conf_cost(const gf_dir_conf_t *dc)
{
    const gf_builtin_type_t *b;
    if (dc->cost != GF_UNSET) return dc->cost;
    b = gf_builtin_type(dc->type->name);
    return b ? b->cost : 1;
}

unsigned gf_conf_needs(const gf_dir_conf_t *dc)
{
    const gf_builtin_type_t *b;
    if (dc->needs_set) return dc->needs;
    b = gf_builtin_type(dc->type->name);
    return b ? b->needs : GF_NEED_PROMPT;
}

/* A type takes no mask and no reference picture unless GenFlowAccept
 * says so: the shipped types keep what they take. */
unsigned gf_conf_accepts(const gf_dir_conf_t *dc)
{
    return dc->accepts_set ? dc->accepts : 0;
}

const char *gf_conf_prompt_template(const gf_dir_conf_t *dc)
{
    return dc->prompt_template ? dc->prompt_template
                               : gf_prompt_default_template(dc->type->name);
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
        text = text ? apr_pstrcat(p, text, ",", e->text, NULL) : e->text;
    }
    return text;
}

const gf_storage_t *gf_conf_store_named(const gf_server_conf_t *sc, const char *backend)
{
    if (!backend) return NULL;
    if (sc->storage && !strcmp(sc->storage->backend, backend)) return sc->storage;
    if (sc->fallback_storage && !strcmp(sc->fallback_storage->backend, backend)) {
        return sc->fallback_storage;
    }
    return NULL;
}
