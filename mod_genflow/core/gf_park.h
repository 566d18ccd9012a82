/* SPDX-License-Identifier: Apache-2.0 */
/* gf_park.h: the queue of a child's parked requests, the ones waiting for
 * a generation to change without a thread (httpd/watch/mod_genflow_watch.c
 * parks them and hands them back to the MPM).
 *
 * Here are the records and their timing, over plain structs: when each is
 * due (its deadline, its heartbeat, its unprompted re-read), the due queue
 * in the order the records became due, how many are handed over per round,
 * whether the MPM is done with a record's connection, and the index by
 * generation id that the listener's news walks. The owner keeps the mutex,
 * the thread, the epoll and the MPM's callbacks; every function here runs
 * under the owner's mutex unless it says otherwise. What only the MPM can
 * tell or do (has it let a connection go, hand a record to a worker) comes
 * through the two callbacks of gf_park_t.
 *
 * A record is either parked (the queue's) or handed (one callback's):
 * never both, so exactly one of wake, deadline, disconnect and shutdown
 * finishes a request.
 */
#ifndef GF_PARK_H
#define GF_PARK_H

#include <apr_hash.h>
#include <apr_time.h>

/* Why a record is due (bits): the same values as the watch's GF_WOKE_*
 * (httpd/watch/mod_genflow_watch.h), which the owner checks at build. */
#define GF_PARK_WOKE_CHANGE   0x01
#define GF_PARK_WOKE_DEADLINE 0x02
#define GF_PARK_WOKE_BEAT     0x04
#define GF_PARK_WOKE_STOP     0x08
#define GF_PARK_WOKE_GONE     0x100     /* the client left: no answer */

/* Handed over at most this many a round, a round every GF_PARK_WAKE_GAP_MS,
 * so that a thousand wakes do not starve other clients; more while the
 * child stops. */
#define GF_PARK_WAKE_BATCH       32
#define GF_PARK_WAKE_BATCH_STOP  200
#define GF_PARK_WAKE_GAP_MS      10
/* Timers are looked at this often at most: with thousands of records
 * whose heartbeats and deadlines fall a few ms apart, a scan per timer
 * would walk every record hundreds of times a second. */
#define GF_PARK_SCAN_GAP         apr_time_from_msec(100)
/* How long after the suspend hook a connection is taken as the MPM's no
 * longer (gf_park_settled). */
#define GF_PARK_SETTLE_GAP       apr_time_from_msec(GF_PARK_WAKE_GAP_MS)
/* Parked requests re-read at least this often: the backstop of NOTIFY
 * (which wakes them at once; a deaf listener clears and wakes everyone). */
#define GF_PARK_BACKSTOP_LISTENING apr_time_from_sec(30)
#define GF_PARK_BACKSTOP_DEAF      apr_time_from_sec(2)

enum { GF_PARK_PARKED, GF_PARK_HANDED, GF_PARK_DEAD };

#define GF_PARK_ID_MAX 40

typedef struct gf_park_rec_t gf_park_rec_t;
struct gf_park_rec_t {
    char id[GF_PARK_ID_MAX];     /* the generation watched */
    apr_time_t deadline;         /* due with GF_PARK_WOKE_DEADLINE from then on */
    apr_interval_time_t beat;    /* a heartbeat this often; 0 never */
    int state;                   /* GF_PARK_PARKED, _HANDED, _DEAD */
    int queued;                  /* in the due queue */
    apr_time_t suspended_at;     /* when the MPM's suspend hook ran; 0 before */
    unsigned woke, handed;       /* reasons pending; reasons of the hand-off */
    apr_time_t next_beat, next_look;
    gf_park_rec_t *prev, *next;  /* every record */
    gf_park_rec_t *id_next;      /* the records of the same generation */
    gf_park_rec_t *due_next;
    gf_park_rec_t *stop_next;    /* gf_park_stop's list */
};

typedef struct gf_park_t gf_park_t;
struct gf_park_t {
    apr_hash_t *by_id;           /* id → its records */
    gf_park_rec_t *all, *due_head, *due_tail, *dead;
    int parked, blocking;
    int park_max, blocking_cap;
    apr_time_t next_time;        /* the next scan */
    volatile int stopping;
    /* Has the MPM's thread let p's connection go (its last write seen)? */
    int (*released)(const gf_park_rec_t *p);
    /* Hand p to a worker of the MPM: 1, or 0 when the MPM refused. */
    int (*hand)(gf_park_rec_t *p);
};

/* A queue for park_max records and blocking_cap blocking waits, whose
 * index grows in hash_pool (a pool no other thread uses). */
void gf_park_init(gf_park_t *k, apr_pool_t *hash_pool, int park_max, int blocking_cap,
                  int (*released)(const gf_park_rec_t *p), int (*hand)(gf_park_rec_t *p));

