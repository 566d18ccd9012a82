/* SPDX-License-Identifier: Apache-2.0 */
/* gf_storage_cloudinary.c: results uploaded to Cloudinary (docs/operations.md).
 *
 * Signed upload: POST {base}/v1_1/{cloud}/image/upload, multipart with
 * file, api_key, timestamp, public_id, overwrite=1 (booleans as 1/0) and
 * signature = hex SHA-1 (or SHA-256) of the signed parameters — every one
 * sent except file, cloud_name, resource_type and api_key — sorted by
 * name, joined "k=v" with "&", followed by the API secret. Retried up to
 * three times (overwrite makes a retry idempotent); the answer's
 * secure_url is the picture's URL.
 */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_file_io.h>
#include <openssl/evp.h>
#include <json-c/json.h>

#include "storage/gf_storage.h"
#include "net/gf_http.h"
#include "core/gf_json.h"
#include "core/gf_secret.h"

typedef struct {
    const char *base_url;
    const char *cloud;
    const char *api_key;
    const char *secret;
    const char *algorithm;   /* "sha1" | "sha256" */
    const char *folder;      /* or NULL */
    const char *delivery_url; /* where secure_urls point (res.cloudinary.com) */
    int insecure_loopback;
    int attempts;
    long timeout_ms;
} cloudinary_t;

typedef struct { const char *k, *v; } kv_t;

static int by_key(const void *a, const void *b)
{
    return strcmp(((const kv_t *)a)->k, ((const kv_t *)b)->k);
}

const char *gf_cloudinary_digest(apr_pool_t *p, const char *tosign, const char *secret,
                                 const char *algorithm)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;
    const char *s = apr_pstrcat(p, tosign, secret, NULL);
    char *hex;

    if (!EVP_Digest(s, strlen(s), md, &mdlen,
                    !strcmp(algorithm, "sha256") ? EVP_sha256() : EVP_sha1(), NULL)) {
        return NULL;
    }
    hex = apr_palloc(p, mdlen * 2 + 1);
    for (i = 0; i < mdlen; i++) apr_snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return hex;
}

const char *gf_cloudinary_string_to_sign(apr_pool_t *p, const apr_table_t *params)
{
    const apr_array_header_t *arr = apr_table_elts(params);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    kv_t *kv = apr_palloc(p, sizeof(kv_t) * (apr_size_t)(arr->nelts ? arr->nelts : 1));
    const char *tosign = "";
    int n = 0, j;

    for (j = 0; j < arr->nelts; j++) {
        if (!e[j].val || !*e[j].val) continue;          /* empty values are left out */
        if (!strcmp(e[j].key, "file") || !strcmp(e[j].key, "cloud_name")
            || !strcmp(e[j].key, "resource_type") || !strcmp(e[j].key, "api_key")
            || !strcmp(e[j].key, "signature")) continue;
        kv[n].k = e[j].key;
        kv[n].v = e[j].val;
        n++;
    }
    qsort(kv, (size_t)n, sizeof(kv_t), by_key);
    for (j = 0; j < n; j++) {
        tosign = apr_pstrcat(p, tosign, j ? "&" : "", kv[j].k, "=", kv[j].v, NULL);
    }
    return tosign;
}

const char *gf_cloudinary_sign(apr_pool_t *p, const apr_table_t *params, const char *secret,
                               const char *algorithm)
{
    return gf_cloudinary_digest(p, gf_cloudinary_string_to_sign(p, params), secret, algorithm);
}

/* One put of a picture, as gf_storage_retry tries it. */
typedef struct {
    const cloudinary_t *cl;
    apr_pool_t *p;
    const char *key, *public_id, *content_type;
    const unsigned char *data;
    apr_size_t len;
    const char **url, **err;
} put_t;

