/* SPDX-License-Identifier: Apache-2.0 */
/* gf_presets.h: the weekly preset rotation (issue 5).
 *
 * Each ISO week, n of a type's m enabled presets (ordered by position) are
 * active: positions (w·n + i) mod m for i < n, where w counts whole weeks
 * since the Monday 1970-01-05. The choice depends only on the week, so
 * every server agrees and nothing has to be stored.
 */
#ifndef GF_PRESETS_H
#define GF_PRESETS_H

#include <apr_pools.h>
#include <apr_time.h>

/* Weeks since 1970-01-05 (a Monday) of the UTC time t. */
long gf_presets_week_serial(apr_time_t t);

/* The ISO 8601 week of t, e.g. "2026-W47". */
const char *gf_presets_iso_week(apr_pool_t *p, apr_time_t t);

/* Is the preset at index (0-based, by position) among the m active in week w? */
int gf_presets_is_active(long week, int m, int n, int index);

#endif
