/* SPDX-License-Identifier: Apache-2.0 */
/* gf_storage_s3.c: results and uploads in an S3-compatible bucket
 * (AWS S3, MinIO, Ceph, R2, B2, GCS's XML API; docs/operations.md).
 *
 * PUT, GET and DELETE of one object each, signed by libcurl itself
 * (CURLOPT_AWS_SIGV4, "aws:amz:REGION:s3") with the key pair read from
 * files or the environment; the payload's SHA-256 goes in
 * x-amz-content-sha256, which S3 requires and libcurl signs. Every
 * exchange is pinned to the bucket's origin (no redirect is followed, a
 * URL elsewhere is refused before a byte leaves), has a timeout and a size
 * cap. A PUT is retried (it overwrites, so a retry is idempotent) on
 * transport errors, 408, 429 and 5xx; any other answer fails at once:
 * a wrong key or a missing bucket does not get better.
 *
 * Clients load a picture from public_url (a CDN or a public bucket's
 * address) followed by the object's key; without it, from the object's
 * own address on the endpoint.
 */
#include <string.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_fnmatch.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>

#include "storage/gf_storage.h"
#include "net/gf_http.h"
#include "core/gf_secret.h"

struct gf_s3_t {
    const char *endpoint;    /* scheme://host[:port], no path */
    const char *bucket;
    const char *region;
    int virtual_host;        /* style=virtual: bucket.host instead of host/bucket */
    const char *access_key;
    const char *secret;
    const char *public_url;  /* or NULL: the object's own address */
    int presign;             /* seconds a presigned GET URL stays valid, or 0 */
    const char *prefix;      /* "" or "folder/" */
    const char *sigv4;       /* "aws:amz:REGION:s3" */
    const char *origin;      /* where every exchange goes */
    int insecure_loopback;
    int attempts;
    long timeout_ms;
};

/* S3's hash of an empty payload (GET, DELETE). */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const char *sha256_hex(apr_pool_t *p, const unsigned char *data, apr_size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;
    char *hex;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL)) return NULL;
    hex = apr_palloc(p, mdlen * 2 + 1);
    for (i = 0; i < mdlen; i++) apr_snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return hex;
}

/* Keys are the module's own ("type/hh/uuid-hex.png", "uploads/…"): letters,
 * digits and - _ . / only, so that they need no escaping in a URL or in
 * the signature's canonical path. */
static int key_ok(const char *key)
{
    const char *c;
    if (!key || !*key || *key == '/' || strstr(key, "..")) return 0;
    for (c = key; *c; c++) {
        if (!apr_isalnum(*c) && !strchr("-_./", *c)) return 0;
    }
    return 1;
}

/* The bucket's own address: the host's (virtual) or the path's first
 * segment (path). */
static const char *bucket_url(apr_pool_t *p, const gf_s3_t *s3)
{
    return s3->virtual_host ? s3->origin : apr_pstrcat(p, s3->origin, "/", s3->bucket, NULL);
}

const char *gf_s3_object_url(apr_pool_t *p, const gf_s3_t *s3, const char *key)
{
    return apr_pstrcat(p, bucket_url(p, s3), "/", s3->prefix, key, NULL);
}

static int hmac_sha256(const unsigned char *key, size_t keylen, const char *msg,
                       unsigned char *mac)
{
    EVP_PKEY *pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_HMAC, NULL, key, keylen);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t len = 32;
    int ok = pk && ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pk) == 1
             && EVP_DigestSignUpdate(ctx, msg, strlen(msg)) == 1
             && EVP_DigestSignFinal(ctx, mac, &len) == 1 && len == 32;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return ok;
}

/* A presigned GET of the object: SigV4 in the query (X-Amz-*), signed
 * headers host only, payload UNSIGNED-PAYLOAD, as S3 documents it. libcurl
 * signs requests, not URLs for someone else to use, so this one is ours;
 * tests/unit checks it against AWS's published example. */
