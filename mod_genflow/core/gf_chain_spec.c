/* SPDX-License-Identifier: Apache-2.0 */
/* gf_chain_spec.c: the rules of gf_chain_spec.h, GenFlowProviders' words
 * and the site chains' startup checks. */
#include <string.h>
#include <strings.h>
#include <apr_strings.h>

#include "core/gf_chain_spec.h"
#include "core/gf_input.h"

const char GF_CHAIN_NAMED[] = "named", GF_CHAIN_MEMBER[] = "member";

const char *gf_chain_spec_split(apr_pool_t *p, int argc, char *const argv[],
                                apr_array_header_t **entries)
{
    int i;

    *entries = apr_array_make(p, argc > 0 ? argc : 1, sizeof(const char *));
    for (i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "->") || !strcmp(arg, "\xe2\x86\x92")) {
            continue;  /* "stability -> aiml" reads well; the arrows are optional */
        }
        /* A group "{fal replicate}@latency" spans arguments up to its '}'. */
        if (arg[0] == '{') {
            while (!strchr(arg, '}') && i + 1 < argc) {
                arg = apr_pstrcat(p, arg, " ", argv[++i], NULL);
            }
        }
        APR_ARRAY_PUSH(*entries, const char *) = arg;
    }
    return (*entries)->nelts ? NULL : "needs at least one provider";
}

int gf_chain_spec_names(const char *word, const char *provider)
{
    apr_size_t n = strlen(provider);

    if (*word == '{') word++;   /* a group's first member */
    return !strncmp(word, provider, n) && strchr(":=}", word[n]);
}

int gf_chain_spec_unmerged(const char *section)
{
    static const char *const never[] = { "<Directory", "<DirectoryMatch", "<Files",
                                         "<FilesMatch", "<Proxy", "<ProxyMatch", NULL };
    int k;

    for (k = 0; never[k]; k++) {
        if (!strcasecmp(section, never[k])) return 1;
    }
    return 0;
}

const char *gf_chain_spec_edits_refusal(apr_pool_t *p, unsigned accepts, int takes_mask,
                                        int max_references, int max_refs)
{
    if ((accepts & GF_ACCEPT_MASK) && !takes_mask) return "takes no mask";
    if ((accepts & GF_ACCEPT_REFERENCES) && max_references < max_refs) {
        return apr_psprintf(p, "takes %d reference pictures at most, and GenFlowMaxReferences "
                            "is %d", max_references, max_refs);
    }
    return NULL;
}

apr_array_header_t *gf_chain_spec_row_paths(apr_pool_t *p, const char *location)
{
    static const char *const tails[] = { "", "/create", "/generate",
                                         "/retry/" GF_CHAIN_SPEC_PROBE_ID, NULL };
    apr_array_header_t *out = apr_array_make(p, 4, sizeof(const char *));
    apr_size_t len = strlen(location);
    const char *base = len > 1 && location[len - 1] == '/' ? apr_pstrndup(p, location, len - 1)
                                                           : location;
    int j;

    for (j = 0; tails[j]; j++) APR_ARRAY_PUSH(out, const char *) = apr_pstrcat(p, base, tails[j],
                                                                              NULL);
    return out;
}

void gf_chain_spec_edits_start(gf_chain_edits_t *e)
{
    e->accepts = 0;
    e->max_refs = GF_REFERENCES_DEFAULT_MAX;
}

void gf_chain_spec_edits_widen(gf_chain_edits_t *own, const gf_chain_edits_t *e)
{
    own->accepts |= e->accepts;
    if (e->max_refs > own->max_refs) own->max_refs = e->max_refs;
}

void gf_chain_spec_name_in(apr_hash_t *set, const char *name, const char *kind)
{
    if (kind != GF_CHAIN_MEMBER && apr_hash_get(set, name, APR_HASH_KEY_STRING)) return;
    apr_hash_set(set, name, APR_HASH_KEY_STRING, kind);
}
