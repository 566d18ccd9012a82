/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_policy.c: GenFlowPromptPolicy applied to a create's prompts,
 * before the create reserves anything: the deny list (core/gf_policy.h),
 * then the moderation endpoint, called from the request's thread with no
 * pooled database connection held, under its timeout and answer cap, on
 * its own origin only, with a traceparent of the request's trace (the
 * trace the generation would keep).
 *
 * A refusal answers 400 CONTENT_POLICY with one message whatever refused
 * it, so a user cannot probe which word or category did; the site's log
 * says which (the deny list's line, the categories).
 */
#include <string.h>
#include <apr_strings.h>

#include "httpd/gates/mod_genflow_policy.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/io/mod_genflow_http.h"
#include "httpd/io/mod_genflow_metrics.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/io/mod_genflow_trace.h"
#include "core/gf_error.h"
#include "core/gf_input.h"
#include "core/gf_metrics.h"
#include "net/gf_http.h"

#define REFUSED_MESSAGE "the prompt is not allowed by this site's content policy"
#define REFUSED_PICTURES "the prompt or a picture is not allowed by this site's content policy"

static int refuse(request_rec *r)
{
    return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_CONTENT_POLICY, REFUSED_MESSAGE);
}

/* A refusal of a call that judged pictures too. */
static int refuse_pictures(request_rec *r)
{
    return gf_send_error(r, HTTP_BAD_REQUEST, GF_ERR_CONTENT_POLICY, REFUSED_PICTURES);
}

static int unavailable(request_rec *r)
{
    apr_table_setn(r->headers_out, "Retry-After", GF_RETRY_AFTER_UNAVAILABLE);
    return gf_send_error(r, HTTP_SERVICE_UNAVAILABLE, GF_ERR_UNAVAILABLE,
                         "the site's content check is unavailable; try again shortly");
}

/* The deny list's verdict on the texts (gf_policy_deny_texts), counted
 * and logged: 1, 0 or -1. */
static int denied(request_rec *r, const gf_dir_conf_t *dc, const struct gf_policy_conf *pc,
                  const char *const *texts, int n)
{
    int line = 0, hit = gf_policy_deny_texts(r->pool, pc->deny, texts, n, &line);

    if (hit < 0) {
        gf_metrics_policy(gf_metrics(), GF_POLICY_DENY_LIST, GF_POLICY_ERROR);
        return -1;
    }
    if (!hit) {
        gf_metrics_policy(gf_metrics(), GF_POLICY_DENY_LIST, GF_POLICY_ALLOWED);
        return 0;
    }
    gf_metrics_policy(gf_metrics(), GF_POLICY_DENY_LIST, GF_POLICY_REFUSED);
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, GF_LOGNO(5401)
                  "prompt refused by the deny list (%s line %d) type=%s user=%s trace=%s",
                  pc->deny_file, line, dc->type ? dc->type->name : "-", r->user,
                  gf_trace_request(r)->trace_id);
    return 1;
}

/* What the moderation endpoint says of the user's texts and the
 * pictures (npics data: or https URLs). */
static gf_moderation_t moderate(request_rec *r, const struct gf_policy_conf *pc,
                                const char *const *texts, int n, const char *const *pictures,
                                int npics, const char **why)
{
    gf_http_request_t req;
    gf_http_response_t res;
    apr_time_t t0 = apr_time_now();
    gf_moderation_t verdict;

    memset(&req, 0, sizeof(req));
    req.method = "POST";
    req.url = pc->moderation_url;
    req.origin = pc->moderation_url;
    req.headers = apr_table_make(r->pool, 2);
    apr_table_setn(req.headers, "Content-Type", "application/json");
    if (pc->key) apr_table_setn(req.headers, "Authorization", apr_pstrcat(r->pool, "Bearer ",
                                                                           pc->key, NULL));
    req.body = gf_policy_moderation_request(r->pool, texts, n, pictures, npics, pc->model);
    req.body_len = strlen(req.body);
    req.connect_timeout_ms = pc->timeout_ms;
    req.timeout_ms = pc->timeout_ms;
    req.max_response = GF_POLICY_ANSWER_MAX;
    req.allow_loopback_http = pc->insecure_loopback;
    /* The request's trace is attached to its pool: the call carries it. */
    gf_trace_request(r);
    gf_http_perform(r->pool, &req, &res);
    gf_metrics_moderation_time(gf_metrics(), apr_time_now() - t0);
    if (res.error) {
        *why = apr_psprintf(r->pool, "no answer (%s)", res.error);
        return GF_MODERATION_BAD;
    }
    if (res.status != 200) {
        *why = apr_psprintf(r->pool, "HTTP %d", res.status);
        return GF_MODERATION_BAD;
    }
    verdict = gf_policy_moderation_read(r->pool, res.body, res.body_len, pc->categories, why);
    return verdict;
}

