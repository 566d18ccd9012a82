/* SPDX-License-Identifier: Apache-2.0 */
/* test_png.c: the local provider's pictures are real, deterministic PNGs,
 * and they show the prompt, the type, the preset and the source. */
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <png.h>
#include <apr_strings.h>
#include <apr_sha1.h>

#include "test_core.h"
#include "image/gf_png.h"

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

/* ---- Looks: the type, the preset and the user's picture. */

static const char *const LOOK_TYPES[] = {
    "neo-glitch", "emotion-mask", "ghibli-reaction", "presets", "site-defined", NULL
};

/* A stand-in for a decoded upload: gradients and a pattern, like a photo
 * has texture everywhere. */
static gf_image_t test_source(unsigned w, unsigned h, unsigned salt)
{
    gf_image_t im;
    unsigned x, y;

    im.width = w;
    im.height = h;
    im.rgb = apr_palloc(test_pool, (size_t)w * h * 3);
    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            unsigned char *px = im.rgb + ((size_t)y * w + x) * 3;
            px[0] = (unsigned char)(x * 255 / (w > 1 ? w - 1 : 1));
            px[1] = (unsigned char)(y * 255 / (h > 1 ? h - 1 : 1));
            px[2] = (unsigned char)(((x / 8) ^ (y / 8)) * 37 + salt);
        }
    }
    return im;
}

static gf_png_spec_t spec_of(const char *type, const char *prompt, const char *preset,
                             const gf_image_t *source, unsigned w, unsigned h)
{
    gf_png_spec_t spec;
    memset(&spec, 0, sizeof(spec));
    spec.prompt = prompt;
    spec.seed = 42;
    spec.width = w;
    spec.height = h;
    spec.type = type;
    spec.preset = preset;
    spec.source = source;
    return spec;
}

static decoded_t render_spec(const gf_png_spec_t *spec)
{
    unsigned char *png;
    apr_size_t len;
    decoded_t d;

    ck_assert_int_eq(gf_png_render_spec(test_pool, spec, &png, &len), APR_SUCCESS);
    d = decode(png, len);
    ck_assert_uint_eq(d.w, spec->width);
    ck_assert_uint_eq(d.h, spec->height);
    return d;
}

/* Rows [from, to) in which the two pictures differ, counted. */
static unsigned rows_differing(decoded_t a, decoded_t b, unsigned from, unsigned to)
{
    size_t stride = (size_t)a.w * 3;
    unsigned y, n = 0;
    for (y = from; y < to; y++) {
        if (memcmp(a.pixels + y * stride, b.pixels + y * stride, stride)) n++;
    }
    return n;
}

START_TEST(same_spec_same_bytes)
{
    gf_image_t src = test_source(300, 200, 0);
    int i, with;

    for (i = 0; LOOK_TYPES[i]; i++) {
        for (with = 0; with < 2; with++) {
            gf_png_spec_t spec = spec_of(LOOK_TYPES[i], "a red fox", "noir-classic",
                                         with ? &src : NULL, 256, 192);
            unsigned char *a, *b;
            apr_size_t la, lb;
            ck_assert_int_eq(gf_png_render_spec(test_pool, &spec, &a, &la), APR_SUCCESS);
            ck_assert_int_eq(gf_png_render_spec(test_pool, &spec, &b, &lb), APR_SUCCESS);
            ck_assert_uint_eq(la, lb);
            ck_assert_msg(memcmp(a, b, la) == 0, "%s (source %d) is not deterministic",
                          LOOK_TYPES[i], with);
        }
    }
}
END_TEST

/* Each type's transform of the same picture differs from every other's,
 * and from the picture without a source; every one differs from the
 * source itself. */
