/* SPDX-License-Identifier: Apache-2.0 */
/* gf_png_scene.c: the abstract scene of the local provider's picture (see
 * gf_png_private.h): the seeded generator every random choice comes from,
 * the plan of the scene (a gradient, discs and slabs, glitch bands) and its
 * rows. Without a source picture, the scene is the base a look paints over.
 */
#include <stdio.h>
#include <string.h>
#include <apr_sha1.h>

#include "image/gf_png_private.h"

/* The next number of xorshift64*. */
static apr_uint64_t rng_next(rng_t *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1DULL;
}

unsigned gf_png_rng_below(rng_t *r, unsigned n)
{
    return n ? (unsigned)(rng_next(r) % n) : 0;
}

/* The generator's state from the SHA-1 of the inputs. Without a type the
 * prompt and the seed only, as before types had looks (gf_png_render's
 * pictures stay what they were); with one, the type and the preset too,
 * so that each type and preset has a scene of its own. */
void gf_png_seed_rng(rng_t *r, const char *prompt, apr_uint64_t seed, const char *type,
                     const char *preset)
{
    apr_sha1_ctx_t ctx;
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    char seedbuf[32];
    int i;

    snprintf(seedbuf, sizeof(seedbuf), "%" APR_UINT64_T_FMT, seed);
    apr_sha1_init(&ctx);
    apr_sha1_update(&ctx, prompt, (unsigned)strlen(prompt));
    apr_sha1_update(&ctx, "\n", 1);
    apr_sha1_update(&ctx, seedbuf, (unsigned)strlen(seedbuf));
    if (type) {
        apr_sha1_update(&ctx, "\n", 1);
        apr_sha1_update(&ctx, type, (unsigned)strlen(type));
        apr_sha1_update(&ctx, "\n", 1);
        if (preset) {
            apr_sha1_update(&ctx, preset, (unsigned)strlen(preset));
        }
    }
    apr_sha1_final(digest, &ctx);
    r->s = 0;
    for (i = 0; i < 8; i++) {
        r->s = (r->s << 8) | digest[i];
    }
    if (!r->s) {
        r->s = 0x9E3779B97F4A7C15ULL;
    }
}

static rgb_t random_color(rng_t *r)
{
    rgb_t c;
    c.r = (unsigned char)gf_png_rng_below(r, 256);
    c.g = (unsigned char)gf_png_rng_below(r, 256);
    c.b = (unsigned char)gf_png_rng_below(r, 256);
    return c;
}

/* The picture: a vertical gradient between two prompt-derived colours,
 * translucent discs and slabs over it, glitch bands (rows shifted sideways
 * with one channel displaced more) and scan lines. Every step works within
 * a row, so the scene is planned first (the random numbers drawn in the
 * order the steps use them) and then painted one row at a time, each row
 * handed to libpng at once: no whole picture in memory, and zlib reads rows
 * that are still in the cache. */
void gf_png_plan_scene(scene_t *sc, unsigned w, unsigned h, rng_t *r)
{
    unsigned i;

    sc->w = w;
    sc->h = h;
    sc->top = random_color(r);
    sc->bottom = random_color(r);
    sc->shapes = 6 + gf_png_rng_below(r, 10);
    for (i = 0; i < sc->shapes; i++) {
        shape_t *s = &sc->shape[i];
        unsigned cx, cy, rad;
        s->c = random_color(r);
        cx = gf_png_rng_below(r, w);
        cy = gf_png_rng_below(r, h);
        rad = 16 + gf_png_rng_below(r, (w < h ? w : h) / 3);
        s->alpha = 90 + gf_png_rng_below(r, 140);
        s->disc = gf_png_rng_below(r, 3) != 0;
        s->cx = cx;
        s->cy = cy;
        s->x0 = cx > rad ? cx - rad : 0;
        s->y0 = cy > rad ? cy - rad : 0;
        s->x1 = cx + rad < w ? cx + rad : w;
        s->y1 = cy + rad < h ? cy + rad : h;
        s->r2 = (long)rad * (long)rad;
        s->half = 0;
    }
    sc->bands = 4 + gf_png_rng_below(r, 8);
    for (i = 0; i < sc->bands; i++) {
        band_t *b = &sc->band[i];
        unsigned y0 = gf_png_rng_below(r, h), bh = 2 + gf_png_rng_below(r, h / 12 + 1);
        unsigned shift = gf_png_rng_below(r, w / 4 + 1);
        b->chan = gf_png_rng_below(r, 3);
        b->y0 = y0;
        b->y1 = y0 + bh;
        b->shift = shift % w;
        b->shift2 = (2 * shift + 7) % w;
    }
}

