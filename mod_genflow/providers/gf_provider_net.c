/* SPDX-License-Identifier: Apache-2.0 */
/* gf_provider_net.c: options, requests and error mapping shared by the
 * network provider kinds (see gf_provider_net.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>
#include <apr_file_io.h>
#include <apr_lib.h>
#include <apr_base64.h>

#include "providers/gf_provider_net.h"
#include "core/gf_utf8.h"
#include "core/gf_error.h"
#include "core/gf_job.h"
#include "webhooks/gf_webhook.h"
#include "core/gf_secret.h"

gf_net_settings_t *gf_net_settings(gf_provider_t *prov, apr_pool_t *p, const char *default_base)
{
    gf_net_settings_t *ns = prov->impl;
    if (!ns) {
        ns = apr_pcalloc(p, sizeof(*ns));
        ns->base_url = default_base;
        ns->connect_timeout_ms = 5000;
        ns->timeout_ms = 60000;
        ns->max_bytes = 20 * 1024 * 1024;
        ns->prefer_wait = -1;
        prov->impl = ns;
    }
    return ns;
}

const char *gf_net_set_option(apr_pool_t *p, gf_provider_t *prov, const char *default_base,
                              const char *key, const char *value)
{
    gf_net_settings_t *ns = gf_net_settings(prov, p, default_base);
    char *end;
    long v;

    if (!strcmp(key, "base_url")) {
        apr_size_t n = strlen(value);
        ns->base_url = (n && value[n - 1] == '/') ? apr_pstrmemdup(p, value, n - 1)
                                                  : apr_pstrdup(p, value);
        return NULL;
    }
    if (!strcmp(key, "key_file")) {
        return gf_secret_from_file(p, key, value, &ns->key);
    }
    if (!strcmp(key, "key_env")) {
        return gf_secret_from_env(p, key, value, &ns->key);
    }
    if (!strcmp(key, "webhook_url")) {
        ns->webhook_url = apr_pstrdup(p, value);
        if (!ns->webhook_poll_secs) ns->webhook_poll_secs = 30;
        return NULL;
    }
    if (!strcmp(key, "webhook_secret_file")) {
        return gf_secret_from_file(p, key, value, &ns->webhook_secret);
    }
    if (!strcmp(key, "webhook_secret_env")) {
        return gf_secret_from_env(p, key, value, &ns->webhook_secret);
    }
    if (!strcmp(key, "webhook_keys_file")) {
        const char *text, *err = gf_secret_text_from_file(p, key, value, &text);
        if (err) return err;
        if (!(ns->webhook_keys = gf_webhook_load_fal_keys(p, text, &err))) {
            return apr_psprintf(p, "webhook_keys_file %s: %s", value, err);
        }
        return NULL;
    }
    if (!strcmp(key, "webhook_poll")) {
        v = strtol(value, &end, 10);
        if (!*value || *end || v < 1 || v > 3600) return "webhook_poll= must be 1..3600 seconds";
        ns->webhook_poll_secs = v;
        return NULL;
    }
    if (!strcmp(key, "insecure_loopback")) {
        ns->insecure_loopback = !strcasecmp(value, "on") || !strcmp(value, "1");
        return NULL;
    }
    if (!strcmp(key, "timeout") || !strcmp(key, "connect_timeout") || !strcmp(key, "max_bytes")
        || !strcmp(key, "wait")) {
        v = strtol(value, &end, 10);
        if (!*value || *end || v < 0 || v > 1000000000L) {
            return apr_psprintf(p, "%s=%s: expected a whole number", key, value);
        }
        if (!strcmp(key, "timeout")) ns->timeout_ms = v;
        else if (!strcmp(key, "connect_timeout")) ns->connect_timeout_ms = v;
        else if (!strcmp(key, "max_bytes")) ns->max_bytes = (apr_size_t)v;
        else {
            if (v > 60) return "wait= must be 0..60 seconds";
            ns->prefer_wait = (int)v;
        }
        return NULL;
    }
    return apr_psprintf(p, "provider kind '%s' has no option '%s'", prov->kind->kind, key);
}

const char *gf_net_check(apr_pool_t *p, const gf_provider_t *prov)
{
    const gf_net_settings_t *ns = prov->impl;
    const char *err;
    if (!ns || !ns->key) {
        return apr_psprintf(p, "provider %s has no API key: add key_file=PATH or key_env=NAME",
                            prov->name);
    }
    if ((err = gf_http_check_url(p, ns->base_url, ns->insecure_loopback)) != NULL) {
        return apr_psprintf(p, "provider %s: base_url %s", prov->name, err);
    }
    return NULL;
}

void gf_net_request(apr_pool_t *p, const gf_net_settings_t *ns, gf_http_request_t *req,
                    const char *method, const char *url)
{
    memset(req, 0, sizeof(*req));
    req->method = method;
    req->url = url;
    req->headers = apr_table_make(p, 8);
    req->connect_timeout_ms = ns->connect_timeout_ms;
    req->timeout_ms = ns->timeout_ms;
    req->max_response = ns->max_bytes;
    req->allow_loopback_http = ns->insecure_loopback;
    /* Every API call carries the key: only to the configured origin. */
    req->origin = ns->base_url;
}

