/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_handle_type_create.c: POST {base}/create, and the creation of a
 * generation that generate and retry share (see mod_genflow_handle_int.h):
 * validate the input, build the prompt, choose the id and the seed, and
 * reserve the cost and insert the row in one statement (for generate and
 * retry, queued and counted active in the same statement); or say why not
 * (402, 429, or an upload that is not the caller's).
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_uuid.h>

#include "httpd/api/mod_genflow_handle_int.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/api/mod_genflow_handlers.h"
#include "httpd/io/mod_genflow_http.h"
#include "httpd/gates/mod_genflow_lines.h"
#include "httpd/gates/mod_genflow_idempotency.h"
#include "httpd/io/mod_genflow_metrics.h"
#include "httpd/gates/mod_genflow_policy.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/config/mod_genflow_request.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/io/mod_genflow_trace.h"
#include "core/gf_error.h"
#include "core/gf_input.h"
#include "core/gf_json.h"
#include "core/gf_prompt.h"
#include "core/gf_route.h"
#include "core/gf_sql.h"
#include "core/gf_credits.h"
#include "core/gf_answer.h"
#include "core/gf_create.h"
#include "net/gf_http.h"

/* Passes of the create statement before a refusal is final. */
#define CREATE_PASSES 3

/* The create statement reserved nothing: say why, 429 (only when it also
 * queues: the active limit) or 402. On the first pass, a user without an
 * account gets one (with its starting grant) and GF_CONTINUE: the caller
 * creates again. GF_CONTINUE too when the account allows it by now (a
 * generation finished in between), before the last pass. */
static int refused_create(request_rec *r, ap_dbd_t *dbd, long cost, int queues, int pass)
{
    gf_server_conf_t *sc = gf_server_conf(r->server);
    gf_db_rows_t *rows;
    gf_db_status_t st;
    long max_active = gf_conf_max_active(sc), active;
    const char *const *a;
    gf_refusal_t why;

    st = gf_db_select(r, dbd, GF_SQL_ACCOUNT_STATE, &rows, 2,
                      apr_ltoa(r->pool, gf_conf_daily_limit(sc)), r->user);
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    if (rows->nrows == 0) {
        if (pass > 0) return gf_send_db_error(r, GF_DB_ERROR);
        if ((st = gf_account_ensure(r, dbd)) != GF_DB_OK) return gf_send_db_error(r, st);
        return GF_CONTINUE;
    }
    a = rows->rows[0];
    active = (long)apr_atoi64(a[3]);
    why = gf_credits_refused_why((long)apr_atoi64(a[0]), (long)apr_atoi64(a[1]),
                                 (long)apr_atoi64(a[2]), cost, queues, active, max_active);
    if (why == GF_REFUSED_NOT && pass + 1 < CREATE_PASSES) {
        return GF_CONTINUE;
    }
    if (why == GF_REFUSED_ACTIVE || (why == GF_REFUSED_NOT && queues && max_active > 0)) {
        return gf_type_send_active_limit(r, active, max_active);
    }
    if (why == GF_REFUSED_NOT) {
        /* Refused on every pass, allowed by each read after it: other
         * requests of the user keep changing the account. Not a 402: the
         * credits are there. */
        apr_table_setn(r->headers_out, "Retry-After", "1");
        return gf_send_error(r, HTTP_TOO_MANY_REQUESTS, GF_ERR_RATE_LIMIT,
                             "other requests of this user changed the account while this one "
                             "ran; retry");
    }
    return gf_send_error(r, HTTP_PAYMENT_REQUIRED, GF_ERR_INSUFFICIENT,
                         gf_credits_refusal(r->pool, (long)apr_atoi64(a[0]),
                                            (long)apr_atoi64(a[1]), (long)apr_atoi64(a[2]),
                                            cost));
}

/* 429 RATE_LIMIT: the user's generations queued or processing fill
 * GenFlowMaxActive. */
int gf_type_send_active_limit(request_rec *r, long active, long max_active)
{
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GF_LOGNO(4500)
                  "refused to start a generation: user=%s has %ld queued or processing "
                  "(GenFlowMaxActive %ld)", r->user, active, max_active);
    apr_table_setn(r->headers_out, "Retry-After", "5");
    return gf_send_error(r, HTTP_TOO_MANY_REQUESTS, GF_ERR_RATE_LIMIT,
                         gf_credits_active_refusal(r->pool, active, max_active));
}

/* The create statement returned nothing although it may have committed:
 * after a lost connection it ran twice, and the second run found the id it
 * had chosen. Is that generation there (then it is this request's)? */
