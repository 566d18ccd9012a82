/* SPDX-License-Identifier: Apache-2.0 */
/* gf_conf_check.h: the plain decisions of the checks across directives
 * once the whole configuration is read (httpd/config/
 * mod_genflow_config_check.c walks the servers and the configuration
 * tree, asks these, and logs what they find).
 */
#ifndef GF_CONF_CHECK_H
#define GF_CONF_CHECK_H

#include <apr_pools.h>

/* mod_dbd's pool settings as written: DBDMin, DBDKeep, DBDMax, and where
 * each was given ("file:line", or "default"). */
typedef struct {
    long n[3];
    const char *where[3];
} gf_conf_dbd_pool_t;

/* The directives' names, in the order of n[]. */
extern const char *const GF_CONF_DBD_POOL[3];

/* mod_dbd's defaults (1, 2, 10) into *pool. */
void gf_conf_dbd_pool_default(gf_conf_dbd_pool_t *pool);

/* When directive (any case) is one of the three, its number (atol of
 * args) and where it was given into *pool. */
void gf_conf_dbd_pool_take(apr_pool_t *p, gf_conf_dbd_pool_t *pool, const char *directive,
                           const char *args, const char *file, int line);

/* apr_reslist_create refuses min > keep > max: the i of the first
 * n[i] > n[i + 1], or -1 when the pool can be made. */
int gf_conf_dbd_pool_bad(const gf_conf_dbd_pool_t *pool);

/* Where a server with a type mounted keeps the pictures: a local
 * directory (GenFlowStorageDir and GenFlowStorageURL both), Cloudinary or
 * S3, not both of the last two. */
typedef enum {
    GF_CONF_STORAGE_OK = 0,
    GF_CONF_STORAGE_NONE,        /* nowhere, or half of the local pair */
    GF_CONF_STORAGE_TWO          /* GenFlowCloudinary and GenFlowS3 */
} gf_conf_storage_t;

gf_conf_storage_t gf_conf_storage_check(int has_dir, int has_url, int has_cloudinary,
                                        int has_s3);

/* The GenFlowEventsBase that a mount's streams use (its location's own,
 * else its server's; "" is none) when it signs URLs without a key
 * (has_keys 0): the mount then cannot start; NULL when it is fine. */
const char *gf_conf_events_key_missing(const char *own, const char *server, int has_keys);

#endif
