/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_doorbell.c: one idle worker of another child, woken
 * through a pipe every child of this httpd shares.
 *
 * A place of a provider's limits freed in a child goes to that child's
 * next claim (mod_genflow_engine_handon.c). When the child has no room for
 * it (its loop is full, or it is stopping), it rings: one byte into the
 * pipe, made before the fork. Every child's listener polls the pipe's
 * reading end; the one whose read gets the byte wakes one of its workers,
 * the others read nothing (the ends do not block). So a freed place wakes
 * exactly one worker of another child, not every worker of every child.
 * A ring that no child answers in time (every child busy) is answered by
 * the next round of any worker, as any free place is.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "httpd/config/mod_genflow_process.h"
#include "httpd/engine/mod_genflow_engine_int.h"
#include "httpd/io/mod_genflow_metrics.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/engine/mod_genflow_engine.h"

struct gf_engine_doorbell {
    int fd[2];                   /* the pipe's ends; -1: none */
};
const apr_size_t gf_engine_doorbell_size = sizeof(struct gf_engine_doorbell);

static apr_status_t close_bell(void *data)
{
    struct gf_engine_doorbell *b = data;
    if (b->fd[0] >= 0) close(b->fd[0]);
    if (b->fd[1] >= 0) close(b->fd[1]);
    b->fd[0] = b->fd[1] = -1;
    return APR_SUCCESS;
}

void gf_engine_doorbell_post_config(apr_pool_t *pconf, server_rec *s)
{
    struct gf_engine_doorbell *b = GF_PROCESS_STATE(doorbell);
    int i;
    b->fd[0] = b->fd[1] = -1;
    if (pipe(b->fd) != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, s, GF_LOGNO(1613)
                     "cannot make the engine's doorbell: a place freed in a busy child "
                     "waits for the next round of another");
        b->fd[0] = b->fd[1] = -1;
        return;
    }
    for (i = 0; i < 2; i++) {
        fcntl(b->fd[i], F_SETFL, fcntl(b->fd[i], F_GETFL) | O_NONBLOCK);
        fcntl(b->fd[i], F_SETFD, FD_CLOEXEC);
    }
    apr_pool_cleanup_register(pconf, b, close_bell, apr_pool_cleanup_null);
}

void gf_engine_ring_doorbell(void)
{
    struct gf_engine_doorbell *b = GF_PROCESS_STATE(doorbell);
    ssize_t rv;
    if (!b || b->fd[1] < 0) return;
    /* A full pipe has rings enough waiting. */
    do {
        rv = write(b->fd[1], "!", 1);
    } while (rv < 0 && errno == EINTR);
}

int gf_engine_doorbell_fd(void)
{
    struct gf_engine_doorbell *b = GF_PROCESS_STATE(doorbell);
    return b ? b->fd[0] : -1;
}

void gf_engine_doorbell_heard(void)
{
    char c;
    ssize_t rv;
    do {
        rv = read(gf_engine_doorbell_fd(), &c, 1);
    } while (rv < 0 && errno == EINTR);
    /* Another child's listener took it first. */
    if (rv != 1) return;
    gf_metrics_engine(gf_metrics(), GF_ENGINE_DOORBELL);
    gf_engine_wake_all(0);
}
