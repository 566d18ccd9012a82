/* SPDX-License-Identifier: Apache-2.0 */
/* test_image.c: uploads are verified by decoding them (gf_image.c).
 *
 * Small pictures are made here with each library's own encoder (libpng,
 * libjpeg, libwebp), decoded back, and then broken: truncated, garbage,
 * too many pixels claimed by a tiny header. Also the read-back of stored
 * uploads (gf_storage_get of the local directory) with its size cap, and
 * the data: URI an upload becomes for JSON providers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>
#include <jpeglib.h>
#include <webp/encode.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_base64.h>

#include "test_core.h"
#include "image/gf_image.h"
#include "storage/gf_storage.h"
#include "providers/gf_provider.h"

/* A deterministic test picture: a gradient with a mark in one corner. */
static unsigned char *pattern(unsigned w, unsigned h, int channels)
{
    unsigned char *px = apr_palloc(test_pool, (apr_size_t)w * h * (apr_size_t)channels);
    unsigned x, y;
    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            unsigned char *q = px + ((apr_size_t)y * w + x) * (apr_size_t)channels;
            q[0] = (unsigned char)(x * 255 / (w > 1 ? w - 1 : 1));
            q[1] = (unsigned char)(y * 255 / (h > 1 ? h - 1 : 1));
            q[2] = (x < w / 4 && y < h / 4) ? 255 : 40;
            if (channels == 4) q[3] = 255;
        }
    }
    return px;
}

static unsigned char *make_png(const unsigned char *px, unsigned w, unsigned h, int alpha,
                               apr_size_t *len)
{
    png_image img;
    png_alloc_size_t size = 0;
    unsigned char *buf;

    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    img.width = w;
    img.height = h;
    img.format = alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
    ck_assert(png_image_write_to_memory(&img, NULL, &size, 0, px, 0, NULL));
    buf = apr_palloc(test_pool, size);
    ck_assert(png_image_write_to_memory(&img, buf, &size, 0, px, 0, NULL));
    *len = size;
    return buf;
}

static unsigned char *make_jpeg(const unsigned char *px, unsigned w, unsigned h, int progressive,
                                apr_size_t *len)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    unsigned char *out = NULL, *copy;
    unsigned long size = 0;

    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &size);
    c.image_width = w;
    c.image_height = h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (apr_size_t)c.next_scanline * w * 3);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    copy = apr_pmemdup(test_pool, out, size);
    free(out);
    *len = size;
    return copy;
}

static unsigned char *make_webp(const unsigned char *px, unsigned w, unsigned h, int alpha,
                                apr_size_t *len)
{
    uint8_t *out = NULL;
    size_t size = alpha ? WebPEncodeLosslessRGBA(px, (int)w, (int)h, (int)w * 4, &out)
                        : WebPEncodeLosslessRGB(px, (int)w, (int)h, (int)w * 3, &out);
    unsigned char *copy;
    ck_assert_uint_gt(size, 0);
    copy = apr_pmemdup(test_pool, out, size);
    WebPFree(out);
    *len = size;
    return copy;
}

