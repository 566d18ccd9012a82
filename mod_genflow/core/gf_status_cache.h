/* SPDX-License-Identifier: Apache-2.0 */
/* gf_status_cache.h: a bounded table of status answers, per httpd child.
 *
 * Every write of the module that changes what a status object shows
 * (status, provider, model, provider job, retries, image, start) fires a
 * NOTIFY (sql/011), and so does every deletion (sql/012); the owner of the
 * cache (mod_genflow_engine_changes.c) forgets an id when its notification
 * arrives, and bypasses the cache while it cannot hear notifications. So
 * an answer, running or finished, can be served without a query until the
 * generation changes. An UPDATE by hand of a column no trigger watches is
 * not seen until the entry goes.
 *
 * A read races a change: the row is read, it changes, the notification is
 * heard and forgets nothing (nothing is cached yet), and then the old
 * answer would be stored. So a caller takes the version of the id's slot
 * before reading the row and puts with it; a forget or clear in between
 * changes the version and the put is refused. The version is the slot's,
 * not a global count, so a busy server whose other generations keep
 * changing still fills the cache.
 *
 * A notification reaches each child a moment after the commit, so a child
 * could answer from memory just after a change it has not heard yet, even
 * a change the same client made (a cancel, then a status read that lands
 * on another child). So the processes of one httpd also share marks, one
 * counter per hash bucket of ids in shared memory: a process that changed
 * a generation bumps its bucket before it answers, an entry remembers its
 * bucket's count when it was read, and a get that finds the count moved
 * drops the entry. Changes made by other httpd nodes rely on the
 * notification alone.
 *
 * The table is direct-mapped on the generation id: a new entry replaces
 * whatever shared its slot, so memory is bounded by the slot count (each
 * entry holds one status object, usually under a kilobyte and never over
 * GF_STATUS_CACHE_ENTRY_MAX). Not thread-safe: the caller serialises
 * calls.
 */
#ifndef GF_STATUS_CACHE_H
#define GF_STATUS_CACHE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

typedef struct gf_status_cache_t gf_status_cache_t;

/* Entries larger than this are not cached (a status object is far
 * smaller; the bound keeps a slot's memory bounded too). */
#define GF_STATUS_CACHE_ENTRY_MAX 16384

/* A table of `slots` entries (> 0), allocated from p; entry memory is
 * malloc'd and freed on replacement, on forget/clear and at p's cleanup. */
gf_status_cache_t *gf_status_cache_create(apr_pool_t *p, apr_size_t slots);

/* How long an answer past its until (gf_status_cache_put) is still given
 * while one caller reads it again: the first get past its time misses,
 * the others meanwhile get it, one read for a crowd; after this, the
 * entry is gone. */
#define GF_STATUS_CACHE_REFRESH apr_time_from_sec(1)

/* The cached answer of (scope, id, user), copied into p: 1, or 0 when
 * there is none, or its time is up (see GF_STATUS_CACHE_REFRESH). scope
 * tells types apart (the type's address). *born and *until (each if not
 * NULL): what the caller stored with it. */
int gf_status_cache_get(gf_status_cache_t *c, const void *scope, const char *id,
                        const char *user, apr_pool_t *p, const char **json, const char **etag,
                        apr_time_t *born, apr_time_t *until);

/* An answer as sent to one reader holds something of the reader's (say,
 * an eventsUrl whose token is the user's, and the ETag of the whole) that
 * costs more to make than the read itself. The entry keeps it, made once
 * and named by dress (a key of the caller's that says everything it was
 * made from, cheap to compute): gf_status_cache_get_dressed is
 * gf_status_cache_get that gives the dressed answer instead, 2, when the
 * entry holds one under dress (1: the plain answer, to dress and keep with
 * gf_status_cache_dress). */
int gf_status_cache_get_dressed(gf_status_cache_t *c, const void *scope, const char *id,
                                const char *user, const char *dress, apr_pool_t *p,
                                const char **json, const char **etag, apr_time_t *born,
                                apr_time_t *until);

/* Keep json and etag as (scope, id, user)'s answer dressed under dress,
 * replacing the one it held, if its entry still holds the plain answer
 * whose ETag is base_etag (the one it was made from): 1 kept. It goes
 * with the entry. */
int gf_status_cache_dress(gf_status_cache_t *c, const void *scope, const char *id,
                          const char *user, const char *base_etag, const char *dress,
                          const char *json, const char *etag);

/* The version of id's slot (and of its shared mark), to take before
 * reading the row. */
apr_uint64_t gf_status_cache_version(const gf_status_cache_t *c, const char *id);

