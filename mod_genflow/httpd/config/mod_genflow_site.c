/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_site.c: the site's layout as httpd read it (see
 * mod_genflow_site.h): where a handler is mounted, which virtual host is
 * an events host, and the startup checks of the rules around them.
 *
 * Where a handler is mounted is read off httpd's own records: each
 * server's <Location> sections in merge order (core's sec_url, the main
 * server's first, then the virtual host's), each with its path or regex
 * and its SetHandler. The section whose SetHandler is the request's (the
 * very expression the merge kept) and that matches the request's path,
 * the last such as httpd merges them, is where the handler was set; it is
 * matched as httpd's location walk matches, so the two cannot disagree.
 *
 * The access rules (Require) are another module's records (mod_authz_core
 * keeps them to itself): the checks read them off the configuration tree,
 * where each section's directives stand as the site wrote them, Include
 * files and <IfModule> bodies already in place.
 */
#include <string.h>
#include <apr_fnmatch.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include <http_core.h>
#include <http_main.h>
#include <util_cfgtree.h>

#include "httpd/config/mod_genflow_process.h"
#include "httpd/config/mod_genflow_site.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_vhost.h"

/* The events hosts of the configuration: server_rec * → why (the URL
 * that names it, or "GenFlowEventsHost On"). The process record's member. */
struct gf_site_state {
    apr_hash_t *events_hosts;
};
const apr_size_t gf_site_state_size = sizeof(struct gf_site_state);

/* A made-up generation id: the probes' streams and status reads. */
#define PROBE_ID "00000000-0000-4000-8000-000000000000"

/* ---- where a handler is mounted ------------------------------------------ */

/* As httpd's location walk matches (server/request.c, ap_location_walk).
 * A prefix
 * matches at a segment's end; a wildcard path the whole path; a regex
 * anywhere, and what follows its match is the rest. */
apr_ssize_t gf_site_section_match(const core_dir_config *sec, const char *uri,
                                  const char *merged)
{
    apr_size_t len;
    if (sec->r) {
        ap_regmatch_t m[1];
        return ap_regexec(sec->r, uri, 1, m, 0) ? -1 : (apr_ssize_t)m[0].rm_eo;
    }
    if (sec->d_is_fnmatch) {
        return apr_fnmatch(sec->d, merged, APR_FNM_PATHNAME) ? -1 : (apr_ssize_t)strlen(merged);
    }
    len = strlen(sec->d);
    if (strncmp(sec->d, merged, len)
        || (len > 0 && sec->d[len - 1] != '/' && merged[len] != '/' && merged[len] != '\0')) {
        return -1;
    }
    /* "/api/admin/" + "jobs": the rest keeps its slash. */
    return (apr_ssize_t)(len > 0 && sec->d[len - 1] == '/' ? len - 1 : len);
}

const char *gf_site_rest(request_rec *r)
{
    core_server_config *sconf = ap_get_core_module_config(r->server->module_config);
    core_dir_config *cd = ap_get_core_module_config(r->per_dir_config);
    ap_conf_vector_t **sec;
    char *merged;
    int i;

    if (!cd || !cd->expr_handler || !sconf->sec_url) return NULL;
    /* httpd matches the prefixes against the path with its slashes merged,
     * whatever MergeSlashes says, and the regexes against r->uri. */
    merged = apr_pstrdup(r->pool, r->uri);
    ap_no2slash(merged);
    sec = (ap_conf_vector_t **)sconf->sec_url->elts;
    for (i = sconf->sec_url->nelts - 1; i >= 0; i--) {
        core_dir_config *e = ap_get_core_module_config(sec[i]);
        apr_ssize_t at;
        const char *rest;
        if (e->expr_handler != cd->expr_handler) continue;
        if ((at = gf_site_section_match(e, r->uri, merged)) < 0) continue;
        rest = e->r ? r->uri + at : merged + at;
        /* <Location /api/quota/> is that path itself: its rest "/" is none. */
        if (!e->r && !e->d_is_fnmatch && !strcmp(rest, "/") && e->d[strlen(e->d) - 1] == '/') {
            return "";
        }
        return rest;
    }
    return NULL;
}

