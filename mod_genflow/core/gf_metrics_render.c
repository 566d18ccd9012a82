/* SPDX-License-Identifier: Apache-2.0 */
/* gf_metrics_render.c: every counter and histogram family of the shared
 * slots, in the text format of gf_metrics_text.c (see gf_metrics.h). Buckets
 * are stored per interval and made cumulative here, so a scrape's _count
 * always equals its +Inf bucket. Also the families a scrape adds from
 * elsewhere: the build, this child's engine, and the database's gauges
 * (gf_mgauges_*, from the rows the glue reads).
 */
#include <stdio.h>
#include <apr_strings.h>

#include "core/gf_metrics.h"
#include "core/gf_metrics_private.h"
#include "core/gf_schema.h"
#include "core/gf_sql.h"

static const char *const MOVEMENTS[GF_CREDITS_MOVEMENTS] = { "reserved", "charged", "refunded" };

static const char *u64(apr_pool_t *p, apr_uint64_t v)
{
    return apr_psprintf(p, "%" APR_UINT64_T_FMT, v);
}

/* Seconds from microseconds, with all the precision they have. */
static const char *secs(apr_pool_t *p, apr_uint64_t usec)
{
    return apr_psprintf(p, "%" APR_UINT64_T_FMT ".%06u", usec / APR_USEC_PER_SEC,
                        (unsigned)(usec % APR_USEC_PER_SEC));
}

/* One histogram series: cumulative buckets, +Inf, _sum and _count; nothing
 * while it has no observation. kv holds nlabels pairs and room for "le". */
static void histogram(gf_mtext_t *t, const gf_metrics_t *m, const char *name, apr_size_t base,
                      const double *bounds, int n, const char **kv, int nlabels)
{
    apr_uint64_t counts[32], acc = 0, total = 0, sum;
    const char *bucket = apr_pstrcat(t->p, name, "_bucket", NULL);
    int i;

    for (i = 0; i <= n; i++) {
        counts[i] = gf_metrics_slot(m, base + (apr_size_t)i);
        total += counts[i];
    }
    if (!total) return;
    sum = gf_metrics_slot(m, base + (apr_size_t)n + 1);
    kv[2 * nlabels] = "le";
    for (i = 0; i <= n; i++) {
        char le[32];
        acc += counts[i];
        if (i < n) snprintf(le, sizeof(le), "%g", bounds[i]);
        else apr_cpystrn(le, "+Inf", sizeof(le));
        kv[2 * nlabels + 1] = le;
        gf_mtext_sample_kv(t, bucket, u64(t->p, acc), kv, nlabels + 1);
    }
    gf_mtext_sample_kv(t, apr_pstrcat(t->p, name, "_sum", NULL),
                       secs(t->p, sum), kv, nlabels);
    gf_mtext_sample_kv(t, apr_pstrcat(t->p, name, "_count", NULL), u64(t->p, acc), kv, nlabels);
}

static const char *type_name(const gf_metrics_t *m, int i)
{
    return i < m->ntypes ? m->types[i] : "-";
}

static const char *provider_name(const gf_metrics_t *m, int i)
{
    return i < m->nproviders ? m->providers[i] : "other";
}

