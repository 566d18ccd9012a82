/* SPDX-License-Identifier: Apache-2.0 */
/* gf_sql_private.h: what the two halves of the SQL text share (gf_sql.c,
 * the per-type statements; gf_sql_global.c, the site-wide ones). */
#ifndef GF_SQL_PRIVATE_H
#define GF_SQL_PRIVATE_H

#include "core/gf_sql.h"

/* Today's date in UTC, the day the daily allowance counts. */
#define UTC_TODAY "(now() AT TIME ZONE 'UTC')::date"
/* The UTC Monday of this ISO week, the week weekly_used counts (sql/023),
 * and of the week of a time t (an expression). */
#define UTC_WEEK "(date_trunc('week', now() AT TIME ZONE 'UTC'))::date"
#define UTC_WEEK_OF(t) "(date_trunc('week', " t " AT TIME ZONE 'UTC'))::date"

/* Append (label, sql) to stmts; rerun_safe: see gf_sql_stmt_t. */
void gf_sql_add(apr_array_header_t *stmts, const char *label, const char *sql, int rerun_safe);

#endif
