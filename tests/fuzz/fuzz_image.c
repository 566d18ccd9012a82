/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_image: gf_image_sniff and gf_image_decode (gf_image.c) over
 * untrusted upload bytes: libpng's simplified reader, libjpeg with our
 * longjmp error manager and scan limit, libwebp.
 *
 * Properties: the decoder's format is the sniffed one; a success has
 * both sides non-zero, at most the cap's pixels and a pixel buffer whose
 * every byte is readable (ASan checks the read); a refusal has a
 * client-safe message (valid UTF-8), no pixels, and for unrecognised
 * bytes the UNKNOWN format. LeakSanitizer sees anything a refusal kept
 * (the pixels are malloc'd and only a success hands them to the pool). */
#include <string.h>
#include "fuzz_common.h"
#include "image/gf_image.h"
#include "core/gf_utf8.h"

/* Small enough that a fuzzed header's claim stays cheap under ASan. */
#define FUZZ_MAX_PIXELS (1024u * 1024u)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool_begin();
    unsigned char *buf = apr_palloc(p, size ? size : 1);   /* exact size */
    gf_image_format_t fmt = GF_IMAGE_UNKNOWN;
    gf_image_t img;
    const char *err;

    memcpy(buf, data, size);
    err = gf_image_decode(p, buf, size, FUZZ_MAX_PIXELS, &fmt, &img);
    FUZZ_CHECK(fmt == gf_image_sniff(buf, size));
    if (err) {
        FUZZ_CHECK(*err && gf_utf8_valid_str(err));
        FUZZ_CHECK(img.rgb == NULL && img.width == 0 && img.height == 0);
    }
    else {
        apr_size_t n, i;
        unsigned sum = 0;
        FUZZ_CHECK(fmt != GF_IMAGE_UNKNOWN && gf_image_content_type(fmt) != NULL);
        FUZZ_CHECK(img.width > 0 && img.height > 0 && img.rgb != NULL);
        FUZZ_CHECK((apr_uint64_t)img.width * img.height <= FUZZ_MAX_PIXELS);
        n = (apr_size_t)img.width * img.height * 3;
        for (i = 0; i < n; i++) sum += img.rgb[i];
        (void)sum;
    }
    fuzz_pool_end(p);
    return 0;
}
