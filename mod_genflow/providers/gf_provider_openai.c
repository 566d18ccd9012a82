/* SPDX-License-Identifier: Apache-2.0 */
/* gf_provider_openai.c: OpenAI's Images API (docs/providers.md).
 *
 * Synchronous. Without a source picture: POST {base}/images/generations
 * with JSON {model, prompt, n, size, quality, output_format, background,
 * moderation}; with one: POST {base}/images/edits in its JSON form, where
 * the pictures are images: [{image_url}] (an https URL, or the upload as a
 * data: URL; the source, then the reference pictures, 16 in all) and an
 * edit's mask is mask: {image_url}, a PNG data: URL transparent where the
 * picture is to change (gf_mask.h). base_url includes the
 * version, as OpenAI's own clients write it (https://api.openai.com/v1).
 * "Authorization: Bearer …". The GPT image models answer base64 only:
 * 200 {created, data: [{b64_json}], usage: {input_tokens, output_tokens,
 * total_tokens, …}}; the picture is decoded (gf_net_b64_picture) and the
 * tokens are the call's usage (cost_per_unit= prices one token).
 * Errors: {error: {message, type, param, code}}; code moderation_blocked
 * or content_policy_violation is a refusal (CONTENT_FILTERED, no
 * fallback), insufficient_quota and billing_hard_limit_reached are the
 * account's credits (PROVIDER_CREDITS, even on a 429), other 429s wait
 * for retry-after-ms or retry-after.
 * Options: model=ID (default gpt-image-1), quality=low|medium|high|auto,
 * output_format=png|jpeg|webp, background=transparent|opaque|auto,
 * moderation=low|auto, partial_images=0..3 + the common network options.
 *
 * With partial_images=1..3 the call asks for a stream (stream: true,
 * partial_images: N, Accept: text/event-stream): the answer is read as it
 * comes (gf_provider_openai_stream.h), each partial picture goes to the
 * job's preview hook, and the completed event is the picture. The whole
 * stream counts against max_bytes. An answer that is not a stream (an
 * error, or a server that ignored stream) is read as above.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <json-c/json.h>

#include "providers/gf_provider_net.h"
#include "providers/gf_provider_openai_stream.h"
#include "core/gf_error.h"
#include "core/gf_json.h"

#define OPENAI_BASE "https://api.openai.com/v1"
#define OPENAI_DEFAULT_MODEL "gpt-image-1"

static const struct {
    const char *key, *values;
} OPENAI_OPTIONS[] = {
    { "quality", "low|medium|high|auto" },
    { "output_format", "png|jpeg|webp" },
    { "background", "transparent|opaque|auto" },
    { "moderation", "low|auto" },
    { "partial_images", "0|1|2|3" },
};

/* The options that go into the body as they are written (partial_images
 * asks for a stream, and goes in as a number). */
#define OPENAI_BODY_OPTIONS 4

static const char *openai_set_option(apr_pool_t *p, gf_provider_t *prov,
                                     const char *key, const char *value)
{
    apr_size_t i;
    for (i = 0; i < sizeof(OPENAI_OPTIONS) / sizeof(OPENAI_OPTIONS[0]); i++) {
        if (strcmp(key, OPENAI_OPTIONS[i].key)) continue;
        if (!gf_net_one_of(value, OPENAI_OPTIONS[i].values)) {
            return apr_psprintf(p, "%s= must be one of %s", key, OPENAI_OPTIONS[i].values);
        }
        gf_net_kind_option(p, prov, OPENAI_BASE, key, value);
        return NULL;
    }
    return gf_net_set_option(p, prov, OPENAI_BASE, key, value);
}

/* The GPT image models' three sizes, by the picture's orientation. */
static const char *openai_size(const char *ar)
{
    int w, h;
    if (!ar || sscanf(ar, "%d:%d", &w, &h) != 2 || w <= 0 || h <= 0) return NULL;
    return w == h ? "1024x1024" : w > h ? "1536x1024" : "1024x1536";
}

