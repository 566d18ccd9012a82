/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_handle_uploads.c: POST /api/uploads (docs/api.md), SetHandler
 * genflow-uploads.
 *
 * The body is the raw image (Content-Type image/png, image/jpeg or
 * image/webp), at most GenFlowUploadMaxBytes. It is verified by decoding
 * it (gf_image.c): the format comes from its first bytes, never from the
 * header or a name, and its pixel count is capped (GenFlowUploadMaxPixels)
 * before any pixel is allocated. Accepted bytes go to the storage backend
 * the server uses for results, under "uploads/<uuid>.<ext>" (a random
 * UUID: the URL cannot be guessed), and only then is the row written, so
 * every row names stored bytes. No pooled database connection is held
 * while the body is read or the storage writes; the row's INSERT takes one
 * for itself. The answer's sourceImage ("upload:<uuid>") is what a create
 * accepts, for this user only.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_uuid.h>
#include <http_protocol.h>
#include <http_request.h>

#include "httpd/api/mod_genflow_handlers.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/io/mod_genflow_http.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_error.h"
#include "image/gf_image.h"
#include "core/gf_answer.h"
#include "core/gf_create.h"
#include "core/gf_sql.h"

/* The first read buffer of a body without Content-Length (chunked); it
 * doubles as the body grows, never past the limit. */
#define UPLOAD_FIRST_CHUNK (64 * 1024)

static const char *extension(gf_image_format_t fmt)
{
    switch (fmt) {
    case GF_IMAGE_PNG:  return "png";
    case GF_IMAGE_JPEG: return "jpg";
    default:            return "webp";
    }
}

typedef struct {
    unsigned char *buf;
} body_t;

static apr_status_t free_body(void *data)
{
    body_t *b = data;
    free(b->buf);
    b->buf = NULL;
    return APR_SUCCESS;
}

static int too_large(request_rec *r, apr_size_t max)
{
    return gf_send_error(r, HTTP_REQUEST_ENTITY_TOO_LARGE, GF_ERR_TOO_LARGE,
                         apr_psprintf(r->pool, "the image is larger than %" APR_SIZE_T_FMT
                                      " bytes (GenFlowUploadMaxBytes)", max));
}

/* Read the body, at most max bytes: refused up front by its
 * Content-Length, and again while reading (a chunked body, or a length
 * that lied). The buffer is malloc'd and grown without copies into the
 * pool; the pool frees it. Returns GF_CONTINUE or the answer sent. */
static int read_body(request_rec *r, apr_size_t max, unsigned char **data, apr_size_t *len)
{
    const char *clen = apr_table_get(r->headers_in, "Content-Length");
    body_t *b = apr_pcalloc(r->pool, sizeof(*b));
    apr_size_t cap, got = 0;
    long n = 0;
    int rc;

    if (clen && apr_atoi64(clen) > (apr_int64_t)max) {
        return too_large(r, max);   /* httpd discards the rest of the body */
    }
    if ((rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) != OK) {
        if (rc == HTTP_REQUEST_ENTITY_TOO_LARGE) return too_large(r, max);
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                             "the request body cannot be read; send it again");
    }
    /* A known length gets one buffer of that size (+1 to notice more). */
    cap = clen ? (apr_size_t)apr_atoi64(clen) + 1 : UPLOAD_FIRST_CHUNK;
    if (cap > max + 1) cap = max + 1;
    if (!(b->buf = malloc(cap))) {
        return gf_send_error(r, HTTP_SERVICE_UNAVAILABLE, GF_ERR_UNAVAILABLE,
                             "the server cannot take this upload now; retry later");
    }
    apr_pool_cleanup_register(r->pool, b, free_body, apr_pool_cleanup_null);
    if (ap_should_client_block(r)) {
        for (;;) {
            if (got == cap) {
                unsigned char *bigger;
                if (cap > max) return too_large(r, max);
                cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
                if (!(bigger = realloc(b->buf, cap))) {
                    return gf_send_error(r, HTTP_SERVICE_UNAVAILABLE, GF_ERR_UNAVAILABLE,
                                         "the server cannot take this upload now; retry later");
                }
                b->buf = bigger;
            }
            n = ap_get_client_block(r, (char *)b->buf + got, cap - got);
            if (n <= 0) break;
            got += (apr_size_t)n;
            if (got > max) return too_large(r, max);
        }
        if (n < 0) {
            /* LimitRequestBody stops the read this way too. */
            if (r->status == HTTP_REQUEST_ENTITY_TOO_LARGE) return too_large(r, max);
            return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                                 "the request body could not be read completely; send it again");
        }
    }
    *data = b->buf;
    *len = got;
    return GF_CONTINUE;
}

