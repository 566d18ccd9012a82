/* SPDX-License-Identifier: Apache-2.0 */
/* gf_metrics.c: the counters and histograms (see gf_metrics.h): the
 * layout of their slots, and the updates, atomic adds to slots that every
 * child and thread shares. Their text is gf_metrics_render.c's.
 *
 * Slot layout (64-bit each, after a header of GF_HDR slots):
 *   requests        (types + 1 "-") × endpoints × statuses
 *   request time    endpoints × (request buckets + 1 overflow + 1 sum in µs)
 *   provider calls  (providers + 1 "other") × outcomes × codes
 *   provider time   (providers + 1) × (provider buckets + 2)
 *   retries         types
 *   fallbacks       types
 *   credits         movements
 *   generation time types × terminal statuses × (generation buckets + 2)
 *   claims          claim results
 *   engine          engine events (wakes, rounds, hand-ons, doorbells)
 *   policy          content policy checks × outcomes
 *   moderation      the moderation endpoint's time (its buckets + 2)
 *   line starts     types × lines (standard, the GenFlowLine names, other)
 * Buckets are stored per interval and made cumulative when rendered
 * (gf_metrics_render.c), so a scrape's _count always equals its +Inf bucket.
 * The lists behind the indexes are in gf_metrics_private.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "core/gf_metrics.h"
#include "core/gf_metrics_private.h"
#include "core/gf_error.h"
#include "core/gf_json.h"
#include "core/gf_route.h"

enum { H_MAGIC = 0, H_SIGNATURE, H_START, H_NSLOTS };
#define GF_METRICS_MAGIC 0x67666d6574726963ULL   /* "gfmetric" */

void gf_metrics_offsets(const gf_metrics_t *m, offsets_t *o)
{
    apr_size_t nt = (apr_size_t)m->ntypes, np = (apr_size_t)m->nproviders;
    apr_size_t ne = (apr_size_t)m->nendpoints;
    o->req = GF_HDR;
    o->req_dur = o->req + (nt + 1) * ne * NSTATUS;
    o->prov = o->req_dur + ne * HIST_WIDTH(REQ_BOUNDS);
    o->prov_dur = o->prov + (np + 1) * N(OUTCOMES) * N(CODES);
    o->prov_cost = o->prov_dur + (np + 1) * HIST_WIDTH(PROV_BOUNDS);
    o->retry = o->prov_cost + (np + 1);
    o->fallback = o->retry + nt;
    o->credits = o->fallback + nt;
    o->gen_dur = o->credits + GF_CREDITS_MOVEMENTS;
    o->claims = o->gen_dur + nt * N(GEN_STATUSES) * HIST_WIDTH(GEN_BOUNDS);
    o->engine = o->claims + N(CLAIM_RESULTS);
    o->policy = o->engine + N(ENGINE_EVENTS);
    o->moderation = o->policy + N(POLICY_CHECKS) * N(POLICY_OUTCOMES);
    o->line_starts = o->moderation + HIST_WIDTH(MOD_BOUNDS);
    o->total = o->line_starts + nt * (apr_size_t)m->nlines;
}