/* A picture of the edits' JSON form: {image_url}. */
static json_object *image_ref(const char *uri)
{
    json_object *ref = json_object_new_object();
    json_object_object_add(ref, "image_url", json_object_new_string(uri ? uri : ""));
    return ref;
}

static json_object *openai_body(apr_pool_t *p, const gf_net_settings_t *ns, const gf_job_t *job,
                                const char *model, const char *source, const char *mask,
                                int partials)
{
    json_object *body = gf_json_pool_own(p, json_object_new_object());
    const char *size = openai_size(job->aspect_ratio);
    apr_size_t i;

    json_object_object_add(body, "model", json_object_new_string(model));
    json_object_object_add(body, "prompt", json_object_new_string(job->prompt));
    json_object_object_add(body, "n", json_object_new_int(job->count > 1 ? job->count : 1));
    if (size) json_object_object_add(body, "size", json_object_new_string(size));
    for (i = 0; i < OPENAI_BODY_OPTIONS; i++) {
        const char *v = gf_net_kind_get(ns, OPENAI_OPTIONS[i].key, NULL);
        if (v) json_object_object_add(body, OPENAI_OPTIONS[i].key, json_object_new_string(v));
    }
    if (partials > 0) {
        json_object_object_add(body, "stream", json_object_new_boolean(1));
        json_object_object_add(body, "partial_images", json_object_new_int(partials));
    }
    if (source || job->n_references > 0) {
        json_object *images = json_object_new_array();
        int k;
        if (source) json_object_array_add(images, image_ref(source));
        for (k = 0; k < job->n_references; k++) {
            json_object_array_add(images, image_ref(gf_provider_picture_uri(p, &job->references[k])));
        }
        json_object_object_add(body, "images", images);
    }
    if (mask) json_object_object_add(body, "mask", image_ref(mask));
    return body;
}

static void openai_failure(apr_pool_t *p, const gf_provider_t *prov, const gf_http_response_t *hr,
                           gf_provider_result_t *res)
{
    const char *err;
    json_object *out = gf_json_parse(p, hr->body, hr->body_len, &err), *e = NULL;
    const char *msg, *code;

    if (out) json_object_object_get_ex(out, "error", &e);
    msg = gf_json_str(e, "message");
    code = gf_json_str(e, "code");
    gf_net_status_failure(p, prov, hr->status,
                          msg ? gf_net_excerpt(p, msg) : gf_net_excerpt(p, hr->body),
                          gf_net_retry_after_ms(hr), res);
    if (gf_openai_refused(code)) {
        res->error_code = GF_JOB_CONTENT_FILTERED;
        res->transient = 0;
    }
    else if (gf_openai_no_credits(code)) {
        res->error_code = GF_JOB_PROVIDER_CREDITS;
        res->transient = 0;
    }
}

/* The answer as one JSON document: its picture and usage into res. */
static void openai_answer(apr_pool_t *p, const gf_provider_t *prov, const gf_job_t *job,
                          const gf_http_response_t *hr, gf_provider_result_t *res)
{
    json_object *out, *data, *first, *b64;
    const char *err;
    size_t i;

    out = gf_json_parse(p, hr->body, hr->body_len, &err);
    if (!out) {
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: malformed JSON answer (%s)",
                                                     prov->name, err));
        return;
    }
    gf_net_usage(out, "usage", "total_tokens", NULL, "tokens", res);
    if (!json_object_object_get_ex(out, "data", &data) || !json_object_is_type(data, json_type_array)
        || json_object_array_length(data) == 0
        || !(first = json_object_array_get_idx(data, 0))
        || !json_object_object_get_ex(first, "b64_json", &b64)
        || !json_object_is_type(b64, json_type_string)) {
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: the answer has no b64_json picture",
                                                     prov->name));
        return;
    }
    gf_net_b64_picture(p, prov, json_object_get_string(b64),
                       (apr_size_t)json_object_get_string_len(b64), res);
    /* n > 1: the others, as many as were asked for. */
    for (i = 1; !res->error_code && i < json_object_array_length(data)
                && i < (size_t)(job->count > 1 ? job->count : 1); i++) {
        json_object *o = json_object_array_get_idx(data, i);
        if (json_object_object_get_ex(o, "b64_json", &b64) && json_object_is_type(b64, json_type_string)) {
            gf_net_more_b64(p, json_object_get_string(b64),
                            (apr_size_t)json_object_get_string_len(b64), res);
        }
    }
}

