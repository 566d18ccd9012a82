/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_provider.h: the driver shared by the provider targets
 * (fuzz_stability.c, fuzz_fal.c, fuzz_replicate.c, fuzz_aiml.c,
 * fuzz_openai.c, fuzz_gemini.c, fuzz_bfl.c, fuzz_comfyui.c).
 *
 * A provider of the kind is declared, one attempt (generate or poll) or a
 * cancel is run through the kind's own functions, and every HTTP exchange
 * is answered by the fake gf_http_perform of fuzz_common.c from the input:
 *
 *   line 1: OP [TOKEN …]   OP = generate | poll | cancel; tokens: id=…
 *           (the provider job id to poll/cancel), job_model=…, seed=N, steps=N,
 *           count=N (pictures asked for, 1..10),
 *           ar=…, src=…, or a provider option key=value passed to
 *           gf_provider_option (options naming a file are skipped, and so
 *           are tokens that are not valid UTF-8: configuration is trusted)
 *   line 2: the stored provider state (JSON) of an accepted job, or empty
 *   then:   the answers, separated by a line "~~~" (fuzz_common.c)
 *
 * A kind whose settings come from files (comfyui's workflow=) gets them
 * from its target's setup function instead.
 *
 * Properties of every attempt's result (what the job engine relies on and
 * what goes to the database): at most three exchanges, and a download of
 * each picture after the first; fewer pictures after the first than the
 * count, each with its bytes and content type; a failure has a
 * code and a message that is valid UTF-8 (PostgreSQL refuses anything
 * else) without control characters, at most GF_PROVIDER_MESSAGE_MAX
 * bytes; a success has a picture (non-empty, with a
 * content type), a URL, an accepted job or "running"; a job id is valid
 * UTF-8 of at most GF_PROVIDER_ID_MAX bytes and a provider state parses as JSON again; Retry-After hints stay
 * within 0..3600 s. */
#ifndef FUZZ_PROVIDER_H
#define FUZZ_PROVIDER_H

#include <stdlib.h>
#include <string.h>
#include "fuzz_common.h"
#include "providers/gf_provider.h"
#include "providers/gf_provider_net.h"
#include "core/gf_json.h"
#include "core/gf_utf8.h"

static void fuzz_check_state(apr_pool_t *p, const char *state)
{
    const char *err;
    if (!state) return;
    FUZZ_CHECK(gf_utf8_valid_str(state));
    FUZZ_CHECK(gf_json_parse(p, state, strlen(state), &err) != NULL);
}

static void fuzz_on_accepted(const void *baton, const char *id, const char *state)
{
    apr_pool_t *p = (apr_pool_t *)baton;
    FUZZ_CHECK(id && gf_utf8_valid_str(id));
    fuzz_check_state(p, state);
}

/* A kind's settings that come from files, made here instead (options
 * naming a file are skipped: the fuzz input is no path to read). */
typedef void fuzz_setup_fn(apr_pool_t *p, gf_provider_t *prov);

