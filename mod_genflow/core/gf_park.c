/* SPDX-License-Identifier: Apache-2.0 */
/* gf_park.c: the queue of a child's parked requests and their timing (see
 * gf_park.h); the MPM's side stays in httpd/watch/mod_genflow_watch.c. */
#include <stdlib.h>
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "core/gf_park.h"

typedef struct {
    char id[GF_PARK_ID_MAX];
    gf_park_rec_t *first;
} id_bucket_t;

void gf_park_init(gf_park_t *k, apr_pool_t *hash_pool, int park_max, int blocking_cap,
                  int (*released)(const gf_park_rec_t *p), int (*hand)(gf_park_rec_t *p))
{
    memset(k, 0, sizeof(*k));
    k->by_id = apr_hash_make(hash_pool);
    k->park_max = park_max;
    k->blocking_cap = blocking_cap;
    k->released = released;
    k->hand = hand;
}

apr_interval_time_t gf_park_backstop(int listening)
{
    return listening ? GF_PARK_BACKSTOP_LISTENING : GF_PARK_BACKSTOP_DEAF;
}

apr_interval_time_t gf_park_look_in(apr_interval_time_t look, apr_interval_time_t backstop)
{
    return look > 0 ? look : backstop;
}

apr_interval_time_t gf_park_spread(apr_interval_time_t period, apr_uint32_t draw)
{
    if (period < 2) return period;
    return period / 2 + (apr_interval_time_t)(draw % (apr_uint32_t)(period / 2));
}

apr_interval_time_t gf_park_spread_random(apr_interval_time_t period)
{
    apr_uint32_t r = 0;
    if (period < 2) return period;
    if (apr_generate_random_bytes((unsigned char *)&r, sizeof(r)) != APR_SUCCESS) r = 0;
    return gf_park_spread(period, r);
}

gf_park_rec_t *gf_park_rec_new(apr_size_t size, const char *id, apr_time_t deadline,
                               apr_interval_time_t beat, apr_interval_time_t look,
                               apr_interval_time_t backstop, apr_time_t now)
{
    gf_park_rec_t *p;

    if (size < sizeof(*p) || !(p = calloc(1, size))) return NULL;
    apr_cpystrn(p->id, id, sizeof(p->id));
    p->deadline = deadline;
    p->beat = beat;
    p->next_beat = now + gf_park_spread_random(beat);
    p->next_look = now + (look > 0 ? look : gf_park_spread_random(backstop));
    return p;
}

apr_time_t gf_park_first_time(const gf_park_rec_t *p)
{
    apr_time_t t = p->deadline;
    if (p->beat && p->next_beat < t) t = p->next_beat;
    if (p->next_look < t) t = p->next_look;
    return t;
}

int gf_park_settled(const gf_park_t *k, const gf_park_rec_t *p, apr_time_t now)
{
    apr_interval_time_t since = now - p->suspended_at;
    if (!p->suspended_at || since < GF_PARK_SETTLE_GAP) return 0;
    return k->released(p) || since >= 10 * GF_PARK_SETTLE_GAP;
}

void gf_park_enqueue(gf_park_t *k, gf_park_rec_t *p)
{
    if (p->queued || p->state != GF_PARK_PARKED) return;
    p->queued = 1;
    p->due_next = NULL;
    if (k->due_tail) k->due_tail->due_next = p;
    else k->due_head = p;
    k->due_tail = p;
}

int gf_park_add(gf_park_t *k, gf_park_rec_t *p)
{
    id_bucket_t *b;

    if (k->parked >= k->park_max || k->stopping) return 0;
    b = apr_hash_get(k->by_id, p->id, APR_HASH_KEY_STRING);
    if (!b) {
        if (!(b = calloc(1, sizeof(*b)))) return 0;
        apr_cpystrn(b->id, p->id, sizeof(b->id));
        apr_hash_set(k->by_id, b->id, APR_HASH_KEY_STRING, b);
    }
    p->id_next = b->first;
    b->first = p;
    p->next = k->all;
    if (k->all) k->all->prev = p;
    k->all = p;
    k->parked++;
    if (gf_park_first_time(p) < k->next_time || !k->next_time) k->next_time = gf_park_first_time(p);
    return 1;
}

