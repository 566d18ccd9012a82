/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_handle_type_events.c: GET {base}/events/{id}, the caller's
 * generation as Server-Sent Events (see mod_genflow_handle_int.h).
 *
 * One "status" event per state the stream sees, each with an id naming
 * that state (its ETag without quotes), so that a client that reconnects
 * with Last-Event-ID gets the next state it has not seen, never one again.
 * States that follow each other while nobody listens reach the client as
 * the newest one. A comment heartbeat keeps proxies from closing an idle
 * stream; the stream ends after the terminal event, or after
 * GenFlowEventsMaxSeconds (the client reconnects and resumes). A client
 * that has seen the terminal event and comes back gets 204, which tells
 * EventSource to stop reconnecting. A queued generation's place in line
 * (queuePosition, estimatedStartAt) changes with other rows' claims, which
 * wake nobody: such a stream reads again once a second and sends the
 * state when it differs. While it waits, a stream holds no
 * thread where it can park (mod_genflow_watch.h).
 *
 * While the generation is not finished, a provider that streams partial
 * pictures gives it previews (mod_genflow_engine_preview.c): the newest
 * this child heard of is sent as a "preview" event, {"generationId",
 * "url"}, at most one a second, without an id (a reconnect resumes from
 * the states, and a preview missed is no loss). A stream that opens while
 * one is fresh gets it after the state.
 */
#include <string.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "httpd/api/mod_genflow_handle_int.h"
#include "httpd/watch/mod_genflow_watch.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_request.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/io/mod_genflow_http.h"
#include "core/gf_error.h"
#include "core/gf_route.h"
#include "core/gf_stream_token.h"
#include "core/gf_previews.h"
#include "core/gf_answer.h"

/* What EventSource waits before it reconnects: after the stream's end,
 * and longer when the server had no room to keep it open. */
#define RETRY_MS       2000
#define RETRY_FULL_MS  10000
/* At most one preview a second per stream. */
#define PREVIEW_EVERY  apr_time_from_sec(1)

typedef struct {
    const gf_dir_conf_t *dc;
    const char *id;
    char last[GF_ANSWER_EVENT_ID_MAX]; /* the id of the state the client has */
    int started;
    apr_interval_time_t look;    /* gf_watch_t.look */
    apr_uint32_t preview;        /* the sequence number of the preview sent, 0 none */
    apr_time_t preview_at;       /* and when */
} events_t;

/* The newest preview of a generation still being drawn, once it is new to
 * this stream and a second has passed since the last; else, when one
 * waits for that second, the look is brought forward to it. */
static void send_preview(request_rec *r, events_t *ev)
{
    char url[GF_PREVIEW_URL_MAX];
    apr_time_t now = apr_time_now();
    apr_interval_time_t keep = apr_time_from_sec(gf_conf_preview_keep(gf_server_conf(r->server)));
    apr_uint32_t seq = gf_watch_preview_get(ev->id, keep, url, sizeof(url));

    if (!seq || seq == ev->preview) return;
    if (!gf_answer_preview_due(now, ev->preview_at, PREVIEW_EVERY, &ev->look)) return;
    ap_rputs(gf_answer_preview_event(r->pool, ev->id, url), r);
    ev->preview = seq;
    ev->preview_at = now;
}

static void start(request_rec *r, events_t *ev)
{
    ev->started = 1;
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/event-stream; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Accel-Buffering", "no");
    ap_rprintf(r, "retry: %d\n\n", RETRY_MS);
}