/* Verify the bytes by decoding them, in a pool of their own: the pixels
 * are not needed here and go at once, not at the end of the request
 * (which still has the storage write ahead). */
static int verify(request_rec *r, const gf_dir_conf_t *dc, const unsigned char *data,
                  apr_size_t len, gf_image_format_t *fmt, unsigned *width, unsigned *height)
{
    apr_pool_t *scratch;
    gf_image_t img;
    const char *err;

    apr_pool_create(&scratch, r->pool);
    err = gf_image_decode(scratch, data, len, (apr_uint64_t)gf_conf_upload_max_pixels(dc),
                          fmt, &img);
    *width = img.width;
    *height = img.height;
    apr_pool_destroy(scratch);
    if (!err) return GF_CONTINUE;
    if (*fmt == GF_IMAGE_UNKNOWN) {
        return gf_send_error(r, HTTP_UNSUPPORTED_MEDIA_TYPE, GF_ERR_UNSUPPORTED_MEDIA,
                             "the body is not a PNG, JPEG or WebP image");
    }
    /* Corrupt, truncated, or more pixels than allowed: the message says which. */
    return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION, err);
}

/* The 201 answer. */
static int send_created(request_rec *r, const char *id, const char *url, const char *ctype,
                        unsigned width, unsigned height, apr_size_t len, const char *created)
{
    apr_table_setn(r->headers_out, "Location", url);
    return gf_send_json(r, HTTP_CREATED, gf_answer_upload(r->pool, id, url, ctype, width, height,
                                                          len, created));
}

/* The request before its body: POST, a user, an image type.
 * GF_CONTINUE, or the error answer sent. */
static int refused(request_rec *r)
{
    if (r->method_number != M_POST) {
        apr_table_setn(r->headers_out, "Allow", "POST");
        return gf_send_error(r, HTTP_METHOD_NOT_ALLOWED, GF_ERR_METHOD,
                             apr_psprintf(r->pool, "%s is not allowed here; use POST", r->method));
    }
    if (!r->user || !*r->user) {
        return gf_send_error(r, HTTP_UNAUTHORIZED, GF_ERR_UNAUTHORIZED, GF_MSG_NO_USER);
    }
    if (strlen(r->user) > 255) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION, GF_MSG_USER_TOO_LONG);
    }
    if (!gf_answer_upload_accepts(r->pool, apr_table_get(r->headers_in, "Content-Type"))) {
        return gf_send_error(r, HTTP_UNSUPPORTED_MEDIA_TYPE, GF_ERR_UNSUPPORTED_MEDIA,
                             "send the image itself as the body, with Content-Type image/png, "
                             "image/jpeg or image/webp");
    }
    return GF_CONTINUE;
}

/* The verified bytes into the store (the fallback store when the first
 * will not take them): *st and *url say where. GF_CONTINUE, or the error
 * answer sent. */
static int store(request_rec *r, const char *id, const char *key, const unsigned char *data,
                 apr_size_t len, const char *ctype, const gf_storage_t **st, const char **url)
{
    gf_server_conf_t *sc = gf_server_conf(r->server);
    const char *err = NULL;
    apr_status_t rv;

    if (!(*st = sc->storage)) {
        /* post_config sets it up only when some GenFlowType is mounted. */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GF_LOGNO(4101)
                      "genflow-uploads needs the storage of GenFlowStorageDir, "
                      "GenFlowCloudinary or GenFlowS3, and some GenFlowType to use the uploads");
        return gf_send_error(r, HTTP_INTERNAL_SERVER_ERROR, GF_ERR_INTERNAL,
                             "uploads are not configured on this server");
    }
    rv = gf_storage_put(*st, r->pool, key, data, len, ctype, url, &err);
    if (rv != APR_SUCCESS && sc->fallback_storage) {
        /* As for results: the local directory when Cloudinary will not. */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, GF_LOGNO(4102)
                      "%s storage failed for upload %s (%s); trying %s", (*st)->backend, id,
                      ap_escape_logitem(r->pool, err), sc->fallback_storage->backend);
        *st = sc->fallback_storage;
        rv = gf_storage_put(*st, r->pool, key, data, len, ctype, url, &err);
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GF_LOGNO(4103)
                      "storage failed for upload %s of user %s: %s", id,
                      ap_escape_logitem(r->pool, r->user), ap_escape_logitem(r->pool, err));
        apr_table_setn(r->headers_out, "Retry-After", GF_RETRY_AFTER_UNAVAILABLE);
        return gf_send_error(r, HTTP_SERVICE_UNAVAILABLE, GF_ERR_UNAVAILABLE,
                             "the image could not be stored; retry later");
    }
    return GF_CONTINUE;
}

