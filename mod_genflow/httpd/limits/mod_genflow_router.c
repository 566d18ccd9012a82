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

/* How long a child keeps a group's measures before it reads them again:
 * with the other nodes' calls written every half second, a choice sees
 * them within a second. */
#define MEASURES_FOR apr_time_from_msec(500)
#define CACHED_GROUPS 32
/* The most members one httpd writes calls open for (the limits' slots). */
#define PUBLISHED_MAX 64

typedef struct {
    char key[1200];              /* the group's text; "" free */
    apr_time_t read_at;
    double latency[GF_GROUP_MEMBERS_MAX], cost[GF_GROUP_MEMBERS_MAX];
    int others[GF_GROUP_MEMBERS_MAX];  /* calls the other nodes have open */
    int jobs[GF_GROUP_MEMBERS_MAX];    /* jobs running on every node (-1: none counted) */
} measures_t;

#define NODE_MAX (APRMAXHOSTLEN + 32)

/* A provider whose job slots a hold found all taken, and when. */
#define JOBS_FULL_FOR apr_time_from_sec(1)
#define MARKS_MAX 64
/* A row that comes back to a full provider this soon after its hold
 * sent it back was not held back by the claim's gate: it waits out the
 * mark. */
#define JOBS_AGAIN_WITHIN apr_time_from_msec(100)
typedef struct {
    const char *name;            /* NULL: free */
    apr_time_t full_at;
    apr_time_t deferred_at;      /* when its hold last sent a row back ... */
    char deferred_id[40];        /* ... and which */
} jobs_mark_t;

/* This child's copies of its groups' measures (made at child_init) and
 * its marks of full job slots. The engine's threads share them; one
 * lock, held for a copy only. */
static struct {
    apr_thread_mutex_t *lock;
    measures_t groups[CACHED_GROUPS];
    jobs_mark_t marks[MARKS_MAX];
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
    measures_t *out;
    int ok;
} stats_read_t;

static void stats_now(void *baton)
{
    stats_read_t *x = baton;
    const char *names = NULL, *args[2];
    gf_db_rows_t *rows = NULL;
    int i, j;

    for (i = 0; i < x->entry->members->nelts; i++) {
        const char *n = APR_ARRAY_IDX(x->entry->members, i, gf_chain_member_t).provider;
        names = names ? apr_pstrcat(x->p, names, "|", n, NULL) : n;
    }
    args[0] = cache.node;
    args[1] = names;
    if (gf_db_select_once(x->s, x->p, GF_SQL_GROUP_STATS, &rows, 2, args) != GF_DB_OK) return;
    x->ok = 1;
    for (j = 0; j < rows->nrows; j++) {
        for (i = 0; i < x->entry->members->nelts && i < GF_GROUP_MEMBERS_MAX; i++) {
            if (strcmp(rows->rows[j][0],
                       APR_ARRAY_IDX(x->entry->members, i, gf_chain_member_t).provider)) continue;
            x->out->latency[i] = rows->rows[j][1] ? strtod(rows->rows[j][1], NULL) : -1;
            x->out->cost[i] = rows->rows[j][2] ? strtod(rows->rows[j][2], NULL) : -1;
            x->out->others[i] = rows->rows[j][3] ? atoi(rows->rows[j][3]) : 0;
            x->out->jobs[i] = rows->rows[j][4] ? atoi(rows->rows[j][4]) : -1;
        }
    }
}

/* entry's measures (latency, cost: -1 where none; the other nodes' calls
 * open), from this child's copy when it is less than MEASURES_FOR old. */
