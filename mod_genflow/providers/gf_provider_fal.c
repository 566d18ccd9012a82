/* SPDX-License-Identifier: Apache-2.0 */
/* gf_provider_fal.c: fal.ai queue API (docs/providers.md).
 *
 * Submit POST {base}/{model} (the full model id with any sub-path) with the
 * model input as JSON and "Authorization: Key …"; the answer names
 * request_id, status_url, response_url and cancel_url, which are stored
 * and always followed (they drop the model's sub-path). Status answers 202
 * {status: IN_QUEUE|IN_PROGRESS} until 200 {status: COMPLETED}; then the
 * response_url gives the output {images: [{url, …}], has_nsfw_concepts, …}
 * (a first picture its safety checker flagged fails the job:
 * CONTENT_FILTERED, no fallback), whose picture is
 * downloaded at once (fal URLs are temporary). fal re-queues failed runs
 * itself, so an accepted request is polled, never submitted again.
 * Errors: {detail: "…"} or {detail: [{loc, msg, type}]}.
 * Options: model=owner/app[/path] (default fal-ai/fast-sdxl) + common ones.
 * With webhook_url the submit carries ?fal_webhook=URL; the webhook
 * (Ed25519, keys from webhook_keys_file) wakes the poll at once.
 * The status is asked for with ?logs=1: a running model's log lines carry
 * its progress bar (gf_progress_scan), the newest line with one counts.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_escape.h>
#include <json-c/json.h>

#include "providers/gf_provider_net.h"
#include "webhooks/gf_webhook.h"
#include "core/gf_error.h"
#include "core/gf_json.h"
#include "core/gf_progress.h"

#define FAL_BASE "https://queue.fal.run"
#define FAL_DEFAULT_MODEL "fal-ai/fast-sdxl"

/* The URLs a submit answer names, and fal's documented shape of each. */
static const struct {
    const char *member, *suffix;
} FAL_URLS[] = {
    { "status_url", "/status" },
    { "response_url", "" },
    { "cancel_url", "/cancel" },
};

static const char *fal_set_option(apr_pool_t *p, gf_provider_t *prov,
                                  const char *key, const char *value)
{
    return gf_net_set_option(p, prov, FAL_BASE, key, value);
}

static const char *fal_detail(apr_pool_t *p, const gf_http_response_t *hr)
{
    const char *err;
    json_object *o = gf_json_parse(p, hr->body, hr->body_len, &err), *d;
    if (o && json_object_object_get_ex(o, "detail", &d)) {
        if (json_object_is_type(d, json_type_string)) return json_object_get_string(d);
        if (json_object_is_type(d, json_type_array) && json_object_array_length(d) > 0) {
            json_object *first = json_object_array_get_idx(d, 0);
            const char *msg = gf_json_str(first, "msg");
            if (msg) return msg;
        }
    }
    return gf_net_excerpt(p, hr->body);
}

static void fal_auth(apr_pool_t *p, const gf_net_settings_t *ns, gf_http_request_t *req)
{
    apr_table_set(req->headers, "Authorization", apr_pstrcat(p, "Key ", ns->key, NULL));
    apr_table_set(req->headers, "Accept", "application/json");
}

static int fal_failed(apr_pool_t *p, const gf_provider_t *prov, const gf_http_response_t *hr,
                      gf_provider_result_t *res)
{
    if (hr->error) {
        gf_net_transport_failure(p, prov, hr, res);
        return 1;
    }
    if (hr->status >= 300) {
        gf_net_status_failure(p, prov, hr->status, fal_detail(p, hr), gf_net_retry_after(hr), res);
        return 1;
    }
    return 0;
}

static const char *image_size(const char *ar)
{
    if (!ar) return NULL;
    if (!strcmp(ar, "1:1")) return "square_hd";
    if (!strcmp(ar, "4:3")) return "landscape_4_3";
    if (!strcmp(ar, "16:9")) return "landscape_16_9";
    if (!strcmp(ar, "3:4")) return "portrait_4_3";
    if (!strcmp(ar, "9:16")) return "portrait_16_9";
    return NULL;
}

