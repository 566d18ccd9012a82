/* SPDX-License-Identifier: Apache-2.0 */
/* gf_route.h: the per-type API's paths and request headers (docs/api.md).
 *
 * Pure functions over strings, so the handler's routing and header rules
 * are unit-tested without httpd.
 */
#ifndef GF_ROUTE_H
#define GF_ROUTE_H

#include <apr_pools.h>

typedef enum {
    GF_ROUTE_NONE = 0,     /* not an endpoint of the type */
    GF_ROUTE_CREATE,       /* POST {base}/create */
    GF_ROUTE_GENERATE,     /* POST {base}/generate */
    GF_ROUTE_STATUS,       /* GET {base}/status/{id} */
    GF_ROUTE_CANCEL,       /* POST {base}/cancel/{id} */
    GF_ROUTE_RETRY,        /* POST {base}/retry/{id} */
    GF_ROUTE_EVENTS,       /* GET {base}/events/{id} */
    GF_ROUTE_HISTORY,      /* GET {base}/history */
    GF_ROUTE_PRESETS       /* GET {base}/presets */
} gf_route_kind_t;

typedef struct {
    gf_route_kind_t kind;
    const char *allow;     /* the methods the route accepts, for 405 + Allow */
    char id[37];           /* generation id of /<action>/{id}, "" otherwise */
    int id_valid;          /* id is a canonical UUID */
} gf_route_t;

/* path is what follows the type's base, e.g. "/status/abc". */
void gf_route_parse(const char *path, gf_route_t *route);

/* The admin API's endpoints (SetHandler genflow-admin), by the path that
 * follows its location: exactly these, nothing that merely ends like one
 * ("/events/jobs" is no endpoint). */
typedef enum {
    GF_ADMIN_NONE = 0,
    GF_ADMIN_JOBS,          /* GET, DELETE {admin}/jobs */
    GF_ADMIN_CREDITS,       /* POST {admin}/credits */
    GF_ADMIN_WEBHOOKS,      /* GET {admin}/webhooks */
    GF_ADMIN_REDELIVER,     /* POST {admin}/webhooks/{id}/redeliver */
    GF_ADMIN_PROVIDERS      /* GET {admin}/providers */
} gf_admin_kind_t;

typedef struct {
    gf_admin_kind_t kind;
    const char *allow;     /* its methods; NULL for none */
    char id[19];           /* the delivery id of redeliver (1..18 digits), "" otherwise */
} gf_admin_route_t;

void gf_admin_route_parse(const char *rest, gf_admin_route_t *route);

/* The one segment of rest ("/name"): name, when rest is a slash and one
 * non-empty segment without another slash; else NULL. For a location
 * whose endpoint is {location}/{name} (the provider webhooks). */
const char *gf_route_segment(const char *rest);

/* Is s a UUID in canonical 8-4-4-4-12 hex form? */
int gf_uuid_valid(const char *s);

/* Read "wait=N" from a Prefer header (RFC 7240). Returns 1 and sets
 * *seconds (clamped to 0..max) when present and well formed, else 0. */
int gf_prefer_wait(const char *prefer, int max, int *seconds);

/* Read a Cancel-After header: whole seconds ("90"), or a duration of
 * hours, minutes and seconds in that order as Replicate writes it ("1m30s",
 * "2h", "45s"), at most a day. Returns 1 and sets *seconds when well
 * formed, else 0 (the caller then answers 400; the range against the
 * type's deadline is its business). */
int gf_cancel_after(const char *value, long *seconds);

/* The value of name in a query string (URL-decoded, in p), NULL when it
 * is absent, or GF_QUERY_BAD when it is there but unusable: malformed
 * %-escapes, %00, or not valid UTF-8. (Never "absent" for a bad value: a
 * filter that cannot be read must not turn into no filter.) */
const char *gf_query_arg(apr_pool_t *p, const char *query, const char *name);
extern const char GF_QUERY_BAD[];

/* Is the Content-Type application/json (any parameters, any case)? */
int gf_content_type_is_json(const char *content_type);

#endif
