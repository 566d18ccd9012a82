/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_trace.h: the W3C trace of a request of the module. */
#ifndef MOD_GENFLOW_TRACE_H
#define MOD_GENFLOW_TRACE_H

#include <httpd.h>

#include "core/gf_trace.h"

/* The request's own span, made once per request: in mod_otel's trace when
 * it ran (OTEL_TRACEID, OTEL_SPANID: its span is the parent), else in the
 * client's traceparent where GenFlowTraceTrustInbound is on, else in a new
 * trace. Its trace id is GENFLOW_TRACE_ID in r->subprocess_env, for
 * %{GENFLOW_TRACE_ID}e in a LogFormat, and r->pool carries it (what the
 * request sends out is in it). */
const gf_trace_t *gf_trace_request(request_rec *r);

/* The same, as the traceparent header a generation created by r keeps. */
const char *gf_trace_request_header(request_rec *r);

/* Work done in r's pool for a generation (a cancel at the provider)
 * continues that generation's trace (its traceId), not the request's. */
void gf_trace_for_generation(request_rec *r, const char *trace_id);

#endif
