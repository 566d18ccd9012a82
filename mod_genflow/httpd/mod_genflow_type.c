/* mod_genflow_type.c: the per-type endpoints (docs/api.md).
 *
 *   POST {base}/create       validate, build the prompt, reserve, insert
 *   POST {base}/generate     start a pending generation, or create+start
 *   GET  {base}/status/{id}  the caller's generation
 *
 * Handlers only validate, call single-statement SQL and format answers;
 * the money rules live in those statements (gf_sql.c). Reservations and
 * cancels are counted in the shared metrics (gf_metrics.h); requests are
 * counted at their log entry (mod_genflow_metrics.c).
 */
#include <stdio.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_general.h>
#include <apr_uuid.h>
#include <http_protocol.h>
#include <http_request.h>

#include "httpd/mod_genflow_private.h"
#include "core/gf_error.h"
#include "core/gf_input.h"
#include "core/gf_json.h"
#include "core/gf_prompt.h"
#include "core/gf_route.h"
#include "core/gf_sql.h"
#include "core/gf_credits.h"
#include "core/gf_job.h"
#include "core/gf_presets.h"

/* The endpoints an Idempotency-Key covers. */
typedef struct {
    const gf_dir_conf_t *dc;
    const gf_route_t *route;
} idem_call_t;

static const char *type_label(const gf_dir_conf_t *dc, gf_sql_type_op_t op)
{
    return dc->type->labels[op];
}

static const char *status_url(request_rec *r, const gf_dir_conf_t *dc, const char *id)
{
    /* "/api/x/" and "/api/x" give "/api/x/status/…"; "/" gives "/status/…"
     * (not "//status/…", which a browser reads as a host named status). */
    apr_size_t n = strlen(dc->base);
    const char *base = (n >= 1 && dc->base[n - 1] == '/') ? apr_pstrmemdup(r->pool, dc->base, n - 1)
                                                          : dc->base;
    return apr_pstrcat(r->pool, base, "/status/", id, NULL);
}

/* A field of a status object produced by the database. */
static json_object *status_field(json_object *status, const char *key)
{
    json_object *v = NULL;
    json_object_object_get_ex(status, key, &v);
    return v;
}

static json_object *parse_status(request_rec *r, const char *status_json)
{
    const char *err;
    return gf_json_parse(r->pool, status_json, strlen(status_json), &err);
}

static int is_terminal(const char *status)
{
    return status && (!strcmp(status, "completed") || !strcmp(status, "failed")
                      || !strcmp(status, "cancelled"));
}

/* The database renders status objects with spaces; clients get them in
 * the same compact form as every other answer. A generation still running
 * carries Retry-After, a hint that grows with its age. */
static int send_status(request_rec *r, int http_status, const char *status_json)
{
    json_object *status = parse_status(r, status_json);
    if (!status) return gf_send_db_error(r, GF_DB_ERROR);
    if (!is_terminal(json_object_get_string(status_field(status, "status")))) {
        apr_time_t created = 0;
        const char *c = json_object_get_string(status_field(status, "createdAt"));
        if (c) {
            apr_time_exp_t tm;
            memset(&tm, 0, sizeof(tm));
            if (sscanf(c, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                       &tm.tm_hour, &tm.tm_min, &tm.tm_sec) == 6) {
                tm.tm_year -= 1900;
                tm.tm_mon -= 1;
                apr_time_exp_gmt_get(&created, &tm);
            }
        }
        apr_table_setn(r->headers_out, "Retry-After",
                       apr_itoa(r->pool, gf_job_client_retry_after(
                           created ? apr_time_now() - created : 0)));
    }
    return gf_send_json(r, http_status, gf_json_dump(r->pool, status));
}

/* The create statement reserved nothing: say why, 429 or 402. When the
 * user has no account yet and may_open, open it and return GF_CONTINUE:
 * the caller creates again. */
