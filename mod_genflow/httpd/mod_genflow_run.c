/* mod_genflow_run.c: one attempt of one generation, in flight on the
 * child's loop (a fiber: its provider exchanges hold no thread, its
 * database statements run on a worker, gf_loop_blocking), or on the
 * worker that claimed it when the child has no loop.
 *
 * claim (one conditional UPDATE … FOR UPDATE SKIP LOCKED, under a lease)
 *   → the provider of the row's chain position: submit (unless its
 *     circuit is open: then the next entry at once, or a failure at the
 *     chain's end), or poll an accepted job (never re-submit it: a failing
 *     poll is polled again)
 *   → gf_job_decide: complete | poll | retry | fallback | fail
 *   → one guarded statement: schedule again, or finalize with the charge
 *     or the refund in the same statement.
 * No database connection is held while the provider works; the child's
 * listener renews the lease meanwhile (heartbeat). An attempt whose lease
 * was taken over, or whose generation ended under it (cancelled, expired),
 * writes nothing: no row change and no stored picture. An attempt the
 * stopping child abandons gives its row back for rescue at once.
 * The shared metrics (gf_metrics.h) count each provider call, and each
 * retry, fallback, charge or refund whose statement matched.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_general.h>

#include "httpd/mod_genflow_engine_int.h"
#include "core/gf_error.h"
#include "image/gf_image.h"
#include "core/gf_input.h"
#include "core/gf_job.h"
#include "core/gf_sql.h"
#include "httpd/mod_genflow_run.h"
#include "httpd/mod_genflow_limits.h"
#include "net/gf_loop.h"

#define OUTCOME_RETRY_WAIT apr_time_from_msec(500)

static const char *num(apr_pool_t *p, long v)
{
    return apr_ltoa(p, v);
}

static int fill_claim(apr_pool_t *p, const gf_type_t *t, const char *const *row,
                      const char *lease_owner, gf_claim_t *c)
{
    memset(c, 0, sizeof(*c));
    c->type = t;
    c->id = row[0];
    c->user = row[1];
    c->prompt = row[2];
    c->source_image = row[3];
    c->aspect_ratio = row[4];
    c->seed = (apr_uint64_t)apr_atoi64(row[5]);
    c->chain = row[6];
    c->chain_index = atoi(row[7]);
    c->retry_count = atoi(row[8]);
    c->max_retries = atoi(row[9]);
    c->poll_count = atoi(row[10]);
    c->provider_job_id = row[11];
    c->attempts = atoi(row[12]);
    c->deadline = apr_time_from_msec(apr_atoi64(row[13]));
    c->provider_state = row[14];
    c->poll_errors = atoi(row[15]);
    c->rescued = row[16] && !strcmp(row[16], "1");
    c->started = row[17] ? apr_time_from_msec(apr_atoi64(row[17])) : 0;
    c->preset = row[18];
    c->strength = row[19];
    c->site = row[20];
    c->lease_owner = lease_owner;
    (void)p;
    return 1;
}

static void log_transition(server_rec *s, apr_pool_t *p, int level, const gf_claim_t *c,
                           const char *provider, const char *what, const char *code,
                           const char *detail)
{
    /* The detail is often a provider's own words: escaped like any other
     * outside text in the error_log (quotes, backslashes, control and
     * non-ASCII bytes). */
    ap_log_error(APLOG_MARK, level, 0, s, GF_LOGNO(1401)
                 "%s type=%s id=%s user=%s provider=%s attempt=%d chain_index=%d "
                 "retry=%d error=%s%s%s", what, c->type->name, c->id, c->user,
                 provider ? provider : "-", c->attempts, c->chain_index, c->retry_count,
                 code ? code : "-", detail ? ": " : "", detail ? ap_escape_logitem(p, detail) : "");
}

/* A guarded statement of this attempt, run where statements may block
 * (gf_loop_blocking: a worker thread, never the loop's). */
typedef struct {
    server_rec *s;
    apr_pool_t *p;
    const gf_claim_t *c;
    gf_sql_type_op_t op;
    int certain;
    int rc;
} statement_t;

static int attempt_statement_now(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                                 gf_sql_type_op_t op, int certain);

static void statement_now(void *baton)
{
    statement_t *x = baton;
    x->rc = attempt_statement_now(x->s, x->p, x->c, x->op, x->certain);
}

/* Run one guarded statement of this attempt on a connection held only for
 * it: RENEW (is the lease still ours?) or RELEASE (certain: no request
 * went to the provider in this attempt). 1 when it matched, 0 when it did
 * not, -1 when the database could not say. */
