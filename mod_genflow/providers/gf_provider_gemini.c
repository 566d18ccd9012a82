/* SPDX-License-Identifier: Apache-2.0 */
/* gf_provider_gemini.c: Google's Gemini API, its Gemini image models and
 * Imagen (docs/providers.md).
 *
 * Synchronous, "x-goog-api-key: …", base64 answers only.
 *  - Gemini image models (gemini-2.5-flash-image, …): POST
 *    {base}/v1beta/models/{model}:generateContent with {contents: [{role,
 *    parts: [{text}, {inlineData: {mimeType, data}}]}], generationConfig:
 *    {responseModalities: [TEXT, IMAGE], imageConfig: {aspectRatio}, seed}}.
 *    The picture is the first part with inlineData; text parts beside it
 *    are ignored. promptFeedback.blockReason (no candidates) and a
 *    refusing finishReason are CONTENT_FILTERED; an answer without a
 *    picture otherwise (NO_IMAGE, text only) is an API_ERROR of its own.
 *  - Imagen (a model whose id begins with "imagen"): POST
 *    {base}/v1beta/models/{model}:predict with {instances: [{prompt}],
 *    parameters: {sampleCount, aspectRatio}}; the pictures are the
 *    predictions with bytesBase64Encoded (others carry safety attributes
 *    or raiFilteredReason: a refusal). Imagen takes no input picture.
 * A source picture travels inline: an upload's bytes, or an https URL's,
 * downloaded first as a result is (public addresses only, no key).
 * Errors: {error: {code, message, status, details}}; 429 RESOURCE_EXHAUSTED
 * waits for its RetryInfo retryDelay ("34.4s"); a key Google does not
 * know (400 with reason API_KEY_INVALID) is PROVIDER_AUTH.
 * Options: model=ID (default gemini-2.5-flash-image) + the common ones.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_escape.h>
#include <apr_base64.h>
#include <json-c/json.h>

#include "providers/gf_provider_net.h"
#include "core/gf_error.h"
#include "core/gf_json.h"

#define GEMINI_BASE "https://generativelanguage.googleapis.com"
#define GEMINI_DEFAULT_MODEL "gemini-2.5-flash-image"

/* finishReason values that refuse the content (generative_service.proto). */
static const char *const GEMINI_REFUSALS =
    "SAFETY|RECITATION|BLOCKLIST|PROHIBITED_CONTENT|SPII|IMAGE_SAFETY|IMAGE_PROHIBITED_CONTENT|"
    "IMAGE_RECITATION";

static const char *gemini_set_option(apr_pool_t *p, gf_provider_t *prov,
                                     const char *key, const char *value)
{
    return gf_net_set_option(p, prov, GEMINI_BASE, key, value);
}

static int is_imagen(const char *model)
{
    return !strncmp(model, "imagen", 6);
}

/* The aspect ratios each family takes; others are left to the model. */
static const char *gemini_ratio(const char *ar, int imagen)
{
    if (!ar) return NULL;
    return gf_net_one_of(ar, imagen ? "1:1|3:4|4:3|9:16|16:9"
                                    : "1:1|2:3|3:2|3:4|4:3|9:16|16:9|21:9") ? ar : NULL;
}

/* RetryInfo's retryDelay ("34.4s") among an error's details, rounded up. */
static apr_interval_time_t gemini_retry_delay(json_object *error)
{
    json_object *details;
    apr_size_t i;
    if (!json_object_object_get_ex(error, "details", &details)
        || !json_object_is_type(details, json_type_array)) {
        return 0;
    }
    for (i = 0; i < json_object_array_length(details); i++) {
        const char *d = gf_json_str(json_object_array_get_idx(details, i), "retryDelay");
        char *end;
        double s;
        if (!d) continue;
        s = strtod(d, &end);
        if (end == d || strcmp(end, "s") || !(s >= 0)) return 0;
        if (s > 3600) s = 3600;
        return apr_time_from_msec((apr_int64_t)(s * 1000 + 999) / 1000 * 1000);
    }
    return 0;
}

