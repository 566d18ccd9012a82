/* SPDX-License-Identifier: Apache-2.0 */
/* gf_uploads.c: an upload's id from its key, and an edit's reference
 * list (gf_uploads.h). */
#include <string.h>
#include <apr_lib.h>
#include <apr_strings.h>

#include "core/gf_uploads.h"
#include "core/gf_input.h"
#include "core/gf_json.h"

#define UPLOADS_FOLDER "uploads/"

const char *gf_uploads_key_id(apr_pool_t *p, const char *key)
{
    const char *name = key + sizeof(UPLOADS_FOLDER) - 1;
    apr_size_t i;
    if (strncmp(key, UPLOADS_FOLDER, sizeof(UPLOADS_FOLDER) - 1) || strlen(name) < 37
        || name[36] != '.') {
        return NULL;
    }
    for (i = 0; i < 36; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? name[i] != '-' : !apr_isxdigit(name[i])) return NULL;
    }
    return apr_pstrmemdup(p, name, 36);
}

const char *gf_uploads_old_id(apr_pool_t *p, const char *key, apr_time_t mtime,
                              apr_time_t before)
{
    const char *id = gf_uploads_key_id(p, key);
    return id && mtime < before ? id : NULL;
}

const char *gf_uploads_backends(apr_pool_t *p, const char *primary, const char *fallback)
{
    return apr_pstrcat(p, primary, fallback ? "\n" : "", fallback ? fallback : "", NULL);
}

apr_array_header_t *gf_uploads_references(apr_pool_t *p, const char *json)
{
    const char *err;
    json_object *refs = json ? gf_json_parse(p, json, strlen(json), &err) : NULL;
    apr_array_header_t *out;
    size_t i, n;

    if (!refs || !json_object_is_type(refs, json_type_array)
        || (n = json_object_array_length(refs)) > GF_REFERENCES_MAX) {
        return NULL;
    }
    out = apr_array_make(p, (int)n + 1, sizeof(const char *));
    for (i = 0; i < n; i++) {
        json_object *ref = json_object_array_get_idx(refs, i);
        APR_ARRAY_PUSH(out, const char *) = json_object_get_string(ref);
    }
    return out;
}

const char *gf_uploads_failure(apr_pool_t *p, gf_upload_failure_t why, const char *what,
                               int *transient)
{
    *transient = why == GF_UPLOAD_LOOKUP || why == GF_UPLOAD_UNREADABLE;
    switch (why) {
    case GF_UPLOAD_NOT_UPLOAD: return apr_pstrcat(p, what, " is not an upload", NULL);
    case GF_UPLOAD_LOOKUP: return apr_pstrcat(p, what, " could not be looked up", NULL);
    case GF_UPLOAD_GONE: return apr_pstrcat(p, what, " no longer exists", NULL);
    case GF_UPLOAD_NO_STORE:
        return apr_pstrcat(p, what, "'s storage is not configured here", NULL);
    case GF_UPLOAD_UNREADABLE: return apr_pstrcat(p, what, " could not be read back", NULL);
    case GF_UPLOAD_CHANGED: return apr_pstrcat(p, what, " changed since it was uploaded", NULL);
    case GF_UPLOAD_UNDECODABLE: return "the source upload no longer decodes as it did";
    default: return "the reference pictures are not a list of uploads";
    }
}