/* The requests: counts by type, endpoint and status; durations by endpoint. */
static void render_requests(const gf_metrics_t *m, const offsets_t *o, gf_mtext_t *t)
{
    apr_pool_t *p = t->p;
    const char *kv[2 * MAX_LABELS];
    int i, j, k;

    gf_mtext_family(t, "genflow_requests_total", "counter",
                    "Requests answered by the module's handlers, or refused by httpd in its "
                    "locations, by type (\"-\" for site-wide handlers), endpoint and HTTP status.");
    for (i = 0; i <= m->ntypes; i++) {
        for (j = 0; j < m->nendpoints; j++) {
            for (k = 0; k < NSTATUS; k++) {
                apr_uint64_t v = gf_metrics_slot(m, o->req + ((apr_size_t)i * (apr_size_t)m->nendpoints
                                                             + (apr_size_t)j)
                                                            * NSTATUS + (apr_size_t)k);
                if (!v) continue;
                gf_mtext_sample(t, "genflow_requests_total", u64(p, v), "type", type_name(m, i),
                                "endpoint", m->endpoints[j], "status",
                                k < N(STATUSES) ? apr_itoa(p, STATUSES[k]) : "other", NULL);
            }
        }
    }

    gf_mtext_family(t, "genflow_request_duration_seconds", "histogram",
                    "Time from the request's arrival to its log entry, by endpoint.");
    for (j = 0; j < m->nendpoints; j++) {
        kv[0] = "endpoint";
        kv[1] = m->endpoints[j];
        histogram(t, m, "genflow_request_duration_seconds",
                  o->req_dur + (apr_size_t)j * HIST_WIDTH(REQ_BOUNDS), REQ_BOUNDS, N(REQ_BOUNDS),
                  kv, 1);
    }
}

/* The provider calls: counts by outcome and code, durations, costs. */
static void render_providers(const gf_metrics_t *m, const offsets_t *o, gf_mtext_t *t)
{
    apr_pool_t *p = t->p;
    const char *kv[2 * MAX_LABELS];
    int i, j, k;

    gf_mtext_family(t, "genflow_provider_calls_total", "counter",
                    "Provider attempts (submissions and polls) by provider, outcome (ok, pending, "
                    "transient, permanent, aborted) and job error code (none on success).");
    for (i = 0; i <= m->nproviders; i++) {
        for (j = 0; j < N(OUTCOMES); j++) {
            for (k = 0; k < N(CODES); k++) {
                apr_uint64_t v = gf_metrics_slot(m, o->prov + ((apr_size_t)i * N(OUTCOMES)
                                                              + (apr_size_t)j)
                                                             * N(CODES) + (apr_size_t)k);
                if (!v) continue;
                gf_mtext_sample(t, "genflow_provider_calls_total", u64(p, v),
                                "provider", provider_name(m, i), "outcome", OUTCOMES[j],
                                "code", CODES[k], NULL);
            }
        }
    }

    gf_mtext_family(t, "genflow_provider_call_duration_seconds", "histogram",
                    "Duration of one provider attempt, by provider.");
    for (i = 0; i <= m->nproviders; i++) {
        kv[0] = "provider";
        kv[1] = provider_name(m, i);
        histogram(t, m, "genflow_provider_call_duration_seconds",
                  o->prov_dur + (apr_size_t)i * HIST_WIDTH(PROV_BOUNDS), PROV_BOUNDS,
                  N(PROV_BOUNDS), kv, 1);
    }

    gf_mtext_family(t, "genflow_provider_cost_total", "counter",
                    "What provider calls cost, in the site's money unit (GenFlowProvider's "
                    "cost= per call and cost_per_unit= times the usage the provider reports), "
                    "by provider.");
    for (i = 0; i <= m->nproviders; i++) {
        apr_uint64_t v = gf_metrics_slot(m, o->prov_cost + (apr_size_t)i);
        if (!v && i == m->nproviders) continue;
        gf_mtext_sample(t, "genflow_provider_cost_total",
                        apr_psprintf(p, "%" APR_UINT64_T_FMT ".%06u",
                                     v / (apr_uint64_t)GF_METRICS_COST_UNIT,
                                     (unsigned)(v % (apr_uint64_t)GF_METRICS_COST_UNIT)),
                        "provider", provider_name(m, i), NULL);
    }
}

