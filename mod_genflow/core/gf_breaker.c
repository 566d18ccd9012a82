/* SPDX-License-Identifier: Apache-2.0 */
/* gf_breaker.c: the circuit breaker's rules (see gf_breaker.h). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "core/gf_breaker.h"
#include "core/gf_credits.h"
#include "core/gf_error.h"

void gf_breaker_conf_default(gf_breaker_conf_t *conf)
{
    conf->enabled = 1;
    conf->failures = GF_BREAKER_DEFAULT_FAILURES;
    conf->window = GF_BREAKER_DEFAULT_WINDOW;
    conf->cooldown = GF_BREAKER_DEFAULT_COOLDOWN;
    conf->probe_ttl = GF_BREAKER_DEFAULT_COOLDOWN;
}

/* Whole seconds, 1..86400, optionally followed by "s". */
static int parse_secs(const char *v, apr_interval_time_t *out)
{
    char *end;
    long n;
    if (!*v || *v < '0' || *v > '9') return 0;
    n = strtol(v, &end, 10);
    if (*end == 's') end++;
    if (*end || n < 1 || n > 86400) return 0;
    *out = apr_time_from_sec(n);
    return 1;
}

int gf_breaker_option(gf_breaker_conf_t *conf, const char *key, const char *value,
                      const char **err)
{
    *err = NULL;
    if (!strcmp(key, "breaker")) {
        if (!strcmp(value, "on")) conf->enabled = 1;
        else if (!strcmp(value, "off")) conf->enabled = 0;
        else *err = "provider option breaker= takes on or off";
        return 1;
    }
    if (!strcmp(key, "breaker_failures")) {
        char *end;
        long n = *value >= '0' && *value <= '9' ? strtol(value, &end, 10) : 0;
        if (n < 1 || *end || n > GF_BREAKER_MAX_FAILURES) {
            *err = "provider option breaker_failures= takes a number of failures from 1 to 100";
        }
        else {
            conf->failures = (int)n;
        }
        return 1;
    }
    if (!strcmp(key, "breaker_window")) {
        if (!parse_secs(value, &conf->window)) {
            *err = "provider option breaker_window= takes seconds from 1 to 86400 (e.g. 60 or 60s)";
        }
        return 1;
    }
    if (!strcmp(key, "breaker_cooldown")) {
        if (!parse_secs(value, &conf->cooldown)) {
            *err = "provider option breaker_cooldown= takes seconds from 1 to 86400 (e.g. 30 or 30s)";
        }
        return 1;
    }
    return 0;
}

void gf_breaker_init(gf_breaker_t *b)
{
    memset(b, 0, sizeof(*b));
    b->state = GF_BREAKER_CLOSED;
}

int gf_breaker_sane(const gf_breaker_t *b)
{
    return b->state <= GF_BREAKER_HALF_OPEN && b->head < GF_BREAKER_MAX_FAILURES
           && b->nfail <= GF_BREAKER_MAX_FAILURES;
}

static void open_circuit(gf_breaker_t *b, const gf_breaker_conf_t *conf, apr_time_t now)
{
    b->state = GF_BREAKER_OPEN;
    b->opened_at = now;
    b->retry_at = now + conf->cooldown;
    b->probe_until = 0;
    b->nfail = 0;
    b->head = 0;
    b->opened++;
}

