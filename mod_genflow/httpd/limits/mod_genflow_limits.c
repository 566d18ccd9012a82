/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_limits.c: each provider's limits, for every node of a
 * database (limits=site, the default) or for every child of this httpd
 * (limits=node).
 *
 * Per site, the places and the rate's next start are rows of the
 * database (sql/022) that the claim statement takes with the row it
 * leases (gf_sql.c, CLAIM_GATES): this file only frees a place when its
 * call ends (PLACE_RELEASE, guarded by the holder), writes a 429's pause
 * (PROVIDER_PAUSE), and remembers in shared memory what the last claim
 * said, so that the children of this httpd do not ask the database again
 * before a place can be free: until when the rate or a pause keeps the
 * gate shut (blocked_until: idle workers wake at that moment), and that
 * the provider was full (full_until: a call that ends here clears it and
 * hands its place on; it lasts a second at most, so a place freed on
 * another node is found then, by the workers' ordinary looks). A free
 * place locked by another claim's statement is not full ('busy'): the
 * claim asks again, and only a lock held longer than its tries keeps the
 * gate shut, for GF_LIMITS_BUSY_AGAIN.
 *
 * Per node, the rules of core/gf_limit.h run on a state in shared memory,
 * so that the whole server, not each child, keeps to a provider's
 * max_concurrent= and rate=; a 429's Retry-After pauses the provider for
 * every child (and, written to the database too, for every node).
 *
 * Unlike the circuit breakers' state, which a restart copies into a new
 * segment, this segment and its mutex live as long as the httpd parent
 * (its process pool): after a graceful restart the old generation's
 * children still have calls open and give them back here, under the same
 * mutex, so the cap holds across the restart too. A provider's state is
 * found by its key (server and name, mod_genflow_servers.c) in slots laid
 * out as its circuit breaker's (mod_genflow_slots.c); a restart that declares
 * new providers gets free slots, or the slots of providers no longer
 * declared once none of their calls is open.
 *
 * Calls are counted per process: a child killed with calls open would
 * otherwise shrink the cap for good. When a provider is full, the dead
 * holders' calls are freed (gf_limit_reap, at most once a second). So are
 * the calls open to every provider, limited or not (what a group's
 * least-busy choice compares): the writer of this httpd's counts for the
 * other nodes frees the dead holders' first (gf_limits_calls_reap).
 */
#include <errno.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <apr_atomic.h>
#include <apr_strings.h>
#include <apr_shm.h>
#include <apr_global_mutex.h>
#include <http_core.h>
#include <http_protocol.h>
#include <util_mutex.h>

#include "httpd/config/mod_genflow_process.h"
#include "httpd/limits/mod_genflow_limits.h"
#include "httpd/servers/mod_genflow_servers.h"
#include "httpd/servers/mod_genflow_slots.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_metrics.h"
#include "core/gf_credits.h"
#include "core/gf_error.h"
#include "core/gf_json.h"
#include "core/gf_limit_gate.h"
#include "core/gf_sql.h"
#include "net/gf_loop.h"

#define SHM_KEY "mod_genflow_limits_shm"
#define MUTEX_KEY "mod_genflow_limits_mutex"
#define MUTEX_TYPE "genflow-limits"
#define LIM_MAGIC 0x67666c696d697436ULL   /* "gflimit6" */
#define NSLOTS 64
/* The shared memory's slots and the keyed slots' layout agree on the
 * room for a key. */
typedef char key_room_agrees[GF_LIMIT_KEY_MAX == GF_SLOT_KEY_MAX ? 1 : -1];

typedef gf_limit_slot_t slot_t;


/* The process's view (the process record's member): the segment and
 * mutex of the parent's lifetime. */
struct gf_limits_state {
    slot_t *slots;
    apr_global_mutex_t *mutex;
    apr_int32_t self;              /* this process's pid */
    int broken;                    /* no mutex in this child: limited providers get no call */
    gf_limits_engine_t engine;     /* the child's engine: hands freed places on */
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

/* This process, as the rules of core/gf_limit_gate.h see it, in the
 * caller's record (the callers are threads of one child). */
static const gf_limit_who_t *me(gf_limit_who_t *who)
{
    who->pid = limits()->self;
    who->alive = alive;
    who->baton = NULL;
    return who;
}

/* ---- startup ------------------------------------------------------------ */

/* fn for every provider of the configuration, with its server ("main" or
 * "host:port") and its key (mod_genflow_servers.c: the circuit breakers
 * find theirs by the same). */
static void each_provider(apr_pool_t *pconf, server_rec *s,
                          void (*fn)(gf_provider_t *prov, const char *server, const char *key,
                                     void *baton), void *baton)
{
    apr_array_header_t *keys = gf_servers_provider_keys(pconf, s);
    int i;
    for (i = 0; keys && i < keys->nelts; i++) {
        const gf_provider_key_t *pk = &APR_ARRAY_IDX(keys, i, gf_provider_key_t);
        fn(pk->prov, *pk->server ? pk->server : "main", pk->key, baton);
    }
}

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

static int is_declared(const char *key, void *baton)
{
    return apr_hash_get(baton, key, APR_HASH_KEY_STRING) != NULL;
}

static void assign(gf_provider_t *prov, const char *server, const char *key, void *baton)
{
    assign_t *a = baton;
    gf_limit_who_t who;
    prov->limit_slot = gf_limit_slot_for(limits()->slots, NSLOTS, key, is_declared, a->declared,
                                         me(&who));
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
    apr_size_t n = 0;
    slot_t *slots = NULL;

    apr_pool_userdata_get((void **)&shm, SHM_KEY, proc);
    apr_pool_userdata_get((void **)&limits()->mutex, MUTEX_KEY, proc);
    if (shm && (!(slots = gf_slots_of(shm, LIM_MAGIC, sizeof(slot_t), &n)) || n != NSLOTS)) {
        /* Another build of the module (a restart after an upgrade) may
         * lay its slots out otherwise: it gets a segment of its own, and
         * the old children keep theirs. */
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, GF_LOGNO(4806)
                     "provider limits: the shared memory of the previous module is laid "
                     "out otherwise; counting starts afresh");
        shm = NULL;
        slots = NULL;
    }
    if (!shm) {
        if (!(slots = gf_slots_create(proc, LIM_MAGIC, NSLOTS, sizeof(slot_t), &shm, &rv))) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, GF_LOGNO(4802)
                         "cannot create the provider limits' shared memory (%" APR_SIZE_T_FMT
                         " bytes)", sizeof(slot_t) * NSLOTS);
            return 0;
        }
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
    limits()->slots = slots;
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
    each_provider(pconf, s, collect_key, &a);
    /* Children of the previous generation may be using the slots. */
    if (apr_global_mutex_lock(limits()->mutex) != APR_SUCCESS) return HTTP_INTERNAL_SERVER_ERROR;
    each_provider(pconf, s, assign, &a);
    apr_global_mutex_unlock(limits()->mutex);
    return a.missing ? HTTP_INTERNAL_SERVER_ERROR : OK;
}