const char *gf_net_followable(apr_pool_t *p, const gf_provider_t *prov,
                              const gf_net_settings_t *ns, const char *url)
{
    const char *why = gf_http_check_origin(p, url, ns->base_url);
    return why ? apr_psprintf(p, "%s: refused to follow an answer's URL: %s", prov->name, why)
               : NULL;
}

void gf_net_usage(json_object *doc, const char *a, const char *b, const char *c, const char *unit,
                  gf_provider_result_t *res)
{
    json_object *v = doc;
    const char *path[3];
    int i;
    double d;
    path[0] = a;
    path[1] = b;
    path[2] = c;
    for (i = 0; i < 3 && path[i]; i++) {
        if (!json_object_is_type(v, json_type_object) || !json_object_object_get_ex(v, path[i], &v)) {
            return;
        }
    }
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)) return;
    d = json_object_get_double(v);
    if (d > 0 && d < 1e12) {
        res->usage = d;
        res->usage_unit = unit;
    }
}

void gf_net_fail(gf_provider_result_t *res, const char *code, int transient, const char *message)
{
    res->error_code = code;
    res->transient = transient;
    res->error_message = message;
}

void gf_net_transport_failure(apr_pool_t *p, const gf_provider_t *prov,
                              const gf_http_response_t *hr, gf_provider_result_t *res)
{
    if (hr->too_large || hr->refused || !hr->transient) {
        /* None goes away by asking again (a stream its reader refused is
         * past its cap too). */
        gf_net_fail(res, GF_JOB_API, 0, apr_psprintf(p, "%s: %s", prov->name, hr->error));
        return;
    }
    gf_net_fail(res, strstr(hr->error, "imeout") ? GF_JOB_TIMEOUT : GF_JOB_NETWORK, 1,
                apr_psprintf(p, "%s: %s", prov->name, hr->error));
    res->maybe_accepted = hr->sent;
}

apr_interval_time_t gf_net_retry_after(const gf_http_response_t *hr)
{
    const char *v = apr_table_get(hr->headers, "retry-after");
    long s;
    if (!v || !apr_isdigit(*v)) return 0;
    s = strtol(v, NULL, 10);
    return apr_time_from_sec(s > 3600 ? 3600 : s);
}

void gf_net_status_failure(apr_pool_t *p, const gf_provider_t *prov, int status,
                           const char *detail, apr_interval_time_t retry_after,
                           gf_provider_result_t *res)
{
    const char *msg = apr_psprintf(p, "%s answered %d%s%s", prov->name, status,
                                   detail ? ": " : "", detail ? detail : "");
    res->retry_after = retry_after;
    switch (status) {
    case 400: case 413: case 422:
        gf_net_fail(res, GF_JOB_VALIDATION, 0, msg); break;
    case 401:
        gf_net_fail(res, GF_JOB_PROVIDER_AUTH, 0, msg); break;
    case 402:
        gf_net_fail(res, GF_JOB_PROVIDER_CREDITS, 0, msg); break;
    case 403:
        gf_net_fail(res, GF_JOB_PROVIDER_AUTH, 0, msg); break;
    case 429:
        gf_net_fail(res, GF_JOB_RATE_LIMIT, 1, msg); break;
    case 504:
        gf_net_fail(res, GF_JOB_TIMEOUT, 1, msg); break;
    default:
        gf_net_fail(res, GF_JOB_API, gf_job_http_transient(status), msg);
    }
}

