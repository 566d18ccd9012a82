/* SPDX-License-Identifier: Apache-2.0 */
/* gf_error.h: the API's error vocabulary (docs/api.md).
 *
 * Every non-2xx answer of the module is {"error":{"code","message"}}; this
 * file owns the codes, their HTTP statuses and the JSON rendering so the
 * handlers, the error-document filter and the tests agree on one table.
 */
#ifndef GF_ERROR_H
#define GF_ERROR_H

#include <apr_pools.h>

#define GF_ERR_VALIDATION          "VALIDATION_ERROR"
#define GF_ERR_CONTENT_POLICY      "CONTENT_POLICY"   /* 400: the site's GenFlowPromptPolicy */
#define GF_ERR_UNSUPPORTED_MEDIA   "UNSUPPORTED_MEDIA_TYPE"
#define GF_ERR_UNAUTHORIZED        "UNAUTHORIZED"
#define GF_ERR_FORBIDDEN           "FORBIDDEN"
#define GF_ERR_INSUFFICIENT        "INSUFFICIENT_CREDITS"
#define GF_ERR_NOT_FOUND           "NOT_FOUND"
#define GF_ERR_GEN_NOT_FOUND       "GENERATION_NOT_FOUND"
#define GF_ERR_METHOD              "METHOD_NOT_ALLOWED"
#define GF_ERR_INVALID_STATUS      "INVALID_GENERATION_STATUS"
#define GF_ERR_IDEMPOTENCY         "IDEMPOTENCY_CONFLICT"
#define GF_ERR_TOO_LARGE           "PAYLOAD_TOO_LARGE"
#define GF_ERR_RATE_LIMIT          "RATE_LIMIT"
#define GF_ERR_UNAVAILABLE         "SERVICE_UNAVAILABLE"
#define GF_ERR_INTERNAL            "INTERNAL_ERROR"

/* Messages several endpoints answer alike. */
#define GF_MSG_NO_USER \
    "authentication required: send the request with the site's credentials"
#define GF_MSG_USER_TOO_LONG \
    "the user name is longer than 255 bytes, which this API does not take; sign in as " \
    "another user"

/* Job error codes stored in a generation's error object. */
#define GF_JOB_TIMEOUT             "TIMEOUT"
#define GF_JOB_NETWORK             "NETWORK_ERROR"
#define GF_JOB_API                 "API_ERROR"
#define GF_JOB_RATE_LIMIT          "RATE_LIMIT"
#define GF_JOB_VALIDATION          "VALIDATION_ERROR"
#define GF_JOB_MAX_RETRIES         "MAX_RETRIES_EXCEEDED"
#define GF_JOB_CONTENT_FILTERED    "CONTENT_FILTERED"
#define GF_JOB_PROVIDER_AUTH       "PROVIDER_AUTH"
#define GF_JOB_PROVIDER_CREDITS    "PROVIDER_CREDITS"
#define GF_JOB_STORAGE             "STORAGE_ERROR"
#define GF_JOB_EXPIRED             "EXPIRED"
#define GF_JOB_QUEUE_TIMEOUT       "QUEUE_TIMEOUT"  /* waited past GenFlowPendingTTL for a place */
#define GF_JOB_CANCELLED           "CANCELLED"
/* The request's own Cancel-After passed: before any provider took it
 * (ABORTED, cancelled by the sweep) or while it ran (CANCEL_AFTER, the
 * provider's job cancelled). Both cancelled, both refunded. */
#define GF_JOB_ABORTED             "ABORTED"
#define GF_JOB_CANCEL_AFTER        "CANCEL_AFTER"
/* The provider's budget for the period is spent (budget=) and the chain
 * has no entry after it: failed before any call, refunded. */
#define GF_JOB_BUDGET              "BUDGET_EXHAUSTED"

/* The code an error answer with this HTTP status carries when nothing more
 * specific is known (used for errors httpd itself raises, e.g. a 401 from
 * mod_auth_basic or a 413 from LimitRequestBody). */
const char *gf_error_code_for_status(int http_status);

/* "1 credit", "0 credits", "2 credits": a count and its noun, singular
 * for one (and minus one). Every message that counts something says it so. */
const char *gf_count(apr_pool_t *p, long n, const char *one, const char *many);

/* {"error":{"code":…,"message":…}} as a string allocated in p. */
char *gf_error_json(apr_pool_t *p, const char *code, const char *message);

#endif
