/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_engine_handon.c: a place freed is handed on at once.
 *
 * When a call to a limited provider ends in this child, its place goes
 * to the provider's next due row (types by priority) before anything
 * else, so that a provider driven at its limit has its next call on the
 * way a claim's round trip after the last one ended, not after an idle
 * wait or a round of every worker:
 *
 *  - a place kept in the database (limits=site): the attempt that held it
 *    runs one claim with that very place (gf_engine_hand_on_place, on a
 *    worker thread while its fiber waits): the next row takes the place
 *    in the statement that leases it, so the place is never free for
 *    another node or child to race for in between, or the claim frees it
 *    when nothing is due;
 *  - a place counted per node (limits=node, the shared memory): the
 *    limits tell the engine (gf_engine_place_freed), the provider's name
 *    goes on the child's hand-on list and one worker is woken, which
 *    claims for it before anything else.
 *
 * When this child has no room for the row (its loop is full, or it is
 * stopping), the place is freed and one idle worker of another child of
 * this httpd is woken through the doorbell (mod_genflow_engine_doorbell.c).
 */
#include <apr_strings.h>

#include "httpd/engine/mod_genflow_engine_int.h"
#include "httpd/engine/mod_genflow_engine.h"
#include "httpd/io/mod_genflow_metrics.h"
#include "httpd/servers/mod_genflow_servers.h"
#include "httpd/config/mod_genflow_config.h"
#include "httpd/config/mod_genflow_private.h"
#include "core/gf_changes.h"
#include "core/gf_sql.h"

void gf_engine_place_freed(const char *provider)
{
    gf_engine_t *W = gf_engine();
    if (!W || !provider) return;
    apr_thread_mutex_lock(W->mutex);
    /* One entry per place freed; a full list still wakes a worker, whose
     * round finds the place. */
    gf_changes_list_add(W->handon.names, sizeof(W->handon.names), provider);
    apr_thread_cond_signal(W->work);
    apr_thread_mutex_unlock(W->mutex);
}

/* Take the hand-on list (empty it); 0 when it was empty. */
static int take_handon(gf_engine_t *W, gf_skip_t *names)
{
    apr_thread_mutex_lock(W->mutex);
    *names = W->handon;
    W->handon.names[0] = '\0';
    apr_thread_mutex_unlock(W->mutex);
    return names->names[0] != '\0';
}

/* Claim one due row of provider on any of the child's databases, new
 * work first: 1 claimed, 0 nothing due, -1 no room in this child. */
static int hand_on_one(gf_engine_t *W, apr_pool_t *pool, const char *provider,
                       const char *lease_owner)
{
    int j, polls;
    for (polls = 0; polls < 2; polls++) {
        for (j = 0; j < W->databases->nelts && !W->stopping; j++) {
            const gf_database_t *e = APR_ARRAY_IDX(W->databases, j, gf_database_t *);
            const gf_type_t *types[64];
            int n = gf_database_types_of(e, provider, types, 64), i;
            for (i = 0; i < n; i++) {
                gf_skip_t skip;
                int places = gf_engine_reserve(polls ? GF_POLL_BATCH : 1), rc;
                if (places == 0) return -1;
                skip.names[0] = '\0';
                rc = gf_engine_claim(e, pool, types[i], provider, polls, 1, lease_owner, &places,
                                     &skip);
                gf_engine_unreserve(places);
                if (rc > 0) return 1;
                /* The provider is full again (another child or node took
                 * the place): nothing more to hand on. */
                if (skip.names[0]) return 0;
            }
        }
    }
    return 0;
}

int gf_engine_hand_on(gf_engine_t *W, apr_pool_t *pool, const char *lease_owner)
{
    gf_skip_t names;
    char *copy, *last, *name;
    int worked = 0;

    if (!take_handon(W, &names)) return 0;
    copy = apr_pstrdup(pool, names.names);
    for (name = apr_strtok(copy, "\n", &last); name && !W->stopping;
         name = apr_strtok(NULL, "\n", &last)) {
        apr_time_t t0 = apr_time_now();
        int rc = hand_on_one(W, pool, name, lease_owner);
        if (rc > 0) {
            worked = 1;
            gf_metrics_engine(gf_metrics(), GF_ENGINE_HAND_ON);
        }
        else if (rc < 0) gf_engine_ring_doorbell();
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, W->s, GF_LOGNO(1614)
                     "a place of %s freed here: %s in %" APR_TIME_T_FMT " us", name,
                     rc > 0 ? "its next row claimed" : rc < 0 ? "no room: rang the doorbell"
                                                           : "nothing due for it",
                     apr_time_now() - t0);
    }
    return worked;
}

int gf_engine_hand_on_place(server_rec *s, const gf_provider_t *prov, const gf_limits_hold_t *hold)
{
    gf_engine_t *W = gf_engine();
    const gf_database_t *e;
    const gf_type_t *types[64];
    apr_pool_t *pool;
    gf_skip_t skip;
    const char *owner;
    int n, i, places, rc;

    if (!W || W->stopping || !prov || !(e = gf_database_of(W->databases, s))
        || (n = gf_database_types_of(e, prov->name, types, 64)) == 0) {
        return 0;
    }
    if (gf_engine_pool(&pool, "genflow_hand_on") != APR_SUCCESS) return 0;
    if ((places = gf_engine_reserve(1)) == 0) {
        /* No room here: the limits free the place, then ring for another
         * child (after the place is free, so that the child that answers
         * finds it). */
        apr_pool_destroy(pool);
        return 2;
    }
    owner = apr_pstrcat(pool, W->node, ":h", NULL);
    skip.names[0] = '\0';
    /* The highest type first, with the held place: claimed, or freed. */
    {
        apr_time_t t0 = apr_time_now();
        rc = gf_engine_claim_held(e, pool, types[0], prov->name, 0, 1, hold, owner, &places, &skip);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, GF_LOGNO(1615)
                     "place %d of %s handed on (%d) in %" APR_TIME_T_FMT " us", hold->place,
                     prov->name, rc, apr_time_now() - t0);
    }
    if (rc >= 0) {
        for (i = 1; rc == 0 && i < n && !skip.names[0]; i++) {
            rc = gf_engine_claim(e, pool, types[i], prov->name, 0, 1, owner, &places, &skip);
        }
        for (i = 0; rc == 0 && i < n && !skip.names[0]; i++) {
            rc = gf_engine_claim(e, pool, types[i], prov->name, 1, 1, owner, &places, &skip);
        }
        if (rc > 0) gf_metrics_engine(gf_metrics(), GF_ENGINE_HAND_ON);
        rc = 1;
    }
    else {
        rc = 0;   /* the database could not say: the caller frees the place */
    }
    gf_engine_unreserve(places);
    apr_pool_destroy(pool);
    return rc;
}
