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

#include "httpd/engine/mod_genflow_engine_int.h"
#include "core/gf_keep.h"
#include "core/gf_sql.h"
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

/* A kept poll: the core's head (due time, index, id), then its server
 * and claim, whose strings follow the record. */
typedef struct {
    gf_kept_t k;
    server_rec *s;
    gf_claim_t c;
} kept_t;

struct gf_keep_t {
    apr_thread_mutex_t *mutex;   /* the heap: the loop's fibers keep and launch, the
                                  * listener makes due */
    gf_keep_heap_t *heap;        /* by due time, and by id (core/gf_keep.c) */
    gf_engine_run_fn *run;       /* runs a due poll (gf_engine_attempt_run, given at start) */
};

/* The claim's strings, where record_of packs them. */
#define CLAIM_STRINGS 15

/* A copy of c whose strings live in the record itself. */
static kept_t *record_of(const gf_claim_t *c, server_rec *s, apr_time_t due)
{
    gf_claim_t copy = *c;
    const char **strings[CLAIM_STRINGS] = {
        &copy.id, &copy.user, &copy.prompt, &copy.source_image, &copy.aspect_ratio,
        &copy.chain, &copy.provider_job_id, &copy.provider_state, &copy.lease_owner,
        &copy.preset, &copy.strength, &copy.server_name, &copy.accepted_by, &copy.mask,
        &copy.references
    };
    kept_t *r = malloc(sizeof(*r) + gf_keep_pack_size(strings, CLAIM_STRINGS));

    if (!r) return NULL;
    gf_keep_pack((char *)(r + 1), strings, CLAIM_STRINGS);
    memset(&r->k, 0, sizeof(r->k));
    r->k.due = due;
    r->k.at = -1;
    r->s = s;
    r->c = copy;
    r->k.id = r->c.id;
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
        if (r->k.changed && gf_engine_row_statement(r->s, pool, &r->c, GF_SQL_RENEW, 0) == 0) {
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

/* A due poll that could not be launched back in the heap; when the heap
 * filled meanwhile, dropped: its lease runs out and any worker rescues
 * the row. */
static void keep_again(struct gf_keep_t *k, kept_t *r)
{
    int kept;
    apr_thread_mutex_lock(k->mutex);
    kept = gf_keep_heap_push(k->heap, &r->k);
    apr_thread_mutex_unlock(k->mutex);
    if (!kept) free(r);
}

static void keeper_main(void *baton)
{
    gf_engine_t *W = baton;
    struct gf_keep_t *k = W->keep;

    while (!W->stopping) {
        apr_time_t now = apr_time_now(), wait = KEEPER_TICK;
        kept_t *r;
        for (;;) {
            apr_thread_mutex_lock(k->mutex);
            r = (kept_t *)gf_keep_heap_pop_due(k->heap, now);
            if (!r) wait = gf_keep_heap_wait(k->heap, now, wait);
            apr_thread_mutex_unlock(k->mutex);
            if (!r) break;
            if (gf_engine_reserve(1) == 0) {
                /* The loop is full: the poll waits for room. */
                r->k.due = now + NO_ROOM_WAIT;
                keep_again(k, r);
                wait = NO_ROOM_WAIT;
                break;
            }
            if (gf_engine_launch(kept_main, r) != 0) {
                gf_engine_unreserve(1);
                keep_again(k, r);
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
    apr_pool_t *pool;

    if (max <= 0 || !W->loop) return;
    k = apr_pcalloc(pchild, sizeof(*k));
    /* The heap's hash grows in a pool of its own, under the mutex. */
    if (apr_thread_mutex_create(&k->mutex, APR_THREAD_MUTEX_DEFAULT, pchild) != APR_SUCCESS
        || apr_pool_create(&pool, pchild) != APR_SUCCESS) {
        return;
    }
    k->heap = gf_keep_heap_create(pool, (int)max, &W->kept);
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
    apr_time_t now = apr_time_now(), due;
    apr_interval_time_t lease = apr_time_from_sec(gf_conf_lease_secs(gf_server_conf(s)));
    gf_claim_t next = *c;
    kept_t *r;
    long secs;
    int full, kept;

    if (!k || !prov || !gf_loop_in_fiber() || W->stopping || gf_engine_aborting()
        || !gf_keep_worth(d, res, c->provider_job_id, c->provider_state,
                          gf_provider_attempt_cost(prov, res))
        || (gf_limit_any(&prov->limit) && !prov->limit.per_node)
        || gf_engine_changed_since(c->id, c->seen)) {
        return 0;
    }
    apr_thread_mutex_lock(k->mutex);
    full = gf_keep_heap_full(k->heap);
    apr_thread_mutex_unlock(k->mutex);
    if (full) return 0;
    next.poll_count = c->poll_count + 1;
    next.poll_errors = 0;
    if (gf_keep_plan(now, d->delay, c->deadline, c->lease_end, lease, &due, &secs)) {
        keep_statement_t x;
        memset(&x, 0, sizeof(x));
        x.s = s;
        x.p = p;
        x.c = c;
        x.polls = next.poll_count;
        x.secs = secs;
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
    kept = gf_keep_heap_push(k->heap, &r->k);
    apr_thread_mutex_unlock(k->mutex);
    if (!kept) {
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
    if (!k || !id) return;
    apr_thread_mutex_lock(k->mutex);
    gf_keep_heap_changed(k->heap, id);
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
    while (gf_keep_heap_count(k->heap) > 0) {
        /* The last record's type and owner; every record that shares
         * them goes in this statement. */
        kept_t *first = (kept_t *)gf_keep_heap_at(k->heap, gf_keep_heap_count(k->heap) - 1);
        const char *ids = "";
        gf_db_rows_t *rows;
        ap_dbd_t *dbd;
        int i, taken = 0;
        server_rec *s = first->s;
        const gf_type_t *t = first->c.type;
        const char *owner = apr_pstrdup(p, first->c.lease_owner);
        for (i = gf_keep_heap_count(k->heap) - 1; i >= 0 && taken < RELEASE_BATCH; i--) {
            kept_t *r = (kept_t *)gf_keep_heap_at(k->heap, i);
            if (r->c.type != t || r->s != s || strcmp(r->c.lease_owner, owner)) continue;
            ids = apr_pstrcat(p, ids, taken ? "," : "", r->c.id, NULL);
            taken++;
            /* Out of the heap: the last one takes its index (the heap's
             * order no longer matters, every record goes). */
            gf_keep_heap_drop_at(k->heap, i);
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
