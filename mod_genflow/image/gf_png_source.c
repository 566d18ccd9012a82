/* SPDX-License-Identifier: Apache-2.0 */
/* gf_png_source.c: the base row of the local provider's picture (see
 * gf_png_private.h): the user's picture, cropped to the picture's aspect
 * ratio and scaled by nearest neighbour, or without one the abstract scene.
 */
#include <string.h>

#include "image/gf_png_private.h"

/* The source's crop to the picture's aspect ratio (centred) and the byte
 * offset each output column reads. */
void gf_png_plan_source(render_t *rd, unsigned *xoff)
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

/* Row y before the look: the source's if there is one, else the scene's. */
void gf_png_base_row(render_t *rd, unsigned y, unsigned char *line)
{
    if (rd->src) {
        source_row(rd, y, line);
    }
    else {
        gf_png_background_row(&rd->sc, y, line);
    }
}
