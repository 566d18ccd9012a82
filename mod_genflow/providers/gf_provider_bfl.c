/* SPDX-License-Identifier: Apache-2.0 */
/* gf_provider_bfl.c: Black Forest Labs' FLUX API (docs/providers.md).
 *
 * Asynchronous only, "x-key: …". Submit POST {base}/v1/{model} with JSON
 * {prompt, seed, width and height (or aspect_ratio for the models that
 * take one), output_format, input_image}; 200 {id, polling_url, cost}.
 * The job is then polled, never submitted again: GET polling_url (the key
 * goes with it, so its origin must be base_url's or its host one of
 * poll_hosts=) answers {id, status, result, progress}, status one of
 * Pending, Ready, Request Moderated, Content Moderated, Error,
 * Task not found. On Ready the picture at result.sample is fetched at
 * once (BFL keeps it 10 minutes): an expired one (403, 404, 410) fails
 * the job for good rather than asking again. The moderated states are
 * CONTENT_FILTERED; 402 (no credits) is PROVIDER_CREDITS and opens the
 * circuit (gf_breaker.h). BFL runs 24 tasks of an account at once: a
 * site says max_jobs=24 (docs/providers.md). The submit's cost (credits)
 * is the call's usage. BFL has no cancel.
 * An edit with a mask goes to FLUX Fill (fill_model=, default
 * flux-pro-1.0-fill) with {prompt, seed, image, mask}, the mask white
 * where to paint; reference pictures go to Kontext's input_image_2..4.
 * Options: model=ID (default flux-pro-1.1), output_format=jpeg|png|webp
 * (default png), safety_tolerance=0..6, poll_hosts=HOST[,HOST…] (a
 * "*.domain" entry allows that domain's hosts; default *.bfl.ai with the
 * public base_url, else none) + the common network options.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include <json-c/json.h>

#include "providers/gf_provider_net.h"
#include "core/gf_error.h"
#include "core/gf_json.h"

#define BFL_BASE "https://api.bfl.ai"
#define BFL_DEFAULT_MODEL "flux-pro-1.1"
/* An edit with a mask goes to FLUX Fill, whatever model= says. */
#define BFL_FILL_MODEL "flux-pro-1.0-fill"

static const char *bfl_set_option(apr_pool_t *p, gf_provider_t *prov,
                                  const char *key, const char *value)
{
    if (!strcmp(key, "output_format")) {
        if (!gf_net_one_of(value, "jpeg|png|webp")) return "output_format= must be jpeg, png or webp";
    }
    else if (!strcmp(key, "safety_tolerance")) {
        if (!gf_net_one_of(value, "0|1|2|3|4|5|6")) return "safety_tolerance= must be 0..6";
    }
    else if (!strcmp(key, "fill_model")) {
        if (!*value || strchr(value, '/') || strchr(value, '?')) {
            return "fill_model= takes a model id (flux-pro-1.0-fill)";
        }
    }
    else if (!strcmp(key, "poll_hosts")) {
        if (!*value || strchr(value, '/') || strchr(value, ':')) {
            return "poll_hosts= takes host names separated by commas (a *.domain allows its hosts)";
        }
    }
    else {
        return gf_net_set_option(p, prov, BFL_BASE, key, value);
    }
    gf_net_kind_option(p, prov, BFL_BASE, key, value);
    return NULL;
}

/* FLUX1.1 [pro] and [dev] take width and height (multiples of 32 within
 * 256..1440); Ultra and Kontext take the ratio itself. */
static void bfl_size(json_object *in, const char *model, const char *ar)
{
    int w, h;
    if (!ar) return;
    if (strstr(model, "ultra") || strstr(model, "kontext")) {
        json_object_object_add(in, "aspect_ratio", json_object_new_string(ar));
    }
    else if (gf_net_ratio_size(ar, &w, &h)) {
        json_object_object_add(in, "width", json_object_new_int(w));
        json_object_object_add(in, "height", json_object_new_int(h));
    }
}

/* The source picture as input_image takes it: an https URL, or the
 * upload's bytes in base64 (without the data: prefix). */
