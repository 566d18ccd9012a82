/* SPDX-License-Identifier: Apache-2.0 */
/* gf_round.h: which row (type, provider) a worker's claim takes next, and
 * when a worker looks again, as plain rules over plain data.
 *
 * A worker's round visits a database's types by GenFlowPriority, a
 * different one first each round among types of one priority, and starts
 * again from the highest after each claim that took work, so that a type
 * of lower priority gets a claim only when every type above it had
 * nothing it could take. Within a type, the due probe's providers are
 * tried in rotation, new work before polls, leaving alone those whose
 * limits have no place now (the skip list) and those a type above found
 * full. Between rounds an idle worker sleeps until a moment somebody
 * asked it to look again, a provider's place may come back, or its idle
 * interval passes.
 *
 * The glue (httpd/engine/mod_genflow_engine_worker.c, _claim.c and
 * mod_genflow_engine.c) runs the statements, holds the child's mutex and
 * sleeps; what it decides with is here, so that the order and the timing
 * are unit-tested (tests/unit/test_round.c) without httpd or a database.
 * The SQL part of the rule (which row of a provider's line a claim takes)
 * is CLAIM_SQL's and CLAIM_POLLS_SQL's (core/gf_sql.c).
 */
#ifndef GF_ROUND_H
#define GF_ROUND_H

#include <apr_pools.h>
#include <apr_time.h>

/* ---- the skip list ----------------------------------------------------- */

/* Provider names, newline-separated: those a claim leaves alone (whose
 * limits have no place now: the claim adds them; and those a type of a
 * higher priority found full at any time of the same round: the worker
 * passes them on, so that a place freed a moment later goes to the
 * higher type), and those with work due. */
#define GF_SKIP_MAX 1024
typedef struct {
    char names[GF_SKIP_MAX];
} gf_skip_t;

/* Is name one of list's names? */
int gf_round_skip_has(const gf_skip_t *list, const char *name);
/* Add the newline-separated names of list that skip lacks (as many as
 * fit; NULL or "" adds nothing). */
void gf_round_skip_add(gf_skip_t *skip, const char *list);
/* The names of list, split into names (at most GF_ROUND_NAMES_MAX, each
 * in a copy of p's); how many. */
#define GF_ROUND_NAMES_MAX 64
int gf_round_split_names(apr_pool_t *p, const gf_skip_t *list, const char **names);
/* The i-th of n names in a visit that starts at the rotate-th, or NULL
 * when skip holds it (a provider found without a place this round). */
const char *gf_round_provider(const char *const *names, int n, int i, int rotate,
                              const gf_skip_t *skip);

/* ---- what the due probe says ------------------------------------------- */

/* What the due-work probe says of one type: its providers with new work
 * due (a first attempt, a retry, a fallback, a rescue) and with polls
 * due. */
typedef struct {
    int any;
    gf_skip_t fresh;
    gf_skip_t polls;
} gf_due_t;

/* One row of the probe for this type: provider has work of kind ("poll":
 * polls of accepted jobs, anything else: new work). */
void gf_round_due_mark(gf_due_t *due, const char *provider, const char *kind);

/* ---- a claim's gate ---------------------------------------------------- */

/* What a claim that took no row says of its provider's gate (NULL: the
 * statement said nothing): the label it is counted under
 * (genflow_claims_total: "other", "empty" for an open gate, else the
 * gate's word); whether the provider is left alone for the rest of the
 * round (any gate but "open"); whether it was 'busy' (a free place locked
 * by another claim's statement: look again a moment later). */
const char *gf_round_gate_label(const char *gate);
int gf_round_gate_skips(const char *gate);
int gf_round_gate_busy(const char *gate);

/* A claim whose gate said 'busy' (a free place locked by another claim's
 * statement, which may find no row to give it) asks again, after 1 ms,
 * then 2, 4, ... 64 (127 ms in all, without a connection held): that
 * statement ends within milliseconds, and the place is then free or
 * taken. Were it taken for 'full', no worker of this httpd would ask for
 * a second (FULL_FOR, mod_genflow_limits.c). */
#define GF_ROUND_BUSY_TRIES 8
#define GF_ROUND_BUSY_WAIT  apr_time_from_msec(1)
/* After try number tries (from 1) of the claim statement answered gate:
 * how long to wait before the next try, or 0 when its rows stand (not
 * busy, the tries spent, or the child stopping). */
apr_interval_time_t gf_round_busy_again(const char *gate, int tries, int stopping);

/* ---- how many rows a claim asks for ----------------------------------- */

/* The polls of accepted jobs a claim takes at most, and the rows of a
 * line (new work): a batch, or a small batch when fewer places are free.
 * A claim costs about 0.5 ms of its own (the statement, its commit, the
 * line's counts' trigger) and about 0.08 ms a row: the larger batch
 * halves the claims a job and took 14 to 27 % off the engine's CPU a job
 * in bench/cost (docs/benchmarks.md, "New work claimed 16 rows a
 * statement"). It is no
 * larger than the places a worker reserves for one claim
 * (GF_ROUND_POLL_BATCH). */
