/* SPDX-License-Identifier: Apache-2.0 */
/* gf_settle.h: what an attempt writes once its call is decided, without
 * httpd or a database.
 *
 * gf_job_decide says what comes next (complete, poll, retry, fall back,
 * fail, ask for more); this file turns that decision into what the glue
 * writes: the guarded statement of the type and its arguments (a retry
 * counts itself, a fallback moves to the chain's next entry with its
 * retries and polls at 0, a poll keeps the accepted job), the pictures
 * of a completion as the row's images, the cost record's arguments, and
 * what the log line and the metrics say of it. The glue
 * (mod_genflow_engine_outcome.c) stores the bytes and runs the statement.
 */
#ifndef GF_SETTLE_H
#define GF_SETTLE_H

#include <apr_pools.h>
#include <apr_time.h>

#include "core/gf_job.h"
#include "core/gf_sql.h"

struct json_object;

/* A stored object's key no one guesses: "<folder>/<id>-<16 hex><ext>"
 * (the URL of a picture is given to its owner only). */
const char *gf_settle_object_key(apr_pool_t *p, const char *folder, const char *id,
                                 const char *ext);
/* A result picture's: "<type>/<hh>/<id>-<16 hex>.png", hh the first two
 * of the 16, so that a type's pictures spread over 256 folders. */
const char *gf_settle_picture_key(apr_pool_t *p, const char *type, const char *id);

/* The i-th picture of res (0: the result's own, then res->more). */
gf_picture_t gf_settle_picture(const gf_provider_result_t *res, int i);

/* A completion's pictures as the row keeps them: the first's URL, all
 * of them as the row's images (a JSON array in pool p), how many; and
 * what the site's stores hold of them (the glue's store, opaque here,
 * and the key), to take back when the row turned out not to be the
 * attempt's. */
typedef struct {
    apr_pool_t *p;
    struct json_object *images;
    const char *url;             /* the first picture's */
    const char *json;            /* images dumped (gf_settle_pictures_end) */
    int n;
    int tried;                   /* how many were to be stored */
    const void *stores[GF_PICTURES_MAX];
    const char *keys[GF_PICTURES_MAX];
    int n_kept;
} gf_settle_pictures_t;

/* How many of res's pictures are stored: what its call asked for (asked,
 * else what the count still lacks after stored: never more than was
 * reserved), at most GF_PICTURES_MAX; into pics, empty. */
int gf_settle_pictures_begin(apr_pool_t *p, const gf_provider_result_t *res, int count,
                             int stored, int asked, gf_settle_pictures_t *pics);
/* 1 when any of res's first n pictures carries bytes for a store; 0
 * when all are URLs only (nothing would be written, so nothing needs the
 * row's say-so before). */
int gf_settle_pictures_bytes(const gf_provider_result_t *res, int n);
/* Does the store of res's first n pictures ask the row first (RENEW: is
 * it still this attempt's?) at now, for a claim whose own lease holds
 * until lease_end? Only for bytes to store, and only once that lease may
 * have run out: before, no other attempt can hold the row (a takeover
 * needs the lease to run out), and a cancel or an expiry meanwhile is
 * the completion's guard's to find, which then takes the stored pictures
 * back. A statement a job saved, and the store's question asked where it
 * can be in doubt. */
int gf_settle_renew_first(const gf_provider_result_t *res, int n, apr_time_t now,
                          apr_time_t lease_end);
/* A picture stored at url (in store under key, when a store of the site
 * holds it; else store NULL: the provider's URL): its member of the
 * images, {url, width, height, seed}, with its size when its bytes said
 * it (sized) and its seed when the provider said it. */
void gf_settle_pictures_add(gf_settle_pictures_t *pics, const gf_picture_t *pic, const char *url,
                            const void *store, const char *key, int sized, unsigned width,
                            unsigned height);
/* The images as JSON (pics->json); when none was stored, d becomes a
 * failure with STORAGE_ERROR and 0 is returned. */
int gf_settle_pictures_end(gf_settle_pictures_t *pics, gf_decision_t *d);

/* After the pictures were stored (pics, of a call that asked for asked
 * of count, stored before it): a completion whose count still lacks
 * pictures becomes MORE (the rest by the next call); a failure after
 * earlier calls stored some completes with those alone (pics says none
 * of its own: images "[]", no URL). The decision d as it is written. */
