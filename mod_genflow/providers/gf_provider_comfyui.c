/* SPDX-License-Identifier: Apache-2.0 */
/* gf_provider_comfyui.c: a site's own ComfyUI server (docs/providers.md).
 *
 * The site's workflow, in ComfyUI's API format (node id → {class_type,
 * inputs}), is read at startup (workflow=PATH); the declaration names
 * the node inputs that take the prompt, the seed, the size, the steps
 * (parameters.num_inference_steps), the source picture and an edit's mask
 * (prompt=6.text seed=3.seed width=5.width height=5.height steps=3.steps
 * image=10.image mask=11.image: the mask is uploaded as a second picture,
 * white where to paint, for a LoadImageMask node).
 * Asynchronous:
 *  - submit: a source picture first goes to POST {base}/api/upload/image
 *    (multipart: image, type=input, subfolder=genflow, overwrite=true;
 *    answer {name, subfolder, type}), then POST {base}/api/prompt
 *    {prompt: graph, client_id, prompt_id} with a prompt_id of our own (a
 *    random UUID): 200 {prompt_id, number, node_errors}. node_errors
 *    (on a 400, or even on a 200) fails the job for good: the nodes are
 *    named in the error_log, the user's answer says only that the server
 *    refused the workflow.
 *  - poll (no thread waits in between: the engine's poll path):
 *    GET {base}/api/queue says whether it is queued or running; if not,
 *    GET {base}/api/history/{id} has it, {id: {outputs, status:
 *    {status_str, messages}}} (ComfyUI moves a finished prompt from the
 *    queue to the history under one lock), or it is lost: a server that
 *    restarted forgets its queue, and one that refuses the connection is
 *    down with it, so the prompt is gone (job_lost): it is submitted
 *    again, a group's member chosen again; still charged once. Success:
 *    the first output image (type "output") is fetched with
 *    GET {base}/api/view?filename&subfolder&type.
 *    Error: the failing node (execution_error) is logged.
 *  - cancel: POST {base}/api/queue {delete: [id]} removes it if queued;
 *    then, only if GET /api/queue shows this very prompt running,
 *    POST {base}/api/interrupt {prompt_id: id}: never another's.
 * A ComfyUI server usually sits on a private address and speaks plain
 * http: every request goes to exactly base_url's origin (http allowed
 * there only), and no URL is taken from an answer. ComfyUI has no key;
 * one given (key_file=, key_env=: a proxy in front) goes as a Bearer.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <apr_escape.h>
#include <apr_uuid.h>
#include <apr_hash.h>
#include <apr_uri.h>
#include <json-c/json.h>

#include "providers/gf_provider_net.h"
#include "core/gf_error.h"
#include "core/gf_input.h"
#include "core/gf_json.h"
#include "core/gf_log.h"
#include "core/gf_secret.h"

#define COMFY_BASE "http://127.0.0.1:8188"
#define COMFY_WORKFLOW_MAX 4194304

/* The node inputs a declaration may map, by option name. */
static const char *const COMFY_SLOTS[] = { "prompt", "seed", "width", "height", "steps", "image",
                                            "batch", "mask", NULL };

static int comfy_slot(const char *key)
{
    int i;
    for (i = 0; COMFY_SLOTS[i]; i++) {
        if (!strcmp(key, COMFY_SLOTS[i])) return 1;
    }
    return 0;
}

/* "NODE.INPUT" (split at the last dot: node ids may hold dots or
 * colons). */
static int comfy_split(apr_pool_t *p, const char *v, const char **node, const char **input)
{
    const char *dot = strrchr(v, '.');
    if (!dot || dot == v || !dot[1]) return 0;
    *node = apr_pstrmemdup(p, v, (apr_size_t)(dot - v));
    *input = dot + 1;
    return 1;
}

/* A workflow in ComfyUI's API format: an object of nodes, each an object
 * with a class_type and an inputs object. NULL or why not. */
