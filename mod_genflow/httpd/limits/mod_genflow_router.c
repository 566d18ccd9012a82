/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_router.c: a group's member for one attempt (see
 * mod_genflow_router.h).
 *
 * What the choice knows of each member:
 *   - whether it may take a call now: its circuit is not open
 *     (gf_breaker_closed), its budget has room (gf_budgets_room), its
 *     limits are not known to be full (gf_limits_may_wake);
 *   - its recent call time and cost per picture: running averages kept in
 *     PostgreSQL for every node (sql/044), read for the whole group by
 *     their keys and kept in this child for half a second; cost= where
 *     set;
 *   - its calls open now: this httpd's (gf_limits_calls_open, live) and
 *     the other nodes', which each httpd writes every half second
 *     (gf_router_publish) and the group's read sums;
 *   - for a member with max_jobs= (a GPU that runs one prompt at a time),
 *     its jobs running on every node (genflow_provider_jobs, sql/045),
 *     which then are its load instead of its calls: a job is not a call
 *     open while it runs there. A member whose slots are all taken is
 *     left out; one a hold found full here is too, until a job of it
 *     ends here or a second passes;
 * so every node chooses from the same numbers within a second. The rule
 * is core's (gf_router_pick).
 */
#include <stdlib.h>
#include <string.h>
#include <apr_network_io.h>
#include <apr_strings.h>
#include <apr_general.h>
#include <apr_thread_mutex.h>

#include "httpd/limits/mod_genflow_router.h"
#include "httpd/servers/mod_genflow_breaker.h"
#include "httpd/limits/mod_genflow_budgets.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/limits/mod_genflow_limits.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/config/mod_genflow_process.h"
#include "core/gf_sql.h"
#include "net/gf_loop.h"

/* The most members one httpd writes calls open for (the limits' slots). */
#define PUBLISHED_MAX 64

#define NODE_MAX (APRMAXHOSTLEN + 32)

/* This child's copies of its groups' measures (made at child_init) and
 * its marks of full job slots. The engine's threads share them; one
 * lock, held for a copy only. */
static struct {
    apr_thread_mutex_t *lock;
    gf_router_measures_t groups[GF_ROUTER_CACHED_GROUPS];
    gf_router_marks_t marks;
    char node[NODE_MAX];
} cache;

void gf_router_child_init(apr_pool_t *pchild)
{
    memset(&cache, 0, sizeof(cache));
    if (apr_thread_mutex_create(&cache.lock, APR_THREAD_MUTEX_DEFAULT, pchild) != APR_SUCCESS) {
        cache.lock = NULL;   /* no copies kept: each choice reads the database */
    }
    /* This httpd's name in the rows of calls open (gf_process_name). */
    apr_cpystrn(cache.node, gf_process()->node ? gf_process()->node : "unnamed", sizeof(cache.node));
}

static apr_thread_mutex_t *cache_lock(void)
{
    return cache.lock;
}

typedef struct {
    server_rec *s;
    apr_pool_t *p;
    const gf_chain_entry_t *entry;
    gf_router_measures_t *out;
    int ok;
} stats_read_t;

static void stats_now(void *baton)
{
    stats_read_t *x = baton;
    const char *names[GF_GROUP_MEMBERS_MAX], *args[2];
    gf_db_rows_t *rows = NULL;
    int i, n = x->entry->members->nelts < GF_GROUP_MEMBERS_MAX ? x->entry->members->nelts
                                                               : GF_GROUP_MEMBERS_MAX;

    for (i = 0; i < n; i++) names[i] = APR_ARRAY_IDX(x->entry->members, i, gf_chain_member_t).provider;
    args[0] = cache.node;
    args[1] = gf_router_join(x->p, names, n);
    if (gf_db_select_once(x->s, x->p, GF_SQL_GROUP_STATS, &rows, 2, args) != GF_DB_OK) return;
    x->ok = 1;
    for (i = 0; i < rows->nrows; i++) {
        gf_router_measures_row(x->out, names, n, (const char *const *)rows->rows[i]);
    }
}

/* entry's measures (latency, cost: -1 where none; the other nodes' calls
 * open), from this child's copy when it is less than MEASURES_FOR old. */
static void measures_of(server_rec *s, apr_pool_t *p, const gf_chain_entry_t *entry,
                        gf_router_measures_t *m)
{
    apr_thread_mutex_t *lock = cache_lock();
    apr_time_t now = apr_time_now();
    stats_read_t x;
    int slot = -1, oldest = 0;

    gf_router_measures_init(m);
    if (lock && apr_thread_mutex_lock(lock) == APR_SUCCESS) {
        if (gf_router_measures_find(cache.groups, GF_ROUTER_CACHED_GROUPS, entry->text, now,
                                    &slot, &oldest)) {
            *m = cache.groups[slot];
            apr_thread_mutex_unlock(lock);
            return;
        }
        apr_thread_mutex_unlock(lock);
    }
    memset(&x, 0, sizeof(x));
    x.s = s;
    x.p = p;
    x.entry = entry;
    x.out = m;
    gf_loop_blocking(stats_now, &x);
    if (!x.ok || !gf_router_measures_stamp(m, entry->text, now)) return;
    if (lock && apr_thread_mutex_lock(lock) == APR_SUCCESS) {
        cache.groups[slot >= 0 ? slot : oldest] = *m;
        apr_thread_mutex_unlock(lock);
    }
}