const char *gf_s3_presign(apr_pool_t *p, const gf_s3_t *s3, const char *key, apr_time_t now,
                          int expires)
{
    apr_time_exp_t t;
    char ts[17], day[9], sig[65];
    const char *url = gf_s3_object_url(p, s3, key), *host = strstr(s3->origin, "://") + 3;
    const char *path = url + strlen(s3->origin), *scope, *query, *canonical, *tosign;
    unsigned char k[32], k2[32], mac[32];
    int i;

    apr_time_exp_gmt(&t, now);
    apr_snprintf(ts, sizeof(ts), "%04d%02d%02dT%02d%02d%02dZ", t.tm_year + 1900, t.tm_mon + 1,
                 t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec);
    memcpy(day, ts, 8);
    day[8] = '\0';
    /* The default port is not part of the host S3 signs. */
    if ((!strncmp(s3->origin, "https://", 8) && apr_fnmatch("*:443", host, 0) == APR_SUCCESS)
        || (!strncmp(s3->origin, "http://", 7) && apr_fnmatch("*:80", host, 0) == APR_SUCCESS)) {
        host = apr_pstrmemdup(p, host, strlen(host) - (s3->origin[4] == 's' ? 4 : 3));
    }
    scope = apr_pstrcat(p, day, "/", s3->region, "/s3/aws4_request", NULL);
    query = apr_psprintf(p, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s%%2F%s%%2F%s"
                         "%%2Fs3%%2Faws4_request&X-Amz-Date=%s&X-Amz-Expires=%d"
                         "&X-Amz-SignedHeaders=host", s3->access_key, day, s3->region, ts, expires);
    canonical = apr_pstrcat(p, "GET\n", path, "\n", query, "\nhost:", host, "\n\nhost\nUNSIGNED-PAYLOAD",
                            NULL);
    tosign = apr_pstrcat(p, "AWS4-HMAC-SHA256\n", ts, "\n", scope, "\n",
                         sha256_hex(p, (const unsigned char *)canonical, strlen(canonical)), NULL);
    {
        const char *first = apr_pstrcat(p, "AWS4", s3->secret, NULL);
        if (!hmac_sha256((const unsigned char *)first, strlen(first), day, k)
            || !hmac_sha256(k, 32, s3->region, k2) || !hmac_sha256(k2, 32, "s3", k)
            || !hmac_sha256(k, 32, "aws4_request", k2) || !hmac_sha256(k2, 32, tosign, mac)) {
            OPENSSL_cleanse(k, sizeof(k));
            OPENSSL_cleanse(k2, sizeof(k2));
            return NULL;
        }
    }
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(k2, sizeof(k2));
    for (i = 0; i < 32; i++) apr_snprintf(sig + 2 * i, 3, "%02x", mac[i]);
    return apr_pstrcat(p, url, "?", query, "&X-Amz-Signature=", sig, NULL);
}

const char *gf_s3_public_url(apr_pool_t *p, const gf_s3_t *s3, const char *key)
{
    if (s3->public_url) return apr_pstrcat(p, s3->public_url, "/", s3->prefix, key, NULL);
    if (s3->presign) return gf_s3_presign(p, s3, key, apr_time_now(), s3->presign);
    return gf_s3_object_url(p, s3, key);
}

/* S3 answers errors as <Error><Code>…</Code><Message>…</Message>: the
 * code and the message, or the status alone. */