static const char *created_before(request_rec *r, const gf_dir_conf_t *dc, const char *id)
{
    gf_db_rows_t *rows;
    if (gf_db_select1(r, gf_type_label(dc, GF_SQL_GET), &rows, 2, id, r->user) == GF_DB_OK
        && rows->nrows == 1) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, GF_LOGNO(1305)
                      "the create of %s committed before the connection was lost; "
                      "recognised by its id", id);
        return rows->rows[0][0];
    }
    return NULL;
}


/* The fields of a create answer (gf_created_t) out of a status object (a create recognised after a lost
 * connection, an Idempotency-Key taken over). */
int gf_type_created_from_status(request_rec *r, const char *status_json, gf_created_t *out)
{
    json_object *status = gf_type_parse_status(r, status_json);
    return status && gf_answer_created_fields(status, &out->id, &out->cost, &out->prompt,
                                              &out->created_at);
}

/* The prompt of the row: the template with the request's words; a preset
 * must be one of this week's for the type, and the prompt gets its words
 * (the row keeps its key). GF_CONTINUE, or the error answer sent. */
static int build_prompt(request_rec *r, ap_dbd_t *dbd, const gf_dir_conf_t *dc,
                        const gf_input_t *in, const char **prompt)
{
    gf_input_t for_prompt = *in;
    gf_db_status_t st;

    if (in->preset) {
        gf_db_rows_t *presets;
        int *active, i, found = -1;
        if (!dbd && !(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);
        if ((st = gf_type_load_presets(r, dbd, dc, &presets, &active)) != GF_DB_OK) {
            return gf_send_db_error(r, st);
        }
        for (i = 0; i < presets->nrows; i++) {
            if (!strcmp(presets->rows[i][0], in->preset) && active[i]) found = i;
        }
        if (found < 0) {
            return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                                 apr_psprintf(r->pool, "preset: '%s' is not one of this "
                                              "week's presets for %s (see %s/presets)",
                                              in->preset, dc->type->name, dc->base));
        }
        for_prompt.preset = presets->rows[found][2];
    }
    *prompt = gf_prompt_build(r->pool, gf_conf_prompt_template(dc), dc->type->name,
                              &for_prompt);
    return GF_CONTINUE;
}

/* The create statement's arguments, at their named places. */
static void create_args(request_rec *r, const gf_dir_conf_t *dc, const gf_input_t *in,
                        const char *prompt, apr_uint64_t seed, const char *id, const char **a)
{
    gf_server_conf_t *sc = gf_server_conf(r->server);
    gf_req_t *rq = gf_req(r);

    a[GF_CREATE_USER] = r->user;
    /* The cost of every picture asked for: what is not delivered is
     * given back when the generation completes (sql/047). */
    a[GF_CREATE_COST] = apr_ltoa(r->pool, gf_conf_cost(dc) * in->count);
    a[GF_CREATE_DAY_LIMIT] = apr_ltoa(r->pool, gf_conf_daily_limit(sc));
    a[GF_CREATE_PROMPT] = prompt;
    a[GF_CREATE_USER_PROMPT] = in->prompt;
    a[GF_CREATE_PRESET] = in->preset;
    a[GF_CREATE_SOURCE_IMAGE] = in->source_image;
    a[GF_CREATE_ASPECT_RATIO] = in->aspect_ratio;
    a[GF_CREATE_SEED] = apr_psprintf(r->pool, "%" APR_UINT64_T_FMT, seed);
    a[GF_CREATE_INPUT] = gf_input_to_json(r->pool, in);
    a[GF_CREATE_MAX_RETRIES] = apr_itoa(r->pool, gf_conf_max_retries(dc));
    a[GF_CREATE_CHAIN] = gf_conf_chain_text(r->pool, dc);
    a[GF_CREATE_DEADLINE_SECS] = apr_itoa(r->pool, gf_conf_deadline_secs(dc));
    a[GF_CREATE_MAX_ACTIVE] = apr_ltoa(r->pool, gf_conf_max_active(sc));
    a[GF_CREATE_ID] = id;
    a[GF_CREATE_IDEM_KEY] = rq->idem_key;
    a[GF_CREATE_IDEM_OWNER] = rq->idem_owner;
    a[GF_CREATE_SERVER_NAME] = sc->server_name;
    a[GF_CREATE_TRACEPARENT] = gf_trace_request_header(r);
}

/* A create's webhook must be on an origin this location allows
 * (GenFlowWebhookOrigins), and the server must be able to sign. */
