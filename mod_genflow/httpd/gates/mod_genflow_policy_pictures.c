/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_policy_pictures.c: the pictures of a create as the content
 * policy's moderation endpoint sees them (GenFlowPromptPolicy images=on).
 *
 * The endpoint cannot reach the site's media (a local directory, a
 * private bucket), so each of the caller's uploads the create names (the
 * source, the references) is read back from the store that keeps it,
 * decoded with its row's pixel count as the cap, made small (a JPEG whose
 * longer side is POLICY_PICTURE_SIDE at most: a classifier needs no more,
 * and the request stays small however large the uploads) and sent as a
 * data: URL. An https source goes as its URL. The rows are read in one
 * statement on a connection held for it only, never across the reads.
 */
#include <string.h>
#include <apr_strings.h>

#include "httpd/gates/mod_genflow_policy.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_input.h"
#include "core/gf_sql.h"
#include "image/gf_image.h"
#include "providers/gf_provider.h"

#define POLICY_PICTURE_SIDE 512
#define POLICY_PICTURE_QUALITY 85

/* One upload's row into a small JPEG's data: URL; NULL and *why. */
static const char *small_picture(request_rec *r, const char *const *row, const char **why)
{
    const gf_storage_t *store = gf_conf_store_named(gf_server_conf(r->server),
                                                    row[GF_UPLOAD_READ_STORAGE]);
    apr_size_t want = (apr_size_t)apr_atoi64(row[GF_UPLOAD_READ_BYTES]), len = 0, small_len;
    apr_uint64_t pixels = (apr_uint64_t)apr_atoi64(row[GF_UPLOAD_READ_WIDTH])
                          * (apr_uint64_t)apr_atoi64(row[GF_UPLOAD_READ_HEIGHT]);
    unsigned char *bytes = NULL, *small = NULL;
    gf_image_format_t fmt;
    gf_image_t img;
    const char *err = NULL;

    if (!store) {
        *why = "an upload's storage is not configured here";
        return NULL;
    }
    if (gf_storage_get(store, r->pool, row[GF_UPLOAD_READ_KEY], row[GF_UPLOAD_READ_URL], want,
                       &bytes, &len, &err) != APR_SUCCESS || len != want) {
        *why = apr_psprintf(r->pool, "an upload could not be read back (%s)", err ? err : "size");
        return NULL;
    }
    if ((err = gf_image_decode(r->pool, bytes, len, pixels, &fmt, &img)) != NULL
        || (err = gf_image_small_jpeg(r->pool, &img, POLICY_PICTURE_SIDE, POLICY_PICTURE_QUALITY,
                                      &small, &small_len)) != NULL) {
        *why = apr_psprintf(r->pool, "an upload could not be made small (%s)", err);
        return NULL;
    }
    return gf_provider_data_uri(r->pool, small, small_len, "image/jpeg");
}

int gf_policy_pictures(request_rec *r, const gf_input_t *in, const char ***urls, int *n,
                       const char **why)
{
    const char *ids = gf_input_picture_upload_ids(r->pool, in), *args[2];
    const char **out = apr_pcalloc(r->pool, (GF_REFERENCES_MAX + 2) * sizeof(*out));
    gf_db_rows_t *rows;
    int i, k = 0;

    if (in->source_image && !gf_input_upload_id(in->source_image)) out[k++] = in->source_image;
    if (ids) {
        args[0] = ids;
        args[1] = r->user;
        if (gf_db_select_once(r->server, r->pool, GF_SQL_UPLOAD_READ, &rows, 2, args) != GF_DB_OK) {
            *why = "the uploads could not be looked up";
            return 0;
        }
        /* An upload that is not the caller's is not here: the create
         * refuses it (400) after the policy. */
        for (i = 0; i < rows->nrows && k < GF_REFERENCES_MAX + 1; i++) {
            if (!(out[k++] = small_picture(r, rows->rows[i], why))) return 0;
        }
    }
    *urls = out;
    *n = k;
    return 1;
}