START_TEST(each_type_has_its_own_look)
{
    gf_image_t src = test_source(400, 400, 0);
    decoded_t with[6], without[6];
    int i, j, n;

    for (n = 0; LOOK_TYPES[n]; n++) {
        gf_png_spec_t a = spec_of(LOOK_TYPES[n], "a quiet harbour", NULL, &src, 256, 256);
        gf_png_spec_t b = spec_of(LOOK_TYPES[n], "a quiet harbour", NULL, NULL, 256, 256);
        with[n] = render_spec(&a);
        without[n] = render_spec(&b);
        ck_assert_msg(pixel_difference(with[n], without[n]) > 0.3,
                      "%s: source and no source differ by %.2f only", LOOK_TYPES[n],
                      pixel_difference(with[n], without[n]));
    }
    for (i = 0; i < n; i++) {
        for (j = 0; j < i; j++) {
            ck_assert_msg(pixel_difference(with[i], with[j]) > 0.2,
                          "%s and %s transform the source alike (%.2f)", LOOK_TYPES[i],
                          LOOK_TYPES[j], pixel_difference(with[i], with[j]));
            ck_assert_msg(pixel_difference(without[i], without[j]) > 0.2,
                          "%s and %s draw alike without a source (%.2f)", LOOK_TYPES[i],
                          LOOK_TYPES[j], pixel_difference(without[i], without[j]));
        }
    }
    /* The source scaled to 256 x 256 (nearest of 400: column x reads
     * (2x + 1) * 400 / 512), untouched, is none of them. */
    {
        decoded_t plain;
        unsigned x, y;
        plain.w = plain.h = 256;
        plain.pixels = apr_palloc(test_pool, 256 * 256 * 3);
        for (y = 0; y < 256; y++) {
            for (x = 0; x < 256; x++) {
                memcpy(plain.pixels + ((size_t)y * 256 + x) * 3,
                       src.rgb + ((size_t)((2 * y + 1) * 400 / 512) * 400
                                  + (2 * x + 1) * 400 / 512) * 3, 3);
            }
        }
        for (i = 0; i < n; i++) {
            ck_assert_msg(pixel_difference(with[i], plain) > 0.1,
                          "%s leaves the source as it is (%.2f)", LOOK_TYPES[i],
                          pixel_difference(with[i], plain));
        }
    }
}
END_TEST

/* Two prompts one character apart: where the scene does not depend on
 * the prompt (a source in the pastel or a preset's tone), only the rows
 * of the text band at the bottom change, and they do. */
START_TEST(the_prompt_is_written_in)
{
    static const char *const types[] = { "ghibli-reaction", "presets" };
    gf_image_t src = test_source(320, 240, 5);
    int i;

    for (i = 0; i < 2; i++) {
        gf_png_spec_t a = spec_of(types[i], "a red fox in the snow", "noir", &src, 512, 384);
        gf_png_spec_t b = spec_of(types[i], "a red fox in the snaw", "noir", &src, 512, 384);
        decoded_t da = render_spec(&a), db = render_spec(&b);
        /* One line of text at scale 2: a band of 22 + 16 - 4 = 34 rows. */
        ck_assert_uint_eq(rows_differing(da, db, 0, 384 - 34), 0);
        ck_assert_uint_gt(rows_differing(da, db, 384 - 34, 384), 0);
    }
}
END_TEST

/* The text is light on a darker band: a one-colour source gives a band of
 * two colours, the ink and the darkened source. */
START_TEST(text_is_light_on_a_dark_band)
{
    gf_image_t grey;
    gf_png_spec_t spec;
    decoded_t d;
    size_t i, light = 0, dark = 0, n;

    grey.width = grey.height = 1;
    grey.rgb = (unsigned char *)"\x80\x80\x80";
    spec = spec_of("presets", "HELLO", "noir", &grey, 512, 512);
    d = render_spec(&spec);
    /* The band: the last 34 rows; the rest is the grey, in noir. */
    n = (size_t)512 * 34;
    for (i = (size_t)512 * (512 - 34); i < (size_t)512 * 512; i++) {
        unsigned char v = d.pixels[i * 3];
        if (v >= 240) light++;
        else if (v <= 60) dark++;
    }
    ck_assert_uint_eq(light + dark, n);
    /* Five capitals at scale 2 are some hundreds of pixels of ink. */
    ck_assert_uint_gt(light, 200);
    ck_assert_uint_gt(dark, n / 2);
    /* Above it the grey as it was, but in the label's box at the top left. */
    ck_assert_uint_eq(d.pixels[511 * 3], 128);
    ck_assert_uint_eq(d.pixels[(size_t)512 * 40 * 3], 128);
    ck_assert_uint_le(d.pixels[0], 60);
}
END_TEST

