/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_int.h: what the engine's files of one child share:
 * the engine object (mod_genflow_engine.c: the record, the registry of
 * running attempts, the loop's places, stopping), the records of a
 * claimed row and of its slot, the changes heard and the status cache
 * (mod_genflow_engine_changes.c), the doorbell and the duties, and what
 * the workers (mod_genflow_engine_worker.c) call above the attempt: the
 * hand-on, the sweeps, the listener; and below them the steps of an
 * attempt (row, source, outcome, keep, standby, attempt, claim). The
 * engine's one private header: nothing outside httpd/engine/ includes it.
 */
#ifndef MOD_GENFLOW_ENGINE_INT_H
#define MOD_GENFLOW_ENGINE_INT_H

#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>

#include "httpd/servers/mod_genflow_servers.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/limits/mod_genflow_limits.h"
#include "httpd/io/mod_genflow_db.h"
#include "core/gf_job.h"
#include "core/gf_sql.h"
#include "core/gf_pacer.h"
#include "core/gf_round.h"
#include "core/gf_changes.h"
#include "core/gf_status_cache.h"
#include "core/gf_trace.h"
#include "net/gf_loop.h"

/* The child is stopping: abandon the attempt, release its row. */
int gf_engine_aborting(void);
/* Run fn(baton) as an attempt in flight on the child's loop, where its
 * provider exchanges hold no thread, in a place the worker reserved
 * before its claim; 0, or -1 when there is no loop or it is stopping (the
 * caller runs it itself and keeps the place). fn calls
 * gf_engine_landed() last, which frees the place. */
int gf_engine_launch(void (*fn)(void *baton), void *baton);
void gf_engine_landed(void);
/* A pool for one attempt or delivery, tagged: unmanaged, so that any
 * thread may destroy it, on the child's allocator for them, which keeps
 * freed blocks for the next (APR_SUCCESS, or no memory). */
apr_status_t gf_engine_pool(apr_pool_t **pool, const char *tag);

/* One running attempt, renewed by the listener's heartbeat while it is
 * in the child's list (between gf_engine_slot_begin and gf_engine_slot_end). */
typedef struct gf_attempt_t {
    struct gf_attempt_t *prev, *next;
    server_rec *s;               /* whose lease and database */
    const gf_type_t *type;
    char id[40];
    char owner[320];
    char trace_id[GF_TRACE_ID_HEX + 1];  /* the generation's, for its log lines ("-": none) */
    int attempt;
    volatile int active;
    volatile int lost;           /* the lease is gone: write nothing */
    volatile int cancelled;      /* lost to its user's cancel (gf_engine_cut) */
    gf_loop_wait_t *fiber;       /* the fiber it runs in (gf_engine_cut ends its
                                  * waits); NULL on a worker */
    int in_call;                 /* in its provider call, which a cancel cuts
                                  * (gf_engine_slot_calling; under the mutex) */
    /* The place of its provider's limits kept in the database that the
     * attempt calls under (place_id empty: none): its holder, the attempt
     * that claimed it (this one, or one before it in the child that
     * passed it on: mod_genflow_engine_standby.c), renewed with the
     * attempt's lease; and until when its lease is known to run (0: the
     * heartbeat found it no longer that holder's). Set before
     * gf_engine_slot_begin, then with gf_engine_slot_place_set. */
    char place_id[40];
    int place_attempt;
    apr_time_t place_until;
} gf_attempt_t;
void gf_engine_slot_begin(gf_attempt_t *a, server_rec *s, const gf_type_t *t, const char *id,
                          const char *owner, int attempt, const char *trace_id);
/* The place's lease of a running attempt, as the heartbeat last saw it
 * (until: set it; 0 with get: read it), under the child's mutex. */
void gf_engine_slot_place_set(gf_attempt_t *a, apr_time_t until);
apr_time_t gf_engine_slot_place_until(gf_attempt_t *a);
void gf_engine_slot_end(gf_attempt_t *a);
int gf_engine_slot_lost(const gf_attempt_t *a);
/* Its user cancelled generation id (the listener heard genflow_cancel):
 * each of its attempts running in this child is lost, and the fiber of
 * one in its provider call is cut (gf_loop_cut): the call ends now, its
 * result dropped, its place free for the next. Only the provider call:
 * a picture on its way to the store finishes, and the outcome's guard
 * deletes it, as for a cancel before this. How many there were. */
int gf_engine_cut(const char *id);
/* Attempt a enters (on) or leaves its provider call, where a cancel cuts
 * it; entering after its cancel was heard, it is cut at once. */
void gf_engine_slot_calling(gf_attempt_t *a, int on);

/* mod_genflow_engine_attempt.c: one attempt of one claimed generation */
typedef struct {
    const gf_type_t *type;
    const char *id, *user, *prompt, *source_image, *aspect_ratio;
    apr_uint64_t seed;
    const char *chain;
    int chain_index, retry_count, max_retries, poll_count, poll_errors, attempts;
    const char *provider_job_id;
    const char *provider_state;
    const char *accepted_by;     /* the provider that accepted provider_job_id (a
                                  * group's member to poll), or NULL */
    apr_time_t deadline;         /* GenFlowDeadline's, or cancel_at if nearer */
    apr_time_t cancel_at;        /* the request's own deadline (Cancel-After), or 0 */
    gf_trace_t trace;            /* the generation's trace (its traceparent) */
    int traced;                  /* trace is set (rows made before sql/030 have none) */
    const char *line;            /* the GenFlowLine it was queued in, or NULL (standard) */
    apr_time_t started;          /* the first attempt's start */
    apr_time_t slot;             /* the rate's start this claim took (its call goes
                                  * then or after), or 0 */
    const char *lease_owner;
    int rescued;                 /* the previous attempt ended without an outcome */
    const char *preset;          /* the create's preset key, or NULL */
    const char *strength;        /* parameters.strength as stored, or NULL */
    int steps;                   /* parameters.num_inference_steps, 0: not given */
    int count;                   /* pictures asked for (the create's count), 1.. */
    int stored;                  /* of them, stored on the row by earlier calls
                                  * (a count asked one call after another) */
    int asked;                   /* of them, what this attempt's call asks for */
    const char *mask;            /* the create's mask ("upload:<id>"), or NULL */
    const char *references;      /* its referenceImages as JSON, or NULL */
    const char *server_name;     /* the server that created it ("host:port"), or NULL */
    apr_interval_time_t defer;   /* no place of its provider: due again after this */
    apr_time_t lease_end;        /* the row's lease lasts at least until then */
    apr_uint64_t seen;           /* the child's change count when the attempt began */
    apr_time_t job_started;      /* when its provider job began (the submitting
                                  * claim), or 0 */
    double progress;             /* the progress this attempt (or the kept polls
                                  * before it) last wrote, 0: none */
    apr_time_t progress_at;      /* and when */
} gf_claim_t;
/* Polls of accepted jobs a worker claims at once (GF_SQL_CLAIM_POLLS): the
 * places a round reserves for a claim. */
#define GF_POLL_BATCH GF_ROUND_POLL_BATCH
/* Expire never-started generations (of the servers named: SERVED_BY)
 * and prune old failures of type t. */
void gf_engine_sweep_type(server_rec *s, apr_pool_t *p, const gf_type_t *t, const char *names);
/* The providers of type t's queued rows that its chains do not name
 * (newline-separated; "" when none or on trouble). */
const char *gf_engine_sweep_strays(server_rec *s, apr_pool_t *p, const gf_type_t *t);
/* Sweeps that are not per type (idempotency records). */
void gf_engine_sweep_global(server_rec *s, apr_pool_t *p);
/* Take up to want places in the child's loop (0 when full; want when
 * there is no loop); each is given back by gf_engine_landed, or, not
 * used, by gf_engine_unreserve. */
int gf_engine_reserve(int want);
void gf_engine_unreserve(int n);
/* Deliveries of the webhook outbox that are due (sql/021), each on the
 * child's loop where it has room. */
void gf_engine_webhooks_deliver(server_rec *s, apr_pool_t *p);

/* Uploads unused for GenFlowUploadRetention, row and object; and, at most
 * once a retention (scan), a page of the stored uploads that have no row. */
void gf_engine_uploads_sweep(server_rec *s, apr_pool_t *p, gf_uploads_scan_t *scan);


typedef struct gf_waiter_t {
    const char *id;
    apr_thread_cond_t *cond;
    struct gf_waiter_t *next;
} gf_waiter_t;

/* Blocking work (a database statement) a fiber of the loop handed to the
 * worker threads (gf_loop_blocking). */
typedef struct gf_hop_t {
    gf_loop_wait_t *wait;
    void (*fn)(void *baton);
    void *baton;
    struct gf_hop_t *next;
} gf_hop_t;

/* mod_genflow_engine_batch.c: the child's completions waiting for one
 * statement, a queue for each type's table on each server's database
 * (the loop's thread alone touches them; zero: none yet). */
#define GF_BATCH_QUEUES 32
typedef struct {
    server_rec *s;
    const gf_type_t *type;
    struct gf_batch_member_t *head, **tail;
    int waiting;                 /* members in the list */
    int busy;                    /* a leader is writing, or about to */
} gf_batch_queue_t;
/* In an attempt's fiber: its COMPLETE (args, GF_SETTLE_COMPLETE_ARGS)
 * written with the child's other completions of type t on s's database.
 * 1: written, *rows COMPLETE's answer (no row: stale); 0: not batched
 * here (no loop); -1: the statement failed and may have committed. For
 * 0 and -1 the caller writes it alone. */
int gf_engine_batch_complete(server_rec *s, apr_pool_t *p, const gf_type_t *t,
                             const char *const *args, gf_db_rows_t **rows);

typedef struct gf_engine_t {
    server_rec *s;               /* the main server: for the child's own log lines */
    apr_array_header_t *databases; /* gf_database_t *: one engine each */
    gf_recent_t recent[GF_RECENT]; /* the last generation ids notified (core/gf_changes.h) */
    apr_uint64_t seq;            /* notifications seen */
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *work;     /* signalled when work was queued */
    int wake_pending;
    volatile int stopping;
    volatile int abort;          /* network calls and simulated latency stop */
    volatile int listening;      /* databases whose listener's LISTEN is in force */
    apr_thread_t **threads;
    int nthreads;
    gf_attempt_t *attempts;      /* running attempts, for heartbeats */
    gf_loop_t *loop;             /* drives the attempts' provider exchanges; NULL:
                                  * each runs on the worker that claimed it */
    apr_thread_t *loop_thread;
    gf_hop_t *hops, **hops_tail; /* blocking work of the loop's fibers */
    gf_round_loop_t places;      /* the loop's: in flight, GenFlowMaxInFlight, found full */
    apr_time_t worked_at;        /* a worker's round last took work (under mutex) */
    gf_round_looks_t looks;      /* when a worker looks again for rows due by time
                                  * (under mutex): a worker idle for less than the
                                  * half-second look serves each */
    apr_thread_t *listener;
    gf_waiter_t *waiters;
    const char *node;            /* httpd name:pid ("host:tag:pid"), the prefix of
                                  * lease owners */
    apr_interval_time_t heartbeat;
    gf_status_cache_t *cache;    /* status answers; NULL: off */
    gf_skip_t handon;            /* providers of places freed here, one entry each,
                                  * to hand on (mod_genflow_engine_handon.c) */
    struct gf_keep_t *keep;      /* polls kept for their next poll; NULL: none
                                  * (mod_genflow_engine_keep.c) */
    apr_allocator_t *flights;    /* the blocks of the attempts' pools (gf_engine_pool) */
    gf_pace_t pace[GF_PACE_MAX]; /* providers' call and claim times (the loop's) */
    volatile int kept;           /* polls kept (mod_genflow_engine_keep.c keeps the count) */
    void (*on_change)(const char *id); /* told after the waiters (child_init) */
    int (*on_preview)(const char *id, apr_time_t stamp, const char *url);
                                 /* hears genflow_preview (child_init) */
    volatile apr_uint32_t previews;  /* previews being made (mod_genflow_engine_preview.c) */
    gf_batch_queue_t batch[GF_BATCH_QUEUES]; /* completions waiting for one statement */
    int batch_used;
} gf_engine_t;

/* mod_genflow_engine.c: this child's engine, the process record's
 * member; NULL in the parent. Its threads get it as their argument; this
 * is for code that runs on them without one (the attempts' fibers, the
 * request handlers). */
gf_engine_t *gf_engine(void);
/* child_init: the child's engine (its threads not started yet): the
 * heartbeat from the shortest lease, the room for threads workers, the
 * loop's cap; on_change hears what the engine announces. */
gf_engine_t *gf_engine_create(apr_pool_t *pchild, server_rec *s, int lease_secs, int threads,
                              long max_in_flight, void (*on_change)(const char *id));
/* The child is gone: no engine any more. */
void gf_engine_forget(void);
/* The loop thread of the child's attempts (without it each attempt runs
 * on the worker that claimed it). */
void gf_engine_start_loop(apr_pool_t *pchild, server_rec *s);
/* Rows come due at at (a claim found a free place locked by another
 * statement through its tries; a job is polled again soon): one worker
 * looks again then, a sleeping one woken to wait for it (sleep_for_work
 * never sleeps past the earliest). take: the earliest such time, once, or
 * 0; take_due: the same only when it is at or before now. */
void gf_engine_look_again(apr_time_t at);
apr_time_t gf_engine_take_look_again(void);
apr_time_t gf_engine_take_due_look(apr_time_t now);
/* Ask one more worker for a round (the caller holds W->mutex). */
void gf_engine_wake_round(gf_engine_t *W);
/* Run the statements the loop's fibers handed over; 1 when there was any. */
int gf_engine_run_hops(void);
/* Attempts the workers may still start (0 marks the loop full); attempts
 * in flight; attempts running (in the registry). */
int gf_engine_room(void);
int gf_engine_in_flight(void);
int gf_engine_slots_running(void);

/* mod_genflow_engine_changes.c: wake the waiters of id (all: NULL) and forget
 * what the status cache holds of it; wake one (all) idle worker(s). */
void gf_engine_announce_change(const char *id);
/* Only forget what the status cache holds of id (its progress moved):
 * no waiter wakes and no "changed since" sees it. */
void gf_engine_announce_progress(const char *id);
void gf_engine_wake_all(int all);
/* The status cache of a new child, with the marks of post_config. */
gf_status_cache_t *gf_engine_cache_create(apr_pool_t *pchild, apr_size_t slots);

/* mod_genflow_engine_handon.c: claim a due row for each place freed in
 * this child since the last call (the hand-on list); 1 when one was. */
int gf_engine_hand_on(gf_engine_t *W, apr_pool_t *pool, const char *lease_owner);

/* mod_genflow_engine_doorbell.c (gf_engine_ring_doorbell in
 * mod_genflow_engine.h): the listener hears the bell
 * (gf_engine_doorbell_fd, -1: none) and answers it with
 * gf_engine_doorbell_heard. */
int gf_engine_doorbell_fd(void);
void gf_engine_doorbell_heard(void);

/* Shared memory of the configuration's lifetime, made before the fork,
 * zeroed; NULL (and *rv) when refused. */
void *gf_engine_shm_zeroed(apr_pool_t *pconf, apr_size_t bytes, apr_status_t *rv);

/* mod_genflow_engine_duty.c: the duties on a clock, done by one child of
 * the httpd at a time. */
typedef enum {
    GF_DUTY_SWEEP,      /* expiry, retention, webhooks, uploads: every 2 s */
    GF_DUTY_TIDY,       /* what ages by the hour: strays, orphans, old turns */
    GF_DUTY_LOOK,       /* a round for work due by time: every 500 ms */
    GF_DUTY_OPEN,       /* this httpd's calls open to groups' members, for the other nodes */
    GF_DUTIES
} gf_duty_t;
/* 1: the caller does duty now (its time had come and no other child took
 * it); *next: when it is due again. */
int gf_engine_duty_take(gf_duty_t duty, apr_interval_time_t every, apr_time_t *next);

/* mod_genflow_engine_listener.c: the listener thread's body; and what
 * the child heard of id (NULL: any may have changed): its waiters wake,
 * its kept poll is due, the concern above hears it (on_change). */
void gf_engine_heard(const char *id);
void *APR_THREAD_FUNC gf_engine_listener_main(apr_thread_t *thread, void *data);


/* The steps of an attempt, from the bottom up: each file calls only
 * those above it in this header (tests/glue_layers.sh). */

/* Run one claimed row under its slot and place (gf_engine_attempt_run).
 * The steps below the attempt that run another row (a kept poll, a
 * standby) are given it by the caller, so that none of them calls up. */
typedef int gf_engine_run_fn(server_rec *s, apr_pool_t *p, gf_claim_t *c, gf_attempt_t *slot,
                             gf_limits_hold_t *hold);

/* ---- mod_genflow_engine_row.c: a claimed row ---------------------------- */

/* A claimed row as its attempt reads it (c, from row, which it points
 * into), its server (returned), and its slot, not yet begun, with the
 * place it calls under (hold, if any). */
server_rec *gf_engine_row_fill(const gf_database_t *e, const gf_type_t *t, const char *const *row,
                               const char *lease_owner, const gf_limits_hold_t *hold, gf_claim_t *c,
                               gf_attempt_t *slot);
/* One guarded statement of this attempt (RENEW: is the lease still ours?
 * RELEASE: give the row back; certain: no request went out), run where
 * statements may block. 1 matched, 0 did not, -1 the database could not say. */
int gf_engine_row_statement(server_rec *s, apr_pool_t *p, const gf_claim_t *c, gf_sql_type_op_t op,
                            int certain);

/* The trace id a log line of the row names, or "-" (a row made before
 * its trace was kept). */
const char *gf_engine_row_trace(const gf_claim_t *c);
/* The log line of an attempt's transition; detail is escaped. */
void gf_engine_row_log(server_rec *s, apr_pool_t *p, int level, const gf_claim_t *c,
                const char *provider, const char *what, const char *code, const char *detail);

/* ---- mod_genflow_engine_source.c -------------------------------------------- */

/* The uploads an attempt names: an "upload:<id>" source's bytes (and,
 * for the local provider, its pixels), an edit's mask and references,
 * into job. 1 when the job has them; else 0 and res says why: a
 * transient STORAGE_ERROR (retried), or a permanent one when an upload is
 * gone or no longer what it was. */
int gf_engine_source_resolve(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                             const gf_provider_t *prov, gf_job_t *job, gf_provider_result_t *res);

/* ---- mod_genflow_engine_outcome.c ------------------------------------------- */

/* A call's cost, recorded as soon as the call ends (before its place in
 * the provider's limits is given back: a budget's gate then sees every
 * call that no longer holds a place), whatever becomes of its result. */
void gf_engine_outcome_cost(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                            const gf_provider_t *prov, const gf_provider_result_t *res);
/* Store what the attempt made (for a completion) and record the decision
 * d in one guarded statement; the metrics and the log say what it did.
 * 1, or -1 when the database could not take it within a lease. */
int gf_engine_outcome_apply(server_rec *s, apr_pool_t *p, const gf_claim_t *c, const gf_decision_t *d,
                            const gf_provider_t *prov, const gf_provider_result_t *res);

/* ---- mod_genflow_engine_preview.c ------------------------------------------- */

/* Previews of pictures being drawn. The hook's state, one per attempt:
 * its server and generation, and when it last took a picture. */
typedef struct {
    server_rec *s;
    const char *id;
    apr_time_t last;
} gf_preview_hook_t;
/* Does s's store take previews? It is its database's first server's
 * (the one the sweep looks through) and it can list and remove. */
int gf_engine_previews_on(server_rec *s);
/* gf_job_t.preview and preview_wanted, with a gf_preview_hook_t as
 * their baton. */
int gf_engine_preview_wanted(void *baton);
void gf_engine_preview_hook(void *baton, const unsigned char *bytes, apr_size_t len,
                            const char *content_type);
/* Previews older than GenFlowPreviewKeep removed from the store of
 * database e's first server, a page at most once a keep time (scan). */
void gf_engine_previews_sweep(const gf_database_t *e, apr_pool_t *p, gf_previews_scan_t *scan);

/* ---- mod_genflow_engine_progress.c ------------------------------------------ */

/* A poll of c found its job running, with the fraction its provider
 * reported (res->has_progress): written for the watchers when it grew and
 * a second has passed since the last write (c remembers it). */
void gf_engine_progress_note(server_rec *s, apr_pool_t *p, gf_claim_t *c,
                             const gf_provider_result_t *res, const gf_decision_t *d);

/* ---- mod_genflow_engine_keep.c ---------------------------------------------- */

/* Keep the attempt c in this child for its next poll instead of writing
 * the schedule d (mod_genflow_engine_keep.c): 1 when kept, nothing more to
 * write; 0 when the caller writes it. */
int gf_engine_keep_put(server_rec *s, apr_pool_t *p, const gf_claim_t *c, const gf_provider_t *prov,
                       const gf_provider_result_t *res, const gf_decision_t *d);

/* mod_genflow_engine_keep.c: polls of accepted jobs kept by this child
 * (gf_engine_keep_put keeps one). Start keeping (up to max; a keeper fiber on
 * the loop runs each with run when it is due); a change heard for id makes
 * its poll due now; and, when the child stops, every kept
 * row back to the queue, due now. */
void gf_engine_keep_start(gf_engine_t *W, apr_pool_t *pchild, long max, gf_engine_run_fn *run);
void gf_engine_keep_changed(const char *id);
void gf_engine_keep_release(gf_engine_t *W, apr_pool_t *p);

/* ---- mod_genflow_engine_standby.c ------------------------------------------- */

/* mod_genflow_engine_standby.c: the row a call under a place kept in the
 * database hands its place to when it ends, claimed while the call is in
 * flight. begin: before the call (NULL: no standby for it); settle: after
 * it, with its result: 1 when the place went to the standby (the hold is
 * then empty), 0 when the place is the caller's to give back or hand on
 * (and any standby row went back to the queue). run runs the standby
 * row (the caller's gf_engine_attempt_run). */
typedef struct gf_standby_t gf_standby_t;
gf_standby_t *gf_engine_standby_begin(server_rec *s, const gf_limits_hold_t *hold,
                                      gf_engine_run_fn *run);
int gf_engine_standby_settle(gf_standby_t *sb, gf_attempt_t *slot, gf_limits_hold_t *hold,
                             const gf_provider_result_t *res, apr_interval_time_t took);

/* A standby's claim (mod_genflow_engine_standby.c), from a fiber of the
 * loop, its statement on a worker thread: one due row of prov without an
 * accepted job, the highest type first, leased to owner. kind 1: a
 * place's standby (held: the place, its call still open); kind 2: a
 * rate's (the rate's next start, up to GF_CLAIM_RATE_AHEAD_MS ahead). On
 * return t is the row's type (NULL: none claimed), s its server, c and
 * slot filled (c->slot: the rate's start taken). */
typedef struct {
    const gf_database_t *e;
    apr_pool_t *pool;
    const gf_provider_t *prov;
    int kind;
    const gf_limits_hold_t *held;
    const char *owner;
    const gf_type_t *t;
    server_rec *s;
    gf_claim_t *c;
    gf_attempt_t *slot;
} gf_standby_claim_t;
/* Its time goes into prov's pace (gf_pacer_claimed), which the pacer
 * reads. */
void gf_engine_standby_claim(gf_standby_claim_t *q);

/* ---- mod_genflow_engine_pacer.c --------------------------------------------- */

/* mod_genflow_engine_pacer.c: the row that takes a rate's next
 * start, claimed a moment before that start by a fiber that the call
 * under the current start launches (for a provider with rate= kept in
 * the database and no max_concurrent=); it waits in the child and its
 * call goes at its start. c is the claim of the call that begins. run
 * runs the row (the caller's gf_engine_attempt_run). */
void gf_engine_pacer_begin(server_rec *s, const gf_provider_t *prov, const gf_claim_t *c,
                                  gf_engine_run_fn *run);

/* ---- mod_genflow_engine_attempt.c ------------------------------------------- */

/* Run one claimed row: the core's rules before any call, the gates of
 * the provider's limits and circuit, the call, the decision, its outcome.
 * 1 when done (whatever happened to the generation), -1 when its outcome
 * could not be written. */
int gf_engine_attempt_run(server_rec *s, apr_pool_t *p, gf_claim_t *c, gf_attempt_t *slot,
                          gf_limits_hold_t *hold);

/* ---- mod_genflow_engine_claim.c --------------------------------------------- */

/* Claim rows of type t and provider on database e: one due
 * generation without an accepted provider job, or (polls) a batch of at
 * most *places due polls (places the worker reserved in the loop), each
 * with its provider's place and its own server's settings, if the
 * provider's limits let a call start (hand_on: a place of it was just
 * freed in this child: ask the database whatever it said last). Each
 * claimed row becomes an attempt in flight on the child's loop
 * (gf_engine_launch), taking one place off *places, or, without a loop,
 * is run here. A provider without a place now is added to skip. 1 when
 * something was claimed, 0 when nothing, -1 on database trouble. */
int gf_engine_claim(const gf_database_t *e, apr_pool_t *p, const gf_type_t *t, const char *provider,
                    int polls, int hand_on, const char *lease_owner, int *places, gf_skip_t *skip);
/* The same, for the place a call that just ended holds (held: kept in
 * the database): the claimed row takes that very place, or, when none
 * is claimed, the claim frees it. */
int gf_engine_claim_held(const gf_database_t *e, apr_pool_t *p, const gf_type_t *t,
                         const char *provider, int polls, int hand_on, const gf_limits_hold_t *held,
                         const char *lease_owner, int *places, gf_skip_t *skip);
/* Work type t on database e: its due providers (due, from the
 * probe), new work first, starting at the rotate-th provider, leaving
 * those of skip alone; one claim at most. As gf_engine_claim. */
int gf_engine_claim_one(const gf_database_t *e, apr_pool_t *p, const gf_type_t *t,
                        const char *lease_owner, int *places, gf_skip_t *skip, const gf_due_t *due,
                        int rotate);
/* Which of database e's types have work due now, of which providers
 * (usually one query): due[i] for e->types[i]. 0, or -1 on database
 * trouble. */
int gf_engine_claim_due_types(const gf_database_t *e, apr_pool_t *p, gf_due_t *due);

#endif