/* The signed multipart request of one try (a fresh timestamp each). */
static void put_request(const put_t *x, gf_http_request_t *req)
{
    const cloudinary_t *cl = x->cl;
    apr_pool_t *p = x->p;
    apr_table_t *params = apr_table_make(p, 6);
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    gf_http_part_t *pt;
    int j;

    apr_table_set(params, "timestamp", apr_psprintf(p, "%" APR_TIME_T_FMT,
                                                    apr_time_sec(apr_time_now())));
    apr_table_set(params, "public_id", x->public_id);
    apr_table_set(params, "overwrite", "1");
    memset(req, 0, sizeof(*req));
    req->method = "POST";
    req->url = apr_psprintf(p, "%s/v1_1/%s/image/upload", cl->base_url, cl->cloud);
    req->timeout_ms = cl->timeout_ms;
    req->connect_timeout_ms = 5000;
    req->max_response = 1024 * 1024;
    req->allow_loopback_http = cl->insecure_loopback;
    req->parts = apr_array_make(p, 8, sizeof(gf_http_part_t));
    arr = apr_table_elts(params);
    e = (const apr_table_entry_t *)arr->elts;
    for (j = 0; j < arr->nelts; j++) {
        pt = apr_array_push(req->parts);
        memset(pt, 0, sizeof(*pt));
        pt->name = e[j].key;
        pt->value = e[j].val;
    }
    pt = apr_array_push(req->parts);
    memset(pt, 0, sizeof(*pt));
    pt->name = "api_key";
    pt->value = cl->api_key;
    pt = apr_array_push(req->parts);
    memset(pt, 0, sizeof(*pt));
    pt->name = "signature";
    pt->value = gf_cloudinary_sign(p, params, cl->secret, cl->algorithm);
    pt = apr_array_push(req->parts);
    memset(pt, 0, sizeof(*pt));
    pt->name = "file";
    pt->data = x->data;
    pt->data_len = x->len;
    /* The key's own extension: uploads are JPEG and WebP too. */
    pt->filename = apr_pstrcat(p, x->public_id,
                               strrchr(x->key, '.') ? strrchr(x->key, '.') : ".png", NULL);
    pt->content_type = x->content_type ? x->content_type : "image/png";
}

static gf_storage_try_t put_once(void *baton)
{
    const put_t *x = baton;
    apr_pool_t *p = x->p;
    gf_http_request_t req;
    gf_http_response_t hr;
    json_object *doc, *v, *errobj;
    const char *perr;

    put_request(x, &req);
    gf_http_perform(p, &req, &hr);
    if (hr.error) {
        *x->err = apr_psprintf(p, "cloudinary: %s", hr.error);
    }
    else if (hr.status != 200) {
        doc = gf_json_parse(p, hr.body, hr.body_len, &perr);
        *x->err = apr_psprintf(p, "cloudinary answered %d: %s", hr.status,
                               (doc && json_object_object_get_ex(doc, "error", &errobj)
                                && json_object_object_get_ex(errobj, "message", &v))
                               ? json_object_get_string(v) : "no error message");
        if (hr.status >= 400 && hr.status < 500 && hr.status != 420 && hr.status != 429) {
            return GF_STORAGE_REFUSED;
        }
    }
    else if ((doc = gf_json_parse(p, hr.body, hr.body_len, &perr)) != NULL
             && json_object_object_get_ex(doc, "secure_url", &v)
             && json_object_is_type(v, json_type_string)
             && *json_object_get_string(v)) {   /* "" is no URL to serve */
        *x->url = apr_pstrdup(p, json_object_get_string(v));
        return GF_STORAGE_DONE;
    }
    else {
        *x->err = "cloudinary: the answer has no secure_url";
    }
    return GF_STORAGE_AGAIN;
}

static apr_status_t cloudinary_put(const gf_storage_t *st, apr_pool_t *p, const char *key,
                                   const unsigned char *data, apr_size_t len,
                                   const char *content_type, const char **url,
                                   const char **err)
{
    const cloudinary_t *cl = st->impl;
    char *public_id = apr_pstrdup(p, key), *dot = strrchr(public_id, '.');
    put_t x;

    if (dot) *dot = '\0';
    if (cl->folder) public_id = apr_pstrcat(p, cl->folder, "/", public_id, NULL);
    x.cl = cl;
    x.p = p;
    x.key = key;
    x.public_id = public_id;
    x.content_type = content_type;
    x.data = data;
    x.len = len;
    x.url = url;
    x.err = err;
    return gf_storage_retry(cl->attempts, put_once, &x);
}

/* An upload read back for a provider: fetched from its secure_url, and
 * only when that is on the delivery origin (a URL from the database is
 * never followed elsewhere), with the upload's timeout and a size cap.
 * Only public addresses are connected to, as for result downloads. */
