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
/* referenceImages' bounds here (OpenAI's edits take 16); the type's
 * GenFlowMaxReferences bounds it again in the glue. */
#define GF_REFERENCES_MAX         16
#define GF_REFERENCES_DEFAULT_MAX 4

/* What a type requires in its create body (GenFlowRequire). */
#define GF_NEED_PROMPT        0x1u
#define GF_NEED_SOURCE_IMAGE  0x2u
#define GF_NEED_PRESET        0x4u

/* What a type takes beyond the fields every type takes (GenFlowAccept). */
#define GF_ACCEPT_MASK        0x1u
#define GF_ACCEPT_REFERENCES  0x2u

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
    const char *mask;            /* "upload:<uuid>" of a PNG the size of the
                                  * source upload, or NULL */
    const char *const *references; /* "upload:<uuid>" each, n_references of them */
    int n_references;
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

/* An "upload:<uuid>" reference in v, lower-cased into *out: 1, or 0 and
 * *err naming field. */
int gf_input_upload_ref(apr_pool_t *p, json_object *v, const char *field, const char **out,
                        gf_input_error_t *err);

/* Record a rejection of field (fmt names it). Returns 0. */
int gf_input_fail(gf_input_error_t *err, apr_pool_t *p, const char *field,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* gf_input_edits.c: the fields of an edit, mask and referenceImages. */
int gf_input_get_mask(apr_pool_t *p, json_object *v, gf_input_t *in, gf_input_error_t *err);
int gf_input_get_references(apr_pool_t *p, json_object *v, gf_input_t *in,
                            gf_input_error_t *err);
/* The rules between fields: a mask edits a source upload. */
int gf_input_edits_consistent(apr_pool_t *p, const gf_input_t *in, gf_input_error_t *err);
void gf_input_edits_to_json(json_object *o, const gf_input_t *in);

/* Whether the type takes what the input gives (accepts: GF_ACCEPT_*,
 * max_references: GenFlowMaxReferences). 1, or 0 and *err. */
int gf_input_edits_accepted(apr_pool_t *p, const gf_input_t *in, unsigned accepts,
                            int max_references, gf_input_error_t *err);

/* An upload as its row describes it (the create reads the rows of the
 * uploads an input names, the caller's only). */
typedef struct {
    const char *id;              /* the uuid, lower case */
    const char *content_type;    /* image/png, image/jpeg, image/webp */
    unsigned width, height;
} gf_upload_info_t;

/* The uploads an edit names ("id,id,…", the source's first): NULL when
 * the input names no mask and no reference (the create's own statement
 * checks a source alone). */
const char *gf_input_edit_upload_ids(apr_pool_t *p, const gf_input_t *in);

/* The uploads whose pictures a content policy sees ("id,id,…": the
 * source, then the references; a mask is no picture of its own), or
 * NULL for none. */
const char *gf_input_picture_upload_ids(apr_pool_t *p, const gf_input_t *in);

/* Every upload the input names is among ups (the caller's), the mask is
 * a PNG the size of the source. 1, or 0 and *err naming the field. */
int gf_input_edit_uploads_ok(apr_pool_t *p, const gf_input_t *in, const gf_upload_info_t *ups,
                             int n, gf_input_error_t *err);

/* Parse the words of GenFlowAccept, "mask" and "referenceImages". */
int gf_input_accept_from_word(const char *word, unsigned *accept);

/* Parse the needs words "prompt", "sourceImage", "preset" (config). */
int gf_input_need_from_word(const char *word, unsigned *need);

/* Number of Unicode code points in a valid UTF-8 string. */
apr_size_t gf_utf8_length(const char *s);

#endif
