/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_attempt.c: one attempt of one generation, in flight on the
 * child's loop (a fiber: its provider exchanges hold no thread, its
 * database statements run on a worker, gf_loop_blocking), or on the
 * worker that claimed it when the child has no loop.
 *
 * claim (one conditional UPDATE … FOR UPDATE SKIP LOCKED, under a lease)
 *   → the provider of the row's chain position: submit (unless its
 *     circuit is open: then the next entry at once, or a failure at the
 *     chain's end), or poll an accepted job (never re-submit it: a failing
 *     poll is polled again)
 *   → gf_job_before_call (core): the chain's end, the deadline, the
 *     rescue rule; then the gates of the provider's limits, budget and
 *     circuit
 *   → gf_job_decide (core): complete | poll | retry | fallback | fail
 *   → gf_engine_outcome_apply (mod_genflow_engine_outcome.c): one guarded statement: schedule again, or finalize with the charge
 *     or the refund in the same statement.
 * No database connection is held while the provider works; the child's
 * listener renews the lease meanwhile (heartbeat). An attempt whose lease
 * was taken over, or whose generation ended under it (cancelled, expired),
 * writes nothing: no row change and no stored picture. An attempt the
 * stopping child abandons gives its row back for rescue at once.
 * The shared metrics (gf_metrics.h) count each provider call, and each
 * retry, fallback, charge or refund whose statement matched.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_general.h>

#include "httpd/engine/mod_genflow_engine_int.h"
#include "core/gf_attempt.h"
#include "core/gf_job.h"
#include "core/gf_sql.h"
#include "core/gf_trace.h"
#include "httpd/limits/mod_genflow_limits.h"
#include "httpd/servers/mod_genflow_breaker.h"
#include "httpd/limits/mod_genflow_budgets.h"
#include "httpd/limits/mod_genflow_router.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_db.h"
#include "httpd/io/mod_genflow_metrics.h"
#include "httpd/config/mod_genflow_private.h"
#include "net/gf_loop.h"

typedef struct {
    server_rec *s;
    apr_pool_t *p;
    const gf_claim_t *c;
    const char *provider;
} accepted_baton_t;

typedef struct {
    const accepted_baton_t *b;
    const char *job_id, *state;
} accepted_t;

static void accepted_now(void *baton)
{
    const accepted_t *x = baton;
    const accepted_baton_t *b = x->b;
    gf_db_rows_t *rows;
    ap_dbd_t *dbd = gf_db_open(b->p, b->s);

    if (!dbd) return;   /* the outcome statement records it later */
    gf_db_pselect(b->s, b->p, dbd, b->c->type->labels[GF_SQL_ACCEPTED], &rows, 6, x->job_id,
                  x->state, b->provider, b->c->id, b->c->lease_owner,
                  apr_ltoa(b->p, b->c->attempts));
    gf_db_close(b->s, dbd);
}

/* gf_job_t.accepted: write the job id the provider just gave, guarded by
 * this attempt's lease, before the adapter downloads anything (the fiber
 * waits for the statement). */
static void on_accepted(const void *data, const char *job_id, const char *state)
{
    accepted_t x;
    x.b = data;
    x.job_id = job_id;
    x.state = state;
    gf_loop_blocking(accepted_now, &x);
}

/* Reading an upload back takes a statement and the store's read (and a
 * decode for a kind that draws from its pixels): work for a worker, not
 * the loop. */
typedef struct {
    server_rec *s;
    apr_pool_t *p;
    const gf_claim_t *c;
    const gf_provider_t *prov;
    gf_job_t *job;
    gf_provider_result_t *res;
    int ok;
} source_t;

static void source_now(void *baton)
{
    source_t *x = baton;
    x->ok = gf_engine_source_resolve(x->s, x->p, x->c, x->prov, x->job, x->res);
}

static int resolve_upload(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                          const gf_provider_t *prov, gf_job_t *job, gf_provider_result_t *res)
{
    source_t x;
    x.s = s;
    x.p = p;
    x.c = c;
    x.prov = prov;
    x.job = job;
    x.res = res;
    x.ok = 0;
    gf_loop_blocking(source_now, &x);
    return x.ok;
}

/* The claimed row as the core's job rules see it. */
static void job_state(const gf_claim_t *c, int chain_len, const gf_provider_t *prov,
                      gf_job_state_t *js)
{
    memset(js, 0, sizeof(*js));
    js->chain_index = c->chain_index;
    js->chain_len = chain_len;
    js->retry_count = c->retry_count;
    js->max_retries = c->max_retries;
    js->poll_count = c->poll_count;
    js->polling = c->provider_job_id != NULL;
    js->poll_errors = c->poll_errors;
    js->submit_once = prov && prov->kind->poll;
    js->rescued = c->rescued;
    js->deadline = c->deadline;
    js->cancel_at = c->cancel_at;
    js->started = c->started;
    js->poll_every = prov ? prov->poll_every : 0;
    js->now = apr_time_now();
}

