/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_handle_type_pictures.c: an edit's pictures given as URLs,
 * fetched and kept as uploads of the caller before anything else.
 *
 * A mask, a reference picture, and the source of a masked edit may be an
 * http(s) URL on one of the origins the location allows
 * (GenFlowPictureOrigins). Each is fetched once, from that origin only
 * (redirects are never followed, and a public origin is reached on public
 * addresses only), under a timeout and the uploads' size cap, verified by
 * decoding it as an upload is, and kept as an upload of the caller; the
 * body then names it "upload:<id>", so the checks, the stored input (a
 * retry) and the engine see uploads only. It runs before a pooled
 * connection is taken: the fetches wait on the network.
 */
#include <string.h>
#include <apr_strings.h>

#include "httpd/api/mod_genflow_handle_int.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/api/mod_genflow_handlers.h"
#include "httpd/io/mod_genflow_http.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_error.h"
#include "core/gf_input.h"
#include "core/gf_loopback.h"
#include "image/gf_image.h"
#include "net/gf_http.h"

#define PICTURE_CONNECT_MS 3000
#define PICTURE_TIMEOUT_MS 10000

/* 400 naming field. */
static int bad(request_rec *r, const char *field, const char *why)
{
    return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                         apr_pstrcat(r->pool, field, ": ", why, NULL));
}

/* The allowed origin url is on, or NULL. */
static const char *origin_of(request_rec *r, const gf_dir_conf_t *dc, const char *url)
{
    int i;
    for (i = 0; dc->picture_origins && i < dc->picture_origins->nelts; i++) {
        const char *o = APR_ARRAY_IDX(dc->picture_origins, i, const char *);
        if (!gf_http_check_origin(r->pool, url, o)) return o;
    }
    return NULL;
}

/* The picture at url (on origin), fetched and verified: GF_CONTINUE with
 * its bytes, format and size; else the 400 sent. */
static int fetch(request_rec *r, const gf_dir_conf_t *dc, const char *field, const char *url,
                 const char *origin, gf_http_response_t *hr, gf_image_format_t *fmt,
                 unsigned *w, unsigned *h)
{
    gf_http_request_t req;
    apr_uri_t u;
    gf_image_t img;
    apr_pool_t *scratch;
    const char *err;
    int loopback = apr_uri_parse(r->pool, origin, &u) == APR_SUCCESS && gf_loopback_host(u.hostname);

    memset(&req, 0, sizeof(req));
    req.method = "GET";
    req.url = url;
    req.origin = origin;
    req.http_to_origin = loopback && !strncasecmp(origin, "http:", 5);
    req.allow_loopback_http = loopback;
    req.public_only = 1;
    req.connect_timeout_ms = PICTURE_CONNECT_MS;
    req.timeout_ms = PICTURE_TIMEOUT_MS;
    req.max_response = (apr_size_t)gf_conf_upload_max_bytes(dc);
    gf_http_perform(r->pool, &req, hr);
    if (hr->error) {
        return bad(r, field, apr_psprintf(r->pool, "the picture at the URL could not be "
                                          "fetched (%s)", hr->error));
    }
    if (hr->status != 200) {
        return bad(r, field, apr_psprintf(r->pool, "the picture at the URL could not be "
                                          "fetched (HTTP %d)", hr->status));
    }
    apr_pool_create(&scratch, r->pool);
    err = gf_image_decode(scratch, (const unsigned char *)hr->body, hr->body_len,
                          (apr_uint64_t)gf_conf_upload_max_pixels(dc), fmt, &img);
    *w = img.width;
    *h = img.height;
    apr_pool_destroy(scratch);
    if (err) {
        return bad(r, field, *fmt == GF_IMAGE_UNKNOWN
                   ? "the URL is not a PNG, JPEG or WebP picture" : err);
    }
    return GF_CONTINUE;
}

/* The picture of a URL value of field kept as an upload; *ref its
 * "upload:<id>". GF_CONTINUE, or the answer sent. */
static int import(request_rec *r, const gf_dir_conf_t *dc, const char *field, const char *url,
                  const char **ref)
{
    const char *origin = origin_of(r, dc, url);
    gf_http_response_t hr;
    gf_image_format_t fmt = GF_IMAGE_UNKNOWN;
    gf_upload_saved_t saved;
    unsigned w = 0, h = 0;
    int rc;

    if (!origin) {
        return bad(r, field, "a URL is taken only from the origins this API allows "
                   "(GenFlowPictureOrigins); upload the picture (POST /api/uploads) and give "
                   "its upload: reference");
    }
    if ((rc = fetch(r, dc, field, url, origin, &hr, &fmt, &w, &h)) != GF_CONTINUE) return rc;
    rc = gf_uploads_save(r, (const unsigned char *)hr.body, hr.body_len, fmt, w, h, &saved);
    if (rc != GF_CONTINUE) return rc;
    *ref = apr_pstrcat(r->pool, GF_UPLOAD_REF_PREFIX, saved.id, NULL);
    return GF_CONTINUE;
}

/* A string that is not an upload reference: a URL to import. */
static const char *url_value(json_object *v)
{
    const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
    if (!s || !strncmp(s, GF_UPLOAD_REF_PREFIX, sizeof(GF_UPLOAD_REF_PREFIX) - 1)) return NULL;
    return strncasecmp(s, "https://", 8) && strncasecmp(s, "http://", 7) ? NULL : s;
}

int gf_type_import_pictures(request_rec *r, const gf_dir_conf_t *dc, json_object *body)
{
    json_object *mask = NULL, *refs = NULL, *src = NULL;
    const char *url, *ref;
    size_t i;
    int rc;

    /* Only what the type takes is fetched: the create refuses the rest. */
    if (!json_object_is_type(body, json_type_object)) return GF_CONTINUE;
    if (gf_conf_accepts(dc) & GF_ACCEPT_REFERENCES) {
        json_object_object_get_ex(body, "referenceImages", &refs);
    }
    if ((gf_conf_accepts(dc) & GF_ACCEPT_MASK) && json_object_object_get_ex(body, "mask", &mask)
        && (url = url_value(mask)) != NULL) {
        if ((rc = import(r, dc, "mask", url, &ref)) != GF_CONTINUE) return rc;
        json_object_object_add(body, "mask", json_object_new_string(ref));
    }
    /* A masked edit's source: the mask is checked against its size. */
    if (mask && json_object_object_get_ex(body, "sourceImage", &src) && (url = url_value(src))
        && origin_of(r, dc, url)) {
        if ((rc = import(r, dc, "sourceImage", url, &ref)) != GF_CONTINUE) return rc;
        json_object_object_add(body, "sourceImage", json_object_new_string(ref));
    }
    for (i = 0; json_object_is_type(refs, json_type_array) && i < json_object_array_length(refs)
                && i < GF_REFERENCES_MAX; i++) {
        if (!(url = url_value(json_object_array_get_idx(refs, i)))) continue;
        rc = import(r, dc, apr_psprintf(r->pool, "referenceImages[%d]", (int)i), url, &ref);
        if (rc != GF_CONTINUE) return rc;
        json_object_array_put_idx(refs, i, json_object_new_string(ref));
    }
    return GF_CONTINUE;
}
