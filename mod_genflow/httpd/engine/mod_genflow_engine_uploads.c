/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_uploads.c: the uploads' retention, part of worker
 * 0's sweeps (mod_genflow_engine_worker.c).
 *
 * An upload that no create has named as its sourceImage for
 * GenFlowUploadRetention goes: its row first (one statement, locked rows
 * skipped, so children and nodes never collide), then its object. A store
 * that fails to delete leaves an object without a row; so does a child
 * killed between storing an upload and writing its row. Those are found by
 * listing the store's uploads/ folder a page at a time, at most once a
 * retention (an hour at most), and removed once they are older than the
 * retention: an upload in progress writes its row within moments of its
 * object. No pooled connection is held while a store is listed or
 * deleted from.
 */
#include <apr_strings.h>

#include "httpd/engine/mod_genflow_engine_int.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_sql.h"
#include "core/gf_sweep.h"
#include "core/gf_uploads.h"
#include "storage/gf_storage.h"

#define EXPIRE_BATCH 100      /* uploads per statement; the next sweep takes more */
#define LIST_PAGE    1000     /* objects per look (one S3 page) */
#define SCAN_MIN     apr_time_from_sec(2)
#define SCAN_MAX     apr_time_from_sec(3600)

static void expire_unused(server_rec *s, apr_pool_t *p, long retention)
{
    gf_server_conf_t *sc = gf_server_conf(s);
    const char *args[3];
    gf_db_rows_t *rows;
    int i, kept = 0;

    args[0] = apr_ltoa(p, retention);
    args[1] = gf_uploads_backends(p, sc->storage->backend,
                                  sc->fallback_storage ? sc->fallback_storage->backend : NULL);
    args[2] = apr_itoa(p, EXPIRE_BATCH);
    if (gf_db_select_once(s, p, GF_SQL_UPLOAD_EXPIRE, &rows, 3, args) != GF_DB_OK || rows->nrows == 0) {
        return;
    }
    for (i = 0; i < rows->nrows; i++) {
        const gf_storage_t *st = gf_conf_store_named(sc, rows->rows[i][1]);
        apr_status_t rv = st ? gf_storage_remove(st, p, rows->rows[i][2]) : APR_ENOTIMPL;
        if (rv != APR_SUCCESS && !APR_STATUS_IS_ENOENT(rv)) kept++;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, GF_LOGNO(1412)
                 "deleted %d uploads unused for %lds%s", rows->nrows, retention,
                 kept ? apr_psprintf(p, " (%d objects stay, for the orphan sweep)", kept) : "");
}

/* The next page of st's uploads/ after *after: objects older than the
 * retention whose upload has no row are removed; *after moves on, or back
 * to the start after the last page. */
static void remove_orphans(server_rec *s, apr_pool_t *p, const gf_storage_t *st,
                           long retention, char *after, apr_size_t after_size)
{
    apr_array_header_t *objs;
    apr_hash_t *known = apr_hash_make(p);
    const char *err = NULL, *args[1] = { NULL };
    apr_time_t before = apr_time_now() - apr_time_from_sec(retention);
    gf_db_rows_t *rows;
    int i, removed = 0;

    if (!st->list) return;
    if (gf_storage_list(st, p, "uploads/", *after ? after : NULL, LIST_PAGE, &objs, &err)
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(1413)
                     "cannot look for orphaned uploads in the %s storage: %s", st->backend,
                     ap_escape_logitem(p, err));
        return;
    }
    for (i = 0; i < objs->nelts; i++) {
        const gf_storage_object_t *o = &APR_ARRAY_IDX(objs, i, gf_storage_object_t);
        const char *id = gf_uploads_old_id(p, o->key, o->mtime, before);
        if (id) args[0] = args[0] ? apr_pstrcat(p, args[0], ",", id, NULL) : id;
    }
    gf_sweep_page(after, after_size, objs->nelts, LIST_PAGE,
                  objs->nelts ? APR_ARRAY_IDX(objs, objs->nelts - 1, gf_storage_object_t).key
                              : NULL, NULL);
    if (!args[0] || gf_db_select_once(s, p, GF_SQL_UPLOAD_KNOWN, &rows, 1, args) != GF_DB_OK) return;
    for (i = 0; i < rows->nrows; i++) apr_hash_set(known, rows->rows[i][0], 36, "");
    for (i = 0; i < objs->nelts; i++) {
        const gf_storage_object_t *o = &APR_ARRAY_IDX(objs, i, gf_storage_object_t);
        const char *id = gf_uploads_old_id(p, o->key, o->mtime, before);
        if (!id || apr_hash_get(known, id, 36)) continue;
        if (gf_storage_remove(st, p, o->key) == APR_SUCCESS) removed++;
    }
    if (removed) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, GF_LOGNO(1414)
                     "removed %d stored uploads of the %s storage that no row names", removed,
                     st->backend);
    }
}

void gf_engine_uploads_sweep(server_rec *s, apr_pool_t *p, gf_uploads_scan_t *scan)
{
    gf_server_conf_t *sc = gf_server_conf(s);
    long retention = gf_conf_upload_retention(sc);
    apr_time_t now = apr_time_now();

    if (retention <= 0 || !sc->storage) return;
    expire_unused(s, p, retention);
    if (now < scan->at) return;
    scan->at = gf_sweep_next(now, retention, SCAN_MIN, SCAN_MAX);
    remove_orphans(s, p, sc->storage, retention, scan->after[0], sizeof(scan->after[0]));
    if (sc->fallback_storage) {
        remove_orphans(s, p, sc->fallback_storage, retention, scan->after[1],
                       sizeof(scan->after[1]));
    }
}