/* A gate's verdict carried out: a deferred row back to the queue
 * (certain: nothing was sent), and its log line. */
static gf_gate_t gate_verdict(server_rec *s, apr_pool_t *p, gf_claim_t *cp,
                              const gf_provider_t *prov, const gf_gate_verdict_t *v)
{
    if (v->gate == GF_GATE_OPEN) return GF_GATE_OPEN;
    if (v->set_defer) cp->defer = v->defer;
    if (v->gate == GF_GATE_DEFERRED) gf_engine_row_statement(s, p, cp, GF_SQL_RELEASE, 1);
    gf_engine_row_log(s, p, v->warn ? APLOG_WARNING : APLOG_INFO, cp, prov->name, v->what, NULL,
                      v->detail);
    return v->gate;
}

/* The gates of the shared state before a call (core/gf_attempt.c says
 * what follows from each): a place in the provider's limits, then its
 * budget and job slots, then its circuit (which makes this call the
 * probe, *probe). Each before the breaker's gate, which would make this
 * the probe. */
static gf_gate_t pass_gates(server_rec *s, apr_pool_t *p, gf_claim_t *cp, const gf_provider_t *prov,
                            const gf_chain_entry_t *group, gf_limits_hold_t *hold, int more,
                            apr_uint32_t *probe, gf_decision_t *d)
{
    gf_limits_claim_t row;
    gf_gate_verdict_t v;
    row.s = s;
    row.id = cp->id;
    row.attempt = cp->attempts;
    row.owner = cp->lease_owner;
    row.lease_secs = gf_conf_lease_secs(gf_server_conf(s));
    row.other_line = group != NULL;
    if (!gf_limits_hold(&row, prov, hold, &cp->defer)) {
        gf_attempt_no_place(group && gf_router_other_room(s, p, group, prov), &v);
        return gate_verdict(s, p, cp, prov, &v);
    }
    if (!cp->provider_job_id) {
        int spent = gf_budgets_gate(s, p, prov, cp->id, cp->type->name, cp->asked,
                                    gf_attempt_hold_until(cp->deadline, apr_time_now(),
                                                          row.lease_secs),
                                    more, d);
        /* This child now knows the provider is full (every job slot
         * taken): gf_router_jobs_full says whether it knew already. */
        gf_attempt_budget(spent, spent == 2 && gf_router_jobs_full(prov, cp->id),
                          prov->limit.max_jobs, &v);
        if (v.job_began) gf_router_job_began(prov);
        if (v.gate != GF_GATE_OPEN) return gate_verdict(s, p, cp, prov, &v);
    }
    if (!cp->provider_job_id && gf_breaker_gate(s, p, prov, more, probe, d)) {
        /* Nothing held for a call that is not made. */
        gf_budgets_release(s, p, prov, cp->id);
        gf_attempt_circuit(1, &v);
        return gate_verdict(s, p, cp, prov, &v);
    }
    return GF_GATE_OPEN;
}

/* The job the provider's adapter sees; ab carries what on_accepted needs. */
static void fill_job(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                     const gf_chain_entry_t *entry, const gf_provider_t *prov,
                     accepted_baton_t *ab, gf_preview_hook_t *ph, gf_job_t *job)
{
    memset(job, 0, sizeof(*job));
    job->type = c->type->name;
    job->id = c->id;
    job->user = c->user;
    job->prompt = c->prompt;
    job->source_image = c->source_image;
    job->aspect_ratio = c->aspect_ratio;
    job->seed = c->seed;
    job->model = entry->model;
    job->attempt = c->attempts;
    job->poll_count = c->poll_count;
    job->provider_state = c->provider_state;
    job->preset = c->preset;
    job->steps = c->steps;
    job->count = c->asked;
    job->masked = c->mask != NULL;
    job->has_strength = gf_attempt_strength(c->strength, &job->strength);
    ab->s = s;
    ab->p = p;
    ab->c = c;
    ab->provider = prov->name;
    job->accepted = on_accepted;
    job->accepted_baton = ab;
    /* Partial pictures a provider streams reach the generation's
     * watchers (mod_genflow_engine_preview.c), where the store can sweep
     * them away again. */
    if (gf_engine_previews_on(s)) {
        ph->s = s;
        ph->id = c->id;
        ph->last = 0;
        job->preview = gf_engine_preview_hook;
        job->preview_wanted = gf_engine_preview_wanted;
        job->preview_baton = ph;
    }
}

/* Submit to or poll the provider (an upload source is read first), with
 * its limits, metrics and circuit told. res holds the answer. */
