/* SPDX-License-Identifier: Apache-2.0 */
/* gf_limit_gate.h: one provider's gate, as plain data the httpd glue keeps
 * in shared memory for every child of an httpd (a slot per provider), and
 * the rules that read and change it under the glue's mutex.
 *
 * Per node (limits=node) the slot holds the counts of gf_limit.h, and the
 * gate takes the places. Per site (limits=site, the default) the places
 * and the rate's next start are rows of the database that the claim
 * statement takes; the slot only remembers what the last claim said, so
 * that the children do not ask the database again before a place can be
 * free: until when the rate or a pause keeps the gate shut
 * (blocked_until), that the provider was full (full_until: a call that
 * ends here clears it; it lasts GF_LIMIT_FULL_FOR at most), and that a
 * worker was woken to look once "full" lapsed (look_until: one look for
 * the whole httpd).
 *
 * Time is passed in and dead processes are found by the caller's alive()
 * (a process table is the glue's), so every rule here is unit-tested.
 */
#ifndef GF_LIMIT_GATE_H
#define GF_LIMIT_GATE_H

#include <apr_pools.h>
#include <apr_time.h>
#include <json-c/json.h>

#include "core/gf_limit.h"

/* The room for a provider's key at the start of its slot: the glue's
 * keyed slots (httpd/servers/mod_genflow_slots.h) have the same. */
#define GF_LIMIT_KEY_MAX 300
/* How often a full provider's dead holders are looked for. */
#define GF_LIMIT_REAP_EVERY apr_time_from_sec(1)
/* How long a claim's "full" keeps the children from asking again (per
 * site), unless a call of the provider ends here first. */
#define GF_LIMIT_FULL_FOR apr_time_from_sec(1)
/* How long a "busy" claim (a free place stayed locked by another
 * statement through its tries) keeps the gate shut. */
#define GF_LIMIT_BUSY_AGAIN apr_time_from_msec(10)

typedef struct {
    char key[GF_LIMIT_KEY_MAX];  /* the provider's key; "" for a free slot */
    gf_limit_state_t st;         /* per node: the counts; per site: the pause only */
    apr_time_t blocked_until;    /* per site: no claim before (the rate's next start, a
                                  * pause): idle workers wake at that moment */
    apr_time_t full_until;       /* per site: full when a claim last looked; a place
                                  * freed here ends it, no worker waits for it */
    apr_time_t look_until;       /* per site: once full_until lapsed, a worker of some
                                  * child was woken to look; no other wake until its
                                  * claim answers or this passes */
    volatile apr_uint32_t call_ms; /* how long its calls from this node took lately
                                  * (gf_limit_call_average; 0: none yet) */
    volatile apr_uint32_t job_ms;  /* and its jobs, submission to completion */
    gf_limit_holders_t calls;    /* its calls from this node open now, per process
                                  * (every provider, limited or not) */
    apr_time_t calls_reaped_at;  /* the last look for their dead holders */
    volatile apr_uint32_t calls_told; /* calls.open as last written for the other nodes */
} gf_limit_slot_t;

/* Is process pid still there? (The glue asks the system.) */
typedef int (*gf_limit_alive_fn)(apr_int32_t pid, void *baton);

/* Who asks, and how the dead are told from the living. */
typedef struct {
    apr_int32_t pid;
    gf_limit_alive_fn alive;
    void *baton;
} gf_limit_who_t;

/* Are c's limits kept in the database, for every node (limits=site)? */
int gf_limit_per_site(const gf_limit_conf_t *c);

/* Take one place at now for who; a full provider first frees the places
 * of dead processes (at most once per GF_LIMIT_REAP_EVERY). */
int gf_limit_slot_take(const gf_limit_conf_t *c, gf_limit_state_t *st, apr_time_t now,
                       const gf_limit_who_t *who);

/* May a claim of the provider's rows go ahead at now? Paused: 0. Per
 * site: 1 when hand_on (a call of it just ended here) or neither a rate,
 * a pause nor a "full" keeps the gate shut. Per node: up to want places
 * are taken into *taken, 1 when one was. Without limits: 1. */
int gf_limit_gate_decide(gf_limit_slot_t *slot, const gf_limit_conf_t *c, apr_time_t now,
                         int hand_on, int want, const gf_limit_who_t *who, int *taken);

/* Should a worker be woken for work of the provider at now? 0 when it is
 * known to have no place; per site, the first asker after a "full"
 * lapsed is the one look (look_until set), the others wait for it. */
