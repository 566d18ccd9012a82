/* SPDX-License-Identifier: Apache-2.0 */
/* gf_sse.h: a reader of text/event-stream (server-sent events, as HTML
 * defines them) for a provider that streams its answer: OpenAI's Images
 * API with `stream: true` sends each partial picture as an event
 * (`image_generation.partial_image`), then the picture
 * (`image_generation.completed`).
 *
 * It is fed the bytes as they come, in pieces of any size (libcurl's
 * writes), and hands each complete event to its callback: the event's
 * type ("message" when the stream names none) and its data lines joined
 * by LF. Lines end with CRLF, LF or CR; a leading byte-order mark, comment
 * lines (":") and the fields id and retry are skipped; an event without
 * data is not dispatched. One event's data, and any one line, are
 * capped: past the cap the stream is refused (gf_sse_feed answers -1
 * from then on), never buffered without bound.
 */
#ifndef GF_SSE_H
#define GF_SSE_H

#include <apr_pools.h>

/* One event: its type, its data (NUL-terminated, len bytes, NULs inside
 * kept). */
typedef void (*gf_sse_event_fn)(void *baton, const char *event, const char *data,
                                apr_size_t len);

#define GF_SSE_TYPE_MAX 64

typedef struct {
    gf_sse_event_fn on_event;
    void *baton;
    apr_size_t max;              /* the most bytes of one event's data, or of a line */
    char *line;                  /* the line being read (malloc'd, freed with the pool) */
    apr_size_t line_len, line_cap;
    char *data;                  /* the event's data so far */
    apr_size_t data_len, data_cap;
    int has_data;                /* a data field was read */
    char type[GF_SSE_TYPE_MAX];  /* the event's type, "" for "message" */
    int after_cr;                /* the last byte ended a line with CR: an LF next is its end */
    int started;                 /* a byte was read (a BOM is skipped before the first) */
    int bom;                     /* bytes of a leading BOM matched so far */
    int refused;                 /* past the cap: nothing more is read */
} gf_sse_t;

/* A reader made in pool p, its buffers freed with it; max: the cap (at
 * least 1). */
gf_sse_t *gf_sse_make(apr_pool_t *p, apr_size_t max, gf_sse_event_fn on_event, void *baton);
/* Read len bytes of the stream: 0, or -1 once it passed the cap (or
 * memory ran out). */
int gf_sse_feed(gf_sse_t *s, const char *buf, apr_size_t len);

#endif
