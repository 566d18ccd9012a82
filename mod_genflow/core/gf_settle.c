/* SPDX-License-Identifier: Apache-2.0 */
/* gf_settle.c: an attempt's decision as the glue writes it (gf_settle.h):
 * the statement and its arguments, the row's images, the cost record's
 * arguments, the log line's parts. */
#include <string.h>
#include <apr_general.h>
#include <apr_strings.h>

#include "core/gf_settle.h"
#include "core/gf_error.h"
#include "core/gf_json.h"
#include "core/gf_previews.h"

/* 16 random hex digits, or the clock's when the system has no randomness. */
static void random_hex(char hex[17])
{
    unsigned char b[8];
    int i;
    if (apr_generate_random_bytes(b, sizeof(b)) != APR_SUCCESS) {
        apr_uint64_t t = (apr_uint64_t)apr_time_now();
        memcpy(b, &t, sizeof(b));
    }
    for (i = 0; i < 8; i++) apr_snprintf(hex + 2 * i, 3, "%02x", b[i]);
}

const char *gf_settle_object_key(apr_pool_t *p, const char *folder, const char *id,
                                 const char *ext)
{
    char hex[17];
    random_hex(hex);
    return apr_pstrcat(p, folder, "/", id, "-", hex, ext, NULL);
}

const char *gf_settle_picture_key(apr_pool_t *p, const char *type, const char *id)
{
    char hex[17];
    random_hex(hex);
    /* A subfolder per first random byte (256 of them): a folder of one
     * type's millions of pictures would hold every store of the node
     * behind one directory lock, and ext4 refuses new names in a folder
     * past about ten million (its index full). */
    return apr_pstrcat(p, type, "/", apr_pstrmemdup(p, hex, 2), "/", id, "-", hex, ".png", NULL);
}

gf_picture_t gf_settle_picture(const gf_provider_result_t *res, int i)
{
    gf_picture_t pic;
    if (i > 0) return res->more[i - 1];
    memset(&pic, 0, sizeof(pic));
    pic.image = res->image;
    pic.image_len = res->image_len;
    pic.content_type = res->content_type;
    pic.image_url = res->image_url;
    pic.has_seed = res->has_seed;
    pic.seed = res->seed;
    return pic;
}

int gf_settle_pictures_begin(apr_pool_t *p, const gf_provider_result_t *res, int count,
                             int stored, int asked, gf_settle_pictures_t *pics)
{
    int n = 1 + (res->more ? res->n_more : 0);
    if (asked <= 0) asked = count - stored;
    if (n > asked) n = asked;
    if (n > GF_PICTURES_MAX) n = GF_PICTURES_MAX;
    memset(pics, 0, sizeof(*pics));
    pics->p = p;
    pics->images = gf_json_pool_own(p, json_object_new_array());
    pics->tried = n;
    return n;
}

int gf_settle_pictures_bytes(const gf_provider_result_t *res, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        if (gf_settle_picture(res, i).image) return 1;
    }
    return 0;
}

int gf_settle_renew_first(const gf_provider_result_t *res, int n, apr_time_t now,
                          apr_time_t lease_end)
{
    return gf_settle_pictures_bytes(res, n) && now >= lease_end;
}

void gf_settle_pictures_add(gf_settle_pictures_t *pics, const gf_picture_t *pic, const char *url,
                            const void *store, const char *key, int sized, unsigned width,
                            unsigned height)
{
    json_object *o = json_object_new_object();
    if (store && pics->n_kept < GF_PICTURES_MAX) {
        pics->stores[pics->n_kept] = store;
        pics->keys[pics->n_kept++] = key;
    }
    json_object_object_add(o, "url", json_object_new_string(url));
    json_object_object_add(o, "width", sized ? json_object_new_int64(width) : NULL);
    json_object_object_add(o, "height", sized ? json_object_new_int64(height) : NULL);
    json_object_object_add(o, "seed", pic->has_seed ? json_object_new_int64((int64_t)pic->seed)
                                                    : NULL);
    json_object_array_add(pics->images, o);
    if (!pics->url) pics->url = url;
    pics->n++;
}

