/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_breaker.c: every provider's circuit breaker (core/gf_breaker.h)
 * in shared memory, the way mod_slotmem_shm keeps mod_proxy_balancer's
 * member state.
 *
 * post_config gives each declared provider (by its key, which
 * mod_genflow_servers.c owns) a slot (mod_genflow_slots.c, the layout the
 * limits share) of an anonymous shared memory segment created in the parent before the children fork, so every
 * child and worker thread reads and changes the same state, under one
 * global mutex (the standard `Mutex genflow-breaker ...` directive
 * configures it; each child re-attaches in child_init). A slot is keyed by
 * the server that declared the provider and its name: a virtual host's own
 * declaration of a name has a circuit of its own, and one it inherits
 * shares the main server's. The segment belongs to the parent's process
 * pool, so a graceful or plain restart keeps each circuit whose key is
 * still declared, as it was when the parent copied it (by key, so the set
 * of providers may change: new ones start closed, removed ones are
 * forgotten); it starts empty when httpd itself starts again.
 *
 * Only submissions are gated (gf_breaker_gate): the poll of a job a
 * provider accepted is never skipped, and poll results do not count.
 */
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <apr_shm.h>
#include <apr_global_mutex.h>
#include <http_core.h>
#include <http_protocol.h>
#include <util_mutex.h>
#include <mod_status.h>

#include "httpd/config/mod_genflow_process.h"
#include "httpd/servers/mod_genflow_breaker.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/servers/mod_genflow_servers.h"
#include "httpd/servers/mod_genflow_slots.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_metrics.h"
#include "core/gf_credits.h"
#include "core/gf_error.h"
#include "core/gf_json.h"

#define SHM_KEY "mod_genflow_breaker_shm"
#define MUTEX_TYPE "genflow-breaker"
#define BRK_MAGIC 0x67666272656b3032ULL   /* "gfbrek02" */

typedef struct {
    char key[GF_SLOT_KEY_MAX];   /* "server/provider" ("/provider": the main server's) */
    gf_breaker_t b;
} slot_t;

/* The process record's member: this configuration's breakers. It goes
 * with the configuration's pool, the mutex with it: a configuration that
 * does not reach gf_breaker_post_config (no type mounted) has none. */
struct gf_breaker_state {
    slot_t *slots;                 /* in the segment; NULL: no breakers */
    int nslots;
    gf_provider_key_t *info;       /* the providers' keys (mod_genflow_servers.c), same index */
    apr_global_mutex_t *mutex;
};

const apr_size_t gf_breaker_state_size = sizeof(struct gf_breaker_state);

static struct gf_breaker_state *breaker(void)
{
    return GF_PROCESS_STATE(breaker);
}

static int brk_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    return ap_mutex_register(pconf, MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
}

