/* gf_png.c: the local provider's deterministic pictures, with libpng (see
 * gf_png.h): an abstract scene or the user's picture, in the look of the
 * type, with the prompt written in (gf_font.c). */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <math.h>
#include <png.h>
#include <zlib.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <apr_sha1.h>

#include "image/gf_png.h"
#include "image/gf_font.h"

/* xorshift64*: tiny, well-known, and identical on every platform. */
typedef struct { apr_uint64_t s; } rng_t;

static apr_uint64_t rng_next(rng_t *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1DULL;
}

static unsigned rng_below(rng_t *r, unsigned n)
{
    return n ? (unsigned)(rng_next(r) % n) : 0;
}

/* The generator's state from the SHA-1 of the inputs. Without a type the
 * prompt and the seed only, as before types had looks (gf_png_render's
 * pictures stay what they were); with one, the type and the preset too,
 * so that each type and preset has a scene of its own. */
static void seed_rng(rng_t *r, const char *prompt, apr_uint64_t seed, const char *type,
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

void gf_png_dimensions(const char *aspect_ratio, unsigned *width, unsigned *height)
{
    unsigned a = 1, b = 1;

    if (aspect_ratio && sscanf(aspect_ratio, "%u:%u", &a, &b) != 2) {
        a = b = 1;
    }
    if (!a || !b) {
        a = b = 1;
    }
    if (a >= b) {
        *width = GF_PNG_LONG_SIDE;
        *height = GF_PNG_LONG_SIDE * b / a;
    }
    else {
        *height = GF_PNG_LONG_SIDE;
        *width = GF_PNG_LONG_SIDE * a / b;
    }
}

typedef struct { unsigned char r, g, b; } rgb_t;

static rgb_t random_color(rng_t *r)
{
    rgb_t c;
    c.r = (unsigned char)rng_below(r, 256);
    c.g = (unsigned char)rng_below(r, 256);
    c.b = (unsigned char)rng_below(r, 256);
    return c;
}

static void blend(unsigned char *px, rgb_t c, unsigned alpha /* 0..255 */)
{
    px[0] = (unsigned char)((px[0] * (255 - alpha) + c.r * alpha) / 255);
    px[1] = (unsigned char)((px[1] * (255 - alpha) + c.g * alpha) / 255);
    px[2] = (unsigned char)((px[2] * (255 - alpha) + c.b * alpha) / 255);
}

/* Fill n bytes at line with copies of its first 3 (one pixel) by doubling
 * copies: log2(n) memcpy calls instead of one 3-byte copy a pixel. */
static void fill_pixels(unsigned char *line, size_t n)
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
static void blend_span(unsigned char *px, unsigned n, rgb_t c, unsigned alpha)
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
        fill_pixels(px, (size_t)(q - px));
        px = q;
    }
}

/* The picture: a vertical gradient between two prompt-derived colours,
 * translucent discs and slabs over it, glitch bands (rows shifted sideways
 * with one channel displaced more) and scan lines. Every step works within
 * a row, so the scene is planned first (the random numbers drawn in the
 * order the steps use them) and then painted one row at a time, each row
 * handed to libpng at once: no whole picture in memory, and zlib reads rows
 * that are still in the cache. */
#define MAX_SHAPES 15  /* 6 + rng_below(r, 10) at most */
#define MAX_BANDS 11   /* 4 + rng_below(r, 8) at most */

typedef struct {
    rgb_t c;
    unsigned alpha;
    int disc;
    unsigned x0, x1, y0, y1;  /* the box, clipped */
    long cx, cy, r2;          /* centre, rad * rad */
    long half;                /* a disc's half-width on the last row painted */
} shape_t;

typedef struct {
    unsigned y0, y1, shift, shift2, chan;
} band_t;

typedef struct {
    unsigned w, h;
    rgb_t top, bottom;
    unsigned shapes, bands;
    shape_t shape[MAX_SHAPES];
    band_t band[MAX_BANDS];
} scene_t;

