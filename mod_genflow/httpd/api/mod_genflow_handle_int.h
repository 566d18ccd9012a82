/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_handle_int.h: what the files of the per-type endpoints share
 * (mod_genflow_handle_type*.c only; the rest of the module sees gf_type_handler
 * in mod_genflow_handlers.h).
 *
 *   mod_genflow_handle_type.c           routing: method, authentication, the
 *                                Idempotency-Key, then the endpoint
 *   mod_genflow_handle_type_create.c    create, and the creation generate and
 *                                retry share
 *   mod_genflow_handle_type_generate.c  generate, retry, cancel
 *   mod_genflow_handle_type_read.c      status (and its long-poll), history, presets
 *   mod_genflow_handle_type_events.c    the status as Server-Sent Events
 *   mod_genflow_handle_type_answers.c   status objects and the shared answers
 *
 * Every endpoint answers for the location's type (dc->type) and the
 * authenticated user (r->user), and returns the handler's result.
 */
#ifndef MOD_GENFLOW_HANDLE_INT_H
#define MOD_GENFLOW_HANDLE_INT_H

#include "core/gf_input.h"
#include "core/gf_json.h"
#include "core/gf_route.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"

/* The prepared statement of op for the location's type. */
static inline const char *gf_type_label(const gf_dir_conf_t *dc, gf_sql_type_op_t op)
{
    return dc->type->labels[op];
}

/* ---- mod_genflow_handle_type_create_batch.c ---- */

/* CREATE for r (its arguments a), written with the creates of the same
 * type that arrive in this child while another create's statement runs
 * (GF_SQL_CREATE_BATCH), or alone: the rows are what CREATE alone would
 * return (one row, or none with rerun saying whether the statement ran
 * twice). *dbd is r's connection: given back while the create waits for
 * another's statement, taken again when it is needed; NULL on return
 * only after a row was made. */
gf_db_status_t gf_type_create_batched(request_rec *r, ap_dbd_t **dbd, const gf_dir_conf_t *dc,
                                      const char *const *a, gf_db_rows_t **rows);

/* ---- mod_genflow_handle_type_answers.c ---- */

/* Where the generation id is polled: {base}/status/{id}. */
const char *gf_type_status_url(request_rec *r, const gf_dir_conf_t *dc, const char *id);
/* Where r->user follows generation id (eventsUrl): the events path on this
 * host, or on the host of GenFlowEventsBase with a token of the user's
 * (core/gf_stream_token.h), which no login needs; on the events host, the
 * URL the stream was opened with (its token is never renewed there). */
const char *gf_type_events_url(request_rec *r, const gf_dir_conf_t *dc, const char *id);
/* What gf_type_events_url would give r depends on, in a string made
 * without signing anything: the URL itself where it has no token made
 * here; else its host and path, the signing key (which of the keys in
 * this process) and the token's expiry. r->user and id are not in it. */
const char *gf_type_events_url_key(request_rec *r, const gf_dir_conf_t *dc, const char *id);
/* 429 with Retry-After: r->user has GenFlowEventsPerUser watching
 * requests open on this server already. */
#define GF_TYPE_WATCHERS_RETRY_AFTER "10"
int gf_type_too_many_watchers(request_rec *r);
/* A field of a status object (NULL when it has none). */
json_object *gf_type_status_field(json_object *status, const char *key);
/* A status object the database composed, parsed (NULL if it is not JSON). */
json_object *gf_type_parse_status(request_rec *r, const char *status_json);
/* Is status one a generation never leaves (completed, failed, cancelled)? */
int gf_type_is_terminal(const char *status);
/* The status object as the answer, with Retry-After while it is running. */
int gf_type_send_status(request_rec *r, int http_status, const char *status_json);
/* 404 for an id that is unknown or not the caller's (the same answer). */
int gf_type_no_such_generation(request_rec *r);
/* A conditional statement changed nothing: 404 or 409. */
int gf_type_refused_by_state(request_rec *r, ap_dbd_t *dbd, const gf_dir_conf_t *dc,
                             const char *id, const char *allowed, const char *action);

/* ---- mod_genflow_handle_type_read.c ---- */

/* What a status read saw: json NULL when there is no such generation of
 * the caller's. */
typedef struct {
    const char *json, *etag;
    int terminal;
    int in_line;                 /* queued, not started: it shows its place in line,
                                  * which changes without a NOTIFY of its own */
    int moving;                  /* processing: its progress is estimated from job
                                  * times, and moves with the clock */
    apr_time_t born;             /* a running generation's creation time */
} gf_type_snap_t;
/* How often a watch of a queued generation reads its place in line
 * again (nothing announces a claim ahead of it). */
#define GF_TYPE_LINE_LOOK apr_time_from_sec(1)
/* The caller's generation id as the status answer: from the child's
 * cache, else one SELECT on a connection held only for it. watching: for
 * a watch's later looks (a stream, a long-poll, generate's wait), which
 * may take a place in line read by another watcher within the last
 * GF_TYPE_LINE_LOOK (or by another child, two); a plain read and a
 * watch's first look compute the place afresh, so that a watcher starts
 * from the current place. */
gf_db_status_t gf_type_snapshot(request_rec *r, const gf_dir_conf_t *dc, const char *id,
                                int watching, gf_type_snap_t *snap);

