/* SPDX-License-Identifier: Apache-2.0 */
/* gf_provider.h: one interface for every image provider (docs/providers.md).
 *
 * A provider is a declared instance (GenFlowProvider NAME KIND opts…) of a
 * provider kind (local, stability, fal, replicate, aiml, openai, gemini,
 * bfl, comfyui). A type's
 * chain lists providers, each optionally with a model ("fal:fal-ai/fast-sdxl").
 * The job engine calls generate() and gets back either image bytes, an
 * image URL, or a classified error.
 */
#ifndef GF_PROVIDER_H
#define GF_PROVIDER_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "core/gf_breaker.h"
#include "core/gf_budget.h"
#include "core/gf_limit.h"
#include "core/gf_outcome.h"
#include "core/gf_router.h"
#include "image/gf_image.h"
#include "image/gf_mask.h"

/* poll=: the bounds of a job's polling pace, in milliseconds. */
#define GF_POLL_EVERY_MIN_MS 50
#define GF_POLL_EVERY_MAX_MS 60000

/* A picture of an edit (a mask, a reference), one of the user's uploads
 * read back from storage for the attempt. */
typedef struct {
    const unsigned char *bytes;  /* as uploaded */
    apr_size_t len;
    const char *content_type;    /* image/png, image/jpeg, image/webp */
    const char *url;             /* where storage serves it, or NULL */
} gf_job_picture_t;

typedef struct {
    const char *type;          /* generation type, e.g. "neo-glitch" */
    const char *id;            /* generation id */
    const char *user;
    const char *prompt;        /* the final prompt */
    const char *source_image;  /* https URL, or "upload:<id>" (an upload of
                                * the user; see source_* below), or NULL */
    /* An upload named by source_image, read back from storage for this
     * attempt (NULL/0 when the source is a URL or there is none): */
    const unsigned char *source_bytes;    /* the stored bytes as uploaded */
    apr_size_t source_len;
    const char *source_content_type;      /* image/png, image/jpeg, image/webp */
    const char *source_url;               /* where storage serves it (absolute
                                           * https for Cloudinary, a path for
                                           * the local directory) or NULL */
    const gf_image_t *source_pixels;      /* decoded, for the local provider */
    /* An edit's mask, as uploaded: a PNG the size of the source upload
     * whose transparent pixels (or, without any, its white ones) mark
     * what to change (gf_mask.h makes each provider's own form), or NULL. */
    const gf_job_picture_t *mask;
    const gf_job_picture_t *references;   /* referenceImages, in order */
    int n_references;
    int masked;                /* the generation's input has a mask (set for
                                * its polls too, where mask is not read) */
    const char *preset;        /* the preset key of the create, or NULL */
    int has_strength;          /* parameters.strength given (image-to-image) */
    double strength;           /* 0..1 */
    const char *aspect_ratio;  /* or NULL */
    int steps;                 /* parameters.num_inference_steps, 0: not given */
    int count;                 /* pictures asked for, 1..GF_COUNT_MAX: a kind
                                * whose API takes a number asks for them all
                                * in its one call (OpenAI's n, fal's
                                * num_images); it returns what came, the
                                * first in res and the rest in res->more */
    apr_uint64_t seed;
    const char *model;         /* from the chain entry, or NULL for the default */
    int attempt;               /* 1 for the first attempt of the generation */
    int poll_count;            /* polls already made of an accepted job */
    const char *provider_state; /* what the provider returned to poll with (URLs) */
    /* Called by an adapter the moment the provider accepted a job, before
     * anything else (a download) can fail or be interrupted: the engine
     * records the job id at once, so the job is polled, never submitted
     * again, whatever happens next. NULL when nobody listens. */
    void (*accepted)(const void *baton, const char *provider_job_id, const char *state);
    const void *accepted_baton;
    /* Called by an adapter that reads a streamed answer (openai with
     * partial_images=) each time a partial picture arrives, decoded and
     * checked to be a PNG, JPEG or WebP. It runs inside the transfer (on
     * the loop thread in a fiber): it must not block, and what it keeps
     * it copies. NULL when nobody listens. */
    void (*preview)(void *baton, const unsigned char *bytes, apr_size_t len,
                    const char *content_type);
    /* Asked before a partial picture is decoded: would preview take one
     * now? (It takes one a second at most.) NULL: always. */
    int (*preview_wanted)(void *baton);
    void *preview_baton;
} gf_job_t;

typedef struct gf_provider_t gf_provider_t;

