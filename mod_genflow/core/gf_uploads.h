/* SPDX-License-Identifier: Apache-2.0 */
/* gf_uploads.h: the user's uploads as the engine finds them again,
 * without httpd, a store or a database.
 *
 * An upload's object is stored as "uploads/<uuid>.<ext>"; the sweep of
 * the uploads (mod_genflow_engine_uploads.c) reads the id back from a
 * listed key to ask whether its row still exists. An edit's reference
 * pictures are kept on its row as a JSON list of "upload:<id>" that the
 * attempt (mod_genflow_engine_source.c) reads back before its call.
 */
#ifndef GF_UPLOADS_H
#define GF_UPLOADS_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

/* "uploads/<uuid>.<ext>" (or a temporary name after it): the uuid, or
 * NULL for any other key. */
const char *gf_uploads_key_id(apr_pool_t *p, const char *key);

/* The same when the object is older than before (mtime), else NULL: an
 * object the sweep may remove when no row names it. */
const char *gf_uploads_old_id(apr_pool_t *p, const char *key, apr_time_t mtime,
                              apr_time_t before);

/* The stores whose uploads the retention's statement expires: the
 * primary's backend name, and the fallback's (newline-separated) when
 * there is one. */
const char *gf_uploads_backends(apr_pool_t *p, const char *primary, const char *fallback);

/* The reference list of a row (JSON): its entries (const char *, as
 * json-c reads each: a string's text, NULL for a null; the caller checks
 * each is an upload), at most GF_REFERENCES_MAX; NULL when it is not a
 * JSON list or is longer. */
apr_array_header_t *gf_uploads_references(apr_pool_t *p, const char *json);

/* Why an attempt could not read an upload back (mod_genflow_engine_source.c):
 * each a STORAGE_ERROR, transient (the attempt is retried) while the
 * database or the store may answer later, permanent when the upload is
 * not one, is gone or is no longer what it was. */
typedef enum {
    GF_UPLOAD_NOT_UPLOAD = 0,   /* the reference is no "upload:<id>" */
    GF_UPLOAD_LOOKUP,           /* its row could not be read (transient) */
    GF_UPLOAD_GONE,             /* no row (deleted, or not the user's) */
    GF_UPLOAD_NO_STORE,         /* its store is not configured here */
    GF_UPLOAD_UNREADABLE,       /* the store did not give it back (transient) */
    GF_UPLOAD_CHANGED,          /* its size is not the row's */
    GF_UPLOAD_UNDECODABLE,      /* the source no longer decodes as it did */
    GF_UPLOAD_BAD_REFERENCES    /* the reference list is not a list of uploads */
} gf_upload_failure_t;

/* The message of failure why of the picture what names ("the source
 * upload", "reference picture 2"), and *transient. */
const char *gf_uploads_failure(apr_pool_t *p, gf_upload_failure_t why, const char *what,
                               int *transient);

#endif