START_TEST(presets_and_sources_change_the_picture)
{
    gf_image_t s1 = test_source(300, 300, 0), s2 = test_source(300, 300, 99);
    static const char *const keys[] = { "film-noir", "sepia-dream", "vintage", "neon-nights",
                                        "autumn", "winter", NULL };
    decoded_t d[6];
    int i, j;

    for (i = 0; keys[i]; i++) {
        gf_png_spec_t spec = spec_of("presets", "a portrait", keys[i], &s1, 256, 256);
        d[i] = render_spec(&spec);
        for (j = 0; j < i; j++) {
            ck_assert_msg(strcmp(pixel_digest(d[i]), pixel_digest(d[j])),
                          "presets %s and %s give the same picture", keys[i], keys[j]);
        }
    }
    for (i = 0; LOOK_TYPES[i]; i++) {
        gf_png_spec_t a = spec_of(LOOK_TYPES[i], "a portrait", "winter", &s1, 256, 256);
        gf_png_spec_t b = spec_of(LOOK_TYPES[i], "a portrait", "winter", &s2, 256, 256);
        ck_assert_msg(strcmp(pixel_digest(render_spec(&a)), pixel_digest(render_spec(&b))),
                      "%s: two sources, one picture", LOOK_TYPES[i]);
    }
}
END_TEST

START_TEST(different_prompts_differ_in_every_look)
{
    gf_image_t src = test_source(64, 64, 1);
    int i, with;

    for (i = 0; LOOK_TYPES[i]; i++) {
        for (with = 0; with < 2; with++) {
            gf_png_spec_t a = spec_of(LOOK_TYPES[i], "a red fox", NULL, with ? &src : NULL,
                                      256, 256);
            gf_png_spec_t b = spec_of(LOOK_TYPES[i], "a blue whale", NULL, with ? &src : NULL,
                                      256, 256);
            ck_assert_msg(strcmp(pixel_digest(render_spec(&a)), pixel_digest(render_spec(&b))),
                          "%s (source %d): two prompts, one picture", LOOK_TYPES[i], with);
        }
    }
}
END_TEST

/* Sources of any shape are cropped and scaled; pictures too small for
 * text get none; nothing reads outside the buffers (valgrind/ASan). */
START_TEST(odd_sources_and_sizes)
{
    static const unsigned sources[][2] = { { 1, 1 }, { 3000, 7 }, { 7, 3000 }, { 2, 1 } };
    static const unsigned sizes[][2] = { { 512, 512 }, { 512, 288 }, { 1, 1 }, { 5, 700 },
                                         { 4096, 2 } };
    size_t s, z;
    int i;

    for (s = 0; s < sizeof(sources) / sizeof(sources[0]); s++) {
        gf_image_t src = test_source(sources[s][0], sources[s][1], 3);
        for (z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
            for (i = 0; LOOK_TYPES[i]; i++) {
                gf_png_spec_t spec = spec_of(LOOK_TYPES[i], "odd \xc3\xa9 sizes", "neon",
                                             &src, sizes[z][0], sizes[z][1]);
                render_spec(&spec);
            }
        }
    }
    /* An empty image is no source. */
    {
        gf_image_t none = { 0, 0, NULL };
        gf_png_spec_t a = spec_of("neo-glitch", "x", NULL, &none, 64, 64);
        gf_png_spec_t b = spec_of("neo-glitch", "x", NULL, NULL, 64, 64);
        ck_assert_str_eq(pixel_digest(render_spec(&a)), pixel_digest(render_spec(&b)));
    }
}
END_TEST