void gf_park_remove(gf_park_t *k, gf_park_rec_t *p)
{
    id_bucket_t *b = apr_hash_get(k->by_id, p->id, APR_HASH_KEY_STRING);
    gf_park_rec_t **pp;

    if (b) {
        for (pp = &b->first; *pp; pp = &(*pp)->id_next) {
            if (*pp == p) {
                *pp = p->id_next;
                break;
            }
        }
        if (!b->first) {
            apr_hash_set(k->by_id, b->id, APR_HASH_KEY_STRING, NULL);
            free(b);
        }
    }
    if (p->prev) p->prev->next = p->next;
    else k->all = p->next;
    if (p->next) p->next->prev = p->prev;
    k->parked--;
    p->state = GF_PARK_DEAD;
    p->next = k->dead;
    k->dead = p;
}

/* A record the due queue still links is not freed (the child-stopping
 * path finishes records without taking them off it): gf_park_hand_over
 * unlinks it first, a later pass frees it. */
void gf_park_free_dead(gf_park_t *k, int all)
{
    gf_park_rec_t **pp = &k->dead;
    while (*pp) {
        gf_park_rec_t *p = *pp;
        if (p->queued && !all) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        free(p);
    }
}

int gf_park_repark(gf_park_t *k, gf_park_rec_t *p, unsigned woke, apr_interval_time_t look_in,
                   apr_time_t now)
{
    p->state = GF_PARK_PARKED;
    if (woke & GF_PARK_WOKE_BEAT) p->next_beat = now + p->beat;
    if ((woke & GF_PARK_WOKE_CHANGE) || now + look_in < p->next_look) {
        p->next_look = now + look_in;
    }
    if (k->stopping) p->woke |= GF_PARK_WOKE_STOP;
    if (p->woke) {
        gf_park_enqueue(k, p);
        return 1;
    }
    if (gf_park_first_time(p) < k->next_time) {
        k->next_time = gf_park_first_time(p);
        return 1;
    }
    return 0;
}

void gf_park_gone(gf_park_t *k, gf_park_rec_t *p)
{
    if (p->state == GF_PARK_DEAD) return;
    p->woke |= GF_PARK_WOKE_GONE;
    gf_park_enqueue(k, p);
}

int gf_park_changed(gf_park_t *k, const char *id)
{
    gf_park_rec_t *p;
    int any = 0;

    if (id) {
        id_bucket_t *b = apr_hash_get(k->by_id, id, APR_HASH_KEY_STRING);
        for (p = b ? b->first : NULL; p; p = p->id_next) {
            p->woke |= GF_PARK_WOKE_CHANGE;
            gf_park_enqueue(k, p);
            any = 1;
        }
    }
    else {
        for (p = k->all; p; p = p->next) {
            p->woke |= GF_PARK_WOKE_CHANGE;
            gf_park_enqueue(k, p);
            any = 1;
        }
    }
    return any;
}

void gf_park_scan(gf_park_t *k, apr_time_t now)
{
    apr_time_t next = now + apr_time_from_sec(1);
    gf_park_rec_t *p;

    for (p = k->all; p; p = p->next) {
        unsigned woke = 0;
        if (p->state != GF_PARK_PARKED || p->queued) continue;
        if (now >= p->deadline) woke |= GF_PARK_WOKE_DEADLINE;
        if (p->beat && now >= p->next_beat) woke |= GF_PARK_WOKE_BEAT;
        if (now >= p->next_look) woke |= GF_PARK_WOKE_CHANGE;
        if (k->stopping) woke |= GF_PARK_WOKE_STOP;
        if (woke) {
            p->woke |= woke;
            gf_park_enqueue(k, p);
        }
        else if (gf_park_first_time(p) < next) {
            next = gf_park_first_time(p);
        }
    }
    k->next_time = next < now + GF_PARK_SCAN_GAP ? now + GF_PARK_SCAN_GAP : next;
}