static int attempt_statement(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                             gf_sql_type_op_t op, int certain)
{
    statement_t x;
    x.certain = certain;
    x.s = s;
    x.p = p;
    x.c = c;
    x.op = op;
    x.rc = -1;
    gf_loop_blocking(statement_now, &x);
    return x.rc;
}

static int attempt_statement_now(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                                 gf_sql_type_op_t op, int certain)
{
    gf_db_rows_t *rows;
    gf_db_status_t st;
    ap_dbd_t *dbd = gf_db_open(p, s);

    if (!dbd) return -1;
    if (op == GF_SQL_RENEW) {
        st = gf_db_pselect(s, p, dbd, c->type->labels[op], &rows, 4,
                           num(p, gf_conf_lease_secs(gf_server_conf(s))), c->id,
                           c->lease_owner, num(p, c->attempts));
    }
    else {
        /* RELEASE: a submission cut off may have been accepted; a
         * certain one (a deferral) is due again after a while. */
        st = gf_db_pselect(s, p, dbd, c->type->labels[op], &rows, 5,
                           c->provider_job_id || certain ? "0" : "1",
                           num(p, certain ? (long)apr_time_as_msec(c->defer) : 0), c->id,
                           c->lease_owner, num(p, c->attempts));
    }
    gf_db_close(s, dbd);
    if (st != GF_DB_OK) return -1;
    return rows->nrows == 1;
}

/* A key nobody can guess: the URL of a picture is given to its owner only. */
static const char *storage_key(apr_pool_t *p, const gf_claim_t *c)
{
    unsigned char b[8];
    char hex[17];
    int i;
    if (apr_generate_random_bytes(b, sizeof(b)) != APR_SUCCESS) {
        apr_uint64_t t = (apr_uint64_t)apr_time_now();
        memcpy(b, &t, sizeof(b));
    }
    for (i = 0; i < 8; i++) apr_snprintf(hex + 2 * i, 3, "%02x", b[i]);
    return apr_pstrcat(p, c->type->name, "/", c->id, "-", hex, ".png", NULL);
}

/* One guarded statement that records the attempt's outcome. */
static gf_db_status_t record_outcome(server_rec *s, apr_pool_t *p, ap_dbd_t *dbd,
                                     const gf_claim_t *c, const gf_decision_t *d,
                                     const char *provider, const char *model, const char *url,
                                     const gf_provider_result_t *res, gf_db_rows_t **rowsp)
{
    const gf_type_t *t = c->type;
    const char *attempt = num(p, c->attempts);
    gf_decision_t dd = *d;
    gf_db_status_t st;
    gf_db_rows_t *rows;

    switch (dd.next) {
    case GF_NEXT_COMPLETE:
        st = gf_db_pselect(s, p, dbd, t->labels[GF_SQL_COMPLETE], &rows, 6, c->id, url,
                           provider, model, c->lease_owner, attempt);
        break;
    case GF_NEXT_FAIL:
        st = gf_db_pselect(s, p, dbd, t->labels[GF_SQL_FAIL], &rows, 9, c->id, "failed",
                           dd.code, dd.message ? dd.message : dd.code, provider, model,
                           c->lease_owner, attempt, NULL);
        break;
    default: {
        int index = c->chain_index, retry = c->retry_count, polls = c->poll_count;
        int poll_errors = 0;
        const char *job_id = NULL, *state = NULL;
        if (dd.next == GF_NEXT_POLL) {
            polls++;
            /* A failed poll keeps the accepted job: the next attempt polls
             * it again, it is never submitted again. */
            poll_errors = dd.poll_failed ? c->poll_errors + 1 : 0;
            job_id = res->provider_job_id ? res->provider_job_id : c->provider_job_id;
            state = res->provider_state ? res->provider_state : c->provider_state;
        }
        else if (dd.next == GF_NEXT_RETRY) {
            retry++;
        }
        else { /* fallback */
            index++;
            retry = 0;
            polls = 0;
        }
        st = gf_db_pselect(s, p, dbd, t->labels[GF_SQL_SCHEDULE], &rows, 12,
                           num(p, (long)apr_time_as_msec(dd.delay)), num(p, index),
                           num(p, retry), num(p, polls), num(p, poll_errors), job_id, state,
                           provider, model, c->id, c->lease_owner, attempt);
        break;
    }
    }
    *rowsp = rows;
    return st;
}

/* The outcome statement with a connection held only for it (on a worker:
 * gf_loop_blocking). st GF_DB_UNAVAILABLE when no connection came. */