static int refused_create(request_rec *r, ap_dbd_t *dbd, long cost, int may_open)
{
    gf_server_conf_t *sc = gf_server_conf(r->server);
    gf_db_rows_t *rows;
    gf_db_status_t st;
    const char *msg = "not enough credits for this generation";
    long max_active = gf_conf_max_active(sc);

    st = gf_db_select(r, dbd, GF_SQL_ACCOUNT_STATE, &rows, 2,
                      apr_ltoa(r->pool, gf_conf_daily_limit(sc)), r->user);
    if (st == GF_DB_OK && rows->nrows == 0 && may_open) {
        if ((st = gf_account_ensure(r, dbd)) != GF_DB_OK) return gf_send_db_error(r, st);
        return GF_CONTINUE;
    }
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    if (st == GF_DB_OK && rows->nrows == 1 && max_active > 0
        && apr_atoi64(rows->rows[0][3]) >= max_active) {
        apr_table_setn(r->headers_out, "Retry-After", "5");
        return gf_send_error(r, HTTP_TOO_MANY_REQUESTS, GF_ERR_RATE_LIMIT,
                             apr_psprintf(r->pool, "%ld generations are already in progress "
                                          "for this user; wait for one to finish", max_active));
    }
    if (st == GF_DB_OK && rows->nrows == 1) {
        msg = gf_credits_refusal(r->pool, apr_atoi64(rows->rows[0][0]),
                                 apr_atoi64(rows->rows[0][1]), apr_atoi64(rows->rows[0][2]),
                                 cost);
    }
    return gf_send_error(r, HTTP_PAYMENT_REQUIRED, GF_ERR_INSUFFICIENT, msg);
}

/* This week's presets of the location's type, as [key, name, prompt,
 * description] rows with an "active" mark. */
