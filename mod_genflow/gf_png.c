/* gf_png.c: deterministic "neo-glitch" pictures with libpng (see gf_png.h). */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <png.h>
#include <apr_strings.h>
#include <apr_sha1.h>

#include "gf_png.h"

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

static void seed_rng(rng_t *r, const char *prompt, apr_uint64_t seed)
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

/* Paint row y (rows in order: the discs' half-widths carry over) into line,
 * with tmp as scratch; both 3 * w bytes. */
static void paint_row(scene_t *sc, unsigned y, unsigned char *line, unsigned char *tmp)
{
    unsigned w = sc->w, h = sc->h, x, i;
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

    /* Glitch bands over this row, in order. Both moves are rotations of
     * the row: the shift two copies, the displaced channel two strided
     * loops (no division a pixel to wrap around). */
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

    /* Scan lines: every fourth row at three quarters of its brightness,
     * eight bytes at a time: floor(3v/4) = floor(v/2) + floor(v/4), plus
     * one when the two low bits of v are both set, and none of the three
     * terms carries into the next byte. */
    if (y % 4 == 0) {
        size_t k = 0;
        for (; k + 8 <= stride; k += 8) {
            apr_uint64_t v;
            memcpy(&v, line + k, 8);
            v = ((v >> 1) & 0x7F7F7F7F7F7F7F7FULL) + ((v >> 2) & 0x3F3F3F3F3F3F3F3FULL)
                + (v & (v >> 1) & 0x0101010101010101ULL);
            memcpy(line + k, &v, 8);
        }
        for (; k < stride; k++) {
            line[k] = (unsigned char)(line[k] * 3u / 4);
        }
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

apr_status_t gf_png_render(apr_pool_t *p, const char *prompt, apr_uint64_t seed,
                           unsigned width, unsigned height,
                           unsigned char **out, apr_size_t *out_len)
{
    rng_t rng;
    scene_t scene;
    png_structp png = NULL;
    png_infop info = NULL;
    unsigned char *line;
    size_t stride = (size_t)width * 3;
    membuf_t mem = { NULL, 0, 0, 0 };
    /* volatile: read after longjmp */
    volatile apr_status_t rv = APR_EGENERAL;
    unsigned y;

    if (!width || !height || width > 4096 || height > 4096) {
        return APR_EINVAL;
    }
    /* The row being painted and its scratch copy. */
    line = malloc(2 * stride);
    if (!line) {
        return APR_ENOMEM;
    }
    seed_rng(&rng, prompt ? prompt : "", seed);
    plan(&scene, width, height, &rng);

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
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (y = 0; y < height; y++) {
        paint_row(&scene, y, line, line + stride);
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
    free(line);
    return rv;
}
