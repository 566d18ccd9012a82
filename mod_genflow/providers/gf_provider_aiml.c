/* SPDX-License-Identifier: Apache-2.0 */
/* gf_provider_aiml.c: AI/ML API images (docs/providers.md).
 *
 * POST {base}/v1/images/generations, OpenAI-shaped JSON {model, prompt, …}
 * with "Authorization: Bearer …"; synchronous: 200 (older specs say 201;
 * any 2xx is taken) {data: [{url | b64_json}], meta}. A URL result is
 * downloaded at once. 403 means out of credits (PROVIDER_CREDITS), not a
 * permission problem. Errors: {message, path, requestId, statusCode, …}.
 * Options: model=ID (default flux/schnell) + the common network options.
 */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <apr_base64.h>
#include <json-c/json.h>

#include "providers/gf_provider_net.h"
#include "core/gf_error.h"
#include "core/gf_json.h"

#define AIML_BASE "https://api.aimlapi.com"
#define AIML_DEFAULT_MODEL "flux/schnell"

static const char *aiml_set_option(apr_pool_t *p, gf_provider_t *prov,
                                   const char *key, const char *value)
{
    return gf_net_set_option(p, prov, AIML_BASE, key, value);
}

/* A count of more than one: the answer's other pictures, as many as were
 * asked for, each in the form it came in. */
static void aiml_more(apr_pool_t *p, const gf_provider_t *prov, const gf_net_settings_t *ns,
                      const gf_job_t *job, json_object *data, gf_provider_result_t *res)
{
    size_t i;
    for (i = 1; i < json_object_array_length(data) && i < (size_t)(job->count > 1 ? job->count : 1);
         i++) {
        json_object *o = json_object_array_get_idx(data, i);
        const char *b64 = gf_json_str(o, "b64_json"), *url = gf_json_str(o, "url");
        if (b64 && *b64) gf_net_more_b64(p, b64, strlen(b64), res);
        else if (url && *url) gf_net_more_download(p, prov, ns, url, res);
    }
}

/* The request: OpenAI's shape, with the model's own name for a count. */
static json_object *aiml_body(apr_pool_t *p, const gf_job_t *job, const char *model)
{
    json_object *body = gf_json_pool_own(p, json_object_new_object());

    json_object_object_add(body, "model", json_object_new_string(model));
    json_object_object_add(body, "prompt", json_object_new_string(job->prompt));
    if (job->seed) json_object_object_add(body, "seed", json_object_new_int64((int64_t)job->seed));
    if (job->count > 1) {
        /* OpenAI's models there take OpenAI's n; the others num_images. */
        int openai = !strncmp(model, "dall-e", 6) || !strncmp(model, "openai/", 7);
        json_object_object_add(body, openai ? "n" : "num_images", json_object_new_int(job->count));
    }
    if (job->source_image) {
        /* The https URL when there is one, else the upload inline. */
        const char *src = gf_provider_source_uri(p, job);
        if (src) json_object_object_add(body, "image_url", json_object_new_string(src));
        if (job->has_strength) {
            json_object_object_add(body, "strength", json_object_new_double(job->strength));
        }
    }
    return body;
}

static void aiml_generate(const gf_provider_t *prov, const gf_job_t *job,
                          apr_pool_t *p, gf_provider_result_t *res)
{
    const gf_net_settings_t *ns = prov->impl;
    const char *model = job->model ? job->model
                      : (prov->default_model ? prov->default_model : AIML_DEFAULT_MODEL);
    json_object *body = aiml_body(p, job, model), *out, *data, *first;
    gf_http_request_t req;
    gf_http_response_t hr;
    const char *err, *b64, *url;

    gf_net_request(p, ns, &req, "POST", apr_pstrcat(p, ns->base_url, "/v1/images/generations", NULL));
    apr_table_set(req.headers, "Authorization", apr_pstrcat(p, "Bearer ", ns->key, NULL));
    apr_table_set(req.headers, "Content-Type", "application/json");
    req.body = gf_json_dump(p, body);
    req.body_len = strlen(req.body);
    gf_http_perform(p, &req, &hr);
    res->model = model;
    if (hr.error) {
        gf_net_transport_failure(p, prov, &hr, res);
        return;
    }
    if (hr.status < 200 || hr.status > 299) {
        out = gf_json_parse(p, hr.body, hr.body_len, &err);
        gf_net_status_failure(p, prov, hr.status,
                              gf_json_str(out, "message") ? gf_json_str(out, "message")
                                                        : gf_net_excerpt(p, hr.body),
                              gf_net_retry_after(&hr), res);
        if (hr.status == 403) {
            res->error_code = GF_JOB_PROVIDER_CREDITS;   /* AIML: "You've run out of credits" */
        }
        return;
    }
    if (strncasecmp(hr.content_type, "application/json", 16)) {
        /* A proxy's maintenance page, most likely: worth another try. */
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: unexpected content type '%s'",
                                                     prov->name, hr.content_type));
        return;
    }
    out = gf_json_parse(p, hr.body, hr.body_len, &err);
    if (!out) {
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: malformed JSON answer (%s)",
                                                     prov->name, err));
        return;
    }
    gf_net_usage(out, "meta", "usage", "credits_used", "credits", res);
    if (!json_object_object_get_ex(out, "data", &data) || !json_object_is_type(data, json_type_array)
        || json_object_array_length(data) == 0) {
        gf_net_fail(res, GF_JOB_API, 0, apr_psprintf(p, "%s: the answer has no data", prov->name));
        return;
    }
    first = json_object_array_get_idx(data, 0);
    if ((b64 = gf_json_str(first, "b64_json")) != NULL && *b64) {
        unsigned char *buf = apr_palloc(p, (apr_size_t)apr_base64_decode_len(b64) + 1);
        res->image_len = (apr_size_t)apr_base64_decode_binary(buf, b64);
        res->image = buf;
        res->content_type = "image/png";
        if (res->image_len == 0) {
            /* b64_json that decodes to nothing: no picture to store or charge for */
            res->image = NULL;
            gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: empty image", prov->name));
            return;
        }
    }
    else if ((url = gf_json_str(first, "url")) != NULL && *url) {
        gf_net_download(p, prov, ns, url, res);
        if (res->error_code) return;
    }
    else {
        gf_net_fail(res, GF_JOB_API, 0, apr_psprintf(p, "%s: the answer has neither url nor "
                                                     "b64_json", prov->name));
        return;
    }
    aiml_more(p, prov, ns, job, data, res);
}

/* The longest attempt: the request, then the download of the result. */
static apr_interval_time_t aiml_worst(const gf_provider_t *prov)
{
    return gf_net_worst(prov, 2);
}

/* OpenAI's models there take n (1..10; DALL-E 3 one), the others
 * num_images (1..4). */
static int aiml_max_count(const gf_provider_t *prov, const char *model)
{
    const char *m = model ? model : (prov->default_model ? prov->default_model
                                                         : AIML_DEFAULT_MODEL);
    if (!strncmp(m, "dall-e-3", 8) || !strncmp(m, "openai/dall-e-3", 15)) return 1;
    return !strncmp(m, "dall-e", 6) || !strncmp(m, "openai/", 7) ? 10 : 4;
}

const gf_provider_kind_t gf_provider_kind_aiml = {
    .kind = "aiml",
    .max_count = aiml_max_count,
    .set_option = aiml_set_option,
    .generate = aiml_generate,
    .check = gf_net_check,
    .worst_attempt = aiml_worst,
};
