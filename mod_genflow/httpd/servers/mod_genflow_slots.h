/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_slots.h: keyed slots in shared memory, the one layout of the
 * providers' circuit breakers and limits (mod_genflow_slots.c): a header
 * that names the layout (a magic number, the count and the size of the
 * slots), then the slots, each beginning with its key, the provider's key
 * of mod_genflow_servers.c. What the slots hold, and how long a segment
 * lives, is each user's: the breakers make a segment per configuration
 * and copy the states still declared, the limits keep one for the
 * parent's life.
 */
#ifndef MOD_GENFLOW_SLOTS_H
#define MOD_GENFLOW_SLOTS_H

#include <apr_pools.h>
#include <apr_shm.h>

/* The room for a key at the start of every slot. */
#define GF_SLOT_KEY_MAX 300

/* A new anonymous segment in pool, its header written and its nslots slots
 * of slot_size bytes zeroed; the first slot (*shm the segment), or NULL
 * with *rv. */
void *gf_slots_create(apr_pool_t *pool, apr_uint64_t magic, apr_size_t nslots,
                      apr_size_t slot_size, apr_shm_t **shm, apr_status_t *rv);
/* The slots of shm and their count, when its header names this layout
 * (the magic number and the slot size); NULL for a segment laid out
 * otherwise (another build of the module). */
void *gf_slots_of(apr_shm_t *shm, apr_uint64_t magic, apr_size_t slot_size, apr_size_t *nslots);
/* The index of the slot whose key is key, or -1. */
int gf_slots_find(const void *slots, apr_size_t nslots, apr_size_t slot_size, const char *key);

#endif