/* PNG's chunk CRC (ISO 3309), for a header rewritten by a test. */
static unsigned long png_crc(const unsigned char *buf, apr_size_t n)
{
    unsigned long c = 0xffffffffUL;
    apr_size_t i;
    int k;
    for (i = 0; i < n; i++) {
        c ^= buf[i];
        for (k = 0; k < 8; k++) c = (c & 1) ? 0xedb88320UL ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xffffffffUL;
}

static int close_to(const unsigned char *a, const unsigned char *b, apr_size_t n, int tol)
{
    apr_size_t i;
    for (i = 0; i < n; i++) {
        if (abs((int)a[i] - (int)b[i]) > tol) return 0;
    }
    return 1;
}

START_TEST(sniffs_by_signature)
{
    static const unsigned char png[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0 };
    static const unsigned char jpg[] = { 0xff, 0xd8, 0xff, 0xe0 };
    static const unsigned char webp[] = "RIFF\x10\0\0\0WEBPVP8L";
    static const unsigned char gif[] = "GIF89a\x01\0\x01\0";
    static const unsigned char riff[] = "RIFF\x10\0\0\0WAVEfmt ";

    ck_assert_int_eq(gf_image_sniff(png, sizeof(png)), GF_IMAGE_PNG);
    ck_assert_int_eq(gf_image_sniff(png, 7), GF_IMAGE_UNKNOWN);   /* cut signature */
    ck_assert_int_eq(gf_image_sniff(jpg, sizeof(jpg)), GF_IMAGE_JPEG);
    ck_assert_int_eq(gf_image_sniff(webp, 16), GF_IMAGE_WEBP);
    ck_assert_int_eq(gf_image_sniff(gif, 10), GF_IMAGE_UNKNOWN);
    ck_assert_int_eq(gf_image_sniff(riff, 16), GF_IMAGE_UNKNOWN);
    ck_assert_int_eq(gf_image_sniff((const unsigned char *)"", 0), GF_IMAGE_UNKNOWN);
    ck_assert_int_eq(gf_image_sniff(NULL, 0), GF_IMAGE_UNKNOWN);
    ck_assert_str_eq(gf_image_content_type(GF_IMAGE_PNG), "image/png");
    ck_assert_str_eq(gf_image_content_type(GF_IMAGE_JPEG), "image/jpeg");
    ck_assert_str_eq(gf_image_content_type(GF_IMAGE_WEBP), "image/webp");
    ck_assert_ptr_null(gf_image_content_type(GF_IMAGE_UNKNOWN));
}
END_TEST

START_TEST(decodes_png)
{
    unsigned char *px = pattern(37, 21, 3);
    apr_size_t len;
    unsigned char *data = make_png(px, 37, 21, 0, &len);
    gf_image_format_t fmt;
    gf_image_t img;

    ck_assert_ptr_null(gf_image_decode(test_pool, data, len, 1000000, &fmt, &img));
    ck_assert_int_eq(fmt, GF_IMAGE_PNG);
    ck_assert_uint_eq(img.width, 37);
    ck_assert_uint_eq(img.height, 21);
    ck_assert_mem_eq(img.rgb, px, 37 * 21 * 3);   /* lossless, exactly */
}
END_TEST

START_TEST(png_alpha_is_composed_over_white)
{
    unsigned char *px = pattern(8, 8, 4);
    apr_size_t len;
    unsigned char *data;
    gf_image_format_t fmt;
    gf_image_t img;

    px[3] = 0;                /* pixel (0,0): fully transparent */
    px[4 * 9 + 3] = 0;        /* pixel (1,1) too */
    px[4 * 2 + 3] = 128;      /* pixel (2,0): half */
    data = make_png(px, 8, 8, 1, &len);
    ck_assert_ptr_null(gf_image_decode(test_pool, data, len, 64, &fmt, &img));
    ck_assert_uint_eq(img.rgb[0], 255);
    ck_assert_uint_eq(img.rgb[1], 255);
    ck_assert_uint_eq(img.rgb[2], 255);
    ck_assert_uint_eq(img.rgb[3 * 9 + 1], 255);
    /* Half transparent: between the colour and white. */
    ck_assert_uint_gt(img.rgb[3 * 2 + 2], px[4 * 2 + 2]);
    ck_assert_uint_lt(img.rgb[3 * 2 + 2], 255);
    /* Opaque pixels are untouched. */
    ck_assert_uint_eq(img.rgb[3 * 20], px[4 * 20]);
}
END_TEST

START_TEST(decodes_jpeg)
{
    unsigned char *px = pattern(40, 24, 3);
    apr_size_t len;
    unsigned char *data;
    gf_image_format_t fmt;
    gf_image_t img;
    int progressive;

    for (progressive = 0; progressive < 2; progressive++) {
        data = make_jpeg(px, 40, 24, progressive, &len);
        ck_assert_ptr_null(gf_image_decode(test_pool, data, len, 40 * 24, &fmt, &img));
        ck_assert_int_eq(fmt, GF_IMAGE_JPEG);
        ck_assert_uint_eq(img.width, 40);
        ck_assert_uint_eq(img.height, 24);
        /* Lossy, but close at quality 95 on a smooth gradient. */
        ck_assert(close_to(img.rgb + 3 * (10 * 40 + 20), px + 3 * (10 * 40 + 20), 3, 24));
    }
}
END_TEST

/* CMYK JPEG (print files): libjpeg does not convert it to RGB; gf_image
 * does, with Adobe's inverted convention (255 = no ink), which libjpeg's
 * own encoder marks with an APP14 marker as Photoshop does. */
START_TEST(decodes_cmyk_jpeg)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    unsigned char px[8 * 8 * 4], *out = NULL;
    unsigned long size = 0;
    gf_image_format_t fmt;
    gf_image_t img;
    int i;

    for (i = 0; i < 64; i++) {
        px[4 * i] = px[4 * i + 1] = px[4 * i + 2] = 255;   /* no cyan, magenta, yellow */
        px[4 * i + 3] = i < 32 ? 255 : 0;                 /* top: no black; bottom: full */
    }
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &out, &size);
    c.image_width = 8;
    c.image_height = 8;
    c.input_components = 4;
    c.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 100, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < 8) {
        JSAMPROW row = px + c.next_scanline * 32;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    ck_assert_ptr_null(gf_image_decode(test_pool, out, size, 64, &fmt, &img));
    free(out);
    ck_assert_int_eq(fmt, GF_IMAGE_JPEG);
    ck_assert_uint_ge(img.rgb[3 * 9], 245);        /* row 1: white */
    ck_assert_uint_ge(img.rgb[3 * 9 + 2], 245);
    ck_assert_uint_le(img.rgb[3 * 54], 10);        /* row 6: black */
    ck_assert_uint_le(img.rgb[3 * 54 + 1], 10);
}
END_TEST

