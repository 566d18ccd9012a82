/* SPDX-License-Identifier: Apache-2.0 */
/* png-bench: milliseconds per 512 x 512 render of the local provider's
 * picture (draw and PNG encode), side by side with the renderer it
 * replaced, and the average PNG size of each. bench/png-render builds and
 * runs it.
 *
 * Both renderers draw the same 50 prompts per round; the rounds alternate
 * which one goes first, and each one's best round counts, so that a burst
 * of load on the shared machine does not land on one side only.
 *
 * Output, one line: before_ms before_cpu_ms before_bytes now_ms now_cpu_ms
 * now_bytes identical: ms is wall-clock time, cpu_ms the time the process
 * was on a CPU (the part of the wall time that a loaded machine's other
 * processes do not add by preempting it), and identical is 1 when the two
 * renderers' pictures decode to the same pixels for every prompt (the new
 * one only draws and encodes them more cheaply).
 *
 * Then one line a look of gf_png_render_spec, measured in the same rounds
 * on the same prompts: "look TYPE SOURCE ms cpu_ms bytes", SOURCE 1 when
 * the picture transforms a 1024 x 768 photo-like source (smooth colour,
 * detail and grain, as a phone picture has), 0 for the abstract scene.
 * Every look writes the prompt in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <png.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_sha1.h>
#include <math.h>
#include "image/gf_png.h"

#define ROUNDS 10
#define PROMPTS 50
#define SIDE 512

/* ---- The previous renderer, as it was in gf_png.c (commit 8934364):
 * zlib level 1 at its default memory level, no row filter, the gradient a
 * row at a time, but each pixel of a shape's box tested against the disc
 * and blended with three divisions, the glitch bands shifted with two
 * modulos a pixel and the scan lines darkened a byte at a time. */

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

typedef struct { unsigned char r, g, b; } rgb_t;

static rgb_t random_color(rng_t *r)
{
    rgb_t c;
    c.r = (unsigned char)rng_below(r, 256);
    c.g = (unsigned char)rng_below(r, 256);
    c.b = (unsigned char)rng_below(r, 256);
    return c;
}

static void blend(unsigned char *px, rgb_t c, unsigned alpha)
{
    px[0] = (unsigned char)((px[0] * (255 - alpha) + c.r * alpha) / 255);
    px[1] = (unsigned char)((px[1] * (255 - alpha) + c.g * alpha) / 255);
    px[2] = (unsigned char)((px[2] * (255 - alpha) + c.b * alpha) / 255);
}