int gf_site_module_path(request_rec *r, int (*genflow_handler)(const char *name))
{
    core_server_config *sconf = ap_get_core_module_config(r->server->module_config);
    ap_conf_vector_t **sec;
    const ap_expr_info_t *handler = NULL;
    char *merged;
    int i, typed = 0;

    if (!sconf->sec_url || !r->uri) return 0;
    merged = apr_pstrdup(r->pool, r->uri);
    ap_no2slash(merged);
    sec = (ap_conf_vector_t **)sconf->sec_url->elts;
    for (i = 0; i < sconf->sec_url->nelts; i++) {
        core_dir_config *e = ap_get_core_module_config(sec[i]);
        gf_dir_conf_t *dc = ap_get_module_config(sec[i], &genflow_module);
        if (gf_site_section_match(e, r->uri, merged) < 0) continue;
        if (dc && dc->type) typed = 1;
        if (e->expr_handler) handler = e->expr_handler;
    }
    if (handler) {
        const char *err = NULL, *name = ap_expr_str_exec(r, handler, &err);
        return !err && genflow_handler(name);
    }
    return typed;
}

/* ---- events hosts --------------------------------------------------------- */

/* Why s is an events host (the URL that names it, or "GenFlowEventsHost
 * On"), or NULL. */
static const char *events_host_why(const server_rec *s)
{
    struct gf_site_state *st = GF_PROCESS_STATE(site);
    return st->events_hosts ? apr_hash_get(st->events_hosts, &s, sizeof(s)) : NULL;
}

int gf_site_events_host(const server_rec *s)
{
    return events_host_why(s) != NULL;
}

static void mark_events_host(apr_pool_t *p, server_rec *sp, const char *why)
{
    struct gf_site_state *st = GF_PROCESS_STATE(site);
    server_rec **key = apr_pmemdup(p, &sp, sizeof(sp));
    if (!st->events_hosts) st->events_hosts = apr_hash_make(p);
    apr_hash_set(st->events_hosts, key, sizeof(sp), why);
}

/* sp as gf_vhost_match sees it: its names and the addresses of its
 * <VirtualHost>. */
static void describe(apr_pool_t *p, const server_rec *sp, gf_vhost_t *v)
{
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(const char *));
    apr_array_header_t *addrs = apr_array_make(p, 2, sizeof(gf_vhost_addr_t));
    const server_addr_rec *sar;
    int i;

    APR_ARRAY_PUSH(names, const char *) = sp->server_hostname;
    for (i = 0; sp->names && i < sp->names->nelts; i++) {
        APR_ARRAY_PUSH(names, const char *) = APR_ARRAY_IDX(sp->names, i, const char *);
    }
    for (i = 0; sp->wild_names && i < sp->wild_names->nelts; i++) {
        APR_ARRAY_PUSH(names, const char *) = APR_ARRAY_IDX(sp->wild_names, i, const char *);
    }
    APR_ARRAY_PUSH(names, const char *) = NULL;
    for (sar = sp->addrs; sar; sar = sar->next) {
        gf_vhost_addr_t *a = apr_array_push(addrs);
        char *ip = NULL;
        a->port = sar->host_port;
        a->ip = NULL;
        if (sar->host_addr && !apr_sockaddr_is_wildcard(sar->host_addr)
            && apr_sockaddr_ip_get(&ip, sar->host_addr) == APR_SUCCESS) {
            a->ip = ip;
        }
    }
    v->names = (const char *const *)names->elts;
    v->addrs = (const gf_vhost_addr_t *)addrs->elts;
    v->naddrs = addrs->nelts;
}

static const char *vhost_label(apr_pool_t *p, const server_rec *sp)
{
    return apr_psprintf(p, "%s (%s:%d)", sp->server_hostname,
                        sp->defn_name ? sp->defn_name : "?", sp->defn_line_number);
}

/* The virtual hosts one GenFlowEventsBase names: those it names exactly,
 * else the one it names by name alone (behind a proxy). Not OK when it
 * names the host whose configuration gives it: that host serves the API
 * (its eventsUrl would point at itself, and the API would close). */
