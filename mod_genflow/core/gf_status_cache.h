/* gf_status_cache.h: a bounded table of status answers of finished
 * generations, per httpd child.
 *
 * A terminal generation's status object never changes again (every
 * statement of the module that writes a row guards on a non-terminal
 * status; an UPDATE by hand is not seen until the entry goes), so its
 * answer can be served without a query, as long as the row still exists.
 * Rows are deleted by the retention sweep, the admin DELETE or by hand;
 * every deletion is announced by NOTIFY (sql/012) and the owner of the cache
 * (mod_genflow_worker.c) forgets entries then, and bypasses the cache while
 * it cannot hear notifications.
 *
 * The table is direct-mapped on the generation id: a new entry replaces
 * whatever shared its slot, so memory is bounded by the slot count (each
 * entry holds one status object, usually under a kilobyte and never over
 * GF_STATUS_CACHE_ENTRY_MAX). Not thread-safe: the
 * caller serialises calls.
 */
#ifndef GF_STATUS_CACHE_H
#define GF_STATUS_CACHE_H

#include <apr_pools.h>

typedef struct gf_status_cache_t gf_status_cache_t;

/* Entries larger than this are not cached (a status object is far
 * smaller; the bound keeps a slot's memory bounded too). */
#define GF_STATUS_CACHE_ENTRY_MAX 16384

/* A table of `slots` entries (> 0), allocated from p; entry memory is
 * malloc'd and freed on replacement, on forget/clear and at p's cleanup. */
gf_status_cache_t *gf_status_cache_create(apr_pool_t *p, apr_size_t slots);

/* The cached answer of (scope, id, user), copied into p: 1, or 0 when
 * there is none. scope tells types apart (the type's address). */
int gf_status_cache_get(gf_status_cache_t *c, const void *scope, const char *id,
                        const char *user, apr_pool_t *p, const char **json, const char **etag);

/* Remember an answer; replaces the slot's entry. */
void gf_status_cache_put(gf_status_cache_t *c, const void *scope, const char *id,
                         const char *user, const char *json, const char *etag);

/* Forget the entry of id (whatever its scope and user), if cached. */
void gf_status_cache_forget(gf_status_cache_t *c, const char *id);

/* Forget everything. */
void gf_status_cache_clear(gf_status_cache_t *c);

/* Entries held now (for tests and the debug log). */
apr_size_t gf_status_cache_count(const gf_status_cache_t *c);

#endif