/* A record of size bytes (at least sizeof(gf_park_rec_t), which starts
 * it: the owner's own fields follow), zeroed, malloc'd (a timed callback
 * cannot be cancelled, so no pool may own it); NULL without memory. Its
 * first heartbeat and re-read are set from now: the re-read after look
 * when look > 0, else within the backstop; both fall anywhere in the second
 * half of their period, so a crowd that arrived together does not beat
 * together (a burst of callbacks every period). Not under the mutex. */
gf_park_rec_t *gf_park_rec_new(apr_size_t size, const char *id, apr_time_t deadline,
                               apr_interval_time_t beat, apr_interval_time_t look,
                               apr_interval_time_t backstop, apr_time_t now);

/* The backstop: how long a parked request waits at most before it reads
 * again unprompted, whether the listener hears NOTIFY or not. */
apr_interval_time_t gf_park_backstop(int listening);

/* When a watch reads again unprompted after a step: as soon as the step
 * asked (look > 0), else at the backstop. */
apr_interval_time_t gf_park_look_in(apr_interval_time_t look, apr_interval_time_t backstop);

/* A time in the second half of period, from a random draw; period itself
 * below 2. gf_park_spread_random draws from the system's source. */
apr_interval_time_t gf_park_spread(apr_interval_time_t period, apr_uint32_t draw);
apr_interval_time_t gf_park_spread_random(apr_interval_time_t period);

/* The first time the record is due by its clock. */
apr_time_t gf_park_first_time(const gf_park_rec_t *p);

/* Whether the MPM's thread is done with the record's connection, so that
 * another thread may answer it and free it. The suspend hook runs inside
 * the event MPM's notify_suspend(), which then still writes to the
 * connection before its thread lets it go. So a record counts as settled
 * once the hook ran, GF_PARK_SETTLE_GAP has passed and the callback sees
 * that last write; an MPM whose write is never seen is waited for ten
 * times as long instead of forever. (httpd 2.4 offers no exact signal.) */
int gf_park_settled(const gf_park_t *k, const gf_park_rec_t *p, apr_time_t now);

/* Into the due queue, once, while parked. */
void gf_park_enqueue(gf_park_t *k, gf_park_rec_t *p);

/* Park p: 1, or 0 when the queue is full, the child stops or there is no
 * memory for its id's entry (p is not linked then). */
int gf_park_add(gf_park_t *k, gf_park_rec_t *p);

/* p is finished: out of the index and the list, dead. It is freed by
 * gf_park_free_dead, never before: an event of its socket may be in the
 * watcher's hands. */
void gf_park_remove(gf_park_t *k, gf_park_rec_t *p);

/* Free the dead records (all: also those the due queue still links, when
 * the watcher is gone). */
void gf_park_free_dead(gf_park_t *k, int all);

/* p's step asked to wait again after being woken by woke, its next
 * unprompted read look_in from now: parked again, queued when something
 * is due already. 1 when the watcher must be poked. */
int gf_park_repark(gf_park_t *k, gf_park_rec_t *p, unsigned woke, apr_interval_time_t look_in,
                   apr_time_t now);

/* The client of p left (its socket's event): due, unless finished. */
void gf_park_gone(gf_park_t *k, gf_park_rec_t *p);

/* Generation id changed (NULL: any may have): its records are due. 1 when
 * any was. */
int gf_park_changed(gf_park_t *k, const char *id);

/* Mark what is due by time, and when to scan next. */
void gf_park_scan(gf_park_t *k, apr_time_t now);

/* Hand the next batch of due, settled records to the MPM (k->hand); those
 * the MPM still holds wait at the head of the queue. */
void gf_park_hand_over(gf_park_t *k, apr_time_t now);

/* How long the watcher's poll may sleep, in ms. */
int gf_park_timeout_ms(const gf_park_t *k, apr_time_t now);

/* The child stops: every parked record is due with GF_PARK_WOKE_STOP, and
 * those settled are handed now, to the caller: their list (by stop_next),
 * which the due queue skips. */
gf_park_rec_t *gf_park_stop(gf_park_t *k, apr_time_t now);

/* One more thread blocks waiting: 1, or 0 at the cap or while stopping;
 * gf_park_blocking_leave when it is done. */
int gf_park_blocking_enter(gf_park_t *k);
void gf_park_blocking_leave(gf_park_t *k);

/* A blocking wait's next wake-up from now: the deadline, the next beat
 * (beat > 0), or now + look (look > 0), the soonest. */
apr_time_t gf_park_blocking_until(apr_time_t now, apr_time_t deadline, apr_interval_time_t beat,
                                  apr_time_t next_beat, apr_interval_time_t look);

/* Why a blocking wait woke at now (always GF_PARK_WOKE_CHANGE: it reads
 * again), its next beat moved on when one was due. */
unsigned gf_park_blocking_woke(apr_time_t now, apr_time_t deadline, apr_interval_time_t beat,
                               apr_time_t *next_beat, int stopping);

#endif