typedef struct {
    server_rec *s;
    apr_pool_t *p;
    const gf_claim_t *c;
    const gf_decision_t *d;
    const char *provider, *model, *url;
    const gf_provider_result_t *res;
    gf_db_rows_t *rows;
    gf_db_status_t st;
} outcome_t;

static void outcome_now(void *baton)
{
    outcome_t *o = baton;
    ap_dbd_t *dbd = gf_db_open(o->p, o->s);
    o->st = GF_DB_UNAVAILABLE;
    if (!dbd) return;
    o->st = record_outcome(o->s, o->p, dbd, o->c, o->d, o->provider, o->model, o->url, o->res,
                           &o->rows);
    gf_db_close(o->s, dbd);
}

/* Apply a decision with a fresh connection; returns 1, or -1 on trouble. */
static int apply(server_rec *s, apr_pool_t *p, const gf_claim_t *c, const gf_decision_t *d,
                 const gf_provider_t *prov, const gf_provider_result_t *res)
{
    const gf_storage_t *stored_in = NULL;
    const char *stored_key = NULL;
    gf_server_conf_t *sc = gf_server_conf(s);
    const gf_type_t *t = c->type;
    const char *provider = prov ? prov->name : NULL, *model = res ? res->model : NULL;
    const char *url = NULL, *err = NULL;
    apr_time_t until;
    int maybe_applied = 0;
    gf_db_rows_t *rows;
    gf_db_status_t st;
    gf_decision_t dd = *d;

    if (dd.next == GF_NEXT_COMPLETE) {
        /* Is the generation still this attempt's? A cancelled or expired
         * one gets nothing stored: its late picture is discarded here. */
        if (attempt_statement(s, p, c, GF_SQL_RENEW, 1) == 0) {
            log_transition(s, p, APLOG_INFO, c, provider, "discarded", NULL,
                           "the generation is no longer this attempt's (cancelled, expired "
                           "or taken over); its result is not stored");
            return 1;
        }
        if (res->image) {
            const char *key = storage_key(p, c);
            apr_status_t rv = gf_storage_put(sc->storage, p, key, res->image, res->image_len,
                                             res->content_type, &url, &err);
            stored_in = sc->storage;
            stored_key = key;
            /* docs/operations.md: when the primary store fails, keep the provider's URL
             * (saying so), and only bytes without one go to the local
             * directory of last resort. */
            if (rv != APR_SUCCESS && res->image_url) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(1406)
                             "%s storage failed for type=%s id=%s (%s); keeping the "
                             "provider's temporary URL", sc->storage->backend, t->name, c->id,
                             ap_escape_logitem(p, err));
                url = res->image_url;
                rv = APR_SUCCESS;
            }
            if (rv != APR_SUCCESS && sc->fallback_storage) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(1405)
                             "%s storage failed for type=%s id=%s (%s); trying %s",
                             sc->storage->backend, t->name, c->id, ap_escape_logitem(p, err),
                             sc->fallback_storage->backend);
                rv = gf_storage_put(sc->fallback_storage, p, key, res->image, res->image_len,
                                    res->content_type, &url, &err);
                stored_in = sc->fallback_storage;
            }
            if (rv != APR_SUCCESS || url == res->image_url) {
                stored_in = NULL;   /* nothing of ours to take back */
            }
            if (rv != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, GF_LOGNO(1402)
                             "storage failed for type=%s id=%s: %s", t->name, c->id,
                             ap_escape_logitem(p, err));
                dd.next = GF_NEXT_FAIL;
                dd.code = GF_JOB_STORAGE;
                dd.message = "the image could not be stored";
            }
        }
        else {
            url = res->image_url;
        }
    }

    /* The outcome must reach the database: an accepted job's id, above
     * all, or the job would be submitted again after a rescue. While the
     * database is away (a restart) the write is tried again for up to a
     * lease. That is safe: each statement is guarded by (lease owner,
     * attempt), which no other worker can hold until this lease expired
     * and the row was claimed again, and a repeat after a lost answer
     * matches nothing. */
    until = apr_time_now() + apr_time_from_sec(gf_conf_lease_secs(sc));
    for (;;) {
        outcome_t o;
        o.s = s;
        o.p = p;
        o.c = c;
        o.d = &dd;
        o.provider = provider;
        o.model = model;
        o.url = url;
        o.res = res;
        o.rows = NULL;
        gf_loop_blocking(outcome_now, &o);
        st = o.st;
        rows = o.rows;
        if (st != GF_DB_OK || rows->rerun) {
            maybe_applied = 1;   /* an earlier run may have committed */
        }
        if (st == GF_DB_OK || apr_time_now() >= until || gf_workers_aborting()) break;
        /* A timer of the loop in a fiber: no thread waits for the database. */
        gf_loop_sleep(OUTCOME_RETRY_WAIT);
    }
    if (st == GF_DB_OK && rows->nrows == 0 && !maybe_applied && stored_in) {
        /* Cancelled between the check and the completion: the picture
         * must not stay behind a generation that has none. (When an
         * earlier run may have completed it, the picture stays.) */
        gf_storage_remove(stored_in, p, stored_key);
    }
    if (st != GF_DB_OK) {
        return -1;
    }
    if (rows->nrows == 0) {
        /* The lease was taken over (we were too slow) or the generation was
         * cancelled meanwhile: our result is dropped, nothing is charged.
         * Or a run whose answer was lost had recorded it already. */
        log_transition(s, p, APLOG_WARNING, c, provider, "stale", gf_job_next_name(dd.next),
                       maybe_applied ? "nothing to change: recorded by a run whose answer was "
                                       "lost, or the row changed under this attempt"
                                     : "the row changed under this attempt; result dropped");
        return 1;
    }
    /* Metrics: what this statement did (it matched, so it ran once). */
    switch (dd.next) {
    case GF_NEXT_RETRY:
        gf_metrics_retry(gf_metrics(), t->name);
        break;
    case GF_NEXT_FALLBACK:
        gf_metrics_fallback(gf_metrics(), t->name);
        break;
    case GF_NEXT_COMPLETE:
    case GF_NEXT_FAIL:
        /* The status object: the charge or refund and the duration. */
        gf_metrics_terminal(gf_metrics(), p, t->name, rows->rows[0][0]);
        break;
    default:
        break;
    }
    log_transition(s, p, dd.next == GF_NEXT_COMPLETE || dd.next == GF_NEXT_FAIL ? APLOG_INFO
                                                                            : APLOG_DEBUG,
                   c, provider, gf_job_next_name(dd.next),
                   dd.next == GF_NEXT_FAIL ? dd.code : (res ? res->error_code : NULL),
                   dd.next == GF_NEXT_FAIL ? dd.message
                       : (dd.delay ? apr_psprintf(p, "in %" APR_TIME_T_FMT " ms",
                                                  apr_time_as_msec(dd.delay)) : NULL));
    return 1;
}