static void plan(scene_t *sc, unsigned w, unsigned h, rng_t *r)
{
    unsigned i;

    sc->w = w;
    sc->h = h;
    sc->top = random_color(r);
    sc->bottom = random_color(r);
    sc->shapes = 6 + rng_below(r, 10);
    for (i = 0; i < sc->shapes; i++) {
        shape_t *s = &sc->shape[i];
        unsigned cx, cy, rad;
        s->c = random_color(r);
        cx = rng_below(r, w);
        cy = rng_below(r, h);
        rad = 16 + rng_below(r, (w < h ? w : h) / 3);
        s->alpha = 90 + rng_below(r, 140);
        s->disc = rng_below(r, 3) != 0;
        s->cx = cx;
        s->cy = cy;
        s->x0 = cx > rad ? cx - rad : 0;
        s->y0 = cy > rad ? cy - rad : 0;
        s->x1 = cx + rad < w ? cx + rad : w;
        s->y1 = cy + rad < h ? cy + rad : h;
        s->r2 = (long)rad * (long)rad;
        s->half = 0;
    }
    sc->bands = 4 + rng_below(r, 8);
    for (i = 0; i < sc->bands; i++) {
        band_t *b = &sc->band[i];
        unsigned y0 = rng_below(r, h), bh = 2 + rng_below(r, h / 12 + 1);
        unsigned shift = rng_below(r, w / 4 + 1);
        b->chan = rng_below(r, 3);
        b->y0 = y0;
        b->y1 = y0 + bh;
        b->shift = shift % w;
        b->shift2 = (2 * shift + 7) % w;
    }
}

/* The abstract picture's row y before any effect: the gradient and the
 * shapes (rows in order: the discs' half-widths carry over). */
static void background_row(scene_t *sc, unsigned y, unsigned char *line)
{
    unsigned w = sc->w, h = sc->h, i;
    size_t stride = (size_t)w * 3;

    /* Background: the gradient's colour for this row, copied along it. */
    line[0] = (unsigned char)((sc->top.r * (h - y) + sc->bottom.r * y) / h);
    line[1] = (unsigned char)((sc->top.g * (h - y) + sc->bottom.g * y) / h);
    line[2] = (unsigned char)((sc->top.b * (h - y) + sc->bottom.b * y) / h);
    fill_pixels(line, stride);

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
            blend_span(line + (size_t)sx0 * 3, sx1 - sx0, s->c, s->alpha);
        }
    }
}

/* The glitch bands over row y, in order, with tmp as scratch. Both moves
 * are rotations of the row: the shift two copies, the displaced channel
 * two strided loops (no division a pixel to wrap around). */
static void glitch_bands(const scene_t *sc, unsigned y, unsigned char *line, unsigned char *tmp)
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

/* A scan line: the n bytes at line at three quarters of their brightness,
 * eight bytes at a time: floor(3v/4) = floor(v/2) + floor(v/4), plus one
 * when the two low bits of v are both set, and none of the three terms
 * carries into the next byte. */
static void darken_quarter(unsigned char *line, size_t n)
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
static void darken_band(unsigned char *line, size_t n)
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

/* ---- Looks: what the type does to the picture. */

typedef enum {
    LOOK_PLAIN,     /* no type: the abstract picture alone (gf_png_render) */
    LOOK_DEFAULT,   /* a site's own type: glitch bands and scan lines, text */
    LOOK_GLITCH,    /* neo-glitch */
    LOOK_MASK,      /* emotion-mask */
    LOOK_PASTEL,    /* ghibli-reaction */
    LOOK_PRESET     /* presets */
} look_t;

typedef enum { TONE_TINT, TONE_NOIR, TONE_SEPIA, TONE_NEON } tone_t;

