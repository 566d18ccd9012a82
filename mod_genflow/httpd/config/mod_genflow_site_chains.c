/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_site_chains.c: the provider chains a type's requests can
 * get, wherever the site wrote them.
 *
 * A generation's row keeps the chain of the request that made it (create,
 * generate, retry), merged as httpd merges the sections around that
 * request: the server's own level, then each <Location> and
 * <LocationMatch> that covers the path, in order (a parent's, the type's
 * own, a separate one, a virtual host's, one from an Include), and the
 * <If> sections in them whose expression holds. The engine watches a
 * type's rows per provider (its due checks, wakes, hand-on, standby,
 * limits and place in line ask about t->providers), so those must be the
 * providers of every chain the type's requests can get, not only the one
 * written beside GenFlowType: a row whose provider the engine does not
 * watch is claimed only by the tidy sweep's stray claims, every 10 s.
 *
 * So for each server and each section that mounts a type, the chains
 * are read off the server's sections for the paths that make rows, as
 * the location walk merges them (mod_genflow_site.c's matching), and
 * every chain of an <If> in a covering section is added, since an
 * expression decides per request. A type mounted by a pattern (whose
 * paths cannot be listed) takes every chain of its server.
 *
 * Checked here, so that apache2ctl -t says it too: every chain names a
 * provider its server declares (GF1001), and a chain written where httpd
 * never merges it into a type's request (<Directory>, <Files>: a type's
 * location has no file, its directory walk is skipped) is warned about
 * (GF5201).
 */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <http_core.h>
#include <http_log.h>
#include <util_cfgtree.h>

#include "httpd/config/mod_genflow_private.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_process.h"
#include "httpd/config/mod_genflow_site.h"
#include "core/gf_chain_spec.h"

/* Every provider some chain of the configuration names: a stray claim of
 * one of them is the engine's fault, not an old row's. The process
 * record's member. */
struct gf_site_chains_state {
    apr_hash_t *named;
    apr_hash_t *groups;          /* a group's key → its chain entry */
};
const apr_size_t gf_site_chains_state_size = sizeof(struct gf_site_chains_state);

static gf_dir_conf_t *genflow_of(ap_conf_vector_t *v)
{
    return v ? ap_get_module_config(v, &genflow_module) : NULL;
}

/* A group's entry by its key, for the engine's claims of its line. The
 * entries are the configuration's (pconf). */
static void note_group(const gf_chain_entry_t *e)
{
    struct gf_site_chains_state *st = GF_PROCESS_STATE(site_chains);
    if (st->groups && !apr_hash_get(st->groups, e->provider, APR_HASH_KEY_STRING)) {
        apr_hash_set(st->groups, e->provider, APR_HASH_KEY_STRING, e);
    }
}

/* chain's providers into set; no chain is the built-in local. A group
 * adds its key (its rows' queue) and its members. */
static void add_chain(apr_hash_t *set, const apr_array_header_t *chain)
{
    int j;
    if (!chain) {
        gf_chain_spec_name_in(set, "local", GF_CHAIN_NAMED);
        return;
    }
    for (j = 0; j < chain->nelts; j++) {
        const gf_chain_entry_t *e = &APR_ARRAY_IDX(chain, j, gf_chain_entry_t);
        int k;
        /* A group's rows wait under its key; its members must be declared
         * (and their places freed are watched like any provider's). */
        gf_chain_spec_name_in(set, e->provider, GF_CHAIN_NAMED);
        if (e->members) note_group(e);
        for (k = 0; e->members && k < e->members->nelts; k++) {
            gf_chain_spec_name_in(set, APR_ARRAY_IDX(e->members, k, gf_chain_member_t).provider,
                                  GF_CHAIN_MEMBER);
        }
    }
}

/* The chains of the <If>, <ElseIf> and <Else> sections in v, nested too:
 * whether they apply is the request's. */
static void add_if_chains(apr_hash_t *set, ap_conf_vector_t *v)
{
    core_dir_config *cd = v ? ap_get_core_module_config(v) : NULL;
    int i;
    if (!cd || !cd->sec_if) return;
    for (i = 0; i < cd->sec_if->nelts; i++) {
        ap_conf_vector_t *iv = APR_ARRAY_IDX(cd->sec_if, i, ap_conf_vector_t *);
        gf_dir_conf_t *dc = genflow_of(iv);
        if (dc && dc->chain) add_chain(set, dc->chain);
        add_if_chains(set, iv);
    }
}

/* The chain a request for uri on sp gets, as the location walk merges
 * the sections (the last that sets one wins) into *chain, and the <If>
 * chains of the covering sections into set; the type the request is of,
 * or NULL. */
/* The edits a walk's sections take: GenFlowAccept and
 * GenFlowMaxReferences of the last sections that set them. */