int gf_settle_pictures_end(gf_settle_pictures_t *pics, gf_decision_t *d)
{
    if (pics->n == 0) {
        d->next = GF_NEXT_FAIL;
        d->code = GF_JOB_STORAGE;
        d->message = pics->tried > 1 ? "none of the images could be stored"
                                     : "the image could not be stored";
        return 0;
    }
    pics->json = gf_json_dump(pics->p, pics->images);
    return 1;
}

void gf_settle_after_store(gf_decision_t *d, int count, int stored, int asked,
                           gf_settle_pictures_t *pics)
{
    if (d->next == GF_NEXT_COMPLETE && gf_job_wants_more(count, stored, asked, pics->n)) {
        d->next = GF_NEXT_MORE;
    }
    else if (gf_job_keeps_stored(d, stored)) {
        /* Charged for the earlier calls' pictures alone (the log line
         * names the failure). */
        pics->json = "[]";
        pics->url = NULL;
    }
}

int gf_settle_took(const gf_decision_t *d, int n, apr_time_t job_started)
{
    return (d->next == GF_NEXT_COMPLETE || d->next == GF_NEXT_MORE) && n > 0 && job_started > 0;
}

int gf_settle_preview_due(apr_time_t last, apr_time_t now)
{
    return !(last && now - last < GF_SETTLE_PREVIEW_EVERY && now >= last);
}

const char *gf_settle_preview(apr_pool_t *p, const char *id, apr_time_t taken, const char *url)
{
    const char *payload = apr_psprintf(p, "%s %" APR_TIME_T_FMT " %s", id, taken, url ? url : "");
    char pid[GF_PREVIEW_ID_MAX], u[GF_PREVIEW_URL_MAX];
    apr_time_t stamp;
    return gf_previews_parse(payload, pid, &stamp, u) ? payload : NULL;
}

void gf_settle_job(const gf_provider_result_t *res, const char *row_job, const char *row_state,
                   const char **job, const char **state)
{
    *job = res && res->provider_job_id ? res->provider_job_id : row_job;
    *state = res && res->provider_state ? res->provider_state : row_state;
}

/* SCHEDULE: the row's counts moved on by the decision. */
static void schedule_args(apr_pool_t *p, const gf_settle_row_t *row, const gf_decision_t *d,
                          const gf_provider_result_t *res, const char **a)
{
    int index = row->chain_index, retry = row->retry_count, polls = row->poll_count;
    int poll_errors = 0;
    const char *job_id = NULL, *state = NULL;

    if (d->next == GF_NEXT_POLL) {
        polls++;
        /* A failed poll keeps the accepted job: the next attempt polls
         * it again, it is never submitted again. */
        poll_errors = d->poll_failed ? row->poll_errors + 1 : 0;
        gf_settle_job(res, row->provider_job_id, row->provider_state, &job_id, &state);
    }
    else if (d->next == GF_NEXT_RETRY) {
        retry++;
    }
    else { /* fallback */
        index++;
        retry = 0;
        polls = 0;
    }
    a[GF_SCHEDULE_DELAY_MS] = apr_ltoa(p, (long)apr_time_as_msec(d->delay));
    a[GF_SCHEDULE_CHAIN_INDEX] = apr_ltoa(p, index);
    a[GF_SCHEDULE_RETRY_COUNT] = apr_ltoa(p, retry);
    a[GF_SCHEDULE_POLL_COUNT] = apr_ltoa(p, polls);
    a[GF_SCHEDULE_POLL_ERRORS] = apr_ltoa(p, poll_errors);
    a[GF_SCHEDULE_PROVIDER_JOB_ID] = job_id;
    a[GF_SCHEDULE_PROVIDER_STATE] = state;
}