/* FNV-1a, 64 bits. */
static apr_uint64_t fnv(apr_uint64_t h, const void *data, apr_size_t n)
{
    const unsigned char *b = data;
    apr_size_t i;
    for (i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int find(const char *const *names, int n, const char *name)
{
    int i;
    if (!name) return -1;
    for (i = 0; i < n; i++) {
        if (!strcmp(names[i], name)) return i;
    }
    return -1;
}

gf_metrics_t *gf_metrics_layout(apr_pool_t *p, const char *const *types, int ntypes,
                                const char *const *providers, int nproviders,
                                const char *const *endpoints, int nendpoints,
                                const char *const *lines, int nlines)
{
    gf_metrics_t *m = apr_pcalloc(p, sizeof(*m));
    apr_uint64_t h = 0xcbf29ce484222325ULL;
    int sizes[12], i;
    offsets_t o;

    m->types = apr_pcalloc(p, sizeof(char *) * (apr_size_t)(ntypes + 1));
    for (i = 0; i < ntypes; i++) {
        if (types[i] && find(m->types, m->ntypes, types[i]) < 0) {
            m->types[m->ntypes++] = apr_pstrdup(p, types[i]);
        }
    }
    m->providers = apr_pcalloc(p, sizeof(char *) * (apr_size_t)(nproviders + 1));
    for (i = 0; i < nproviders && m->nproviders < GF_METRICS_MAX_PROVIDERS; i++) {
        if (providers[i] && find(m->providers, m->nproviders, providers[i]) < 0) {
            m->providers[m->nproviders++] = apr_pstrdup(p, providers[i]);
        }
    }
    qsort(m->providers, (size_t)m->nproviders, sizeof(char *), cmp_str);
    m->endpoints = apr_pcalloc(p, sizeof(char *) * (apr_size_t)(nendpoints + 2));
    for (i = 0; i < nendpoints; i++) {
        if (endpoints[i] && strcmp(endpoints[i], "other")
            && find(m->endpoints, m->nendpoints, endpoints[i]) < 0) {
            m->endpoints[m->nendpoints++] = apr_pstrdup(p, endpoints[i]);
        }
    }
    m->endpoints[m->nendpoints++] = "other";
    m->lines = apr_pcalloc(p, sizeof(char *) * (apr_size_t)(nlines + 2));
    m->lines[m->nlines++] = "standard";
    for (i = 0; i < nlines && m->nlines <= GF_METRICS_MAX_LINES; i++) {
        if (lines[i] && strcmp(lines[i], "other") && find(m->lines, m->nlines, lines[i]) < 0) {
            m->lines[m->nlines++] = apr_pstrdup(p, lines[i]);
        }
    }
    m->lines[m->nlines++] = "other";

    h = fnv(h, "gf_metrics v1", 13);
    for (i = 0; i < m->ntypes; i++) h = fnv(h, m->types[i], strlen(m->types[i]) + 1);
    h = fnv(h, "|", 1);
    for (i = 0; i < m->nproviders; i++) h = fnv(h, m->providers[i], strlen(m->providers[i]) + 1);
    h = fnv(h, "|", 1);
    for (i = 0; i < m->nendpoints; i++) h = fnv(h, m->endpoints[i], strlen(m->endpoints[i]) + 1);
    h = fnv(h, "|", 1);
    for (i = 0; i < m->nlines; i++) h = fnv(h, m->lines[i], strlen(m->lines[i]) + 1);
    sizes[0] = m->nendpoints;
    sizes[1] = NSTATUS;
    sizes[2] = N(OUTCOMES);
    sizes[3] = N(CODES);
    sizes[4] = N(GEN_STATUSES);
    sizes[5] = N(REQ_BOUNDS);
    sizes[6] = N(PROV_BOUNDS);
    sizes[7] = N(GEN_BOUNDS);
    sizes[8] = N(CLAIM_RESULTS);
    sizes[9] = N(ENGINE_EVENTS);
    sizes[10] = N(POLICY_CHECKS) * N(POLICY_OUTCOMES);
    sizes[11] = N(MOD_BOUNDS);
    h = fnv(h, sizes, sizeof(sizes));
    m->signature = h;
    gf_metrics_offsets(m, &o);
    m->nslots = o.total;
    return m;
}

apr_size_t gf_metrics_bytes(const gf_metrics_t *m)
{
    return m->nslots * sizeof(apr_uint64_t);
}

int gf_metrics_matches(const gf_metrics_t *m, const void *mem)
{
    const apr_uint64_t *s = mem;
    return s && s[H_MAGIC] == GF_METRICS_MAGIC && s[H_SIGNATURE] == m->signature
           && s[H_NSLOTS] == (apr_uint64_t)m->nslots;
}

void gf_metrics_attach(gf_metrics_t *m, void *mem, int fresh, apr_time_t now)
{
    apr_uint64_t *s = mem;
    if (fresh) {
        memset(s, 0, gf_metrics_bytes(m));
        s[H_SIGNATURE] = m->signature;
        s[H_NSLOTS] = (apr_uint64_t)m->nslots;
        s[H_START] = (apr_uint64_t)now;
        s[H_MAGIC] = GF_METRICS_MAGIC;
    }
    m->slots = s;
}

apr_time_t gf_metrics_start_time(const gf_metrics_t *m)
{
    return m && m->slots ? (apr_time_t)m->slots[H_START] : 0;
}

/* ---- updates ------------------------------------------------------------ */

static void add(gf_metrics_t *m, apr_size_t slot, apr_uint64_t v)
{
    __atomic_fetch_add(&m->slots[slot], v, __ATOMIC_RELAXED);
}


int gf_metrics_bucket(const double *bounds, int n, double v)
{
    int lo = 0, hi = n;   /* the first bound >= v is in [lo, hi] */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (v <= bounds[mid]) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

static void observe(gf_metrics_t *m, apr_size_t base, const double *bounds, int n,
                    apr_interval_time_t d)
{
    if (d < 0) d = 0;
    add(m, base + (apr_size_t)gf_metrics_bucket(bounds, n, (double)d / APR_USEC_PER_SEC), 1);
    add(m, base + (apr_size_t)n + 1, (apr_uint64_t)d);
}

static int status_index(int status)
{
    int i;
    for (i = 0; i < N(STATUSES); i++) {
        if (STATUSES[i] == status) return i;
    }
    return N(STATUSES);   /* other */
}

static int name_index(const char *const *names, int n, const char *name)
{
    int i = find(names, n, name);
    return i >= 0 ? i : n - 1;   /* the last name is "other" */
}

void gf_metrics_request(gf_metrics_t *m, const char *type, const char *endpoint,
                        int http_status, apr_interval_time_t duration)
{
    offsets_t o;
    int ti, ei;
    if (!m || !m->slots) return;
    gf_metrics_offsets(m, &o);
    ti = find(m->types, m->ntypes, type);
    if (ti < 0) ti = m->ntypes;   /* "-" */
    ei = name_index(m->endpoints, m->nendpoints, endpoint);
    add(m, o.req + ((apr_size_t)ti * (apr_size_t)m->nendpoints + (apr_size_t)ei) * NSTATUS
               + (apr_size_t)status_index(http_status), 1);
    observe(m, o.req_dur + (apr_size_t)ei * HIST_WIDTH(REQ_BOUNDS), REQ_BOUNDS, N(REQ_BOUNDS),
            duration);
}

void gf_metrics_line_start(gf_metrics_t *m, const char *type, const char *line)
{
    offsets_t o;
    int ti;
    if (!m || !m->slots || (ti = find(m->types, m->ntypes, type)) < 0) return;
    gf_metrics_offsets(m, &o);
    add(m, o.line_starts + (apr_size_t)ti * (apr_size_t)m->nlines
               + (apr_size_t)name_index(m->lines, m->nlines, line ? line : "standard"), 1);
}

void gf_metrics_provider_call(gf_metrics_t *m, const char *provider, const char *outcome,
                              const char *code, apr_interval_time_t duration)
{
    offsets_t o;
    int pi, oi, ci;
    if (!m || !m->slots) return;
    gf_metrics_offsets(m, &o);
    pi = find(m->providers, m->nproviders, provider);
    if (pi < 0) pi = m->nproviders;   /* other */
    oi = name_index(OUTCOMES, N(OUTCOMES), outcome);
    ci = name_index(CODES, N(CODES), code ? code : "none");
    add(m, o.prov + ((apr_size_t)pi * N(OUTCOMES) + (apr_size_t)oi) * N(CODES) + (apr_size_t)ci,
        1);
    observe(m, o.prov_dur + (apr_size_t)pi * HIST_WIDTH(PROV_BOUNDS), PROV_BOUNDS,
            N(PROV_BOUNDS), duration);
}

void gf_metrics_provider_cost(gf_metrics_t *m, const char *provider, double cost)
{
    offsets_t o;
    int pi;
    if (!m || !m->slots || !(cost > 0) || cost > 1e9) return;
    gf_metrics_offsets(m, &o);
    pi = find(m->providers, m->nproviders, provider);
    if (pi < 0) pi = m->nproviders;   /* other */
    add(m, o.prov_cost + (apr_size_t)pi, (apr_uint64_t)(cost * GF_METRICS_COST_UNIT + 0.5));
}

void gf_metrics_retry(gf_metrics_t *m, const char *type)
{
    offsets_t o;
    int ti;
    if (!m || !m->slots || (ti = find(m->types, m->ntypes, type)) < 0) return;
    gf_metrics_offsets(m, &o);
    add(m, o.retry + (apr_size_t)ti, 1);
}

void gf_metrics_claim(gf_metrics_t *m, const char *result)
{
    offsets_t o;
    int i = find(CLAIM_RESULTS, N(CLAIM_RESULTS) - 1, result);
    if (!m || !m->slots) return;
    gf_metrics_offsets(m, &o);
    add(m, o.claims + (apr_size_t)(i < 0 ? N(CLAIM_RESULTS) - 1 : i), 1);
}

void gf_metrics_engine(gf_metrics_t *m, gf_engine_event_t ev)
{
    offsets_t o;
    if (!m || !m->slots || (int)ev < 0 || (int)ev >= N(ENGINE_EVENTS)) return;
    gf_metrics_offsets(m, &o);
    add(m, o.engine + (apr_size_t)ev, 1);
}

void gf_metrics_policy(gf_metrics_t *m, gf_policy_check_t check, gf_policy_outcome_t outcome)
{
    offsets_t o;
    if (!m || !m->slots || (int)check < 0 || (int)check >= N(POLICY_CHECKS) || (int)outcome < 0
        || (int)outcome >= N(POLICY_OUTCOMES)) {
        return;
    }
    gf_metrics_offsets(m, &o);
    add(m, o.policy + (apr_size_t)check * N(POLICY_OUTCOMES) + (apr_size_t)outcome, 1);
}

void gf_metrics_moderation_time(gf_metrics_t *m, apr_interval_time_t duration)
{
    offsets_t o;
    if (!m || !m->slots) return;
    gf_metrics_offsets(m, &o);
    observe(m, o.moderation, MOD_BOUNDS, N(MOD_BOUNDS), duration);
}

void gf_metrics_fallback(gf_metrics_t *m, const char *type)
{
    offsets_t o;
    int ti;
    if (!m || !m->slots || (ti = find(m->types, m->ntypes, type)) < 0) return;
    gf_metrics_offsets(m, &o);
    add(m, o.fallback + (apr_size_t)ti, 1);
}

void gf_metrics_credits(gf_metrics_t *m, gf_credit_movement_t movement, long amount)
{
    offsets_t o;
    if (!m || !m->slots || amount <= 0 || (unsigned)movement >= GF_CREDITS_MOVEMENTS) return;
    gf_metrics_offsets(m, &o);
    add(m, o.credits + (apr_size_t)movement, (apr_uint64_t)amount);
}

void gf_metrics_generation(gf_metrics_t *m, const char *type, const char *status,
                           apr_interval_time_t duration)
{
    offsets_t o;
    int ti, si;
    if (!m || !m->slots || (ti = find(m->types, m->ntypes, type)) < 0
        || (si = find(GEN_STATUSES, N(GEN_STATUSES), status)) < 0) {
        return;
    }
    gf_metrics_offsets(m, &o);
    observe(m, o.gen_dur + ((apr_size_t)ti * N(GEN_STATUSES) + (apr_size_t)si)
                           * HIST_WIDTH(GEN_BOUNDS), GEN_BOUNDS, N(GEN_BOUNDS), duration);
}

int gf_metrics_parse_time(const char *s, apr_time_t *t)
{
    apr_time_exp_t tm;
    int ms = 0, n = 0, digits;
    const char *rest;

    if (!s) return 0;
    memset(&tm, 0, sizeof(tm));
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 || n != 19) {
        return 0;
    }
    rest = s + n;
    if (*rest == '.') {
        for (rest++, digits = 0; *rest >= '0' && *rest <= '9'; rest++, digits++) {
            if (digits < 3) ms = ms * 10 + (*rest - '0');
        }
        if (digits == 0) return 0;
        for (; digits < 3; digits++) ms *= 10;
    }
    if (strcmp(rest, "Z")) return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    if (apr_time_exp_gmt_get(t, &tm) != APR_SUCCESS) return 0;
    *t += apr_time_from_msec(ms);
    return 1;
}

static long json_long(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int)) {
        return 0;
    }
    return (long)json_object_get_int64(v);
}

