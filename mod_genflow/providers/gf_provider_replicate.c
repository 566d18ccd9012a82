/* SPDX-License-Identifier: Apache-2.0 */
/* gf_provider_replicate.c: Replicate predictions API (docs/providers.md).
 *
 * Create: POST {base}/v1/models/{owner}/{name}/predictions, or
 * POST {base}/v1/predictions with {"version"} when the model names one
 * ("owner/name:version" or a 64-hex id), body {"input": {…}}, with
 * "Authorization: Bearer …" and "Prefer: wait=N" so fast models answer in
 * the create call. 201 with the prediction: succeeded (output is a URL or
 * a list of URLs, downloaded at once: outputs vanish after an hour),
 * failed/canceled/aborted, or starting/processing, then polled by
 * urls.get and cancelled by urls.cancel.
 * Replicate has no idempotency key: a create that timed out or got a 5xx
 * may have created a paid prediction, so it is NOT retried (the chain falls
 * back instead); only 429 — refused, nothing created — is retried.
 * Errors: RFC 7807 {type, title, status, detail}.
 * Options: model=owner/name[:version], wait=SECONDS (Prefer: wait; default
 * 10) + the common network options. With webhook_url the prediction is
 * created with {"webhook", "webhook_events_filter": ["completed"]}; the
 * webhook (signed with webhook_secret_*) wakes the poll at once.
 * A running prediction's "logs" carry a diffusion model's progress bar
 * (gf_progress_scan).
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_escape.h>
#include <apr_lib.h>
#include <json-c/json.h>

#include "providers/gf_provider_net.h"
#include "webhooks/gf_webhook.h"
#include "core/gf_error.h"
#include "core/gf_json.h"
#include "core/gf_progress.h"

#define REPLICATE_BASE "https://api.replicate.com"
#define REPLICATE_DEFAULT_MODEL "black-forest-labs/flux-schnell"
#define REPLICATE_DEFAULT_WAIT 10   /* seconds of Prefer: wait */

static const char *replicate_set_option(apr_pool_t *p, gf_provider_t *prov,
                                        const char *key, const char *value)
{
    if (!strcmp(key, "count_input")) {
        /* The model's input that takes a number of pictures (num_outputs
         * for most): models differ, so the site names it. */
        apr_size_t i, n = strlen(value);
        if (n == 0 || n > 64) return "count_input= must be an input's name (1..64 of a-z, 0-9, _)";
        for (i = 0; i < n; i++) {
            if (!((value[i] >= 'a' && value[i] <= 'z') || (value[i] >= '0' && value[i] <= '9')
                  || value[i] == '_')) {
                return "count_input= must be an input's name (1..64 of a-z, 0-9, _)";
            }
        }
        gf_net_kind_option(p, prov, REPLICATE_BASE, key, value);
        return NULL;
    }
    return gf_net_set_option(p, prov, REPLICATE_BASE, key, value);
}

static void auth(apr_pool_t *p, const gf_net_settings_t *ns, gf_http_request_t *req)
{
    apr_table_set(req->headers, "Authorization", apr_pstrcat(p, "Bearer ", ns->key, NULL));
}

static const char *problem_detail(apr_pool_t *p, const gf_http_response_t *hr)
{
    const char *err;
    json_object *o = gf_json_parse(p, hr->body, hr->body_len, &err);
    const char *title = gf_json_str(o, "title"), *detail = gf_json_str(o, "detail");
    if (title && detail) return apr_psprintf(p, "%s: %s", title, detail);
    if (detail) return detail;
    if (title) return title;
    return gf_net_excerpt(p, hr->body);
}

/* count_input=: the output's other pictures, as many as were asked for,
 * each downloaded. */