static int run_claimed(server_rec *s, apr_pool_t *p, gf_claim_t *cp, gf_attempt_t *slot,
                       gf_limits_hold_t *hold);

typedef struct {
    server_rec *s;
    apr_pool_t *p;
    const gf_claim_t *c;
    const char *provider;
} accepted_baton_t;

typedef struct {
    const accepted_baton_t *b;
    const char *job_id, *state;
} accepted_t;

static void accepted_now(void *baton)
{
    const accepted_t *x = baton;
    const accepted_baton_t *b = x->b;
    gf_db_rows_t *rows;
    ap_dbd_t *dbd = gf_db_open(b->p, b->s);

    if (!dbd) return;   /* the outcome statement records it later */
    gf_db_pselect(b->s, b->p, dbd, b->c->type->labels[GF_SQL_ACCEPTED], &rows, 6, x->job_id,
                  x->state, b->provider, b->c->id, b->c->lease_owner,
                  num(b->p, b->c->attempts));
    gf_db_close(b->s, dbd);
}

/* gf_job_t.accepted: write the job id the provider just gave, guarded by
 * this attempt's lease, before the adapter downloads anything (the fiber
 * waits for the statement). */
static void on_accepted(const void *data, const char *job_id, const char *state)
{
    accepted_t x;
    x.b = data;
    x.job_id = job_id;
    x.state = state;
    gf_loop_blocking(accepted_now, &x);
}

/* Run one claimed row under its slot (heartbeats follow it), with the
 * settings of the server (virtual host) that created it, and the place of
 * its provider's limits the claim took for it (hold), which goes back
 * when the attempt made no call. */
static int run_row(const gf_engine_t *e, apr_pool_t *p, const gf_type_t *t,
                   const char *const *row, const char *lease_owner, gf_attempt_t *slot,
                   gf_limits_hold_t *hold)
{
    gf_claim_t c;
    server_rec *s;
    int rc;
    fill_claim(p, t, row, lease_owner, &c);
    /* The claim took only rows of the main server (no name: the engine's
     * first server, the main one when it mounts types) or of a virtual
     * host of this engine. */
    if (!(s = gf_engine_server_for(e, c.site))) s = e->s;
    gf_attempt_begin(slot, s, t, c.id, lease_owner, c.attempts);
    rc = run_claimed(s, p, &c, slot, hold);
    gf_attempt_end(slot);
    if (hold->prov) gf_limits_unused(hold);
    return rc;
}

