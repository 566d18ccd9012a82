/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_site.h: the site's layout as httpd read it
 * (mod_genflow_site.c):
 *
 *  - which <Location> set a request's handler, and the path that follows
 *    it, so that every site-wide handler answers exactly its own paths
 *    and never a neighbour's ("/api/admin/events/jobs" is not
 *    "/api/admin/jobs");
 *  - which virtual host is an events host: the one GenFlowEventsBase
 *    names (or GenFlowEventsHost On marks), where the module answers
 *    event streams and nothing else;
 *  - the startup checks of the access rules around them, in check_config
 *    so that `apache2ctl -t` prints them too.
 */
#ifndef MOD_GENFLOW_SITE_H
#define MOD_GENFLOW_SITE_H

#include <httpd.h>
#include <http_core.h>
#include "providers/gf_provider.h"

/* What follows the path of the <Location> (or <LocationMatch>: what
 * follows its match) whose SetHandler gave r its handler: "" for the
 * location itself (also "/api/quota/" of a <Location /api/quota/>),
 * "/jobs" below it. NULL when no <Location> of r's server
 * set it (SetHandler in a <Directory>, <Files> or <If>, AddHandler, a
 * rewrite's H=): nothing then says which paths are the handler's, and
 * the handlers answer 404. */
const char *gf_site_rest(request_rec *r);

/* For an error httpd raised before its location walk merged the
 * sections (an encoded slash, AllowEncodedSlashes Off): would r's path
 * have come to a location of the module (a GenFlowType location, or one
 * whose SetHandler genflow_handler says is the module's)? Then the error
 * is the module's to answer, in JSON. */
int gf_site_module_path(request_rec *r, int (*genflow_handler)(const char *name));

/* Where a <Location>-like section sec (core's record) matches uri as
 * httpd's location walk matches it (merged: uri with its slashes merged):
 * the length of the match, or -1. */
apr_ssize_t gf_site_section_match(const core_dir_config *sec, const char *uri,
                                  const char *merged);

/* check_config (mod_genflow_site_chains.c): each type's providers
 * (t->providers), those of every chain its requests can get wherever the
 * site wrote it; not OK (logged) when a chain names a provider its server
 * does not declare; warns, unless quiet, about chains httpd never merges
 * into a type's request. */
int gf_site_chains(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s, int quiet);

/* Does some chain a type's request can get name provider? */
int gf_site_chain_named(const char *provider);
/* The group whose rows wait under key (a chain entry's group), or NULL. */
const gf_chain_entry_t *gf_site_group(const char *key);

/* Is s an events host? */
int gf_site_events_host(const server_rec *s);

/* check_config: find the events hosts; warn where an events host's
 * access rule covers more than its event streams, or an admin or metrics
 * location has no Require of its own. Not OK (logged) when a
 * GenFlowEventsBase names the virtual host it is set in, or the main
 * server is marked an events host. */
int gf_site_check_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);

#endif
