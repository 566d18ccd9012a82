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

/* The reference list of a row (JSON): its entries (const char *, as
 * json-c reads each: a string's text, NULL for a null; the caller checks
 * each is an upload), at most GF_REFERENCES_MAX; NULL when it is not a
 * JSON list or is longer. */
apr_array_header_t *gf_uploads_references(apr_pool_t *p, const char *json);

#endif
