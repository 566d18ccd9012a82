/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_request.h: the module's state of one request
 * (r->request_config), which the concerns that serve a request share.
 */
#ifndef MOD_GENFLOW_REQUEST_H
#define MOD_GENFLOW_REQUEST_H

#include <string.h>
#include <apr_dbd.h>
#include <mod_dbd.h>

#include "httpd/config/mod_genflow_private.h"
#include "core/gf_route.h"
#include "core/gf_trace.h"

/* Per-request state of the module (r->request_config). */
typedef struct {
    int capture;                 /* record the answer (Idempotency-Key owner) */
    int status;
    const char *body;
    const char *location;
    int has_body;                /* the body was read already */
    char *req_body;
    apr_size_t req_len;
    ap_dbd_t *dbd;               /* the pooled connection held, or NULL */
    int dbd_cleanup;             /* its release is registered on r->pool */
    const char *idem_key;        /* Idempotency-Key owned by this request, */
    const char *idem_owner;      /* and its owner token (NULL without) */
    int idem_linked;             /* a generation was linked to the key */
    int routed;                  /* route is set (gf_req_route) */
    gf_route_t route;            /* the endpoint within a type's location */
    int not_a_file;              /* in a type's location: no filesystem walk */
    int cors_preflight;          /* a CORS preflight from an allowed origin */
    void (*answered)(request_rec *r); /* runs once a parked request's answer is
                                       * composed (the Idempotency-Key's record) */
    gf_trace_t *trace;           /* the request's span (gf_trace_request), or NULL */
    const char *events_token;    /* the events token that authenticated r->user (an
                                  * events host's stream), or NULL */
} gf_req_t;


/* r's state, made on first use. */
static inline gf_req_t *gf_req(request_rec *r)
{
    gf_req_t *rq = ap_get_module_config(r->request_config, &genflow_module);
    if (!rq) {
        rq = apr_pcalloc(r->pool, sizeof(*rq));
        ap_set_module_config(r->request_config, &genflow_module, rq);
    }
    return rq;
}

/* The endpoint of r within the type's location mounted at base, routed
 * once for the request and kept: the CORS preflight, the type handler and
 * the request metrics all read this one. */
static inline const gf_route_t *gf_req_route(request_rec *r, const char *base)
{
    gf_req_t *rq = gf_req(r);
    if (!rq->routed) {
        apr_size_t n = strlen(base);
        if (n && base[n - 1] == '/') n--;
        gf_route_parse(strncmp(r->uri, base, n) == 0 ? r->uri + n : "", &rq->route);
        rq->routed = 1;
    }
    return &rq->route;
}

#endif
