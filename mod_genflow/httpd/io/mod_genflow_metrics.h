/* SPDX-License-Identifier: Apache-2.0 */
/* mod_genflow_metrics.h: the module's counters and histograms, in shared
 * memory that every child adds to (mod_genflow_metrics.c), and the count
 * of every request of the module's locations.
 */
#ifndef MOD_GENFLOW_METRICS_H
#define MOD_GENFLOW_METRICS_H

#include "core/gf_metrics.h"

void gf_metrics_register_hooks(void);
/* Create (or keep, across restarts) the shared counters; post_config. */
void gf_metrics_post_config(apr_pool_t *pconf, server_rec *s);
/* The server's counters, for gf_metrics_* updates; NULL when there are
 * none (the updates are then no-ops). */
gf_metrics_t *gf_metrics(void);

#endif