#define GF_ROUND_POLL_BATCH  16
#define GF_ROUND_FRESH_BATCH 16
#define GF_ROUND_FRESH_SMALL 8
/* How many rows a claim asks for, with places free in the child's loop:
 * polls, up to GF_ROUND_POLL_BATCH; new work, GF_ROUND_FRESH_BATCH, or
 * GF_ROUND_FRESH_SMALL when fewer places than that are free, when a loop
 * runs them all at once, the claim hands no place on, and the provider
 * is plain: not a group (whose member, and place, each row chooses after
 * its claim), without limits, a cap on its jobs or a budget (each row of
 * a batch would be a call the gates counted as one); else one (the
 * statement's batches have constant sizes: gf_sql.c, FRESH_ROWS). 0 when
 * no place is free. */
int gf_round_claim_want(int polls, int places, int loop, int handed_on, int plain);

/* ---- claimed rows a worker runs itself ---------------------------------- */

/* Rows the loop would not take run on the worker, one after the other,
 * sharing one lease: those not reached by half of it (from now) go back. */
apr_time_t gf_round_stop_by(apr_time_t now, int lease_secs);
/* Row i of those run here from row from: is it (and the rest) given back
 * rather than run? The first is always run. */
int gf_round_give_back(int i, int from, apr_time_t now, apr_time_t stop_by, int stopping);
/* What a batch of claimed rows came to: 1 when anything was done, -1 when
 * only trouble, 0 when nothing. */
int gf_round_batch_result(int worked, int trouble);

/* ---- the round --------------------------------------------------------- */

/* Claims in one round of a worker: a long queue still ends the round now
 * and then, for the sweeps and the next due probe. */
#define GF_ROUND_CLAIMS 64

/* What a worker keeps through one round of a database, sized for the
 * child's largest one: each type's priority (set by the glue before
 * gf_round_begin), which types have work due (the probe's), the order of
 * the visit, how often each type was tried, and the providers each type
 * found full. */
typedef struct {
    int ntypes;
    int *priority;
    gf_due_t *due;
    int *order, *tried;
    gf_skip_t *found;
    int at;                      /* the visit's place: order[at] */
    int claims, worked, trouble, capped;
} gf_round_t;

/* The round's memory for up to maxtypes types (calloc: it outlives the
 * per-round clears of the worker's pool); 0 without (free it all the
 * same). */
int gf_round_alloc(gf_round_t *r, int maxtypes);
void gf_round_free(gf_round_t *r);
/* The order in which a round visits ntypes types of priority[]: higher
 * first; among types of one priority, a different one first each round
 * (start), so that none of them starves. */
void gf_round_visit_order(const int *priority, int ntypes, int start, int *order);
/* A round of ntypes types begins: due[] is the probe's (probed: 0 when
 * it failed, which is trouble and leaves nothing due). */
void gf_round_begin(gf_round_t *r, int ntypes, int start, int probed);
/* The next type to claim for, or -1 when the visit ended. A type is
 * tried at most twice a round (the probe may mark it due again). */
int gf_round_next(gf_round_t *r);
/* Before a claim for type k below the top of the visit: is there a type
 * of a higher priority at all? Then the glue probes again (into due[])
 * and asks gf_round_higher_due; free when every type has the same
 * priority. */
int gf_round_asks_higher(const gf_round_t *r, int k);
/* Is a type of a higher priority than k due (queued since the round's
 * probe, or a place freed since its claim found none) and not yet tried
 * twice? Then the visit starts from the top (gf_round_top), so that a
 * lower claim does not take the place a higher one waits for. */
int gf_round_higher_due(const gf_round_t *r, int k);
void gf_round_top(gf_round_t *r);
/* The providers a claim of type k leaves to the types above it: those
 * that any type of a higher priority found full at any time of the round,
 * so that a place freed a moment later goes to the higher type, even
 * after that type was tried its two times and the visit went on without
 * it (its next round takes the place). Not passed on within a priority.
 * Sets skip; returns its length, which gf_round_found is given back. */
apr_size_t gf_round_skip_of_higher(const gf_round_t *r, int k, gf_skip_t *skip);
/* What type k's claim found full: what it added to skip after before. */
void gf_round_found(gf_round_t *r, int k, const gf_skip_t *skip, apr_size_t before);
/* Type k's claim returned rc (1 took work, 0 nothing, -1 trouble): 1 when
 * the visit starts again from the top (the glue first runs the fibers'
 * statements), 0 when it goes on, -1 when the round made its
 * GF_ROUND_CLAIMS claims and ends. */
int gf_round_claimed(gf_round_t *r, int k, int rc);
/* The round's end: 2 when it made as many claims as a round makes (more
 * is due), 1 when something was worked, -1 on database trouble only, 0
 * when nothing was due. */
int gf_round_result(const gf_round_t *r);

/* ---- when a worker looks again ------------------------------------------ */