static const char *s3_error(apr_pool_t *p, const char *what, const gf_http_response_t *hr)
{
    const char *code = NULL, *msg = NULL, *b, *e;
    if (hr->error) return apr_psprintf(p, "s3 %s: %s", what, hr->error);
    if (hr->body && (b = strstr(hr->body, "<Code>")) && (e = strstr(b, "</Code>"))) {
        code = apr_pstrmemdup(p, b + 6, (apr_size_t)(e - b - 6 > 64 ? 64 : e - b - 6));
    }
    if (hr->body && (b = strstr(hr->body, "<Message>")) && (e = strstr(b, "</Message>"))) {
        msg = apr_pstrmemdup(p, b + 9, (apr_size_t)(e - b - 9 > 200 ? 200 : e - b - 9));
    }
    return apr_psprintf(p, "s3 %s answered %d%s%s%s%s", what, hr->status, code ? " " : "",
                        code ? code : "", msg ? ": " : "", msg ? msg : "");
}

/* One signed exchange with the bucket, at url (on its origin). */
static void s3_exchange(const gf_s3_t *s3, apr_pool_t *p, const char *method, const char *url,
                        const unsigned char *body, apr_size_t len, const char *content_type,
                        apr_size_t max, gf_http_response_t *hr)
{
    gf_http_request_t req;
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.url = url;
    req.headers = apr_table_make(p, 2);
    apr_table_setn(req.headers, "x-amz-content-sha256",
                   body ? sha256_hex(p, body, len) : EMPTY_SHA256);
    if (content_type) apr_table_setn(req.headers, "Content-Type", content_type);
    req.body = (const char *)body;
    req.body_len = len;
    req.timeout_ms = s3->timeout_ms;
    req.connect_timeout_ms = 5000;
    req.max_response = max;
    req.allow_loopback_http = s3->insecure_loopback;
    req.origin = s3->origin;
    req.aws_sigv4 = s3->sigv4;
    req.aws_key = s3->access_key;
    req.aws_secret = s3->secret;
    gf_http_perform(p, &req, hr);
}

/* One PUT of an object, as gf_storage_retry tries it (a PUT overwrites:
 * trying again is idempotent). */
typedef struct {
    const gf_s3_t *s3;
    apr_pool_t *p;
    const char *key, *content_type;
    const unsigned char *data;
    apr_size_t len;
    const char **url, **err;
} put_t;

static gf_storage_try_t put_once(void *baton)
{
    const put_t *x = baton;
    gf_http_response_t hr;

    s3_exchange(x->s3, x->p, "PUT", gf_s3_object_url(x->p, x->s3, x->key), x->data, x->len,
                x->content_type ? x->content_type : "image/png", 64 * 1024, &hr);
    if (!hr.error && hr.status == 200) {
        *x->url = gf_s3_public_url(x->p, x->s3, x->key);
        return GF_STORAGE_DONE;
    }
    *x->err = s3_error(x->p, "PUT", &hr);
    if (hr.refused || hr.too_large
        || (!hr.error && hr.status < 500 && hr.status != 408 && hr.status != 429)) {
        return GF_STORAGE_REFUSED;
    }
    return GF_STORAGE_AGAIN;
}

static apr_status_t s3_put(const gf_storage_t *st, apr_pool_t *p, const char *key,
                           const unsigned char *data, apr_size_t len, const char *content_type,
                           const char **url, const char **err)
{
    const gf_s3_t *s3 = st->impl;
    put_t x;

    if (!key_ok(key)) {
        *err = apr_psprintf(p, "s3: refusing the key '%s'", key ? key : "");
        return APR_EINVAL;
    }
    x.s3 = s3;
    x.p = p;
    x.key = key;
    x.content_type = content_type;
    x.data = data;
    x.len = len;
    x.url = url;
    x.err = err;
    return gf_storage_retry(s3->attempts, put_once, &x);
}