/* The abstract picture's row y before any effect: the gradient and the
 * shapes (rows in order: the discs' half-widths carry over). */
void gf_png_background_row(scene_t *sc, unsigned y, unsigned char *line)
{
    unsigned w = sc->w, h = sc->h, i;
    size_t stride = (size_t)w * 3;

    /* Background: the gradient's colour for this row, copied along it. */
    line[0] = (unsigned char)((sc->top.r * (h - y) + sc->bottom.r * y) / h);
    line[1] = (unsigned char)((sc->top.g * (h - y) + sc->bottom.g * y) / h);
    line[2] = (unsigned char)((sc->top.b * (h - y) + sc->bottom.b * y) / h);
    gf_png_fill_pixels(line, stride);

    /* Discs and slabs, one span each. A slab is the box [cx - rad, cx + rad)
     * x [cy - rad, cy + rad) clipped to the picture, a disc the pixels of it
     * with dx*dx + dy*dy <= rad*rad: on a row, |dx| <= half for the largest
     * half with half*half <= rad*rad - dy*dy, which moves by a step or two
     * from one row to the next (no square root, no per-pixel test). */
    for (i = 0; i < sc->shapes; i++) {
        shape_t *s = &sc->shape[i];
        unsigned sx0 = s->x0, sx1 = s->x1;
        if (y < s->y0 || y >= s->y1) {
            continue;
        }
        if (s->disc) {
            long dy = (long)y - s->cy, d2 = s->r2 - dy * dy;
            while ((s->half + 1) * (s->half + 1) <= d2) s->half++;
            while (s->half > 0 && s->half * s->half > d2) s->half--;
            if (s->cx - s->half > (long)sx0) sx0 = (unsigned)(s->cx - s->half);
            if (s->cx + s->half + 1 < (long)sx1) sx1 = (unsigned)(s->cx + s->half + 1);
        }
        if (sx0 < sx1) {
            gf_png_blend_span(line + (size_t)sx0 * 3, sx1 - sx0, s->c, s->alpha);
        }
    }
}

/* The glitch bands over row y, in order, with tmp as scratch. Both moves
 * are rotations of the row: the shift two copies, the displaced channel
 * two strided loops (no division a pixel to wrap around). */
void gf_png_glitch_bands(const scene_t *sc, unsigned y, unsigned char *line,
                         unsigned char *tmp)
{
    unsigned w = sc->w, x, i;
    size_t stride = (size_t)w * 3;

    for (i = 0; i < sc->bands; i++) {
        const band_t *b = &sc->band[i];
        unsigned s1 = b->shift, s2 = b->shift2, chan = b->chan;
        if (y < b->y0 || y >= b->y1) {
            continue;
        }
        memcpy(tmp, line, stride);
        memcpy(line, tmp + (size_t)s1 * 3, (size_t)(w - s1) * 3);
        memcpy(line + (size_t)(w - s1) * 3, tmp, (size_t)s1 * 3);
        for (x = 0; x < w - s2; x++) {
            line[x * 3 + chan] = tmp[(x + s2) * 3 + chan];
        }
        for (; x < w; x++) {
            line[x * 3 + chan] = tmp[(x + s2 - w) * 3 + chan];
        }
    }
}