static int check_webhook(request_rec *r, const gf_dir_conf_t *dc, const char *url)
{
    int i;
    if (!gf_server_conf(r->server)->webhook_secrets) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, GF_LOGNO(4030)
                      "a create asked for a webhook, but this server has no "
                      "GenFlowWebhookSecretFile to sign deliveries with");
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                             "webhook: this server does not deliver webhooks");
    }
    for (i = 0; dc->webhook_origins && i < dc->webhook_origins->nelts; i++) {
        if (!gf_http_check_origin(r->pool, url,
                                  APR_ARRAY_IDX(dc->webhook_origins, i, const char *))) {
            return GF_CONTINUE;
        }
    }
    return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                         "webhook: its origin is not one this API allows (GenFlowWebhookOrigins)");
}

int gf_type_cancel_after(request_rec *r, const gf_dir_conf_t *dc, int *seconds)
{
    const char *err = gf_create_cancel_after(r->pool, apr_table_get(r->headers_in, "Cancel-After"),
                                             gf_conf_deadline_secs(dc), seconds);
    return err ? gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION, err) : GF_CONTINUE;
}

/* The create's input, read and checked (its webhook, its prompt), with
 * its id and seed drawn and the statement's arguments (a) made from it.
 * GF_CONTINUE, or the result of the error answer it sent. */
static int prepare(request_rec *r, ap_dbd_t *dbd, const gf_dir_conf_t *dc, json_object *body,
                   gf_input_t *in, char *id, const char **a)
{
    gf_input_error_t ierr;
    const char *prompt = NULL, *err;
    apr_uint64_t seed;
    int rc;

    if (!gf_input_parse(r->pool, body, gf_conf_needs(dc), in, &ierr)) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION, ierr.message);
    }
    if ((err = gf_create_count_refusal(r->pool, in->count, gf_conf_max_count(dc))) != NULL) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION, err);
    }
    if ((rc = gf_type_cancel_after(r, dc, &in->cancel_after)) != GF_CONTINUE) return rc;
    if ((rc = gf_type_check_edits(r, dbd, dc, in)) != GF_CONTINUE) return rc;
    if (in->webhook && (rc = check_webhook(r, dc, in->webhook)) != GF_CONTINUE) return rc;
    if ((rc = build_prompt(r, dbd, dc, in, &prompt)) != GF_CONTINUE) return rc;
    if (!*prompt) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                             "prompt: the request gives nothing to build a prompt from");
    }
    gf_create_draw_id(id, &seed);
    if (in->has_seed) {
        seed = in->seed;
    } else {
        /* Store the seed that was drawn so the input can be replayed. */
        in->has_seed = 1;
        in->seed = seed;
    }
    create_args(r, dc, in, prompt, seed, id, a);
    return GF_CONTINUE;
}

/* The statement refuses an upload that is not this user's too: only when
 * it refused a create with an upload does one more read tell that apart.
 * The message is the same whether the upload does not exist or is someone
 * else's. GF_CONTINUE when the upload is the user's (or none is given). */
static int check_upload(request_rec *r, ap_dbd_t *dbd, const gf_input_t *in)
{
    gf_db_rows_t *up;
    gf_db_status_t st;

    if (!gf_input_upload_id(in->source_image)) return GF_CONTINUE;
    if ((st = gf_db_select(r, dbd, GF_SQL_UPLOAD_GET, &up, 2,
                           gf_input_upload_id(in->source_image), r->user)) != GF_DB_OK) {
        return gf_send_db_error(r, st);
    }
    if (up->nrows == 0) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                             "sourceImage: no upload of yours has this id (upload it "
                             "with POST /api/uploads and use its sourceImage)");
    }
    return GF_CONTINUE;
}

/* Validate and insert. Returns GF_CONTINUE with *out filled in, or the
 * result of the error answer it sent. The id is chosen here, before the
 * INSERT, so that a statement re-run after a lost connection cannot create
 * a second generation and recognises the first. */