static gf_db_status_t load_presets(request_rec *r, ap_dbd_t *dbd, const gf_dir_conf_t *dc,
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
static int handle_presets(request_rec *r, const gf_dir_conf_t *dc)
{
    ap_dbd_t *dbd;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    json_object *out, *list;
    int *active, i;

    if (!(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);
    if ((st = load_presets(r, dbd, dc, &rows, &active)) != GF_DB_OK) return gf_send_db_error(r, st);
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

/* A new generation's id (a random, RFC 4122 version 4 UUID) and, when the
 * request gave none, its seed (0..4294967294, the documented range), from
 * one draw of the system's random source. apr_uuid_get would also do for
 * the id, but through libuuid it makes five more system calls a create
 * (it reseeds its own generator with the pid, uid and thread id each time). */
static void draw_id_and_seed(char id[APR_UUID_FORMATTED_LENGTH + 1], apr_uint64_t *seed)
{
    unsigned char b[sizeof(((apr_uuid_t *)0)->data) + 4];
    apr_uuid_t uuid;
    int i;

    if (apr_generate_random_bytes(b, sizeof(b)) != APR_SUCCESS) {
        apr_uuid_get(&uuid);
        apr_uuid_format(id, &uuid);
        *seed = (apr_uint64_t)apr_time_now() % 4294967295ULL;
        return;
    }
    memcpy(uuid.data, b, sizeof(uuid.data));
    uuid.data[6] = (unsigned char)((uuid.data[6] & 0x0f) | 0x40);   /* version 4 */
    uuid.data[8] = (unsigned char)((uuid.data[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
    apr_uuid_format(id, &uuid);
    *seed = 0;
    for (i = 0; i < 4; i++) *seed = (*seed << 8) | b[sizeof(uuid.data) + i];
    *seed %= 4294967295ULL;
}

/* The create statement returned nothing although it may have committed:
 * after a lost connection it ran twice, and the second run found the id it
 * had chosen. Is that generation there (then it is this request's)? */
static const char *created_before(request_rec *r, const gf_dir_conf_t *dc, const char *id)
{
    gf_db_rows_t *rows;
    if (gf_db_select1(r, type_label(dc, GF_SQL_GET), &rows, 2, id, r->user) == GF_DB_OK
        && rows->nrows == 1) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, GF_LOGNO(1305)
                      "the create of %s committed before the connection was lost; "
                      "recognised by its id", id);
        return rows->rows[0][0];
    }
    return NULL;
}

/* What a create answer says about the new generation (the create
 * statement returns just these columns). */
typedef struct {
    const char *id;
    apr_int64_t cost;
    const char *prompt;
    const char *created_at;
} created_t;

/* The same fields out of a status object (a create recognised after a lost
 * connection, an Idempotency-Key taken over). */
static int created_from_status(request_rec *r, const char *status_json, created_t *out)
{
    json_object *status = parse_status(r, status_json);
    if (!status) return 0;
    out->id = json_object_get_string(status_field(status, "generationId"));
    out->cost = json_object_get_int64(status_field(status, "estimatedCost"));
    out->prompt = json_object_get_string(status_field(status, "prompt"));
    out->created_at = json_object_get_string(status_field(status, "createdAt"));
    return out->id != NULL;
}

/* Validate and insert. Returns GF_CONTINUE with *out filled in, or the
 * result of the error answer it sent. The id is chosen here, before the
 * INSERT, so that a statement re-run after a lost connection cannot create
 * a second generation and recognises the first. */
static int create_generation(request_rec *r, ap_dbd_t *dbd, const gf_dir_conf_t *dc,
                             json_object *body, created_t *out)
{
    gf_server_conf_t *sc = gf_server_conf(r->server);
    gf_input_t in;
    gf_input_error_t ierr;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    const char *prompt;
    long cost = gf_conf_cost(dc);
    apr_uint64_t seed;
    char id[APR_UUID_FORMATTED_LENGTH + 1];
    gf_req_t *rq = gf_req(r);
    int pass, rc;

    if (!gf_input_parse(r->pool, body, gf_conf_needs(dc), &in, &ierr)) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION, ierr.message);
    }
    {
        /* A preset must be one of this week's for the type; the prompt
         * gets its words, the row keeps its key. */
        gf_input_t for_prompt = in;
        if (in.preset) {
            gf_db_rows_t *presets;
            int *active, i, found = -1;
            if ((st = load_presets(r, dbd, dc, &presets, &active)) != GF_DB_OK) {
                return gf_send_db_error(r, st);
            }
            for (i = 0; i < presets->nrows; i++) {
                if (!strcmp(presets->rows[i][0], in.preset) && active[i]) found = i;
            }
            if (found < 0) {
                return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                                     apr_psprintf(r->pool, "preset: '%s' is not one of this "
                                                  "week's presets for %s (see %s/presets)",
                                                  in.preset, dc->type->name, dc->base));
            }
            for_prompt.preset = presets->rows[found][2];
        }
        prompt = gf_prompt_build(r->pool, gf_conf_prompt_template(dc), dc->type->name,
                                 &for_prompt);
    }
    if (!*prompt) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                             "prompt: the request gives nothing to build a prompt from");
    }
    draw_id_and_seed(id, &seed);
    if (in.has_seed) {
        seed = in.seed;
    } else {
        /* Store the seed that was drawn so the input can be replayed. */
        in.has_seed = 1;
        in.seed = seed;
    }
    for (pass = 0;; pass++) {
        const char *before;
        st = gf_db_select(r, dbd, type_label(dc, GF_SQL_CREATE), &rows, 18,
                          r->user, apr_ltoa(r->pool, cost),
                          apr_ltoa(r->pool, gf_conf_daily_limit(sc)),
                          prompt, in.prompt, in.preset, in.source_image, in.aspect_ratio,
                          apr_psprintf(r->pool, "%" APR_UINT64_T_FMT, seed),
                          gf_input_to_json(r->pool, &in),
                          apr_itoa(r->pool, gf_conf_max_retries(dc)),
                          gf_conf_chain_text(r->pool, dc),
                          apr_itoa(r->pool, gf_conf_deadline_secs(dc)),
                          apr_ltoa(r->pool, gf_conf_max_active(sc)), id,
                          rq->idem_key, rq->idem_owner, sc->site_name);
        if (st != GF_DB_OK) {
            return gf_send_db_error(r, st);
        }
        if (rows->nrows == 1) break;
        if (rows->rerun && (before = created_before(r, dc, id)) != NULL) {
            if (!created_from_status(r, before, out)) return gf_send_db_error(r, GF_DB_ERROR);
            rq->idem_linked = rq->idem_key != NULL;
            gf_metrics_credits(gf_metrics(), GF_CREDITS_RESERVED, cost);
            return GF_CONTINUE;
        }
        if (rq->idem_key && !gf_idempotency_still_owned(r)) {
            return gf_send_error(r, HTTP_CONFLICT, GF_ERR_IDEMPOTENCY,
                                 "another request took over this Idempotency-Key; retry to "
                                 "get its answer");
        }
        if (gf_input_upload_id(in.source_image)) {
            /* The statement also refuses an upload that is not this
             * user's: only now, and only for an upload, one more read
             * tells that apart. The message is the same whether the
             * upload does not exist or is someone else's. */
            gf_db_rows_t *up;
            if ((st = gf_db_select(r, dbd, GF_SQL_UPLOAD_GET, &up, 2,
                                   gf_input_upload_id(in.source_image), r->user)) != GF_DB_OK) {
                return gf_send_db_error(r, st);
            }
            if (up->nrows == 0) {
                return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                                     "sourceImage: no upload of yours has this id (upload it "
                                     "with POST /api/uploads and use its sourceImage)");
            }
        }
        /* Nothing reserved: a first create of this user (no account yet:
         * make it, with its starting grant, and create again), or a
         * refusal, 402 or 429. */
        if ((rc = refused_create(r, dbd, cost, pass == 0)) != GF_CONTINUE) return rc;
    }
    rq->idem_linked = rq->idem_key != NULL;
    out->id = rows->rows[0][0];
    out->cost = apr_atoi64(rows->rows[0][1]);
    out->prompt = rows->rows[0][2];
    out->created_at = rows->rows[0][3];
    gf_metrics_credits(gf_metrics(), GF_CREDITS_RESERVED, cost);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, GF_LOGNO(1301)
                  "created type=%s user=%s cost=%ld", dc->type->name, r->user, cost);
    return GF_CONTINUE;
}

