/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_keep.c: polls of accepted jobs kept by the child that
 * made them.
 *
 * A poll that finds the provider's job still running used to write its
 * next poll's time to the row and give the lease back, and the next poll
 * claimed the row again: a claim statement and two updates of a wide row
 * (every index of the type table gets new entries) per poll. With
 * thousands of jobs held at a provider that was most of what the engine
 * cost (bench/scale, "held"). Instead the child keeps the attempt: the
 * claim's record waits in memory (a heap by due time, a hash by id) for
 * its next poll, which a keeper fiber of the loop launches as an attempt
 * when it is due. The row stays leased to the attempt; its lease (with
 * next_attempt_at, where a rescue would find it, and the polls made so
 * far) is written only when it would not cover the next poll with half a
 * lease to spare, then to three polls ahead (GF_SQL_KEEP). A poll then
 * costs its exchange with the provider, and a statement every few polls.
 *
 * What needs the database is not kept: a poll right after the job was
 * accepted (its first outcome is written), a new provider state, a
 * failed poll, a provider whose places are kept in the database
 * (limits=site: every poll takes one in its claim), an attempt whose
 * generation changed during its call (a webhook's wake or a cancel, heard
 * by NOTIFY), a stopping child, and one that keeps GenFlowKeptPolls
 * already. A change heard for a kept generation makes its poll due at
 * once: a webhook's wake polls now, and a cancelled one finds its row no
 * longer its own and writes nothing. A child that stops gives every kept
 * row back, due now (gf_engine_keep_release); a killed child's rows are
 * rescued when their leases run out, at most three polls and a lease
 * later.
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_hash.h>

#include "httpd/engine/mod_genflow_engine_int.h"
#include "core/gf_sql.h"
#include "httpd/engine/mod_genflow_engine_run.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/engine/mod_genflow_engine.h"
#include "httpd/limits/mod_genflow_limits.h"
#include "httpd/config/mod_genflow_private.h"
#include "net/gf_loop.h"

/* The keeper looks at least this often, so a poll kept while it slept
 * is launched at most this late. */
#define KEEPER_TICK apr_time_from_msec(100)
/* No room in the loop for a due poll: it waits this long. */
#define NO_ROOM_WAIT apr_time_from_msec(50)

typedef struct kept_t {
    apr_time_t due;
    server_rec *s;
    gf_claim_t c;                /* its strings follow the record */
    int at;                      /* its index in the heap */
    int changed;                 /* a change of it was heard: is it still ours? */
} kept_t;

struct gf_keep_t {
    apr_thread_mutex_t *mutex;   /* the heap and the hash: the loop's fibers keep and
                                  * launch, the listener makes due */
    kept_t **heap;               /* by due time, the soonest first */
    int n, max;
    apr_hash_t *by_id;
    apr_pool_t *pool;            /* the hash's */
    volatile int *count;         /* the engine's count of them (gf_engine_flights) */
    gf_engine_run_fn *run;       /* runs a due poll (gf_engine_attempt_run, given at start) */
};

/* ---- the heap ------------------------------------------------------------ */

static void heap_set(struct gf_keep_t *k, int i, kept_t *r)
{
    k->heap[i] = r;
    r->at = i;
}

