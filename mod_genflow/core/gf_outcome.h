/* SPDX-License-Identifier: Apache-2.0 */
/* gf_outcome.h: what one provider call came to (gf_provider_result_t).
 *
 * The providers fill it (providers/gf_provider.h); the job rules
 * (gf_job.h) decide on it and the metrics (gf_metrics.h) count it. It
 * lives in the core so that those two need nothing of the providers.
 */
#ifndef GF_OUTCOME_H
#define GF_OUTCOME_H

#include <apr_time.h>

/* One picture of a result beyond the first (the first is the result's
 * own image, image_len, content_type, image_url): bytes to store, or a
 * provider-hosted URL. seed is what the provider said it drew with, when
 * has_seed. */
typedef struct {
    unsigned char *image;
    apr_size_t image_len;
    const char *content_type;
    const char *image_url;
    int has_seed;
    apr_uint64_t seed;
} gf_picture_t;

/* The most pictures one result carries (a create's count, at most 10). */
#define GF_PICTURES_MAX 10

typedef struct {
    const char *error_code;    /* NULL on success, else a GF_JOB_* code */
    const char *error_message;
    int transient;             /* worth retrying on the same provider */
    int job_lost;              /* a poll found the accepted job gone from the
                                * provider (a ComfyUI server that restarted or
                                * went down forgets its queue): nothing of it
                                * will come, so submitting again is safe */
    int maybe_accepted;        /* the call failed after the request went out (a
                                * timeout, a reset): the provider may hold a job
                                * this attempt never learned the id of */
    apr_interval_time_t retry_after; /* provider's Retry-After, 0 if none */
    const char *provider_job_id;     /* asynchronous: accepted, poll this id */
    const char *provider_state;      /* and keep this to poll/cancel with (JSON) */
    int running;               /* asynchronous: polled, not finished yet */
    unsigned char *image;      /* bytes to store, or NULL */
    apr_size_t image_len;
    const char *content_type;  /* of image, e.g. "image/png" */
    const char *image_url;     /* provider-hosted result, or NULL */
    int has_seed;              /* the provider said the first picture's seed */
    apr_uint64_t seed;
    gf_picture_t *more;        /* the pictures after the first (a count of
                                * more than one), n_more of them, or NULL */
    int n_more;
    const char *model;         /* the model that produced it */
    double usage;              /* what the provider says the call used (0: nothing
                                * said): AIML's meta.usage.credits_used, Replicate's
                                * metrics.predict_time */
    const char *usage_unit;    /* "credits", "seconds", "tokens", or NULL */
    int has_progress;          /* running, and the provider reported how far
                                * (gf_progress.h): progress is that fraction */
    double progress;           /* 0..1 in hundredths */
} gf_provider_result_t;

#endif