static const char *bfl_source(apr_pool_t *p, const gf_job_t *job)
{
    const char *uri = gf_provider_source_uri(p, job), *comma;
    if (!uri || strncmp(uri, "data:", 5)) return uri;
    comma = strchr(uri, ',');
    return comma ? comma + 1 : NULL;
}

/* Base64 of bytes as BFL's JSON takes pictures (no data: prefix). */
static const char *bfl_b64(apr_pool_t *p, const unsigned char *bytes, apr_size_t len,
                           const char *type)
{
    const char *uri = gf_provider_data_uri(p, bytes, len, type), *comma;
    comma = uri ? strchr(uri, ',') : NULL;
    return comma ? comma + 1 : NULL;
}

/* An edit's pictures into the body: with a mask (FLUX Fill) the source
 * as image and the mask white where to paint; reference pictures as
 * Kontext's input_image_2.. after the source (input_image onwards
 * without one). 0 with res set when the mask does not convert. */
static int bfl_edits(apr_pool_t *p, const gf_provider_t *prov, const gf_job_t *job,
                     json_object *in, gf_provider_result_t *res)
{
    int k, at = job->source_image ? 2 : 1;

    if (job->mask) {
        const unsigned char *m;
        apr_size_t ml;
        const char *src = bfl_b64(p, job->source_bytes, job->source_len, job->source_content_type);
        if (!src) {
            gf_net_fail(res, GF_JOB_VALIDATION, 0,
                        apr_psprintf(p, "%s: a fill needs its source upload", prov->name));
            return 0;
        }
        if (!gf_provider_mask(p, prov, job, GF_MASK_WHITE_EDITS, &m, &ml, res)) return 0;
        json_object_object_add(in, "image", json_object_new_string(src));
        json_object_object_add(in, "mask", json_object_new_string(bfl_b64(p, m, ml, "image/png")));
        return 1;
    }
    if (job->source_image) {
        const char *src = bfl_source(p, job);
        if (src) json_object_object_add(in, "input_image", json_object_new_string(src));
    }
    for (k = 0; k < job->n_references; k++, at++) {
        const gf_job_picture_t *r = &job->references[k];
        const char *v = r->url && !strncasecmp(r->url, "https://", 8)
                        ? r->url : bfl_b64(p, r->bytes, r->len, r->content_type);
        json_object_object_add(in, at == 1 ? "input_image" : apr_psprintf(p, "input_image_%d", at),
                               json_object_new_string(v ? v : ""));
    }
    return 1;
}

static void bfl_failure(apr_pool_t *p, const gf_provider_t *prov, const gf_http_response_t *hr,
                        gf_provider_result_t *res)
{
    const char *err, *detail = NULL;
    json_object *out = gf_json_parse(p, hr->body, hr->body_len, &err), *d;

    if (out && json_object_object_get_ex(out, "detail", &d)) {
        if (json_object_is_type(d, json_type_string)) detail = json_object_get_string(d);
        else if (json_object_is_type(d, json_type_array) && json_object_array_length(d) > 0) {
            detail = gf_json_str(json_object_array_get_idx(d, 0), "msg");
        }
    }
    if (!detail && out) detail = gf_json_str(out, "error");
    gf_net_status_failure(p, prov, hr->status,
                          detail ? gf_net_excerpt(p, detail) : gf_net_excerpt(p, hr->body),
                          gf_net_retry_after(hr), res);
}

/* Does host match one entry of the list ("a.b.c", "*.b.c")? */
static int bfl_host_listed(const char *host, const char *list, apr_pool_t *p)
{
    char *copy = apr_pstrdup(p, list), *last = NULL, *e;
    apr_size_t hl = strlen(host);
    for (e = apr_strtok(copy, ",", &last); e; e = apr_strtok(NULL, ",", &last)) {
        if (!strncmp(e, "*.", 2)) {
            apr_size_t el = strlen(e + 1);   /* ".b.c" */
            if (hl > el && !strcasecmp(host + hl - el, e + 1)) return 1;
        }
        else if (!strcasecmp(host, e)) {
            return 1;
        }
    }
    return 0;
}

/* May the key go to this polling URL? NULL, or why not. Its origin is
 * base_url's, or https (loopback http with insecure_loopback=on) on a
 * host of poll_hosts=. */