static apr_status_t cloudinary_get(const gf_storage_t *st, apr_pool_t *p, const char *key,
                                   const char *url, apr_size_t max, unsigned char **data,
                                   apr_size_t *len, const char **err)
{
    const cloudinary_t *cl = st->impl;
    gf_http_request_t req;
    gf_http_response_t hr;
    const char *why;

    (void)key;
    if (!url || (why = gf_http_check_origin(p, url, cl->delivery_url)) != NULL) {
        *err = apr_psprintf(p, "cloudinary: refusing to fetch %s: %s", url ? url : "no URL",
                            url ? why : "none stored");
        return APR_EINVAL;
    }
    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = url;
    req.timeout_ms = cl->timeout_ms;
    req.connect_timeout_ms = 5000;
    req.max_response = max;
    req.allow_loopback_http = cl->insecure_loopback;
    req.origin = cl->delivery_url;
    req.public_only = 1;
    gf_http_perform(p, &req, &hr);
    if (hr.error) {
        *err = apr_psprintf(p, "cloudinary: %s", hr.error);
        return APR_EGENERAL;
    }
    if (hr.status != 200 || hr.body_len == 0) {
        *err = apr_psprintf(p, "cloudinary answered %d (%" APR_SIZE_T_FMT " bytes) for %s",
                            hr.status, hr.body_len, url);
        return APR_EGENERAL;
    }
    *data = (unsigned char *)hr.body;
    *len = hr.body_len;
    return APR_SUCCESS;
}

const char *gf_storage_cloudinary_create(apr_pool_t *p, int argc, char *const argv[],
                                         gf_storage_t **out)
{
    cloudinary_t *cl = apr_pcalloc(p, sizeof(*cl));
    gf_storage_t *st = apr_pcalloc(p, sizeof(*st));
    int i;

    cl->base_url = "https://api.cloudinary.com";
    cl->algorithm = "sha1";
    cl->attempts = 3;
    cl->timeout_ms = 30000;
    for (i = 0; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        const char *k, *v;
        if (!eq) return apr_psprintf(p, "'%s' is not key=value", argv[i]);
        k = apr_pstrmemdup(p, argv[i], (apr_size_t)(eq - argv[i]));
        v = eq + 1;
        if (!strcmp(k, "cloud")) cl->cloud = v;
        else if (!strcmp(k, "api_key")) cl->api_key = v;
        else if (!strcmp(k, "secret_env") || !strcmp(k, "secret_file")) {
            const char *err = !strcmp(k, "secret_env") ? gf_secret_from_env(p, k, v, &cl->secret)
                                                       : gf_secret_from_file(p, k, v, &cl->secret);
            if (err) return err;
        }
        else if (!strcmp(k, "algorithm")) {
            if (strcmp(v, "sha1") && strcmp(v, "sha256")) return "algorithm must be sha1 or sha256";
            cl->algorithm = v;
        }
        else if (!strcmp(k, "folder")) cl->folder = v;
        else if (!strcmp(k, "base_url")) cl->base_url = v;
        else if (!strcmp(k, "delivery_url")) cl->delivery_url = v;
        else if (!strcmp(k, "insecure_loopback")) cl->insecure_loopback = !strcmp(v, "on");
        else if (!strcmp(k, "attempts")) {
            cl->attempts = atoi(v);
            if (cl->attempts < 1 || cl->attempts > 10) return "attempts must be 1..10";
        }
        else return apr_psprintf(p, "unknown option '%s' (cloud, api_key, secret_file, secret_env, "
                                 "algorithm, folder, base_url, delivery_url, insecure_loopback, attempts)", k);
    }
    if (!cl->cloud || !cl->api_key || !cl->secret) {
        return "cloud=, api_key= and secret_file= or secret_env= are required";
    }
    if (gf_http_check_url(p, cl->base_url, cl->insecure_loopback)) {
        return gf_http_check_url(p, cl->base_url, cl->insecure_loopback);
    }
    /* Pictures are served from res.cloudinary.com; a site that points
     * base_url elsewhere (a proxy, the tests' mock) is served from there
     * unless it says otherwise. */
    if (!cl->delivery_url) {
        cl->delivery_url = strcmp(cl->base_url, "https://api.cloudinary.com")
                           ? cl->base_url : "https://res.cloudinary.com";
    }
    if (gf_http_check_url(p, cl->delivery_url, cl->insecure_loopback)) {
        return gf_http_check_url(p, cl->delivery_url, cl->insecure_loopback);
    }
    st->backend = "cloudinary";
    st->put = cloudinary_put;
    st->get = cloudinary_get;
    st->worst_put = gf_storage_retry_worst(cl->timeout_ms, cl->attempts);
    st->impl = cl;
    *out = st;
    return NULL;
}
