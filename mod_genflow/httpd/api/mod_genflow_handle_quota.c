/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_handle_quota.c: GET /api/quota (docs/api.md), SetHandler genflow-quota. */
#include <apr_strings.h>
#include <http_protocol.h>

#include "httpd/api/mod_genflow_handlers.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/io/mod_genflow_http.h"
#include "core/gf_credits.h"
#include "core/gf_error.h"
#include "core/gf_json.h"
#include "core/gf_sql.h"

gf_db_status_t gf_account_ensure(request_rec *r, ap_dbd_t *dbd)
{
    gf_server_conf_t *sc = gf_server_conf(r->server);
    gf_db_rows_t *rows;
    return gf_db_select(r, dbd, GF_SQL_ACCOUNT_ENSURE, &rows, 2, r->user,
                        apr_ltoa(r->pool, gf_conf_starting_credits(sc)));
}

int gf_quota_handler(request_rec *r)
{
    gf_server_conf_t *sc;
    ap_dbd_t *dbd;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    json_object *out;
    long balance, limit, used;
    apr_time_t now = apr_time_now();

    if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
        apr_table_setn(r->headers_out, "Allow", "GET, HEAD");
        return gf_send_error(r, HTTP_METHOD_NOT_ALLOWED, GF_ERR_METHOD, "use GET");
    }
    if (!r->user || !*r->user) {
        return gf_send_error(r, HTTP_UNAUTHORIZED, GF_ERR_UNAUTHORIZED, GF_MSG_NO_USER);
    }
    sc = gf_server_conf(r->server);
    if (!(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);
    if ((st = gf_account_ensure(r, dbd)) != GF_DB_OK) return gf_send_db_error(r, st);
    st = gf_db_select(r, dbd, GF_SQL_QUOTA, &rows, 2,
                      apr_ltoa(r->pool, gf_conf_daily_limit(sc)), r->user);
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    if (rows->nrows != 1) return gf_send_db_error(r, GF_DB_ERROR);

    balance = (long)apr_atoi64(rows->rows[0][0]);
    limit = (long)apr_atoi64(rows->rows[0][1]);
    used = (long)apr_atoi64(rows->rows[0][2]);
    out = gf_json_pool_own(r->pool, json_object_new_object());
    json_object_object_add(out, "daily_limit", json_object_new_int64(limit));
    json_object_object_add(out, "daily_used", json_object_new_int64(used));
    json_object_object_add(out, "remaining",
                           json_object_new_int64(gf_credits_remaining(balance, limit, used)));
    json_object_object_add(out, "weekly_used",
                           json_object_new_int64(apr_atoi64(rows->rows[0][3])));
    json_object_object_add(out, "dailyReset",
                           json_object_new_string(gf_time_rfc3339(r->pool,
                                                  gf_next_utc_midnight(now))));
    json_object_object_add(out, "currentBalance", json_object_new_int64(balance));
    json_object_object_add(out, "timestamp",
                           json_object_new_string(gf_time_rfc3339(r->pool, now)));
    return gf_send_json(r, HTTP_OK, gf_json_dump(r->pool, out));
}
