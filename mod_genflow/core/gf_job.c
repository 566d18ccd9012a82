/* SPDX-License-Identifier: Apache-2.0 */
/* gf_job.c: retry, fallback, polling and deadline rules (see gf_job.h). */
#include <string.h>
#include <apr_strings.h>

#include "core/gf_job.h"
#include "core/gf_error.h"

int gf_job_http_transient(int status)
{
    return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

apr_interval_time_t gf_job_backoff(int n, apr_interval_time_t retry_after, apr_uint32_t rnd)
{
    apr_interval_time_t d = GF_BACKOFF_BASE;
    int i;

    for (i = 1; i < n && d < GF_BACKOFF_CAP; i++) {
        d *= 2;
    }
    if (d > GF_BACKOFF_CAP) {
        d = GF_BACKOFF_CAP;
    }
    /* Jitter 80..120 % so that a burst of failures does not retry in step. */
    d = d * (80 + (apr_interval_time_t)(rnd % 41)) / 100;
    if (retry_after > d) {
        d = retry_after;   /* the provider said when; honour it */
    }
    return d;
}

apr_interval_time_t gf_job_poll_delay(int n)
{
    apr_interval_time_t d = GF_POLL_FIRST;
    int i;
    for (i = 1; i < n && d < GF_POLL_CAP; i++) {
        d = d * 3 / 2;
    }
    return d > GF_POLL_CAP ? GF_POLL_CAP : d;
}

apr_interval_time_t gf_job_poll_delay_at(int n, apr_interval_time_t age)
{
    apr_interval_time_t d = gf_job_poll_delay(n),
                        share = age > 0 ? age / GF_POLL_AGE_DIVISOR : 0;
    if (share > d) d = share;
    return d > GF_POLL_LONG_CAP ? GF_POLL_LONG_CAP : d;
}

int gf_job_client_retry_after(apr_interval_time_t age)
{
    long s = (long)apr_time_sec(age);
    int hint = 1 + (int)(s / 5);
    return hint > 10 ? 10 : hint;
}

const char *gf_job_next_name(gf_next_t next)
{
    static const char *const NAMES[] = { "complete", "poll", "retry", "fallback", "fail",
                                          "more" };
    return (unsigned)next < sizeof(NAMES) / sizeof(NAMES[0]) ? NAMES[next] : "?";
}

int gf_job_call_count(int count, int stored, int max_per_call)
{
    int lack = count - (stored > 0 ? stored : 0);
    if (lack < 1) lack = 1;
    if (max_per_call < 1) max_per_call = 1;
    return lack < max_per_call ? lack : max_per_call;
}

int gf_job_wants_more(int count, int stored, int asked, int got)
{
    return got >= 1 && got >= asked && (stored > 0 ? stored : 0) + got < count;
}

int gf_job_keeps_stored(gf_decision_t *d, int stored)
{
    if (d->next != GF_NEXT_FAIL || d->cancelled || stored < 1) return 0;
    d->next = GF_NEXT_COMPLETE;   /* cancel_job stays: a job the deadline ended goes */
    return 1;
}

static void fail(gf_decision_t *d, const char *code, const char *message)
{
    d->next = GF_NEXT_FAIL;
    d->code = code;
    d->message = message;
}

/* The request's own Cancel-After was the deadline, and it has passed. */
static int own_deadline_passed(const gf_job_state_t *st)
{
    return st->cancel_at && st->cancel_at <= st->deadline && st->now >= st->cancel_at;
}

/* The deadline ends the generation: TIMEOUT, or, when it was the
 * request's own Cancel-After, cancelled with CANCEL_AFTER. An accepted job
 * (job) is cancelled at the provider: nobody will collect its picture. */
static void end_at_deadline(const gf_job_state_t *st, gf_decision_t *d, int job,
                            const char *why)
{
    if (st->cancel_at && st->cancel_at <= st->deadline) {
        fail(d, GF_JOB_CANCEL_AFTER, why ? "its Cancel-After leaves no time for another retry"
                                         : "its Cancel-After passed while it was running");
        d->cancelled = 1;
    }
    else {
        fail(d, GF_JOB_TIMEOUT, why ? why : "the generation did not finish before its deadline");
    }
    d->cancel_job = job;
}

int gf_job_before_call(const gf_job_state_t *st, gf_decision_t *d)
{
    memset(d, 0, sizeof(*d));
    if (st->chain_index >= st->chain_len) {
        fail(d, GF_JOB_API, "the provider chain is exhausted");
        return 1;
    }
    if (st->now >= st->deadline) {
        end_at_deadline(st, d, st->polling, NULL);
        return 1;
    }
    if (st->rescued && !st->polling && st->submit_once
        && st->chain_index + 1 < st->chain_len) {
        /* No job id was recorded, so the provider may hold an accepted
         * job nobody can poll: not a second submission to it. */
        d->next = GF_NEXT_FALLBACK;
        d->message = "the previous attempt ended during its submission; not submitting "
                     "to this provider again";
        return 1;
    }
    return 0;
}

/* An accepted job to poll again: after a failed poll with the retry
 * backoff (the job is kept, never submitted again), or while it runs;
 * never past the deadline. 1 when d says so. A job the provider lost
 * (job_lost) is not polled again: it is a transient failure like a
 * submission's, retried (a group chooses again) with its id cleared. */
static int poll_again(const gf_job_state_t *st, const gf_provider_result_t *res,
                      apr_uint32_t rnd, gf_decision_t *d)
{
    if ((st->polling || res->provider_job_id) && res->error_code && res->transient
        && !res->job_lost) {
        d->next = GF_NEXT_POLL;
        d->poll_failed = 1;
        d->delay = gf_job_backoff(st->poll_errors + 1, res->retry_after, rnd);
    }
    else if (!res->error_code && (res->provider_job_id || res->running)) {
        d->next = GF_NEXT_POLL;
        d->delay = st->poll_every > 0 ? st->poll_every
                                      : gf_job_poll_delay_at(st->poll_count + 1,
                                                             st->started ? st->now - st->started : 0);
        /* A provider that will call a webhook asks to be polled rarely. */
        if (res->retry_after > d->delay) d->delay = res->retry_after;
    }
    else {
        return 0;
    }
    if (st->now + d->delay >= st->deadline) {
        d->delay = st->deadline - st->now;
    }
    return 1;
}

void gf_job_decide(const gf_job_state_t *st, const gf_provider_result_t *res,
                   apr_uint32_t rnd, gf_decision_t *d)
{
    int more = st->chain_index + 1 < st->chain_len;

    memset(d, 0, sizeof(*d));
    if (!res->error_code && (res->image || res->image_url)) {
        /* An image is success, whatever else the answer said (docs/operations.md:
         * never fall back on an ambiguous answer that carries an image),
         * unless it came after the request's own Cancel-After: the client
         * no longer wants it, so it is neither stored nor charged. */
        if (own_deadline_passed(st)) {
            end_at_deadline(st, d, 0, NULL);
            return;
        }
        d->next = GF_NEXT_COMPLETE;
        return;
    }
    if (st->now >= st->deadline) {
        /* An accepted job still running (or not known to have ended) is
         * cancelled; one that failed for good is over already. */
        end_at_deadline(st, d, (st->polling || res->provider_job_id)
                               && (!res->error_code || res->transient), NULL);
        return;
    }
    if (poll_again(st, res, rnd, d)) return;
    if (!res->error_code) {
        fail(d, GF_JOB_API, "the provider returned neither an image nor a job");
        return;
    }
    if (!strcmp(res->error_code, GF_JOB_CONTENT_FILTERED)) {
        /* Moderation is a verdict on the prompt: another provider would
         * only be a way around it. */
        fail(d, res->error_code, res->error_message);
        return;
    }
    if (res->transient && res->maybe_accepted && st->submit_once && !st->polling && more) {
        /* The submission may have been accepted and the answer lost (a
         * timeout or a reset after the request went out): another one
         * could be a second paid job nobody polls. The chain's next
         * provider is asked instead, as after a rescue of such an attempt. */
        d->next = GF_NEXT_FALLBACK;
        d->delay = 0;
        return;
    }
    if (res->transient && st->retry_count < st->max_retries) {
        d->next = GF_NEXT_RETRY;
        d->delay = gf_job_backoff(st->retry_count + 1, res->retry_after, rnd);
        if (st->now + d->delay < st->deadline) {
            return;
        }
        /* No time left for another try here. */
        if (!more) {
            end_at_deadline(st, d, 0, "no time left before the deadline for another retry");
            return;
        }
    }
    if (more) {
        d->next = GF_NEXT_FALLBACK;
        d->delay = 0;
        return;
    }
    if (res->transient) {
        fail(d, GF_JOB_MAX_RETRIES, res->error_message ? res->error_message
                                                       : "the provider kept failing");
        return;
    }
    fail(d, res->error_code, res->error_message);
}