static const char *comfy_graph_check(apr_pool_t *p, const char *text, json_object **graph)
{
    const char *err;
    json_object *g = gf_json_parse(p, text, strlen(text), &err);

    if (!g) return apr_psprintf(p, "not JSON (%s)", err);
    if (!json_object_is_type(g, json_type_object) || json_object_object_length(g) == 0) {
        return "not an object of nodes (export it with \"Save (API Format)\")";
    }
    json_object_object_foreach(g, id, node) {
        json_object *in;
        if (!gf_json_str(node, "class_type") || !json_object_object_get_ex(node, "inputs", &in)
            || !json_object_is_type(in, json_type_object)) {
            return apr_psprintf(p, "node %s has no class_type or inputs (API format expected)",
                                gf_net_excerpt(p, id));
        }
    }
    *graph = g;
    return NULL;
}

/* The inputs object of the mapped node, or NULL. */
static json_object *comfy_inputs(apr_pool_t *p, json_object *graph, const char *mapping,
                                 const char **input)
{
    const char *node;
    json_object *n, *in;
    if (!mapping || !comfy_split(p, mapping, &node, input)
        || !json_object_object_get_ex(graph, node, &n)
        || !json_object_object_get_ex(n, "inputs", &in)) {
        return NULL;
    }
    return in;
}

/* Does every mapping name an input the workflow has? NULL or why not.
 * Run as the options come (either may come first), so that apache2 -t
 * stops on a typo. */
static const char *comfy_mappings_check(apr_pool_t *p, const gf_net_settings_t *ns)
{
    const char *text = gf_net_kind_get(ns, "workflow", NULL), *input;
    json_object *g = NULL;
    int i;

    if (!text || comfy_graph_check(p, text, &g)) return NULL;
    for (i = 0; COMFY_SLOTS[i]; i++) {
        const char *m = gf_net_kind_get(ns, COMFY_SLOTS[i], NULL);
        json_object *in;
        if (!m) continue;
        if (!(in = comfy_inputs(p, g, m, &input)) || !json_object_object_get_ex(in, input, NULL)) {
            return apr_psprintf(p, "%s=%s: the workflow has no such node input", COMFY_SLOTS[i], m);
        }
    }
    return NULL;
}

static const char *comfy_set_option(apr_pool_t *p, gf_provider_t *prov,
                                    const char *key, const char *value)
{
    const char *node, *input, *text, *err;
    json_object *g;

    if (!strcmp(key, "workflow")) {
        if ((err = gf_secret_text_from_file(p, key, value, &text)) != NULL) return err;
        if (strlen(text) > COMFY_WORKFLOW_MAX) return apr_psprintf(p, "workflow %s is too large", value);
        if ((err = comfy_graph_check(p, text, &g)) != NULL) {
            return apr_psprintf(p, "workflow %s: %s", value, err);
        }
        gf_net_kind_option(p, prov, COMFY_BASE, key, text);
        return comfy_mappings_check(p, prov->impl);
    }
    if (comfy_slot(key)) {
        if (!comfy_split(p, value, &node, &input)) {
            return apr_psprintf(p, "%s= takes NODE.INPUT (a node id of the workflow and one "
                                "of its inputs), not '%s'", key, value);
        }
        gf_net_kind_option(p, prov, COMFY_BASE, key, value);
        return comfy_mappings_check(p, prov->impl);
    }
    if (!strcmp(key, "client_id")) {
        if (!*value || strlen(value) > 64) return "client_id= takes 1..64 characters";
        gf_net_kind_option(p, prov, COMFY_BASE, key, value);
        return NULL;
    }
    return gf_net_set_option(p, prov, COMFY_BASE, key, value);
}

/* Startup: a base URL (http allowed: the site's own server), a workflow,
 * a prompt input, and every mapping naming an input the workflow has. */