static int check_json_request(request_rec *r, const gf_dir_conf_t *dc, json_object **body)
{
    char *buf;
    apr_size_t len;
    const char *err;
    int rc;

    if (!gf_content_type_is_json(apr_table_get(r->headers_in, "Content-Type"))) {
        return gf_send_error(r, HTTP_UNSUPPORTED_MEDIA_TYPE, GF_ERR_UNSUPPORTED_MEDIA,
                             "the request body must be application/json");
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

static int send_created(request_rec *r, const gf_dir_conf_t *dc, const created_t *c);

static int handle_create(request_rec *r, const gf_dir_conf_t *dc)
{
    json_object *body = NULL;
    ap_dbd_t *dbd;
    created_t created;
    int rc;

    if ((rc = check_json_request(r, dc, &body)) != GF_CONTINUE) return rc;
    if (!(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);
    if ((rc = create_generation(r, dbd, dc, body, &created)) != GF_CONTINUE) return rc;
    gf_db_release(r);
    return send_created(r, dc, &created);
}

/* 201 with the create object of a new generation. */
static int send_created(request_rec *r, const gf_dir_conf_t *dc, const created_t *c)
{
    json_object *out;
    const char *url = status_url(r, dc, c->id);

    out = gf_json_pool_own(r->pool, json_object_new_object());
    json_object_object_add(out, "generationId", json_object_new_string(c->id));
    json_object_object_add(out, "type", json_object_new_string(dc->type->name));
    json_object_object_add(out, "status", json_object_new_string("pending"));
    json_object_object_add(out, "estimatedCost", json_object_new_int64(c->cost));
    json_object_object_add(out, "prompt", c->prompt ? json_object_new_string(c->prompt) : NULL);
    json_object_object_add(out, "createdAt",
                           c->created_at ? json_object_new_string(c->created_at) : NULL);
    json_object_object_add(out, "statusUrl", json_object_new_string(url));
    apr_table_setn(r->headers_out, "Location", url);
    return gf_send_json(r, HTTP_CREATED, gf_json_dump(r->pool, out));
}

static int no_such_generation(request_rec *r)
{
    /* The same answer for an unknown id and for another user's id. */
    return gf_send_error(r, HTTP_NOT_FOUND, GF_ERR_GEN_NOT_FOUND, "no such generation");
}

/* A conditional statement changed nothing: say whether the generation is
 * not the caller's (404) or in a state that does not allow `action` (409). */
static int refused_by_state(request_rec *r, ap_dbd_t *dbd, const gf_dir_conf_t *dc,
                            const char *id, const char *allowed, const char *action)
{
    gf_db_rows_t *rows;
    json_object *status;
    gf_db_status_t st = gf_db_select(r, dbd, type_label(dc, GF_SQL_GET), &rows, 2, id, r->user);

    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    if (rows->nrows == 0) return no_such_generation(r);
    status = parse_status(r, rows->rows[0][0]);
    return gf_send_error(r, HTTP_CONFLICT, GF_ERR_INVALID_STATUS,
                         apr_psprintf(r->pool, "the generation is %s; only a %s generation can "
                                      "be %s", status ? json_object_get_string(
                                          status_field(status, "status")) : "in another state",
                                      allowed, action));
}

/* Answer with the generation's state once it is terminal or wait_secs have
 * passed: 200 + status object, or 202 + where to poll. Status reads are one
 * indexed SELECT on a connection held only for it; between reads the
 * request holds no connection and sleeps until the listener hears that
 * this generation changed (NOTIFY from any child or server), with a short
 * re-read as the backstop. */
static int answer_when_done(request_rec *r, const gf_dir_conf_t *dc, const char *id,
                            int wait_secs)
{
    apr_time_t until = r->request_time + apr_time_from_sec(wait_secs);
    gf_db_rows_t *rows;
    gf_db_status_t st;
    json_object *status, *out;
    const char *state;
    apr_uint64_t seq;

    gf_db_release(r);
    for (;;) {
        seq = gf_workers_change_seq();
        st = gf_db_select1(r, type_label(dc, GF_SQL_GET), &rows, 2, id, r->user);
        if (st != GF_DB_OK) return gf_send_db_error(r, st);
        if (rows->nrows == 0) {
            return no_such_generation(r);
        }
        status = parse_status(r, rows->rows[0][0]);
        if (!status) return gf_send_db_error(r, GF_DB_ERROR);
        state = json_object_get_string(status_field(status, "status"));
        if (is_terminal(state) || apr_time_now() >= until || r->connection->aborted) {
            break;
        }
        gf_workers_wait_change(r->pool, id, seq, until - apr_time_now());
    }
    if (is_terminal(state)) {
        return gf_send_json(r, HTTP_OK, gf_json_dump(r->pool, status));
    }
    out = gf_json_pool_own(r->pool, json_object_new_object());
    json_object_object_add(out, "generationId", json_object_new_string(id));
    json_object_object_add(out, "status", json_object_new_string(state));
    json_object_object_add(out, "pollUrl", json_object_new_string(status_url(r, dc, id)));
    apr_table_setn(r->headers_out, "Retry-After",
                   apr_itoa(r->pool, gf_job_client_retry_after(apr_time_now() - r->request_time)));
    apr_table_setn(r->headers_out, "Location", status_url(r, dc, id));
    return gf_send_json(r, HTTP_ACCEPTED, gf_json_dump(r->pool, out));
}

static int queue_and_answer(request_rec *r, ap_dbd_t *dbd, const gf_dir_conf_t *dc,
                            const char *id, int wait);

/* The wait a client asked for (Prefer: wait=N), else the location's. */
static int requested_wait(request_rec *r, const gf_dir_conf_t *dc)
{
    int wait = dc->wait_default != GF_UNSET ? dc->wait_default : 0;
    if (gf_prefer_wait(apr_table_get(r->headers_in, "Prefer"), GF_PREFER_WAIT_MAX, &wait)) {
        apr_table_setn(r->headers_out, "Preference-Applied",
                       apr_psprintf(r->pool, "wait=%d", wait));
    }
    return wait;
}

/* generate: {"generationId": "..."} alone, or the create fields. */
static int handle_generate(request_rec *r, const gf_dir_conf_t *dc)
{
    json_object *body = NULL, *idv = NULL;
    ap_dbd_t *dbd;
    const char *id;
    int rc, wait;

    if ((rc = check_json_request(r, dc, &body)) != GF_CONTINUE) return rc;
    wait = requested_wait(r, dc);
    if (!(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);

    if (json_object_is_type(body, json_type_object)
        && json_object_object_get_ex(body, "generationId", &idv)) {
        if (json_object_object_length(body) != 1) {
            return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                                 "generationId: give either generationId alone or the create "
                                 "fields, not both");
        }
        if (!json_object_is_type(idv, json_type_string)
            || !gf_uuid_valid(json_object_get_string(idv))) {
            return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION,
                                 "generationId must be a generation id (a UUID string)");
        }
        id = json_object_get_string(idv);
    }
    else {
        created_t created;
        if ((rc = create_generation(r, dbd, dc, body, &created)) != GF_CONTINUE) return rc;
        id = created.id;
    }

    return queue_and_answer(r, dbd, dc, id, wait);
}

/* Hand the owner's pending generation to the workers and answer as
 * generate does; 404 or 409 when it is not the caller's pending one. */
static int queue_and_answer(request_rec *r, ap_dbd_t *dbd, const gf_dir_conf_t *dc,
                            const char *id, int wait)
{
    gf_req_t *rq = gf_req(r);
    gf_db_rows_t *rows;
    gf_db_status_t st;

    st = gf_db_select(r, dbd, type_label(dc, GF_SQL_QUEUE), &rows, 4, id, r->user,
                      rq->idem_key, rq->idem_owner);
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    if (rows->nrows == 0 && !rows->rerun) {
        return refused_by_state(r, dbd, dc, id, "pending", "started");
    }
    /* (Run twice after a lost connection, the first run queued it.) */
    rq->idem_linked = rq->idem_key != NULL;
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GF_LOGNO(1302)
                  "queued type=%s id=%s user=%s wait=%d", dc->type->name, id, r->user, wait);
    gf_workers_wake();
    return answer_when_done(r, dc, id, wait);
}

/* An Idempotency-Key whose first request died after creating generation
 * id: answer for that generation the way the endpoint would have. */
int gf_type_resume(request_rec *r, void *baton, const char *id)
{
    idem_call_t *call = baton;
    const gf_dir_conf_t *dc = call->dc;
    gf_db_rows_t *rows;

    if (gf_db_select1(r, type_label(dc, GF_SQL_GET), &rows, 2, id, r->user) != GF_DB_OK) {
        return gf_send_db_error(r, GF_DB_UNAVAILABLE);
    }
    if (rows->nrows == 0) return no_such_generation(r);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, GF_LOGNO(1306)
                  "Idempotency-Key taken over: answering for generation %s", id);
    if (call->route->kind == GF_ROUTE_CREATE) {
        created_t created;
        if (!created_from_status(r, rows->rows[0][0], &created)) {
            return gf_send_db_error(r, GF_DB_ERROR);
        }
        return send_created(r, dc, &created);
    }
    /* generate/retry: start it if its first request died before that. */
    if (gf_db_select1(r, type_label(dc, GF_SQL_QUEUE), &rows, 4, id, r->user, NULL, NULL)
        == GF_DB_OK && rows->nrows == 1) {
        gf_workers_wake();
    }
    return answer_when_done(r, dc, id, requested_wait(r, dc));
}


