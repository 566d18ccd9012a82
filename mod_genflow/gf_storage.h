/* gf_storage.h: where result images are persisted (SPEC §7).
 *
 * Provider URLs are temporary, so a job stores the bytes before it
 * completes. One interface, several backends: a local directory that
 * Apache serves (here), Cloudinary later.
 */
#ifndef GF_STORAGE_H
#define GF_STORAGE_H

#include <apr_pools.h>

typedef struct gf_storage_t gf_storage_t;

struct gf_storage_t {
    const char *backend;
    /* Store len bytes under key (e.g. "neo-glitch/<id>.png"); on success
     * set *url to where clients fetch it. On failure return non-success and
     * set *err. */
    apr_status_t (*put)(const gf_storage_t *st, apr_pool_t *p, const char *key,
                        const unsigned char *data, apr_size_t len,
                        const char *content_type, const char **url,
                        const char **err);
    void *impl;
};

/* Files under dir, served by Apache at url_prefix (e.g. "/media"). */
gf_storage_t *gf_storage_local_create(apr_pool_t *p, const char *dir,
                                      const char *url_prefix);

apr_status_t gf_storage_put(const gf_storage_t *st, apr_pool_t *p, const char *key,
                            const unsigned char *data, apr_size_t len,
                            const char *content_type, const char **url,
                            const char **err);

#endif