START_TEST(decodes_webp)
{
    unsigned char *px = pattern(33, 17, 3), *rgba = pattern(9, 9, 4);
    apr_size_t len;
    unsigned char *data = make_webp(px, 33, 17, 0, &len);
    gf_image_format_t fmt;
    gf_image_t img;

    ck_assert_ptr_null(gf_image_decode(test_pool, data, len, 1000000, &fmt, &img));
    ck_assert_int_eq(fmt, GF_IMAGE_WEBP);
    ck_assert_uint_eq(img.width, 33);
    ck_assert_uint_eq(img.height, 17);
    ck_assert_mem_eq(img.rgb, px, 33 * 17 * 3);   /* lossless */

    rgba[3] = 0;   /* transparent → white */
    data = make_webp(rgba, 9, 9, 1, &len);
    ck_assert_ptr_null(gf_image_decode(test_pool, data, len, 81, &fmt, &img));
    ck_assert_uint_eq(img.rgb[0], 255);
    ck_assert_uint_eq(img.rgb[1], 255);
    ck_assert_uint_eq(img.rgb[2], 255);
    ck_assert_uint_eq(img.rgb[3 * 40], rgba[4 * 40]);
}
END_TEST

/* Every prefix of a valid file that lacks pixel data is refused (never
 * decoded as if whole), and no prefix crashes. A PNG cut inside its final
 * IEND chunk (12 bytes) still has every pixel: libpng may accept it. */
START_TEST(refuses_truncated)
{
    unsigned char *px = pattern(24, 24, 3);
    unsigned char *files[3];
    apr_size_t lens[3], cut;
    gf_image_format_t fmt;
    gf_image_t img;
    int i;

    files[0] = make_png(px, 24, 24, 0, &lens[0]);
    files[1] = make_jpeg(px, 24, 24, 0, &lens[1]);
    files[2] = make_webp(px, 24, 24, 0, &lens[2]);
    for (i = 0; i < 3; i++) {
        for (cut = 0; cut < lens[i] - (i == 0 ? 12 : 0); cut += (cut < 64 ? 1 : 7)) {
            const char *err = gf_image_decode(test_pool, files[i], cut, 1000000, &fmt, &img);
            ck_assert_msg(err != NULL, "format %d cut at %zu of %zu decoded", i, (size_t)cut,
                          (size_t)lens[i]);
            ck_assert_ptr_null(img.rgb);
        }
    }
    /* The message for a client names the format, not the library. */
    ck_assert_ptr_nonnull(strstr(gf_image_decode(test_pool, files[1], lens[1] / 2, 1000000,
                                                 &fmt, &img), "JPEG"));
    ck_assert_int_eq(fmt, GF_IMAGE_JPEG);
}
END_TEST