/* A claimed row in flight on the child's loop: everything it uses lives
 * in its own pool, which one thread at a time uses (the loop's, or a
 * worker's while the fiber waits for a statement). */
typedef struct {
    apr_pool_t *pool;
    const gf_engine_t *e;
    const gf_type_t *t;
    const char **row;
    const char *lease_owner;
    gf_attempt_t slot;
    gf_limits_hold_t hold;
} flight_t;

static void flight_main(void *baton)
{
    flight_t *f = baton;
    run_row(f->e, f->pool, f->t, f->row, f->lease_owner, &f->slot, &f->hold);
    apr_pool_destroy(f->pool);
    free(f);
    gf_workers_landed();
}

/* Launch a claimed row on the loop; 0 when the loop took it. */
static int launch(const gf_engine_t *e, const gf_type_t *t, const gf_db_rows_t *rows, int i,
                  const char *lease_owner, const gf_limits_hold_t *hold)
{
    apr_allocator_t *allocator;
    flight_t *f = calloc(1, sizeof(*f));
    int k;

    if (!f) return -1;
    /* A pool of its own allocator: no other thread's pool is touched. */
    if (apr_allocator_create(&allocator) != APR_SUCCESS) {
        free(f);
        return -1;
    }
    if (apr_pool_create_unmanaged_ex(&f->pool, NULL, allocator) != APR_SUCCESS) {
        apr_allocator_destroy(allocator);
        free(f);
        return -1;
    }
    apr_allocator_owner_set(allocator, f->pool);
    apr_pool_tag(f->pool, "genflow_attempt");
    f->e = e;
    f->t = t;
    f->lease_owner = apr_pstrdup(f->pool, lease_owner);
    f->hold = *hold;
    f->row = apr_pcalloc(f->pool, sizeof(char *) * (apr_size_t)rows->ncols);
    for (k = 0; k < rows->ncols; k++) {
        f->row[k] = rows->rows[i][k] ? apr_pstrdup(f->pool, rows->rows[i][k]) : NULL;
    }
    if (gf_workers_launch(flight_main, f) != 0) {
        apr_pool_destroy(f->pool);
        free(f);
        return -1;
    }
    return 0;
}

/* Give back the claimed polls from row `from` on, which this worker will
 * not run: due now, free for any worker. */
static void release_rest(server_rec *s, apr_pool_t *p, const gf_type_t *t, gf_db_rows_t *rows,
                         int from, const char *lease_owner)
{
    const char *ids = "";
    gf_db_rows_t *res;
    ap_dbd_t *dbd;
    int i;

    for (i = from; i < rows->nrows; i++) {
        ids = apr_pstrcat(p, ids, i > from ? "," : "", rows->rows[i][0], NULL);
    }
    if (!*ids || !(dbd = gf_db_open(p, s))) return;   /* else the leases just expire */
    gf_db_pselect(s, p, dbd, t->labels[GF_SQL_RELEASE_REST], &res, 2, ids, lease_owner);
    gf_db_close(s, dbd);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, GF_LOGNO(1409)
                 "type=%s: gave back %d claimed polls not run in time", t->name,
                 rows->nrows - from);
}

/* The provider a claimed row is about to call: its chain's current
 * entry (NULL when the chain cannot be read; run_claimed fails it). */
static const char *row_provider(apr_pool_t *p, const char *const *row)
{
    const char *err;
    apr_array_header_t *chain = row[6] ? gf_chain_parse(p, row[6], &err) : NULL;
    int index = row[7] ? atoi(row[7]) : -1;
    if (!chain || index < 0 || index >= chain->nelts) return NULL;
    return APR_ARRAY_IDX(chain, index, gf_chain_entry_t).provider;
}

/* Claim: new work first (a first attempt, a retry or a fallback), then
 * the due polls of accepted jobs, a batch at a time. The places of the
 * providers' limits are taken before each claim (*lc): the claim leaves
 * the rows of providers without one in the queue. */
void gf_skip_add(gf_skip_t *skip, const char *list)
{
    char *copy, *last, *name;
    apr_size_t len = strlen(skip->names);
    char buf[GF_SKIP_MAX];

    if (!list || !*list) return;
    apr_cpystrn(buf, list, sizeof(buf));
    copy = buf;
    for (name = apr_strtok(copy, "\n", &last); name; name = apr_strtok(NULL, "\n", &last)) {
        apr_size_t n = strlen(name);
        if (len + n + 2 > sizeof(skip->names)) return;
        if (len) skip->names[len++] = '\n';
        memcpy(skip->names + len, name, n + 1);
        len += n;
    }
}

