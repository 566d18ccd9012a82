/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_utf8: the strict UTF-8 validator and cleaner (gf_utf8.c), and the
 * code point count of gf_input.c.
 *
 * Checked against an independent decoder written from RFC 3629 in the
 * other style (decode the code point, then judge its value): both must
 * agree on every input; an accepted string must decode and re-encode to
 * the same bytes; gf_utf8_clean must give valid UTF-8 without control
 * characters, within its byte limit, and leave clean text alone. */
#include <string.h>
#include "fuzz_common.h"
#include "core/gf_utf8.h"
#include "core/gf_input.h"

/* -1 when s[0..n) is not valid (RFC 3629, NUL refused), else the count of
 * code points; cps receives them. */
static long reference_decode(const unsigned char *s, size_t n, unsigned long *cps)
{
    size_t i = 0;
    long count = 0;
    while (i < n) {
        unsigned long cp;
        int len, k;
        unsigned char c = s[i];
        if (c < 0x80) { cp = c; len = 1; }
        else if ((c & 0xe0) == 0xc0) { cp = c & 0x1f; len = 2; }
        else if ((c & 0xf0) == 0xe0) { cp = c & 0x0f; len = 3; }
        else if ((c & 0xf8) == 0xf0) { cp = c & 0x07; len = 4; }
        else return -1;
        if (i + (size_t)len > n) return -1;
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return -1;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp == 0) return -1;
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000))
            return -1;   /* overlong */
        if (cp >= 0xd800 && cp <= 0xdfff) return -1;
        if (cp > 0x10ffff) return -1;
        cps[count++] = cp;
        i += (size_t)len;
    }
    return count;
}

static size_t encode(unsigned long cp, unsigned char *o)
{
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { o[0] = (unsigned char)(0xc0 | (cp >> 6)); o[1] = (unsigned char)(0x80 | (cp & 0x3f)); return 2; }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | (cp >> 12)); o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f)); return 3;
    }
    o[0] = (unsigned char)(0xf0 | (cp >> 18)); o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f)); o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool_begin();
    /* an exact-size copy: any read past size is an ASan report */
    char *s = apr_palloc(p, size);
    char *z = apr_pstrmemdup(p, (const char *)data, size);
    unsigned long *cps = apr_palloc(p, (size + 1) * sizeof(unsigned long));
    long ref = reference_decode(data, size, cps);
    int valid;
    size_t max = size ? (size_t)(data[0] % 64) : 0;
    char *clean;

    memcpy(s, data, size);
    valid = gf_utf8_valid(s, size);
    FUZZ_CHECK(valid == (ref >= 0));
    if (!memchr(data, '\0', size)) FUZZ_CHECK(gf_utf8_valid_str(z) == valid);
    if (valid) {
        unsigned char *round = apr_palloc(p, size ? size : 1);
        size_t o = 0;
        long i;
        for (i = 0; i < ref; i++) o += encode(cps[i], round + o);
        FUZZ_CHECK(o == size && !memcmp(round, data, size));
        FUZZ_CHECK(gf_utf8_length(z) == (apr_size_t)ref);
    }
    {
        size_t limits[3];
        int k;
        limits[0] = max;
        limits[1] = size;
        limits[2] = 200;
        for (k = 0; k < 3; k++) {
            size_t n, j, ctl = 0;
            clean = gf_utf8_clean(p, s, size, limits[k]);
            n = strlen(clean);
            FUZZ_CHECK(n <= limits[k]);
            FUZZ_CHECK(gf_utf8_valid(clean, n));
            for (j = 0; j < n; j++) {
                if ((unsigned char)clean[j] < 0x20 || clean[j] == 0x7f) ctl++;
            }
            FUZZ_CHECK(ctl == 0);
            if (valid && size <= limits[k]) {
                for (j = 0; j < size; j++) {
                    if (data[j] < 0x20 || data[j] == 0x7f) break;
                }
                if (j == size) FUZZ_CHECK(n == size && !memcmp(clean, data, size));
            }
        }
    }
    clean = gf_utf8_clean(p, NULL, size, max);
    FUZZ_CHECK(clean && !*clean);
    fuzz_pool_end(p);
    return 0;
}
