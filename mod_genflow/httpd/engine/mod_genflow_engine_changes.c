/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_changes.c: waiting for a generation to change, and the
 * finished status answers a child keeps.
 *
 * The listener (mod_genflow_engine_listener.c) hears genflow_change for every
 * generation whose visible state changed, on every database the child's
 * databases use, and announces it here: the requests waiting on that id
 * (Prefer: wait, the status long-poll, the events stream; blocking here,
 * parked in mod_genflow_watch.c) wake, and the status cache forgets it. Generation ids are UUIDs, so one list of waiters serves all
 * databases. While the listener of any database is deaf, waiters fall back to
 * short polls and the cache is not used.
 */
#include <string.h>
#include <apr_strings.h>
#include <apr_shm.h>
#include <unistd.h>

#include "httpd/config/mod_genflow_process.h"
#include "httpd/engine/mod_genflow_engine_int.h"
#include "httpd/engine/mod_genflow_engine.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_private.h"

/* Made in the parent for the configuration's lifetime: the children of a
 * graceful restart's old generation keep the segment they had, so during
 * the overlap a change made by one generation reaches the other's caches
 * by NOTIFY only. */
struct gf_engine_shared {
    apr_uint32_t *marks;         /* GF_STATUS_MARKS counters, or NULL */
    gf_status_place_t *places;   /* GF_STATUS_PLACES places in line, or NULL */
};
const apr_size_t gf_engine_shared_size = sizeof(struct gf_engine_shared);

void gf_engine_post_config(apr_pool_t *pconf, server_rec *s)
{
    struct gf_engine_shared *sh = GF_PROCESS_STATE(engine_shared);
    apr_size_t bytes = sizeof(apr_uint32_t) * GF_STATUS_MARKS;
    apr_status_t rv;

    if (!(sh->marks = gf_engine_shm_zeroed(pconf, bytes, &rv))) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, GF_LOGNO(1612)
                     "cannot create the status cache's shared marks (%" APR_SIZE_T_FMT
                     " bytes): a child may answer a status read from memory for a few "
                     "milliseconds after another child changed the generation", bytes);
    }
    bytes = sizeof(gf_status_place_t) * GF_STATUS_PLACES;
    if (!(sh->places = gf_engine_shm_zeroed(pconf, bytes, &rv))) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, GF_LOGNO(1619)
                     "cannot create the places in line the children share (%" APR_SIZE_T_FMT
                     " bytes): each child reads the places its watchers look at itself", bytes);
    }
}

gf_status_cache_t *gf_engine_cache_create(apr_pool_t *pchild, apr_size_t slots)
{
    gf_status_cache_t *c = gf_status_cache_create(pchild, slots);
    struct gf_engine_shared *sh = GF_PROCESS_STATE(engine_shared);
    if (sh->marks) gf_status_cache_share(c, sh->marks);
    if (sh->places) gf_status_cache_share_places(c, sh->places);
    return c;
}

apr_uint64_t gf_engine_change_seq(void)
{
    gf_engine_t *W = gf_engine();
    apr_uint64_t seq;
    if (!W) return 0;
    apr_thread_mutex_lock(W->mutex);
    seq = W->seq;
    apr_thread_mutex_unlock(W->mutex);
    return seq;
}

int gf_engine_changed_since(const char *id, apr_uint64_t since)
{
    gf_engine_t *W = gf_engine();
    int changed;
    if (!W) return 0;
    apr_thread_mutex_lock(W->mutex);
    changed = gf_changes_since(W->recent, W->seq, id, since);
    apr_thread_mutex_unlock(W->mutex);
    return changed;
}

void gf_engine_wait_change(apr_pool_t *p, const char *id, apr_uint64_t since,
                           apr_interval_time_t timeout)
{
    gf_engine_t *W = gf_engine();
    gf_waiter_t me, **pp;

    if (!W) {
        apr_sleep(gf_changes_wait(timeout, 0));
        return;
    }
    timeout = gf_changes_wait(timeout, gf_engine_listening());
    memset(&me, 0, sizeof(me));
    me.id = id;
    if (apr_thread_cond_create(&me.cond, p) != APR_SUCCESS) {
        apr_sleep(timeout);
        return;
    }
    apr_thread_mutex_lock(W->mutex);
    me.next = W->waiters;
    W->waiters = &me;
    if (!W->stopping && !gf_changes_since(W->recent, W->seq, id, since)) {
        apr_thread_cond_timedwait(me.cond, W->mutex, timeout);
    }
    for (pp = &W->waiters; *pp; pp = &(*pp)->next) {
        if (*pp == &me) {
            *pp = me.next;
            break;
        }
    }
    apr_thread_mutex_unlock(W->mutex);
    apr_thread_cond_destroy(me.cond);
}

/* Wake the waiters of id, or all of them (id NULL), and forget what the
 * status cache holds of it (what the child heard: gf_engine_heard). */
void gf_engine_announce_change(const char *id)
{
    gf_engine_t *W = gf_engine();
    gf_waiter_t *w;
    if (!W) return;
    apr_thread_mutex_lock(W->mutex);
    W->seq = gf_changes_note(W->recent, W->seq, id);
    if (W->cache) {
        if (id) gf_status_cache_forget(W->cache, id);
        else gf_status_cache_clear(W->cache);
    }
    for (w = W->waiters; w; w = w->next) {
        if (!id || !strcmp(w->id, id)) {
            apr_thread_cond_signal(w->cond);
        }
    }
    apr_thread_mutex_unlock(W->mutex);
}