static const char *comfy_check(apr_pool_t *p, const gf_provider_t *prov)
{
    const gf_net_settings_t *ns = prov->impl;
    const char *text = gf_net_kind_get(ns, "workflow", NULL), *err;
    apr_uri_t u;

    if (!ns || apr_uri_parse(p, ns->base_url, &u) != APR_SUCCESS || !u.scheme || !u.hostname
        || (strcasecmp(u.scheme, "http") && strcasecmp(u.scheme, "https"))) {
        return apr_psprintf(p, "provider %s: base_url must be the server's http or https URL",
                            prov->name);
    }
    if (!text) return apr_psprintf(p, "provider %s: add workflow=PATH (API format)", prov->name);
    if (!gf_net_kind_get(ns, "prompt", NULL)) {
        return apr_psprintf(p, "provider %s: add prompt=NODE.INPUT (where the prompt goes)",
                            prov->name);
    }
    if ((err = comfy_mappings_check(p, ns)) != NULL) {
        return apr_psprintf(p, "provider %s: %s", prov->name, err);
    }
    return NULL;
}

/* A request to the server: its origin only, plain http allowed there. */
static void comfy_request(apr_pool_t *p, const gf_net_settings_t *ns, gf_http_request_t *req,
                          const char *method, const char *path)
{
    gf_net_request(p, ns, req, method, apr_pstrcat(p, ns->base_url, path, NULL));
    req->http_to_origin = 1;
    if (ns->key) apr_table_set(req->headers, "Authorization", apr_pstrcat(p, "Bearer ", ns->key, NULL));
}

/* Put a value into a mapped input (checked at startup to exist). */
static void comfy_set(apr_pool_t *p, json_object *graph, const gf_net_settings_t *ns,
                      const char *slot, json_object *value)
{
    const char *input;
    json_object *in = comfy_inputs(p, graph, gf_net_kind_get(ns, slot, NULL), &input);
    if (in) json_object_object_add(in, input, value);
    else json_object_put(value);
}

/* Upload a picture of the job (name: its file name there, what: what it
 * is, for a failure's message); its name as LoadImage takes it, or NULL
 * after filling res. */
static const char *comfy_upload_bytes(apr_pool_t *p, const gf_provider_t *prov,
                                      const unsigned char *bytes, apr_size_t len,
                                      const char *type, const char *name, const char *what,
                                      gf_provider_result_t *res)
{
    const gf_net_settings_t *ns = prov->impl;
    const char *err, *sub;
    gf_http_request_t req;
    gf_http_response_t hr;
    gf_http_part_t *pt;
    json_object *out;
    static const char *const FIELDS[][2] = {
        { "type", "input" }, { "subfolder", "genflow" }, { "overwrite", "true" },
    };
    int i;

    comfy_request(p, ns, &req, "POST", "/api/upload/image");
    req.parts = apr_array_make(p, 4, sizeof(gf_http_part_t));
    pt = apr_array_push(req.parts);
    memset(pt, 0, sizeof(*pt));
    pt->name = "image";
    pt->data = bytes;
    pt->data_len = len;
    pt->content_type = type;
    pt->filename = apr_pstrcat(p, name, !strcmp(type, "image/jpeg") ? ".jpg"
                                      : !strcmp(type, "image/webp") ? ".webp" : ".png", NULL);
    for (i = 0; i < 3; i++) {
        pt = apr_array_push(req.parts);
        memset(pt, 0, sizeof(*pt));
        pt->name = FIELDS[i][0];
        pt->value = FIELDS[i][1];
    }
    gf_http_perform(p, &req, &hr);
    if (hr.error) {
        gf_net_transport_failure(p, prov, &hr, res);
        return NULL;
    }
    if (hr.status != 200) {
        gf_net_status_failure(p, prov, hr.status, apr_pstrcat(p, "uploading ", what, NULL),
                              gf_net_retry_after(&hr), res);
        return NULL;
    }
    out = gf_json_parse(p, hr.body, hr.body_len, &err);
    if (!(name = gf_json_str(out, "name")) || !*name || strstr(name, "..") || strchr(name, '/')) {
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: the upload answer names no file",
                                                     prov->name));
        return NULL;
    }
    sub = gf_json_str(out, "subfolder");
    return sub && *sub ? apr_pstrcat(p, sub, "/", name, NULL) : name;
}

