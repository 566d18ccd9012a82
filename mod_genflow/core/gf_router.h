/* SPDX-License-Identifier: Apache-2.0 */
/* gf_router.h: the choice among a chain entry's group of equivalent
 * providers (GenFlowProviders "{fal replicate=2}@latency -> local"),
 * without httpd.
 *
 * A group is one entry of a chain: each attempt at that entry goes to one
 * of its members, chosen from what the site measured of them. Members that
 * cannot take a call now (an open circuit, a spent budget, limits without
 * room) are left out while any other can; among the rest:
 *
 *   latency     at random, weight / (recent call time)^2: a provider twice
 *               as fast gets four times the calls, and the slower still a
 *               share, which keeps its measure fresh. A member not yet
 *               measured is tried first.
 *   cost        the cheapest per picture (cost=, else what its calls cost
 *               lately); a member whose cost is not known yet is tried
 *               first; ties at random by weight.
 *   least-busy  the fewest calls open; ties at random by weight.
 *   shuffle     at random, by weight alone.
 *
 * Recent call times and costs are running averages (gf_router_average)
 * kept in PostgreSQL for every node of the database (sql/044), so every
 * node chooses from the same numbers.
 */
#ifndef GF_ROUTER_H
#define GF_ROUTER_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

typedef enum {
    GF_GROUP_NONE = 0,             /* not a group */
    GF_GROUP_LATENCY,
    GF_GROUP_COST,
    GF_GROUP_LEAST_BUSY,
    GF_GROUP_SHUFFLE
} gf_group_policy_t;

#define GF_GROUP_MEMBERS_MAX 16    /* members of one group */
#define GF_GROUP_WEIGHT_MAX 1000
/* A running average moves this far toward each new value: after k calls
 * of a provider whose time changed, 1 - 0.7^k of the change is seen (97 %
 * after 10). */
#define GF_GROUP_ALPHA 0.3

/* What the choice knows of one member. */
typedef struct {
    int available;                 /* it may take a call now */
    int weight;                    /* 1..GF_GROUP_WEIGHT_MAX */
    double latency_ms;             /* recent call time; < 0: not measured yet */
    double cost;                   /* per picture; < 0: not known yet */
    int busy;                      /* calls open to it now (jobs running, for a
                                    * member with max_jobs=) */
    int down;                      /* its circuit is open: chosen only when every
                                    * member's is */
} gf_group_member_t;

/* "latency", "cost", "least-busy", "shuffle" → the policy, or NONE. */
gf_group_policy_t gf_group_policy_parse(const char *name);
const char *gf_group_policy_name(gf_group_policy_t policy);

/* The member for one attempt: an index of m, or -1 when n is 0. When no
 * member is available those whose circuit is closed are considered (the
 * caller's gates then make the attempt wait for a place: a full member
 * is worth waiting for, a broken one is not), and when every circuit is
 * open all are (the chain's next entry then). rnd: a random number, the
 * one source of chance. */
int gf_router_pick(gf_group_policy_t policy, const gf_group_member_t *m, int n,
                   apr_uint32_t rnd);

/* The running average after one more value (avg < 0: none yet). */
double gf_router_average(double avg, double value);

/* ---- what the glue keeps between choices (a child's copies) ---------- */

/* How long a child keeps a group's measures before it reads them again:
 * with the other nodes' calls written every half second, a choice sees
 * them within a second. */
#define GF_ROUTER_MEASURES_FOR apr_time_from_msec(500)
#define GF_ROUTER_CACHED_GROUPS 32
#define GF_ROUTER_KEY_MAX 1200

/* What the site measured of a group's members (by their index). */
typedef struct {
    char key[GF_ROUTER_KEY_MAX]; /* the group's text; "" free */
    apr_time_t read_at;
    double latency[GF_GROUP_MEMBERS_MAX], cost[GF_GROUP_MEMBERS_MAX];
    int others[GF_GROUP_MEMBERS_MAX];  /* calls the other nodes have open */
    int jobs[GF_GROUP_MEMBERS_MAX];    /* jobs running on every node (-1: none counted) */
} gf_router_measures_t;

/* Nothing measured: latency and cost -1, no calls elsewhere, no jobs
 * counted. */
void gf_router_measures_init(gf_router_measures_t *m);
/* The cached copy of group key among cache (n): its index into *slot (-1
 * when none) and the oldest entry into *oldest (where a new one goes); 1
 * when the copy is less than GF_ROUTER_MEASURES_FOR old at now. */
int gf_router_measures_find(const gf_router_measures_t *cache, int n, const char *key,
                            apr_time_t now, int *slot, int *oldest);
/* One row of the group's statement (provider, latency, cost, calls open
 * elsewhere, jobs: NULL where none) into the members (names, n) it names. */
void gf_router_measures_row(gf_router_measures_t *m, const char *const *names, int n,
                            const char *const *row);
/* m stamped as read at now for group key: 0 when the key is too long to
 * be kept (the copy is then not cached). */
int gf_router_measures_stamp(gf_router_measures_t *m, const char *key, apr_time_t now);
/* Every copy read again at the next choice. */
void gf_router_measures_forget(gf_router_measures_t *cache, int n);
/* names (n) joined with "|", as the statements take a list. */
const char *gf_router_join(apr_pool_t *p, const char *const *names, int n);

