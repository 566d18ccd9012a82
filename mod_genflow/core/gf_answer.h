/* SPDX-License-Identifier: Apache-2.0 */
/* gf_answer.h: the answers of a type's endpoints, built from plain values
 * (httpd/api/mod_genflow_handle_type*.c, mod_genflow_handle_uploads.c
 * read the request and the database, and send what these return).
 *
 * The texts are the API's (docs/api.md, the OpenAPI document): a status
 * object with its place in line or its estimated progress, the create and
 * 202 answers, the history and presets pages, an upload's answer, the
 * event stream's ids and preview events, and the refusals that name a
 * generation's state. Each is written by json-c in the order its members
 * are added here, so the same values give the same bytes (and ETag).
 */
#ifndef GF_ANSWER_H
#define GF_ANSWER_H

#include <apr_pools.h>
#include <apr_time.h>
#include <json-c/json.h>

/* ---- status objects ---------------------------------------------------- */

/* Is a generation in this status finished for good? */
int gf_answer_is_terminal(const char *status);

/* A queued generation's object text json with its place in line
 * (queuePosition) and when it may start (estimatedStartAt: now + wait,
 * null when wait < 0, unknown). json as it was when it cannot be parsed. */
const char *gf_answer_in_line(apr_pool_t *p, const char *json, long place,
                              apr_interval_time_t wait, apr_time_t now);

/* A processing generation's object text json, its job started at
 * job_started (ms since the epoch, text; NULL unknown), with its progress
 * (hundredths) and estimatedFinishAt (a whole second, rounded up; null
 * when unknown) from how long such jobs typically take. *moving: the
 * fraction still moves with the clock. json as it was (and *moving 0)
 * when there is nothing to estimate or it cannot be parsed. */
const char *gf_answer_estimated(apr_pool_t *p, const char *json, const char *job_started,
                                apr_interval_time_t typical, apr_time_t now, int *moving);

/* When a running generation was created, from its age in ms (text): never
 * 0, which means finished to the status cache. */
apr_time_t gf_answer_born(apr_time_t now, const char *age_ms);

/* The Retry-After hint of a status object at now: 1 and *hint while it
 * runs (it grows with its age since createdAt), 0 once it is finished. */
int gf_answer_retry_after(json_object *status, apr_time_t now, int *hint);

/* A status object's traceId, or "-". */
const char *gf_answer_trace_id(json_object *status);

/* ---- a type's URLs and answers ------------------------------------------ */

/* The path of a type's endpoint for generation id under base: "/api/x/"
 * and "/api/x" give "/api/x/status/…"; "/" gives "/status/…" (not
 * "//status/…", which a browser reads as a host named status). */
const char *gf_answer_type_url(apr_pool_t *p, const char *base, const char *endpoint,
                               const char *id);

/* 201 of a create: the new generation's object. */
const char *gf_answer_created(apr_pool_t *p, const char *id, const char *type, apr_int64_t cost,
                              const char *prompt, const char *created_at, const char *status_url,
                              const char *events_url);

/* The fields of a create answer out of a status object (a create
 * recognised after a lost connection, an Idempotency-Key taken over): 1,
 * or 0 when it names no generation. */
int gf_answer_created_fields(json_object *status, const char **id, apr_int64_t *cost,
                             const char **prompt, const char **created_at);

/* 202 of generate while the generation runs: where to poll. state NULL
 * reads "pending". */
const char *gf_answer_accepted(apr_pool_t *p, const char *id, const char *state,
                               const char *poll_url, const char *events_url);

/* The history page: the status objects of rows[i][0] (those that parse),
 * at most limit of them, and "next", the cursor (rows[limit - 1][1]) when
 * the statement found one row more than asked. */
const char *gf_answer_history(apr_pool_t *p, const char *const *const *rows, int nrows,
                              long limit);

/* The presets page: the week's name and the active rows' [key, name, -,
 * description]. */
const char *gf_answer_presets(apr_pool_t *p, const char *week, const char *const *const *rows,
                              const int *active, int nrows);

/* ---- refusals that name a state ----------------------------------------- */

/* 409: the generation (its status object text, NULL or unparsable: "in
 * another state") is not one that allows action. */
const char *gf_answer_state_refusal(apr_pool_t *p, const char *status_json, const char *allowed,
                                    const char *action);

/* 409 of a start: a generation in state (pending: started already) cannot
 * be started again. */
const char *gf_answer_not_startable(apr_pool_t *p, const char *state);

/* A retry of a generation in state: NULL when it may be retried (failed
 * or cancelled), else the 409's message. */
const char *gf_answer_retry_refusal(apr_pool_t *p, const char *state);

/* ---- uploads ----------------------------------------------------------- */

/* Is the media type ct one an upload accepts (PNG, JPEG, WebP; its
 * parameters and case ignored)? */
int gf_answer_upload_accepts(apr_pool_t *p, const char *ct);

/* 201 of an upload. */
const char *gf_answer_upload(apr_pool_t *p, const char *id, const char *url, const char *ctype,
                             unsigned width, unsigned height, apr_size_t len,
                             const char *created_at);

/* ---- the event stream -------------------------------------------------- */

#define GF_ANSWER_EVENT_ID_MAX 64

/* The event id of a state: its ETag without the quotes, cut to fit. */
void gf_answer_event_id(const char *etag, char out[GF_ANSWER_EVENT_ID_MAX]);

/* A Last-Event-ID this server could have sent: printable, short. */
int gf_answer_event_id_plausible(const char *s);

/* A preview sent at sent_at (0 none): may the next go out now, at most
 * one every `every`? When not, *look is brought forward to its time. */
int gf_answer_preview_due(apr_time_t now, apr_time_t sent_at, apr_interval_time_t every,
                          apr_interval_time_t *look);

/* The preview event of generation id (no event id: a reconnect resumes
 * from the states). */
const char *gf_answer_preview_event(apr_pool_t *p, const char *id, const char *url);

#endif
