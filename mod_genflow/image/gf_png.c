/* SPDX-License-Identifier: Apache-2.0 */
/* gf_png.c: the local provider's deterministic pictures, with libpng (see
 * gf_png.h): an abstract scene or the user's picture, in the look of the
 * type, with the prompt written in (gf_font.c). This file plans a picture's
 * layers (gf_png_private.h says which file draws each), paints it a row at
 * a time and hands each row to libpng as it is painted.
 */
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <png.h>
#include <zlib.h>
#include <apr_strings.h>

#include "image/gf_png.h"
#include "image/gf_png_private.h"

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

/* Row y of the picture: the base, the type's look over it, the text over
 * that. */
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
            gf_png_base_row(rd, y + 1, rd->ring[2]);
        }
        else {
            memcpy(rd->ring[2], rd->ring[1], stride);
        }
        gf_png_pastel_row(rd, line);
    }
    else {
        gf_png_base_row(rd, y, line);
        switch (rd->look) {
        case LOOK_GLITCH:
            gf_png_glitch_row(rd, y, line, tmp);
            break;
        case LOOK_MASK:
            gf_png_mask_row(rd, y, line);
            break;
        case LOOK_PRESET:
            gf_png_tone_row(rd, line);
            break;
        default:        /* the plain picture's bands and scan lines */
            gf_png_glitch_bands(&rd->sc, y, line, tmp);
            if (y % 4 == 0) {
                gf_png_darken_quarter(line, stride);
            }
            break;
        }
    }
    gf_png_text_row(rd, y, line);
}

/* The PNG file as libpng writes it: memory grown by doubling; oom remembers
 * that a growth failed, so the render fails instead of writing a short file. */
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

/* The render's plan, in rd: its scene, look, source and text, and the
 * rows of block (the source's column offsets, then the blur's row, the
 * soft-edge ring); the row to paint into is returned. */
static unsigned char *plan(apr_pool_t *p, const gf_png_spec_t *spec, render_t *rd,
                           unsigned char *block)
{
    unsigned width = spec->width, height = spec->height;
    size_t stride = (size_t)width * 3;
    unsigned char *line;
    rng_t rng;

    rd->soft = block + (size_t)width * sizeof(unsigned);
    line = rd->soft + stride;
    rd->w = width;
    rd->h = height;
    rd->look = gf_png_look_of(spec->type);
    rd->ring[0] = line + 2 * stride;
    rd->ring[1] = line + 3 * stride;
    rd->ring[2] = line + 4 * stride;
    rd->ink[0] = rd->ink[1] = rd->ink[2] = 250;
    gf_png_seed_rng(&rng, spec->prompt ? spec->prompt : "", spec->seed, spec->type,
                    spec->preset);
    gf_png_plan_scene(&rd->sc, width, height, &rng);
    if (rd->look != LOOK_PLAIN) {
        if (spec->source && spec->source->rgb && spec->source->width
            && spec->source->height) {
            rd->src = spec->source;
            gf_png_plan_source(rd, (unsigned *)(void *)block);
        }
        gf_png_plan_look(p, rd, spec, &rng);
        gf_png_plan_text(p, rd, spec->prompt ? spec->prompt : "",
                         rd->look == LOOK_PRESET ? spec->preset : NULL);
        if (rd->look == LOOK_PASTEL) {
            /* Rows -1 and 0 of the ring: the first row, twice. */
            gf_png_base_row(rd, 0, rd->ring[1]);
            memcpy(rd->ring[0], rd->ring[1], stride);
        }
    }
    return line;
}

/* zlib's settings for a generated picture, or one drawn from a photo. */
static void set_compression(png_structp png, int photo)
{
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
    if (photo) {
        /* A photo is no runs of flat colour: unfiltered, zlib's matching
         * finds little and is most of the cost (232 M instructions for
         * 512 x 512, 730 KB). The SUB filter turns its
         * smooth parts into small differences and the run-length strategy
         * skips the match search: 103 M, 470 KB (docs/benchmarks.md). */
        png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
        png_set_compression_strategy(png, Z_RLE);
    }
}

apr_status_t gf_png_render_spec(apr_pool_t *p, const gf_png_spec_t *spec,
                                unsigned char **out, apr_size_t *out_len)
{
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
    line = plan(p, spec, rd, block);

    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (!png || !(info = png_create_info_struct(png))) {
        goto leave;
    }
    if (setjmp(png_jmpbuf(png))) {
        rv = APR_EGENERAL;
        goto leave;
    }
    png_set_write_fn(png, &mem, write_mem, flush_mem);
    set_compression(png, rd->src != NULL);
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