/* ---- job slots known full ------------------------------------------- */

int gf_router_jobs_full(const gf_provider_t *prov, const char *id)
{
    int again;
    if (!cache.lock || apr_thread_mutex_lock(cache.lock) != APR_SUCCESS) return 1;
    again = gf_router_mark_deferred(&cache.marks, prov->name, id, apr_time_now());
    gf_router_measures_forget(cache.groups, GF_ROUTER_CACHED_GROUPS);
    apr_thread_mutex_unlock(cache.lock);
    return again;
}

/* Every member of a choice whose slots the database's counts show taken
 * is marked full when none of them may take the job
 * (gf_router_none_available). */
static void mark_group_full(const gf_group_member_t *m, const gf_router_input_t *in,
                            const gf_router_measures_t *ms, const gf_provider_t *const *provs,
                            int n)
{
    apr_time_t now = apr_time_now();
    int i;
    if (!gf_router_none_available(m, n) || !cache.lock
        || apr_thread_mutex_lock(cache.lock) != APR_SUCCESS) {
        return;
    }
    for (i = 0; i < n; i++) {
        if (gf_router_slots_taken(&in[i], ms, i)) gf_router_mark_full(&cache.marks, provs[i]->name, now);
    }
    apr_thread_mutex_unlock(cache.lock);
}

static void job_changed(const gf_provider_t *prov, int ended)
{
    if (!cache.lock || apr_thread_mutex_lock(cache.lock) != APR_SUCCESS) return;
    if (ended) gf_router_mark_ended(&cache.marks, prov->name);
    gf_router_measures_forget(cache.groups, GF_ROUTER_CACHED_GROUPS);
    apr_thread_mutex_unlock(cache.lock);
}

void gf_router_job_began(const gf_provider_t *prov)
{
    job_changed(prov, 0);
}

void gf_router_job_ended(const gf_provider_t *prov)
{
    job_changed(prov, 1);
}

int gf_router_jobs_room(const gf_provider_t *prov, apr_time_t *until)
{
    int room;
    if (!prov->limit.max_jobs || !cache.lock
        || apr_thread_mutex_lock(cache.lock) != APR_SUCCESS) {
        return 1;
    }
    room = gf_router_mark_room(&cache.marks, prov->name, apr_time_now(), until);
    apr_thread_mutex_unlock(cache.lock);
    return room;
}

int gf_router_group_room(server_rec *s, const gf_chain_entry_t *entry, apr_time_t *until)
{
    apr_hash_t *providers = gf_server_conf(s)->providers;
    gf_router_room_t r[GF_GROUP_MEMBERS_MAX];
    int i, n = 0;
    for (i = 0; entry->members && i < entry->members->nelts; i++) {
        const gf_provider_t *prov = apr_hash_get(
            providers, APR_ARRAY_IDX(entry->members, i, gf_chain_member_t).provider,
            APR_HASH_KEY_STRING);
        gf_router_room_t *e = &r[n];
        memset(e, 0, sizeof(*e));
        e->declared = prov != NULL;
        e->closed = prov && gf_breaker_closed(prov);
        e->max_jobs = e->closed ? prov->limit.max_jobs : 0;
        e->room = e->max_jobs && gf_router_jobs_room(prov, &e->lapse);
        if (e->closed && (!e->max_jobs || e->room)) return 1;
        if (++n == GF_GROUP_MEMBERS_MAX) break;
    }
    return gf_router_group_room_of(r, n, until);
}

/* May prov take a call now, as this child knows? Its circuit is not
 * open, its limits are not known to be full, nor its job slots, its
 * budget has room (or the spend could not be read). */
static int available(server_rec *s, apr_pool_t *p, const gf_provider_t *prov)
{
    return gf_breaker_closed(prov) && gf_limits_may_wake(prov) && gf_router_jobs_room(prov, NULL)
           && gf_budgets_room(s, p, prov) != 0;
}

int gf_router_other_room(server_rec *s, apr_pool_t *p, const gf_chain_entry_t *entry,
                         const gf_provider_t *prov)
{
    apr_hash_t *providers = gf_server_conf(s)->providers;
    int i;
    for (i = 0; entry->members && i < entry->members->nelts; i++) {
        const gf_provider_t *other = apr_hash_get(
            providers, APR_ARRAY_IDX(entry->members, i, gf_chain_member_t).provider,
            APR_HASH_KEY_STRING);
        if (other && other != prov && strcmp(other->name, prov->name) && available(s, p, other)) {
            return 1;
        }
    }
    return 0;
}

