/* mod_genflow_worker.c: background workers inside every httpd child.
 *
 * child_init starts GenFlowWorkers threads. Each loops over the mounted
 * types, claiming due generations from PostgreSQL (gf_run_one); when there
 * is nothing to do it sleeps until generate wakes it or an idle interval
 * passes (work queued by another child or another server is found then).
 * All state lives in the database: a child that exits or is killed loses
 * nothing, because an unfinished attempt's lease expires and any worker of
 * any server takes the row again.
 *
 * At child exit a pre-cleanup of the child pool stops the threads and
 * waits for them, before mod_dbd's connection pool (a subpool) is gone.
 */
#include <unistd.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <apr_thread_cond.h>
#include <apr_network_io.h>

#include "mod_genflow_private.h"

#define IDLE_WAIT        apr_time_from_msec(500)
#define TROUBLE_WAIT     apr_time_from_sec(1)
#define SWEEP_INTERVAL   apr_time_from_sec(2)

typedef struct {
    server_rec *s;
    apr_thread_mutex_t *mutex;
    apr_thread_cond_t *work;     /* signalled when work was queued */
    apr_thread_cond_t *change;   /* broadcast when a job changed state */
    int wake_pending;
    volatile int stopping;
    apr_thread_t **threads;
    int nthreads;
    const char *node;            /* host:pid, the prefix of lease owners */
} workers_t;

static workers_t *W;   /* this child's workers; NULL in the parent */

static void sleep_for_work(apr_interval_time_t timeout)
{
    apr_thread_mutex_lock(W->mutex);
    if (!W->stopping && !W->wake_pending) {
        apr_thread_cond_timedwait(W->work, W->mutex, timeout);
    }
    W->wake_pending = 0;
    apr_thread_mutex_unlock(W->mutex);
}

static void announce_change(void)
{
    apr_thread_mutex_lock(W->mutex);
    apr_thread_cond_broadcast(W->change);
    apr_thread_mutex_unlock(W->mutex);
}

void gf_workers_wake(void)
{
    if (!W) return;
    apr_thread_mutex_lock(W->mutex);
    W->wake_pending = 1;
    apr_thread_cond_broadcast(W->work);
    apr_thread_mutex_unlock(W->mutex);
}

int gf_workers_running(void)
{
    return W ? W->nthreads : 0;
}

void gf_workers_wait_change(apr_interval_time_t timeout)
{
    if (!W) {
        apr_sleep(timeout);
        return;
    }
    apr_thread_mutex_lock(W->mutex);
    apr_thread_cond_timedwait(W->change, W->mutex, timeout);
    apr_thread_mutex_unlock(W->mutex);
}

static void *APR_THREAD_FUNC worker_main(apr_thread_t *thread, void *data)
{
    long index = (long)(apr_uintptr_t)data;
    apr_array_header_t *types = gf_registered_types();
    apr_allocator_t *allocator;
    apr_pool_t *pool;
    const char *owner;
    int start = 0;
    apr_time_t next_sweep = apr_time_now() + SWEEP_INTERVAL;

    /* A thread of its own needs a pool with an allocator of its own: the
     * child's pool is not safe to allocate from concurrently. */
    apr_allocator_create(&allocator);
    apr_allocator_max_free_set(allocator, 1);
    apr_pool_create_unmanaged_ex(&pool, NULL, allocator);
    apr_allocator_owner_set(allocator, pool);
    apr_pool_tag(pool, "genflow_worker");
    owner = apr_psprintf(pool, "%s:%ld", W->node, index);

    while (!W->stopping) {
        int i, worked = 0, trouble = 0;
        for (i = 0; i < types->nelts && !W->stopping; i++) {
            /* Start at a different type each round so no type starves. */
            gf_type_t *t = APR_ARRAY_IDX(types, (start + i) % types->nelts, gf_type_t *);
            int rc = gf_run_one(W->s, pool, t, owner);
            apr_pool_clear(pool);
            owner = apr_psprintf(pool, "%s:%ld", W->node, index);
            if (rc > 0) {
                worked = 1;
                announce_change();
            }
            else if (rc < 0) {
                trouble = 1;
            }
        }
        start++;
        /* Worker 0 of each child runs the sweeps; they are set-based and
         * skip locked rows, so children and servers never collide. */
        if (index == 0 && apr_time_now() >= next_sweep) {
            for (i = 0; i < types->nelts && !W->stopping; i++) {
                gf_run_sweep(W->s, pool, APR_ARRAY_IDX(types, i, gf_type_t *));
                apr_pool_clear(pool);
            }
            gf_run_sweep_global(W->s, pool);
            apr_pool_clear(pool);
            owner = apr_psprintf(pool, "%s:%ld", W->node, index);
            next_sweep = apr_time_now() + SWEEP_INTERVAL;
            announce_change();
        }
        if (trouble && !worked) {
            apr_sleep(TROUBLE_WAIT);   /* database down: do not spin */
        }
        else if (!worked) {
            sleep_for_work(IDLE_WAIT);
        }
    }
    apr_pool_destroy(pool);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

static apr_status_t stop_workers(void *data)
{
    int i;
    apr_status_t rv;
    (void)data;

    if (!W) return APR_SUCCESS;
    apr_thread_mutex_lock(W->mutex);
    W->stopping = 1;
    apr_thread_cond_broadcast(W->work);
    apr_thread_cond_broadcast(W->change);
    apr_thread_mutex_unlock(W->mutex);
    /* An attempt in progress finishes first; provider calls are bounded by
     * their timeouts, so this wait is bounded too. */
    for (i = 0; i < W->nthreads; i++) {
        apr_thread_join(&rv, W->threads[i]);
    }
    W = NULL;
    return APR_SUCCESS;
}

void gf_workers_child_init(apr_pool_t *pchild, server_rec *s)
{
    gf_server_conf_t *sc = gf_server_conf(s);
    apr_array_header_t *types = gf_registered_types();
    char host[APRMAXHOSTLEN + 1];
    int i, n = gf_conf_workers(sc);

    if (!types || types->nelts == 0) {
        return;
    }
    W = apr_pcalloc(pchild, sizeof(*W));
    W->s = s;
    if (apr_gethostname(host, sizeof(host), pchild) != APR_SUCCESS) {
        apr_cpystrn(host, "localhost", sizeof(host));
    }
    W->node = apr_psprintf(pchild, "%s:%" APR_PID_T_FMT, host, getpid());
    apr_thread_mutex_create(&W->mutex, APR_THREAD_MUTEX_DEFAULT, pchild);
    apr_thread_cond_create(&W->work, pchild);
    apr_thread_cond_create(&W->change, pchild);
    W->threads = apr_pcalloc(pchild, sizeof(apr_thread_t *) * (apr_size_t)(n > 0 ? n : 1));
    for (i = 0; i < n; i++) {
        apr_status_t rv = apr_thread_create(&W->threads[W->nthreads], NULL, worker_main,
                                            (void *)(apr_uintptr_t)i, pchild);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, GF_LOGNO(1601)
                         "cannot start genflow worker thread %d", i);
            continue;
        }
        W->nthreads++;
    }
    /* A pre-cleanup: it runs before pchild's subpools are destroyed, and
     * mod_dbd keeps its connection pool in such a subpool. An ordinary
     * cleanup would join the workers after their connections are gone. */
    apr_pool_pre_cleanup_register(pchild, NULL, stop_workers);
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, GF_LOGNO(1602)
                 "%d genflow workers started in %s", W->nthreads, W->node);
}
