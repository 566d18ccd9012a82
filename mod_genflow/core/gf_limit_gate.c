/* SPDX-License-Identifier: Apache-2.0 */
/* gf_limit_gate.c: a provider's gate over its slot (see gf_limit_gate.h):
 * the rules the glue applies under its mutex, kept here so that the
 * time, the holders and the slots are plain values a test can set. */
#include <stdlib.h>
#include <string.h>
#include <apr_atomic.h>
#include <apr_strings.h>

#include "core/gf_limit_gate.h"
#include "core/gf_credits.h"

int gf_limit_per_site(const gf_limit_conf_t *c)
{
    return c && gf_limit_any(c) && !c->per_node;
}

int gf_limit_slot_take(const gf_limit_conf_t *c, gf_limit_state_t *st, apr_time_t now,
                       const gf_limit_who_t *who)
{
    apr_time_t next;
    if (gf_limit_take(c, st, now, who->pid, &next)) return 1;
    if (next || now - st->reaped_at < GF_LIMIT_REAP_EVERY) return 0;
    st->reaped_at = now;
    return gf_limit_reap(&st->calls, who->alive, who->baton) > 0
           && gf_limit_take(c, st, now, who->pid, &next);
}

int gf_limit_gate_decide(gf_limit_slot_t *slot, const gf_limit_conf_t *c, apr_time_t now,
                         int hand_on, int want, const gf_limit_who_t *who, int *taken)
{
    if (slot->st.paused_until > now) return 0;
    if (gf_limit_per_site(c)) {
        return hand_on || (slot->blocked_until <= now && slot->full_until <= now);
    }
    if (!gf_limit_any(c)) return 1;
    while (*taken < want && gf_limit_slot_take(c, &slot->st, now, who)) (*taken)++;
    return *taken > 0;
}

int gf_limit_slot_may_wake(gf_limit_slot_t *slot, const gf_limit_conf_t *c, apr_time_t now)
{
    int blocked;
    if (slot->st.paused_until > now) blocked = 1;
    else if (gf_limit_per_site(c)) {
        blocked = slot->blocked_until > now || slot->full_until > now;
        if (!blocked && slot->full_until) {
            /* The last claim found it full and that has lapsed: one look
             * answers for every child, so the first listener to hear of
             * work asks for it and the others wait for its answer (the
             * claim's gate renews or clears full_until). */
            blocked = slot->look_until > now;
            if (!blocked) slot->look_until = now + GF_LIMIT_FULL_FOR;
        }
    }
    else blocked = gf_limit_any(c) && !gf_limit_room(c, &slot->st, now);
    return !blocked;
}

apr_time_t gf_limit_slots_next_unblock(const gf_limit_slot_t *slots, int n, apr_time_t now)
{
    apr_time_t next = 0;
    int i;
    for (i = 0; i < n; i++) {
        const gf_limit_slot_t *slot = &slots[i];
        apr_time_t t = slot->blocked_until > slot->st.paused_until ? slot->blocked_until
                                                                   : slot->st.paused_until;
        if (!slot->key[0] || t <= now) continue;
        if (!next || t < next) next = t;
    }
    return next;
}

int gf_limit_gate_room(const gf_limit_conf_t *c, int taken, int want)
{
    if (gf_limit_any(c) && c->per_node) return taken < want ? taken : want;
    return want;
}

gf_limit_said_t gf_limit_gate_said(const char *state, const char *until_ms, apr_time_t now,
                                   apr_time_t *until)
{
    *until = 0;
    if (!state) return GF_LIMIT_SAID_NOTHING;
    if (!strcmp(state, "open")) return GF_LIMIT_SAID_OPEN;
    if (!strcmp(state, "full")) return GF_LIMIT_SAID_FULL;
    if (!strcmp(state, "busy")) {
        /* A free place stayed locked through the claim's tries (a
         * statement slower than a claim's holds it): look again soon. */
        *until = now + GF_LIMIT_BUSY_AGAIN;
        return GF_LIMIT_SAID_BLOCKED;
    }
    if (strcmp(state, "rate") && strcmp(state, "paused")) return GF_LIMIT_SAID_NOTHING;
    *until = until_ms ? apr_time_from_msec(apr_atoi64(until_ms)) : 0;
    /* Another claim held the gate for the moment (or it was not made
     * yet): look again very soon. */
    if (*until <= now) *until = now + apr_time_from_msec(2);
    if (*until > now + GF_LIMIT_PAUSE_MAX) *until = now + GF_LIMIT_PAUSE_MAX;
    return GF_LIMIT_SAID_BLOCKED;
}

void gf_limit_slot_note(gf_limit_slot_t *slot, gf_limit_said_t said, apr_time_t until,
                        apr_time_t now)
{
    switch (said) {
    case GF_LIMIT_SAID_OPEN:
        slot->full_until = slot->look_until = 0;
        break;
    case GF_LIMIT_SAID_FULL:
        slot->full_until = now + GF_LIMIT_FULL_FOR;
        break;
    case GF_LIMIT_SAID_BLOCKED:
        if (until > slot->blocked_until) slot->blocked_until = until;
        break;
    default:
        break;
    }
}

