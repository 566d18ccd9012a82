/* SPDX-License-Identifier: Apache-2.0 */
/* test_prompt.c: prompts are built deterministically from templates. */
#include <string.h>

#include "test_core.h"
#include "core/gf_prompt.h"

static gf_input_t input(const char *prompt, const char *style, const char *quality,
                        const char *ar)
{
    gf_input_t in;
    memset(&in, 0, sizeof(in));
    in.prompt = prompt;
    in.style = style;
    in.quality = quality;
    in.aspect_ratio = ar;
    return in;
}

START_TEST(empty_segments_are_dropped)
{
    gf_input_t in = input("a fox", NULL, NULL, NULL);
    ck_assert_str_eq(gf_prompt_build(test_pool, "art, {prompt}, {style}, ratio {aspectRatio}",
                                     "neo-glitch", &in), "art, a fox");
}
END_TEST

START_TEST(style_quality_and_ratio_expand)
{
    gf_input_t in = input("a fox", "minimal", "high", "16:9");
    ck_assert_str_eq(gf_prompt_build(test_pool, "{type}: {prompt}, {style}, {quality}, "
                                     "aspect ratio {aspectRatio}", "neo-glitch", &in),
                     "neo-glitch: a fox, minimalist, clean composition, "
                     "highly detailed, sharp focus, aspect ratio 16:9");
}
END_TEST

START_TEST(user_commas_do_not_split_segments)
{
    gf_input_t in = input("red, green, blue", NULL, "auto", NULL);
    ck_assert_str_eq(gf_prompt_build(test_pool, "{prompt}, {quality}", "x", &in),
                     "red, green, blue");
}
END_TEST

START_TEST(default_templates_are_deterministic_and_differ_by_type)
{
    gf_input_t in = input("a fox", "artistic", NULL, "1:1");
    const char *a = gf_prompt_build(test_pool, gf_prompt_default_template("neo-glitch"),
                                    "neo-glitch", &in);
    const char *b = gf_prompt_build(test_pool, gf_prompt_default_template("neo-glitch"),
                                    "neo-glitch", &in);
    const char *c = gf_prompt_build(test_pool, gf_prompt_default_template("custom-prompt"),
                                    "custom-prompt", &in);
    ck_assert_str_eq(a, b);
    ck_assert_str_ne(a, c);
    ck_assert_ptr_nonnull(strstr(a, "a fox"));
    ck_assert_ptr_nonnull(strstr(a, "painterly"));
    ck_assert_str_eq(c, "a fox, artistic, painterly brushwork, aspect ratio 1:1");
    /* A site-defined type gets the generic template with its name. */
    ck_assert_ptr_nonnull(strstr(gf_prompt_build(test_pool, gf_prompt_default_template("pixel-art"),
                                                 "pixel-art", &in), "pixel-art"));
}
END_TEST

/* Every type lists presets (GET {base}/presets), so every default
 * template carries the chosen one's words; two presets of one type give two
 * prompts (once, mask-joy and mask-rage built the same one). */
START_TEST(every_default_template_uses_the_preset)
{
    static const char *const types[] = {
        "neo-glitch", "emotion-mask", "presets", "ghibli-reaction", "custom-prompt", "pixel-art",
        NULL
    };
    const char *const *t;
    for (t = types; *t; t++) {
        gf_input_t joy, rage, none;
        const char *a, *b, *c;
        memset(&joy, 0, sizeof(joy));
        joy.prompt = "a face";
        rage = none = joy;
        joy.preset = "a radiant mask of joy, warm golden light";
        rage.preset = "a mask of rage, cracked red lacquer, smoke";
        a = gf_prompt_build(test_pool, gf_prompt_default_template(*t), *t, &joy);
        b = gf_prompt_build(test_pool, gf_prompt_default_template(*t), *t, &rage);
        c = gf_prompt_build(test_pool, gf_prompt_default_template(*t), *t, &none);
        ck_assert_msg(strstr(a, "warm golden light") != NULL, "%s: %s", *t, a);
        ck_assert_msg(strstr(b, "cracked red lacquer") != NULL, "%s: %s", *t, b);
        ck_assert_str_ne(a, b);
        ck_assert_msg(strstr(c, ", ,") == NULL && strstr(c, "a face") != NULL, "%s: %s", *t, c);
    }
    {
        /* A site's template without {preset} still carries the preset. */
        gf_input_t in;
        memset(&in, 0, sizeof(in));
        in.prompt = "a face";
        ck_assert_str_eq(gf_prompt_build(test_pool, "custom: {prompt}", "x", &in), "custom: a face");
        in.preset = "cinematic still";
        ck_assert_str_eq(gf_prompt_build(test_pool, "custom: {prompt}", "x", &in),
                         "custom: a face, cinematic still");
    }
}
END_TEST

START_TEST(template_check)
{
    ck_assert_ptr_null(gf_prompt_check_template(test_pool, "x {prompt} {preset}"));
    ck_assert_ptr_nonnull(gf_prompt_check_template(test_pool, "x {prompt"));
    ck_assert_ptr_nonnull(gf_prompt_check_template(test_pool, "x {colour}"));
    ck_assert_ptr_nonnull(gf_prompt_check_template(test_pool, "x \xed\xa0\x80 {prompt}"));
    ck_assert_ptr_null(gf_prompt_check_template(test_pool, "caf\xc3\xa9 {prompt}"));
}
END_TEST

Suite *prompt_suite(void)
{
    Suite *s = suite_create("prompt");
    TCase *tc = tcase_create("templates");
    tcase_add_test(tc, empty_segments_are_dropped);
    tcase_add_test(tc, style_quality_and_ratio_expand);
    tcase_add_test(tc, user_commas_do_not_split_segments);
    tcase_add_test(tc, default_templates_are_deterministic_and_differ_by_type);
    tcase_add_test(tc, every_default_template_uses_the_preset);
    tcase_add_test(tc, template_check);
    suite_add_tcase(s, tc);
    return s;
}
