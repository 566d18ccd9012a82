/* SPDX-License-Identifier: Apache-2.0 */
/* gf_storage_retry.c: the retries of a network store's put (see
 * gf_storage.h): Cloudinary's and S3's, one loop. */
#include "storage/gf_storage.h"
#include "net/gf_loop.h"

/* The pause before try n + 1: 250 ms, 500 ms, 750 ms… */
#define PAUSE_MS(n) (250L * (n))

apr_status_t gf_storage_retry(int attempts, gf_storage_try_t (*try_once)(void *baton),
                              void *baton)
{
    int attempt;
    for (attempt = 1; attempt <= attempts; attempt++) {
        switch (try_once(baton)) {
        case GF_STORAGE_DONE: return APR_SUCCESS;
        case GF_STORAGE_REFUSED: return APR_EGENERAL;
        default: break;
        }
        if (attempt < attempts) {
            /* A timer of the engine's loop in a fiber: no thread waits. */
            gf_loop_sleep(apr_time_from_msec(PAUSE_MS(attempt)));
        }
    }
    return APR_EGENERAL;
}

apr_interval_time_t gf_storage_retry_worst(long timeout_ms, int attempts)
{
    /* Every try may take the whole timeout; the pauses between grow. */
    return apr_time_from_msec(timeout_ms * attempts + PAUSE_MS(1) * attempts * (attempts - 1) / 2);
}