const char *gf_net_excerpt(apr_pool_t *p, const char *body)
{
    /* Provider text goes to the database (which refuses invalid UTF-8),
     * the status JSON and the logs: valid UTF-8 only, cut on a character
     * boundary, control characters replaced. */
    return gf_utf8_clean(p, body, body ? strlen(body) : 0, 200);
}

int gf_net_fetch(apr_pool_t *p, const gf_provider_t *prov, const gf_net_settings_t *ns,
                 const char *url, gf_provider_result_t *res)
{
    gf_http_request_t req;
    gf_http_response_t hr;

    /* Result pictures live on other hosts (CDNs): no key goes with the
     * download, and only public addresses are fetched. */
    gf_net_request(p, ns, &req, "GET", url);
    req.origin = NULL;
    req.public_only = 1;
    gf_http_perform(p, &req, &hr);
    if (hr.error) {
        gf_net_transport_failure(p, prov, &hr, res);
        return 0;
    }
    if (hr.status != 200) {
        gf_net_status_failure(p, prov, hr.status, "downloading the result", gf_net_retry_after(&hr),
                              res);
        res->transient = 1;   /* the result exists; fetching it may work next time */
        return hr.status;
    }
    if (strncasecmp(hr.content_type, "image/", 6) || hr.body_len == 0) {
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: result URL gave %s, not an image",
                                                     prov->name, *hr.content_type
                                                     ? hr.content_type : "no content type"));
        return hr.status;
    }
    res->image = (unsigned char *)hr.body;
    res->image_len = hr.body_len;
    res->content_type = apr_pstrdup(p, hr.content_type);
    res->image_url = url;   /* kept if the picture cannot be stored */
    return hr.status;
}

void gf_net_download(apr_pool_t *p, const gf_provider_t *prov, const gf_net_settings_t *ns,
                     const char *url, gf_provider_result_t *res)
{
    (void)gf_net_fetch(p, prov, ns, url, res);
}

gf_picture_t *gf_net_more(apr_pool_t *p, gf_provider_result_t *res)
{
    if (!res->more) res->more = apr_pcalloc(p, sizeof(*res->more) * (GF_PICTURES_MAX - 1));
    if (res->n_more >= GF_PICTURES_MAX - 1) return NULL;
    return &res->more[res->n_more];
}

void gf_net_more_b64(apr_pool_t *p, const char *b64, apr_size_t len, gf_provider_result_t *res)
{
    gf_picture_t *pic = gf_net_more(p, res);
    const char *why;
    if (!pic || !b64) return;
    if (!(pic->content_type = gf_net_b64_decode(p, b64, len, &pic->image, &pic->image_len, &why))) {
        memset(pic, 0, sizeof(*pic));
        return;
    }
    res->n_more++;
}

void gf_net_more_download(apr_pool_t *p, const gf_provider_t *prov, const gf_net_settings_t *ns,
                          const char *url, gf_provider_result_t *res)
{
    gf_picture_t *pic = gf_net_more(p, res);
    gf_provider_result_t one;
    if (!pic || !url) return;
    memset(&one, 0, sizeof(one));
    gf_net_download(p, prov, ns, url, &one);
    if (one.error_code || !one.image) return;
    pic->image = one.image;
    pic->image_len = one.image_len;
    pic->content_type = one.content_type;
    res->n_more++;
}

apr_interval_time_t gf_net_worst(const gf_provider_t *prov, int calls)
{
    const gf_net_settings_t *ns = prov->impl;
    return ns ? apr_time_from_msec(ns->timeout_ms * calls) : 0;
}

void gf_net_kind_option(apr_pool_t *p, gf_provider_t *prov, const char *default_base,
                        const char *key, const char *value)
{
    gf_net_settings_t *ns = gf_net_settings(prov, p, default_base);
    if (!ns->kind_opts) ns->kind_opts = apr_table_make(p, 4);
    apr_table_set(ns->kind_opts, key, value);
}

const char *gf_net_kind_get(const gf_net_settings_t *ns, const char *key, const char *dflt)
{
    const char *v = ns && ns->kind_opts ? apr_table_get(ns->kind_opts, key) : NULL;
    return v ? v : dflt;
}

int gf_net_one_of(const char *value, const char *list)
{
    apr_size_t n = strlen(value);
    const char *s = list, *bar;
    if (!n) return 0;
    for (;;) {
        bar = strchr(s, '|');
        if ((apr_size_t)((bar ? bar : s + strlen(s)) - s) == n && !strncmp(s, value, n)) return 1;
        if (!bar) return 0;
        s = bar + 1;
    }
}