typedef struct {
    scene_t sc;
    look_t look;
    tone_t tone;
    unsigned w, h;
    /* The source, cropped to the picture's aspect ratio and scaled by
     * nearest neighbour: output column x reads the source bytes at
     * xoff[x] of source row sy0 + ((2y + 1) * sh) / (2h). */
    const gf_image_t *src;
    unsigned *xoff;
    apr_uint64_t sy0, sh;
    unsigned split;          /* neo-glitch: red and blue move this far apart */
    rgb_t tint;              /* the mood (emotion-mask), the preset's tint */
    /* emotion-mask: the face-sized ellipse and its feathered edge */
    long mcx, mcy, mrx, mry, feather;
    /* ghibli-reaction: (3 v - l + 255) / 2, v a channel and l the
     * brightness, to the pastel level of the colour made more saturated */
    unsigned char pastel[3][511];
    /* emotion-mask: brightness → the mood's colour, half lit;
     * presets: brightness → each channel of the tone */
    unsigned char by_luma[3][256];
    /* ghibli-reaction's soft edges: the base rows y - 1, y, y + 1 */
    unsigned char *ring[3];
    unsigned char *soft;     /* the rows blurred down, before across */
    unsigned next_base;
    /* The prompt in a dark band at the bottom, the preset's name in a box
     * at the top left (presets). */
    char **lines, **label;
    int nlines;
    unsigned scale, pad, line_h, band_y0, label_h, label_w;
    unsigned char ink[3];
} render_t;

/* Does a word of lower (lowercase text) begin with one of words? At the
 * start of a word only: "rage" is not in "storage", "zen" not in "frozen". */
static int has_word(const char *lower, const char *const *words)
{
    for (; *words; words++) {
        const char *at = lower;
        while ((at = strstr(at, *words)) != NULL) {
            if (at == lower || !apr_isalpha(at[-1])) return 1;
            at++;
        }
    }
    return 0;
}

/* The most saturated colour of c's hue: its smallest channel to 0, its
 * largest to 255 (grey becomes a mid grey). */
static rgb_t saturate(rgb_t c)
{
    unsigned lo = c.r, hi = c.r;
    rgb_t o;
    if (c.g < lo) lo = c.g;
    if (c.b < lo) lo = c.b;
    if (c.g > hi) hi = c.g;
    if (c.b > hi) hi = c.b;
    if (hi == lo) {
        o.r = o.g = o.b = 160;
        return o;
    }
    o.r = (unsigned char)((c.r - lo) * 255 / (hi - lo));
    o.g = (unsigned char)((c.g - lo) * 255 / (hi - lo));
    o.b = (unsigned char)((c.b - lo) * 255 / (hi - lo));
    return o;
}

/* A saturated colour from the SHA-1 of text: the same text, the same colour. */
static rgb_t hash_color(const char *text)
{
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    apr_sha1_ctx_t ctx;
    rgb_t c;

    apr_sha1_init(&ctx);
    apr_sha1_update(&ctx, text, (unsigned)strlen(text));
    apr_sha1_final(digest, &ctx);
    c.r = digest[0];
    c.g = digest[1];
    c.b = digest[2];
    return saturate(c);
}

static rgb_t mk(unsigned char r, unsigned char g, unsigned char b)
{
    rgb_t c;
    c.r = r;
    c.g = g;
    c.b = b;
    return c;
}

/* emotion-mask's colour: the mood its words name, else one of its own. */
static rgb_t mood_color(apr_pool_t *p, const char *prompt, const char *preset)
{
    static const char *const joy[] = { "happy", "joy", "smil", "laugh", "delight", "cheer",
                                       NULL };
    static const char *const sad[] = { "sad", "crying", "cries", "tear", "lonely", "melanchol",
                                       "grief", "sorrow", NULL };
    static const char *const anger[] = { "angry", "anger", "rage", "furious", "hate", "fury",
                                         NULL };
    static const char *const love[] = { "love", "heart", "romantic", "kiss", NULL };
    static const char *const fear[] = { "fear", "scared", "afraid", "horror", "spooky",
                                        "terrif", "terror", NULL };
    static const char *const calm[] = { "calm", "peace", "seren", "relax", "zen", "tranquil",
                                        NULL };
    static const char *const surprise[] = { "surpris", "shock", "wow", "amazed", "astonish",
                                            NULL };
    char *text = apr_pstrcat(p, prompt, " ", preset ? preset : "", NULL), *s;

    for (s = text; *s; s++) {
        *s = (char)apr_tolower(*s);
    }
    if (has_word(text, joy)) return mk(255, 205, 40);
    if (has_word(text, sad)) return mk(60, 120, 255);
    if (has_word(text, anger)) return mk(255, 40, 30);
    if (has_word(text, love)) return mk(255, 80, 170);
    if (has_word(text, fear)) return mk(150, 60, 255);
    if (has_word(text, calm)) return mk(40, 220, 180);
    if (has_word(text, surprise)) return mk(255, 140, 20);
    return hash_color(text);
}

