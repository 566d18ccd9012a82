/* mod_genflow_limits.c: each provider's limits (core/gf_limit.h) in
 * shared memory, so that the whole server, not each child, keeps to a
 * provider's max_concurrent= and rate=, and a 429's Retry-After pauses
 * the provider for every child.
 *
 * Unlike the circuit breakers' state, which a restart copies into a new
 * segment, this segment and its mutex live as long as the httpd parent
 * (its process pool): after a graceful restart the old generation's
 * children still have calls open and give them back here, under the same
 * mutex, so the cap holds across the restart too. A provider's state is
 * found by the breakers' key (server and name); a restart that declares
 * new providers gets free slots, or the slots of providers no longer
 * declared once none of their calls is open.
 *
 * Calls are counted per process: a child killed with calls open would
 * otherwise shrink the cap for good. When a provider is full, the dead
 * holders' calls are freed (gf_limit_reap, at most once a second).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_shm.h>
#include <apr_global_mutex.h>
#include <http_core.h>
#include <http_protocol.h>
#include <util_mutex.h>

#include "httpd/mod_genflow_limits.h"
#include "core/gf_credits.h"
#include "core/gf_error.h"
#include "core/gf_json.h"

#define SHM_KEY "mod_genflow_limits_shm"
#define MUTEX_KEY "mod_genflow_limits_mutex"
#define MUTEX_TYPE "genflow-limits"
#define LIM_MAGIC 0x67666c696d697431ULL   /* "gflimit1" */
#define NSLOTS 64
#define KEY_MAX 300
#define REAP_EVERY apr_time_from_sec(1)

typedef struct {
    char key[KEY_MAX];           /* the breakers' key; "" for a free slot */
    gf_limit_state_t st;
} slot_t;

typedef struct {
    apr_uint64_t magic;
    apr_uint64_t nslots;
    apr_uint64_t slot_size;      /* a module built otherwise has another layout */
} header_t;

/* The process's view (the process record's member): the segment and
 * mutex of the parent's lifetime. */
struct gf_limits_state {
    slot_t *slots;
    apr_global_mutex_t *mutex;
    apr_int32_t self;              /* this process's pid */
    int broken;                    /* no mutex in this child: limited providers get no call */
    void (*place_freed)(void);     /* the child's engine: a place is free again */
};

const apr_size_t gf_limits_state_size = sizeof(struct gf_limits_state);

static struct gf_limits_state *limits(void)
{
    return GF_PROCESS_STATE(limits);
}

static int lim_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    return ap_mutex_register(pconf, MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
}

