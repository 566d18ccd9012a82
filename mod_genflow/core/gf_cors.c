/* SPDX-License-Identifier: Apache-2.0 */
/* gf_cors.c: origin lists and preflight headers (see gf_cors.h). */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include "core/gf_cors.h"

const char *gf_cors_check_origin(apr_pool_t *p, const char *origin)
{
    const char *s, *host, *end;
    size_t schemelen;
    long port;

    if (strlen(origin) > GF_CORS_ORIGIN_MAX) {
        return apr_psprintf(p, "origin '%.40s…' is longer than %d characters", origin,
                            GF_CORS_ORIGIN_MAX);
    }
    if (!strncmp(origin, "https://", 8)) {
        schemelen = 5;
    }
    else if (!strncmp(origin, "http://", 7)) {
        schemelen = 4;
    }
    else {
        return apr_psprintf(p, "origin '%s' must start with http:// or https:// (in lower "
                            "case, as browsers send it)", origin);
    }
    host = s = origin + schemelen + 3;
    if (*s == '[') {
        /* An IPv6 literal: hex digits, ':' and '.' (an embedded IPv4). */
        for (s++; *s && *s != ']'; s++) {
            if (!(isdigit((unsigned char)*s) || (*s >= 'a' && *s <= 'f') || *s == ':'
                  || *s == '.')) {
                return apr_psprintf(p, "origin '%s': the IPv6 address must be lower-case "
                                    "hex digits and ':' in brackets", origin);
            }
        }
        if (*s != ']' || s == host + 1) {
            return apr_psprintf(p, "origin '%s': unterminated or empty IPv6 address", origin);
        }
        s++;
    }
    else {
        for (; *s && *s != ':' && *s != '/'; s++) {
            if (*s >= 'A' && *s <= 'Z') {
                return apr_psprintf(p, "origin '%s': write the host in lower case (browsers "
                                    "send it so, and origins are compared exactly)", origin);
            }
            if (!(isdigit((unsigned char)*s) || (*s >= 'a' && *s <= 'z') || *s == '-'
                  || *s == '.')) {
                return apr_psprintf(p, "origin '%s': the host may only hold letters, digits, "
                                    "'-' and '.' (internationalised names in their xn-- "
                                    "form); no user, path, query or wildcard", origin);
            }
            if (*s == '.' && (s == host || s[-1] == '.' || s[1] == '\0' || s[1] == ':'
                              || s[1] == '/')) {
                return apr_psprintf(p, "origin '%s': empty label in the host name", origin);
            }
        }
        if (s == host) {
            return apr_psprintf(p, "origin '%s' names no host", origin);
        }
    }
    if (*s == ':') {
        const char *digits = ++s;
        port = 0;
        for (; isdigit((unsigned char)*s) && s - digits < 6; s++) {
            port = port * 10 + (*s - '0');
        }
        if (s == digits || *digits == '0' || port > 65535 || (*s && *s != '/')) {
            return apr_psprintf(p, "origin '%s': the port must be a number from 1 to 65535",
                                origin);
        }
        if ((schemelen == 4 && port == 80) || (schemelen == 5 && port == 443)) {
            return apr_psprintf(p, "origin '%s': leave out the scheme's default port (browsers "
                                "send %s without it)", origin,
                                apr_pstrmemdup(p, origin, (apr_size_t)(digits - 1 - origin)));
        }
    }
    end = s;
    if (*end == '/') {
        return apr_psprintf(p, "origin '%s': an origin has no path, not even '/'; write "
                            "%s", origin, apr_pstrmemdup(p, origin, (apr_size_t)(end - origin)));
    }
    if (*end) {
        return apr_psprintf(p, "origin '%s' is not scheme://host[:port]", origin);
    }
    return NULL;
}

const char *gf_cors_parse(apr_pool_t *p, int argc, char *const argv[], gf_cors_conf_t **conf)
{
    gf_cors_conf_t *c = apr_pcalloc(p, sizeof(*c));
    int i;

    if (argc < 1) {
        return "needs at least one origin (scheme://host[:port]), or * or none";
    }
    c->origins = apr_array_make(p, argc, sizeof(const char *));
    for (i = 0; i < argc; i++) {
        const char *err;
        if (!strcasecmp(argv[i], "none") || !strcmp(argv[i], "*")) {
            if (argc > 1) {
                return apr_psprintf(p, "'%s' stands alone; it cannot be combined with "
                                    "origins", argv[i]);
            }
            c->any = !strcmp(argv[i], "*");
            break;
        }
        if ((err = gf_cors_check_origin(p, argv[i])) != NULL) {
            return err;
        }
        APR_ARRAY_PUSH(c->origins, const char *) = apr_pstrdup(p, argv[i]);
    }
    *conf = c;
    return NULL;
}

