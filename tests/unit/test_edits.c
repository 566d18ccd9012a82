/* SPDX-License-Identifier: Apache-2.0 */
/* test_edits.c: an edit's fields (gf_input_edits.c) and its mask in each
 * provider's form (gf_mask.c).
 *
 * The masks are made here with libpng's simplified writer, in the forms
 * a client sends (transparent where to change; white on black), read
 * back after the conversion, and counted pixel by pixel. */
#include <string.h>
#include <png.h>
#include <apr_strings.h>

#include "test_core.h"
#include "core/gf_input.h"
#include "core/gf_json.h"
#include "image/gf_mask.h"

#define SRC "upload:00000000-0000-4000-8000-000000000001"
#define MASK "upload:00000000-0000-4000-8000-000000000002"
#define REF1 "upload:00000000-0000-4000-8000-000000000003"
#define REF2 "upload:00000000-0000-4000-8000-000000000004"

static int parse(const char *json, gf_input_t *in, gf_input_error_t *err)
{
    const char *perr;
    json_object *body = gf_json_parse(test_pool, json, strlen(json), &perr);
    ck_assert_ptr_nonnull(body);
    return gf_input_parse(test_pool, body, 0, in, err);
}

START_TEST(edit_fields_parse_and_round_trip)
{
    gf_input_t in;
    gf_input_error_t err;
    const char *json;

    ck_assert(parse("{\"prompt\":\"p\",\"sourceImage\":\"" SRC "\",\"mask\":\"" MASK
                    "\",\"referenceImages\":[\"" REF1 "\",\"" REF2 "\"]}", &in, &err));
    ck_assert_str_eq(in.mask, MASK);
    ck_assert_int_eq(in.n_references, 2);
    ck_assert_str_eq(in.references[1], REF2);
    json = gf_input_to_json(test_pool, &in);
    ck_assert_ptr_nonnull(strstr(json, "\"mask\":\"" MASK "\""));
    ck_assert_ptr_nonnull(strstr(json, "\"referenceImages\":[\"" REF1 "\",\"" REF2 "\"]"));
    /* The ids of every upload the edit names, the source's first. */
    ck_assert_str_eq(gf_input_edit_upload_ids(test_pool, &in),
                     "00000000-0000-4000-8000-000000000001,00000000-0000-4000-8000-000000000002,"
                     "00000000-0000-4000-8000-000000000003,00000000-0000-4000-8000-000000000004");
    /* Upper-case ids are stored lower-cased, as the rows know them. */
    ck_assert(parse("{\"prompt\":\"p\",\"referenceImages\":[\"upload:ABCDEF00-0000-4000-8000-000000000001\"]}",
                    &in, &err));
    ck_assert_str_eq(in.references[0], "upload:abcdef00-0000-4000-8000-000000000001");
    /* No edit: nothing to read. */
    ck_assert(parse("{\"prompt\":\"p\",\"sourceImage\":\"" SRC "\"}", &in, &err));
    ck_assert_ptr_null(gf_input_edit_upload_ids(test_pool, &in));
    ck_assert_ptr_null(strstr(gf_input_to_json(test_pool, &in), "mask"));
}
END_TEST

START_TEST(edit_fields_refused)
{
    static const struct { const char *json, *field; } BAD[] = {
        { "{\"prompt\":\"p\",\"mask\":\"" MASK "\"}", "mask" },
        { "{\"prompt\":\"p\",\"sourceImage\":\"https://a.example/x.png\",\"mask\":\"" MASK "\"}", "mask" },
        { "{\"prompt\":\"p\",\"sourceImage\":\"" SRC "\",\"mask\":\"https://a.example/m.png\"}", "mask" },
        { "{\"prompt\":\"p\",\"sourceImage\":\"" SRC "\",\"mask\":5}", "mask" },
        { "{\"prompt\":\"p\",\"referenceImages\":\"" REF1 "\"}", "referenceImages" },
        { "{\"prompt\":\"p\",\"referenceImages\":[]}", "referenceImages" },
        { "{\"prompt\":\"p\",\"referenceImages\":[\"" REF1 "\",\"" REF1 "\"]}", "referenceImages[1]" },
        { "{\"prompt\":\"p\",\"referenceImages\":[\"" REF1 "\",\"upload:x\"]}", "referenceImages[1]" },
    };
    gf_input_t in;
    gf_input_error_t err;
    apr_size_t i;
    for (i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
        ck_assert_msg(!parse(BAD[i].json, &in, &err), "accepted: %s", BAD[i].json);
        ck_assert_str_eq(err.field, BAD[i].field);
    }
    /* 17 references. */
    {
        const char *json = "{\"prompt\":\"p\",\"referenceImages\":[";
        for (i = 0; i < 17; i++) {
            json = apr_psprintf(test_pool, "%s%s\"upload:00000000-0000-4000-8000-%012d\"", json,
                                i ? "," : "", (int)i);
        }
        ck_assert(!parse(apr_pstrcat(test_pool, json, "]}", NULL), &in, &err));
        ck_assert_str_eq(err.field, "referenceImages");
    }
}
END_TEST

