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

#endif