/* Is reason among an error's details (ErrorInfo.reason)? */
static int gemini_reason(json_object *error, const char *reason)
{
    json_object *details;
    apr_size_t i;
    if (!json_object_object_get_ex(error, "details", &details)
        || !json_object_is_type(details, json_type_array)) {
        return 0;
    }
    for (i = 0; i < json_object_array_length(details); i++) {
        const char *r = gf_json_str(json_object_array_get_idx(details, i), "reason");
        if (r && !strcmp(r, reason)) return 1;
    }
    return 0;
}

static void gemini_failure(apr_pool_t *p, const gf_provider_t *prov, const gf_http_response_t *hr,
                           gf_provider_result_t *res)
{
    const char *err, *msg;
    json_object *out = gf_json_parse(p, hr->body, hr->body_len, &err), *e = NULL;
    apr_interval_time_t wait;

    if (out) json_object_object_get_ex(out, "error", &e);
    msg = gf_json_str(e, "message");
    wait = gemini_retry_delay(e);
    gf_net_status_failure(p, prov, hr->status,
                          msg ? gf_net_excerpt(p, msg) : gf_net_excerpt(p, hr->body),
                          wait ? wait : gf_net_retry_after(hr), res);
    if (gemini_reason(e, "API_KEY_INVALID")) {
        res->error_code = GF_JOB_PROVIDER_AUTH;
        res->transient = 0;
    }
}

/* The source picture's bytes, as inlineData wants them: an upload's, or
 * an https URL's, fetched. NULL after filling res with the failure. */
static json_object *text_part(const char *text)
{
    json_object *part = json_object_new_object();
    json_object_object_add(part, "text", json_object_new_string(text));
    return part;
}

/* A picture as an inlineData part; NULL after filling res when it is too
 * large to encode. */
static json_object *inline_part(apr_pool_t *p, const gf_provider_t *prov,
                                const unsigned char *bytes, apr_size_t len, const char *type,
                                gf_provider_result_t *res)
{
    json_object *part, *inl;
    char *b64;

    if (len > (apr_size_t)(APR_INT32_MAX / 4 * 3 - 4)) {
        gf_net_fail(res, GF_JOB_VALIDATION, 0, apr_psprintf(p, "%s: a picture is too large",
                                                            prov->name));
        return NULL;
    }
    b64 = apr_palloc(p, (apr_size_t)apr_base64_encode_len((int)len));
    apr_base64_encode_binary(b64, bytes, (int)len);
    part = json_object_new_object();
    inl = json_object_new_object();
    json_object_object_add(inl, "mimeType", json_object_new_string(type));
    json_object_object_add(inl, "data", json_object_new_string(b64));
    json_object_object_add(part, "inlineData", inl);
    return part;
}

/* The pictures of the call as inlineData parts, in parts: the source
 * (an upload's bytes, or an https URL's, fetched), then the reference
 * pictures. 0 after filling res with the failure. */
static int gemini_pictures(apr_pool_t *p, const gf_provider_t *prov, const gf_job_t *job,
                           json_object *parts, gf_provider_result_t *res)
{
    const unsigned char *bytes;
    apr_size_t len;
    const char *type;
    json_object *part;
    int k;

    if (job->source_image) {
        if (!gf_net_source_bytes(p, prov, job, &bytes, &len, &type, res)) return 0;
        if (!(part = inline_part(p, prov, bytes, len, type, res))) return 0;
        json_object_array_add(parts, part);
    }
    for (k = 0; k < job->n_references; k++) {
        const gf_job_picture_t *r = &job->references[k];
        if (!(part = inline_part(p, prov, r->bytes, r->len, r->content_type, res))) return 0;
        json_object_array_add(parts, part);
    }
    return 1;
}

static json_object *gemini_content_body(apr_pool_t *p, const gf_job_t *job, json_object *parts)
{
    json_object *body = gf_json_pool_own(p, json_object_new_object());
    json_object *content = json_object_new_object(), *contents = json_object_new_array();
    json_object *config = json_object_new_object(), *modalities = json_object_new_array();
    const char *ratio = gemini_ratio(job->aspect_ratio, 0);

    json_object_object_add(content, "role", json_object_new_string("user"));
    json_object_object_add(content, "parts", parts);
    json_object_array_add(contents, content);
    json_object_object_add(body, "contents", contents);
    json_object_array_add(modalities, json_object_new_string("TEXT"));
    json_object_array_add(modalities, json_object_new_string("IMAGE"));
    json_object_object_add(config, "responseModalities", modalities);
    json_object_object_add(config, "candidateCount", json_object_new_int(1));
    if (ratio) {
        json_object *ic = json_object_new_object();
        json_object_object_add(ic, "aspectRatio", json_object_new_string(ratio));
        json_object_object_add(config, "imageConfig", ic);
    }
    /* The API's seed is an int32. */
    if (job->seed && job->seed <= APR_INT32_MAX) {
        json_object_object_add(config, "seed", json_object_new_int((int)job->seed));
    }
    json_object_object_add(body, "generationConfig", config);
    return body;
}

