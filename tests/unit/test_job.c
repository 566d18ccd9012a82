/* SPDX-License-Identifier: Apache-2.0 */
/* test_job.c: the job state machine's retry, fallback, poll and deadline rules. */
#include <string.h>

#include "test_core.h"
#include "core/gf_job.h"
#include "core/gf_error.h"

static gf_job_state_t state(int index, int len, int retries)
{
    gf_job_state_t st;
    memset(&st, 0, sizeof(st));
    st.chain_index = index;
    st.chain_len = len;
    st.retry_count = retries;
    st.max_retries = 3;
    st.now = apr_time_from_sec(1000);
    st.deadline = st.now + apr_time_from_sec(120);
    return st;
}

static gf_provider_result_t error(const char *code, int transient)
{
    gf_provider_result_t r;
    memset(&r, 0, sizeof(r));
    r.error_code = code;
    r.error_message = "boom";
    r.transient = transient;
    return r;
}

START_TEST(image_completes_even_when_ambiguous)
{
    gf_job_state_t st = state(0, 2, 0);
    gf_provider_result_t r;
    gf_decision_t d;
    memset(&r, 0, sizeof(r));
    r.image_url = "https://x/y.png";
    r.model = "";            /* odd side field: still an image */
    gf_job_decide(&st, &r, 0, &d);
    ck_assert_int_eq(d.next, GF_NEXT_COMPLETE);
}
END_TEST

START_TEST(transient_retries_then_falls_back)
{
    gf_provider_result_t r = error(GF_JOB_NETWORK, 1);
    gf_decision_t d;
    gf_job_state_t st = state(0, 2, 0);
    gf_job_decide(&st, &r, 20, &d);
    ck_assert_int_eq(d.next, GF_NEXT_RETRY);
    ck_assert_int_eq(d.delay, apr_time_from_sec(2));
    st.retry_count = 3;
    gf_job_decide(&st, &r, 20, &d);
    ck_assert_int_eq(d.next, GF_NEXT_FALLBACK);
    st = state(1, 2, 3);
    gf_job_decide(&st, &r, 20, &d);
    ck_assert_int_eq(d.next, GF_NEXT_FAIL);
    ck_assert_str_eq(d.code, GF_JOB_MAX_RETRIES);
}
END_TEST

START_TEST(permanent_falls_back_at_once)
{
    gf_provider_result_t r = error(GF_JOB_PROVIDER_CREDITS, 0);
    gf_decision_t d;
    gf_job_state_t st = state(0, 3, 0);
    gf_job_decide(&st, &r, 0, &d);
    ck_assert_int_eq(d.next, GF_NEXT_FALLBACK);
    st = state(2, 3, 0);
    gf_job_decide(&st, &r, 0, &d);
    ck_assert_int_eq(d.next, GF_NEXT_FAIL);
    ck_assert_str_eq(d.code, GF_JOB_PROVIDER_CREDITS);
}
END_TEST

START_TEST(content_filter_never_falls_back)
{
    gf_provider_result_t r = error(GF_JOB_CONTENT_FILTERED, 0);
    gf_decision_t d;
    gf_job_state_t st = state(0, 3, 0);
    gf_job_decide(&st, &r, 0, &d);
    ck_assert_int_eq(d.next, GF_NEXT_FAIL);
    ck_assert_str_eq(d.code, GF_JOB_CONTENT_FILTERED);
}
END_TEST

START_TEST(backoff_schedule)
{
    /* rnd 20 → factor 100 %: exactly 2, 4, 8, 16, 30, 30. */
    ck_assert_int_eq(gf_job_backoff(1, 0, 20), apr_time_from_sec(2));
    ck_assert_int_eq(gf_job_backoff(2, 0, 20), apr_time_from_sec(4));
    ck_assert_int_eq(gf_job_backoff(3, 0, 20), apr_time_from_sec(8));
    ck_assert_int_eq(gf_job_backoff(5, 0, 20), apr_time_from_sec(30));
    ck_assert_int_eq(gf_job_backoff(9, 0, 20), apr_time_from_sec(30));
    /* Jitter stays within 80..120 %. */
    ck_assert_int_eq(gf_job_backoff(1, 0, 0), apr_time_from_msec(1600));
    ck_assert_int_eq(gf_job_backoff(1, 0, 40), apr_time_from_msec(2400));
    /* Retry-After wins when longer. */
    ck_assert_int_eq(gf_job_backoff(1, apr_time_from_sec(7), 20), apr_time_from_sec(7));
    ck_assert_int_eq(gf_job_backoff(3, apr_time_from_sec(1), 20), apr_time_from_sec(8));
}
END_TEST

