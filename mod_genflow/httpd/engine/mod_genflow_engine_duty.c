/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_duty.c: the engine's timed duties, done once per
 * httpd rather than once per child.
 *
 * Some of what the workers do runs on a clock, not on news: the sweeps
 * (every 2 s), the tidying of what only ages by the hour (every 10 s),
 * and the look for work that became due by time (a retry's or a poll's
 * moment, every 500 ms). Done by every child, they cost the database a
 * statement per child per tick however idle the site is, and the
 * children add nothing to each other: every statement is set-based and
 * reads the same rows. So each duty has one "next time" in shared memory
 * made before the fork, and the first worker of any child that finds it
 * passed moves it on (a compare-and-swap: two children never both win one
 * tick) and does the duty; the others sleep on until the next time.
 * Without the segment (shared memory refused, logged) every child keeps
 * its own clock, as a lone child would.
 *
 * The segment lives with the configuration: after a graceful restart the
 * new generation starts with every duty due at once (its first sweep makes
 * the places of its providers' limits), while the old children finish on
 * the old segment.
 */
#include <string.h>
#include <apr_atomic.h>

#include "httpd/config/mod_genflow_process.h"
#include "httpd/engine/mod_genflow_engine_int.h"
#include "httpd/config/mod_genflow_private.h"
#include "httpd/engine/mod_genflow_engine.h"

struct gf_engine_duty {
    volatile apr_uint64_t *next;     /* GF_DUTIES times (apr_time_t), or NULL */
    apr_uint64_t own[GF_DUTIES];     /* without the segment: this child's */
};
const apr_size_t gf_engine_duty_size = sizeof(struct gf_engine_duty);

void gf_engine_duty_post_config(apr_pool_t *pconf, server_rec *s)
{
    struct gf_engine_duty *d = GF_PROCESS_STATE(duty);
    apr_size_t bytes = sizeof(apr_uint64_t) * GF_DUTIES;
    apr_status_t rv;

    memset(d->own, 0, sizeof(d->own));
    /* Zeroed: every duty is due at once. */
    if (!(d->next = gf_engine_shm_zeroed(pconf, bytes, &rv))) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s, GF_LOGNO(1618)
                     "cannot create the engine's shared clock (%" APR_SIZE_T_FMT " bytes): "
                     "every child sweeps and looks for due work on its own", bytes);
    }
}

int gf_engine_duty_take(gf_duty_t duty, apr_interval_time_t every, apr_time_t *next)
{
    struct gf_engine_duty *d = GF_PROCESS_STATE(duty);
    apr_time_t now = apr_time_now();
    apr_uint64_t due;

    if (!d || duty < 0 || duty >= GF_DUTIES) {
        *next = now + every;
        return 1;
    }
    if (!d->next) {
        /* A clock of this child's own, which only its worker 0 reads and
         * writes. */
        due = d->own[duty];
        if ((apr_uint64_t)now < due) {
            *next = (apr_time_t)due;
            return 0;
        }
        d->own[duty] = (apr_uint64_t)(now + every);
        *next = now + every;
        return 1;
    }
    for (;;) {
        due = apr_atomic_read64(&d->next[duty]);
        if ((apr_uint64_t)now < due) {
            *next = (apr_time_t)due;
            return 0;
        }
        if (apr_atomic_cas64(&d->next[duty], (apr_uint64_t)(now + every), due) == due) {
            *next = now + every;
            return 1;
        }
        /* Another child moved it on a moment ago: read it again. */
    }
}