static json_object *gemini_predict_body(apr_pool_t *p, const gf_job_t *job)
{
    json_object *body = gf_json_pool_own(p, json_object_new_object());
    json_object *instances = json_object_new_array(), *inst = json_object_new_object();
    json_object *params = json_object_new_object();
    const char *ratio = gemini_ratio(job->aspect_ratio, 1);

    json_object_object_add(inst, "prompt", json_object_new_string(job->prompt));
    json_object_array_add(instances, inst);
    json_object_object_add(body, "instances", instances);
    /* Imagen makes 1..4 pictures a call. */
    json_object_object_add(params, "sampleCount",
                           json_object_new_int(job->count > 4 ? 4 : job->count > 1 ? job->count : 1));
    if (ratio) json_object_object_add(params, "aspectRatio", json_object_new_string(ratio));
    json_object_object_add(body, "parameters", params);
    return body;
}

/* generateContent's answer: the first inlineData part of the first
 * candidate, or why there is none. */
static void gemini_read_content(apr_pool_t *p, const gf_provider_t *prov, json_object *out,
                                gf_provider_result_t *res)
{
    json_object *fb, *cands, *cand, *content, *parts;
    const char *block = NULL, *finish;
    apr_size_t i;

    if (json_object_object_get_ex(out, "promptFeedback", &fb)) block = gf_json_str(fb, "blockReason");
    if (block) {
        gf_net_fail(res, GF_JOB_CONTENT_FILTERED, 0,
                    apr_psprintf(p, "%s: the prompt was blocked (blockReason %s)", prov->name,
                                 gf_net_excerpt(p, block)));
        return;
    }
    if (!json_object_object_get_ex(out, "candidates", &cands)
        || !json_object_is_type(cands, json_type_array) || json_object_array_length(cands) == 0) {
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: the answer has no candidate",
                                                     prov->name));
        return;
    }
    cand = json_object_array_get_idx(cands, 0);
    finish = gf_json_str(cand, "finishReason");
    if (finish && gf_net_one_of(finish, GEMINI_REFUSALS)) {
        gf_net_fail(res, GF_JOB_CONTENT_FILTERED, 0,
                    apr_psprintf(p, "%s: the model refused (finishReason %s)", prov->name, finish));
        return;
    }
    if (json_object_object_get_ex(cand, "content", &content)
        && json_object_object_get_ex(content, "parts", &parts)
        && json_object_is_type(parts, json_type_array)) {
        for (i = 0; i < json_object_array_length(parts); i++) {
            json_object *inl, *data;
            if (json_object_object_get_ex(json_object_array_get_idx(parts, i), "inlineData", &inl)
                && json_object_object_get_ex(inl, "data", &data)
                && json_object_is_type(data, json_type_string)) {
                gf_net_b64_picture(p, prov, json_object_get_string(data),
                                   (apr_size_t)json_object_get_string_len(data), res);
                return;
            }
        }
    }
    gf_net_fail(res, GF_JOB_API, 1,
                apr_psprintf(p, "%s: the answer has no picture (finishReason %s)", prov->name,
                             finish ? gf_net_excerpt(p, finish) : "none"));
}

/* :predict's answer: its predictions with a picture, up to the count
 * (the first into res, the others after it); a filtered one is skipped. */
