/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_policy.h: the content policy a location applies to the
 * prompts of its creates (GenFlowPromptPolicy), before anything is
 * reserved or any provider is called. The rules of the deny list and the
 * moderation answer are the core's (core/gf_policy.h); the directive and
 * its record are the configuration's (mod_genflow_config_policy.c).
 */
#ifndef MOD_GENFLOW_POLICY_H
#define MOD_GENFLOW_POLICY_H

#include <httpd.h>
#include <json-c/json.h>

#include "httpd/config/mod_genflow_config.h"
#include "core/gf_input.h"


/* The policy of dc applied to the create fields in body (the user's
 * prompt and customPrompt): GF_CONTINUE when they pass (or the body is
 * not a valid create: the create answers that), else the result of the
 * answer it sent: 400 CONTENT_POLICY, or 503 when the moderation endpoint
 * could not say and on_error=deny. No database connection may be held:
 * the moderation call waits on the network. */
int gf_policy_check(request_rec *r, const gf_dir_conf_t *dc, json_object *body);

/* mod_genflow_policy_pictures.c: the pictures of the create in (its
 * https source, the caller's uploads it names as source or references)
 * as data: URLs of small JPEGs (https URLs as they are): 1 with *urls and
 * *n (0: none), or 0 and *why when one could not be read. */
int gf_policy_pictures(request_rec *r, const gf_input_t *in, const char ***urls, int *n,
                       const char **why);

/* Whether dc's policy may call the network (a moderation endpoint): a
 * caller that holds a pooled connection gives it back first only then. */
int gf_policy_asks_network(const gf_dir_conf_t *dc);

#endif
