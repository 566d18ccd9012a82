/* SPDX-License-Identifier: Apache-2.0 */
/* gf_keep.h: the polls a child keeps for their next call, by due time.
 *
 * A poll that finds its provider's job still running may stay in the
 * child that made it (the glue's mod_genflow_engine_keep.c says when):
 * its record waits here, in a heap by due time (the soonest first) and a
 * hash by generation id, until a keeper launches it. The records are the
 * glue's: each starts with a gf_kept_t, and its strings live in the
 * record itself (gf_keep_pack), so that it needs no pool. The caller
 * serialises every call (a mutex in the glue); nothing here blocks.
 *
 * Whether a poll may be kept at all, and when its lease must be written
 * for it, are rules over plain values: gf_keep_worth and gf_keep_plan.
 */
#ifndef GF_KEEP_H
#define GF_KEEP_H

#include <apr_pools.h>
#include <apr_time.h>

#include "core/gf_job.h"

/* The head of a kept record (its first member). */
typedef struct {
    apr_time_t due;             /* its next poll; 0: at once */
    const char *id;             /* its generation, the hash's key (the record's copy) */
    int at;                     /* its index in the heap, -1 when out of it */
    int changed;                /* a change of it was heard: is it still the poll's? */
} gf_kept_t;

typedef struct gf_keep_heap gf_keep_heap_t;

/* Room for max records, in p; *count follows how many are kept (the
 * engine's count of them), or count is NULL. */
gf_keep_heap_t *gf_keep_heap_create(apr_pool_t *p, int max, volatile int *count);
int gf_keep_heap_count(const gf_keep_heap_t *k);
int gf_keep_heap_full(const gf_keep_heap_t *k);

/* r kept by its due time: 1, or 0 when every place is taken (r is the
 * caller's again). */
int gf_keep_heap_push(gf_keep_heap_t *k, gf_kept_t *r);
/* The soonest record, taken out, if it is due by now; else NULL. */
gf_kept_t *gf_keep_heap_pop_due(gf_keep_heap_t *k, apr_time_t now);
/* How long to sleep from now: wait, or less when a record comes due
 * sooner (never below 0). */
apr_interval_time_t gf_keep_heap_wait(const gf_keep_heap_t *k, apr_time_t now,
                                      apr_interval_time_t wait);
/* A change of generation id was heard: its record (if kept) is marked
 * changed and due at once. The record, or NULL. */
gf_kept_t *gf_keep_heap_changed(gf_keep_heap_t *k, const char *id);

/* The i-th record of the heap (0 <= i < count), in no particular order
 * but the first being the soonest. */
gf_kept_t *gf_keep_heap_at(const gf_keep_heap_t *k, int i);
/* The i-th record out (the last takes its index). The heap's order is
 * not restored: only while every record goes (the child stops); an
 * index above i is not moved, so a walk from the last down sees each
 * record once. */
void gf_keep_heap_drop_at(gf_keep_heap_t *k, int i);

/* The bytes n strings take, copied one after another with their NULs
 * (a NULL takes none): *fields[i] is the i-th. */
apr_size_t gf_keep_pack_size(const char **const *fields, int n);
/* Each non-NULL *fields[i] copied to at (gf_keep_pack_size bytes), one
 * after another, and *fields[i] pointed at its copy. */
void gf_keep_pack(char *at, const char **const *fields, int n);

/* May the poll that came to res (decided d) wait in the child instead
 * of writing its schedule? Only a poll again (not after a failed poll)
 * of the job the row already names (job_id), with the provider's state
 * unchanged (state), at no cost to record (cost, res->usage: the
 * outcome's statement records it). The glue adds what it alone knows
 * (its limits, a change heard, a stopping child). */
int gf_keep_worth(const gf_decision_t *d, const gf_provider_result_t *res, const char *job_id,
                  const char *state, double cost);

/* When a kept poll is due, and whether its lease is to be written first.
 * *due: now + delay, not past the deadline (0: none), where the next
 * attempt checks it. 1 when the lease (known to last until lease_end)
 * would not cover the next poll with half a lease to spare: then *secs,
 * the lease to write, covers three polls ahead and a lease, rounded up
 * to the second past; 0 when it covers it. */
int gf_keep_plan(apr_time_t now, apr_interval_time_t delay, apr_time_t deadline,
                 apr_time_t lease_end, apr_interval_time_t lease, apr_time_t *due, long *secs);

#endif
