/* SPDX-License-Identifier: Apache-2.0 */
/* gf_provider_stability.c: Stability AI v2beta stable-image (docs/providers.md).
 *
 * POST {base}/v2beta/stable-image/generate/{core|ultra|sd3} as
 * multipart/form-data (always, even for text), "Accept: image/any" (image/star). A 200 is
 * the picture with finish-reason and seed headers, or with Accept JSON
 * {image (base64), seed, finish_reason}; finish-reason CONTENT_FILTERED is
 * a blurred picture and fails the job (CONTENT_FILTERED, no fallback).
 * Asynchronous endpoints answer {id}; GET {base}/v2beta/results/{id} gives
 * 202 {id, status: in-progress} until 200 with the picture.
 * Errors: {id, name, errors[]}; 403 content_moderation → CONTENT_FILTERED.
 * An edit with a mask goes to POST {base}/v2beta/stable-image/edit/inpaint
 * instead: the source upload as image, the mask white where to paint.
 * Options: model=core|ultra|sd3|sd3.5-large|… (default core), plus the
 * common network options (gf_provider_net.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <apr_escape.h>
#include <apr_base64.h>
#include <json-c/json.h>

#include "providers/gf_provider_net.h"
#include "core/gf_error.h"
#include "core/gf_json.h"

#define STABILITY_BASE "https://api.stability.ai"
#define STABILITY_DEFAULT_MODEL "core"
/* core takes no image: image-to-image goes to the sd3 endpoint, with this
 * model, when the configured model is core. */
#define STABILITY_I2I_MODEL "sd3.5-large"
/* strength is required with an image; this when the create gave none. */
#define STABILITY_DEFAULT_STRENGTH 0.5

static const char *stability_set_option(apr_pool_t *p, gf_provider_t *prov,
                                        const char *key, const char *value)
{
    return gf_net_set_option(p, prov, STABILITY_BASE, key, value);
}

/* The v2beta error body: "name: first error". */
static const char *error_detail(apr_pool_t *p, const gf_http_response_t *hr, const char **name)
{
    const char *err;
    json_object *o = gf_json_parse(p, hr->body, hr->body_len, &err), *errors;
    const char *first = NULL;

    *name = gf_json_str(o, "name");
    if (o && json_object_object_get_ex(o, "errors", &errors)
        && json_object_is_type(errors, json_type_array) && json_object_array_length(errors) > 0) {
        first = json_object_get_string(json_object_array_get_idx(errors, 0));
    }
    if (!*name) return gf_net_excerpt(p, hr->body);
    return first ? apr_psprintf(p, "%s: %s", *name, first) : *name;
}

static void stability_answer(apr_pool_t *p, const gf_provider_t *prov,
                             const gf_http_response_t *hr, gf_provider_result_t *res)
{
    const char *name = NULL, *detail, *finish = NULL;

    if (hr->error) {
        gf_net_transport_failure(p, prov, hr, res);
        return;
    }
    if (hr->status == 202) {
        /* Poll: still working. Start of an async endpoint: accepted. */
        const char *err;
        json_object *o = gf_json_parse(p, hr->body, hr->body_len, &err);
        const char *id = gf_json_str(o, "id");
        if (id) res->provider_job_id = id;
        res->running = 1;
        return;
    }
    if (hr->status != 200) {
        detail = error_detail(p, hr, &name);
        if (hr->status == 403 && name && !strcmp(name, "content_moderation")) {
            gf_net_fail(res, GF_JOB_CONTENT_FILTERED, 0,
                        apr_psprintf(p, "%s: the request was flagged by content moderation",
                                     prov->name));
            return;
        }
        gf_net_status_failure(p, prov, hr->status, detail, gf_net_retry_after(hr), res);
        return;
    }
    if (!strncasecmp(hr->content_type, "image/", 6)) {
        finish = apr_table_get(hr->headers, "finish-reason");
        res->image = (unsigned char *)hr->body;
        res->image_len = hr->body_len;
        res->content_type = apr_pstrdup(p, hr->content_type);
    }
    else if (!strncasecmp(hr->content_type, "application/json", 16)) {
        const char *err, *b64, *id;
        json_object *o = gf_json_parse(p, hr->body, hr->body_len, &err);
        if (!o) {
            gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: malformed JSON answer (%s)",
                                                         prov->name, err));
            return;
        }
        b64 = gf_json_str(o, "image");
        finish = gf_json_str(o, "finish_reason");
        id = gf_json_str(o, "id");
        if (b64) {
            int n = apr_base64_decode_len(b64);
            unsigned char *buf = apr_palloc(p, (apr_size_t)n + 1);
            res->image_len = (apr_size_t)apr_base64_decode_binary(buf, b64);
            res->image = buf;
            res->content_type = "image/png";
        }
        else if (id) {
            res->provider_job_id = id;   /* an asynchronous start: poll it */
            return;
        }
        else {
            gf_net_fail(res, GF_JOB_API, 0, apr_psprintf(p, "%s: JSON answer without image or id",
                                                         prov->name));
            return;
        }
    }
    else {
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: unexpected content type '%s'",
                                                     prov->name, hr->content_type));
        return;
    }
    if (finish && !strcasecmp(finish, "CONTENT_FILTERED")) {
        res->image = NULL;
        res->image_len = 0;
        gf_net_fail(res, GF_JOB_CONTENT_FILTERED, 0,
                    apr_psprintf(p, "%s: the output violated the content policy (blurred)",
                                 prov->name));
        return;
    }
    if (res->image_len == 0) {
        res->image = NULL;
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: empty image", prov->name));
    }
}