typedef struct {
    const char *kind;
    /* Apply one key=value option of the declaration; NULL or an error. */
    const char *(*set_option)(apr_pool_t *p, gf_provider_t *prov,
                              const char *key, const char *value);
    void (*generate)(const gf_provider_t *prov, const gf_job_t *job,
                     apr_pool_t *p, gf_provider_result_t *res);
    /* Asynchronous kinds: ask about an accepted job (NULL for synchronous
     * kinds). Fills res like generate: an image, running, or an error. */
    void (*poll)(const gf_provider_t *prov, const gf_job_t *job, const char *provider_job_id,
                 apr_pool_t *p, gf_provider_result_t *res);
    /* Best effort cancel of an accepted job (NULL when not supported). */
    void (*cancel)(const gf_provider_t *prov, const char *provider_job_id,
                   const char *provider_state, apr_pool_t *p);
    /* Startup check of a declaration (NULL when nothing to check). */
    const char *(*check)(apr_pool_t *p, const gf_provider_t *prov);
    /* The longest one attempt can take: every HTTP exchange of the
     * longest path (a poll may chain status, result and download) at its
     * full timeout. NULL: no time of its own. */
    apr_interval_time_t (*worst_attempt)(const gf_provider_t *prov);
    /* A webhook delivery to POST {location}/{name}: NULL when headers and
     * the raw body (NULs allowed) carry a fresh signature of the provider
     * under the declaration's secret or keys, else why not. NULL: the kind
     * sends no webhooks. */
    const char *(*webhook_verify)(apr_pool_t *p, const gf_provider_t *prov,
                                  const apr_table_t *headers, const char *body,
                                  apr_size_t len, apr_time_t now);
    /* The member of a verified delivery's JSON that names the job. */
    const char *webhook_job_field;
    /* The edits the kind maps (docs/providers.md): it takes a mask, and
     * this many reference pictures at most (0: none). A type's
     * GenFlowAccept is checked against its chain at startup. */
    unsigned takes_mask : 1;
    int max_references;
    /* How many pictures one call can bring for model (the chain entry's,
     * or NULL for the default): a count beyond it is asked in several
     * calls, one after another, each picture stored as it comes
     * (docs/providers.md, "Several pictures"). NULL: one per call. */
    int (*max_count)(const gf_provider_t *prov, const char *model);
    /* The kind draws from an upload's decoded pixels (job->source_pixels)
     * at every call, polls included; the others send an upload's bytes
     * once, with the submission (the engine reads it back accordingly). */
    unsigned source_pixels : 1;
    /* A submission makes a job the provider runs and bills on its own
     * (fal's queue, Replicate's predictions): cut short, its answer and
     * the job's id could be lost with the job still running, so it is
     * never cut at the attempt's end (gf_loop_until); its polls are. */
    unsigned submits_jobs : 1;
    /* How often an accepted job of this kind is polled unless the site
     * says (poll=): 0, the schedule that grows with the job's age (a
     * cloud API, polled across the internet); a pace for a server of the
     * site's own, whose end is worth seeing at once (comfyui). */
    apr_interval_time_t poll_every;
} gf_provider_kind_t;

struct gf_provider_t {
    const char *name;
    const gf_provider_kind_t *kind;
    const char *default_model;
    void *impl;                /* kind-specific settings */
    gf_breaker_conf_t breaker; /* breaker=, breaker_failures=, … (gf_breaker.h) */
    int breaker_slot;          /* its state's index in the shared memory, -1 none
                                * (set at startup by the httpd glue) */
    gf_limit_conf_t limit;     /* max_concurrent=, rate= (gf_limit.h) */
    double cost_per_call;      /* cost=: the site's money per picture delivered */
    double cost_per_unit;      /* cost_per_unit=: per unit of the usage it reports */
    gf_budget_conf_t budget;   /* budget=, budget_tz= (gf_budget.h) */
    int limit_slot;            /* its limits' index in the shared memory, -1 none */
    int grouped;               /* a member of some chain's group: its measures are
                                * kept for the group's choice (sql/044) */
    apr_interval_time_t poll_every; /* poll=: an accepted job polled at this
                                * pace; 0: the growing schedule (gf_job.h) */
};

/* One member of a chain entry's group. */
typedef struct {
    const char *provider;      /* declared provider name */
    const char *model;         /* NULL → the provider's default */
    int weight;                /* 1..GF_GROUP_WEIGHT_MAX */
} gf_chain_member_t;

/* A group's key begins so (no provider may be named so): "group." and ten
 * hex digits of its text's SHA-1. */
#define GF_GROUP_KEY_PREFIX "group."

typedef struct {
    const char *provider;      /* declared provider name; a group's key (the
                                * row's cur_provider, its line, while it
                                * waits at the entry) */
    const char *model;         /* NULL → the provider's default */
    gf_group_policy_t policy;  /* GF_GROUP_NONE: one provider; else a group */
    apr_array_header_t *members; /* a group's gf_chain_member_t */
    const char *text;          /* the entry as a row's chain keeps it */
} gf_chain_entry_t;

