/* SPDX-License-Identifier: Apache-2.0 */
/* gf_png.h: the picture the built-in `local` provider draws.
 *
 * A real PNG, written with libpng, whose content is a pure function of its
 * inputs (the prompt, the seed, the size, the type, the preset and the
 * source picture): different inputs give visibly different pictures, the
 * same inputs identical bytes (no time chunk, fixed compression settings).
 * What a type's picture shows is in docs/providers.md ("local").
 */
#ifndef GF_PNG_H
#define GF_PNG_H

#include <apr_pools.h>

#include "image/gf_image.h"

/* Long side of the picture; the short side follows the aspect ratio. */
#define GF_PNG_LONG_SIDE 512

/* Width and height for an aspect ratio such as "16:9" (NULL → square). */
void gf_png_dimensions(const char *aspect_ratio, unsigned *width, unsigned *height);

typedef struct {
    const char *prompt;        /* drawn in, and seeds the scene (NULL: "") */
    apr_uint64_t seed;
    unsigned width, height;    /* 1..4096 each */
    /* The generation type, which decides the look: "neo-glitch",
     * "emotion-mask", "ghibli-reaction", "presets", and any other name
     * (a site's own type) the default look. NULL: the plain abstract
     * picture without text, what gf_png_render draws. */
    const char *type;
    const char *preset;        /* the preset key (named by the presets look), or NULL */
    const gf_image_t *source;  /* the user's picture to transform, or NULL */
} gf_png_spec_t;

/* Render spec into bytes allocated in p. Returns APR_SUCCESS, APR_EINVAL
 * for a size out of range, or APR_EGENERAL/APR_ENOMEM. */
apr_status_t gf_png_render_spec(apr_pool_t *p, const gf_png_spec_t *spec,
                                unsigned char **png, apr_size_t *png_len);

/* An edit the local provider draws (gf_png_edit.c): the mask (one byte a
 * pixel, 1: change; mask_width x mask_height, the source's size) keeps
 * the source outside it; the references are shown along the bottom. */
typedef struct {
    const unsigned char *mask;     /* or NULL */
    unsigned mask_width, mask_height;
    const gf_image_t *source;      /* with a mask: the source's pixels */
    const gf_image_t *refs;        /* n_refs decoded reference pictures */
    int n_refs;
} gf_png_edit_t;

/* The drawn picture *png (*png_len bytes) made the edit's: replaced by a
 * new PNG in p. APR_SUCCESS, or APR_EGENERAL (then *png is unchanged). */
apr_status_t gf_png_edit(apr_pool_t *p, const gf_png_edit_t *e, unsigned char **png,
                         apr_size_t *png_len);

/* The plain picture of prompt and seed (no type, no text, no source): the
 * local provider's picture before types had a look of their own.
 * Returns APR_SUCCESS or an error as gf_png_render_spec. */
apr_status_t gf_png_render(apr_pool_t *p, const char *prompt, apr_uint64_t seed,
                           unsigned width, unsigned height,
                           unsigned char **png, apr_size_t *png_len);

#endif