void gf_limits_child_init(apr_pool_t *pchild, server_rec *s, const gf_limits_engine_t *engine)
{
    apr_status_t rv;
    int i;
    if (engine) limits()->engine = *engine;
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
    for (i = 0; i < NSLOTS; i++) {
        gf_limit_hello(&limits()->slots[i].st.calls, limits()->self);
        gf_limit_hello(&limits()->slots[i].calls, limits()->self);
    }
    apr_global_mutex_unlock(limits()->mutex);
}

/* ---- taking and giving -------------------------------------------------- */

static slot_t *slot_of(const gf_provider_t *prov)
{
    if (!limits()->slots || !prov || prov->limit_slot < 0 || prov->limit_slot >= NSLOTS) return NULL;
    return &limits()->slots[prov->limit_slot];
}

static gf_limit_state_t *state_of(const gf_provider_t *prov)
{
    slot_t *slot = slot_of(prov);
    return slot ? &slot->st : NULL;
}

/* Are prov's limits kept in the database, for every node? */
static int per_site(const gf_provider_t *prov)
{
    return prov && gf_limit_per_site(&prov->limit);
}

static int lock(void)
{
    return !limits()->broken && limits()->mutex
           && apr_global_mutex_lock(limits()->mutex) == APR_SUCCESS;
}

