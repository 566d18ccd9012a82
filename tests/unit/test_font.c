/* SPDX-License-Identifier: Apache-2.0 */
/* test_font.c: the bitmap font of the local provider's pictures. */
#include <string.h>

#include "test_core.h"
#include "image/gf_font.h"

START_TEST(every_ascii_glyph_is_drawn_and_distinct)
{
    unsigned a, b, r;

    for (a = 0x21; a < 0x7f; a++) {
        const unsigned char *g = gf_font_glyph((unsigned char)a);
        unsigned bits = 0;
        for (r = 0; r < GF_FONT_HEIGHT; r++) {
            ck_assert_msg(g[r] < 0x20, "'%c' row %u is wider than the cell", a, r);
            bits |= g[r];
        }
        ck_assert_msg(bits, "'%c' is blank", a);
        ck_assert_msg(memcmp(g, gf_font_glyph(GF_FONT_PLACEHOLDER), GF_FONT_HEIGHT),
                      "'%c' looks like the placeholder", a);
        /* No two characters alike (l, 1 and I; O and 0). */
        for (b = 0x21; b < a; b++) {
            ck_assert_msg(memcmp(g, gf_font_glyph((unsigned char)b), GF_FONT_HEIGHT),
                          "'%c' and '%c' look the same", a, b);
        }
    }
    for (r = 0; r < GF_FONT_HEIGHT; r++) {
        ck_assert_uint_eq(gf_font_glyph(' ')[r], 0);
    }
    /* Anything outside printable ASCII is the box. */
    ck_assert_ptr_eq(gf_font_glyph(0x80), gf_font_glyph(GF_FONT_PLACEHOLDER));
    ck_assert_ptr_eq(gf_font_glyph(0x07), gf_font_glyph(GF_FONT_PLACEHOLDER));
}
END_TEST

START_TEST(wraps_at_spaces)
{
    char **lines;

    ck_assert_int_eq(gf_font_wrap(test_pool, "a red fox jumps", 9, 3, &lines), 2);
    ck_assert_str_eq(lines[0], "a red fox");
    ck_assert_str_eq(lines[1], "jumps");
    /* White space and control characters collapse, the ends are trimmed. */
    ck_assert_int_eq(gf_font_wrap(test_pool, "  a \t\n  b  ", 10, 3, &lines), 1);
    ck_assert_str_eq(lines[0], "a b");
    /* A word longer than a line is cut at the edge. */
    ck_assert_int_eq(gf_font_wrap(test_pool, "abcdefghij xy", 4, 5, &lines), 4);
    ck_assert_str_eq(lines[0], "abcd");
    ck_assert_str_eq(lines[1], "efgh");
    ck_assert_str_eq(lines[2], "ij");
    ck_assert_str_eq(lines[3], "xy");
}
END_TEST

START_TEST(too_much_text_ends_in_dots)
{
    char **lines;

    ck_assert_int_eq(gf_font_wrap(test_pool, "one two three four five six seven", 10, 2,
                                  &lines), 2);
    ck_assert_str_eq(lines[0], "one two");
    ck_assert_str_eq(lines[1], "three...");
    ck_assert_uint_le(strlen(lines[1]), 10);
    ck_assert_int_eq(gf_font_wrap(test_pool, "abcdefghijklmnop", 6, 1, &lines), 1);
    ck_assert_str_eq(lines[0], "abc...");
    /* Too narrow for the dots: just cut. */
    ck_assert_int_eq(gf_font_wrap(test_pool, "abcdefghijklmnop", 2, 1, &lines), 1);
    ck_assert_str_eq(lines[0], "ab");
}
END_TEST

START_TEST(other_characters_are_one_box_each)
{
    char **lines;

    /* é (2 bytes), 猫 (3 bytes), 😀 (4 bytes), a stray continuation byte. */
    ck_assert_int_eq(gf_font_wrap(test_pool, "caf\xc3\xa9 \xe7\x8c\xab\xf0\x9f\x98\x80\x80!", 40,
                                  3, &lines), 1);
    ck_assert_str_eq(lines[0], "caf\x7f \x7f\x7f\x7f!");
}
END_TEST

START_TEST(blank_or_no_room_gives_no_lines)
{
    char **lines;

    ck_assert_int_eq(gf_font_wrap(test_pool, "", 10, 3, &lines), 0);
    ck_assert_int_eq(gf_font_wrap(test_pool, " \t ", 10, 3, &lines), 0);
    ck_assert_int_eq(gf_font_wrap(test_pool, NULL, 10, 3, &lines), 0);
    ck_assert_int_eq(gf_font_wrap(test_pool, "text", 0, 3, &lines), 0);
    ck_assert_int_eq(gf_font_wrap(test_pool, "text", 10, 0, &lines), 0);
}
END_TEST

START_TEST(draws_a_row_and_clips)
{
    static const unsigned char ink[3] = { 255, 0, 0 };
    unsigned char row[12 * 3];
    unsigned x;

    /* Row 0 of 'T' is all five columns: at scale 2, pixels 1..10 from x=1. */
    memset(row, 0, sizeof(row));
    gf_font_draw_row(row, 12, 1, "T", 1, 2, ink);
    for (x = 0; x < 12; x++) {
        ck_assert_uint_eq(row[x * 3], x >= 1 && x <= 10 ? 255 : 0);
        ck_assert_uint_eq(row[x * 3 + 1], 0);
    }
    /* Clipped at the width, and nothing below the glyph. */
    memset(row, 0, sizeof(row));
    gf_font_draw_row(row, 4, 0, "TT", 0, 1, ink);
    ck_assert_uint_eq(row[3 * 3], 255);
    ck_assert_uint_eq(row[4 * 3], 0);
    memset(row, 0, sizeof(row));
    gf_font_draw_row(row, 12, 0, "T", GF_FONT_HEIGHT, 1, ink);
    for (x = 0; x < sizeof(row); x++) {
        ck_assert_uint_eq(row[x], 0);
    }
    ck_assert_uint_eq(gf_font_width("ab", 2), (GF_FONT_ADVANCE + GF_FONT_WIDTH) * 2);
    ck_assert_uint_eq(gf_font_width("", 2), 0);
}
END_TEST

Suite *font_suite(void)
{
    Suite *s = suite_create("font");
    TCase *tc = tcase_create("font");
    tcase_add_test(tc, every_ascii_glyph_is_drawn_and_distinct);
    tcase_add_test(tc, wraps_at_spaces);
    tcase_add_test(tc, too_much_text_ends_in_dots);
    tcase_add_test(tc, other_characters_are_one_box_each);
    tcase_add_test(tc, blank_or_no_room_gives_no_lines);
    tcase_add_test(tc, draws_a_row_and_clips);
    suite_add_tcase(s, tc);
    return s;
}