static tone_t preset_tone(apr_pool_t *p, const char *preset)
{
    char *key = apr_pstrdup(p, preset ? preset : ""), *s;

    for (s = key; *s; s++) {
        *s = (char)apr_tolower(*s);
    }
    if (strstr(key, "noir")) return TONE_NOIR;
    if (strstr(key, "sepia") || strstr(key, "vintage")) return TONE_SEPIA;
    if (strstr(key, "neon")) return TONE_NEON;
    return TONE_TINT;
}

static look_t look_of(const char *type)
{
    if (!type) return LOOK_PLAIN;
    if (!strcmp(type, "neo-glitch")) return LOOK_GLITCH;
    if (!strcmp(type, "emotion-mask")) return LOOK_MASK;
    if (!strcmp(type, "ghibli-reaction")) return LOOK_PASTEL;
    if (!strcmp(type, "presets")) return LOOK_PRESET;
    return LOOK_DEFAULT;
}

static unsigned luma(const unsigned char *px)
{
    return (77u * px[0] + 150u * px[1] + 29u * px[2]) >> 8;
}

static unsigned char clamp255(int v)
{
    return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* The source's row for output row y, scaled into line. */
static void source_row(const render_t *rd, unsigned y, unsigned char *line)
{
    const unsigned char *row = rd->src->rgb
        + (size_t)(rd->sy0 + ((2 * (apr_uint64_t)y + 1) * rd->sh) / (2 * (apr_uint64_t)rd->h))
          * rd->src->width * 3;
    unsigned x;

    for (x = 0; x < rd->w; x++) {
        memcpy(line + (size_t)x * 3, row + rd->xoff[x], 3);
    }
}

static void base_row(render_t *rd, unsigned y, unsigned char *line)
{
    if (rd->src) {
        source_row(rd, y, line);
    }
    else {
        background_row(&rd->sc, y, line);
    }
}

/* neo-glitch: red read from further right, blue from further left (the
 * channels of a mistuned screen), then the bands, and a scan line every
 * other row. */
static void glitch_row(render_t *rd, unsigned y, unsigned char *line, unsigned char *tmp)
{
    unsigned w = rd->w, k = rd->split, x;

    memcpy(tmp, line, (size_t)w * 3);
    for (x = 0; x < w; x++) {
        line[x * 3] = tmp[(x + k < w ? x + k : w - 1) * 3];
        line[x * 3 + 2] = tmp[(x >= k ? x - k : 0) * 3 + 2];
    }
    glitch_bands(&rd->sc, y, line, tmp);
    if (y % 2 == 0) {
        darken_quarter(line, (size_t)w * 3);
    }
}

/* emotion-mask: inside the ellipse the picture in the mood's colour (a
 * quarter of it, and three quarters the colour half lit by brightness),
 * outside it darkened to 3/8, and between the two a feathered edge. The
 * ellipse's half-width on a row takes one square root a row, not a test a
 * pixel, and the darkened sides go eight bytes at a time. */
static void mask_row(render_t *rd, unsigned y, unsigned char *line)
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
        darken_band(line, (size_t)w * 3);
        return;
    }
    darken_band(line, (size_t)xa * 3);
    darken_band(line + (size_t)xb * 3, (size_t)(w - (unsigned long)xb) * 3);
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
static void pastel_row(render_t *rd, unsigned char *line)
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
 * and the brightness (the tint): a table look-up (plan_look). */
