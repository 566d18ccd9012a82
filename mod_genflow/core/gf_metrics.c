/* gf_metrics.c: counters, histograms and their text rendering (see gf_metrics.h).
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
 * Buckets are stored per interval and made cumulative when rendered, so a
 * scrape's _count always equals its +Inf bucket.
 */
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "core/gf_metrics.h"
#include "core/gf_error.h"
#include "core/gf_json.h"

#define GF_HDR 8
enum { H_MAGIC = 0, H_SIGNATURE, H_START, H_NSLOTS };
#define GF_METRICS_MAGIC 0x67666d6574726963ULL   /* "gfmetric" */

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *const ENDPOINTS[] = {
    "create", "generate", "status", "cancel", "retry", "events", "history", "presets",
    "not_found", "quota", "admin", "health", "metrics", "webhook", "uploads", "other"
};
static const int STATUSES[] = {
    200, 201, 202, 204, 301, 302, 304, 400, 401, 402, 403, 404, 405, 408, 409, 413, 415,
    422, 429, 500, 502, 503, 504
};                                       /* + "other" */
#define NSTATUS (N(STATUSES) + 1)
static const char *const OUTCOMES[] = { "ok", "pending", "transient", "permanent", "aborted",
                                        "other" };
static const char *const CODES[] = {
    "none", GF_JOB_TIMEOUT, GF_JOB_NETWORK, GF_JOB_API, GF_JOB_RATE_LIMIT, GF_JOB_VALIDATION,
    GF_JOB_MAX_RETRIES, GF_JOB_CONTENT_FILTERED, GF_JOB_PROVIDER_AUTH, GF_JOB_PROVIDER_CREDITS,
    GF_JOB_STORAGE, "other"
};
static const char *const GEN_STATUSES[] = { "completed", "failed", "cancelled" };
static const char *const MOVEMENTS[GF_CREDITS_MOVEMENTS] = { "reserved", "charged", "refunded" };

static const double REQ_BOUNDS[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
                                     30, 60 };
static const double PROV_BOUNDS[] = { 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120 };
static const double GEN_BOUNDS[] = { 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
                                     1800, 3600 };
#define HIST_WIDTH(b) (N(b) + 2)

typedef struct {
    apr_size_t req, req_dur, prov, prov_dur, retry, fallback, credits, gen_dur, total;
} offsets_t;