int gf_uploads_save(request_rec *r, const unsigned char *data, apr_size_t len,
                    gf_image_format_t fmt, unsigned width, unsigned height, gf_upload_saved_t *out)
{
    const gf_storage_t *st = NULL;
    const char *key, *url = NULL, *ctype = gf_image_content_type(fmt);
    char *id = apr_palloc(r->pool, APR_UUID_FORMATTED_LENGTH + 1);
    gf_db_rows_t *rows;
    gf_db_status_t dst;
    int rc;

    gf_create_draw_upload_id(id);
    key = apr_psprintf(r->pool, "uploads/%s.%s", id, extension(fmt));
    if ((rc = store(r, id, key, data, len, ctype, &st, &url)) != GF_CONTINUE) return rc;
    out->id = id;
    out->url = url;
    out->content_type = ctype;
    /* The row, on a connection held for this statement only. */
    dst = gf_db_select1(r, GF_SQL_UPLOAD_INSERT, &rows, 9, id, r->user, st->backend, key, url,
                        ctype, apr_itoa(r->pool, (int)width), apr_itoa(r->pool, (int)height),
                        apr_psprintf(r->pool, "%" APR_SIZE_T_FMT, len));
    if (dst == GF_DB_OK && rows->nrows == 0 && rows->rerun) {
        /* Run twice after a lost connection: the first run wrote it. */
        dst = gf_db_select1(r, GF_SQL_UPLOAD_GET, &rows, 2, id, r->user);
        if (dst == GF_DB_OK && rows->nrows == 1) {
            out->created_at = rows->rows[0][GF_UPLOAD_CREATED_AT];
            return GF_CONTINUE;
        }
    }
    if (dst != GF_DB_OK || rows->nrows != 1) {
        /* No row: the stored bytes would be nobody's. */
        gf_storage_remove(st, r->pool, key);
        return gf_send_db_error(r, dst != GF_DB_OK ? dst : GF_DB_ERROR);
    }
    out->created_at = rows->rows[0][0];
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, GF_LOGNO(4104)
                  "upload %s user=%s %s %ux%u %" APR_SIZE_T_FMT " bytes in %s", id,
                  ap_escape_logitem(r->pool, r->user), ctype, width, height, len, st->backend);
    return GF_CONTINUE;
}

int gf_uploads_handler(request_rec *r)
{
    gf_dir_conf_t *dc;
    unsigned char *data = NULL;
    apr_size_t len = 0;
    gf_image_format_t fmt = GF_IMAGE_UNKNOWN;
    unsigned width = 0, height = 0;
    gf_upload_saved_t saved;
    int rc;

    if ((rc = refused(r)) != GF_CONTINUE) return rc;
    dc = gf_dir_conf(r);
    if ((rc = read_body(r, (apr_size_t)gf_conf_upload_max_bytes(dc), &data, &len))
        != GF_CONTINUE) {
        return rc;
    }
    if (len == 0) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                             "the body is empty; send the image itself as the body");
    }
    if ((rc = verify(r, dc, data, len, &fmt, &width, &height)) != GF_CONTINUE) return rc;
    /* What is stored and answered is what the bytes are. */
    if ((rc = gf_uploads_save(r, data, len, fmt, width, height, &saved)) != GF_CONTINUE) return rc;
    return send_created(r, saved.id, saved.url, saved.content_type, width, height, len,
                        saved.created_at);
}