static void fal_generate(const gf_provider_t *prov, const gf_job_t *job,
                         apr_pool_t *p, gf_provider_result_t *res)
{
    const gf_net_settings_t *ns = prov->impl;
    const char *model = job->model ? job->model
                      : (prov->default_model ? prov->default_model : FAL_DEFAULT_MODEL);
    json_object *in = gf_json_pool_own(p, json_object_new_object()), *out, *state;
    gf_http_request_t req;
    gf_http_response_t hr;
    const char *err, *id, *size = image_size(job->aspect_ratio);
    int i;

    json_object_object_add(in, "prompt", json_object_new_string(job->prompt));
    if (job->seed) json_object_object_add(in, "seed", json_object_new_int64((int64_t)job->seed));
    if (size) json_object_object_add(in, "image_size", json_object_new_string(size));
    /* Several pictures in the one job (its models take num_images). */
    if (job->count > 1) json_object_object_add(in, "num_images", json_object_new_int(job->count));
    if (job->source_image) {
        /* An upload goes inline as a data: URI (fal accepts one wherever
         * it takes an image URL), or as its https storage URL. */
        const char *src = gf_provider_source_uri(p, job);
        if (src) json_object_object_add(in, "image_url", json_object_new_string(src));
        if (job->has_strength) {
            json_object_object_add(in, "strength", json_object_new_double(job->strength));
        }
    }
    gf_net_request(p, ns, &req, "POST", apr_pstrcat(p, ns->base_url, "/", model, NULL));
    if (ns->webhook_url) {
        req.url = apr_pstrcat(p, req.url, "?fal_webhook=",
                              apr_pescape_urlencoded(p, ns->webhook_url), NULL);
    }
    fal_auth(p, ns, &req);
    apr_table_set(req.headers, "Content-Type", "application/json");
    req.body = gf_json_dump(p, in);
    req.body_len = strlen(req.body);
    gf_http_perform(p, &req, &hr);
    if (fal_failed(p, prov, &hr, res)) return;

    out = gf_json_parse(p, hr.body, hr.body_len, &err);
    id = gf_json_str(out, "request_id");
    if (!id) {
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: submit answer without request_id",
                                                     prov->name));
        return;
    }
    state = gf_json_pool_own(p, json_object_new_object());
    for (i = 0; i < 3; i++) {
        /* The URLs fal returns drop the model's sub-path; without them,
         * build fal's documented ones. Either way the key goes only to
         * the configured origin. */
        const char *u = gf_json_str(out, FAL_URLS[i].member);
        if (!u) {
            u = apr_psprintf(p, "%s/%s/requests/%s%s", ns->base_url, model,
                             apr_pescape_path_segment(p, id), FAL_URLS[i].suffix);
        }
        if ((err = gf_net_followable(p, prov, ns, u)) != NULL) {
            gf_net_fail(res, GF_JOB_API, 0, err);
            return;
        }
        json_object_object_add(state, FAL_URLS[i].member, json_object_new_string(u));
    }
    res->provider_job_id = id;
    res->provider_state = gf_json_dump(p, state);
    res->model = model;
    if (ns->webhook_url) res->retry_after = apr_time_from_sec(ns->webhook_poll_secs);
}

/* Did the model's safety checker flag the first picture (the one taken)?
 * has_nsfw_concepts: one boolean per picture. */
static int nsfw_flagged(json_object *out)
{
    json_object *flags, *first;
    if (!json_object_object_get_ex(out, "has_nsfw_concepts", &flags)
        || !json_object_is_type(flags, json_type_array) || json_object_array_length(flags) == 0) {
        return 0;
    }
    first = json_object_array_get_idx(flags, 0);
    return json_object_is_type(first, json_type_boolean) && json_object_get_boolean(first);
}

/* The newest progress bar in a status answer's logs [{message, …}]. */
static void fal_progress(json_object *out, gf_provider_result_t *res)
{
    json_object *logs;
    apr_size_t i;
    if (!json_object_object_get_ex(out, "logs", &logs) || !json_object_is_type(logs, json_type_array)) {
        return;
    }
    for (i = json_object_array_length(logs); i > 0; i--) {
        json_object *line = json_object_array_get_idx(logs, i - 1), *m;
        if (json_object_object_get_ex(line, "message", &m) && json_object_is_type(m, json_type_string)
            && gf_progress_scan(json_object_get_string(m), (apr_size_t)json_object_get_string_len(m),
                                &res->progress)) {
            res->has_progress = 1;
            return;
        }
    }
}

/* The status URL with ?logs=1 (fal's URLs carry no query of their own;
 * one that does gets the parameter added). */
static const char *with_logs(apr_pool_t *p, const char *url)
{
    return apr_pstrcat(p, url, strchr(url, '?') ? "&" : "?", "logs=1", NULL);
}