static int find_events_host(apr_pool_t *p, server_rec *s, const gf_events_base_t *eb,
                            int quiet)
{
    apr_uri_t u;
    server_rec *sp, *by_name = NULL;
    unsigned port;
    int exact = 0, names = 0;

    if (apr_uri_parse(p, eb->url, &u) != APR_SUCCESS || !u.hostname) return OK;
    port = u.port ? u.port : apr_uri_port_of_scheme(u.scheme);
    for (sp = s->next; sp; sp = sp->next) {
        gf_vhost_t v;
        int m;
        if (gf_server_conf(sp)->events_host == 0) continue;   /* GenFlowEventsHost Off */
        describe(p, sp, &v);
        m = gf_vhost_match(u.hostname, port, &v);
        if (m == GF_VHOST_NO) continue;
        if (eb->s == sp) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, sp, GF_LOGNO(5101)
                         "%s: GenFlowEventsBase %s names the virtual host %s, whose own "
                         "configuration gives it: an events host answers event streams "
                         "only, so its API would close. Give the streams a host of their "
                         "own, or GenFlowEventsBase none", eb->where, eb->url,
                         vhost_label(p, sp));
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (m == GF_VHOST_EXACT) {
            mark_events_host(p, sp, eb->url);
            exact++;
        }
        else {
            by_name = sp;
            names++;
        }
    }
    if (!exact && names == 1) {
        mark_events_host(p, by_name, eb->url);
        exact = 1;
    }
    if (!exact && !quiet) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, GF_LOGNO(5102)
                     "%s: GenFlowEventsBase %s names no virtual host of this server%s: the "
                     "events host is served elsewhere, or mark it with GenFlowEventsHost On",
                     eb->where, eb->url, names > 1 ? " alone (several have its name)" : "");
    }
    return OK;
}

static int find_events_hosts(apr_pool_t *p, server_rec *s, int quiet)
{
    apr_array_header_t *bases = gf_conf_events_bases();
    server_rec *sp;
    int i;

    for (sp = s->next; sp; sp = sp->next) {
        if (gf_server_conf(sp)->events_host == 1) {
            mark_events_host(p, sp, "GenFlowEventsHost On");
        }
    }
    for (i = 0; bases && i < bases->nelts; i++) {
        if (find_events_host(p, s, &APR_ARRAY_IDX(bases, i, gf_events_base_t), quiet) != OK) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    for (sp = s->next; sp && !quiet; sp = sp->next) {
        const char *why = events_host_why(sp);
        if (why) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, sp, GF_LOGNO(5103)
                         "the virtual host %s is an events host (%s): it answers event "
                         "streams opened by their token, and 404 to everything else",
                         vhost_label(p, sp), why);
        }
    }
    return OK;
}

/* ---- the access rules, as written ---------------------------------------- */

/* A <Location>, <Location ~>, <LocationMatch> section: what it matches, in
 * core_dir_config's terms, so that gf_site_section_match() reads it. */
static int section_of(apr_pool_t *p, const ap_directive_t *d, core_dir_config *sec)
{
    const char *args, *word;
    char *copy;
    int regex = !strcasecmp(d->directive, "<LocationMatch");

    if (!regex && strcasecmp(d->directive, "<Location")) return 0;
    if (!d->args) return 0;
    copy = apr_pstrdup(p, d->args);
    if (*copy && copy[strlen(copy) - 1] == '>') copy[strlen(copy) - 1] = '\0';
    args = copy;
    word = ap_getword_conf(p, &args);
    if (!regex && !strcmp(word, "~")) {
        regex = 1;
        word = ap_getword_conf(p, &args);
    }
    memset(sec, 0, sizeof(*sec));
    if (regex) {
        if (!(sec->r = ap_pregcomp(p, word, AP_REG_EXTENDED))) return 0;
        sec->d = (char *)word;
        return 1;
    }
    sec->d = (char *)word;
    sec->d_is_fnmatch = apr_fnmatch_test(word) != 0;
    return 1;
}

static int section_covers(apr_pool_t *p, const core_dir_config *sec, const char *uri)
{
    char *merged = apr_pstrdup(p, uri);
    ap_no2slash(merged);
    return gf_site_section_match(sec, uri, merged) >= 0;
}

/* The first word of a directive's arguments, unquoted. */
static const char *first_arg(apr_pool_t *p, const ap_directive_t *d)
{
    const char *args = d->args ? d->args : "";
    return ap_getword_conf(p, &args);
}

static int is_access_rule(const ap_directive_t *d)
{
    return !strcasecmp(d->directive, "Require") || !strcasecmp(d->directive, "<RequireAll")
           || !strcasecmp(d->directive, "<RequireAny")
           || !strcasecmp(d->directive, "<RequireNone");
}

/* The genflow handler a section sets itself, or NULL. */
static const char *section_handler(apr_pool_t *p, const ap_directive_t *section)
{
    const ap_directive_t *d;
    for (d = section->first_child; d; d = d->next) {
        if (!strcasecmp(d->directive, "SetHandler")) {
            const char *h = first_arg(p, d);
            return strncmp(h, "genflow-", 8) ? NULL : h;
        }
    }
    return NULL;
}