START_TEST(deadline_fails_with_timeout)
{
    gf_provider_result_t r = error(GF_JOB_NETWORK, 1);
    gf_decision_t d;
    gf_job_state_t st = state(0, 1, 0);
    st.now = st.deadline;
    gf_job_decide(&st, &r, 0, &d);
    ck_assert_int_eq(d.next, GF_NEXT_FAIL);
    ck_assert_str_eq(d.code, GF_JOB_TIMEOUT);
    /* A retry that would land after the deadline is not scheduled. */
    st = state(0, 1, 0);
    st.deadline = st.now + apr_time_from_sec(1);
    gf_job_decide(&st, &r, 20, &d);
    ck_assert_int_eq(d.next, GF_NEXT_FAIL);
    ck_assert_str_eq(d.code, GF_JOB_TIMEOUT);
}
END_TEST

/* The request's own Cancel-After as the deadline: the generation ends
 * cancelled with CANCEL_AFTER, not failed with TIMEOUT, and an accepted
 * job is to be cancelled at the provider (TIMEOUT's too). */
START_TEST(cancel_after_cancels)
{
    gf_provider_result_t r = error(GF_JOB_NETWORK, 1), running;
    gf_decision_t d;
    gf_job_state_t st = state(0, 1, 0);

    st.deadline = st.now + apr_time_from_sec(30);
    st.cancel_at = st.deadline;
    st.now = st.deadline;
    gf_job_decide(&st, &r, 0, &d);
    ck_assert_int_eq(d.next, GF_NEXT_FAIL);
    ck_assert_str_eq(d.code, GF_JOB_CANCEL_AFTER);
    ck_assert_int_eq(d.cancelled, 1);
    ck_assert_int_eq(d.cancel_job, 0);              /* no job was accepted */

    /* Polling an accepted job at the deadline: before the call, cancel it. */
    st.polling = 1;
    ck_assert(gf_job_before_call(&st, &d));
    ck_assert_str_eq(d.code, GF_JOB_CANCEL_AFTER);
    ck_assert(d.cancelled && d.cancel_job);
    /* A job accepted by this very attempt, answered at the deadline. */
    st.polling = 0;
    memset(&running, 0, sizeof(running));
    running.provider_job_id = "job-1";
    running.running = 1;
    gf_job_decide(&st, &running, 0, &d);
    ck_assert(d.next == GF_NEXT_FAIL && d.cancelled && d.cancel_job);

    /* The type's deadline came first: TIMEOUT, failed, the job cancelled. */
    st.cancel_at = st.deadline + apr_time_from_sec(1);
    st.polling = 1;
    ck_assert(gf_job_before_call(&st, &d));
    ck_assert_str_eq(d.code, GF_JOB_TIMEOUT);
    ck_assert(!d.cancelled && d.cancel_job);

    /* A picture that arrives after the Cancel-After is not wanted: not
     * stored, not charged. After the type's deadline it still completes. */
    {
        gf_provider_result_t img;
        memset(&img, 0, sizeof(img));
        img.image_url = "https://example.com/x.png";
        st.polling = 0;
        st.cancel_at = st.deadline;
        gf_job_decide(&st, &img, 0, &d);
        ck_assert(d.next == GF_NEXT_FAIL && d.cancelled);
        ck_assert_str_eq(d.code, GF_JOB_CANCEL_AFTER);
        st.cancel_at = st.deadline + apr_time_from_sec(1);
        gf_job_decide(&st, &img, 0, &d);
        ck_assert_int_eq(d.next, GF_NEXT_COMPLETE);
        st.cancel_at = 0;
        gf_job_decide(&st, &img, 0, &d);
        ck_assert_int_eq(d.next, GF_NEXT_COMPLETE);
    }
    /* A job that failed for good at the deadline is over: nothing to cancel. */
    {
        gf_provider_result_t dead = error(GF_JOB_API, 0);
        st.polling = 1;
        st.cancel_at = st.deadline;
        gf_job_decide(&st, &dead, 0, &d);
        ck_assert(d.next == GF_NEXT_FAIL && d.cancelled && !d.cancel_job);
    }

    /* No time left for a retry before the Cancel-After: cancelled now. */
    st = state(0, 1, 0);
    st.cancel_at = st.deadline = st.now + apr_time_from_sec(1);
    gf_job_decide(&st, &r, 20, &d);
    ck_assert_int_eq(d.next, GF_NEXT_FAIL);
    ck_assert_str_eq(d.code, GF_JOB_CANCEL_AFTER);
    ck_assert(d.cancelled && !d.cancel_job);
}
END_TEST

