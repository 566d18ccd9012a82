/* test_png.c: the local provider's pictures are real, deterministic PNGs. */
#include <stdlib.h>
#include <string.h>
#include <png.h>

#include "test_core.h"
#include "../../mod_genflow/gf_png.h"

typedef struct {
    unsigned w, h;
    unsigned char *pixels;
} decoded_t;

/* Decode with libpng's simplified API: proves the bytes are a valid PNG. */
static decoded_t decode(const unsigned char *data, apr_size_t len)
{
    png_image img;
    decoded_t d;

    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    ck_assert_msg(png_image_begin_read_from_memory(&img, data, len), "not a PNG");
    img.format = PNG_FORMAT_RGB;
    d.w = img.width;
    d.h = img.height;
    d.pixels = apr_palloc(test_pool, PNG_IMAGE_SIZE(img));
    ck_assert(png_image_finish_read(&img, NULL, d.pixels, 0, NULL));
    return d;
}

static double pixel_difference(decoded_t a, decoded_t b)
{
    size_t i, n = (size_t)a.w * a.h * 3, differ = 0;
    for (i = 0; i < n; i++) {
        if (abs((int)a.pixels[i] - (int)b.pixels[i]) > 24) differ++;
    }
    return (double)differ / (double)n;
}

START_TEST(same_prompt_and_seed_same_bytes)
{
    unsigned char *a, *b;
    apr_size_t la, lb;
    ck_assert_int_eq(gf_png_render(test_pool, "a red fox", 42, 256, 256, &a, &la), APR_SUCCESS);
    ck_assert_int_eq(gf_png_render(test_pool, "a red fox", 42, 256, 256, &b, &lb), APR_SUCCESS);
    ck_assert_uint_eq(la, lb);
    ck_assert(memcmp(a, b, la) == 0);
    ck_assert(memcmp(a, "\x89PNG\r\n\x1a\n", 8) == 0);
}
END_TEST

START_TEST(different_prompts_look_different)
{
    unsigned char *a, *b, *c;
    apr_size_t la, lb, lc;
    decoded_t da, db, dc;

    gf_png_render(test_pool, "a red fox", 42, 256, 256, &a, &la);
    gf_png_render(test_pool, "a blue whale", 42, 256, 256, &b, &lb);
    gf_png_render(test_pool, "a red fox", 43, 256, 256, &c, &lc);
    da = decode(a, la);
    db = decode(b, lb);
    dc = decode(c, lc);
    ck_assert_uint_eq(da.w, 256);
    /* "Visibly different": a large share of pixels changes clearly. */
    ck_assert_msg(pixel_difference(da, db) > 0.3, "prompts differ by %.2f only",
                  pixel_difference(da, db));
    ck_assert_msg(pixel_difference(da, dc) > 0.3, "seeds differ by %.2f only",
                  pixel_difference(da, dc));
}
END_TEST

START_TEST(picture_is_not_flat)
{
    unsigned char *a;
    apr_size_t la;
    decoded_t d;
    size_t i, n;
    int lo = 255, hi = 0;

    gf_png_render(test_pool, "anything", 1, 128, 128, &a, &la);
    d = decode(a, la);
    n = (size_t)d.w * d.h * 3;
    for (i = 0; i < n; i++) {
        if (d.pixels[i] < lo) lo = d.pixels[i];
        if (d.pixels[i] > hi) hi = d.pixels[i];
    }
    ck_assert_int_gt(hi - lo, 100);
}
END_TEST

START_TEST(aspect_ratio_sets_dimensions)
{
    unsigned w, h;
    gf_png_dimensions("16:9", &w, &h);
    ck_assert_uint_eq(w, 512);
    ck_assert_uint_eq(h, 288);
    gf_png_dimensions("9:16", &w, &h);
    ck_assert_uint_eq(w, 288);
    ck_assert_uint_eq(h, 512);
    gf_png_dimensions(NULL, &w, &h);
    ck_assert_uint_eq(w, h);
    gf_png_dimensions("junk", &w, &h);
    ck_assert_uint_eq(w, h);
}
END_TEST

START_TEST(refuses_absurd_sizes)
{
    unsigned char *a;
    apr_size_t la;
    ck_assert_int_ne(gf_png_render(test_pool, "x", 1, 0, 10, &a, &la), APR_SUCCESS);
    ck_assert_int_ne(gf_png_render(test_pool, "x", 1, 100000, 10, &a, &la), APR_SUCCESS);
}
END_TEST

Suite *png_suite(void)
{
    Suite *s = suite_create("png");
    TCase *tc = tcase_create("render");
    tcase_add_test(tc, same_prompt_and_seed_same_bytes);
    tcase_add_test(tc, different_prompts_look_different);
    tcase_add_test(tc, picture_is_not_flat);
    tcase_add_test(tc, aspect_ratio_sets_dimensions);
    tcase_add_test(tc, refuses_absurd_sizes);
    suite_add_tcase(s, tc);
    return s;
}
