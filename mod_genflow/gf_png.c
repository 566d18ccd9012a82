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

static void draw(unsigned char *img, unsigned w, unsigned h, rng_t *r)
{
    rgb_t top = random_color(r), bottom = random_color(r);
    unsigned x, y, i, shapes, bands;
    unsigned char *row;

    /* Background: a vertical gradient between two prompt-derived colours,
     * one colour a row (worked out once, then copied along it). */
    for (y = 0; y < h; y++) {
        unsigned char *line = img + (size_t)y * w * 3;
        line[0] = (unsigned char)((top.r * (h - y) + bottom.r * y) / h);
        line[1] = (unsigned char)((top.g * (h - y) + bottom.g * y) / h);
        line[2] = (unsigned char)((top.b * (h - y) + bottom.b * y) / h);
        for (x = 1; x < w; x++) {
            memcpy(line + x * 3, line, 3);
        }
    }
    /* Translucent discs and slabs. */
    shapes = 6 + rng_below(r, 10);
    for (i = 0; i < shapes; i++) {
        rgb_t c = random_color(r);
        unsigned cx = rng_below(r, w), cy = rng_below(r, h);
        unsigned rad = 16 + rng_below(r, (w < h ? w : h) / 3);
        unsigned alpha = 90 + rng_below(r, 140);
        int disc = rng_below(r, 3) != 0;
        unsigned x0 = cx > rad ? cx - rad : 0, y0 = cy > rad ? cy - rad : 0;
        unsigned x1 = cx + rad < w ? cx + rad : w, y1 = cy + rad < h ? cy + rad : h;
        for (y = y0; y < y1; y++) {
            for (x = x0; x < x1; x++) {
                long dx = (long)x - (long)cx, dy = (long)y - (long)cy;
                if (!disc || dx * dx + dy * dy <= (long)rad * (long)rad) {
                    blend(img + ((size_t)y * w + x) * 3, c, alpha);
                }
            }
        }
    }
    /* Glitch bands: rows shifted sideways with one channel displaced. */
    row = malloc((size_t)w * 3);
    if (!row) {
        return;
    }
    bands = 4 + rng_below(r, 8);
    for (i = 0; i < bands; i++) {
        unsigned y0 = rng_below(r, h), bh = 2 + rng_below(r, h / 12 + 1);
        unsigned shift = rng_below(r, w / 4 + 1), chan = rng_below(r, 3);
        for (y = y0; y < y0 + bh && y < h; y++) {
            unsigned char *line = img + (size_t)y * w * 3;
            memcpy(row, line, (size_t)w * 3);
            for (x = 0; x < w; x++) {
                unsigned src = (x + shift) % w;
                line[x * 3 + 0] = row[src * 3 + 0];
                line[x * 3 + 1] = row[src * 3 + 1];
                line[x * 3 + 2] = row[src * 3 + 2];
                line[x * 3 + chan] = row[((x + 2 * shift + 7) % w) * 3 + chan];
            }
        }
    }
    /* Scan lines. */
    for (y = 0; y < h; y += 4) {
        for (x = 0; x < w; x++) {
            unsigned char *px = img + ((size_t)y * w + x) * 3;
            px[0] = (unsigned char)(px[0] * 3 / 4);
            px[1] = (unsigned char)(px[1] * 3 / 4);
            px[2] = (unsigned char)(px[2] * 3 / 4);
        }
    }
    free(row);
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
    png_structp png = NULL;
    png_infop info = NULL;
    unsigned char *img = NULL;
    membuf_t mem = { NULL, 0, 0, 0 };
    /* volatile: read after longjmp */
    volatile apr_status_t rv = APR_EGENERAL;
    unsigned y;

    if (!width || !height || width > 4096 || height > 4096) {
        return APR_EINVAL;
    }
    img = malloc((size_t)width * height * 3);
    if (!img) {
        return APR_ENOMEM;
    }
    seed_rng(&rng, prompt ? prompt : "", seed);
    draw(img, width, height, &rng);

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
     * row filter cost a quarter of level 6 with adaptive filters (the
     * filter search was most of it) for files about a quarter larger
     * (bench/png-render). */
    png_set_compression_level(png, 1);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (y = 0; y < height; y++) {
        png_write_row(png, img + (size_t)y * width * 3);
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
    free(img);
    return rv;
}