/* A 3000 x 7 strip in a square picture: its middle 7 x 7, each source
 * pixel a block of about 73 x 73. */
START_TEST(a_wide_source_is_cropped_to_its_middle)
{
    gf_image_t src = test_source(3000, 7, 0);
    gf_png_spec_t spec = spec_of("presets", "", "noir", &src, 511, 511);
    decoded_t d = render_spec(&spec);
    /* Output (255, 255) reads row (2 * 255 + 1) * 7 / (2 * 511) = 3 of the
     * crop, column 3 of the 7 that start at (3000 - 7) / 2. */
    const unsigned char *mid = src.rgb + ((size_t)3 * 3000 + 1496 + 3) * 3;
    int l = (77 * mid[0] + 150 * mid[1] + 29 * mid[2]) >> 8;
    int want = (l - 128) * 3 / 2 + 128;

    want = want < 0 ? 0 : want > 255 ? 255 : want;
    /* Noir: grey, contrast up by half. No text (an empty prompt); the label's
     * box is far above row 255. */
    ck_assert_int_eq(d.pixels[((size_t)255 * 511 + 255) * 3], want);
}
END_TEST

/* emotion-mask tints the face in the mood its words name and darkens the
 * rest: on a grey source, warm for joy, blue for sadness. */
START_TEST(the_mask_takes_the_mood)
{
    gf_image_t grey;
    gf_png_spec_t happy, sad, plain;
    decoded_t dh, ds, dp;
    size_t centre = ((size_t)230 * 512 + 256) * 3, corner = ((size_t)10 * 512 + 10) * 3;

    grey.width = grey.height = 1;
    grey.rgb = (unsigned char *)"\x80\x80\x80";
    happy = spec_of("emotion-mask", "a happy face", NULL, &grey, 512, 512);
    sad = spec_of("emotion-mask", "my sad face", NULL, &grey, 512, 512);
    plain = spec_of("emotion-mask", "the storage garage", NULL, &grey, 512, 512);
    dh = render_spec(&happy);
    ds = render_spec(&sad);
    dp = render_spec(&plain);
    ck_assert_uint_gt(dh.pixels[centre], dh.pixels[centre + 2] + 60);     /* warm */
    ck_assert_uint_gt(ds.pixels[centre + 2], ds.pixels[centre] + 60);     /* blue */
    /* Outside the mask: the grey darkened, the same for every mood. */
    ck_assert_uint_eq(dh.pixels[corner], 128 / 4 + 128 / 8);
    ck_assert(memcmp(dh.pixels + corner, ds.pixels + corner, 3) == 0);
    /* "storage" and "garage" are no rage: not the anger red, but a colour
     * of the words' own. */
    {
        gf_png_spec_t angry = spec_of("emotion-mask", "an angry face", NULL, &grey, 512, 512);
        decoded_t da = render_spec(&angry);
        ck_assert_uint_gt(da.pixels[centre], da.pixels[centre + 1] + 60);    /* red */
        ck_assert(memcmp(dp.pixels + centre, da.pixels + centre, 3) != 0);
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
    tc = tcase_create("looks");
    tcase_add_test(tc, same_spec_same_bytes);
    tcase_add_test(tc, each_type_has_its_own_look);
    tcase_add_test(tc, the_prompt_is_written_in);
    tcase_add_test(tc, text_is_light_on_a_dark_band);
    tcase_add_test(tc, presets_and_sources_change_the_picture);
    tcase_add_test(tc, different_prompts_differ_in_every_look);
    tcase_add_test(tc, odd_sources_and_sizes);
    tcase_add_test(tc, a_wide_source_is_cropped_to_its_middle);
    tcase_add_test(tc, the_mask_takes_the_mood);
    tcase_set_timeout(tc, 60);
    suite_add_tcase(s, tc);
    return s;
}