static inline int fuzz_provider_with(const char *kind, fuzz_setup_fn *setup, int max_cancel_calls,
                              const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool_begin();
    char *f[3], *tok, *last = NULL;
    size_t lens[3];
    const char *err = NULL, *op, *job_id = "job-0001";
    gf_provider_t *prov;
    gf_job_t job;
    gf_provider_result_t res;

    setenv("FUZZ_KEY", "fuzz-api-key", 0);
    fuzz_fields(p, data, size, "\n", 3, f, lens);
    prov = gf_provider_create(p, "fuzzprov", kind, &err);
    FUZZ_CHECK(prov != NULL);
    FUZZ_CHECK(gf_provider_option(p, prov, "key_env=FUZZ_KEY") == NULL);
    if (setup) setup(p, prov);

    memset(&job, 0, sizeof(job));
    job.type = "neo-glitch";
    job.id = "3f2a9c1e-7b4d-4e8a-9c0f-1a2b3c4d5e6f";
    job.user = "demo";
    job.prompt = "a neon fox";
    job.attempt = 1;
    job.accepted = fuzz_on_accepted;
    job.accepted_baton = p;
    job.provider_state = lens[1] ? f[1] : NULL;

    op = apr_strtok(f[0], " ", &last);
    tok = op ? apr_strtok(NULL, " ", &last) : NULL;
    if (!op) op = "generate";
    for (; tok; tok = apr_strtok(NULL, " ", &last)) {
        char *eq = strchr(tok, '=');
        /* configuration (httpd.conf, the chain) is trusted text */
        if (!eq || !gf_utf8_valid_str(tok)) continue;
        if (!strncmp(tok, "id=", 3)) job_id = eq + 1;
        else if (!strncmp(tok, "job_model=", 10)) job.model = *(eq + 1) ? eq + 1 : NULL;
        else if (!strncmp(tok, "seed=", 5)) job.seed = strtoull(eq + 1, NULL, 10);
        else if (!strncmp(tok, "ar=", 3)) job.aspect_ratio = eq + 1;
        else if (!strncmp(tok, "steps=", 6)) job.steps = atoi(eq + 1);
        else if (!strncmp(tok, "count=", 6)) {
            job.count = atoi(eq + 1);
            if (job.count < 1 || job.count > GF_PICTURES_MAX) job.count = 1;
        }
        else if (!strncmp(tok, "src=", 4)) job.source_image = eq + 1;
        else if (eq - tok >= 5 && !strncmp(eq - 5, "_file", 5)) continue;
        else if (!strncmp(tok, "workflow=", 9)) continue;
        else if (gf_provider_option(p, prov, tok)) continue;   /* refused: keep going */
    }

    fuzz_http_answers(f[2], lens[2]);
    if (!strcmp(op, "cancel")) {
        if (prov->kind->cancel) prov->kind->cancel(prov, job_id, job.provider_state, p);
        FUZZ_CHECK(fuzz_http_calls() <= max_cancel_calls);
    }
    else {
        gf_provider_attempt(prov, &job, !strcmp(op, "poll") ? job_id : NULL, p, &res);
        /* Three, and a download of each picture after the first. */
        FUZZ_CHECK(fuzz_http_calls() <= 3 + (job.count > 1 ? job.count - 1 : 0));
        if (res.error_code) {
            const char *c;
            FUZZ_CHECK(res.error_message && gf_utf8_valid_str(res.error_message));
            FUZZ_CHECK(strlen(res.error_message) <= GF_PROVIDER_MESSAGE_MAX);
            for (c = res.error_message; *c; c++) FUZZ_CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
        }
        else {
            FUZZ_CHECK(res.image || res.image_url || res.provider_job_id || res.running);
        }
        if (res.image) FUZZ_CHECK(res.image_len > 0 && res.content_type);
        /* The pictures after the first: fewer than the count, each whole. */
        FUZZ_CHECK(res.n_more >= 0 && res.n_more < (job.count > 1 ? job.count : 1));
        FUZZ_CHECK(res.n_more == 0 || (res.more && !res.error_code));
        {
            int i;
            for (i = 0; i < res.n_more; i++) {
                FUZZ_CHECK((res.more[i].image && res.more[i].image_len > 0
                            && res.more[i].content_type) || res.more[i].image_url);
            }
        }
        FUZZ_CHECK(!res.provider_job_id || (gf_utf8_valid_str(res.provider_job_id)
                                            && strlen(res.provider_job_id) <= GF_PROVIDER_ID_MAX));
        fuzz_check_state(p, res.provider_state);
        FUZZ_CHECK(res.retry_after >= 0 && res.retry_after <= apr_time_from_sec(3600));
    }
    fuzz_http_answers(NULL, 0);
    fuzz_pool_end(p);
    return 0;
}

static inline int fuzz_provider(const char *kind, const uint8_t *data, size_t size)
{
    return fuzz_provider_with(kind, NULL, 1, data, size);
}

#endif
