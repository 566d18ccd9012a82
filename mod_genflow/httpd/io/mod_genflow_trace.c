/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_trace.c: the W3C trace of a request (mod_genflow_trace.h).
 *
 * The client's traceparent is believed only where the site says so
 * (GenFlowTraceTrustInbound on): elsewhere anyone could join a request to
 * a trace of their choosing, as mod_otel's default also refuses. mod_otel,
 * when it runs first, has already decided (with its own policy) and says
 * so in OTEL_TRACEID and OTEL_SPANID: its span is this request's parent.
 */
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <http_core.h>

#include "httpd/io/mod_genflow_trace.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/config/mod_genflow_request.h"

#define ENV_TRACE_ID "GENFLOW_TRACE_ID"

/* The parent of the request's span: mod_otel's, or the client's where
 * trusted. 1 and *parent, else 0. */
static int parent_of(request_rec *r, gf_trace_t *parent)
{
    const gf_dir_conf_t *dc = gf_dir_conf(r);

    if (gf_trace_from_ids(apr_table_get(r->subprocess_env, "OTEL_TRACEID"),
                          apr_table_get(r->subprocess_env, "OTEL_SPANID"), parent)) {
        return 1;
    }
    return dc && dc->trace_trust_inbound == 1
           && gf_trace_parse(apr_table_get(r->headers_in, "traceparent"), parent);
}

const gf_trace_t *gf_trace_request(request_rec *r)
{
    gf_req_t *rq = gf_req(r);
    unsigned char random[24];
    gf_trace_t parent;

    if (rq->trace) return rq->trace;
    rq->trace = apr_palloc(r->pool, sizeof(*rq->trace));
    if (apr_generate_random_bytes(random, sizeof(random)) != APR_SUCCESS) {
        apr_uint64_t t = (apr_uint64_t)apr_time_now() ^ (apr_uint64_t)(apr_uintptr_t)r;
        memcpy(random, &t, sizeof(t));
        memcpy(random + 8, &t, sizeof(t));
        memcpy(random + 16, &t, sizeof(t));
    }
    if (parent_of(r, &parent)) gf_trace_child(&parent, random, rq->trace);
    else gf_trace_new(random, rq->trace);
    apr_table_setn(r->subprocess_env, ENV_TRACE_ID, rq->trace->trace_id);
    /* What the request itself sends out (an upload stored) is in it too. */
    gf_trace_attach(r->pool, rq->trace);
    return rq->trace;
}

const char *gf_trace_request_header(request_rec *r)
{
    return gf_trace_header(r->pool, gf_trace_request(r));
}

void gf_trace_for_generation(request_rec *r, const char *trace_id)
{
    unsigned char span[8];
    gf_trace_t t;
    if (apr_generate_random_bytes(span, sizeof(span)) == APR_SUCCESS
        && gf_trace_in(trace_id, span, &t)) {
        gf_trace_attach(r->pool, &t);
    }
}