static void fal_poll(const gf_provider_t *prov, const gf_job_t *job, const char *id,
                     apr_pool_t *p, gf_provider_result_t *res)
{
    const gf_net_settings_t *ns = prov->impl;
    const char *err, *status, *url;
    json_object *state = job->provider_state
        ? gf_json_parse(p, job->provider_state, strlen(job->provider_state), &err) : NULL;
    json_object *out, *images;
    gf_http_request_t req;
    gf_http_response_t hr;
    size_t i;

    (void)id;
    res->model = job->model ? job->model : prov->default_model;
    if (!gf_json_str(state, "status_url") || !gf_json_str(state, "response_url")) {
        gf_net_fail(res, GF_JOB_API, 0, "fal request state lost");
        return;
    }
    gf_net_request(p, ns, &req, "GET", with_logs(p, gf_json_str(state, "status_url")));
    fal_auth(p, ns, &req);
    gf_http_perform(p, &req, &hr);
    if (fal_failed(p, prov, &hr, res)) return;
    out = gf_json_parse(p, hr.body, hr.body_len, &err);
    status = gf_json_str(out, "status");
    if (!status) {
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: malformed status answer",
                                                     prov->name));
        return;
    }
    if (strcmp(status, "COMPLETED")) {
        res->running = 1;   /* IN_QUEUE or IN_PROGRESS */
        fal_progress(out, res);
        if (ns->webhook_url) res->retry_after = apr_time_from_sec(ns->webhook_poll_secs);
        return;
    }
    gf_net_request(p, ns, &req, "GET", gf_json_str(state, "response_url"));
    fal_auth(p, ns, &req);
    gf_http_perform(p, &req, &hr);
    if (fal_failed(p, prov, &hr, res)) {
        if (res->error_code && !strcmp(res->error_code, GF_JOB_VALIDATION)) {
            res->transient = 0;   /* the model refused the input */
        }
        return;
    }
    out = gf_json_parse(p, hr.body, hr.body_len, &err);
    if (!out || !json_object_object_get_ex(out, "images", &images)
        || !json_object_is_type(images, json_type_array) || json_object_array_length(images) == 0
        || !(url = gf_json_str(json_object_array_get_idx(images, 0), "url"))) {
        gf_net_fail(res, GF_JOB_API, 0, apr_psprintf(p, "%s: the result has no image",
                                                     prov->name));
        return;
    }
    if (nsfw_flagged(out)) {
        /* The model's safety checker replaced the picture (a black one):
         * the provider refused the content, as Stability's
         * CONTENT_FILTERED; no fallback, refunded. */
        gf_net_fail(res, GF_JOB_CONTENT_FILTERED, 0,
                    apr_psprintf(p, "%s: the model's safety checker flagged the picture "
                                 "(has_nsfw_concepts)", prov->name));
        return;
    }
    gf_net_download(p, prov, ns, url, res);
    if (res->error_code) return;
    {
        /* fal says the seed it drew with: the first picture's. */
        json_object *seed;
        if (json_object_object_get_ex(out, "seed", &seed) && json_object_is_type(seed, json_type_int)
            && json_object_get_int64(seed) >= 0) {
            res->has_seed = 1;
            res->seed = (apr_uint64_t)json_object_get_int64(seed);
        }
    }
    /* num_images: the others, as many as were asked for. */
    for (i = 1; i < json_object_array_length(images) && i < (size_t)(job->count > 1 ? job->count : 1);
         i++) {
        gf_net_more_download(p, prov, ns, gf_json_str(json_object_array_get_idx(images, i), "url"),
                             res);
    }
}

static void fal_cancel(const gf_provider_t *prov, const char *id, const char *state_json,
                       apr_pool_t *p)
{
    const gf_net_settings_t *ns = prov->impl;
    const char *err;
    json_object *state = state_json ? gf_json_parse(p, state_json, strlen(state_json), &err) : NULL;
    gf_http_request_t req;
    gf_http_response_t hr;

    (void)id;
    if (!gf_json_str(state, "cancel_url")) return;
    gf_net_request(p, ns, &req, "PUT", gf_json_str(state, "cancel_url"));
    fal_auth(p, ns, &req);
    req.timeout_ms = 5000;   /* best effort: the refund does not wait for it */
    gf_http_perform(p, &req, &hr);
}

/* The longest attempt: a poll asks for the status, the result, then downloads it. */
static apr_interval_time_t fal_worst(const gf_provider_t *prov)
{
    return gf_net_worst(prov, 3);
}

/* fal signs with Ed25519 under keys it publishes (webhook_keys_file). */
static const char *fal_webhook_verify(apr_pool_t *p, const gf_provider_t *prov,
                                      const apr_table_t *headers, const char *body,
                                      apr_size_t len, apr_time_t now)
{
    const gf_net_settings_t *ns = prov->impl;
    if (!ns || !ns->webhook_keys) return "this provider kind sends no webhooks";
    return gf_webhook_verify_fal(p, ns->webhook_keys,
                                 apr_table_get(headers, "X-Fal-Webhook-Request-Id"),
                                 apr_table_get(headers, "X-Fal-Webhook-User-Id"),
                                 apr_table_get(headers, "X-Fal-Webhook-Timestamp"),
                                 apr_table_get(headers, "X-Fal-Webhook-Signature"),
                                 body, len, now);
}

/* num_images is 1..4 on fal's image models. */
static int fal_max_count(const gf_provider_t *prov, const char *model)
{
    (void)prov;
    (void)model;
    return 4;
}

const gf_provider_kind_t gf_provider_kind_fal = {
    .kind = "fal",
    .max_count = fal_max_count,
    .set_option = fal_set_option,
    .generate = fal_generate,
    .poll = fal_poll,
    .cancel = fal_cancel,
    .check = gf_net_check,
    .worst_attempt = fal_worst,
    .webhook_verify = fal_webhook_verify,
    .webhook_job_field = "request_id",
    .submits_jobs = 1,
};