/* How long workers wait when nothing wakes them. */
#define GF_ROUND_IDLE_WAIT        apr_time_from_msec(500)   /* the look for work due by time */
#define GF_ROUND_IDLE_WAIT_OTHERS apr_time_from_sec(2)      /* the others, while work comes */
#define GF_ROUND_IDLE_QUIET       apr_time_from_sec(30)     /* the others, when none came */
#define GF_ROUND_BUSY_FOR         apr_time_from_sec(5)      /* "while work comes" */
#define GF_ROUND_TROUBLE_WAIT     apr_time_from_sec(1)

/* The moments a child's workers are asked to look again at, earliest
 * first (a claim's free place that stayed busy, a job polled at a short
 * pace); the half-second look finds the rest. Kept under the child's
 * mutex by the glue. */
#define GF_LOOK_AGAIN_MAX 64
typedef struct {
    apr_time_t at[GF_LOOK_AGAIN_MAX];
    int n;
} gf_round_looks_t;
/* Ask for a look at at: 1 when it became the earliest (a sleeping worker
 * wakes to wait for it), 0 when it was asked already, or the list is full
 * and at is no sooner than its latest (else the latest gives way). */
int gf_round_looks_add(gf_round_looks_t *l, apr_time_t at);
/* The earliest moment, taken off the list, when it is at or before now;
 * else 0. */
apr_time_t gf_round_looks_take(gf_round_looks_t *l, apr_time_t now);
/* A sleep of timeout from now, cut short to the earliest moment asked
 * for (never below 0). */
apr_interval_time_t gf_round_looks_sleep(const gf_round_looks_t *l, apr_time_t now,
                                         apr_interval_time_t timeout);

/* Rounds asked of a child's nthreads workers (pending, kept under the
 * child's mutex by the glue). A wake asks a worker to run one round more;
 * a round takes everything it can, so wakes that come while every worker
 * already has one pending add nothing: at most one is pending per
 * worker, however many generations were queued (a burst of 20,000
 * NOTIFYs is a handful of rounds). add: one more (all: one for every
 * worker); how many were added. take: a worker takes one (1) or finds
 * none (0). */
int gf_round_wakes_add(int *pending, int nthreads, int all);
int gf_round_wakes_take(int *pending);

/* genflow_work's payload: "type\nprovider" (sql/022; an older database
 * sends the type only). The provider (NULL: none named) and the type's
 * length (*type_len; it ends at the newline). */
const char *gf_round_work_payload(const char *payload, apr_size_t *type_len);

/* The sooner of two moments, 0 being none. */
apr_time_t gf_round_sooner(apr_time_t a, apr_time_t b);

/* The places of a child's loop (GenFlowMaxInFlight), kept under the
 * child's mutex by the glue: attempts launched and not landed, and
 * whether a worker found no room (the next place given back wakes one:
 * only then, a landing is no news to workers that had room). */
typedef struct {
    int in_flight, max_in_flight, was_full;
} gf_round_loop_t;
/* Take up to want places (0 marks the loop full); how many. They are
 * taken before a claim, so that two workers never both fill the last
 * place. */
int gf_round_loop_take(gf_round_loop_t *l, int want);
/* Places free now, taking none (0 marks the loop full). */
int gf_round_loop_room(gf_round_loop_t *l);
/* n places given back (a landing, or a claim's unused ones): 1 when a
 * worker that found the loop full should be woken for a round. */
int gf_round_loop_give(gf_round_loop_t *l, int n);

/* What the worker's clock asks of the child (the glue's functions): now;
 * take the earliest look asked for at or before now (0: none), or any
 * (take_look_again); when a provider without a place may have one again
 * (0: none); when a worker last took work; sleep until woken for a round
 * (1) or timeout passed (0); take the half-second look for work due by
 * time (1: this child's turn; *next: when it is due again); the loop's
 * room. */
typedef struct {
    apr_time_t (*now)(void);
    apr_time_t (*take_due_look)(apr_time_t now);
    apr_time_t (*take_look_again)(void);
    apr_time_t (*next_unblock)(apr_time_t now);
    apr_time_t (*worked_at)(void);
    int (*sleep)(apr_interval_time_t timeout);
    int (*take_look)(apr_time_t *next);
    int (*room)(void);
} gf_round_ops_t;

/* A worker's clock, from one round to the next: its number, no round
 * before round_at (0: at once), worker 0's next sweep, and whether its
 * next round is the look for work due by time. */
typedef struct {
    long index;
    apr_time_t round_at;
    apr_time_t next_sweep;
    int look;
} gf_round_clock_t;

/* How long an idle worker sleeps when nothing wakes it, and whether its
 * round then is the look for work due by time (c->look). */
apr_interval_time_t gf_round_idle_wait(gf_round_clock_t *c, const gf_round_ops_t *ops);
/* May a round run now (1)? Else sleep until one is asked for or its time
 * comes (0). */
int gf_round_due(gf_round_clock_t *c, const gf_round_ops_t *ops);
/* A round ended: worked (it took work), trouble (database trouble only):
 * when the next is due. */
void gf_round_ended(gf_round_clock_t *c, const gf_round_ops_t *ops, int worked, int trouble);

#endif
