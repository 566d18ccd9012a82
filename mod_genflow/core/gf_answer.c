/* SPDX-License-Identifier: Apache-2.0 */
/* gf_answer.c: a type's answers from plain values (see gf_answer.h). */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <apr_strings.h>

#include "core/gf_answer.h"
#include "core/gf_credits.h"
#include "core/gf_input.h"
#include "core/gf_job.h"
#include "core/gf_json.h"
#include "core/gf_limit.h"
#include "core/gf_progress.h"

static json_object *field(json_object *o, const char *key)
{
    json_object *v = NULL;
    json_object_object_get_ex(o, key, &v);
    return v;
}

static json_object *string_or_null(const char *s)
{
    return s ? json_object_new_string(s) : NULL;
}

int gf_answer_is_terminal(const char *status)
{
    return status && (!strcmp(status, "completed") || !strcmp(status, "failed")
                      || !strcmp(status, "cancelled"));
}

/* o written plain into p, and released. */
static const char *plain(apr_pool_t *p, json_object *o)
{
    const char *out = apr_pstrdup(p, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return out;
}

const char *gf_answer_in_line(apr_pool_t *p, const char *json, long place,
                              apr_interval_time_t wait, apr_time_t now)
{
    json_object *o;

    if (!(o = json_tokener_parse(json))) return json;
    json_object_object_add(o, "queuePosition", json_object_new_int64(place));
    json_object_object_add(o, "estimatedStartAt", wait < 0 ? NULL : json_object_new_string(
        gf_time_rfc3339(p, gf_limit_start_estimate(now, wait))));
    return plain(p, o);
}

const char *gf_answer_estimated(apr_pool_t *p, const char *json, const char *job_started,
                                apr_interval_time_t typical, apr_time_t now, int *moving)
{
    apr_time_t finish = 0;
    double fraction;
    json_object *o;

    *moving = 0;
    if (!job_started
        || !gf_progress_estimate(apr_time_from_msec(apr_atoi64(job_started)), typical, now,
                                 &fraction, &finish)
        || !(o = json_tokener_parse(json))) {
        return json;
    }
    json_object_object_add(o, "progress", json_object_new_double_s(
        fraction, apr_psprintf(p, "%.2f", fraction)));
    json_object_object_add(o, "estimatedFinishAt", finish ? json_object_new_string(
        gf_time_rfc3339(p, apr_time_from_sec(apr_time_sec(finish + APR_USEC_PER_SEC - 1))))
        : NULL);
    *moving = fraction < GF_PROGRESS_ESTIMATE_MAX;
    return plain(p, o);
}

apr_time_t gf_answer_born(apr_time_t now, const char *age_ms)
{
    apr_time_t born = now - apr_time_from_msec(apr_atoi64(age_ms));
    return born <= 0 ? 1 : born;
}

/* createdAt's time (YYYY-MM-DDTHH:MM:SS, UTC), 0 when it has none. */
static apr_time_t created_at(json_object *status)
{
    const char *c = json_object_get_string(field(status, "createdAt"));
    apr_time_t t = 0;
    apr_time_exp_t tm;

    if (!c) return 0;
    memset(&tm, 0, sizeof(tm));
    if (sscanf(c, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec) == 6) {
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        apr_time_exp_gmt_get(&t, &tm);
    }
    return t;
}

int gf_answer_retry_after(json_object *status, apr_time_t now, int *hint)
{
    apr_time_t created;

    if (gf_answer_is_terminal(json_object_get_string(field(status, "status")))) return 0;
    created = created_at(status);
    *hint = gf_job_client_retry_after(created ? now - created : 0);
    return 1;
}

const char *gf_answer_trace_id(json_object *status)
{
    const char *t = status ? json_object_get_string(field(status, "traceId")) : NULL;
    return t ? t : "-";
}

const char *gf_answer_type_url(apr_pool_t *p, const char *base, const char *endpoint,
                               const char *id)
{
    apr_size_t n = strlen(base);
    if (n >= 1 && base[n - 1] == '/') base = apr_pstrmemdup(p, base, n - 1);
    return apr_pstrcat(p, base, "/", endpoint, "/", id, NULL);
}

const char *gf_answer_created(apr_pool_t *p, const char *id, const char *type, apr_int64_t cost,
                              const char *prompt, const char *created_at, const char *status_url,
                              const char *events_url)
{
    json_object *out = gf_json_pool_own(p, json_object_new_object());

    json_object_object_add(out, "generationId", json_object_new_string(id));
    json_object_object_add(out, "type", json_object_new_string(type));
    json_object_object_add(out, "status", json_object_new_string("pending"));
    json_object_object_add(out, "estimatedCost", json_object_new_int64(cost));
    json_object_object_add(out, "prompt", string_or_null(prompt));
    json_object_object_add(out, "createdAt", string_or_null(created_at));
    json_object_object_add(out, "statusUrl", json_object_new_string(status_url));
    json_object_object_add(out, "eventsUrl", json_object_new_string(events_url));
    return gf_json_dump(p, out);
}

int gf_answer_created_fields(json_object *status, const char **id, apr_int64_t *cost,
                             const char **prompt, const char **created_at)
{
    *id = json_object_get_string(field(status, "generationId"));
    *cost = json_object_get_int64(field(status, "estimatedCost"));
    *prompt = json_object_get_string(field(status, "prompt"));
    *created_at = json_object_get_string(field(status, "createdAt"));
    return *id != NULL;
}

const char *gf_answer_accepted(apr_pool_t *p, const char *id, const char *state,
                               const char *poll_url, const char *events_url)
{
    json_object *out = gf_json_pool_own(p, json_object_new_object());

    json_object_object_add(out, "generationId", json_object_new_string(id));
    json_object_object_add(out, "status", json_object_new_string(state ? state : "pending"));
    json_object_object_add(out, "pollUrl", json_object_new_string(poll_url));
    json_object_object_add(out, "eventsUrl", json_object_new_string(events_url));
    return gf_json_dump(p, out);
}

const char *gf_answer_history(apr_pool_t *p, const char *const *const *rows, int nrows,
                              long limit)
{
    json_object *out = gf_json_pool_own(p, json_object_new_object());
    json_object *items = json_object_new_array();
    int i, n = nrows > limit ? (int)limit : nrows;

    for (i = 0; i < n; i++) {
        const char *err;
        json_object *item = gf_json_parse(p, rows[i][0], strlen(rows[i][0]), &err);
        if (item) json_object_array_add(items, json_object_get(item));
    }
    json_object_object_add(out, "items", items);
    json_object_object_add(out, "next", nrows > limit ? json_object_new_string(rows[n - 1][1])
                                                      : NULL);
    return gf_json_dump(p, out);
}

const char *gf_answer_presets(apr_pool_t *p, const char *week, const char *const *const *rows,
                              const int *active, int nrows)
{
    json_object *out = gf_json_pool_own(p, json_object_new_object());
    json_object *list = json_object_new_array();
    int i;

    for (i = 0; i < nrows; i++) {
        json_object *o;
        if (!active[i]) continue;
        o = json_object_new_object();
        json_object_object_add(o, "key", json_object_new_string(rows[i][0]));
        json_object_object_add(o, "name", json_object_new_string(rows[i][1]));
        json_object_object_add(o, "description", json_object_new_string(rows[i][3]));
        json_object_array_add(list, o);
    }
    json_object_object_add(out, "week", json_object_new_string(week));
    json_object_object_add(out, "presets", list);
    return gf_json_dump(p, out);
}

const char *gf_answer_state_refusal(apr_pool_t *p, const char *status_json, const char *allowed,
                                    const char *action)
{
    const char *err;
    json_object *status = status_json ? gf_json_parse(p, status_json, strlen(status_json), &err)
                                      : NULL;
    return apr_psprintf(p, "the generation is %s; only a %s generation can be %s",
                        status ? json_object_get_string(field(status, "status"))
                               : "in another state",
                        allowed, action);
}

const char *gf_answer_not_startable(apr_pool_t *p, const char *state)
{
    return apr_psprintf(p, "the generation is %s; only a created generation (pending, never "
                           "started) can be started",
                        strcmp(state, "pending") ? state : "started already");
}

const char *gf_answer_retry_refusal(apr_pool_t *p, const char *state)
{
    if (!strcmp(state, "failed") || !strcmp(state, "cancelled")) return NULL;
    return apr_psprintf(p, "the generation is %s; only a failed or cancelled generation can be "
                           "retried", state);
}

static const char *const UPLOAD_TYPES[] = { "image/png", "image/jpeg", "image/webp", NULL };

int gf_answer_upload_accepts(apr_pool_t *p, const char *ct)
{
    const char *const *t;
    char *type;
    apr_size_t n;

    if (!ct) return 0;
    type = apr_pstrdup(p, ct);
    type[strcspn(type, ";")] = '\0';
    n = strlen(type);
    while (n && (type[n - 1] == ' ' || type[n - 1] == '\t')) type[--n] = '\0';
    while (*type == ' ' || *type == '\t') type++;
    for (t = UPLOAD_TYPES; *t; t++) {
        if (!strcasecmp(type, *t)) return 1;
    }
    return 0;
}

const char *gf_answer_upload(apr_pool_t *p, const char *id, const char *url, const char *ctype,
                             unsigned width, unsigned height, apr_size_t len,
                             const char *created_at)
{
    json_object *out = gf_json_pool_own(p, json_object_new_object());

    json_object_object_add(out, "uploadId", json_object_new_string(id));
    json_object_object_add(out, "sourceImage", json_object_new_string(
        apr_pstrcat(p, GF_UPLOAD_REF_PREFIX, id, NULL)));
    json_object_object_add(out, "url", json_object_new_string(url));
    json_object_object_add(out, "contentType", json_object_new_string(ctype));
    json_object_object_add(out, "width", json_object_new_int64(width));
    json_object_object_add(out, "height", json_object_new_int64(height));
    json_object_object_add(out, "bytes", json_object_new_int64((int64_t)len));
    json_object_object_add(out, "createdAt", json_object_new_string(created_at));
    return gf_json_dump(p, out);
}

void gf_answer_event_id(const char *etag, char out[GF_ANSWER_EVENT_ID_MAX])
{
    apr_size_t n;
    if (*etag == '"') etag++;
    apr_cpystrn(out, etag, GF_ANSWER_EVENT_ID_MAX);
    n = strlen(out);
    if (n && out[n - 1] == '"') out[n - 1] = '\0';
}

int gf_answer_event_id_plausible(const char *s)
{
    apr_size_t n = 0;
    for (; *s; s++, n++) {
        if (*s <= ' ' || *s > '~' || n >= GF_ANSWER_EVENT_ID_MAX - 1) return 0;
    }
    return 1;
}

int gf_answer_preview_due(apr_time_t now, apr_time_t sent_at, apr_interval_time_t every,
                          apr_interval_time_t *look)
{
    apr_time_t due = sent_at + every;
    if (sent_at && now < due && now >= sent_at) {
        if (!*look || due - now < *look) *look = due - now;
        return 0;
    }
    return 1;
}

const char *gf_answer_preview_event(apr_pool_t *p, const char *id, const char *url)
{
    json_object *o = gf_json_pool_own(p, json_object_new_object());
    json_object_object_add(o, "generationId", json_object_new_string(id));
    json_object_object_add(o, "url", json_object_new_string(url));
    return apr_psprintf(p, "event: preview\ndata: %s\n\n", gf_json_dump(p, o));
}
