/* SPDX-License-Identifier: Apache-2.0 */
/* gf_image_small.c: a small JPEG of a picture (gf_image.h), for the
 * previews of a picture being drawn: a few kilobytes a watcher loads at
 * once, not the megabytes of the partial picture itself.
 *
 * Shrunk by averaging each box of source pixels into one (an area
 * filter: no aliasing, no library for it), then written with libjpeg's
 * classic API into memory it allocates (jpeg_mem_dest), copied into the
 * pool and freed.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <apr_strings.h>

#include "image/gf_image.h"

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
} small_err_t;

static void small_on_error(j_common_ptr cinfo)
{
    small_err_t *e = (small_err_t *)cinfo->err;
    longjmp(e->jump, 1);
}

static void small_no_output(j_common_ptr cinfo)
{
    (void)cinfo;
}

/* The size of the small picture: the longer side max_side at most, the
 * shape kept, no side below 1. */
static void small_size(unsigned w, unsigned h, unsigned max_side, unsigned *sw, unsigned *sh)
{
    if (w <= max_side && h <= max_side) {
        *sw = w;
        *sh = h;
        return;
    }
    if (w >= h) {
        *sw = max_side;
        *sh = (unsigned)(((apr_uint64_t)h * max_side + w / 2) / w);
    }
    else {
        *sh = max_side;
        *sw = (unsigned)(((apr_uint64_t)w * max_side + h / 2) / h);
    }
    if (*sw == 0) *sw = 1;
    if (*sh == 0) *sh = 1;
}

/* Each pixel of the small picture: the mean of the source's box under it. */
static void shrink(const gf_image_t *img, unsigned sw, unsigned sh, unsigned char *out)
{
    unsigned x, y, c;
    for (y = 0; y < sh; y++) {
        unsigned y0 = (unsigned)((apr_uint64_t)y * img->height / sh);
        unsigned y1 = (unsigned)((apr_uint64_t)(y + 1) * img->height / sh);
        if (y1 <= y0) y1 = y0 + 1;
        for (x = 0; x < sw; x++) {
            unsigned x0 = (unsigned)((apr_uint64_t)x * img->width / sw);
            unsigned x1 = (unsigned)((apr_uint64_t)(x + 1) * img->width / sw);
            apr_uint64_t sum[3] = { 0, 0, 0 }, n = 0;
            unsigned yy, xx;
            if (x1 <= x0) x1 = x0 + 1;
            for (yy = y0; yy < y1; yy++) {
                const unsigned char *px = img->rgb + ((apr_size_t)yy * img->width + x0) * 3;
                for (xx = x0; xx < x1; xx++, px += 3) {
                    sum[0] += px[0];
                    sum[1] += px[1];
                    sum[2] += px[2];
                    n++;
                }
            }
            for (c = 0; c < 3; c++) {
                out[((apr_size_t)y * sw + x) * 3 + c] = (unsigned char)((sum[c] + n / 2) / n);
            }
        }
    }
}

typedef struct {
    const unsigned char *pixels;
    unsigned width, height;
    int quality;
    unsigned char *mem;          /* libjpeg's, freed by the caller */
    unsigned long mem_len;
} small_job_t;

/* Written through j (in memory: nothing libjpeg's longjmp could leave
 * stale in a register). 0, or -1 when libjpeg gave up. */
static int write_jpeg(small_job_t *j)
{
    struct jpeg_compress_struct cinfo;
    small_err_t jerr;

    memset(&cinfo, 0, sizeof(cinfo));
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = small_on_error;
    jerr.pub.output_message = small_no_output;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_compress(&cinfo);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &j->mem, &j->mem_len);
    cinfo.image_width = j->width;
    cinfo.image_height = j->height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, j->quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(j->pixels + (apr_size_t)cinfo.next_scanline * j->width * 3);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    return 0;
}

const char *gf_image_small_jpeg(apr_pool_t *p, const gf_image_t *img, unsigned max_side,
                                int quality, unsigned char **out, apr_size_t *out_len)
{
    small_job_t j;
    unsigned char *pixels;
    int rc;

    if (!img || !img->rgb || !img->width || !img->height || max_side == 0) {
        return "no picture to shrink";
    }
    memset(&j, 0, sizeof(j));
    small_size(img->width, img->height, max_side, &j.width, &j.height);
    pixels = apr_palloc(p, (apr_size_t)j.width * j.height * 3);
    shrink(img, j.width, j.height, pixels);
    j.pixels = pixels;
    j.quality = quality < 1 ? 1 : quality > 100 ? 100 : quality;
    rc = write_jpeg(&j);
    if (rc == 0 && j.mem && j.mem_len) {
        *out = apr_pmemdup(p, j.mem, j.mem_len);
        *out_len = j.mem_len;
    }
    free(j.mem);
    return rc == 0 && j.mem_len ? NULL : "the small picture could not be written";
}
