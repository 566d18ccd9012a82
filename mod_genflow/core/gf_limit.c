/* SPDX-License-Identifier: Apache-2.0 */
/* gf_limit.c: the rules of gf_limit.h. */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "core/gf_limit.h"
#include "core/gf_error.h"

const char GF_LIMIT_NOT_MINE[] = "not a limit";

static int whole(const char *s, long lo, long hi, long *v)
{
    char *end;
    long x;
    if (!s || !*s) return 0;
    x = strtol(s, &end, 10);
    if (*end || x < lo || x > hi) return 0;
    *v = x;
    return 1;
}

const char *gf_limit_option(apr_pool_t *p, gf_limit_conf_t *c, const char *key,
                            const char *value)
{
    long n, s;

    if (!strcmp(key, "max_concurrent")) {
        if (!whole(value, 1, 100000, &n)) {
            return "max_concurrent= takes a whole number of calls, 1..100000";
        }
        c->max_concurrent = (int)n;
        return NULL;
    }
    if (!strcmp(key, "max_jobs")) {
        if (!whole(value, 1, 100000, &n)) {
            return "max_jobs= takes a whole number of jobs, 1..100000";
        }
        c->max_jobs = (int)n;
        return NULL;
    }
    if (!strcmp(key, "rate")) {
        const char *slash = value ? strchr(value, '/') : NULL;
        if (!slash || !whole(apr_pstrndup(p, value, (apr_size_t)(slash - value)), 1,
                             GF_LIMIT_RATE_MAX, &n)
            || !whole(slash + 1, 1, 3600, &s)) {
            return apr_psprintf(p, "rate= takes N/S: at most N calls started in any S seconds "
                                "(N 1..%d, S 1..3600)", GF_LIMIT_RATE_MAX);
        }
        c->rate_n = (int)n;
        c->rate_window = apr_time_from_sec(s);
        return NULL;
    }
    if (!strcmp(key, "limits")) {
        if (value && !strcmp(value, "site")) c->per_node = 0;
        else if (value && !strcmp(value, "node")) c->per_node = 1;
        else return "limits= takes site (kept in the database, for every node together) or "
                    "node (each httpd counts alone)";
        return NULL;
    }
    return GF_LIMIT_NOT_MINE;
}

apr_interval_time_t gf_limit_spacing(const gf_limit_conf_t *c)
{
    apr_interval_time_t us;
    if (!c || c->rate_n <= 0) return 0;
    us = (c->rate_window + c->rate_n - 1) / c->rate_n;
    return us > 0 ? us : 1;
}

int gf_limit_any(const gf_limit_conf_t *c)
{
    return c && (c->max_concurrent > 0 || c->rate_n > 0);
}

#define WAIT_MAX apr_time_from_sec(86400)
#define ESTIMATE_STEP apr_time_from_sec(5)

apr_interval_time_t gf_limit_wait(const gf_limit_conf_t *c, apr_int64_t ahead,
                                  apr_interval_time_t recent_call)
{
    apr_interval_time_t wait = -1;
    if (!c || ahead < 0) return -1;
    if (c->max_concurrent > 0 && recent_call > 0) {
        apr_int64_t calls = ahead / c->max_concurrent + 1;
        wait = calls > WAIT_MAX / recent_call ? WAIT_MAX : calls * recent_call;
    }
    if (c->rate_n > 0) {
        apr_interval_time_t spacing = c->rate_window / c->rate_n;
        apr_interval_time_t w = spacing > 0 && ahead > WAIT_MAX / spacing ? WAIT_MAX
                                                                          : ahead * spacing;
        if (w > wait) wait = w;
    }
    return wait > WAIT_MAX ? WAIT_MAX : wait;
}

apr_time_t gf_limit_start_estimate(apr_time_t now, apr_interval_time_t wait)
{
    apr_time_t at = now + (wait > 0 ? wait : 0);
    return (at + ESTIMATE_STEP - 1) / ESTIMATE_STEP * ESTIMATE_STEP;
}

apr_interval_time_t gf_limit_call_average(apr_interval_time_t old, apr_interval_time_t took)
{
    if (took < 0) took = 0;
    if (old <= 0) return took;
    return old + (took - old) / 4;
}

/* Forget the starts that left the window. */
static void expire(const gf_limit_conf_t *c, gf_limit_state_t *st, apr_time_t now)
{
    while (st->count > 0 && st->starts[st->head] <= now - c->rate_window) {
        st->head = (st->head + 1) % GF_LIMIT_RATE_MAX;
        st->count--;
    }
}