static const char *skip_list(apr_pool_t *p, const gf_limits_claim_t *lc, const gf_skip_t *skip)
{
    const char *mine = gf_limits_claim_skip(lc);
    if (!skip->names[0]) return mine;
    return *mine ? apr_pstrcat(p, mine, "\n", skip->names, NULL) : skip->names;
}

static gf_db_status_t claim(const gf_engine_t *e, apr_pool_t *p, const gf_type_t *t,
                            const char *lease_owner, int places, gf_limits_claim_t **lc,
                            gf_db_rows_t **rows, gf_skip_t *skip)
{
    server_rec *s = e->s;
    gf_server_conf_t *sc = gf_server_conf(s);
    const char *lease = num(p, gf_conf_lease_secs(sc));
    int batch = places < GF_POLL_BATCH ? places : GF_POLL_BATCH;
    gf_db_status_t st;
    ap_dbd_t *dbd;

    *lc = gf_limits_claim_begin(p, sc->providers, t->providers, 1);
    if (!(dbd = gf_db_open(p, s))) return GF_DB_ERROR;
    st = gf_db_pselect(s, p, dbd, t->labels[GF_SQL_CLAIM], rows, 4, lease_owner, lease,
                       e->names, skip_list(p, *lc, skip));
    if (st == GF_DB_OK && (*rows)->nrows == 0) {
        gf_limits_claim_end(*lc);
        *lc = gf_limits_claim_begin(p, sc->providers, t->providers, batch);
        /* No more rows than the places taken for any one provider. */
        st = gf_db_pselect(s, p, dbd, t->labels[GF_SQL_CLAIM_POLLS], rows, 5, lease_owner,
                           lease, e->names, skip_list(p, *lc, skip),
                           num(p, gf_limits_claim_room(*lc)));
    }
    gf_db_close(s, dbd);
    /* The caller learns which providers had no place. */
    gf_skip_add(skip, gf_limits_claim_skip(*lc));
    return st;
}

int gf_run_one(const gf_engine_t *e, apr_pool_t *p, const gf_type_t *t,
               const char *lease_owner, int *places, gf_skip_t *skip)
{
    server_rec *s = e->s;
    gf_server_conf_t *sc = gf_server_conf(s);
    int lease = gf_conf_lease_secs(sc);
    gf_limits_claim_t *lc;
    gf_limits_hold_t first;
    gf_db_rows_t *rows;
    apr_time_t stop_by;
    int i, from, worked = 0, trouble = 0;

    if (claim(e, p, t, lease_owner, *places, &lc, &rows, skip) != GF_DB_OK) {
        gf_limits_claim_end(lc);
        return -1;
    }
    /* Each row in flight on the loop at once, with its provider's place;
     * the rows the loop could not take (it is stopping) run here. */
    for (i = 0; i < rows->nrows; i++) {
        gf_limits_hold_t hold;
        gf_limits_claim_assign(lc, row_provider(p, rows->rows[i]), &hold);
        if (launch(e, t, rows, i, lease_owner, &hold) != 0) {
            first = hold;   /* the row runs here, with its place */
            break;
        }
        (*places)--;   /* the attempt keeps it until it lands */
    }
    if (i == rows->nrows) {
        gf_limits_claim_end(lc);
        return rows->nrows > 0 ? 1 : 0;
    }
    worked = i > 0;
    /* The batch shares one lease, renewed only for the row being worked:
     * rows not reached within half of it go back (the heartbeat of the
     * running one is the listener's). */
    stop_by = apr_time_now() + apr_time_from_sec(lease) / 2;
    for (from = i; i < rows->nrows; i++) {
        gf_attempt_t slot;
        gf_limits_hold_t hold;
        if (i > from && (apr_time_now() >= stop_by || gf_workers_aborting()
                         || gf_workers_stopping())) {
            release_rest(s, p, t, rows, i, lease_owner);
            break;
        }
        memset(&slot, 0, sizeof(slot));
        if (i == from) hold = first;
        else gf_limits_claim_assign(lc, row_provider(p, rows->rows[i]), &hold);
        if (run_row(e, p, t, rows->rows[i], lease_owner, &slot, &hold) < 0) trouble = 1;
        else worked = 1;
    }
    gf_limits_claim_end(lc);
    /* A batch that got anything done is work, even if one outcome could
     * not be written: the worker goes on rather than sleeping it off. */
    return worked ? 1 : trouble ? -1 : 0;
}

