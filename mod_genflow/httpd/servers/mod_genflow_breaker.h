/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_breaker.h: each provider's circuit breaker, in shared memory
 * that every child sees (mod_genflow_breaker.c).
 */
#ifndef MOD_GENFLOW_BREAKER_H
#define MOD_GENFLOW_BREAKER_H

#include "core/gf_job.h"
#include "core/gf_json.h"
#include "providers/gf_provider.h"

void gf_breaker_register_hooks(void);
/* Create the shared states (keeping those of providers still declared
 * across a restart) and the global mutex; post_config. */
int gf_breaker_post_config(apr_pool_t *pconf, server_rec *s);
void gf_breaker_child_init(apr_pool_t *pchild, server_rec *s);
/* Before a submission to prov: 0 when it may go (*probe: hand it back to
 * gf_breaker_record_call), 1 when the circuit is open and d says what
 * happens instead: the chain's next entry now (more), or a failure. */
/* May prov be submitted to now, as its circuit stands (0 while it is
 * open and cooling down)? A look only: no probe is taken. */
int gf_breaker_closed(const gf_provider_t *prov);
int gf_breaker_gate(server_rec *s, apr_pool_t *p, const gf_provider_t *prov, int more,
                    apr_uint32_t *probe, gf_decision_t *d);
/* After a submission admitted by gf_breaker_gate (res NULL: cut off, no
 * verdict). */
void gf_breaker_record_call(server_rec *s, const gf_provider_t *prov, apr_uint32_t probe,
                            const gf_provider_result_t *res);
/* genflow-health: the circuits of server s's providers, by name. */
json_object *gf_breaker_health(apr_pool_t *p, server_rec *s);
/* genflow-metrics and mod_status. */
void gf_breaker_metrics(request_rec *r);
void gf_breaker_status(request_rec *r, int flags);
#endif