void gf_park_hand_over(gf_park_t *k, apr_time_t now)
{
    int budget = k->stopping ? GF_PARK_WAKE_BATCH_STOP : GF_PARK_WAKE_BATCH;
    gf_park_rec_t *p, *waiting = NULL, *waiting_tail = NULL;

    while (budget > 0 && (p = k->due_head) != NULL) {
        k->due_head = p->due_next;
        if (!k->due_head) k->due_tail = NULL;
        if (p->state != GF_PARK_PARKED) {
            /* Taken by the child-stopping path meanwhile. */
            p->queued = 0;
            continue;
        }
        if (!gf_park_settled(k, p, now)) {
            /* The MPM still has the connection: later. */
            p->due_next = NULL;
            if (waiting_tail) waiting_tail->due_next = p;
            else waiting = p;
            waiting_tail = p;
            continue;
        }
        p->queued = 0;
        p->state = GF_PARK_HANDED;
        p->handed = p->woke;
        p->woke = 0;
        if (!k->hand(p)) {
            /* Never seen: the probe said yes. Try again next round. */
            p->state = GF_PARK_PARKED;
            p->woke = p->handed;
            gf_park_enqueue(k, p);
            break;
        }
        budget--;
    }
    if (waiting) {
        waiting_tail->due_next = k->due_head;
        k->due_head = waiting;
        if (!k->due_tail) k->due_tail = waiting_tail;
    }
}

int gf_park_timeout_ms(const gf_park_t *k, apr_time_t now)
{
    apr_interval_time_t d;

    if (k->due_head) return GF_PARK_WAKE_GAP_MS;
    if (!k->all) return 1000;
    d = k->next_time - now;
    return d <= 0 ? 0 : d > apr_time_from_sec(1) ? 1000 : (int)apr_time_as_msec(d) + 1;
}

gf_park_rec_t *gf_park_stop(gf_park_t *k, apr_time_t now)
{
    gf_park_rec_t *p, *mine = NULL;

    k->stopping = 1;
    k->next_time = 0;
    for (p = k->all; p; p = p->next) {
        if (p->state != GF_PARK_PARKED) continue;
        p->woke |= GF_PARK_WOKE_STOP;
        if (!gf_park_settled(k, p, now)) continue;
        p->state = GF_PARK_HANDED;
        p->handed = p->woke;
        p->woke = 0;
        p->stop_next = mine;
        mine = p;
    }
    return mine;
}

int gf_park_blocking_enter(gf_park_t *k)
{
    int ok = k->blocking < k->blocking_cap && !k->stopping;
    if (ok) k->blocking++;
    return ok;
}

void gf_park_blocking_leave(gf_park_t *k)
{
    k->blocking--;
}

apr_time_t gf_park_blocking_until(apr_time_t now, apr_time_t deadline, apr_interval_time_t beat,
                                  apr_time_t next_beat, apr_interval_time_t look)
{
    apr_time_t until = deadline;
    if (beat && next_beat < until) until = next_beat;
    if (look > 0 && now + look < until) until = now + look;
    return until;
}

unsigned gf_park_blocking_woke(apr_time_t now, apr_time_t deadline, apr_interval_time_t beat,
                               apr_time_t *next_beat, int stopping)
{
    unsigned woke = GF_PARK_WOKE_CHANGE;
    if (now >= deadline) woke |= GF_PARK_WOKE_DEADLINE;
    if (beat && now >= *next_beat) {
        woke |= GF_PARK_WOKE_BEAT;
        *next_beat = now + beat;
    }
    if (stopping) woke |= GF_PARK_WOKE_STOP;
    return woke;
}
