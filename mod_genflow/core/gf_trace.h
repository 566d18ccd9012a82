/* SPDX-License-Identifier: Apache-2.0 */
/* gf_trace.h: W3C Trace Context (traceparent) for a generation.
 *
 * A generation keeps the trace of the request that created it: the
 * traceparent of that request's own span ("00-<trace-id>-<span-id>-<flags>"),
 * stored with the row. Every HTTP exchange made for it (a provider's
 * submit, poll and cancel, a source image read from a store, a picture
 * stored, a webhook delivery) carries a traceparent of the same trace with
 * a new span id of its own: a child of that span. The trace reaches the
 * exchange through the pool the work runs in (gf_trace_attach on the
 * attempt's, the delivery's or the request's pool; gf_trace_of finds it
 * from any subpool), so no adapter's signature has to carry it.
 */
#ifndef GF_TRACE_H
#define GF_TRACE_H

#include <apr_pools.h>

#define GF_TRACE_ID_HEX    32
#define GF_TRACE_SPAN_HEX  16
#define GF_TRACEPARENT_LEN 55   /* "00-" 32 "-" 16 "-" 2 */

typedef struct {
    char trace_id[GF_TRACE_ID_HEX + 1];   /* lower-case hex, not all zero */
    char span_id[GF_TRACE_SPAN_HEX + 1];  /* lower-case hex, not all zero */
    unsigned flags;                       /* trace-flags; bit 0: sampled */
} gf_trace_t;

/* A traceparent header as W3C Trace Context level 1 reads it: 1 and *t when
 * valid (version 00 exactly as long as it must be; a later version may
 * carry more after the flags, version ff never; ids of lower-case hex, not
 * all zero), else 0. */
int gf_trace_parse(const char *header, gf_trace_t *t);

/* mod_otel's ids (OTEL_TRACEID, OTEL_SPANID: hex): 1 and *t when both
 * are valid ids (sampled), else 0. */
int gf_trace_from_ids(const char *trace_id, const char *span_id, gf_trace_t *t);

/* A span of its own in the trace of parent (new span id from the 8 random
 * bytes), or, without a parent, a new trace (ids from the 24 random bytes,
 * sampled). Ids that would be all zero get their last byte set. */
void gf_trace_child(const gf_trace_t *parent, const unsigned char random[8], gf_trace_t *out);
void gf_trace_new(const unsigned char random[24], gf_trace_t *out);

/* A span of its own (id from the 8 random bytes, sampled) in the trace
 * trace_id (a status object's traceId): 1 and *out, or 0 when trace_id is
 * not a trace id. */
int gf_trace_in(const char *trace_id, const unsigned char random[8], gf_trace_t *out);

/* "00-<trace-id>-<span-id>-<flags>". */
const char *gf_trace_header(apr_pool_t *p, const gf_trace_t *t);

/* The trace of the work done in pool p and its subpools (a copy is kept
 * in p; NULL: none). gf_trace_of: the nearest attached to p or a parent. */
void gf_trace_attach(apr_pool_t *p, const gf_trace_t *t);
const gf_trace_t *gf_trace_of(apr_pool_t *p);

#endif
