/* mod_genflow_type_read.c: the endpoints that read (see
 * mod_genflow_type.h): GET {base}/status/{id}, {base}/events/{id} (the
 * status as Server-Sent Events), {base}/history and {base}/presets.
 */
#include <string.h>
#include <apr_strings.h>
#include <http_protocol.h>

#include "httpd/mod_genflow_type.h"
#include "core/gf_error.h"
#include "core/gf_credits.h"
#include "core/gf_json.h"
#include "core/gf_route.h"
#include "core/gf_sql.h"
#include "core/gf_job.h"
#include "core/gf_presets.h"

/* GET/HEAD {base}/status/{id}: one SELECT, and the object goes out as
 * PostgreSQL composed it (never parsed again). A poller that sends the
 * ETag it has back in If-None-Match gets 304 and no body while nothing
 * changed. A finished generation's answer never changes, so the child
 * keeps it (GenFlowStatusCache) and answers the next read without a query,
 * until a NOTIFY says the row was deleted. */
int gf_type_handle_status(request_rec *r, const gf_dir_conf_t *dc, const gf_route_t *route)
{
    ap_dbd_t *dbd;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    const char *json, *state, *etag;
    apr_uint64_t seq;

    if (!route->id_valid) {
        /* Not an id at all: answer like an unknown id, without a query. */
        return gf_type_no_such_generation(r);
    }
    if (gf_workers_status_cached(r->pool, dc->type, route->id, r->user, &json, &etag)) {
        return gf_send_json_validated(r, json, etag);
    }
    seq = gf_workers_change_seq();
    if (!(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);
    st = gf_db_select(r, dbd, gf_type_label(dc, GF_SQL_GET), &rows, 2, route->id, r->user);
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    if (rows->nrows == 0) {
        /* Also for another user's id: no existence leak. */
        return gf_type_no_such_generation(r);
    }
    gf_db_release(r);
    json = rows->rows[0][0];
    state = rows->rows[0][1];
    etag = gf_json_etag(r->pool, json);
    if (!gf_type_is_terminal(state)) {
        apr_table_setn(r->headers_out, "Retry-After",
                       apr_itoa(r->pool, gf_job_client_retry_after(
                           apr_time_from_msec(apr_atoi64(rows->rows[0][2])))));
    }
    else {
        gf_workers_status_store(dc->type, route->id, r->user, json, etag, seq);
    }
    return gf_send_json_validated(r, json, etag);
}

#define EVENTS_MAX_SECONDS 60

/* GET {base}/events/{id}: Server-Sent Events, one "status" event per
 * change of the status object, until it is terminal or 60 s have passed. */
int gf_type_handle_events(request_rec *r, const gf_dir_conf_t *dc, const gf_route_t *route)
{
    ap_dbd_t *dbd;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    json_object *status;
    const char *last = NULL, *state;
    apr_time_t until = r->request_time + apr_time_from_sec(EVENTS_MAX_SECONDS);
    apr_uint64_t seq = gf_workers_change_seq();
    int n = 0;

    if (!route->id_valid) {
        return gf_type_no_such_generation(r);
    }
    if (!(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);
    st = gf_db_select(r, dbd, gf_type_label(dc, GF_SQL_GET), &rows, 2, route->id, r->user);
    /* An idle stream holds no connection: each re-read takes one briefly. */
    gf_db_release(r);
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    if (rows->nrows == 0) {
        return gf_type_no_such_generation(r);
    }
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/event-stream; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Accel-Buffering", "no");
    for (;;) {
        if (!last || strcmp(last, rows->rows[0][0])) {
            status = gf_type_parse_status(r, rows->rows[0][0]);
            if (!status) break;
            last = rows->rows[0][0];
            ap_rprintf(r, "id: %d\nevent: status\ndata: %s\n\n", ++n,
                       gf_json_dump(r->pool, status));
            if (ap_rflush(r) != 0 || r->connection->aborted) break;
            state = json_object_get_string(gf_type_status_field(status, "status"));
            if (gf_type_is_terminal(state)) break;
        }
        if (apr_time_now() >= until) break;
        gf_workers_wait_change(r->pool, route->id, seq, until - apr_time_now());
        seq = gf_workers_change_seq();
        st = gf_db_select1(r, gf_type_label(dc, GF_SQL_GET), &rows, 2, route->id, r->user);
        if (st != GF_DB_OK || rows->nrows == 0) break;
    }
    return OK;
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
    json_object *out, *items;
    ap_dbd_t *dbd;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    int i, n;

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
    st = gf_db_select(r, dbd, gf_type_label(dc, GF_SQL_HISTORY), &rows, 4, r->user, before, before,
                      apr_ltoa(r->pool, limit + 1));
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    out = gf_json_pool_own(r->pool, json_object_new_object());
    items = json_object_new_array();
    n = rows->nrows > limit ? (int)limit : rows->nrows;
    for (i = 0; i < n; i++) {
        json_object *item = gf_type_parse_status(r, rows->rows[i][0]);
        if (item) json_object_array_add(items, json_object_get(item));
    }
    json_object_object_add(out, "items", items);
    json_object_object_add(out, "next", rows->nrows > limit
                           ? json_object_new_string(rows->rows[n - 1][1]) : NULL);
    return gf_send_json(r, HTTP_OK, gf_json_dump(r->pool, out));
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
    json_object *out, *list;
    int *active, i;

    if (!(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);
    if ((st = gf_type_load_presets(r, dbd, dc, &rows, &active)) != GF_DB_OK) {
        return gf_send_db_error(r, st);
    }
    out = gf_json_pool_own(r->pool, json_object_new_object());
    list = json_object_new_array();
    for (i = 0; i < rows->nrows; i++) {
        json_object *p;
        if (!active[i]) continue;
        p = json_object_new_object();
        json_object_object_add(p, "key", json_object_new_string(rows->rows[i][0]));
        json_object_object_add(p, "name", json_object_new_string(rows->rows[i][1]));
        json_object_object_add(p, "description", json_object_new_string(rows->rows[i][3]));
        json_object_array_add(list, p);
    }
    json_object_object_add(out, "week", json_object_new_string(
        gf_presets_iso_week(r->pool, apr_time_now())));
    json_object_object_add(out, "presets", list);
    return gf_send_json(r, HTTP_OK, gf_json_dump(r->pool, out));
}