static void call_provider(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                          const gf_provider_t *prov, gf_job_t *job, gf_attempt_t *slot,
                          gf_limits_hold_t *hold, apr_uint32_t probe,
                          gf_provider_result_t *res)
{
    int called = 0;

    if (APLOGdebug(s)) {
        gf_engine_row_log(s, p, APLOG_DEBUG, c, prov->name, c->provider_job_id ? "poll" : "submit",
                          NULL, NULL);
    }
    /* An upload is read for a submission (network providers hold it after
     * that) and for every call of a kind that draws from its pixels
     * (source_pixels: the local provider, whose picture is drawn when its
     * simulated job ends). Unreadable, res says why and no
     * call is made: the job rules retry a transient failure and fail a
     * permanent one, with a refund. */
    if (!gf_attempt_reads_uploads(c->source_image, c->mask, c->references, c->provider_job_id,
                                  prov->kind->source_pixels)
        || resolve_upload(s, p, c, prov, job, res)) {
        /* The row that takes the place when this call ends, claimed
         * meanwhile (mod_genflow_engine_standby.c). */
        gf_standby_t *sb = gf_engine_standby_begin(s, hold, gf_engine_attempt_run);
        apr_time_t t0 = apr_time_now(), until;
        /* The row that takes the rate's next start, claimed a moment
         * before it (mod_genflow_engine_pacer.c). */
        gf_engine_pacer_begin(s, prov, c, gf_engine_attempt_run);
        const char *outcome, *code;
        int cut, cuttable = !prov->kind->submits_jobs || c->provider_job_id;
        /* A call ends with its generation's deadline (the nearer of
         * GenFlowDeadline and Cancel-After): a synchronous call under way
         * is cut there, and the decision ends the generation; so is it at
         * its user's cancel (gf_engine_cut). Not the submission of a job
         * the provider keeps (submits_jobs): cut, it could be accepted
         * there without its id here, a paid job nobody cancels; its polls
         * are cut, and the job is cancelled. */
        until = gf_loop_until(cuttable ? c->deadline : 0);
        if (cuttable) gf_engine_slot_calling(slot, 1);
        gf_limits_call_begin(prov);
        gf_provider_attempt(prov, job, c->provider_job_id, p, res);
        gf_limits_call_end(prov);
        if (cuttable) gf_engine_slot_calling(slot, 0);
        /* Cut off here (the deadline, a cancel), not by the provider: its
         * circuit and its call times are not told. */
        cut = gf_loop_was_cut();
        gf_loop_until(until);
        if (APLOGdebug(s)) {
            gf_engine_row_log(s, p, APLOG_DEBUG, c, prov->name, "called", NULL, NULL);
        }
        /* What it cost, before its place goes to the next call: a
         * budget's gate (mod_genflow_budgets.c) counts every call that
         * holds no place any more. */
        gf_engine_outcome_cost(s, p, c, prov, res);
        gf_engine_standby_settle(sb, slot, hold, res, apr_time_now() - t0);
        gf_limits_done(s, prov, hold, res);
        if (!cut) gf_limits_call_took(prov, apr_time_now() - t0);
        gf_metrics_classify(res, &outcome, &code);
        gf_metrics_provider_call(gf_metrics(), prov->name,
                                 gf_engine_aborting() || cut ? "aborted" : outcome, code,
                                 apr_time_now() - t0);
        called = !cut;
    }
    if (!c->provider_job_id) {
        /* A submission's result counts for the circuit (a cut-off one, or
         * none made, frees a probe's slot only). */
        gf_breaker_record_call(s, prov, probe, called && !gf_engine_aborting() ? res : NULL);
    }
}

/* After the call, before any decision: 1 when the attempt has nothing
 * more to write (the child is stopping: the row goes back, due now, its
 * job id untouched; or the lease was lost meanwhile). */
static int left_behind(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                       const gf_provider_t *prov, gf_attempt_t *slot)
{
    int aborting = gf_engine_aborting();
    gf_gate_verdict_t v;

    gf_attempt_left_behind(aborting,
                           aborting && gf_engine_row_statement(s, p, c, GF_SQL_RELEASE, 0) == 1,
                           slot->cancelled, gf_engine_slot_lost(slot), &v);
    if (v.gate == GF_GATE_OPEN) return 0;
    gf_engine_row_log(s, p, v.warn ? APLOG_WARNING : APLOG_INFO, c, prov->name, v.what, NULL,
                      v.detail);
    return 1;
}

/* A group's member for this attempt (mod_genflow_router.c), and *entry
 * made the entry of that member alone (its model); NULL when none of the
 * group's providers is declared here. */