static void unlock(void)
{
    apr_global_mutex_unlock(limits()->mutex);
}

int gf_limits_gate_open(const gf_provider_t *prov, int want, int hand_on, gf_limits_gate_t *g)
{
    slot_t *slot = slot_of(prov);
    apr_time_t now = apr_time_now();
    gf_limit_who_t who;
    int open;

    memset(g, 0, sizeof(*g));
    g->prov = prov;
    if (per_site(prov)) {
        g->max_concurrent = prov->limit.max_concurrent;
        g->spacing = gf_limit_spacing(&prov->limit);
    }
    if (!slot) return 1;
    if (!lock()) {
        /* No count to keep to: a provider counted per node gets no call. */
        return !(gf_limit_any(&prov->limit) && prov->limit.per_node);
    }
    open = gf_limit_gate_decide(slot, &prov->limit, now, hand_on, want, me(&who), &g->taken);
    g->taken_at = now;
    unlock();
    return open;
}

int gf_limits_may_wake(const gf_provider_t *prov)
{
    slot_t *slot = slot_of(prov);
    int wake;
    if (!slot || !lock()) return 1;
    wake = gf_limit_slot_may_wake(slot, &prov->limit, apr_time_now());
    unlock();
    return wake;
}

int gf_limits_paused(const gf_provider_t *prov)
{
    slot_t *slot = slot_of(prov);
    int paused;
    if (!slot || !lock()) return 0;
    paused = slot->st.paused_until > apr_time_now();
    unlock();
    return paused;
}

apr_time_t gf_limits_next_unblock(apr_time_t now)
{
    apr_time_t next;
    if (!limits()->slots || !lock()) return 0;
    next = gf_limit_slots_next_unblock(limits()->slots, NSLOTS, now);
    unlock();
    return next;
}

int gf_limits_gate_room(const gf_limits_gate_t *g, int want)
{
    return g->prov ? gf_limit_gate_room(&g->prov->limit, g->taken, want) : want;
}

void gf_limits_gate_assign(gf_limits_gate_t *g, const char *place, const char *id, int attempt,
                           gf_limits_hold_t *hold)
{
    memset(hold, 0, sizeof(*hold));
    if (per_site(g->prov)) {
        hold->prov = g->prov;
        hold->place = place ? atoi(place) : 0;
        apr_cpystrn(hold->id, id ? id : "", sizeof(hold->id));
        hold->attempt = attempt;
    }
    else if (g->taken > 0) {
        hold->prov = g->prov;
        hold->taken = g->taken_at;
        g->taken--;
    }
}

void gf_limits_gate_close(gf_limits_gate_t *g, const char *state, const char *until_ms)
{
    slot_t *slot = slot_of(g->prov);
    apr_time_t now = apr_time_now(), until;
    gf_limit_said_t said;

    if (!slot) return;
    if (g->taken > 0) {
        /* No worker is woken for these: they were held for the moment of
         * one claim, and waking the others for each would have the
         * workers wake each other for ever while a provider is full. */
        if (lock()) {
            for (; g->taken > 0; g->taken--) gf_limit_untake(&slot->st, limits()->self, g->taken_at);
            unlock();
        }
        return;
    }
    if (!per_site(g->prov)) return;
    said = gf_limit_gate_said(state, until_ms, now, &until);
    /* "open" with nothing to clear takes no lock. */
    if (said == GF_LIMIT_SAID_NOTHING || (said == GF_LIMIT_SAID_OPEN && !slot->full_until)) return;
    if (lock()) {
        gf_limit_slot_note(slot, said, until, now);
        unlock();
    }
}

/* A place of per-site prov for a row whose claim took none (a group's
 * member): 1 when taken (hold made its holder), 0 when prov has no room
 * now or the database did not say. */