static void more_outputs(apr_pool_t *p, const gf_provider_t *prov, const gf_job_t *job,
                         json_object *output, gf_provider_result_t *res)
{
    const gf_net_settings_t *ns = prov->impl;
    size_t i, want = job && job->count > 1 && gf_net_kind_get(ns, "count_input", NULL)
                     ? (size_t)job->count : 1;
    if (!json_object_is_type(output, json_type_array)) return;
    for (i = 1; i < json_object_array_length(output) && i < want; i++) {
        json_object *u = json_object_array_get_idx(output, i);
        if (json_object_is_type(u, json_type_string)) {
            gf_net_more_download(p, prov, ns, json_object_get_string(u), res);
        }
    }
}

/* Read a prediction object into res. */
static void prediction(apr_pool_t *p, const gf_provider_t *prov, const gf_job_t *job,
                       const gf_http_response_t *hr, gf_provider_result_t *res)
{
    const gf_net_settings_t *ns = prov->impl;
    const char *err, *status, *id, *url = NULL;
    json_object *o = gf_json_parse(p, hr->body, hr->body_len, &err), *output, *urls, *state;

    status = gf_json_str(o, "status");
    id = gf_json_str(o, "id");
    if (!status || !id) {
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: malformed prediction (%s)",
                                                     prov->name, o ? "no status/id" : err));
        return;
    }
    /* Its URLs, to poll and cancel with. */
    state = gf_json_pool_own(p, json_object_new_object());
    if (json_object_object_get_ex(o, "urls", &urls)) {
        if (gf_json_str(urls, "get"))
            json_object_object_add(state, "get", json_object_new_string(gf_json_str(urls, "get")));
        if (gf_json_str(urls, "cancel"))
            json_object_object_add(state, "cancel", json_object_new_string(gf_json_str(urls, "cancel")));
    }
    if (!gf_json_str(state, "get")) {
        json_object_object_add(state, "get", json_object_new_string(
            apr_psprintf(p, "%s/v1/predictions/%s", ns->base_url, apr_pescape_path_segment(p, id))));
    }
    /* The key goes only to the configured origin: an answer that sends us
     * elsewhere is not believed (and its prediction not recorded). */
    if ((err = gf_net_followable(p, prov, ns, gf_json_str(state, "get"))) != NULL
        || (gf_json_str(state, "cancel")
            && (err = gf_net_followable(p, prov, ns, gf_json_str(state, "cancel"))) != NULL)) {
        gf_net_fail(res, GF_JOB_API, 0, err);
        return;
    }
    res->provider_job_id = id;
    res->provider_state = gf_json_dump(p, state);
    if (job && job->accepted && strcmp(status, "failed") && strcmp(status, "canceled")
        && strcmp(status, "aborted")) {
        job->accepted(job->accepted_baton, id, res->provider_state);
    }
    /* Terminal predictions say how long they ran: what Replicate bills. */
    gf_net_usage(o, "metrics", "predict_time", NULL, "seconds", res);
    if (!strcmp(status, "succeeded")) {
        if (json_object_object_get_ex(o, "output", &output)) {
            if (json_object_is_type(output, json_type_string)) {
                url = json_object_get_string(output);
            }
            else if (json_object_is_type(output, json_type_array)
                     && json_object_array_length(output) > 0) {
                url = json_object_get_string(json_object_array_get_idx(output, 0));
            }
        }
        if (!url) {
            gf_net_fail(res, GF_JOB_API, 0, apr_psprintf(p, "%s: prediction %s has no output",
                                                         prov->name, id));
            return;
        }
        gf_net_download(p, prov, ns, url, res);
        if (!res->error_code) more_outputs(p, prov, job, output, res);
        return;
    }
    if (!strcmp(status, "failed") || !strcmp(status, "canceled") || !strcmp(status, "aborted")) {
        const char *e = gf_json_str(o, "error");
        gf_net_fail(res, GF_JOB_API, 0, apr_psprintf(p, "%s: prediction %s %s%s%s", prov->name,
                                                     id, status, e ? ": " : "", e ? e : ""));
        return;
    }
    /* starting / processing: poll it (provider_job_id and state are set).
     * A diffusion model's progress bar is in its logs. */
    {
        json_object *logs;
        if (json_object_object_get_ex(o, "logs", &logs) && json_object_is_type(logs, json_type_string)
            && gf_progress_scan(json_object_get_string(logs),
                                (apr_size_t)json_object_get_string_len(logs), &res->progress)) {
            res->has_progress = 1;
        }
    }
    if (ns->webhook_url) {
        res->retry_after = apr_time_from_sec(ns->webhook_poll_secs);
    }
}