static void sift_up(struct gf_keep_t *k, int i)
{
    kept_t *r = k->heap[i];
    while (i > 0 && k->heap[(i - 1) / 2]->due > r->due) {
        heap_set(k, i, k->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_set(k, i, r);
}

static void sift_down(struct gf_keep_t *k, int i)
{
    kept_t *r = k->heap[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= k->n) break;
        if (c + 1 < k->n && k->heap[c + 1]->due < k->heap[c]->due) c++;
        if (k->heap[c]->due >= r->due) break;
        heap_set(k, i, k->heap[c]);
        i = c;
    }
    heap_set(k, i, r);
}

/* Under the mutex. */
static void heap_push(struct gf_keep_t *k, kept_t *r)
{
    heap_set(k, k->n++, r);
    sift_up(k, r->at);
    apr_hash_set(k->by_id, r->c.id, APR_HASH_KEY_STRING, r);
    *k->count = k->n;
}

/* Under the mutex: the soonest record if it is due by now, taken out. */
static kept_t *heap_pop_due(struct gf_keep_t *k, apr_time_t now)
{
    kept_t *r;
    if (k->n == 0 || k->heap[0]->due > now) return NULL;
    r = k->heap[0];
    apr_hash_set(k->by_id, r->c.id, APR_HASH_KEY_STRING, NULL);
    if (--k->n > 0) {
        heap_set(k, 0, k->heap[k->n]);
        sift_down(k, 0);
    }
    *k->count = k->n;
    return r;
}

/* ---- records ------------------------------------------------------------- */

/* s copied to *at, which moves past it; NULL stays NULL. */
static const char *put(char **at, const char *s)
{
    char *out = *at;
    apr_size_t len;
    if (!s) return NULL;
    len = strlen(s) + 1;
    memcpy(out, s, len);
    *at += len;
    return out;
}

#define LEN(s) ((s) ? strlen(s) + 1 : 0)

/* A copy of c whose strings live in the record itself. */
static kept_t *record_of(const gf_claim_t *c, server_rec *s, apr_time_t due)
{
    apr_size_t len = LEN(c->id) + LEN(c->user) + LEN(c->prompt) + LEN(c->source_image)
                     + LEN(c->aspect_ratio) + LEN(c->chain) + LEN(c->provider_job_id)
                     + LEN(c->provider_state) + LEN(c->lease_owner) + LEN(c->preset)
                     + LEN(c->strength) + LEN(c->server_name) + LEN(c->accepted_by)
                     + LEN(c->mask) + LEN(c->references);
    kept_t *r = malloc(sizeof(*r) + len);
    char *at;

    if (!r) return NULL;
    r->due = due;
    r->s = s;
    r->at = -1;
    r->changed = 0;
    r->c = *c;
    at = (char *)(r + 1);
    r->c.id = put(&at, c->id);
    r->c.user = put(&at, c->user);
    r->c.prompt = put(&at, c->prompt);
    r->c.source_image = put(&at, c->source_image);
    r->c.aspect_ratio = put(&at, c->aspect_ratio);
    r->c.chain = put(&at, c->chain);
    r->c.provider_job_id = put(&at, c->provider_job_id);
    r->c.provider_state = put(&at, c->provider_state);
    r->c.lease_owner = put(&at, c->lease_owner);
    r->c.preset = put(&at, c->preset);
    r->c.strength = put(&at, c->strength);
    r->c.server_name = put(&at, c->server_name);
    r->c.accepted_by = put(&at, c->accepted_by);
    r->c.mask = put(&at, c->mask);
    r->c.references = put(&at, c->references);
    return r;
}

/* A kept poll that is due, as an attempt in flight on the loop (its place
 * in the loop reserved by the keeper). */
static void kept_main(void *baton)
{
    kept_t *r = baton;
    apr_pool_t *pool = NULL;
    gf_attempt_t slot;
    gf_limits_hold_t hold;

    if (gf_engine_pool(&pool, "genflow_kept_poll") == APR_SUCCESS) {
        memset(&slot, 0, sizeof(slot));
        memset(&hold, 0, sizeof(hold));
        r->c.seen = gf_engine_change_seq();
        if (r->changed && gf_engine_row_statement(r->s, pool, &r->c, GF_SQL_RENEW, 0) == 0) {
            /* Cancelled, expired or taken over while kept: no poll. */
            gf_engine_row_log(r->s, pool, APLOG_INFO, &r->c, NULL, "stale", NULL,
                              "the generation is no longer this kept poll's; it ends");
        }
        else {
            gf_engine_slot_begin(&slot, r->s, r->c.type, r->c.id, r->c.lease_owner, r->c.attempts,
                                 gf_engine_row_trace(&r->c));
            gf_engine()->keep->run(r->s, pool, &r->c, &slot, &hold);
            gf_engine_slot_end(&slot);
            if (hold.prov) gf_limits_unused(r->s, &hold);
        }
        apr_pool_destroy(pool);
    }
    /* Else no memory for the attempt: its lease runs out and any worker
     * rescues the row. */
    free(r);
    gf_engine_landed();
}

/* ---- the keeper ------------------------------------------------------------ */

static void keeper_main(void *baton)
{
    gf_engine_t *W = baton;
    struct gf_keep_t *k = W->keep;

    while (!W->stopping) {
        apr_time_t now = apr_time_now(), wait = KEEPER_TICK;
        kept_t *r;
        for (;;) {
            apr_thread_mutex_lock(k->mutex);
            r = heap_pop_due(k, now);
            if (!r && k->n > 0 && k->heap[0]->due - now < wait) wait = k->heap[0]->due - now;
            apr_thread_mutex_unlock(k->mutex);
            if (!r) break;
            if (gf_engine_reserve(1) == 0) {
                /* The loop is full: the poll waits for room. */
                r->due = now + NO_ROOM_WAIT;
                apr_thread_mutex_lock(k->mutex);
                heap_push(k, r);
                apr_thread_mutex_unlock(k->mutex);
                wait = NO_ROOM_WAIT;
                break;
            }
            if (gf_engine_launch(kept_main, r) != 0) {
                gf_engine_unreserve(1);
                apr_thread_mutex_lock(k->mutex);
                heap_push(k, r);
                apr_thread_mutex_unlock(k->mutex);
                break;
            }
        }
        if (wait < apr_time_from_msec(1)) wait = apr_time_from_msec(1);
        if (gf_loop_sleep(wait)) break;   /* aborted: the child is going */
    }
}

void gf_engine_keep_start(gf_engine_t *W, apr_pool_t *pchild, long max, gf_engine_run_fn *run)
{
    struct gf_keep_t *k;

    if (max <= 0 || !W->loop) return;
    k = apr_pcalloc(pchild, sizeof(*k));
    if (apr_thread_mutex_create(&k->mutex, APR_THREAD_MUTEX_DEFAULT, pchild) != APR_SUCCESS
        || apr_pool_create(&k->pool, pchild) != APR_SUCCESS) {
        return;
    }
    k->max = (int)max;
    k->heap = apr_pcalloc(pchild, sizeof(kept_t *) * (apr_size_t)max);
    k->by_id = apr_hash_make(k->pool);
    k->count = &W->kept;
    k->run = run;
    W->keep = k;
    if (gf_loop_spawn(W->loop, keeper_main, W) != 0) W->keep = NULL;
}

/* ---- keeping a poll -------------------------------------------------------- */

/* The lease of a kept poll: GF_SQL_KEEP, where statements may block. */
typedef struct {
    server_rec *s;
    apr_pool_t *p;
    const gf_claim_t *c;
    long secs;
    int polls;
    int rc;
} keep_statement_t;

static void keep_now(void *baton)
{
    keep_statement_t *x = baton;
    gf_db_rows_t *rows;
    ap_dbd_t *dbd = gf_db_open(x->p, x->s);
    x->rc = -1;
    if (!dbd) return;
    if (gf_db_pselect(x->s, x->p, dbd, x->c->type->labels[GF_SQL_KEEP], &rows, 5,
                      apr_ltoa(x->p, x->secs), apr_itoa(x->p, x->polls), x->c->id,
                      x->c->lease_owner, apr_itoa(x->p, x->c->attempts)) == GF_DB_OK) {
        x->rc = rows->nrows == 1;
    }
    gf_db_close(x->s, dbd);
}

int gf_engine_keep_put(server_rec *s, apr_pool_t *p, const gf_claim_t *c, const gf_provider_t *prov,
                       const gf_provider_result_t *res, const gf_decision_t *d)
{
    gf_engine_t *W = gf_engine();
    struct gf_keep_t *k = W ? W->keep : NULL;
    apr_time_t now = apr_time_now(), due = now + d->delay;
    apr_interval_time_t lease = apr_time_from_sec(gf_conf_lease_secs(gf_server_conf(s)));
    gf_claim_t next = *c;
    kept_t *r;
    int full;

    if (!k || d->next != GF_NEXT_POLL || d->poll_failed || !gf_loop_in_fiber()
        || W->stopping || gf_engine_aborting() || !prov || !c->provider_job_id
        /* A priced call's cost is recorded with the outcome's statement. */
        || gf_provider_attempt_cost(prov, res) > 0 || res->usage > 0
        || (gf_limit_any(&prov->limit) && !prov->limit.per_node)
        || (res->provider_job_id && strcmp(res->provider_job_id, c->provider_job_id))
        || (res->provider_state && (!c->provider_state
                                    || strcmp(res->provider_state, c->provider_state)))
        || gf_engine_changed_since(c->id, c->seen)) {
        return 0;
    }
    apr_thread_mutex_lock(k->mutex);
    full = k->n >= k->max;
    apr_thread_mutex_unlock(k->mutex);
    if (full) return 0;
    /* The deadline's check comes with the next attempt: wake for it. */
    if (c->deadline && due > c->deadline) due = c->deadline;
    next.poll_count = c->poll_count + 1;
    next.poll_errors = 0;
    if (c->lease_end < due + lease / 2) {
        keep_statement_t x;
        memset(&x, 0, sizeof(x));
        x.s = s;
        x.p = p;
        x.c = c;
        x.polls = next.poll_count;
        x.secs = (long)apr_time_sec(3 * (due - now) + lease) + 1;
        gf_loop_blocking(keep_now, &x);
        if (x.rc < 0) return 0;   /* the database could not say: the schedule tries */
        if (x.rc == 0) {
            /* The lease is gone, the generation ended, or a webhook woke
             * it: the schedule's guarded write says which, and acts. */
            return 0;
        }
        next.lease_end = now + apr_time_from_sec(x.secs);
    }
    if (!(r = record_of(&next, s, due))) return 0;
    apr_thread_mutex_lock(k->mutex);
    if (k->n < k->max) {
        heap_push(k, r);
        r = NULL;
    }
    apr_thread_mutex_unlock(k->mutex);
    if (r) {
        free(r);
        return 0;
    }
    if (APLOGdebug(s)) {
        gf_engine_row_log(s, p, APLOG_DEBUG, c, prov->name, "kept", NULL,
                          apr_psprintf(p, "next poll in %" APR_TIME_T_FMT " ms",
                          apr_time_as_msec(due - now)));
    }
    return 1;
}

/* ---- what the child hears, and its end ------------------------------------ */

void gf_engine_keep_changed(const char *id)
{
    gf_engine_t *W = gf_engine();
    struct gf_keep_t *k = W ? W->keep : NULL;
    kept_t *r;
    if (!k || !id) return;
    apr_thread_mutex_lock(k->mutex);
    if ((r = apr_hash_get(k->by_id, id, APR_HASH_KEY_STRING)) != NULL) {
        r->changed = 1;
        if (r->due > 0) {
            r->due = 0;
            sift_up(k, r->at);
        }
    }
    apr_thread_mutex_unlock(k->mutex);
}

/* The kept rows of one type and lease owner, back to the queue, due now,
 * in statements of at most RELEASE_BATCH ids. */
#define RELEASE_BATCH 500

void gf_engine_keep_release(gf_engine_t *W, apr_pool_t *p)
{
    struct gf_keep_t *k = W->keep;
    int released = 0;

    if (!k) return;
    apr_thread_mutex_lock(k->mutex);
    while (k->n > 0) {
        /* The last record's type and owner; every record that shares
         * them goes in this statement. */
        kept_t *first = k->heap[k->n - 1];
        const char *ids = "";
        gf_db_rows_t *rows;
        ap_dbd_t *dbd;
        int i, taken = 0;
        server_rec *s = first->s;
        const gf_type_t *t = first->c.type;
        const char *owner = apr_pstrdup(p, first->c.lease_owner);
        for (i = k->n - 1; i >= 0 && taken < RELEASE_BATCH; i--) {
            kept_t *r = k->heap[i];
            if (r->c.type != t || r->s != s || strcmp(r->c.lease_owner, owner)) continue;
            ids = apr_pstrcat(p, ids, taken ? "," : "", r->c.id, NULL);
            taken++;
            apr_hash_set(k->by_id, r->c.id, APR_HASH_KEY_STRING, NULL);
            /* Out of the heap: the last one takes its index (the heap's
             * order no longer matters, every record goes). */
            heap_set(k, i, k->heap[--k->n]);
            *k->count = k->n;
            free(r);
        }
        apr_thread_mutex_unlock(k->mutex);
        if ((dbd = gf_db_open(p, s)) != NULL) {
            if (gf_db_pselect(s, p, dbd, t->labels[GF_SQL_RELEASE_REST], &rows, 2, ids, owner)
                == GF_DB_OK) {
                released += rows->nrows;
            }
            gf_db_close(s, dbd);
        }
        apr_thread_mutex_lock(k->mutex);
    }
    apr_thread_mutex_unlock(k->mutex);
    if (released) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, W->s, GF_LOGNO(1616)
                     "gave back %d kept polls for any worker to take at once", released);
    }
}