typedef struct {
    server_rec *s;
    apr_pool_t *p;
    const char *args[7];
    const char *place;
    int answered, ok;
} site_take_t;

static void site_take_now(void *baton)
{
    site_take_t *x = baton;
    gf_db_rows_t *rows = NULL;
    x->answered = gf_db_select_once(x->s, x->p, GF_SQL_PLACE_TAKE, &rows, 7, x->args) == GF_DB_OK
                  && rows->nrows == 1;
    x->ok = x->answered && rows->rows[0][0];
    if (x->ok) x->place = apr_pstrdup(x->p, rows->rows[0][0]);
}

/* The database said prov has no room now: the children leave it out of
 * their groups' choices (gf_limits_may_wake) for a while, as a claim's
 * "full" does (gf_limit_slot_no_room). */
static void site_no_room(const gf_provider_t *prov)
{
    slot_t *slot = slot_of(prov);
    if (!slot || !lock()) return;
    gf_limit_slot_no_room(slot, gf_limit_spacing(&prov->limit), apr_time_now());
    unlock();
}

static int take_site_place(const gf_limits_claim_t *c, const gf_provider_t *prov,
                           gf_limits_hold_t *hold)
{
    site_take_t x;
    apr_pool_t *p;

    if (!c || !c->s || apr_pool_create(&p, NULL) != APR_SUCCESS) return 0;
    memset(&x, 0, sizeof(x));
    x.s = c->s;
    x.p = p;
    x.args[0] = prov->name;
    x.args[1] = apr_itoa(p, prov->limit.max_concurrent);
    x.args[2] = apr_psprintf(p, "%" APR_TIME_T_FMT, gf_limit_spacing(&prov->limit));
    x.args[3] = c->id;
    x.args[4] = apr_itoa(p, c->attempt);
    x.args[5] = c->owner;
    x.args[6] = apr_itoa(p, c->lease_secs);
    gf_loop_blocking(site_take_now, &x);
    if (x.answered && !x.ok) site_no_room(prov);
    if (x.ok) {
        memset(hold, 0, sizeof(*hold));
        hold->prov = prov;
        hold->place = atoi(x.place);
        apr_cpystrn(hold->id, c->id, sizeof(hold->id));
        hold->attempt = c->attempt;
    }
    apr_pool_destroy(p);
    return x.ok;
}

int gf_limits_hold(const gf_limits_claim_t *c, const gf_provider_t *prov, gf_limits_hold_t *hold,
                   apr_interval_time_t *defer)
{
    gf_limit_state_t *st;
    gf_limit_who_t who;
    apr_time_t now = apr_time_now(), next = 0;
    int ok;

    *defer = apr_time_from_sec(1);
    if (hold->prov == prov) return 1;
    /* Per site a place is a provider name's, whoever declared it. */
    if (per_site(prov) && hold->prov && !strcmp(hold->prov->name, prov->name)) return 1;
    if (hold->prov && !per_site(hold->prov)) gf_limits_unused(NULL, hold);
    /* Per site, a claim of another line (a group's) took none of prov's:
     * take one now. A claim of prov's own line holds what it took (a
     * standby's and a pacer's row run under the place and start they
     * were given). */
    if (per_site(prov)) return c && c->other_line ? take_site_place(c, prov, hold) : 1;
    if (!(st = state_of(prov))) return 1;
    if (!lock()) return !gf_limit_any(&prov->limit);
    ok = gf_limit_slot_hold(&prov->limit, st, now, me(&who), &next);
    unlock();
    if (ok && gf_limit_any(&prov->limit)) {
        hold->prov = prov;
        hold->taken = now;
    }
    *defer = gf_limit_hold_defer(ok, next, now);
    return ok;
}

/* A database statement of this file, where statements may block (a
 * worker's thread when called from a fiber of the loop). */
typedef struct {
    server_rec *s;
    const char *label;
    int nargs;
    const char *args[4];
} site_statement_t;