gf_breaker_admit_t gf_breaker_admit(gf_breaker_t *b, const gf_breaker_conf_t *conf,
                                    apr_time_t now, apr_uint32_t *probe)
{
    *probe = 0;
    if (!conf->enabled || b->state == GF_BREAKER_CLOSED) {
        return GF_BREAKER_ALLOW;
    }
    if (b->state == GF_BREAKER_OPEN && now < b->retry_at) {
        b->skipped++;
        return GF_BREAKER_SKIP;
    }
    if (b->state == GF_BREAKER_HALF_OPEN && b->probe_until && now < b->probe_until) {
        /* The probe is out: everyone else keeps away until it is back. */
        b->skipped++;
        return GF_BREAKER_SKIP;
    }
    /* Cool-down over, or the probe's slot free or expired (its worker
     * died): this submission is the probe. */
    b->state = GF_BREAKER_HALF_OPEN;
    b->probe_until = now + (conf->probe_ttl > 0 ? conf->probe_ttl : conf->cooldown);
    if (++b->probe_seq == 0) b->probe_seq = 1;
    *probe = b->probe_seq;
    return GF_BREAKER_PROBE;
}

int gf_breaker_failures(const gf_breaker_t *b, const gf_breaker_conf_t *conf, apr_time_t now)
{
    apr_uint32_t i;
    int n = 0;
    if (b->state != GF_BREAKER_CLOSED) return 0;
    for (i = 0; i < b->nfail && i < GF_BREAKER_MAX_FAILURES; i++) {
        if (b->fail_at[i] > now - conf->window) n++;
    }
    return n;
}

static void close_circuit(gf_breaker_t *b)
{
    b->state = GF_BREAKER_CLOSED;
    b->nfail = 0;
    b->head = 0;
    b->probe_until = 0;
    b->retry_at = 0;
}

gf_breaker_state_t gf_breaker_record(gf_breaker_t *b, const gf_breaker_conf_t *conf,
                                     apr_time_t now, apr_uint32_t probe,
                                     gf_breaker_outcome_t outcome)
{
    if (b->state != GF_BREAKER_CLOSED) {
        /* Only the running probe speaks for the provider now. */
        if (b->state != GF_BREAKER_HALF_OPEN || !probe || probe != b->probe_seq) {
            return (gf_breaker_state_t)b->state;
        }
        if (outcome == GF_BREAKER_SUCCESS) {
            close_circuit(b);
        }
        else if (outcome == GF_BREAKER_FAILURE || outcome == GF_BREAKER_EXHAUSTED) {
            open_circuit(b, conf, now);
        }
        else {
            b->probe_until = 0;   /* no verdict: the next submission probes */
        }
        return (gf_breaker_state_t)b->state;
    }
    if (outcome == GF_BREAKER_SUCCESS) {
        close_circuit(b);   /* a success forgets the failures before it */
        return GF_BREAKER_CLOSED;
    }
    if ((outcome != GF_BREAKER_FAILURE && outcome != GF_BREAKER_EXHAUSTED) || !conf->enabled) {
        return GF_BREAKER_CLOSED;
    }
    if (outcome == GF_BREAKER_EXHAUSTED) {
        open_circuit(b, conf, now);
        return (gf_breaker_state_t)b->state;
    }
    b->fail_at[b->head] = now;
    b->head = (b->head + 1) % GF_BREAKER_MAX_FAILURES;
    if (b->nfail < GF_BREAKER_MAX_FAILURES) b->nfail++;
    if (gf_breaker_failures(b, conf, now) >= conf->failures) {
        open_circuit(b, conf, now);
    }
    return (gf_breaker_state_t)b->state;
}

gf_breaker_outcome_t gf_breaker_outcome(const gf_provider_result_t *res)
{
    if (!res->error_code) {
        return res->image || res->image_url || res->provider_job_id || res->running
               ? GF_BREAKER_SUCCESS : GF_BREAKER_FAILURE;
    }
    if (res->transient || !strcmp(res->error_code, GF_JOB_NETWORK)
        || !strcmp(res->error_code, GF_JOB_TIMEOUT) || !strcmp(res->error_code, GF_JOB_RATE_LIMIT)
        || !strcmp(res->error_code, GF_JOB_API)) {
        return GF_BREAKER_FAILURE;
    }
    if (!strcmp(res->error_code, GF_JOB_PROVIDER_CREDITS)) {
        return GF_BREAKER_EXHAUSTED;
    }
    return GF_BREAKER_NEUTRAL;
}