gf_sql_type_op_t gf_settle_statement(apr_pool_t *p, const gf_settle_row_t *row,
                                     const gf_decision_t *d, const gf_provider_result_t *res,
                                     const char *provider, const char *model, const char *url,
                                     const char *images, const char **args, int *nargs)
{
    const char *attempt = apr_ltoa(p, row->attempts);
    const char *const complete[] = { row->id, url, images, provider, model, row->lease_owner,
                                     attempt };
    const char *const more[] = { images, provider, model, row->id, row->lease_owner, attempt };
    const char *const fail[] = { row->id, d->cancelled ? "cancelled" : "failed", d->code,
                                 d->message ? d->message : d->code, provider, model,
                                 row->lease_owner, attempt, NULL };

    switch (d->next) {
    case GF_NEXT_COMPLETE:
        *nargs = 7;
        memcpy(args, complete, sizeof(complete));
        return GF_SQL_COMPLETE;
    case GF_NEXT_MORE:
        *nargs = 6;
        memcpy(args, more, sizeof(more));
        return GF_SQL_MORE;
    case GF_NEXT_FAIL:
        *nargs = 9;
        memcpy(args, fail, sizeof(fail));
        return GF_SQL_FAIL;
    default:
        schedule_args(p, row, d, res, args);
        args[GF_SCHEDULE_PROVIDER] = provider;
        args[GF_SCHEDULE_MODEL] = model;
        args[GF_SCHEDULE_ID] = row->id;
        args[GF_SCHEDULE_LEASE_OWNER] = row->lease_owner;
        args[GF_SCHEDULE_ATTEMPT] = attempt;
        *nargs = GF_SCHEDULE_ARGS;
        return GF_SQL_SCHEDULE;
    }
}

int gf_settle_looks_again(const gf_decision_t *d)
{
    return d->next == GF_NEXT_POLL && d->delay < GF_SETTLE_SHORT_POLL;
}

/* Why a retry or a fallback happened, for the log: the provider's own
 * words (the user's answer carries only the code), and when the next
 * call comes. */
static const char *outcome_detail(apr_pool_t *p, const gf_decision_t *d,
                                  const gf_provider_result_t *res)
{
    const char *why = res && res->error_code ? res->error_message : NULL;
    const char *when = d->delay ? apr_psprintf(p, "in %" APR_TIME_T_FMT " ms",
                                               apr_time_as_msec(d->delay)) : NULL;
    if (why && when) return apr_pstrcat(p, why, " (", when, ")", NULL);
    return why ? why : when;
}

void gf_settle_report(apr_pool_t *p, const gf_decision_t *d, const gf_provider_result_t *res,
                      gf_settle_report_t *r)
{
    int terminal = d->next == GF_NEXT_COMPLETE || d->next == GF_NEXT_FAIL;

    r->count = d->next == GF_NEXT_RETRY ? GF_SETTLE_COUNT_RETRY
             : d->next == GF_NEXT_FALLBACK ? GF_SETTLE_COUNT_FALLBACK
             : terminal ? GF_SETTLE_COUNT_TERMINAL : GF_SETTLE_COUNT_NONE;
    /* A fallback is the chain moving on: worth a line at info, with why. */
    r->info = terminal || d->next == GF_NEXT_FALLBACK || d->next == GF_NEXT_MORE;
    r->what = gf_job_next_name(d->next);
    r->code = d->next == GF_NEXT_FAIL ? d->code : (res ? res->error_code : NULL);
    r->detail = d->next == GF_NEXT_FAIL ? d->message : outcome_detail(p, d, res);
}

const char *gf_settle_stale(int maybe_applied)
{
    return maybe_applied ? "nothing to change: recorded by a run whose answer was lost, or the "
                           "row changed under this attempt"
                         : "the row changed under this attempt; result dropped";
}

void gf_settle_cost_args(apr_pool_t *p, const char *id, const char *type, int attempts,
                         const char *provider, double usage, const char *usage_unit, double cost,
                         const char *period, const char *tz, const char **args)
{
    args[0] = id;
    args[1] = type;
    args[2] = apr_itoa(p, attempts);
    args[3] = provider;
    args[4] = usage > 0 ? apr_psprintf(p, "%.6f", usage) : NULL;
    args[5] = usage > 0 ? usage_unit : NULL;
    args[6] = apr_psprintf(p, "%.6f", cost);
    /* With a budget, the cost counts against its period (sql/042). */
    args[7] = period;
    args[8] = period ? (tz ? tz : "UTC") : NULL;
}