int gf_type_create_generation(request_rec *r, ap_dbd_t *dbd, const gf_dir_conf_t *dc,
                              json_object *body, int queued, gf_created_t *out)
{
    gf_input_t in;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    long cost;
    char id[APR_UUID_FORMATTED_LENGTH + 1];
    const char *a[GF_CREATE_ARGS];
    gf_req_t *rq = gf_req(r);
    int pass, rc;

    if ((rc = prepare(r, dbd, dc, body, &in, id, a)) != GF_CONTINUE) return rc;
    cost = gf_conf_cost(dc) * in.count;
    {
        /* Queued now: in the line the request's expressions say. */
        const gf_line_t *line = queued ? gf_line_of(r, dc) : NULL;
        a[GF_CREATE_WEIGHT] = apr_itoa(r->pool, GF_LINE_WEIGHT(line));
        a[GF_CREATE_LINE] = GF_LINE_NAME(line);
    }
    for (pass = 0;; pass++) {
        const char *before;
        if (!dbd && (queued || pass > 0) && !(dbd = gf_db_acquire(r))) {
            return gf_send_db_error(r, GF_DB_UNAVAILABLE);
        }
        if (!queued && pass == 0) {
            /* With the creates of the type that arrive meanwhile. */
            st = gf_type_create_batched(r, &dbd, dc, a, &rows);
        } else {
            st = gf_db_pselectv(r->server, r->pool, dbd,
                                gf_type_label(dc, queued ? GF_SQL_CREATE_QUEUED : GF_SQL_CREATE),
                                &rows, GF_CREATE_ARGS, a);
        }
        if (st != GF_DB_OK) {
            return gf_send_db_error(r, st);
        }
        if (rows->nrows == 1) break;
        if (rows->rerun && (before = created_before(r, dc, id)) != NULL) {
            if (!gf_type_created_from_status(r, before, out)) {
                return gf_send_db_error(r, GF_DB_ERROR);
            }
            rq->idem_linked = rq->idem_key != NULL;
            gf_metrics_credits(gf_metrics(), GF_CREDITS_RESERVED, cost);
            return GF_CONTINUE;
        }
        if (rq->idem_key && !gf_idempotency_still_owned(r)) {
            return gf_send_error(r, HTTP_CONFLICT, GF_ERR_IDEMPOTENCY,
                                 "another request took over this Idempotency-Key; retry to "
                                 "get its answer");
        }
        if ((rc = check_upload(r, dbd, &in)) != GF_CONTINUE) return rc;
        /* Nothing reserved: a first create of this user (no account yet:
         * make it, with its starting grant, and create again), or a
         * refusal, 402 or 429. */
        if ((rc = refused_create(r, dbd, cost, queued, pass)) != GF_CONTINUE) return rc;
    }
    rq->idem_linked = rq->idem_key != NULL;
    out->id = rows->rows[0][GF_CREATED_ID];
    out->cost = apr_atoi64(rows->rows[0][GF_CREATED_COST]);
    out->prompt = rows->rows[0][GF_CREATED_PROMPT];
    out->created_at = rows->rows[0][GF_CREATED_AT];
    gf_metrics_credits(gf_metrics(), GF_CREDITS_RESERVED, cost);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, GF_LOGNO(1301)
                  "created type=%s id=%s user=%s cost=%ld%s trace=%s", dc->type->name, out->id,
                  r->user, cost, queued ? " queued" : "", gf_trace_request(r)->trace_id);
    return GF_CONTINUE;
}

/* The body of create and generate: application/json, within GenFlowMaxBody. */
int gf_type_check_json_request(request_rec *r, const gf_dir_conf_t *dc, json_object **body)
{
    char *buf;
    apr_size_t len;
    const char *err;
    int rc;

    if (!gf_content_type_is_json(apr_table_get(r->headers_in, "Content-Type"))) {
        return gf_send_error(r, HTTP_UNSUPPORTED_MEDIA_TYPE, GF_ERR_UNSUPPORTED_MEDIA,
                             "send the body as JSON, with Content-Type: application/json");
    }
    if ((rc = gf_read_json_body(r, gf_conf_max_body(dc), &buf, &len)) != GF_CONTINUE) {
        return rc;
    }
    *body = gf_json_parse(r->pool, buf, len, &err);
    if (!*body) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION, err);
    }
    return GF_CONTINUE;
}

/* POST {base}/create: a pending generation, its cost reserved; 201. */
int gf_type_handle_create(request_rec *r, const gf_dir_conf_t *dc)
{
    json_object *body = NULL;
    gf_created_t created;
    int rc;

    if ((rc = gf_type_check_json_request(r, dc, &body)) != GF_CONTINUE) return rc;
    /* Before a pooled connection is taken: an edit's pictures may be
     * fetched, the policy may ask the network. */
    if ((rc = gf_type_import_pictures(r, dc, body)) != GF_CONTINUE) return rc;
    if ((rc = gf_policy_check(r, dc, body)) != GF_CONTINUE) return rc;
    /* No connection yet: the create takes one when it needs it, and one
     * that waits for another create's statement needs none. */
    if ((rc = gf_type_create_generation(r, NULL, dc, body, 0, &created)) != GF_CONTINUE) return rc;
    gf_db_release(r);
    return gf_type_send_created(r, dc, &created);
}

/* 201 with the create object of a new generation. */
int gf_type_send_created(request_rec *r, const gf_dir_conf_t *dc, const gf_created_t *c)
{
    const char *url = gf_type_status_url(r, dc, c->id);

    apr_table_setn(r->headers_out, "Location", url);
    return gf_send_json(r, HTTP_CREATED, gf_answer_created(r->pool, c->id, dc->type->name, c->cost,
                                                           c->prompt, c->created_at, url,
                                                           gf_type_events_url(r, dc, c->id)));
}