int gf_cors_enabled(const gf_cors_conf_t *conf)
{
    return conf && (conf->any || conf->origins->nelts > 0);
}

const char *gf_cors_allow_origin(const gf_cors_conf_t *conf, const char *origin)
{
    int i;

    if (!conf || !origin || !*origin) {
        return NULL;
    }
    if (conf->any) {
        return "*";
    }
    for (i = 0; i < conf->origins->nelts; i++) {
        const char *o = APR_ARRAY_IDX(conf->origins, i, const char *);
        if (!strcmp(o, origin)) {
            return o;
        }
    }
    return NULL;
}

/* The allowed request headers, in their answer spelling. */
static const char *const ALLOWED[] = {
    "Authorization", "Content-Type", "Idempotency-Key", "Prefer", "If-None-Match",
    "Last-Event-ID", "Cancel-After", "traceparent", "tracestate", NULL
};

const char *gf_cors_allow_headers(apr_pool_t *p, const char *requested)
{
    const char *s = requested, *out = NULL;
    int seen[sizeof(ALLOWED) / sizeof(ALLOWED[0])] = { 0 };

    while (s && *s) {
        const char *start, *stop;
        int i;
        while (*s == ' ' || *s == '\t' || *s == ',') s++;
        start = s;
        while (*s && *s != ',') s++;
        stop = s;
        while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t')) stop--;
        if (stop == start) continue;
        for (i = 0; ALLOWED[i]; i++) {
            if (strlen(ALLOWED[i]) == (size_t)(stop - start)
                && !strncasecmp(ALLOWED[i], start, (size_t)(stop - start)) && !seen[i]) {
                seen[i] = 1;
                out = out ? apr_pstrcat(p, out, ", ", ALLOWED[i], NULL) : ALLOWED[i];
            }
        }
    }
    return out;
}

const char *gf_cors_allow_methods(apr_pool_t *p, const char *allow)
{
    if (!allow || !*allow) {
        return "OPTIONS";
    }
    return apr_pstrcat(p, allow, ", OPTIONS", NULL);
}

/* Is origin ("scheme://host[:port]") the one a browser would send for a
 * page at host (the Host header, "host[:port]", compared without case)? */
static int origin_is_host(const char *origin, const char *host)
{
    const char *authority = strstr(origin, "://");

    return authority && host && *host && !strcasecmp(authority + 3, host);
}

const char *gf_cors_cross_site(const gf_cors_conf_t *conf, const char *origin,
                               const char *fetch_site, const char *host)
{
    if (fetch_site && (!strcasecmp(fetch_site, "same-origin") || !strcasecmp(fetch_site, "none"))) {
        return NULL;
    }
    /* Listed by name: "*" answers reads of any origin, it lists none. */
    if (conf && !conf->any && gf_cors_allow_origin(conf, origin)) {
        return NULL;
    }
    if (fetch_site) {
        return "a page of another site may not change anything here (the browser sent "
               "Sec-Fetch-Site: cross-site or same-site); an administrator can list the "
               "page's origin in GenFlowCORSOrigins";
    }
    if (!origin) {
        return NULL;
    }
    if (origin_is_host(origin, host)) {
        return NULL;
    }
    return "a page of another origin may not change anything here; an administrator can "
           "list the page's origin in GenFlowCORSOrigins";
}

void gf_cors_actual_headers(const gf_cors_conf_t *conf, const char *allow, apr_table_t *out)
{
    apr_table_setn(out, "Access-Control-Allow-Origin", allow);
    if (!conf->any) {
        apr_table_setn(out, "Access-Control-Allow-Credentials", "true");
    }
    apr_table_setn(out, "Access-Control-Expose-Headers", GF_CORS_EXPOSE_HEADERS);
}

void gf_cors_preflight_headers(apr_pool_t *p, const gf_cors_conf_t *conf, const char *allow,
                               const char *methods, const char *requested, apr_table_t *out)
{
    const char *headers = gf_cors_allow_headers(p, requested);

    apr_table_setn(out, "Access-Control-Allow-Origin", allow);
    if (!conf->any) {
        apr_table_setn(out, "Access-Control-Allow-Credentials", "true");
    }
    apr_table_setn(out, "Access-Control-Allow-Methods", gf_cors_allow_methods(p, methods));
    if (headers) {
        apr_table_setn(out, "Access-Control-Allow-Headers", headers);
    }
    apr_table_setn(out, "Access-Control-Max-Age", GF_CORS_MAX_AGE);
    apr_table_mergen(out, "Vary", "Access-Control-Request-Method, Access-Control-Request-Headers");
}
