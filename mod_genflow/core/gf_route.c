/* SPDX-License-Identifier: Apache-2.0 */
/* gf_route.c: path routing and header parsing (see gf_route.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <apr_escape.h>

#include "core/gf_route.h"
#include "core/gf_utf8.h"

int gf_uuid_valid(const char *s)
{
    int i;
    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return 0;
        }
        else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return s[36] == '\0';
}

/* Endpoints of the form {base}/<action>/{id}. */
static const struct {
    const char *prefix;
    gf_route_kind_t kind;
    const char *allow;
} ID_ROUTES[] = {
    { "/status/", GF_ROUTE_STATUS, "GET, HEAD" },
    { "/cancel/", GF_ROUTE_CANCEL, "POST" },
    { "/retry/",  GF_ROUTE_RETRY,  "POST" },
    { "/events/", GF_ROUTE_EVENTS, "GET" },
    { NULL, GF_ROUTE_NONE, NULL }
};

void gf_route_parse(const char *path, gf_route_t *route)
{
    int i;

    memset(route, 0, sizeof(*route));
    if (!strcmp(path, "/create")) {
        route->kind = GF_ROUTE_CREATE;
        route->allow = "POST";
        return;
    }
    if (!strcmp(path, "/generate")) {
        route->kind = GF_ROUTE_GENERATE;
        route->allow = "POST";
        return;
    }
    if (!strcmp(path, "/history")) {
        route->kind = GF_ROUTE_HISTORY;
        route->allow = "GET, HEAD";
        return;
    }
    if (!strcmp(path, "/presets")) {
        route->kind = GF_ROUTE_PRESETS;
        route->allow = "GET, HEAD";
        return;
    }
    for (i = 0; ID_ROUTES[i].prefix; i++) {
        size_t n = strlen(ID_ROUTES[i].prefix);
        if (!strncmp(path, ID_ROUTES[i].prefix, n) && path[n] && !strchr(path + n, '/')) {
            route->kind = ID_ROUTES[i].kind;
            route->allow = ID_ROUTES[i].allow;
            route->id_valid = gf_uuid_valid(path + n);
            if (route->id_valid) {
                memcpy(route->id, path + n, 36);
                route->id[36] = '\0';
            }
            return;
        }
    }
}

void gf_admin_route_parse(const char *rest, gf_admin_route_t *route)
{
    static const char WEBHOOKS[] = "/webhooks/", REDELIVER[] = "/redeliver";
    const char *c;
    size_t n;

    memset(route, 0, sizeof(*route));
    if (!strcmp(rest, "/jobs")) {
        route->kind = GF_ADMIN_JOBS;
        route->allow = "GET, DELETE";
    }
    else if (!strcmp(rest, "/credits")) {
        route->kind = GF_ADMIN_CREDITS;
        route->allow = "POST";
    }
    else if (!strcmp(rest, "/webhooks")) {
        route->kind = GF_ADMIN_WEBHOOKS;
        route->allow = "GET";
    }
    else if (!strcmp(rest, "/providers")) {
        route->kind = GF_ADMIN_PROVIDERS;
        route->allow = "GET";
    }
    else if (!strncmp(rest, WEBHOOKS, sizeof(WEBHOOKS) - 1)) {
        rest += sizeof(WEBHOOKS) - 1;
        for (c = rest; *c >= '0' && *c <= '9'; c++) ;
        n = (size_t)(c - rest);
        if (n >= 1 && n < sizeof(route->id) && !strcmp(c, REDELIVER)) {
            route->kind = GF_ADMIN_REDELIVER;
            route->allow = "POST";
            memcpy(route->id, rest, n);
            route->id[n] = '\0';
        }
    }
}

const char *gf_route_segment(const char *rest)
{
    return rest[0] == '/' && rest[1] && !strchr(rest + 1, '/') ? rest + 1 : NULL;
}

int gf_prefer_wait(const char *prefer, int max, int *seconds)
{
    const char *s = prefer;

    if (!s) {
        return 0;
    }
    /* Preferences are comma separated tokens, optionally with parameters
     * after ';'. Only "wait" matters here. */
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == ',') s++;
        if (!strncasecmp(s, "wait", 4)) {
            const char *v = s + 4;
            while (*v == ' ') v++;
            if (*v == '=') {
                char *end;
                long n;
                v++;
                while (*v == ' ') v++;
                if (*v == '"') v++;
                if (isdigit((unsigned char)*v)) {
                    n = strtol(v, &end, 10);
                    if (*end == '"') end++;
                    while (*end == ' ') end++;
                    if (*end == '\0' || *end == ',' || *end == ';') {
                        *seconds = n < 0 ? 0 : (n > max ? max : (int)n);
                        return 1;
                    }
                }
            }
        }
        s = strchr(s, ',');
        if (!s) break;
    }
    return 0;
}

int gf_cancel_after(const char *value, long *seconds)
{
    static const struct { char unit; long secs; } UNITS[] = { {'h', 3600}, {'m', 60}, {'s', 1} };
    const char *s = value;
    long total = 0;
    size_t next = 0;

    if (!s) return 0;
    while (*s == ' ' || *s == '\t') s++;
    if (!isdigit((unsigned char)*s)) return 0;
    while (isdigit((unsigned char)*s)) {
        long n = 0;
        size_t u;
        for (; isdigit((unsigned char)*s); s++) {
            if (n > 86400) return 0;
            n = n * 10 + (*s - '0');
        }
        if (!*s || *s == ' ' || *s == '\t') {
            if (next) return 0;                 /* "1m30": a unit is missing */
            total = n;
            break;
        }
        for (u = next; u < 3 && UNITS[u].unit != *s; u++) ;
        if (u == 3 || n > 86400) return 0;      /* unknown, repeated or out of order */
        total += n * UNITS[u].secs;
        next = u + 1;
        s++;
    }
    while (*s == ' ' || *s == '\t') s++;
    if (*s || total > 86400) return 0;
    *seconds = total;
    return 1;
}

const char GF_QUERY_BAD[] = "";

const char *gf_query_arg(apr_pool_t *p, const char *query, const char *name)
{
    size_t n = strlen(name);
    const char *s = query;

    while (s && *s) {
        const char *amp = strchr(s, '&');
        size_t len = amp ? (size_t)(amp - s) : strlen(s);
        if (len > n && !strncmp(s, name, n) && s[n] == '=') {
            char *v = apr_pstrmemdup(p, s + n + 1, len - n - 1);
            /* APR_EINVAL: a malformed escape; APR_BADCH: %00. */
            apr_status_t rv = apr_unescape_url(v, v, APR_ESCAPE_STRING, NULL, NULL, 1, NULL);
            if ((rv != APR_SUCCESS && rv != APR_NOTFOUND) || !gf_utf8_valid_str(v)) {
                return GF_QUERY_BAD;
            }
            return v;
        }
        s = amp ? amp + 1 : NULL;
    }
    return NULL;
}

int gf_content_type_is_json(const char *ct)
{
    size_t n = strlen("application/json");
    if (!ct) {
        return 0;
    }
    while (*ct == ' ') ct++;
    return !strncasecmp(ct, "application/json", n)
           && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}