int gf_limit_slot_may_wake(gf_limit_slot_t *slot, const gf_limit_conf_t *c, apr_time_t now);

/* The earliest moment after now when a used slot's gate may open again
 * (its blocked_until or its pause), or 0 when none. */
apr_time_t gf_limit_slots_next_unblock(const gf_limit_slot_t *slots, int n, apr_time_t now);

/* The most rows a claim may take: the places taken per node, else want. */
int gf_limit_gate_room(const gf_limit_conf_t *c, int taken, int want);

/* What a claim's gate said (per site): */
typedef enum {
    GF_LIMIT_SAID_NOTHING = 0,   /* no state, or one not known */
    GF_LIMIT_SAID_OPEN,          /* a row was claimed, or none was due: not full */
    GF_LIMIT_SAID_FULL,          /* every place taken: shut for GF_LIMIT_FULL_FOR */
    GF_LIMIT_SAID_BLOCKED        /* busy, the rate's next start or a pause: shut until */
} gf_limit_said_t;

/* The claim's state ("open", "full", "busy", "rate", "paused") and its
 * until_ms (ms since the epoch): what it says, and for BLOCKED until when
 * (busy: GF_LIMIT_BUSY_AGAIN; rate or paused: until_ms, very soon when it
 * has passed, at most GF_LIMIT_PAUSE_MAX ahead). */
gf_limit_said_t gf_limit_gate_said(const char *state, const char *until_ms, apr_time_t now,
                                   apr_time_t *until);

/* Keep what the claim said in slot (the glue's lock held). */
void gf_limit_slot_note(gf_limit_slot_t *slot, gf_limit_said_t said, apr_time_t until,
                        apr_time_t now);

/* The database said a place of the provider was not free now, without
 * saying which limit: shut until its rate's next start may have come
 * (spacing > 0), else "full". */
void gf_limit_slot_no_room(gf_limit_slot_t *slot, apr_interval_time_t spacing, apr_time_t now);

/* A 429's pause until `until` in slot: 1 when it extended the pause (a
 * later one extends, an earlier one never shortens); blocked_until too. */
int gf_limit_slot_pause(gf_limit_slot_t *slot, apr_time_t until);

/* A place of the provider may be free in this httpd: "full" and its look
 * are forgotten. */
void gf_limit_slot_freed(gf_limit_slot_t *slot);

/* A place of a provider counted per node (or, without limits, no pause)
 * for one call at now: 1 taken (with limits) or free; 0 not now, and *next
 * when the pause ends (0: only a call's end or the rate frees one). */
int gf_limit_slot_hold(const gf_limit_conf_t *c, gf_limit_state_t *st, apr_time_t now,
                       const gf_limit_who_t *who, apr_time_t *next);

/* How long a row that found no place waits: a second, or until the pause
 * ends when that is later; at most GF_LIMIT_PAUSE_MAX. */
apr_interval_time_t gf_limit_hold_defer(int ok, apr_time_t next, apr_time_t now);

/* One more time into a running average (ms) kept in shared memory: read
 * and written as one word each, without a lock (two that end together
 * may each write their own: one counts, and an average needs no more).
 * Never 0 once written (0 means none yet). */
void gf_limit_average_in(volatile apr_uint32_t *ms, apr_interval_time_t took);

/* The slot's calls of dead holders freed, at most once per
 * GF_LIMIT_REAP_EVERY (the glue's lock held). */
void gf_limit_slot_calls_reap(gf_limit_slot_t *slot, apr_time_t now, const gf_limit_who_t *who);

/* A slot of slots (n) for key: its own, a free one, or one whose key
 * declared() says is no longer declared and has no call open (after its
 * dead holders are freed); made empty with key. -1 when none. */
int gf_limit_slot_for(gf_limit_slot_t *slots, int n, const char *key,
                      int (*declared)(const char *key, void *baton), void *dbaton,
                      const gf_limit_who_t *who);

/* What /api/health shows of a provider's limits: its settings, its calls
 * open and its pause (an RFC 3339 time while it lasts, else null). */
json_object *gf_limit_health_json(apr_pool_t *p, const gf_limit_conf_t *c, apr_uint32_t open,
                                  apr_time_t paused, apr_time_t now);

/* The seconds a pause still lasts at now, as the metric shows them. */
const char *gf_limit_paused_text(apr_pool_t *p, apr_time_t paused, apr_time_t now);

#endif