static void gemini_read_predictions(apr_pool_t *p, const gf_provider_t *prov, const gf_job_t *job,
                                    json_object *out, gf_provider_result_t *res)
{
    json_object *preds, *data;
    const char *filtered = NULL;
    apr_size_t i;
    int got = 0, want = job->count > 1 ? job->count : 1;

    if (json_object_object_get_ex(out, "predictions", &preds)
        && json_object_is_type(preds, json_type_array)) {
        for (i = 0; i < json_object_array_length(preds) && got < want; i++) {
            json_object *pr = json_object_array_get_idx(preds, i);
            if (json_object_object_get_ex(pr, "bytesBase64Encoded", &data)
                && json_object_is_type(data, json_type_string)) {
                if (got++ == 0) {
                    gf_net_b64_picture(p, prov, json_object_get_string(data),
                                       (apr_size_t)json_object_get_string_len(data), res);
                    if (res->error_code) return;
                }
                else {
                    gf_net_more_b64(p, json_object_get_string(data),
                                    (apr_size_t)json_object_get_string_len(data), res);
                }
                continue;
            }
            if (!filtered) filtered = gf_json_str(pr, "raiFilteredReason");
        }
        if (got) return;
    }
    if (filtered) {
        gf_net_fail(res, GF_JOB_CONTENT_FILTERED, 0,
                    apr_psprintf(p, "%s: the picture was filtered: %s", prov->name,
                                 gf_net_excerpt(p, filtered)));
        return;
    }
    gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: the answer has no picture", prov->name));
}

static void gemini_generate(const gf_provider_t *prov, const gf_job_t *job,
                            apr_pool_t *p, gf_provider_result_t *res)
{
    const gf_net_settings_t *ns = prov->impl;
    const char *model = job->model ? job->model
                      : (prov->default_model ? prov->default_model : GEMINI_DEFAULT_MODEL);
    int imagen = is_imagen(model);
    json_object *body, *parts = json_object_new_array(), *out;
    gf_http_request_t req;
    gf_http_response_t hr;
    const char *err;

    res->model = model;
    gf_json_pool_own(p, parts);
    if ((job->source_image || job->n_references > 0) && imagen) {
        gf_net_fail(res, GF_JOB_VALIDATION, 0,
                    apr_psprintf(p, "%s: Imagen (%s) takes no source picture", prov->name, model));
        return;
    }
    /* The text first, then the pictures. */
    json_object_array_add(parts, text_part(job->prompt));
    if (!gemini_pictures(p, prov, job, parts, res)) return;
    body = imagen ? gemini_predict_body(p, job)
                  : gemini_content_body(p, job, json_object_get(parts));
    gf_net_request(p, ns, &req, "POST",
                   apr_pstrcat(p, ns->base_url, "/v1beta/models/", apr_pescape_path_segment(p, model),
                               imagen ? ":predict" : ":generateContent", NULL));
    apr_table_set(req.headers, "x-goog-api-key", ns->key);
    apr_table_set(req.headers, "Content-Type", "application/json");
    req.body = gf_json_dump(p, body);
    req.body_len = strlen(req.body);
    gf_http_perform(p, &req, &hr);
    if (hr.error) {
        gf_net_transport_failure(p, prov, &hr, res);
        return;
    }
    if (hr.status < 200 || hr.status > 299) {
        gemini_failure(p, prov, &hr, res);
        return;
    }
    if (!(out = gf_json_parse(p, hr.body, hr.body_len, &err))) {
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: malformed JSON answer (%s)",
                                                     prov->name, err));
        return;
    }
    gf_net_usage(out, "usageMetadata", "totalTokenCount", NULL, "tokens", res);
    if (imagen) gemini_read_predictions(p, prov, job, out, res);
    else gemini_read_content(p, prov, out, res);
}

/* The source picture's download, then the call. */
static apr_interval_time_t gemini_worst(const gf_provider_t *prov)
{
    return gf_net_worst(prov, 2);
}

/* Imagen's sampleCount is 1..4; a content model draws one a call. */
static int gemini_max_count(const gf_provider_t *prov, const char *model)
{
    return is_imagen(model ? model : (prov->default_model ? prov->default_model
                                                          : GEMINI_DEFAULT_MODEL)) ? 4 : 1;
}

const gf_provider_kind_t gf_provider_kind_gemini = {
    .kind = "gemini",
    .max_count = gemini_max_count,
    .max_references = 13,   /* 14 pictures, the source among them */
    .set_option = gemini_set_option,
    .generate = gemini_generate,
    .check = gf_net_check,
    .worst_attempt = gemini_worst,
};
