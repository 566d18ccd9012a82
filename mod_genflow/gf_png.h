/* gf_png.h: the picture the built-in `local` provider draws.
 *
 * A real PNG, written with libpng, whose content is a pure function of the
 * prompt, the seed and the size: different prompts give visibly different
 * pictures, the same prompt and seed give identical bytes (no time chunk,
 * fixed compression settings).
 */
#ifndef GF_PNG_H
#define GF_PNG_H

#include <apr_pools.h>

/* Long side of the picture; the short side follows the aspect ratio. */
#define GF_PNG_LONG_SIDE 512

/* Width and height for an aspect ratio such as "16:9" (NULL → square). */
void gf_png_dimensions(const char *aspect_ratio, unsigned *width, unsigned *height);

/* Render into bytes allocated in p. Returns APR_SUCCESS or APR_EGENERAL. */
apr_status_t gf_png_render(apr_pool_t *p, const char *prompt, apr_uint64_t seed,
                           unsigned width, unsigned height,
                           unsigned char **png, apr_size_t *png_len);

#endif
