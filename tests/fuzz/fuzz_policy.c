/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_policy: the content policy's normal form, deny list and moderation
 * answer (gf_policy.c) on any bytes.
 *
 * Properties: the normal form exists exactly for valid UTF-8; it is valid
 * UTF-8 of letters, digits, spacing marks and single spaces, with no space at either
 * end; it is its own normal form (so a deny list entry, normalised when
 * read, compares with a prompt normalised when checked); a deny list of
 * one line matches that line's own text however it was written; and the
 * moderation reader judges any answer without crashing. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* memmem */
#endif
#include <string.h>
#include <unictype.h>
#include <unistr.h>
#include <apr_strings.h>
#include "fuzz_common.h"
#include "core/gf_policy.h"
#include "core/gf_utf8.h"

static void check_normal(apr_pool_t *p, const char *n)
{
    size_t len = strlen(n), i = 0;
    const char *again;
    FUZZ_CHECK(gf_utf8_valid(n, len));
    FUZZ_CHECK(!len || (n[0] != ' ' && n[len - 1] != ' '));
    FUZZ_CHECK(!strstr(n, "  "));
    while (i < len) {
        ucs4_t uc;
        int k = u8_mbtouc(&uc, (const uint8_t *)n + i, len - i);
        FUZZ_CHECK(k > 0);
        FUZZ_CHECK(uc == ' ' || uc_is_general_category(uc, UC_CATEGORY_L)
                   || uc_is_general_category(uc, UC_CATEGORY_N)
                   || uc_is_general_category(uc, UC_CATEGORY_Mc));
        /* nothing that shows as nothing (a Hangul filler is a letter) */
        FUZZ_CHECK(!uc_is_property_default_ignorable_code_point(uc));
        i += (size_t)k;
    }
    again = gf_policy_normalise(p, n, len);
    FUZZ_CHECK(again && !strcmp(again, n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool_begin();
    /* an exact-size copy: any read past size is an ASan report */
    char *s = apr_palloc(p, size ? size : 1);
    const char *n, *why;
    const uint8_t *nl;
    gf_moderation_t v;

    memcpy(s, data, size);
    n = gf_policy_normalise(p, s, size);
    FUZZ_CHECK((n != NULL) == (u8_check((const uint8_t *)s, size) == NULL));
    if (n) check_normal(p, n);
    if (n && size) {
        /* ASCII takes a path of its own (no libunistring folding): the
         * same text with a word of two accented letters after it takes the
         * library's, and must give the same words and that one ("ee"). */
        size_t i;
        for (i = 0; i < size && data[i] < 0x80; i++) ;
        if (i == size) {
            char *slow = apr_palloc(p, size + 5);
            const char *sn;
            memcpy(slow, data, size);
            memcpy(slow + size, " \xc3\xa9\xc3\xa9", 5);
            sn = gf_policy_normalise(p, slow, size + 5);
            FUZZ_CHECK(sn && !strcmp(sn, *n ? apr_pstrcat(p, n, " ee", NULL) : "ee"));
        }
    }

    /* The first line as a deny list of one entry, the rest as a prompt. */
    nl = memchr(data, '\n', size);
    if (nl) {
        size_t elen = (size_t)(nl - data);
        const char *err = NULL, *en, *tn;
        gf_policy_list_t *l;
        if (!memmem(data, elen, "re:", 3)) {   /* no regular expressions: glibc's */
            l = gf_policy_list_parse(p, s, elen, &err);
            en = gf_policy_normalise(p, s, elen);
            if (l && gf_policy_list_size(l) == 1 && en) {
                int line = 0;
                FUZZ_CHECK(gf_policy_list_match(l, en, &line) && line == 1);
            }
            tn = gf_policy_normalise(p, (const char *)nl + 1, size - elen - 1);
            if (l && tn) (void)gf_policy_list_match(l, tn, NULL);
        }
    }
    v = gf_policy_moderation_read(p, s, size, NULL, &why);
    FUZZ_CHECK(v == GF_MODERATION_ALLOWED || v == GF_MODERATION_FLAGGED
               || v == GF_MODERATION_BAD);
    FUZZ_CHECK(v != GF_MODERATION_BAD || why);
    fuzz_pool_end(p);
    return 0;
}