static void site_statement_now(void *baton)
{
    site_statement_t *x = baton;
    apr_pool_t *p;
    ap_dbd_t *dbd;
    gf_db_rows_t *rows;

    if (apr_pool_create(&p, NULL) != APR_SUCCESS) return;
    if ((dbd = gf_db_open(p, x->s)) != NULL) {
        gf_db_pselectv(x->s, p, dbd, x->label, &rows, x->nargs, x->args);
        gf_db_close(x->s, dbd);
    }
    apr_pool_destroy(p);
}

/* A place kept in the database, of a call that ended (or never began):
 * handed on to the provider's next due row by the child's engine, or
 * freed. Only its holder's (generation, attempt) hands it on or frees it,
 * so it never is twice. A statement lost to a database outage leaves the
 * place to its lease. */
typedef struct {
    server_rec *s;
    const gf_limits_hold_t *hold;
    int handed;
} hand_on_t;

static void hand_on_now(void *baton)
{
    hand_on_t *x = baton;
    x->handed = limits()->engine.hand_on ? limits()->engine.hand_on(x->s, x->hold->prov, x->hold)
                                         : 0;
}

/* 1 when the place was handed on by the engine (or freed by its claim,
 * which found nothing due), or freed here for another child (this one
 * had no room for the next row: the hint that the provider is full is
 * cleared, then another child is rung); 0 when it was freed here. */
static void freed_here(const gf_provider_t *prov);

static int release_site_place(server_rec *s, const gf_limits_hold_t *hold)
{
    site_statement_t x;
    hand_on_t h;
    char place[16], attempt[16];
    if (!s || hold->place <= 0 || !hold->id[0]) return 1;
    h.s = s;
    h.hold = hold;
    h.handed = 0;
    gf_loop_blocking(hand_on_now, &h);
    if (h.handed == 1) return 1;
    apr_snprintf(place, sizeof(place), "%d", hold->place);
    apr_snprintf(attempt, sizeof(attempt), "%d", hold->attempt);
    x.s = s;
    x.label = GF_SQL_PLACE_RELEASE;
    x.nargs = 4;
    x.args[0] = hold->prov->name;
    x.args[1] = place;
    x.args[2] = hold->id;
    x.args[3] = attempt;
    gf_loop_blocking(site_statement_now, &x);
    if (h.handed != 2) return 0;
    freed_here(hold->prov);
    if (limits()->engine.no_room) limits()->engine.no_room();
    return 1;
}

/* A 429's pause for every node (the database) and every child (here). */
static void pause_provider(server_rec *s, const gf_provider_t *prov, apr_time_t until, int *extended)
{
    slot_t *slot = slot_of(prov);
    site_statement_t x;
    char ms[32];

    if (slot && lock()) {
        *extended = gf_limit_slot_pause(slot, until);
        unlock();
    }
    if (!s) return;
    apr_snprintf(ms, sizeof(ms), "%" APR_INT64_T_FMT, apr_time_as_msec(until - apr_time_now()));
    x.s = s;
    x.label = GF_SQL_PROVIDER_PAUSE;
    x.nargs = 2;
    x.args[0] = prov->name;
    x.args[1] = ms;
    gf_loop_blocking(site_statement_now, &x);
}

/* A place of prov may be free in this httpd: the children may claim
 * again; a place counted per node is handed on by the child's engine. */
static void freed_here(const gf_provider_t *prov)
{
    slot_t *slot = slot_of(prov);
    if (slot && per_site(prov) && lock()) {
        gf_limit_slot_freed(slot);
        unlock();
    }
    if (!per_site(prov) && limits()->engine.freed) limits()->engine.freed(prov->name);
}