static int alive(apr_int32_t pid, void *baton)
{
    (void)baton;
    /* EPERM: the pid is someone else's now; counted as alive (the cap
     * stays on the safe side). */
    return kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

/* ---- startup ------------------------------------------------------------ */

typedef struct {
    apr_pool_t *p;
    server_rec *s;
    apr_hash_t *declared;        /* keys of this configuration */
    int missing;
} assign_t;

static void collect_key(gf_provider_t *prov, const char *server, const char *key, void *baton)
{
    assign_t *a = baton;
    (void)prov;
    (void)server;
    apr_hash_set(a->declared, key, APR_HASH_KEY_STRING, key);
}

/* A slot for key: its own, a free one, or one whose provider is no
 * longer declared and has nothing open (after reaping). -1: none. */
static int slot_for(const char *key, apr_hash_t *declared)
{
    int i, free_one = -1;
    for (i = 0; i < NSLOTS; i++) {
        if (!strcmp(limits()->slots[i].key, key)) return i;
        if (free_one < 0 && !limits()->slots[i].key[0]) free_one = i;
    }
    for (i = 0; free_one < 0 && i < NSLOTS; i++) {
        gf_limit_reap(&limits()->slots[i].st, alive, NULL);
        if (!apr_hash_get(declared, limits()->slots[i].key, APR_HASH_KEY_STRING)
            && limits()->slots[i].st.open == 0) {
            free_one = i;
        }
    }
    if (free_one >= 0) {
        memset(&limits()->slots[free_one], 0, sizeof(limits()->slots[free_one]));
        apr_cpystrn(limits()->slots[free_one].key, key, sizeof(limits()->slots[free_one].key));
    }
    return free_one;
}

static void assign(gf_provider_t *prov, const char *server, const char *key, void *baton)
{
    assign_t *a = baton;
    prov->limit_slot = slot_for(key, a->declared);
    if (prov->limit_slot >= 0) return;
    ap_log_error(APLOG_MARK, gf_limit_any(&prov->limit) ? APLOG_CRIT : APLOG_WARNING, 0, a->s,
                 GF_LOGNO(4801) "provider %s (server %s): no room for its limits in shared "
                 "memory (%d providers since httpd started); stop and start httpd to "
                 "begin afresh", prov->name, server, NSLOTS);
    if (gf_limit_any(&prov->limit)) a->missing++;
}

/* The segment and mutex of the parent's lifetime, made on first use. */
static int attach(apr_pool_t *proc, server_rec *s)
{
    apr_shm_t *shm = NULL;
    apr_status_t rv;
    header_t *h;

    apr_pool_userdata_get((void **)&shm, SHM_KEY, proc);
    apr_pool_userdata_get((void **)&limits()->mutex, MUTEX_KEY, proc);
    if (shm) {
        /* Another build of the module (a restart after an upgrade) may
         * lay its slots out otherwise: it gets a segment of its own, and
         * the old children keep theirs. */
        h = apr_shm_baseaddr_get(shm);
        if (h->magic != LIM_MAGIC || h->nslots != NSLOTS || h->slot_size != sizeof(slot_t)) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, GF_LOGNO(4806)
                         "provider limits: the shared memory of the previous module is laid "
                         "out otherwise; counting starts afresh");
            shm = NULL;
        }
    }
    if (!shm) {
        apr_size_t bytes = sizeof(header_t) + sizeof(slot_t) * NSLOTS;
        rv = apr_shm_create(&shm, bytes, NULL, proc);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, GF_LOGNO(4802)
                         "cannot create the provider limits' shared memory (%" APR_SIZE_T_FMT
                         " bytes)", bytes);
            return 0;
        }
        h = apr_shm_baseaddr_get(shm);
        memset(h, 0, bytes);
        h->magic = LIM_MAGIC;
        h->nslots = NSLOTS;
        h->slot_size = sizeof(slot_t);
        apr_pool_userdata_set(shm, SHM_KEY, apr_pool_cleanup_null, proc);
    }
    if (!limits()->mutex) {
        rv = ap_global_mutex_create(&limits()->mutex, NULL, MUTEX_TYPE, NULL, s, proc, 0);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, GF_LOGNO(4803)
                         "cannot create the provider limits' mutex (Mutex " MUTEX_TYPE ")");
            limits()->mutex = NULL;
            return 0;
        }
        apr_pool_userdata_set(limits()->mutex, MUTEX_KEY, apr_pool_cleanup_null, proc);
    }
    h = apr_shm_baseaddr_get(shm);
    limits()->slots = (slot_t *)(h + 1);
    return 1;
}

int gf_limits_post_config(apr_pool_t *pconf, server_rec *s)
{
    assign_t a;

    limits()->slots = NULL;
    if (!attach(s->process->pool, s)) return HTTP_INTERNAL_SERVER_ERROR;
    a.p = pconf;
    a.s = s;
    a.declared = apr_hash_make(pconf);
    a.missing = 0;
    gf_breaker_each(collect_key, &a);
    /* Children of the previous generation may be using the slots. */
    if (apr_global_mutex_lock(limits()->mutex) != APR_SUCCESS) return HTTP_INTERNAL_SERVER_ERROR;
    gf_breaker_each(assign, &a);
    apr_global_mutex_unlock(limits()->mutex);
    return a.missing ? HTTP_INTERNAL_SERVER_ERROR : OK;
}