int gf_breaker_post_config(apr_pool_t *pconf, server_rec *s)
{
    apr_pool_t *proc = s->process->pool;
    apr_array_header_t *list = gf_servers_provider_keys(pconf, s);
    apr_shm_t *old = NULL, *shm = NULL;
    const slot_t *os = NULL;
    apr_size_t bytes = sizeof(slot_t) * (apr_size_t)list->nelts, on = 0;
    slot_t *ns;
    apr_status_t rv;
    int i, j, kept = 0;

    breaker()->info = (gf_provider_key_t *)list->elts;
    rv = ap_global_mutex_create(&breaker()->mutex, NULL, MUTEX_TYPE, NULL, s, pconf, 0);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, GF_LOGNO(4401)
                     "cannot create the circuit breakers' mutex (Mutex " MUTEX_TYPE ")");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (!(ns = gf_slots_create(proc, BRK_MAGIC, (apr_size_t)list->nelts, sizeof(slot_t), &shm,
                               &rv))) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, GF_LOGNO(4402)
                     "cannot create the circuit breakers' shared memory (%" APR_SIZE_T_FMT
                     " bytes)", bytes);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    apr_pool_userdata_get((void **)&old, SHM_KEY, proc);
    if (old) os = gf_slots_of(old, BRK_MAGIC, sizeof(slot_t), &on);
    /* The previous generation's states, by key. After a graceful restart
     * its children may still be finishing attempts and writing to the old
     * segment, under a mutex this process no longer holds: the copy can
     * be torn, so a slot is kept only when its fields are in range
     * (gf_breaker_sane), and what those children record after the copy
     * is lost (a probe of theirs is redone when its slot would have
     * expired, for a copied half-open state, or at once). */
    for (i = 0; i < list->nelts; i++) {
        gf_provider_key_t *si = &breaker()->info[i];
        gf_provider_t *prov = (gf_provider_t *)si->prov;
        apr_cpystrn(ns[i].key, si->key, sizeof(ns[i].key));
        j = os ? gf_slots_find(os, on, sizeof(slot_t), ns[i].key) : -1;
        if (j >= 0 && gf_breaker_sane(&os[j].b)) {
            ns[i].b = os[j].b;
            kept++;
        }
        else {
            gf_breaker_init(&ns[i].b);
        }
        /* A probe's slot is held for the cool-down, or for the longest
         * attempt the provider can take when that is longer. */
        prov->breaker.probe_ttl = gf_breaker_probe_ttl(&prov->breaker,
                                                       gf_provider_worst_attempt(prov));
        prov->breaker_slot = i;
    }
    if (old) {
        /* Children of the previous generation keep their own mapping. */
        apr_pool_userdata_set(NULL, SHM_KEY, apr_pool_cleanup_null, proc);
        apr_shm_destroy(old);
    }
    apr_pool_userdata_set(shm, SHM_KEY, apr_pool_cleanup_null, proc);
    breaker()->slots = ns;
    breaker()->nslots = list->nelts;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, GF_LOGNO(4403)
                 "circuit breakers: %s in %" APR_SIZE_T_FMT " bytes of shared memory, %d kept "
                 "from before the restart", gf_count(pconf, breaker()->nslots, "provider", "providers"), bytes,
                 kept);
    return OK;
}

void gf_breaker_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;
    if (!breaker()->mutex) return;
    rv = apr_global_mutex_child_init(&breaker()->mutex, apr_global_mutex_lockfile(breaker()->mutex), pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, GF_LOGNO(4404)
                     "cannot attach to the circuit breakers' mutex: every provider is "
                     "treated as closed in this child");
        breaker()->mutex = NULL;
    }
}

static slot_t *slot_of(const gf_provider_t *prov)
{
    if (!breaker()->slots || !breaker()->mutex || !prov || prov->breaker_slot < 0 || prov->breaker_slot >= breaker()->nslots) {
        return NULL;
    }
    return &breaker()->slots[prov->breaker_slot];
}

static int lock(void)
{
    return apr_global_mutex_lock(breaker()->mutex) == APR_SUCCESS;
}

static void unlock(void)
{
    apr_global_mutex_unlock(breaker()->mutex);
}

/* A copy of prov's state taken under the lock; 0 when it has none. */
static int snapshot(const gf_provider_t *prov, gf_breaker_t *out)
{
    slot_t *sl = slot_of(prov);
    if (!sl || !lock()) return 0;
    *out = sl->b;
    unlock();
    return 1;
}

int gf_breaker_closed(const gf_provider_t *prov)
{
    gf_breaker_t b;
    if (!prov->breaker.enabled || !snapshot(prov, &b)) return 1;
    return gf_breaker_closed_at(&b, apr_time_now());
}

