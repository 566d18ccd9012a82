/* SPDX-License-Identifier: Apache-2.0 */
/* gf_image.c: decoding untrusted PNG, JPEG and WebP bytes (see gf_image.h).
 *
 * Every decoder is asked for the picture's size first, from its header,
 * and the pixel cap is applied before any pixel buffer exists: a 50-byte
 * file that claims 60000 x 60000 pixels costs nothing. The pixels are
 * malloc'd and handed to the pool as a cleanup only on success, so a
 * refused or corrupt picture gives its memory back at once instead of
 * holding it in the caller's pool until the request ends.
 *
 * PNG goes through libpng's simplified API (png_image_*): it does the
 * setjmp/longjmp error handling itself, frees its state on every error,
 * expands palette and grey, strips 16-bit, and composes alpha over the
 * background we give (white) in sRGB. JPEG uses libjpeg's classic API with
 * an error manager that longjmps back here, never exit()s or prints.
 * WebP uses libwebp's simple decoder, which returns NULL on anything bad.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>
#include <jpeglib.h>
#include <jerror.h>
#include <webp/decode.h>
#include <apr_strings.h>

#include "image/gf_image.h"

/* A progressive JPEG may carry thousands of tiny scans, each a full pass
 * over the coefficients: a few kilobytes then cost minutes of CPU.
 * libjpeg-turbo's own tools stop at 500 (djpeg -maxscans); so do we. */
#define GF_JPEG_MAX_SCANS 500

static const unsigned char PNG_SIG[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

gf_image_format_t gf_image_sniff(const unsigned char *data, apr_size_t len)
{
    if (!data) return GF_IMAGE_UNKNOWN;
    if (len >= sizeof(PNG_SIG) && !memcmp(data, PNG_SIG, sizeof(PNG_SIG))) {
        return GF_IMAGE_PNG;
    }
    /* SOI followed by the first marker's 0xFF. */
    if (len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) {
        return GF_IMAGE_JPEG;
    }
    /* A RIFF container whose form type is WEBP. */
    if (len >= 12 && !memcmp(data, "RIFF", 4) && !memcmp(data + 8, "WEBP", 4)) {
        return GF_IMAGE_WEBP;
    }
    return GF_IMAGE_UNKNOWN;
}

const char *gf_image_content_type(gf_image_format_t fmt)
{
    switch (fmt) {
    case GF_IMAGE_PNG:  return "image/png";
    case GF_IMAGE_JPEG: return "image/jpeg";
    case GF_IMAGE_WEBP: return "image/webp";
    default:            return NULL;
    }
}

static apr_status_t free_pixels(void *data)
{
    free(data);
    return APR_SUCCESS;
}

/* The size check every format shares: NULL, or the client's message. */
static const char *check_size(apr_pool_t *p, const char *what, apr_uint64_t width,
                              apr_uint64_t height, apr_uint64_t max_pixels)
{
    if (width == 0 || height == 0) {
        return apr_psprintf(p, "the %s image has no pixels (%" APR_UINT64_T_FMT " x %"
                            APR_UINT64_T_FMT ")", what, width, height);
    }
    /* Both sides are below 2^32, so the product fits in 64 bits. */
    if (width * height > max_pixels) {
        return apr_psprintf(p, "the %s image is %" APR_UINT64_T_FMT " x %" APR_UINT64_T_FMT
                            " = %" APR_UINT64_T_FMT " pixels, more than the limit of %"
                            APR_UINT64_T_FMT, what, width, height, width * height, max_pixels);
    }
    if (width * height > (apr_uint64_t)(APR_SIZE_MAX / 4)) {
        return apr_psprintf(p, "the %s image is too large", what);
    }
    return NULL;
}

/* Give the malloc'd pixels to the pool: out owns them from now on. */
static void adopt(apr_pool_t *p, gf_image_t *out, unsigned width, unsigned height,
                  unsigned char *rgb)
{
    apr_pool_cleanup_register(p, rgb, free_pixels, apr_pool_cleanup_null);
    out->width = width;
    out->height = height;
    out->rgb = rgb;
}

/* ---- PNG ------------------------------------------------------------------ */

static const char *decode_png(apr_pool_t *p, const unsigned char *data, apr_size_t len,
                              apr_uint64_t max_pixels, gf_image_t *out)
{
    png_image img;
    png_color white = { 255, 255, 255 };
    unsigned char *rgb;
    const char *err;

    memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, data, len)) {
        /* libpng freed its state; img.message is for logs, not clients. */
        return "the PNG image is corrupt";
    }
    if ((err = check_size(p, "PNG", img.width, img.height, max_pixels)) != NULL) {
        png_image_free(&img);
        return err;
    }
    img.format = PNG_FORMAT_RGB;   /* palette, grey and 16-bit become 8-bit RGB */
    if (!(rgb = malloc((apr_size_t)img.width * img.height * 3))) {
        png_image_free(&img);
        return "the PNG image is too large to decode now";
    }
    /* Alpha (and tRNS) is composed over white, the page a picture sits on. */
    if (!png_image_finish_read(&img, &white, rgb, 0, NULL)) {
        free(rgb);
        return "the PNG image is corrupt or truncated";
    }
    adopt(p, out, img.width, img.height, rgb);
    return NULL;
}