void gf_limits_done(server_rec *s, const gf_provider_t *prov, gf_limits_hold_t *hold,
                    const gf_provider_result_t *res)
{
    gf_limit_state_t *st = state_of(prov);
    apr_time_t until = gf_limit_pause_of(res, apr_time_now());
    int extended = 0, held = hold->prov != NULL;

    /* The pause first: the place is not handed on to a call the
     * provider has just refused to take. */
    if (until) pause_provider(s, prov, until, &extended);
    /* A place handed on is still busy: the other workers hear nothing. */
    if (hold->prov && per_site(hold->prov)) {
        if (release_site_place(s, hold)) held = 0;
    }
    else if (hold->prov == prov && st && lock()) {
        gf_limit_give(st, limits()->self);
        unlock();
    }
    if (held) freed_here(hold->prov);
    memset(hold, 0, sizeof(*hold));
    if (extended) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, GF_LOGNO(4805)
                     "provider %s answered 429 with Retry-After: no call to it from any "
                     "child or node for %" APR_TIME_T_FMT " s", prov->name,
                     apr_time_sec(until - apr_time_now() + APR_USEC_PER_SEC - 1));
    }
}

/* Counted per process under the mutex, as the limits' places are, so
 * that a child killed in the middle of a call leaves no count behind
 * (gf_limits_calls_reap): a count that only grew would make a group's
 * least-busy choice, on every node, lean away from the member for good.
 * Without the mutex (a broken child) the call is not counted. */
void gf_limits_call_begin(const gf_provider_t *prov)
{
    slot_t *slot = slot_of(prov);
    if (!slot || !lock()) return;
    gf_limit_hold(&slot->calls, limits()->self);
    unlock();
}

void gf_limits_call_end(const gf_provider_t *prov)
{
    slot_t *slot = slot_of(prov);
    if (!slot || !lock()) return;
    gf_limit_unhold(&slot->calls, limits()->self);
    unlock();
}

int gf_limits_calls_open(const gf_provider_t *prov)
{
    slot_t *slot = slot_of(prov);
    /* One aligned word, written under the mutex: read without it. */
    return slot ? (int)apr_atomic_read32((volatile apr_uint32_t *)&slot->calls.open) : 0;
}

void gf_limits_calls_reap(const gf_provider_t *prov)
{
    slot_t *slot = slot_of(prov);
    apr_time_t now = apr_time_now();
    gf_limit_who_t who;
    if (!slot || !gf_limits_calls_open(prov) || !lock()) return;
    gf_limit_slot_calls_reap(slot, now, me(&who));
    unlock();
}

int gf_limits_calls_told(const gf_provider_t *prov)
{
    slot_t *slot = slot_of(prov);
    return slot ? (int)apr_atomic_read32(&slot->calls_told) : 0;
}

void gf_limits_calls_tell(const gf_provider_t *prov, int open)
{
    slot_t *slot = slot_of(prov);
    if (slot) apr_atomic_set32(&slot->calls_told, (apr_uint32_t)(open > 0 ? open : 0));
}

void gf_limits_call_took(const gf_provider_t *prov, apr_interval_time_t took)
{
    slot_t *slot = slot_of(prov);
    if (slot) gf_limit_average_in(&slot->call_ms, took);
}

apr_interval_time_t gf_limits_recent_call(const gf_provider_t *prov)
{
    slot_t *slot = slot_of(prov);
    return slot ? apr_time_from_msec(apr_atomic_read32(&slot->call_ms)) : 0;
}

void gf_limits_job_took(const gf_provider_t *prov, apr_interval_time_t took)
{
    slot_t *slot = slot_of(prov);
    if (slot && took > 0) gf_limit_average_in(&slot->job_ms, took);
}

apr_interval_time_t gf_limits_recent_job(const gf_provider_t *prov)
{
    slot_t *slot = slot_of(prov);
    return slot ? apr_time_from_msec(apr_atomic_read32(&slot->job_ms)) : 0;
}

void gf_limits_unused(server_rec *s, gf_limits_hold_t *hold)
{
    gf_limit_state_t *st = state_of(hold->prov);
    if (!hold->prov) return;
    if (per_site(hold->prov)) {
        if (!release_site_place(s, hold)) freed_here(hold->prov);
    }
    else if (st && lock()) {
        gf_limit_untake(st, limits()->self, hold->taken);
        unlock();
        freed_here(hold->prov);
    }
    memset(hold, 0, sizeof(*hold));
}