/* The base64 alphabet's value of c, -1 outside it. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Standard base64 with its padding: a multiple of 4 characters, '=' only
 * as the last one or two. */
static int b64_strict(const char *s, apr_size_t len)
{
    apr_size_t i, pad = 0;
    if (len == 0 || len % 4) return 0;
    if (s[len - 1] == '=') pad++;
    if (pad && s[len - 2] == '=') pad++;
    for (i = 0; i < len - pad; i++) {
        if (b64_value((unsigned char)s[i]) < 0) return 0;
    }
    return 1;
}

const char *gf_net_b64_decode(apr_pool_t *p, const char *b64, apr_size_t len,
                              unsigned char **bytes, apr_size_t *n, const char **why)
{
    unsigned char *buf;
    apr_size_t o;
    gf_image_format_t fmt;

    /* APR decodes up to the first character outside the alphabet: a
     * damaged answer would pass as a shorter picture, so it is checked
     * whole first. b64 is NUL-terminated (json-c's strings are). */
    if (!b64_strict(b64, len) || len > (apr_size_t)APR_INT32_MAX) {
        *why = "the picture is not valid base64";
        return NULL;
    }
    buf = apr_palloc(p, (apr_size_t)apr_base64_decode_len(b64) + 1);
    o = (apr_size_t)apr_base64_decode_binary(buf, b64);
    fmt = gf_image_sniff(buf, o);
    if (o == 0 || fmt == GF_IMAGE_UNKNOWN) {
        *why = "the answer's picture is not a PNG, JPEG or WebP";
        return NULL;
    }
    *bytes = buf;
    *n = o;
    return gf_image_content_type(fmt);
}

void gf_net_b64_picture(apr_pool_t *p, const gf_provider_t *prov, const char *b64,
                        apr_size_t len, gf_provider_result_t *res)
{
    unsigned char *buf;
    apr_size_t o;
    const char *why = NULL, *type = gf_net_b64_decode(p, b64, len, &buf, &o, &why);

    if (!type) {
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: %s", prov->name, why));
        return;
    }
    res->image = buf;
    res->image_len = o;
    res->content_type = type;
}

apr_interval_time_t gf_net_retry_after_ms(const gf_http_response_t *hr)
{
    const char *v = apr_table_get(hr->headers, "retry-after-ms");
    long ms;
    if (v && apr_isdigit(*v)) {
        ms = strtol(v, NULL, 10);
        return apr_time_from_msec(ms > 3600000L ? 3600000L : ms);
    }
    return gf_net_retry_after(hr);
}

int gf_net_source_bytes(apr_pool_t *p, const gf_provider_t *prov, const gf_job_t *job,
                        const unsigned char **bytes, apr_size_t *len, const char **type,
                        gf_provider_result_t *res)
{
    gf_provider_result_t got;

    if (job->source_bytes) {
        *bytes = job->source_bytes;
        *len = job->source_len;
        *type = job->source_content_type;
        return 1;
    }
    memset(&got, 0, sizeof(got));
    gf_net_download(p, prov, prov->impl, job->source_image, &got);
    if (got.error_code) {
        gf_net_fail(res, got.error_code, got.transient,
                    apr_psprintf(p, "%s: the source picture could not be read: %s",
                                 prov->name, got.error_message));
        return 0;
    }
    *bytes = got.image;
    *len = got.image_len;
    *type = got.content_type;
    return 1;
}

int gf_net_ratio_size(const char *ar, int *w, int *h)
{
    static const struct { const char *ar; int w, h; } SIZES[] = {
        { "1:1", 1024, 1024 }, { "16:9", 1344, 768 }, { "9:16", 768, 1344 },
        { "4:3", 1152, 896 }, { "3:4", 896, 1152 }, { "3:2", 1216, 832 },
        { "2:3", 832, 1216 }, { "21:9", 1440, 608 },
    };
    apr_size_t i;
    for (i = 0; ar && i < sizeof(SIZES) / sizeof(SIZES[0]); i++) {
        if (!strcmp(SIZES[i].ar, ar)) {
            *w = SIZES[i].w;
            *h = SIZES[i].h;
            return 1;
        }
    }
    return 0;
}
