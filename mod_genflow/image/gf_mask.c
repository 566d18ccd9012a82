/* SPDX-License-Identifier: Apache-2.0 */
/* gf_mask.c: an edit's mask read and written in a provider's form (see
 * gf_mask.h), with libpng's simplified API. */
#include <string.h>
#include <png.h>

#include "image/gf_mask.h"

/* Which pixels of rgba (n pixels) are to change, into edit (one byte
 * each): by alpha when any pixel is less than opaque, else by brightness.
 * The number marked. */
static apr_size_t mark_edits(const unsigned char *rgba, apr_size_t n, unsigned char *edit)
{
    apr_size_t i, marked = 0;
    int by_alpha = 0;

    for (i = 0; i < n && !by_alpha; i++) by_alpha = rgba[4 * i + 3] < 255;
    for (i = 0; i < n; i++) {
        const unsigned char *px = rgba + 4 * i;
        /* Rec. 601 luma in integers: 0.299 R + 0.587 G + 0.114 B. */
        unsigned luma = (299u * px[0] + 587u * px[1] + 114u * px[2]) / 1000u;
        edit[i] = by_alpha ? px[3] < 128 : luma >= 128;
        marked += edit[i];
    }
    return marked;
}

/* The marked pixels in form, over the buffer rgba (large enough for
 * either form); the libpng format to write them with. */
static png_uint_32 write_form(const unsigned char *edit, apr_size_t n, gf_mask_form_t form,
                              unsigned char *px)
{
    apr_size_t i;
    if (form == GF_MASK_WHITE_EDITS) {
        for (i = 0; i < n; i++) px[i] = edit[i] ? 255 : 0;
        return PNG_FORMAT_GRAY;
    }
    for (i = 0; i < n; i++) {
        px[4 * i] = px[4 * i + 1] = px[4 * i + 2] = 0;
        px[4 * i + 3] = edit[i] ? 0 : 255;
    }
    return PNG_FORMAT_RGBA;
}

const char *gf_mask_read(apr_pool_t *p, const unsigned char *png, apr_size_t len,
                         unsigned char **edit, unsigned *width, unsigned *height)
{
    png_image img;
    unsigned char *rgba;
    apr_size_t n;

    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, png, len)) return "the mask is not a PNG";
    if (img.width == 0 || img.height == 0
        || (apr_uint64_t)img.width * img.height > GF_MASK_MAX_PIXELS) {
        png_image_free(&img);
        return "the mask is too large";
    }
    img.format = PNG_FORMAT_RGBA;
    n = (apr_size_t)img.width * img.height;
    rgba = apr_palloc(p, 4 * n);
    *edit = apr_palloc(p, n);
    if (!png_image_finish_read(&img, NULL, rgba, 0, NULL)) return "the mask does not decode";
    if (mark_edits(rgba, n, *edit) == 0) return "the mask marks nothing to change";
    *width = img.width;
    *height = img.height;
    return NULL;
}

const char *gf_mask_convert(apr_pool_t *p, const unsigned char *png, apr_size_t len,
                            gf_mask_form_t form, unsigned char **out, apr_size_t *out_len,
                            unsigned *width, unsigned *height)
{
    png_image img;
    unsigned char *edit, *px;
    png_alloc_size_t size = 0;
    const char *err;
    apr_size_t n;

    if ((err = gf_mask_read(p, png, len, &edit, width, height)) != NULL) return err;
    n = (apr_size_t)*width * *height;
    px = apr_palloc(p, 4 * n);
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    img.width = *width;
    img.height = *height;
    img.format = write_form(edit, n, form, px);
    if (!png_image_write_to_memory(&img, NULL, &size, 0, px, 0, NULL) || size == 0) {
        return "the mask could not be written";
    }
    *out = apr_palloc(p, size);
    if (!png_image_write_to_memory(&img, *out, &size, 0, px, 0, NULL)) {
        return "the mask could not be written";
    }
    *out_len = size;
    return NULL;
}