static void tone_row(render_t *rd, unsigned char *line)
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

/* The text over row y: the prompt's band at the bottom, the label's box
 * at the top left. */
static void text_row(const render_t *rd, unsigned y, unsigned char *line)
{
    unsigned w = rd->w;

    if (rd->nlines && y >= rd->band_y0) {
        unsigned r = y - rd->band_y0;
        darken_band(line, (size_t)w * 3);
        if (r >= rd->pad) {
            unsigned i = (r - rd->pad) / rd->line_h, row = (r - rd->pad) % rd->line_h;
            if (i < (unsigned)rd->nlines) {
                gf_font_draw_row(line, w, rd->pad, rd->lines[i], row, rd->scale, rd->ink);
            }
        }
    }
    if (rd->label && y < rd->label_h) {
        darken_band(line, (size_t)rd->label_w * 3);
        if (y >= rd->pad) {
            gf_font_draw_row(line, rd->label_w, rd->pad, rd->label[0], y - rd->pad,
                             rd->scale, rd->ink);
        }
    }
}

static void paint_row(render_t *rd, unsigned y, unsigned char *line, unsigned char *tmp)
{
    size_t stride = (size_t)rd->w * 3;

    if (rd->look == LOOK_PASTEL) {
        /* The ring holds y - 1, y, y + 1 (the edges repeat): move it on. */
        unsigned char *old = rd->ring[0];
        if (y > 0) {
            rd->ring[0] = rd->ring[1];
            rd->ring[1] = rd->ring[2];
            rd->ring[2] = old;
        }
        if (y + 1 < rd->h) {
            base_row(rd, y + 1, rd->ring[2]);
        }
        else {
            memcpy(rd->ring[2], rd->ring[1], stride);
        }
        pastel_row(rd, line);
    }
    else {
        base_row(rd, y, line);
        switch (rd->look) {
        case LOOK_GLITCH:
            glitch_row(rd, y, line, tmp);
            break;
        case LOOK_MASK:
            mask_row(rd, y, line);
            break;
        case LOOK_PRESET:
            tone_row(rd, line);
            break;
        default:        /* the plain picture's bands and scan lines */
            glitch_bands(&rd->sc, y, line, tmp);
            if (y % 4 == 0) {
                darken_quarter(line, stride);
            }
            break;
        }
    }
    text_row(rd, y, line);
}

/* Where text goes: scale 2 on pictures of a usual size, up to three lines
 * of the prompt that take at most half the height, and the preset's name
 * on one line at the top. Pictures too small for a line get none. */
static void plan_text(apr_pool_t *p, render_t *rd, const char *prompt, const char *label)
{
    unsigned w = rd->w, h = rd->h, cols;
    int max_lines = 3;

    rd->scale = w >= 320 && h >= 160 ? 2 : 1;
    rd->pad = 4 * rd->scale;
    rd->line_h = (GF_FONT_HEIGHT + 2) * rd->scale;
    if (w < 2 * rd->pad + GF_FONT_WIDTH * rd->scale) {
        return;
    }
    cols = (w - 2 * rd->pad + rd->scale) / (GF_FONT_ADVANCE * rd->scale);
    while (max_lines > 0 && max_lines * rd->line_h + 2 * rd->pad > h / 2) {
        max_lines--;
    }
    rd->nlines = gf_font_wrap(p, prompt, cols, max_lines, &rd->lines);
    if (rd->nlines) {
        rd->band_y0 = h - (rd->nlines * rd->line_h + 2 * rd->pad - 2 * rd->scale);
    }
    rd->label_h = rd->line_h + 2 * rd->pad - 2 * rd->scale;
    if (label && rd->label_h + (rd->nlines ? h - rd->band_y0 : 0) <= h
        && gf_font_wrap(p, label, cols, 1, &rd->label)) {
        rd->label_w = gf_font_width(rd->label[0], rd->scale) + 2 * rd->pad;
    }
    else {
        rd->label = NULL;
    }
}