static const char *const STABILITY_RATIOS[] = {
    "21:9", "16:9", "3:2", "5:4", "1:1", "4:5", "2:3", "9:16", "9:21", NULL
};

static void add_part(apr_array_header_t *parts, const char *name, const char *value)
{
    gf_http_part_t *pt = apr_array_push(parts);
    memset(pt, 0, sizeof(*pt));
    pt->name = name;
    pt->value = value;
}

static void add_file(apr_array_header_t *parts, const char *name, const unsigned char *data,
                     apr_size_t len, const char *content_type)
{
    gf_http_part_t *pt = apr_array_push(parts);
    memset(pt, 0, sizeof(*pt));
    pt->name = name;
    pt->data = data;
    pt->data_len = len;
    pt->content_type = content_type;
    pt->filename = !strcmp(content_type, "image/jpeg") ? "source.jpg"
                 : !strcmp(content_type, "image/webp") ? "source.webp" : "source.png";
}

/* An edit with a mask: POST {base}/v2beta/stable-image/edit/inpaint,
 * the source picture and the mask white where it is to change. */
static void stability_inpaint(const gf_provider_t *prov, const gf_job_t *job, apr_pool_t *p,
                              gf_provider_result_t *res)
{
    const gf_net_settings_t *ns = prov->impl;
    const unsigned char *mask;
    apr_size_t mask_len;
    gf_http_request_t req;
    gf_http_response_t hr;

    if (!job->source_bytes || !job->source_content_type) {
        gf_net_fail(res, GF_JOB_VALIDATION, 0,
                    apr_psprintf(p, "%s: an inpaint needs its source upload", prov->name));
        return;
    }
    if (!gf_provider_mask(p, prov, job, GF_MASK_WHITE_EDITS, &mask, &mask_len, res)) return;
    gf_net_request(p, ns, &req, "POST",
                   apr_pstrcat(p, ns->base_url, "/v2beta/stable-image/edit/inpaint", NULL));
    apr_table_set(req.headers, "Authorization", apr_pstrcat(p, "Bearer ", ns->key, NULL));
    apr_table_set(req.headers, "Accept", "image/*");
    req.parts = apr_array_make(p, 6, sizeof(gf_http_part_t));
    add_part(req.parts, "prompt", job->prompt);
    add_part(req.parts, "output_format", "png");
    if (job->seed) add_part(req.parts, "seed", apr_psprintf(p, "%" APR_UINT64_T_FMT, job->seed));
    add_file(req.parts, "image", job->source_bytes, job->source_len, job->source_content_type);
    add_file(req.parts, "mask", mask, mask_len, "image/png");
    gf_http_perform(p, &req, &hr);
    stability_answer(p, prov, &hr, res);
    if (res->image || res->provider_job_id) res->model = "inpaint";
}