static apr_status_t s3_get(const gf_storage_t *st, apr_pool_t *p, const char *key,
                           const char *url, apr_size_t max, unsigned char **data,
                           apr_size_t *len, const char **err)
{
    const gf_s3_t *s3 = st->impl;
    gf_http_response_t hr;

    (void)url;   /* read from the bucket by key, never from a stored URL */
    if (!key_ok(key)) {
        *err = apr_psprintf(p, "s3: refusing the key '%s'", key ? key : "");
        return APR_EINVAL;
    }
    s3_exchange(s3, p, "GET", gf_s3_object_url(p, s3, key), NULL, 0, NULL, max, &hr);
    if (hr.error || hr.status != 200 || hr.body_len == 0) {
        *err = s3_error(p, "GET", &hr);
        return APR_EGENERAL;
    }
    *data = (unsigned char *)hr.body;
    *len = hr.body_len;
    return APR_SUCCESS;
}

static apr_status_t s3_remove(const gf_storage_t *st, apr_pool_t *p, const char *key)
{
    const gf_s3_t *s3 = st->impl;
    gf_http_response_t hr;
    if (!key_ok(key)) return APR_EINVAL;
    s3_exchange(s3, p, "DELETE", gf_s3_object_url(p, s3, key), NULL, 0, NULL, 64 * 1024, &hr);
    /* S3 answers 204 whether or not the object was there. */
    return !hr.error && (hr.status == 204 || hr.status == 200 || hr.status == 404)
           ? APR_SUCCESS : APR_EGENERAL;
}

/* The text of the first <tag>…</tag> between from and end, or NULL. */
static const char *xml_text(apr_pool_t *p, const char *from, const char *end, const char *tag)
{
    const char *open = apr_pstrcat(p, "<", tag, ">", NULL), *close = apr_pstrcat(p, "</", tag, ">", NULL);
    const char *b = strstr(from, open), *e;
    if (!b || b >= end) return NULL;
    b += strlen(open);
    e = strstr(b, close);
    if (!e || e > end) return NULL;
    return apr_pstrmemdup(p, b, (apr_size_t)(e - b));
}

/* "2026-11-24T14:42:35.000Z" (S3's LastModified), or 0. */
static apr_time_t iso_time(const char *s)
{
    apr_time_exp_t t;
    apr_time_t out;
    memset(&t, 0, sizeof(t));
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &t.tm_year, &t.tm_mon, &t.tm_mday,
                     &t.tm_hour, &t.tm_min, &t.tm_sec) != 6) {
        return 0;
    }
    t.tm_year -= 1900;
    t.tm_mon -= 1;
    return apr_time_exp_gmt_get(&out, &t) == APR_SUCCESS ? out : 0;
}

/* A key as a query value, encoded as SigV4 signs it: keys have letters,
 * digits and - _ . / only, and '/' is the one to encode. */
static const char *query_value(apr_pool_t *p, const char *key)
{
    const char *c, *out = "";
    for (c = key; *c; c++) out = apr_pstrcat(p, out, *c == '/' ? "%2F" : apr_pstrndup(p, c, 1), NULL);
    return out;
}

/* ListObjectsV2 of the keys under prefix, one page of at most max (the
 * sweep comes back for the rest). The query's parameters are in the
 * order and encoding SigV4 signs them. */
static apr_status_t s3_list(const gf_storage_t *st, apr_pool_t *p, const char *prefix,
                            const char *after, int max, apr_array_header_t **out,
                            const char **err)
{
    const gf_s3_t *s3 = st->impl;
    gf_http_response_t hr;
    const char *c;
    apr_size_t plen = strlen(s3->prefix);

    *out = apr_array_make(p, 16, sizeof(gf_storage_object_t));
    if (!key_ok(prefix) || (after && !key_ok(after)) || max < 1 || max > 1000) {
        *err = "s3: bad list request";
        return APR_EINVAL;
    }
    s3_exchange(s3, p, "GET",
                apr_psprintf(p, "%s?list-type=2&max-keys=%d&prefix=%s%s%s", bucket_url(p, s3), max,
                             query_value(p, apr_pstrcat(p, s3->prefix, prefix, NULL)),
                             after ? "&start-after=" : "",
                             after ? query_value(p, apr_pstrcat(p, s3->prefix, after, NULL)) : ""),
                NULL, 0, NULL, 4 * 1024 * 1024, &hr);
    if (hr.error || hr.status != 200) {
        *err = s3_error(p, "list", &hr);
        return APR_EGENERAL;
    }
    for (c = strstr(hr.body, "<Contents>"); c; c = strstr(c + 1, "<Contents>")) {
        const char *end = strstr(c, "</Contents>");
        const char *key = end ? xml_text(p, c, end, "Key") : NULL;
        gf_storage_object_t *o;
        if (!key || strncmp(key, s3->prefix, plen) || !key_ok(key + plen)) continue;
        o = apr_array_push(*out);
        o->key = key + plen;
        o->mtime = iso_time(xml_text(p, c, end, "LastModified"));
    }
    return APR_SUCCESS;
}