/* What the jobs did: retries, fallbacks, claims, the engine's events. */
static void render_jobs(const gf_metrics_t *m, const offsets_t *o, gf_mtext_t *t)
{
    apr_pool_t *p = t->p;
    int i;

    gf_mtext_family(t, "genflow_retries_total", "counter",
                    "Retries scheduled on the same provider after a transient failure, by type.");
    for (i = 0; i < m->ntypes; i++) {
        gf_mtext_sample(t, "genflow_retries_total",
                        u64(p, gf_metrics_slot(m, o->retry + (apr_size_t)i)),
                        "type", m->types[i], NULL);
    }
    gf_mtext_family(t, "genflow_fallbacks_total", "counter",
                    "Fallbacks to the next provider of a chain, by type.");
    for (i = 0; i < m->ntypes; i++) {
        gf_mtext_sample(t, "genflow_fallbacks_total",
                        u64(p, gf_metrics_slot(m, o->fallback + (apr_size_t)i)),
                        "type", m->types[i], NULL);
    }

    gf_mtext_family(t, "genflow_claims_total", "counter",
                    "Claims of the job engine by result: rows taken, nothing due, or none "
                    "taken because the provider's limits had no place (full), its rate's next "
                    "start had not come, or a 429 paused it.");
    for (i = 0; i < N(CLAIM_RESULTS); i++) {
        gf_mtext_sample(t, "genflow_claims_total",
                        u64(p, gf_metrics_slot(m, o->claims + (apr_size_t)i)),
                        "result", CLAIM_RESULTS[i], NULL);
    }
    gf_mtext_family(t, "genflow_engine_events_total", "counter",
                    "What the job engine's workers did: woken for work (at most one wake "
                    "pending per worker, however many notifications), rounds over the due "
                    "work, places handed on in the child that freed them, places another "
                    "child rang for, sweeps, places passed to a standby row, rows only the "
                    "stray sweep found, and rows started at their rate's start (paced).");
    for (i = 0; i < N(ENGINE_EVENTS); i++) {
        gf_mtext_sample(t, "genflow_engine_events_total",
                        u64(p, gf_metrics_slot(m, o->engine + (apr_size_t)i)),
                        "event", ENGINE_EVENTS[i], NULL);
    }
    gf_mtext_family(t, "genflow_line_starts_total", "counter",
                    "Generations started (their first claim), by type and by the line they "
                    "were queued in (GenFlowLine; standard: no line's expression matched): "
                    "a line of weight w takes w turns for one of standard's.");
    for (i = 0; i < m->ntypes; i++) {
        int j;
        for (j = 0; j < m->nlines; j++) {
            gf_mtext_sample(t, "genflow_line_starts_total",
                            u64(p, gf_metrics_slot(m, o->line_starts
                                                      + (apr_size_t)(i * m->nlines + j))),
                            "type", m->types[i], "line", m->lines[j], NULL);
        }
    }
}

/* The content policy: its checks by outcome, the moderation endpoint's time. */
static void render_policy(const gf_metrics_t *m, const offsets_t *o, gf_mtext_t *t)
{
    apr_pool_t *p = t->p;
    const char *kv[2 * MAX_LABELS];
    int i, j;

    gf_mtext_family(t, "genflow_prompt_policy_checks_total", "counter",
                    "Prompts of creates checked by GenFlowPromptPolicy, by check (deny_list, "
                    "moderation) and outcome (allowed, refused: answered 400 CONTENT_POLICY, "
                    "error: the moderation endpoint gave no usable answer).");
    for (i = 0; i < N(POLICY_CHECKS); i++) {
        for (j = 0; j < N(POLICY_OUTCOMES); j++) {
            gf_mtext_sample(t, "genflow_prompt_policy_checks_total",
                            u64(p, gf_metrics_slot(m, o->policy + (apr_size_t)(i * N(POLICY_OUTCOMES) + j))),
                            "check", POLICY_CHECKS[i], "outcome", POLICY_OUTCOMES[j], NULL);
        }
    }
    gf_mtext_family(t, "genflow_moderation_duration_seconds", "histogram",
                    "How long the moderation endpoint of GenFlowPromptPolicy took to answer "
                    "(or to fail), per create it checked.");
    histogram(t, m, "genflow_moderation_duration_seconds", o->moderation, MOD_BOUNDS,
              N(MOD_BOUNDS), kv, 0);
}