static int is_version_id(const char *s)
{
    int n = 0;
    for (; *s; s++, n++) if (!apr_isxdigit(*s)) return 0;
    return n == 64;
}

static void replicate_generate(const gf_provider_t *prov, const gf_job_t *job,
                               apr_pool_t *p, gf_provider_result_t *res)
{
    const gf_net_settings_t *ns = prov->impl;
    const char *model = job->model ? job->model
                      : (prov->default_model ? prov->default_model : REPLICATE_DEFAULT_MODEL);
    const char *colon = strchr(model, ':'), *url;
    int wait = ns->prefer_wait < 0 ? REPLICATE_DEFAULT_WAIT : ns->prefer_wait;
    json_object *body = gf_json_pool_own(p, json_object_new_object());
    json_object *input = json_object_new_object();
    gf_http_request_t req;
    gf_http_response_t hr;

    json_object_object_add(input, "prompt", json_object_new_string(job->prompt));
    if (job->seed) json_object_object_add(input, "seed", json_object_new_int64((int64_t)job->seed));
    if (job->count > 1 && gf_net_kind_get(ns, "count_input", NULL)) {
        json_object_object_add(input, gf_net_kind_get(ns, "count_input", NULL),
                               json_object_new_int(job->count));
    }
    if (job->aspect_ratio) {
        json_object_object_add(input, "aspect_ratio", json_object_new_string(job->aspect_ratio));
    }
    if (job->source_image) {
        /* Replicate takes a data: URI or an https URL for a file input. */
        const char *src = gf_provider_source_uri(p, job);
        if (src) json_object_object_add(input, "image", json_object_new_string(src));
        if (job->has_strength) {
            json_object_object_add(input, "prompt_strength",
                                   json_object_new_double(job->strength));
        }
    }
    if (colon || is_version_id(model)) {
        json_object_object_add(body, "version", json_object_new_string(colon ? colon + 1 : model));
        url = apr_pstrcat(p, ns->base_url, "/v1/predictions", NULL);
    }
    else {
        url = apr_pstrcat(p, ns->base_url, "/v1/models/", model, "/predictions", NULL);
    }
    json_object_object_add(body, "input", input);
    if (ns->webhook_url) {
        json_object *events = json_object_new_array();
        json_object_array_add(events, json_object_new_string("completed"));
        json_object_object_add(body, "webhook", json_object_new_string(ns->webhook_url));
        json_object_object_add(body, "webhook_events_filter", events);
    }
    gf_net_request(p, ns, &req, "POST", url);
    auth(p, ns, &req);
    apr_table_set(req.headers, "Content-Type", "application/json");
    if (wait > 0) {
        apr_table_set(req.headers, "Prefer", apr_psprintf(p, "wait=%d", wait));
        /* The server may hold the answer that long: allow for it. */
        if (req.timeout_ms < (wait + 10) * 1000L) {
            req.timeout_ms = (wait + 10) * 1000L;
        }
    }
    req.body = gf_json_dump(p, body);
    req.body_len = strlen(req.body);
    gf_http_perform(p, &req, &hr);
    res->model = model;
    if (hr.error) {
        gf_net_transport_failure(p, prov, &hr, res);
        res->transient = 0;   /* it may have been created: never re-POST blindly */
        return;
    }
    if (hr.status != 200 && hr.status != 201) {
        gf_net_status_failure(p, prov, hr.status, problem_detail(p, &hr), gf_net_retry_after(&hr),
                              res);
        if (hr.status != 429) res->transient = 0;
        return;
    }
    prediction(p, prov, job, &hr, res);
}

