/* SPDX-License-Identifier: Apache-2.0 */
/* gf_png_private.h: what the files of the local provider's picture share
 * (gf_png*.c only; the public interface is gf_png.h).
 *
 * A picture is painted in layers, one row at a time (gf_png.c):
 *   the base      the abstract scene (gf_png_scene.c) or the user's picture
 *                 cropped and scaled (gf_png_source.c);
 *   the look      what the type does to it (gf_png_looks.c), in colours its
 *                 words choose (gf_png_palette.c);
 *   the text      the prompt and the preset's name (gf_png_text.c).
 * Each layer is planned once (the random numbers drawn in a fixed order:
 * the same inputs give the same bytes), then painted row by row with the
 * word-at-a-time row operations of gf_png_pixels.c.
 */
#ifndef GF_PNG_PRIVATE_H
#define GF_PNG_PRIVATE_H

#include <stddef.h>
#include <apr_pools.h>

#include "image/gf_png.h"
#include "image/gf_image.h"

/* ---- the generator (gf_png_scene.c) ---- */

/* xorshift64*: tiny, well-known, and identical on every platform. */
typedef struct { apr_uint64_t s; } rng_t;

/* A number in 0..n-1 (0 when n is 0). */
unsigned gf_png_rng_below(rng_t *r, unsigned n);

/* The generator's state from the SHA-1 of the inputs (type NULL: the
 * prompt and the seed only). */
void gf_png_seed_rng(rng_t *r, const char *prompt, apr_uint64_t seed, const char *type,
                     const char *preset);

typedef struct { unsigned char r, g, b; } rgb_t;

/* ---- the abstract scene (gf_png_scene.c) ---- */

#define MAX_SHAPES 15  /* 6 + gf_png_rng_below(r, 10) at most */
#define MAX_BANDS 11   /* 4 + gf_png_rng_below(r, 8) at most */

typedef struct {
    rgb_t c;
    unsigned alpha;
    int disc;
    unsigned x0, x1, y0, y1;  /* the box, clipped */
    long cx, cy, r2;          /* centre, rad * rad */
    long half;                /* a disc's half-width on the last row painted */
} shape_t;

typedef struct {
    unsigned y0, y1, shift, shift2, chan;
} band_t;

typedef struct {
    unsigned w, h;
    rgb_t top, bottom;
    unsigned shapes, bands;
    shape_t shape[MAX_SHAPES];
    band_t band[MAX_BANDS];
} scene_t;

/* Draw the scene of a w x h picture from r. */
void gf_png_plan_scene(scene_t *sc, unsigned w, unsigned h, rng_t *r);

/* The abstract picture's row y before any effect: the gradient and the
 * shapes (rows in order: the discs' half-widths carry over). */
void gf_png_background_row(scene_t *sc, unsigned y, unsigned char *line);

/* The glitch bands over row y, in order, with tmp (a row) as scratch. */
void gf_png_glitch_bands(const scene_t *sc, unsigned y, unsigned char *line,
                         unsigned char *tmp);

/* ---- row operations (gf_png_pixels.c) ---- */

/* Fill n bytes at line with copies of its first 3 (one pixel). */
void gf_png_fill_pixels(unsigned char *line, size_t n);

/* Blend the n pixels at px with c (alpha 0..255). */
void gf_png_blend_span(unsigned char *px, unsigned n, rgb_t c, unsigned alpha);

/* A scan line: the n bytes at line at three quarters of their brightness. */
void gf_png_darken_quarter(unsigned char *line, size_t n);

/* The band behind text: the n bytes at line at about three eighths of
 * their brightness. */
void gf_png_darken_band(unsigned char *line, size_t n);

/* ---- the render state of one picture ---- */

typedef enum {
    LOOK_PLAIN,     /* no type: the abstract picture alone (gf_png_render) */
    LOOK_DEFAULT,   /* a site's own type: glitch bands and scan lines, text */
    LOOK_GLITCH,    /* neo-glitch */
    LOOK_MASK,      /* emotion-mask */
    LOOK_PASTEL,    /* ghibli-reaction */
    LOOK_PRESET     /* presets */
} look_t;