int gf_run_due_types(const gf_engine_t *e, apr_pool_t *p, int *due)
{
    gf_db_rows_t *rows;
    gf_db_status_t st = GF_DB_OK;
    ap_dbd_t *dbd;
    int i, j, k;

    for (i = 0; i < e->types->nelts; i++) due[i] = 0;
    if (!(dbd = gf_db_open(p, e->s))) return -1;
    /* Usually one statement: every site of the database mounts the same
     * types (the main server's, inherited). */
    for (k = 0; k < e->due_labels->nelts && st == GF_DB_OK; k++) {
        st = gf_db_pselect(e->s, p, dbd, APR_ARRAY_IDX(e->due_labels, k, const char *), &rows,
                           1, e->names);
        for (j = 0; st == GF_DB_OK && j < rows->nrows; j++) {
            for (i = 0; i < e->types->nelts; i++) {
                const gf_type_t *t = APR_ARRAY_IDX(e->types, i, gf_type_t *);
                if (rows->rows[j][0] && !strcmp(rows->rows[j][0], t->name)) due[i] = 1;
            }
        }
    }
    gf_db_close(e->s, dbd);
    return st == GF_DB_OK ? 0 : -1;
}

/* Reading an upload back takes a statement and the store's read (and a
 * decode for the local provider): work for a worker, not the loop. */
typedef struct {
    server_rec *s;
    apr_pool_t *p;
    const gf_claim_t *c;
    const gf_provider_t *prov;
    gf_job_t *job;
    gf_provider_result_t *res;
    int ok;
} source_t;

static void source_now(void *baton)
{
    source_t *x = baton;
    x->ok = gf_run_resolve_upload(x->s, x->p, x->c, x->prov, x->job, x->res);
}

static int resolve_upload(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                          const gf_provider_t *prov, gf_job_t *job, gf_provider_result_t *res)
{
    source_t x;
    x.s = s;
    x.p = p;
    x.c = c;
    x.prov = prov;
    x.job = job;
    x.res = res;
    x.ok = 0;
    gf_loop_blocking(source_now, &x);
    return x.ok;
}