static const gf_provider_t *chosen_member(server_rec *s, apr_pool_t *p, const gf_claim_t *c,
                                         const gf_chain_entry_t **entry)
{
    const gf_chain_member_t *m = NULL;
    const gf_provider_t *prov = gf_router_choose(s, p, *entry, c->provider_job_id ? c->accepted_by
                                                                               : NULL, &m);
    gf_chain_entry_t *one;

    if (!prov) return NULL;
    one = apr_pcalloc(p, sizeof(*one));
    one->provider = m->provider;
    one->model = m->model;
    one->text = m->provider;
    *entry = one;
    return prov;
}

/* The attempt ends its job at prov (any decision but another poll): what
 * the job held of prov's budget goes, unless its cost record took it. */
static int settle(server_rec *s, apr_pool_t *p, const gf_claim_t *c, const gf_decision_t *d,
                  const gf_provider_t *prov, const gf_provider_result_t *res)
{
    if (prov && gf_attempt_ends_job(d)) {
        gf_budgets_release(s, p, prov, c->id);
        if (prov->limit.max_jobs) {
            /* Its job slot is free: the next row of its line (or its
             * groups') is claimed now, not at the next look. */
            gf_router_job_ended(prov);
            gf_engine_look_again(apr_time_now());
        }
    }
    return gf_engine_outcome_apply(s, p, c, d, prov, res);
}

int gf_engine_attempt_run(server_rec *s, apr_pool_t *p, gf_claim_t *cp, gf_attempt_t *slot,
                          gf_limits_hold_t *hold)
{
    const gf_claim_t *c = cp;
    const gf_chain_entry_t *entry = NULL;
    const gf_provider_t *prov = NULL;
    apr_array_header_t *chain;
    gf_provider_result_t res;
    gf_job_state_t js;
    gf_decision_t d;
    gf_job_t job;
    accepted_baton_t ab;
    gf_preview_hook_t ph;
    const char *err = NULL;
    apr_uint32_t rnd = 0, probe = 0;
    const gf_chain_entry_t *group = NULL;

    memset(&res, 0, sizeof(res));
    memset(&d, 0, sizeof(d));
    /* Every exchange of the attempt (the provider's, a source read, the
     * store's) continues the generation's trace; a row without one (made
     * before traces were kept) clears what the pool's previous row left. */
    gf_trace_attach(p, c->traced ? &c->trace : NULL);
    if (!(chain = gf_chain_parse(p, c->chain, &err))) {
        gf_attempt_unparsed(err, &d);
        return gf_engine_outcome_apply(s, p, c, &d, NULL, &res);
    }
    if (c->chain_index < chain->nelts) {
        entry = &APR_ARRAY_IDX(chain, c->chain_index, gf_chain_entry_t);
        if (entry->members) group = entry;
        prov = group ? chosen_member(s, p, c, &entry)
                       : apr_hash_get(gf_server_conf(s)->providers, entry->provider,
                                      APR_HASH_KEY_STRING);
    }
    job_state(c, chain->nelts, prov, &js);
    if (gf_job_before_call(&js, &d)) {
        if (d.next == GF_NEXT_FALLBACK) {
            gf_engine_row_log(s, p, APLOG_WARNING, c, prov->name, "fallback", NULL, d.message);
        }
        return settle(s, p, c, &d, prov, &res);
    }
    if (!prov) {
        /* Declared when the row was created, gone from the configuration
         * since: a permanent failure of this chain entry. */
        gf_attempt_unconfigured(p, entry->provider, &res);
    }
    else {
        /* The pictures this call asks for: the count, or what it still
         * lacks, at most what one call of the provider brings (a count
         * beyond it is asked one call after another: GF_NEXT_MORE). */
        cp->asked = gf_job_call_count(c->count, c->stored, gf_provider_max_count(prov, entry->model));
        switch (pass_gates(s, p, cp, prov, group, hold, c->chain_index + 1 < chain->nelts,
                           &probe, &d)) {
        case GF_GATE_DEFERRED: return 1;
        case GF_GATE_DECIDED: return settle(s, p, c, &d, prov, &res);
        default: break;
        }
        fill_job(s, p, c, entry, prov, &ab, &ph, &job);
        /* Cancelled since its claim (a standby that waited for its place):
         * no call. */
        if (!gf_engine_slot_lost(slot)) {
            call_provider(s, p, c, prov, &job, slot, hold, probe, &res);
        }
        if (left_behind(s, p, c, prov, slot)) return 1;
    }
    apr_generate_random_bytes((unsigned char *)&rnd, sizeof(rnd));
    js.now = apr_time_now();
    gf_job_decide(&js, &res, rnd, &d);
    /* Still running: how far, for its watchers; its next poll may stay in
     * this child. */
    gf_engine_progress_note(s, p, cp, &res, &d);
    if (gf_engine_keep_put(s, p, c, prov, &res, &d)) return 1;
    return settle(s, p, c, &d, prov, &res);
}