void gf_engine_announce_progress(const char *id)
{
    gf_engine_t *W = gf_engine();
    if (!W || !id) return;
    apr_thread_mutex_lock(W->mutex);
    if (W->cache) gf_status_cache_forget(W->cache, id);
    apr_thread_mutex_unlock(W->mutex);
}

/* ---- status answers --------------------------------------------------- */

/* The cache is consulted only while the listener hears notifications:
 * every change and deletion is announced by NOTIFY, and a deaf child could
 * serve an answer that changed. */
int gf_engine_status_cached(apr_pool_t *p, const gf_type_t *t, const char *id,
                            const char *user, const char *dress, const char **json,
                            const char **etag, apr_time_t *born, apr_time_t *until)
{
    gf_engine_t *W = gf_engine();
    int hit = 0;
    if (!W || !W->cache || !gf_engine_listening()) return 0;
    apr_thread_mutex_lock(W->mutex);
    hit = gf_status_cache_get_dressed(W->cache, t, id, user, dress, p, json, etag, born, until);
    apr_thread_mutex_unlock(W->mutex);
    return hit;
}

void gf_engine_status_dress(const gf_type_t *t, const char *id, const char *user,
                            const char *base_etag, const char *dress, const char *json,
                            const char *etag)
{
    gf_engine_t *W = gf_engine();
    if (!W || !W->cache || !dress || !gf_engine_listening()) return;
    apr_thread_mutex_lock(W->mutex);
    gf_status_cache_dress(W->cache, t, id, user, base_etag, dress, json, etag);
    apr_thread_mutex_unlock(W->mutex);
}

apr_uint64_t gf_engine_status_version(const char *id)
{
    gf_engine_t *W = gf_engine();
    apr_uint64_t v;
    if (!W || !W->cache) return 0;
    apr_thread_mutex_lock(W->mutex);
    v = gf_status_cache_version(W->cache, id);
    apr_thread_mutex_unlock(W->mutex);
    return v;
}

/* Remember an answer read after taking version: unless id changed since
 * (the cache refuses it), or the listener is deaf (it may have missed the
 * change; going deaf clears the cache, which refuses it too). */
void gf_engine_status_store(const gf_type_t *t, const char *id, const char *user,
                            const char *json, const char *etag, apr_time_t born,
                            apr_time_t until, const char *line, apr_uint64_t version)
{
    gf_engine_t *W = gf_engine();
    if (!W || !W->cache || !gf_engine_listening()) return;
    apr_thread_mutex_lock(W->mutex);
    if (gf_engine_listening()) {
        gf_status_cache_put_line(W->cache, t, id, user, json, etag, born, until, line, version);
    }
    apr_thread_mutex_unlock(W->mutex);
}

const char *gf_engine_status_line(apr_pool_t *p, const gf_type_t *t, const char *id,
                                  const char *user)
{
    gf_engine_t *W = gf_engine();
    const char *line;
    if (!W || !W->cache || !gf_engine_listening()) return NULL;
    apr_thread_mutex_lock(W->mutex);
    line = gf_status_cache_line(W->cache, t, id, user, p);
    apr_thread_mutex_unlock(W->mutex);
    return line;
}

void gf_engine_place_publish(const char *id, long place)
{
    gf_engine_t *W = gf_engine();
    if (!W || !W->cache) return;
    apr_thread_mutex_lock(W->mutex);
    gf_status_cache_publish_place(W->cache, id, place, apr_time_now(), (apr_int32_t)getpid());
    apr_thread_mutex_unlock(W->mutex);
}

int gf_engine_place_shared(const char *id, apr_interval_time_t own_age,
                           apr_interval_time_t max_age, long *place)
{
    gf_engine_t *W = gf_engine();
    int ok;
    if (!W || !W->cache || !gf_engine_listening()) return 0;
    apr_thread_mutex_lock(W->mutex);
    ok = gf_status_cache_shared_place(W->cache, id, apr_time_now(), (apr_int32_t)getpid(),
                                      own_age, max_age, place);
    apr_thread_mutex_unlock(W->mutex);
    return ok;
}

int gf_engine_status_peek(apr_pool_t *p, const gf_type_t *t, const char *id, const char *user,
                          const char **json, apr_time_t *born, const char **line)
{
    gf_engine_t *W = gf_engine();
    int hit;
    if (!W || !W->cache || !gf_engine_listening()) return 0;
    apr_thread_mutex_lock(W->mutex);
    hit = gf_status_cache_peek(W->cache, t, id, user, p, json, born, line);
    apr_thread_mutex_unlock(W->mutex);
    return hit;
}

int gf_engine_status_line_watched(apr_pool_t *p, const gf_type_t *t, const char *line, int max,
                                  apr_array_header_t *ids, apr_array_header_t *users)
{
    gf_engine_t *W = gf_engine();
    int n;
    if (!W || !W->cache) return 0;
    apr_thread_mutex_lock(W->mutex);
    n = gf_status_cache_line_watched(W->cache, t, line, max, p, ids, users);
    apr_thread_mutex_unlock(W->mutex);
    return n;
}

void gf_engine_status_changed(const char *id)
{
    gf_engine_t *W = gf_engine();
    if (!W || !W->cache) return;
    apr_thread_mutex_lock(W->mutex);
    gf_status_cache_mark(W->cache, id);
    apr_thread_mutex_unlock(W->mutex);
}