static int run_claimed(server_rec *s, apr_pool_t *p, gf_claim_t *cp, gf_attempt_t *slot,
                       gf_limits_hold_t *hold)
{
    gf_server_conf_t *sc = gf_server_conf(s);
    const gf_claim_t c = *cp;
    const gf_type_t *t = c.type;
    apr_array_header_t *chain;
    const gf_chain_entry_t *entry;
    gf_provider_t *prov = NULL;
    gf_provider_result_t res;
    gf_job_state_t js;
    gf_decision_t d;
    gf_job_t job;
    accepted_baton_t ab;
    const char *err = NULL;
    apr_uint32_t rnd = 0, probe = 0;
    int called = 0;

    memset(&res, 0, sizeof(res));
    memset(&js, 0, sizeof(js));
    js.retry_count = c.retry_count;
    js.max_retries = c.max_retries;
    js.poll_count = c.poll_count;
    js.polling = c.provider_job_id != NULL;
    js.poll_errors = c.poll_errors;
    js.deadline = c.deadline;
    js.started = c.started;
    js.chain_index = c.chain_index;

    chain = gf_chain_parse(p, c.chain, &err);
    if (!chain || c.chain_index >= chain->nelts) {
        memset(&d, 0, sizeof(d));
        d.next = GF_NEXT_FAIL;
        d.code = GF_JOB_API;
        d.message = chain ? "the provider chain is exhausted" : err;
        return apply(s, p, &c, &d, NULL, &res);
    }
    js.chain_len = chain->nelts;
    entry = &APR_ARRAY_IDX(chain, c.chain_index, gf_chain_entry_t);
    prov = apr_hash_get(sc->providers, entry->provider, APR_HASH_KEY_STRING);
    js.submit_once = prov && prov->kind->poll;

    js.now = apr_time_now();
    if (js.now >= c.deadline) {
        memset(&d, 0, sizeof(d));
        d.next = GF_NEXT_FAIL;
        d.code = GF_JOB_TIMEOUT;
        d.message = "the generation did not finish before its deadline";
        return apply(s, p, &c, &d, prov, &res);
    }
    if (prov && c.rescued && !c.provider_job_id && prov->kind->poll
        && c.chain_index + 1 < chain->nelts) {
        /* The previous attempt ended without a word (a killed child, or a
         * submission cut off at exit) and no job id was recorded: the
         * provider may have accepted the job, and it has no idempotency
         * key. Submitting again could make a second paid job; the chain's
         * next provider is asked instead. */
        memset(&d, 0, sizeof(d));
        d.next = GF_NEXT_FALLBACK;
        log_transition(s, p, APLOG_WARNING, &c, prov->name, "fallback", NULL,
                       "the previous attempt ended during its submission; not submitting "
                       "to this provider again");
        return apply(s, p, &c, &d, prov, &res);
    }
    if (prov && !gf_limits_hold(prov, hold, &cp->defer)) {
        /* The claim took no place of this provider (a virtual host's own
         * declaration of the name, a row of a chain the type's locations
         * no longer name) and it has none now: back to the queue, certain
         * that nothing was sent, due when a place may be free. Before the
         * circuit breaker's gate, which would make this the probe. */
        attempt_statement(s, p, cp, GF_SQL_RELEASE, 1);
        log_transition(s, p, APLOG_INFO, &c, prov->name, "deferred", NULL,
                       "the provider's limits are full; the row is back in the queue");
        return 1;
    }
    if (prov && !c.provider_job_id
        && gf_breaker_gate(s, p, prov, c.chain_index + 1 < chain->nelts, &probe, &d)) {
        /* The provider's circuit is open: no call (a poll is never held
         * back: that job is accepted and paid). */
        log_transition(s, p, APLOG_INFO, &c, prov->name, "skipped", NULL,
                       "the provider's circuit is open; not submitting to it");
        return apply(s, p, &c, &d, prov, &res);
    }
    if (!prov) {
        /* Declared when the row was created, gone from the configuration
         * since: a permanent failure of this chain entry. */
        res.error_code = GF_JOB_API;
        res.error_message = apr_psprintf(p, "provider '%s' is not configured", entry->provider);
    }
    else {
        memset(&job, 0, sizeof(job));
        job.type = t->name;
        job.id = c.id;
        job.user = c.user;
        job.prompt = c.prompt;
        job.source_image = c.source_image;
        job.aspect_ratio = c.aspect_ratio;
        job.seed = c.seed;
        job.model = entry->model;
        job.attempt = c.attempts;
        job.poll_count = c.poll_count;
        job.provider_state = c.provider_state;
        job.preset = c.preset;
        if (c.strength) {
            job.has_strength = 1;
            job.strength = strtod(c.strength, NULL);
        }
        ab.s = s;
        ab.p = p;
        ab.c = &c;
        ab.provider = prov->name;
        job.accepted = on_accepted;
        job.accepted_baton = &ab;
        if (APLOGdebug(s)) {
            log_transition(s, p, APLOG_DEBUG, &c, prov->name,
                           c.provider_job_id ? "poll" : "submit", NULL, NULL);
        }
        /* An upload is read for a submission (network providers hold it
         * after that) and for every call of the local provider, whose
         * picture is drawn when its (simulated) job ends. */
        if (gf_input_upload_id(c.source_image)
            && (!c.provider_job_id || prov->kind == &gf_provider_kind_local)
            && !resolve_upload(s, p, &c, prov, &job, &res)) {
            /* No provider call: the engine decides on res (retry a
             * transient failure, fail a permanent one, with a refund). */
        }
        else {
            apr_time_t t0 = apr_time_now();
            const char *outcome, *code;
            gf_provider_attempt(prov, &job, c.provider_job_id, p, &res);
            gf_limits_done(s, prov, hold, &res);
            gf_metrics_classify(&res, &outcome, &code);
            gf_metrics_provider_call(gf_metrics(), prov->name,
                                     gf_workers_aborting() ? "aborted" : outcome, code,
                                     apr_time_now() - t0);
            called = 1;
        }
        if (!c.provider_job_id) {
            /* A submission's result counts for the circuit (a cut-off
             * one, or none made, frees a probe's slot only). */
            gf_breaker_record_call(s, prov, probe, called && !gf_workers_aborting() ? &res
                                                                                 : NULL);
        }
        if (gf_workers_aborting()) {
            /* The child is stopping: give the row back, due now, with its
             * provider job id untouched, for another worker to go on. */
            int released = attempt_statement(s, p, &c, GF_SQL_RELEASE, 0) == 1;
            log_transition(s, p, APLOG_INFO, &c, prov->name, "abandoned", NULL,
                           released ? "the server is stopping; the row is released for "
                                      "another worker" : "the server is stopping");
            return 1;
        }
        if (gf_attempt_lost(slot)) {
            log_transition(s, p, APLOG_WARNING, &c, prov->name, "stale", NULL,
                           "the lease was taken over or the generation ended during the "
                           "provider call; the result is dropped");
            return 1;
        }
    }
    apr_generate_random_bytes((unsigned char *)&rnd, sizeof(rnd));
    js.now = apr_time_now();
    gf_job_decide(&js, &res, rnd, &d);
    return apply(s, p, &c, &d, prov, &res);
}