/* The source picture uploaded (fetched first when it is a URL). */
static const char *comfy_upload(apr_pool_t *p, const gf_provider_t *prov, const gf_job_t *job,
                                gf_provider_result_t *res)
{
    const unsigned char *bytes;
    apr_size_t len;
    const char *type;

    if (!gf_net_source_bytes(p, prov, job, &bytes, &len, &type, res)) return NULL;
    return comfy_upload_bytes(p, prov, bytes, len, type, job->id, "the source picture", res);
}

/* An edit's mask, white where to paint (as LoadImageMask reads a
 * channel), uploaded beside its source. */
static const char *comfy_upload_mask(apr_pool_t *p, const gf_provider_t *prov,
                                     const gf_job_t *job, gf_provider_result_t *res)
{
    const unsigned char *m;
    apr_size_t ml;

    if (!gf_net_kind_get(prov->impl, "mask", NULL)) {
        gf_net_fail(res, GF_JOB_VALIDATION, 0, apr_psprintf(p, "%s: the workflow takes no "
                                                            "mask (mask=)", prov->name));
        return NULL;
    }
    if (!gf_provider_mask(p, prov, job, GF_MASK_WHITE_EDITS, &m, &ml, res)) return NULL;
    return comfy_upload_bytes(p, prov, m, ml, "image/png", apr_pstrcat(p, job->id, "-mask", NULL),
                              "the mask", res);
}

/* The nodes a refusal names, for the log: "6 (CLIPTextEncode): msg; …". */
static const char *comfy_node_errors(apr_pool_t *p, json_object *errors)
{
    const char *all = "";
    json_object_object_foreach(errors, id, e) {
        json_object *list, *first;
        const char *msg = NULL;
        if (json_object_object_get_ex(e, "errors", &list) && json_object_is_type(list, json_type_array)
            && (first = json_object_array_get_idx(list, 0)) != NULL) {
            msg = gf_json_str(first, "message");
            if (gf_json_str(first, "details")) msg = apr_pstrcat(p, msg ? msg : "", ": ",
                                                                 gf_json_str(first, "details"), NULL);
        }
        all = apr_pstrcat(p, all, *all ? "; " : "", id, " (", gf_json_str(e, "class_type")
                          ? gf_json_str(e, "class_type") : "?", "): ", msg ? msg : "refused", NULL);
    }
    return gf_net_excerpt(p, all);
}

/* A refused workflow: logged with its nodes, a plain message for the user. */
static void comfy_refused(apr_pool_t *p, const gf_provider_t *prov, json_object *out,
                          gf_provider_result_t *res)
{
    json_object *ne = NULL, *e = NULL;
    const char *why = "";
    if (out && json_object_object_get_ex(out, "node_errors", &ne)
        && json_object_is_type(ne, json_type_object) && json_object_object_length(ne) > 0) {
        why = comfy_node_errors(p, ne);
    }
    else if (out && json_object_object_get_ex(out, "error", &e)) {
        why = json_object_is_type(e, json_type_string) ? json_object_get_string(e)
            : gf_json_str(e, "message") ? gf_json_str(e, "message") : "";
    }
    gf_log(GF_LOG_WARNING, "provider %s: the server refused the workflow: %s", prov->name,
           gf_net_excerpt(p, why));
    gf_net_fail(res, GF_JOB_VALIDATION, 0,
                apr_psprintf(p, "%s: the server refused the workflow (node_errors; see the "
                             "error_log)", prov->name));
}

/* The create's seed, else one of the generation's own. */
static apr_uint64_t comfy_seed(const gf_job_t *job)
{
    apr_ssize_t len = APR_HASH_KEY_STRING;
    return job->seed ? job->seed : apr_hashfunc_default(job->id, &len);
}

static char *comfy_new_id(apr_pool_t *p)
{
    apr_uuid_t u;
    char *buf = apr_palloc(p, APR_UUID_FORMATTED_LENGTH + 1);
    apr_uuid_get(&u);
    apr_uuid_format(buf, &u);
    return buf;
}