/* Remember an answer read at version (replacing the slot's entry), with
 * born, a time of the caller's (the running generation's start, for its
 * Retry-After). until: 0, kept until the generation changes; else only
 * until that time as well (an answer that changes without a notification,
 * such as a place in line: read again about that often, however many
 * ask, see GF_STATUS_CACHE_REFRESH). 1 stored; 0 refused: the slot was forgotten or cleared, or its
 * mark bumped, since version (the id's entry, if any, is dropped too: it
 * may be older than the caller's answer), or the answer is too large. */
int gf_status_cache_put(gf_status_cache_t *c, const void *scope, const char *id,
                        const char *user, const char *json, const char *etag, apr_time_t born,
                        apr_time_t until, apr_uint64_t version);

/* gf_status_cache_put of an answer with a place in the line named line
 * (its type's provider), whose watchers may be read again together. */
int gf_status_cache_put_line(gf_status_cache_t *c, const void *scope, const char *id,
                             const char *user, const char *json, const char *etag,
                             apr_time_t born, apr_time_t until, const char *line,
                             apr_uint64_t version);

/* The line of (scope, id, user)'s entry when it is an answer with a place
 * in line, past its time or not (copied into p); else NULL. */
const char *gf_status_cache_line(gf_status_cache_t *c, const void *scope, const char *id,
                                 const char *user, apr_pool_t *p);

/* The entries of scope's line that someone looked at lately (within
 * GF_STATUS_CACHE_REFRESH of their time), at most max: their ids and
 * users pushed (copies in p), and each marked as being read again, so that
 * their gets meanwhile take them as they are. The count. */
int gf_status_cache_line_watched(gf_status_cache_t *c, const void *scope, const char *line,
                                 int max, apr_pool_t *p, apr_array_header_t *ids,
                                 apr_array_header_t *users);

/* Forget the entry of id (whatever its scope and user), if cached, and
 * refuse puts of id read before. */
void gf_status_cache_forget(gf_status_cache_t *c, const char *id);

/* Forget everything, and refuse every put read before. */
void gf_status_cache_clear(gf_status_cache_t *c);

/* Buckets of the shared marks: a change to one id also drops the cached
 * answers of the ids that share its bucket (a read each, no harm). */
#define GF_STATUS_MARKS 4096

/* Share marks, GF_STATUS_MARKS counters every process of the node sees
 * (shared memory made before the fork, zeroed), with the cache. */
void gf_status_cache_share(gf_status_cache_t *c, apr_uint32_t *marks);

/* id was changed by this process: bump its shared mark (every process's
 * next get of it misses), and forget it here. Thread-safe as to the other
 * processes; the caller serialises it with the other calls here. */
void gf_status_cache_mark(gf_status_cache_t *c, const char *id);

/* Places in line read from the database, shared by the processes of the
 * node (shared memory made before the fork, zeroed): one process's read
 * serves the watchers of the others, which take the place into the answer
 * they hold rather than read it again. A slot per hash of the id; written
 * by whoever gets it (a compare-and-swap on seq, odd while written: a
 * writer that finds it taken does not wait), read whole or not at all. */
typedef struct {
    volatile apr_uint32_t seq;
    char id[40];
    apr_int32_t place;           /* -1: no longer in line */
    apr_int32_t pid;             /* the process that read it */
    apr_time_t read_at;
} gf_status_place_t;

#define GF_STATUS_PLACES 4096

void gf_status_cache_share_places(gf_status_cache_t *c, gf_status_place_t *places);

/* id's place (-1: not in line), read from the database at read_at by
 * process pid. */
void gf_status_cache_publish_place(gf_status_cache_t *c, const char *id, long place,
                                   apr_time_t read_at, apr_int32_t pid);

/* 1 and *place when id's place was published less than max_age before
 * now by another process than self, or less than own_age before now by
 * self; else 0. */
int gf_status_cache_shared_place(const gf_status_cache_t *c, const char *id, apr_time_t now,
                                 apr_int32_t self, apr_interval_time_t own_age,
                                 apr_interval_time_t max_age, long *place);

/* The answer of (scope, id, user) whatever its time (its mark still
 * holding), with its born and line: 1, or 0 when there is none. */
int gf_status_cache_peek(gf_status_cache_t *c, const void *scope, const char *id,
                         const char *user, apr_pool_t *p, const char **json, apr_time_t *born,
                         const char **line);

/* Entries held now (for tests and the debug log). */
apr_size_t gf_status_cache_count(const gf_status_cache_t *c);

#endif
