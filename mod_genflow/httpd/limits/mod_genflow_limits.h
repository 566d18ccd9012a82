/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_limits.h: each provider's limits (max_concurrent=, rate=,
 * and the pause a 429 asks for), for every node of a database together
 * (limits=site, the default: kept in PostgreSQL, sql/022) or for every
 * child of this httpd (limits=node: its shared memory; the rules are
 * core/gf_limit.h), mod_genflow_limits.c.
 *
 * A worker asks the gate before it claims a provider's rows
 * (gf_limits_gate_open): per node, it takes the places there; per site,
 * the claim statement takes its place and start itself, in the statement
 * that leases the row, and the gate only remembers what the last claim
 * said (full, the rate's next start, a pause) so that nobody asks the
 * database again before a place can be free. Each claimed row carries its
 * place (gf_limits_gate_assign) until its provider call ends
 * (gf_limits_done), which frees it and hands it on to the child's engine
 * at once.
 */
#ifndef MOD_GENFLOW_LIMITS_H
#define MOD_GENFLOW_LIMITS_H
#include "core/gf_json.h"
#include "core/gf_limit_gate.h"
#include "core/gf_outcome.h"
#include "providers/gf_provider.h"


/* One place of a limited provider, held for one call. */
typedef struct {
    const gf_provider_t *prov;   /* NULL: nothing held */
    apr_time_t taken;            /* per node: when (its start in the rate's window) */
    int place;                   /* per site: the place the claim took (0: none) */
    char id[40];                 /* per site: the call's generation ... */
    int attempt;                 /* ... and attempt, which alone may free it */
} gf_limits_hold_t;

/* One claim of one provider, between gf_limits_gate_open and _close. */
typedef struct {
    const gf_provider_t *prov;
    int taken;                   /* per node: places taken, not yet assigned */
    apr_time_t taken_at;
    int max_concurrent;          /* per site: the claim's arguments (0: none) */
    apr_interval_time_t spacing;
} gf_limits_gate_t;

void gf_limits_register_hooks(void);
/* After gf_breaker_post_config, whose keys it uses. */
int gf_limits_post_config(apr_pool_t *pconf, server_rec *s);
/* What the engine does with a place freed in this child (passed down at
 * child_init, so that this concern does not call the one above it):
 * freed(provider): a place counted per node was given back: it is handed
 * on soon. hand_on(s, prov, hold): the call that held a place kept in the
 * database (per site) ended: the engine claims the provider's next due
 * row with that very place, in one statement, where statements may
 * block; 1 when it did, or freed the place with the claim that found
 * nothing due; 0 when the place must still be freed; 2 when this child
 * has no room for another attempt: the place must be freed, and then
 * no_room() tells another child (the doorbell). */
typedef struct {
    void (*freed)(const char *provider);
    int (*hand_on)(server_rec *s, const gf_provider_t *prov, const gf_limits_hold_t *hold);
    void (*no_room)(void);
} gf_limits_engine_t;
void gf_limits_child_init(apr_pool_t *pchild, server_rec *s, const gf_limits_engine_t *engine);

/* May a claim of prov's rows go ahead now? Per node: up to want places
 * are taken (0 when none: no claim). Per site: 0 while this httpd knows
 * prov has none (a claim found it full less than a second ago and no
 * call of it ended here since, or its rate's next start or its pause has
 * not come); else 1, and the claim's own gates decide (hand_on: a call of
 * prov just ended here; ask the database whatever the last claim said).
 * A provider without limits: 1 unless paused. */
int gf_limits_gate_open(const gf_provider_t *prov, int want, int hand_on, gf_limits_gate_t *g);
/* Should a worker be woken for work of prov now? 0 when prov is known to
 * have no place (the gate would say so without the database: paused, per
 * site full or waiting for its rate, per node without room), and per site
 * while a worker of some child, woken when a "full" lapsed, has not
 * answered yet (at most a second): one look a lapse for the whole httpd,
 * however many notifications arrive. */
int gf_limits_may_wake(const gf_provider_t *prov);
/* Is prov paused by a 429's Retry-After, as this httpd knows? */
int gf_limits_paused(const gf_provider_t *prov);
/* The earliest moment after now when a provider known to have no place
 * may have one again (a rate's next start, a pause's end, a "full" that
 * lapses), or 0 when none: the workers wake then, not a tick later. */
apr_time_t gf_limits_next_unblock(apr_time_t now);
/* The most rows the claim may take: the places taken per node, else want. */
int gf_limits_gate_room(const gf_limits_gate_t *g, int want);
/* A claimed row's place (per site: the place number the claim returned,
 * held by the generation id and attempt) into *hold. */
void gf_limits_gate_assign(gf_limits_gate_t *g, const char *place, const char *id, int attempt,
                           gf_limits_hold_t *hold);
/* After the claim: the places no row took go back (per node); what the
 * claim's gate said is remembered: "open" (a row was claimed, or none was
 * due) clears a "full", and "full", "rate" or "paused" (with until in ms
 * since the epoch) keep the gate shut for a while, "busy" (a free place
 * stayed locked by another statement through the claim's tries) for
 * GF_LIMITS_BUSY_AGAIN. */
#define GF_LIMITS_BUSY_AGAIN GF_LIMIT_BUSY_AGAIN
void gf_limits_gate_close(gf_limits_gate_t *g, const char *state, const char *until_ms);

/* The claimed row an attempt holds a place for. */
typedef struct {
    server_rec *s;               /* its database: where a place per site is taken */
    const char *id;
    int attempt;
    const char *owner;           /* its lease's */
    int lease_secs;
    int other_line;              /* claimed in a line not prov's (a group's): per
                                  * site, the claim took none of prov's places */
} gf_limits_claim_t;
/* Make sure *hold is a place of prov for the row c: per node, a row whose
 * provider is not the one the claim assumed (a virtual host's own
 * declaration); per site, a row claimed in another line (a group's
 * member, chosen after the claim): a place and a start taken in the
 * database, renewed with the row's lease and freed as a claim's. 1 when held or prov has no
 * limit; 0 when prov has no room now (or the database did not say), and
 * *defer is how long until one may be free (at least a second). Where
 * statements may block. */
int gf_limits_hold(const gf_limits_claim_t *c, const gf_provider_t *prov, gf_limits_hold_t *hold,
                   apr_interval_time_t *defer);
/* The call to prov made with *hold (held or not: a provider without
 * limits) ended; res is what it came to. The place is freed (per site: a
 * statement on s's database, where statements may block) and handed on;
 * a 429 with Retry-After pauses prov for every child and node (at most
 * GF_LIMIT_PAUSE_MAX). */
void gf_limits_done(server_rec *s, const gf_provider_t *prov, gf_limits_hold_t *hold,
                    const gf_provider_result_t *res);
/* *hold was not used for a call: the place and its start go back. */
void gf_limits_unused(server_rec *s, gf_limits_hold_t *hold);

/* The rows of the site's limited providers of s (their gate and places),
 * made when missing: once per sweep, cheap when they exist. */
void gf_limits_ensure(server_rec *s, apr_pool_t *p);

/* For /api/health (with the request's database: calls open on every node
 * for limits=site), the metrics and server-status. */
json_object *gf_limits_health(request_rec *r, const gf_provider_t *prov);
/* A call of prov from this node begins, and ends (counted in this
 * httpd's shared memory for every child, per process: what a group's
 * least-busy choice compares, gf_limits_calls_open). */
void gf_limits_call_begin(const gf_provider_t *prov);
void gf_limits_call_end(const gf_provider_t *prov);
int gf_limits_calls_open(const gf_provider_t *prov);
/* The calls of prov's holders that died with them open (a child killed
 * mid-call) are counted out; at most once a second, nothing when none is
 * open. The writer of the counts for the other nodes calls it first. */
void gf_limits_calls_reap(const gf_provider_t *prov);
/* The count of prov's calls open that this httpd last wrote for the
 * other nodes (the router's rows, mod_genflow_router.c), kept with the
 * count so that whichever child writes next knows it; and its update
 * after a write. */
int gf_limits_calls_told(const gf_provider_t *prov);
void gf_limits_calls_tell(const gf_provider_t *prov, int open);
/* A call of prov from this node took that long (its running average, in
 * this httpd's shared memory), and that average (0: no call yet): what a
 * queued generation's estimatedStartAt is made of (gf_limit_wait). */
void gf_limits_call_took(const gf_provider_t *prov, apr_interval_time_t took);
apr_interval_time_t gf_limits_recent_call(const gf_provider_t *prov);
/* A job of prov completed that long after it began (its submission's
 * claim to the completing poll; a synchronous call's whole attempt), and
 * the running average of those on this node (0: none yet): what a
 * processing generation's estimate is made of when its provider reports
 * no progress (gf_progress_estimate). */
void gf_limits_job_took(const gf_provider_t *prov, apr_interval_time_t took);
apr_interval_time_t gf_limits_recent_job(const gf_provider_t *prov);
void gf_limits_metrics(request_rec *r);

#endif