static void stability_generate(const gf_provider_t *prov, const gf_job_t *job,
                               apr_pool_t *p, gf_provider_result_t *res)
{
    const gf_net_settings_t *ns = prov->impl;
    const char *model = job->model ? job->model
                      : (prov->default_model ? prov->default_model : STABILITY_DEFAULT_MODEL);
    const char *endpoint = model;
    gf_http_request_t req;
    gf_http_response_t hr;
    /* An upload's bytes make it image-to-image (a plain URL source is not
     * fetched for Stability: it takes the picture only as a part). */
    int i2i = job->source_bytes && job->source_len && job->source_content_type;
    int i;

    if (job->mask) {
        stability_inpaint(prov, job, p, res);
        return;
    }
    if (i2i && !strcmp(model, "core")) model = STABILITY_I2I_MODEL;
    if (!strncmp(model, "sd3.", 4)) endpoint = "sd3";
    gf_net_request(p, ns, &req, "POST",
                   apr_pstrcat(p, ns->base_url, "/v2beta/stable-image/generate/", endpoint, NULL));
    apr_table_set(req.headers, "Authorization", apr_pstrcat(p, "Bearer ", ns->key, NULL));
    apr_table_set(req.headers, "Accept", "image/*");
    req.parts = apr_array_make(p, 6, sizeof(gf_http_part_t));
    add_part(req.parts, "prompt", job->prompt);
    add_part(req.parts, "output_format", "png");
    if (endpoint != model) add_part(req.parts, "model", model);
    if (job->seed) add_part(req.parts, "seed", apr_psprintf(p, "%" APR_UINT64_T_FMT, job->seed));
    if (i2i) {
        /* sd3 names the mode (and takes no aspect ratio then); ultra
         * knows it from the image. strength: how far from the source. */
        if (!strcmp(endpoint, "sd3")) add_part(req.parts, "mode", "image-to-image");
        add_file(req.parts, "image", job->source_bytes, job->source_len,
                 job->source_content_type);
        {
            /* libc's %g: APR's formatter drops the leading zero (".35"). */
            char num[32];
            snprintf(num, sizeof(num), "%.4g", job->has_strength ? job->strength
                                                                 : STABILITY_DEFAULT_STRENGTH);
            add_part(req.parts, "strength", apr_pstrdup(p, num));
        }
    }
    for (i = 0; job->aspect_ratio && !(i2i && !strcmp(endpoint, "sd3")) && STABILITY_RATIOS[i];
         i++) {
        if (!strcmp(job->aspect_ratio, STABILITY_RATIOS[i])) {
            add_part(req.parts, "aspect_ratio", job->aspect_ratio);
        }
    }
    gf_http_perform(p, &req, &hr);
    stability_answer(p, prov, &hr, res);
    if (res->image || res->provider_job_id) res->model = model;
}

static void stability_poll(const gf_provider_t *prov, const gf_job_t *job, const char *id,
                           apr_pool_t *p, gf_provider_result_t *res)
{
    const gf_net_settings_t *ns = prov->impl;
    gf_http_request_t req;
    gf_http_response_t hr;

    gf_net_request(p, ns, &req, "GET", apr_pstrcat(p, ns->base_url, "/v2beta/results/",
                                                       apr_pescape_path_segment(p, id), NULL));
    apr_table_set(req.headers, "Authorization", apr_pstrcat(p, "Bearer ", ns->key, NULL));
    apr_table_set(req.headers, "Accept", "image/*");
    gf_http_perform(p, &req, &hr);
    stability_answer(p, prov, &hr, res);
    if (res->running) res->provider_job_id = NULL;   /* keep polling the same id */
    res->model = job->model ? job->model : prov->default_model;
}

/* The longest attempt: one request answers with the image. */
static apr_interval_time_t stability_worst(const gf_provider_t *prov)
{
    return gf_net_worst(prov, 1);
}

const gf_provider_kind_t gf_provider_kind_stability = {
    .kind = "stability",
    .takes_mask = 1,
    .set_option = stability_set_option,
    .generate = stability_generate,
    .poll = stability_poll,
    .cancel = NULL,  /* v2beta has no cancel */
    .check = gf_net_check,
    .worst_attempt = stability_worst,
};
