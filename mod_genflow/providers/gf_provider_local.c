/* SPDX-License-Identifier: Apache-2.0 */
/* gf_provider_local.c: the built-in `local` provider (docs/providers.md).
 *
 * No network: it renders a deterministic PNG from the final prompt, the
 * seed, the type, the preset and the decoded upload if any (gf_png.c): the
 * type's look, with the prompt written in. The demo uses it, and a chain may end with it as the
 * last resort. Its options simulate what real providers do, so the whole
 * job engine can be exercised without a network:
 *
 *   latency=MS         every call takes this long
 *   fail_rate=PCT      this share of calls fails transiently (NETWORK_ERROR)
 *   fail=CODE          every call fails permanently with this job code
 *                      (e.g. PROVIDER_CREDITS, CONTENT_FILTERED, API_ERROR)
 *   async=N            accept the job, then complete on the Nth poll;
 *                      async=never accepts and never finishes
 *   retry_after=SECS   transient failures carry this Retry-After
 *   previews=N         1..3: a synchronous call with a latency shows the
 *                      picture being drawn, as a provider that streams
 *                      partial pictures does: the latency is cut in N+1
 *                      parts, and after each of the first N the picture
 *                      drawn at a fraction of its size (1/16, 1/4, …:
 *                      coarse, then sharper) goes to the job's preview hook
 *   pictures=N         1..10: a call brings at most N pictures, whatever
 *                      the count asked for (a provider that delivers
 *                      fewer); without it, every picture asked for comes
 *   per_call=N         1..10: a call is asked for at most N pictures,
 *                      as a provider whose API takes a number up to N
 *                      (1: one that takes none): a larger count is asked
 *                      one call after another
 *   draw=each|once|none each (the default): every picture is drawn for
 *                      its call; once: one picture is drawn when the
 *                      configuration is read, and every call delivers
 *                      its bytes (stored as any picture is); none:
 *                      nothing is drawn or stored, every picture is a
 *                      one-pixel data: URL. once and none take the
 *                      renderer out of a benchmark of the engine's own
 *                      cost (bench/cost); none takes the store out too
 *
 * A count of n draws n pictures, the i-th (0-based) with the seed plus i.
 * An edit is drawn too: outside its mask the source upload stays, and its
 * reference pictures are shown along the bottom (gf_png_edit.c).
 */
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_general.h>
#include <apr_time.h>

#include "providers/gf_provider.h"
#include "image/gf_png.h"
#include "image/gf_mask.h"
#include "core/gf_input.h"
#include "core/gf_error.h"
#include "net/gf_http.h"
#include "net/gf_abort.h"
#include "net/gf_loop.h"

#define LOCAL_DEFAULT_MODEL "local-glitch-v1"
#define ASYNC_NEVER (-1)

typedef struct {
    long latency_ms;
    int fail_rate;          /* percent */
    const char *fail_code;
    int async_polls;        /* 0 = synchronous */
    long retry_after_secs;
    long previews;          /* partial pictures during the latency, 0 none */
    long pictures;          /* at most this many per call, 0: the count */
    long per_call;          /* the number a call takes (max_count), 0: any */
    const unsigned char *once;  /* draw=once: the picture every call delivers */
    apr_size_t once_len;
    int draw_none;          /* draw=none: a data: URL, nothing drawn or stored */
} local_settings_t;

/* draw=none's picture: a PNG of one pixel, as a URL a browser shows. */
#define LOCAL_NONE_URL "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAA" \
    "DElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"


static local_settings_t *settings(gf_provider_t *prov, apr_pool_t *p)
{
    if (!prov->impl) {
        prov->impl = apr_pcalloc(p, sizeof(local_settings_t));
    }
    return prov->impl;
}

static const char *const KNOWN_CODES[] = {
    GF_JOB_API, GF_JOB_VALIDATION, GF_JOB_CONTENT_FILTERED, GF_JOB_PROVIDER_AUTH,
    GF_JOB_PROVIDER_CREDITS, GF_JOB_NETWORK, GF_JOB_RATE_LIMIT, GF_JOB_TIMEOUT, NULL
};

