/* SPDX-License-Identifier: Apache-2.0 */
/* gf_png_edit.c: the local provider's edits (see gf_png.h): a drawn
 * picture made to keep the source where the mask says keep, and to show
 * the reference pictures it was given, so a demo shows what an edit did
 * without a network provider. */
#include <string.h>
#include <png.h>

#include "image/gf_png.h"

/* src's pixel nearest to (x, y) of a w x h picture, into out (RGB). */
static void sample(const gf_image_t *src, unsigned x, unsigned y, unsigned w, unsigned h,
                   unsigned char *out)
{
    unsigned sx = (unsigned)((apr_uint64_t)x * src->width / w);
    unsigned sy = (unsigned)((apr_uint64_t)y * src->height / h);
    memcpy(out, src->rgb + ((apr_size_t)sy * src->width + sx) * 3, 3);
}

/* Outside the mask, the source (stretched to the picture's size). */
static void keep_source(gf_image_t *pic, const gf_png_edit_t *e)
{
    unsigned x, y;
    for (y = 0; y < pic->height; y++) {
        unsigned my = (unsigned)((apr_uint64_t)y * e->mask_height / pic->height);
        for (x = 0; x < pic->width; x++) {
            unsigned mx = (unsigned)((apr_uint64_t)x * e->mask_width / pic->width);
            if (e->mask[(apr_size_t)my * e->mask_width + mx]) continue;
            sample(e->source, x, y, pic->width, pic->height,
                   pic->rgb + ((apr_size_t)y * pic->width + x) * 3);
        }
    }
}

/* The references side by side along the bottom, a sixth of the height,
 * each in a cell of its own with a white frame. */
static void show_references(gf_image_t *pic, const gf_png_edit_t *e)
{
    unsigned cell_h = pic->height / 6, cell_w, i, x, y;
    if (e->n_refs <= 0 || cell_h < 6) return;
    cell_w = pic->width / (unsigned)e->n_refs;
    if (cell_w > cell_h) cell_w = cell_h;
    for (i = 0; i < (unsigned)e->n_refs; i++) {
        unsigned x0 = 2 + i * (cell_w + 2), y0 = pic->height - cell_h - 2;
        if (x0 + cell_w > pic->width) break;
        for (y = 0; y < cell_h; y++) {
            for (x = 0; x < cell_w; x++) {
                unsigned char *px = pic->rgb + ((apr_size_t)(y0 + y) * pic->width + x0 + x) * 3;
                if (x == 0 || y == 0 || x == cell_w - 1 || y == cell_h - 1) memset(px, 255, 3);
                else sample(&e->refs[i], x, y, cell_w, cell_h, px);
            }
        }
    }
}

apr_status_t gf_png_edit(apr_pool_t *p, const gf_png_edit_t *e, unsigned char **png,
                         apr_size_t *png_len)
{
    gf_image_format_t fmt;
    gf_image_t pic;
    png_image img;
    png_alloc_size_t size = 0;
    unsigned char *out;

    if (gf_image_decode(p, *png, *png_len, (apr_uint64_t)4096 * 4096, &fmt, &pic) != NULL) {
        return APR_EGENERAL;
    }
    if (e->mask && e->source) keep_source(&pic, e);
    show_references(&pic, e);
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    img.width = pic.width;
    img.height = pic.height;
    img.format = PNG_FORMAT_RGB;
    if (!png_image_write_to_memory(&img, NULL, &size, 0, pic.rgb, 0, NULL) || !size) {
        return APR_EGENERAL;
    }
    out = apr_palloc(p, size);
    if (!png_image_write_to_memory(&img, out, &size, 0, pic.rgb, 0, NULL)) return APR_EGENERAL;
    *png = out;
    *png_len = size;
    return APR_SUCCESS;
}