/* Long-running jobs are polled less often: never less than a fifth of
 * their age, at most GF_POLL_LONG_CAP; a young job keeps the fast ramp. */
START_TEST(long_jobs_back_off)
{
    gf_provider_result_t r;
    gf_decision_t d;
    gf_job_state_t st = state(0, 2, 0);

    ck_assert_int_eq(gf_job_poll_delay_at(1, apr_time_from_sec(2)), GF_POLL_FIRST);
    ck_assert_int_eq(gf_job_poll_delay_at(50, apr_time_from_sec(20)), GF_POLL_CAP);
    ck_assert_int_eq(gf_job_poll_delay_at(50, apr_time_from_sec(120)), apr_time_from_sec(24));
    ck_assert_int_eq(gf_job_poll_delay_at(50, apr_time_from_sec(3600)), GF_POLL_LONG_CAP);
    ck_assert_int_eq(gf_job_poll_delay_at(3, 0), gf_job_poll_delay(3));

    memset(&r, 0, sizeof(r));
    r.provider_job_id = "pred-123";
    st.deadline = st.now + apr_time_from_sec(86400);
    st.poll_count = 40;
    st.started = st.now - apr_time_from_sec(150);
    gf_job_decide(&st, &r, 0, &d);
    ck_assert_int_eq(d.next, GF_NEXT_POLL);
    ck_assert_int_eq(d.delay, apr_time_from_sec(30));
    /* Still never past the deadline. */
    st.deadline = st.now + apr_time_from_sec(7);
    gf_job_decide(&st, &r, 0, &d);
    ck_assert_int_eq(d.delay, apr_time_from_sec(7));
}
END_TEST

START_TEST(async_jobs_are_polled)
{
    gf_provider_result_t r;
    gf_decision_t d;
    gf_job_state_t st = state(0, 2, 0);
    memset(&r, 0, sizeof(r));
    r.provider_job_id = "pred-123";
    gf_job_decide(&st, &r, 0, &d);
    ck_assert_int_eq(d.next, GF_NEXT_POLL);
    ck_assert_int_eq(d.delay, GF_POLL_FIRST);
    ck_assert_int_eq(gf_job_poll_delay(2), apr_time_from_msec(750));
    ck_assert_int_eq(gf_job_poll_delay(50), GF_POLL_CAP);
    /* With a webhook the provider asks for rare backup polls. */
    r.retry_after = apr_time_from_sec(30);
    gf_job_decide(&st, &r, 0, &d);
    ck_assert_int_eq(d.delay, apr_time_from_sec(30));
    r.retry_after = 0;
    /* A poll never sleeps past the deadline. */
    st.deadline = st.now + apr_time_from_msec(100);
    gf_job_decide(&st, &r, 0, &d);
    ck_assert_int_eq(d.delay, apr_time_from_msec(100));
}
END_TEST

/* poll=: a provider's own pace replaces the growing schedule, however old
 * the job, and still gives way to a longer Retry-After, to the deadline,
 * and to the backoff of a failed poll. */
