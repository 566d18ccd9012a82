/* SPDX-License-Identifier: Apache-2.0 */
/* gf_sweep.h: the timing and paging of the engine's sweeps, without
 * httpd, a store or a database.
 *
 * Worker 0 of one child sweeps every few seconds (the glue's
 * mod_genflow_engine_sweep.c, _uploads.c, _preview.c): set-based
 * statements run again while they fill a batch, and a store's folder is
 * listed a page a look, at most once in a while. How long the waits
 * default to, when a statement runs again, when the next look comes and
 * where the next page starts are decided here; which statement and which
 * store are the glue's.
 */
#ifndef GF_SWEEP_H
#define GF_SWEEP_H

#include <apr_hash.h>
#include <apr_pools.h>
#include <apr_time.h>

/* GenFlowPendingTTL as the sweeps use it: an hour when it is 0 (a queued
 * generation no place serves goes some day). */
long gf_sweep_queued_ttl(long pending_ttl);
/* GenFlowCreatedTTL for the orphans' sweep: the queued one when it is 0. */
long gf_sweep_created_ttl(long created_ttl, long queued_ttl);

/* A sweep statement said it changed count rows (its one column): added
 * to *total; 1 when it is run again (it filled its batch), 0 when the
 * sweep is done (fewer, or no count). */
int gf_sweep_again(const char *count, apr_int64_t batch, apr_int64_t *total);
/* A sweep's total for its log line: NULL when it changed nothing. */
const char *gf_sweep_total(apr_pool_t *p, apr_int64_t total);

/* The names a hash holds as its keys (a type's providers), newline-
 * separated; "" for none or no hash. */
const char *gf_sweep_names(apr_pool_t *p, apr_hash_t *names);

/* When the next look at a store comes: every (seconds) from now,
 * within [min, max]. */
apr_time_t gf_sweep_next(apr_time_t now, long every, apr_interval_time_t min,
                         apr_interval_time_t max);

/* After a page of n objects (of at most page) whose last key is last:
 * where the next look starts (after, of size bytes): after it, with
 * *more set (more may be NULL), when the page was full; from the start again after the
 * last page. */
void gf_sweep_page(char *after, apr_size_t size, int n, int page, const char *last, int *more);

#endif
