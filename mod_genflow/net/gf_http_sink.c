/* SPDX-License-Identifier: Apache-2.0 */
/* gf_http_sink.c: libcurl's write and header callbacks (gf_http_sink.h). */
#include <string.h>
#include <strings.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "net/gf_http_sink.h"

/* Is the answer a stream for the tap? Asked at its first byte, when its
 * status and headers are in: a successful one, of text/event-stream (an
 * error's body is kept, to be read as the error it is). */
static int is_event_stream(const gf_http_response_t *res)
{
    const char *ct = res && res->headers ? apr_table_get(res->headers, "content-type") : NULL;
    return ct && res->status >= 200 && res->status <= 299
        && !strncasecmp(ct, "text/event-stream", 17)
        && (ct[17] == '\0' || ct[17] == ';' || ct[17] == ' ');
}

size_t gf_http_on_body(char *data, size_t size, size_t n, void *baton)
{
    gf_http_sink_t *s = baton;
    size_t len = size * n;

    if (s->len + len > s->max) {
        s->too_large = 1;
        return 0;   /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    if (!s->decided) {
        s->decided = 1;
        s->tapping = s->tap && is_event_stream(s->res);
    }
    if (s->tapping) {
        /* Counted, not kept: a stream's events are read as they come. */
        s->len += len;
        if (s->tap(s->tap_baton, data, len) != 0) {
            s->tap_refused = 1;
            return 0;
        }
        return len;
    }
    if (s->len + len + 1 > s->cap) {
        apr_size_t cap = s->cap ? s->cap * 2 : 16384;
        char *nb;
        while (cap < s->len + len + 1) cap *= 2;
        nb = apr_palloc(s->p, cap);
        if (s->len) memcpy(nb, s->buf, s->len);
        s->buf = nb;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, data, len);
    s->len += len;
    return len;
}

size_t gf_http_on_header(char *data, size_t size, size_t n, void *baton)
{
    gf_http_response_t *res = baton;
    size_t len = size * n;
    const char *colon = memchr(data, ':', len);
    char *name, *value, *c;
    apr_pool_t *p = apr_table_elts(res->headers)->pool;

    if (!strncmp(data, "HTTP/", 5)) {
        /* A new response (after 100 or a redirect): its status, for the
         * body's sink, before curl reports it at the end. */
        const char *sp = memchr(data, ' ', len);
        apr_table_clear(res->headers);
        res->status = 0;
        if (sp && (apr_size_t)(sp - data) + 4 <= len && apr_isdigit(sp[1]) && apr_isdigit(sp[2])
            && apr_isdigit(sp[3])) {
            res->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
        }
        return len;
    }
    if (!colon) {
        return len;
    }
    name = apr_pstrmemdup(p, data, (apr_size_t)(colon - data));
    for (c = name; *c; c++) *c = (char)apr_tolower(*c);
    value = apr_pstrmemdup(p, colon + 1, len - (apr_size_t)(colon - data) - 1);
    while (*value == ' ' || *value == '\t') value++;
    for (c = value + strlen(value); c > value && (c[-1] == '\r' || c[-1] == '\n' || c[-1] == ' '); c--) {
        c[-1] = '\0';
    }
    apr_table_add(res->headers, name, value);
    return len;
}

