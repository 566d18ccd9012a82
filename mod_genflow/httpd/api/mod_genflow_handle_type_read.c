/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_handle_type_read.c: the endpoints that read (see
 * mod_genflow_handle_int.h): GET {base}/status/{id} (and its long-poll),
 * {base}/history and {base}/presets; the status as Server-Sent Events is
 * mod_genflow_handle_type_events.c.
 */
#include <string.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "httpd/api/mod_genflow_handle_int.h"
#include "httpd/watch/mod_genflow_watch.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_config_settings.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/engine/mod_genflow_engine.h"
#include "httpd/io/mod_genflow_http.h"
#include "httpd/limits/mod_genflow_limits.h"
#include "core/gf_error.h"
#include "core/gf_credits.h"
#include "core/gf_json.h"
#include "core/gf_route.h"
#include "core/gf_sql.h"
#include "core/gf_job.h"
#include "core/gf_presets.h"
#include "core/gf_limit.h"
#include "core/gf_answer.h"

/* The provider of a row, by name: NULL when none or not this server's. */
static const gf_provider_t *provider_of(request_rec *r, const char *name)
{
    return name ? apr_hash_get(gf_server_conf(r->server)->providers, name, APR_HASH_KEY_STRING)
                : NULL;
}

/* A queued generation's object with its place in line and when it may
 * start (gf_answer_in_line; from its provider's limits and how long its
 * calls took lately on this node, gf_limit_wait): the same text for the
 * same place whether this child read it or took it from another (its ETag
 * with it). */
static const char *in_line_json(request_rec *r, const char *json, long place,
                                const char *provider)
{
    const gf_provider_t *prov = provider_of(r, provider);
    apr_interval_time_t wait = prov ? gf_limit_wait(&prov->limit, place,
                                                    gf_limits_recent_call(prov)) : -1;
    return gf_answer_in_line(r->pool, json, place, wait, apr_time_now());
}

/* A processing generation whose provider reported no progress: its
 * progress estimated from how long the provider's jobs took lately on this
 * node (gf_answer_estimated). The fraction moves with the clock: *moving
 * says so, and the answer is kept for a watcher's look only (a second),
 * as a place in line is. */
static const char *estimated_json(request_rec *r, const char *json, const char *job_started,
                                  const char *provider, int *moving)
{
    const gf_provider_t *prov = provider_of(r, provider);
    *moving = 0;
    return prov ? gf_answer_estimated(r->pool, json, job_started, gf_limits_recent_job(prov),
                                      apr_time_now(), moving)
                : json;
}

/* The answer names where its stream is (eventsUrl): on an events host the
 * URL carries a token of the reader's, so it is added to each reader's
 * answer, after the cache that a type's mounts share, and the ETag is of
 * the answer as sent. The cached entry keeps it, dressed, under dress
 * (gf_type_events_url_key): the token's HMAC and the ETag's hash of the
 * whole are made once per entry and day, not per read. */
static gf_db_status_t with_events_url(request_rec *r, const gf_dir_conf_t *dc, const char *id,
                                      const char *dress, gf_type_snap_t *snap)
{
    const char *json = gf_json_add_string(r->pool, snap->json, "eventsUrl",
                                          gf_type_events_url(r, dc, id));
    if (json) {
        const char *base_etag = snap->etag;
        snap->json = json;
        snap->etag = gf_json_etag(r->pool, json);
        gf_engine_status_dress(dc->type, id, r->user, base_etag, dress, snap->json, snap->etag);
    }
    return GF_DB_OK;
}

/* A row of GET or GET_LINE as the snapshot of generation id of user
 * (without its eventsUrl), kept in the child's cache for the next reads
 * (read after version). A place in line changes with every claim ahead,
 * which no NOTIFY of this id announces: such an answer is kept for
 * GF_TYPE_LINE_LOOK only, and for watchers only, so that however many
 * watch it (the streams and long-polls of a crowd, which all look again
 * that often), this child reads it from the database once in that time
 * (besides each watcher's first look, which reads it afresh). Its own
 * changes (claimed, cancelled) forget it at once, as any other answer's. */