static const char *number(apr_pool_t *p, const char *key, const char *value, long max, long *out)
{
    char *end;
    long v = strtol(value, &end, 10);
    if (!*value || *end || v < 0 || v > max) {
        return apr_psprintf(p, "local option %s=%s: expected 0..%ld", key, value, max);
    }
    *out = v;
    return NULL;
}

/* draw=: each, once (the picture drawn here, in the configuration's
 * pool, with the default look of an empty prompt) or none. */
static const char *draw_option(apr_pool_t *p, local_settings_t *ls, const char *value)
{
    gf_png_spec_t spec;
    unsigned char *bytes = NULL;
    apr_size_t len = 0;

    ls->once = NULL;
    ls->draw_none = 0;
    if (!strcmp(value, "each")) return NULL;
    if (!strcmp(value, "none")) {
        ls->draw_none = 1;
        return NULL;
    }
    if (strcmp(value, "once")) {
        return apr_psprintf(p, "local option draw=%s: expected each, once or none", value);
    }
    memset(&spec, 0, sizeof(spec));
    gf_png_dimensions(NULL, &spec.width, &spec.height);
    spec.prompt = "";
    spec.type = "";
    if (gf_png_render_spec(p, &spec, &bytes, &len) != APR_SUCCESS) {
        return "local option draw=once: the picture could not be drawn";
    }
    ls->once = bytes;
    ls->once_len = len;
    return NULL;
}

static const char *local_set_option(apr_pool_t *p, gf_provider_t *prov,
                                    const char *key, const char *value)
{
    local_settings_t *ls = settings(prov, p);
    const char *err;
    long v;
    int i;

    if (!strcmp(key, "latency")) {
        return number(p, key, value, 600000, &ls->latency_ms);
    }
    if (!strcmp(key, "fail_rate")) {
        if ((err = number(p, key, value, 100, &v)) != NULL) return err;
        ls->fail_rate = (int)v;
        return NULL;
    }
    if (!strcmp(key, "retry_after")) {
        return number(p, key, value, 3600, &ls->retry_after_secs);
    }
    if (!strcmp(key, "previews")) {
        if ((err = number(p, key, value, 3, &ls->previews)) != NULL) return err;
        return NULL;
    }
    if (!strcmp(key, "pictures")) {
        if ((err = number(p, key, value, GF_PICTURES_MAX, &ls->pictures)) != NULL) return err;
        if (ls->pictures < 1) return apr_psprintf(p, "local option pictures=%s: expected 1..%d",
                                                  value, GF_PICTURES_MAX);
        return NULL;
    }
    if (!strcmp(key, "per_call")) {
        if ((err = number(p, key, value, GF_COUNT_MAX, &ls->per_call)) != NULL) return err;
        if (ls->per_call < 1) return apr_psprintf(p, "local option per_call=%s: expected 1..%d",
                                                  value, GF_COUNT_MAX);
        return NULL;
    }
    if (!strcmp(key, "async")) {
        if (!strcmp(value, "never")) {
            ls->async_polls = ASYNC_NEVER;
            return NULL;
        }
        if ((err = number(p, key, value, 1000, &v)) != NULL) return err;
        ls->async_polls = (int)v;
        return NULL;
    }
    if (!strcmp(key, "draw")) {
        return draw_option(p, ls, value);
    }
    if (!strcmp(key, "fail")) {
        for (i = 0; KNOWN_CODES[i]; i++) {
            if (!strcmp(KNOWN_CODES[i], value)) {
                ls->fail_code = KNOWN_CODES[i];
                return NULL;
            }
        }
        return apr_psprintf(p, "local option fail=%s: not a job error code", value);
    }
    return apr_psprintf(p, "provider kind 'local' has no option '%s' (latency, fail_rate, "
                        "fail, async, retry_after, previews, pictures, per_call, draw)", key);
}