/* Job slots (max_jobs=) that a hold found all taken: the member is left
 * out for GF_ROUTER_JOBS_FULL_FOR or until a job of it ends here; a row
 * that comes back to it within GF_ROUTER_JOBS_AGAIN_WITHIN of its hold's
 * "no" was not held back by the claim's gate and waits out the mark. */
#define GF_ROUTER_JOBS_FULL_FOR apr_time_from_sec(1)
#define GF_ROUTER_JOBS_AGAIN_WITHIN apr_time_from_msec(100)
#define GF_ROUTER_MARKS_MAX 64
typedef struct {
    const char *name;            /* NULL: free (the configuration's string) */
    apr_time_t full_at;
    apr_time_t deferred_at;      /* when its hold last sent a row back ... */
    char deferred_id[40];        /* ... and which */
} gf_router_mark_t;
typedef struct {
    gf_router_mark_t each[GF_ROUTER_MARKS_MAX];
} gf_router_marks_t;

/* name's mark, or NULL. */
gf_router_mark_t *gf_router_mark_of(gf_router_marks_t *marks, const char *name);
/* name marked full at now: its mark, or NULL when no entry was free. */
gf_router_mark_t *gf_router_mark_full(gf_router_marks_t *marks, const char *name, apr_time_t now);
/* Is m in force at now? (A clock that stepped back lapses it.) */
int gf_router_marked(const gf_router_mark_t *m, apr_time_t now);
/* A hold of row id found every slot of name taken at now: name marked
 * full; 1 when the same row came back within GF_ROUTER_JOBS_AGAIN_WITHIN
 * (or no mark could be kept). */
int gf_router_mark_deferred(gf_router_marks_t *marks, const char *name, const char *id,
                            apr_time_t now);
/* A job of name ended here: its mark goes. */
void gf_router_mark_ended(gf_router_marks_t *marks, const char *name);
/* 0 while name is marked full at now (*until, when given: when the mark
 * lapses), else 1. */
int gf_router_mark_room(gf_router_marks_t *marks, const char *name, apr_time_t now,
                        apr_time_t *until);

/* ---- a choice's inputs ---------------------------------------------- */

/* What the glue knows of one member of a group at a choice. */
typedef struct {
    int declared;                /* declared on the choosing server */
    int weight;
    double cost_per_call;        /* cost=, 0 when not set */
    int max_jobs;                /* max_jobs=, 0 when not set */
    int available;               /* its circuit, limits, job slots and budget allow a call */
    int closed;                  /* its circuit is not open */
    int calls_open;              /* this httpd's calls open to it */
} gf_router_input_t;

/* The choice's view of member i from what the glue knows (in) and what
 * the site measured (ms): an undeclared member is down (never before a
 * declared one); a member with max_jobs= and a count is as busy as its
 * jobs running and not available while they fill its slots; the others
 * are as busy as the calls open to them on every node. */
void gf_router_member(gf_group_member_t *out, const gf_router_input_t *in,
                      const gf_router_measures_t *ms, int i);
/* Is no member of the choice (m, n) available? Then each member whose
 * job slots the database's count shows all taken
 * (gf_router_slots_taken: in is member i's) is marked full, so that the
 * group's rows wait here until a job of it ends (or the mark lapses)
 * instead of each claim finding one more member full. */
int gf_router_none_available(const gf_group_member_t *m, int n);
int gf_router_slots_taken(const gf_router_input_t *in, const gf_router_measures_t *ms, int i);
/* gf_router_pick, then never an undeclared member while a declared one
 * is (the first declared instead); -1 when none. */
int gf_router_pick_declared(gf_group_policy_t policy, const gf_group_member_t *m,
                            const gf_router_input_t *in, int n, apr_uint32_t rnd);

/* A member's state for a group's room: declared, its circuit closed,
 * whether it has max_jobs=, whether its slots have room and, when not,
 * when its mark lapses. */
typedef struct {
    int declared, closed, max_jobs, room;
    apr_time_t lapse;
} gf_router_room_t;
/* May a member of the group take a job? 1 when one may (or every declared
 * circuit is open: the attempt goes on to the chain's next entry); 0 when
 * each declared member with its circuit closed has its slots marked full,
 * and *until (when given) is the first lapse. */
int gf_router_group_room_of(const gf_router_room_t *r, int n, apr_time_t *until);

/* ---- this httpd's calls open, written for the other nodes ------------ */

#define GF_ROUTER_TOLD_INSTANCES 4
/* One member name's line: the sum of its instances' calls open. */
typedef struct {
    const char *name;
    int open, changed;
    const void *ids[GF_ROUTER_TOLD_INSTANCES];  /* the instances counted (the glue's) */
    int slots[GF_ROUTER_TOLD_INSTANCES];        /* and their slots of shared memory */
    int opens[GF_ROUTER_TOLD_INSTANCES];        /* and their counts, as written */
    int nprovs;
} gf_router_told_t;
/* An instance (id, its slot: two instances of one slot are one) of name
 * with open calls open, told_before written last time, into its name's
 * line of told (*n lines, at most max): each counted once. */
void gf_router_count_in(gf_router_told_t *told, int *n, int max, const char *name,
                        const void *id, int slot, int open, int told_before);
/* The lines to write (those with calls open, and those whose calls ended
 * since the last write): names and counts, "|"-joined; 0 when none. */
int gf_router_told_args(apr_pool_t *p, const gf_router_told_t *told, int n, const char **names,
                        const char **opens);

#endif
