/* SPDX-License-Identifier: Apache-2.0 */
/* gf_sse.c: a reader of text/event-stream (see gf_sse.h). */
#include <stdlib.h>
#include <string.h>

#include "net/gf_sse.h"

static const unsigned char BOM[3] = { 0xEF, 0xBB, 0xBF };

static apr_status_t free_buffers(void *data)
{
    gf_sse_t *s = data;
    free(s->line);
    free(s->data);
    s->line = s->data = NULL;
    s->line_cap = s->data_cap = 0;
    return APR_SUCCESS;
}

gf_sse_t *gf_sse_make(apr_pool_t *p, apr_size_t max, gf_sse_event_fn on_event, void *baton)
{
    gf_sse_t *s = apr_pcalloc(p, sizeof(*s));
    s->on_event = on_event;
    s->baton = baton;
    s->max = max ? max : 1;
    apr_pool_cleanup_register(p, s, free_buffers, apr_pool_cleanup_null);
    return s;
}

/* Room for need bytes and a NUL in *buf (capacity *cap); 0 when memory
 * ran out. */
static int reserve(char **buf, apr_size_t *cap, apr_size_t need)
{
    apr_size_t want = *cap ? *cap : 256;
    char *more;
    if (need + 1 <= *cap) return 1;
    while (want < need + 1) want *= 2;
    if (!(more = realloc(*buf, want))) return 0;
    *buf = more;
    *cap = want;
    return 1;
}

static void dispatch(gf_sse_t *s)
{
    if (s->has_data) {
        /* The last data line's LF is not the data's. */
        if (s->data_len && s->data[s->data_len - 1] == '\n') s->data_len--;
        s->data[s->data_len] = '\0';
        s->on_event(s->baton, s->type[0] ? s->type : "message", s->data, s->data_len);
    }
    s->data_len = 0;
    s->has_data = 0;
    s->type[0] = '\0';
}

/* One whole line (without its end). 0, or -1 past the cap. */
static int take_line(gf_sse_t *s, const char *line, apr_size_t len)
{
    const char *colon, *value;
    apr_size_t name_len, value_len;

    if (len == 0) {
        dispatch(s);
        return 0;
    }
    if (line[0] == ':') return 0;   /* a comment */
    colon = memchr(line, ':', len);
    name_len = colon ? (apr_size_t)(colon - line) : len;
    value = colon ? colon + 1 : line + len;
    value_len = (apr_size_t)(line + len - value);
    if (value_len && *value == ' ') {
        value++;
        value_len--;
    }
    if (name_len == 5 && !memcmp(line, "event", 5)) {
        apr_size_t n = value_len < GF_SSE_TYPE_MAX - 1 ? value_len : GF_SSE_TYPE_MAX - 1;
        memcpy(s->type, value, n);
        s->type[n] = '\0';
    }
    else if (name_len == 4 && !memcmp(line, "data", 4)) {
        /* The last line's LF is not the data's: max bytes of data fit. */
        if (s->data_len + value_len > s->max) return -1;
        if (!reserve(&s->data, &s->data_cap, s->data_len + value_len + 1)) return -1;
        memcpy(s->data + s->data_len, value, value_len);
        s->data_len += value_len;
        s->data[s->data_len++] = '\n';
        s->has_data = 1;
    }
    /* id, retry and unknown fields: nothing a provider's answer needs. */
    return 0;
}

/* The line so far, ended. */
static int end_line(gf_sse_t *s)
{
    apr_size_t len = s->line_len;
    s->line_len = 0;
    return take_line(s, s->line ? s->line : "", len);
}

/* Bytes of one line (no CR or LF among them) onto the line so far. */
static int add_to_line(gf_sse_t *s, const char *buf, apr_size_t len)
{
    if (s->line_len + len > s->max + 8) return -1;   /* "data: " and a field name */
    if (!reserve(&s->line, &s->line_cap, s->line_len + len)) return -1;
    memcpy(s->line + s->line_len, buf, len);
    s->line_len += len;
    return 0;
}

static int feed_lines(gf_sse_t *s, const char *buf, apr_size_t len)
{
    while (len) {
        apr_size_t run = 0;
        if (s->after_cr) {
            s->after_cr = 0;
            if (*buf == '\n') {   /* CRLF: the CR ended the line */
                buf++;
                len--;
                continue;
            }
        }
        while (run < len && buf[run] != '\r' && buf[run] != '\n') run++;
        if (run && add_to_line(s, buf, run) < 0) return -1;
        buf += run;
        len -= run;
        if (!len) break;
        s->after_cr = *buf == '\r';
        buf++;
        len--;
        if (end_line(s) < 0) return -1;
    }
    return 0;
}

int gf_sse_feed(gf_sse_t *s, const char *buf, apr_size_t len)
{
    if (s->refused) return -1;
    /* A byte-order mark before the stream's first byte is not its own. */
    while (!s->started && len) {
        if ((unsigned char)*buf == BOM[s->bom]) {
            buf++;
            len--;
            if (++s->bom == 3) s->started = 1;
            continue;
        }
        s->started = 1;
        if (s->bom && feed_lines(s, (const char *)BOM, (apr_size_t)s->bom) < 0) {
            s->refused = 1;
            return -1;
        }
    }
    if (feed_lines(s, buf, len) < 0) {
        s->refused = 1;
        return -1;
    }
    return 0;
}
