/* SPDX-License-Identifier: Apache-2.0 */
/* gf_router.c: the choice among a group's members (see gf_router.h). */
#include <string.h>

#include "core/gf_router.h"

static const char *const NAMES[] = { NULL, "latency", "cost", "least-busy", "shuffle" };

gf_group_policy_t gf_group_policy_parse(const char *name)
{
    int i;
    for (i = GF_GROUP_LATENCY; i <= GF_GROUP_SHUFFLE; i++) {
        if (name && !strcmp(name, NAMES[i])) return (gf_group_policy_t)i;
    }
    return GF_GROUP_NONE;
}

const char *gf_group_policy_name(gf_group_policy_t policy)
{
    return policy >= GF_GROUP_LATENCY && policy <= GF_GROUP_SHUFFLE ? NAMES[policy] : NULL;
}

double gf_router_average(double avg, double value)
{
    return avg < 0 ? value : avg + GF_GROUP_ALPHA * (value - avg);
}

/* A member's share of the draw under the policy, among the candidates
 * (0: not drawn). best: the policy's best value among them. */
static double share(gf_group_policy_t policy, const gf_group_member_t *m, int unknown,
                    double best)
{
    double w = m->weight > 0 ? m->weight : 1;
    switch (policy) {
    case GF_GROUP_LATENCY:
        if (unknown) return m->latency_ms < 0 ? w : 0;
        return w / ((m->latency_ms + 1) * (m->latency_ms + 1));
    case GF_GROUP_COST:
        if (unknown) return m->cost < 0 ? w : 0;
        return m->cost <= best ? w : 0;
    case GF_GROUP_LEAST_BUSY:
        return m->busy <= best ? w : 0;
    default:
        return w;
    }
}

/* How far a member is from taking a call: 0 it may now; 1 it is full
 * (its call or its job waits for a place); 2 its circuit is open (the
 * call would fail over to the chain's next entry). */
static int tier(const gf_group_member_t *m)
{
    return m->available ? 0 : m->down ? 2 : 1;
}

int gf_router_pick(gf_group_policy_t policy, const gf_group_member_t *m, int n, apr_uint32_t rnd)
{
    double shares[GF_GROUP_MEMBERS_MAX], total = 0, best = 0, at;
    int low = 2, unknown = 0, i, first = 1;

    if (n <= 0) return -1;
    if (n > GF_GROUP_MEMBERS_MAX) n = GF_GROUP_MEMBERS_MAX;
    /* The candidates: the members nearest to taking a call. */
    for (i = 0; i < n; i++) {
        if (tier(&m[i]) < low) low = tier(&m[i]);
    }
    /* The policy's best value, and whether a member is still unmeasured,
     * among the candidates. */
    for (i = 0; i < n; i++) {
        double v;
        if (tier(&m[i]) != low) continue;
        if (policy == GF_GROUP_LATENCY) unknown |= m[i].latency_ms < 0;
        if (policy == GF_GROUP_COST) unknown |= m[i].cost < 0;
        v = policy == GF_GROUP_COST ? m[i].cost : (double)m[i].busy;
        if (v >= 0 && (first || v < best)) {
            best = v;
            first = 0;
        }
    }
    for (i = 0; i < n; i++) {
        shares[i] = tier(&m[i]) != low ? 0 : share(policy, &m[i], unknown, best);
        total += shares[i];
    }
    if (total <= 0) return 0;
    at = (double)rnd / 4294967296.0 * total;
    for (i = 0; i < n; i++) {
        if (shares[i] <= 0) continue;
        if (at < shares[i]) return i;
        at -= shares[i];
    }
    /* Rounding left the draw past the end: the last drawn member. */
    for (i = n - 1; i > 0 && shares[i] <= 0; i--) ;
    return i;
}