void gf_limits_child_init(apr_pool_t *pchild, server_rec *s, void (*freed)(void))
{
    apr_status_t rv;
    int i;
    limits()->place_freed = freed;
    if (!limits()->mutex || !limits()->slots) return;
    rv = apr_global_mutex_child_init(&limits()->mutex, apr_global_mutex_lockfile(limits()->mutex), pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, GF_LOGNO(4804)
                     "cannot attach to the provider limits' mutex: this child starts no "
                     "call to a limited provider");
        limits()->broken = 1;
        return;
    }
    limits()->self = (apr_int32_t)getpid();
    if (apr_global_mutex_lock(limits()->mutex) != APR_SUCCESS) return;
    for (i = 0; i < NSLOTS; i++) gf_limit_hello(&limits()->slots[i].st, limits()->self);
    apr_global_mutex_unlock(limits()->mutex);
}

/* ---- taking and giving -------------------------------------------------- */

static gf_limit_state_t *state_of(const gf_provider_t *prov)
{
    if (!limits()->slots || !prov || prov->limit_slot < 0 || prov->limit_slot >= NSLOTS) return NULL;
    return &limits()->slots[prov->limit_slot].st;
}

/* Take one place under the lock; a full provider first frees the places
 * of dead processes (once a second). */
static int take_locked(const gf_provider_t *prov, gf_limit_state_t *st, apr_time_t now)
{
    apr_time_t next;
    if (gf_limit_take(&prov->limit, st, now, limits()->self, &next)) return 1;
    if (next || now - st->reaped_at < REAP_EVERY) return 0;
    st->reaped_at = now;
    return gf_limit_reap(st, alive, NULL) > 0 && gf_limit_take(&prov->limit, st, now, limits()->self, &next);
}

/* Is prov held back right now without a limit of its own (a pause)? */
static int paused_locked(const gf_limit_state_t *st, apr_time_t now)
{
    return st->paused_until > now;
}

typedef struct {
    const gf_provider_t *prov;
    int n;                       /* places still unassigned */
    apr_time_t taken;
} claim_entry_t;

struct gf_limits_claim_t {
    apr_array_header_t *entries; /* claim_entry_t */
    const char *skip;
    int room;
};

gf_limits_claim_t *gf_limits_claim_begin(apr_pool_t *p, apr_hash_t *providers,
                                         apr_hash_t *names, int want)
{
    gf_limits_claim_t *lc = apr_pcalloc(p, sizeof(*lc));
    apr_hash_index_t *hi;
    apr_time_t now = apr_time_now();

    lc->entries = apr_array_make(p, 4, sizeof(claim_entry_t));
    lc->skip = "";
    lc->room = want;
    if (!limits()->slots || !providers) return lc;
    for (hi = apr_hash_first(p, providers); hi; hi = apr_hash_next(hi)) {
        void *v;
        const gf_provider_t *prov;
        gf_limit_state_t *st;
        int n = 0;
        apr_hash_this(hi, NULL, NULL, &v);
        prov = v;
        if (names && !apr_hash_get(names, prov->name, APR_HASH_KEY_STRING)) continue;
        if (!(st = state_of(prov))) continue;
        if (limits()->broken || apr_global_mutex_lock(limits()->mutex) != APR_SUCCESS) {
            /* No count to keep to: the limited providers get no call. */
            if (gf_limit_any(&prov->limit)) {
                lc->skip = apr_pstrcat(p, lc->skip, *lc->skip ? "\n" : "", prov->name, NULL);
            }
            continue;
        }
        if (!gf_limit_any(&prov->limit)) {
            n = paused_locked(st, now) ? 0 : -1;
        }
        else {
            while (n < want && take_locked(prov, st, now)) n++;
        }
        apr_global_mutex_unlock(limits()->mutex);
        if (n > 0) {
            claim_entry_t *ce = apr_array_push(lc->entries);
            ce->prov = prov;
            ce->n = n;
            ce->taken = now;
            if (n < lc->room) lc->room = n;
        }
        else if (n == 0) {
            lc->skip = apr_pstrcat(p, lc->skip, *lc->skip ? "\n" : "", prov->name, NULL);
        }
    }
    return lc;
}