/* ---- JPEG ----------------------------------------------------------------- */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    const char *why;             /* our reason to stop, else a library error */
    int truncated;               /* "Premature end of JPEG file" was warned */
} jpeg_err_t;

static void jpeg_on_error(j_common_ptr cinfo)
{
    jpeg_err_t *e = (jpeg_err_t *)cinfo->err;
    longjmp(e->jump, 1);
}

/* Warnings (level -1) and traces: never printed. A premature end is a
 * warning to libjpeg, which pads the picture with grey; an upload that
 * ends early is corrupt to us. */
static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    jpeg_err_t *e = (jpeg_err_t *)cinfo->err;
    if (level < 0) {
        if (cinfo->err->msg_code == JWRN_JPEG_EOF) e->truncated = 1;
        cinfo->err->num_warnings++;
    }
}

static void jpeg_no_output(j_common_ptr cinfo)
{
    (void)cinfo;
}

static void jpeg_on_progress(j_common_ptr cinfo)
{
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    jpeg_err_t *e = (jpeg_err_t *)cinfo->err;
    if (cinfo->is_decompressor && d->input_scan_number > GF_JPEG_MAX_SCANS) {
        e->why = "the JPEG image has too many progressive scans";
        longjmp(e->jump, 1);
    }
}

/* One row of CMYK samples (inverted: as Adobe's encoders store them) as
 * RGB into dst. */
static void cmyk_row(const JSAMPLE *row, unsigned width, int inverted, unsigned char *dst)
{
    unsigned x;
    for (x = 0; x < width; x++) {
        unsigned c = row[4 * x], m = row[4 * x + 1];
        unsigned y = row[4 * x + 2], k = row[4 * x + 3];
        if (!inverted) {
            c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k;
        }
        /* Inverted values: 255 is no ink. */
        dst[3 * x]     = (unsigned char)((c * k + 127) / 255);
        dst[3 * x + 1] = (unsigned char)((m * k + 127) / 255);
        dst[3 * x + 2] = (unsigned char)((y * k + 127) / 255);
    }
}