START_TEST(poll_pace_of_the_provider)
{
    gf_provider_result_t r;
    gf_decision_t d;
    gf_job_state_t st = state(0, 2, 0);
    memset(&r, 0, sizeof(r));
    r.running = 1;
    st.polling = 1;
    st.poll_every = apr_time_from_msec(100);
    st.poll_count = 30;
    st.started = st.now - apr_time_from_sec(100);
    gf_job_decide(&st, &r, 0, &d);
    ck_assert_int_eq(d.next, GF_NEXT_POLL);
    ck_assert_int_eq(d.delay, apr_time_from_msec(100));
    r.retry_after = apr_time_from_sec(2);
    gf_job_decide(&st, &r, 0, &d);
    ck_assert_int_eq(d.delay, apr_time_from_sec(2));
    r.retry_after = 0;
    st.deadline = st.now + apr_time_from_msec(40);
    gf_job_decide(&st, &r, 0, &d);
    ck_assert_int_eq(d.delay, apr_time_from_msec(40));
    st.deadline = st.now + apr_time_from_sec(60);
    r.running = 0;
    r.provider_job_id = "p-1";
    r.error_code = "NETWORK_ERROR";
    r.transient = 1;
    gf_job_decide(&st, &r, 0, &d);
    ck_assert_int_eq(d.next, GF_NEXT_POLL);
    ck_assert(d.poll_failed && d.delay >= apr_time_from_msec(1600));
}
END_TEST

START_TEST(http_classification)
{
    ck_assert(gf_job_http_transient(429));
    ck_assert(gf_job_http_transient(408));
    ck_assert(gf_job_http_transient(503));
    ck_assert(!gf_job_http_transient(400));
    ck_assert(!gf_job_http_transient(401));
    ck_assert(!gf_job_http_transient(403));
    ck_assert(!gf_job_http_transient(422));
    ck_assert_int_eq(gf_job_client_retry_after(0), 1);
    ck_assert_int_eq(gf_job_client_retry_after(apr_time_from_sec(12)), 3);
    ck_assert_int_eq(gf_job_client_retry_after(apr_time_from_sec(600)), 10);
}
END_TEST

/* A failing poll of an accepted job polls again with backoff, however many
 * retries or fallbacks remain: it never re-submits (RETRY) or abandons the
 * job (FALLBACK). A permanent answer about the job still falls back. */
START_TEST(failed_poll_polls_again)
{
    gf_provider_result_t r = error(GF_JOB_API, 1);
    gf_job_state_t st = state(0, 2, 3);
    gf_decision_t d;

    st.polling = 1;
    r.retry_after = 0;
    gf_job_decide(&st, &r, 20, &d);
    ck_assert_int_eq(d.next, GF_NEXT_POLL);
    ck_assert_int_eq(d.poll_failed, 1);
    ck_assert_int_eq(d.delay, apr_time_from_sec(2));
    st.poll_errors = 2;
    r.retry_after = apr_time_from_sec(20);
    gf_job_decide(&st, &r, 20, &d);
    ck_assert_int_eq(d.next, GF_NEXT_POLL);
    ck_assert_int_eq(d.delay, apr_time_from_sec(20));     /* Retry-After honoured */
    st.deadline = st.now + apr_time_from_sec(5);
    gf_job_decide(&st, &r, 20, &d);
    ck_assert_int_eq(d.next, GF_NEXT_POLL);
    ck_assert_int_eq(d.delay, apr_time_from_sec(5));      /* never past the deadline */
    st.now = st.deadline;
    gf_job_decide(&st, &r, 20, &d);
    ck_assert_int_eq(d.next, GF_NEXT_FAIL);
    ck_assert_str_eq(d.code, GF_JOB_TIMEOUT);
    st = state(0, 2, 0);
    st.polling = 1;
    r = error(GF_JOB_API, 0);
    gf_job_decide(&st, &r, 20, &d);
    ck_assert_int_eq(d.next, GF_NEXT_FALLBACK);
    /* Accepted in this very attempt, then the download failed: poll it. */
    st = state(0, 2, 0);
    r = error(GF_JOB_NETWORK, 1);
    r.provider_job_id = "p1";
    gf_job_decide(&st, &r, 20, &d);
    ck_assert_int_eq(d.next, GF_NEXT_POLL);
    ck_assert_int_eq(d.poll_failed, 1);
}
END_TEST

/* A job the provider lost (a ComfyUI server that restarted forgets its
 * queue) is not polled again: it is retried like a failed submission,
 * its id cleared by the retry, and falls back once the retries are used. */
