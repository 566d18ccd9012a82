/* SPDX-License-Identifier: Apache-2.0 */
/* gf_input.h: validation of the create fields of docs/api.md.
 *
 * A create body is untrusted JSON; this is the only code that reads it.
 * Unknown fields, wrong types and out-of-range values are rejected with a
 * message that names the field, so a front-end developer can fix the call.
 */
#ifndef GF_INPUT_H
#define GF_INPUT_H

#include <apr_pools.h>
#include <json-c/json.h>

#define GF_PROMPT_MAX_CHARS      2000
#define GF_URL_MAX_CHARS         2048
#define GF_PRESET_MAX_CHARS      64
#define GF_SEED_MAX              4294967294.0
/* cancelAfter's bounds here; the type's deadline bounds it again in the glue. */
#define GF_CANCEL_AFTER_MAX      86400
/* count's bounds here (OpenAI's n goes to 10); the type's GenFlowMaxCount
 * bounds it again in the glue. */
#define GF_COUNT_MAX             10
#define GF_COUNT_DEFAULT_MAX     4
/* sourceImage may name one of the user's uploads: "upload:<uuid>". */
#define GF_UPLOAD_REF_PREFIX     "upload:"

/* What a type requires in its create body (GenFlowRequire). */
#define GF_NEED_PROMPT        0x1u
#define GF_NEED_SOURCE_IMAGE  0x2u
#define GF_NEED_PRESET        0x4u

typedef struct {
    const char *prompt;          /* NULL when absent */
    const char *preset;
    const char *source_image;
    const char *style;
    const char *quality;
    const char *aspect_ratio;
    const char *custom_prompt;
    int has_guidance_scale;
    double guidance_scale;
    int has_num_inference_steps;
    int num_inference_steps;
    int has_strength;
    double strength;
    int has_seed;
    apr_uint64_t seed;
    const char *webhook;         /* where the site's backend hears of it, or NULL */
    unsigned webhook_events;     /* GF_WEBHOOK_* (the terminal ones by default) */
    int cancel_after;            /* seconds from the request the client still wants
                                  * it (cancelAfter, or Cancel-After), 0: none */
    int count;                   /* pictures asked for, 1..GF_COUNT_MAX (1 when
                                  * not given) */
} gf_input_t;

/* The events a create's webhookEvents may name. */
#define GF_WEBHOOK_STARTED    0x1u
#define GF_WEBHOOK_COMPLETED  0x2u
#define GF_WEBHOOK_FAILED     0x4u
#define GF_WEBHOOK_CANCELLED  0x8u
#define GF_WEBHOOK_TERMINAL   (GF_WEBHOOK_COMPLETED | GF_WEBHOOK_FAILED | GF_WEBHOOK_CANCELLED)

typedef struct {
    const char *field;           /* the offending field, e.g. "parameters.seed" */
    const char *message;         /* a sentence naming it */
} gf_input_error_t;

/* Validate a parsed create body. Returns 1 and fills *in, or 0 and fills
 * *err. */
int gf_input_parse(apr_pool_t *p, json_object *body, unsigned needs,
                   gf_input_t *in, gf_input_error_t *err);

/* cancelAfter alone (generate of a created generation takes it beside
 * generationId): 1 and *seconds, or 0 and *err. */
int gf_input_cancel_after(apr_pool_t *p, json_object *v, int *seconds, gf_input_error_t *err);

/* Canonical JSON of the validated input (stored with the generation so a
 * retry or an idempotent replay sees exactly what was accepted). */
const char *gf_input_to_json(apr_pool_t *p, const gf_input_t *in);

/* The upload id of an "upload:<uuid>" source image, else NULL. */
const char *gf_input_upload_id(const char *source_image);

/* Parse the needs words "prompt", "sourceImage", "preset" (config). */
int gf_input_need_from_word(const char *word, unsigned *need);

/* Number of Unicode code points in a valid UTF-8 string. */
apr_size_t gf_utf8_length(const char *s);

#endif
