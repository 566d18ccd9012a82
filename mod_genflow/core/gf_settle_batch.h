/* SPDX-License-Identifier: Apache-2.0 */
/* gf_settle_batch.h: several completions written by one statement, without
 * httpd or a database.
 *
 * The attempts of a child that complete at about the same time hand their
 * COMPLETE to the child's batch (mod_genflow_engine_batch.c); one of them
 * writes all that wait with GF_SQL_COMPLETE_BATCH: one statement and one
 * commit where there were as many as completions. This file writes the
 * statement's argument from each one's COMPLETE arguments and finds each
 * one's row in its answer. A row the statement left out (its lease taken
 * over, its generation cancelled) is stale, as a COMPLETE that matched
 * nothing is.
 */
#ifndef GF_SETTLE_BATCH_H
#define GF_SETTLE_BATCH_H

#include <apr_pools.h>

/* The most completions one statement writes; more wait for the next. */
#define GF_SETTLE_BATCH_MAX 64

/* COMPLETE's arguments (gf_settle_statement's order): id, the first
 * picture's URL, the pictures as a JSON array, provider, model, lease
 * owner, attempt. */
#define GF_SETTLE_COMPLETE_ARGS 7

/* The JSON array COMPLETE_BATCH reads: one object for each of the n
 * argument lists of args (each GF_SETTLE_COMPLETE_ARGS strings, NULL for
 * SQL NULL), in pool p. NULL when n is out of range, an id is missing or
 * an attempt is not a number: then each is written alone. */
const char *gf_settle_batch_json(apr_pool_t *p, const char *const *const *args, int n);

/* In the answer of COMPLETE_BATCH (nrows rows of id, status object), the
 * status object of generation id; NULL when the statement left it out. */
const char *gf_settle_batch_status(const char *const *const *rows, int nrows, const char *id);

#endif