static const local_settings_t *get(const gf_provider_t *prov)
{
    static const local_settings_t none = { 0, 0, NULL, 0, 0, 0, 0, 0, NULL, 0, 0 };
    return prov->impl ? prov->impl : &none;
}

typedef struct {
    const gf_provider_t *prov;
    const gf_job_t *job;
    apr_pool_t *p;
    gf_provider_result_t *res;
    unsigned shrink;        /* 1: the picture; n: drawn at 1/n of its size */
    int pictures;           /* how many (1 for a preview) */
} render_t;

/* The i-th picture's seed: the generation's plus i, within the seed's
 * range (0..4294967294). */
static apr_uint64_t nth_seed(apr_uint64_t seed, int i)
{
    return (seed + (apr_uint64_t)i) % 4294967295ULL;
}

/* The job's edit as the renderer takes it: its mask read, its
 * references decoded. 1, or 0 with res a permanent VALIDATION_ERROR. */
static int local_edit(apr_pool_t *p, const gf_job_t *job, gf_png_edit_t *e,
                      gf_provider_result_t *res)
{
    const char *err = NULL;
    int i;

    memset(e, 0, sizeof(*e));
    if (job->mask) {
        unsigned char *edit;
        err = gf_mask_read(p, job->mask->bytes, job->mask->len, &edit, &e->mask_width,
                           &e->mask_height);
        e->mask = edit;
        e->source = job->source_pixels;
    }
    if (!err && job->n_references > 0) {
        gf_image_t *refs = apr_pcalloc(p, (apr_size_t)job->n_references * sizeof(*refs));
        for (i = 0; !err && i < job->n_references; i++) {
            gf_image_format_t fmt;
            err = gf_image_decode(p, job->references[i].bytes, job->references[i].len,
                                  GF_MASK_MAX_PIXELS, &fmt, &refs[i]);
        }
        e->refs = refs;
        e->n_refs = job->n_references;
    }
    if (err) {
        res->error_code = GF_JOB_VALIDATION;
        res->error_message = apr_pstrcat(p, "local: ", err, NULL);
        return 0;
    }
    return 1;
}

static void render_now(void *baton)
{
    const render_t *r = baton;
    const gf_provider_t *prov = r->prov;
    const gf_job_t *job = r->job;
    apr_pool_t *p = r->p;
    gf_provider_result_t *res = r->res;
    gf_png_spec_t spec;
    gf_png_edit_t edit;
    int edited = job->mask || job->n_references > 0;

    if (edited && !local_edit(p, job, &edit, res)) return;
    memset(&spec, 0, sizeof(spec));
    gf_png_dimensions(job->aspect_ratio, &spec.width, &spec.height);
    if (r->shrink > 1) {
        /* No side under 16 pixels: a preview is a picture still. */
        spec.width = spec.width / r->shrink > 16 ? spec.width / r->shrink : 16;
        spec.height = spec.height / r->shrink > 16 ? spec.height / r->shrink : 16;
    }
    spec.prompt = job->prompt;
    spec.seed = job->seed;
    /* The type decides the look (a type of the site's own: the default
     * one), and an upload is transformed in it. */
    spec.type = job->type ? job->type : "";
    spec.preset = job->preset;
    spec.source = job->source_pixels;
    if (gf_png_render_spec(p, &spec, &res->image, &res->image_len) != APR_SUCCESS
        || (edited && gf_png_edit(p, &edit, &res->image, &res->image_len) != APR_SUCCESS)) {
        res->error_code = GF_JOB_API;
        res->error_message = "local renderer failed";
        return;
    }
    res->content_type = "image/png";
    res->has_seed = 1;
    res->seed = spec.seed;
    if (r->pictures > 1) {
        int i;
        res->more = apr_pcalloc(p, sizeof(*res->more) * (apr_size_t)(r->pictures - 1));
        for (i = 1; i < r->pictures; i++) {
            gf_picture_t *pic = &res->more[i - 1];
            spec.seed = nth_seed(job->seed, i);
            if (gf_png_render_spec(p, &spec, &pic->image, &pic->image_len) != APR_SUCCESS
                || (edited && gf_png_edit(p, &edit, &pic->image, &pic->image_len) != APR_SUCCESS)) {
                break;
            }
            pic->content_type = "image/png";
            pic->has_seed = 1;
            pic->seed = spec.seed;
            res->n_more++;
        }
    }
    res->model = job->model ? job->model
               : (prov->default_model ? prov->default_model : LOCAL_DEFAULT_MODEL);
}

