/* SPDX-License-Identifier: Apache-2.0 */
/* gf_prompt.h: the final prompt sent to providers (docs/api.md).
 *
 * A template is a comma-separated list of segments with placeholders
 * {prompt} {customPrompt} {preset} {style} {quality} {aspectRatio} {type}.
 * A segment whose placeholders all expand to nothing is dropped, so
 * "art, {style}, {prompt}" with no style gives "art, <prompt>" and never
 * a dangling comma. The result depends only on the template and the input:
 * the same request always yields the same prompt.
 */
#ifndef GF_PROMPT_H
#define GF_PROMPT_H

#include <apr_pools.h>
#include "core/gf_input.h"

/* The built-in template of a known type, or a generic one. */
const char *gf_prompt_default_template(const char *type);

/* Check a template from httpd.conf: NULL if fine, else why not. */
const char *gf_prompt_check_template(apr_pool_t *p, const char *tmpl);

/* The words a style or quality adds to the prompt. */
const char *gf_prompt_style_words(const char *style);
const char *gf_prompt_quality_words(const char *quality);

/* The final prompt: tmpl with in's values; a preset's words are added as
 * a last segment when tmpl has no {preset}. */
const char *gf_prompt_build(apr_pool_t *p, const char *tmpl, const char *type,
                            const gf_input_t *in);

#endif
