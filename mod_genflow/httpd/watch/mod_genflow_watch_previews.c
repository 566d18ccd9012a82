/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_watch_previews.c: the previews this child heard of, for the
 * event streams it serves (core/gf_previews.h, mod_genflow_watch.h).
 *
 * The listener hears each preview on genflow_preview (every child of every
 * node does) and puts it on this child's board; then it wakes the
 * generation's watchers, parked and blocking, to send it. The board is made in child_init and
 * lives as long as the child; a mutex guards it, held for a copy only.
 */
#include <apr_thread_mutex.h>

#include "httpd/config/mod_genflow_private.h"
#include "httpd/config/mod_genflow_process.h"
#include "httpd/watch/mod_genflow_watch.h"
#include "core/gf_previews.h"

struct gf_watch_previews_state {
    gf_previews_t *board;        /* NULL in the parent, or without a mutex */
    apr_thread_mutex_t *mutex;
};

const apr_size_t gf_watch_previews_state_size = sizeof(struct gf_watch_previews_state);

static struct gf_watch_previews_state *previews(void)
{
    return GF_PROCESS_STATE(watch_previews);
}

void gf_watch_previews_child_init(apr_pool_t *pchild, server_rec *s)
{
    struct gf_watch_previews_state *st = previews();
    apr_status_t rv = apr_thread_mutex_create(&st->mutex, APR_THREAD_MUTEX_DEFAULT, pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, GF_LOGNO(1720)
                     "cannot make the previews' mutex: no previews in this child");
        return;
    }
    st->board = apr_pcalloc(pchild, sizeof(*st->board));
}

int gf_watch_preview_heard(const char *id, apr_time_t stamp, const char *url)
{
    struct gf_watch_previews_state *st = previews();
    apr_uint32_t seq;

    if (!st->board) return 0;
    apr_thread_mutex_lock(st->mutex);
    seq = gf_previews_put(st->board, id, stamp, url, apr_time_now());
    apr_thread_mutex_unlock(st->mutex);
    return seq != 0;
}

apr_uint32_t gf_watch_preview_get(const char *id, apr_interval_time_t keep, char *url,
                                  apr_size_t size)
{
    struct gf_watch_previews_state *st = previews();
    apr_uint32_t seq;

    if (!st->board) return 0;
    apr_thread_mutex_lock(st->mutex);
    seq = gf_previews_get(st->board, id, apr_time_now(), keep, url, size);
    apr_thread_mutex_unlock(st->mutex);
    return seq;
}