static const ap_directive_t *access_rule_of(const ap_directive_t *section)
{
    const ap_directive_t *d;
    for (d = section->first_child; d; d = d->next) {
        if (is_access_rule(d)) return d;
    }
    return NULL;
}

/* Paths a rule of the events host must not cover: every site-wide
 * handler's location, below it and as if it had a stream; every type's
 * other endpoints. */
static apr_array_header_t *probe_paths(apr_pool_t *p, const ap_directive_t *tree,
                                       apr_array_header_t *out)
{
    const ap_directive_t *d;
    for (d = tree; d; d = d->next) {
        core_dir_config sec;
        if (section_of(p, d, &sec) && !sec.r && !sec.d_is_fnmatch && section_handler(p, d)) {
            APR_ARRAY_PUSH(out, const char *) = sec.d;
            APR_ARRAY_PUSH(out, const char *) = apr_pstrcat(p, sec.d, "/jobs", NULL);
            APR_ARRAY_PUSH(out, const char *) = apr_pstrcat(p, sec.d, "/events/jobs", NULL);
        }
        if (d->first_child) probe_paths(p, d->first_child, out);
    }
    return out;
}

static apr_array_header_t *type_probe_paths(apr_pool_t *p, apr_array_header_t *out)
{
    apr_array_header_t *bases = gf_conf_type_bases(p);
    static const char *const tails[] = {
        "/create", "/generate", "/history", "/presets", "/status/" PROBE_ID, "/cancel/" PROBE_ID,
        "/retry/" PROBE_ID, "/x/events/" PROBE_ID, "/events/" PROBE_ID "/x", NULL
    };
    int i, j;
    for (i = 0; bases && i < bases->nelts; i++) {
        const char *b = APR_ARRAY_IDX(bases, i, const char *);
        for (j = 0; tails[j]; j++) {
            APR_ARRAY_PUSH(out, const char *) = apr_pstrcat(p, b, tails[j], NULL);
        }
    }
    APR_ARRAY_PUSH(out, const char *) = "/";
    APR_ARRAY_PUSH(out, const char *) = "/x/events/y";
    return out;
}

static const ap_directive_t *vhost_node(const server_rec *sp)
{
    const ap_directive_t *d;
    for (d = ap_conftree; d; d = d->next) {
        if (!strcasecmp(d->directive, "<VirtualHost") && sp->defn_name && d->filename
            && !strcmp(d->filename, sp->defn_name)
            && d->line_num == (int)sp->defn_line_number) {
            return d;
        }
    }
    return NULL;
}

/* The pattern of the types' streams alone: ^(/api/a|/api/b)/events/[^/]+$. */
static const char *streams_pattern(apr_pool_t *p)
{
    apr_array_header_t *bases = gf_conf_type_bases(p);
    apr_hash_t *seen = apr_hash_make(p);
    const char *alt = "";
    int i;
    for (i = 0; bases && i < bases->nelts; i++) {
        const char *b = APR_ARRAY_IDX(bases, i, const char *), *c;
        char *quoted = apr_palloc(p, 2 * strlen(b) + 1), *q = quoted;
        for (c = b; *c; c++) {
            if (*c == '.') *q++ = '\\';
            *q++ = *c;
        }
        *q = '\0';
        if (apr_hash_get(seen, quoted, APR_HASH_KEY_STRING)) continue;
        apr_hash_set(seen, quoted, APR_HASH_KEY_STRING, quoted);
        alt = *alt ? apr_pstrcat(p, alt, "|", quoted, NULL) : quoted;
    }
    return apr_pstrcat(p, "^(", alt, ")/events/[^/]+$", NULL);
}

/* An events host's own sections that grant something to a path that is
 * no event stream: the module answers only streams there, but a rule that
 * says more than it does is one edit away from opening it. */
