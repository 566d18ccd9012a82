/* gf_limit.h: a provider's limits as pure rules: how many calls may be
 * open at once (max_concurrent=N), how many may start in any window of
 * S seconds (rate=N/S), and the pause a 429 with Retry-After asks for.
 *
 * The state is plain data of fixed size, so that the httpd glue can keep
 * one per provider in shared memory and apply these rules under its
 * mutex for every child at once. The rate is exact: a ring of the last N
 * starts, so that no window of S seconds ever holds more than N (a token
 * bucket would let 2N through across a window's edge).
 */
#ifndef GF_LIMIT_H
#define GF_LIMIT_H

#include <apr_pools.h>
#include <apr_time.h>

/* The largest N of rate=N/S (the ring's size). */
#define GF_LIMIT_RATE_MAX 1000

typedef struct {
    int max_concurrent;              /* 0: no cap on open calls */
    int rate_n;                      /* 0: no rate */
    apr_interval_time_t rate_window; /* S */
} gf_limit_conf_t;

typedef struct {
    apr_uint32_t open;               /* calls open now */
    apr_uint32_t head, count;        /* the ring of starts: oldest, how many */
    apr_time_t paused_until;         /* no start before (a 429's Retry-After) */
    apr_time_t starts[GF_LIMIT_RATE_MAX];
} gf_limit_state_t;

/* One option of GenFlowProvider: max_concurrent=N (1..100000) or
 * rate=N/S (N 1..GF_LIMIT_RATE_MAX, S 1..3600 seconds). NULL when applied,
 * GF_LIMIT_NOT_MINE when the key is another's, else the error. */
extern const char GF_LIMIT_NOT_MINE[];
const char *gf_limit_option(apr_pool_t *p, gf_limit_conf_t *c, const char *key,
                            const char *value);

/* Does the provider have any limit? */
int gf_limit_any(const gf_limit_conf_t *c);

/* May a call start at now? 1: it may, and it is counted (one more open,
 * one start in the window). 0: not now; *next is when a start could be
 * allowed by the rate or the pause, or 0 when only a call's end frees
 * room. */
int gf_limit_take(const gf_limit_conf_t *c, gf_limit_state_t *st, apr_time_t now,
                  apr_time_t *next);

/* The same question without taking: for choosing what to claim. */
int gf_limit_room(const gf_limit_conf_t *c, const gf_limit_state_t *st, apr_time_t now);

/* A call taken with gf_limit_take ended. */
void gf_limit_give(gf_limit_state_t *st);

/* The provider asked for a pause (429 with Retry-After): no start before
 * until (a later pause extends it, an earlier one does not shorten it). */
void gf_limit_pause(gf_limit_state_t *st, apr_time_t until);

#endif
