/* SPDX-License-Identifier: Apache-2.0 */
/* gf_conf_check.c: the rules of gf_conf_check.h. */
#include <stdlib.h>
#include <strings.h>
#include <apr_strings.h>

#include "core/gf_conf_check.h"

const char *const GF_CONF_DBD_POOL[3] = { "DBDMin", "DBDKeep", "DBDMax" };

void gf_conf_dbd_pool_default(gf_conf_dbd_pool_t *pool)
{
    int i;
    pool->n[0] = 1;
    pool->n[1] = 2;
    pool->n[2] = 10;
    for (i = 0; i < 3; i++) pool->where[i] = "default";
}

void gf_conf_dbd_pool_take(apr_pool_t *p, gf_conf_dbd_pool_t *pool, const char *directive,
                           const char *args, const char *file, int line)
{
    int i;
    for (i = 0; i < 3; i++) {
        if (args && !strcasecmp(directive, GF_CONF_DBD_POOL[i])) {
            pool->n[i] = atol(args);
            pool->where[i] = apr_psprintf(p, "%s:%d", file, line);
        }
    }
}

int gf_conf_dbd_pool_bad(const gf_conf_dbd_pool_t *pool)
{
    int i;
    for (i = 0; i < 2; i++) {
        if (pool->n[i] > pool->n[i + 1]) return i;
    }
    return -1;
}

gf_conf_storage_t gf_conf_storage_check(int has_dir, int has_url, int has_cloudinary,
                                        int has_s3)
{
    if (has_dir != has_url || (!has_dir && !has_cloudinary && !has_s3)) {
        return GF_CONF_STORAGE_NONE;
    }
    return has_cloudinary && has_s3 ? GF_CONF_STORAGE_TWO : GF_CONF_STORAGE_OK;
}

const char *gf_conf_events_key_missing(const char *own, const char *server, int has_keys)
{
    const char *base = own ? own : server;
    return !base || !*base || has_keys ? NULL : base;
}