const char *gf_limits_claim_skip(const gf_limits_claim_t *lc)
{
    return lc->skip;
}

int gf_limits_claim_room(const gf_limits_claim_t *lc)
{
    return lc->room;
}

void gf_limits_claim_assign(gf_limits_claim_t *lc, const char *provider, gf_limits_hold_t *hold)
{
    int i;
    memset(hold, 0, sizeof(*hold));
    for (i = 0; provider && i < lc->entries->nelts; i++) {
        claim_entry_t *ce = &APR_ARRAY_IDX(lc->entries, i, claim_entry_t);
        if (ce->n <= 0 || strcmp(ce->prov->name, provider)) continue;
        ce->n--;
        hold->prov = ce->prov;
        hold->taken = ce->taken;
        return;
    }
}

void gf_limits_claim_end(gf_limits_claim_t *lc)
{
    int i;
    /* No worker is woken for these: they were held for the moment of one
     * claim, and waking the others for each would have the workers wake
     * each other for ever while a provider is full. A worker that found
     * no place meanwhile looks again within its idle wait. */
    for (i = 0; i < lc->entries->nelts; i++) {
        claim_entry_t *ce = &APR_ARRAY_IDX(lc->entries, i, claim_entry_t);
        gf_limit_state_t *st = state_of(ce->prov);
        if (ce->n <= 0 || !st || apr_global_mutex_lock(limits()->mutex) != APR_SUCCESS) continue;
        for (; ce->n > 0; ce->n--) gf_limit_untake(st, limits()->self, ce->taken);
        apr_global_mutex_unlock(limits()->mutex);
    }
}

int gf_limits_hold(const gf_provider_t *prov, gf_limits_hold_t *hold, apr_interval_time_t *defer)
{
    gf_limit_state_t *st;
    apr_time_t now = apr_time_now(), next = 0;
    int ok;

    *defer = apr_time_from_sec(1);
    if (hold->prov == prov) return 1;
    gf_limits_unused(hold);
    if (!(st = state_of(prov))) return 1;
    if (limits()->broken || apr_global_mutex_lock(limits()->mutex) != APR_SUCCESS) return !gf_limit_any(&prov->limit);
    if (!gf_limit_any(&prov->limit)) {
        ok = !paused_locked(st, now);
        next = st->paused_until;
    }
    else if ((ok = take_locked(prov, st, now)) != 0) {
        hold->prov = prov;
        hold->taken = now;
    }
    else {
        next = st->paused_until;
    }
    apr_global_mutex_unlock(limits()->mutex);
    /* Due again when the pause ends (or in a second: a call's end or the
     * rate's window frees a place sooner than anyone can tell). */
    if (!ok && next > now + *defer) *defer = next - now;
    if (*defer > GF_LIMIT_PAUSE_MAX) *defer = GF_LIMIT_PAUSE_MAX;
    return ok;
}

void gf_limits_done(server_rec *s, const gf_provider_t *prov, gf_limits_hold_t *hold,
                    const gf_provider_result_t *res)
{
    gf_limit_state_t *st = state_of(prov);
    apr_time_t until = 0;
    int extended = 0;

    if (res && res->error_code && !strcmp(res->error_code, GF_JOB_RATE_LIMIT)
        && res->retry_after > 0) {
        until = apr_time_now()
                + (res->retry_after < GF_LIMIT_PAUSE_MAX ? res->retry_after : GF_LIMIT_PAUSE_MAX);
    }
    if (st && (hold->prov == prov || until) && apr_global_mutex_lock(limits()->mutex) == APR_SUCCESS) {
        if (hold->prov == prov) gf_limit_give(st, limits()->self);
        if (until && until > st->paused_until) {
            gf_limit_pause(st, until);
            extended = 1;
        }
        apr_global_mutex_unlock(limits()->mutex);
    }
    if (hold->prov == prov && limits()->place_freed) limits()->place_freed();
    memset(hold, 0, sizeof(*hold));
    if (extended) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, GF_LOGNO(4805)
                     "provider %s answered 429 with Retry-After: no call to it from any "
                     "child for %" APR_TIME_T_FMT " s", prov->name,
                     apr_time_sec(until - apr_time_now() + APR_USEC_PER_SEC - 1));
    }
}

