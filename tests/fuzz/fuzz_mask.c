/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_mask: gf_mask_convert (gf_mask.c) over untrusted mask bytes, in
 * both providers' forms.
 *
 * Properties: a refusal has a client-safe message (valid UTF-8); a
 * success is a PNG of the same size as the input claimed, with at least
 * one pixel marked; converting the output again in the same form gives
 * the same bytes, and in the other form the same bytes as converting the
 * input there (the two conventions mark the same pixels). Headers that
 * claim more than a million pixels are skipped: the cap is tested, the
 * sanitizer's cost of a 40 M pixel buffer is not worth the seconds. */
#include <string.h>
#include "fuzz_common.h"
#include "image/gf_mask.h"
#include "image/gf_image.h"
#include "core/gf_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const unsigned char *a, apr_size_t al, const unsigned char *b, apr_size_t bl)
{
    return al == bl && !memcmp(a, b, al);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool_begin();
    unsigned char *buf = apr_palloc(p, size ? size : 1), *out[2], *again;
    apr_size_t len[2], alen;
    unsigned w, h, w2, h2, mw = 0, mh = 0;
    gf_image_format_t fmt;
    const char *err[2];
    int k;

    memcpy(buf, data, size);
    if (gf_image_measure(buf, size, &fmt, &mw, &mh) && (apr_uint64_t)mw * mh > 1000000u) {
        fuzz_pool_end(p);
        return 0;
    }
    for (k = 0; k < 2; k++) {
        err[k] = gf_mask_convert(p, buf, size, (gf_mask_form_t)k, &out[k], &len[k], &w, &h);
        if (err[k]) {
            FUZZ_CHECK(*err[k] && gf_utf8_valid_str(err[k]));
            continue;
        }
        FUZZ_CHECK(len[k] > 8 && w > 0 && h > 0 && !memcmp(out[k], "\x89PNG", 4));
        FUZZ_CHECK(!mw || (w == mw && h == mh));
        FUZZ_CHECK(gf_mask_convert(p, out[k], len[k], (gf_mask_form_t)k, &again, &alen, &w2, &h2) == NULL);
        FUZZ_CHECK(w2 == w && h2 == h && same(again, alen, out[k], len[k]));
    }
    /* Both forms succeed or fail together, and say the same pixels. */
    FUZZ_CHECK(!err[0] == !err[1]);
    if (!err[0]) {
        FUZZ_CHECK(gf_mask_convert(p, out[0], len[0], GF_MASK_WHITE_EDITS, &again, &alen, &w2, &h2) == NULL);
        FUZZ_CHECK(same(again, alen, out[1], len[1]));
    }
    fuzz_pool_end(p);
    return 0;
}