/* Bucket names as S3 allows them: 3..63 of a-z 0-9 . - */
static int bucket_ok(const char *b)
{
    apr_size_t n = strlen(b), i;
    if (n < 3 || n > 63) return 0;
    for (i = 0; i < n; i++) {
        if (!apr_islower(b[i]) && !apr_isdigit(b[i]) && b[i] != '.' && b[i] != '-') return 0;
    }
    return 1;
}

static int word_ok(const char *w, const char *extra)
{
    if (!*w) return 0;
    for (; *w; w++) {
        if (!apr_isalnum(*w) && !strchr(extra, *w)) return 0;
    }
    return 1;
}

/* The endpoint without a trailing slash, and nothing after its origin. */
static const char *endpoint_of(apr_pool_t *p, const char *v, int loopback, const char **out)
{
    const char *why, *rest;
    char *e = apr_pstrdup(p, v);
    apr_size_t n = strlen(e);
    while (n > 0 && e[n - 1] == '/') e[--n] = '\0';
    if ((why = gf_http_check_url(p, e, loopback)) != NULL) return why;
    rest = strstr(e, "://");
    if (!rest || strchr(rest + 3, '/') || strchr(rest + 3, '?') || strchr(rest + 3, '@')) {
        return "endpoint must be scheme://host[:port], without a path";
    }
    *out = e;
    return NULL;
}

/* One key=value option of GenFlowS3. */
static const char *s3_option(apr_pool_t *p, gf_s3_t *s3, const char *k, const char *v)
{
    if (!strcmp(k, "bucket")) s3->bucket = v;
    else if (!strcmp(k, "region")) s3->region = v;
    else if (!strcmp(k, "endpoint")) s3->endpoint = v;
    else if (!strcmp(k, "style")) {
        if (strcmp(v, "path") && strcmp(v, "virtual")) return "style must be path or virtual";
        s3->virtual_host = !strcmp(v, "virtual");
    }
    else if (!strcmp(k, "key_file")) return gf_secret_from_file(p, k, v, &s3->access_key);
    else if (!strcmp(k, "key_env")) return gf_secret_from_env(p, k, v, &s3->access_key);
    else if (!strcmp(k, "secret_file")) return gf_secret_from_file(p, k, v, &s3->secret);
    else if (!strcmp(k, "secret_env")) return gf_secret_from_env(p, k, v, &s3->secret);
    else if (!strcmp(k, "public_url")) s3->public_url = v;
    else if (!strcmp(k, "presign")) {
        s3->presign = atoi(v);
        if (s3->presign < 60 || s3->presign > 604800) {
            return "presign must be 60..604800 seconds (SigV4 allows a week at most)";
        }
    }
    else if (!strcmp(k, "prefix")) s3->prefix = v;
    else if (!strcmp(k, "insecure_loopback")) s3->insecure_loopback = !strcmp(v, "on");
    else if (!strcmp(k, "attempts")) {
        s3->attempts = atoi(v);
        if (s3->attempts < 1 || s3->attempts > 10) return "attempts must be 1..10";
    }
    else if (!strcmp(k, "timeout")) {
        s3->timeout_ms = atol(v);
        if (s3->timeout_ms < 100 || s3->timeout_ms > 600000) return "timeout must be 100..600000 ms";
    }
    else return apr_psprintf(p, "unknown option '%s' (bucket, region, endpoint, style, key_file, "
                             "key_env, secret_file, secret_env, public_url, presign, prefix, "
                             "insecure_loopback, attempts, timeout)", k);
    return NULL;
}