void gf_limits_ensure(server_rec *s, apr_pool_t *p)
{
    apr_hash_t *providers = gf_server_conf(s)->providers;
    apr_hash_index_t *hi;
    ap_dbd_t *dbd = NULL;

    for (hi = providers ? apr_hash_first(p, providers) : NULL; hi; hi = apr_hash_next(hi)) {
        const gf_provider_t *prov = apr_hash_this_val(hi);
        gf_db_rows_t *rows;
        if (!per_site(prov)) continue;
        if (!dbd && !(dbd = gf_db_open(p, s))) return;
        gf_db_pselect(s, p, dbd, GF_SQL_PLACES_ENSURE, &rows, 2, prov->name,
                      apr_itoa(p, prov->limit.max_concurrent));
    }
    if (dbd) gf_db_close(s, dbd);
}

/* ---- what operators see ------------------------------------------------- */

/* prov's calls open and pause: per site from the database (every node),
 * else this httpd's shared memory. 0 when neither could say. */
static int snapshot(request_rec *r, const gf_provider_t *prov, apr_uint32_t *open,
                    apr_time_t *paused)
{
    gf_limit_state_t *st = state_of(prov);
    *open = 0;
    *paused = 0;
    if (per_site(prov) && r) {
        ap_dbd_t *dbd = gf_db_acquire(r);
        gf_db_rows_t *rows;
        if (!dbd || gf_db_select(r, dbd, GF_SQL_PROVIDER_STATE, &rows, 2, prov->name,
                                 apr_itoa(r->pool, prov->limit.max_concurrent)) != GF_DB_OK
            || rows->nrows != 1) {
            if (dbd) gf_db_release(r);
            return 0;
        }
        *open = (apr_uint32_t)apr_atoi64(rows->rows[0][0]);
        *paused = apr_time_from_msec(apr_atoi64(rows->rows[0][1]));
        gf_db_release(r);
        return 1;
    }
    if (!st || !lock()) return 0;
    *open = st->calls.open;
    *paused = st->paused_until;
    unlock();
    return 1;
}

json_object *gf_limits_health(request_rec *r, const gf_provider_t *prov)
{
    apr_uint32_t open = 0;
    apr_time_t paused = 0;

    snapshot(r, prov, &open, &paused);
    return gf_limit_health_json(r->pool, &prov->limit, open, paused, apr_time_now());
}

typedef struct {
    request_rec *r;
    gf_mtext_t open, paused;
    apr_time_t now;
} metrics_t;

static void metric_of(gf_provider_t *prov, const char *server, const char *key, void *baton)
{
    metrics_t *m = baton;
    apr_uint32_t open;
    apr_time_t paused;
    (void)key;
    if (!snapshot(m->r, prov, &open, &paused)) return;
    if (gf_limit_any(&prov->limit)) {
        gf_mtext_sample(&m->open, "genflow_provider_calls_open", apr_itoa(m->open.p, (int)open),
                        "server", server, "provider", prov->name, NULL);
    }
    gf_mtext_sample(&m->paused, "genflow_provider_paused_seconds",
                    gf_limit_paused_text(m->paused.p, paused, m->now),
                    "server", server, "provider", prov->name, NULL);
}

void gf_limits_metrics(request_rec *r)
{
    metrics_t m;
    m.r = r;
    gf_mtext_init(&m.open, r->pool);
    gf_mtext_init(&m.paused, r->pool);
    m.now = apr_time_now();
    gf_mtext_family(&m.open, "genflow_provider_calls_open", "gauge",
                    "Calls open to each provider with max_concurrent= or rate=: on every node "
                    "of the database (limits=site), or all children of this httpd (limits=node).");
    gf_mtext_family(&m.paused, "genflow_provider_paused_seconds", "gauge",
                    "Seconds until a provider that answered 429 with Retry-After is called "
                    "again (0: not paused).");
    each_provider(NULL, NULL, metric_of, &m);
    ap_rputs(gf_mtext_str(&m.open), r);
    ap_rputs(gf_mtext_str(&m.paused), r);
}

void gf_limits_register_hooks(void)
{
    ap_hook_pre_config(lim_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
}
