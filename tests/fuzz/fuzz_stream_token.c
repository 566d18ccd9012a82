/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_stream_token: the token of an events URL (gf_stream_token.c), which
 * arrives from anyone in a query string.
 *
 * Input: user bytes \0 token bytes (the rest).
 * Properties: a token made for a user the module accepts (1..255 bytes,
 * no NUL) names exactly that user, until its expiry and not at it; the
 * token from the input, under the same key, is refused with a reason or
 * names a user of 1..255 bytes; nothing a token holds is read past its end
 * (ASan). */
#include <string.h>
#include "fuzz_common.h"
#include "core/gf_stream_token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char KEY[] = "fuzz-key-0123456789abcdef0123456789";
#define ID "01a217c5-c2f3-7cb9-93ba-04f6ccbf00bb"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool_begin();
    const uint8_t *nul = memchr(data, 0, size);
    size_t ulen = nul ? (size_t)(nul - data) : size;
    const char *user = apr_pstrmemdup(p, (const char *)data, ulen);
    const char *token = nul ? apr_pstrmemdup(p, (const char *)nul + 1, size - ulen - 1) : "";
    const char *made, *got, *why;

    made = gf_stream_token_make(p, KEY, sizeof(KEY) - 1, "neo-glitch", ID, user, 5000);
    FUZZ_CHECK((made != NULL) == (ulen >= 1 && ulen <= 255));
    if (made) {
        FUZZ_CHECK(strlen(made) <= GF_STREAM_TOKEN_MAX);
        got = gf_stream_token_user(p, KEY, sizeof(KEY) - 1, "neo-glitch", ID, made, 4999, &why);
        FUZZ_CHECK(got && !strcmp(got, user) && !why);
        FUZZ_CHECK(!gf_stream_token_user(p, KEY, sizeof(KEY) - 1, "neo-glitch", ID, made, 5000,
                                         &why));
        FUZZ_CHECK(!gf_stream_token_user(p, KEY, sizeof(KEY) - 1, "presets", ID, made, 1, &why));
    }
    got = gf_stream_token_user(p, KEY, sizeof(KEY) - 1, "neo-glitch", ID, token, 1, &why);
    if (got) {
        size_t n = strlen(got);
        FUZZ_CHECK(n >= 1 && n <= 255 && !why);
    }
    else {
        FUZZ_CHECK(why != NULL);
    }
    fuzz_pool_end(p);
    return 0;
}
