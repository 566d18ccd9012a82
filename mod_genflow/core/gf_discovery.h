/* SPDX-License-Identifier: Apache-2.0 */
/* gf_discovery.h: the answer of GET {genflow-types} (docs/api.md).
 *
 * What a web page needs to list the types a server mounts and render
 * their forms: each type location's path, required fields, cost and
 * default wait, the create fields, and the choices of the enumerated
 * fields. Built once per server at startup (mod_genflow_handle_discovery.c).
 */
#ifndef GF_DISCOVERY_H
#define GF_DISCOVERY_H

#include <apr_pools.h>

typedef struct {
    const char *type;            /* "neo-glitch" */
    const char *base;            /* the <Location>: "/api/neo-glitch" */
    unsigned needs;              /* GF_NEED_* */
    long cost;
    int wait;                    /* GenFlowWait, seconds */
    int max_count;               /* GenFlowMaxCount: the most pictures of a count */
    unsigned accepts;            /* GenFlowAccept: GF_ACCEPT_* */
    int max_references;          /* GenFlowMaxReferences */
} gf_discovery_type_t;

/* The create fields, in the order a form shows them. */
extern const char *const GF_DISCOVERY_FIELDS[];
/* The choices of the enumerated fields; NULL-terminated lists. */
extern const char *const GF_DISCOVERY_STYLES[];
extern const char *const GF_DISCOVERY_QUALITIES[];
extern const char *const GF_DISCOVERY_ASPECT_RATIOS[];

/* {"types":[{type, base, needs, cost, fields, presetsUrl, historyUrl,
 * defaultWait, maxCount}, ...], "options":{style, quality, aspectRatio}},
 * compact. */
const char *gf_discovery_json(apr_pool_t *p, const gf_discovery_type_t *types, int n);

/* base + "/" + endpoint without a doubled slash ("/" + "presets" gives
 * "/presets"). */
const char *gf_discovery_url(apr_pool_t *p, const char *base, const char *endpoint);

/* Does a literal <Location> path apply to a request for uri? As httpd's
 * location walk decides: a prefix of uri that ends at a '/' boundary (its
 * own last character, or uri's next one) or at uri's end. */
int gf_discovery_location_matches(const char *path, const char *uri);

#endif
