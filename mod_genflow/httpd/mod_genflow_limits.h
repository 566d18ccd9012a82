/* mod_genflow_limits.h: each provider's limits (max_concurrent=, rate=,
 * and the pause a 429 asks for), shared by every child of the server
 * (mod_genflow_limits.c; the rules are core/gf_limit.h).
 *
 * A worker takes the places before it claims (gf_limits_claim_begin), so
 * that the claim only returns rows it may start: a generation waits in
 * the queue for a place, never holding one. Each row it returns carries
 * its place (gf_limits_claim_assign) until its provider call ends
 * (gf_limits_done) or it ends without one (gf_limits_unused).
 */
#ifndef MOD_GENFLOW_LIMITS_H
#define MOD_GENFLOW_LIMITS_H

#include "httpd/mod_genflow_breaker.h"

/* One place of a limited provider, held for one call. */
typedef struct {
    const gf_provider_t *prov;   /* NULL: nothing held */
    apr_time_t taken;            /* when (its start in the rate's window) */
} gf_limits_hold_t;

typedef struct gf_limits_claim_t gf_limits_claim_t;

void gf_limits_register_hooks(void);
/* After gf_breaker_post_config, whose keys it uses. */
int gf_limits_post_config(apr_pool_t *pconf, server_rec *s);
/* freed() is called when one of this child's places is given back (its
 * engine's workers may claim again). */
void gf_limits_child_init(apr_pool_t *pchild, server_rec *s, void (*freed)(void));

/* Before a claim on providers (a server's): take up to want places of
 * every limited provider with room that the type's chains name (names;
 * NULL: all). A row of another provider (its chain written under an
 * earlier configuration) takes its place when it runs (gf_limits_hold). */
gf_limits_claim_t *gf_limits_claim_begin(apr_pool_t *p, apr_hash_t *providers,
                                         apr_hash_t *names, int want);
/* The providers whose rows the claim must leave in the queue (no place,
 * or paused), newline-separated; "" when none. */
const char *gf_limits_claim_skip(const gf_limits_claim_t *lc);
/* The fewest places taken for one provider (want when none is limited):
 * a claim of several rows takes no more, so that each row has its place. */
int gf_limits_claim_room(const gf_limits_claim_t *lc);
/* A claimed row of the provider named: one of the places taken for it
 * moves to *hold (nothing when the provider has no limit). */
void gf_limits_claim_assign(gf_limits_claim_t *lc, const char *provider, gf_limits_hold_t *hold);
/* The places no row took go back. */
void gf_limits_claim_end(gf_limits_claim_t *lc);

/* Make sure *hold is a place of prov (a row whose provider is not the one
 * the claim assumed: a virtual host's own declaration). 1 when held or
 * prov has no limit; 0 when prov has no room now, and *defer is how long
 * until one may be free (at least a second). */
int gf_limits_hold(const gf_provider_t *prov, gf_limits_hold_t *hold, apr_interval_time_t *defer);
/* The call to prov made with *hold (held or not: a provider without
 * limits) ended; res is what it came to: a 429 with Retry-After pauses
 * prov for every child (at most GF_LIMIT_PAUSE_MAX). */
void gf_limits_done(server_rec *s, const gf_provider_t *prov, gf_limits_hold_t *hold,
                    const gf_provider_result_t *res);
/* *hold was not used for a call: the place and its start go back. */
void gf_limits_unused(gf_limits_hold_t *hold);

/* For /api/health, the metrics and server-status. */
json_object *gf_limits_health(apr_pool_t *p, const gf_provider_t *prov);
void gf_limits_metrics(request_rec *r);

#endif