static void offsets(const gf_metrics_t *m, offsets_t *o)
{
    apr_size_t nt = (apr_size_t)m->ntypes, np = (apr_size_t)m->nproviders;
    o->req = GF_HDR;
    o->req_dur = o->req + (nt + 1) * N(ENDPOINTS) * NSTATUS;
    o->prov = o->req_dur + N(ENDPOINTS) * HIST_WIDTH(REQ_BOUNDS);
    o->prov_dur = o->prov + (np + 1) * N(OUTCOMES) * N(CODES);
    o->retry = o->prov_dur + (np + 1) * HIST_WIDTH(PROV_BOUNDS);
    o->fallback = o->retry + nt;
    o->credits = o->fallback + nt;
    o->gen_dur = o->credits + GF_CREDITS_MOVEMENTS;
    o->total = o->gen_dur + nt * N(GEN_STATUSES) * HIST_WIDTH(GEN_BOUNDS);
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
                                const char *const *providers, int nproviders)
{
    gf_metrics_t *m = apr_pcalloc(p, sizeof(*m));
    apr_uint64_t h = 0xcbf29ce484222325ULL;
    int sizes[8], i;
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

    h = fnv(h, "gf_metrics v1", 13);
    for (i = 0; i < m->ntypes; i++) h = fnv(h, m->types[i], strlen(m->types[i]) + 1);
    h = fnv(h, "|", 1);
    for (i = 0; i < m->nproviders; i++) h = fnv(h, m->providers[i], strlen(m->providers[i]) + 1);
    sizes[0] = N(ENDPOINTS);
    sizes[1] = NSTATUS;
    sizes[2] = N(OUTCOMES);
    sizes[3] = N(CODES);
    sizes[4] = N(GEN_STATUSES);
    sizes[5] = N(REQ_BOUNDS);
    sizes[6] = N(PROV_BOUNDS);
    sizes[7] = N(GEN_BOUNDS);
    h = fnv(h, sizes, sizeof(sizes));
    m->signature = h;
    offsets(m, &o);
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

static apr_uint64_t get(const gf_metrics_t *m, apr_size_t slot)
{
    return __atomic_load_n(&m->slots[slot], __ATOMIC_RELAXED);
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
    offsets(m, &o);
    ti = find(m->types, m->ntypes, type);
    if (ti < 0) ti = m->ntypes;   /* "-" */
    ei = name_index(ENDPOINTS, N(ENDPOINTS), endpoint);
    add(m, o.req + ((apr_size_t)ti * N(ENDPOINTS) + (apr_size_t)ei) * NSTATUS
               + (apr_size_t)status_index(http_status), 1);
    observe(m, o.req_dur + (apr_size_t)ei * HIST_WIDTH(REQ_BOUNDS), REQ_BOUNDS, N(REQ_BOUNDS),
            duration);
}

void gf_metrics_provider_call(gf_metrics_t *m, const char *provider, const char *outcome,
                              const char *code, apr_interval_time_t duration)
{
    offsets_t o;
    int pi, oi, ci;
    if (!m || !m->slots) return;
    offsets(m, &o);
    pi = find(m->providers, m->nproviders, provider);
    if (pi < 0) pi = m->nproviders;   /* other */
    oi = name_index(OUTCOMES, N(OUTCOMES), outcome);
    ci = name_index(CODES, N(CODES), code ? code : "none");
    add(m, o.prov + ((apr_size_t)pi * N(OUTCOMES) + (apr_size_t)oi) * N(CODES) + (apr_size_t)ci,
        1);
    observe(m, o.prov_dur + (apr_size_t)pi * HIST_WIDTH(PROV_BOUNDS), PROV_BOUNDS,
            N(PROV_BOUNDS), duration);
}

void gf_metrics_retry(gf_metrics_t *m, const char *type)
{
    offsets_t o;
    int ti;
    if (!m || !m->slots || (ti = find(m->types, m->ntypes, type)) < 0) return;
    offsets(m, &o);
    add(m, o.retry + (apr_size_t)ti, 1);
}

void gf_metrics_fallback(gf_metrics_t *m, const char *type)
{
    offsets_t o;
    int ti;
    if (!m || !m->slots || (ti = find(m->types, m->ntypes, type)) < 0) return;
    offsets(m, &o);
    add(m, o.fallback + (apr_size_t)ti, 1);
}

void gf_metrics_credits(gf_metrics_t *m, gf_credit_movement_t movement, long amount)
{
    offsets_t o;
    if (!m || !m->slots || amount <= 0 || (unsigned)movement >= GF_CREDITS_MOVEMENTS) return;
    offsets(m, &o);
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
    offsets(m, &o);
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
        gf_metrics_credits(m, GF_CREDITS_CHARGED, json_long(o, "creditsCharged"));
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

/* ---- text ----------------------------------------------------------------- */

void gf_mtext_init(gf_mtext_t *t, apr_pool_t *p)
{
    t->p = p;
    t->cap = 4096;
    t->buf = apr_palloc(p, t->cap);
    t->len = 0;
    t->buf[0] = '\0';
}

static void put(gf_mtext_t *t, const char *s, apr_size_t n)
{
    if (t->len + n + 1 > t->cap) {
        apr_size_t cap = t->cap * 2;
        char *b;
        while (cap < t->len + n + 1) cap *= 2;
        b = apr_palloc(t->p, cap);
        memcpy(b, t->buf, t->len);
        t->buf = b;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void puts_(gf_mtext_t *t, const char *s)
{
    put(t, s, strlen(s));
}

const char *gf_mtext_str(gf_mtext_t *t)
{
    return t->buf;
}

const char *gf_metrics_escape(apr_pool_t *p, const char *v)
{
    const char *s;
    char *out, *o;
    apr_size_t extra = 0;

    for (s = v; *s; s++) extra += (*s == '\\' || *s == '"' || *s == '\n');
    if (!extra) return v;
    o = out = apr_palloc(p, strlen(v) + extra + 1);
    for (s = v; *s; s++) {
        if (*s == '\\' || *s == '"') {
            *o++ = '\\';
            *o++ = *s;
        }
        else if (*s == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        }
        else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

void gf_mtext_family(gf_mtext_t *t, const char *name, const char *type, const char *help)
{
    const char *s;
    puts_(t, "# HELP ");
    puts_(t, name);
    puts_(t, " ");
    /* HELP escapes only \ and newline. */
    for (s = help; *s; s++) {
        if (*s == '\\') puts_(t, "\\\\");
        else if (*s == '\n') puts_(t, "\\n");
        else put(t, s, 1);
    }
    puts_(t, "\n# TYPE ");
    puts_(t, name);
    puts_(t, " ");
    puts_(t, type);
    puts_(t, "\n");
}

#define MAX_LABELS 8

static void sample_kv(gf_mtext_t *t, const char *name, const char *value,
                      const char *const *kv, int nlabels)
{
    int i;
    puts_(t, name);
    for (i = 0; i < nlabels; i++) {
        puts_(t, i ? ",": "{");
        puts_(t, kv[2 * i]);
        puts_(t, "=\"");
        puts_(t, gf_metrics_escape(t->p, kv[2 * i + 1] ? kv[2 * i + 1] : ""));
        puts_(t, "\"");
    }
    if (nlabels) puts_(t, "}");
    puts_(t, " ");
    puts_(t, value);
    puts_(t, "\n");
}

void gf_mtext_sample(gf_mtext_t *t, const char *name, const char *value, ...)
{
    const char *kv[2 * MAX_LABELS];
    const char *k;
    int n = 0;
    va_list ap;

    va_start(ap, value);
    while (n < MAX_LABELS && (k = va_arg(ap, const char *)) != NULL) {
        kv[2 * n] = k;
        kv[2 * n + 1] = va_arg(ap, const char *);
        n++;
    }
    va_end(ap);
    sample_kv(t, name, value, kv, n);
}

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
        counts[i] = get(m, base + (apr_size_t)i);
        total += counts[i];
    }
    if (!total) return;
    sum = get(m, base + (apr_size_t)n + 1);
    kv[2 * nlabels] = "le";
    for (i = 0; i <= n; i++) {
        char le[32];
        acc += counts[i];
        if (i < n) snprintf(le, sizeof(le), "%g", bounds[i]);
        else apr_cpystrn(le, "+Inf", sizeof(le));
        kv[2 * nlabels + 1] = le;
        sample_kv(t, bucket, u64(t->p, acc), kv, nlabels + 1);
    }
    sample_kv(t, apr_pstrcat(t->p, name, "_sum", NULL),
              secs(t->p, sum), kv, nlabels);
    sample_kv(t, apr_pstrcat(t->p, name, "_count", NULL), u64(t->p, acc), kv, nlabels);
}

static const char *type_name(const gf_metrics_t *m, int i)
{
    return i < m->ntypes ? m->types[i] : "-";
}

static const char *provider_name(const gf_metrics_t *m, int i)
{
    return i < m->nproviders ? m->providers[i] : "other";
}

void gf_metrics_render(const gf_metrics_t *m, gf_mtext_t *t)
{
    apr_pool_t *p = t->p;
    const char *kv[2 * MAX_LABELS];
    offsets_t o;
    int i, j, k;

    if (!m || !m->slots) return;
    offsets(m, &o);

    gf_mtext_family(t, "genflow_requests_total", "counter",
                    "Requests answered by the module's handlers, or refused by httpd in its "
                    "locations, by type (\"-\" for site-wide handlers), endpoint and HTTP status.");
    for (i = 0; i <= m->ntypes; i++) {
        for (j = 0; j < N(ENDPOINTS); j++) {
            for (k = 0; k < NSTATUS; k++) {
                apr_uint64_t v = get(m, o.req + ((apr_size_t)i * N(ENDPOINTS) + (apr_size_t)j)
                                                * NSTATUS + (apr_size_t)k);
                if (!v) continue;
                gf_mtext_sample(t, "genflow_requests_total", u64(p, v), "type", type_name(m, i),
                                "endpoint", ENDPOINTS[j], "status",
                                k < N(STATUSES) ? apr_itoa(p, STATUSES[k]) : "other", NULL);
            }
        }
    }

    gf_mtext_family(t, "genflow_request_duration_seconds", "histogram",
                    "Time from the request's arrival to its log entry, by endpoint.");
    for (j = 0; j < N(ENDPOINTS); j++) {
        kv[0] = "endpoint";
        kv[1] = ENDPOINTS[j];
        histogram(t, m, "genflow_request_duration_seconds",
                  o.req_dur + (apr_size_t)j * HIST_WIDTH(REQ_BOUNDS), REQ_BOUNDS, N(REQ_BOUNDS),
                  kv, 1);
    }

    gf_mtext_family(t, "genflow_provider_calls_total", "counter",
                    "Provider attempts (submissions and polls) by provider, outcome (ok, pending, "
                    "transient, permanent, aborted) and job error code (none on success).");
    for (i = 0; i <= m->nproviders; i++) {
        for (j = 0; j < N(OUTCOMES); j++) {
            for (k = 0; k < N(CODES); k++) {
                apr_uint64_t v = get(m, o.prov + ((apr_size_t)i * N(OUTCOMES) + (apr_size_t)j)
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
                  o.prov_dur + (apr_size_t)i * HIST_WIDTH(PROV_BOUNDS), PROV_BOUNDS,
                  N(PROV_BOUNDS), kv, 1);
    }

    gf_mtext_family(t, "genflow_retries_total", "counter",
                    "Retries scheduled on the same provider after a transient failure, by type.");
    for (i = 0; i < m->ntypes; i++) {
        gf_mtext_sample(t, "genflow_retries_total", u64(p, get(m, o.retry + (apr_size_t)i)),
                        "type", m->types[i], NULL);
    }
    gf_mtext_family(t, "genflow_fallbacks_total", "counter",
                    "Fallbacks to the next provider of a chain, by type.");
    for (i = 0; i < m->ntypes; i++) {
        gf_mtext_sample(t, "genflow_fallbacks_total", u64(p, get(m, o.fallback + (apr_size_t)i)),
                        "type", m->types[i], NULL);
    }

    gf_mtext_family(t, "genflow_credits_total", "counter",
                    "Credits moved by this server: reserved by creates, charged by completions, "
                    "refunded by failures and cancels. Refunds of the expiry sweeps are not "
                    "included (their statements report counts, not amounts).");
    for (i = 0; i < GF_CREDITS_MOVEMENTS; i++) {
        gf_mtext_sample(t, "genflow_credits_total", u64(p, get(m, o.credits + (apr_size_t)i)),
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
                      o.gen_dur + ((apr_size_t)i * N(GEN_STATUSES) + (apr_size_t)j)
                                  * HIST_WIDTH(GEN_BOUNDS), GEN_BOUNDS, N(GEN_BOUNDS), kv, 2);
        }
    }

    gf_mtext_family(t, "genflow_counters_start_time_seconds", "gauge",
                    "Unix time since which the counters and histograms count (a full restart "
                    "resets them; a graceful restart keeps them).");
    gf_mtext_sample(t, "genflow_counters_start_time_seconds",
                    secs(p, (apr_uint64_t)gf_metrics_start_time(m)), NULL);
}
