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
/* Job slots (max_jobs=): what this child knows of them between two
 * reads of the database's counts (sql/045), so that neither a group's
 * choice nor a claim asks for a slot known to be taken.
 *   jobs_full   a hold found every slot of prov taken: prov is left out
 *               of its groups' choice, and its rows are not claimed, for
 *               a second (a slot freed on another node is seen then) or
 *               until a job of prov ends here. 1 when the same row (id)
 *               came back to prov within 100 ms (or no mark could be
 *               kept): the claim's gate did not hold it back (a group
 *               with members of other kinds, say), and it must wait out
 *               the second rather than come round again at once;
 *   job_began   a job of prov holds a slot now;
 *   job_ended   a job of prov gave its slot back here: the mark goes, and
 *               the groups' counts are read again at the next choice.
 * jobs_room: 0 while prov is marked full (*until: when the mark lapses);
 * group_room: 0 while no member of group entry may take a job: each is
 * marked full or has its circuit open, and one at least is full. */
int gf_router_jobs_full(const gf_provider_t *prov, const char *id);
void gf_router_job_began(const gf_provider_t *prov);
void gf_router_job_ended(const gf_provider_t *prov);
int gf_router_jobs_room(const gf_provider_t *prov, apr_time_t *until);
int gf_router_group_room(server_rec *s, const gf_chain_entry_t *entry, apr_time_t *until);
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
