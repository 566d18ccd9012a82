/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine.h: what the rest of the glue may see of the job
 * engine that runs in every child (worker threads, the loop of provider
 * exchanges, the listener; mod_genflow_engine_int.h has its inside).
 */
#ifndef MOD_GENFLOW_ENGINE_H
#define MOD_GENFLOW_ENGINE_H

#include "httpd/limits/mod_genflow_limits.h"
#include "httpd/config/mod_genflow_config.h"

/* Before the fork: the marks by which the children's status caches tell
 * each other of the changes they made (core/gf_status_cache.h). Without
 * them (shared memory refused, logged) each child hears of another's
 * changes by NOTIFY only. */
void gf_engine_post_config(apr_pool_t *pconf, server_rec *s);
/* Before the fork too: the doorbell by which a child with no room for a
 * freed place wakes one worker of another (mod_genflow_engine_doorbell.c). */
void gf_engine_doorbell_post_config(apr_pool_t *pconf, server_rec *s);
/* And the shared clock of the duties that run on time (the sweeps, the
 * look for work due by time), so that one child of the httpd does each
 * per tick, not every child (mod_genflow_engine_duty.c). */
void gf_engine_duty_post_config(apr_pool_t *pconf, server_rec *s);
/* Start this child's engine. on_change(id) hears every generation
 * announced as changed (id NULL: any may have), after the engine's own
 * waiters: the parked waits of the child (mod_genflow_watch.c), a concern
 * above this one. on_preview(id, stamp, url) hears each preview announced on
 * genflow_preview (mod_genflow_engine_preview.c): 1 when it is news, and
 * the generation's waiters are woken. */
void gf_engine_child_init(apr_pool_t *pchild, server_rec *s,
                          void (*on_change)(const char *id),
                          int (*on_preview)(const char *id, apr_time_t stamp, const char *url));
/* Wake one of this child's idle workers: new work was queued. */
void gf_engine_wake(void);
/* A place of provider's limits counted per node was freed in this
 * child: a worker claims the provider's next due row at once
 * (mod_genflow_engine_handon.c). */
void gf_engine_place_freed(const char *provider);
/* The call that held a place of prov's limits kept in the database ended
 * in this child: claim prov's next due row with that place, where
 * statements may block; 1 when handed on or freed, 2 when this child has
 * no room for it (gf_limits_engine_t). */
int gf_engine_hand_on_place(server_rec *s, const gf_provider_t *prov, const gf_limits_hold_t *hold);
/* Wake one idle worker of another child of this httpd: a place was freed
 * in this child, which has no room for its next row
 * (mod_genflow_engine_doorbell.c). */
void gf_engine_ring_doorbell(void);
/* Worker threads running in this child. */
int gf_engine_running(void);
/* This child's attempts in flight on its loop, their cap
 * (GenFlowMaxInFlight), the HTTP exchanges open now, and the polls it
 * keeps for their next poll (GenFlowKeptPolls); zeros without a loop. */
void gf_engine_flights(int *in_flight, int *max_in_flight, int *transfers, int *kept);
/* Is the child's listener connected (NOTIFY in force)? */
int gf_engine_listening(void);
/* Waiting for a generation to change: take the sequence BEFORE reading the
 * row, then sleep until a notification for id came after it, or timeout
 * (capped: a short backstop poll while the listener is down). Holds no
 * database connection. */
apr_uint64_t gf_engine_change_seq(void);
/* Was id announced after change number since? */
int gf_engine_changed_since(const char *id, apr_uint64_t since);
/* Status answers of this child (GenFlowStatusCache): the cached answer of
 * (type, id, user), 1 on a hit (*born: when the running generation was
 * created, 0 for a finished one; *until: 0, or the time it is kept until,
 * an answer with a place in line), 2 when it is the answer dressed for
 * its reader under dress (NULL: none wanted; gf_status_cache_get_dressed);
 * the version of id to take before reading its row; and remember an
 * answer read after taking version (until as gf_status_cache_put's), and
 * its dressing (gf_status_cache_dress). */
int gf_engine_status_cached(apr_pool_t *p, const gf_type_t *t, const char *id,
                            const char *user, const char *dress, const char **json,
                            const char **etag, apr_time_t *born, apr_time_t *until);
void gf_engine_status_dress(const gf_type_t *t, const char *id, const char *user,
                            const char *base_etag, const char *dress, const char *json,
                            const char *etag);
apr_uint64_t gf_engine_status_version(const char *id);
/* This process changed id (a cancel, say): no child of this httpd answers
 * its next read of id from memory, whether or not its NOTIFY arrived.
 * Call it after the commit and before the answer. */
void gf_engine_status_changed(const char *id);
void gf_engine_status_store(const gf_type_t *t, const char *id, const char *user,
                            const char *json, const char *etag, apr_time_t born,
                            apr_time_t until, const char *line, apr_uint64_t version);
/* The watched answers with a place in one line (line: the provider whose
 * line it is), read again together: the line of id's answer, if it has a
 * place (NULL otherwise); the ids and users of that line's answers that
 * were looked at lately (at most max), marked as being read. */
const char *gf_engine_status_line(apr_pool_t *p, const gf_type_t *t, const char *id,
                                  const char *user);
int gf_engine_status_line_watched(apr_pool_t *p, const gf_type_t *t, const char *line, int max,
                                  apr_array_header_t *ids, apr_array_header_t *users);
/* Places in line shared by the children (gf_status_place_t): publish one
 * read from the database now; take one another child read less than
 * max_age ago, or this child less than own_age ago (1); the answer this
 * child holds for (type, id, user) whatever its time, to put such a place
 * into (1). */
void gf_engine_place_publish(const char *id, long place);
int gf_engine_place_shared(const char *id, apr_interval_time_t own_age,
                           apr_interval_time_t max_age, long *place);
int gf_engine_status_peek(apr_pool_t *p, const gf_type_t *t, const char *id, const char *user,
                          const char **json, apr_time_t *born, const char **line);
void gf_engine_wait_change(apr_pool_t *p, const char *id, apr_uint64_t since,
                           apr_interval_time_t timeout);
/* Is this child's engine stopping (no new attempts)? */
int gf_engine_stopping(void);

#endif
