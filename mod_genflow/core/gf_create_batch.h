/* SPDX-License-Identifier: Apache-2.0 */
/* gf_create_batch.h: several creates written by one statement, without
 * httpd or a database.
 *
 * The creates of a type that arrive in one child while another create's
 * statement runs wait for it, and then one of them writes them all with
 * GF_SQL_CREATE_BATCH: one statement and one commit where there were as
 * many as creates (httpd/api/mod_genflow_handle_type_create_batch.c).
 * This file says which creates may join, writes the statement's argument
 * from each one's CREATE arguments and finds each one's row in its
 * answer. A create the statement left out (its account refused it) is
 * refused as it would have been alone.
 */
#ifndef GF_CREATE_BATCH_H
#define GF_CREATE_BATCH_H

#include <apr_pools.h>

/* The most creates one statement writes; more wait for the next. */
#define GF_CREATE_BATCH_MAX 64

/* May this create (its CREATE arguments, gf_sql.h's GF_CREATE_* places)
 * be written with others? Not with an Idempotency-Key (its record is
 * locked before the account, by the create alone) nor with an upload as
 * its source (checked and touched by the create alone). 1 or 0. */
int gf_create_batch_joins(const char *const *a);

/* The JSON array CREATE_BATCH reads: one object for each of the n
 * argument lists of args (GF_CREATE_ARGS strings each, NULL for SQL
 * NULL), in pool p. NULL when n is out of range, a create may not join,
 * or a number is not one: then each is written alone. */
const char *gf_create_batch_json(apr_pool_t *p, const char *const *const *args, int n);

/* In the answer of CREATE_BATCH (nrows rows of CREATE's columns), the
 * row of generation id; NULL when the statement left it out. */
const char *const *gf_create_batch_row(const char *const *const *rows, int nrows, const char *id);

#endif