/* Drawing takes milliseconds of CPU: in a fiber of the engine's loop it
 * runs on another thread, so that the loop's other exchanges go on. */
/* draw=once or none: n pictures without drawing, the i-th with the seed
 * plus i, as drawn ones. */
static void fill_undrawn(const local_settings_t *ls, const gf_job_t *job, int i,
                         gf_picture_t *pic)
{
    pic->image = ls->draw_none ? NULL : (unsigned char *)ls->once;
    pic->image_len = ls->draw_none ? 0 : ls->once_len;
    pic->content_type = ls->draw_none ? NULL : "image/png";
    pic->image_url = ls->draw_none ? LOCAL_NONE_URL : NULL;
    pic->has_seed = 1;
    pic->seed = nth_seed(job->seed, i);
}

static void deliver_undrawn(const gf_provider_t *prov, const gf_job_t *job, apr_pool_t *p,
                            gf_provider_result_t *res, int n)
{
    const local_settings_t *ls = get(prov);
    gf_picture_t first;
    int i;

    fill_undrawn(ls, job, 0, &first);
    res->image = first.image;
    res->image_len = first.image_len;
    res->content_type = first.content_type;
    res->image_url = first.image_url;
    res->has_seed = 1;
    res->seed = first.seed;
    if (n > 1) {
        res->more = apr_pcalloc(p, sizeof(*res->more) * (apr_size_t)(n - 1));
        for (i = 1; i < n; i++) fill_undrawn(ls, job, i, &res->more[i - 1]);
        res->n_more = n - 1;
    }
    res->model = job->model ? job->model
               : (prov->default_model ? prov->default_model : LOCAL_DEFAULT_MODEL);
}

static void render(const gf_provider_t *prov, const gf_job_t *job, apr_pool_t *p,
                   gf_provider_result_t *res)
{
    render_t r;
    r.prov = prov;
    r.job = job;
    r.p = p;
    r.res = res;
    r.shrink = 1;
    r.pictures = job->count > 1 ? job->count : 1;
    if (r.pictures > GF_PICTURES_MAX) r.pictures = GF_PICTURES_MAX;
    if (get(prov)->pictures && r.pictures > get(prov)->pictures) r.pictures = (int)get(prov)->pictures;
    if (get(prov)->once || get(prov)->draw_none) {
        deliver_undrawn(prov, job, p, res, r.pictures);
        return;
    }
    gf_loop_blocking(render_now, &r);
}

/* Partial picture i of n (0-based): drawn at 1/4^(n-i) of its size, to
 * the preview hook when it would take one. */
static void draw_preview(const gf_provider_t *prov, const gf_job_t *job, apr_pool_t *p,
                         long i, long n)
{
    gf_provider_result_t part;
    render_t r;

    if (!job->preview || (job->preview_wanted && !job->preview_wanted(job->preview_baton))) {
        return;
    }
    memset(&part, 0, sizeof(part));
    r.prov = prov;
    r.job = job;
    r.p = p;
    r.res = &part;
    r.shrink = 1u << (2 * (n - i));
    r.pictures = 1;
    gf_loop_blocking(render_now, &r);
    if (!part.error_code && part.image && part.image_len) {
        job->preview(job->preview_baton, part.image, part.image_len, part.content_type);
    }
}

/* The simulated latency: aborted like a network call when the server
 * stops, and cut like one at the attempt's end (gf_loop_until: the
 * generation's deadline or Cancel-After); in a fiber of the engine's
 * loop it holds no thread (gf_loop.h). Returns 1 when aborted or cut. */