static void replicate_poll(const gf_provider_t *prov, const gf_job_t *job, const char *id,
                           apr_pool_t *p, gf_provider_result_t *res)
{
    const gf_net_settings_t *ns = prov->impl;
    const char *err, *get;
    json_object *state = job->provider_state
        ? gf_json_parse(p, job->provider_state, strlen(job->provider_state), &err) : NULL;
    gf_http_request_t req;
    gf_http_response_t hr;

    res->model = job->model ? job->model : prov->default_model;
    get = gf_json_str(state, "get");
    gf_net_request(p, ns, &req, "GET",
                   get ? get : apr_psprintf(p, "%s/v1/predictions/%s", ns->base_url,
                                             apr_pescape_path_segment(p, id)));
    auth(p, ns, &req);
    gf_http_perform(p, &req, &hr);
    if (hr.error) {
        gf_net_transport_failure(p, prov, &hr, res);
        return;
    }
    if (hr.status != 200) {
        gf_net_status_failure(p, prov, hr.status, problem_detail(p, &hr), gf_net_retry_after(&hr),
                              res);
        return;
    }
    prediction(p, prov, NULL, &hr, res);
    if (res->provider_job_id) {
        /* Running only while it has neither its picture nor an error: a
         * succeeded prediction's picture is a delivery, priced with cost=
         * (gf_provider_attempt_cost). */
        if (!res->image && !res->image_url && !res->error_code) res->running = 1;
        res->provider_job_id = NULL;   /* same prediction, keep polling */
        res->provider_state = NULL;
    }
}

static void replicate_cancel(const gf_provider_t *prov, const char *id, const char *state_json,
                             apr_pool_t *p)
{
    const gf_net_settings_t *ns = prov->impl;
    const char *err, *url;
    json_object *state = state_json ? gf_json_parse(p, state_json, strlen(state_json), &err) : NULL;
    gf_http_request_t req;
    gf_http_response_t hr;

    url = gf_json_str(state, "cancel");
    gf_net_request(p, ns, &req, "POST",
                   url ? url : apr_psprintf(p, "%s/v1/predictions/%s/cancel", ns->base_url,
                                             apr_pescape_path_segment(p, id)));
    auth(p, ns, &req);
    req.timeout_ms = 5000;
    gf_http_perform(p, &req, &hr);
}

/* The longest attempt: create (or poll), then the download. */
static apr_interval_time_t replicate_worst(const gf_provider_t *prov)
{
    return gf_net_worst(prov, 2);
}

/* Replicate signs as Standard Webhooks says, with the whsec_ secret of
 * the declaration (webhook_secret_file / _env). */
static const char *replicate_webhook_verify(apr_pool_t *p, const gf_provider_t *prov,
                                            const apr_table_t *headers, const char *body,
                                            apr_size_t len, apr_time_t now)
{
    const gf_net_settings_t *ns = prov->impl;
    if (!ns || !ns->webhook_secret) return "this provider kind sends no webhooks";
    return gf_webhook_verify_replicate(p, ns->webhook_secret,
                                       apr_table_get(headers, "webhook-id"),
                                       apr_table_get(headers, "webhook-timestamp"),
                                       apr_table_get(headers, "webhook-signature"),
                                       body, len, now);
}

/* With count_input= the model takes a number (num_outputs is 1..4 on
 * the common image models); without it, one picture a call. */
static int replicate_max_count(const gf_provider_t *prov, const char *model)
{
    (void)model;
    return gf_net_kind_get(prov->impl, "count_input", NULL) ? 4 : 1;
}

const gf_provider_kind_t gf_provider_kind_replicate = {
    .kind = "replicate",
    .max_count = replicate_max_count,
    .set_option = replicate_set_option,
    .generate = replicate_generate,
    .poll = replicate_poll,
    .cancel = replicate_cancel,
    .check = gf_net_check,
    .worst_attempt = replicate_worst,
    .webhook_verify = replicate_webhook_verify,
    .webhook_job_field = "id",
    .submits_jobs = 1,
};