START_TEST(edit_accepted_by_type)
{
    gf_input_t in;
    gf_input_error_t err;

    ck_assert(parse("{\"prompt\":\"p\",\"sourceImage\":\"" SRC "\",\"mask\":\"" MASK
                    "\",\"referenceImages\":[\"" REF1 "\",\"" REF2 "\"]}", &in, &err));
    ck_assert(!gf_input_edits_accepted(test_pool, &in, 0, 4, &err));
    ck_assert_str_eq(err.field, "mask");
    ck_assert(!gf_input_edits_accepted(test_pool, &in, GF_ACCEPT_MASK, 4, &err));
    ck_assert_str_eq(err.field, "referenceImages");
    ck_assert(!gf_input_edits_accepted(test_pool, &in, GF_ACCEPT_MASK | GF_ACCEPT_REFERENCES, 1, &err));
    ck_assert_ptr_nonnull(strstr(err.message, "at most 1"));
    ck_assert(gf_input_edits_accepted(test_pool, &in, GF_ACCEPT_MASK | GF_ACCEPT_REFERENCES, 2, &err));
}
END_TEST

START_TEST(edit_uploads_checked_against_rows)
{
    gf_upload_info_t ups[4] = {
        { "00000000-0000-4000-8000-000000000001", "image/jpeg", 64, 48 },
        { "00000000-0000-4000-8000-000000000002", "image/png", 64, 48 },
        { "00000000-0000-4000-8000-000000000003", "image/webp", 10, 10 },
        { "00000000-0000-4000-8000-000000000004", "image/png", 1, 1 },
    };
    gf_input_t in;
    gf_input_error_t err;

    ck_assert(parse("{\"prompt\":\"p\",\"sourceImage\":\"" SRC "\",\"mask\":\"" MASK
                    "\",\"referenceImages\":[\"" REF1 "\",\"" REF2 "\"]}", &in, &err));
    ck_assert(gf_input_edit_uploads_ok(test_pool, &in, ups, 4, &err));
    /* A reference not among the caller's uploads. */
    ck_assert(!gf_input_edit_uploads_ok(test_pool, &in, ups, 3, &err));
    ck_assert_str_eq(err.field, "referenceImages[1]");
    /* The source not among them. */
    ck_assert(!gf_input_edit_uploads_ok(test_pool, &in, ups + 1, 3, &err));
    ck_assert_str_eq(err.field, "sourceImage");
    /* A mask of another size, then not a PNG. */
    ups[1].height = 47;
    ck_assert(!gf_input_edit_uploads_ok(test_pool, &in, ups, 4, &err));
    ck_assert_str_eq(err.message, "mask is 64x47: it must be the size of sourceImage, 64x48");
    ups[1].height = 48;
    ups[1].content_type = "image/webp";
    ck_assert(!gf_input_edit_uploads_ok(test_pool, &in, ups, 4, &err));
    ck_assert_str_eq(err.message, "mask must be a PNG (this upload is image/webp)");
}
END_TEST

/* A w x h PNG in format whose pixel i is px(i). */
static unsigned char *make_png(unsigned w, unsigned h, png_uint_32 format,
                               void (*px)(unsigned x, unsigned y, unsigned w, unsigned char *out),
                               apr_size_t *len)
{
    png_image img;
    unsigned ch = PNG_IMAGE_PIXEL_CHANNELS(format), x, y;
    unsigned char *buf = apr_palloc(test_pool, (apr_size_t)w * h * ch), *out;
    png_alloc_size_t size = 0;

    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) px(x, y, w, buf + ((apr_size_t)y * w + x) * ch);
    }
    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    img.width = w;
    img.height = h;
    img.format = format;
    ck_assert(png_image_write_to_memory(&img, NULL, &size, 0, buf, 0, NULL));
    out = apr_palloc(test_pool, size);
    ck_assert(png_image_write_to_memory(&img, out, &size, 0, buf, 0, NULL));
    *len = size;
    return out;
}