static void measures_of(server_rec *s, apr_pool_t *p, const gf_chain_entry_t *entry,
                        measures_t *m)
{
    apr_thread_mutex_t *lock = cache_lock();
    apr_time_t now = apr_time_now();
    stats_read_t x;
    int i, slot = -1, oldest = 0;

    for (i = 0; i < GF_GROUP_MEMBERS_MAX; i++) {
        m->latency[i] = m->cost[i] = -1;
        m->others[i] = 0;
        m->jobs[i] = -1;
    }
    if (lock && apr_thread_mutex_lock(lock) == APR_SUCCESS) {
        for (i = 0; i < CACHED_GROUPS; i++) {
            if (!strcmp(cache.groups[i].key, entry->text)) {
                slot = i;
                break;
            }
            if (cache.groups[i].read_at < cache.groups[oldest].read_at) oldest = i;
        }
        if (slot >= 0 && now - cache.groups[slot].read_at < MEASURES_FOR) {
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
    if (!x.ok || strlen(entry->text) >= sizeof(m->key)) return;
    apr_cpystrn(m->key, entry->text, sizeof(m->key));
    m->read_at = now;
    if (lock && apr_thread_mutex_lock(lock) == APR_SUCCESS) {
        cache.groups[slot >= 0 ? slot : oldest] = *m;
        apr_thread_mutex_unlock(lock);
    }
}

/* ---- job slots known full ------------------------------------------- */

/* prov's mark (under the lock): its entry, or NULL. */
static jobs_mark_t *mark_of(const gf_provider_t *prov)
{
    int i;
    for (i = 0; i < MARKS_MAX && cache.marks[i].name; i++) {
        if (!strcmp(cache.marks[i].name, prov->name)) return &cache.marks[i];
    }
    return NULL;
}

/* The measures read again at the next choice of every group (a member's
 * jobs changed here). */
static void measures_forget(void)
{
    int i;
    for (i = 0; i < CACHED_GROUPS; i++) cache.groups[i].read_at = 0;
}

/* Is mark m in force at now? (A clock that stepped back lapses it.) */
static int marked(const jobs_mark_t *m, apr_time_t now)
{
    return m && m->full_at && now >= m->full_at && now - m->full_at < JOBS_FULL_FOR;
}

/* prov marked full now (under the lock): its mark, or NULL when no entry
 * was free. */
static jobs_mark_t *mark_full(const gf_provider_t *prov)
{
    jobs_mark_t *m = mark_of(prov);
    int i;
    if (!m) {
        for (i = 0; i < MARKS_MAX && cache.marks[i].name; i++) ;
        if (i == MARKS_MAX) return NULL;
        m = &cache.marks[i];
        m->name = prov->name;
    }
    m->full_at = apr_time_now();
    return m;
}

int gf_router_jobs_full(const gf_provider_t *prov, const char *id)
{
    apr_time_t now = apr_time_now();
    jobs_mark_t *m;
    int again = 1;
    if (!cache.lock || apr_thread_mutex_lock(cache.lock) != APR_SUCCESS) return 1;
    if ((m = mark_full(prov))) {
        again = m->deferred_at && now >= m->deferred_at && now - m->deferred_at < JOBS_AGAIN_WITHIN
                && !strcmp(m->deferred_id, id);
        m->deferred_at = now;
        apr_cpystrn(m->deferred_id, id, sizeof(m->deferred_id));
    }
    measures_forget();
    apr_thread_mutex_unlock(cache.lock);
    return again;
}

/* Every member of a choice whose slots the database's counts show taken
 * is marked full when none of them may take the job: the group's rows
 * then wait unclaimed here until a job of it ends (or a second passes),
 * instead of each claim finding one more member full. */
static void mark_group_full(const gf_provider_t *const *provs, const gf_group_member_t *m,
                            const measures_t *ms, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        if (m[i].available) return;
    }
    if (!cache.lock || apr_thread_mutex_lock(cache.lock) != APR_SUCCESS) return;
    for (i = 0; i < n; i++) {
        if (provs[i] && provs[i]->limit.max_jobs > 0 && ms->jobs[i] >= provs[i]->limit.max_jobs) {
            mark_full(provs[i]);
        }
    }
    apr_thread_mutex_unlock(cache.lock);
}

static void job_changed(const gf_provider_t *prov, int ended)
{
    jobs_mark_t *m;
    if (!cache.lock || apr_thread_mutex_lock(cache.lock) != APR_SUCCESS) return;
    if (ended && (m = mark_of(prov))) m->full_at = 0;
    measures_forget();
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
    const jobs_mark_t *m;
    apr_time_t now = apr_time_now();
    int room = 1;
    if (!prov->limit.max_jobs || !cache.lock
        || apr_thread_mutex_lock(cache.lock) != APR_SUCCESS) {
        return 1;
    }
    if (marked(m = mark_of(prov), now)) {
        room = 0;
        if (until) *until = m->full_at + JOBS_FULL_FOR;
    }
    apr_thread_mutex_unlock(cache.lock);
    return room;
}

int gf_router_group_room(server_rec *s, const gf_chain_entry_t *entry, apr_time_t *until)
{
    apr_hash_t *providers = gf_server_conf(s)->providers;
    apr_time_t first = 0, lapse;
    int i, full = 0;
    for (i = 0; entry->members && i < entry->members->nelts; i++) {
        const gf_provider_t *prov = apr_hash_get(
            providers, APR_ARRAY_IDX(entry->members, i, gf_chain_member_t).provider,
            APR_HASH_KEY_STRING);
        /* A member not declared here, or whose circuit is open, takes no
         * job while another may (gf_router_pick): it gives the group no
         * room. */
        if (!prov) continue;
        if (!gf_breaker_closed(prov)) continue;
        lapse = 0;
        if (!prov->limit.max_jobs || gf_router_jobs_room(prov, &lapse)) return 1;
        full = 1;
        if (!first || lapse < first) first = lapse;
    }
    /* Every circuit open: the attempt goes on (to the chain's next
     * entry). */
    if (!full) return 1;
    if (until) *until = first;
    return 0;
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
    measures_t ms;
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
        const gf_chain_member_t *cm = &APR_ARRAY_IDX(entry->members, i, gf_chain_member_t);
        memset(&m[i], 0, sizeof(m[i]));
        m[i].weight = cm->weight;
        m[i].latency_ms = ms.latency[i];
        m[i].cost = provs[i] && provs[i]->cost_per_call > 0 ? provs[i]->cost_per_call : ms.cost[i];
        if (!provs[i]) {
            m[i].down = 1;   /* not declared here: never before a declared one */
            continue;
        }
        m[i].available = available(s, p, provs[i]);
        m[i].down = !gf_breaker_closed(provs[i]);
        if (provs[i]->limit.max_jobs > 0 && ms.jobs[i] >= 0) {
            /* A member that runs jobs: its load is its jobs running. */
            m[i].busy = ms.jobs[i];
            if (ms.jobs[i] >= provs[i]->limit.max_jobs) m[i].available = 0;
        }
        else {
            m[i].busy = gf_limits_calls_open(provs[i]) + ms.others[i];
        }
    }
    mark_group_full(provs, m, &ms, n);
    apr_generate_random_bytes((unsigned char *)&rnd, sizeof(rnd));
    pick = gf_router_pick(entry->policy, m, n, rnd);
    /* Undeclared members are never picked while a declared one is. */
    if (pick >= 0 && !provs[pick]) {
        for (pick = 0; pick < n && !provs[pick]; pick++) ;
    }
    if (pick < 0 || pick >= n) return NULL;
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

typedef struct {
    const char *name;
    int open, changed;
    const gf_provider_t *provs[4];   /* the instances counted (one per server that declares it) */
    int opens[4];                    /* and their counts, as written */
    int nprovs;
} told_t;

/* prov's count into its member's line of out (one line per name: the
 * instances of a name in several servers are summed, each counted once). */
static void count_in(told_t *out, int *n, const gf_provider_t *prov)
{
    int i, j, open;
    gf_limits_calls_reap(prov);
    open = gf_limits_calls_open(prov);
    for (i = 0; i < *n && strcmp(out[i].name, prov->name); i++) ;
    if (i == *n) {
        if (*n == PUBLISHED_MAX) return;
        memset(&out[i], 0, sizeof(out[i]));
        out[i].name = prov->name;
        (*n)++;
    }
    for (j = 0; j < out[i].nprovs; j++) {
        if (out[i].provs[j] == prov || out[i].provs[j]->limit_slot == prov->limit_slot) return;
    }
    if (out[i].nprovs == (int)(sizeof(out[i].provs) / sizeof(out[i].provs[0]))) return;
    out[i].opens[out[i].nprovs] = open;
    out[i].provs[out[i].nprovs++] = prov;
    out[i].open += open;
    if (open != gf_limits_calls_told(prov)) out[i].changed = 1;
}

int gf_router_publish(server_rec *const *servers, int nservers, apr_pool_t *p)
{
    told_t told[PUBLISHED_MAX];
    const char *names = NULL, *opens = NULL, *args[4];
    gf_db_rows_t *rows;
    int n = 0, i, j, any = 0;

    for (i = 0; i < nservers; i++) {
        apr_hash_index_t *hi;
        for (hi = apr_hash_first(p, gf_server_conf(servers[i])->providers); hi;
             hi = apr_hash_next(hi)) {
            const gf_provider_t *prov = apr_hash_this_val(hi);
            if (prov->grouped) count_in(told, &n, prov);
        }
    }
    /* A member with calls open is written each time (its row stays
     * fresh); one whose calls ended, once (its row goes). */
    for (i = 0; i < n; i++) {
        if (!told[i].open && !told[i].changed) continue;
        names = names ? apr_pstrcat(p, names, "|", told[i].name, NULL) : told[i].name;
        opens = opens ? apr_pstrcat(p, opens, "|", apr_itoa(p, told[i].open), NULL)
                      : apr_itoa(p, told[i].open);
        any = 1;
    }
    if (!any) return 0;
    args[0] = names;
    args[1] = opens;
    args[2] = args[3] = cache.node;
    if (gf_db_select_once(servers[0], p, GF_SQL_GROUP_OPEN, &rows, 4, args) != GF_DB_OK) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        for (j = 0; j < told[i].nprovs; j++) {
            gf_limits_calls_tell(told[i].provs[j], told[i].opens[j]);
        }
    }
    return 1;
}