static const char *bfl_pollable(apr_pool_t *p, const gf_provider_t *prov,
                                const gf_net_settings_t *ns, const char *url)
{
    const char *dflt = !strcmp(ns->base_url, BFL_BASE) ? "*.bfl.ai" : NULL;
    const char *hosts = gf_net_kind_get(ns, "poll_hosts", dflt), *why;
    apr_uri_t u;

    if (!gf_net_followable(p, prov, ns, url)) return NULL;
    if (hosts && apr_uri_parse(p, url, &u) == APR_SUCCESS && u.hostname
        && bfl_host_listed(u.hostname, hosts, p)
        && !(why = gf_http_check_url(p, url, ns->insecure_loopback))) {
        return NULL;
    }
    return apr_psprintf(p, "%s: refused to poll %s: its host is not base_url's nor in poll_hosts=",
                        prov->name, gf_net_excerpt(p, url));
}

static void bfl_generate(const gf_provider_t *prov, const gf_job_t *job,
                         apr_pool_t *p, gf_provider_result_t *res)
{
    const gf_net_settings_t *ns = prov->impl;
    const char *model = job->model ? job->model
                      : (prov->default_model ? prov->default_model : BFL_DEFAULT_MODEL);
    json_object *in = gf_json_pool_own(p, json_object_new_object()), *out, *state;
    const char *err, *id, *poll, *tol = gf_net_kind_get(ns, "safety_tolerance", NULL);
    gf_http_request_t req;
    gf_http_response_t hr;

    if (job->masked) model = gf_net_kind_get(ns, "fill_model", BFL_FILL_MODEL);
    res->model = model;
    json_object_object_add(in, "prompt", json_object_new_string(job->prompt));
    if (job->seed) json_object_object_add(in, "seed", json_object_new_int64((int64_t)job->seed));
    if (!job->mask) bfl_size(in, model, job->aspect_ratio);
    json_object_object_add(in, "output_format",
                           json_object_new_string(gf_net_kind_get(ns, "output_format", "png")));
    if (tol) json_object_object_add(in, "safety_tolerance", json_object_new_int(atoi(tol)));
    if (!bfl_edits(p, prov, job, in, res)) return;
    gf_net_request(p, ns, &req, "POST", apr_pstrcat(p, ns->base_url, "/v1/", model, NULL));
    apr_table_set(req.headers, "x-key", ns->key);
    apr_table_set(req.headers, "Content-Type", "application/json");
    apr_table_set(req.headers, "Accept", "application/json");
    req.body = gf_json_dump(p, in);
    req.body_len = strlen(req.body);
    gf_http_perform(p, &req, &hr);
    if (hr.error) {
        gf_net_transport_failure(p, prov, &hr, res);
        return;
    }
    if (hr.status < 200 || hr.status > 299) {
        bfl_failure(p, prov, &hr, res);
        return;
    }
    out = gf_json_parse(p, hr.body, hr.body_len, &err);
    id = gf_json_str(out, "id");
    poll = gf_json_str(out, "polling_url");
    if (!id || !*id) {
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: submit answer without id", prov->name));
        return;
    }
    /* Older answers named no polling_url: the documented one. */
    if (!poll) poll = apr_pstrcat(p, ns->base_url, "/v1/get_result?id=", id, NULL);
    /* The key goes with every poll: an answer that sends it elsewhere is
     * not believed (and its task not recorded). */
    if ((err = bfl_pollable(p, prov, ns, poll)) != NULL) {
        gf_net_fail(res, GF_JOB_API, 0, err);
        return;
    }
    state = gf_json_pool_own(p, json_object_new_object());
    json_object_object_add(state, "polling_url", json_object_new_string(poll));
    res->provider_job_id = id;
    res->provider_state = gf_json_dump(p, state);
    gf_net_usage(out, "cost", NULL, NULL, "credits", res);
}

