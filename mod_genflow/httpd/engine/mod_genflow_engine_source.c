/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_source.c: an attempt's pictures that are the user's
 * uploads ("upload:<id>", mod_genflow_handle_uploads.c): the source, an
 * edit's mask and its reference pictures. Each upload's row is read on a
 * connection held for that read only, and its bytes are read back from
 * the storage backend that keeps them (never across a pooled connection).
 */
#include <string.h>
#include <apr_strings.h>

#include "httpd/engine/mod_genflow_engine_int.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_error.h"
#include "core/gf_input.h"
#include "core/gf_uploads.h"
#include "image/gf_image.h"

/* The attempt cannot start: an upload it names could not be read (what
 * names it; core/gf_uploads.c words it and says whether it is transient). */
static int source_failed(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                         gf_provider_result_t *res, gf_upload_failure_t why, const char *what,
                         const char *detail)
{
    int transient;
    const char *message = gf_uploads_failure(p, why, what, &transient);
    ap_log_error(APLOG_MARK, transient ? APLOG_WARNING : APLOG_ERR, 0, s, GF_LOGNO(4120)
                 "type=%s id=%s trace=%s: %s%s%s", c->type->name, c->id, gf_engine_row_trace(c),
                 message, detail ? ": " : "", detail ? ap_escape_logitem(p, detail) : "");
    res->error_code = GF_JOB_STORAGE;
    res->transient = transient;
    res->error_message = message;
    return 0;
}

/* One upload of the user read back: its row (on a connection held for
 * that read only), then its bytes from the store that keeps them, at
 * most the size the row records. 1 with *pic and *row_out; else 0 and
 * res says why (what names the picture in the message). */
static int read_upload(server_rec *s, apr_pool_t *p, const gf_claim_t *c, const char *ref,
                       const char *what, gf_job_picture_t *pic, const char *const **row_out,
                       gf_provider_result_t *res)
{
    gf_server_conf_t *sc = gf_server_conf(s);
    const char *id = gf_input_upload_id(ref), *err = NULL;
    const gf_storage_t *store;
    const char *const *row;
    unsigned char *bytes = NULL;
    apr_size_t len = 0, want;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    ap_dbd_t *dbd;

    if (!id) return source_failed(s, p, c, res, GF_UPLOAD_NOT_UPLOAD, what, ref);
    if (!(dbd = gf_db_open(p, s))) {
        return source_failed(s, p, c, res, GF_UPLOAD_LOOKUP, what, "no database connection");
    }
    st = gf_db_pselect(s, p, dbd, GF_SQL_UPLOAD_GET, &rows, 2, id, c->user);
    gf_db_close(s, dbd);
    if (st != GF_DB_OK) {
        return source_failed(s, p, c, res, GF_UPLOAD_LOOKUP, what, "database error");
    }
    if (rows->nrows != 1) return source_failed(s, p, c, res, GF_UPLOAD_GONE, what, id);
    row = rows->rows[0];
    store = gf_conf_store_named(sc, row[GF_UPLOAD_STORAGE]);
    if (!store) {
        return source_failed(s, p, c, res, GF_UPLOAD_NO_STORE, what, row[GF_UPLOAD_STORAGE]);
    }
    want = (apr_size_t)apr_atoi64(row[GF_UPLOAD_BYTES]);
    if (gf_storage_get(store, p, row[GF_UPLOAD_KEY], row[GF_UPLOAD_URL], want, &bytes, &len, &err) != APR_SUCCESS) {
        return source_failed(s, p, c, res, GF_UPLOAD_UNREADABLE, what, err);
    }
    if (len != want) {
        return source_failed(s, p, c, res, GF_UPLOAD_CHANGED, what, row[GF_UPLOAD_KEY]);
    }
    pic->bytes = bytes;
    pic->len = len;
    pic->content_type = row[GF_UPLOAD_CONTENT_TYPE];
    pic->url = row[GF_UPLOAD_URL];
    *row_out = row;
    return 1;
}

/* The source upload, and for a kind that draws from them its pixels,
 * decoded again with the row's pixel count as the cap. */
static int resolve_source(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                          const gf_provider_t *prov, gf_job_t *job, gf_provider_result_t *res)
{
    gf_job_picture_t pic;
    const char *const *row;
    const char *err;

    if (!read_upload(s, p, c, c->source_image, "the source upload", &pic, &row, res)) return 0;
    job->source_bytes = pic.bytes;
    job->source_len = pic.len;
    job->source_content_type = pic.content_type;
    job->source_url = pic.url;
    if (prov->kind->source_pixels) {
        gf_image_t *img = apr_pcalloc(p, sizeof(*img));
        gf_image_format_t fmt;
        apr_uint64_t pixels = (apr_uint64_t)apr_atoi64(row[GF_UPLOAD_WIDTH]) * (apr_uint64_t)apr_atoi64(row[GF_UPLOAD_HEIGHT]);
        if ((err = gf_image_decode(p, pic.bytes, pic.len, pixels, &fmt, img)) != NULL
            || strcmp(gf_image_content_type(fmt), row[GF_UPLOAD_CONTENT_TYPE])) {
            return source_failed(s, p, c, res, GF_UPLOAD_UNDECODABLE, NULL, err);
        }
        job->source_pixels = img;
    }
    return 1;
}

/* The mask and the reference pictures of an edit (the create checked
 * them; a reference list that no longer parses is the row's damage). */
static int resolve_edits(server_rec *s, apr_pool_t *p, const gf_claim_t *c, gf_job_t *job,
                         gf_provider_result_t *res)
{
    const char *const *row;
    apr_array_header_t *refs;
    int i;

    if (c->mask) {
        gf_job_picture_t *m = apr_pcalloc(p, sizeof(*m));
        if (!read_upload(s, p, c, c->mask, "the mask upload", m, &row, res)) return 0;
        job->mask = m;
    }
    if (!c->references) return 1;
    if (!(refs = gf_uploads_references(p, c->references))) {
        return source_failed(s, p, c, res, GF_UPLOAD_BAD_REFERENCES, NULL,
                             c->references);
    }
    job->references = apr_pcalloc(p, (apr_size_t)(refs->nelts + 1) * sizeof(*job->references));
    for (i = 0; i < refs->nelts; i++) {
        const char *ref = APR_ARRAY_IDX(refs, i, const char *);
        if (!read_upload(s, p, c, ref, apr_psprintf(p, "reference picture %d", i),
                         (gf_job_picture_t *)&job->references[i], &row, res)) {
            return 0;
        }
    }
    job->n_references = refs->nelts;
    return 1;
}

int gf_engine_source_resolve(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                             const gf_provider_t *prov, gf_job_t *job, gf_provider_result_t *res)
{
    if (gf_input_upload_id(c->source_image) && !resolve_source(s, p, c, prov, job, res)) {
        return 0;
    }
    return resolve_edits(s, p, c, job, res);
}