/* ---- mod_genflow_handle_type_create.c ---- */

/* What a create answer says about the new generation (the create
 * statement returns just these columns). */
typedef struct {
    const char *id;
    apr_int64_t cost;
    const char *prompt;
    const char *created_at;
} gf_created_t;

/* The request's JSON body into *body: GF_CONTINUE, or the error answer's
 * result (415, 413, 400). */
int gf_type_check_json_request(request_rec *r, const gf_dir_conf_t *dc, json_object **body);
/* Validate body and insert a generation: GF_CONTINUE with *out filled in,
 * or the result of the error answer it sent. queued: insert it queued for
 * the workers, counted active, or refuse it with 429 and reserve nothing
 * when the user's active generations fill GenFlowMaxActive. dbd: r's
 * connection, or NULL to take one only when the create needs it (a
 * create that waits for another's statement needs none). */
int gf_type_create_generation(request_rec *r, ap_dbd_t *dbd, const gf_dir_conf_t *dc,
                              json_object *body, int queued, gf_created_t *out);
/* The request's own deadline: a Cancel-After header over *seconds (a
 * body's cancelAfter, 0: none), at most the type's deadline. GF_CONTINUE
 * with *seconds set, or the 400 sent. */
int gf_type_cancel_after(request_rec *r, const gf_dir_conf_t *dc, int *seconds);
/* ---- mod_genflow_handle_type_edits.c ---- */

/* A create's mask and referenceImages: taken by the type, the caller's
 * uploads, the mask a PNG the size of its source. GF_CONTINUE, or the
 * 400 (or the database's error) sent. dbd NULL: r's connection, taken
 * only when there are uploads to read. */
int gf_type_check_edits(request_rec *r, ap_dbd_t *dbd, const gf_dir_conf_t *dc,
                        const gf_input_t *in);

/* ---- mod_genflow_handle_type_pictures.c ---- */

/* The URLs of an edit's pictures in body (mask, referenceImages, and the
 * source of a masked edit), on the location's GenFlowPictureOrigins,
 * fetched and kept as uploads of the caller: body then names them
 * "upload:<id>". GF_CONTINUE, or the answer sent (400 naming the field).
 * No pooled connection may be held: it waits on the network. */
int gf_type_import_pictures(request_rec *r, const gf_dir_conf_t *dc, json_object *body);

/* 429 RATE_LIMIT with Retry-After: active (queued or processing) generations
 * of the user fill max_active. */
int gf_type_send_active_limit(request_rec *r, long active, long max_active);
/* The create fields out of a status object: 1, or 0 when it has no id. */
int gf_type_created_from_status(request_rec *r, const char *status_json, gf_created_t *out);
/* 201 with the create object of a new generation. */
int gf_type_send_created(request_rec *r, const gf_dir_conf_t *dc, const gf_created_t *c);
int gf_type_handle_create(request_rec *r, const gf_dir_conf_t *dc);

/* ---- mod_genflow_handle_type_generate.c ---- */

/* The wait a client asked for (Prefer: wait=N), else the location's. */
int gf_type_requested_wait(request_rec *r, const gf_dir_conf_t *dc);
/* 200 and the status once the generation is terminal, or 202 and where to
 * poll after wait_secs. */
int gf_type_answer_when_done(request_rec *r, const gf_dir_conf_t *dc, const char *id,
                             int wait_secs);
/* Hand the caller's created generation to the workers within the active
 * limit: GF_CONTINUE when it is queued (now, or already: strict = 0, or a
 * re-run after a lost connection), else the answer sent (404, 409, 429).
 * cancel_after: seconds from now the client still wants it (0: as the
 * create said). */
int gf_type_queue(request_rec *r, ap_dbd_t *dbd, const gf_dir_conf_t *dc, const char *id,
                  int strict, int cancel_after);
int gf_type_handle_generate(request_rec *r, const gf_dir_conf_t *dc);
int gf_type_handle_retry(request_rec *r, const gf_dir_conf_t *dc, const gf_route_t *route);
int gf_type_handle_cancel(request_rec *r, const gf_dir_conf_t *dc, const gf_route_t *route);

/* GET {base}/events/{id}?token= on an events host, where the token is the
 * one credential: r->user becomes the token's user and
 * gf_req(r)->events_token the token (GF_CONTINUE), or a 401 is sent (no
 * token, or one not valid for this generation; the caller returns what
 * this returned). */
int gf_type_events_token(request_rec *r, const gf_dir_conf_t *dc, const gf_route_t *route);

/* ---- mod_genflow_handle_type_read.c ---- */

/* This week's presets of the location's type, as [key, name, prompt,
 * description] rows with an "active" mark. */
gf_db_status_t gf_type_load_presets(request_rec *r, ap_dbd_t *dbd, const gf_dir_conf_t *dc,
                                    gf_db_rows_t **rows, int **active);
int gf_type_handle_status(request_rec *r, const gf_dir_conf_t *dc, const gf_route_t *route);
int gf_type_handle_history(request_rec *r, const gf_dir_conf_t *dc);
int gf_type_handle_presets(request_rec *r, const gf_dir_conf_t *dc);

/* ---- mod_genflow_handle_type_events.c ---- */

int gf_type_handle_events(request_rec *r, const gf_dir_conf_t *dc, const gf_route_t *route);

#endif
