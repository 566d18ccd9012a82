/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_slots.c: keyed slots in shared memory (mod_genflow_slots.h). */
#include <string.h>

#include "httpd/servers/mod_genflow_slots.h"

typedef struct {
    apr_uint64_t magic;
    apr_uint64_t nslots;
    apr_uint64_t slot_size;      /* a module built otherwise has another layout */
} header_t;

void *gf_slots_create(apr_pool_t *pool, apr_uint64_t magic, apr_size_t nslots,
                      apr_size_t slot_size, apr_shm_t **shm, apr_status_t *rv)
{
    apr_size_t bytes = sizeof(header_t) + slot_size * nslots;
    header_t *h;

    if ((*rv = apr_shm_create(shm, bytes, NULL, pool)) != APR_SUCCESS) return NULL;
    h = apr_shm_baseaddr_get(*shm);
    memset(h, 0, bytes);
    h->magic = magic;
    h->nslots = nslots;
    h->slot_size = slot_size;
    return h + 1;
}

void *gf_slots_of(apr_shm_t *shm, apr_uint64_t magic, apr_size_t slot_size, apr_size_t *nslots)
{
    header_t *h = shm ? apr_shm_baseaddr_get(shm) : NULL;
    if (!h || apr_shm_size_get(shm) < sizeof(*h) || h->magic != magic
        || h->slot_size != slot_size
        || apr_shm_size_get(shm) < sizeof(*h) + slot_size * h->nslots) {
        return NULL;
    }
    *nslots = (apr_size_t)h->nslots;
    return h + 1;
}

int gf_slots_find(const void *slots, apr_size_t nslots, apr_size_t slot_size, const char *key)
{
    apr_size_t i;
    for (i = 0; i < nslots; i++) {
        const char *k = (const char *)slots + slot_size * i;
        if (!strncmp(k, key, GF_SLOT_KEY_MAX)) return (int)i;
    }
    return -1;
}