/* The moderation endpoint's verdict answered: GF_CONTINUE, 400 or 503. */
static int judged(request_rec *r, const gf_dir_conf_t *dc, const struct gf_policy_conf *pc,
                  gf_moderation_t verdict, const char *why, int pictures)
{
    switch (verdict) {
    case GF_MODERATION_ALLOWED:
        gf_metrics_policy(gf_metrics(), GF_POLICY_MODERATION, GF_POLICY_ALLOWED);
        return GF_CONTINUE;
    case GF_MODERATION_FLAGGED:
        gf_metrics_policy(gf_metrics(), GF_POLICY_MODERATION, GF_POLICY_REFUSED);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, GF_LOGNO(5402)
                      "prompt refused by the moderation endpoint (categories: %s)%s type=%s "
                      "user=%s trace=%s", why ? why : "-",
                      pictures ? apr_psprintf(r->pool, " with %d picture%s", pictures,
                                              pictures == 1 ? "" : "s") : "",
                      dc->type ? dc->type->name : "-", r->user, gf_trace_request(r)->trace_id);
        return pictures ? refuse_pictures(r) : refuse(r);
    default:
        gf_metrics_policy(gf_metrics(), GF_POLICY_MODERATION, GF_POLICY_ERROR);
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, GF_LOGNO(5403)
                      "the moderation endpoint (%s) could not judge a prompt: %s; on_error=%s "
                      "type=%s user=%s trace=%s", pc->where, why ? why : "-",
                      pc->on_error_allow ? "allow: accepted" : "deny: answered 503",
                      dc->type ? dc->type->name : "-", r->user, gf_trace_request(r)->trace_id);
        return pc->on_error_allow ? GF_CONTINUE : unavailable(r);
    }
}

int gf_policy_check(request_rec *r, const gf_dir_conf_t *dc, json_object *body)
{
    const struct gf_policy_conf *pc = dc->policy;
    const char *texts[2], *why = NULL;
    const char **pictures = NULL;
    gf_input_t in;
    gf_input_error_t ierr;
    gf_moderation_t verdict;
    int n, hit, npics = 0;

    /* A body that is no valid create: the create answers that. */
    if (!pc || pc->off || !gf_input_parse(r->pool, body, gf_conf_needs(dc), &in, &ierr)) {
        return GF_CONTINUE;
    }
    n = gf_policy_user_texts(&in, texts);
    if (n && pc->deny && (hit = denied(r, dc, pc, texts, n)) != 0) {
        /* Not judged is not passed: the check fails closed. */
        return hit > 0 ? refuse(r) : unavailable(r);
    }
    if (!pc->moderation_url) return GF_CONTINUE;
    if (pc->images && !gf_policy_pictures(r, &in, &pictures, &npics, &why)) {
        return judged(r, dc, pc, GF_MODERATION_BAD, why, 0);
    }
    if (!n && !npics) return GF_CONTINUE;
    verdict = moderate(r, pc, texts, n, pictures, npics, &why);
    return judged(r, dc, pc, verdict, why, npics);
}

int gf_policy_asks_network(const gf_dir_conf_t *dc)
{
    return dc->policy && !dc->policy->off && dc->policy->moderation_url;
}