static void comfy_generate(const gf_provider_t *prov, const gf_job_t *job,
                           apr_pool_t *p, gf_provider_result_t *res)
{
    const gf_net_settings_t *ns = prov->impl;
    const char *err, *id, *image = NULL;
    json_object *graph, *body, *out, *ne;
    gf_http_request_t req;
    gf_http_response_t hr;
    int w, h;

    res->model = job->model ? job->model : (prov->default_model ? prov->default_model : "workflow");
    if (comfy_graph_check(p, gf_net_kind_get(ns, "workflow", "{}"), &graph)) {
        gf_net_fail(res, GF_JOB_API, 0, apr_psprintf(p, "%s: no workflow", prov->name));
        return;
    }
    if (job->source_image) {
        if (!gf_net_kind_get(ns, "image", NULL)) {
            gf_net_fail(res, GF_JOB_VALIDATION, 0, apr_psprintf(p, "%s: the workflow takes no "
                                                                "source picture (image=)", prov->name));
            return;
        }
        if (!(image = comfy_upload(p, prov, job, res))) return;
        comfy_set(p, graph, ns, "image", json_object_new_string(image));
    }
    if (job->mask) {
        if (!(image = comfy_upload_mask(p, prov, job, res))) return;
        comfy_set(p, graph, ns, "mask", json_object_new_string(image));
    }
    comfy_set(p, graph, ns, "prompt", json_object_new_string(job->prompt));
    /* A generation without a seed still gets one of its own: a workflow's
     * fixed seed would draw the same picture for every prompt alike. */
    comfy_set(p, graph, ns, "seed", json_object_new_int64((int64_t)comfy_seed(job)));
    if (job->steps > 0) comfy_set(p, graph, ns, "steps", json_object_new_int(job->steps));
    /* Several pictures: the workflow's batch (an empty latent's batch_size). */
    if (job->count > 1) comfy_set(p, graph, ns, "batch", json_object_new_int(job->count));
    if (gf_net_ratio_size(job->aspect_ratio, &w, &h)) {
        comfy_set(p, graph, ns, "width", json_object_new_int(w));
        comfy_set(p, graph, ns, "height", json_object_new_int(h));
    }
    body = gf_json_pool_own(p, json_object_new_object());
    json_object_object_add(body, "prompt", json_object_get(graph));
    json_object_object_add(body, "client_id",
                           json_object_new_string(gf_net_kind_get(ns, "client_id", "mod_genflow")));
    json_object_object_add(body, "prompt_id", json_object_new_string(comfy_new_id(p)));
    comfy_request(p, ns, &req, "POST", "/api/prompt");
    apr_table_set(req.headers, "Content-Type", "application/json");
    req.body = gf_json_dump(p, body);
    req.body_len = strlen(req.body);
    gf_http_perform(p, &req, &hr);
    if (hr.error) {
        gf_net_transport_failure(p, prov, &hr, res);
        return;
    }
    out = gf_json_parse(p, hr.body, hr.body_len, &err);
    if (hr.status == 400 || (hr.status == 200 && out && json_object_object_get_ex(out, "node_errors", &ne)
                             && json_object_is_type(ne, json_type_object)
                             && json_object_object_length(ne) > 0)) {
        comfy_refused(p, prov, out, res);
        return;
    }
    if (hr.status != 200) {
        gf_net_status_failure(p, prov, hr.status, gf_net_excerpt(p, hr.body),
                              gf_net_retry_after(&hr), res);
        return;
    }
    if (!(id = gf_json_str(out, "prompt_id")) || !*id) {
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: the answer names no prompt_id",
                                                     prov->name));
        return;
    }
    res->provider_job_id = id;
}

/* Where the prompt is in the server's queue: 2 running, 1 pending, 0 not
 * there, -1 after filling res with a failure. */
