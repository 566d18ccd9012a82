/* SPDX-License-Identifier: Apache-2.0 */
/* gf_keep.c: the polls a child keeps, by due time (gf_keep.h): a binary
 * heap over the glue's records, each knowing its index so that a change
 * heard for it moves it up at once, and a hash by generation id. */
#include <string.h>
#include <apr_hash.h>

#include "core/gf_keep.h"

struct gf_keep_heap {
    gf_kept_t **heap;           /* by due time, the soonest first */
    int n, max;
    apr_hash_t *by_id;
    volatile int *count;        /* the engine's count of them, or NULL */
};

gf_keep_heap_t *gf_keep_heap_create(apr_pool_t *p, int max, volatile int *count)
{
    gf_keep_heap_t *k = apr_pcalloc(p, sizeof(*k));
    k->max = max > 0 ? max : 0;
    k->heap = apr_pcalloc(p, sizeof(gf_kept_t *) * (apr_size_t)k->max);
    k->by_id = apr_hash_make(p);
    k->count = count;
    return k;
}

int gf_keep_heap_count(const gf_keep_heap_t *k)
{
    return k->n;
}

int gf_keep_heap_full(const gf_keep_heap_t *k)
{
    return k->n >= k->max;
}

static void heap_set(gf_keep_heap_t *k, int i, gf_kept_t *r)
{
    k->heap[i] = r;
    r->at = i;
}

static void sift_up(gf_keep_heap_t *k, int i)
{
    gf_kept_t *r = k->heap[i];
    while (i > 0 && k->heap[(i - 1) / 2]->due > r->due) {
        heap_set(k, i, k->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    heap_set(k, i, r);
}

static void sift_down(gf_keep_heap_t *k, int i)
{
    gf_kept_t *r = k->heap[i];
    for (;;) {
        int c = 2 * i + 1;
        if (c >= k->n) break;
        if (c + 1 < k->n && k->heap[c + 1]->due < k->heap[c]->due) c++;
        if (k->heap[c]->due >= r->due) break;
        heap_set(k, i, k->heap[c]);
        i = c;
    }
    heap_set(k, i, r);
}

static void counted(gf_keep_heap_t *k)
{
    if (k->count) *k->count = k->n;
}

int gf_keep_heap_push(gf_keep_heap_t *k, gf_kept_t *r)
{
    if (k->n >= k->max) return 0;
    heap_set(k, k->n++, r);
    sift_up(k, r->at);
    apr_hash_set(k->by_id, r->id, APR_HASH_KEY_STRING, r);
    counted(k);
    return 1;
}

gf_kept_t *gf_keep_heap_pop_due(gf_keep_heap_t *k, apr_time_t now)
{
    gf_kept_t *r;
    if (k->n == 0 || k->heap[0]->due > now) return NULL;
    r = k->heap[0];
    apr_hash_set(k->by_id, r->id, APR_HASH_KEY_STRING, NULL);
    r->at = -1;
    if (--k->n > 0) {
        heap_set(k, 0, k->heap[k->n]);
        sift_down(k, 0);
    }
    counted(k);
    return r;
}

apr_interval_time_t gf_keep_heap_wait(const gf_keep_heap_t *k, apr_time_t now,
                                      apr_interval_time_t wait)
{
    if (k->n > 0 && k->heap[0]->due - now < wait) wait = k->heap[0]->due - now;
    return wait < 0 ? 0 : wait;
}

gf_kept_t *gf_keep_heap_changed(gf_keep_heap_t *k, const char *id)
{
    gf_kept_t *r = id ? apr_hash_get(k->by_id, id, APR_HASH_KEY_STRING) : NULL;
    if (!r) return NULL;
    r->changed = 1;
    if (r->due > 0) {
        r->due = 0;
        sift_up(k, r->at);
    }
    return r;
}

gf_kept_t *gf_keep_heap_at(const gf_keep_heap_t *k, int i)
{
    return i >= 0 && i < k->n ? k->heap[i] : NULL;
}

void gf_keep_heap_drop_at(gf_keep_heap_t *k, int i)
{
    gf_kept_t *r;
    if (i < 0 || i >= k->n) return;
    r = k->heap[i];
    apr_hash_set(k->by_id, r->id, APR_HASH_KEY_STRING, NULL);
    r->at = -1;
    heap_set(k, i, k->heap[--k->n]);
    counted(k);
}

apr_size_t gf_keep_pack_size(const char **const *fields, int n)
{
    apr_size_t len = 0;
    int i;
    for (i = 0; i < n; i++) {
        if (*fields[i]) len += strlen(*fields[i]) + 1;
    }
    return len;
}

void gf_keep_pack(char *at, const char **const *fields, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        apr_size_t len;
        if (!*fields[i]) continue;
        len = strlen(*fields[i]) + 1;
        memcpy(at, *fields[i], len);
        *fields[i] = at;
        at += len;
    }
}

int gf_keep_worth(const gf_decision_t *d, const gf_provider_result_t *res, const char *job_id,
                  const char *state, double cost)
{
    if (d->next != GF_NEXT_POLL || d->poll_failed || !job_id) return 0;
    /* A priced call's cost is recorded with the outcome's statement. */
    if (cost > 0 || res->usage > 0) return 0;
    if (res->provider_job_id && strcmp(res->provider_job_id, job_id)) return 0;
    return !res->provider_state || (state && !strcmp(res->provider_state, state));
}

int gf_keep_plan(apr_time_t now, apr_interval_time_t delay, apr_time_t deadline,
                 apr_time_t lease_end, apr_interval_time_t lease, apr_time_t *due, long *secs)
{
    *due = now + delay;
    /* The deadline's check comes with the next attempt: wake for it. */
    if (deadline && *due > deadline) *due = deadline;
    *secs = 0;
    if (lease_end >= *due + lease / 2) return 0;
    *secs = (long)apr_time_sec(3 * (*due - now) + lease) + 1;
    return 1;
}