gf_breaker_state_t gf_breaker_state(const gf_breaker_t *b)
{
    return (gf_breaker_state_t)b->state;
}

const char *gf_breaker_state_name(gf_breaker_state_t state)
{
    switch (state) {
    case GF_BREAKER_OPEN:      return "open";
    case GF_BREAKER_HALF_OPEN: return "half_open";
    default:                   return "closed";
    }
}

int gf_breaker_closed_at(const gf_breaker_t *b, apr_time_t now)
{
    return !(b->state == GF_BREAKER_OPEN && now < b->retry_at);
}

apr_time_t gf_breaker_retry_at(const gf_breaker_t *b)
{
    return b->state == GF_BREAKER_OPEN ? b->retry_at : b->probe_until;
}

apr_interval_time_t gf_breaker_probe_ttl(const gf_breaker_conf_t *conf,
                                         apr_interval_time_t worst)
{
    return worst > conf->cooldown ? worst : conf->cooldown;
}

void gf_breaker_refusal(apr_pool_t *p, const char *name, int more, apr_time_t retry_at,
                        gf_decision_t *d)
{
    memset(d, 0, sizeof(*d));
    if (more) {
        d->next = GF_NEXT_FALLBACK;
        return;
    }
    /* The chain's last entry: fail now (refunded like any failure) rather
     * than hold the credits and a worker for the rest of the cool-down. */
    d->next = GF_NEXT_FAIL;
    d->code = GF_JOB_API;
    d->message = apr_psprintf(p, "provider '%s' is unavailable: its circuit breaker is open "
                              "after failures (no new request before %s)",
                              name, gf_time_rfc3339(p, retry_at));
}

gf_breaker_news_t gf_breaker_news(gf_breaker_state_t before, gf_breaker_state_t after,
                                  int opened, gf_breaker_outcome_t outcome)
{
    if (opened && before == GF_BREAKER_HALF_OPEN) return GF_BREAKER_NEWS_REOPENED;
    if (opened && outcome == GF_BREAKER_EXHAUSTED) return GF_BREAKER_NEWS_EXHAUSTED;
    if (opened) return GF_BREAKER_NEWS_OPENED;
    if (before != GF_BREAKER_CLOSED && after == GF_BREAKER_CLOSED) return GF_BREAKER_NEWS_CLOSED;
    return GF_BREAKER_NEWS_NONE;
}

json_object *gf_breaker_health_json(apr_pool_t *p, const gf_breaker_conf_t *conf,
                                    const gf_breaker_t *b, apr_time_t now)
{
    json_object *o = json_object_new_object();
    gf_breaker_state_t st = gf_breaker_state(b);
    json_object_object_add(o, "enabled", json_object_new_boolean(conf->enabled));
    json_object_object_add(o, "state", json_object_new_string(gf_breaker_state_name(st)));
    json_object_object_add(o, "failures", json_object_new_int(gf_breaker_failures(b, conf, now)));
    json_object_object_add(o, "threshold", json_object_new_int(conf->failures));
    json_object_object_add(o, "openedAt", st != GF_BREAKER_CLOSED && b->opened_at
                           ? json_object_new_string(gf_time_rfc3339(p, b->opened_at)) : NULL);
    /* When the next submission may go: the cool-down's end (open), or
     * when the running probe's slot expires (half-open). */
    json_object_object_add(o, "retryAt", st == GF_BREAKER_OPEN
                           ? json_object_new_string(gf_time_rfc3339(p, b->retry_at))
                           : st == GF_BREAKER_HALF_OPEN && b->probe_until
                           ? json_object_new_string(gf_time_rfc3339(p, b->probe_until)) : NULL);
    json_object_object_add(o, "skipped", json_object_new_int64((int64_t)b->skipped));
    json_object_object_add(o, "opened", json_object_new_int64((int64_t)b->opened));
    return o;
}
