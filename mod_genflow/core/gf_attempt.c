/* SPDX-License-Identifier: Apache-2.0 */
/* gf_attempt.c: the verdicts of an attempt's gates and what it leaves
 * after its call (gf_attempt.h). */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "core/gf_attempt.h"
#include "core/gf_error.h"
#include "core/gf_input.h"

static void verdict(gf_gate_verdict_t *v, gf_gate_t gate, int warn, const char *what,
                    const char *detail)
{
    memset(v, 0, sizeof(*v));
    v->gate = gate;
    v->warn = warn;
    v->what = what;
    v->detail = detail;
}

void gf_attempt_no_place(int other_room, gf_gate_verdict_t *v)
{
    /* The claim took no place of this provider (a virtual host's own
     * declaration of the name, a group's member chosen after the claim)
     * and it has none now: due when a place may be free; a group's row
     * at once when another member may take it (this one is now known to
     * be full: the choice leaves it out). */
    verdict(v, GF_GATE_DEFERRED, 0, "deferred",
            "the provider's limits are full; the row is back in the queue");
    if (other_room) {
        v->set_defer = 1;
        v->defer = 0;
    }
}

apr_time_t gf_attempt_hold_until(apr_time_t deadline, apr_time_t now, long lease_secs)
{
    return (deadline ? deadline : now + apr_time_from_sec(3600)) + apr_time_from_sec(lease_secs);
}

void gf_attempt_budget(int spent, int jobs_full, int max_jobs, gf_gate_verdict_t *v)
{
    if (spent < 0) {
        /* A spend the database cannot tell makes no call: the row is back
         * in the queue for a while. */
        verdict(v, GF_GATE_DEFERRED, 1, "deferred",
                "the provider's spend in its budget period could not be read");
        v->set_defer = 1;
        v->defer = apr_time_from_sec(1);
    }
    else if (spent == 2) {
        /* Every job slot taken (max_jobs=): back to the queue, its turn
         * kept, due at once (a group chooses another member, and the
         * provider's rows are not claimed here again until a job of it
         * ends here or a second passes); a row that came back to it
         * straight away waits out the second. */
        verdict(v, GF_GATE_DEFERRED, 0, "deferred",
                "the provider runs as many jobs as max_jobs= allows; the row is back in the "
                "queue");
        v->set_defer = 1;
        v->defer = jobs_full ? apr_time_from_sec(1) : 0;
    }
    else if (spent > 0) {
        /* Spent for the period: skipped as an open circuit is. */
        verdict(v, GF_GATE_DECIDED, 0, "skipped",
                "the provider's budget for the period is spent; not submitting to it");
    }
    else {
        verdict(v, GF_GATE_OPEN, 0, NULL, NULL);
        v->job_began = max_jobs != 0;
    }
}

void gf_attempt_circuit(int open, gf_gate_verdict_t *v)
{
    /* A poll is never held back (that job is accepted and paid): the
     * caller asks only for a submission. */
    if (open) {
        verdict(v, GF_GATE_DECIDED, 0, "skipped",
                "the provider's circuit is open; not submitting to it");
    }
    else verdict(v, GF_GATE_OPEN, 0, NULL, NULL);
}

void gf_attempt_left_behind(int aborting, int released, int cancelled, int lost,
                            gf_gate_verdict_t *v)
{
    if (aborting) {
        verdict(v, GF_GATE_DECIDED, 0, "abandoned",
                released ? "the server is stopping; the row is released for another worker"
                         : "the server is stopping");
    }
    else if (cancelled) {
        verdict(v, GF_GATE_DECIDED, 0, "stale",
                "cancelled during the call: the call was cut (or never made) and its result "
                "dropped");
    }
    else if (lost) {
        verdict(v, GF_GATE_DECIDED, 1, "stale",
                "the lease was taken over or the generation ended during the provider call; "
                "the result is dropped");
    }
    else verdict(v, GF_GATE_OPEN, 0, NULL, NULL);
}

apr_time_t gf_attempt_ms(const char *col)
{
    return col ? apr_time_from_msec(apr_atoi64(col)) : 0;
}

apr_time_t gf_attempt_lease_end(apr_time_t now, long lease_secs)
{
    return now + apr_time_from_sec(lease_secs) - apr_time_from_sec(2);
}

void gf_attempt_counts(const char *count_col, const char *stored_col, int *count, int *stored)
{
    *count = count_col ? atoi(count_col) : 1;
    if (*count < 1 || *count > GF_COUNT_MAX) *count = 1;
    *stored = stored_col ? atoi(stored_col) : 0;
    if (*stored < 0) *stored = 0;
    if (*stored >= *count) *stored = *count - 1;   /* never written so */
}

int gf_attempt_strength(const char *col, double *strength)
{
    if (!col) return 0;
    *strength = strtod(col, NULL);
    return 1;
}

int gf_attempt_reads_uploads(const char *source_image, const char *mask, const char *references,
                             const char *job_id, int source_pixels)
{
    if (!gf_input_upload_id(source_image) && !mask && !references) return 0;
    return !job_id || source_pixels;
}

void gf_attempt_lease_args(apr_pool_t *p, int renew, long lease_secs, const char *id,
                           const char *owner, int attempts, const char *job_id, int certain,
                           apr_interval_time_t defer, const char **args, int *nargs)
{
    if (renew) {
        *nargs = 6;
        args[0] = apr_ltoa(p, lease_secs);
        args[1] = id;
        args[2] = owner;
        args[3] = apr_ltoa(p, attempts);
        args[4] = NULL;
        args[5] = "0";
        return;
    }
    *nargs = 5;
    args[0] = job_id || certain ? "0" : "1";
    args[1] = apr_ltoa(p, certain ? (long)apr_time_as_msec(defer) : 0);
    args[2] = id;
    args[3] = owner;
    args[4] = apr_ltoa(p, attempts);
}

void gf_attempt_unparsed(const char *err, gf_decision_t *d)
{
    d->next = GF_NEXT_FAIL;
    d->code = GF_JOB_API;
    d->message = err;
}

void gf_attempt_unconfigured(apr_pool_t *p, const char *provider, gf_provider_result_t *res)
{
    res->error_code = GF_JOB_API;
    res->error_message = apr_psprintf(p, "provider '%s' is not configured", provider);
}

int gf_attempt_ends_job(const gf_decision_t *d)
{
    return d->next != GF_NEXT_POLL;
}
