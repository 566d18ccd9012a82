/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_prompt: prompt templates (gf_prompt.c): the httpd.conf check of a
 * template and the expansion with a request's fields.
 *
 * Input: fields separated by a line "~~~":
 *   template, type, prompt, customPrompt, preset, style, quality, aspectRatio
 * Properties: the built-in templates pass the check; the expansion is
 * deterministic; when the template and every field are valid UTF-8 the
 * final prompt is too (it is sent to providers and stored); it never
 * starts or ends with blanks, and holds no empty segment (", ,") unless
 * a field brought one. */
#include <string.h>
#include "fuzz_common.h"
#include "core/gf_prompt.h"
#include "core/gf_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool_begin();
    char *f[8];
    size_t lens[8];
    gf_input_t in;
    const char *a, *b, *chk;
    int i, all_valid = 1, commas = 0;

    fuzz_fields(p, data, size, "\n~~~\n", 8, f, lens);
    for (i = 0; i < 8; i++) {
        if (!gf_utf8_valid(f[i], lens[i])) all_valid = 0;
        if (i >= 2 && strchr(f[i], ',')) commas = 1;
    }
    memset(&in, 0, sizeof(in));
    in.prompt = *f[2] ? f[2] : NULL;
    in.custom_prompt = *f[3] ? f[3] : NULL;
    in.preset = *f[4] ? f[4] : NULL;
    in.style = *f[5] ? f[5] : NULL;
    in.quality = *f[6] ? f[6] : NULL;
    in.aspect_ratio = *f[7] ? f[7] : NULL;

    chk = gf_prompt_check_template(p, f[0]);
    FUZZ_CHECK(!chk || *chk);
    FUZZ_CHECK(gf_prompt_check_template(p, gf_prompt_default_template(f[1])) == NULL);
    (void)gf_prompt_style_words(in.style);
    (void)gf_prompt_quality_words(in.quality);

    a = gf_prompt_build(p, f[0], f[1], &in);
    b = gf_prompt_build(p, f[0], f[1], &in);
    FUZZ_CHECK(a && b && !strcmp(a, b));
    if (all_valid) FUZZ_CHECK(gf_utf8_valid_str(a));
    if (*a) {
        size_t n = strlen(a);
        FUZZ_CHECK(a[0] != ' ' && a[0] != '\t' && a[n - 1] != ' ' && a[n - 1] != '\t');
    }
    if (!commas && !strchr(f[1], ',')) FUZZ_CHECK(!strstr(a, ", ,") && !strstr(a, ",,"));
    a = gf_prompt_build(p, gf_prompt_default_template(f[1]), f[1], &in);
    if (all_valid) FUZZ_CHECK(gf_utf8_valid_str(a));
    fuzz_pool_end(p);
    return 0;
}
