/* SPDX-License-Identifier: Apache-2.0 */
/* gf_utf8.c: strict UTF-8 validation and cleaning (see gf_utf8.h). */
#include <string.h>

#include "core/gf_utf8.h"

/* Length of the valid sequence at s (n bytes left), or 0 when the bytes
 * there are not one (RFC 3629, table 3-7 of the Unicode standard). */
static apr_size_t sequence(const unsigned char *s, apr_size_t n)
{
    unsigned char c = s[0];
    if (c == 0) return 0;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
    }
    if (c >= 0xe0 && c <= 0xef) {
        /* E0: no overlongs (A0..BF); ED: no surrogates (80..9F). */
        unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        return n >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        /* F0: no overlongs (90..BF); F4: nothing above U+10FFFF (80..8F). */
        unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        return n >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80
               && (s[3] & 0xc0) == 0x80 ? 4 : 0;
    }
    return 0;   /* C0, C1, F5..FF, or a stray continuation byte */
}

int gf_utf8_valid(const char *s, apr_size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t i = 0, k;
    while (i < n) {
        if ((k = sequence(u + i, n - i)) == 0) return 0;
        i += k;
    }
    return 1;
}

int gf_utf8_valid_str(const char *s)
{
    return !s || gf_utf8_valid(s, strlen(s));
}

int gf_utf8_printable_str(const char *s)
{
    if (!gf_utf8_valid_str(s)) return 0;
    for (; s && *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 0;
    }
    return 1;
}

char *gf_utf8_clean(apr_pool_t *p, const char *s, apr_size_t n, apr_size_t max)
{
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    char *out, *o;
    apr_size_t i = 0, k;

    if (!s) n = 0;
    o = out = apr_palloc(p, (n < max ? n : max) + 1);
    while (i < n) {
        k = sequence(u + i, n - i);
        if (k == 0 || (k == 1 && (u[i] < 0x20 || u[i] == 0x7f))) {
            if ((apr_size_t)(o - out) + 1 > max) break;
            *o++ = '?';
            i++;
            continue;
        }
        if ((apr_size_t)(o - out) + k > max) break;   /* never half a character */
        memcpy(o, u + i, k);
        o += k;
        i += k;
    }
    *o = '\0';
    return out;
}
