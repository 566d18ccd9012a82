/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_handle_type_edits.c: a create's mask and reference pictures
 * checked before anything is reserved: the type takes them (GenFlowAccept,
 * GenFlowMaxReferences), and the uploads they name are the caller's, the
 * mask a PNG the size of its source (core/gf_input_edits.c), read in one
 * statement by their primary keys. */
#include <apr_strings.h>

#include "httpd/api/mod_genflow_handle_int.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/io/mod_genflow_http.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_error.h"
#include "core/gf_input.h"
#include "core/gf_sql.h"

int gf_type_check_edits(request_rec *r, ap_dbd_t *dbd, const gf_dir_conf_t *dc,
                        const gf_input_t *in)
{
    gf_input_error_t ierr;
    gf_upload_info_t *ups;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    const char *ids;
    int i;

    if (!gf_input_edits_accepted(r->pool, in, gf_conf_accepts(dc), gf_conf_max_references(dc),
                                 &ierr)) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION, ierr.message);
    }
    if (!(ids = gf_input_edit_upload_ids(r->pool, in))) return GF_CONTINUE;
    if (!dbd && !(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);
    if ((st = gf_db_select(r, dbd, GF_SQL_UPLOAD_EDIT, &rows, 2, ids, r->user)) != GF_DB_OK) {
        return gf_send_db_error(r, st);
    }
    ups = apr_pcalloc(r->pool, (rows->nrows + 1) * sizeof(*ups));
    for (i = 0; i < rows->nrows; i++) {
        const char *const *row = rows->rows[i];
        ups[i].id = row[GF_UPLOAD_EDIT_ID];
        ups[i].content_type = row[GF_UPLOAD_EDIT_CONTENT_TYPE];
        ups[i].width = (unsigned)apr_atoi64(row[GF_UPLOAD_EDIT_WIDTH]);
        ups[i].height = (unsigned)apr_atoi64(row[GF_UPLOAD_EDIT_HEIGHT]);
    }
    if (!gf_input_edit_uploads_ok(r->pool, in, ups, rows->nrows, &ierr)) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION, ierr.message);
    }
    return GF_CONTINUE;
}
