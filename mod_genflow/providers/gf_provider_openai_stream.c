/* SPDX-License-Identifier: Apache-2.0 */
/* gf_provider_openai_stream.c: OpenAI's streamed Images API answer
 * (gf_provider_openai_stream.h). */
#include <string.h>
#include <apr_strings.h>
#include <json-c/json.h>

#include "providers/gf_provider_openai_stream.h"
#include "providers/gf_provider_net.h"
#include "net/gf_sse.h"
#include "core/gf_error.h"
#include "core/gf_json.h"

struct gf_openai_stream_t {
    apr_pool_t *p;
    const gf_provider_t *prov;
    const gf_job_t *job;
    gf_sse_t *sse;
    const char *completed_data;  /* the picture's event, copied in p */
    apr_size_t completed_len;
    const char *error_message, *error_code;
    int failed;                  /* an error event came */
    int partials, previewed;
};

int gf_openai_refused(const char *code)
{
    return code && (!strcmp(code, "moderation_blocked") || !strcmp(code, "content_policy_violation"));
}

int gf_openai_no_credits(const char *code)
{
    return code && (!strcmp(code, "insufficient_quota") || !strcmp(code, "billing_hard_limit_reached"));
}

/* Does the event's type end so ("partial_image", "completed")? Only the
 * two families of the Images API count. */
static int is_event(const char *type, const char *what)
{
    const char *dot;
    if (!type || !(dot = strchr(type, '.')) || strcmp(dot + 1, what)) return 0;
    return !strncmp(type, "image_generation.", 17) || !strncmp(type, "image_edit.", 11);
}

/* A partial picture, to the preview hook when it decodes. */
static void take_partial(gf_openai_stream_t *st, apr_pool_t *sub, json_object *ev)
{
    json_object *b64;
    const char *why, *type;
    unsigned char *bytes;
    apr_size_t n;

    st->partials++;
    if (!st->job->preview) return;
    if (st->job->preview_wanted && !st->job->preview_wanted(st->job->preview_baton)) return;
    if (json_object_object_get_ex(ev, "b64_json", &b64)
        && json_object_is_type(b64, json_type_string)
        && (type = gf_net_b64_decode(sub, json_object_get_string(b64),
                                     (apr_size_t)json_object_get_string_len(b64), &bytes, &n,
                                     &why)) != NULL) {
        st->job->preview(st->job->preview_baton, bytes, n, type);
        st->previewed++;
    }
}

static void take_error(gf_openai_stream_t *st, json_object *ev)
{
    json_object *e = NULL;
    const char *v;
    if (!json_object_object_get_ex(ev, "error", &e) || !json_object_is_type(e, json_type_object)) {
        e = ev;
    }
    st->failed = 1;
    if ((v = gf_json_str(e, "message")) != NULL) st->error_message = apr_pstrdup(st->p, v);
    if ((v = gf_json_str(e, "code")) != NULL) st->error_code = apr_pstrdup(st->p, v);
}

/* Each event is parsed in a pool of its own, freed at once: a stream
 * holds at most its picture's event (copied) however many it sends. */
static void on_event(void *baton, const char *event, const char *data, apr_size_t len)
{
    gf_openai_stream_t *st = baton;
    apr_pool_t *sub;
    json_object *ev;
    const char *err, *type;

    if (st->completed_data || st->failed) return;  /* the first end counts */
    if (!is_event(event, "partial_image") && !is_event(event, "completed")
        && strcmp(event, "error") && strcmp(event, "message")) {
        return;                                    /* an event of no concern */
    }
    /* A partial picture nobody would take now is counted, not parsed:
     * its megabytes are no work for the loop. */
    if (is_event(event, "partial_image")
        && (!st->job->preview
            || (st->job->preview_wanted && !st->job->preview_wanted(st->job->preview_baton)))) {
        st->partials++;
        return;
    }
    if (apr_pool_create(&sub, st->p) != APR_SUCCESS) return;
    ev = gf_json_parse(sub, data, len, &err);
    if (ev && json_object_is_type(ev, json_type_object)) {
        /* The data's own type names the event where no event line did. */
        type = gf_json_str(ev, "type");
        if (!strcmp(event, "message") && type) event = type;
        if (is_event(event, "partial_image")) {
            take_partial(st, sub, ev);
        }
        else if (is_event(event, "completed")) {
            st->completed_data = apr_pstrmemdup(st->p, data, len);
            st->completed_len = len;
        }
        else if (!strcmp(event, "error")) {
            take_error(st, ev);
        }
    }
    apr_pool_destroy(sub);
}

gf_openai_stream_t *gf_openai_stream_make(apr_pool_t *p, const gf_provider_t *prov,
                                          const gf_job_t *job, apr_size_t max)
{
    gf_openai_stream_t *st = apr_pcalloc(p, sizeof(*st));
    st->p = p;
    st->prov = prov;
    st->job = job;
    st->sse = gf_sse_make(p, max, on_event, st);
    return st;
}

int gf_openai_stream_tap(void *baton, const char *data, apr_size_t len)
{
    gf_openai_stream_t *st = baton;
    return gf_sse_feed(st->sse, data, len);
}

int gf_openai_stream_partials(const gf_openai_stream_t *st, int *previewed)
{
    if (previewed) *previewed = st->previewed;
    return st->partials;
}

void gf_openai_stream_end(gf_openai_stream_t *st, gf_provider_result_t *res)
{
    apr_pool_t *p = st->p;
    const char *name = st->prov->name;
    json_object *b64, *done;
    const char *err;

    /* A last event without its blank line is dispatched by none: the
     * stream is over, so what it holds is all there is. */
    gf_sse_feed(st->sse, "\n\n", 2);
    if (st->failed) {
        const char *msg = st->error_message ? gf_net_excerpt(p, st->error_message)
                                            : "the stream reported an error";
        if (gf_openai_refused(st->error_code)) {
            gf_net_fail(res, GF_JOB_CONTENT_FILTERED, 0, apr_psprintf(p, "%s: %s", name, msg));
        }
        else if (gf_openai_no_credits(st->error_code)) {
            gf_net_fail(res, GF_JOB_PROVIDER_CREDITS, 0, apr_psprintf(p, "%s: %s", name, msg));
        }
        else {
            gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: %s", name, msg));
        }
        return;
    }
    if (!st->completed_data
        || !(done = gf_json_parse(p, st->completed_data, st->completed_len, &err))) {
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: the stream ended before its picture",
                                                     name));
        return;
    }
    gf_net_usage(done, "usage", "total_tokens", NULL, "tokens", res);
    if (!json_object_object_get_ex(done, "b64_json", &b64)
        || !json_object_is_type(b64, json_type_string)) {
        gf_net_fail(res, GF_JOB_API, 1, apr_psprintf(p, "%s: the stream's picture has no b64_json",
                                                     name));
        return;
    }
    gf_net_b64_picture(p, st->prov, json_object_get_string(b64),
                       (apr_size_t)json_object_get_string_len(b64), res);
}
