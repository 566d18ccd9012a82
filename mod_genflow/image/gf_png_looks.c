/* SPDX-License-Identifier: Apache-2.0 */
/* gf_png_looks.c: what each type does to the local provider's picture (see
 * gf_png_private.h and docs/providers.md): the look's plan (its colours and
 * look-up tables, made once a picture) and its rows (neo-glitch's split
 * channels, emotion-mask's tinted ellipse, ghibli-reaction's soft pastel,
 * the presets' tones), each painted over a base row in place.
 */
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "image/gf_png_private.h"

/* The look of a type: the shipped types have their own, any other name (a
 * site's own type) the default one, no type the plain picture. */
look_t gf_png_look_of(const char *type)
{
    if (!type) return LOOK_PLAIN;
    if (!strcmp(type, "neo-glitch")) return LOOK_GLITCH;
    if (!strcmp(type, "emotion-mask")) return LOOK_MASK;
    if (!strcmp(type, "ghibli-reaction")) return LOOK_PASTEL;
    if (!strcmp(type, "presets")) return LOOK_PRESET;
    return LOOK_DEFAULT;
}

/* A pixel's brightness: 0.30 R + 0.59 G + 0.11 B, in eighths of a byte's
 * 256ths (integer weights that sum to 256). */
static unsigned luma(const unsigned char *px)
{
    return (77u * px[0] + 150u * px[1] + 29u * px[2]) >> 8;
}