START_TEST(refuses_garbage)
{
    unsigned char buf[4096];
    gf_image_format_t fmt;
    gf_image_t img;
    const char *err;
    unsigned i, seed = 12345;
    static const unsigned char sigs[3][12] = {
        { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' },
        { 0xff, 0xd8, 0xff },
        { 'R', 'I', 'F', 'F', 0xf0, 0x0f, 0, 0, 'W', 'E', 'B', 'P' },
    };
    int k;

    for (i = 0; i < sizeof(buf); i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (unsigned char)(seed >> 16);
    }
    err = gf_image_decode(test_pool, buf, sizeof(buf), 1000000, &fmt, &img);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(fmt, GF_IMAGE_UNKNOWN);
    err = gf_image_decode(test_pool, (const unsigned char *)"hello, world", 12, 100, &fmt, &img);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(fmt, GF_IMAGE_UNKNOWN);
    /* A right signature followed by noise: recognised, refused as corrupt. */
    for (k = 0; k < 3; k++) {
        memcpy(buf, sigs[k], 12);
        err = gf_image_decode(test_pool, buf, sizeof(buf), 1000000, &fmt, &img);
        ck_assert_ptr_nonnull(err);
        ck_assert_int_ne(fmt, GF_IMAGE_UNKNOWN);
        ck_assert_ptr_null(img.rgb);
    }
}
END_TEST

/* The cap is applied from the header: a picture one pixel over is
 * refused, and so is a tiny PNG whose header claims 100000 x 100000. */
START_TEST(refuses_too_many_pixels)
{
    unsigned char *px = pattern(20, 10, 3);
    unsigned char *files[3];
    apr_size_t lens[3];
    gf_image_format_t fmt;
    gf_image_t img;
    const char *err;
    int i;

    files[0] = make_png(px, 20, 10, 0, &lens[0]);
    files[1] = make_jpeg(px, 20, 10, 0, &lens[1]);
    files[2] = make_webp(px, 20, 10, 0, &lens[2]);
    for (i = 0; i < 3; i++) {
        ck_assert_ptr_null(gf_image_decode(test_pool, files[i], lens[i], 200, &fmt, &img));
        err = gf_image_decode(test_pool, files[i], lens[i], 199, &fmt, &img);
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_nonnull(strstr(err, "200 pixels"));
        ck_assert_ptr_nonnull(strstr(err, "limit of 199"));
        ck_assert_ptr_null(img.rgb);
    }
    {
        /* IHDR rewritten to 100000 x 100000, its CRC fixed: only the
         * header is read before the refusal. */
        unsigned char *big = apr_pmemdup(test_pool, files[0], lens[0]);
        unsigned long crc;
        big[16] = 0; big[17] = 0x01; big[18] = 0x86; big[19] = 0xa0;
        big[20] = 0; big[21] = 0x01; big[22] = 0x86; big[23] = 0xa0;
        crc = png_crc(big + 12, 17);
        big[29] = (unsigned char)(crc >> 24); big[30] = (unsigned char)(crc >> 16);
        big[31] = (unsigned char)(crc >> 8); big[32] = (unsigned char)crc;
        err = gf_image_decode(test_pool, big, lens[0], 25000000, &fmt, &img);
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_nonnull(strstr(err, "100000 x 100000"));
    }
    {
        /* A JPEG whose SOF claims 60000 x 60000: refused from the header. */
        unsigned char *big = apr_pmemdup(test_pool, files[1], lens[1]);
        apr_size_t at;
        for (at = 2; at + 8 < lens[1]; at++) {
            if (big[at] == 0xff && big[at + 1] == 0xc0) break;
        }
        ck_assert_uint_lt(at + 8, lens[1]);
        big[at + 5] = 0xea; big[at + 6] = 0x60;   /* height */
        big[at + 7] = 0xea; big[at + 8] = 0x60;   /* width */
        err = gf_image_decode(test_pool, big, lens[1], 25000000, &fmt, &img);
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_nonnull(strstr(err, "60000 x 60000"));
    }
}
END_TEST

/* gf_image_measure reads the size from the header alone: of each format,
 * of a picture too large to decode, and refuses what is not a picture. */
START_TEST(measures_from_the_header)
{
    unsigned char *px = pattern(20, 10, 3);
    unsigned char *files[3];
    apr_size_t lens[3];
    gf_image_format_t fmt;
    unsigned w = 0, h = 0;
    int i;

    files[0] = make_png(px, 20, 10, 0, &lens[0]);
    files[1] = make_jpeg(px, 20, 10, 0, &lens[1]);
    files[2] = make_webp(px, 20, 10, 0, &lens[2]);
    for (i = 0; i < 3; i++) {
        ck_assert(gf_image_measure(files[i], lens[i], &fmt, &w, &h));
        ck_assert_uint_eq(w, 20);
        ck_assert_uint_eq(h, 10);
        ck_assert_int_eq(fmt, i == 0 ? GF_IMAGE_PNG : i == 1 ? GF_IMAGE_JPEG : GF_IMAGE_WEBP);
        /* Cut inside its header: no size. */
        ck_assert(!gf_image_measure(files[i], 12, &fmt, &w, &h));
    }
    ck_assert(!gf_image_measure((const unsigned char *)"hello, world", 12, &fmt, &w, &h));
    ck_assert(!gf_image_measure((const unsigned char *)"", 0, NULL, &w, &h));
}
END_TEST

/* gf_storage_get of the local directory reads back what put wrote, and
 * refuses a file larger than asked for, an unsafe key or a missing file. */
START_TEST(local_storage_reads_back)
{
    char tmpl[] = "/tmp/gf-image-test-XXXXXX";
    const char *dir = mkdtemp(tmpl), *url = NULL, *err = NULL;
    gf_storage_t *st;
    unsigned char *data = NULL;
    apr_size_t len = 0;

    ck_assert_ptr_nonnull(dir);
    st = gf_storage_local_create(test_pool, dir, "/media");
    ck_assert_int_eq(gf_storage_put(st, test_pool, "uploads/a.png",
                                    (const unsigned char *)"0123456789", 10, "image/png",
                                    &url, &err), APR_SUCCESS);
    ck_assert_str_eq(url, "/media/uploads/a.png");
    ck_assert_int_eq(gf_storage_get(st, test_pool, "uploads/a.png", url, 10, &data, &len, &err),
                     APR_SUCCESS);
    ck_assert_uint_eq(len, 10);
    ck_assert_mem_eq(data, "0123456789", 10);
    ck_assert_int_ne(gf_storage_get(st, test_pool, "uploads/a.png", url, 9, &data, &len, &err),
                     APR_SUCCESS);
    ck_assert_int_ne(gf_storage_get(st, test_pool, "../a.png", url, 100, &data, &len, &err),
                     APR_SUCCESS);
    ck_assert_int_ne(gf_storage_get(st, test_pool, "uploads/none.png", url, 100, &data, &len,
                                    &err), APR_SUCCESS);
    gf_storage_remove(st, test_pool, "uploads/a.png");
    apr_dir_remove(apr_pstrcat(test_pool, dir, "/uploads", NULL), test_pool);
    apr_dir_remove(dir, test_pool);
}
END_TEST

/* What JSON providers receive for a source image. */
START_TEST(source_uri_for_providers)
{
    gf_job_t job;
    const char *uri;
    char decoded[16];

    memset(&job, 0, sizeof(job));
    ck_assert_ptr_null(gf_provider_source_uri(test_pool, &job));
    job.source_image = "https://example.com/a.png";
    ck_assert_str_eq(gf_provider_source_uri(test_pool, &job), "https://example.com/a.png");
    job.source_image = "upload:0b5e4cf4-3c43-4bd4-9a39-5dcd5a6a1a2b";
    ck_assert_ptr_null(gf_provider_source_uri(test_pool, &job));   /* bytes not read */
    job.source_bytes = (const unsigned char *)"\x89PNG\r\n";
    job.source_len = 6;
    job.source_content_type = "image/png";
    job.source_url = "/media/uploads/0b5e4cf4-3c43-4bd4-9a39-5dcd5a6a1a2b.png";
    uri = gf_provider_source_uri(test_pool, &job);
    ck_assert_str_eq(uri, "data:image/png;base64,iVBORw0K");
    ck_assert_int_eq(apr_base64_decode(decoded, uri + 22), 6);
    job.source_url = "https://res.cloudinary.com/demo/image/upload/v1/u.png";
    ck_assert_str_eq(gf_provider_source_uri(test_pool, &job), job.source_url);
}
END_TEST

Suite *image_suite(void)
{
    Suite *s = suite_create("image");
    TCase *tc = tcase_create("decode");
    tcase_add_test(tc, sniffs_by_signature);
    tcase_add_test(tc, measures_from_the_header);
    tcase_add_test(tc, decodes_png);
    tcase_add_test(tc, png_alpha_is_composed_over_white);
    tcase_add_test(tc, decodes_jpeg);
    tcase_add_test(tc, decodes_cmyk_jpeg);
    tcase_add_test(tc, decodes_webp);
    tcase_add_test(tc, refuses_truncated);
    tcase_add_test(tc, refuses_garbage);
    tcase_add_test(tc, refuses_too_many_pixels);
    tcase_add_test(tc, local_storage_reads_back);
    tcase_add_test(tc, source_uri_for_providers);
    suite_add_tcase(s, tc);
    return s;
}