int gf_metrics_terminal(gf_metrics_t *m, apr_pool_t *p, const char *type,
                        const char *status_json)
{
    const char *err, *status;
    json_object *o;
    apr_time_t created, finished;

    if (!status_json) return 0;
    o = gf_json_parse(p, status_json, strlen(status_json), &err);
    if (!o || !(status = gf_json_str(o, "status"))
        || find(GEN_STATUSES, N(GEN_STATUSES), status) < 0) {
        return 0;
    }
    if (!strcmp(status, "completed")) {
        long charged = json_long(o, "creditsCharged");
        gf_metrics_credits(m, GF_CREDITS_CHARGED, charged);
        /* Fewer pictures than the count: the rest was given back. */
        if (json_long(o, "estimatedCost") > charged) {
            gf_metrics_credits(m, GF_CREDITS_REFUNDED, json_long(o, "estimatedCost") - charged);
        }
    }
    else {
        /* The refund of a failure or a cancel is the whole reservation. */
        gf_metrics_credits(m, GF_CREDITS_REFUNDED, json_long(o, "estimatedCost"));
    }
    if (gf_metrics_parse_time(gf_json_str(o, "createdAt"), &created)
        && gf_metrics_parse_time(gf_json_str(o, "finishedAt"), &finished)) {
        gf_metrics_generation(m, type, status, finished - created);
    }
    return 1;
}