static int comfy_queue_place(apr_pool_t *p, const gf_provider_t *prov, const char *id,
                             gf_provider_result_t *res, int *unreachable)
{
    static const char *const LISTS[] = { "queue_pending", "queue_running" };
    gf_http_request_t req;
    gf_http_response_t hr;
    json_object *out, *list;
    const char *err;
    apr_size_t i;
    int l;

    comfy_request(p, prov->impl, &req, "GET", "/api/queue");
    gf_http_perform(p, &req, &hr);
    if (unreachable) *unreachable = hr.error && !hr.sent && !hr.aborted && !hr.refused;
    if (hr.error || hr.status != 200) {
        if (hr.error) gf_net_transport_failure(p, prov, &hr, res);
        else gf_net_status_failure(p, prov, hr.status, "reading the queue", 0, res);
        return -1;
    }
    out = gf_json_parse(p, hr.body, hr.body_len, &err);
    for (l = 1; l >= 0; l--) {
        if (!out || !json_object_object_get_ex(out, LISTS[l], &list)
            || !json_object_is_type(list, json_type_array)) {
            continue;
        }
        for (i = 0; i < json_object_array_length(list); i++) {
            /* [number, prompt_id, prompt, extra_data, outputs_to_execute] */
            json_object *item = json_object_array_get_idx(list, i);
            json_object *pid = json_object_is_type(item, json_type_array)
                             ? json_object_array_get_idx(item, 1) : NULL;
            if (pid && json_object_is_type(pid, json_type_string)
                && !strcmp(json_object_get_string(pid), id)) {
                return l + 1;
            }
        }
    }
    if (!out) {
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: malformed queue answer", prov->name));
        return -1;
    }
    return 0;
}

/* One output picture from the server's /view: 1 with its bytes in pic,
 * else 0 with why in res (a transient failure: the file may come next
 * time). */
static int comfy_view(apr_pool_t *p, const gf_provider_t *prov, json_object *im,
                      gf_picture_t *pic, gf_provider_result_t *res)
{
    const char *f = gf_json_str(im, "filename"), *sub = gf_json_str(im, "subfolder");
    gf_http_request_t req;
    gf_http_response_t hr;

    comfy_request(p, prov->impl, &req, "GET",
                  apr_pstrcat(p, "/api/view?filename=", apr_pescape_urlencoded(p, f),
                              "&subfolder=", apr_pescape_urlencoded(p, sub ? sub : ""),
                              "&type=output", NULL));
    gf_http_perform(p, &req, &hr);
    if (hr.error) {
        gf_net_transport_failure(p, prov, &hr, res);
        return 0;
    }
    if (hr.status != 200) {
        gf_net_status_failure(p, prov, hr.status, "fetching the output picture", 0, res);
        res->transient = 1;   /* the prompt finished: its file may come next time */
        return 0;
    }
    if (strncasecmp(hr.content_type, "image/", 6) || hr.body_len == 0) {
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: /view gave %s, not an image",
                                                     prov->name, gf_net_excerpt(p, hr.content_type)));
        return 0;
    }
    pic->image = (unsigned char *)hr.body;
    pic->image_len = hr.body_len;
    pic->content_type = apr_pstrdup(p, hr.content_type);
    return 1;
}

/* The output pictures of a finished prompt, fetched from the server: the
 * first into res, and with a count of more than one (batch=) the others
 * after it, up to the count (one that does not come is left out). */