/* GET/HEAD {base}/status/{id}: one SELECT, and the object goes out as
 * PostgreSQL composed it (never parsed again). A poller that sends the
 * ETag it has back in If-None-Match gets 304 and no body while nothing
 * changed. A finished generation's answer never changes, so the child
 * keeps it (GenFlowStatusCache) and answers the next read without a query,
 * until a NOTIFY says the row was deleted. */
static int handle_status(request_rec *r, const gf_dir_conf_t *dc, const gf_route_t *route)
{
    ap_dbd_t *dbd;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    const char *json, *state, *etag;
    apr_uint64_t seq;

    if (!route->id_valid) {
        /* Not an id at all: answer like an unknown id, without a query. */
        return no_such_generation(r);
    }
    if (gf_workers_status_cached(r->pool, dc->type, route->id, r->user, &json, &etag)) {
        return gf_send_json_validated(r, json, etag);
    }
    seq = gf_workers_change_seq();
    if (!(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);
    st = gf_db_select(r, dbd, type_label(dc, GF_SQL_GET), &rows, 2, route->id, r->user);
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    if (rows->nrows == 0) {
        /* Also for another user's id: no existence leak. */
        return no_such_generation(r);
    }
    gf_db_release(r);
    json = rows->rows[0][0];
    state = rows->rows[0][1];
    etag = gf_json_etag(r->pool, json);
    if (!is_terminal(state)) {
        apr_table_setn(r->headers_out, "Retry-After",
                       apr_itoa(r->pool, gf_job_client_retry_after(
                           apr_time_from_msec(apr_atoi64(rows->rows[0][2])))));
    }
    else {
        gf_workers_status_store(dc->type, route->id, r->user, json, etag, seq);
    }
    return gf_send_json_validated(r, json, etag);
}

/* POST {base}/cancel/{id}: pending or processing → cancelled + refund, in
 * one statement; the provider's job is cancelled where it allows. A worker
 * still busy with the generation finds the row terminal and drops its
 * result, so nothing is charged. */
static int handle_cancel(request_rec *r, const gf_dir_conf_t *dc, const gf_route_t *route)
{
    gf_server_conf_t *sc = gf_server_conf(r->server);
    ap_dbd_t *dbd;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    json_object *status;
    const char *provider, *job_id;

    if (!route->id_valid) {
        return no_such_generation(r);
    }
    if (!(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);
    st = gf_db_select(r, dbd, type_label(dc, GF_SQL_FAIL), &rows, 9, route->id, "cancelled",
                      GF_JOB_CANCELLED, "cancelled by the user", NULL, NULL, NULL, NULL,
                      r->user);
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    if (rows->nrows == 0 && rows->rerun) {
        /* Run twice after a lost connection: did the first run cancel it? */
        gf_db_rows_t *now;
        if (gf_db_select(r, dbd, type_label(dc, GF_SQL_GET), &now, 2, route->id, r->user)
                == GF_DB_OK && now->nrows == 1
            && (status = parse_status(r, now->rows[0][0])) != NULL
            && !strcmp(json_object_get_string(status_field(status, "status")), "cancelled")) {
            return send_status(r, HTTP_OK, now->rows[0][0]);
        }
    }
    if (rows->nrows == 0) {
        return refused_by_state(r, dbd, dc, route->id, "pending or processing", "cancelled");
    }
    /* Metrics: the refund and the generation's duration. */
    gf_metrics_terminal(gf_metrics(), r->pool, dc->type->name, rows->rows[0][0]);
    /* The provider is called without holding a pooled connection. */
    gf_db_release(r);
    status = parse_status(r, rows->rows[0][0]);
    provider = status ? json_object_get_string(status_field(status, "provider")) : NULL;
    job_id = status ? json_object_get_string(status_field(status, "providerJobId")) : NULL;
    if (provider && job_id) {
        gf_provider_t *prov = apr_hash_get(sc->providers, provider, APR_HASH_KEY_STRING);
        if (prov && prov->kind->cancel) {
            prov->kind->cancel(prov, job_id, rows->rows[0][1], r->pool);
        }
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, GF_LOGNO(1303)
                  "cancelled type=%s id=%s user=%s provider=%s", dc->type->name, route->id,
                  r->user, provider ? provider : "-");
    return send_status(r, HTTP_OK, rows->rows[0][0]);
}

/* POST {base}/retry/{id}: a failed or cancelled generation → a NEW one
 * with the same input (new id, new reservation), started like generate. */
static int handle_retry(request_rec *r, const gf_dir_conf_t *dc, const gf_route_t *route)
{
    ap_dbd_t *dbd;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    json_object *input;
    created_t created;
    const char *err, *id;
    int rc, wait = requested_wait(r, dc);

    if (!route->id_valid) {
        return no_such_generation(r);
    }
    if (!(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);
    st = gf_db_select(r, dbd, type_label(dc, GF_SQL_INPUT), &rows, 2, route->id, r->user);
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    if (rows->nrows == 0) {
        return no_such_generation(r);
    }
    if (strcmp(rows->rows[0][0], "failed") && strcmp(rows->rows[0][0], "cancelled")) {
        return gf_send_error(r, HTTP_CONFLICT, GF_ERR_INVALID_STATUS,
                             apr_psprintf(r->pool, "the generation is %s; only a failed or "
                                          "cancelled generation can be retried",
                                          rows->rows[0][0]));
    }
    input = gf_json_parse(r->pool, rows->rows[0][1], strlen(rows->rows[0][1]), &err);
    if (!input) return gf_send_db_error(r, GF_DB_ERROR);
    /* The stored input is validated again: the rules may have changed. */
    if ((rc = create_generation(r, dbd, dc, input, &created)) != GF_CONTINUE) return rc;
    id = created.id;
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, GF_LOGNO(1304)
                  "retry type=%s of=%s new=%s user=%s", dc->type->name, route->id, id, r->user);
    return queue_and_answer(r, dbd, dc, id, wait);
}

#define HISTORY_DEFAULT_LIMIT 20
#define HISTORY_MAX_LIMIT 100

/* GET {base}/history?limit=&before=: the caller's generations of this
 * type, newest first; "next" is the cursor of the following page. */
static int handle_history(request_rec *r, const gf_dir_conf_t *dc)
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
    st = gf_db_select(r, dbd, type_label(dc, GF_SQL_HISTORY), &rows, 4, r->user, before, before,
                      apr_ltoa(r->pool, limit + 1));
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    out = gf_json_pool_own(r->pool, json_object_new_object());
    items = json_object_new_array();
    n = rows->nrows > limit ? (int)limit : rows->nrows;
    for (i = 0; i < n; i++) {
        json_object *item = parse_status(r, rows->rows[i][0]);
        if (item) json_object_array_add(items, json_object_get(item));
    }
    json_object_object_add(out, "items", items);
    json_object_object_add(out, "next", rows->nrows > limit
                           ? json_object_new_string(rows->rows[n - 1][1]) : NULL);
    return gf_send_json(r, HTTP_OK, gf_json_dump(r->pool, out));
}

#define EVENTS_MAX_SECONDS 60

/* GET {base}/events/{id}: Server-Sent Events, one "status" event per
 * change of the status object, until it is terminal or 60 s have passed. */
static int handle_events(request_rec *r, const gf_dir_conf_t *dc, const gf_route_t *route)
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
        return no_such_generation(r);
    }
    if (!(dbd = gf_db_acquire(r))) return gf_send_db_error(r, GF_DB_UNAVAILABLE);
    st = gf_db_select(r, dbd, type_label(dc, GF_SQL_GET), &rows, 2, route->id, r->user);
    /* An idle stream holds no connection: each re-read takes one briefly. */
    gf_db_release(r);
    if (st != GF_DB_OK) return gf_send_db_error(r, st);
    if (rows->nrows == 0) {
        return no_such_generation(r);
    }
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/event-stream; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    apr_table_setn(r->headers_out, "X-Accel-Buffering", "no");
    for (;;) {
        if (!last || strcmp(last, rows->rows[0][0])) {
            status = parse_status(r, rows->rows[0][0]);
            if (!status) break;
            last = rows->rows[0][0];
            ap_rprintf(r, "id: %d\nevent: status\ndata: %s\n\n", ++n,
                       gf_json_dump(r->pool, status));
            if (ap_rflush(r) != 0 || r->connection->aborted) break;
            state = json_object_get_string(status_field(status, "status"));
            if (is_terminal(state)) break;
        }
        if (apr_time_now() >= until) break;
        gf_workers_wait_change(r->pool, route->id, seq, until - apr_time_now());
        seq = gf_workers_change_seq();
        st = gf_db_select1(r, type_label(dc, GF_SQL_GET), &rows, 2, route->id, r->user);
        if (st != GF_DB_OK || rows->nrows == 0) break;
    }
    return OK;
}

