/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_source.c: an attempt's source picture when it is one of
 * the user's uploads ("upload:<id>", mod_genflow_handle_uploads.c): its row, read
 * on a connection held for that read only, and its bytes, read back from
 * the storage backend that keeps them (never across a pooled connection).
 */
#include <string.h>
#include <apr_strings.h>

#include "httpd/mod_genflow_engine_run.h"
#include "httpd/mod_genflow_config.h"
#include "httpd/mod_genflow_db.h"
#include "httpd/mod_genflow_private.h"
#include "core/gf_error.h"
#include "core/gf_input.h"
#include "image/gf_image.h"

/* The attempt cannot start: its source upload could not be read. */
static int source_failed(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                         gf_provider_result_t *res, const char *code, int transient,
                         const char *message, const char *detail)
{
    ap_log_error(APLOG_MARK, transient ? APLOG_WARNING : APLOG_ERR, 0, s, GF_LOGNO(4120)
                 "type=%s id=%s trace=%s: %s%s%s", c->type->name, c->id, gf_engine_row_trace(c),
                 message, detail ? ": " : "", detail ? ap_escape_logitem(p, detail) : "");
    res->error_code = code;
    res->transient = transient;
    res->error_message = message;
    return 0;
}

/* An "upload:<id>" source: the upload's row (on a connection held for
 * that read only, never across the storage read), its bytes read back
 * from the backend that stored them (at most the size the row records),
 * and for the local provider its pixels, decoded again with the row's
 * pixel count as the cap. 1 when the job has them; else 0 and res says
 * why: a transient STORAGE_ERROR (retried), or a permanent one when the
 * upload is gone or no longer what it was. */
/* The store of this server that holds an upload of backend (the name its
 * row keeps): the main store or the local fallback; NULL when this
 * server has no such store any more. */
static const gf_storage_t *store_named(const gf_server_conf_t *sc, const char *backend)
{
    if (sc->storage && !strcmp(sc->storage->backend, backend)) return sc->storage;
    if (sc->fallback_storage && !strcmp(sc->fallback_storage->backend, backend)) {
        return sc->fallback_storage;
    }
    return NULL;
}

int gf_engine_source_resolve(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                             const gf_provider_t *prov, gf_job_t *job, gf_provider_result_t *res)
{
    gf_server_conf_t *sc = gf_server_conf(s);
    const char *id = gf_input_upload_id(c->source_image), *err = NULL;
    const gf_storage_t *store;
    const char *const *row;
    unsigned char *bytes = NULL;
    apr_size_t len = 0, want;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    ap_dbd_t *dbd;

    if (!(dbd = gf_db_open(p, s))) {
        return source_failed(s, p, c, res, GF_JOB_STORAGE, 1,
                             "the source upload could not be looked up", "no database connection");
    }
    st = gf_db_pselect(s, p, dbd, GF_SQL_UPLOAD_GET, &rows, 2, id, c->user);
    gf_db_close(s, dbd);
    if (st != GF_DB_OK) {
        return source_failed(s, p, c, res, GF_JOB_STORAGE, 1,
                             "the source upload could not be looked up", "database error");
    }
    if (rows->nrows != 1) {
        return source_failed(s, p, c, res, GF_JOB_STORAGE, 0,
                             "the source upload no longer exists", id);
    }
    row = rows->rows[0];
    store = store_named(sc, row[GF_UPLOAD_STORAGE]);
    if (!store) {
        return source_failed(s, p, c, res, GF_JOB_STORAGE, 0,
                             "the source upload's storage is not configured here", row[GF_UPLOAD_STORAGE]);
    }
    want = (apr_size_t)apr_atoi64(row[GF_UPLOAD_BYTES]);
    if (gf_storage_get(store, p, row[GF_UPLOAD_KEY], row[GF_UPLOAD_URL], want, &bytes, &len, &err) != APR_SUCCESS) {
        return source_failed(s, p, c, res, GF_JOB_STORAGE, 1,
                             "the source upload could not be read back", err);
    }
    if (len != want) {
        return source_failed(s, p, c, res, GF_JOB_STORAGE, 0,
                             "the source upload changed since it was uploaded", row[GF_UPLOAD_KEY]);
    }
    job->source_bytes = bytes;
    job->source_len = len;
    job->source_content_type = row[GF_UPLOAD_CONTENT_TYPE];
    job->source_url = row[GF_UPLOAD_URL];
    if (prov->kind->source_pixels) {
        gf_image_t *img = apr_pcalloc(p, sizeof(*img));
        gf_image_format_t fmt;
        apr_uint64_t pixels = (apr_uint64_t)apr_atoi64(row[GF_UPLOAD_WIDTH]) * (apr_uint64_t)apr_atoi64(row[GF_UPLOAD_HEIGHT]);
        if ((err = gf_image_decode(p, bytes, len, pixels, &fmt, img)) != NULL
            || strcmp(gf_image_content_type(fmt), row[GF_UPLOAD_CONTENT_TYPE])) {
            return source_failed(s, p, c, res, GF_JOB_STORAGE, 0,
                                 "the source upload no longer decodes as it did", err);
        }
        job->source_pixels = img;
    }
    return 1;
}

