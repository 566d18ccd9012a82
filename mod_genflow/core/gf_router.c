/* SPDX-License-Identifier: Apache-2.0 */
/* gf_router.c: the choice among a group's members (see gf_router.h). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

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

void gf_router_measures_init(gf_router_measures_t *m)
{
    int i;
    for (i = 0; i < GF_GROUP_MEMBERS_MAX; i++) {
        m->latency[i] = m->cost[i] = -1;
        m->others[i] = 0;
        m->jobs[i] = -1;
    }
}

int gf_router_measures_find(const gf_router_measures_t *cache, int n, const char *key,
                            apr_time_t now, int *slot, int *oldest)
{
    int i;
    *slot = -1;
    *oldest = 0;
    for (i = 0; i < n; i++) {
        if (!strcmp(cache[i].key, key)) {
            *slot = i;
            break;
        }
        if (cache[i].read_at < cache[*oldest].read_at) *oldest = i;
    }
    return *slot >= 0 && now - cache[*slot].read_at < GF_ROUTER_MEASURES_FOR;
}

void gf_router_measures_row(gf_router_measures_t *m, const char *const *names, int n,
                            const char *const *row)
{
    int i;
    for (i = 0; i < n && i < GF_GROUP_MEMBERS_MAX; i++) {
        if (strcmp(row[0], names[i])) continue;
        m->latency[i] = row[1] ? strtod(row[1], NULL) : -1;
        m->cost[i] = row[2] ? strtod(row[2], NULL) : -1;
        m->others[i] = row[3] ? atoi(row[3]) : 0;
        m->jobs[i] = row[4] ? atoi(row[4]) : -1;
    }
}

int gf_router_measures_stamp(gf_router_measures_t *m, const char *key, apr_time_t now)
{
    if (strlen(key) >= sizeof(m->key)) return 0;
    apr_cpystrn(m->key, key, sizeof(m->key));
    m->read_at = now;
    return 1;
}

void gf_router_measures_forget(gf_router_measures_t *cache, int n)
{
    int i;
    for (i = 0; i < n; i++) cache[i].read_at = 0;
}

const char *gf_router_join(apr_pool_t *p, const char *const *names, int n)
{
    const char *out = NULL;
    int i;
    for (i = 0; i < n; i++) out = out ? apr_pstrcat(p, out, "|", names[i], NULL) : names[i];
    return out;
}

gf_router_mark_t *gf_router_mark_of(gf_router_marks_t *marks, const char *name)
{
    int i;
    for (i = 0; i < GF_ROUTER_MARKS_MAX && marks->each[i].name; i++) {
        if (!strcmp(marks->each[i].name, name)) return &marks->each[i];
    }
    return NULL;
}

gf_router_mark_t *gf_router_mark_full(gf_router_marks_t *marks, const char *name, apr_time_t now)
{
    gf_router_mark_t *m = gf_router_mark_of(marks, name);
    int i;
    if (!m) {
        for (i = 0; i < GF_ROUTER_MARKS_MAX && marks->each[i].name; i++) ;
        if (i == GF_ROUTER_MARKS_MAX) return NULL;
        m = &marks->each[i];
        m->name = name;
    }
    m->full_at = now;
    return m;
}

int gf_router_marked(const gf_router_mark_t *m, apr_time_t now)
{
    return m && m->full_at && now >= m->full_at && now - m->full_at < GF_ROUTER_JOBS_FULL_FOR;
}

int gf_router_mark_deferred(gf_router_marks_t *marks, const char *name, const char *id,
                            apr_time_t now)
{
    gf_router_mark_t *m = gf_router_mark_full(marks, name, now);
    int again;
    if (!m) return 1;
    again = m->deferred_at && now >= m->deferred_at
            && now - m->deferred_at < GF_ROUTER_JOBS_AGAIN_WITHIN && !strcmp(m->deferred_id, id);
    m->deferred_at = now;
    apr_cpystrn(m->deferred_id, id, sizeof(m->deferred_id));
    return again;
}

void gf_router_mark_ended(gf_router_marks_t *marks, const char *name)
{
    gf_router_mark_t *m = gf_router_mark_of(marks, name);
    if (m) m->full_at = 0;
}

int gf_router_mark_room(gf_router_marks_t *marks, const char *name, apr_time_t now,
                        apr_time_t *until)
{
    const gf_router_mark_t *m = gf_router_mark_of(marks, name);
    if (!gf_router_marked(m, now)) return 1;
    if (until) *until = m->full_at + GF_ROUTER_JOBS_FULL_FOR;
    return 0;
}

void gf_router_member(gf_group_member_t *out, const gf_router_input_t *in,
                      const gf_router_measures_t *ms, int i)
{
    memset(out, 0, sizeof(*out));
    out->weight = in->weight;
    out->latency_ms = ms->latency[i];
    out->cost = in->declared && in->cost_per_call > 0 ? in->cost_per_call : ms->cost[i];
    if (!in->declared) {
        out->down = 1;   /* not declared here: never before a declared one */
        return;
    }
    out->available = in->available;
    out->down = !in->closed;
    if (in->max_jobs > 0 && ms->jobs[i] >= 0) {
        /* A member that runs jobs: its load is its jobs running. */
        out->busy = ms->jobs[i];
        if (ms->jobs[i] >= in->max_jobs) out->available = 0;
    }
    else {
        out->busy = in->calls_open + ms->others[i];
    }
}