/* The built-in kinds. */
extern const gf_provider_kind_t gf_provider_kind_local;
extern const gf_provider_kind_t gf_provider_kind_stability;
extern const gf_provider_kind_t gf_provider_kind_fal;
extern const gf_provider_kind_t gf_provider_kind_replicate;
extern const gf_provider_kind_t gf_provider_kind_aiml;
extern const gf_provider_kind_t gf_provider_kind_openai;
extern const gf_provider_kind_t gf_provider_kind_gemini;
extern const gf_provider_kind_t gf_provider_kind_bfl;
extern const gf_provider_kind_t gf_provider_kind_comfyui;

const gf_provider_kind_t *gf_provider_kind_find(const char *kind);

/* Declare a provider. Returns NULL and sets *err on a bad kind. */
gf_provider_t *gf_provider_create(apr_pool_t *p, const char *name,
                                  const char *kind, const char **err);

/* "key=value" from the declaration line: model=, the circuit breaker's
 * options (gf_breaker_option), the limits (gf_limit_option), the budget
 * (gf_budget_option), or the kind's own. */
const char *gf_provider_option(apr_pool_t *p, gf_provider_t *prov, const char *arg);

/* What one attempt's call cost in the site's money unit: the reported
 * usage at cost_per_unit, plus cost_per_call when it delivered a picture;
 * 0 when nothing is known. */
double gf_provider_attempt_cost(const gf_provider_t *prov, const gf_provider_result_t *res);

/* Parse "name", "name:model", or a group of equivalent providers
 * "{name[:model][=weight] ...}@policy" (members separated by spaces as
 * written in httpd.conf; policy: latency, cost, least-busy or shuffle; 2
 * to GF_GROUP_MEMBERS_MAX members, each once), or a group as a row's
 * chain keeps it, "group.KEY:{a|b:model=2}@policy" (entry->text). */
const char *gf_chain_entry_parse(apr_pool_t *p, const char *arg, gf_chain_entry_t *entry);

/* Provider text kept at most (bytes of UTF-8, cut on a character). */
#define GF_PROVIDER_MESSAGE_MAX 500
/* The longest provider job id accepted. */
#define GF_PROVIDER_ID_MAX 255

/* Run one attempt; res is always filled. Its error_message is valid
 * UTF-8 without control characters, at most GF_PROVIDER_MESSAGE_MAX bytes;
 * a job id longer than GF_PROVIDER_ID_MAX or not text fails the attempt. With provider_job_id the accepted
 * job is polled instead of submitted again (never re-submit blindly). */
void gf_provider_attempt(const gf_provider_t *prov, const gf_job_t *job,
                         const char *provider_job_id, apr_pool_t *p,
                         gf_provider_result_t *res);
#define gf_provider_generate(prov, job, p, res) gf_provider_attempt(prov, job, NULL, p, res)

/* The job's source image as a JSON provider takes it (fal, Replicate,
 * AIML): an https URL as given; for an upload, its storage URL when that
 * is an absolute https URL (Cloudinary), else a data: URI of its bytes
 * with their decoded content type. NULL without a source, or for an
 * upload whose bytes were not read (the engine fails such an attempt
 * before any provider sees it). */
const char *gf_provider_source_uri(apr_pool_t *p, const gf_job_t *job);
/* bytes as a data: URL (NULL for none, or too large to encode). */
const char *gf_provider_data_uri(apr_pool_t *p, const unsigned char *bytes, apr_size_t len,
                                 const char *content_type);
/* An edit's picture as a JSON provider takes it: its https URL where
 * storage serves one, else its bytes as a data: URL. */
const char *gf_provider_picture_uri(apr_pool_t *p, const gf_job_picture_t *pic);
/* The job's mask in the provider's form (gf_mask.h): 1 and the PNG's
 * bytes, or 0 with res a permanent VALIDATION_ERROR (a mask that is not
 * a PNG or marks nothing). */
int gf_provider_mask(apr_pool_t *p, const gf_provider_t *prov, const gf_job_t *job,
                     gf_mask_form_t form, const unsigned char **bytes, apr_size_t *len,
                     gf_provider_result_t *res);

/* The kind's max_count for model, 1..GF_COUNT_MAX (1 without one). */
int gf_provider_max_count(const gf_provider_t *prov, const char *model);

/* The kind's worst_attempt, or 0. */
apr_interval_time_t gf_provider_worst_attempt(const gf_provider_t *prov);

/* Split a stored chain "a,b:model" into entries. NULL on a bad chain. */
apr_array_header_t *gf_chain_parse(apr_pool_t *p, const char *chain, const char **err);

#endif