/* Transparent on the left third. */
static void clear_left(unsigned x, unsigned y, unsigned w, unsigned char *o)
{
    (void)y;
    o[0] = 200; o[1] = 10; o[2] = 10;
    o[3] = x < w / 3 ? 0 : 255;
}
/* White on the left third, no alpha. */
static void white_left(unsigned x, unsigned y, unsigned w, unsigned char *o)
{
    (void)y;
    o[0] = x < w / 3 ? 255 : 0;
}
static void all_black(unsigned x, unsigned y, unsigned w, unsigned char *o)
{
    (void)x; (void)y; (void)w;
    o[0] = o[1] = o[2] = 0;
    o[3] = 255;
}

/* Pixels of a converted mask that mark a change in form. */
static unsigned marked(const unsigned char *png, apr_size_t len, gf_mask_form_t form)
{
    png_image img;
    unsigned char *px;
    unsigned i, n = 0;

    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    ck_assert(png_image_begin_read_from_memory(&img, png, len));
    ck_assert_uint_eq(img.format, form == GF_MASK_WHITE_EDITS ? PNG_FORMAT_GRAY : PNG_FORMAT_RGBA);
    px = apr_palloc(test_pool, PNG_IMAGE_SIZE(img));
    ck_assert(png_image_finish_read(&img, NULL, px, 0, NULL));
    for (i = 0; i < img.width * img.height; i++) {
        n += form == GF_MASK_WHITE_EDITS ? px[i] == 255 : px[4 * i + 3] == 0;
    }
    return n;
}

START_TEST(mask_converts_between_conventions)
{
    static const gf_mask_form_t FORMS[] = { GF_MASK_CLEAR_EDITS, GF_MASK_WHITE_EDITS };
    apr_size_t len, out_len;
    unsigned char *clear = make_png(30, 10, PNG_FORMAT_RGBA, clear_left, &len), *out;
    apr_size_t wlen;
    unsigned char *white = make_png(30, 10, PNG_FORMAT_GRAY, white_left, &wlen);
    unsigned w, h, k;

    for (k = 0; k < 2; k++) {
        ck_assert_ptr_null(gf_mask_convert(test_pool, clear, len, FORMS[k], &out, &out_len, &w, &h));
        ck_assert_uint_eq(w, 30);
        ck_assert_uint_eq(h, 10);
        ck_assert_uint_eq(marked(out, out_len, FORMS[k]), 100);
        ck_assert_ptr_null(gf_mask_convert(test_pool, white, wlen, FORMS[k], &out, &out_len, &w, &h));
        ck_assert_uint_eq(marked(out, out_len, FORMS[k]), 100);
    }
}
END_TEST

START_TEST(mask_refusals)
{
    apr_size_t len, out_len;
    unsigned char *black = make_png(8, 8, PNG_FORMAT_RGBA, all_black, &len), *out;
    unsigned w, h;

    ck_assert_str_eq(gf_mask_convert(test_pool, black, len, GF_MASK_CLEAR_EDITS, &out, &out_len, &w, &h),
                     "the mask marks nothing to change");
    ck_assert_str_eq(gf_mask_convert(test_pool, (const unsigned char *)"GIF89a", 6, GF_MASK_WHITE_EDITS,
                                     &out, &out_len, &w, &h), "the mask is not a PNG");
    /* Cut short: the header reads, the pixels do not. */
    ck_assert_ptr_nonnull(gf_mask_convert(test_pool, black, len - 20, GF_MASK_WHITE_EDITS,
                                          &out, &out_len, &w, &h));
}
END_TEST

Suite *edits_suite(void)
{
    Suite *s = suite_create("edits");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, edit_fields_parse_and_round_trip);
    tcase_add_test(tc, edit_fields_refused);
    tcase_add_test(tc, edit_accepted_by_type);
    tcase_add_test(tc, edit_uploads_checked_against_rows);
    tcase_add_test(tc, mask_converts_between_conventions);
    tcase_add_test(tc, mask_refusals);
    suite_add_tcase(s, tc);
    return s;
}