int gf_breaker_gate(server_rec *s, apr_pool_t *p, const gf_provider_t *prov, int more,
                    apr_uint32_t *probe, gf_decision_t *d)
{
    slot_t *sl = slot_of(prov);
    gf_breaker_admit_t a;
    apr_time_t retry_at = 0;

    *probe = 0;
    if (!sl || !prov->breaker.enabled || !lock()) return 0;
    a = gf_breaker_admit(&sl->b, &prov->breaker, apr_time_now(), probe);
    retry_at = gf_breaker_retry_at(&sl->b);
    unlock();
    if (a == GF_BREAKER_PROBE) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, GF_LOGNO(4405)
                     "provider %s: circuit half-open, this submission is the probe", prov->name);
    }
    if (a != GF_BREAKER_SKIP) return 0;
    gf_breaker_refusal(p, prov->name, more, retry_at, d);
    return 1;
}

void gf_breaker_record_call(server_rec *s, const gf_provider_t *prov, apr_uint32_t probe,
                            const gf_provider_result_t *res)
{
    slot_t *sl = slot_of(prov);
    gf_breaker_outcome_t o = res ? gf_breaker_outcome(res) : GF_BREAKER_NEUTRAL;
    apr_uint32_t before, after;
    apr_uint64_t opened;

    if (!sl || !prov->breaker.enabled || (o == GF_BREAKER_NEUTRAL && !probe) || !lock()) return;
    before = sl->b.state;
    opened = sl->b.opened;
    after = gf_breaker_record(&sl->b, &prov->breaker, apr_time_now(), probe, o);
    opened = sl->b.opened - opened;
    unlock();
    switch (gf_breaker_news((gf_breaker_state_t)before, (gf_breaker_state_t)after, opened != 0, o)) {
    case GF_BREAKER_NEWS_REOPENED:
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(4406)
                     "provider %s: the probe failed (%s), circuit re-opened: no submission "
                     "for %" APR_TIME_T_FMT " s", prov->name,
                     res && res->error_code ? res->error_code : "-",
                     apr_time_sec(prov->breaker.cooldown));
        break;
    case GF_BREAKER_NEWS_EXHAUSTED:
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(4409)
                     "provider %s: the account is out of credits (PROVIDER_CREDITS), circuit "
                     "opened: no submission for %" APR_TIME_T_FMT " s", prov->name,
                     apr_time_sec(prov->breaker.cooldown));
        break;
    case GF_BREAKER_NEWS_OPENED:
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, GF_LOGNO(4408)
                     "provider %s: %d failures within %" APR_TIME_T_FMT " s (last: %s), "
                     "circuit opened: no submission for %" APR_TIME_T_FMT " s", prov->name,
                     prov->breaker.failures, apr_time_sec(prov->breaker.window),
                     res && res->error_code ? res->error_code : "-",
                     apr_time_sec(prov->breaker.cooldown));
        break;
    case GF_BREAKER_NEWS_CLOSED:
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, GF_LOGNO(4407)
                     "provider %s: the probe succeeded, circuit closed", prov->name);
        break;
    default:
        break;
    }
}

/* ---- what operators see ------------------------------------------------- */

static const char *server_name(const gf_provider_key_t *si)
{
    return *si->server ? si->server : "main";
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp((*(gf_provider_t *const *)a)->name, (*(gf_provider_t *const *)b)->name);
}

json_object *gf_breaker_health(apr_pool_t *p, server_rec *s)
{
    gf_server_conf_t *sc = gf_server_conf(s);
    json_object *out = gf_json_pool_own(p, json_object_new_object());
    apr_array_header_t *provs = apr_array_make(p, 16, sizeof(gf_provider_t *));
    apr_hash_index_t *hi;
    apr_time_t now = apr_time_now();
    int i;

    for (hi = sc && sc->providers ? apr_hash_first(p, sc->providers) : NULL; hi;
         hi = apr_hash_next(hi)) {
        void *v;
        apr_hash_this(hi, NULL, NULL, &v);
        APR_ARRAY_PUSH(provs, gf_provider_t *) = v;
    }
    qsort(provs->elts, (size_t)provs->nelts, sizeof(gf_provider_t *), cmp_name);
    for (i = 0; i < provs->nelts; i++) {
        const gf_provider_t *prov = APR_ARRAY_IDX(provs, i, gf_provider_t *);
        gf_breaker_t b;
        if (!snapshot(prov, &b)) gf_breaker_init(&b);
        json_object_object_add(out, prov->name, gf_breaker_health_json(p, &prov->breaker, &b, now));
    }
    return out;
}