int gf_router_none_available(const gf_group_member_t *m, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        if (m[i].available) return 0;
    }
    return 1;
}

int gf_router_slots_taken(const gf_router_input_t *in, const gf_router_measures_t *ms, int i)
{
    return in->declared && in->max_jobs > 0 && ms->jobs[i] >= in->max_jobs;
}

int gf_router_pick_declared(gf_group_policy_t policy, const gf_group_member_t *m,
                            const gf_router_input_t *in, int n, apr_uint32_t rnd)
{
    int pick = gf_router_pick(policy, m, n, rnd);
    if (pick >= 0 && !in[pick].declared) {
        for (pick = 0; pick < n && !in[pick].declared; pick++) ;
    }
    return pick < 0 || pick >= n ? -1 : pick;
}

int gf_router_group_room_of(const gf_router_room_t *r, int n, apr_time_t *until)
{
    apr_time_t first = 0;
    int i, full = 0;
    for (i = 0; i < n; i++) {
        /* A member not declared here, or whose circuit is open, takes no
         * job while another may (gf_router_pick): it gives the group no
         * room. */
        if (!r[i].declared || !r[i].closed) continue;
        if (!r[i].max_jobs || r[i].room) return 1;
        full = 1;
        if (!first || r[i].lapse < first) first = r[i].lapse;
    }
    /* Every circuit open: the attempt goes on (to the chain's next
     * entry). */
    if (!full) return 1;
    if (until) *until = first;
    return 0;
}

void gf_router_count_in(gf_router_told_t *told, int *n, int max, const char *name,
                        const void *id, int slot, int open, int told_before)
{
    gf_router_told_t *t;
    int i, j;
    for (i = 0; i < *n && strcmp(told[i].name, name); i++) ;
    if (i == *n) {
        if (*n == max) return;
        memset(&told[i], 0, sizeof(told[i]));
        told[i].name = name;
        (*n)++;
    }
    t = &told[i];
    /* The instances of a name in several servers are summed, each
     * counted once. */
    for (j = 0; j < t->nprovs; j++) {
        if (t->ids[j] == id || t->slots[j] == slot) return;
    }
    if (t->nprovs == GF_ROUTER_TOLD_INSTANCES) return;
    t->opens[t->nprovs] = open;
    t->slots[t->nprovs] = slot;
    t->ids[t->nprovs++] = id;
    t->open += open;
    if (open != told_before) t->changed = 1;
}

int gf_router_told_args(apr_pool_t *p, const gf_router_told_t *told, int n, const char **names,
                        const char **opens)
{
    int i, any = 0;
    *names = *opens = NULL;
    /* A member with calls open is written each time (its row stays
     * fresh); one whose calls ended, once (its row goes). */
    for (i = 0; i < n; i++) {
        if (!told[i].open && !told[i].changed) continue;
        *names = *names ? apr_pstrcat(p, *names, "|", told[i].name, NULL) : told[i].name;
        *opens = *opens ? apr_pstrcat(p, *opens, "|", apr_itoa(p, told[i].open), NULL)
                        : apr_itoa(p, told[i].open);
        any = 1;
    }
    return any;
}