static const char *decode_jpeg(apr_pool_t *p, const unsigned char *data, apr_size_t len,
                               apr_uint64_t max_pixels, gf_image_t *out)
{
    struct jpeg_decompress_struct cinfo;
    struct jpeg_progress_mgr progress;
    jpeg_err_t jerr;
    /* Read after a longjmp: volatile, so it is not kept in a register
     * that setjmp restored to an older value. */
    unsigned char *volatile rgb = NULL;
    const char *volatile size_err = NULL;
    JSAMPARRAY row4 = NULL;
    int cmyk, inverted;

    memset(&cinfo, 0, sizeof(cinfo));
    memset(&jerr, 0, sizeof(jerr));
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = jpeg_on_error;
    jerr.pub.emit_message = jpeg_on_message;
    jerr.pub.output_message = jpeg_no_output;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(rgb);
        if (size_err) return size_err;
        return jerr.why ? jerr.why : "the JPEG image is corrupt";
    }
    jpeg_create_decompress(&cinfo);
    progress.progress_monitor = jpeg_on_progress;
    cinfo.progress = &progress;
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    if ((size_err = check_size(p, "JPEG", cinfo.image_width, cinfo.image_height,
                               max_pixels)) != NULL) {
        longjmp(jerr.jump, 1);
    }
    /* libjpeg converts YCbCr and grey to RGB itself, but not CMYK (print
     * files, some phone editors): that is read as CMYK and converted here. */
    cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    /* Adobe's encoders store CMYK inverted and say so in their APP14. */
    inverted = cmyk && cinfo.saw_Adobe_marker;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != (cmyk ? 4 : 3)
        || cinfo.output_width != cinfo.image_width || cinfo.output_height != cinfo.image_height) {
        jerr.why = "the JPEG image has an unsupported colour layout";
        longjmp(jerr.jump, 1);
    }
    if (!(rgb = malloc((apr_size_t)cinfo.output_width * cinfo.output_height * 3))) {
        jerr.why = "the JPEG image is too large to decode now";
        longjmp(jerr.jump, 1);
    }
    if (cmyk) {
        /* Freed with cinfo (jpeg_destroy_decompress). */
        row4 = (*cinfo.mem->alloc_sarray)((j_common_ptr)&cinfo, JPOOL_IMAGE,
                                          cinfo.output_width * 4, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        unsigned char *dst = rgb + (apr_size_t)cinfo.output_scanline * cinfo.output_width * 3;
        if (!cmyk) {
            JSAMPROW row = dst;
            jpeg_read_scanlines(&cinfo, &row, 1);
        }
        else {
            jpeg_read_scanlines(&cinfo, row4, 1);
            cmyk_row(row4[0], cinfo.output_width, inverted, dst);
        }
        if (jerr.truncated) {
            /* Stop at the first padded row: the rest is invented grey. */
            jerr.why = "the JPEG image is truncated";
            longjmp(jerr.jump, 1);
        }
    }
    jpeg_finish_decompress(&cinfo);
    if (jerr.truncated) {
        jerr.why = "the JPEG image is truncated";
        longjmp(jerr.jump, 1);
    }
    adopt(p, out, cinfo.output_width, cinfo.output_height, rgb);
    jpeg_destroy_decompress(&cinfo);
    return NULL;
}

/* ---- WebP ----------------------------------------------------------------- */

