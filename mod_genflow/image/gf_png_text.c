/* SPDX-License-Identifier: Apache-2.0 */
/* gf_png_text.c: the text of the local provider's picture (see
 * gf_png_private.h): the prompt in a dark band at the bottom and the
 * preset's name in a box at the top left, laid out once a picture and
 * drawn a row at a time with the bitmap font of gf_font.c.
 */
#include "image/gf_png_private.h"
#include "image/gf_font.h"

/* Where text goes: scale 2 on pictures of a usual size, up to three lines
 * of the prompt that take at most half the height, and the preset's name
 * on one line at the top. Pictures too small for a line get none. */
void gf_png_plan_text(apr_pool_t *p, render_t *rd, const char *prompt, const char *label)
{
    unsigned w = rd->w, h = rd->h, cols;
    int max_lines = 3;

    rd->scale = w >= 320 && h >= 160 ? 2 : 1;
    rd->pad = 4 * rd->scale;
    rd->line_h = (GF_FONT_HEIGHT + 2) * rd->scale;
    if (w < 2 * rd->pad + GF_FONT_WIDTH * rd->scale) {
        return;
    }
    cols = (w - 2 * rd->pad + rd->scale) / (GF_FONT_ADVANCE * rd->scale);
    while (max_lines > 0 && max_lines * rd->line_h + 2 * rd->pad > h / 2) {
        max_lines--;
    }
    rd->nlines = gf_font_wrap(p, prompt, cols, max_lines, &rd->lines);
    if (rd->nlines) {
        rd->band_y0 = h - (rd->nlines * rd->line_h + 2 * rd->pad - 2 * rd->scale);
    }
    rd->label_h = rd->line_h + 2 * rd->pad - 2 * rd->scale;
    if (label && rd->label_h + (rd->nlines ? h - rd->band_y0 : 0) <= h
        && gf_font_wrap(p, label, cols, 1, &rd->label)) {
        rd->label_w = gf_font_width(rd->label[0], rd->scale) + 2 * rd->pad;
    }
    else {
        rd->label = NULL;
    }
}

/* The text over row y: the prompt's band at the bottom, the label's box
 * at the top left. */
void gf_png_text_row(const render_t *rd, unsigned y, unsigned char *line)
{
    unsigned w = rd->w;

    if (rd->nlines && y >= rd->band_y0) {
        unsigned r = y - rd->band_y0;
        gf_png_darken_band(line, (size_t)w * 3);
        if (r >= rd->pad) {
            unsigned i = (r - rd->pad) / rd->line_h, row = (r - rd->pad) % rd->line_h;
            if (i < (unsigned)rd->nlines) {
                gf_font_draw_row(line, w, rd->pad, rd->lines[i], row, rd->scale, rd->ink);
            }
        }
    }
    if (rd->label && y < rd->label_h) {
        gf_png_darken_band(line, (size_t)rd->label_w * 3);
        if (y >= rd->pad) {
            gf_font_draw_row(line, rd->label_w, rd->pad, rd->label[0], y - rd->pad,
                             rd->scale, rd->ink);
        }
    }
}