static void warn_events_host_rules(apr_pool_t *p, server_rec *sp, apr_array_header_t *probes)
{
    const ap_directive_t *vh = vhost_node(sp), *d;
    int i;

    for (d = vh ? vh->first_child : NULL; d; d = d->next) {
        core_dir_config sec;
        const ap_directive_t *rule = access_rule_of(d);
        if (!rule || !section_of(p, d, &sec)) continue;
        for (i = 0; i < probes->nelts; i++) {
            const char *path = APR_ARRAY_IDX(probes, i, const char *);
            if (!section_covers(p, &sec, path)) continue;
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, sp, GF_LOGNO(5104)
                         "%s:%d: the events host %s has %s %s> with its own access rule "
                         "(%s:%d), which covers %s: an events host answers event streams "
                         "only, so name its types' streams alone, e.g. <LocationMatch "
                         "\"%s\">", d->filename, d->line_num,
                         vhost_label(p, sp), d->directive, d->args ? apr_pstrndup(p, d->args,
                         strcspn(d->args, ">")) : "", rule->filename, rule->line_num, path,
                         streams_pattern(p));
            break;
        }
    }
}

/* An admin or metrics location must say who may call it: without a
 * Require of its own it takes whatever the sections around it grant (all
 * users of the API, or anyone). */
static void warn_unguarded(apr_pool_t *p, server_rec *s, const ap_directive_t *tree)
{
    const ap_directive_t *d;
    for (d = tree; d; d = d->next) {
        core_dir_config sec;
        const char *h;
        if (section_of(p, d, &sec) && (h = section_handler(p, d)) != NULL
            && (!strcmp(h, "genflow-admin") || !strcmp(h, "genflow-metrics"))
            && !access_rule_of(d)) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(5105)
                         "%s:%d: %s %s> sets %s without a Require of its own: it grants what "
                         "the sections around it grant; give it one (Require user admin), "
                         "the handler refuses a request without a user either way",
                         d->filename, d->line_num, d->directive,
                         d->args ? apr_pstrndup(p, d->args, strcspn(d->args, ">")) : "", h);
        }
        if (d->first_child) warn_unguarded(p, s, d->first_child);
    }
}

/* ---- the access rule in force for the admin API and the metrics ----------- */

/* Does one Require line grant a user who is not an administrator? Only
 * what certainly does: all granted, valid-user, a user the list lacks.
 * What cannot be judged here (groups, expressions, addresses, "not")
 * is not reported. */
static int require_looser(apr_pool_t *p, const ap_directive_t *d, const gf_admins_t *a)
{
    const char *args = d->args ? d->args : "", *w = ap_getword_conf(p, &args);
    int i;

    if (!strcasecmp(w, "all")) return !strcasecmp(ap_getword_conf(p, &args), "granted");
    if (!strcasecmp(w, "valid-user")) return 1;
    if (strcasecmp(w, "user")) return 0;
    if (!a || !a->users) return 1;
    while (*(w = ap_getword_conf(p, &args))) {
        for (i = 0; i < a->users->nelts; i++) {
            if (!strcmp(APR_ARRAY_IDX(a->users, i, const char *), w)) break;
        }
        if (i == a->users->nelts) return 1;
    }
    return 0;
}

/* Is an access rule (a Require, or a <RequireAll|Any|None> block) looser
 * than an administrator? RequireAll is as tight as its tightest part. */
static int rule_looser(apr_pool_t *p, const ap_directive_t *d, const gf_admins_t *a)
{
    const ap_directive_t *c;
    int all = !strcasecmp(d->directive, "<RequireAll"), any = 0, every = 1;

    if (!strcasecmp(d->directive, "Require")) return require_looser(p, d, a);
    if (!all && strcasecmp(d->directive, "<RequireAny")) return 0;
    for (c = d->first_child; c; c = c->next) {
        int l;
        if (!is_access_rule(c)) continue;
        l = rule_looser(p, c, a);
        any |= l;
        every &= l;
    }
    return all ? every && any : any;
}

static int section_looser(apr_pool_t *p, const ap_directive_t *section, const gf_admins_t *a)
{
    const ap_directive_t *d;
    for (d = section->first_child; d; d = d->next) {
        if (is_access_rule(d) && rule_looser(p, d, a)) return 1;
    }
    return 0;
}

/* The last section of the tree (a virtual host's own sections after the
 * main server's, as httpd merges them) that covers path and has an access
 * rule: the one in force, AuthMerging aside. */
static const ap_directive_t *rule_section(apr_pool_t *p, const ap_directive_t *tree,
                                          const char *path, const ap_directive_t *last)
{
    const ap_directive_t *d;
    for (d = tree; d; d = d->next) {
        core_dir_config sec;
        if (!strcasecmp(d->directive, "<VirtualHost")) continue;
        if (section_of(p, d, &sec) && access_rule_of(d) && section_covers(p, &sec, path)) {
            last = d;
        }
    }
    return last;
}