static const char *decode_webp(apr_pool_t *p, const unsigned char *data, apr_size_t len,
                               apr_uint64_t max_pixels, gf_image_t *out)
{
    WebPBitstreamFeatures features;
    unsigned char *rgb, *rgba;
    apr_size_t n, i;
    const char *err;

    if (WebPGetFeatures(data, len, &features) != VP8_STATUS_OK) {
        return "the WebP image is corrupt";
    }
    if (features.has_animation) {
        return "animated WebP images are not supported";
    }
    if ((err = check_size(p, "WebP", (apr_uint64_t)(features.width < 0 ? 0 : features.width),
                          (apr_uint64_t)(features.height < 0 ? 0 : features.height),
                          max_pixels)) != NULL) {
        return err;
    }
    n = (apr_size_t)features.width * (apr_size_t)features.height;
    if (!(rgb = malloc(n * 3))) {
        return "the WebP image is too large to decode now";
    }
    if (!features.has_alpha) {
        if (!WebPDecodeRGBInto(data, len, rgb, n * 3, features.width * 3)) {
            free(rgb);
            return "the WebP image is corrupt or truncated";
        }
        adopt(p, out, (unsigned)features.width, (unsigned)features.height, rgb);
        return NULL;
    }
    /* With alpha: decode RGBA, then compose over white as for PNG. */
    if (!(rgba = malloc(n * 4))) {
        free(rgb);
        return "the WebP image is too large to decode now";
    }
    if (!WebPDecodeRGBAInto(data, len, rgba, n * 4, features.width * 4)) {
        free(rgba);
        free(rgb);
        return "the WebP image is corrupt or truncated";
    }
    for (i = 0; i < n; i++) {
        unsigned a = rgba[4 * i + 3], c;
        for (c = 0; c < 3; c++) {
            rgb[3 * i + c] = (unsigned char)((rgba[4 * i + c] * a + 255 * (255 - a) + 127) / 255);
        }
    }
    free(rgba);
    adopt(p, out, (unsigned)features.width, (unsigned)features.height, rgb);
    return NULL;
}

const char *gf_image_decode(apr_pool_t *p, const unsigned char *data, apr_size_t len,
                            apr_uint64_t max_pixels, gf_image_format_t *fmt,
                            gf_image_t *out)
{
    gf_image_format_t f = gf_image_sniff(data, len);

    memset(out, 0, sizeof(*out));
    if (fmt) *fmt = f;
    switch (f) {
    case GF_IMAGE_PNG:  return decode_png(p, data, len, max_pixels, out);
    case GF_IMAGE_JPEG: return decode_jpeg(p, data, len, max_pixels, out);
    case GF_IMAGE_WEBP: return decode_webp(p, data, len, max_pixels, out);
    default:            return "the data is not a PNG, JPEG or WebP image";
    }
}

/* ---- sizes ----------------------------------------------------------------- */

/* The JPEG's header only: its frame's size, no pixel decoded. */
static int measure_jpeg(const unsigned char *data, apr_size_t len, unsigned *w, unsigned *h)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_err_t jerr;

    memset(&cinfo, 0, sizeof(cinfo));
    memset(&jerr, 0, sizeof(jerr));
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = jpeg_on_error;
    jerr.pub.emit_message = jpeg_on_message;
    jerr.pub.output_message = jpeg_no_output;
    if (setjmp(jerr.jump)) {
        jpeg_destroy_decompress(&cinfo);
        return 0;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    *w = cinfo.image_width;
    *h = cinfo.image_height;
    jpeg_destroy_decompress(&cinfo);
    return 1;
}

int gf_image_measure(const unsigned char *data, apr_size_t len, gf_image_format_t *fmt,
                     unsigned *width, unsigned *height)
{
    gf_image_format_t f = gf_image_sniff(data, len);
    unsigned w = 0, h = 0;
    int ok = 0;

    if (fmt) *fmt = f;
    if (f == GF_IMAGE_PNG) {
        png_image img;
        memset(&img, 0, sizeof(img));
        img.version = PNG_IMAGE_VERSION;
        if (png_image_begin_read_from_memory(&img, data, len)) {
            w = img.width;
            h = img.height;
            png_image_free(&img);
            ok = 1;
        }
    }
    else if (f == GF_IMAGE_JPEG) {
        ok = measure_jpeg(data, len, &w, &h);
    }
    else if (f == GF_IMAGE_WEBP) {
        WebPBitstreamFeatures features;
        if (WebPGetFeatures(data, len, &features) == VP8_STATUS_OK
            && features.width > 0 && features.height > 0) {
            w = (unsigned)features.width;
            h = (unsigned)features.height;
            ok = 1;
        }
    }
    if (!ok || w == 0 || h == 0) return 0;
    *width = w;
    *height = h;
    return 1;
}