static unsigned char clamp255(int v)
{
    return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* The look's colours and tables. The scene was planned first: the numbers
 * drawn here come after its own. */
void gf_png_plan_look(apr_pool_t *p, render_t *rd, const gf_png_spec_t *spec, rng_t *rng)
{
    const char *prompt = spec->prompt ? spec->prompt : "";
    unsigned i, c, v;

    switch (rd->look) {
    case LOOK_GLITCH:
        rd->split = rd->w / 64 + gf_png_rng_below(rng, rd->w / 64 + 1);
        if (rd->split >= rd->w) rd->split = 0;
        /* Without a source, a neon palette: the scene's colours at full
         * saturation. */
        rd->sc.top = gf_png_saturate(rd->sc.top);
        rd->sc.bottom = gf_png_saturate(rd->sc.bottom);
        for (i = 0; i < rd->sc.shapes; i++) {
            rd->sc.shape[i].c = gf_png_saturate(rd->sc.shape[i].c);
        }
        rd->ink[0] = 90;
        rd->ink[1] = 255;
        rd->ink[2] = 235;
        break;
    case LOOK_MASK: {
        long side = rd->w < rd->h ? rd->w : rd->h;
        rd->tint = gf_png_mood_color(p, prompt, spec->preset);
        for (v = 0; v < 256; v++) {
            /* Half lit: half the colour, and half of it by brightness. */
            rd->by_luma[0][v] = (unsigned char)((v * rd->tint.r) / 255 / 2 + rd->tint.r / 2);
            rd->by_luma[1][v] = (unsigned char)((v * rd->tint.g) / 255 / 2 + rd->tint.g / 2);
            rd->by_luma[2][v] = (unsigned char)((v * rd->tint.b) / 255 / 2 + rd->tint.b / 2);
        }
        rd->mcx = rd->w / 2;
        rd->mcy = (long)rd->h * 9 / 20;
        rd->mrx = side * 3 / 10 + 1;
        rd->mry = side * 4 / 10 + 1;
        rd->feather = rd->mrx / 6 + 1;
        rd->ink[0] = (unsigned char)(255 - (255 - rd->tint.r) / 3);
        rd->ink[1] = (unsigned char)(255 - (255 - rd->tint.g) / 3);
        rd->ink[2] = (unsigned char)(255 - (255 - rd->tint.b) / 3);
        break;
    }
    case LOOK_PASTEL: {
        /* Four levels from 110 to 245, warmer in red, cooler in blue; a
         * quarter of the smooth value between them. */
        static const int warm[3] = { 8, 2, -6 };
        for (c = 0; c < 3; c++) {
            for (v = 0; v < 511; v++) {
                /* v = (3 x - l + 255) / 2: the channel x half as
                 * saturated again, l + 3 (x - l) / 2, is v - 127. */
                int x = clamp255((int)v - 127);
                int level = 110 + (x >> 6) * 45, smooth = 110 + x * 135 / 255;
                rd->pastel[c][v] = clamp255((3 * level + smooth) / 4 + warm[c]);
            }
        }
        rd->ink[0] = 255;
        rd->ink[1] = 248;
        rd->ink[2] = 230;
        break;
    }
    case LOOK_PRESET:
        rd->tone = gf_png_preset_tone(p, spec->preset);
        rd->tint = gf_png_hash_color(spec->preset ? spec->preset : "");
        for (v = 0; v < 256; v++) {
            int l = (int)v;
            switch (rd->tone) {
            case TONE_NOIR:     /* grey, contrast up by half around the middle */
                rd->by_luma[0][v] = rd->by_luma[1][v] = rd->by_luma[2][v]
                    = clamp255((l - 128) * 3 / 2 + 128);
                break;
            case TONE_SEPIA:    /* brown-tinted grey, blacks lifted */
                rd->by_luma[0][v] = clamp255(l * 220 / 255 + 35);
                rd->by_luma[1][v] = clamp255(l * 190 / 255 + 22);
                rd->by_luma[2][v] = clamp255(l * 140 / 255 + 12);
                break;
            default:            /* mixed half and half with the preset's colour by brightness */
                rd->by_luma[0][v] = (unsigned char)(v * rd->tint.r / 255);
                rd->by_luma[1][v] = (unsigned char)(v * rd->tint.g / 255);
                rd->by_luma[2][v] = (unsigned char)(v * rd->tint.b / 255);
                break;
            }
        }
        break;
    default:
        break;
    }
}

/* neo-glitch: red read from further right, blue from further left (the
 * channels of a mistuned screen), then the bands, and a scan line every
 * other row. */
void gf_png_glitch_row(render_t *rd, unsigned y, unsigned char *line, unsigned char *tmp)
{
    unsigned w = rd->w, k = rd->split, x;

    memcpy(tmp, line, (size_t)w * 3);
    for (x = 0; x < w; x++) {
        line[x * 3] = tmp[(x + k < w ? x + k : w - 1) * 3];
        line[x * 3 + 2] = tmp[(x >= k ? x - k : 0) * 3 + 2];
    }
    gf_png_glitch_bands(&rd->sc, y, line, tmp);
    if (y % 2 == 0) {
        gf_png_darken_quarter(line, (size_t)w * 3);
    }
}

/* emotion-mask: inside the ellipse the picture in the mood's colour (a
 * quarter of it, and three quarters the colour half lit by brightness),
 * outside it darkened to 3/8, and between the two a feathered edge. The
 * ellipse's half-width on a row takes one square root a row, not a test a
 * pixel, and the darkened sides go eight bytes at a time. */
void gf_png_mask_row(render_t *rd, unsigned y, unsigned char *line)
{
    long dy = (long)y - rd->mcy, half = 0, inner, x, xa, xb;
    unsigned w = rd->w, c;

    if (dy > -rd->mry && dy < rd->mry) {
        double f = 1.0 - (double)(dy * dy) / (double)(rd->mry * rd->mry);
        half = (long)((double)rd->mrx * sqrt(f));
    }
    /* Inside: |x - cx| < half. */
    xa = rd->mcx - half + 1;
    xb = rd->mcx + half;
    if (xa < 0) xa = 0;
    if (xb > (long)w) xb = (long)w;
    if (xa >= xb) {
        gf_png_darken_band(line, (size_t)w * 3);
        return;
    }
    gf_png_darken_band(line, (size_t)xa * 3);
    gf_png_darken_band(line + (size_t)xb * 3, (size_t)(w - (unsigned long)xb) * 3);
    inner = half - rd->feather;
    for (x = xa; x < xb; x++) {
        unsigned char *px = line + x * 3;
        long dx = labs(x - rd->mcx);
        unsigned l = luma(px);
        if (dx <= inner) {
            for (c = 0; c < 3; c++) {
                px[c] = (unsigned char)((px[c] + 3u * rd->by_luma[c][l]) >> 2);
            }
        }
        else {
            unsigned a = (unsigned)((half - dx) * 256 / (half - inner));
            for (c = 0; c < 3; c++) {
                unsigned in = (px[c] + 3u * rd->by_luma[c][l]) >> 2, out = px[c] / 4u + px[c] / 8u;
                px[c] = (unsigned char)((in * a + out * (256 - a)) >> 8);
            }
        }
    }
}

/* The floor of the average of each of the eight bytes of x and y. */
static apr_uint64_t average8(apr_uint64_t x, apr_uint64_t y)
{
    return (x & y) + (((x ^ y) & 0xFEFEFEFEFEFEFEFEULL) >> 1);
}

static apr_uint64_t load8(const unsigned char *p)
{
    apr_uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* ghibli-reaction: the picture softened (a 3 x 3 blur, [1 2 1] each way,
 * over the base rows y - 1, y, y + 1, as averages of averages eight bytes
 * at a time), its colours made more saturated, then each channel mapped
 * through the pastel table: four light levels, with a quarter of the
 * smooth value mixed back so that the edges between levels are soft. */
void gf_png_pastel_row(render_t *rd, unsigned char *line)
{
    unsigned w = rd->w, x, c;
    size_t n = (size_t)w * 3, k;
    const unsigned char *a = rd->ring[0], *b = rd->ring[1], *d = rd->ring[2];
    unsigned char *v = rd->soft;
    apr_uint64_t t;

    /* Down: ((above + below) / 2 + this) / 2. */
    for (k = 0; k + 8 <= n; k += 8) {
        t = average8(average8(load8(a + k), load8(d + k)), load8(b + k));
        memcpy(v + k, &t, 8);
    }
    for (; k < n; k++) {
        v[k] = (unsigned char)(((a[k] + d[k]) / 2 + b[k]) / 2);
    }
    /* Across, the same with the pixels left and right (the edge pixels
     * repeated). */
    if (w == 1) {
        memcpy(line, v, 3);
    }
    else {
        for (c = 0; c < 3; c++) {
            line[c] = (unsigned char)(((v[c] + v[3 + c]) / 2 + v[c]) / 2);
            line[n - 3 + c] = (unsigned char)(((v[n - 6 + c] + v[n - 3 + c]) / 2
                                               + v[n - 3 + c]) / 2);
        }
        for (k = 3; k + 3 + 8 <= n; k += 8) {
            t = average8(average8(load8(v + k - 3), load8(v + k + 3)), load8(v + k));
            memcpy(line + k, &t, 8);
        }
        for (; k + 3 < n; k++) {
            line[k] = (unsigned char)(((v[k - 3] + v[k + 3]) / 2 + v[k]) / 2);
        }
    }
    /* Then a pixel at a time: the colours half as saturated again (before
     * the light levels wash them) and the levels, one table look-up. */
    for (x = 0; x < w; x++) {
        unsigned char *px = line + (size_t)x * 3;
        unsigned l = luma(px);
        for (c = 0; c < 3; c++) {
            px[c] = rd->pastel[c][(3u * px[c] + 255 - l) >> 1];
        }
    }
}

/* presets: the look the preset's key names. Except for neon, each channel
 * is a function of the brightness alone (noir, sepia) or of the channel
 * and the brightness (the tint): a table look-up (gf_png_plan_look). */
void gf_png_tone_row(render_t *rd, unsigned char *line)
{
    unsigned w = rd->w, x, c;

    for (x = 0; x < w; x++) {
        unsigned char *px = line + (size_t)x * 3;
        unsigned l = luma(px);
        if (rd->tone == TONE_NEON) {
            /* saturation doubled, shadows deeper */
            for (c = 0; c < 3; c++) {
                px[c] = clamp255((int)l + 2 * ((int)px[c] - (int)l) - 24);
            }
        }
        else if (rd->tone == TONE_TINT) {
            for (c = 0; c < 3; c++) {
                px[c] = (unsigned char)((px[c] + rd->by_luma[c][l]) >> 1);
            }
        }
        else {
            px[0] = rd->by_luma[0][l];
            px[1] = rd->by_luma[1][l];
            px[2] = rd->by_luma[2][l];
        }
    }
}