void gf_limits_unused(gf_limits_hold_t *hold)
{
    gf_limit_state_t *st = state_of(hold->prov);
    if (st && apr_global_mutex_lock(limits()->mutex) == APR_SUCCESS) {
        gf_limit_untake(st, limits()->self, hold->taken);
        apr_global_mutex_unlock(limits()->mutex);
        if (limits()->place_freed) limits()->place_freed();
    }
    memset(hold, 0, sizeof(*hold));
}

/* ---- what operators see ------------------------------------------------- */

/* A copy of prov's state's summary, taken under the lock. */
static int snapshot(const gf_provider_t *prov, apr_uint32_t *open, apr_time_t *paused)
{
    gf_limit_state_t *st = state_of(prov);
    if (!st || apr_global_mutex_lock(limits()->mutex) != APR_SUCCESS) return 0;
    *open = st->open;
    *paused = st->paused_until;
    apr_global_mutex_unlock(limits()->mutex);
    return 1;
}

json_object *gf_limits_health(apr_pool_t *p, const gf_provider_t *prov)
{
    json_object *o = json_object_new_object();
    apr_uint32_t open = 0;
    apr_time_t paused = 0;
    const gf_limit_conf_t *c = &prov->limit;

    snapshot(prov, &open, &paused);
    json_object_object_add(o, "maxConcurrent",
                           c->max_concurrent ? json_object_new_int(c->max_concurrent) : NULL);
    json_object_object_add(o, "rate", c->rate_n
                           ? json_object_new_string(apr_psprintf(p, "%d/%" APR_TIME_T_FMT,
                                                                 c->rate_n,
                                                                 apr_time_sec(c->rate_window)))
                           : NULL);
    json_object_object_add(o, "open", json_object_new_int((int)open));
    json_object_object_add(o, "pausedUntil", paused > apr_time_now()
                           ? json_object_new_string(gf_time_rfc3339(p, paused)) : NULL);
    return o;
}

typedef struct {
    gf_mtext_t open, paused;
    apr_time_t now;
} metrics_t;

static void metric_of(gf_provider_t *prov, const char *server, const char *key, void *baton)
{
    metrics_t *m = baton;
    apr_uint32_t open;
    apr_time_t paused;
    (void)key;
    if (!snapshot(prov, &open, &paused)) return;
    if (gf_limit_any(&prov->limit)) {
        gf_mtext_sample(&m->open, "genflow_provider_calls_open", apr_itoa(m->open.p, (int)open),
                        "server", server, "provider", prov->name, NULL);
    }
    gf_mtext_sample(&m->paused, "genflow_provider_paused_seconds",
                    apr_psprintf(m->paused.p, "%.3f", paused > m->now
                                 ? (double)(paused - m->now) / APR_USEC_PER_SEC : 0.0),
                    "server", server, "provider", prov->name, NULL);
}

void gf_limits_metrics(request_rec *r)
{
    metrics_t m;
    gf_mtext_init(&m.open, r->pool);
    gf_mtext_init(&m.paused, r->pool);
    m.now = apr_time_now();
    gf_mtext_family(&m.open, "genflow_provider_calls_open", "gauge",
                    "Calls open to each provider with max_concurrent= or rate=, all children "
                    "together.");
    gf_mtext_family(&m.paused, "genflow_provider_paused_seconds", "gauge",
                    "Seconds until a provider that answered 429 with Retry-After is called "
                    "again (0: not paused).");
    gf_breaker_each(metric_of, &m);
    ap_rputs(gf_mtext_str(&m.open), r);
    ap_rputs(gf_mtext_str(&m.paused), r);
}

void gf_limits_register_hooks(void)
{
    ap_hook_pre_config(lim_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
}