static void before_draw(unsigned char *img, unsigned w, unsigned h, rng_t *r)
{
    rgb_t top = random_color(r), bottom = random_color(r);
    unsigned x, y, i, shapes, bands;
    unsigned char *row;

    for (y = 0; y < h; y++) {
        unsigned char *line = img + (size_t)y * w * 3;
        line[0] = (unsigned char)((top.r * (h - y) + bottom.r * y) / h);
        line[1] = (unsigned char)((top.g * (h - y) + bottom.g * y) / h);
        line[2] = (unsigned char)((top.b * (h - y) + bottom.b * y) / h);
        for (x = 1; x < w; x++) {
            memcpy(line + x * 3, line, 3);
        }
    }
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

static apr_status_t before_render(apr_pool_t *p, const char *prompt, apr_uint64_t seed,
                                  unsigned width, unsigned height,
                                  unsigned char **out, apr_size_t *out_len)
{
    rng_t rng;
    png_structp png = NULL;
    png_infop info = NULL;
    unsigned char *img = NULL;
    membuf_t mem = { NULL, 0, 0, 0 };
    volatile apr_status_t rv = APR_EGENERAL;
    unsigned y;

    img = malloc((size_t)width * height * 3);
    if (!img) {
        return APR_ENOMEM;
    }
    seed_rng(&rng, prompt ? prompt : "", seed);
    before_draw(img, width, height, &rng);

    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (!png || !(info = png_create_info_struct(png))) {
        goto leave;
    }
    if (setjmp(png_jmpbuf(png))) {
        rv = APR_EGENERAL;
        goto leave;
    }
    png_set_write_fn(png, &mem, write_mem, flush_mem);
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

/* ---- The bench. */

typedef apr_status_t (*render_fn)(apr_pool_t *, const char *, apr_uint64_t, unsigned, unsigned,
                                  unsigned char **, apr_size_t *);

/* The looks, each through gf_png_render_spec with the round's prompt and
 * seed; with_source: the photo below. */
static const struct {
    const char *type, *preset;
    int with_source;
} LOOKS[] = {
    { "site-defined", NULL, 0 }, { "neo-glitch", NULL, 0 }, { "emotion-mask", NULL, 0 },
    { "ghibli-reaction", NULL, 0 }, { "presets", "winter-noir", 0 },
    { "site-defined", NULL, 1 }, { "neo-glitch", NULL, 1 }, { "emotion-mask", NULL, 1 },
    { "ghibli-reaction", NULL, 1 }, { "presets", "winter-noir", 1 },
};
#define NLOOKS (sizeof(LOOKS) / sizeof(LOOKS[0]))

static gf_image_t photo;
static size_t look_index;

/* A render_fn for LOOKS[look_index]. */
static apr_status_t look_render(apr_pool_t *p, const char *prompt, apr_uint64_t seed,
                                unsigned w, unsigned h, unsigned char **out, apr_size_t *len)
{
    gf_png_spec_t spec;

    memset(&spec, 0, sizeof(spec));
    spec.prompt = prompt;
    spec.seed = seed;
    spec.width = w;
    spec.height = h;
    spec.type = LOOKS[look_index].type;
    spec.preset = LOOKS[look_index].preset;
    spec.source = LOOKS[look_index].with_source ? &photo : NULL;
    return gf_png_render_spec(p, &spec, out, len);
}

/* Photo-like pixels: a smooth colour field, finer detail over it, and a
 * grain of a few levels (a camera's noise, which is what makes photos
 * cost zlib more than flat colour). Deterministic. */
static void make_photo(apr_pool_t *p, unsigned w, unsigned h)
{
    rng_t r = { 0x9E3779B97F4A7C15ULL };
    unsigned x, y, c;

    photo.width = w;
    photo.height = h;
    photo.rgb = apr_palloc(p, (size_t)w * h * 3);
    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            for (c = 0; c < 3; c++) {
                double v = 128 + 70 * sin((double)x / (90.0 + 40 * c) + c)
                           * cos((double)y / (120.0 - 25 * c))
                           + 30 * sin((double)(x + 2 * y) / (9.0 + c))
                           + (double)rng_below(&r, 13) - 6;
                photo.rgb[((size_t)y * w + x) * 3 + c] =
                    (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    }
}

static double now(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* One round of PROMPTS renders: wall-clock milliseconds a picture, and in
 * *cpu_ms the CPU time; adds the sizes. */
static double round_ms(apr_pool_t *p, render_fn render, size_t *bytes, double *cpu_ms)
{
    double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    int i;

    for (i = 0; i < PROMPTS; i++) {
        unsigned char *out;
        apr_size_t n;
        apr_pool_t *q;
        apr_pool_create(&q, p);
        if (render(q, apr_psprintf(q, "prompt number %d", i), (apr_uint64_t)i, SIDE, SIDE,
                   &out, &n) != APR_SUCCESS) {
            fprintf(stderr, "render failed\n");
            exit(1);
        }
        *bytes += n;
        apr_pool_destroy(q);
    }
    *cpu_ms = (now(CLOCK_PROCESS_CPUTIME_ID) - c0) / PROMPTS * 1000;
    return (now(CLOCK_MONOTONIC) - t0) / PROMPTS * 1000;
}

/* The picture's pixels, decoded with libpng (NULL if it is no PNG). */
static unsigned char *decode(apr_pool_t *p, const unsigned char *png, apr_size_t len)
{
    png_image img;
    unsigned char *px;

    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, png, len)) {
        return NULL;
    }
    img.format = PNG_FORMAT_RGB;
    px = apr_palloc(p, PNG_IMAGE_SIZE(img));
    if (!png_image_finish_read(&img, NULL, px, 0, NULL)) {
        return NULL;
    }
    return px;
}

/* 1 when both renderers give the same pixels for every prompt. */
static int same_pixels(apr_pool_t *p)
{
    int i, same = 1;

    for (i = 0; i < PROMPTS && same; i++) {
        unsigned char *a, *b, *pa, *pb;
        apr_size_t la, lb;
        apr_pool_t *q;
        const char *prompt;
        apr_pool_create(&q, p);
        prompt = apr_psprintf(q, "prompt number %d", i);
        if (before_render(q, prompt, (apr_uint64_t)i, SIDE, SIDE, &a, &la) != APR_SUCCESS
            || gf_png_render(q, prompt, (apr_uint64_t)i, SIDE, SIDE, &b, &lb) != APR_SUCCESS
            || !(pa = decode(q, a, la)) || !(pb = decode(q, b, lb))
            || memcmp(pa, pb, (size_t)SIDE * SIDE * 3) != 0) {
            same = 0;
        }
        apr_pool_destroy(q);
    }
    return same;
}

int main(void)
{
    apr_pool_t *p;
    double best_before = 1e9, best_now = 1e9, cpu_before = 1e9, cpu_now = 1e9;
    double look_ms[NLOOKS], look_cpu[NLOOKS];
    size_t bytes_before = 0, bytes_now = 0, look_bytes[NLOOKS], k;
    int round;

    apr_initialize();
    apr_pool_create(&p, NULL);
    make_photo(p, 1024, 768);
    for (look_index = 0; look_index < NLOOKS; look_index++) {
        look_ms[look_index] = look_cpu[look_index] = 1e9;
        look_bytes[look_index] = 0;
    }
    for (round = 0; round < ROUNDS; round++) {
        double a, b, ca, cb;
        if (round % 2) {
            b = round_ms(p, gf_png_render, &bytes_now, &cb);
            a = round_ms(p, before_render, &bytes_before, &ca);
        }
        else {
            a = round_ms(p, before_render, &bytes_before, &ca);
            b = round_ms(p, gf_png_render, &bytes_now, &cb);
        }
        if (a < best_before) best_before = a;
        if (b < best_now) best_now = b;
        if (ca < cpu_before) cpu_before = ca;
        if (cb < cpu_now) cpu_now = cb;
        /* The looks after them, in turn (their order alternates too). */
        for (k = 0; k < NLOOKS; k++) {
            size_t i = round % 2 ? NLOOKS - 1 - k : k;
            double m, cm;
            look_index = i;
            m = round_ms(p, look_render, &look_bytes[i], &cm);
            if (m < look_ms[i]) look_ms[i] = m;
            if (cm < look_cpu[i]) look_cpu[i] = cm;
        }
    }
    printf("%.2f %.2f %zu %.2f %.2f %zu %d\n", best_before, cpu_before,
           bytes_before / (ROUNDS * PROMPTS), best_now, cpu_now, bytes_now / (ROUNDS * PROMPTS),
           same_pixels(p));
    for (look_index = 0; look_index < NLOOKS; look_index++) {
        printf("look %s %d %.2f %.2f %zu\n", LOOKS[look_index].type,
               LOOKS[look_index].with_source, look_ms[look_index], look_cpu[look_index],
               look_bytes[look_index] / (ROUNDS * PROMPTS));
    }
    return 0;
}
