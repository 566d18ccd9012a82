/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_input: the create body (gf_input_parse over gf_json_parse, as the
 * create and generate handlers read it) and the generate body that names
 * a generation ({"generationId": "<uuid>"} alone).
 *
 * Properties: an accepted body yields fields within their documented
 * ranges (docs/api.md: prompt 1..2000 characters and not blank, preset
 * 1..64, an https or upload sourceImage, an edit's uploads, the enums, guidance_scale 0..20,
 * num_inference_steps 1..100, strength 0..1, seed 0..4294967294), the
 * required fields are there, and its canonical JSON (gf_input_to_json)
 * is accepted again and canonicalises to itself. A refusal names a field
 * and has a message, valid UTF-8 (it goes back to the client). The final
 * prompt built from an accepted input is valid UTF-8. */
#include <string.h>
#include <strings.h>
#include "fuzz_common.h"
#include "core/gf_input.h"
#include "core/gf_json.h"
#include "core/gf_utf8.h"
#include "core/gf_route.h"
#include "core/gf_prompt.h"

static void check_string(const char *s, apr_size_t max)
{
    if (!s) return;
    FUZZ_CHECK(gf_utf8_valid_str(s));
    FUZZ_CHECK(gf_utf8_length(s) >= 1 && gf_utf8_length(s) <= max);
    FUZZ_CHECK(strspn(s, " \t\r\n") < strlen(s));
}

/* "upload:" and a lower-case uuid. */
static int is_upload_ref(const char *s)
{
    const char *id = gf_input_upload_id(s), *c;
    if (!id || !gf_uuid_valid(id)) return 0;
    for (c = id; *c; c++) if (*c >= 'A' && *c <= 'F') return 0;
    return 1;
}

static int one_of(const char *s, const char *const *words)
{
    if (!s) return 1;
    for (; *words; words++) if (!strcmp(s, *words)) return 1;
    return 0;
}

static void check_input(const gf_input_t *in, unsigned needs)
{
    static const char *const styles[] = { "realistic", "artistic", "minimal", NULL };
    static const char *const qualities[] = { "auto", "high", NULL };
    static const char *const ratios[] = { "1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3",
                                          "21:9", NULL };
    check_string(in->prompt, GF_PROMPT_MAX_CHARS);
    check_string(in->custom_prompt, GF_PROMPT_MAX_CHARS);
    check_string(in->preset, GF_PRESET_MAX_CHARS);
    check_string(in->source_image, GF_URL_MAX_CHARS);
    FUZZ_CHECK(!in->source_image || !strncasecmp(in->source_image, "https://", 8)
               || is_upload_ref(in->source_image));
    /* An edit: uploads only, lower-cased; a mask over a source upload;
     * 1..16 references, all different. */
    FUZZ_CHECK(!in->mask || (is_upload_ref(in->mask) && gf_input_upload_id(in->source_image)));
    FUZZ_CHECK(in->n_references >= 0 && in->n_references <= GF_REFERENCES_MAX);
    {
        int i, j;
        for (i = 0; i < in->n_references; i++) {
            FUZZ_CHECK(is_upload_ref(in->references[i]));
            for (j = 0; j < i; j++) FUZZ_CHECK(strcmp(in->references[i], in->references[j]));
        }
    }
    FUZZ_CHECK(one_of(in->style, styles) && one_of(in->quality, qualities)
               && one_of(in->aspect_ratio, ratios));
    FUZZ_CHECK(!in->has_guidance_scale || (in->guidance_scale >= 0 && in->guidance_scale <= 20));
    FUZZ_CHECK(!in->has_num_inference_steps
               || (in->num_inference_steps >= 1 && in->num_inference_steps <= 100));
    FUZZ_CHECK(!in->has_strength || (in->strength >= 0 && in->strength <= 1));
    FUZZ_CHECK(!in->has_seed || in->seed <= (apr_uint64_t)GF_SEED_MAX);
    FUZZ_CHECK(!(needs & GF_NEED_PROMPT) || in->prompt);
    FUZZ_CHECK(!(needs & GF_NEED_SOURCE_IMAGE) || in->source_image);
    FUZZ_CHECK(!(needs & GF_NEED_PRESET) || in->preset);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool_begin();
    char *buf = apr_palloc(p, size);
    const char *err = NULL;
    json_object *body, *idv;
    gf_input_t in;
    gf_input_error_t ie;
    unsigned needs = (unsigned)(size % 8);   /* every GenFlowRequire combination */

    memcpy(buf, data, size);
    body = gf_json_parse(p, buf, size, &err);
    if (!body) {
        FUZZ_CHECK(err && gf_utf8_valid_str(err));
        fuzz_pool_end(p);
        return 0;
    }
    /* generate: {"generationId": "..."} alone */
    if (json_object_is_type(body, json_type_object)
        && json_object_object_get_ex(body, "generationId", &idv)
        && json_object_is_type(idv, json_type_string)
        && gf_uuid_valid(json_object_get_string(idv))) {
        FUZZ_CHECK(strlen(json_object_get_string(idv)) == 36);
    }
    memset(&ie, 0, sizeof(ie));
    if (gf_input_parse(p, body, needs, &in, &ie)) {
        const char *canon, *canon2, *prompt;
        json_object *again;
        gf_input_t in2;

        check_input(&in, needs);
        canon = gf_input_to_json(p, &in);
        again = gf_json_parse(p, canon, strlen(canon), &err);
        FUZZ_CHECK(again != NULL);
        FUZZ_CHECK(gf_input_parse(p, again, needs, &in2, &ie));
        canon2 = gf_input_to_json(p, &in2);
        FUZZ_CHECK(!strcmp(canon, canon2));
        prompt = gf_prompt_build(p, gf_prompt_default_template("presets"), "presets", &in);
        FUZZ_CHECK(prompt && gf_utf8_valid_str(prompt));
    }
    else {
        FUZZ_CHECK(ie.field && ie.message && gf_utf8_valid_str(ie.field)
                   && gf_utf8_valid_str(ie.message));
    }
    fuzz_pool_end(p);
    return 0;
}