/* What the options say together: required ones, names S3 accepts, and
 * the origin every exchange is pinned to. */
static const char *s3_settle(apr_pool_t *p, gf_s3_t *s3)
{
    const char *err, *host;
    if (!s3->bucket || !s3->region || !s3->endpoint || !s3->access_key || !s3->secret) {
        return "bucket=, region=, endpoint=, key_file= (or key_env=) and secret_file= "
               "(or secret_env=) are required";
    }
    if (!bucket_ok(s3->bucket)) return "bucket must be 3..63 of a-z, 0-9, '.' and '-'";
    if (!word_ok(s3->region, "-_")) return "region must be letters, digits, '-' and '_'";
    if (strchr(s3->access_key, ':') || strchr(s3->access_key, '\n')) {
        return "the access key must not contain ':' or a line break";
    }
    if ((err = endpoint_of(p, s3->endpoint, s3->insecure_loopback, &s3->endpoint)) != NULL) {
        return err;
    }
    if (*s3->prefix && (!word_ok(s3->prefix, "-_./") || *s3->prefix == '/'
                        || strstr(s3->prefix, "..") || s3->prefix[strlen(s3->prefix) - 1] != '/')) {
        return "prefix must be letters, digits, '-', '_', '.' and '/', end with '/' and not "
               "start with one";
    }
    if (s3->public_url && s3->presign) return "public_url= and presign= exclude each other";
    if (s3->public_url) {
        char *u = apr_pstrdup(p, s3->public_url);
        apr_size_t n = strlen(u);
        while (n > 0 && u[n - 1] == '/') u[--n] = '\0';
        if ((err = gf_http_check_url(p, u, s3->insecure_loopback)) != NULL) return err;
        s3->public_url = u;
    }
    s3->sigv4 = apr_pstrcat(p, "aws:amz:", s3->region, ":s3", NULL);
    host = strstr(s3->endpoint, "://") + 3;
    s3->origin = s3->virtual_host
        ? apr_pstrcat(p, apr_pstrmemdup(p, s3->endpoint, (apr_size_t)(host - s3->endpoint)),
                      s3->bucket, ".", host, NULL)
        : s3->endpoint;
    return NULL;
}

const char *gf_storage_s3_create(apr_pool_t *p, int argc, char *const argv[],
                                 gf_storage_t **out)
{
    gf_s3_t *s3 = apr_pcalloc(p, sizeof(*s3));
    gf_storage_t *st = apr_pcalloc(p, sizeof(*st));
    const char *err;
    int i;

    s3->attempts = 3;
    s3->timeout_ms = 30000;
    s3->prefix = "";
    for (i = 0; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (!eq) return apr_psprintf(p, "'%s' is not key=value", argv[i]);
        err = s3_option(p, s3, apr_pstrmemdup(p, argv[i], (apr_size_t)(eq - argv[i])), eq + 1);
        if (err) return err;
    }
    if ((err = s3_settle(p, s3)) != NULL) return err;
    st->backend = "s3";
    st->put = s3_put;
    st->get = s3_get;
    st->remove = s3_remove;
    st->list = s3_list;
    st->worst_put = gf_storage_retry_worst(s3->timeout_ms, s3->attempts);
    st->impl = s3;
    *out = st;
    return NULL;
}

const gf_s3_t *gf_storage_s3_of(const gf_storage_t *st)
{
    return st && st->backend && !strcmp(st->backend, "s3") ? st->impl : NULL;
}
