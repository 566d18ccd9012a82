/* SPDX-License-Identifier: Apache-2.0 */
/* gf_storage.h: where result images are persisted (docs/operations.md).
 *
 * Provider URLs are temporary, so a job stores the bytes before it
 * completes. One interface, several backends: a local directory that
 * Apache serves (gf_storage_local.c), Cloudinary (gf_storage_cloudinary.c)
 * or an S3-compatible bucket (gf_storage_s3.c).
 */
#ifndef GF_STORAGE_H
#define GF_STORAGE_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef struct gf_storage_t gf_storage_t;

/* One stored object, as list finds it. */
typedef struct {
    const char *key;
    apr_time_t mtime;
} gf_storage_object_t;

struct gf_storage_t {
    const char *backend;
    /* Store len bytes under key (e.g. "neo-glitch/<hh>/<id>-<hex>.png"); on success
     * set *url to where clients fetch it. On failure return non-success and
     * set *err. */
    apr_status_t (*put)(const gf_storage_t *st, apr_pool_t *p, const char *key,
                        const unsigned char *data, apr_size_t len,
                        const char *content_type, const char **url,
                        const char **err);
    /* Take back what put stored under key (a result that arrived for a
     * generation already cancelled or expired). NULL when the backend
     * cannot; then the object stays, under its unguessable key. */
    apr_status_t (*remove)(const gf_storage_t *st, apr_pool_t *p, const char *key);
    /* Read back what put stored (a user's upload, for a provider): the
     * local directory reads key, Cloudinary fetches url, and only from its
     * delivery origin. More than max bytes is an error, never a partial
     * read. NULL when the backend cannot read back. */
    apr_status_t (*get)(const gf_storage_t *st, apr_pool_t *p, const char *key,
                        const char *url, apr_size_t max, unsigned char **data,
                        apr_size_t *len, const char **err);
    /* The first max objects, in the order of their keys, whose keys start
     * with prefix (a folder such as "uploads/") and come after after (NULL:
     * from the first), into *out (gf_storage_object_t): the upload sweep
     * pages through the stored uploads for those no row names. NULL when
     * the backend cannot list. */
    apr_status_t (*list)(const gf_storage_t *st, apr_pool_t *p, const char *prefix,
                         const char *after, int max, apr_array_header_t **out,
                         const char **err);
    /* The longest one put can take, retries included (startup check of
     * the lease against the worst attempt). */
    apr_interval_time_t worst_put;
    /* put blocks its thread (a file written and synced): gf_storage_put
     * runs it on a worker when called in a fiber of the loop
     * (gf_loop_blocking), as a database statement is, so that the loop's
     * other attempts go on meanwhile. A network store's put waits on the
     * loop itself and needs none. */
    int blocks;
    void *impl;
};

/* One try of a network store's put: done, refused (our request is wrong:
 * another try will not help), or failed for now. */
typedef enum { GF_STORAGE_DONE, GF_STORAGE_REFUSED, GF_STORAGE_AGAIN } gf_storage_try_t;
/* Up to attempts tries (gf_storage_retry.c), pausing 250 ms × the try's
 * number between them (on the loop's timer in a fiber); APR_SUCCESS
 * when one was done. And the longest that can take, each try at the
 * whole timeout (a backend's worst_put). */
apr_status_t gf_storage_retry(int attempts, gf_storage_try_t (*try_once)(void *baton),
                              void *baton);
apr_interval_time_t gf_storage_retry_worst(long timeout_ms, int attempts);

/* Files under dir, served by Apache at url_prefix (e.g. "/media"). */
gf_storage_t *gf_storage_local_create(apr_pool_t *p, const char *dir,
                                      const char *url_prefix);

/* Cloudinary signed upload, from the GenFlowCloudinary key=value arguments.
 * Returns NULL and *out, or an error message. */
const char *gf_storage_cloudinary_create(apr_pool_t *p, int argc, char *const argv[],
                                         gf_storage_t **out);

/* An S3-compatible bucket, from the GenFlowS3 key=value arguments.
 * Returns NULL and *out, or an error message. */
const char *gf_storage_s3_create(apr_pool_t *p, int argc, char *const argv[],
                                 gf_storage_t **out);
typedef struct gf_s3_t gf_s3_t;
/* The bucket behind st, or NULL when st is another backend. */
const gf_s3_t *gf_storage_s3_of(const gf_storage_t *st);
/* Where the object of key lives on the endpoint (path or virtual-host
 * style), and where clients load it (public_url, else that address). */
const char *gf_s3_object_url(apr_pool_t *p, const gf_s3_t *s3, const char *key);
const char *gf_s3_public_url(apr_pool_t *p, const gf_s3_t *s3, const char *key);
/* A GET URL of the object valid for expires seconds from now (SigV4 in
 * the query), or NULL. */
const char *gf_s3_presign(apr_pool_t *p, const gf_s3_t *s3, const char *key, apr_time_t now,
                          int expires);

/* The upload signature: hex SHA-1/SHA-256 over the sorted non-empty
 * parameters (minus file, cloud_name, resource_type, api_key) + secret. */
const char *gf_cloudinary_sign(apr_pool_t *p, const apr_table_t *params, const char *secret,
                               const char *algorithm);
/* Its two halves: the "k=v&…" string, and its digest with the secret. */
const char *gf_cloudinary_string_to_sign(apr_pool_t *p, const apr_table_t *params);
const char *gf_cloudinary_digest(apr_pool_t *p, const char *tosign, const char *secret,
                                 const char *algorithm);

/* The bytes stored under key (url for a remote backend), at most max;
 * APR_ENOTIMPL (and *err) when the backend cannot read back. */
apr_status_t gf_storage_get(const gf_storage_t *st, apr_pool_t *p, const char *key,
                            const char *url, apr_size_t max, unsigned char **data,
                            apr_size_t *len, const char **err);

/* Best effort; APR_ENOTIMPL when the backend cannot remove. */
apr_status_t gf_storage_list(const gf_storage_t *st, apr_pool_t *p, const char *prefix,
                             const char *after, int max, apr_array_header_t **out,
                             const char **err);

apr_status_t gf_storage_remove(const gf_storage_t *st, apr_pool_t *p, const char *key);

apr_status_t gf_storage_put(const gf_storage_t *st, apr_pool_t *p, const char *key,
                            const unsigned char *data, apr_size_t len,
                            const char *content_type, const char **url,
                            const char **err);

#endif