static void snap_of_row(request_rec *r, const gf_dir_conf_t *dc, const char *id,
                        const char *user, const char *const *row, const char *job_started,
                        apr_uint64_t version, gf_type_snap_t *snap)
{
    snap->json = row[0];
    snap->in_line = row[4] != NULL;
    if (snap->in_line) snap->json = in_line_json(r, snap->json, (long)apr_atoi64(row[4]), row[5]);
    else snap->json = estimated_json(r, snap->json, job_started, row[5], &snap->moving);
    snap->etag = gf_json_etag(r->pool, snap->json);
    snap->terminal = gf_answer_is_terminal(row[1]);
    /* When it was created: its Retry-After grows with its age. */
    if (!snap->terminal) snap->born = gf_answer_born(apr_time_now(), row[2]);
    gf_engine_status_store(dc->type, id, user, snap->json, snap->etag, snap->born,
                           snap->in_line || snap->moving ? apr_time_now() + GF_TYPE_LINE_LOOK : 0,
                           snap->in_line ? row[5] : NULL, version);
    /* The other children's watchers take this place rather than read it
     * (one that left the line is announced by its NOTIFY, which drops
     * every child's answer of it). */
    if (snap->in_line) gf_engine_place_publish(id, (long)apr_atoi64(row[4]));
}

/* How old a place another child read may be for a watcher here to take
 * it: two looks, so that the children need not read in step (one reads a
 * line each second, the others take its places). A child's own read
 * serves it for half a look only: its cache keeps the answer for the
 * look, and then it reads again. */
#define SHARED_PLACE_AGE (2 * GF_TYPE_LINE_LOOK)

/* The answer this child holds for generation id of user, with the place
 * another child read lately put in (and the start estimate made again
 * from it), kept for a look: 1, and its snapshot in snap; 0 when there is
 * no such place (or it is no longer in line), or no answer to put it in. */
static int take_shared_place(request_rec *r, const gf_dir_conf_t *dc, const char *id,
                             const char *user, apr_uint64_t version, gf_type_snap_t *snap)
{
    const char *json, *line;
    apr_time_t born;
    long place;

    if (!gf_engine_place_shared(id, GF_TYPE_LINE_LOOK / 2, SHARED_PLACE_AGE, &place) || place < 0
        || !gf_engine_status_peek(r->pool, dc->type, id, user, &json, &born, &line) || !line) {
        return 0;
    }
    snap->json = in_line_json(r, json, place, line);
    snap->etag = gf_json_etag(r->pool, snap->json);
    snap->in_line = 1;
    snap->terminal = 0;
    snap->born = born;
    gf_engine_status_store(dc->type, id, user, snap->json, snap->etag, born,
                           apr_time_now() + GF_TYPE_LINE_LOOK, line, version);
    return 1;
}

/* How many of a line's watched generations one look reads again. */
#define LINE_BATCH_MAX 500

/* A watcher's look at generation id whose answer had a place in line:
 * every generation of that line that this child's watchers look at is
 * looked at with it. A place another child read lately is taken as it is;
 * the rest are read in one statement (GET_LINE) and kept, and their places
 * shared. So a line costs each child about one statement a second,
 * whatever watches it, and a generation watched in several children is
 * read by one of them. id's snapshot in snap (json NULL: it is gone, or not
 * the user's). */
static gf_db_status_t line_snapshot(request_rec *r, const gf_dir_conf_t *dc, const char *id,
                                    const char *line, gf_type_snap_t *snap)
{
    apr_array_header_t *ids = apr_array_make(r->pool, 16, sizeof(const char *));
    apr_array_header_t *users = apr_array_make(r->pool, 16, sizeof(const char *));
    json_object *pairs = gf_json_pool_own(r->pool, json_object_new_array());
    apr_hash_t *versions = apr_hash_make(r->pool);
    gf_db_rows_t *rows;
    gf_db_status_t st;
    int i;

    gf_engine_status_line_watched(r->pool, dc->type, line, LINE_BATCH_MAX, ids, users);
    for (i = 0; i < ids->nelts && strcmp(APR_ARRAY_IDX(ids, i, const char *), id); i++) ;
    if (i == ids->nelts) {                             /* r's own, unless listed */
        APR_ARRAY_PUSH(ids, const char *) = id;
        APR_ARRAY_PUSH(users, const char *) = r->user;
    }
    for (i = 0; i < ids->nelts; i++) {
        const char *gid = APR_ARRAY_IDX(ids, i, const char *);
        const char *user = APR_ARRAY_IDX(users, i, const char *);
        apr_uint64_t *v = apr_palloc(r->pool, sizeof(*v));
        gf_type_snap_t one;
        json_object *o;
        *v = gf_engine_status_version(gid);
        memset(&one, 0, sizeof(one));
        if (take_shared_place(r, dc, gid, user, *v, &one)) {
            if (!strcmp(gid, id) && !strcmp(user, r->user)) *snap = one;
            continue;
        }
        apr_hash_set(versions, gid, APR_HASH_KEY_STRING, v);
        o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(gid));
        json_object_object_add(o, "u", json_object_new_string(user));
        json_object_array_add(pairs, o);
    }
    if (json_object_array_length(pairs) == 0) return GF_DB_OK;
    st = gf_db_select1(r, gf_type_label(dc, GF_SQL_GET_LINE), &rows, 1, gf_json_dump(r->pool, pairs));
    if (st != GF_DB_OK) return st;
    for (i = 0; i < rows->nrows; i++) {
        const char *const *row = (const char *const *)rows->rows[i];
        const apr_uint64_t *v = apr_hash_get(versions, row[6], APR_HASH_KEY_STRING);
        gf_type_snap_t one;
        memset(&one, 0, sizeof(one));
        snap_of_row(r, dc, row[6], row[7], row, row[8], v ? *v : 0, &one);
        if (!strcmp(row[6], id) && !strcmp(row[7], r->user)) *snap = one;
    }
    return GF_DB_OK;
}