typedef enum { TONE_TINT, TONE_NOIR, TONE_SEPIA, TONE_NEON } tone_t;

typedef struct {
    scene_t sc;
    look_t look;
    tone_t tone;
    unsigned w, h;
    /* The source, cropped to the picture's aspect ratio and scaled by
     * nearest neighbour: output column x reads the source bytes at
     * xoff[x] of source row sy0 + ((2y + 1) * sh) / (2h). */
    const gf_image_t *src;
    unsigned *xoff;
    apr_uint64_t sy0, sh;
    unsigned split;          /* neo-glitch: red and blue move this far apart */
    rgb_t tint;              /* the mood (emotion-mask), the preset's tint */
    /* emotion-mask: the face-sized ellipse and its feathered edge */
    long mcx, mcy, mrx, mry, feather;
    /* ghibli-reaction: (3 v - l + 255) / 2, v a channel and l the
     * brightness, to the pastel level of the colour made more saturated */
    unsigned char pastel[3][511];
    /* emotion-mask: brightness → the mood's colour, half lit;
     * presets: brightness → each channel of the tone */
    unsigned char by_luma[3][256];
    /* ghibli-reaction's soft edges: the base rows y - 1, y, y + 1 */
    unsigned char *ring[3];
    unsigned char *soft;     /* the rows blurred down, before across */
    unsigned next_base;
    /* The prompt in a dark band at the bottom, the preset's name in a box
     * at the top left (presets). */
    char **lines, **label;
    int nlines;
    unsigned scale, pad, line_h, band_y0, label_h, label_w;
    unsigned char ink[3];
} render_t;

/* ---- colours a look takes from words (gf_png_palette.c) ---- */

/* The most saturated colour of c's hue (grey becomes a mid grey). */
rgb_t gf_png_saturate(rgb_t c);

/* A saturated colour from the SHA-1 of text: the same text, the same colour. */
rgb_t gf_png_hash_color(const char *text);

/* emotion-mask's colour: the mood its words name, else one of its own. */
rgb_t gf_png_mood_color(apr_pool_t *p, const char *prompt, const char *preset);

/* presets: the tone the preset's key names (noir, sepia, neon), else a tint. */
tone_t gf_png_preset_tone(apr_pool_t *p, const char *preset);

/* ---- the looks of the types (gf_png_looks.c) ---- */

look_t gf_png_look_of(const char *type);

/* The look's colours and tables, from the spec and the generator (after
 * the scene: the numbers are drawn in that order). */
void gf_png_plan_look(apr_pool_t *p, render_t *rd, const gf_png_spec_t *spec, rng_t *rng);

/* Each look over a base row, in place (tmp: a row of scratch). */
void gf_png_glitch_row(render_t *rd, unsigned y, unsigned char *line, unsigned char *tmp);
void gf_png_mask_row(render_t *rd, unsigned y, unsigned char *line);
/* ghibli-reaction reads the base rows of rd->ring, not line's content. */
void gf_png_pastel_row(render_t *rd, unsigned char *line);
void gf_png_tone_row(render_t *rd, unsigned char *line);

/* ---- the base rows (gf_png_source.c) ---- */

/* The source's crop to the picture's aspect ratio and the byte offset
 * each output column reads (xoff: rd->w entries, kept by rd). */
void gf_png_plan_source(render_t *rd, unsigned *xoff);

/* Row y before the look: the user's picture if there is one, else the
 * abstract scene. */
void gf_png_base_row(render_t *rd, unsigned y, unsigned char *line);

/* ---- the text (gf_png_text.c) ---- */

/* Where text goes (label: the preset's name, or NULL). */
void gf_png_plan_text(apr_pool_t *p, render_t *rd, const char *prompt, const char *label);

/* The text over row y. */
void gf_png_text_row(const render_t *rd, unsigned y, unsigned char *line);

#endif