/* The picture of a Ready task, fetched at once. */
static void bfl_fetch(apr_pool_t *p, const gf_provider_t *prov, const gf_net_settings_t *ns,
                      json_object *out, gf_provider_result_t *res)
{
    json_object *result;
    const char *url = json_object_object_get_ex(out, "result", &result)
                    ? gf_json_str(result, "sample") : NULL;
    int status;

    if (!url || !*url) {
        gf_net_fail(res, GF_JOB_API, 0, apr_psprintf(p, "%s: a Ready task without result.sample",
                                                     prov->name));
        return;
    }
    status = gf_net_fetch(p, prov, ns, url, res);
    if (res->error_code && (status == 403 || status == 404 || status == 410)) {
        gf_net_fail(res, GF_JOB_API, 0,
                    apr_psprintf(p, "%s: the result's picture has expired or is gone (HTTP %d; "
                                 "BFL keeps it 10 minutes)", prov->name, status));
    }
}

static void bfl_poll(const gf_provider_t *prov, const gf_job_t *job, const char *id,
                     apr_pool_t *p, gf_provider_result_t *res)
{
    const gf_net_settings_t *ns = prov->impl;
    const char *err, *url, *status, *why;
    json_object *state = job->provider_state
        ? gf_json_parse(p, job->provider_state, strlen(job->provider_state), &err) : NULL;
    json_object *out, *prog;
    gf_http_request_t req;
    gf_http_response_t hr;

    (void)id;
    res->model = job->masked ? gf_net_kind_get(ns, "fill_model", BFL_FILL_MODEL)
               : job->model ? job->model
               : (prov->default_model ? prov->default_model : BFL_DEFAULT_MODEL);
    if (!(url = gf_json_str(state, "polling_url"))) {
        gf_net_fail(res, GF_JOB_API, 0, "bfl task state lost");
        return;
    }
    if ((why = bfl_pollable(p, prov, ns, url)) != NULL) {
        gf_net_fail(res, GF_JOB_API, 0, why);
        return;
    }
    gf_net_request(p, ns, &req, "GET", url);
    req.origin = url;   /* checked above: base_url's origin or a listed host */
    apr_table_set(req.headers, "x-key", ns->key);
    apr_table_set(req.headers, "Accept", "application/json");
    gf_http_perform(p, &req, &hr);
    if (hr.error) {
        gf_net_transport_failure(p, prov, &hr, res);
        return;
    }
    if (hr.status < 200 || hr.status > 299) {
        bfl_failure(p, prov, &hr, res);
        return;
    }
    out = gf_json_parse(p, hr.body, hr.body_len, &err);
    if (!(status = gf_json_str(out, "status"))) {
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: malformed poll answer", prov->name));
        return;
    }
    if (!strcmp(status, "Pending")) {
        res->running = 1;
        if (json_object_object_get_ex(out, "progress", &prog)
            && (json_object_is_type(prog, json_type_double) || json_object_is_type(prog, json_type_int))
            && json_object_get_double(prog) >= 0 && json_object_get_double(prog) <= 1) {
            res->has_progress = 1;
            res->progress = (int)(json_object_get_double(prog) * 100) / 100.0;
        }
        return;
    }
    if (!strcmp(status, "Ready")) {
        bfl_fetch(p, prov, ns, out, res);
        return;
    }
    if (!strcmp(status, "Request Moderated") || !strcmp(status, "Content Moderated")) {
        gf_net_fail(res, GF_JOB_CONTENT_FILTERED, 0, apr_psprintf(p, "%s: %s", prov->name, status));
        return;
    }
    /* Error, Task not found, or a state this module does not know. */
    gf_net_fail(res, GF_JOB_API, 0, apr_psprintf(p, "%s: the task ended: %s", prov->name,
                                                 gf_net_excerpt(p, status)));
}

/* The longest attempt: a poll, then the picture's download. */
static apr_interval_time_t bfl_worst(const gf_provider_t *prov)
{
    return gf_net_worst(prov, 2);
}

const gf_provider_kind_t gf_provider_kind_bfl = {
    .kind = "bfl",
    .takes_mask = 1,
    .max_references = 3,    /* Kontext's input_image_2..4 */
    .set_option = bfl_set_option,
    .generate = bfl_generate,
    .poll = bfl_poll,
    .check = gf_net_check,
    .worst_attempt = bfl_worst,
    .submits_jobs = 1,
};
