/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_http.h: JSON in and out of a request, and JSON for httpd's
 * own errors in the module's locations.
 */
#ifndef MOD_GENFLOW_HTTP_H
#define MOD_GENFLOW_HTTP_H

#include "httpd/io/mod_genflow_db.h"

int gf_send_json(request_rec *r, int status, const char *json);
const char *gf_json_etag(apr_pool_t *p, const char *json);
int gf_send_json_validated(request_rec *r, const char *json, const char *etag);
int gf_send_error(request_rec *r, int status, const char *code, const char *message);
int gf_send_db_error(request_rec *r, gf_db_status_t st);
/* 400 for a query parameter gf_query_arg found unusable (GF_QUERY_BAD). */
int gf_send_bad_query(request_rec *r, const char *name);
int gf_read_json_body(request_rec *r, long max_body, char **body, apr_size_t *len);
void gf_register_error_filter(void);
void gf_insert_error_filter(request_rec *r);

/* A handler of the module, as a location names it (SetHandler genflow-*,
 * or genflow-type, which fixups sets in a GenFlowType location). The one
 * table of them (mod_genflow_handlers.c) serves the dispatch, the CORS
 * preflights and the request metrics. */
typedef struct {
    const char *name;            /* "genflow-quota" */
    int (*handle)(request_rec *r);
    const char *allow;           /* the methods it answers (a CORS preflight's
                                  * Allow-Methods); NULL: the route's own */
    const char *(*allow_at)(request_rec *r); /* or per path; NULL: allow */
    const char *metric;          /* its endpoint in genflow_requests_total;
                                  * NULL: the route's own */
    int from_servers;            /* called by servers, not pages: no cross-site
                                  * check (provider webhooks, signed) */
    int below;                   /* it answers paths below its location, routing
                                  * them itself; else its location's path alone,
                                  * and 404 below it */
} gf_handler_t;

/* The table, ended by an entry without a name; once, in pre_config. */
void gf_http_set_handlers(const gf_handler_t *table);
/* The table itself (ends with an entry without a name; NULL before pre_config). */
const gf_handler_t *gf_http_handlers(void);
/* The entry of name, or NULL. */
const gf_handler_t *gf_handler_named(const char *name);
/* The handler a location sets (SetHandler), also when httpd refused the
 * request before applying it (an auth failure); else NULL. */
const gf_handler_t *gf_handler_of(request_rec *r);

#endif
