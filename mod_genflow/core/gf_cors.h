/* SPDX-License-Identifier: Apache-2.0 */
/* gf_cors.h: cross-origin requests (GenFlowCORSOrigins, docs/api.md "CORS").
 *
 * Pure functions over strings: the origin list's syntax, which origin is
 * allowed, and which of a preflight's requested headers are. The httpd
 * glue (mod_genflow_cors.c) sets the answer's headers from them.
 */
#ifndef GF_CORS_H
#define GF_CORS_H

#include <apr_pools.h>
#include <apr_tables.h>

/* Response headers a script on an allowed origin may read besides the
 * CORS-safelisted ones (Content-Type, Content-Length, Cache-Control, …). */
#define GF_CORS_EXPOSE_HEADERS \
    "Location, Retry-After, ETag, Idempotent-Replayed, Preference-Applied, Allow"

/* Request headers a preflight may ask for (in this spelling): the list
 * gf_cors.c answers from, written out for the fuzzer to check it against. */
#define GF_CORS_ALLOW_HEADERS \
    "Authorization, Content-Type, Idempotency-Key, Prefer, If-None-Match, Last-Event-ID, " \
    "Cancel-After, traceparent, tracestate"

/* How long a browser may keep a preflight's answer, in seconds. */
#define GF_CORS_MAX_AGE "600"

/* The longest origin accepted in the configuration. */
#define GF_CORS_ORIGIN_MAX 255

/* One location's GenFlowCORSOrigins. */
typedef struct gf_cors_conf {
    int any;                     /* "*": any origin, never with credentials */
    apr_array_header_t *origins; /* const char *, exact; empty with "none" */
} gf_cors_conf_t;

/* Parse the directive's arguments: exact origins "scheme://host[:port]",
 * or "*" alone, or "none" alone. Returns NULL and fills *conf, or an
 * error message. */
const char *gf_cors_parse(apr_pool_t *p, int argc, char *const argv[], gf_cors_conf_t **conf);

/* NULL when origin is a serialised origin a browser can send
 * (http or https, lower-case host, no default port, no path), else why
 * not. */
const char *gf_cors_check_origin(apr_pool_t *p, const char *origin);

/* The Access-Control-Allow-Origin value for a request's Origin header:
 * the origin itself when it is listed, "*" with "*", else NULL (no CORS
 * headers at all). */
const char *gf_cors_allow_origin(const gf_cors_conf_t *conf, const char *origin);

/* Is CORS switched on (at least one origin, or "*")? */
int gf_cors_enabled(const gf_cors_conf_t *conf);

/* Of a preflight's Access-Control-Request-Headers, those the API allows,
 * in GF_CORS_ALLOW_HEADERS' spelling, comma-separated; NULL when none of
 * them is (or none was asked). Unknown names are left out. */
const char *gf_cors_allow_headers(apr_pool_t *p, const char *requested);

/* May a state-changing request (POST, DELETE, …) go on? A browser sends
 * one from a page of another site without asking first when it is a
 * plain form or a fetch without custom headers, and it sends the user's
 * cookies or cached Basic credentials with it: the answer is hidden from
 * that page, but what the request did is done. Browsers say where a
 * request comes from (Sec-Fetch-Site; Origin); clients that are not
 * browsers send neither and may go on, and so may browsers too old to send
 * either on a form (Firefox before 70, Internet Explorer): the limit of
 * this rule, which docs/api.md states. Given the request's Origin,
 * Sec-Fetch-Site and Host headers (each may be NULL), it may go on when
 *  - Sec-Fetch-Site is same-origin or none (the browser says it is the
 *    site's own page, or the user's own action);
 *  - else its Origin is one GenFlowCORSOrigins lists by name ("*" lets
 *    any page read answers without credentials; it does not let every
 *    page write with them);
 *  - else, from a browser too old for Sec-Fetch-Site, when its Origin's
 *    host[:port] is the Host the request was sent to;
 *  - else when it carries neither header (not a browser).
 * Returns NULL when it may, else why not (for the 403's message). */
const char *gf_cors_cross_site(const gf_cors_conf_t *conf, const char *origin,
                               const char *fetch_site, const char *host);

/* An endpoint's Allow list ("GET, HEAD") with OPTIONS added. */
const char *gf_cors_allow_methods(apr_pool_t *p, const char *allow);

/* The methods a preflight is answered with when its endpoint names none
 * (no such route: the real request then gets its JSON 404). */
#define GF_CORS_DEFAULT_METHODS "GET, HEAD, POST"

/* The CORS headers of an actual request's answer from an allowed origin
 * (allow: gf_cors_allow_origin's value), into out: Allow-Origin,
 * Allow-Credentials unless "*", Expose-Headers. */
void gf_cors_actual_headers(const gf_cors_conf_t *conf, const char *allow, apr_table_t *out);

/* The answer's headers of a preflight from an allowed origin, into out:
 * Allow-Origin, Allow-Credentials unless "*", Allow-Methods (the
 * endpoint's methods and OPTIONS), Allow-Headers (of requested, those
 * allowed; none when none is), Max-Age, and Vary by what it asked. */
void gf_cors_preflight_headers(apr_pool_t *p, const gf_cors_conf_t *conf, const char *allow,
                               const char *methods, const char *requested, apr_table_t *out);

#endif
