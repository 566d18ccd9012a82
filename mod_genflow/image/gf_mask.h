/* SPDX-License-Identifier: Apache-2.0 */
/* gf_mask.h: an edit's mask, in the form each provider takes.
 *
 * The API takes one convention (docs/api.md): a PNG the size of the
 * source picture whose transparent pixels mark what to change, as
 * OpenAI's edits read it; a mask with no transparent pixel at all is read
 * by its brightness instead, white marking what to change, as FLUX Fill,
 * Stability's inpaint and ComfyUI read it. Either way it is decoded here
 * (libpng's simplified reader, the pixel count capped first) and written
 * again in the provider's own form, so that a provider never sees the
 * other convention.
 */
#ifndef GF_MASK_H
#define GF_MASK_H

#include <apr_pools.h>

/* Masks are at most this many pixels (the uploads' own cap goes to 100 M;
 * a mask is one byte a pixel here, four while it is read). */
#define GF_MASK_MAX_PIXELS 40000000u

typedef enum {
    GF_MASK_CLEAR_EDITS = 0,   /* RGBA: alpha 0 where to change, 255 elsewhere */
    GF_MASK_WHITE_EDITS        /* greyscale: 255 where to change, 0 elsewhere */
} gf_mask_form_t;

/* Which pixels of the mask png (len bytes) are to change: *edit, one
 * byte a pixel (1: change), *width by *height, in p. NULL, or why not
 * (as gf_mask_convert). */
const char *gf_mask_read(apr_pool_t *p, const unsigned char *png, apr_size_t len,
                         unsigned char **edit, unsigned *width, unsigned *height);

/* The mask png (len bytes) written in form into *out (PNG, in p), its
 * size in *width, *height. NULL on success, else why not: not a PNG,
 * too large, or no pixel marks anything to change. */
const char *gf_mask_convert(apr_pool_t *p, const unsigned char *png, apr_size_t len,
                            gf_mask_form_t form, unsigned char **out, apr_size_t *out_len,
                            unsigned *width, unsigned *height);

#endif