void gf_breaker_metrics(request_rec *r)
{
    gf_mtext_t state, skipped, opened, *t = &state;
    int i;

    gf_mtext_init(&state, r->pool);
    gf_mtext_init(&skipped, r->pool);
    gf_mtext_init(&opened, r->pool);
    gf_mtext_family(t, "genflow_provider_circuit_state", "gauge",
                    "Circuit breaker of each provider: 0 closed, 1 open, 2 half-open.");
    gf_mtext_family(&skipped, "genflow_provider_circuit_skipped_total", "counter",
                    "Submissions not sent to a provider because its circuit was open.");
    gf_mtext_family(&opened, "genflow_provider_circuit_opened_total", "counter",
                    "Times a provider's circuit opened (re-openings after a failed probe "
                    "included).");
    for (i = 0; i < breaker()->nslots; i++) {
        gf_breaker_t b;
        if (!snapshot(breaker()->info[i].prov, &b)) continue;
        gf_mtext_sample(t, "genflow_provider_circuit_state",
                        apr_itoa(t->p, (int)gf_breaker_state(&b)),
                        "server", server_name(&breaker()->info[i]), "provider", breaker()->info[i].prov->name, NULL);
        gf_mtext_sample(&skipped, "genflow_provider_circuit_skipped_total",
                        apr_psprintf(t->p, "%" APR_UINT64_T_FMT, b.skipped),
                        "server", server_name(&breaker()->info[i]), "provider", breaker()->info[i].prov->name, NULL);
        gf_mtext_sample(&opened, "genflow_provider_circuit_opened_total",
                        apr_psprintf(t->p, "%" APR_UINT64_T_FMT, b.opened),
                        "server", server_name(&breaker()->info[i]), "provider", breaker()->info[i].prov->name, NULL);
    }
    /* Each family's samples together, one family after the other. */
    ap_rputs(gf_mtext_str(&state), r);
    ap_rputs(gf_mtext_str(&skipped), r);
    ap_rputs(gf_mtext_str(&opened), r);
}

void gf_breaker_status(request_rec *r, int flags)
{
    int i, open = 0;
    if (flags & AP_STATUS_SHORT) {
        for (i = 0; i < breaker()->nslots; i++) {
            gf_breaker_t b;
            if (snapshot(breaker()->info[i].prov, &b) && gf_breaker_state(&b) != GF_BREAKER_CLOSED) open++;
        }
        ap_rprintf(r, "GenFlowCircuitsNotClosed: %d\n", open);
        return;
    }
    ap_rputs("<h3>Provider circuit breakers</h3>\n<table border=\"0\"><tr><th>server</th>"
             "<th>provider</th><th>state</th><th>failures</th><th>skipped</th>"
             "<th>opened</th><th>retry at</th></tr>\n", r);
    for (i = 0; i < breaker()->nslots; i++) {
        gf_breaker_t b;
        gf_breaker_state_t st;
        if (!snapshot(breaker()->info[i].prov, &b)) continue;
        st = gf_breaker_state(&b);
        ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%d</td><td>%" APR_UINT64_T_FMT
                   "</td><td>%" APR_UINT64_T_FMT "</td><td>%s</td></tr>\n",
                   ap_escape_html(r->pool, server_name(&breaker()->info[i])),
                   ap_escape_html(r->pool, breaker()->info[i].prov->name), gf_breaker_state_name(st),
                   gf_breaker_failures(&b, &breaker()->info[i].prov->breaker, apr_time_now()), b.skipped,
                   b.opened, st == GF_BREAKER_OPEN ? gf_time_rfc3339(r->pool, b.retry_at) : "-");
    }
    ap_rputs("</table>\n", r);
}

void gf_breaker_register_hooks(void)
{
    ap_hook_pre_config(brk_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
}
