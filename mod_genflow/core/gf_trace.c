/* SPDX-License-Identifier: Apache-2.0 */
/* gf_trace.c: W3C Trace Context (see gf_trace.h). */
#include <string.h>
#include <apr_strings.h>

#include "core/gf_trace.h"

#define USERDATA_KEY "genflow:trace"

static int is_hex(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    }
    return 1;
}

/* An id: lower-case hex, not all zero (all zero means "none"). */
static int lower_hex(const char *s, size_t n)
{
    size_t i;
    if (!is_hex(s, n)) return 0;
    for (i = 0; i < n; i++) if (s[i] != '0') return 1;
    return 0;
}

static unsigned hex_byte(const char *s)
{
    unsigned v = 0;
    int i;
    for (i = 0; i < 2; i++) v = v * 16 + (unsigned)(s[i] <= '9' ? s[i] - '0' : s[i] - 'a' + 10);
    return v;
}

int gf_trace_parse(const char *h, gf_trace_t *t)
{
    size_t len;

    if (!h) return 0;
    len = strlen(h);
    /* version-trace-parent-flags: 2, 32, 16 and 2 hex digits. */
    if (len < GF_TRACEPARENT_LEN || h[2] != '-' || h[35] != '-' || h[52] != '-') return 0;
    if (!is_hex(h, 2) || !strncmp(h, "ff", 2)) return 0;
    /* Version 00 is exactly this long; a later one may append "-…". */
    if (!strncmp(h, "00", 2) ? len != GF_TRACEPARENT_LEN
                             : len > GF_TRACEPARENT_LEN && h[GF_TRACEPARENT_LEN] != '-') {
        return 0;
    }
    if (!lower_hex(h + 3, GF_TRACE_ID_HEX) || !lower_hex(h + 36, GF_TRACE_SPAN_HEX)
        || !is_hex(h + 53, 2)) {
        return 0;
    }
    memcpy(t->trace_id, h + 3, GF_TRACE_ID_HEX);
    t->trace_id[GF_TRACE_ID_HEX] = '\0';
    memcpy(t->span_id, h + 36, GF_TRACE_SPAN_HEX);
    t->span_id[GF_TRACE_SPAN_HEX] = '\0';
    t->flags = hex_byte(h + 53);
    return 1;
}

int gf_trace_from_ids(const char *trace_id, const char *span_id, gf_trace_t *t)
{
    if (!trace_id || !span_id || strlen(trace_id) != GF_TRACE_ID_HEX
        || strlen(span_id) != GF_TRACE_SPAN_HEX
        || !lower_hex(trace_id, GF_TRACE_ID_HEX) || !lower_hex(span_id, GF_TRACE_SPAN_HEX)) {
        return 0;
    }
    memcpy(t->trace_id, trace_id, GF_TRACE_ID_HEX + 1);
    memcpy(t->span_id, span_id, GF_TRACE_SPAN_HEX + 1);
    t->flags = 1;
    return 1;
}

static void to_hex(const unsigned char *b, size_t n, char *out)
{
    static const char HEX[] = "0123456789abcdef";
    size_t i;
    int nonzero = 0;
    for (i = 0; i < n; i++) {
        out[2 * i] = HEX[b[i] >> 4];
        out[2 * i + 1] = HEX[b[i] & 15];
        nonzero |= b[i] != 0;
    }
    if (!nonzero) out[2 * n - 1] = '1';   /* all zero is "no id" */
    out[2 * n] = '\0';
}

void gf_trace_child(const gf_trace_t *parent, const unsigned char random[8], gf_trace_t *out)
{
    memcpy(out->trace_id, parent->trace_id, GF_TRACE_ID_HEX + 1);
    to_hex(random, 8, out->span_id);
    out->flags = parent->flags;
}

void gf_trace_new(const unsigned char random[24], gf_trace_t *out)
{
    to_hex(random, 16, out->trace_id);
    to_hex(random + 16, 8, out->span_id);
    out->flags = 1;
}

int gf_trace_in(const char *trace_id, const unsigned char random[8], gf_trace_t *out)
{
    if (!trace_id || strlen(trace_id) != GF_TRACE_ID_HEX || !lower_hex(trace_id, GF_TRACE_ID_HEX)) {
        return 0;
    }
    memcpy(out->trace_id, trace_id, GF_TRACE_ID_HEX + 1);
    to_hex(random, 8, out->span_id);
    out->flags = 1;
    return 1;
}

const char *gf_trace_header(apr_pool_t *p, const gf_trace_t *t)
{
    return apr_psprintf(p, "00-%s-%s-%02x", t->trace_id, t->span_id, t->flags & 0xffu);
}

void gf_trace_attach(apr_pool_t *p, const gf_trace_t *t)
{
    gf_trace_t *copy = NULL;
    if (t) {
        copy = apr_palloc(p, sizeof(*copy));
        *copy = *t;
    }
    apr_pool_userdata_setn(copy, USERDATA_KEY, NULL, p);
}

const gf_trace_t *gf_trace_of(apr_pool_t *p)
{
    for (; p; p = apr_pool_parent_get(p)) {
        void *v = NULL;
        if (apr_pool_userdata_get(&v, USERDATA_KEY, p) == APR_SUCCESS && v) return v;
    }
    return NULL;
}