static int events_step(request_rec *r, void *ctx, int woke)
{
    events_t *ev = ctx;

    if (woke == 0 || (woke & GF_WOKE_CHANGE)) {
        gf_type_snap_t snap;
        /* A look asked for is for the next read only: a preview's second
         * must not outlive it (a database away would be read in a loop). */
        ev->look = 0;
        gf_db_status_t st = gf_type_snapshot(r, ev->dc, ev->id, woke != 0, &snap);
        if (st != GF_DB_OK) {
            /* Mid-stream, a database outage is waited out (the backstop
             * reads again); at the start the client hears it. */
            if (!ev->started) return gf_send_db_error(r, st);
        }
        else if (!snap.json) {
            if (!ev->started) return gf_type_no_such_generation(r);
            return OK;                           /* deleted meanwhile */
        }
        else {
            char id[GF_ANSWER_EVENT_ID_MAX];
            /* While it waits in line, its place is read again each second
             * (and sent when it moved), and so is a progress estimated from
             * job times: at most one such event a second. A provider's
             * report is written at most once a second, and announced. */
            ev->look = snap.in_line || snap.moving ? GF_TYPE_LINE_LOOK : 0;
            gf_answer_event_id(snap.etag, id);
            if (strcmp(id, ev->last)) {
                if (!ev->started) start(r, ev);
                ap_rprintf(r, "id: %s\nevent: status\ndata: %s\n\n", id, snap.json);
                memcpy(ev->last, id, sizeof(id));
            }
            else if (!ev->started && snap.terminal) {
                r->status = HTTP_NO_CONTENT;
                return OK;
            }
            if (snap.terminal) {
                ap_rflush(r);
                return OK;
            }
            if (!ev->started) start(r, ev);
            send_preview(r, ev);
        }
    }
    if (!ev->started) start(r, ev);
    if (woke & GF_WOKE_BEAT) ap_rputs(": keep-alive\n\n", r);
    if (woke & GF_WOKE_FULL) {
        ap_rprintf(r, "retry: %d\n\n", RETRY_FULL_MS);
        ap_rflush(r);
        return OK;
    }
    if (ap_rflush(r) != APR_SUCCESS || r->connection->aborted) return OK;
    if (woke & (GF_WOKE_DEADLINE | GF_WOKE_STOP)) return OK;
    return GF_WATCH_AGAIN;
}

int gf_type_events_token(request_rec *r, const gf_dir_conf_t *dc, const gf_route_t *route)
{
    const char *token = gf_query_arg(r->pool, r->args, "token"), *why = NULL, *user;
    const gf_server_conf_t *sc = gf_server_conf(r->server);
    gf_req_t *rq = gf_req(r);

    if (rq->events_token) return GF_CONTINUE;              /* checked already (authn) */
    if (!token || token == GF_QUERY_BAD) {
        return gf_send_error(r, HTTP_UNAUTHORIZED, GF_ERR_UNAUTHORIZED,
                             "this host opens an event stream by the token of its eventsUrl "
                             "alone: read the generation's status where you log in for one");
    }
    if (!route->id_valid) return gf_type_no_such_generation(r);
    if (!sc->events_keys) {
        return gf_send_error(r, HTTP_UNAUTHORIZED, GF_ERR_UNAUTHORIZED,
                             "this server has no GenFlowEventsSecretFile: it cannot check an "
                             "events URL's token");
    }
    user = gf_stream_token_user_any(r->pool, sc->events_keys, dc->type->name, route->id, token,
                                    apr_time_sec(apr_time_now()), &why);
    if (!user) return gf_send_error(r, HTTP_UNAUTHORIZED, GF_ERR_UNAUTHORIZED, why);
    r->user = (char *)user;
    rq->events_token = token;
    return GF_CONTINUE;
}

int gf_type_handle_events(request_rec *r, const gf_dir_conf_t *dc, const gf_route_t *route)
{
    const char *last = apr_table_get(r->headers_in, "Last-Event-ID");
    events_t *ev;
    gf_watch_t w;

    if (!route->id_valid) {
        return gf_type_no_such_generation(r);
    }
    if (!gf_watch_user_open(r)) return gf_type_too_many_watchers(r);
    ev = apr_pcalloc(r->pool, sizeof(*ev));
    ev->dc = dc;
    /* route lives on the handler's stack, gone once the request parks. */
    ev->id = apr_pstrdup(r->pool, route->id);
    if (last && gf_answer_event_id_plausible(last)) apr_cpystrn(ev->last, last, sizeof(ev->last));
    memset(&w, 0, sizeof(w));
    w.id = ev->id;
    w.deadline = r->request_time + apr_time_from_sec(gf_conf_events_max_secs(dc));
    w.beat = apr_time_from_sec(gf_conf_events_heartbeat(dc));
    w.streams = 1;
    w.look = &ev->look;
    w.step = events_step;
    w.ctx = ev;
    return gf_watch_run(r, &w);
}