START_TEST(lost_job_is_retried)
{
    gf_provider_result_t r = error(GF_JOB_API, 1);
    gf_job_state_t st = state(0, 2, 0);
    gf_decision_t d;

    st.polling = 1;
    r.job_lost = 1;
    gf_job_decide(&st, &r, 20, &d);
    ck_assert_int_eq(d.next, GF_NEXT_RETRY);
    ck_assert_int_eq(d.poll_failed, 0);
    st.retry_count = 3;
    gf_job_decide(&st, &r, 20, &d);
    ck_assert_int_eq(d.next, GF_NEXT_FALLBACK);
    /* Without job_lost the same failure polls again. */
    r.job_lost = 0;
    gf_job_decide(&st, &r, 20, &d);
    ck_assert_int_eq(d.next, GF_NEXT_POLL);
}
END_TEST

/* A submission that failed after the request went out (a timeout, a
 * reset) may have been accepted: a provider that keeps such jobs and has
 * no idempotency key is not sent it again while the chain has a next
 * entry; a connect failure (nothing sent), a provider without jobs to
 * keep, or the chain's last entry still retry. */
START_TEST(ambiguous_submission_falls_back)
{
    gf_provider_result_t r = error(GF_JOB_TIMEOUT, 1);
    gf_decision_t d;
    gf_job_state_t st = state(0, 2, 0);
    r.maybe_accepted = 1;
    st.submit_once = 1;
    gf_job_decide(&st, &r, 20, &d);
    ck_assert_int_eq(d.next, GF_NEXT_FALLBACK);
    ck_assert_int_eq(d.delay, 0);
    r.maybe_accepted = 0;                 /* nothing went out */
    gf_job_decide(&st, &r, 20, &d);
    ck_assert_int_eq(d.next, GF_NEXT_RETRY);
    r.maybe_accepted = 1;
    st.submit_once = 0;                   /* e.g. a synchronous OpenAI-shaped API */
    gf_job_decide(&st, &r, 20, &d);
    ck_assert_int_eq(d.next, GF_NEXT_RETRY);
    st = state(1, 2, 0);                  /* the last entry: nothing else to ask */
    st.submit_once = 1;
    gf_job_decide(&st, &r, 20, &d);
    ck_assert_int_eq(d.next, GF_NEXT_RETRY);
}
END_TEST

/* Before any call: the order of the rules is part of them (a rescued row
 * past its deadline fails, it does not fall back). */
START_TEST(before_call_rules)
{
    gf_job_state_t st = state(0, 2, 0);
    gf_decision_t d;

    ck_assert_int_eq(gf_job_before_call(&st, &d), 0);       /* an ordinary call */
    st.chain_index = 2;
    ck_assert_int_eq(gf_job_before_call(&st, &d), 1);
    ck_assert_int_eq(d.next, GF_NEXT_FAIL);
    ck_assert_str_eq(d.code, GF_JOB_API);
    ck_assert_str_eq(d.message, "the provider chain is exhausted");

    st = state(0, 2, 0);
    st.now = st.deadline;
    st.rescued = 1;
    st.submit_once = 1;
    ck_assert_int_eq(gf_job_before_call(&st, &d), 1);
    ck_assert_int_eq(d.next, GF_NEXT_FAIL);
    ck_assert_str_eq(d.code, GF_JOB_TIMEOUT);
}
END_TEST

/* The rescue rule: a rescued submission (no job id recorded) to a provider
 * that keeps jobs without an idempotency key falls back while the chain
 * has a next entry; otherwise the provider is called again. */
START_TEST(rescued_submission_falls_back)
{
    gf_job_state_t st = state(0, 2, 0);
    gf_decision_t d;

    st.rescued = 1;
    st.submit_once = 1;
    ck_assert_int_eq(gf_job_before_call(&st, &d), 1);
    ck_assert_int_eq(d.next, GF_NEXT_FALLBACK);
    ck_assert_int_eq(d.delay, 0);
    ck_assert_ptr_nonnull(d.message);

    st.polling = 1;           /* a job id was recorded: poll it, never resubmit */
    ck_assert_int_eq(gf_job_before_call(&st, &d), 0);
    st.polling = 0;
    st.submit_once = 0;       /* the provider takes a key, or keeps nothing */
    ck_assert_int_eq(gf_job_before_call(&st, &d), 0);
    st.submit_once = 1;
    st.chain_index = 1;       /* the chain's last entry: call it again */
    ck_assert_int_eq(gf_job_before_call(&st, &d), 0);
    st.chain_index = 0;
    st.rescued = 0;           /* not a rescue */
    ck_assert_int_eq(gf_job_before_call(&st, &d), 0);
}
END_TEST