/* The source's crop to the picture's aspect ratio (centred) and the byte
 * offset each output column reads. */
static void plan_source(render_t *rd, unsigned *xoff)
{
    const gf_image_t *s = rd->src;
    apr_uint64_t sw = s->width, sh = s->height, sx0 = 0, vw = sw, x;

    if (sw * rd->h > sh * rd->w) {      /* wider than the picture: crop the sides */
        vw = sh * rd->w / rd->h;
        if (!vw) vw = 1;
        sx0 = (sw - vw) / 2;
        rd->sy0 = 0;
        rd->sh = sh;
    }
    else {                              /* taller: crop top and bottom */
        rd->sh = sw * rd->h / rd->w;
        if (!rd->sh) rd->sh = 1;
        rd->sy0 = (sh - rd->sh) / 2;
    }
    for (x = 0; x < rd->w; x++) {
        xoff[x] = (unsigned)((sx0 + ((2 * x + 1) * vw) / (2 * (apr_uint64_t)rd->w)) * 3);
    }
    rd->xoff = xoff;
}

static void plan_look(apr_pool_t *p, render_t *rd, const gf_png_spec_t *spec, rng_t *rng)
{
    const char *prompt = spec->prompt ? spec->prompt : "";
    unsigned i, c, v;

    switch (rd->look) {
    case LOOK_GLITCH:
        rd->split = rd->w / 64 + rng_below(rng, rd->w / 64 + 1);
        if (rd->split >= rd->w) rd->split = 0;
        /* Without a source, a neon palette: the scene's colours at full
         * saturation. */
        rd->sc.top = saturate(rd->sc.top);
        rd->sc.bottom = saturate(rd->sc.bottom);
        for (i = 0; i < rd->sc.shapes; i++) {
            rd->sc.shape[i].c = saturate(rd->sc.shape[i].c);
        }
        rd->ink[0] = 90;
        rd->ink[1] = 255;
        rd->ink[2] = 235;
        break;
    case LOOK_MASK: {
        long side = rd->w < rd->h ? rd->w : rd->h;
        rd->tint = mood_color(p, prompt, spec->preset);
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
        rd->tone = preset_tone(p, spec->preset);
        rd->tint = hash_color(spec->preset ? spec->preset : "");
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

typedef struct {
    unsigned char *data;
    size_t len, cap;
    int oom;
} membuf_t;

static void write_mem(png_structp png, png_bytep data, png_size_t len)
{
    membuf_t *m = png_get_io_ptr(png);
    if (m->oom) {
        return;
    }
    if (m->len + len > m->cap) {
        size_t cap = (m->cap ? m->cap * 2 : 65536);
        unsigned char *n;
        while (cap < m->len + len) cap *= 2;
        n = realloc(m->data, cap);
        if (!n) {
            m->oom = 1;
            return;
        }
        m->data = n;
        m->cap = cap;
    }
    memcpy(m->data + m->len, data, len);
    m->len += len;
}

static void flush_mem(png_structp png)
{
    (void)png;
}

apr_status_t gf_png_render_spec(apr_pool_t *p, const gf_png_spec_t *spec,
                                unsigned char **out, apr_size_t *out_len)
{
    rng_t rng;
    render_t *rd;
    png_structp png = NULL;
    png_infop info = NULL;
    unsigned char *block, *line;
    unsigned width = spec->width, height = spec->height;
    size_t stride = (size_t)width * 3;
    membuf_t mem = { NULL, 0, 0, 0 };
    /* volatile: read after longjmp */
    volatile apr_status_t rv = APR_EGENERAL;
    unsigned y;

    if (!width || !height || width > 4096 || height > 4096) {
        return APR_EINVAL;
    }
    /* The state (in p: a render is short, and the pool is the caller's
     * request's or job's), and one block of scratch: the source's column
     * offsets, then rows: the blur's, the one being painted, its scratch
     * copy, the three of the soft-edge ring. */
    rd = apr_pcalloc(p, sizeof(*rd));
    block = malloc((size_t)width * sizeof(unsigned) + 6 * stride);
    if (!block) {
        return APR_ENOMEM;
    }
    rd->soft = block + (size_t)width * sizeof(unsigned);
    line = rd->soft + stride;
    rd->w = width;
    rd->h = height;
    rd->look = look_of(spec->type);
    rd->ring[0] = line + 2 * stride;
    rd->ring[1] = line + 3 * stride;
    rd->ring[2] = line + 4 * stride;
    rd->ink[0] = rd->ink[1] = rd->ink[2] = 250;
    seed_rng(&rng, spec->prompt ? spec->prompt : "", spec->seed, spec->type, spec->preset);
    plan(&rd->sc, width, height, &rng);
    if (rd->look != LOOK_PLAIN) {
        if (spec->source && spec->source->rgb && spec->source->width
            && spec->source->height) {
            rd->src = spec->source;
            plan_source(rd, (unsigned *)(void *)block);
        }
        plan_look(p, rd, spec, &rng);
        plan_text(p, rd, spec->prompt ? spec->prompt : "",
                  rd->look == LOOK_PRESET ? spec->preset : NULL);
        if (rd->look == LOOK_PASTEL) {
            /* Rows -1 and 0 of the ring: the first row, twice. */
            base_row(rd, 0, rd->ring[1]);
            memcpy(rd->ring[0], rd->ring[1], stride);
        }
    }

    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (!png || !(info = png_create_info_struct(png))) {
        goto leave;
    }
    if (setjmp(png_jmpbuf(png))) {
        rv = APR_EGENERAL;
        goto leave;
    }
    png_set_write_fn(png, &mem, write_mem, flush_mem);
    /* The demo's pictures are generated, not archived: zlib level 1 and no
     * row filter (libpng's adaptive filter search cost more than all the
     * rest; the SUB filter with zlib's run-length strategy saves zlib's
     * match search but spends as much again filtering). Most of what zlib
     * still does is per input byte: the checksum, the copy into its window
     * and, each time the 32 KB window slides, re-basing its hash tables.
     * Memory level 4 shrinks the head table from 32K entries to 2K: a
     * quarter fewer instructions in zlib, for files no larger (they are
     * runs of flat colour; bench/png-render). */
    png_set_compression_level(png, 1);
    png_set_compression_mem_level(png, 4);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
    if (rd->src) {
        /* A photo is no runs of flat colour: unfiltered, zlib's matching
         * finds little and is most of the cost (232 M instructions for
         * 512 x 512, 730 KB). The SUB filter turns its
         * smooth parts into small differences and the run-length strategy
         * skips the match search: 103 M, 470 KB (docs/benchmarks.md). */
        png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
        png_set_compression_strategy(png, Z_RLE);
    }
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (y = 0; y < height; y++) {
        paint_row(rd, y, line, line + stride);
        png_write_row(png, line);
    }
    png_write_end(png, NULL);
    if (!mem.oom) {
        *out = apr_pmemdup(p, mem.data, mem.len);
        *out_len = mem.len;
        rv = APR_SUCCESS;
    }
leave:
    png_destroy_write_struct(&png, &info);
    free(mem.data);
    free(block);
    return rv;
}

apr_status_t gf_png_render(apr_pool_t *p, const char *prompt, apr_uint64_t seed,
                           unsigned width, unsigned height,
                           unsigned char **out, apr_size_t *out_len)
{
    gf_png_spec_t spec;

    memset(&spec, 0, sizeof(spec));
    spec.prompt = prompt;
    spec.seed = seed;
    spec.width = width;
    spec.height = height;
    return gf_png_render_spec(p, &spec, out, out_len);
}