static void comfy_fetch_output(apr_pool_t *p, const gf_provider_t *prov, const gf_job_t *job,
                               json_object *outputs, gf_provider_result_t *res)
{
    int want = job && job->count > 1 ? job->count : 1, got = 0;

    json_object_object_foreach(outputs, node, o) {
        json_object *images;
        apr_size_t i;
        (void)node;
        if (!json_object_object_get_ex(o, "images", &images)
            || !json_object_is_type(images, json_type_array)) {
            continue;
        }
        for (i = 0; i < json_object_array_length(images) && got < want; i++) {
            json_object *im = json_object_array_get_idx(images, i);
            const char *f = gf_json_str(im, "filename"), *type = gf_json_str(im, "type");
            if (!f || !*f || (type && strcmp(type, "output"))) continue;   /* previews: temp */
            if (got++ == 0) {
                gf_picture_t first;
                memset(&first, 0, sizeof(first));
                if (!comfy_view(p, prov, im, &first, res)) return;
                res->image = first.image;
                res->image_len = first.image_len;
                res->content_type = first.content_type;
            }
            else {
                gf_picture_t *pic = gf_net_more(p, res);
                gf_provider_result_t why;
                memset(&why, 0, sizeof(why));
                if (pic && comfy_view(p, prov, im, pic, &why)) res->n_more++;
                else if (pic) memset(pic, 0, sizeof(*pic));
            }
        }
        if (got >= want) return;
    }
    if (got) return;
    gf_net_fail(res, GF_JOB_API, 0, apr_psprintf(p, "%s: the prompt finished without an output "
                                                 "picture (a SaveImage node)", prov->name));
}

/* A prompt that ended in error: the node that failed goes to the log. */
static void comfy_failed(apr_pool_t *p, const gf_provider_t *prov, const char *id,
                         json_object *status, gf_provider_result_t *res)
{
    json_object *msgs;
    const char *what = "error", *detail = "";
    apr_size_t i;

    if (json_object_object_get_ex(status, "messages", &msgs) && json_object_is_type(msgs, json_type_array)) {
        for (i = 0; i < json_object_array_length(msgs); i++) {
            json_object *m = json_object_array_get_idx(msgs, i), *ev, *data;
            if (!json_object_is_type(m, json_type_array) || !(ev = json_object_array_get_idx(m, 0))
                || !json_object_is_type(ev, json_type_string)) {
                continue;
            }
            data = json_object_array_get_idx(m, 1);
            if (!strcmp(json_object_get_string(ev), "execution_error")) {
                what = "error";
                detail = apr_psprintf(p, "node %s (%s): %s", gf_json_str(data, "node_id") ? gf_json_str(data, "node_id") : "?",
                                      gf_json_str(data, "node_type") ? gf_json_str(data, "node_type") : "?",
                                      gf_json_str(data, "exception_message") ? gf_json_str(data, "exception_message") : "");
            }
            else if (!strcmp(json_object_get_string(ev), "execution_interrupted")) {
                what = "interrupted";
            }
        }
    }
    gf_log(GF_LOG_WARNING, "provider %s: prompt %s ended in %s: %s", prov->name,
           gf_net_excerpt(p, id), what, gf_net_excerpt(p, detail));
    gf_net_fail(res, GF_JOB_API, 0, apr_psprintf(p, "%s: the workflow %s on the server "
                                                 "(see the error_log)", prov->name,
                                                 !strcmp(what, "error") ? "failed" : "was interrupted"));
}

