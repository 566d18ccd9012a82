/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_http.c: JSON in and out, and JSON for httpd's own errors.
 *
 * Handlers write their answers themselves and return OK, so the client
 * always gets {"error":{code,message}} and never an HTML page. Errors that
 * httpd raises before the handler runs (a 401 from mod_auth_basic, a 413
 * from LimitRequestBody, a 403 from Require) go through ap_die's error
 * document; in a GenFlow location the GENFLOW_JSON_ERROR filter replaces
 * that HTML with the same JSON shape.
 */
/* stddef.h before any APR header: APR_OFFSETOF (in the bucket brigade
 * macros) uses offsetof only when it is already defined, and otherwise
 * takes a member address through a NULL pointer, which is undefined
 * behaviour (UBSan: "member access within null pointer"). */
#include <stddef.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_sha1.h>
#include <apr_base64.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>
#include <http_core.h>
#include <mod_core.h>
#include <ap_expr.h>

#include "httpd/config/mod_genflow_process.h"
#include "httpd/io/mod_genflow_http.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/config/mod_genflow_site.h"
#include "httpd/config/mod_genflow_request.h"
#include "core/gf_error.h"

#define JSON_CONTENT_TYPE "application/json; charset=utf-8"
#define ERROR_FILTER_NAME "GENFLOW_JSON_ERROR"

/* A strong validator for a JSON answer: SHA-1 of its bytes, which change
 * whenever anything in it does (27 of the 28 base64 characters: the last
 * is padding). */
const char *gf_json_etag(apr_pool_t *p, const char *json)
{
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    char b64[40];
    apr_sha1_ctx_t ctx;

    apr_sha1_init(&ctx);
    apr_sha1_update(&ctx, json, (unsigned int)strlen(json));
    apr_sha1_final(digest, &ctx);
    apr_base64_encode(b64, (const char *)digest, (int)sizeof(digest));
    b64[27] = '\0';
    return apr_pstrcat(p, "\"", b64, "\"", NULL);
}

/* 200 with json and its ETag, or 304 and no body when the client's
 * If-None-Match has it already (as httpd's default handler does). */
int gf_send_json_validated(request_rec *r, const char *json, const char *etag)
{
    int rc;
    apr_table_setn(r->headers_out, "ETag", etag);
    apr_table_setn(r->headers_out, "Cache-Control", "private, no-cache");
    if ((rc = ap_meets_conditions(r)) != OK) {
        return rc;
    }
    return gf_send_json(r, HTTP_OK, json);
}

int gf_send_json(request_rec *r, int status, const char *json)
{
    gf_req_t *rq = gf_req(r);
    if (rq->capture) {
        rq->status = status;
        rq->body = json;
        rq->location = apr_table_get(r->headers_out, "Location");
    }
    r->status = status;
    ap_set_content_type(r, JSON_CONTENT_TYPE);
    /* Answers are private and change: never stored, unless the handler
     * chose otherwise (the status read: revalidated by ETag). */
    if (!apr_table_get(r->headers_out, "Cache-Control")) {
        apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    }
    ap_set_content_length(r, (apr_off_t)strlen(json) + 1);
    if (!r->header_only) {
        ap_rputs(json, r);
        ap_rputs("\n", r);
    }
    return OK;
}

int gf_send_error(request_rec *r, int status, const char *code, const char *message)
{
    ap_log_rerror(APLOG_MARK, status >= 500 ? APLOG_WARNING : APLOG_DEBUG, 0, r,
                  GF_LOGNO(1201) "%d %s: %s", status, code, message);
    /* Prefer: wait was honoured only by an answer that waited: a refusal
     * says nothing about it (RFC 7240 lets a server stay silent). */
    apr_table_unset(r->headers_out, "Preference-Applied");
    if (status == HTTP_SERVICE_UNAVAILABLE || status == HTTP_TOO_MANY_REQUESTS) {
        if (!apr_table_get(r->headers_out, "Retry-After")) {
            apr_table_setn(r->headers_out, "Retry-After", GF_RETRY_AFTER_UNAVAILABLE);
        }
    }
    return gf_send_json(r, status, gf_error_json(r->pool, code, message));
}

int gf_send_bad_query(request_rec *r, const char *name)
{
    return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                         apr_psprintf(r->pool, "%s: the query parameter is not valid text "
                                      "(a malformed %%-escape, %%00, or not UTF-8)", name));
}

int gf_send_db_error(request_rec *r, gf_db_status_t st)
{
    if (st == GF_DB_UNAVAILABLE) {
        return gf_send_error(r, HTTP_SERVICE_UNAVAILABLE, GF_ERR_UNAVAILABLE,
                             "the database is unavailable; retry later");
    }
    return gf_send_error(r, HTTP_INTERNAL_SERVER_ERROR, GF_ERR_INTERNAL,
                         "internal error; retry later (the server's log says what went wrong)");
}

/* Read the whole body, at most max_body bytes. Returns GF_CONTINUE, or the
 * result of an answer already sent (413 when too large, 400 unreadable). */
