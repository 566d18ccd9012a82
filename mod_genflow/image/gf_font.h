/* SPDX-License-Identifier: Apache-2.0 */
/* gf_font.h: a small bitmap font for the text in the local provider's
 * pictures (gf_png.c).
 *
 * 5 x 7 pixel glyphs (plus two rows for descenders) of the printable ASCII
 * characters, drawn for this project. Anything else in the text (a UTF-8
 * sequence of another script, a stray byte) is drawn as one placeholder
 * box a character, so that the picture still shows where text was.
 */
#ifndef GF_FONT_H
#define GF_FONT_H

#include <apr_pools.h>

#define GF_FONT_WIDTH 5      /* columns of a glyph */
#define GF_FONT_HEIGHT 9     /* rows: 7 down to the baseline, 2 of descenders */
#define GF_FONT_ADVANCE 6    /* columns from one character to the next */
#define GF_FONT_PLACEHOLDER 0x7f  /* the code of the box, in wrapped lines */

/* The GF_FONT_HEIGHT rows of the glyph for code c (bit 4 of a row is the
 * leftmost column): ASCII 0x20..0x7e, the placeholder box for any other. */
const unsigned char *gf_font_glyph(unsigned char c);

/* Text as at most max_lines lines of at most cols characters, wrapped at
 * spaces (a word longer than a line is cut), in codes for gf_font_glyph:
 * printable ASCII stays, each other UTF-8 character (or a byte that is
 * not one) becomes GF_FONT_PLACEHOLDER, and control characters and runs
 * of white space one space. Text that does not fit ends in "...". Returns
 * the number of lines, 0 for blank text or too small a box; the lines are
 * NUL-terminated strings in p. */
int gf_font_wrap(apr_pool_t *p, const char *text, unsigned cols, int max_lines,
                 char ***lines);

/* Width in pixels of a line of gf_font_wrap drawn at scale. */
unsigned gf_font_width(const char *line, unsigned scale);

/* Draw pixel row `row` (0 .. GF_FONT_HEIGHT * scale - 1) of line (from
 * gf_font_wrap) into rgb, one scanline of width 8-bit RGB pixels, from
 * column x on, each font pixel a scale x scale square in colour. What
 * would fall beyond width is left out. */
void gf_font_draw_row(unsigned char *rgb, unsigned width, unsigned x, const char *line,
                      unsigned row, unsigned scale, const unsigned char colour[3]);

#endif