/* A count asked one call after another: each call asks for what is
 * still missing, at most the provider's number; it asks again only after
 * a call that brought all it was asked; a failure after some were stored
 * completes with them, a cancel does not. */
START_TEST(several_calls_for_a_count)
{
    gf_decision_t d;

    ck_assert_int_eq(gf_job_call_count(4, 0, 1), 1);    /* no number: one a call */
    ck_assert_int_eq(gf_job_call_count(4, 0, 10), 4);   /* all in one call */
    ck_assert_int_eq(gf_job_call_count(6, 0, 4), 4);    /* beyond its number */
    ck_assert_int_eq(gf_job_call_count(6, 4, 4), 2);    /* then the rest */
    ck_assert_int_eq(gf_job_call_count(3, 2, 1), 1);
    ck_assert_int_eq(gf_job_call_count(3, 3, 1), 1);    /* never 0 */
    ck_assert_int_eq(gf_job_call_count(1, 0, 0), 1);

    ck_assert_int_eq(gf_job_wants_more(4, 0, 1, 1), 1);
    ck_assert_int_eq(gf_job_wants_more(4, 3, 1, 1), 0); /* the fourth: complete */
    ck_assert_int_eq(gf_job_wants_more(6, 0, 4, 4), 1);
    ck_assert_int_eq(gf_job_wants_more(6, 0, 4, 3), 0); /* fewer than asked: complete */
    ck_assert_int_eq(gf_job_wants_more(4, 1, 1, 0), 0); /* none stored */
    ck_assert_int_eq(gf_job_wants_more(1, 0, 1, 1), 0);

    memset(&d, 0, sizeof(d));
    d.next = GF_NEXT_FAIL;
    d.code = "API_ERROR";
    ck_assert_int_eq(gf_job_keeps_stored(&d, 0), 0);    /* nothing stored: failed */
    ck_assert_int_eq(d.next, GF_NEXT_FAIL);
    d.cancelled = 1;                                    /* Cancel-After: nothing charged */
    ck_assert_int_eq(gf_job_keeps_stored(&d, 2), 0);
    ck_assert_int_eq(d.next, GF_NEXT_FAIL);
    d.cancelled = 0;
    d.cancel_job = 1;
    ck_assert_int_eq(gf_job_keeps_stored(&d, 2), 1);
    ck_assert_int_eq(d.next, GF_NEXT_COMPLETE);
    ck_assert_int_eq(d.cancel_job, 1);                  /* its job still cancelled */
    d.next = GF_NEXT_RETRY;
    ck_assert_int_eq(gf_job_keeps_stored(&d, 2), 0);
    ck_assert_str_eq(gf_job_next_name(GF_NEXT_MORE), "more");
}
END_TEST

Suite *job_suite(void)
{
    Suite *s = suite_create("job");
    TCase *tc = tcase_create("state-machine");
    tcase_add_test(tc, image_completes_even_when_ambiguous);
    tcase_add_test(tc, transient_retries_then_falls_back);
    tcase_add_test(tc, permanent_falls_back_at_once);
    tcase_add_test(tc, content_filter_never_falls_back);
    tcase_add_test(tc, backoff_schedule);
    tcase_add_test(tc, deadline_fails_with_timeout);
    tcase_add_test(tc, async_jobs_are_polled);
    tcase_add_test(tc, poll_pace_of_the_provider);
    tcase_add_test(tc, long_jobs_back_off);
    tcase_add_test(tc, http_classification);
    tcase_add_test(tc, failed_poll_polls_again);
    tcase_add_test(tc, lost_job_is_retried);
    tcase_add_test(tc, ambiguous_submission_falls_back);
    tcase_add_test(tc, before_call_rules);
    tcase_add_test(tc, rescued_submission_falls_back);
    tcase_add_test(tc, cancel_after_cancels);
    tcase_add_test(tc, several_calls_for_a_count);
    suite_add_tcase(s, tc);
    return s;
}