/* 1 when a start is allowed at now; else 0 and *next as gf_limit_take. */
static int allowed(const gf_limit_conf_t *c, const gf_limit_state_t *st, apr_time_t now,
                   apr_time_t *next)
{
    apr_uint32_t live = 0, i;

    *next = 0;
    if (st->paused_until > now) {
        *next = st->paused_until;
        return 0;
    }
    if (c->max_concurrent > 0 && st->calls.open >= (apr_uint32_t)c->max_concurrent) {
        return 0;
    }
    if (c->rate_n > 0) {
        /* The starts still in the window (without changing the state). */
        for (i = 0; i < st->count; i++) {
            if (st->starts[(st->head + i) % GF_LIMIT_RATE_MAX] > now - c->rate_window) {
                live = st->count - i;
                break;
            }
        }
        if (live >= (apr_uint32_t)c->rate_n) {
            /* The oldest start in the window leaves it at: */
            *next = st->starts[(st->head + (st->count - live)) % GF_LIMIT_RATE_MAX]
                    + c->rate_window;
            return 0;
        }
    }
    return 1;
}

int gf_limit_room(const gf_limit_conf_t *c, const gf_limit_state_t *st, apr_time_t now)
{
    apr_time_t next;
    if (!gf_limit_any(c) && st->paused_until <= now) return 1;
    return allowed(c, st, now, &next);
}

/* pid's holder entry; a free one is taken when create. */
static gf_limit_holder_t *holder(gf_limit_holders_t *h, apr_int32_t pid, int create)
{
    gf_limit_holder_t *free_one = NULL;
    int i;
    for (i = 0; i < GF_LIMIT_HOLDERS; i++) {
        if (h->each[i].pid == pid) return &h->each[i];
        if (!free_one && h->each[i].pid == 0) free_one = &h->each[i];
    }
    if (!create || !free_one) return NULL;
    free_one->pid = pid;
    free_one->open = 0;
    return free_one;
}

int gf_limit_hold(gf_limit_holders_t *h, apr_int32_t pid)
{
    gf_limit_holder_t *e = holder(h, pid, 1);
    if (!e) return 0;
    e->open++;
    h->open++;
    return 1;
}

void gf_limit_unhold(gf_limit_holders_t *h, apr_int32_t pid)
{
    gf_limit_holder_t *e = holder(h, pid, 0);
    if (!e || e->open == 0) return;
    e->open--;
    if (h->open > 0) h->open--;
}

void gf_limit_hello(gf_limit_holders_t *h, apr_int32_t pid)
{
    gf_limit_holder_t *e = holder(h, pid, 0);
    if (!e) return;
    h->open = h->open >= e->open ? h->open - e->open : 0;
    e->pid = 0;
    e->open = 0;
}

int gf_limit_reap(gf_limit_holders_t *h, int (*alive)(apr_int32_t pid, void *baton),
                  void *baton)
{
    int i, freed = 0;
    for (i = 0; i < GF_LIMIT_HOLDERS; i++) {
        gf_limit_holder_t *e = &h->each[i];
        if (e->pid == 0 || alive(e->pid, baton)) continue;
        freed += (int)e->open;
        h->open = h->open >= e->open ? h->open - e->open : 0;
        e->pid = 0;
        e->open = 0;
    }
    return freed;
}

int gf_limit_take(const gf_limit_conf_t *c, gf_limit_state_t *st, apr_time_t now,
                  apr_int32_t pid, apr_time_t *next)
{
    *next = 0;
    if (c->rate_n > 0) expire(c, st, now);
    if (!allowed(c, st, now, next) || !gf_limit_hold(&st->calls, pid)) return 0;
    if (c->rate_n > 0) {
        /* The ring holds rate_n starts at most: expire() made room. */
        st->starts[(st->head + st->count) % GF_LIMIT_RATE_MAX] = now;
        st->count++;
    }
    return 1;
}

void gf_limit_give(gf_limit_state_t *st, apr_int32_t pid)
{
    gf_limit_unhold(&st->calls, pid);
}

void gf_limit_untake(gf_limit_state_t *st, apr_int32_t pid, apr_time_t started)
{
    apr_uint32_t i, j;
    gf_limit_give(st, pid);
    /* The newest start of that time: the ring stays in order. */
    for (i = st->count; i-- > 0;) {
        if (st->starts[(st->head + i) % GF_LIMIT_RATE_MAX] != started) continue;
        for (j = i; j + 1 < st->count; j++) {
            st->starts[(st->head + j) % GF_LIMIT_RATE_MAX] =
                st->starts[(st->head + j + 1) % GF_LIMIT_RATE_MAX];
        }
        st->count--;
        return;
    }
}

void gf_limit_pause(gf_limit_state_t *st, apr_time_t until)
{
    if (until > st->paused_until) st->paused_until = until;
}

apr_time_t gf_limit_pause_of(const gf_provider_result_t *res, apr_time_t now)
{
    if (!res || !res->error_code || strcmp(res->error_code, GF_JOB_RATE_LIMIT)
        || res->retry_after <= 0) {
        return 0;
    }
    return now + (res->retry_after < GF_LIMIT_PAUSE_MAX ? res->retry_after : GF_LIMIT_PAUSE_MAX);
}