static void warn_looser_one(apr_pool_t *p, server_rec *s, const ap_directive_t *vh,
                            const ap_directive_t *d, const char *h, const char *path)
{
    const gf_admins_t *a = gf_server_conf(s)->admins;
    const ap_directive_t *main_rule = rule_section(p, ap_conftree, path, NULL), *in_force;

    in_force = vh ? rule_section(p, vh->first_child, path, main_rule) : main_rule;
    /* A main server's section under a main server's rule: said once, for
     * the main server. */
    if (vh && in_force == main_rule && d->parent != vh) return;
    if (!a) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(5109)
                     "%s:%d: %s %s> sets %s, and GenFlowAdministrators names nobody for "
                     "this server: it answers every user 403; name them "
                     "(GenFlowAdministrators user NAME...)", d->filename, d->line_num,
                     d->directive, d->args ? apr_pstrndup(p, d->args, strcspn(d->args, ">"))
                     : "", h);
        return;
    }
    if (!in_force || !section_looser(p, in_force, a)) return;
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(5108)
                 "%s:%d: %s %s> sets %s, and the access rule in force for %s is that of "
                 "%s %s> (%s:%d), which lets in users who are not administrators: the "
                 "module refuses them (GenFlowAdministrators), but write the admin's section "
                 "after it, or give it a rule no looser than an administrator",
                 d->filename, d->line_num, d->directive,
                 d->args ? apr_pstrndup(p, d->args, strcspn(d->args, ">")) : "", h, path,
                 in_force->directive, in_force->args ? apr_pstrndup(p, in_force->args,
                 strcspn(in_force->args, ">")) : "", in_force->filename, in_force->line_num);
}

/* Each admin or metrics <Location> of a tree (the main server's, or one
 * virtual host's), probed as a request below it would be merged. */
static void warn_looser(apr_pool_t *p, server_rec *s, const ap_directive_t *vh,
                        const ap_directive_t *tree)
{
    const ap_directive_t *d;
    for (d = tree; d; d = d->next) {
        core_dir_config sec;
        const char *h;
        if (!strcasecmp(d->directive, "<VirtualHost")) continue;
        if (section_of(p, d, &sec) && !sec.r && !sec.d_is_fnmatch
            && (h = section_handler(p, d)) != NULL
            && (!strcmp(h, "genflow-admin") || !strcmp(h, "genflow-metrics"))) {
            warn_looser_one(p, s, vh, d, h,
                            !strcmp(h, "genflow-admin") ? apr_pstrcat(p, sec.d, "/jobs", NULL)
                                                        : sec.d);
        }
    }
}

/* The admin API and the metrics of every host, and who answers them. */
static void check_admins(apr_pool_t *p, server_rec *s)
{
    server_rec *sp;
    const ap_directive_t *vh;
    warn_looser(p, s, NULL, ap_conftree);
    for (sp = s->next; sp; sp = sp->next) {
        if (!(vh = vhost_node(sp))) continue;
        /* The main server's own sections apply to the virtual host too. */
        warn_looser(p, sp, vh, ap_conftree);
        warn_looser(p, sp, vh, vh->first_child);
    }
}

int gf_site_check_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    /* A start reads the configuration twice: say it once (the second
     * time), and always under apache2ctl -t. */
    int quiet = ap_state_query(AP_SQ_RUN_MODE) != AP_SQ_RM_CONFIG_TEST
                && ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG;
    server_rec *sp;

    GF_PROCESS_STATE(site)->events_hosts = NULL;
    if (find_events_hosts(pconf, s, quiet) != OK) return HTTP_INTERNAL_SERVER_ERROR;
    if (gf_site_chains(pconf, ptemp, s, quiet) != OK) return HTTP_INTERNAL_SERVER_ERROR;
    if (quiet) return OK;
    warn_unguarded(ptemp, s, ap_conftree);
    check_admins(ptemp, s);
    for (sp = s->next; sp; sp = sp->next) {
        apr_array_header_t *probes;
        if (!gf_site_events_host(sp)) continue;
        probes = apr_array_make(ptemp, 32, sizeof(const char *));
        warn_events_host_rules(ptemp, sp, type_probe_paths(ptemp, probe_paths(ptemp, ap_conftree,
                                                                           probes)));
    }
    return OK;
}