gf_db_status_t gf_type_snapshot(request_rec *r, const gf_dir_conf_t *dc, const char *id,
                                int watching, gf_type_snap_t *snap)
{
    gf_db_rows_t *rows;
    gf_db_status_t st;
    const char *line, *dress = gf_type_events_url_key(r, dc, id);
    apr_time_t until = 0;
    int hit;

    memset(snap, 0, sizeof(*snap));
    /* A place in line from memory is for watchers' later looks, which
     * come each second anyway; a plain read and a first look compute it
     * afresh. */
    hit = gf_engine_status_cached(r->pool, dc->type, id, r->user, dress, &snap->json, &snap->etag,
                                  &snap->born, &until);
    if (hit && (!until || watching)) {
        snap->terminal = snap->born == 0;
        /* An answer kept for a look (a place in line, an estimate that
         * moves): the watcher looks again in a second. */
        snap->in_line = until != 0;
        return hit == 2 ? GF_DB_OK : with_events_url(r, dc, id, dress, snap);
    }
    if (watching && (line = gf_engine_status_line(r->pool, dc->type, id, r->user)) != NULL) {
        st = line_snapshot(r, dc, id, line, snap);
    }
    else {
        apr_uint64_t version = gf_engine_status_version(id);
        st = gf_db_select1(r, gf_type_label(dc, GF_SQL_GET), &rows, 2, id, r->user);
        if (st == GF_DB_OK && rows->nrows == 1) {
            snap_of_row(r, dc, id, r->user, (const char *const *)rows->rows[0],
                        rows->rows[0][6], version, snap);
        }
    }
    if (st != GF_DB_OK || !snap->json) return st;
    return with_events_url(r, dc, id, dress, snap);
}

/* Send a snapshot as a status answer: 200, or 304 when the client's
 * If-None-Match names it; Retry-After while it runs. */
static int send_snapshot(request_rec *r, const gf_type_snap_t *snap)
{
    if (!snap->terminal) {
        apr_table_setn(r->headers_out, "Retry-After",
                       apr_itoa(r->pool, gf_job_client_retry_after(apr_time_now() - snap->born)));
    }
    return gf_send_json_validated(r, snap->json, snap->etag);
}

typedef struct {
    const gf_dir_conf_t *dc;
    const char *id;
    apr_interval_time_t look;    /* gf_watch_t.look */
} status_poll_t;

/* The status long-poll: answer once the generation differs from the
 * client's If-None-Match, or 304 at the deadline. A finished generation
 * never changes again: its 304 comes at once. */
static int status_poll_step(request_rec *r, void *ctx, int woke)
{
    status_poll_t *poll = ctx;
    gf_type_snap_t snap;
    gf_db_status_t st = gf_type_snapshot(r, poll->dc, poll->id, woke != 0, &snap);

    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    if (!snap.json) return gf_type_no_such_generation(r);
    poll->look = snap.in_line || snap.moving ? GF_TYPE_LINE_LOOK : 0;
    apr_table_setn(r->headers_out, "ETag", snap.etag);
    if (ap_meets_conditions(r) == OK || snap.terminal
        || (woke & (GF_WOKE_DEADLINE | GF_WOKE_STOP | GF_WOKE_FULL))) {
        return send_snapshot(r, &snap);
    }
    return GF_WATCH_AGAIN;
}

/* GET/HEAD {base}/status/{id}: the object goes out as PostgreSQL composed
 * it with its eventsUrl added to the text (a queued one's estimate is
 * written by json-c), from the child's cache (GenFlowStatusCache) when it
 * holds the answer, running or finished, never one waiting in line: every
 * change of what it shows is announced by NOTIFY and forgets it. A poller that sends the
 * ETag it has back in If-None-Match gets 304 and no body while nothing
 * changed; with Prefer: wait=N as well the request waits up to N s for a
 * change first (a long-poll), without a thread where it can park. */