static void openai_generate(const gf_provider_t *prov, const gf_job_t *job,
                            apr_pool_t *p, gf_provider_result_t *res)
{
    const gf_net_settings_t *ns = prov->impl;
    const char *model = job->model ? job->model
                      : (prov->default_model ? prov->default_model : OPENAI_DEFAULT_MODEL);
    const char *source = job->source_image ? gf_provider_source_uri(p, job) : NULL;
    const char *mask = NULL;
    /* A stream of partial pictures is read for one picture; several come
     * in one answer, without previews. */
    int partials = job->count > 1 ? 0 : atoi(gf_net_kind_get(ns, "partial_images", "0"));
    gf_openai_stream_t *stream = NULL;
    gf_http_request_t req;
    gf_http_response_t hr;

    if (job->mask) {
        /* OpenAI edits where the mask is transparent. */
        const unsigned char *mb;
        apr_size_t ml;
        if (!gf_provider_mask(p, prov, job, GF_MASK_CLEAR_EDITS, &mb, &ml, res)) return;
        mask = gf_provider_data_uri(p, mb, ml, "image/png");
    }
    gf_net_request(p, ns, &req, "POST",
                   apr_pstrcat(p, ns->base_url, source || job->n_references > 0
                                                ? "/images/edits" : "/images/generations", NULL));
    apr_table_set(req.headers, "Authorization", apr_pstrcat(p, "Bearer ", ns->key, NULL));
    apr_table_set(req.headers, "Content-Type", "application/json");
    apr_table_set(req.headers, "Accept", partials > 0 ? "text/event-stream, application/json"
                                                      : "application/json");
    req.body = gf_json_dump(p, openai_body(p, ns, job, model, source, mask, partials));
    req.body_len = strlen(req.body);
    if (partials > 0) {
        stream = gf_openai_stream_make(p, prov, job, req.max_response);
        req.tap = gf_openai_stream_tap;
        req.tap_baton = stream;
    }
    gf_http_perform(p, &req, &hr);
    res->model = model;
    if (hr.error) {
        gf_net_transport_failure(p, prov, &hr, res);
        return;
    }
    if (hr.status < 200 || hr.status > 299) {
        openai_failure(p, prov, &hr, res);
        return;
    }
    if (hr.tapped) gf_openai_stream_end(stream, res);
    else openai_answer(p, prov, job, &hr, res);
}

/* One exchange: the picture comes in the answer. */
static apr_interval_time_t openai_worst(const gf_provider_t *prov)
{
    return gf_net_worst(prov, 1);
}

/* n is 1..10, but DALL-E 3 draws one picture a call. */
static int openai_max_count(const gf_provider_t *prov, const char *model)
{
    const char *m = model ? model : (prov->default_model ? prov->default_model
                                                         : OPENAI_DEFAULT_MODEL);
    return !strncmp(m, "dall-e-3", 8) ? 1 : 10;
}

const gf_provider_kind_t gf_provider_kind_openai = {
    .kind = "openai",
    .max_count = openai_max_count,
    .takes_mask = 1,
    .max_references = 15,   /* 16 pictures, the source among them */
    .set_option = openai_set_option,
    .generate = openai_generate,
    .check = gf_net_check,
    .worst_attempt = openai_worst,
};