void gf_limit_slot_no_room(gf_limit_slot_t *slot, apr_interval_time_t spacing, apr_time_t now)
{
    if (spacing > 0) {
        if (now + spacing > slot->blocked_until) slot->blocked_until = now + spacing;
    }
    else {
        slot->full_until = now + GF_LIMIT_FULL_FOR;
    }
}

int gf_limit_slot_pause(gf_limit_slot_t *slot, apr_time_t until)
{
    int extended = until > slot->st.paused_until;
    gf_limit_pause(&slot->st, until);
    if (until > slot->blocked_until) slot->blocked_until = until;
    return extended;
}

void gf_limit_slot_freed(gf_limit_slot_t *slot)
{
    slot->full_until = slot->look_until = 0;
}

int gf_limit_slot_hold(const gf_limit_conf_t *c, gf_limit_state_t *st, apr_time_t now,
                       const gf_limit_who_t *who, apr_time_t *next)
{
    *next = 0;
    if (!gf_limit_any(c)) {
        *next = st->paused_until;
        return st->paused_until <= now;
    }
    if (gf_limit_slot_take(c, st, now, who)) return 1;
    *next = st->paused_until;
    return 0;
}

apr_interval_time_t gf_limit_hold_defer(int ok, apr_time_t next, apr_time_t now)
{
    apr_interval_time_t defer = apr_time_from_sec(1);
    /* Due again when the pause ends (or in a second: a call's end or the
     * rate's window frees a place sooner than anyone can tell). */
    if (!ok && next > now + defer) defer = next - now;
    return defer > GF_LIMIT_PAUSE_MAX ? GF_LIMIT_PAUSE_MAX : defer;
}

void gf_limit_average_in(volatile apr_uint32_t *ms, apr_interval_time_t took)
{
    apr_interval_time_t avg = gf_limit_call_average(apr_time_from_msec(apr_atomic_read32(ms)),
                                                    took);
    apr_atomic_set32(ms, (apr_uint32_t)(apr_time_as_msec(avg) > 0 ? apr_time_as_msec(avg) : 1));
}

void gf_limit_slot_calls_reap(gf_limit_slot_t *slot, apr_time_t now, const gf_limit_who_t *who)
{
    if (now - slot->calls_reaped_at < GF_LIMIT_REAP_EVERY) return;
    slot->calls_reaped_at = now;
    gf_limit_reap(&slot->calls, who->alive, who->baton);
}

int gf_limit_slot_for(gf_limit_slot_t *slots, int n, const char *key,
                      int (*declared)(const char *key, void *baton), void *dbaton,
                      const gf_limit_who_t *who)
{
    int i, free_one = -1;
    for (i = 0; free_one < 0 && i < n; i++) {
        if (!strncmp(slots[i].key, key, GF_LIMIT_KEY_MAX)) free_one = i;
    }
    if (free_one >= 0) return free_one;
    for (i = 0; free_one < 0 && i < n; i++) {
        if (!slots[i].key[0]) free_one = i;
    }
    /* A slot of a provider no longer declared, once none of its calls is
     * open (a process that died with one open counts nothing). */
    for (i = 0; free_one < 0 && i < n; i++) {
        gf_limit_reap(&slots[i].st.calls, who->alive, who->baton);
        gf_limit_reap(&slots[i].calls, who->alive, who->baton);
        if (!declared(slots[i].key, dbaton) && slots[i].st.calls.open == 0
            && slots[i].calls.open == 0) {
            free_one = i;
        }
    }
    if (free_one >= 0) {
        memset(&slots[free_one], 0, sizeof(slots[free_one]));
        apr_cpystrn(slots[free_one].key, key, sizeof(slots[free_one].key));
    }
    return free_one;
}

json_object *gf_limit_health_json(apr_pool_t *p, const gf_limit_conf_t *c, apr_uint32_t open,
                                  apr_time_t paused, apr_time_t now)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "maxConcurrent",
                           c->max_concurrent ? json_object_new_int(c->max_concurrent) : NULL);
    json_object_object_add(o, "maxJobs", c->max_jobs ? json_object_new_int(c->max_jobs) : NULL);
    json_object_object_add(o, "rate", c->rate_n
                           ? json_object_new_string(apr_psprintf(p, "%d/%" APR_TIME_T_FMT,
                                                                 c->rate_n,
                                                                 apr_time_sec(c->rate_window)))
                           : NULL);
    json_object_object_add(o, "scope", json_object_new_string(c->per_node ? "node" : "site"));
    json_object_object_add(o, "open", json_object_new_int((int)open));
    json_object_object_add(o, "pausedUntil", paused > now
                           ? json_object_new_string(gf_time_rfc3339(p, paused)) : NULL);
    return o;
}

const char *gf_limit_paused_text(apr_pool_t *p, apr_time_t paused, apr_time_t now)
{
    return apr_psprintf(p, "%.3f", paused > now ? (double)(paused - now) / APR_USEC_PER_SEC : 0.0);
}