int gf_type_handle_status(request_rec *r, const gf_dir_conf_t *dc, const gf_route_t *route)
{
    gf_type_snap_t snap;
    gf_db_status_t st;
    int wait = 0;

    if (!route->id_valid) {
        /* Not an id at all: answer like an unknown id, without a query. */
        return gf_type_no_such_generation(r);
    }
    if (apr_table_get(r->headers_in, "If-None-Match")
        && gf_prefer_wait(apr_table_get(r->headers_in, "Prefer"), GF_PREFER_WAIT_MAX, &wait)
        && wait > 0 && !r->header_only) {
        status_poll_t *poll = apr_pcalloc(r->pool, sizeof(*poll));
        gf_watch_t w;
        /* A long-poll watches as a stream does: counted with them. */
        if (!gf_watch_user_open(r)) return gf_type_too_many_watchers(r);
        poll->dc = dc;
        /* route lives on the handler's stack, gone once the request parks. */
        poll->id = apr_pstrdup(r->pool, route->id);
        memset(&w, 0, sizeof(w));
        w.id = poll->id;
        w.deadline = r->request_time + apr_time_from_sec(wait);
        w.step = status_poll_step;
        w.ctx = poll;
        w.look = &poll->look;
        apr_table_setn(r->headers_out, "Preference-Applied",
                       apr_psprintf(r->pool, "wait=%d", wait));
        return gf_watch_run(r, &w);
    }
    st = gf_type_snapshot(r, dc, route->id, 0, &snap);
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    /* Also for another user's id: no existence leak. */
    if (!snap.json) return gf_type_no_such_generation(r);
    return send_snapshot(r, &snap);
}

#define HISTORY_DEFAULT_LIMIT 20
#define HISTORY_MAX_LIMIT 100

/* GET {base}/history?limit=&before=: the caller's generations of this
 * type, newest first; "next" is the cursor of the following page. */
int gf_type_handle_history(request_rec *r, const gf_dir_conf_t *dc)
{
    const char *limit_arg = gf_query_arg(r->pool, r->args, "limit");
    const char *before = gf_query_arg(r->pool, r->args, "before");
    long limit = HISTORY_DEFAULT_LIMIT;
    ap_dbd_t *dbd;
    gf_db_rows_t *rows;
    gf_db_status_t st;

    if (limit_arg == GF_QUERY_BAD) return gf_send_bad_query(r, "limit");
    if (before == GF_QUERY_BAD) return gf_send_bad_query(r, "before");
    if (limit_arg && (gf_parse_amount(r->pool, limit_arg, HISTORY_MAX_LIMIT, &limit) || limit < 1)) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                             "limit must be a whole number from 1 to 100");
    }
    if (before && !gf_uuid_valid(before)) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                             "before must be the cursor from a previous page (a generation id)");
    }
    if (!(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);
    /* One row more than asked tells whether another page exists. */
    st = before ? gf_db_select(r, dbd, gf_type_label(dc, GF_SQL_HISTORY_AFTER), &rows, 3,
                               r->user, before, apr_ltoa(r->pool, limit + 1))
                : gf_db_select(r, dbd, gf_type_label(dc, GF_SQL_HISTORY), &rows, 2, r->user,
                               apr_ltoa(r->pool, limit + 1));
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    return gf_send_json(r, HTTP_OK, gf_answer_history(
        r->pool, (const char *const *const *)rows->rows, rows->nrows, limit));
}

/* This week's presets of the location's type, as [key, name, prompt,
 * description] rows with an "active" mark. */
gf_db_status_t gf_type_load_presets(request_rec *r, ap_dbd_t *dbd, const gf_dir_conf_t *dc,
                                    gf_db_rows_t **rows, int **active)
{
    gf_server_conf_t *sc = gf_server_conf(r->server);
    long week = gf_presets_week_serial(apr_time_now());
    gf_db_status_t st = gf_db_select(r, dbd, GF_SQL_PRESETS, rows, 1, dc->type->name);
    int i;

    if (st != GF_DB_OK) return st;
    *active = apr_pcalloc(r->pool, sizeof(int) * (apr_size_t)((*rows)->nrows + 1));
    for (i = 0; i < (*rows)->nrows; i++) {
        (*active)[i] = gf_presets_is_active(week, (*rows)->nrows,
                                            (int)gf_conf_presets_per_week(sc), i);
    }
    return GF_DB_OK;
}

/* GET {base}/presets: {week, presets: [{key, name, description}]}. */
int gf_type_handle_presets(request_rec *r, const gf_dir_conf_t *dc)
{
    ap_dbd_t *dbd;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    int *active;

    if (!(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);
    if ((st = gf_type_load_presets(r, dbd, dc, &rows, &active)) != GF_DB_OK) {
        return gf_send_db_error(r, st);
    }
    return gf_send_json(r, HTTP_OK, gf_answer_presets(
        r->pool, gf_presets_iso_week(r->pool, apr_time_now()),
        (const char *const *const *)rows->rows, active, rows->nrows));
}