static int simulated_wait(long ms)
{
    return gf_loop_sleep(apr_time_from_msec(ms));
}

static void aborted(gf_provider_result_t *res)
{
    res->transient = 1;
    if (!gf_abort_raised()) {
        res->error_code = GF_JOB_TIMEOUT;
        res->error_message = "the call was cut at the generation's deadline";
        return;
    }
    res->error_code = GF_JOB_NETWORK;
    res->error_message = "aborted: the server is stopping";
}

/* Latency and simulated failures; returns 1 when the call failed. With
 * previews (a synchronous call), the picture being drawn is shown during
 * the latency. */
static int simulate(const gf_provider_t *prov, const gf_job_t *job, apr_pool_t *p,
                    gf_provider_result_t *res)
{
    const local_settings_t *ls = get(prov);
    long parts = ls->previews && !ls->async_polls && job ? ls->previews + 1 : 1, i;
    unsigned char b = 0;

    for (i = 0; ls->latency_ms && i < parts; i++) {
        if (simulated_wait(ls->latency_ms / parts)) {
            aborted(res);
            return 1;
        }
        if (i + 1 < parts) draw_preview(prov, job, p, i, parts - 1);
    }
    if (ls->fail_code) {
        res->error_code = ls->fail_code;
        res->error_message = "simulated failure";
        res->transient = !strcmp(ls->fail_code, GF_JOB_NETWORK)
                         || !strcmp(ls->fail_code, GF_JOB_RATE_LIMIT)
                         || !strcmp(ls->fail_code, GF_JOB_TIMEOUT);
        return 1;
    }
    if (ls->fail_rate) {
        apr_generate_random_bytes(&b, 1);
        if ((int)(b % 100) < ls->fail_rate) {
            res->error_code = GF_JOB_NETWORK;
            res->error_message = "simulated transient failure";
            res->transient = 1;
            res->retry_after = apr_time_from_sec(ls->retry_after_secs);
            return 1;
        }
    }
    return 0;
}

static void local_generate(const gf_provider_t *prov, const gf_job_t *job,
                           apr_pool_t *p, gf_provider_result_t *res)
{
    const local_settings_t *ls = get(prov);

    if (simulate(prov, job, p, res)) {
        return;
    }
    if (ls->async_polls) {
        res->provider_job_id = apr_pstrcat(p, "local-", job->id, NULL);
        return;
    }
    render(prov, job, p, res);
}

static void local_poll(const gf_provider_t *prov, const gf_job_t *job, const char *job_id,
                       apr_pool_t *p, gf_provider_result_t *res)
{
    const local_settings_t *ls = get(prov);

    (void)job_id;
    if (ls->latency_ms && simulated_wait(ls->latency_ms)) {
        aborted(res);
        return;
    }
    if (ls->async_polls == ASYNC_NEVER || job->poll_count + 1 < ls->async_polls) {
        res->running = 1;
        return;
    }
    render(prov, job, p, res);
}

static void local_cancel(const gf_provider_t *prov, const char *job_id, const char *state,
                         apr_pool_t *p)
{
    (void)prov;
    (void)job_id;
    (void)state;
    (void)p;   /* nothing runs anywhere: cancelling is trivially done */
}

static apr_interval_time_t local_worst(const gf_provider_t *prov)
{
    return apr_time_from_msec(get(prov)->latency_ms);
}

/* The local provider draws any count at once, unless per_call= says. */
static int local_max_count(const gf_provider_t *prov, const char *model)
{
    (void)model;
    return get(prov)->per_call ? (int)get(prov)->per_call : GF_COUNT_MAX;
}

const gf_provider_kind_t gf_provider_kind_local = {
    .kind = "local",
    .max_count = local_max_count,
    .set_option = local_set_option,
    .generate = local_generate,
    .poll = local_poll,
    .cancel = local_cancel,
    .worst_attempt = local_worst,
    .source_pixels = 1,
    .takes_mask = 1,
    .max_references = GF_REFERENCES_MAX,
};