int gf_read_json_body(request_rec *r, long max_body, char **body, apr_size_t *len)
{
    const char *clen = apr_table_get(r->headers_in, "Content-Length");
    char *buf;
    apr_size_t got = 0;
    long n;
    int rc;
    gf_req_t *rq = gf_req(r);

    if (rq->has_body) {          /* read once, e.g. for an idempotency fingerprint */
        *body = rq->req_body;
        *len = rq->req_len;
        return GF_CONTINUE;
    }
    if (clen && apr_atoi64(clen) > max_body) {
        /* Refuse before reading; httpd discards the rest of the body. */
        return gf_send_error(r, HTTP_REQUEST_ENTITY_TOO_LARGE, GF_ERR_TOO_LARGE,
                             apr_psprintf(r->pool, "the request body is larger than %ld bytes; "
                                          "send a smaller one", max_body));
    }
    if ((rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) != OK) {
        return gf_send_error(r, rc == HTTP_REQUEST_ENTITY_TOO_LARGE ? rc : HTTP_BAD_REQUEST,
                             rc == HTTP_REQUEST_ENTITY_TOO_LARGE ? GF_ERR_TOO_LARGE
                                                                 : GF_ERR_VALIDATION,
                             "the request body cannot be read; send it again");
    }
    buf = apr_palloc(r->pool, (apr_size_t)max_body + 1);
    if (ap_should_client_block(r)) {
        while ((n = ap_get_client_block(r, buf + got, (apr_size_t)max_body + 1 - got)) > 0) {
            got += (apr_size_t)n;
            if (got > (apr_size_t)max_body) {
                return gf_send_error(r, HTTP_REQUEST_ENTITY_TOO_LARGE, GF_ERR_TOO_LARGE,
                                     apr_psprintf(r->pool, "the request body is larger "
                                                  "than %ld bytes; send a smaller one",
                                                  max_body));
            }
        }
        if (n < 0) {
            return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                                 "the request body could not be read completely; send it "
                                 "again");
        }
    }
    buf[got] = '\0';
    *body = buf;
    *len = got;
    rq->has_body = 1;
    rq->req_body = buf;
    rq->req_len = got;
    return GF_CONTINUE;
}

/* Replaces the HTML error document of httpd with the JSON error shape. */
static apr_status_t json_error_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    apr_bucket *b;
    const char *json, *message;
    int status = r->status;

    message = ap_get_status_line(status);
    message = message && strlen(message) > 4 ? message + 4 : "error";
    json = apr_pstrcat(r->pool, gf_error_json(r->pool, gf_error_code_for_status(status),
                                              message), "\n", NULL);
    ap_remove_output_filter(f);
    apr_brigade_cleanup(bb);
    ap_set_content_type(r, JSON_CONTENT_TYPE);
    apr_table_unset(r->headers_out, "Content-Length");
    ap_set_content_length(r, (apr_off_t)strlen(json));
    if (status == HTTP_SERVICE_UNAVAILABLE && !apr_table_get(r->headers_out, "Retry-After")) {
        apr_table_setn(r->headers_out, "Retry-After", GF_RETRY_AFTER_UNAVAILABLE);
    }
    if (!r->header_only) {
        b = apr_bucket_immortal_create(json, strlen(json), f->c->bucket_alloc);
        APR_BRIGADE_INSERT_TAIL(bb, b);
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(f->c->bucket_alloc));
    return ap_pass_brigade(f->next, bb);
}

void gf_register_error_filter(void)
{
    ap_register_output_filter(ERROR_FILTER_NAME, json_error_filter, NULL, AP_FTYPE_RESOURCE);
}

/* The handler table (mod_genflow_handlers.c gives it at registration). */
struct gf_http_state {
    const gf_handler_t *handlers;   /* the table, ended by a NULL name */
};

const apr_size_t gf_http_state_size = sizeof(struct gf_http_state);

static struct gf_http_state *http(void)
{
    return GF_PROCESS_STATE(http);
}

void gf_http_set_handlers(const gf_handler_t *table)
{
    http()->handlers = table;
}

const gf_handler_t *gf_http_handlers(void)
{
    return http()->handlers;
}

const gf_handler_t *gf_handler_named(const char *name)
{
    const gf_handler_t *h;
    for (h = http()->handlers; name && h && h->name; h++) {
        if (!strcmp(h->name, name)) return h;
    }
    return NULL;
}

const gf_handler_t *gf_handler_of(request_rec *r)
{
    /* An auth failure happens before SetHandler is applied to r->handler,
     * so look at the location's SetHandler itself. */
    core_dir_config *cd = ap_get_core_module_config(r->per_dir_config);
    const char *err = NULL, *h = r->handler;

    if (!h && cd && cd->expr_handler) {
        h = ap_expr_str_exec(r, cd->expr_handler, &err);
    }
    return err ? NULL : gf_handler_named(h);
}

static int is_module_handler(const char *name)
{
    return gf_handler_named(name) != NULL;
}

/* insert_error_filter hook: only in locations that serve a GenFlow API
 * (also where httpd refused the path before it merged them: an encoded
 * slash), and only when the site has no ErrorDocument of its own for the
 * status. */
void gf_insert_error_filter(request_rec *r)
{
    gf_dir_conf_t *dc = gf_dir_conf(r);
    int is_api = (dc && dc->type) || gf_handler_of(r) != NULL
                 || (!ap_is_HTTP_SUCCESS(r->status) && gf_site_module_path(r, is_module_handler));

    if (!is_api || ap_is_HTTP_SUCCESS(r->status) || ap_is_HTTP_REDIRECT(r->status)) {
        return;
    }
    if (ap_response_code_string(r, ap_index_of_response(r->status))) {
        return;
    }
    ap_add_output_filter(ERROR_FILTER_NAME, NULL, r, r->connection);
}