void gf_metrics_classify(const gf_provider_result_t *res, const char **outcome,
                         const char **code)
{
    if (!res->error_code && (res->image || res->image_url)) {
        *outcome = "ok";
        *code = "none";
    }
    else if (!res->error_code && (res->provider_job_id || res->running)) {
        *outcome = "pending";
        *code = "none";
    }
    else if (!res->error_code) {
        *outcome = "permanent";
        *code = GF_JOB_API;
    }
    else {
        *outcome = res->transient ? "transient" : "permanent";
        *code = res->error_code;
    }
}

const char *gf_metrics_route_endpoint(int route_kind)
{
    switch ((gf_route_kind_t)route_kind) {
    case GF_ROUTE_CREATE:   return "create";
    case GF_ROUTE_GENERATE: return "generate";
    case GF_ROUTE_STATUS:   return "status";
    case GF_ROUTE_CANCEL:   return "cancel";
    case GF_ROUTE_RETRY:    return "retry";
    case GF_ROUTE_EVENTS:   return "events";
    case GF_ROUTE_HISTORY:  return "history";
    case GF_ROUTE_PRESETS:  return "presets";
    default:                return "not_found";
    }
}

apr_array_header_t *gf_metrics_endpoint_labels(apr_pool_t *p)
{
    apr_array_header_t *a = apr_array_make(p, 16, sizeof(const char *));
    int k;
    for (k = GF_ROUTE_NONE + 1; k <= GF_ROUTE_PRESETS; k++) {
        APR_ARRAY_PUSH(a, const char *) = gf_metrics_route_endpoint(k);
    }
    APR_ARRAY_PUSH(a, const char *) = gf_metrics_route_endpoint(GF_ROUTE_NONE);
    return a;
}