static void edits_of(const gf_dir_conf_t *dc, gf_chain_edits_t *e)
{
    if (dc->accepts_set) e->accepts = dc->accepts;
    if (dc->max_references != GF_UNSET) e->max_refs = dc->max_references;
}

static const gf_type_t *walk(server_rec *sp, const char *uri, const apr_array_header_t **chain,
                             apr_hash_t *set, gf_chain_edits_t *edits)
{
    core_server_config *csc = ap_get_core_module_config(sp->module_config);
    ap_conf_vector_t **sec = (ap_conf_vector_t **)csc->sec_url->elts;
    gf_dir_conf_t *top = genflow_of(sp->lookup_defaults);
    const gf_type_t *type = NULL;
    int i;

    *chain = top ? top->chain : NULL;
    gf_chain_spec_edits_start(edits);
    if (top) edits_of(top, edits);
    for (i = 0; i < csc->sec_url->nelts; i++) {
        gf_dir_conf_t *dc = genflow_of(sec[i]);
        if (gf_site_section_match(ap_get_core_module_config(sec[i]), uri, uri) < 0) continue;
        if (!dc) continue;
        if (dc->chain) *chain = dc->chain;
        if (dc->type) type = dc->type;
        /* GenFlowAccept and GenFlowMaxReferences merge as the chain does:
         * the last section that sets them. */
        edits_of(dc, edits);
        add_if_chains(set, sec[i]);
    }
    return type;
}

/* Every chain of sp: the server's own, each section's, each <If>'s. */
static void add_all_chains(apr_hash_t *set, server_rec *sp)
{
    core_server_config *csc = ap_get_core_module_config(sp->module_config);
    ap_conf_vector_t **sec = (ap_conf_vector_t **)csc->sec_url->elts;
    gf_dir_conf_t *top = genflow_of(sp->lookup_defaults);
    int i;
    add_chain(set, top ? top->chain : NULL);
    add_if_chains(set, sp->lookup_defaults);
    for (i = 0; i < csc->sec_url->nelts; i++) {
        gf_dir_conf_t *dc = genflow_of(sec[i]);
        if (dc && dc->chain) add_chain(set, dc->chain);
        add_if_chains(set, sec[i]);
    }
}

/* The edits the type of mount takes (GenFlowAccept) are ones each of
 * its providers maps: 1, or 0 after logging which does not. A group's
 * members are in set beside it. */
static int check_edits(apr_pool_t *p, server_rec *sp, const gf_type_t *t, unsigned accepts,
                       int max_refs, apr_hash_t *set)
{
    gf_server_conf_t *sc = gf_server_conf(sp);
    apr_hash_index_t *hi;

    if (!accepts) return 1;
    for (hi = apr_hash_first(p, set); hi; hi = apr_hash_next(hi)) {
        const gf_provider_t *prov = apr_hash_get(sc->providers, apr_hash_this_key(hi),
                                                 APR_HASH_KEY_STRING);
        const char *why;
        if (!prov) continue;
        why = gf_chain_spec_edits_refusal(p, accepts, prov->kind->takes_mask,
                                          prov->kind->max_references, max_refs);
        if (why) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sp, GF_LOGNO(1013)
                         "type %s: GenFlowAccept: provider '%s' (%s) %s", t->name,
                         prov->name, prov->kind->kind, why);
            return 0;
        }
    }
    return 1;
}

/* The providers that the requests of the type mounted by section mount
 * on sp can make rows with, into t's set and sp's. 0 when the type's
 * edits are not every provider's (logged). */
static int mount_chains(apr_pool_t *p, server_rec *sp, ap_conf_vector_t *mount,
                        apr_hash_t *server_set)
{
    core_dir_config *cd = ap_get_core_module_config(mount);
    gf_type_t *t = genflow_of(mount)->type;
    apr_hash_t *set = apr_hash_make(p);
    apr_hash_index_t *hi;
    gf_chain_edits_t own, edits;
    int j;

    /* What any request of the type may take: every path's walk, the
     * mount's own section at least. */
    gf_chain_spec_edits_start(&own);
    edits_of(genflow_of(mount), &own);
    if (cd->r || cd->d_is_fnmatch || !cd->d) {
        add_all_chains(set, sp);
    }
    else {
        apr_array_header_t *uris = gf_chain_spec_row_paths(p, cd->d);
        add_if_chains(set, sp->lookup_defaults);
        for (j = 0; j < uris->nelts; j++) {
            const apr_array_header_t *chain;
            if (walk(sp, APR_ARRAY_IDX(uris, j, const char *), &chain, set, &edits) == t) {
                add_chain(set, chain);
                gf_chain_spec_edits_widen(&own, &edits);
            }
        }
    }
    if (!t->providers) t->providers = apr_hash_make(sp->process->pconf);
    for (hi = apr_hash_first(p, set); hi; hi = apr_hash_next(hi)) {
        const char *name = apr_pstrdup(sp->process->pconf, apr_hash_this_key(hi));
        apr_hash_set(t->providers, name, APR_HASH_KEY_STRING, name);
        gf_chain_spec_name_in(server_set, name, apr_hash_this_val(hi));
    }
    return check_edits(p, sp, t, own.accepts, own.max_refs, set);
}

