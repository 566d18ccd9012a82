/* SPDX-License-Identifier: Apache-2.0 */
/* gf_png_pixels.c: the row operations the layers of the local provider's
 * picture share (see gf_png_private.h): filling, blending and darkening runs
 * of RGB bytes. A picture is painted a row at a time and these run for
 * every row, so each works on runs or on eight bytes at a time, never on
 * one pixel with a test of its own.
 */
#include <string.h>

#include "image/gf_png_private.h"

static void blend(unsigned char *px, rgb_t c, unsigned alpha /* 0..255 */)
{
    px[0] = (unsigned char)((px[0] * (255 - alpha) + c.r * alpha) / 255);
    px[1] = (unsigned char)((px[1] * (255 - alpha) + c.g * alpha) / 255);
    px[2] = (unsigned char)((px[2] * (255 - alpha) + c.b * alpha) / 255);
}

/* Fill n bytes at line with copies of its first 3 (one pixel) by doubling
 * copies: log2(n) memcpy calls instead of one 3-byte copy a pixel. */
void gf_png_fill_pixels(unsigned char *line, size_t n)
{
    size_t done = 3;
    while (done < n) {
        size_t k = done < n - done ? done : n - done;
        memcpy(line + done, line, k);
        done += k;
    }
}

/* Blend the n pixels at px. What lies under a shape is mostly runs of one
 * colour (a gradient row, the inside of an earlier shape), so the span goes
 * a run at a time: find where the run ends (a pixel equals the one before
 * it exactly when each byte equals the byte 3 before it, compared a word
 * at a time), blend its first pixel and copy that over the rest. */
void gf_png_blend_span(unsigned char *px, unsigned n, rgb_t c, unsigned alpha)
{
    unsigned char *end = px + (size_t)n * 3;

    while (px < end) {
        unsigned char *q = px + 3;
        apr_uint64_t here, before;

        while (q + 8 <= end) {
            memcpy(&here, q, 8);
            memcpy(&before, q - 3, 8);
            if (here != before) break;
            q += 8;
        }
        while (q < end && q[0] == q[-3]) q++;
        q = px + (size_t)(q - px) / 3 * 3;
        blend(px, c, alpha);
        gf_png_fill_pixels(px, (size_t)(q - px));
        px = q;
    }
}

/* A scan line: the n bytes at line at three quarters of their brightness,
 * eight bytes at a time: floor(3v/4) = floor(v/2) + floor(v/4), plus one
 * when the two low bits of v are both set, and none of the three terms
 * carries into the next byte. */
void gf_png_darken_quarter(unsigned char *line, size_t n)
{
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        apr_uint64_t v;
        memcpy(&v, line + k, 8);
        v = ((v >> 1) & 0x7F7F7F7F7F7F7F7FULL) + ((v >> 2) & 0x3F3F3F3F3F3F3F3FULL)
            + (v & (v >> 1) & 0x0101010101010101ULL);
        memcpy(line + k, &v, 8);
    }
    for (; k < n; k++) {
        line[k] = (unsigned char)(line[k] * 3u / 4);
    }
}

/* The band behind text: the n bytes at line at about three eighths of
 * their brightness (v/4 + v/8, no carries), eight bytes at a time, so
 * that light text on it reads over any picture. */
void gf_png_darken_band(unsigned char *line, size_t n)
{
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        apr_uint64_t v;
        memcpy(&v, line + k, 8);
        v = ((v >> 2) & 0x3F3F3F3F3F3F3F3FULL) + ((v >> 3) & 0x1F1F1F1F1F1F1F1FULL);
        memcpy(line + k, &v, 8);
    }
    for (; k < n; k++) {
        line[k] = (unsigned char)(line[k] / 4 + line[k] / 8);
    }
}