static void comfy_poll(const gf_provider_t *prov, const gf_job_t *job, const char *id,
                       apr_pool_t *p, gf_provider_result_t *res)
{
    gf_http_request_t req;
    gf_http_response_t hr;
    json_object *out, *entry, *status, *outputs;
    const char *err, *st;
    int place, unreachable = 0;

    res->model = job->model ? job->model : (prov->default_model ? prov->default_model : "workflow");
    /* The queue first, then the history: ComfyUI moves a finished prompt
     * from the one to the other under one lock, so a prompt in neither
     * is lost (history first could miss one that ends in between). */
    if ((place = comfy_queue_place(p, prov, id, res, &unreachable)) < 0) {
        /* No connection at all: the server is not running, and a ComfyUI
         * server keeps its queue in memory only. The prompt is gone with
         * it: submitted again (a group's member chosen again). */
        res->job_lost = unreachable;
        return;
    }
    if (place > 0) {
        res->running = 1;   /* queued or running */
        return;
    }
    comfy_request(p, prov->impl, &req, "GET",
                  apr_pstrcat(p, "/api/history/", apr_pescape_path_segment(p, id), NULL));
    gf_http_perform(p, &req, &hr);
    if (hr.error) {
        gf_net_transport_failure(p, prov, &hr, res);
        return;
    }
    if (hr.status != 200) {
        gf_net_status_failure(p, prov, hr.status, "reading the history", gf_net_retry_after(&hr), res);
        return;
    }
    out = gf_json_parse(p, hr.body, hr.body_len, &err);
    if (!out || !json_object_is_type(out, json_type_object)) {
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: malformed history answer", prov->name));
        return;
    }
    if (!json_object_object_get_ex(out, id, &entry)) {
        /* Neither queued nor finished: the server restarted and forgot
         * it. Nothing of it will come, so it is submitted again. */
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: the server knows the prompt no "
                                                     "more (it restarted?)", prov->name));
        res->job_lost = 1;
        return;
    }
    json_object_object_get_ex(entry, "status", &status);
    st = gf_json_str(status, "status_str");
    if (st && !strcmp(st, "success") && json_object_object_get_ex(entry, "outputs", &outputs)
        && json_object_is_type(outputs, json_type_object)) {
        comfy_fetch_output(p, prov, job, outputs, res);
        return;
    }
    comfy_failed(p, prov, id, status, res);
}

static void comfy_post_json(apr_pool_t *p, const gf_net_settings_t *ns, const char *path,
                            const char *body)
{
    gf_http_request_t req;
    gf_http_response_t hr;
    comfy_request(p, ns, &req, "POST", path);
    apr_table_set(req.headers, "Content-Type", "application/json");
    req.body = body;
    req.body_len = strlen(body);
    req.timeout_ms = 5000;   /* best effort: the refund does not wait for it */
    gf_http_perform(p, &req, &hr);
}

static void comfy_cancel(const gf_provider_t *prov, const char *id, const char *state,
                         apr_pool_t *p)
{
    gf_provider_result_t res;
    json_object *o = gf_json_pool_own(p, json_object_new_object()), *list = json_object_new_array();

    (void)state;
    json_object_array_add(list, json_object_new_string(id));
    json_object_object_add(o, "delete", list);
    comfy_post_json(p, prov->impl, "/api/queue", gf_json_dump(p, o));
    memset(&res, 0, sizeof(res));
    /* Only this very prompt: an interrupt without its id (older servers
     * ignore the id) would stop whatever runs. */
    if (comfy_queue_place(p, prov, id, &res, NULL) == 2) {
        o = gf_json_pool_own(p, json_object_new_object());
        json_object_object_add(o, "prompt_id", json_object_new_string(id));
        comfy_post_json(p, prov->impl, "/api/interrupt", gf_json_dump(p, o));
    }
}

/* The longest attempt: a source fetched, uploaded, a mask uploaded
 * (mask=), then the prompt; or a poll's history, queue and picture. */
static apr_interval_time_t comfy_worst(const gf_provider_t *prov)
{
    return gf_net_worst(prov, gf_net_kind_get(prov->impl, "mask", NULL) ? 4 : 3);
}

/* With batch= the workflow draws a whole count at once (the site's own
 * GPU); without it, one picture a call. */
static int comfyui_max_count(const gf_provider_t *prov, const char *model)
{
    (void)model;
    return gf_net_kind_get(prov->impl, "batch", NULL) ? GF_COUNT_MAX : 1;
}

const gf_provider_kind_t gf_provider_kind_comfyui = {
    .kind = "comfyui",
    .max_count = comfyui_max_count,
    .takes_mask = 1,        /* with mask=NODE.INPUT */
    .set_option = comfy_set_option,
    .generate = comfy_generate,
    .poll = comfy_poll,
    .cancel = comfy_cancel,
    .check = comfy_check,
    .worst_attempt = comfy_worst,
    .submits_jobs = 1,
    /* The site's own server, on its own network: a prompt's end is seen
     * within 100 ms (a GPU idle between two prompts is what it costs). */
    .poll_every = apr_time_from_msec(100),
};