static int run_idempotent(request_rec *r, void *baton)
{
    idem_call_t *call = baton;
    switch (call->route->kind) {
    case GF_ROUTE_CREATE:   return handle_create(r, call->dc);
    case GF_ROUTE_GENERATE: return handle_generate(r, call->dc);
    default:                return handle_retry(r, call->dc, call->route);
    }
}

/* By r->method_number, which httpd sets from the exact method token
 * (HEAD is M_GET; anything unknown is M_INVALID): never by a substring of
 * the Allow list, where "OS" would match "POST". */
static int method_allowed(request_rec *r, const char *allow)
{
    if (r->method_number == M_POST) return strstr(allow, "POST") != NULL;
    if (r->method_number == M_GET) return strstr(allow, "GET") != NULL;
    return 0;
}

int gf_type_handler(request_rec *r)
{
    gf_dir_conf_t *dc;
    gf_route_t route;
    const char *path;
    apr_size_t n;

    if (!r->handler || strcmp(r->handler, GF_TYPE_HANDLER)) {
        return DECLINED;
    }
    dc = gf_dir_conf(r);
    if (!dc || !dc->type) {
        return DECLINED;
    }
    n = strlen(dc->base);
    if (n && dc->base[n - 1] == '/') n--;
    path = strncmp(r->uri, dc->base, n) == 0 ? r->uri + n : "";
    gf_route_parse(path, &route);
    {
        /* Routed once: the metrics hook reads the result. */
        gf_req_t *rq = gf_req(r);
        rq->routed = 1;
        rq->route_kind = (int)route.kind;
    }
    if (route.kind == GF_ROUTE_NONE) {
        return gf_send_error(r, HTTP_NOT_FOUND, GF_ERR_NOT_FOUND,
                             apr_psprintf(r->pool, "no endpoint %s here", r->uri));
    }
    if (!method_allowed(r, route.allow)) {
        apr_table_setn(r->headers_out, "Allow", route.allow);
        return gf_send_error(r, HTTP_METHOD_NOT_ALLOWED, GF_ERR_METHOD,
                             apr_psprintf(r->pool, "%s is not allowed here; use %s",
                                          r->method, route.allow));
    }
    if (!r->user || !*r->user) {
        return gf_send_error(r, HTTP_UNAUTHORIZED, GF_ERR_UNAUTHORIZED,
                             "authentication required");
    }
    if (strlen(r->user) > 255) {
        return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_VALIDATION, "user name is too long");
    }
    if (route.kind == GF_ROUTE_CREATE || route.kind == GF_ROUTE_GENERATE
        || route.kind == GF_ROUTE_RETRY) {
        idem_call_t call;
        call.dc = dc;
        call.route = &route;
        return gf_idempotent(r, gf_conf_max_body(dc), run_idempotent, gf_type_resume, &call);
    }
    switch (route.kind) {
    case GF_ROUTE_STATUS:   return handle_status(r, dc, &route);
    case GF_ROUTE_CANCEL:   return handle_cancel(r, dc, &route);
    case GF_ROUTE_RETRY:    return handle_retry(r, dc, &route);
    case GF_ROUTE_EVENTS:   return handle_events(r, dc, &route);
    case GF_ROUTE_HISTORY:  return handle_history(r, dc);
    case GF_ROUTE_PRESETS:  return handle_presets(r, dc);
    default:                return DECLINED;
    }
}