const gf_provider_t *gf_router_choose(server_rec *s, apr_pool_t *p, const gf_chain_entry_t *entry,
                                      const char *accepted_by, const gf_chain_member_t **member)
{
    apr_hash_t *providers = gf_server_conf(s)->providers;
    const gf_provider_t *provs[GF_GROUP_MEMBERS_MAX];
    gf_group_member_t m[GF_GROUP_MEMBERS_MAX];
    gf_router_input_t in[GF_GROUP_MEMBERS_MAX];
    gf_router_measures_t ms;
    apr_uint32_t rnd = 0;
    int i, n = entry->members->nelts, pick;

    if (n > GF_GROUP_MEMBERS_MAX) n = GF_GROUP_MEMBERS_MAX;
    for (i = 0; i < n; i++) {
        const gf_chain_member_t *cm = &APR_ARRAY_IDX(entry->members, i, gf_chain_member_t);
        provs[i] = apr_hash_get(providers, cm->provider, APR_HASH_KEY_STRING);
        /* An accepted job is polled where it was accepted. */
        if (accepted_by && provs[i] && !strcmp(accepted_by, cm->provider)) {
            *member = cm;
            return provs[i];
        }
    }
    /* Its member is gone from the configuration: nobody else may poll
     * that job (the attempt fails over, as for an undeclared provider). */
    if (accepted_by) return NULL;
    measures_of(s, p, entry, &ms);
    for (i = 0; i < n; i++) {
        memset(&in[i], 0, sizeof(in[i]));
        in[i].weight = APR_ARRAY_IDX(entry->members, i, gf_chain_member_t).weight;
        if ((in[i].declared = provs[i] != NULL)) {
            in[i].cost_per_call = provs[i]->cost_per_call;
            in[i].max_jobs = provs[i]->limit.max_jobs;
            in[i].available = available(s, p, provs[i]);
            in[i].closed = gf_breaker_closed(provs[i]);
            in[i].calls_open = gf_limits_calls_open(provs[i]);
        }
        gf_router_member(&m[i], &in[i], &ms, i);
    }
    mark_group_full(m, in, &ms, provs, n);
    apr_generate_random_bytes((unsigned char *)&rnd, sizeof(rnd));
    if ((pick = gf_router_pick_declared(entry->policy, m, in, n, rnd)) < 0) return NULL;
    *member = &APR_ARRAY_IDX(entry->members, pick, gf_chain_member_t);
    return provs[pick];
}

typedef struct {
    server_rec *s;
    apr_pool_t *p;
    const char *args[3];
} record_t;

static void record_now(void *baton)
{
    record_t *x = baton;
    gf_db_rows_t *rows;
    gf_db_status_t st = gf_db_select_once(x->s, x->p, GF_SQL_GROUP_RECORD, &rows, 3, x->args);
    if (st != GF_DB_OK) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, x->s, GF_LOGNO(4901)
                     "provider %s: its call time was not recorded for its group's choice "
                     "(the database did not answer)", x->args[0]);
    }
}

void gf_router_record(server_rec *s, apr_pool_t *p, const gf_provider_t *prov,
                      apr_interval_time_t took, double cost)
{
    record_t x;
    if (!prov->grouped || took <= 0) return;
    x.s = s;
    x.p = p;
    x.args[0] = prov->name;
    x.args[1] = apr_psprintf(p, "%.3f", (double)took / 1000.0);
    x.args[2] = apr_psprintf(p, "%.6f", cost > 0 ? cost : 0.0);
    gf_loop_blocking(record_now, &x);
}

/* ---- this httpd's calls open, for the other nodes -------------------------- */

int gf_router_publish(server_rec *const *servers, int nservers, apr_pool_t *p)
{
    gf_router_told_t told[PUBLISHED_MAX];
    const char *args[4];
    gf_db_rows_t *rows;
    int n = 0, i, j;

    for (i = 0; i < nservers; i++) {
        apr_hash_index_t *hi;
        for (hi = apr_hash_first(p, gf_server_conf(servers[i])->providers); hi;
             hi = apr_hash_next(hi)) {
            const gf_provider_t *prov = apr_hash_this_val(hi);
            if (!prov->grouped) continue;
            gf_limits_calls_reap(prov);
            gf_router_count_in(told, &n, PUBLISHED_MAX, prov->name, prov, prov->limit_slot,
                               gf_limits_calls_open(prov), gf_limits_calls_told(prov));
        }
    }
    if (!gf_router_told_args(p, told, n, &args[0], &args[1])) return 0;
    args[2] = args[3] = cache.node;
    if (gf_db_select_once(servers[0], p, GF_SQL_GROUP_OPEN, &rows, 4, args) != GF_DB_OK) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        for (j = 0; j < told[i].nprovs; j++) {
            gf_limits_calls_tell(told[i].ids[j], told[i].opens[j]);
        }
    }
    return 1;
}