void gf_settle_after_store(gf_decision_t *d, int count, int stored, int asked,
                           gf_settle_pictures_t *pics);

/* Is the time the provider's job took recorded (its estimate for a
 * processing generation, a group's choice)? A completion or a MORE that
 * stored pictures (n) of a job whose start is known. */
int gf_settle_took(const gf_decision_t *d, int n, apr_time_t job_started);

/* What of the claimed row the outcome's statement needs: its guard and
 * its counts before the attempt. */
typedef struct {
    const char *id, *lease_owner;
    int attempts;
    int chain_index, retry_count, poll_count, poll_errors;
    const char *provider_job_id, *provider_state;
} gf_settle_row_t;

/* The most arguments an outcome's statement takes. */
#define GF_SETTLE_ARGS_MAX GF_SCHEDULE_ARGS

/* The statement that records decision d of the attempt on row (COMPLETE,
 * MORE, FAIL, or SCHEDULE for a poll, a retry or a fallback), its
 * arguments in args (room for GF_SETTLE_ARGS_MAX) and *nargs. provider
 * and model name who made it; url and images are the stored pictures
 * (gf_settle_pictures_t) of a completion or a MORE. */
gf_sql_type_op_t gf_settle_statement(apr_pool_t *p, const gf_settle_row_t *row,
                                     const gf_decision_t *d, const gf_provider_result_t *res,
                                     const char *provider, const char *model, const char *url,
                                     const char *images, const char **args, int *nargs);

/* The provider job an attempt leaves (its id and state): what res says,
 * else what the row had. */
void gf_settle_job(const gf_provider_result_t *res, const char *row_job, const char *row_state,
                   const char **job, const char **state);

/* A poll due sooner than the workers' half-second look for rows due by
 * time: 1 when a worker is to be asked to look then. */
#define GF_SETTLE_SHORT_POLL apr_time_from_msec(500)
int gf_settle_looks_again(const gf_decision_t *d);

/* What a recorded outcome did: which counter counts it, and its log line
 * (at info for an end, a fallback or a MORE, else at debug), its word
 * (gf_job_next_name), its error code and its detail (the failure's
 * message; for a retry or a fallback the provider's words and when the
 * next call comes). */
typedef enum {
    GF_SETTLE_COUNT_NONE = 0, GF_SETTLE_COUNT_RETRY, GF_SETTLE_COUNT_FALLBACK,
    GF_SETTLE_COUNT_TERMINAL
} gf_settle_count_t;
typedef struct {
    gf_settle_count_t count;
    int info;
    const char *what, *code, *detail;
} gf_settle_report_t;
void gf_settle_report(apr_pool_t *p, const gf_decision_t *d, const gf_provider_result_t *res,
                      gf_settle_report_t *r);

/* The log's detail of a statement that matched nothing: maybe_applied,
 * an earlier run whose answer was lost may have written it. */
const char *gf_settle_stale(int maybe_applied);

/* A picture being drawn is shown at most once a second per attempt (so
 * per stream): would one be taken at now, the last at last (0: none)?
 * A clock that went back takes it. */
#define GF_SETTLE_PREVIEW_EVERY apr_time_from_sec(1)
int gf_settle_preview_due(apr_time_t last, apr_time_t now);

/* The announcement of a preview of generation id taken at taken, stored
 * at url: "<id> <stamp> <url>", or NULL when the listeners would refuse
 * it (gf_previews_parse: a URL that is not printable ASCII without
 * spaces, or too long). */
const char *gf_settle_preview(apr_pool_t *p, const char *id, apr_time_t taken, const char *url);

/* The arguments of GF_SQL_COST_RECORD (9): the attempt, the provider,
 * the usage it reported (when > 0, with its unit), the cost, and the
 * budget's period and its time zone ("UTC" unless tz) when period. */
#define GF_SETTLE_COST_ARGS 9
void gf_settle_cost_args(apr_pool_t *p, const char *id, const char *type, int attempts,
                         const char *provider, double usage, const char *usage_unit, double cost,
                         const char *period, const char *tz, const char **args);

#endif
