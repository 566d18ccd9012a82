/* SPDX-License-Identifier: Apache-2.0 */
/* gf_image.h: pictures as pixels, and the decoding of untrusted image bytes.
 *
 * An upload is verified by decoding it (PNG with libpng, JPEG with libjpeg,
 * WebP with libwebp), never by its file name or its Content-Type: the
 * format is recognised from the first bytes, and the pixel count is capped
 * before any pixel buffer is allocated. The local provider draws on the
 * decoded pixels of a user's upload (gf_png.c).
 */
#ifndef GF_IMAGE_H
#define GF_IMAGE_H

#include <apr_pools.h>

/* 8-bit RGB, rows top to bottom, no padding: width * height * 3 bytes. */
typedef struct {
    unsigned width;
    unsigned height;
    unsigned char *rgb;
} gf_image_t;

typedef enum {
    GF_IMAGE_UNKNOWN = 0,
    GF_IMAGE_PNG,
    GF_IMAGE_JPEG,
    GF_IMAGE_WEBP
} gf_image_format_t;

/* The format of data from its signature, GF_IMAGE_UNKNOWN when none of the
 * three. */
gf_image_format_t gf_image_sniff(const unsigned char *data, apr_size_t len);

/* "image/png", "image/jpeg", "image/webp", or NULL. */
const char *gf_image_content_type(gf_image_format_t fmt);

/* Decode data (any of the three formats, by its signature) into out, in p.
 * Refuses, without allocating the pixels, a picture of more than
 * max_pixels (width * height) or with a side of 0. Returns NULL on
 * success, else a message for the client (no library internals). An
 * alpha channel is composed over white; grey and palette become RGB. */
const char *gf_image_decode(apr_pool_t *p, const unsigned char *data, apr_size_t len,
                            apr_uint64_t max_pixels, gf_image_format_t *fmt,
                            gf_image_t *out);

/* The format and size of a picture from its header alone (libpng's,
 * libjpeg's, libwebp's readers; no pixel is decoded): 1 and *width,
 * *height, or 0 when data is none of the three or its header is bad. */
int gf_image_measure(const unsigned char *data, apr_size_t len, gf_image_format_t *fmt,
                     unsigned *width, unsigned *height);

/* A small JPEG of img (gf_image_small.c): its longer side max_side at
 * most (a smaller picture keeps its size), quality 1..100, into *out in
 * p. NULL on success, else why not. */
const char *gf_image_small_jpeg(apr_pool_t *p, const gf_image_t *img, unsigned max_side,
                                int quality, unsigned char **out, apr_size_t *out_len);

#endif
