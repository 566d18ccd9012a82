/* SPDX-License-Identifier: Apache-2.0 */
/* gf_chain_spec.h: GenFlowProviders as written, without httpd.
 *
 * The words of the directive (arrows between entries, a group's members
 * spread over several words) made into one text per chain entry, for
 * providers/gf_provider.c's gf_chain_entry_parse; and the plain rules
 * the site's chains are checked by at startup (httpd/config/
 * mod_genflow_site_chains.c walks the configuration tree and asks these):
 * which word of a line names a provider, which sections never merge a
 * chain into a type's request, what a type's edits need of a provider.
 */
#ifndef GF_CHAIN_SPEC_H
#define GF_CHAIN_SPEC_H

#include <apr_hash.h>
#include <apr_pools.h>
#include <apr_tables.h>

/* The chain entries' texts (const char *) of GenFlowProviders' words:
 * "->" and "→" between entries are left out, and a group "{a b}@policy"
 * spans the words up to its '}'. "needs at least one provider" when
 * nothing is left. */
const char *gf_chain_spec_split(apr_pool_t *p, int argc, char *const argv[],
                                apr_array_header_t **entries);

/* Does word (one of a GenFlowProviders line's, as httpd splits it) name
 * provider: "name", "name:model", "{name…" or "name=weight}"? */
int gf_chain_spec_names(const char *word, const char *provider);

/* Is section ("<Directory", "<FilesMatch", …; any case) one whose
 * GenFlowProviders httpd never merges into a type's request (a type's
 * location has no file, its directory walk is skipped)? */
int gf_chain_spec_unmerged(const char *section);

/* Why a provider cannot serve a type whose GenFlowAccept is accepts
 * (GF_ACCEPT_*) with GenFlowMaxReferences max_refs, given what its kind
 * takes (a mask; max_references pictures); NULL when it can. */
const char *gf_chain_spec_edits_refusal(apr_pool_t *p, unsigned accepts, int takes_mask,
                                        int max_references, int max_refs);

/* What a name in a set of the site's chains' names is (the set's value,
 * compared by address): a queue of rows (a provider, a group's key), or a
 * group's member too, whose measures are kept. A member stays one. */
extern const char GF_CHAIN_NAMED[], GF_CHAIN_MEMBER[];
void gf_chain_spec_name_in(apr_hash_t *set, const char *name, const char *kind);

/* The paths below a type's <Location> path whose requests make rows
 * (const char *): the base itself (create), /create, /generate and a
 * /retry/{id} of a made-up id. The location's one trailing '/' (but "/"
 * itself) is not doubled. */
#define GF_CHAIN_SPEC_PROBE_ID "00000000-0000-4000-8000-000000000000"
apr_array_header_t *gf_chain_spec_row_paths(apr_pool_t *p, const char *location);

/* The edits a request's sections let a type take: GenFlowAccept's
 * GF_ACCEPT_* and GenFlowMaxReferences, as the last section that set each
 * gave it. */
typedef struct {
    unsigned accepts;
    int max_refs;
} gf_chain_edits_t;

/* None, and the default number of references. */
void gf_chain_spec_edits_start(gf_chain_edits_t *e);

/* What any request of a type may take: own widened by one path's e. */
void gf_chain_spec_edits_widen(gf_chain_edits_t *own, const gf_chain_edits_t *e);

#endif