/* Where a GenFlowProviders line names provider, for the error. */
static const ap_directive_t *chain_line(apr_pool_t *p, const ap_directive_t *tree,
                                        const char *provider)
{
    const ap_directive_t *d, *found;
    for (d = tree; d; d = d->next) {
        if (!strcasecmp(d->directive, "GenFlowProviders") && d->args) {
            const char *args = d->args, *w;
            while (*(w = ap_getword_conf(p, &args))) {
                if (gf_chain_spec_names(w, provider)) return d;
            }
        }
        if (d->first_child && (found = chain_line(p, d->first_child, provider))) return found;
    }
    return NULL;
}

/* GenFlowProviders inside a <Directory>, <Files> or <Proxy> section: its
 * chain is never merged into a type's request. */
static void warn_unmerged(apr_pool_t *p, server_rec *s, const ap_directive_t *tree)
{
    const ap_directive_t *d, *up;
    for (d = tree; d; d = d->next) {
        if (!strcasecmp(d->directive, "GenFlowProviders")) {
            for (up = d->parent; up; up = up->parent) {
                if (!gf_chain_spec_unmerged(up->directive)) continue;
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(5201)
                             "%s:%d: GenFlowProviders in %s %s> never applies to a type's "
                             "requests: they have no file, httpd skips their directory and "
                             "file walk; write the chain in a <Location> that covers the "
                             "type, or at the server's level", d->filename, d->line_num,
                             up->directive,
                             up->args ? apr_pstrndup(p, up->args, strcspn(up->args, ">")) : "");
                break;
            }
        }
        if (d->first_child) warn_unmerged(p, s, d->first_child);
    }
}

int gf_site_chains(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s, int quiet)
{
    struct gf_site_chains_state *st = GF_PROCESS_STATE(site_chains);
    server_rec *sp;

    st->named = apr_hash_make(pconf);
    st->groups = apr_hash_make(pconf);
    for (sp = s; sp; sp = sp->next) {
        core_server_config *csc = ap_get_core_module_config(sp->module_config);
        ap_conf_vector_t **sec = (ap_conf_vector_t **)csc->sec_url->elts;
        gf_server_conf_t *sc = gf_server_conf(sp);
        apr_hash_t *server_set = apr_hash_make(ptemp);
        apr_hash_index_t *hi;
        int i;

        for (i = 0; i < csc->sec_url->nelts; i++) {
            gf_dir_conf_t *dc = genflow_of(sec[i]);
            if (dc && dc->type && !mount_chains(ptemp, sp, sec[i], server_set)) {
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
        for (hi = apr_hash_first(ptemp, server_set); hi; hi = apr_hash_next(hi)) {
            const char *name = apr_hash_this_key(hi);
            const ap_directive_t *d;
            gf_provider_t *member;
            /* A group's member: its measures are kept. */
            if (apr_hash_this_val(hi) == GF_CHAIN_MEMBER
                && (member = apr_hash_get(sc->providers, name, APR_HASH_KEY_STRING))) {
                member->grouped = 1;
            }
            apr_hash_set(st->named, apr_pstrdup(pconf, name), APR_HASH_KEY_STRING, "");
            if (!strncmp(name, GF_GROUP_KEY_PREFIX, sizeof(GF_GROUP_KEY_PREFIX) - 1)
                || apr_hash_get(sc->providers, name, APR_HASH_KEY_STRING)) {
                continue;
            }
            d = chain_line(ptemp, ap_conftree, name);
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sp, GF_LOGNO(1001)
                         "%s:%d: GenFlowProviders names '%s', which no GenFlowProvider "
                         "declares (built in: local)%s%s", d ? d->filename : "?",
                         d ? d->line_num : 0, name,
                         sp->is_virtual ? " for the virtual host " : "",
                         sp->is_virtual ? sp->server_hostname : "");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    if (!quiet) warn_unmerged(ptemp, s, ap_conftree);
    return OK;
}

int gf_site_chain_named(const char *provider)
{
    struct gf_site_chains_state *st = GF_PROCESS_STATE(site_chains);
    return st->named && apr_hash_get(st->named, provider, APR_HASH_KEY_STRING) != NULL;
}

const gf_chain_entry_t *gf_site_group(const char *key)
{
    struct gf_site_chains_state *st = GF_PROCESS_STATE(site_chains);
    return st->groups ? apr_hash_get(st->groups, key, APR_HASH_KEY_STRING) : NULL;
}
