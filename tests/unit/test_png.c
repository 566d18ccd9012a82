/* test_png.c: the local provider's pictures are real, deterministic PNGs. */
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <png.h>
#include <apr_strings.h>
#include <apr_sha1.h>

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

/* SHA-1 of the decoded pixels, in hex. */
static const char *pixel_digest(decoded_t d)
{
    apr_sha1_ctx_t ctx;
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    char *hex = apr_palloc(test_pool, 2 * APR_SHA1_DIGESTSIZE + 1);
    int i;

    apr_sha1_init(&ctx);
    apr_sha1_update_binary(&ctx, d.pixels, (unsigned)((size_t)d.w * d.h * 3));
    apr_sha1_final(digest, &ctx);
    for (i = 0; i < APR_SHA1_DIGESTSIZE; i++) {
        apr_snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    }
    return hex;
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
    ck_assert_uint_eq(da.h, 256);
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

/* The drawing goes by spans, runs and whole words for speed; these are the
 * pixels of the straightforward per-pixel drawing it replaced, down to the
 * edge cases of one pixel and of very thin pictures (bench/png-render
 * compares the two on its 50 prompts). Decoded pixels, so that another
 * zlib's bytes do not matter. */
START_TEST(pixels_are_the_reference_drawing)
{
    static const struct {
        const char *prompt;
        apr_uint64_t seed;
        unsigned w, h;
        const char *sha1;
    } cases[] = {
        { "a red fox", 42, 256, 256, "612ebc96d3be7d32f6f24308764dba06129f5f70" },
        { "a neon city at night", 7, 512, 288, "d7330ece22b7e303e8ef1c383974033b7fceb3c6" },
        { "x", 1, 1, 1, "2eb30c41b02fa8747a281dd09a70eba333ffbc6b" },
        { "tall", 3, 5, 700, "6fb18d17ab2cc70717debda89ca9edf9547823a8" },
        { "wide", 3, 4096, 2, "3b119b40f1c67288cd0dd6ef3c8f927f172483e3" },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char *a;
        apr_size_t la;
        decoded_t d;
        ck_assert_int_eq(gf_png_render(test_pool, cases[i].prompt, cases[i].seed, cases[i].w,
                                       cases[i].h, &a, &la), APR_SUCCESS);
        d = decode(a, la);
        /* The decoder says the size asked for. */
        ck_assert_uint_eq(d.w, cases[i].w);
        ck_assert_uint_eq(d.h, cases[i].h);
        ck_assert_str_eq(pixel_digest(d), cases[i].sha1);
    }
}
END_TEST

START_TEST(full_size_picture_is_small)
{
    unsigned char *a;
    apr_size_t la;
    unsigned w, h;

    gf_png_dimensions(NULL, &w, &h);
    ck_assert_int_eq(gf_png_render(test_pool, "a lighthouse in a storm", 9, w, h, &a, &la),
                     APR_SUCCESS);
    ck_assert_uint_eq(decode(a, la).w, GF_PNG_LONG_SIDE);
    ck_assert_msg(la < 200 * 1024, "a %u px picture takes %lu bytes", w, (unsigned long)la);
}
END_TEST

/* Workers render in several threads at once: the results must be the same
 * bytes as one thread alone gets. */
#define RENDER_THREADS 4

typedef struct {
    int index;
    unsigned char *png;
    apr_size_t len;
    apr_status_t rv;
} render_job_t;

static void *render_thread(void *data)
{
    render_job_t *job = data;
    apr_pool_t *p;
    unsigned char *out;
    int i;

    /* A pool of its own: pools are not shared between threads. */
    apr_pool_create_unmanaged(&p);
    job->rv = APR_SUCCESS;
    for (i = 0; i < 5 && job->rv == APR_SUCCESS; i++) {
        job->rv = gf_png_render(p, "concurrent prompt", (apr_uint64_t)(job->index % 2), 300, 200,
                                &out, &job->len);
    }
    if (job->rv == APR_SUCCESS && (job->png = malloc(job->len)) != NULL) {
        memcpy(job->png, out, job->len);
    }
    apr_pool_destroy(p);
    return NULL;
}

START_TEST(threads_get_the_same_bytes)
{
    pthread_t threads[RENDER_THREADS];
    render_job_t jobs[RENDER_THREADS];
    unsigned char *want[2];
    apr_size_t want_len[2];
    int i;

    for (i = 0; i < 2; i++) {
        ck_assert_int_eq(gf_png_render(test_pool, "concurrent prompt", (apr_uint64_t)i, 300, 200,
                                       &want[i], &want_len[i]), APR_SUCCESS);
    }
    for (i = 0; i < RENDER_THREADS; i++) {
        memset(&jobs[i], 0, sizeof(jobs[i]));
        jobs[i].index = i;
        ck_assert_int_eq(pthread_create(&threads[i], NULL, render_thread, &jobs[i]), 0);
    }
    for (i = 0; i < RENDER_THREADS; i++) {
        pthread_join(threads[i], NULL);
    }
    for (i = 0; i < RENDER_THREADS; i++) {
        ck_assert_int_eq(jobs[i].rv, APR_SUCCESS);
        ck_assert_ptr_nonnull(jobs[i].png);
        ck_assert_uint_eq(jobs[i].len, want_len[i % 2]);
        ck_assert(memcmp(jobs[i].png, want[i % 2], jobs[i].len) == 0);
        free(jobs[i].png);
    }
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
    tcase_add_test(tc, pixels_are_the_reference_drawing);
    tcase_add_test(tc, full_size_picture_is_small);
    tcase_add_test(tc, threads_get_the_same_bytes);
    suite_add_tcase(s, tc);
    return s;
}
