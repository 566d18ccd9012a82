/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_router.h: the member of a group of equivalent providers
 * (a chain entry "{a b}@latency", core/gf_router.h) that one attempt goes
 * to, chosen from what the site measured (mod_genflow_router.c).
 */
#ifndef MOD_GENFLOW_ROUTER_H
#define MOD_GENFLOW_ROUTER_H

#include <httpd.h>
#include "providers/gf_provider.h"

/* The child's copies of the groups' measures (child_init). */
void gf_router_child_init(apr_pool_t *pchild);
/* The member of group entry for an attempt, or NULL when none of its
 * providers is declared on s. accepted_by: the member that accepted the
 * row's provider job, which alone polls it (NULL when it is no longer
 * declared). *member: its model and weight. Where statements may block
 * (gf_loop_blocking). */
const gf_provider_t *gf_router_choose(server_rec *s, apr_pool_t *p, const gf_chain_entry_t *entry,
                                      const char *accepted_by, const gf_chain_member_t **member);
/* Could a member of group entry other than prov take a call now? (A row
 * whose chosen member had no room chooses again at once when one can.) */
int gf_router_other_room(server_rec *s, apr_pool_t *p, const gf_chain_entry_t *entry,
                         const gf_provider_t *prov);
/* A generation of a group's member completed: its call time and what it
 * cost into the site's running averages (sql/044). */
void gf_router_record(server_rec *s, apr_pool_t *p, const gf_provider_t *prov,
                      apr_interval_time_t took, double cost);
/* This httpd's calls open to each member of a group (the counts every
 * child shares, gf_limits_calls_open), written for the other nodes'
 * least-busy choices: the members with calls open, and those whose calls
 * ended since the last write, in one statement on servers[0]'s database
 * (a worker's duty every half second, one child of the httpd at a time).
 * servers: those of that database. 1 written, 0 nothing to write, -1 the
 * database did not answer (written again next time). */
int gf_router_publish(server_rec *const *servers, int nservers, apr_pool_t *p);

#endif
