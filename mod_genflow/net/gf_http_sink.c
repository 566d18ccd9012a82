/* SPDX-License-Identifier: Apache-2.0 */
/* gf_http_sink.c: libcurl's write and header callbacks (gf_http_sink.h). */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "net/gf_http_sink.h"

size_t gf_http_on_body(char *data, size_t size, size_t n, void *baton)
{
    gf_http_sink_t *s = baton;
    size_t len = size * n;

    if (s->len + len > s->max) {
        s->too_large = 1;
        return 0;   /* aborts the transfer: CURLE_WRITE_ERROR */
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
        apr_table_clear(res->headers);   /* a new response (after 100 or a redirect) */
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

