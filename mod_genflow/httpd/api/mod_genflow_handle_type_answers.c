/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_handle_type_answers.c: what the endpoints of a type share (see
 * mod_genflow_handle_int.h): reading the status objects the database composes,
 * where a generation's status is polled, and the answers for an id that is
 * not the caller's or a generation in the wrong state.
 */
#include <string.h>
#include <apr_strings.h>

#include "httpd/api/mod_genflow_handle_int.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_request.h"
#include "httpd/io/mod_genflow_http.h"
#include "httpd/io/mod_genflow_db.h"
#include "core/gf_error.h"
#include "core/gf_stream_token.h"
#include "core/gf_json.h"
#include "core/gf_answer.h"

/* The path of an endpoint of the type for generation id. */
static const char *type_url(request_rec *r, const gf_dir_conf_t *dc, const char *endpoint,
                            const char *id)
{
    return gf_answer_type_url(r->pool, dc->base, endpoint, id);
}

const char *gf_type_status_url(request_rec *r, const gf_dir_conf_t *dc, const char *id)
{
    return type_url(r, dc, "status", id);
}

const char *gf_type_events_url(request_rec *r, const gf_dir_conf_t *dc, const char *id)
{
    const gf_server_conf_t *sc = gf_server_conf(r->server);
    const char *path = type_url(r, dc, "events", id), *token = gf_req(r)->events_token, *key;

    /* A stream an events token opened repeats the URL it was opened with:
     * a token never renews itself, only a login's status read makes one. */
    if (token) {
        return apr_pstrcat(r->pool, dc->events_base ? dc->events_base : "", path, "?token=",
                           token, NULL);
    }
    if (!dc->events_base || !*dc->events_base || !sc->events_keys) return path;
    key = APR_ARRAY_IDX(sc->events_keys, 0, const char *);
    token = gf_stream_token_make(r->pool, (const unsigned char *)key, strlen(key), dc->type->name,
                                 id, r->user,
                                 gf_stream_token_expiry(apr_time_sec(apr_time_now())));
    return token ? apr_pstrcat(r->pool, dc->events_base, path, "?token=", token, NULL) : path;
}

const char *gf_type_events_url_key(request_rec *r, const gf_dir_conf_t *dc, const char *id)
{
    const gf_server_conf_t *sc = gf_server_conf(r->server);

    if (gf_req(r)->events_token || !dc->events_base || !*dc->events_base || !sc->events_keys) {
        return gf_type_events_url(r, dc, id);
    }
    return apr_psprintf(r->pool, "%s%s?%pp.%" APR_INT64_T_FMT, dc->events_base,
                        type_url(r, dc, "events", id),
                        APR_ARRAY_IDX(sc->events_keys, 0, const char *),
                        gf_stream_token_expiry(apr_time_sec(apr_time_now())));
}

int gf_type_too_many_watchers(request_rec *r)
{
    apr_table_setn(r->headers_out, "Retry-After", GF_TYPE_WATCHERS_RETRY_AFTER);
    return gf_send_error(r, HTTP_TOO_MANY_REQUESTS, GF_ERR_RATE_LIMIT,
                         "too many event streams and status long-polls are open for this "
                         "user on this server; close the streams of finished generations "
                         "(EventSource.close() at the terminal event), follow one "
                         "generation once, or read its status without waiting");
}

/* A field of a status object produced by the database. */
json_object *gf_type_status_field(json_object *status, const char *key)
{
    json_object *v = NULL;
    json_object_object_get_ex(status, key, &v);
    return v;
}

json_object *gf_type_parse_status(request_rec *r, const char *status_json)
{
    const char *err;
    return gf_json_parse(r->pool, status_json, strlen(status_json), &err);
}

int gf_type_is_terminal(const char *status)
{
    return gf_answer_is_terminal(status);
}

/* The database renders status objects with spaces; clients get them in
 * the same compact form as every other answer. A generation still running
 * carries Retry-After, a hint that grows with its age. */
int gf_type_send_status(request_rec *r, int http_status, const char *status_json)
{
    json_object *status = gf_type_parse_status(r, status_json);
    int hint;
    if (!status) return gf_send_db_error(r, GF_DB_ERROR);
    if (gf_answer_retry_after(status, apr_time_now(), &hint)) {
        apr_table_setn(r->headers_out, "Retry-After", apr_itoa(r->pool, hint));
    }
    return gf_send_json(r, http_status, gf_json_dump(r->pool, status));
}

int gf_type_no_such_generation(request_rec *r)
{
    /* The same answer for an unknown id and for another user's id. */
    return gf_send_error(r, HTTP_NOT_FOUND, GF_ERR_GEN_NOT_FOUND,
                         "no generation of yours has this id (the type's history lists yours)");
}

/* A conditional statement changed nothing: say whether the generation is
 * not the caller's (404) or in a state that does not allow `action` (409). */
int gf_type_refused_by_state(request_rec *r, ap_dbd_t *dbd, const gf_dir_conf_t *dc,
                             const char *id, const char *allowed, const char *action)
{
    gf_db_rows_t *rows;
    gf_db_status_t st = gf_db_select(r, dbd, gf_type_label(dc, GF_SQL_GET), &rows, 2, id,
                                     r->user);

    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    if (rows->nrows == 0) return gf_type_no_such_generation(r);
    return gf_send_error(r, HTTP_CONFLICT, GF_ERR_INVALID_STATUS,
                         gf_answer_state_refusal(r->pool, rows->rows[0][0], allowed, action));
}
