/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_watch_users.c: each user's watching requests (event
 * streams, status long-polls) counted for the whole server, every child
 * together, in shared memory (core/gf_watchers.h), so that
 * GenFlowEventsPerUser caps what one user keeps open on the server, not
 * in each child: without it a user could hold that many in every child,
 * each parked long-poll of a queued generation reading again every
 * second.
 *
 * The table and its mutex live as long as the httpd parent (its process
 * pool), as the provider limits' do: the children of the generation
 * before a graceful restart close their watchers in the same table. A
 * table of another size (the configuration changed how many may park) is
 * made anew; the old children count theirs in the old one until they go.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <apr_global_mutex.h>
#include <apr_shm.h>
#include <ap_mpm.h>
#include <util_mutex.h>

#include "httpd/config/mod_genflow_process.h"
#include "httpd/watch/mod_genflow_watch.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_watchers.h"

#define SHM_KEY "mod_genflow_watchers_shm"
#define MUTEX_KEY "mod_genflow_watchers_mutex"
#define MUTEX_TYPE "genflow-watchers"

/* The process record's member. */
struct gf_watch_users_state {
    gf_watchers_cell_t *cells;   /* NULL: no cap (GenFlowEventsPerUser 0) */
    apr_size_t ncells;
    apr_global_mutex_t *mutex;
    int limit;
    apr_int32_t self;
    int broken;                  /* no mutex in this child: nothing is counted */
};
const apr_size_t gf_watch_users_state_size = sizeof(struct gf_watch_users_state);

static struct gf_watch_users_state *users(void)
{
    return GF_PROCESS_STATE(watch_users);
}

static int wu_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    return ap_mutex_register(pconf, MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0);
}

void gf_watch_users_register_hooks(void)
{
    ap_hook_pre_config(wu_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
}

static apr_size_t cells_wanted(server_rec *s)
{
    gf_server_conf_t *sc = gf_server_conf(s);
    int children = 1, threads = 0;
    ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &children);
    ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads);
    /* Each child may hold park_max + blocking watchers. */
    return gf_watchers_cells_wanted(children, gf_conf_park_max(sc)
                                              + gf_conf_blocking_waiters(sc, threads));
}

/* The segment of the parent's lifetime, of n cells. */
static gf_watchers_cell_t *segment(apr_pool_t *proc, server_rec *s, apr_size_t n)
{
    apr_shm_t *shm = NULL;
    apr_status_t rv;

    apr_pool_userdata_get((void **)&shm, SHM_KEY, proc);
    if (shm && apr_shm_size_get(shm) == n * sizeof(gf_watchers_cell_t)) {
        return apr_shm_baseaddr_get(shm);
    }
    if ((rv = apr_shm_create(&shm, n * sizeof(gf_watchers_cell_t), NULL, proc)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, GF_LOGNO(5010)
                     "cannot create the shared memory that counts each user's watching "
                     "requests (%" APR_SIZE_T_FMT " bytes)", n * sizeof(gf_watchers_cell_t));
        return NULL;
    }
    memset(apr_shm_baseaddr_get(shm), 0, n * sizeof(gf_watchers_cell_t));
    apr_pool_userdata_set(shm, SHM_KEY, apr_pool_cleanup_null, proc);
    return apr_shm_baseaddr_get(shm);
}

int gf_watch_users_post_config(apr_pool_t *pconf, server_rec *s)
{
    struct gf_watch_users_state *u = users();
    apr_pool_t *proc = s->process->pool;
    apr_status_t rv;
    (void)pconf;

    u->cells = NULL;
    u->limit = (int)gf_conf_events_per_user(gf_server_conf(s));
    if (u->limit <= 0) return OK;
    u->ncells = cells_wanted(s);
    if (!(u->cells = segment(proc, s, u->ncells))) return HTTP_INTERNAL_SERVER_ERROR;
    apr_pool_userdata_get((void **)&u->mutex, MUTEX_KEY, proc);
    if (!u->mutex) {
        rv = ap_global_mutex_create(&u->mutex, NULL, MUTEX_TYPE, NULL, s, proc, 0);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, GF_LOGNO(5011)
                         "cannot create the mutex of each user's watching requests "
                         "(Mutex " MUTEX_TYPE ")");
            u->mutex = NULL;
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        apr_pool_userdata_set(u->mutex, MUTEX_KEY, apr_pool_cleanup_null, proc);
    }
    return OK;
}

void gf_watch_users_child_init(apr_pool_t *pchild, server_rec *s)
{
    struct gf_watch_users_state *u = users();
    apr_status_t rv;

    if (!u->cells) return;
    rv = apr_global_mutex_child_init(&u->mutex, apr_global_mutex_lockfile(u->mutex), pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, GF_LOGNO(5012)
                     "cannot attach to the mutex of each user's watching requests: this "
                     "child counts none");
        u->broken = 1;
        return;
    }
    u->self = (apr_int32_t)getpid();
    /* A child that died with watchers open under this pid left them. */
    if (apr_global_mutex_lock(u->mutex) != APR_SUCCESS) return;
    gf_watchers_forget_pid(u->cells, u->ncells, u->self);
    apr_global_mutex_unlock(u->mutex);
}

static int alive(apr_int32_t pid, void *baton)
{
    (void)baton;
    /* EPERM: the pid is someone else's now, counted as alive (the cap
     * stays on the safe side until that process goes too). */
    return kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

typedef struct {
    apr_uint64_t key;
} watcher_t;

static apr_status_t watcher_closed(void *data)
{
    struct gf_watch_users_state *u = users();
    watcher_t *w = data;
    if (apr_global_mutex_lock(u->mutex) != APR_SUCCESS) return APR_SUCCESS;
    gf_watchers_close(u->cells, u->ncells, w->key, u->self);
    apr_global_mutex_unlock(u->mutex);
    return APR_SUCCESS;
}

int gf_watch_user_open(request_rec *r)
{
    struct gf_watch_users_state *u = users();
    gf_watchers_result_t res;
    watcher_t *w;

    if (!u->cells || u->broken || !r->user) return 1;
    w = apr_palloc(r->pool, sizeof(*w));
    w->key = gf_watchers_key(r->user);
    if (apr_global_mutex_lock(u->mutex) != APR_SUCCESS) return 1;
    res = gf_watchers_open(u->cells, u->ncells, w->key, u->self, u->limit, alive, NULL);
    apr_global_mutex_unlock(u->mutex);
    if (res == GF_WATCHERS_LIMIT) return 0;
    if (res == GF_WATCHERS_FULL) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, GF_LOGNO(5013)
                      "the table of watching requests has no room near this user's: "
                      "not counted");
        return 1;
    }
    apr_pool_cleanup_register(r->pool, w, watcher_closed, apr_pool_cleanup_null);
    return 1;
}
