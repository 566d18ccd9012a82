/* SPDX-License-Identifier: Apache-2.0 */
/* gf_error.c: error codes and the JSON error body (see gf_error.h). */
#include <json-c/json.h>
#include <apr_strings.h>

#include "core/gf_error.h"

const char *gf_error_code_for_status(int http_status)
{
    switch (http_status) {
    case 400: return GF_ERR_VALIDATION;
    case 401: return GF_ERR_UNAUTHORIZED;
    case 402: return GF_ERR_INSUFFICIENT;
    case 403: return GF_ERR_FORBIDDEN;
    case 404: return GF_ERR_NOT_FOUND;
    case 405: return GF_ERR_METHOD;
    case 409: return GF_ERR_INVALID_STATUS;
    case 413: return GF_ERR_TOO_LARGE;
    case 415: return GF_ERR_UNSUPPORTED_MEDIA;
    case 422: return GF_ERR_IDEMPOTENCY;
    case 429: return GF_ERR_RATE_LIMIT;
    case 503: return GF_ERR_UNAVAILABLE;
    default:  return http_status >= 500 ? GF_ERR_INTERNAL : GF_ERR_VALIDATION;
    }
}

char *gf_error_json(apr_pool_t *p, const char *code, const char *message)
{
    json_object *root = json_object_new_object();
    json_object *err = json_object_new_object();
    char *out;

    json_object_object_add(err, "code", json_object_new_string(code));
    json_object_object_add(err, "message",
                           json_object_new_string(message ? message : ""));
    json_object_object_add(root, "error", err);
    out = apr_pstrdup(p, json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(root);
    return out;
}

const char *gf_count(apr_pool_t *p, long n, const char *one, const char *many)
{
    return apr_psprintf(p, "%ld %s", n, n == 1 || n == -1 ? one : many);
}