/* The credits moved, the generations' durations, and since when. */
static void render_outcomes(const gf_metrics_t *m, const offsets_t *o, gf_mtext_t *t)
{
    apr_pool_t *p = t->p;
    const char *kv[2 * MAX_LABELS];
    int i, j;

    gf_mtext_family(t, "genflow_credits_total", "counter",
                    "Credits moved by this server: reserved by creates, charged by completions, "
                    "refunded by failures and cancels. Refunds of the expiry sweeps are not "
                    "included (their statements report counts, not amounts).");
    for (i = 0; i < GF_CREDITS_MOVEMENTS; i++) {
        gf_mtext_sample(t, "genflow_credits_total",
                        u64(p, gf_metrics_slot(m, o->credits + (apr_size_t)i)),
                        "movement", MOVEMENTS[i], NULL);
    }

    gf_mtext_family(t, "genflow_generation_duration_seconds", "histogram",
                    "Time from a generation's creation to its terminal status (completed, "
                    "failed, cancelled), recorded where this server finalized it; expiry "
                    "sweeps are not included.");
    for (i = 0; i < m->ntypes; i++) {
        for (j = 0; j < N(GEN_STATUSES); j++) {
            kv[0] = "type";
            kv[1] = m->types[i];
            kv[2] = "status";
            kv[3] = GEN_STATUSES[j];
            histogram(t, m, "genflow_generation_duration_seconds",
                      o->gen_dur + ((apr_size_t)i * N(GEN_STATUSES) + (apr_size_t)j)
                                  * HIST_WIDTH(GEN_BOUNDS), GEN_BOUNDS, N(GEN_BOUNDS), kv, 2);
        }
    }

    gf_mtext_family(t, "genflow_counters_start_time_seconds", "gauge",
                    "Unix time since which the counters and histograms count (a full restart "
                    "resets them; a graceful restart keeps them).");
    gf_mtext_sample(t, "genflow_counters_start_time_seconds",
                    secs(p, (apr_uint64_t)gf_metrics_start_time(m)), NULL);
}

void gf_metrics_render(const gf_metrics_t *m, gf_mtext_t *t)
{
    offsets_t o;

    if (!m || !m->slots) return;
    gf_metrics_offsets(m, &o);
    render_requests(m, &o, t);
    render_providers(m, &o, t);
    render_jobs(m, &o, t);
    render_outcomes(m, &o, t);
    render_policy(m, &o, t);
}

const char *gf_metrics_build_info(apr_pool_t *p)
{
    return apr_psprintf(p, "# HELP genflow_build_info The module's release and the database "
                           "schema version it needs (always 1).\n"
                           "# TYPE genflow_build_info gauge\n"
                           "genflow_build_info{version=\"%s\",schema=\"%d\"} 1\n",
                        GF_VERSION, GF_SCHEMA_NEEDS);
}

const char *gf_metrics_engine_text(apr_pool_t *p, int pid, int running, int in_flight,
                                   int exchanges, int kept_polls)
{
    return apr_psprintf(p, "# HELP genflow_workers_running Worker threads in the child that "
                           "answered this scrape.\n"
                           "# TYPE genflow_workers_running gauge\n"
                           "genflow_workers_running{pid=\"%d\"} %d\n"
                           "# HELP genflow_attempts_in_flight Attempts the child that answered "
                           "this scrape runs at once (GenFlowMaxInFlight caps them).\n"
                           "# TYPE genflow_attempts_in_flight gauge\n"
                           "genflow_attempts_in_flight{pid=\"%d\"} %d\n"
                           "# HELP genflow_provider_exchanges_open HTTP exchanges with "
                           "providers and stores open in that child now.\n"
                           "# TYPE genflow_provider_exchanges_open gauge\n"
                           "genflow_provider_exchanges_open{pid=\"%d\"} %d\n"
                           "# HELP genflow_polls_kept Polls of accepted jobs that child keeps "
                           "for their next poll (GenFlowKeptPolls caps them).\n"
                           "# TYPE genflow_polls_kept gauge\n"
                           "genflow_polls_kept{pid=\"%d\"} %d\n",
                        pid, running, pid, in_flight, pid, exchanges, pid, kept_polls);
}

const char *gf_metrics_status_text(apr_pool_t *p, int brief, int types, int pid, int running)
{
    if (brief) {
        return apr_psprintf(p, "GenFlowVersion: %s\nGenFlowSchemaNeeds: %d\n"
                               "GenFlowTypes: %d\nGenFlowWorkersRunning: %d\n",
                            GF_VERSION, GF_SCHEMA_NEEDS, types, running);
    }
    return apr_psprintf(p, "<hr />\n<h2>mod_genflow %s</h2>\n<dl><dt>Database schema needed: "
                           "%d</dt><dt>Types: %d</dt><dt>Worker threads in this child (pid %d): "
                           "%d</dt></dl>\n",
                        GF_VERSION, GF_SCHEMA_NEEDS, types, pid, running);
}

void gf_mgauges_init(gf_mgauges_t *g, gf_mtext_t *db, apr_pool_t *p)
{
    g->db = db;
    gf_mtext_init(&g->due, p);
    gf_mtext_init(&g->oldest, p);
    gf_mtext_init(&g->near, p);
    gf_mtext_family(db, "genflow_generations", "gauge",
                    "Generations in the database by type and status.");
    gf_mtext_family(&g->due, "genflow_jobs_due", "gauge",
                    "Queued generations whose next attempt is due now, by type.");
    gf_mtext_family(&g->oldest, "genflow_queue_oldest_seconds", "gauge",
                    "How long the longest-waiting due generation has waited for a worker, "
                    "by type (0: none due).");
    gf_mtext_family(&g->near, "genflow_generations_near_deadline", "gauge",
                    "Open generations within 15 s of their deadline (GenFlowDeadline), by type.");
}

static const char *i64(apr_pool_t *p, apr_int64_t v)
{
    return apr_psprintf(p, "%" APR_INT64_T_FMT, v);
}

void gf_mgauges_type(gf_mgauges_t *g, const char *type, const char *const *const *rows,
                     int nrows)
{
    apr_pool_t *p = g->db->p;
    apr_int64_t n_due = 0, n_near = 0, age = 0;
    int j;

    for (j = 0; j < nrows; j++) {
        const char *const *row = rows[j];
        gf_mtext_sample(g->db, "genflow_generations", i64(p, apr_atoi64(row[GF_METRICS_COUNT])),
                        "type", type, "status", row[GF_METRICS_STATUS], NULL);
        n_due += apr_atoi64(row[GF_METRICS_DUE]);
        if (apr_atoi64(row[GF_METRICS_OLDEST]) > age) age = apr_atoi64(row[GF_METRICS_OLDEST]);
        n_near += apr_atoi64(row[GF_METRICS_NEAR]);
    }
    gf_mtext_sample(&g->due, "genflow_jobs_due", i64(p, n_due), "type", type, NULL);
    gf_mtext_sample(&g->oldest, "genflow_queue_oldest_seconds", i64(p, age), "type", type, NULL);
    gf_mtext_sample(&g->near, "genflow_generations_near_deadline", i64(p, n_near), "type", type,
                    NULL);
}

void gf_mgauges_webhooks(gf_mgauges_t *g, const char *const *row)
{
    gf_mtext_family(&g->near, "genflow_webhooks_pending", "gauge",
                    "Webhook deliveries to the site's backend waiting to go out or to be "
                    "tried again.");
    gf_mtext_sample(&g->near, "genflow_webhooks_pending", row[0], NULL);
    gf_mtext_family(&g->near, "genflow_webhooks_oldest_pending_seconds", "gauge",
                    "Age of the oldest waiting webhook delivery (0: none).");
    gf_mtext_sample(&g->near, "genflow_webhooks_oldest_pending_seconds", row[1], NULL);
    gf_mtext_family(&g->near, "genflow_webhooks_failed", "gauge",
                    "Webhook deliveries that failed for good (the admin API lists them).");
    gf_mtext_sample(&g->near, "genflow_webhooks_failed", row[2], NULL);
}

void gf_mgauges_finish(gf_mgauges_t *g)
{
    gf_mtext_append(g->db, &g->due);
    gf_mtext_append(g->db, &g->oldest);
    gf_mtext_append(g->db, &g->near);
}
